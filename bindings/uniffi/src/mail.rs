//! Mails as records: a draft to build from, and what reading an encrypted mail gives.

use std::sync::Arc;

use crate::envelope::{OpenOptions, SealOptions, Suite};
use crate::error::Result;
use crate::keys::{KeySlip, PublicKey, key_slip, public_key};

/// A mailbox: an address and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Mailbox {
    /// `local@domain`.
    pub address: String,
    /// A display name.
    #[uniffi(default)]
    pub name: Option<String>,
}

impl From<Mailbox> for esmtp_ffi::Mailbox {
    fn from(m: Mailbox) -> Self {
        esmtp_ffi::Mailbox { address: m.address, name: m.name }
    }
}

impl From<esmtp_ffi::Mailbox> for Mailbox {
    fn from(m: esmtp_ffi::Mailbox) -> Self {
        Mailbox { address: m.address, name: m.name }
    }
}

/// An attached file.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Attachment {
    /// Its file name.
    pub filename: String,
    /// Its type, `type/subtype`.
    pub content_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

impl From<Attachment> for esmtp_ffi::Attachment {
    fn from(a: Attachment) -> Self {
        esmtp_ffi::Attachment { filename: a.filename, content_type: a.content_type, data: a.data }
    }
}

impl From<esmtp_ffi::Attachment> for Attachment {
    fn from(a: esmtp_ffi::Attachment) -> Self {
        Attachment { filename: a.filename, content_type: a.content_type, data: a.data }
    }
}

fn list<A, B: From<A>>(v: Vec<A>) -> Vec<B> {
    v.into_iter().map(B::from).collect()
}

/// A mail as its author writes it. `bcc` only adds delivery addresses: it appears nowhere.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Draft {
    /// The author.
    pub from: Mailbox,
    /// Primary recipients.
    #[uniffi(default)]
    pub to: Vec<Mailbox>,
    /// Copy recipients.
    #[uniffi(default)]
    pub cc: Vec<Mailbox>,
    /// Blind copies (delivery only).
    #[uniffi(default)]
    pub bcc: Vec<Mailbox>,
    /// Where replies go, when not to `from`.
    #[uniffi(default)]
    pub reply_to: Vec<Mailbox>,
    /// The real subject; it travels only inside the envelope.
    #[uniffi(default)]
    pub subject: String,
    /// The text body.
    #[uniffi(default)]
    pub text: Option<String>,
    /// The HTML body.
    #[uniffi(default)]
    pub html: Option<String>,
    /// Attachments, in order.
    #[uniffi(default)]
    pub attachments: Vec<Attachment>,
    /// Message ids this mail replies to, without angle brackets.
    #[uniffi(default)]
    pub in_reply_to: Vec<String>,
    /// Message ids of the thread, oldest first.
    #[uniffi(default)]
    pub references: Vec<String>,
    /// Unix seconds; `null`/`nil` for now.
    #[uniffi(default)]
    pub date: Option<i64>,
}

impl From<Draft> for esmtp_ffi::Draft {
    fn from(d: Draft) -> Self {
        esmtp_ffi::Draft {
            from: d.from.into(),
            to: list(d.to),
            cc: list(d.cc),
            bcc: list(d.bcc),
            reply_to: list(d.reply_to),
            subject: d.subject,
            text: d.text,
            html: d.html,
            attachments: list(d.attachments),
            in_reply_to: d.in_reply_to,
            references: d.references,
            date: d.date,
        }
    }
}

/// A packaged encrypted mail, ready for SMTP.
#[derive(uniffi::Record)]
pub struct BuiltMail {
    /// The whole mail (CRLF, 7-bit unless an address is not ASCII).
    pub bytes: Vec<u8>,
    /// Its Message-ID, without angle brackets.
    pub message_id: String,
    /// The envelope inside.
    pub envelope_id: String,
    /// The key slip, when the seal options asked for one.
    pub key_slip: Option<Arc<KeySlip>>,
    /// Whether it needs a server with SMTPUTF8.
    pub smtputf8: bool,
}

/// Build the encrypted mail of `draft`, sealed as `seal` says.
#[uniffi::export]
pub fn build_mail(draft: Draft, seal: SealOptions) -> Result<BuiltMail> {
    let m = esmtp_ffi::build_mail(&draft.into(), &seal.into())?;
    Ok(BuiltMail {
        bytes: m.bytes,
        message_id: m.message_id,
        envelope_id: m.envelope_id,
        key_slip: m.key_slip.map(key_slip),
        smtputf8: m.smtputf8,
    })
}

/// The headers of a mail, outer or protected.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Headers {
    /// `From`.
    pub from: Option<Mailbox>,
    /// `To`.
    pub to: Vec<Mailbox>,
    /// `Cc`.
    pub cc: Vec<Mailbox>,
    /// `Reply-To`.
    pub reply_to: Vec<Mailbox>,
    /// `Subject`.
    pub subject: Option<String>,
    /// `Date`, Unix seconds.
    pub date: Option<i64>,
    /// `Message-ID`.
    pub message_id: Option<String>,
    /// `In-Reply-To`.
    pub in_reply_to: Vec<String>,
    /// `References`.
    pub references: Vec<String>,
}

impl From<esmtp_ffi::Headers> for Headers {
    fn from(h: esmtp_ffi::Headers) -> Self {
        Headers {
            from: h.from.map(Mailbox::from),
            to: list(h.to),
            cc: list(h.cc),
            reply_to: list(h.reply_to),
            subject: h.subject,
            date: h.date,
            message_id: h.message_id,
            in_reply_to: h.in_reply_to,
            references: h.references,
        }
    }
}

/// An opened encrypted mail.
#[derive(uniffi::Record)]
pub struct MailContent {
    /// The protected headers (inside the envelope): the authoritative ones.
    pub headers: Headers,
    /// The outer headers (as the servers saw them; may have been altered in transit).
    pub outer: Headers,
    /// The text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
    /// Attachments, bytes exact.
    pub attachments: Vec<Attachment>,
    /// The suite.
    pub suite: Suite,
    /// MD5 of the decrypted inner entity, lower-case hex.
    pub md5_hex: String,
    /// The envelope id.
    pub envelope_id: String,
    /// Who signed it (verified), or `null`/`nil`: unsigned, so `From` is only a claim.
    pub signer: Option<Arc<PublicKey>>,
    /// The decrypted inner entity, bytes exact (an `.eml`).
    pub raw: Vec<u8>,
}

impl From<esmtp_ffi::MailContent> for MailContent {
    fn from(mut m: esmtp_ffi::MailContent) -> Self {
        MailContent {
            raw: std::mem::take(&mut *m.raw),
            headers: m.headers.into(),
            outer: m.outer.into(),
            text: m.text,
            html: m.html,
            attachments: list(m.attachments),
            suite: m.suite.into(),
            md5_hex: m.md5_hex,
            envelope_id: m.envelope_id,
            signer: m.signer.map(public_key),
        }
    }
}

/// What reading a mail found.
// Handed to Kotlin or Swift once per mail, where uniffi copies it anyway: boxing the large
// variant would only add an allocation (and uniffi does not lower a Box).
#[allow(clippy::large_enum_variant)]
#[derive(uniffi::Enum)]
pub enum ReadMail {
    /// An encrypted mail, opened.
    Encrypted {
        /// The mail.
        mail: MailContent,
    },
    /// A key-slip mail.
    KeySlipMail {
        /// Its own headers.
        headers: Headers,
        /// The envelope it opens.
        envelope_id: String,
        /// The slip.
        key_slip: Arc<KeySlip>,
    },
    /// Not an esmtp mail: a result, not an error.
    Plain {
        /// Its headers.
        headers: Headers,
    },
}

/// Read a whole mail (an `.eml`, an IMAP `BODY[]`) and open it if it is encrypted.
#[uniffi::export]
pub fn read_mail(raw: Vec<u8>, options: OpenOptions) -> Result<ReadMail> {
    Ok(match esmtp_ffi::read_mail(&raw, &options.into())? {
        esmtp_ffi::ReadMail::Encrypted { mail } => ReadMail::Encrypted { mail: mail.into() },
        esmtp_ffi::ReadMail::KeySlip { headers, envelope_id, key_slip: slip } => {
            ReadMail::KeySlipMail { headers: headers.into(), envelope_id, key_slip: key_slip(slip) }
        }
        esmtp_ffi::ReadMail::Plain { headers } => ReadMail::Plain { headers: headers.into() },
    })
}
