//! Sending: one SMTP session per mailer, reused, safe to share between threads. Every call
//! that talks to the server is async.

use std::sync::Arc;

use crate::account::Account;
use crate::envelope::SealOptions;
use crate::error::{Failure, Result};
use crate::keys::{PublicKey, public_key};
use crate::mail::Draft;
use crate::runtime::blocking;

/// What a server offers after EHLO (over TLS, before any login).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Capabilities {
    /// The SIZE limit in bytes (0: announced without a number).
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

/// How a mail is sent. Unset fields take esmtp's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct SendOptions {
    /// The outer subject standing in for the real one (default `...`).
    #[uniffi(default)]
    pub subject_placeholder: Option<String>,
    /// Where the key slip goes (when the seal options make one): unset for every recipient (the
    /// paper's flow), else this address only.
    #[uniffi(default)]
    pub key_slip_to: Option<String>,
    /// Sign with the account's identity when it has one (default true).
    #[uniffi(default)]
    pub sign: Option<bool>,
    /// Submit at most this many times while the failure may pass (default 1). Every attempt
    /// sends the same bytes; a second copy that arrives is reported as a duplicate on fetch.
    #[uniffi(default)]
    pub attempts: Option<u32>,
    /// Milliseconds before the second attempt (default 1000); each further wait doubles.
    #[uniffi(default)]
    pub retry_delay_ms: Option<u64>,
}

impl From<SendOptions> for esmtp_ffi::SendOptions {
    fn from(o: SendOptions) -> Self {
        let d = esmtp_ffi::SendOptions::default();
        esmtp_ffi::SendOptions {
            subject_placeholder: o.subject_placeholder,
            key_slip_to: o.key_slip_to,
            sign: o.sign.unwrap_or(d.sign),
            attempts: o.attempts.unwrap_or(d.attempts),
            retry_delay_ms: o.retry_delay_ms.unwrap_or(d.retry_delay_ms),
        }
    }
}

/// A key-slip mail that was sent.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KeySlipSent {
    /// To whom.
    pub to: String,
    /// Its Message-ID.
    pub message_id: String,
}

/// What sending did.
#[derive(uniffi::Record)]
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

impl From<esmtp_ffi::SendReport> for SendReport {
    fn from(r: esmtp_ffi::SendReport) -> Self {
        SendReport {
            message_id: r.message_id,
            envelope_id: r.envelope_id,
            size: r.size,
            reply_code: r.reply_code,
            reply_text: r.reply_text,
            signer: r.signer.map(public_key),
            encrypted_to_self: r.encrypted_to_self,
            key_slips: r
                .key_slips
                .into_iter()
                .map(|k| KeySlipSent { to: k.to, message_id: k.message_id })
                .collect(),
        }
    }
}

/// One mail of a batch: its report, or why it was not sent.
#[derive(uniffi::Record)]
pub struct BatchResult {
    /// The report, when sent.
    pub report: Option<SendReport>,
    /// The failure, when not.
    pub error: Option<Failure>,
}

/// Sends sealed mail through an account's SMTP server.
#[derive(uniffi::Object)]
pub struct Mailer(Arc<esmtp_ffi::Mailer>);

#[uniffi::export]
impl Mailer {
    /// A mailer for `account` (does not connect yet).
    #[uniffi::constructor]
    pub fn new(account: Arc<Account>) -> Result<Arc<Mailer>> {
        Ok(Arc::new(Mailer(esmtp_ffi::Mailer::new(&account.0)?)))
    }

    /// The server's extensions.
    pub async fn capabilities(&self) -> Result<Capabilities> {
        let mailer = self.0.clone();
        let c = blocking(move || mailer.capabilities()).await?;
        Ok(Capabilities {
            size_limit: c.size_limit,
            auth: c.auth,
            eight_bit_mime: c.eight_bit_mime,
            smtputf8: c.smtputf8,
            pipelining: c.pipelining,
            lines: c.lines,
        })
    }

    /// Seal `draft` as `seal` says, package it and send it to every To, Cc and Bcc; then the key
    /// slip, if any, as its own mail. A send runs to its end even when the awaiting coroutine or
    /// task is cancelled (a mail half sent is worse than one sent late).
    pub async fn send_secure(
        &self,
        draft: Draft,
        seal: SealOptions,
        options: SendOptions,
    ) -> Result<SendReport> {
        let (mailer, draft, seal, options) = (self.0.clone(), draft.into(), seal.into(), options.into());
        Ok(blocking(move || mailer.send_secure(&draft, &seal, &options)).await?.into())
    }

    /// Send several mails over the one session; each gets its own result.
    pub async fn send_batch(
        &self,
        drafts: Vec<Draft>,
        seal: SealOptions,
        options: SendOptions,
    ) -> Result<Vec<BatchResult>> {
        let drafts: Vec<esmtp_ffi::Draft> = drafts.into_iter().map(Into::into).collect();
        let (mailer, seal, options) = (self.0.clone(), seal.into(), options.into());
        let results = blocking(move || Ok(mailer.send_batch(&drafts, &seal, &options))).await?;
        Ok(results
            .into_iter()
            .map(|r| BatchResult {
                report: r.report.map(Into::into),
                error: r.error.as_ref().map(Failure::from),
            })
            .collect())
    }

    /// End the session (QUIT); the next send opens a new one. (Not `close`: Kotlin objects have
    /// that already, for freeing the object.)
    pub async fn disconnect(&self) -> Result<()> {
        let mailer = self.0.clone();
        blocking(move || {
            mailer.close();
            Ok(())
        })
        .await
    }
}
