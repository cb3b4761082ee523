//! The paper's sending flow in one call: seal, package, submit, then deliver the key separately.

use std::time::{SystemTime, UNIX_EPOCH};

use esmtp_core::mime::{self, MailDraft, Mailbox, PackageOptions};
use esmtp_core::{EnvelopeId, Sealer};

use super::{SubmitReply, Submitter};
use crate::error::{Error, ErrorKind, Result};

/// How [`Submitter::send_secure`] sends.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// The outer subject, standing in for the real one (default `...`).
    pub subject_placeholder: Option<String>,
    /// The right-hand side of the generated Message-ID (default: the sender's domain).
    pub message_id_domain: Option<String>,
    /// Where key slips go (the paper's separate key delivery): `None` sends one key-slip mail to
    /// each recipient of the envelope, `Some(address)` one key-slip mail to that address only.
    pub key_slip_to: Option<String>,
}

/// One key-slip mail that was submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySlipDelivery {
    /// Who it went to.
    pub to: String,
    /// Its Message-ID.
    pub message_id: String,
    /// The server's reply.
    pub reply: SubmitReply,
}

/// What [`Submitter::send_secure`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// The encrypted mail's Message-ID.
    pub message_id: String,
    /// The id of the envelope inside it.
    pub envelope_id: EnvelopeId,
    /// Its encoded size in bytes (as checked against the server's SIZE).
    pub size: usize,
    /// The server's reply to the encrypted mail.
    pub reply: SubmitReply,
    /// The key-slip mails, after the encrypted mail, when the sealer made a key slip.
    pub key_slips: Vec<KeySlipDelivery>,
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn packaging(e: mime::MimeError) -> Error {
    Error::new(ErrorKind::Encryption, format!("packaging the mail failed: {e}")).with_source(e)
}

impl Submitter {
    /// Seal `draft` with `sealer` (any suite, any recipient mix), package it as an encrypted mail
    /// and submit it to every To, Cc and Bcc recipient. When `sealer` makes a key slip, the key
    /// slip follows as its own mail (see [`SendOptions::key_slip_to`]) once the envelope was
    /// accepted. A draft without a date gets the current time.
    ///
    /// # Errors
    /// [`ErrorKind::Encryption`] when sealing or packaging fails, else as [`Submitter::send_raw`].
    /// If the envelope went out but a key slip did not, the error says so; the envelope's
    /// Message-ID is in its message so the caller can resend the slip.
    pub fn send_secure(
        &self,
        draft: &MailDraft,
        sealer: &Sealer,
        options: &SendOptions,
    ) -> Result<SendReport> {
        let date = draft.date.unwrap_or_else(now);
        let mut package = PackageOptions::new(date);
        if let Some(subject) = &options.subject_placeholder {
            package.subject_placeholder = subject.clone();
        }
        package.message_id_domain = options.message_id_domain.clone();
        let mail = mime::package(draft, sealer, &package).map_err(packaging)?;
        let from = draft.from.address.clone();
        let reply = self.send_raw(&from, &draft.smtp_recipients(), &mail.bytes)?;
        let mut report = SendReport {
            message_id: mail.message_id.clone(),
            envelope_id: mail.envelope_id,
            size: mail.size,
            reply,
            key_slips: Vec::new(),
        };
        let Some(slip) = &mail.key_slip else { return Ok(report) };
        let destinations = match &options.key_slip_to {
            Some(address) => vec![address.clone()],
            None => draft.smtp_recipients(),
        };
        for to in destinations {
            let slip_mail =
                mime::key_slip_mail(slip, &draft.from, &Mailbox::new(&to), date).map_err(packaging)?;
            let reply = self.send_raw(&from, std::slice::from_ref(&to), &slip_mail.bytes).map_err(|e| {
                Error::new(
                    e.kind(),
                    format!(
                        "the encrypted mail <{}> was sent, but its key slip was not: {e}",
                        mail.message_id
                    ),
                )
                .with_source(e)
            })?;
            report.key_slips.push(KeySlipDelivery { to, message_id: slip_mail.message_id, reply });
        }
        Ok(report)
    }
}
