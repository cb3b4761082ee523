//! Error types, one enum per direction (SPEC.md section 7).

use crate::x25519::X25519Recipient;

/// Why sealing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// No recipient was given: an envelope nobody can open is refused rather than written.
    #[error("no recipient given: refusing to seal for nobody")]
    NoRecipients,
    /// More stanzas than the format allows (SPEC.md section 3: at most 64).
    #[error("too many recipients (at most 64 stanzas)")]
    TooManyRecipients,
    /// More than one passphrase recipient (SPEC.md section 4.2: at most one per envelope).
    #[error("at most one passphrase per envelope")]
    TwoPassphrases,
    /// Passphrase parameters outside what Argon2 or a reader accepts.
    #[error("invalid passphrase parameters: {0}")]
    InvalidParameters(&'static str),
    /// A recipient key that would let anyone compute the message key (a low-order X25519 point,
    /// SPEC.md section 4.1): refused, as the envelope would not be confidential.
    #[error("invalid recipient: a low-order key that would let anyone read the message")]
    InvalidRecipient,
    /// The message is longer than the suite allows (SPEC.md section 5.2: 256 MiB for
    /// `des-cbc-md5`, far below the birthday bound of its 64-bit blocks).
    #[error("message too large for {suite}: at most {limit} bytes")]
    MessageTooLarge {
        /// The suite's name.
        suite: &'static str,
        /// The largest message the suite seals, in bytes.
        limit: u64,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random,
    /// Writing the envelope failed.
    #[error("writing the envelope failed")]
    Io(#[from] std::io::Error),
}

impl SealError {
    /// Carry this error through an `io::Write` (the streaming writer's errors).
    pub(crate) fn into_io(self) -> std::io::Error {
        match self {
            SealError::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other),
        }
    }
}

/// Why opening failed.
///
/// Every padding, MAC, tag and digest failure is reported as [`OpenError::DecryptionFailed`] and
/// nothing finer, so that the error cannot serve as a padding oracle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The input is not a well-formed envelope (the reason names the field, never any content).
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// The envelope has a format version this library does not know.
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u8),
    /// The envelope uses a cipher suite this library does not know.
    #[error("unsupported cipher suite 0x{0:02x}")]
    UnsupportedSuite(u8),
    /// None of the given identities, passphrases or key slips opens any stanza.
    #[error("no matching recipient: wrong key, passphrase or key slip")]
    NoMatchingRecipient,
    /// A passphrase stanza asks for more Argon2 work than this reader accepts.
    #[error("passphrase stanza asks for excessive work (Argon2 parameters above the limit)")]
    ExcessiveWork,
    /// Authentication failed: header MAC, chunk tag or MAC, padding, digest, truncation or
    /// trailing data.
    #[error("decryption failed: the envelope was altered, truncated or extended")]
    DecryptionFailed,
    /// The envelope is signed, but the signature does not verify: it was altered, or re-sealed
    /// by someone holding its key (for instance another recipient).
    #[error("bad signature: the envelope is not what its signer signed")]
    BadSignature,
    /// A signer was required ([`crate::Opener::require_signer`]) and the envelope is unsigned
    /// (`None`) or signed by someone else (their public key).
    #[error("{}", unexpected_signer(.0.as_ref()))]
    UnexpectedSigner(Option<X25519Recipient>),
    /// Reading the envelope failed.
    #[error("reading the envelope failed")]
    Io(#[source] std::io::Error),
}

impl From<std::io::Error> for OpenError {
    /// As [`OpenError::from_io`]: an error of [`crate::OpenReader`] becomes its [`OpenError`] again.
    fn from(e: std::io::Error) -> Self {
        OpenError::from_io(e)
    }
}

fn unexpected_signer(found: Option<&X25519Recipient>) -> String {
    match found {
        None => "not signed, but a signature by a given signer was required".to_string(),
        Some(signer) => format!("signed by {signer}, not by a required signer"),
    }
}

impl OpenError {
    /// Carry this error through an `io::Read` (the streaming reader's errors); unwrapped again by
    /// [`OpenError::from_io`].
    pub(crate) fn into_io(self) -> std::io::Error {
        match self {
            OpenError::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }

    /// Recover the [`OpenError`] carried by an `io::Error` from [`crate::OpenReader`] (or
    /// wrap a genuine I/O error as [`OpenError::Io`]).
    ///
    /// ```
    /// # use std::io::Read;
    /// # let sealed = esmtp_core::Sealer::new().key_slip().seal(&[0; 200_000])?;
    /// let mut envelope = sealed.envelope.clone();
    /// envelope.push(0); // trailing data: found at the end of the stream
    /// let slip = sealed.key_slip.unwrap();
    /// let mut reader = esmtp_core::Opener::new().identity(slip).open_reader(&envelope[..])?;
    /// let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
    /// assert!(matches!(esmtp_core::OpenError::from_io(err), esmtp_core::OpenError::DecryptionFailed));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_io(e: std::io::Error) -> OpenError {
        if !e.get_ref().is_some_and(|inner| inner.is::<OpenError>()) {
            return OpenError::Io(e);
        }
        let kind = e.kind();
        match e.into_inner().map(|inner| inner.downcast::<OpenError>()) {
            Some(Ok(open)) => *open,
            // Not reached (`is::<OpenError>` held above); keep the error rather than lose it.
            Some(Err(other)) => OpenError::Io(std::io::Error::new(kind, other)),
            None => OpenError::Io(kind.into()),
        }
    }
}

/// A key, recipient or key slip in text form could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseKeyError {
    /// The Bech32 text is damaged (bad character, mixed case or checksum).
    #[error("invalid key text: bad character, mixed case or checksum")]
    Encoding,
    /// The text is valid Bech32 but of another kind (e.g. a secret key given as recipient).
    #[error("invalid key text: not the expected kind of key")]
    WrongKind,
    /// The decoded data has the wrong length.
    #[error("invalid key text: wrong length")]
    Length,
    /// A key from before sender signatures (32 bytes instead of 64).
    #[error(
        "this key is from before sender signatures and is no longer accepted: \
         generate a new identity (esmtp keygen) and share its new public key"
    )]
    Outdated,
    /// A public key that would let anyone compute the message key or forge signatures (a
    /// low-order or invalid curve point).
    #[error("invalid public key: a low-order or invalid curve point")]
    WeakKey,
}
