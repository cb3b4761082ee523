//! The one error of the library and its one mapping from esmtp-ffi's [`esmtp_ffi::ErrorKind`].
//!
//! Kotlin sees `EsmtpException` with one subclass per kind, Swift `EsmtpError` with one case
//! per kind; each carries the reason (for people: never a key, passphrase, password, token or
//! message content, as esmtp-ffi guarantees) and `transient` (whether trying again later may
//! succeed). The same kinds appear as [`ErrorKind`] where a failure is a value, not a throw (one
//! message of a fetch, one mail of a batch).

use esmtp_ffi::ErrorKind as Kind;

/// An error of esmtp: its kind is the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum EsmtpError {
    /// A key, recipient, identity file or key slip text is invalid (or outdated, or weak).
    #[error("{reason}")]
    InvalidKey { reason: String, transient: bool },
    /// An argument cannot be used: no recipient, a bad suite name, a draft that cannot be a mail.
    #[error("{reason}")]
    InvalidArgument { reason: String, transient: bool },
    /// The bytes are not an esmtp envelope (or of an unknown version or suite).
    #[error("{reason}")]
    MalformedEnvelope { reason: String, transient: bool },
    /// The mail is not an esmtp mail as its format describes, or is beyond the reader's limits.
    #[error("{reason}")]
    MalformedMail { reason: String, transient: bool },
    /// None of the given keys, passphrases or key slips opens the envelope.
    #[error("{reason}")]
    NoMatchingRecipient { reason: String, transient: bool },
    /// The envelope was altered, truncated or extended.
    #[error("{reason}")]
    DecryptionFailed { reason: String, transient: bool },
    /// The envelope is signed, but the signature does not verify.
    #[error("{reason}")]
    BadSignature { reason: String, transient: bool },
    /// A signer was required, and the envelope is unsigned or signed by someone else.
    #[error("{reason}")]
    UnexpectedSigner { reason: String, transient: bool },
    /// A passphrase stanza asks for more Argon2 work than allowed.
    #[error("{reason}")]
    ExcessiveWork { reason: String, transient: bool },
    /// The message is larger than the suite, the reader or the server accepts.
    #[error("{reason}")]
    MessageTooLarge { reason: String, transient: bool },
    /// The server rejected the credentials, or no OAuth2 token could be had.
    #[error("{reason}")]
    Authentication { reason: String, transient: bool },
    /// TLS failed: certificate, host name, handshake, or a TLS mode that does not fit the port.
    #[error("{reason}")]
    Tls { reason: String, transient: bool },
    /// The server did not answer in time.
    #[error("{reason}")]
    Timeout { reason: String, transient: bool },
    /// The call was cancelled (`cancel()`, or the calling coroutine or task was cancelled).
    #[error("{reason}")]
    Cancelled { reason: String, transient: bool },
    /// The mail's `From` is not the account's address or one of its aliases.
    #[error("{reason}")]
    SenderNotAllowed { reason: String, transient: bool },
    /// Any other transport failure (connection, refusal, protocol); see `transient`.
    #[error("{reason}")]
    Transport { reason: String, transient: bool },
    /// Reading or writing a file failed.
    #[error("{reason}")]
    Io { reason: String, transient: bool },
    /// The operating system's random number generator failed.
    #[error("{reason}")]
    Random { reason: String, transient: bool },
}

/// What went wrong, as a value: the variants of [`EsmtpError`] without their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ErrorKind {
    /// See [`EsmtpError::InvalidKey`].
    InvalidKey,
    /// See [`EsmtpError::InvalidArgument`].
    InvalidArgument,
    /// See [`EsmtpError::MalformedEnvelope`].
    MalformedEnvelope,
    /// See [`EsmtpError::MalformedMail`].
    MalformedMail,
    /// See [`EsmtpError::NoMatchingRecipient`].
    NoMatchingRecipient,
    /// See [`EsmtpError::DecryptionFailed`].
    DecryptionFailed,
    /// See [`EsmtpError::BadSignature`].
    BadSignature,
    /// See [`EsmtpError::UnexpectedSigner`].
    UnexpectedSigner,
    /// See [`EsmtpError::ExcessiveWork`].
    ExcessiveWork,
    /// See [`EsmtpError::MessageTooLarge`].
    MessageTooLarge,
    /// See [`EsmtpError::Authentication`].
    Authentication,
    /// See [`EsmtpError::Tls`].
    Tls,
    /// See [`EsmtpError::Timeout`].
    Timeout,
    /// See [`EsmtpError::Cancelled`].
    Cancelled,
    /// See [`EsmtpError::SenderNotAllowed`].
    SenderNotAllowed,
    /// See [`EsmtpError::Transport`].
    Transport,
    /// See [`EsmtpError::Io`].
    Io,
    /// See [`EsmtpError::Random`].
    Random,
}

/// A failure as a value: one message of a fetch, one mail of a batch.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Failure {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Why, for people; never a secret.
    pub reason: String,
    /// Whether trying again later may succeed.
    pub transient: bool,
}

/// The mapping: one arm per kind, and no catch-all, so a kind esmtp-ffi adds fails to compile
/// here until it is mapped.
impl From<Kind> for ErrorKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::InvalidKey => ErrorKind::InvalidKey,
            Kind::InvalidArgument => ErrorKind::InvalidArgument,
            Kind::MalformedEnvelope => ErrorKind::MalformedEnvelope,
            Kind::MalformedMail => ErrorKind::MalformedMail,
            Kind::NoMatchingRecipient => ErrorKind::NoMatchingRecipient,
            Kind::DecryptionFailed => ErrorKind::DecryptionFailed,
            Kind::BadSignature => ErrorKind::BadSignature,
            Kind::UnexpectedSigner => ErrorKind::UnexpectedSigner,
            Kind::ExcessiveWork => ErrorKind::ExcessiveWork,
            Kind::MessageTooLarge => ErrorKind::MessageTooLarge,
            Kind::Authentication => ErrorKind::Authentication,
            Kind::Tls => ErrorKind::Tls,
            Kind::Timeout => ErrorKind::Timeout,
            Kind::Cancelled => ErrorKind::Cancelled,
            Kind::SenderNotAllowed => ErrorKind::SenderNotAllowed,
            Kind::Transport => ErrorKind::Transport,
            Kind::Io => ErrorKind::Io,
            Kind::Random => ErrorKind::Random,
        }
    }
}

impl EsmtpError {
    /// The error of `kind`.
    pub fn new(kind: ErrorKind, reason: String, transient: bool) -> Self {
        let (reason, t) = (reason, transient);
        match kind {
            ErrorKind::InvalidKey => EsmtpError::InvalidKey { reason, transient: t },
            ErrorKind::InvalidArgument => EsmtpError::InvalidArgument { reason, transient: t },
            ErrorKind::MalformedEnvelope => EsmtpError::MalformedEnvelope { reason, transient: t },
            ErrorKind::MalformedMail => EsmtpError::MalformedMail { reason, transient: t },
            ErrorKind::NoMatchingRecipient => EsmtpError::NoMatchingRecipient { reason, transient: t },
            ErrorKind::DecryptionFailed => EsmtpError::DecryptionFailed { reason, transient: t },
            ErrorKind::BadSignature => EsmtpError::BadSignature { reason, transient: t },
            ErrorKind::UnexpectedSigner => EsmtpError::UnexpectedSigner { reason, transient: t },
            ErrorKind::ExcessiveWork => EsmtpError::ExcessiveWork { reason, transient: t },
            ErrorKind::MessageTooLarge => EsmtpError::MessageTooLarge { reason, transient: t },
            ErrorKind::Authentication => EsmtpError::Authentication { reason, transient: t },
            ErrorKind::Tls => EsmtpError::Tls { reason, transient: t },
            ErrorKind::Timeout => EsmtpError::Timeout { reason, transient: t },
            ErrorKind::Cancelled => EsmtpError::Cancelled { reason, transient: t },
            ErrorKind::SenderNotAllowed => EsmtpError::SenderNotAllowed { reason, transient: t },
            ErrorKind::Transport => EsmtpError::Transport { reason, transient: t },
            ErrorKind::Io => EsmtpError::Io { reason, transient: t },
            ErrorKind::Random => EsmtpError::Random { reason, transient: t },
        }
    }

    /// The error as a value: its kind, reason and `transient`.
    pub fn failure(&self) -> Failure {
        let (kind, reason, transient) = match self {
            EsmtpError::InvalidKey { reason, transient } => (ErrorKind::InvalidKey, reason, transient),
            EsmtpError::InvalidArgument { reason, transient } => {
                (ErrorKind::InvalidArgument, reason, transient)
            }
            EsmtpError::MalformedEnvelope { reason, transient } => {
                (ErrorKind::MalformedEnvelope, reason, transient)
            }
            EsmtpError::MalformedMail { reason, transient } => (ErrorKind::MalformedMail, reason, transient),
            EsmtpError::NoMatchingRecipient { reason, transient } => {
                (ErrorKind::NoMatchingRecipient, reason, transient)
            }
            EsmtpError::DecryptionFailed { reason, transient } => {
                (ErrorKind::DecryptionFailed, reason, transient)
            }
            EsmtpError::BadSignature { reason, transient } => (ErrorKind::BadSignature, reason, transient),
            EsmtpError::UnexpectedSigner { reason, transient } => {
                (ErrorKind::UnexpectedSigner, reason, transient)
            }
            EsmtpError::ExcessiveWork { reason, transient } => (ErrorKind::ExcessiveWork, reason, transient),
            EsmtpError::MessageTooLarge { reason, transient } => {
                (ErrorKind::MessageTooLarge, reason, transient)
            }
            EsmtpError::Authentication { reason, transient } => {
                (ErrorKind::Authentication, reason, transient)
            }
            EsmtpError::Tls { reason, transient } => (ErrorKind::Tls, reason, transient),
            EsmtpError::Timeout { reason, transient } => (ErrorKind::Timeout, reason, transient),
            EsmtpError::Cancelled { reason, transient } => (ErrorKind::Cancelled, reason, transient),
            EsmtpError::SenderNotAllowed { reason, transient } => {
                (ErrorKind::SenderNotAllowed, reason, transient)
            }
            EsmtpError::Transport { reason, transient } => (ErrorKind::Transport, reason, transient),
            EsmtpError::Io { reason, transient } => (ErrorKind::Io, reason, transient),
            EsmtpError::Random { reason, transient } => (ErrorKind::Random, reason, transient),
        };
        Failure { kind, reason: reason.clone(), transient: *transient }
    }
}

impl From<esmtp_ffi::Error> for EsmtpError {
    fn from(e: esmtp_ffi::Error) -> Self {
        EsmtpError::new(e.kind.into(), e.reason, e.transient)
    }
}

impl From<&esmtp_ffi::Error> for Failure {
    fn from(e: &esmtp_ffi::Error) -> Self {
        Failure { kind: e.kind.into(), reason: e.reason.clone(), transient: e.transient }
    }
}

/// A token provider implemented in Kotlin or Swift that threw something other than an
/// `EsmtpException`/`EsmtpError`: no token, so the login cannot happen. The foreign exception's
/// text is not kept (it could hold a token); its type is enough to find it.
impl From<uniffi::UnexpectedUniFFICallbackError> for EsmtpError {
    fn from(_: uniffi::UnexpectedUniFFICallbackError) -> Self {
        EsmtpError::Authentication {
            reason: "the token provider failed with an unexpected exception".into(),
            transient: false,
        }
    }
}

/// The result of every call that can fail.
pub type Result<T, E = EsmtpError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The error esmtp-ffi gives for `kind`, through the public mapping, as a value again.
    fn mapped(kind: Kind, transient: bool) -> (EsmtpError, Failure) {
        let reason = format!("reason of {kind:?}");
        let ffi = esmtp_ffi::Error { kind, reason: reason.clone(), transient };
        let failure = Failure::from(&ffi);
        let error = EsmtpError::from(ffi);
        assert_eq!(error.to_string(), reason, "the reason is the message, verbatim");
        assert_eq!(error.failure(), failure, "thrown and value forms agree");
        (error, failure)
    }

    macro_rules! mapping_tests {
        ($($test:ident: $kind:ident;)*) => {$(
            #[test]
            fn $test() {
                for transient in [false, true] {
                    let (error, failure) = mapped(Kind::$kind, transient);
                    assert!(
                        matches!(error, EsmtpError::$kind { transient: t, .. } if t == transient),
                        "{error:?}"
                    );
                    assert_eq!(failure.kind, ErrorKind::$kind);
                    assert_eq!(EsmtpError::new(failure.kind, failure.reason.clone(), transient), error);
                }
            }
        )*};
    }

    mapping_tests! {
        invalid_key: InvalidKey;
        invalid_argument: InvalidArgument;
        malformed_envelope: MalformedEnvelope;
        malformed_mail: MalformedMail;
        no_matching_recipient: NoMatchingRecipient;
        decryption_failed: DecryptionFailed;
        bad_signature: BadSignature;
        unexpected_signer: UnexpectedSigner;
        excessive_work: ExcessiveWork;
        message_too_large: MessageTooLarge;
        authentication: Authentication;
        tls: Tls;
        timeout: Timeout;
        cancelled: Cancelled;
        sender_not_allowed: SenderNotAllowed;
        transport: Transport;
        io: Io;
        random: Random;
    }

    #[test]
    fn a_foreign_provider_exception_is_an_authentication_error_without_its_text() {
        let e = EsmtpError::from(uniffi::UnexpectedUniFFICallbackError::new("token ya29.secret"));
        assert!(matches!(e, EsmtpError::Authentication { transient: false, .. }));
        assert!(!e.to_string().contains("ya29"));
    }

    /// A real failure end to end: a wrong key through esmtp-ffi to the library's error.
    #[test]
    fn a_real_wrong_key_is_no_matching_recipient() {
        let (bob, eve) = (esmtp_ffi::Identity::generate().unwrap(), esmtp_ffi::Identity::generate().unwrap());
        let seal = esmtp_ffi::SealOptions { recipients: vec![bob.public_key()], ..Default::default() };
        let sealed = esmtp_ffi::seal(b"hi", &seal).unwrap();
        let open = esmtp_ffi::OpenOptions { identities: vec![eve], ..Default::default() };
        let e = EsmtpError::from(esmtp_ffi::open(&sealed.envelope, &open).unwrap_err());
        assert!(matches!(e, EsmtpError::NoMatchingRecipient { transient: false, .. }), "{e:?}");
    }
}
