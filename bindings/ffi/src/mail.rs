//! Mails as plain records: a draft to build from, and what reading an encrypted mail gives.

use std::sync::Arc;

use esmtp_core::mime::{self, Limits, MailHeaders, OpenedMail, PackageOptions};
use zeroize::Zeroizing;

use crate::envelope::{OpenOptions, SealOptions, Suite, signer};
use crate::error::Result;
use crate::keys::{KeySlip, PublicKey};

/// A mailbox: an address and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mailbox {
    /// `local@domain`.
    pub address: String,
    /// A display name.
    pub name: Option<String>,
}

impl From<&Mailbox> for mime::Mailbox {
    fn from(m: &Mailbox) -> Self {
        match &m.name {
            Some(name) => mime::Mailbox::with_name(name.clone(), m.address.clone()),
            None => mime::Mailbox::new(m.address.clone()),
        }
    }
}

impl From<&mime::Mailbox> for Mailbox {
    fn from(m: &mime::Mailbox) -> Self {
        Mailbox { address: m.address.clone(), name: m.name.clone() }
    }
}

/// An attached file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attachment {
    /// Its file name.
    pub filename: String,
    /// Its type, `type/subtype`.
    pub content_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// A mail as its author writes it. `bcc` only adds delivery addresses: it appears nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Draft {
    /// The author.
    pub from: Mailbox,
    /// Primary recipients.
    pub to: Vec<Mailbox>,
    /// Copy recipients.
    pub cc: Vec<Mailbox>,
    /// Blind copies (delivery only).
    pub bcc: Vec<Mailbox>,
    /// Where replies go, when not to `from`.
    pub reply_to: Vec<Mailbox>,
    /// The real subject; it travels only inside the envelope.
    pub subject: String,
    /// The text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
    /// Attachments, in order.
    pub attachments: Vec<Attachment>,
    /// Message ids this mail replies to, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// Message ids of the thread, oldest first.
    pub references: Vec<String>,
    /// Unix seconds; `None` for now.
    pub date: Option<i64>,
}

impl Draft {
    pub(crate) fn to_mime(&self) -> mime::MailDraft {
        let mut d = mime::MailDraft::new((&self.from).into()).subject(self.subject.clone());
        d.to = self.to.iter().map(Into::into).collect();
        d.cc = self.cc.iter().map(Into::into).collect();
        d.bcc = self.bcc.iter().map(Into::into).collect();
        d.reply_to = self.reply_to.iter().map(Into::into).collect();
        d.text = self.text.clone();
        d.html = self.html.clone();
        d.in_reply_to = self.in_reply_to.clone();
        d.references = self.references.clone();
        d.date = self.date;
        for a in &self.attachments {
            d = d.attachment(mime::Attachment::new(
                a.filename.clone(),
                a.content_type.clone(),
                a.data.clone(),
            ));
        }
        d
    }
}

/// The current time in Unix seconds (the core has no clock; the bindings do).
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A packaged encrypted mail, ready for SMTP.
#[derive(Debug)]
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
///
/// # Errors
/// [`crate::ErrorKind::InvalidArgument`] for a draft that cannot be a mail, and as [`crate::seal`].
pub fn build_mail(draft: &Draft, seal: &SealOptions) -> Result<BuiltMail> {
    let mail = mime::package(&draft.to_mime(), &seal.sealer(), &PackageOptions::new(now()))?;
    Ok(BuiltMail {
        bytes: mail.bytes,
        message_id: mail.message_id,
        envelope_id: mail.envelope_id.to_string(),
        key_slip: mail.key_slip.map(|s| Arc::new(KeySlip(s))),
        smtputf8: mail.smtputf8,
    })
}

/// The headers of a mail, outer or protected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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

impl From<&MailHeaders> for Headers {
    fn from(h: &MailHeaders) -> Self {
        let list = |v: &[mime::Mailbox]| v.iter().map(Mailbox::from).collect();
        Headers {
            from: h.from.as_ref().map(Mailbox::from),
            to: list(&h.to),
            cc: list(&h.cc),
            reply_to: list(&h.reply_to),
            subject: h.subject.clone(),
            date: h.date,
            message_id: h.message_id.clone(),
            in_reply_to: h.in_reply_to.clone(),
            references: h.references.clone(),
        }
    }
}

/// An opened encrypted mail.
#[derive(Clone)]
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
    /// Who signed it (verified), or `None`: unsigned, so `From` is only a claim.
    pub signer: Option<Arc<PublicKey>>,
    /// The decrypted inner entity, bytes exact (an `.eml`). Zeroized when dropped.
    pub raw: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for MailContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailContent")
            .field("envelope_id", &self.envelope_id)
            .field("suite", &self.suite)
            .field("signer", &self.signer)
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

impl From<Box<OpenedMail>> for MailContent {
    /// The bodies, attachments and inner entity move over, not copied: a large mail is not held
    /// twice, and no unwiped copy is left behind.
    fn from(mut m: Box<OpenedMail>) -> Self {
        // Before the inner entity moves: the MD5 of a modern-suite mail is computed from it.
        let md5_hex = m.md5_hex();
        let attachments = std::mem::take(&mut m.attachments)
            .into_iter()
            .map(|a| Attachment { filename: a.filename, content_type: a.content_type, data: a.data })
            .collect();
        MailContent {
            headers: (&m.headers).into(),
            outer: (&m.outer).into(),
            text: m.text.take(),
            html: m.html.take(),
            attachments,
            suite: m.suite.into(),
            md5_hex,
            envelope_id: m.envelope_id.to_string(),
            signer: signer(&m.signature),
            raw: std::mem::take(&mut m.inner),
        }
    }
}

/// What reading a mail found.
// Values handed to the bindings, once per mail: boxing the large variant would only add an
// indirection to every binding's conversion.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ReadMail {
    /// An encrypted mail, opened.
    Encrypted {
        /// The mail.
        mail: MailContent,
    },
    /// A key-slip mail.
    KeySlip {
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
///
/// # Errors
/// [`crate::ErrorKind::MalformedMail`], and the envelope's own errors.
pub fn read_mail(raw: &[u8], options: &OpenOptions) -> Result<ReadMail> {
    Ok(match mime::read_mail(raw, &options.opener(), &Limits::default())? {
        mime::ReadMail::Encrypted(mail) => ReadMail::Encrypted { mail: mail.into() },
        mime::ReadMail::KeySlip(slip) => ReadMail::KeySlip {
            headers: (&slip.headers).into(),
            envelope_id: slip.envelope_id.to_string(),
            key_slip: Arc::new(KeySlip(slip.key_slip.clone())),
        },
        mime::ReadMail::Plain(plain) => ReadMail::Plain { headers: (&plain.headers).into() },
        _ => ReadMail::Plain { headers: Headers::default() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Identity;

    #[test]
    fn a_mail_round_trips_with_its_key_slip_and_signature() {
        let bob = Identity::generate().unwrap();
        let alice = Identity::generate().unwrap();
        let draft = Draft {
            from: Mailbox { address: "alice@example.org".into(), name: Some("Alice".into()) },
            to: vec![Mailbox { address: "bob@example.org".into(), name: None }],
            subject: "The plan".into(),
            text: Some("Meet at noon.".into()),
            attachments: vec![Attachment {
                filename: "plan.bin".into(),
                content_type: "application/octet-stream".into(),
                data: vec![0, 13, 10, 255],
            }],
            ..Draft::default()
        };
        let seal = SealOptions {
            recipients: vec![bob.public_key()],
            key_slip: true,
            sign_with: Some(alice.clone()),
            ..SealOptions::default()
        };
        let mail = build_mail(&draft, &seal).unwrap();
        assert!(!String::from_utf8_lossy(&mail.bytes).contains("The plan"));
        let slip = mail.key_slip.clone().unwrap();
        let open = OpenOptions { key_slips: vec![slip], ..OpenOptions::default() };
        let ReadMail::Encrypted { mail: content } = read_mail(&mail.bytes, &open).unwrap() else { panic!() };
        assert_eq!(content.headers.subject.as_deref(), Some("The plan"));
        assert_eq!(content.text.as_deref(), Some("Meet at noon."));
        assert_eq!(content.attachments[0].data, vec![0, 13, 10, 255]);
        // The contents moved over whole: the MD5 is that of the inner entity it came with.
        assert!(content.raw.len() > 100, "the inner entity came along");
        let md5 = esmtp_core::hash::digest(esmtp_core::hash::HashAlgorithm::Md5, &content.raw);
        assert_eq!(content.md5_hex, md5.iter().map(|b| format!("{b:02x}")).collect::<String>());
        assert_eq!(content.signer.as_deref(), Some(&*alice.public_key()));
        assert!(content.headers.date.is_some_and(|d| d > 1_700_000_000), "dated now");
        let plain = read_mail(b"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n", &open).unwrap();
        assert!(matches!(plain, ReadMail::Plain { .. }));
    }
}
