//! What a user's mail consists of, before packaging and after reading: owned, plain data.

use std::fmt;

use super::MimeError;

/// A mail address with an optional display name, e.g. `Pelé <pele@example.com>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The display name, any UTF-8 text without control characters.
    pub name: Option<String>,
    /// The address, `local@domain`. Non-ASCII addresses make the mail need SMTPUTF8.
    pub address: String,
}

impl Mailbox {
    /// A mailbox without a display name.
    pub fn new(address: impl Into<String>) -> Self {
        Mailbox { name: None, address: address.into() }
    }

    /// A mailbox with a display name.
    pub fn with_name(name: impl Into<String>, address: impl Into<String>) -> Self {
        Mailbox { name: Some(name.into()), address: address.into() }
    }

    /// The part of the address after the last `@` (empty when there is none).
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Display for Mailbox {
    /// For people, not for headers: `Name <address>` or `address`, nothing encoded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) if !name.is_empty() => write!(f, "{name} <{}>", self.address),
            _ => f.write_str(&self.address),
        }
    }
}

/// A file attached to a mail.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    /// The file name (UTF-8; empty when the sender gave none).
    pub filename: String,
    /// The MIME type, `type/subtype` (e.g. `application/pdf`), without parameters.
    pub content_type: String,
    /// The file's bytes, exactly.
    pub data: Vec<u8>,
}

impl Attachment {
    /// An attachment.
    pub fn new(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        Attachment { filename: filename.into(), content_type: content_type.into(), data: data.into() }
    }
}

impl fmt::Debug for Attachment {
    /// The length instead of the bytes: attachments run to megabytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

/// A mail as the user wrote it, to be packaged by [`super::package`].
///
/// The core has no clock: the date is [`MailDraft::date`] when set (Unix seconds; written in
/// UTC), else the [`super::PackageOptions::date`] the caller packages with. `bcc` only feeds [`MailDraft::smtp_recipients`]: it appears nowhere in the packaged mail, not
/// even inside the envelope, which every recipient can open.
///
/// ```
/// use esmtp_core::mime::{Attachment, MailDraft, Mailbox};
///
/// let draft = MailDraft::new(Mailbox::with_name("Pelé", "pele@example.com"))
///     .to(Mailbox::new("bob@example.org"))
///     .bcc(Mailbox::new("carol@example.net"))
///     .subject("δοκιμή 测试")
///     .date(1_700_000_000)
///     .text("Hello Bob")
///     .attachment(Attachment::new("notes.txt", "text/plain", b"notes".to_vec()));
/// assert_eq!(draft.smtp_recipients(), ["bob@example.org", "carol@example.net"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailDraft {
    /// The author.
    pub from: Mailbox,
    /// Primary recipients.
    pub to: Vec<Mailbox>,
    /// Copy recipients.
    pub cc: Vec<Mailbox>,
    /// Blind copy recipients (delivery only; see the type's docs).
    pub bcc: Vec<Mailbox>,
    /// Where replies should go, when not to `from`.
    pub reply_to: Vec<Mailbox>,
    /// The real subject; it travels only inside the envelope.
    pub subject: String,
    /// Unix seconds (UTC); when `None`, packaging uses [`super::PackageOptions::date`].
    pub date: Option<i64>,
    /// Message ids this mail replies to, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// Message ids of the thread, oldest first, without angle brackets.
    pub references: Vec<String>,
    /// The text/plain body.
    pub text: Option<String>,
    /// The text/html body.
    pub html: Option<String>,
    /// Attached files, in order.
    pub attachments: Vec<Attachment>,
}

impl MailDraft {
    /// A draft from `from` with nothing else yet.
    pub fn new(from: Mailbox) -> Self {
        MailDraft { from, ..MailDraft::default() }
    }

    /// Add a primary recipient.
    pub fn to(mut self, mailbox: Mailbox) -> Self {
        self.to.push(mailbox);
        self
    }

    /// Add a copy recipient.
    pub fn cc(mut self, mailbox: Mailbox) -> Self {
        self.cc.push(mailbox);
        self
    }

    /// Add a blind copy recipient.
    pub fn bcc(mut self, mailbox: Mailbox) -> Self {
        self.bcc.push(mailbox);
        self
    }

    /// Add a reply-to mailbox.
    pub fn reply_to(mut self, mailbox: Mailbox) -> Self {
        self.reply_to.push(mailbox);
        self
    }

    /// Set the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Set the date, in Unix seconds.
    pub fn date(mut self, unix_seconds: i64) -> Self {
        self.date = Some(unix_seconds);
        self
    }

    /// Add a message id this mail replies to (angle brackets optional).
    pub fn in_reply_to(mut self, message_id: impl Into<String>) -> Self {
        self.in_reply_to.push(strip_brackets(message_id.into()));
        self
    }

    /// Add a message id to `References` (angle brackets optional).
    pub fn reference(mut self, message_id: impl Into<String>) -> Self {
        self.references.push(strip_brackets(message_id.into()));
        self
    }

    /// Set the text/plain body.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Set the text/html body.
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    /// Add an attachment.
    pub fn attachment(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Every address the mail goes to (To, Cc, then Bcc, each once): the SMTP `RCPT TO` list.
    pub fn smtp_recipients(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for mailbox in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            if !out.iter().any(|a| a.eq_ignore_ascii_case(&mailbox.address)) {
                out.push(mailbox.address.clone());
            }
        }
        out
    }

    /// Check every field; returns whether the sender or a recipient needs SMTPUTF8 (`reply_to`
    /// only travels inside the envelope, so it does not count).
    pub(crate) fn validate(&self) -> Result<bool, MimeError> {
        let mut utf8 = check_mailbox(&self.from)?;
        if self.to.is_empty() && self.cc.is_empty() && self.bcc.is_empty() {
            return Err(MimeError::InvalidDraft("no recipient in to, cc or bcc"));
        }
        for mailbox in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            utf8 |= check_mailbox(mailbox)?;
        }
        for mailbox in &self.reply_to {
            check_mailbox(mailbox)?;
        }
        check_text(&self.subject, "subject has control characters")?;
        if let Some(date) = self.date {
            check_date(date)?;
        }
        for id in self.in_reply_to.iter().chain(&self.references) {
            check_message_id(id)?;
        }
        for attachment in &self.attachments {
            check_attachment(&attachment.filename, &attachment.content_type)?;
        }
        Ok(utf8)
    }
}

/// An attachment's file name and type, wherever its bytes come from.
pub(crate) fn check_attachment(filename: &str, content_type: &str) -> Result<(), MimeError> {
    check_text(filename, "attachment file name has control characters")?;
    check_content_type(content_type)
}

/// Message ids are stored and passed without their angle brackets.
pub(crate) fn strip_brackets(id: String) -> String {
    let trimmed = id.trim();
    match trimmed.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
        Some(inner) => inner.to_string(),
        None if trimmed.len() == id.len() => id,
        None => trimmed.to_string(),
    }
}

/// The latest date a 4-digit year can show: 9999-12-31T23:59:59Z.
const MAX_DATE: i64 = 253_402_300_799;

pub(crate) fn check_date(date: i64) -> Result<i64, MimeError> {
    if (0..=MAX_DATE).contains(&date) { Ok(date) } else { Err(MimeError::InvalidDraft("date out of range")) }
}

fn check_text(text: &str, why: &'static str) -> Result<(), MimeError> {
    if text.chars().any(|c| c.is_control() && c != '\t') { Err(MimeError::InvalidDraft(why)) } else { Ok(()) }
}

/// Returns whether the address is non-ASCII (and so needs SMTPUTF8).
pub(crate) fn check_mailbox(mailbox: &Mailbox) -> Result<bool, MimeError> {
    if let Some(name) = &mailbox.name {
        check_text(name, "display name has control characters")?;
    }
    let address = mailbox.address.as_str();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(MimeError::InvalidDraft("address without @"));
    };
    // Quoted local parts are not supported: the specials below would need them.
    let bad = |c: char| c.is_control() || c.is_whitespace() || "<>()[]\\,;:\"@".contains(c);
    if local.is_empty()
        || domain.is_empty()
        || address.len() > 254
        || local.chars().any(bad)
        || domain.chars().any(bad)
    {
        return Err(MimeError::InvalidDraft("invalid address"));
    }
    Ok(!address.is_ascii())
}

pub(crate) fn check_message_id(id: &str) -> Result<(), MimeError> {
    let valid = id.len() <= 250
        && id.split_once('@').is_some_and(|(l, r)| !l.is_empty() && !r.is_empty())
        && id.bytes().all(|b| b.is_ascii_graphic() && !b"<>\"\\()[],;:".contains(&b));
    if valid { Ok(()) } else { Err(MimeError::InvalidDraft("invalid message id")) }
}

fn check_content_type(content_type: &str) -> Result<(), MimeError> {
    // RFC 6838 section 4.2 restricted names.
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match content_type.split_once('/') {
        Some((t, s)) if name(t) && name(s) => Ok(()),
        _ => Err(MimeError::InvalidDraft("attachment content type is not type/subtype")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ids_are_checked() {
        assert!(!check_mailbox(&Mailbox::new("a@b.example")).unwrap());
        assert!(check_mailbox(&Mailbox::new("pelé@example.com")).unwrap());
        for bad in ["", "a", "@b", "a@", "a b@c", "a@b@c", "<a@b>", "a@b\r\nBcc: x@y", "a,b@c"] {
            assert!(check_mailbox(&Mailbox::new(bad)).is_err(), "{bad:?}");
        }
        assert!(check_mailbox(&Mailbox::with_name("x\r\ny", "a@b")).is_err());
        assert!(check_message_id("abc@example.com").is_ok());
        assert!(check_message_id("abc").is_err());
        assert!(check_message_id("a b@c").is_err());
        assert_eq!(strip_brackets(" <x@y> ".into()), "x@y");
        assert!(check_content_type("application/pdf").is_ok());
        assert!(check_content_type("application/pdf; x=y").is_err());
        assert!(check_date(-1).is_err() && check_date(MAX_DATE + 1).is_err() && check_date(0).is_ok());
    }
}
