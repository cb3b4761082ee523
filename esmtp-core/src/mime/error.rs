//! The one error type of the MIME layer.

use std::fmt;

use crate::{EnvelopeId, OpenError, ParseKeyError, SealError};

/// Why packaging or reading a mail failed.
///
/// Failures of the envelope itself pass through unchanged as [`MimeError::Open`] and
/// [`MimeError::Seal`], so a caller can still tell a wrong key
/// ([`OpenError::NoMatchingRecipient`]) from an altered message ([`OpenError::DecryptionFailed`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum MimeError {
    /// The draft cannot become a mail (the reason names the field, never its content).
    InvalidDraft(&'static str),
    /// The mail is not what MIME.md describes: missing or extra parts, wrong boundaries, broken
    /// base64, no header at all. The reason names what is wrong.
    Malformed(&'static str),
    /// The mail, or one of its header blocks, is above the reader's limit (the reason names which).
    TooLarge(&'static str),
    /// Multipart or `message/rfc822` nesting deeper than the reader's limit.
    TooDeep,
    /// More MIME parts than the reader's limit.
    TooManyParts,
    /// The version part announces a mail format version other than 1.
    UnsupportedVersion,
    /// The id in a mail header differs from the id of the envelope or key slip the mail carries.
    EnvelopeIdMismatch {
        /// The id the mail header announces.
        header: EnvelopeId,
        /// The id of the envelope or key slip actually carried.
        carried: EnvelopeId,
    },
    /// The key-slip part does not hold a valid key-slip token.
    KeySlip(ParseKeyError),
    /// Sealing the inner entity failed.
    Seal(SealError),
    /// Opening the envelope failed: wrong key, altered envelope, unknown suite, ...
    Open(OpenError),
}

impl fmt::Display for MimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MimeError::InvalidDraft(why) => write!(f, "cannot build the mail: {why}"),
            MimeError::Malformed(why) => write!(f, "malformed mail: {why}"),
            MimeError::TooLarge(what) => write!(f, "mail rejected: {what} above the limit"),
            MimeError::TooDeep => f.write_str("mail rejected: MIME nesting deeper than the limit"),
            MimeError::TooManyParts => f.write_str("mail rejected: more MIME parts than the limit"),
            MimeError::UnsupportedVersion => f.write_str("unsupported esmtp mail format version"),
            MimeError::EnvelopeIdMismatch { header, carried } => {
                write!(f, "envelope id mismatch: the header says {header}, the mail carries {carried}")
            }
            MimeError::KeySlip(e) => write!(f, "invalid key-slip token: {e}"),
            MimeError::Seal(e) => write!(f, "sealing failed: {e}"),
            MimeError::Open(e) => write!(f, "opening failed: {e}"),
        }
    }
}

impl std::error::Error for MimeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MimeError::KeySlip(e) => Some(e),
            MimeError::Seal(e) => Some(e),
            MimeError::Open(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SealError> for MimeError {
    fn from(e: SealError) -> Self {
        MimeError::Seal(e)
    }
}

impl From<OpenError> for MimeError {
    fn from(e: OpenError) -> Self {
        MimeError::Open(e)
    }
}

impl From<ParseKeyError> for MimeError {
    fn from(e: ParseKeyError) -> Self {
        MimeError::KeySlip(e)
    }
}
