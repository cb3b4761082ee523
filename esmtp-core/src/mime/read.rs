//! Reading (MIME.md section 5): classify a mail, find its envelope or key slip, open it, and
//! take the inner entity apart.
//!
//! mail-parser does the MIME parsing and the transfer and header decoding. Written here, because
//! no MIME crate knows them: the classification rules, the lenient armor extraction (which also
//! serves the pasted-armor fallback), and the exact bytes of attachments that mail-parser hands
//! out as text (it converts `text/*` parts to UTF-8, which would alter non-UTF-8 files).

use std::fmt;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Address, Encoding, HeaderValue, Message, MessagePart, MimeHeaders, PartType};

use super::extract::{extract_armor, lines};
use super::limits::{self, Limits};
use super::{
    Attachment, ENVELOPE_CONTENT_TYPE, ENVELOPE_ID_HEADER, KEY_SLIP_CONTENT_TYPE, Mailbox, MimeError,
};
use crate::{EnvelopeId, KeySlip, Opener, Signature, Suite};

/// Where the envelope of an encrypted mail was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnvelopeForm {
    /// The `multipart/encrypted` form (MIME.md section 3).
    MultipartEncrypted,
    /// An armored block pasted in a `text/plain` body (MIME.md section 5, rule 3).
    PastedArmor,
}

/// The headers a reader reports, for outer and for inner (protected) headers alike.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailHeaders {
    /// The first `From` mailbox.
    pub from: Option<Mailbox>,
    /// `To` mailboxes.
    pub to: Vec<Mailbox>,
    /// `Cc` mailboxes.
    pub cc: Vec<Mailbox>,
    /// `Reply-To` mailboxes.
    pub reply_to: Vec<Mailbox>,
    /// The decoded `Subject`.
    pub subject: Option<String>,
    /// `Date`, in Unix seconds.
    pub date: Option<i64>,
    /// `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, without angle brackets.
    pub references: Vec<String>,
}

/// An opened encrypted mail.
///
/// Its text, HTML, attachments and inner entity are plaintext, wiped when it is dropped (so its
/// fields are taken with `std::mem::take`, not moved out). A copy made of them is the copier's to
/// wipe.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenedMail {
    /// The unprotected outer headers (for delivery; may have been altered in transit).
    pub outer: MailHeaders,
    /// The protected headers of the inner entity: the authoritative ones.
    pub headers: MailHeaders,
    /// The text/plain body, LF line endings.
    pub text: Option<String>,
    /// The text/html body, LF line endings.
    pub html: Option<String>,
    /// Every other part, bytes exact.
    pub attachments: Vec<Attachment>,
    /// The envelope's cipher suite.
    pub suite: Suite,
    /// Whether, and by whom, the envelope was signed (verified). Compare the signer with who the
    /// mail claims to be from: the `From` headers are only as true as the signer says.
    pub signature: Signature,
    /// The envelope id.
    pub envelope_id: EnvelopeId,
    /// Where the envelope was found.
    pub form: EnvelopeForm,
    /// The decrypted inner entity, bytes exact: what [`OpenedMail::md5`] is the digest of, and
    /// what to save as the decrypted `.eml`. Zeroized when dropped.
    pub inner: zeroize::Zeroizing<Vec<u8>>,
    /// For `des-cbc-md5` the digest the envelope carried (verified); else computed when asked.
    md5: std::sync::OnceLock<[u8; 16]>,
}

impl OpenedMail {
    /// MD5 of the inner entity: the paper's integrity hash (carried and verified for
    /// `des-cbc-md5`, computed on the first call for other suites).
    pub fn md5(&self) -> [u8; 16] {
        *self.md5.get_or_init(|| <md5::Md5 as md5::Digest>::digest(&self.inner[..]).into())
    }

    /// [`OpenedMail::md5`] as 32 lower-case hex digits.
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5())
    }
}

impl Drop for OpenedMail {
    /// The bodies and attachments are plaintext: wiped, in bulk, like [`OpenedMail::inner`].
    fn drop(&mut self) {
        wipe_contents(&mut self.text, &mut self.html, &mut self.attachments);
        crate::wipe::wipe_zeroizing(&mut self.inner);
    }
}

impl fmt::Debug for OpenedMail {
    /// Headers and sizes only: the bodies are the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedMail")
            .field("envelope_id", &self.envelope_id)
            .field("suite", &self.suite)
            .field("form", &self.form)
            .field("signature", &self.signature)
            .field("text_len", &self.text.as_ref().map(String::len))
            .field("html_len", &self.html.as_ref().map(String::len))
            .field("attachments", &self.attachments)
            .finish_non_exhaustive()
    }
}

/// A received key-slip mail (MIME.md section 4).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReceivedKeySlip {
    /// The key-slip mail's own headers.
    pub headers: MailHeaders,
    /// The envelope the slip opens.
    pub envelope_id: EnvelopeId,
    /// The slip: add it to an [`Opener`] to open that envelope.
    pub key_slip: KeySlip,
}

/// A mail that is not an esmtp mail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlainMail {
    /// Its headers.
    pub headers: MailHeaders,
}

/// What [`read_mail`] found.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ReadMail {
    /// An encrypted mail, opened.
    Encrypted(Box<OpenedMail>),
    /// A key-slip mail.
    KeySlip(Box<ReceivedKeySlip>),
    /// Not an esmtp mail: a result, not an error.
    Plain(Box<PlainMail>),
}

/// What [`classify`] found, without opening anything.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailKind {
    /// An encrypted mail.
    Encrypted {
        /// The id of its envelope (read from the envelope itself).
        envelope_id: EnvelopeId,
        /// Its `Message-ID`.
        message_id: Option<String>,
        /// Where the envelope sits.
        form: EnvelopeForm,
    },
    /// A key-slip mail.
    KeySlip {
        /// The envelope its slip opens (read from the token).
        envelope_id: EnvelopeId,
        /// Its own `Message-ID`.
        message_id: Option<String>,
    },
    /// Not an esmtp mail.
    Plain,
}

/// Read `raw` (a whole message, as from an `.eml` file or IMAP `BODY[]`) within `limits`, and
/// open it with `opener` if it is an encrypted mail.
///
/// # Errors
/// [`MimeError::Malformed`], [`MimeError::TooLarge`], [`MimeError::TooDeep`],
/// [`MimeError::TooManyParts`], [`MimeError::UnsupportedVersion`],
/// [`MimeError::EnvelopeIdMismatch`], [`MimeError::KeySlip`] for the mail, and
/// [`MimeError::Open`] unchanged from the envelope layer.
pub fn read_mail(raw: &[u8], opener: &Opener, limits: &Limits) -> Result<ReadMail, MimeError> {
    let message = limits::parse(raw, limits)?;
    let outer = headers(&message);
    match locate(&message)? {
        Found::Plain => Ok(ReadMail::Plain(Box::new(PlainMail { headers: outer }))),
        Found::KeySlip { key_slip } => Ok(ReadMail::KeySlip(Box::new(ReceivedKeySlip {
            headers: outer,
            envelope_id: key_slip.envelope_id(),
            key_slip,
        }))),
        Found::Envelope { envelope, header_id, form } => {
            checked_id(&envelope, header_id)?;
            drop(message);
            let opened = opener.open(&envelope)?;
            // The envelope is not needed any more: a large mail need not hold it beside its
            // plaintext and the parts taken from it.
            drop(envelope);
            let (protected, text, html, attachments) = {
                let mut inner = limits::parse_secret(opened.plaintext(), limits)?;
                let (text, html, attachments) = contents(&mut inner, opened.plaintext())?;
                (headers(&inner), text, html, attachments)
            };
            let md5 = std::sync::OnceLock::new();
            if opened.suite().carries_digest() {
                let _ = md5.set(opened.md5());
            }
            Ok(ReadMail::Encrypted(Box::new(OpenedMail {
                outer,
                headers: protected,
                text,
                html,
                attachments,
                suite: opened.suite(),
                signature: opened.signature().clone(),
                envelope_id: opened.envelope_id(),
                form,
                md5,
                inner: opened.into_plaintext(),
            })))
        }
    }
}

/// Tell an encrypted mail, a key-slip mail and a plain mail apart without any key: what the
/// transport needs to pair key slips with envelopes.
///
/// # Errors
/// As [`read_mail`], except that nothing is opened: [`MimeError::Open`] only for an envelope
/// whose header is unreadable.
pub fn classify(raw: &[u8], limits: &Limits) -> Result<MailKind, MimeError> {
    let message = limits::parse(raw, limits)?;
    let message_id = message.message_id().map(str::to_string);
    Ok(match locate(&message)? {
        Found::Plain => MailKind::Plain,
        Found::KeySlip { key_slip } => MailKind::KeySlip { envelope_id: key_slip.envelope_id(), message_id },
        Found::Envelope { envelope, header_id, form } => {
            MailKind::Encrypted { envelope_id: checked_id(&envelope, header_id)?, message_id, form }
        }
    })
}

enum Found {
    Envelope { envelope: Vec<u8>, header_id: Option<EnvelopeId>, form: EnvelopeForm },
    KeySlip { key_slip: KeySlip },
    Plain,
}

/// MIME.md section 5, rules 1 to 4, in order.
fn locate(message: &Message<'_>) -> Result<Found, MimeError> {
    let header_id = id_header(message, ENVELOPE_ID_HEADER, "X-Esmtp-Envelope-Id is not 32 hex digits")?;
    let root = message.root_part();
    if root.content_type().is_some_and(|ct| {
        is_type(Some(ct), "multipart/encrypted")
            && ct.attribute("protocol").is_some_and(|p| p.trim().eq_ignore_ascii_case(ENVELOPE_CONTENT_TYPE))
    }) {
        let envelope = encrypted_parts(message, root)?;
        return Ok(Found::Envelope { envelope, header_id, form: EnvelopeForm::MultipartEncrypted });
    }
    let leaves = || message.parts.iter().filter(|p| !matches!(p.body, PartType::Multipart(_)));
    if let Some(part) = leaves().find(|p| is_type(p.content_type(), KEY_SLIP_CONTENT_TYPE)) {
        if part.is_encoding_problem {
            return Err(MimeError::Malformed("the key-slip part's transfer encoding is broken"));
        }
        let token: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
            String::from_utf8_lossy(part.contents()).chars().filter(|c| !c.is_whitespace()).collect(),
        );
        let key_slip: KeySlip = token.parse()?;
        return Ok(Found::KeySlip { key_slip });
    }
    for part in leaves() {
        if let PartType::Text(text) = &part.body
            && is_type(part.content_type(), "text/plain")
            && !is_attachment(part)
            && let Some(envelope) = extract_armor(text.as_bytes())?
        {
            return Ok(Found::Envelope { envelope, header_id, form: EnvelopeForm::PastedArmor });
        }
    }
    if header_id.is_some() {
        return Err(MimeError::Malformed("X-Esmtp-Envelope-Id but no envelope: parts are missing"));
    }
    Ok(Found::Plain)
}

/// MIME.md section 5, rule 1: exactly a version part and an envelope part.
fn encrypted_parts(message: &Message<'_>, root: &MessagePart<'_>) -> Result<Vec<u8>, MimeError> {
    let PartType::Multipart(children) = &root.body else {
        return Err(MimeError::Malformed("multipart/encrypted without parts: wrong or missing boundary"));
    };
    let [version, payload] = children[..] else {
        return Err(MimeError::Malformed("multipart/encrypted must have exactly two parts"));
    };
    let (Some(version), Some(payload)) = (message.part(version), message.part(payload)) else {
        return Err(MimeError::Malformed("multipart/encrypted part missing"));
    };
    if !is_type(version.content_type(), ENVELOPE_CONTENT_TYPE) {
        return Err(MimeError::Malformed("the first part is not application/vnd.esmtp.envelope"));
    }
    check_version(version.contents())?;
    if !is_type(payload.content_type(), "application/octet-stream") {
        return Err(MimeError::Malformed("the second part is not application/octet-stream"));
    }
    if payload.is_encoding_problem {
        return Err(MimeError::Malformed("the envelope part's transfer encoding is broken"));
    }
    extract_armor(payload.contents())?.ok_or(MimeError::Malformed("no armored envelope in the envelope part"))
}

fn check_version(body: &[u8]) -> Result<(), MimeError> {
    for line in lines(body).map(<[u8]>::trim_ascii) {
        if line.len() >= 8 && line[..8].eq_ignore_ascii_case(b"version:") {
            return if line[8..].trim_ascii() == b"1" { Ok(()) } else { Err(MimeError::UnsupportedVersion) };
        }
    }
    Err(MimeError::Malformed("the version part has no Version line"))
}

/// The envelope's own id, checked against the header's (before any key is tried).
fn checked_id(envelope: &[u8], header: Option<EnvelopeId>) -> Result<EnvelopeId, MimeError> {
    let carried = crate::inspect(envelope)?.envelope_id;
    match header {
        Some(header) if header != carried => Err(MimeError::EnvelopeIdMismatch { header, carried }),
        _ => Ok(carried),
    }
}

fn id_header(message: &Message<'_>, name: &str, why: &'static str) -> Result<Option<EnvelopeId>, MimeError> {
    let Some(value) = message.header_raw(name) else { return Ok(None) };
    EnvelopeId::from_hex(&value.trim().to_ascii_lowercase()).map(Some).ok_or(MimeError::Malformed(why))
}

/// Text, HTML and attachments of the inner entity (MIME.md section 2, last paragraph).
type Contents = (Option<String>, Option<String>, Vec<Attachment>);

fn contents(inner: &mut limits::Parsed<'_>, raw: &[u8]) -> Result<Contents, MimeError> {
    let mut found: Contents = (None, None, Vec::new());
    match take_contents(inner, raw, &mut found) {
        Ok(()) => Ok(found),
        Err(e) => {
            let (text, html, attachments) = &mut found;
            wipe_contents(text, html, attachments);
            Err(e)
        }
    }
}

fn take_contents(inner: &mut limits::Parsed<'_>, raw: &[u8], found: &mut Contents) -> Result<(), MimeError> {
    let (text, html, attachments) = found;
    for part in inner.parts_mut() {
        if matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        if part.is_encoding_problem {
            return Err(MimeError::Malformed("inner entity: a part's transfer encoding is broken"));
        }
        match &part.body {
            PartType::Text(t)
                if text.is_none() && !is_attachment(part) && is_type(part.content_type(), "text/plain") =>
            {
                *text = Some(t.replace("\r\n", "\n"));
            }
            PartType::Html(h) if html.is_none() && !is_attachment(part) => {
                *html = Some(h.replace("\r\n", "\n"))
            }
            _ => {
                let filename = part.attachment_name().unwrap_or_default().to_string();
                let content_type = full_type(part);
                attachments.push(Attachment { filename, content_type, data: part_bytes(raw, part)? });
            }
        }
    }
    Ok(())
}

/// Wipe what [`contents`] took from a plaintext: an [`OpenedMail`]'s bodies and attachments.
fn wipe_contents(text: &mut Option<String>, html: &mut Option<String>, attachments: &mut [Attachment]) {
    for body in [text, html].into_iter().flatten() {
        crate::wipe::wipe_string(body);
    }
    for attachment in attachments {
        crate::wipe::wipe(&mut attachment.data);
    }
}

/// The exact bytes of a leaf part. Text and nested messages are decoded again from the raw
/// entity: mail-parser's copies are charset-converted (text) or the whole mail (messages).
fn part_bytes(raw: &[u8], part: &mut MessagePart<'_>) -> Result<Vec<u8>, MimeError> {
    if matches!(part.body, PartType::Binary(_) | PartType::InlineBinary(_))
        && let PartType::Binary(bytes) | PartType::InlineBinary(bytes) = std::mem::take(&mut part.body)
    {
        // Taken, not copied: a body mail-parser decoded moves here whole, and leaves no copy of
        // the plaintext behind.
        return Ok(bytes.into_owned());
    }
    let slice = raw
        .get(part.offset_body as usize..part.offset_end as usize)
        .ok_or(MimeError::Malformed("inner entity: part outside the entity"))?;
    let decoded = match part.encoding {
        Encoding::Base64 => base64_decode(slice),
        Encoding::QuotedPrintable => quoted_printable_decode(slice),
        Encoding::None => Some(slice.to_vec()),
    };
    decoded.ok_or(MimeError::Malformed("inner entity: a part's transfer encoding is broken"))
}

fn full_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match &ct.c_subtype {
            Some(sub) => format!("{}/{}", ct.c_type, sub).to_ascii_lowercase(),
            None => ct.c_type.to_ascii_lowercase(),
        },
        None if matches!(part.body, PartType::Message(_)) => "message/rfc822".to_string(),
        None => "text/plain".to_string(),
    }
}

/// Compare `type/subtype` without regard to case; no Content-Type counts as `text/plain`.
fn is_type(ct: Option<&mail_parser::ContentType<'_>>, wanted: &str) -> bool {
    let (t, s) = wanted.split_once('/').unwrap_or((wanted, ""));
    match ct {
        Some(ct) => {
            ct.c_type.eq_ignore_ascii_case(t)
                && ct.c_subtype.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(s))
        }
        None => wanted == "text/plain",
    }
}

fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.content_disposition().is_some_and(|d| d.c_type.eq_ignore_ascii_case("attachment"))
        || part.attachment_name().is_some()
}

fn headers(message: &Message<'_>) -> MailHeaders {
    let list = |address: Option<&Address<'_>>| -> Vec<Mailbox> {
        address
            .into_iter()
            .flat_map(|a| a.iter())
            .filter_map(|a| {
                Some(Mailbox {
                    name: a.name.as_deref().map(str::to_string).filter(|n| !n.is_empty()),
                    address: a.address.as_deref()?.to_string(),
                })
            })
            .collect()
    };
    MailHeaders {
        from: list(message.from()).into_iter().next(),
        to: list(message.to()),
        cc: list(message.cc()),
        reply_to: list(message.reply_to()),
        subject: message.subject().map(str::to_string),
        date: message.date().map(|d| d.to_timestamp()),
        message_id: message.message_id().map(str::to_string),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
    }
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line() {
        assert!(check_version(b"Version: 1\r\n").is_ok());
        assert!(check_version(b"version:1").is_ok());
        assert!(matches!(check_version(b"Version: 2\r\n"), Err(MimeError::UnsupportedVersion)));
        assert!(matches!(check_version(b"hello"), Err(MimeError::Malformed(_))));
    }

    /// A decoded attachment is taken from the parsed entity, not copied: what stays behind holds
    /// no plaintext (the leftovers a drop would wipe are not there at all).
    #[test]
    fn decoded_attachments_are_taken_not_copied() {
        let entity = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\nAAECAw==\r\n--b--\r\n";
        let mut inner = limits::parse_secret(entity, &Limits::default()).unwrap();
        let (text, html, attachments) = contents(&mut inner, entity).unwrap();
        assert_eq!(text.as_deref(), Some("hello"));
        assert_eq!(html, None);
        assert_eq!(attachments.len(), 1);
        assert_eq!(
            (attachments[0].filename.as_str(), &attachments[0].data[..]),
            ("a.bin", &[0u8, 1, 2, 3][..])
        );
        let binaries = inner
            .parts
            .iter()
            .filter(|p| matches!(p.body, PartType::Binary(_) | PartType::InlineBinary(_)))
            .count();
        assert_eq!(binaries, 0, "the decoded body was left in the parsed entity");
    }

    #[test]
    fn wiping_contents_empties_bodies_and_attachments() {
        let (mut text, mut html) = (Some("secret text".to_string()), Some("<p>secret</p>".to_string()));
        let mut attachments = vec![Attachment::new("a", "application/octet-stream", vec![7u8; 100])];
        wipe_contents(&mut text, &mut html, &mut attachments);
        assert_eq!((text.as_deref(), html.as_deref()), (Some(""), Some("")));
        assert!(attachments[0].data.is_empty());
    }
}
