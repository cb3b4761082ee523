//! Fetching: an IMAP or POP3 session as an object whose calls another thread can cancel.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use esmtp_transport::{
    Canceller, FetchScope, Fetched, ImapClient, ImapSyncState, Pop3Client, Pop3SyncState, Retrieved,
};

use crate::account::Account;
use crate::envelope::OpenOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::keys::KeySlip;
use crate::mail::{Headers, MailContent};

/// What became of one fetched message.
// Values handed to the bindings, once per mail: boxing the large variant would only add an
// indirection to every binding's conversion.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum FetchOutcome {
    /// An encrypted mail, opened and authenticated.
    Opened {
        /// The mail.
        mail: MailContent,
        /// Whether a key-slip mail of the mailbox opened it (not the caller's keys).
        with_key_slip: bool,
    },
    /// A key-slip mail (already used for its envelope when that was fetched too).
    KeySlip {
        /// The envelope it opens.
        envelope_id: String,
        /// The slip, to keep for an envelope that arrives later.
        key_slip: Arc<KeySlip>,
    },
    /// Not an esmtp mail.
    Plain,
    /// This message could not be read or opened; the others were.
    Failed {
        /// What went wrong.
        kind: ErrorKind,
        /// Why.
        reason: String,
    },
}

/// One fetched message.
#[derive(Debug, Clone)]
pub struct FetchedMessage {
    /// Its IMAP UID.
    pub uid: Option<u32>,
    /// Its POP3 unique id.
    pub uidl: Option<String>,
    /// Its size as the server announced it.
    pub size: u64,
    /// Its outer headers.
    pub outer: Headers,
    /// What became of it.
    pub outcome: FetchOutcome,
    /// For an opened mail: who signed it, checked against the account's contacts.
    pub sender: Option<SenderCheck>,
}

/// What a fetched mail's signature says about its `From` address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderVerdict {
    /// Signed by a key the contacts list for the `From` address.
    Verified,
    /// Signed, but the contacts list no key for the `From` address.
    UnknownSigner,
    /// Signed by another key than those listed for the `From` address: alarming.
    WrongSigner,
    /// Not signed, though the `From` address has a key: alarming.
    MissingSignature,
    /// Not signed, and the `From` address has no key: nothing says who wrote it.
    Unsigned,
}

/// The sender check of one opened mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderCheck {
    /// The verdict.
    pub verdict: SenderVerdict,
    /// The address checked (the protected `From`, else the outer one).
    pub from: Option<String>,
    /// The contact whose key signed it, when that is another address.
    pub signer_contact: Option<String>,
    /// The protected and the outer `From` differ.
    pub from_differs: bool,
    /// One sentence for people, when there is something to warn about.
    pub warning: Option<String>,
}

impl From<&esmtp_transport::SenderCheck> for SenderCheck {
    fn from(c: &esmtp_transport::SenderCheck) -> Self {
        use esmtp_transport::SenderVerdict as V;
        let verdict = match c.verdict {
            V::Verified => SenderVerdict::Verified,
            V::UnknownSigner => SenderVerdict::UnknownSigner,
            V::WrongSigner => SenderVerdict::WrongSigner,
            V::MissingSignature => SenderVerdict::MissingSignature,
            // Unsigned, and any verdict a later version adds, claims nothing.
            _ => SenderVerdict::Unsigned,
        };
        SenderCheck {
            verdict,
            from: c.from.clone(),
            signer_contact: c.signer_contact.clone(),
            from_differs: c.from_differs,
            warning: c.warning(),
        }
    }
}

/// A second copy of a mail already read (the same Message-ID and body), not opened again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateMessage {
    /// Its IMAP UID.
    pub uid: Option<u32>,
    /// Its POP3 unique id.
    pub uidl: Option<String>,
    /// The Message-ID both copies carry.
    pub message_id: String,
}

impl From<&esmtp_transport::Duplicate> for DuplicateMessage {
    fn from(d: &esmtp_transport::Duplicate) -> Self {
        let (uid, uidl) = match &d.location {
            esmtp_transport::MessageRef::Imap { uid } => (Some(*uid), None),
            esmtp_transport::MessageRef::Pop3 { uidl, .. } => (None, Some(uidl.clone())),
            _ => (None, None),
        };
        DuplicateMessage { uid, uidl, message_id: d.message_id.clone() }
    }
}

impl From<Fetched> for FetchedMessage {
    /// By value: an opened mail's contents move over ([`MailContent`]'s `From`).
    fn from(f: Fetched) -> Self {
        let (uid, uidl) = (f.uid(), f.uidl().map(str::to_string));
        let outcome = match f.result {
            Ok(Retrieved::Opened { mail, with_key_slip }) => {
                FetchOutcome::Opened { mail: mail.into(), with_key_slip }
            }
            Ok(Retrieved::KeySlip(slip)) => FetchOutcome::KeySlip {
                envelope_id: slip.envelope_id.to_string(),
                key_slip: Arc::new(KeySlip(slip.key_slip)),
            },
            Ok(_) => FetchOutcome::Plain,
            Err(e) => {
                let e = Error::from(&e);
                FetchOutcome::Failed { kind: e.kind, reason: e.reason }
            }
        };
        FetchedMessage {
            uid,
            uidl,
            size: f.size,
            outer: (&f.outer).into(),
            outcome,
            sender: f.sender.as_ref().map(SenderCheck::from),
        }
    }
}

/// What a fetch brought.
#[derive(Debug, Clone)]
pub struct FetchReport {
    /// Every message read, each with its own outcome.
    pub messages: Vec<FetchedMessage>,
    /// Where the next fetch starts: pass it back as `since` (a short text to store).
    pub sync_state: String,
    /// The mailbox was read from the start again (IMAP UIDVALIDITY changed, or POP3 ids gone):
    /// messages may repeat.
    pub resynced: bool,
    /// Second copies of mails already read, not opened again.
    pub duplicates: Vec<DuplicateMessage>,
}

/// How an IMAP fetch runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapFetchOptions {
    /// The state of the last fetch ([`FetchReport::sync_state`]); `None` reads the whole mailbox.
    pub since: Option<String>,
    /// Only esmtp mails (default), or every message.
    pub esmtp_only: bool,
    /// Mark what opened as seen.
    pub mark_seen: bool,
    /// Move what opened to this mailbox.
    pub move_to: Option<String>,
    /// Delete what opened (ignored with `move_to`).
    pub delete_after_open: bool,
}

impl Default for ImapFetchOptions {
    fn default() -> Self {
        ImapFetchOptions {
            since: None,
            esmtp_only: true,
            mark_seen: false,
            move_to: None,
            delete_after_open: false,
        }
    }
}

fn scope(esmtp_only: bool) -> FetchScope {
    if esmtp_only { FetchScope::EsmtpOnly } else { FetchScope::All }
}

fn parse_state<T: std::str::FromStr>(since: Option<&str>) -> Result<Option<T>> {
    since.map(|s| s.parse::<T>().map_err(|_| Error::invalid(format!("not a sync state: {s:?}")))).transpose()
}

/// A session: the client while connected, and the canceller that reaches it while a call holds
/// the lock.
struct Session<C> {
    client: Mutex<Option<C>>,
    canceller: Canceller,
}

impl<C> Session<C> {
    fn lock(&self) -> Result<MutexGuard<'_, Option<C>>> {
        let guard = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() || self.canceller.is_cancelled() {
            return Err(Error::new(ErrorKind::Cancelled, "the session is closed: connect again"));
        }
        Ok(guard)
    }

    /// Run `call` on the client; a session whose call failed on its connection is closed.
    fn with<T>(&self, call: impl FnOnce(&mut C) -> esmtp_transport::Result<T>) -> Result<T> {
        let mut guard = self.lock()?;
        let client =
            guard.as_mut().ok_or_else(|| Error::new(ErrorKind::Cancelled, "the session is closed"))?;
        call(client).map_err(|e| {
            let broken = matches!(
                e.kind(),
                esmtp_transport::ErrorKind::Connection
                    | esmtp_transport::ErrorKind::Timeout
                    | esmtp_transport::ErrorKind::Cancelled
                    | esmtp_transport::ErrorKind::Protocol
            );
            if broken {
                *guard = None;
            }
            Error::from(e)
        })
    }

    fn take(&self) -> Option<C> {
        self.client.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// An IMAP session.
pub struct ImapInbox(Session<ImapClient>);

impl std::fmt::Debug for ImapInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapInbox").finish_non_exhaustive()
    }
}

impl ImapInbox {
    /// Connect and log in.
    ///
    /// # Errors
    /// Transport errors.
    pub fn connect(account: &Account) -> Result<Arc<ImapInbox>> {
        let client = ImapClient::connect(&account.0)?;
        let canceller = client.canceller();
        Ok(Arc::new(ImapInbox(Session { client: Mutex::new(Some(client)), canceller })))
    }

    /// The mailboxes' names.
    ///
    /// # Errors
    /// Transport errors.
    pub fn mailboxes(&self) -> Result<Vec<String>> {
        self.0.with(|c| c.mailboxes()).map(|list| list.into_iter().map(|m| m.name).collect())
    }

    /// Fetch and open what is new in `mailbox`.
    ///
    /// # Errors
    /// Transport errors of the session (each message's own failure is in its outcome).
    pub fn fetch(
        &self,
        mailbox: &str,
        options: &ImapFetchOptions,
        open: &OpenOptions,
    ) -> Result<FetchReport> {
        let since = parse_state::<ImapSyncState>(options.since.as_deref())?;
        let opts = esmtp_transport::ImapFetchOptions {
            scope: scope(options.esmtp_only),
            since,
            mark_seen: options.mark_seen,
            move_to: options.move_to.clone(),
            delete_after_open: options.delete_after_open,
            ..esmtp_transport::ImapFetchOptions::default()
        };
        let opener = open.opener();
        let report = self.0.with(|c| c.fetch_esmtp(mailbox, &opener, &opts))?;
        Ok(FetchReport {
            messages: report.messages.into_iter().map(FetchedMessage::from).collect(),
            sync_state: report.sync.to_string(),
            resynced: report.uid_validity_changed,
            duplicates: report.duplicates.iter().map(DuplicateMessage::from).collect(),
        })
    }

    /// Wait until new mail is in `mailbox` (newer than `since`, when given) or `timeout_secs`
    /// pass: IDLE where the server has it. Returns whether new mail is there. [`ImapInbox::cancel`]
    /// from another thread ends the wait with [`ErrorKind::Cancelled`].
    ///
    /// # Errors
    /// Transport errors.
    pub fn idle(&self, mailbox: &str, since: Option<&str>, timeout_secs: u64) -> Result<bool> {
        let since = parse_state::<ImapSyncState>(since)?;
        let timeout = Duration::from_secs(timeout_secs.min(24 * 3600));
        self.0.with(|c| c.idle_wait(mailbox, since.as_ref(), timeout))
    }

    /// Cancel the current call (an IDLE wait, a fetch) from another thread; the session closes.
    pub fn cancel(&self) {
        self.0.canceller.cancel();
    }

    /// Log out.
    ///
    /// # Errors
    /// Transport errors (the session ends either way).
    pub fn logout(&self) -> Result<()> {
        match self.0.take() {
            Some(client) => Ok(client.logout()?),
            None => Ok(()),
        }
    }
}

/// How a POP3 fetch runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3FetchOptions {
    /// The state of the last fetch; `None` reads every message.
    pub since: Option<String>,
    /// Only esmtp mails (default), or every message.
    pub esmtp_only: bool,
    /// Delete what opened (at the end of the session).
    pub delete_after_open: bool,
}

impl Default for Pop3FetchOptions {
    fn default() -> Self {
        Pop3FetchOptions { since: None, esmtp_only: true, delete_after_open: false }
    }
}

/// A POP3 session. Nothing is marked read on the server (messages are downloaded with TOP).
pub struct Pop3Inbox(Session<Pop3Client>);

impl std::fmt::Debug for Pop3Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Inbox").finish_non_exhaustive()
    }
}

impl Pop3Inbox {
    /// Connect and log in.
    ///
    /// # Errors
    /// Transport errors.
    pub fn connect(account: &Account) -> Result<Arc<Pop3Inbox>> {
        let client = Pop3Client::connect(&account.0)?;
        let canceller = client.canceller();
        Ok(Arc::new(Pop3Inbox(Session { client: Mutex::new(Some(client)), canceller })))
    }

    /// Fetch and open what is new.
    ///
    /// # Errors
    /// Transport errors of the session.
    pub fn fetch(&self, options: &Pop3FetchOptions, open: &OpenOptions) -> Result<FetchReport> {
        let opts = esmtp_transport::Pop3FetchOptions {
            scope: scope(options.esmtp_only),
            since: parse_state::<Pop3SyncState>(options.since.as_deref())?,
            delete_after_open: options.delete_after_open,
            ..esmtp_transport::Pop3FetchOptions::default()
        };
        let opener = open.opener();
        let report = self.0.with(|c| c.fetch_esmtp(&opener, &opts))?;
        Ok(FetchReport {
            messages: report.messages.into_iter().map(FetchedMessage::from).collect(),
            sync_state: report.sync.to_string(),
            resynced: report.resynced,
            duplicates: report.duplicates.iter().map(DuplicateMessage::from).collect(),
        })
    }

    /// Cancel the current call from another thread; the session closes.
    pub fn cancel(&self) {
        self.0.canceller.cancel();
    }

    /// End the session (QUIT: deletions take effect).
    ///
    /// # Errors
    /// Transport errors.
    pub fn quit(&self) -> Result<()> {
        match self.0.take() {
            Some(client) => Ok(client.quit()?),
            None => Ok(()),
        }
    }
}
