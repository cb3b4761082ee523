//! What IMAP and POP3 retrieval return per message, and the per-message open they share: one
//! message's failure is that message's result, never the end of the fetch.

use std::collections::HashMap;
use std::sync::Arc;

use esmtp_core::mime::{
    self, Limits, MailHeaders, MailKind, Mailbox, MimeError, OpenedMail, PlainMail, ReadMail, ReceivedKeySlip,
};
use esmtp_core::{EnvelopeId, KeySlip, OpenError, Opener};

use crate::contacts::SenderCheck;

/// Which messages a fetch returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FetchScope {
    /// Only esmtp mails (encrypted mails and key-slip mails). IMAP finds them by their
    /// `X-Esmtp-Envelope-Id` / `X-Esmtp-Key-Slip` headers on the server, without downloading
    /// anything else; an envelope pasted into a plain text body (MIME.md rule 3) has no such
    /// header and is only found with [`FetchScope::All`].
    #[default]
    EsmtpOnly,
    /// Every message; those that are not esmtp mails come back as [`Retrieved::Plain`].
    All,
}

/// Where a message sits on its server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageRef {
    /// An IMAP message in the fetched mailbox.
    Imap {
        /// Its UID (valid with the report's UIDVALIDITY).
        uid: u32,
    },
    /// A message in a local Maildir.
    Maildir {
        /// Its file name (unique within the Maildir).
        name: String,
    },
    /// A POP3 message.
    Pop3 {
        /// Its message number in this session.
        number: u32,
        /// Its unique id (UIDL), stable across sessions.
        uidl: String,
    },
}

/// One message of a fetch: where it is, its outer headers, and what reading it gave.
#[derive(Debug)]
pub struct Fetched {
    /// Where the message is on the server.
    pub location: MessageRef,
    /// Its size on the server, in bytes.
    pub size: u64,
    /// Its outer (unprotected) headers, as far as they could be read, also when the message
    /// itself could not be opened. An opened mail's protected headers are in
    /// [`OpenedMail::headers`].
    pub outer: MailHeaders,
    /// The message's own result.
    pub result: Result<Retrieved, MessageError>,
    /// The envelope the message carries (for a key-slip mail: the envelope its slip opens), when
    /// known: also for a message that could not be opened, so that a "no matching recipient"
    /// can be matched with the key slip that would open it. Read from the envelope itself when
    /// it could be read, else from the `X-Esmtp-Envelope-Id` header.
    pub envelope_id: Option<EnvelopeId>,
    /// For an opened mail: its signature checked against the account's contacts for its
    /// `From` address, and its protected `From` against the outer one (see
    /// [`crate::Contacts::check`]). `None` for anything else.
    pub sender: Option<SenderCheck>,
}

impl Fetched {
    /// The IMAP UID, for IMAP messages.
    pub fn uid(&self) -> Option<u32> {
        match self.location {
            MessageRef::Imap { uid } => Some(uid),
            MessageRef::Pop3 { .. } | MessageRef::Maildir { .. } => None,
        }
    }

    /// The POP3 unique id, for POP3 messages.
    pub fn uidl(&self) -> Option<&str> {
        match &self.location {
            MessageRef::Pop3 { uidl, .. } => Some(uidl),
            MessageRef::Imap { .. } | MessageRef::Maildir { .. } => None,
        }
    }

    /// The outer `Message-ID`, without angle brackets.
    pub fn message_id(&self) -> Option<&str> {
        self.outer.message_id.as_deref()
    }

    /// The opened mail, when this message is one.
    pub fn opened(&self) -> Option<&OpenedMail> {
        match &self.result {
            Ok(Retrieved::Opened { mail, .. }) => Some(mail),
            _ => None,
        }
    }
}

/// A message that could be read.
#[derive(Debug)]
pub enum Retrieved {
    /// An encrypted mail, opened and its integrity checked. Who wrote it is another question:
    /// see [`OpenedMail::signature`] and [`Fetched::sender`].
    Opened {
        /// The mail: protected headers, text, HTML, attachments, suite, MD5.
        mail: Box<OpenedMail>,
        /// Whether a key-slip mail of the same fetch (or, over IMAP, of the same mailbox)
        /// opened it rather than the caller's identities.
        with_key_slip: bool,
    },
    /// A key-slip mail: its slip was used for the matching envelope automatically. The slip
    /// is handed out too, for callers that keep slips for envelopes that arrive later.
    KeySlip(Box<ReceivedKeySlip>),
    /// Not an esmtp mail (only with [`FetchScope::All`]): a result, not an error.
    Plain(Box<PlainMail>),
}

/// Why one message could not be opened. Never contains key material or message content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// None of the identities, passphrases or key slips opens it: mail for someone else, or a
    /// key slip that has not arrived.
    #[error("no matching recipient: none of the keys, passphrases or key slips opens it")]
    NoMatchingRecipient,
    /// The envelope failed authentication: altered or damaged in transit.
    #[error("decryption failed: the message was altered or damaged")]
    DecryptionFailed,
    /// The envelope is signed, but the signature does not verify: it was altered or re-sealed
    /// by someone holding its key (another recipient, for instance).
    #[error("bad signature: the mail is not what its signer signed")]
    BadSignature,
    /// The opener required a signer ([`Opener::require_signer`]) and the mail is unsigned or
    /// signed by someone else; says which.
    #[error("{0}")]
    UnexpectedSigner(String),
    /// Not a well-formed esmtp mail; says what is wrong.
    #[error("malformed esmtp mail: {0}")]
    Malformed(String),
    /// A format version or cipher suite this library does not know.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Above the size limit; says which.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The message was listed, then removed from the server (by another client) before it
    /// could be downloaded: there is nothing left to read.
    #[error("the message is no longer on the server")]
    Gone,
    /// The server could not hand the message out this time (a temporary refusal); says why. An
    /// incremental fetch's sync state stays before it, so the next fetch tries it again.
    #[error("the server could not give the message for now: {0}")]
    Unavailable(String),
    /// Anything else, described.
    #[error("{0}")]
    Other(String),
}

impl From<MimeError> for MessageError {
    fn from(e: MimeError) -> Self {
        match e {
            MimeError::Open(OpenError::NoMatchingRecipient) => MessageError::NoMatchingRecipient,
            MimeError::Open(OpenError::DecryptionFailed) => MessageError::DecryptionFailed,
            MimeError::Open(OpenError::BadSignature) => MessageError::BadSignature,
            MimeError::Open(e @ OpenError::UnexpectedSigner(_)) => {
                MessageError::UnexpectedSigner(e.to_string())
            }
            MimeError::Open(
                e @ (OpenError::UnsupportedVersion(_)
                | OpenError::UnsupportedSuite(_)
                | OpenError::ExcessiveWork),
            ) => MessageError::Unsupported(e.to_string()),
            MimeError::Open(e) => MessageError::Malformed(format!("envelope: {e}")),
            MimeError::UnsupportedVersion => MessageError::Unsupported(e.to_string()),
            MimeError::TooLarge(_) => MessageError::TooLarge(e.to_string()),
            MimeError::Malformed(_)
            | MimeError::TooDeep
            | MimeError::TooManyParts
            | MimeError::EnvelopeIdMismatch { .. }
            | MimeError::KeySlip(_) => MessageError::Malformed(e.to_string()),
            other => MessageError::Other(other.to_string()),
        }
    }
}

/// Reads fetched messages with the caller's opener plus the key slips found so far. Cloning it
/// is cheap (the slips are shared until one is added): a clone is a snapshot for reading on
/// another thread.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    opener: &'a Opener,
    slips: Arc<HashMap<EnvelopeId, KeySlip>>,
}

/// What reading one message gave.
pub(crate) struct ReadOutcome {
    pub(crate) outer: Option<MailHeaders>,
    pub(crate) result: Result<Retrieved, MessageError>,
    /// The envelope of a message that did not open, when its envelope header could be read.
    pub(crate) envelope_id: Option<EnvelopeId>,
}

impl ReadOutcome {
    fn new(outer: Option<MailHeaders>, result: Result<Retrieved, MessageError>) -> Self {
        ReadOutcome { outer, result, envelope_id: None }
    }

    fn failed(raw: &[u8], error: MessageError) -> Self {
        ReadOutcome { outer: None, result: Err(error), envelope_id: envelope_in(raw) }
    }
}

/// The id of the envelope in `raw`, read from the envelope itself.
fn envelope_in(raw: &[u8]) -> Option<EnvelopeId> {
    match mime::classify(raw, &Limits::default()) {
        Ok(MailKind::Encrypted { envelope_id, .. }) => Some(envelope_id),
        _ => None,
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(opener: &'a Opener) -> Self {
        Reader { opener, slips: Arc::new(HashMap::new()) }
    }

    /// Remember a key slip for the envelope it opens.
    pub(crate) fn add_slip(&mut self, slip: KeySlip) {
        Arc::make_mut(&mut self.slips).insert(slip.envelope_id(), slip);
    }

    /// Whether a slip for `id` is known.
    pub(crate) fn has_slip(&self, id: &EnvelopeId) -> bool {
        self.slips.contains_key(id)
    }

    /// Read one whole message: open it with the caller's identities, or with a known key slip
    /// for its envelope when those do not match. A key slip read is not added here: the caller
    /// adds it ([`Reader::add_slip`]) in message order.
    pub(crate) fn read(&self, raw: &[u8]) -> ReadOutcome {
        match mime::read_mail(raw, self.opener, &Limits::default()) {
            Ok(ReadMail::Encrypted(mail)) => ReadOutcome::new(
                Some(mail.outer.clone()),
                Ok(Retrieved::Opened { mail, with_key_slip: false }),
            ),
            Ok(ReadMail::KeySlip(slip)) => {
                ReadOutcome::new(Some(slip.headers.clone()), Ok(Retrieved::KeySlip(slip)))
            }
            Ok(ReadMail::Plain(plain)) => {
                ReadOutcome::new(Some(plain.headers.clone()), Ok(Retrieved::Plain(plain)))
            }
            Ok(_) => ReadOutcome::new(
                None,
                Err(MessageError::Other("a kind of mail this version does not know".into())),
            ),
            Err(MimeError::Open(OpenError::NoMatchingRecipient)) => {
                let envelope_id = envelope_in(raw);
                let slip = envelope_id.and_then(|id| self.slips.get(&id).cloned());
                let Some(slip) = slip else {
                    return ReadOutcome {
                        outer: None,
                        result: Err(MessageError::NoMatchingRecipient),
                        envelope_id,
                    };
                };
                match mime::read_mail(raw, &Opener::new().identity(slip), &Limits::default()) {
                    Ok(ReadMail::Encrypted(mail)) => ReadOutcome::new(
                        Some(mail.outer.clone()),
                        Ok(Retrieved::Opened { mail, with_key_slip: true }),
                    ),
                    Ok(_) => ReadOutcome::failed(raw, MessageError::Other("the mail changed kind".into())),
                    Err(e) => ReadOutcome::failed(raw, e.into()),
                }
            }
            Err(e) => ReadOutcome::failed(raw, e.into()),
        }
    }
}

/// What a header block (or a whole message) says, read leniently: the outer headers and the
/// esmtp ids, for messages that are not (or cannot be) read whole.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeaderInfo {
    pub(crate) outer: MailHeaders,
    /// `X-Esmtp-Envelope-Id`, when present and valid.
    pub(crate) envelope_id: Option<EnvelopeId>,
    /// Whether the subject is that of key-slip mails: their headers do not say which envelope
    /// they open (MIME.md section 4); the token inside does.
    pub(crate) key_slip: bool,
    /// Whether the mail looks like an esmtp mail by its headers (an envelope id, valid or not,
    /// or a key-slip subject).
    pub(crate) esmtp: bool,
}

/// Parse the header block at the start of `bytes`.
pub(crate) fn header_info(bytes: &[u8]) -> HeaderInfo {
    let Some(message) = mail_parser::MessageParser::new().parse_headers(bytes) else {
        return HeaderInfo::default();
    };
    let id = |name: &str| message.header_raw(name).and_then(|v| EnvelopeId::from_hex(v.trim()));
    let present = |name: &str| message.header_raw(name).is_some();
    let key_slip = message.subject().is_some_and(|s| s.trim() == mime::KEY_SLIP_SUBJECT);
    let from = message.from().and_then(|a| a.first()).and_then(|a| {
        Some(Mailbox {
            name: a.name.as_deref().map(str::to_string).filter(|n| !n.is_empty()),
            address: a.address.as_deref()?.to_string(),
        })
    });
    HeaderInfo {
        outer: MailHeaders {
            from,
            subject: message.subject().map(str::to_string),
            date: message.date().map(|d| d.to_timestamp()),
            message_id: message.message_id().map(str::to_string),
            ..MailHeaders::default()
        },
        envelope_id: id(mime::ENVELOPE_ID_HEADER),
        key_slip,
        esmtp: present(mime::ENVELOPE_ID_HEADER) || key_slip,
    }
}

/// Messages are fetched in groups of at most this many bytes unless the caller says otherwise.
pub(crate) const DEFAULT_BATCH_BYTES: u64 = 16 << 20;

/// The most a header block read ahead of a download (IMAP header fields, POP3 `TOP n 0`, the
/// start of a Maildir file) may take, whatever size the server announces.
pub(crate) const MAX_HEADER_BYTES: usize = 256 * 1024;

/// Messages above this size are reported as too large rather than downloaded, unless the
/// caller says otherwise: the MIME reader's limit.
pub(crate) fn default_max_message_size() -> u64 {
    esmtp_core::mime::Limits::default().max_mail_bytes as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_info_reads_ids_and_outer_headers() {
        let raw = b"From: Alice <alice@example.test>\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
Message-ID: <m1@example.test>\r\nSubject: ...\r\n\
X-Esmtp-Envelope-Id: 00112233445566778899aabbccddeeff\r\n\r\nbody";
        let info = header_info(raw);
        assert_eq!(info.outer.message_id.as_deref(), Some("m1@example.test"));
        assert_eq!(info.outer.from.as_ref().map(|m| m.address.as_str()), Some("alice@example.test"));
        assert_eq!(info.outer.date, Some(1_700_000_000));
        assert_eq!(
            info.envelope_id.map(|i| i.to_string()).as_deref(),
            Some("00112233445566778899aabbccddeeff")
        );
        assert!(info.esmtp && !info.key_slip);
        let slip = header_info(b"Subject: esmtp key slip\r\n\r\n");
        assert!(slip.esmtp && slip.key_slip);
        assert!(!header_info(b"Subject: hi\r\n\r\n").esmtp);
    }

    #[test]
    fn mime_errors_map_without_content() {
        assert_eq!(
            MessageError::from(MimeError::Open(OpenError::DecryptionFailed)),
            MessageError::DecryptionFailed
        );
        assert_eq!(
            MessageError::from(MimeError::Open(OpenError::NoMatchingRecipient)),
            MessageError::NoMatchingRecipient
        );
        assert!(matches!(MessageError::from(MimeError::Malformed("x")), MessageError::Malformed(_)));
        assert!(matches!(MessageError::from(MimeError::UnsupportedVersion), MessageError::Unsupported(_)));
        assert_eq!(MessageError::from(MimeError::Open(OpenError::BadSignature)), MessageError::BadSignature);
        assert!(matches!(
            MessageError::from(MimeError::Open(OpenError::UnexpectedSigner(None))),
            MessageError::UnexpectedSigner(why) if why.contains("not signed")
        ));
    }

    #[test]
    fn plain_mail_is_a_result() {
        let opener = Opener::new();
        let reader = Reader::new(&opener);
        let read = reader.read(b"From: a@example.test\r\nSubject: hello\r\n\r\nhi\r\n");
        assert!(matches!(read.result, Ok(Retrieved::Plain(_))));
        let read =
            reader.read(b"From: a@example.test\r\nX-Esmtp-Envelope-Id: 00\r\n\r\nparts went missing\r\n");
        assert!(matches!(read.result, Err(MessageError::Malformed(_))), "{:?}", read.result);
    }
}
