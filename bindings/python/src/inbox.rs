//! Fetching: `ImapInbox` and `Pop3Inbox` sessions (context managers), their fetch reports, and
//! an IDLE wait that Ctrl-C interrupts.

use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use esmtp_ffi::{FetchOutcome, ImapFetchOptions, Pop3FetchOptions};
use pyo3::prelude::*;

use crate::convert::{self, Identity, Recipient, Secret, Slip};
use crate::errors::{err, exception};
use crate::keys::KeySlip;
use crate::mail::{EncryptedMail, Headers, encrypted_mail, headers};
use crate::transport::Account;

/// How often a waiting IDLE looks for Ctrl-C (and other signals Python handles).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// What a fetched mail's signature says about its `From` address.
#[pyclass(frozen, get_all, module = "esmtp")]
pub struct SenderCheck {
    /// "verified", "unknown-signer", "wrong-signer", "missing-signature" or "unsigned".
    verdict: &'static str,
    /// The address checked (the protected `From`, else the outer one).
    address: Option<String>,
    /// The contact whose key signed it, when that is another address.
    signer_contact: Option<String>,
    /// The protected and the outer `From` differ.
    from_differs: bool,
    /// One sentence for people, when there is something to warn about.
    warning: Option<String>,
}

#[pymethods]
impl SenderCheck {
    fn __repr__(&self) -> String {
        format!("SenderCheck(verdict={:?}, address={:?})", self.verdict, self.address)
    }
}

impl From<&esmtp_ffi::SenderCheck> for SenderCheck {
    fn from(c: &esmtp_ffi::SenderCheck) -> Self {
        use esmtp_ffi::SenderVerdict as V;
        SenderCheck {
            verdict: match c.verdict {
                V::Verified => "verified",
                V::UnknownSigner => "unknown-signer",
                V::WrongSigner => "wrong-signer",
                V::MissingSignature => "missing-signature",
                V::Unsigned => "unsigned",
            },
            address: c.from.clone(),
            signer_contact: c.signer_contact.clone(),
            from_differs: c.from_differs,
            warning: c.warning.clone(),
        }
    }
}

/// One fetched message and what became of it (`status`).
#[pyclass(frozen, get_all, module = "esmtp")]
pub struct FetchedMessage {
    /// Its IMAP UID (None over POP3).
    uid: Option<u32>,
    /// Its POP3 unique id (None over IMAP).
    uidl: Option<String>,
    /// Its size as the server announced it.
    size: u64,
    /// Its outer headers.
    outer: Py<Headers>,
    /// "opened", "key-slip", "plain" or "failed".
    status: &'static str,
    /// The opened mail ("opened").
    mail: Option<Py<EncryptedMail>>,
    /// Whether a key-slip mail of the mailbox opened it ("opened").
    with_key_slip: bool,
    /// The slip ("key-slip"), to keep for an envelope that arrives later.
    key_slip: Option<Py<KeySlip>>,
    /// The envelope it carries ("opened") or opens ("key-slip").
    envelope_id: Option<String>,
    /// Why it could not be read or opened ("failed"): an `EsmtpError` instance, not raised.
    error: Option<Py<PyAny>>,
    /// For an opened mail: its signer checked against the account's contacts.
    sender: Option<Py<SenderCheck>>,
}

#[pymethods]
impl FetchedMessage {
    fn __repr__(&self) -> String {
        format!("FetchedMessage(status={:?}, uid={:?}, uidl={:?})", self.status, self.uid, self.uidl)
    }
}

impl FetchedMessage {
    /// By value: an opened mail's buffers move on ([`encrypted_mail`]).
    fn new(py: Python<'_>, m: esmtp_ffi::FetchedMessage) -> PyResult<Self> {
        let mut out = FetchedMessage {
            uid: m.uid,
            uidl: m.uidl,
            size: m.size,
            outer: headers(py, &m.outer)?,
            status: "plain",
            mail: None,
            with_key_slip: false,
            key_slip: None,
            envelope_id: None,
            error: None,
            sender: m.sender.as_ref().map(|s| Py::new(py, SenderCheck::from(s))).transpose()?,
        };
        match m.outcome {
            FetchOutcome::Opened { mail, with_key_slip } => {
                out.status = "opened";
                out.envelope_id = Some(mail.envelope_id.clone());
                out.mail = Some(encrypted_mail(py, mail)?);
                out.with_key_slip = with_key_slip;
            }
            FetchOutcome::KeySlip { envelope_id, key_slip } => {
                out.status = "key-slip";
                out.envelope_id = Some(envelope_id);
                out.key_slip = Some(Py::new(py, KeySlip(key_slip))?);
            }
            FetchOutcome::Plain => {}
            FetchOutcome::Failed { kind, reason } => {
                out.status = "failed";
                out.error = Some(exception(py, kind, &reason, false).into_value(py).into_any());
            }
        }
        Ok(out)
    }
}

/// A second copy of a mail already read (same Message-ID and body), not opened again.
#[pyclass(frozen, get_all, module = "esmtp")]
pub struct DuplicateMessage {
    /// Its IMAP UID.
    uid: Option<u32>,
    /// Its POP3 unique id.
    uidl: Option<String>,
    /// The Message-ID both copies carry.
    message_id: String,
}

#[pymethods]
impl DuplicateMessage {
    fn __repr__(&self) -> String {
        format!("DuplicateMessage(message_id={:?})", self.message_id)
    }
}

/// What a fetch brought.
#[pyclass(frozen, get_all, module = "esmtp")]
pub struct FetchReport {
    /// Every message read, each with its own status.
    messages: Vec<Py<FetchedMessage>>,
    /// Where the next fetch starts: pass it back as `since` (a short text to store).
    sync_state: String,
    /// The mailbox was read from the start again: messages may repeat.
    resynced: bool,
    /// Second copies of mails already read.
    duplicates: Vec<Py<DuplicateMessage>>,
}

#[pymethods]
impl FetchReport {
    fn __repr__(&self) -> String {
        format!("FetchReport(messages={}, sync_state={:?})", self.messages.len(), self.sync_state)
    }
}

fn report(py: Python<'_>, r: esmtp_ffi::FetchReport) -> PyResult<FetchReport> {
    Ok(FetchReport {
        messages: r
            .messages
            .into_iter()
            .map(|m| FetchedMessage::new(py, m).and_then(|m| Py::new(py, m)))
            .collect::<PyResult<_>>()?,
        sync_state: r.sync_state,
        resynced: r.resynced,
        duplicates: r
            .duplicates
            .into_iter()
            .map(|d| Py::new(py, DuplicateMessage { uid: d.uid, uidl: d.uidl, message_id: d.message_id }))
            .collect::<PyResult<_>>()?,
    })
}

/// An IMAP session, logged in at construction; a context manager that logs out.
#[pyclass(frozen, module = "esmtp")]
pub struct ImapInbox(Arc<esmtp_ffi::ImapInbox>);

#[pymethods]
impl ImapInbox {
    /// Connect to the account's IMAP server and log in.
    #[new]
    fn new(py: Python<'_>, account: PyRef<'_, Account>) -> PyResult<Self> {
        let account = &account.0;
        py.detach(|| esmtp_ffi::ImapInbox::connect(account)).map(ImapInbox).map_err(err)
    }

    /// The mailboxes' names.
    fn mailboxes(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        py.detach(|| self.0.mailboxes()).map_err(err)
    }

    /// Fetch and open what is new in `mailbox` (since the `sync_state` of an earlier fetch).
    #[pyo3(signature = (mailbox="INBOX", *, since=None, esmtp_only=true, mark_seen=false, move_to=None, delete_after_open=false, identities=Vec::new(), passphrase=None, key_slips=Vec::new(), require_signers=Vec::new(), max_passphrase_work=None))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn fetch(
        &self,
        py: Python<'_>,
        mailbox: &str,
        since: Option<String>,
        esmtp_only: bool,
        mark_seen: bool,
        move_to: Option<String>,
        delete_after_open: bool,
        identities: Vec<Identity>,
        passphrase: Option<Secret>,
        key_slips: Vec<Slip>,
        require_signers: Vec<Recipient>,
        max_passphrase_work: Option<(u32, u32, u32)>,
    ) -> PyResult<FetchReport> {
        let open =
            convert::open_options(identities, passphrase, key_slips, require_signers, max_passphrase_work);
        let options = ImapFetchOptions { since, esmtp_only, mark_seen, move_to, delete_after_open };
        let r = py.detach(|| self.0.fetch(mailbox, &options, &open)).map_err(err)?;
        report(py, r)
    }

    /// Wait until new mail is in `mailbox` (newer than `since`, when given) or `timeout` seconds
    /// pass; returns whether new mail is there. Ctrl-C (or `cancel()` from another thread) ends
    /// the wait and closes the session.
    #[pyo3(signature = (mailbox="INBOX", *, since=None, timeout=300))]
    fn idle(&self, py: Python<'_>, mailbox: &str, since: Option<String>, timeout: u64) -> PyResult<bool> {
        let (inbox, mailbox) = (self.0.clone(), mailbox.to_string());
        let (tx, rx) = channel();
        let rx = std::sync::Mutex::new(rx);
        // The wait runs on its own thread so that this one can look for signals between slices.
        let worker = std::thread::spawn(move || {
            let _ = tx.send(inbox.idle(&mailbox, since.as_deref(), timeout));
        });
        loop {
            match py.detach(|| rx.lock().unwrap_or_else(|p| p.into_inner()).recv_timeout(SIGNAL_CHECK)) {
                Ok(result) => {
                    let _ = worker.join();
                    return result.map_err(err);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(interrupt) = py.check_signals() {
                        self.0.cancel();
                        py.detach(|| worker.join()).ok();
                        return Err(interrupt);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(pyo3::exceptions::PyRuntimeError::new_err(
                        "the IDLE wait ended without a result",
                    ));
                }
            }
        }
    }

    /// Cancel the current call (an IDLE wait, a fetch) from another thread; the session closes.
    fn cancel(&self) {
        self.0.cancel();
    }

    /// Log out (the session ends either way).
    fn logout(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.0.logout()).map_err(err)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Log out; an error of the logout is raised only when the block itself raised nothing.
    #[pyo3(signature = (exc_type, _exc_value, _traceback))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let result = self.logout(py);
        if exc_type.is_none() { result.map(|()| false) } else { Ok(false) }
    }

    fn __repr__(&self) -> String {
        "ImapInbox()".to_string()
    }
}

/// A POP3 session, logged in at construction; a context manager that ends it (QUIT).
#[pyclass(frozen, module = "esmtp")]
pub struct Pop3Inbox(Arc<esmtp_ffi::Pop3Inbox>);

#[pymethods]
impl Pop3Inbox {
    /// Connect to the account's POP3 server and log in.
    #[new]
    fn new(py: Python<'_>, account: PyRef<'_, Account>) -> PyResult<Self> {
        let account = &account.0;
        py.detach(|| esmtp_ffi::Pop3Inbox::connect(account)).map(Pop3Inbox).map_err(err)
    }

    /// Fetch and open what is new (since the `sync_state` of an earlier fetch). Nothing is
    /// marked read on the server.
    #[pyo3(signature = (*, since=None, esmtp_only=true, delete_after_open=false, identities=Vec::new(), passphrase=None, key_slips=Vec::new(), require_signers=Vec::new(), max_passphrase_work=None))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn fetch(
        &self,
        py: Python<'_>,
        since: Option<String>,
        esmtp_only: bool,
        delete_after_open: bool,
        identities: Vec<Identity>,
        passphrase: Option<Secret>,
        key_slips: Vec<Slip>,
        require_signers: Vec<Recipient>,
        max_passphrase_work: Option<(u32, u32, u32)>,
    ) -> PyResult<FetchReport> {
        let open =
            convert::open_options(identities, passphrase, key_slips, require_signers, max_passphrase_work);
        let options = Pop3FetchOptions { since, esmtp_only, delete_after_open };
        let r = py.detach(|| self.0.fetch(&options, &open)).map_err(err)?;
        report(py, r)
    }

    /// Cancel the current call from another thread; the session closes.
    fn cancel(&self) {
        self.0.cancel();
    }

    /// End the session (QUIT: deletions take effect).
    fn quit(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.0.quit()).map_err(err)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// QUIT; an error of it is raised only when the block itself raised nothing.
    #[pyo3(signature = (exc_type, _exc_value, _traceback))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let result = self.quit(py);
        if exc_type.is_none() { result.map(|()| false) } else { Ok(false) }
    }

    fn __repr__(&self) -> String {
        "Pop3Inbox()".to_string()
    }
}
