//! Error types, one enum per direction (SPEC.md section 7).

use std::fmt;

/// Why sealing failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SealError {
    /// No recipient was given: an envelope nobody can open is refused rather than written.
    NoRecipients,
    /// More stanzas than the format allows (SPEC.md section 3: at most 64).
    TooManyRecipients,
    /// Passphrase parameters outside what Argon2 or a reader accepts.
    InvalidParameters(&'static str),
    /// The operating system's random number generator failed.
    Random,
    /// Writing the envelope failed.
    Io(std::io::Error),
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::NoRecipients => f.write_str("no recipient given: refusing to seal for nobody"),
            SealError::TooManyRecipients => f.write_str("too many recipients (at most 64 stanzas)"),
            SealError::InvalidParameters(why) => write!(f, "invalid passphrase parameters: {why}"),
            SealError::Random => f.write_str("the operating system's random number generator failed"),
            SealError::Io(e) => write!(f, "writing the envelope failed: {e}"),
        }
    }
}

impl std::error::Error for SealError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SealError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for SealError {
    fn from(e: std::io::Error) -> Self {
        SealError::Io(e)
    }
}

/// Why opening failed.
///
/// Every padding, MAC, tag and digest failure is reported as [`OpenError::DecryptionFailed`] and
/// nothing finer, so that the error cannot serve as a padding oracle.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The input is not a well-formed envelope (the reason names the field, never any content).
    Malformed(&'static str),
    /// The envelope has a format version this library does not know.
    UnsupportedVersion(u8),
    /// The envelope uses a cipher suite this library does not know.
    UnsupportedSuite(u8),
    /// None of the given identities, passphrases or key slips opens any stanza.
    NoMatchingRecipient,
    /// A passphrase stanza asks for more Argon2 work than a reader accepts.
    ExcessiveWork,
    /// Authentication failed: header MAC, chunk tag or MAC, padding, digest, truncation or trailing data.
    DecryptionFailed,
    /// Reading the envelope failed.
    Io(std::io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Malformed(what) => write!(f, "malformed envelope: {what}"),
            OpenError::UnsupportedVersion(v) => write!(f, "unsupported envelope version {v}"),
            OpenError::UnsupportedSuite(s) => write!(f, "unsupported cipher suite 0x{s:02x}"),
            OpenError::NoMatchingRecipient => {
                f.write_str("no matching recipient: wrong key, passphrase or key slip")
            }
            OpenError::ExcessiveWork => {
                f.write_str("passphrase stanza asks for excessive work (Argon2 parameters above the limit)")
            }
            OpenError::DecryptionFailed => {
                f.write_str("decryption failed: the envelope was altered, truncated or extended")
            }
            OpenError::Io(e) => write!(f, "reading the envelope failed: {e}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for OpenError {
    /// An I/O error that carries an [`OpenError`] (from [`crate::OpenReader`]) is unwrapped to it.
    fn from(e: std::io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<OpenError>()) {
            if let Some(Ok(open)) = e.into_inner().map(|inner| inner.downcast::<OpenError>()) {
                return *open;
            }
            return OpenError::DecryptionFailed;
        }
        OpenError::Io(e)
    }
}

impl OpenError {
    pub(crate) fn into_io(self) -> std::io::Error {
        match self {
            OpenError::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

/// A key, recipient or key slip in text form could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseKeyError {
    /// The Bech32 text is damaged (bad character, mixed case or checksum).
    Encoding,
    /// The text is valid Bech32 but of another kind (e.g. a secret key given as recipient).
    WrongKind,
    /// The decoded data has the wrong length.
    Length,
}

impl fmt::Display for ParseKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseKeyError::Encoding => "invalid key text: bad character, mixed case or checksum",
            ParseKeyError::WrongKind => "invalid key text: not the expected kind of key",
            ParseKeyError::Length => "invalid key text: wrong length",
        })
    }
}

impl std::error::Error for ParseKeyError {}
