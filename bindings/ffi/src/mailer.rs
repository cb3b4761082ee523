//! Sending: one authenticated SMTP session per mailer, reused, safe to share between threads.

use std::sync::Arc;
use std::time::Duration;

use esmtp_transport::{Submit, Submitter};

use crate::account::Account;
use crate::envelope::SealOptions;
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::mail::Draft;

/// What a server offers after EHLO (over TLS, before any login).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// The SIZE limit in bytes (`Some(0)`: announced without a number).
    pub size_limit: Option<u64>,
    /// SASL mechanisms offered (`PLAIN`, `LOGIN`, `XOAUTH2`, ...).
    pub auth: Vec<String>,
    /// 8BITMIME.
    pub eight_bit_mime: bool,
    /// SMTPUTF8.
    pub smtputf8: bool,
    /// PIPELINING.
    pub pipelining: bool,
    /// Every keyword line as the server sent it.
    pub lines: Vec<String>,
}

/// How a mail is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOptions {
    /// The outer subject standing in for the real one (default `...`).
    pub subject_placeholder: Option<String>,
    /// Where the key slip goes (when the seal options make one): `None` to every recipient
    /// (the paper's flow: whoever reads both mails reads the message), else this address only.
    pub key_slip_to: Option<String>,
    /// Sign with the account's identity when it has one (default `true`).
    pub sign: bool,
    /// Submit at most this many times while the failure may pass (default 1: once). Every
    /// attempt sends the same bytes; a second copy that arrives is reported as a duplicate on
    /// fetch.
    pub attempts: u32,
    /// Milliseconds before the second attempt; each further wait doubles (at most 5 minutes).
    pub retry_delay_ms: u64,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            subject_placeholder: None,
            key_slip_to: None,
            sign: true,
            attempts: 1,
            retry_delay_ms: 1000,
        }
    }
}

/// A key-slip mail that was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySlipSent {
    /// To whom.
    pub to: String,
    /// Its Message-ID.
    pub message_id: String,
}

/// What sending did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// The encrypted mail's Message-ID.
    pub message_id: String,
    /// Its envelope id.
    pub envelope_id: String,
    /// Its size in bytes.
    pub size: u64,
    /// The server's reply code (250).
    pub reply_code: u16,
    /// The server's reply text.
    pub reply_text: String,
    /// The public key the mail was signed with (the account's identity), if signed.
    pub signer: Option<Arc<PublicKey>>,
    /// Whether the mail was sealed to the account's own identity too.
    pub encrypted_to_self: bool,
    /// The key-slip mails, after it.
    pub key_slips: Vec<KeySlipSent>,
}

/// One mail of a batch: its report, or why it was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult {
    /// The report, when sent.
    pub report: Option<SendReport>,
    /// The error, when not.
    pub error: Option<Error>,
}

/// Sends sealed mail through an account's SMTP server.
#[derive(Debug)]
pub struct Mailer(Submitter);

impl Mailer {
    /// A mailer for `account` (does not connect yet).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidArgument`] when the account has no SMTP server.
    pub fn new(account: &Account) -> Result<Arc<Mailer>> {
        Ok(Arc::new(Mailer(Submitter::new(&account.0)?)))
    }

    /// The server's extensions.
    ///
    /// # Errors
    /// Transport errors.
    pub fn capabilities(&self) -> Result<Capabilities> {
        let caps = self.0.capabilities()?;
        Ok(Capabilities {
            size_limit: caps.size,
            auth: caps.auth,
            eight_bit_mime: caps.eight_bit_mime,
            smtputf8: caps.smtputf8,
            pipelining: caps.pipelining,
            lines: caps.lines,
        })
    }

    /// Seal `draft` as `seal` says, package it and send it to every To, Cc and Bcc; then the key
    /// slip, if any, as its own mail.
    ///
    /// # Errors
    /// Transport errors ([`Error::transient`] says whether a retry may help), and as
    /// [`crate::build_mail`].
    pub fn send_secure(
        &self,
        draft: &Draft,
        seal: &SealOptions,
        options: &SendOptions,
    ) -> Result<SendReport> {
        let transport_options = esmtp_transport::SendOptions {
            subject_placeholder: options.subject_placeholder.clone(),
            key_slip_to: options.key_slip_to.clone(),
            sign: options.sign,
            retry: esmtp_transport::Retry::new(
                options.attempts,
                Duration::from_millis(options.retry_delay_ms),
            ),
            ..esmtp_transport::SendOptions::default()
        };
        let mut mime_draft = draft.to_mime();
        mime_draft.date = Some(draft.date.unwrap_or_else(crate::mail::now));
        let report = self.0.send_secure(&mime_draft, seal.sealer(), &transport_options)?;
        Ok(SendReport {
            message_id: report.message_id,
            envelope_id: report.envelope_id.to_string(),
            size: report.size as u64,
            reply_code: report.reply.code,
            reply_text: report.reply.text,
            signer: report.signer.map(|k| Arc::new(PublicKey(k))),
            encrypted_to_self: report.encrypted_to_self,
            key_slips: report
                .key_slips
                .into_iter()
                .map(|k| KeySlipSent { to: k.to, message_id: k.message_id })
                .collect(),
        })
    }

    /// Send several mails over the one session; each gets its own result.
    pub fn send_batch(
        &self,
        drafts: &[Draft],
        seal: &SealOptions,
        options: &SendOptions,
    ) -> Vec<BatchResult> {
        drafts
            .iter()
            .map(|d| match self.send_secure(d, seal, options) {
                Ok(report) => BatchResult { report: Some(report), error: None },
                Err(error) => BatchResult { report: None, error: Some(error) },
            })
            .collect()
    }

    /// End the session (QUIT); the next send opens a new one.
    pub fn close(&self) {
        self.0.close();
    }
}
