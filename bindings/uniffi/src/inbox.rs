//! Fetching: IMAP and POP3 sessions whose calls are async and can be cancelled, from another
//! thread with `cancel()` or by cancelling the awaiting coroutine or task.

use std::sync::Arc;

use crate::account::Account;
use crate::envelope::OpenOptions;
use crate::error::{ErrorKind, Result};
use crate::keys::{KeySlip, key_slip};
use crate::mail::{Headers, MailContent};
use crate::runtime::{blocking, cancellable};

/// What became of one fetched message.
// Handed to Kotlin or Swift once per mail, where uniffi copies it anyway: boxing the large
// variant would only add an allocation (and uniffi does not lower a Box).
#[allow(clippy::large_enum_variant)]
#[derive(uniffi::Enum)]
pub enum FetchOutcome {
    /// An encrypted mail, opened and authenticated.
    Opened {
        /// The mail.
        mail: MailContent,
        /// Whether a key-slip mail of the mailbox opened it (not the caller's keys).
        with_key_slip: bool,
    },
    /// A key-slip mail (already used for its envelope when that was fetched too).
    KeySlipMail {
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

/// What a fetched mail's signature says about its `From` address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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

impl From<esmtp_ffi::SenderCheck> for SenderCheck {
    fn from(c: esmtp_ffi::SenderCheck) -> Self {
        use esmtp_ffi::SenderVerdict as V;
        let verdict = match c.verdict {
            V::Verified => SenderVerdict::Verified,
            V::UnknownSigner => SenderVerdict::UnknownSigner,
            V::WrongSigner => SenderVerdict::WrongSigner,
            V::MissingSignature => SenderVerdict::MissingSignature,
            V::Unsigned => SenderVerdict::Unsigned,
        };
        SenderCheck {
            verdict,
            from: c.from,
            signer_contact: c.signer_contact,
            from_differs: c.from_differs,
            warning: c.warning,
        }
    }
}

/// One fetched message.
#[derive(uniffi::Record)]
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

impl From<esmtp_ffi::FetchedMessage> for FetchedMessage {
    fn from(m: esmtp_ffi::FetchedMessage) -> Self {
        let outcome = match m.outcome {
            esmtp_ffi::FetchOutcome::Opened { mail, with_key_slip } => {
                FetchOutcome::Opened { mail: mail.into(), with_key_slip }
            }
            esmtp_ffi::FetchOutcome::KeySlip { envelope_id, key_slip: slip } => {
                FetchOutcome::KeySlipMail { envelope_id, key_slip: key_slip(slip) }
            }
            esmtp_ffi::FetchOutcome::Plain => FetchOutcome::Plain,
            esmtp_ffi::FetchOutcome::Failed { kind, reason } => {
                FetchOutcome::Failed { kind: kind.into(), reason }
            }
        };
        FetchedMessage {
            uid: m.uid,
            uidl: m.uidl,
            size: m.size,
            outer: m.outer.into(),
            outcome,
            sender: m.sender.map(Into::into),
        }
    }
}

/// A second copy of a mail already read (the same Message-ID and body), not opened again.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DuplicateMessage {
    /// Its IMAP UID.
    pub uid: Option<u32>,
    /// Its POP3 unique id.
    pub uidl: Option<String>,
    /// The Message-ID both copies carry.
    pub message_id: String,
}

/// What a fetch brought.
#[derive(uniffi::Record)]
pub struct FetchReport {
    /// Every message read, each with its own outcome.
    pub messages: Vec<FetchedMessage>,
    /// Where the next fetch starts: store it, pass it back as `since`.
    pub sync_state: String,
    /// The mailbox was read from the start again (IMAP UIDVALIDITY changed, or POP3 ids gone):
    /// messages may repeat.
    pub resynced: bool,
    /// Second copies of mails already read, not opened again.
    pub duplicates: Vec<DuplicateMessage>,
}

impl From<esmtp_ffi::FetchReport> for FetchReport {
    fn from(r: esmtp_ffi::FetchReport) -> Self {
        FetchReport {
            messages: r.messages.into_iter().map(Into::into).collect(),
            sync_state: r.sync_state,
            resynced: r.resynced,
            duplicates: r
                .duplicates
                .into_iter()
                .map(|d| DuplicateMessage { uid: d.uid, uidl: d.uidl, message_id: d.message_id })
                .collect(),
        }
    }
}

/// How an IMAP fetch runs. Unset fields take esmtp's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct ImapFetchOptions {
    /// The state of the last fetch (`FetchReport.sync_state`); unset reads the whole mailbox.
    #[uniffi(default)]
    pub since: Option<String>,
    /// Only esmtp mails (default true), or every message.
    #[uniffi(default)]
    pub esmtp_only: Option<bool>,
    /// Mark what opened as seen.
    #[uniffi(default)]
    pub mark_seen: bool,
    /// Move what opened to this mailbox.
    #[uniffi(default)]
    pub move_to: Option<String>,
    /// Delete what opened (ignored with `move_to`).
    #[uniffi(default)]
    pub delete_after_open: bool,
}

impl From<ImapFetchOptions> for esmtp_ffi::ImapFetchOptions {
    fn from(o: ImapFetchOptions) -> Self {
        let d = esmtp_ffi::ImapFetchOptions::default();
        esmtp_ffi::ImapFetchOptions {
            since: o.since,
            esmtp_only: o.esmtp_only.unwrap_or(d.esmtp_only),
            mark_seen: o.mark_seen,
            move_to: o.move_to,
            delete_after_open: o.delete_after_open,
        }
    }
}

/// An IMAP session.
#[derive(uniffi::Object)]
pub struct ImapInbox(Arc<esmtp_ffi::ImapInbox>);

#[uniffi::export]
impl ImapInbox {
    /// Connect and log in.
    #[uniffi::constructor]
    pub async fn connect(account: Arc<Account>) -> Result<Arc<ImapInbox>> {
        let account = account.0.clone();
        Ok(Arc::new(ImapInbox(blocking(move || esmtp_ffi::ImapInbox::connect(&account)).await?)))
    }

    /// The mailboxes' names.
    pub async fn mailboxes(&self) -> Result<Vec<String>> {
        let (inbox, canceller) = (self.0.clone(), self.0.clone());
        cancellable(move || canceller.cancel(), move || inbox.mailboxes()).await
    }

    /// Fetch and open what is new in `mailbox`. A message that fails has its own outcome; the
    /// call fails only for the session.
    pub async fn fetch(
        &self,
        mailbox: String,
        options: ImapFetchOptions,
        open: OpenOptions,
    ) -> Result<FetchReport> {
        let (inbox, canceller) = (self.0.clone(), self.0.clone());
        let (options, open) = (options.into(), open.into());
        let report =
            cancellable(move || canceller.cancel(), move || inbox.fetch(&mailbox, &options, &open)).await?;
        Ok(report.into())
    }

    /// Wait until new mail is in `mailbox` (newer than the sync state `since`, when given) or
    /// `timeout_secs` pass: IDLE where the server has it. Returns whether new mail is there.
    pub async fn idle(&self, mailbox: String, since: Option<String>, timeout_secs: u64) -> Result<bool> {
        let (inbox, canceller) = (self.0.clone(), self.0.clone());
        cancellable(move || canceller.cancel(), move || inbox.idle(&mailbox, since.as_deref(), timeout_secs))
            .await
    }

    /// Cancel the current call (an IDLE wait, a fetch) from any thread: it fails with
    /// `Cancelled`, and the session closes.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Log out (the session ends either way).
    pub async fn logout(&self) -> Result<()> {
        let inbox = self.0.clone();
        blocking(move || inbox.logout()).await
    }
}

/// How a POP3 fetch runs. Unset fields take esmtp's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct Pop3FetchOptions {
    /// The state of the last fetch; unset reads every message.
    #[uniffi(default)]
    pub since: Option<String>,
    /// Only esmtp mails (default true), or every message.
    #[uniffi(default)]
    pub esmtp_only: Option<bool>,
    /// Delete what opened (at the end of the session).
    #[uniffi(default)]
    pub delete_after_open: bool,
}

impl From<Pop3FetchOptions> for esmtp_ffi::Pop3FetchOptions {
    fn from(o: Pop3FetchOptions) -> Self {
        let d = esmtp_ffi::Pop3FetchOptions::default();
        esmtp_ffi::Pop3FetchOptions {
            since: o.since,
            esmtp_only: o.esmtp_only.unwrap_or(d.esmtp_only),
            delete_after_open: o.delete_after_open,
        }
    }
}

/// A POP3 session. Nothing is marked read on the server.
#[derive(uniffi::Object)]
pub struct Pop3Inbox(Arc<esmtp_ffi::Pop3Inbox>);

#[uniffi::export]
impl Pop3Inbox {
    /// Connect and log in.
    #[uniffi::constructor]
    pub async fn connect(account: Arc<Account>) -> Result<Arc<Pop3Inbox>> {
        let account = account.0.clone();
        Ok(Arc::new(Pop3Inbox(blocking(move || esmtp_ffi::Pop3Inbox::connect(&account)).await?)))
    }

    /// Fetch and open what is new.
    pub async fn fetch(&self, options: Pop3FetchOptions, open: OpenOptions) -> Result<FetchReport> {
        let (inbox, canceller) = (self.0.clone(), self.0.clone());
        let (options, open) = (options.into(), open.into());
        Ok(cancellable(move || canceller.cancel(), move || inbox.fetch(&options, &open)).await?.into())
    }

    /// Cancel the current call from any thread: it fails with `Cancelled`, and the session
    /// closes.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// End the session (QUIT: deletions take effect).
    pub async fn quit(&self) -> Result<()> {
        let inbox = self.0.clone();
        blocking(move || inbox.quit()).await
    }
}
