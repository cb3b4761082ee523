//! Bounds on the work a hostile mail can cause, checked before and right after parsing.
//!
//! mail-parser walks multiparts iteratively (no recursion, checked with 100,000 nested levels), but
//! it builds a recursive tree for nested `message/rfc822` parts, and dropping that tree recurses:
//! 10,000 levels overflow a 2 MiB thread stack. [`Parsed`] therefore takes such trees apart
//! iteratively when it is dropped, and the depth check runs without recursion. The pre-scan caps
//! the number of parts mail-parser will allocate, which input size alone would not.
//!
//! A parsed inner entity holds decoded plaintext of its own (every base64 or quoted-printable
//! body, and nested messages decoded from them): [`parse_secret`] parses one whose drop wipes
//! those copies.

use std::borrow::Cow;
use std::ops::Deref;

use mail_parser::{Message, MessageParser, MessagePart, PartType};

use super::MimeError;

/// Limits a reader applies to the outer message and again to the inner entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest mail accepted, in bytes (capped at 4 GiB, mail-parser's offsets are 32-bit).
    pub max_mail_bytes: usize,
    /// Largest header block, of the mail or of any part, in bytes.
    pub max_header_bytes: usize,
    /// Deepest multipart or `message/rfc822` nesting (the top level is depth 0).
    pub max_depth: usize,
    /// Most MIME parts, containers included.
    pub max_parts: usize,
}

impl Default for Limits {
    /// 128 MiB mails, 256 KiB header blocks, 16 levels, 1000 parts (MIME.md section 5.1).
    fn default() -> Self {
        Limits { max_mail_bytes: 128 << 20, max_header_bytes: 256 << 10, max_depth: 16, max_parts: 1000 }
    }
}

/// Lines that could open a part, per allowed part, before the pre-scan refuses to parse at all.
/// Generous, so that text with many `--` lines still parses and the exact count decides.
const PRESCAN_FACTOR: usize = 64;

/// A parsed mail whose drop never recurses deeper than the depth limit allows, and wipes the
/// decoded bodies when they are a secret.
pub(crate) struct Parsed<'a> {
    message: Option<Message<'a>>,
    secret: bool,
}

impl<'a> Deref for Parsed<'a> {
    type Target = Message<'a>;

    fn deref(&self) -> &Message<'a> {
        // Only Drop takes the message out.
        self.message.as_ref().expect("message present until drop")
    }
}

impl<'a> Parsed<'a> {
    /// The top message's parts, for taking decoded bodies out instead of copying them (what is
    /// left is still wiped on drop).
    pub(crate) fn parts_mut(&mut self) -> &mut [MessagePart<'a>] {
        &mut self.message.as_mut().expect("message present until drop").parts
    }
}

impl Drop for Parsed<'_> {
    fn drop(&mut self) {
        let mut stack: Vec<Message<'_>> = self.message.take().into_iter().collect();
        while let Some(mut message) = stack.pop() {
            for part in &mut message.parts {
                if matches!(part.body, PartType::Message(_))
                    && let PartType::Message(inner) = std::mem::take(&mut part.body)
                {
                    stack.push(inner);
                } else if self.secret {
                    wipe_body(&mut part.body);
                }
            }
            if self.secret
                && let Cow::Owned(raw) = &mut message.raw_message
            {
                crate::wipe::wipe(raw);
            }
        }
    }
}

/// Wipe a body mail-parser decoded into a buffer of its own (one borrowed from the input is the
/// input's to wipe).
fn wipe_body(body: &mut PartType<'_>) {
    match body {
        PartType::Binary(Cow::Owned(bytes)) | PartType::InlineBinary(Cow::Owned(bytes)) => {
            crate::wipe::wipe(bytes)
        }
        PartType::Text(Cow::Owned(text)) | PartType::Html(Cow::Owned(text)) => crate::wipe::wipe_string(text),
        _ => {}
    }
}

/// Check the limits, parse, and check the parsed structure.
pub(crate) fn parse<'a>(raw: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, MimeError> {
    parse_as(raw, limits, false)
}

/// [`parse`] a plaintext (an inner entity): the decoded bodies are wiped when it is dropped.
pub(crate) fn parse_secret<'a>(raw: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, MimeError> {
    parse_as(raw, limits, true)
}

fn parse_as<'a>(raw: &'a [u8], limits: &Limits, secret: bool) -> Result<Parsed<'a>, MimeError> {
    pre_scan(raw, limits)?;
    let parsed = Parsed { message: MessageParser::new().parse(raw), secret };
    // mail-parser takes anything before a colon or line end as a header name, even binary bytes.
    let field_name =
        |name: &str| !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    let root = parsed.message.as_ref().and_then(|m| m.parts.first());
    if root.is_none_or(|root| !root.headers.iter().any(|h| field_name(h.name()))) {
        return Err(MimeError::Malformed("no header field: not a mail"));
    }
    check_structure(&parsed, limits)?;
    Ok(parsed)
}

/// Cheap linear checks that need no parse: total size, the top header block, and an upper bound
/// on the parts (every part but the top one starts after a `--` delimiter line or, for a nested
/// message, at a `Content-Type` line).
fn pre_scan(raw: &[u8], limits: &Limits) -> Result<(), MimeError> {
    if raw.len() > limits.max_mail_bytes.min(u32::MAX as usize) {
        return Err(MimeError::TooLarge("mail"));
    }
    if header_block_len(raw, limits.max_header_bytes).unwrap_or(raw.len()) > limits.max_header_bytes {
        return Err(MimeError::TooLarge("header block"));
    }
    let cap = limits.max_parts.saturating_mul(PRESCAN_FACTOR);
    let (mut delimiters, mut content_types) = (0usize, 0usize);
    for line in super::extract::lines(raw) {
        if line.starts_with(b"--") {
            delimiters += 1;
        } else if line.len() >= 12 && line[..12].eq_ignore_ascii_case(b"content-type") {
            content_types += 1;
        }
        if delimiters > cap || content_types > cap {
            return Err(MimeError::TooManyParts);
        }
    }
    Ok(())
}

/// Length of the top header block up to its empty line; at least `max + 1` when it is longer than
/// `max`, `None` when the input has no empty line.
fn header_block_len(raw: &[u8], max: usize) -> Option<usize> {
    let mut start = 0;
    while start <= max {
        let len = raw.get(start..)?.iter().position(|&b| b == b'\n')?;
        let line = &raw[start..start + len];
        if line.is_empty() || line == b"\r" {
            return Some(start);
        }
        start += len + 1;
    }
    Some(start)
}

/// Depth, part count and per-part header size, walking without recursion.
fn check_structure(message: &Message<'_>, limits: &Limits) -> Result<(), MimeError> {
    let mut stack: Vec<(&Message<'_>, usize, usize)> = vec![(message, 0, 0)];
    let mut parts = 0usize;
    let mut too_deep = false;
    while let Some((msg, id, depth)) = stack.pop() {
        let Some(part) = msg.parts.get(id) else { continue };
        parts += 1;
        too_deep |= depth > limits.max_depth;
        let header = (part.offset_body as usize).saturating_sub(part.offset_header as usize);
        if header > limits.max_header_bytes {
            return Err(MimeError::TooLarge("part header block"));
        }
        match &part.body {
            PartType::Multipart(children) => {
                // Children always follow their parent; anything else would loop.
                stack.extend(
                    children.iter().map(|&c| c as usize).filter(|&c| c > id).map(|c| (msg, c, depth + 1)),
                );
            }
            PartType::Message(inner) => stack.push((inner, 0, depth + 1)),
            _ => {}
        }
    }
    if too_deep {
        return Err(MimeError::TooDeep);
    }
    if parts > limits.max_parts {
        return Err(MimeError::TooManyParts);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_is_found_with_either_line_ending() {
        assert_eq!(header_block_len(b"A: b\r\n\r\nbody", 100), Some(6));
        assert_eq!(header_block_len(b"A: b\n\nbody", 100), Some(5));
        assert_eq!(header_block_len(b"\r\nbody", 100), Some(0));
        assert_eq!(header_block_len(b"A: b", 100), None);
        assert!(header_block_len(b"A: b\r\nC: d\r\n\r\n", 3).unwrap() > 3);
    }

    #[test]
    fn limits_are_enforced() {
        let small = Limits { max_mail_bytes: 10, ..Limits::default() };
        assert!(matches!(parse(b"From: a@b\r\n\r\nhello", &small), Err(MimeError::TooLarge("mail"))));
        let few = Limits { max_parts: 2, ..Limits::default() };
        let three =
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b\r\n\r\ny\r\n--b--\r\n";
        assert!(matches!(parse(three, &few), Err(MimeError::TooManyParts)));
        assert!(parse(three, &Limits::default()).is_ok());
        assert!(matches!(parse(b"\x00\x01", &Limits::default()), Err(MimeError::Malformed(_))));
        assert!(matches!(parse(b"\n\nbody", &Limits::default()), Err(MimeError::Malformed(_))));
    }

    /// Bodies mail-parser decoded into buffers of its own are wiped; bodies that borrow the
    /// input are left alone (they are the input's).
    #[test]
    fn owned_bodies_are_wiped_borrowed_ones_left() {
        let mut binary = PartType::Binary(Cow::Owned(vec![1u8; 64]));
        let mut text = PartType::Text(Cow::Owned("secret".to_string()));
        let input = [9u8; 8];
        let mut borrowed = PartType::Binary(Cow::Borrowed(&input[..]));
        for body in [&mut binary, &mut text, &mut borrowed] {
            wipe_body(body);
        }
        assert!(matches!(&binary, PartType::Binary(Cow::Owned(b)) if b.is_empty()));
        assert!(matches!(&text, PartType::Text(Cow::Owned(t)) if t.is_empty()));
        assert!(matches!(&borrowed, PartType::Binary(Cow::Borrowed(b)) if b == &[9u8; 8]));
    }
}
