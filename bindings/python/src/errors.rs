//! The exception hierarchy rooted at `esmtp.EsmtpError`, and the one mapping from esmtp-ffi's
//! error kinds into it. Every exception carries `transient` (whether a retry may help); the
//! message is esmtp-ffi's reason, which never holds a secret.

use esmtp_ffi::{Error, ErrorKind};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;

pyo3::create_exception!(
    esmtp,
    EsmtpError,
    PyException,
    "Every error of esmtp. `transient` says whether trying again later may help."
);
pyo3::create_exception!(
    esmtp,
    InvalidKey,
    EsmtpError,
    "A key, recipient, identity file or key slip text is invalid, outdated or weak."
);
pyo3::create_exception!(
    esmtp,
    InvalidArgument,
    EsmtpError,
    "An argument cannot be used (no recipient, an unknown suite, a draft that cannot be a mail)."
);
pyo3::create_exception!(
    esmtp,
    MalformedEnvelope,
    EsmtpError,
    "The bytes are not an esmtp envelope (or of an unknown version or suite)."
);
pyo3::create_exception!(
    esmtp,
    MalformedMail,
    EsmtpError,
    "The mail is not an esmtp mail as MIME.md describes it, or beyond the reader's limits."
);
pyo3::create_exception!(
    esmtp,
    NoMatchingRecipient,
    EsmtpError,
    "None of the given keys, passphrases or key slips opens the envelope."
);
pyo3::create_exception!(
    esmtp,
    DecryptionFailed,
    EsmtpError,
    "The envelope was altered, truncated or extended."
);
pyo3::create_exception!(
    esmtp,
    BadSignature,
    EsmtpError,
    "The envelope is signed, but the signature does not verify."
);
pyo3::create_exception!(
    esmtp,
    UnexpectedSigner,
    EsmtpError,
    "A signer was required, and the envelope is unsigned or signed by someone else."
);
pyo3::create_exception!(
    esmtp,
    ExcessiveWork,
    EsmtpError,
    "A passphrase stanza asks for more Argon2 work than allowed."
);
pyo3::create_exception!(
    esmtp,
    MessageTooLarge,
    EsmtpError,
    "The message is larger than the suite, the reader or the server accepts."
);
pyo3::create_exception!(
    esmtp,
    SenderNotAllowed,
    EsmtpError,
    "The mail's From is not the account's address or one of its aliases."
);
pyo3::create_exception!(esmtp, IoError, EsmtpError, "Reading or writing a file or stream failed.");
pyo3::create_exception!(
    esmtp,
    RandomError,
    EsmtpError,
    "The operating system's random number generator failed."
);
pyo3::create_exception!(
    esmtp,
    TransportError,
    EsmtpError,
    "A connection, protocol or server failure; `transient` says whether a retry may help."
);
pyo3::create_exception!(
    esmtp,
    AuthenticationFailed,
    TransportError,
    "The server rejected the credentials, or no OAuth2 token could be had."
);
pyo3::create_exception!(
    esmtp,
    TlsError,
    TransportError,
    "TLS failed: certificate, host name, handshake, or a TLS mode that does not fit the port."
);
pyo3::create_exception!(esmtp, Timeout, TransportError, "The server did not answer in time.");
pyo3::create_exception!(
    esmtp,
    Cancelled,
    TransportError,
    "The call was cancelled (cancel() from another thread, or Ctrl-C); the session is closed."
);

/// The exception class of `kind`: the one mapping.
fn class(py: Python<'_>, kind: ErrorKind) -> Bound<'_, PyType> {
    match kind {
        ErrorKind::InvalidKey => py.get_type::<InvalidKey>(),
        ErrorKind::InvalidArgument => py.get_type::<InvalidArgument>(),
        ErrorKind::MalformedEnvelope => py.get_type::<MalformedEnvelope>(),
        ErrorKind::MalformedMail => py.get_type::<MalformedMail>(),
        ErrorKind::NoMatchingRecipient => py.get_type::<NoMatchingRecipient>(),
        ErrorKind::DecryptionFailed => py.get_type::<DecryptionFailed>(),
        ErrorKind::BadSignature => py.get_type::<BadSignature>(),
        ErrorKind::UnexpectedSigner => py.get_type::<UnexpectedSigner>(),
        ErrorKind::ExcessiveWork => py.get_type::<ExcessiveWork>(),
        ErrorKind::MessageTooLarge => py.get_type::<MessageTooLarge>(),
        ErrorKind::Authentication => py.get_type::<AuthenticationFailed>(),
        ErrorKind::Tls => py.get_type::<TlsError>(),
        ErrorKind::Timeout => py.get_type::<Timeout>(),
        ErrorKind::Cancelled => py.get_type::<Cancelled>(),
        ErrorKind::SenderNotAllowed => py.get_type::<SenderNotAllowed>(),
        ErrorKind::Transport => py.get_type::<TransportError>(),
        ErrorKind::Io => py.get_type::<IoError>(),
        ErrorKind::Random => py.get_type::<RandomError>(),
    }
}

/// The exception instance for `kind`, `reason` and `transient` (also for a fetched message's own
/// failure, which is a value rather than a raised error).
pub(crate) fn exception(py: Python<'_>, kind: ErrorKind, reason: &str, transient: bool) -> PyErr {
    let err = PyErr::from_type(class(py, kind), reason.to_string());
    // Setting an attribute on a fresh exception instance cannot fail short of memory exhaustion,
    // which Python reports on its own next call.
    let _ = err.value(py).setattr("transient", transient);
    err
}

/// esmtp-ffi's error as a Python exception: `.map_err(err)` on every esmtp-ffi result.
pub(crate) fn err(e: Error) -> PyErr {
    Python::attach(|py| exception(py, e.kind, &e.reason, e.transient))
}

/// An argument that cannot be used, raised as `InvalidArgument` (a subclass of `EsmtpError`).
pub(crate) fn invalid(reason: impl Into<String>) -> PyErr {
    Python::attach(|py| exception(py, ErrorKind::InvalidArgument, &reason.into(), false))
}

/// Add the hierarchy to the module; `transient` defaults to `False` on the root class.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    py.get_type::<EsmtpError>().setattr("transient", false)?;
    macro_rules! add {
        ($($name:ident),*) => { $( m.add(stringify!($name), py.get_type::<$name>())?; )* };
    }
    add!(
        EsmtpError,
        InvalidKey,
        InvalidArgument,
        MalformedEnvelope,
        MalformedMail,
        NoMatchingRecipient,
        DecryptionFailed,
        BadSignature,
        UnexpectedSigner,
        ExcessiveWork,
        MessageTooLarge,
        SenderNotAllowed,
        IoError,
        RandomError,
        TransportError,
        AuthenticationFailed,
        TlsError,
        Timeout,
        Cancelled
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kind` becomes an instance of `T` (and of `EsmtpError`), with the reason as its message and
    /// `transient` as given.
    fn maps_to<T: pyo3::PyTypeInfo>(kind: ErrorKind, transient: bool) {
        Python::initialize();
        Python::attach(|py| {
            let e = err(Error { kind, reason: "why it failed".into(), transient });
            let value = e.value(py);
            assert!(value.is_instance_of::<T>(), "{kind:?}: {value:?}");
            assert!(value.is_instance_of::<EsmtpError>(), "{kind:?}");
            assert_eq!(value.str().unwrap().to_string(), "why it failed");
            assert_eq!(value.getattr("transient").unwrap().extract::<bool>().unwrap(), transient);
        });
    }

    #[test]
    fn invalid_key() {
        maps_to::<InvalidKey>(ErrorKind::InvalidKey, false);
    }

    #[test]
    fn invalid_argument() {
        maps_to::<InvalidArgument>(ErrorKind::InvalidArgument, false);
    }

    #[test]
    fn malformed_envelope() {
        maps_to::<MalformedEnvelope>(ErrorKind::MalformedEnvelope, false);
    }

    #[test]
    fn malformed_mail() {
        maps_to::<MalformedMail>(ErrorKind::MalformedMail, false);
    }

    #[test]
    fn no_matching_recipient() {
        maps_to::<NoMatchingRecipient>(ErrorKind::NoMatchingRecipient, false);
    }

    #[test]
    fn decryption_failed() {
        maps_to::<DecryptionFailed>(ErrorKind::DecryptionFailed, false);
    }

    #[test]
    fn bad_signature() {
        maps_to::<BadSignature>(ErrorKind::BadSignature, false);
    }

    #[test]
    fn unexpected_signer() {
        maps_to::<UnexpectedSigner>(ErrorKind::UnexpectedSigner, false);
    }

    #[test]
    fn excessive_work() {
        maps_to::<ExcessiveWork>(ErrorKind::ExcessiveWork, false);
    }

    #[test]
    fn message_too_large() {
        maps_to::<MessageTooLarge>(ErrorKind::MessageTooLarge, false);
    }

    #[test]
    fn authentication() {
        maps_to::<AuthenticationFailed>(ErrorKind::Authentication, false);
        maps_to::<TransportError>(ErrorKind::Authentication, false);
    }

    #[test]
    fn tls() {
        maps_to::<TlsError>(ErrorKind::Tls, false);
        maps_to::<TransportError>(ErrorKind::Tls, false);
    }

    #[test]
    fn timeout() {
        maps_to::<Timeout>(ErrorKind::Timeout, true);
        maps_to::<TransportError>(ErrorKind::Timeout, true);
    }

    #[test]
    fn cancelled() {
        maps_to::<Cancelled>(ErrorKind::Cancelled, false);
    }

    #[test]
    fn sender_not_allowed() {
        maps_to::<SenderNotAllowed>(ErrorKind::SenderNotAllowed, false);
    }

    #[test]
    fn transport() {
        maps_to::<TransportError>(ErrorKind::Transport, true);
        maps_to::<TransportError>(ErrorKind::Transport, false);
    }

    #[test]
    fn io() {
        maps_to::<IoError>(ErrorKind::Io, false);
    }

    #[test]
    fn random() {
        maps_to::<RandomError>(ErrorKind::Random, false);
    }

    #[test]
    fn distinct_kinds_are_not_each_other() {
        Python::initialize();
        Python::attach(|py| {
            let e =
                err(Error { kind: ErrorKind::NoMatchingRecipient, reason: String::new(), transient: false });
            assert!(!e.value(py).is_instance_of::<DecryptionFailed>());
            assert!(!e.value(py).is_instance_of::<TransportError>());
        });
    }
}
