//! Sending in bounded memory: attachments read while the mail is packaged, the mail written to
//! an unnamed temporary file and uploaded from there.
//!
//! Why a file and not a size computed in advance: retries must send the same bytes (the same
//! Message-ID and envelope, so the receiving side can report a second copy as a duplicate), and
//! packaging twice would draw new keys and ids. The file also gives the exact size for the
//! server's SIZE before DATA without a second description of the layout. It holds only the
//! encrypted mail, is never linked into a directory, and goes when the call returns.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use esmtp_core::Sealer;
use esmtp_core::X25519Recipient;
use esmtp_core::mime::{self, AttachmentSource, MailDraft, Mailbox, StreamedMail};

use super::Submit;
use super::secure::{
    KeySlipDelivery, SendOptions, SendReport, key_slip_mail, package_options, packaging, rules_for,
    send_key_slips, with_retry,
};
use crate::account::Account;
use crate::error::{Error, ErrorKind, Result};

/// A mail sealed and packaged as its account sends it, written to a caller's writer rather than
/// held (see [`Account::package_to`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct StreamedPackage {
    /// What was written: ids, size, key slip.
    pub mail: StreamedMail,
    /// Its date, Unix seconds: the draft's, or the time it was packaged.
    pub date: i64,
    /// Who signed the envelope, `None` when unsigned.
    pub signer: Option<X25519Recipient>,
    /// Whether the envelope was sealed to the sender too.
    pub encrypted_to_self: bool,
}

impl StreamedPackage {
    /// As [`super::PackagedMail::key_slip_mail`].
    ///
    /// # Errors
    /// [`ErrorKind::InvalidDraft`] when `to` is not an address.
    pub fn key_slip_mail(&self, from: &Mailbox, to: &str) -> Result<Option<mime::KeySlipMail>> {
        key_slip_mail(self.mail.key_slip.as_ref(), from, to, self.date)
    }
}

impl Account {
    /// [`Account::package`] in bounded memory: `attachments` are read while the mail is written
    /// into `out` ([`mime::package_to`]), after the draft's own attachments.
    ///
    /// # Errors
    /// As [`Account::package`], and [`ErrorKind::Io`] when an attachment cannot be read (or
    /// has another length than declared) or `out` fails; what was written is then no mail.
    pub fn package_to<W: Write>(
        &self,
        draft: &MailDraft,
        attachments: Vec<AttachmentSource<'_>>,
        sealer: Sealer,
        options: &SendOptions,
        out: W,
    ) -> Result<StreamedPackage> {
        let rules = self.sending_rules(draft, sealer, options)?;
        let mut packaged = package_to_as_is(draft, attachments, &rules.sealer, options, out)?;
        packaged.signer = rules.signer;
        packaged.encrypted_to_self = rules.to_self;
        Ok(packaged)
    }
}

fn package_to_as_is<W: Write>(
    draft: &MailDraft,
    attachments: Vec<AttachmentSource<'_>>,
    sealer: &Sealer,
    options: &SendOptions,
    out: W,
) -> Result<StreamedPackage> {
    let package = package_options(draft, options);
    let mail = mime::package_to(draft, attachments, sealer, &package, out).map_err(packaging)?;
    Ok(StreamedPackage { mail, date: package.date, signer: None, encrypted_to_self: false })
}

fn temp_failure(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, "the temporary copy of the mail could not be written or read").with_source(e)
}

/// [`Submit::send_secure_streaming`].
pub(super) fn send_secure_streaming<S: Submit + ?Sized>(
    submitter: &S,
    draft: &MailDraft,
    attachments: Vec<AttachmentSource<'_>>,
    sealer: Sealer,
    options: &SendOptions,
) -> Result<SendReport> {
    let rules = rules_for(submitter, draft, sealer, options)?;
    let mut file = tempfile::tempfile().map_err(temp_failure)?;
    let packaged = {
        let mut out = BufWriter::with_capacity(64 * 1024, &mut file);
        let packaged = package_to_as_is(draft, attachments, &rules.sealer, options, &mut out)?;
        out.flush().map_err(temp_failure)?;
        packaged
    };
    let mail = &packaged.mail;
    let recipients = draft.smtp_recipients();
    let reply = with_retry(options.retry, || {
        rewind(&mut file)?;
        submitter.send_raw_from(&draft.from.address, &recipients, &mut file, mail.size, mail.smtputf8)
    })?;
    drop(file);
    let key_slips: Vec<KeySlipDelivery> =
        send_key_slips(submitter, draft, &mail.message_id, mail.key_slip.as_ref(), packaged.date, options)?;
    Ok(SendReport {
        message_id: mail.message_id.clone(),
        envelope_id: mail.envelope_id,
        size: usize::try_from(mail.size).unwrap_or(usize::MAX),
        reply,
        key_slips,
        signer: rules.signer,
        encrypted_to_self: rules.to_self,
    })
}

fn rewind(file: &mut File) -> Result<()> {
    file.seek(SeekFrom::Start(0)).map(drop).map_err(temp_failure)
}
