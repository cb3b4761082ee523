//! The paper's sending flow in one call: check the sender, seal (signed, and to the sender too),
//! package, submit, then deliver the key separately. The account's sending rules live here, once,
//! for [`Submit::send_secure`] and for callers that write the mail elsewhere
//! ([`Account::package`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use esmtp_core::mime::{self, EncryptedMail, MailDraft, Mailbox, PackageOptions};
use esmtp_core::{EnvelopeId, KeySlip, SealError, Sealer, X25519Recipient};

use super::{Submit, SubmitReply};
use crate::account::Account;
use crate::error::{Error, ErrorKind, Result};

/// How [`Submit::send_secure`] and [`Account::package`] send.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The outer subject, standing in for the real one (default `...`).
    pub subject_placeholder: Option<String>,
    /// The right-hand side of the generated Message-ID (default: the sender's domain).
    pub message_id_domain: Option<String>,
    /// Where key slips go (the paper's separate key delivery): `None` sends one key-slip mail to
    /// each recipient of the envelope, `Some(address)` one key-slip mail to that address only.
    pub key_slip_to: Option<String>,
    /// Sign with the account's identity when it has one (default `true`). The signature, inside
    /// the encryption, is what tells receivers who wrote the mail. The identity replaces any
    /// signer the sealer was given; with `false` such a signer stays (and is not reported in
    /// [`SendReport::signer`], which names the account's signature only).
    pub sign: bool,
    /// Also seal to the account's identity when the account encrypts to itself (default
    /// `true`; see [`crate::AccountBuilder::encrypt_to_self`]), so the copy the provider keeps in
    /// the Sent folder stays readable.
    pub encrypt_to_self: bool,
    /// Whether and how each mail is submitted again after a failure that may pass (default: no
    /// second attempt).
    pub retry: Retry,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            subject_placeholder: None,
            message_id_domain: None,
            key_slip_to: None,
            sign: true,
            encrypt_to_self: true,
            retry: Retry::ONCE,
        }
    }
}

/// How [`Submit::send_secure`] submits a mail again after a failure that may pass
/// ([`Error::is_transient`]: a 4xx reply, a broken connection, a timeout). Each mail is packaged
/// once and every attempt sends the same bytes, so a mail whose first attempt did reach the
/// server (see [`Error::may_have_been_delivered`]) arrives twice with the same Message-ID and
/// body, and the fetch side reports the second copy as a [`crate::Duplicate`]. A permanent
/// refusal is never tried again.
///
/// ```
/// use std::time::Duration;
/// use esmtp_transport::{Retry, SendOptions};
///
/// let options = SendOptions { retry: Retry::new(3, Duration::from_secs(2)), ..SendOptions::default() };
/// assert_eq!(options.retry.attempts, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// How many times one mail is submitted at most; 1 (or 0) means once.
    pub attempts: u32,
    /// The wait before the second attempt; each further wait is twice the one before, at most
    /// [`Retry::MAX_DELAY`].
    pub delay: Duration,
}

impl Retry {
    /// One attempt, no retry.
    pub const ONCE: Retry = Retry { attempts: 1, delay: Duration::ZERO };
    /// The longest wait between two attempts.
    pub const MAX_DELAY: Duration = Duration::from_secs(300);

    /// At most `attempts` attempts, the first wait `delay`.
    pub fn new(attempts: u32, delay: Duration) -> Self {
        Retry { attempts, delay }
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry::ONCE
    }
}

/// Submit `message`, again with the same bytes while the failure may pass and attempts are left.
fn submit<S: Submit + ?Sized>(
    submitter: &S,
    from: &str,
    recipients: &[String],
    message: &[u8],
    retry: Retry,
) -> Result<SubmitReply> {
    with_retry(retry, || submitter.send_raw(from, recipients, message))
}

/// Run `attempt` until it succeeds, fails for good, or the attempts run out.
pub(super) fn with_retry(
    retry: Retry,
    mut attempt: impl FnMut() -> Result<SubmitReply>,
) -> Result<SubmitReply> {
    let mut wait = retry.delay.min(Retry::MAX_DELAY);
    let mut tried = 1;
    loop {
        match attempt() {
            Err(e) if e.is_transient() && tried < retry.attempts => {
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2).min(Retry::MAX_DELAY);
                tried += 1;
            }
            result => return result,
        }
    }
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

/// What [`Submit::send_secure`] did.
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
    /// Who signed the envelope (the account's public key), `None` when it went out unsigned.
    pub signer: Option<X25519Recipient>,
    /// Whether the envelope was sealed to the sender too (a readable Sent copy).
    pub encrypted_to_self: bool,
}

/// A mail sealed and packaged as its account sends it, not submitted (see [`Account::package`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct PackagedMail {
    /// The mail, ready for SMTP `DATA` or a file, with its key slip if the sealer made one.
    pub mail: EncryptedMail,
    /// Its date, Unix seconds: the draft's, or the time it was packaged.
    pub date: i64,
    /// Who signed the envelope, `None` when unsigned.
    pub signer: Option<X25519Recipient>,
    /// Whether the envelope was sealed to the sender too.
    pub encrypted_to_self: bool,
}

impl PackagedMail {
    /// The key-slip mail for `to`, when the mail has a key slip: from the mail's sender, dated
    /// as the mail. Its bytes hold the key.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidDraft`] when `to` is not an address.
    pub fn key_slip_mail(&self, from: &Mailbox, to: &str) -> Result<Option<mime::KeySlipMail>> {
        key_slip_mail(self.mail.key_slip.as_ref(), from, to, self.date)
    }
}

/// The key-slip mail of `slip` for `to`, dated `date`.
pub(super) fn key_slip_mail(
    slip: Option<&KeySlip>,
    from: &Mailbox,
    to: &str,
    date: i64,
) -> Result<Option<mime::KeySlipMail>> {
    let Some(slip) = slip else { return Ok(None) };
    mime::key_slip_mail(slip, from, &Mailbox::new(to), date).map(Some).map_err(packaging)
}

pub(super) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

pub(super) fn packaging(e: mime::MimeError) -> Error {
    match e {
        mime::MimeError::Io(_) => {
            Error::new(ErrorKind::Io, "reading an attachment or writing the packaged mail failed")
        }
        mime::MimeError::InvalidDraft(_) => {
            Error::new(ErrorKind::InvalidDraft, "the draft cannot be packaged as a mail")
        }
        _ => Error::new(ErrorKind::Encryption, "sealing or packaging the mail failed"),
    }
    .with_source(e)
}

/// The error for a `From` the account may not use; names the address (not a secret), never the
/// account's other addresses.
pub(crate) fn from_not_allowed(from: &str) -> Error {
    Error::new(
        ErrorKind::FromNotAllowed,
        format!("From <{}> is neither the account's address nor one of its allowed aliases", from.trim()),
    )
}

impl Account {
    /// Seal and package `draft` as this account sends it, without submitting it: for a mail
    /// written to a file, or sent by other means. [`Submit::send_secure`] does the same before
    /// it submits.
    ///
    /// - The draft's `From` must be the account's address or an alias
    ///   ([`crate::AccountBuilder::alias`]); anything else is refused with
    ///   [`ErrorKind::FromNotAllowed`] before anything is sealed.
    /// - With [`SendOptions::sign`] and an identity ([`crate::AccountBuilder::identity`]) the
    ///   envelope is signed with it.
    /// - With [`SendOptions::encrypt_to_self`] and an account that encrypts to itself, the
    ///   account's own public key is added as a recipient, so the Sent copy stays readable. The
    ///   sealer must have a recipient (or a key slip) of its own all the same: a mail only its
    ///   sender could open is refused.
    ///
    /// ```
    /// use esmtp_core::mime::{self, Limits, MailDraft, Mailbox, ReadMail};
    /// use esmtp_core::{Opener, Sealer, X25519Identity};
    /// use esmtp_transport::{Account, Credentials, ErrorKind, Secret, SendOptions};
    ///
    /// let (alice, bob) = (X25519Identity::generate()?, X25519Identity::generate()?);
    /// let account = Account::builder("alice@example.org", Credentials::Password(Secret::new("pw")))
    ///     .identity(alice.clone())
    ///     .build()?;
    /// let draft = MailDraft::new(Mailbox::new("alice@example.org")).to(Mailbox::new("bob@example.org"));
    /// let packaged = account.package(&draft, Sealer::new().recipient(bob.to_public()), &SendOptions::default())?;
    /// assert_eq!(packaged.signer, Some(alice.to_public()));
    /// // The Sent copy opens with alice's own key.
    /// let read = mime::read_mail(&packaged.mail.bytes, &Opener::new().identity(alice), &Limits::default())?;
    /// assert!(matches!(read, ReadMail::Encrypted(_)));
    ///
    /// let forged = MailDraft::new(Mailbox::new("boss@example.org")).to(Mailbox::new("bob@example.org"));
    /// let err = account.package(&forged, Sealer::new().recipient(bob.to_public()), &SendOptions::default()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::FromNotAllowed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::FromNotAllowed`], [`ErrorKind::InvalidDraft`] when the draft cannot be
    /// packaged, [`ErrorKind::Encryption`] when sealing fails (also: no recipient).
    pub fn package(&self, draft: &MailDraft, sealer: Sealer, options: &SendOptions) -> Result<PackagedMail> {
        let rules = self.sending_rules(draft, sealer, options)?;
        let mut packaged = package_as_is(draft, &rules.sealer, options)?;
        packaged.signer = rules.signer;
        packaged.encrypted_to_self = rules.to_self;
        Ok(packaged)
    }

    /// The sealer as the account sends: the `From` checked, signed and sealed to the sender as
    /// [`Account::package`] says.
    pub(super) fn sending_rules(
        &self,
        draft: &MailDraft,
        sealer: Sealer,
        options: &SendOptions,
    ) -> Result<Rules> {
        if !self.may_send_as(&draft.from.address) {
            return Err(from_not_allowed(&draft.from.address));
        }
        if !sealer.has_recipients() {
            // Checked before the sender's own key is added: that alone would make a mail only
            // its sender can read.
            return Err(packaging(mime::MimeError::Seal(SealError::NoRecipients)));
        }
        let mut sealer = sealer;
        let mut signer = None;
        let mut to_self = false;
        if let Some(identity) = &self.identity {
            if options.sign {
                sealer = sealer.sign_with(identity.clone());
                signer = Some(identity.to_public());
            }
            if options.encrypt_to_self && self.encrypt_to_self {
                sealer = sealer.recipient(identity.to_public());
                to_self = true;
            }
        }
        Ok(Rules { sealer, signer, to_self })
    }
}

/// A sealer under an account's sending rules, and what they added.
pub(super) struct Rules {
    pub(super) sealer: Sealer,
    pub(super) signer: Option<X25519Recipient>,
    pub(super) to_self: bool,
}

/// The sealer for a submitter: under its account's rules when it has one, else as given.
pub(super) fn rules_for<S: Submit + ?Sized>(
    submitter: &S,
    draft: &MailDraft,
    sealer: Sealer,
    options: &SendOptions,
) -> Result<Rules> {
    match submitter.account() {
        Some(account) => account.sending_rules(draft, sealer, options),
        None => Ok(Rules { sealer, signer: None, to_self: false }),
    }
}

/// The core's packaging options for `draft`: dated now when it has no date (the core has no
/// clock), with the placeholder subject and message id domain of `options`.
pub(super) fn package_options(draft: &MailDraft, options: &SendOptions) -> PackageOptions {
    let mut package = PackageOptions::new(draft.date.unwrap_or_else(now));
    if let Some(subject) = &options.subject_placeholder {
        package.subject_placeholder = subject.clone();
    }
    package.message_id_domain = options.message_id_domain.clone();
    package
}

/// Package with the sealer as given: no account, so no sender rules.
fn package_as_is(draft: &MailDraft, sealer: &Sealer, options: &SendOptions) -> Result<PackagedMail> {
    let package = package_options(draft, options);
    let mail = mime::package(draft, sealer, &package).map_err(packaging)?;
    Ok(PackagedMail { mail, date: package.date, signer: None, encrypted_to_self: false })
}

/// [`Submit::send_secure`], for every submitter: under its account's rules when it has one
/// ([`Submit::account`]), else with the sealer as given.
pub(super) fn send_secure<S: Submit + ?Sized>(
    submitter: &S,
    draft: &MailDraft,
    sealer: Sealer,
    options: &SendOptions,
) -> Result<SendReport> {
    let rules = rules_for(submitter, draft, sealer, options)?;
    let packaged = package_as_is(draft, &rules.sealer, options)?;
    let mail = &packaged.mail;
    let reply = submit(submitter, &draft.from.address, &draft.smtp_recipients(), &mail.bytes, options.retry)?;
    let mut report = SendReport {
        message_id: mail.message_id.clone(),
        envelope_id: mail.envelope_id,
        size: mail.size,
        reply,
        key_slips: Vec::new(),
        signer: rules.signer,
        encrypted_to_self: rules.to_self,
    };
    report.key_slips =
        send_key_slips(submitter, draft, &report.message_id, mail.key_slip.as_ref(), packaged.date, options)?;
    Ok(report)
}

/// Once the encrypted mail `message_id` went out: its key slip, when it has one, as a mail of
/// its own to each recipient or to [`SendOptions::key_slip_to`].
pub(super) fn send_key_slips<S: Submit + ?Sized>(
    submitter: &S,
    draft: &MailDraft,
    message_id: &str,
    slip: Option<&KeySlip>,
    date: i64,
    options: &SendOptions,
) -> Result<Vec<KeySlipDelivery>> {
    let mut deliveries = Vec::new();
    if slip.is_none() {
        return Ok(deliveries);
    }
    let destinations = match &options.key_slip_to {
        Some(address) => vec![address.clone()],
        None => draft.smtp_recipients(),
    };
    let from = &draft.from.address;
    for to in destinations {
        let Some(slip_mail) = key_slip_mail(slip, &draft.from, &to, date)? else { break };
        let reply = submit(submitter, from, std::slice::from_ref(&to), &slip_mail.bytes, options.retry)
            .map_err(|e| {
                let kind = e.kind();
                e.context(
                    kind,
                    format!("the encrypted mail <{message_id}> was sent, but its key slip was not"),
                )
            })?;
        deliveries.push(KeySlipDelivery { to, message_id: slip_mail.message_id, reply });
    }
    Ok(deliveries)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use esmtp_core::mime::{MailDraft, Mailbox};

    use super::*;

    /// Fails the first `failures` submissions with `kind`, then takes every mail; keeps what it
    /// was handed each time.
    struct Flaky {
        failures: usize,
        kind: ErrorKind,
        seen: Mutex<Vec<Vec<u8>>>,
    }

    impl Submit for Flaky {
        fn send_raw(&self, _: &str, _: &[String], message: &[u8]) -> Result<SubmitReply> {
            let mut seen = self.seen.lock().unwrap();
            seen.push(message.to_vec());
            if seen.len() <= self.failures {
                return Err(Error::new(self.kind, "no"));
            }
            Ok(SubmitReply { code: 250, enhanced: None, text: "ok".into() })
        }
    }

    fn draft() -> MailDraft {
        MailDraft::new(Mailbox::new("alice@example.test")).to(Mailbox::new("bob@example.test")).text("hi")
    }

    fn options(attempts: u32) -> SendOptions {
        SendOptions { retry: Retry::new(attempts, Duration::from_millis(1)), ..SendOptions::default() }
    }

    #[test]
    fn a_transient_failure_is_retried_with_the_same_bytes() {
        let flaky = Flaky { failures: 2, kind: ErrorKind::Connection, seen: Mutex::default() };
        let sealer = Sealer::new().key_slip();
        let report = send_secure(&flaky, &draft(), sealer, &options(3)).unwrap();
        let seen = flaky.seen.lock().unwrap();
        // Three attempts for the envelope, all the same mail; then the key slip once.
        assert_eq!(seen.len(), 4);
        assert!(seen[0] == seen[1] && seen[1] == seen[2]);
        assert_ne!(seen[2], seen[3]);
        assert_eq!(report.key_slips.len(), 1);
    }

    #[test]
    fn a_streamed_mail_is_retried_with_the_same_bytes() {
        let flaky = Flaky { failures: 2, kind: ErrorKind::Connection, seen: Mutex::default() };
        let data = vec![5u8; 100_000];
        let source = mime::AttachmentSource::new("a.bin", "application/octet-stream", 100_000, &data[..]);
        let report = flaky
            .send_secure_streaming(&draft(), vec![source], Sealer::new().key_slip(), &options(3))
            .unwrap();
        let seen = flaky.seen.lock().unwrap();
        assert_eq!(seen.len(), 4, "three attempts for the mail, then the key slip");
        assert!(seen[0] == seen[1] && seen[1] == seen[2]);
        assert_eq!(seen[0].len(), report.size);
        assert_eq!(report.key_slips.len(), 1);
    }

    #[test]
    fn attempts_run_out_and_permanent_failures_are_not_retried() {
        let flaky = Flaky { failures: 5, kind: ErrorKind::Timeout, seen: Mutex::default() };
        let err = send_secure(&flaky, &draft(), Sealer::new().key_slip(), &options(3)).unwrap_err();
        assert_eq!((err.kind(), flaky.seen.lock().unwrap().len()), (ErrorKind::Timeout, 3));
        let refused = Flaky { failures: 5, kind: ErrorKind::Permanent, seen: Mutex::default() };
        assert!(send_secure(&refused, &draft(), Sealer::new().key_slip(), &options(3)).is_err());
        assert_eq!(refused.seen.lock().unwrap().len(), 1);
        let once = Flaky { failures: 1, kind: ErrorKind::Transient, seen: Mutex::default() };
        assert!(send_secure(&once, &draft(), Sealer::new().key_slip(), &SendOptions::default()).is_err());
        assert_eq!(once.seen.lock().unwrap().len(), 1, "no retry by default");
    }
}
