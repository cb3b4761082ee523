//! The one error type of the MIME layer.

use crate::{EnvelopeId, OpenError, ParseKeyError, SealError};

/// Why packaging or reading a mail failed.
///
/// Failures of the envelope itself pass through unchanged as [`MimeError::Open`] and
/// [`MimeError::Seal`] (their messages are the envelope's own), so a caller can still tell a wrong
/// key ([`OpenError::NoMatchingRecipient`]) from an altered message ([`OpenError::DecryptionFailed`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MimeError {
    /// The draft cannot become a mail (the reason names the field, never its content).
    #[error("cannot build the mail: {0}")]
    InvalidDraft(&'static str),
    /// The mail is not what MIME.md describes: missing or extra parts, wrong boundaries, broken
    /// base64, no header at all. The reason names what is wrong.
    #[error("malformed mail: {0}")]
    Malformed(&'static str),
    /// The mail, or one of its header blocks, is above the reader's limit (the reason names which).
    #[error("mail rejected: {0} above the limit")]
    TooLarge(&'static str),
    /// Multipart or `message/rfc822` nesting deeper than the reader's limit.
    #[error("mail rejected: MIME nesting deeper than the limit")]
    TooDeep,
    /// More MIME parts than the reader's limit.
    #[error("mail rejected: more MIME parts than the limit")]
    TooManyParts,
    /// The version part announces a mail format version other than 1.
    #[error("unsupported esmtp mail format version")]
    UnsupportedVersion,
    /// The id in a mail header differs from the id of the envelope the mail carries.
    #[error("envelope id mismatch: the header says {header}, the mail carries {carried}")]
    EnvelopeIdMismatch {
        /// The id the mail header announces.
        header: EnvelopeId,
        /// The id of the envelope actually carried.
        carried: EnvelopeId,
    },
    /// The key-slip part does not hold a valid key-slip token.
    #[error("invalid key-slip token in the mail")]
    KeySlip(#[source] ParseKeyError),
    /// Sealing the inner entity failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// Opening the envelope failed: wrong key, altered envelope, unknown suite, ...
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Streaming packaging ([`super::package_to`]) could not read an attachment, an attachment
    /// gave more or fewer bytes than its declared length, or the mail could not be written.
    #[error("reading an attachment or writing the mail failed")]
    Io(#[source] std::io::Error),
}

impl From<ParseKeyError> for MimeError {
    fn from(e: ParseKeyError) -> Self {
        MimeError::KeySlip(e)
    }
}
