//! The one error of the bindings, and every mapping into it (one file, one test per mapping).
//!
//! A binding maps [`ErrorKind`] to its own types (Python exceptions, a Kotlin/Swift error enum)
//! and shows [`Error::reason`]. Reasons come from the library's own messages, which never hold a
//! key, passphrase, password, token or message content.

use esmtp_core::identity_file::IdentityFileError;
use esmtp_core::mime::MimeError;
use esmtp_core::{OpenError, ParseKeyError, RandomError, SealError};
use esmtp_transport::MessageError;

/// What went wrong, in the terms a caller acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A key, recipient, identity file or key slip text is invalid (or outdated, or weak).
    InvalidKey,
    /// An argument cannot be used: no recipient, a bad suite name, a draft that cannot be a mail.
    InvalidArgument,
    /// The bytes are not an esmtp envelope (or of an unknown version or suite).
    MalformedEnvelope,
    /// The mail is not what MIME.md describes, or is beyond the reader's limits.
    MalformedMail,
    /// None of the given keys, passphrases or key slips opens the envelope.
    NoMatchingRecipient,
    /// The envelope was altered, truncated or extended (or a DES key broke the suite's rules).
    DecryptionFailed,
    /// The envelope is signed, but the signature does not verify.
    BadSignature,
    /// A signer was required, and the envelope is unsigned or signed by someone else.
    UnexpectedSigner,
    /// A passphrase stanza asks for more Argon2 work than allowed.
    ExcessiveWork,
    /// The message is larger than the suite, the reader or the server accepts.
    MessageTooLarge,
    /// The server rejected the credentials, or no OAuth2 token could be had.
    Authentication,
    /// TLS failed: certificate, host name, handshake, or a TLS mode that does not fit the port.
    Tls,
    /// The server did not answer in time.
    Timeout,
    /// Another thread cancelled the call.
    Cancelled,
    /// The mail's `From` is not the account's address or one of its aliases (`allow_from`).
    SenderNotAllowed,
    /// Any other transport failure (connection, refusal, protocol); see [`Error::transient`].
    Transport,
    /// Reading or writing a file or stream failed.
    Io,
    /// The operating system's random number generator failed.
    Random,
}

/// An error of the bindings: a kind, a reason for people, and whether a retry may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Why, for people; never a secret.
    pub reason: String,
    /// Whether trying again later may succeed (timeouts, broken connections, 4xx replies).
    pub transient: bool,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Error { kind, reason: reason.into(), transient: false }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, reason)
    }

    /// An I/O error, on what (a path, "the output").
    pub(crate) fn io(what: impl std::fmt::Display, e: &std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("{what}: {e}"))
    }
}

/// The result of every call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The text of `e` and of every error below it, for errors whose own text leaves out its cause.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = inner.source();
    }
    text
}

impl From<OpenError> for Error {
    fn from(e: OpenError) -> Self {
        let kind = match &e {
            OpenError::Malformed(_) | OpenError::UnsupportedVersion(_) | OpenError::UnsupportedSuite(_) => {
                ErrorKind::MalformedEnvelope
            }
            OpenError::NoMatchingRecipient => ErrorKind::NoMatchingRecipient,
            OpenError::ExcessiveWork => ErrorKind::ExcessiveWork,
            OpenError::DecryptionFailed => ErrorKind::DecryptionFailed,
            OpenError::BadSignature => ErrorKind::BadSignature,
            OpenError::UnexpectedSigner(_) => ErrorKind::UnexpectedSigner,
            OpenError::Io(_) => ErrorKind::Io,
            _ => ErrorKind::DecryptionFailed,
        };
        Error::new(kind, chain(&e))
    }
}

impl From<SealError> for Error {
    fn from(e: SealError) -> Self {
        let kind = match &e {
            SealError::MessageTooLarge { .. } => ErrorKind::MessageTooLarge,
            SealError::Random => ErrorKind::Random,
            SealError::Io(_) => ErrorKind::Io,
            _ => ErrorKind::InvalidArgument,
        };
        Error::new(kind, chain(&e))
    }
}

impl From<ParseKeyError> for Error {
    fn from(e: ParseKeyError) -> Self {
        Error::new(ErrorKind::InvalidKey, e.to_string())
    }
}

impl From<RandomError> for Error {
    fn from(e: RandomError) -> Self {
        Error::new(ErrorKind::Random, e.to_string())
    }
}

impl From<MimeError> for Error {
    fn from(e: MimeError) -> Self {
        match e {
            MimeError::Open(open) => open.into(),
            MimeError::Seal(seal) => seal.into(),
            MimeError::InvalidDraft(_) => Error::new(ErrorKind::InvalidArgument, e.to_string()),
            MimeError::TooLarge(_) => Error::new(ErrorKind::MessageTooLarge, e.to_string()),
            other => Error::new(ErrorKind::MalformedMail, chain(&other)),
        }
    }
}

impl From<IdentityFileError> for Error {
    fn from(e: IdentityFileError) -> Self {
        match e {
            IdentityFileError::Protected(open) => open.into(),
            IdentityFileError::PassphraseNeeded => {
                Error::new(ErrorKind::InvalidArgument, "the identity file is protected: give its passphrase")
            }
            other => Error::new(ErrorKind::InvalidKey, chain(&other)),
        }
    }
}

impl From<esmtp_transport::Error> for Error {
    fn from(e: esmtp_transport::Error) -> Self {
        use esmtp_transport::ErrorKind as T;
        let kind = match e.kind() {
            T::Auth => ErrorKind::Authentication,
            T::Tls | T::WrongTlsMode => ErrorKind::Tls,
            T::Timeout => ErrorKind::Timeout,
            T::Cancelled => ErrorKind::Cancelled,
            T::TooLarge => ErrorKind::MessageTooLarge,
            T::FromNotAllowed => ErrorKind::SenderNotAllowed,
            T::Config | T::InvalidDraft | T::Encryption => ErrorKind::InvalidArgument,
            _ => ErrorKind::Transport,
        };
        Error { kind, reason: chain(&e), transient: e.is_transient() }
    }
}

impl From<&MessageError> for Error {
    fn from(e: &MessageError) -> Self {
        let kind = match e {
            MessageError::NoMatchingRecipient => ErrorKind::NoMatchingRecipient,
            MessageError::DecryptionFailed => ErrorKind::DecryptionFailed,
            MessageError::Malformed(_) | MessageError::Unsupported(_) => ErrorKind::MalformedMail,
            MessageError::TooLarge(_) => ErrorKind::MessageTooLarge,
            _ => ErrorKind::Transport,
        };
        Error::new(kind, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(e: impl Into<Error>) -> ErrorKind {
        e.into().kind
    }

    #[test]
    fn open_errors() {
        assert_eq!(kind(OpenError::Malformed("x")), ErrorKind::MalformedEnvelope);
        assert_eq!(kind(OpenError::UnsupportedVersion(2)), ErrorKind::MalformedEnvelope);
        assert_eq!(kind(OpenError::UnsupportedSuite(9)), ErrorKind::MalformedEnvelope);
        assert_eq!(kind(OpenError::NoMatchingRecipient), ErrorKind::NoMatchingRecipient);
        assert_eq!(kind(OpenError::ExcessiveWork), ErrorKind::ExcessiveWork);
        assert_eq!(kind(OpenError::DecryptionFailed), ErrorKind::DecryptionFailed);
        assert_eq!(kind(OpenError::BadSignature), ErrorKind::BadSignature);
        assert_eq!(kind(OpenError::UnexpectedSigner(None)), ErrorKind::UnexpectedSigner);
        let io = Error::from(OpenError::Io(std::io::Error::other("disk on fire")));
        assert_eq!((io.kind, io.reason.contains("disk on fire")), (ErrorKind::Io, true));
    }

    #[test]
    fn seal_errors() {
        assert_eq!(kind(SealError::NoRecipients), ErrorKind::InvalidArgument);
        assert_eq!(kind(SealError::TwoPassphrases), ErrorKind::InvalidArgument);
        assert_eq!(kind(SealError::InvalidRecipient), ErrorKind::InvalidArgument);
        assert_eq!(
            kind(SealError::MessageTooLarge { suite: "des-cbc-md5", limit: 1 }),
            ErrorKind::MessageTooLarge
        );
        assert_eq!(kind(SealError::Random), ErrorKind::Random);
        assert_eq!(kind(SealError::Io(std::io::Error::other("x"))), ErrorKind::Io);
    }

    #[test]
    fn key_random_and_mime_errors() {
        assert_eq!(kind(ParseKeyError::Outdated), ErrorKind::InvalidKey);
        assert_eq!(kind(ParseKeyError::WeakKey), ErrorKind::InvalidKey);
        assert_eq!(kind(RandomError), ErrorKind::Random);
        assert_eq!(kind(MimeError::InvalidDraft("x")), ErrorKind::InvalidArgument);
        assert_eq!(kind(MimeError::Malformed("x")), ErrorKind::MalformedMail);
        assert_eq!(kind(MimeError::TooDeep), ErrorKind::MalformedMail);
        assert_eq!(kind(MimeError::TooLarge("mail")), ErrorKind::MessageTooLarge);
        assert_eq!(kind(MimeError::Open(OpenError::NoMatchingRecipient)), ErrorKind::NoMatchingRecipient);
        assert_eq!(kind(MimeError::Open(OpenError::BadSignature)), ErrorKind::BadSignature);
        assert_eq!(kind(MimeError::Seal(SealError::NoRecipients)), ErrorKind::InvalidArgument);
        assert_eq!(kind(MimeError::KeySlip(ParseKeyError::Encoding)), ErrorKind::MalformedMail);
    }

    #[test]
    fn identity_file_errors() {
        assert_eq!(kind(IdentityFileError::PassphraseNeeded), ErrorKind::InvalidArgument);
        assert_eq!(kind(IdentityFileError::Empty), ErrorKind::InvalidKey);
        assert_eq!(
            kind(IdentityFileError::Protected(OpenError::NoMatchingRecipient)),
            ErrorKind::NoMatchingRecipient
        );
    }

    #[test]
    fn message_errors() {
        assert_eq!(kind(&MessageError::NoMatchingRecipient), ErrorKind::NoMatchingRecipient);
        assert_eq!(kind(&MessageError::DecryptionFailed), ErrorKind::DecryptionFailed);
        assert_eq!(kind(&MessageError::Malformed("x".into())), ErrorKind::MalformedMail);
        assert_eq!(kind(&MessageError::TooLarge("x".into())), ErrorKind::MessageTooLarge);
        assert_eq!(kind(&MessageError::Other("x".into())), ErrorKind::Transport);
    }

    /// Transport errors are made by the transport crate only; these come from real calls that
    /// fail without a network: a refused connection, a bad account.
    #[test]
    fn transport_errors() {
        let refused = esmtp_transport::Account::builder(
            "a@b.example",
            esmtp_transport::Credentials::Password(esmtp_transport::Secret::new("pw")),
        )
        .imap(esmtp_transport::ServerSettings::new("127.0.0.1", 1, esmtp_transport::TlsMode::Implicit))
        .build()
        .unwrap();
        let e = Error::from(esmtp_transport::ImapClient::connect(&refused).unwrap_err());
        assert_eq!((e.kind, e.transient), (ErrorKind::Transport, true));
        assert!(!e.reason.contains("pw"));
        let no_server = esmtp_transport::Submitter::new(&refused).unwrap_err();
        assert_eq!(Error::from(no_server).kind, ErrorKind::InvalidArgument);
        let draft =
            esmtp_core::mime::MailDraft::new(esmtp_core::mime::Mailbox::new("mallory@elsewhere.example"))
                .to(esmtp_core::mime::Mailbox::new("c@d.example"));
        let sealer = esmtp_core::Sealer::new().key_slip();
        let spoof = refused.package(&draft, sealer, &esmtp_transport::SendOptions::default()).unwrap_err();
        assert_eq!(Error::from(spoof).kind, ErrorKind::SenderNotAllowed);
    }
}
