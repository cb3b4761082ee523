//! # MIME packaging: encrypted mails and key-slip mails
//!
//! An envelope alone is not an email. This module turns a user's mail ([`MailDraft`]) into an
//! RFC 5322 message that carries an envelope, and reads such messages back. It is pure like the
//! rest of the crate: bytes in, bytes out, no clock, no network. `MIME.md` beside this crate is the
//! normative description of the format; the docs here quote its sections.
//!
//! ## The format at a glance (MIME.md sections 2 to 4)
//!
//! - The *inner entity* is the complete mail (every header, the real `Subject` included; never
//!   `Bcc`), built with mail-builder and sealed into the envelope.
//! - The *outer message* is `multipart/encrypted; protocol="application/vnd.esmtp.envelope"`
//!   (RFC 1847, shaped like PGP/MIME, RFC 3156) with a version part (`Version: 1`) and an
//!   `application/octet-stream` part holding the armored envelope. Its headers are only
//!   `From`, `To`, `Cc`, `Subject` (a placeholder, `...` by default), `Date`, `Message-ID`,
//!   [`ENVELOPE_ID_HEADER`] and `MIME-Version`: header protection in the spirit of RFC 9788.
//! - It is CRLF, at most 78 characters a line, and 7-bit unless an address is non-ASCII
//!   ([`EncryptedMail::smtputf8`]), so any SMTP server takes it with or without 8BITMIME.
//!   [`EncryptedMail::size`] is the exact size for the server's `SIZE` limit.
//! - A *key-slip mail* ([`key_slip_mail`]) carries one envelope's key slip in an
//!   [`KEY_SLIP_CONTENT_TYPE`] part. Nothing in its headers names the encrypted mail; the
//!   receiving side pairs the two by the envelope id inside the token ([`classify`] gives both
//!   envelope ids without any key).
//! - Inside the envelope, text is `8bit` and attachments are `binary`: only the outer layer is
//!   base64, so a mail is about 1.37 times its attachments.
//!
//! ## Large attachments
//!
//! [`package_to`] writes the same mail as [`package`] into any `Write` while it reads the
//! attachments ([`AttachmentSource`]: a reader and its length), so a 100 MiB file is sealed,
//! armored and laid out in a few 64 KiB chunks of memory. Given the same random numbers both
//! make the same bytes: one layout code, with placeholders where the streamed parts go.
//!
//! ## Reading (MIME.md section 5)
//!
//! [`read_mail`] recognises the `multipart/encrypted` form, key-slip mails, and an armored block
//! pasted in a `text/plain` body (some clients mangle MIME); anything else is
//! [`ReadMail::Plain`], a result and not an error. Crypto failures come back unchanged as
//! [`MimeError::Open`]. Hostile input meets explicit [`Limits`] (128 MiB, 256 KiB header blocks,
//! 16 levels, 1000 parts), checked before and right after parsing, and gets a typed error.
//!
//! ## Decisions
//!
//! - Bcc is in neither layer: the envelope reaches every recipient, so a Bcc inside would tell
//!   the others. [`MailDraft::smtp_recipients`] gives the transport the full `RCPT TO` list.
//! - The core has no clock: a draft's date is [`MailDraft::date`], else [`PackageOptions::date`],
//!   which the caller sets from its clock (Unix seconds, written as UTC).
//! - Message ids are 128 random bits in hex at the sender's domain (or
//!   [`PackageOptions::message_id_domain`]); boundaries are random too.
//! - Attachments round-trip byte for byte; text bodies come back with LF line endings (MIME text
//!   is CRLF, so the line ending cannot be kept).
//! - A line that cannot be folded to 78 characters (an address over about 74 characters, a
//!   `Message-ID` domain over 42) makes packaging fail rather than send a longer line.
//! - The outer headers of an opened mail are reported apart from the protected ones
//!   ([`OpenedMail::outer`] and [`OpenedMail::headers`]); the protected ones are authoritative.
//! - mail-builder 2 and mail-parser 0.11 do the MIME work (mail-parser 1.x needs a newer Rust).
//!   Written by hand, because they don't do it: the `multipart/encrypted` layout itself
//!   (assembled from mail-builder parts), the inner transfer encodings, the final 78-column/7-bit
//!   check, the classification and armor extraction, exact attachment bytes, and the limits,
//!   including an iterative teardown of mail-parser's tree for nested `message/rfc822` parts,
//!   whose ordinary drop recurses once per level.

mod build;
mod draft;
mod error;
mod extract;
mod limits;
mod read;
mod stream;

pub use build::{EncryptedMail, KeySlipMail, PackageOptions, key_slip_mail, package};
#[doc(hidden)]
pub use build::{key_slip_mail_with, package_with};
pub use draft::{Attachment, MailDraft, Mailbox};
pub use error::MimeError;
pub use extract::extract_armor;
pub use limits::Limits;
pub use read::{
    EnvelopeForm, MailHeaders, MailKind, OpenedMail, PlainMail, ReadMail, ReceivedKeySlip, classify,
    read_mail,
};
#[doc(hidden)]
pub use stream::package_to_with;
pub use stream::{AttachmentSource, StreamedMail, package_to};

/// The `protocol` of the outer `multipart/encrypted` and the type of its version part.
pub const ENVELOPE_CONTENT_TYPE: &str = "application/vnd.esmtp.envelope";
/// The type of the part that carries a key-slip token.
pub const KEY_SLIP_CONTENT_TYPE: &str = "application/vnd.esmtp.key-slip";
/// The outer header naming the envelope id of an encrypted mail (32 lower-case hex digits).
pub const ENVELOPE_ID_HEADER: &str = "X-Esmtp-Envelope-Id";
/// The outer `Subject` used unless [`PackageOptions::subject_placeholder`] says otherwise.
pub const DEFAULT_SUBJECT_PLACEHOLDER: &str = "...";
/// The `Subject` of key-slip mails.
pub const KEY_SLIP_SUBJECT: &str = "esmtp key slip";
