//! Packaging: the inner entity, the outer `multipart/encrypted` message, and key-slip mails
//! (MIME.md sections 2 to 4).
//!
//! mail-builder writes every header (encoded words, RFC 2231 parameters, folding at 78) and every
//! multipart. Written here: the transfer encodings of the inner entity (8bit text with CRLF line
//! endings, binary attachments, so their bytes survive exactly whatever their declared type, and
//! nothing is inflated inside an envelope no server reads), and the final check that the outer
//! message is what MIME.md promises.

use std::borrow::Cow;
use std::fmt;

use mail_builder::MessageBuilder;
use mail_builder::headers::HeaderType;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};
use zeroize::Zeroizing;

use super::draft::{check_attachment, check_date, check_mailbox, check_message_id};
use super::{
    Attachment, DEFAULT_SUBJECT_PLACEHOLDER, ENVELOPE_CONTENT_TYPE, ENVELOPE_ID_HEADER,
    KEY_SLIP_CONTENT_TYPE, KEY_SLIP_SUBJECT, MailDraft, Mailbox, MimeError,
};
use crate::random::{OsRandom, RandomSource};
use crate::{EnvelopeId, KeySlip, SealError, Sealer};

/// How [`package`] shapes the outer message, and the date of a draft without one (the core has
/// no clock: the caller passes the current time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageOptions {
    /// The date, in Unix seconds, of a draft whose [`MailDraft::date`] is not set.
    pub date: i64,
    /// The outer `Subject`, standing in for the real one (default `...`).
    pub subject_placeholder: String,
    /// The right-hand side of the generated `Message-ID` (default: the domain of `from`).
    pub message_id_domain: Option<String>,
}

impl PackageOptions {
    /// The default options, dating drafts without a date at `date` (Unix seconds: pass the
    /// current time).
    pub fn new(date: i64) -> Self {
        PackageOptions {
            date,
            subject_placeholder: DEFAULT_SUBJECT_PLACEHOLDER.to_string(),
            message_id_domain: None,
        }
    }
}

/// A packaged encrypted mail, ready for SMTP `DATA`.
#[derive(Clone)]
pub struct EncryptedMail {
    /// The whole message, CRLF line endings, lines of at most 78 characters.
    pub bytes: Vec<u8>,
    /// Its `Message-ID`, without angle brackets (a key-slip mail refers to it).
    pub message_id: String,
    /// The id of the envelope inside (also in the `X-Esmtp-Envelope-Id` header).
    pub envelope_id: EnvelopeId,
    /// The key slip to deliver separately, when the sealer was asked for one.
    pub key_slip: Option<KeySlip>,
    /// `bytes.len()`: what the transport compares with the server's `SIZE`.
    pub size: usize,
    /// Whether the sender or a recipient has a non-ASCII address: the message then may have UTF-8
    /// headers (RFC 6532) and needs a server offering SMTPUTF8. Otherwise every byte is 7-bit.
    pub smtputf8: bool,
}

impl fmt::Debug for EncryptedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedMail")
            .field("message_id", &self.message_id)
            .field("envelope_id", &self.envelope_id)
            .field("key_slip", &self.key_slip)
            .field("size", &self.size)
            .field("smtputf8", &self.smtputf8)
            .finish_non_exhaustive()
    }
}

/// A packaged key-slip mail (MIME.md section 4). Its bytes hold the key: handle them as a secret.
#[derive(Clone)]
pub struct KeySlipMail {
    /// The whole message, CRLF line endings, lines of at most 78 characters.
    pub bytes: Zeroizing<Vec<u8>>,
    /// Its `Message-ID`, without angle brackets.
    pub message_id: String,
    /// The envelope the slip opens.
    pub envelope_id: EnvelopeId,
    /// `bytes.len()`.
    pub size: usize,
    /// As [`EncryptedMail::smtputf8`].
    pub smtputf8: bool,
}

impl fmt::Debug for KeySlipMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySlipMail")
            .field("message_id", &self.message_id)
            .field("envelope_id", &self.envelope_id)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Package `draft` as an encrypted mail: build the inner entity, seal it with `sealer`, wrap the
/// armored envelope in the outer `multipart/encrypted` message.
///
/// ```
/// use esmtp_core::mime::{self, Limits, MailDraft, Mailbox, PackageOptions, ReadMail};
/// use esmtp_core::{Opener, Sealer, X25519Identity};
///
/// let bob = X25519Identity::generate()?;
/// let draft = MailDraft::new(Mailbox::new("alice@example.com"))
///     .to(Mailbox::new("bob@example.org"))
///     .subject("The plan")
///     .date(1_700_000_000)
///     .text("Meet at noon.");
/// let sealer = Sealer::new().recipient(bob.to_public());
/// let mail = mime::package(&draft, &sealer, &PackageOptions::new(1_700_000_000))?;
/// assert!(!String::from_utf8_lossy(&mail.bytes).contains("The plan"));
///
/// let opener = Opener::new().identity(bob);
/// let ReadMail::Encrypted(opened) = mime::read_mail(&mail.bytes, &opener, &Limits::default())? else {
///     panic!("not recognised")
/// };
/// assert_eq!(opened.headers.subject.as_deref(), Some("The plan"));
/// assert_eq!(opened.text.as_deref(), Some("Meet at noon."));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`MimeError::InvalidDraft`] for a draft that cannot become a valid mail (no recipient, an
/// invalid address, a date out of range, an address or message id too long for a 78-character
/// line), and [`MimeError::Seal`] when sealing fails.
pub fn package(
    draft: &MailDraft,
    sealer: &Sealer,
    options: &PackageOptions,
) -> Result<EncryptedMail, MimeError> {
    package_with(draft, sealer, options, &mut OsRandom)
}

/// [`package`] with a given generator (reproducible test vectors only).
#[doc(hidden)]
pub fn package_with(
    draft: &MailDraft,
    sealer: &Sealer,
    options: &PackageOptions,
    rng: &mut dyn RandomSource,
) -> Result<EncryptedMail, MimeError> {
    let start = start(draft, &[], options, rng)?;
    let inner = inner_entity(draft, &[], start.date, &start.message_id, rng)?;
    let sealed = sealer.seal_with(&inner, rng)?;
    drop(inner);
    let armored = crate::armor(&sealed.envelope).replace('\n', "\r\n");
    let bytes = outer_message(draft, options, &start, &sealed.envelope_id, armored.as_bytes(), rng)?;
    let (smtputf8, message_id) = (start.smtputf8, start.message_id);
    check_wire(&bytes, smtputf8)?;
    Ok(EncryptedMail {
        size: bytes.len(),
        bytes,
        message_id,
        envelope_id: sealed.envelope_id,
        key_slip: sealed.key_slip,
        smtputf8,
    })
}

/// What every packaging starts from: the draft checked, its date and a new message id.
pub(super) struct Start {
    pub(super) smtputf8: bool,
    pub(super) date: i64,
    pub(super) message_id: String,
}

/// Check the draft (and the attachments streamed beside it) and draw the message id: the first
/// random draw of a packaging, so the in-memory and the streaming packagers draw alike.
pub(super) fn start(
    draft: &MailDraft,
    extra: &[AttachmentView<'_>],
    options: &PackageOptions,
    rng: &mut dyn RandomSource,
) -> Result<Start, MimeError> {
    let smtputf8 = draft.validate()?;
    for a in extra {
        check_attachment(a.filename, a.content_type)?;
    }
    if options.subject_placeholder.chars().any(char::is_control) {
        return Err(MimeError::InvalidDraft("subject placeholder has control characters"));
    }
    let date = check_date(draft.date.unwrap_or(options.date))?;
    let domain = options.message_id_domain.as_deref().unwrap_or_else(|| draft.from.domain());
    let message_id = new_message_id(rng, domain)?;
    Ok(Start { smtputf8, date, message_id })
}

/// The outer `multipart/encrypted` message around `armored` (the armored envelope, CRLF line
/// endings); draws its boundary. Not yet checked against MIME.md section 3 ([`check_wire`]).
pub(super) fn outer_message(
    draft: &MailDraft,
    options: &PackageOptions,
    start: &Start,
    envelope_id: &EnvelopeId,
    armored: &[u8],
    rng: &mut dyn RandomSource,
) -> Result<Vec<u8>, MimeError> {
    let root = MimePart::new(
        ContentType::new("multipart/encrypted")
            .attribute("protocol", ENVELOPE_CONTENT_TYPE)
            .attribute("boundary", boundary(rng)?),
        vec![
            MimePart::raw(BodyPart::Binary(Cow::Borrowed(b"Version: 1\r\n")))
                .header("Content-Type", ContentType::new(ENVELOPE_CONTENT_TYPE))
                .header("Content-Description", Text::new("esmtp version"))
                .transfer_encoding("7bit"),
            MimePart::raw(BodyPart::Binary(Cow::Borrowed(armored)))
                .header(
                    "Content-Type",
                    ContentType::new("application/octet-stream").attribute("name", "encrypted.esmtp"),
                )
                .header("Content-Description", Text::new("esmtp encrypted message"))
                .header(
                    "Content-Disposition",
                    ContentType::new("inline").attribute("filename", "encrypted.esmtp"),
                )
                .transfer_encoding("7bit"),
        ],
    );
    let envelope_id = envelope_id.to_string();
    let mut outer = MessageBuilder::new().from(address(&draft.from));
    if !draft.to.is_empty() {
        outer = outer.to(address_list(&draft.to));
    }
    if !draft.cc.is_empty() {
        outer = outer.cc(address_list(&draft.cc));
    }
    let outer = outer
        .subject(Text::new(options.subject_placeholder.as_str()))
        .date(Date::new(start.date))
        .message_id(MessageId::new(start.message_id.as_str()))
        .header(ENVELOPE_ID_HEADER, Raw::new(envelope_id.as_str()))
        .body(root);
    write(outer)
}

/// Package the key-slip mail for `slip` (MIME.md section 4), to one receiver.
///
/// Nothing in its headers names the encrypted mail: a server that stores both cannot link them by
/// their headers (it can by the token, which carries the envelope id). Whoever reads the slip can
/// open the envelope, so send it by another account or channel where that matters.
///
/// # Errors
/// [`MimeError::InvalidDraft`] for an invalid mailbox or date.
pub fn key_slip_mail(
    slip: &KeySlip,
    from: &Mailbox,
    to: &Mailbox,
    date: i64,
) -> Result<KeySlipMail, MimeError> {
    key_slip_mail_with(slip, from, to, date, &mut OsRandom)
}

/// [`key_slip_mail`] with a given generator (reproducible test vectors only).
#[doc(hidden)]
pub fn key_slip_mail_with(
    slip: &KeySlip,
    from: &Mailbox,
    to: &Mailbox,
    date: i64,
    rng: &mut dyn RandomSource,
) -> Result<KeySlipMail, MimeError> {
    let smtputf8 = check_mailbox(from)? | check_mailbox(to)?;
    let date = check_date(date)?;
    let message_id = new_message_id(rng, from.domain())?;
    let explanation = "This message carries the key slip for one encrypted message.\r\n\r\n\
         An esmtp client pairs it with that message automatically. Whoever holds\r\n\
         both messages can read the encrypted one: keep this one as private.\r\n";
    let token = slip.to_token();
    let mut body = Zeroizing::new(Vec::with_capacity(token.len() + 8));
    for line in token.as_bytes().chunks(64) {
        body.extend_from_slice(line);
        body.extend_from_slice(b"\r\n");
    }
    let root = MimePart::new(
        ContentType::new("multipart/mixed").attribute("boundary", boundary(rng)?),
        vec![
            MimePart::new(ContentType::new("text/plain").attribute("charset", "us-ascii"), explanation),
            MimePart::raw(BodyPart::Binary(Cow::Borrowed(&body[..])))
                .header("Content-Type", ContentType::new(KEY_SLIP_CONTENT_TYPE))
                .header(
                    "Content-Disposition",
                    ContentType::new("attachment").attribute("filename", "esmtp-key-slip.txt"),
                )
                .transfer_encoding("7bit"),
        ],
    );
    let builder = MessageBuilder::new()
        .from(address(from))
        .to(address(to))
        .subject(Text::new(KEY_SLIP_SUBJECT))
        .date(Date::new(date))
        .message_id(MessageId::new(message_id.as_str()))
        .body(root);
    let bytes = Zeroizing::new(write(builder)?);
    check_wire(&bytes, smtputf8)?;
    Ok(KeySlipMail { size: bytes.len(), bytes, message_id, envelope_id: slip.envelope_id(), smtputf8 })
}

/// The inner entity (MIME.md section 2); zeroized when dropped, it is the plaintext.
pub(super) fn inner_entity(
    draft: &MailDraft,
    extra: &[AttachmentView<'_>],
    date: i64,
    message_id: &str,
    rng: &mut dyn RandomSource,
) -> Result<Zeroizing<Vec<u8>>, MimeError> {
    let text = draft.text.as_deref().map(crlf);
    let html = draft.html.as_deref().map(crlf);
    let text = text.as_deref().map(|t| text_leaf("text/plain", t));
    let html = html.as_deref().map(|h| text_leaf("text/html", h));
    let body = match (text, html) {
        (Some(t), Some(h)) => Some(multipart("multipart/alternative", vec![t, h], rng)?),
        (one, other) => one.or(other),
    };
    let attachments = draft.attachments.iter().map(AttachmentView::of).chain(extra.iter().copied());
    let mut root = if draft.attachments.is_empty() && extra.is_empty() {
        body.unwrap_or_else(|| text_leaf("text/plain", ""))
    } else {
        let mut parts: Vec<MimePart<'_>> = body.into_iter().collect();
        for a in attachments {
            let mut content_type = ContentType::new(a.content_type.to_ascii_lowercase());
            let mut disposition = ContentType::new("attachment");
            if !a.filename.is_empty() {
                content_type = content_type.attribute("name", a.filename);
                disposition = disposition.attribute("filename", a.filename);
            }
            parts.push(
                MimePart::raw(BodyPart::Binary(Cow::Borrowed(a.body)))
                    .header("Content-Type", content_type)
                    .header("Content-Disposition", disposition)
                    .transfer_encoding("binary"),
            );
        }
        multipart("multipart/mixed", parts, rng)?
    };
    for (name, value) in &mut root.headers {
        if name == "Content-Type"
            && let HeaderType::ContentType(content_type) = value
        {
            content_type.attributes.push(("hp".into(), "cipher".into()));
        }
    }
    let mut builder = MessageBuilder::new().from(address(&draft.from));
    for (header, list) in [("To", &draft.to), ("Cc", &draft.cc), ("Reply-To", &draft.reply_to)] {
        if !list.is_empty() {
            builder = builder.header(header, address_list(list));
        }
    }
    builder = builder
        .subject(Text::new(draft.subject.as_str()))
        .date(Date::new(date))
        .message_id(MessageId::new(message_id));
    if !draft.in_reply_to.is_empty() {
        builder = builder.in_reply_to(MessageId::new_list(draft.in_reply_to.iter().map(String::as_str)));
    }
    if !draft.references.is_empty() {
        builder = builder.references(MessageId::new_list(draft.references.iter().map(String::as_str)));
    }
    Ok(Zeroizing::new(write(builder.body(root))?))
}

/// An attachment as the inner entity is built from it: a draft's, or one streamed beside the
/// draft, whose body is then a placeholder that the streaming packager replaces.
#[derive(Clone, Copy)]
pub(super) struct AttachmentView<'a> {
    pub(super) filename: &'a str,
    pub(super) content_type: &'a str,
    pub(super) body: &'a [u8],
}

impl<'a> AttachmentView<'a> {
    fn of(a: &'a Attachment) -> Self {
        AttachmentView { filename: &a.filename, content_type: &a.content_type, body: &a.data }
    }
}

/// Text bodies in MIME's canonical form: CRLF line endings (the reader gives back LF).
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// A text body as it is, UTF-8 in `8bit`: the inner entity travels only inside the envelope, so
/// neither its bytes nor its line lengths meet a mail server.
fn text_leaf<'x>(kind: &'x str, text: &'x str) -> MimePart<'x> {
    MimePart::raw(BodyPart::Text(text.into()))
        .header("Content-Type", ContentType::new(kind).attribute("charset", "utf-8"))
        .transfer_encoding("8bit")
}

fn multipart<'x>(
    kind: &'x str,
    parts: Vec<MimePart<'x>>,
    rng: &mut dyn RandomSource,
) -> Result<MimePart<'x>, MimeError> {
    Ok(MimePart::new(ContentType::new(kind).attribute("boundary", boundary(rng)?), parts))
}

fn random_hex(rng: &mut dyn RandomSource, bytes: usize) -> Result<String, MimeError> {
    let mut buf = vec![0u8; bytes];
    rng.fill(&mut buf).map_err(|_| MimeError::Seal(SealError::Random))?;
    Ok(crate::hash::to_hex(&buf))
}

/// Boundaries are random, so no text inside can contain one by chance; `esmtp-` keeps them
/// clear of the armor's `-----BEGIN` lines.
fn boundary(rng: &mut dyn RandomSource) -> Result<String, MimeError> {
    Ok(format!("esmtp-{}", random_hex(rng, 12)?))
}

fn new_message_id(rng: &mut dyn RandomSource, domain: &str) -> Result<String, MimeError> {
    let id = format!("{}@{domain}", random_hex(rng, 16)?);
    check_message_id(&id).map_err(|_| MimeError::InvalidDraft("message id domain is empty or not ASCII"))?;
    Ok(id)
}

fn address(mailbox: &Mailbox) -> Address<'_> {
    let name = mailbox.name.as_deref().filter(|n| !n.is_empty());
    Address::new_address(name, mailbox.address.as_str())
}

fn address_list(list: &[Mailbox]) -> Address<'_> {
    Address::new_list(list.iter().map(address).collect())
}

fn write(builder: MessageBuilder<'_>) -> Result<Vec<u8>, MimeError> {
    let bytes =
        builder.write_to_vec().map_err(|_| MimeError::InvalidDraft("the mail could not be written"))?;
    Ok(fold_after_colon(bytes))
}

/// mail-builder never folds right after a field's colon, so a header holding one long token (a
/// message id at a long domain, a long bare address) would overrun 78 columns although RFC 5322
/// allows folding white space there. Move such tokens to a continuation line.
fn fold_after_colon(bytes: Vec<u8>) -> Vec<u8> {
    let header_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").map_or(bytes.len(), |p| p + 2);
    let long = |line: &[u8]| line.len() > 78 + 2 && !line.starts_with(b" ");
    if !bytes[..header_end].split_inclusive(|&b| b == b'\n').any(long) {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len() + 64);
    for line in bytes[..header_end].split_inclusive(|&b| b == b'\n') {
        match line.iter().position(|&b| b == b':') {
            Some(colon) if long(line) && line.get(colon + 1) == Some(&b' ') => {
                out.extend_from_slice(&line[..=colon]);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&line[colon + 1..]);
            }
            _ => out.extend_from_slice(line),
        }
    }
    out.extend_from_slice(&bytes[header_end..]);
    out
}

/// MIME.md section 3: CRLF only, at most 78 characters a line, 7-bit unless `utf8_headers`.
pub(super) fn check_wire(bytes: &[u8], utf8_headers: bool) -> Result<(), MimeError> {
    let mut in_header = true;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let Some(content) = line.strip_suffix(b"\r\n") else {
            return Err(MimeError::InvalidDraft("a line does not end in CRLF"));
        };
        if content.len() > 78 {
            return Err(MimeError::InvalidDraft(
                "an address or message id is too long for a 78-character line",
            ));
        }
        if content.contains(&b'\r') || content.contains(&0) {
            return Err(MimeError::InvalidDraft("a line holds a bare CR or a NUL"));
        }
        if !(content.is_ascii() || utf8_headers && in_header) {
            return Err(MimeError::InvalidDraft("a line is not 7-bit"));
        }
        in_header &= !content.is_empty();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tokens_move_to_a_continuation_line() {
        let id = format!("<{}@example.com>", "a".repeat(70));
        let mail = format!("Message-ID: {id}\r\nSubject: x\r\n\r\nMessage-ID: {id}\r\n");
        let folded = String::from_utf8(fold_after_colon(mail.into_bytes())).unwrap();
        assert_eq!(folded, format!("Message-ID:\r\n {id}\r\nSubject: x\r\n\r\nMessage-ID: {id}\r\n"));
        assert_eq!(fold_after_colon(b"A: b\r\n\r\n".to_vec()), b"A: b\r\n\r\n");
    }

    #[test]
    fn wire_check_catches_long_lines_and_8bit() {
        assert!(check_wire(b"A: b\r\n\r\nbody\r\n", false).is_ok());
        assert!(check_wire(format!("A: {}\r\n", "x".repeat(76)).as_bytes(), false).is_err());
        assert!(check_wire(b"A: b\n", false).is_err());
        assert!(check_wire("A: \u{e9}\r\n\r\n".as_bytes(), true).is_ok());
        assert!(check_wire("A: b\r\n\r\n\u{e9}\r\n".as_bytes(), true).is_err());
    }
}
