//! `esmtp send`: seal a mail end to end (signed and sealed to the sender too, as the account
//! says), package it, submit it (or write it as a draft); the key slip, if any, goes separately:
//! mailed to another address, or to a file for another channel. The account's sending rules
//! (allowed From, signature, encrypt-to-self) are the library's ([`Account::package`]).

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use esmtp_core::mime::{AttachmentSource, MailDraft, Mailbox};
use esmtp_core::{KeySlip, Passphrase, Sealer, X25519Recipient};
use esmtp_transport::account_file::Login;
use esmtp_transport::{Account, SendOptions, Submit, SubmitReply, Submitter};

use crate::args_mail::{SealTo, SendArgs};
use crate::atomic::AtomicFile;
use crate::failure::{Failure, Result};
use crate::files::{self, FORCE_HINT, KEEP_HINT, MAIL_LIMIT};
use crate::keys;
use crate::mail::{Needs, load_account, transport_failure};
use crate::seal::warn_if_legacy;
use crate::text::clean;

fn print_reply(what: &str, message_id: &str, reply: &SubmitReply) {
    println!("{what}Message-ID: <{message_id}>");
    let enhanced = reply.enhanced.as_deref().map(|e| format!("{e} ")).unwrap_or_default();
    println!("{what}Server reply: {} {enhanced}{}", reply.code, clean(&reply.text));
}

/// Where a mail and its key slip go.
pub struct Delivery<'a> {
    /// Write the sealed mail here instead of submitting it (and whether to replace a file).
    pub draft: Option<(&'a Path, bool)>,
    /// Mail the key slip on its own to this address.
    pub key_slip_to: Option<String>,
    /// Write the key slip to this file (`-`: standard output).
    pub key_slip_out: Option<PathBuf>,
    /// Sign with the account's identity (`--no-sign` turns it off).
    pub sign: bool,
    /// Seal to the account's identity too (`--no-self` turns it off).
    pub to_self: bool,
}

impl Delivery<'_> {
    fn wants_slip(&self) -> bool {
        self.key_slip_to.is_some() || self.key_slip_out.is_some()
    }

    /// Refuse outputs that exist before anything is sealed or sent.
    fn check(&self) -> Result<()> {
        if let Some((path, false)) = self.draft
            && path.symlink_metadata().is_ok()
        {
            return Err(Failure::exists(path, FORCE_HINT));
        }
        if let Some(path) = &self.key_slip_out
            && !files::is_stdio(Some(path))
            && path.symlink_metadata().is_ok()
        {
            return Err(Failure::exists(path, KEEP_HINT));
        }
        Ok(())
    }
}

/// The sealer of `-r`, `-R`, a passphrase, and a key slip when `slip`.
pub fn sealer(seal: &SealTo, passphrase: Option<&str>, slip: bool) -> Result<Sealer> {
    let recipients = keys::recipients(&seal.recipients, &seal.recipients_files)?;
    if recipients.is_empty() && passphrase.is_none() && !slip {
        return Err(Failure::usage("no recipient to seal to: refusing to send a mail nobody can open").hint(
            "give -r RECIPIENT, -R RECIPIENTS_FILE, --passphrase-file F, -p, --key-slip-to ADDR or --key-slip-out FILE",
        ));
    }
    warn_if_legacy(seal.suite);
    let mut sealer = Sealer::new().suite(seal.suite);
    for r in recipients {
        sealer = sealer.recipient(r);
    }
    if let Some(p) = passphrase {
        sealer = sealer.recipient(Passphrase::new(p));
    }
    if slip {
        sealer = sealer.key_slip();
    }
    Ok(sealer)
}

pub fn run(args: SendArgs) -> Result<()> {
    let delivery = Delivery {
        draft: args.draft.as_deref().map(|p| (p, args.force)),
        key_slip_to: args.key_slip_to.clone(),
        key_slip_out: args.key_slip_out.clone(),
        sign: !args.seal.no_sign,
        to_self: !args.seal.no_self,
    };
    delivery.check()?;
    let passphrase = keys::sealing_passphrase(&args.passphrase, args.passphrase_prompt)?;
    let sealer = sealer(&args.seal, passphrase.as_ref().map(|p| p.as_str()), delivery.wants_slip())?;
    let login = if delivery.draft.is_some() { Login::NotNeeded } else { Login::Needed };
    let account = load_account(&args.account, Needs { login, identity: true, verbose: args.verbose })?;

    let body = files::read_limited(args.body.as_deref().unwrap_or(Path::new("-")), MAIL_LIMIT)?;
    let body = String::from_utf8(body).map_err(|_| {
        Failure::usage("the body is not UTF-8 text").hint("send binary files with --attach FILE")
    })?;
    let from = args.seal.from.clone().unwrap_or_else(|| account.address().to_string());
    let mut draft = MailDraft::new(Mailbox::new(from)).subject(&args.subject).text(body);
    for to in &args.to {
        draft = draft.to(Mailbox::new(to));
    }
    for cc in &args.cc {
        draft = draft.cc(Mailbox::new(cc));
    }
    for bcc in &args.bcc {
        draft = draft.bcc(Mailbox::new(bcc));
    }
    let attachments = args.attach.iter().map(|path| attachment(path)).collect::<Result<Vec<_>>>()?;
    // Base64 makes the mail at least 4/3 of its attachments; esmtp's readers stop at MAIL_LIMIT.
    let attached = attachments.iter().fold(0u64, |sum, a| sum.saturating_add(a.len));
    if attached.saturating_mul(4) / 3 > MAIL_LIMIT {
        eprintln!(
            "esmtp: warning: {} MiB of attachments make a mail above {} MiB, which esmtp's fetch and \
             read refuse to open",
            attached >> 20,
            MAIL_LIMIT >> 20
        );
    }
    deliver(&account, draft, attachments, sealer, &delivery)
}

/// `--attach FILE`: a regular file is read while the mail is packaged, so it is never held
/// whole; standard input or a pipe is read first (it has no length to announce).
fn attachment(path: &Path) -> Result<AttachmentSource<'static>> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let kind = "application/octet-stream";
    if !files::is_stdio(Some(path)) {
        let file = File::open(path).map_err(|e| Failure::read(path, &e))?;
        let meta = file.metadata().map_err(|e| Failure::read(path, &e))?;
        if meta.is_file() {
            if meta.len() > MAIL_LIMIT {
                return Err(Failure::usage(format!(
                    "{} is larger than {} MiB",
                    path.display(),
                    MAIL_LIMIT >> 20
                )));
            }
            let reader = Named { file, path: path.to_path_buf() };
            return Ok(AttachmentSource::new(name, kind, meta.len(), reader));
        }
    }
    let data = files::read_limited(path, MAIL_LIMIT)?;
    Ok(AttachmentSource::new(name, kind, data.len() as u64, io::Cursor::new(data)))
}

/// An attachment file whose read errors name it.
struct Named {
    file: File,
    path: PathBuf,
}

impl Read for Named {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }
}

/// Say on standard error who signed the mail and whether a readable copy was sealed to the
/// sender, or why the mail is unsigned when that was not asked for.
fn say_sealed(account: &Account, delivery: &Delivery<'_>, signer: Option<&X25519Recipient>, to_self: bool) {
    let mut said = Vec::new();
    match signer {
        Some(signer) => said.push(format!("signed by {signer}")),
        None if delivery.sign && account.identity().is_none() => said.push(
            "unsigned, as the account file names no identity_file: the receivers cannot tell who wrote it"
                .to_string(),
        ),
        None => said.push("unsigned (--no-sign)".to_string()),
    }
    if to_self {
        said.push("sealed to you too, so your Sent copy stays readable".to_string());
    }
    eprintln!("esmtp: {}", said.join("; "));
}

/// Seal, package and submit `draft` with `attachments` streamed after its own (or write it),
/// then hand the key slip on as `delivery` says. The mail is never whole in memory: it is
/// packaged into the draft file, or into an unnamed temporary file it is sent from.
pub fn deliver(
    account: &Account,
    draft: MailDraft,
    attachments: Vec<AttachmentSource<'_>>,
    sealer: Sealer,
    delivery: &Delivery<'_>,
) -> Result<()> {
    if let Some(to) = &delivery.key_slip_to
        && draft.smtp_recipients().iter().any(|r| r.eq_ignore_ascii_case(to))
    {
        eprintln!(
            "esmtp: warning: the key slip goes to {to}, who also receives the mail: whoever can read \
             that mailbox (or its server) holds both and can read the message"
        );
    }
    let options = SendOptions {
        key_slip_to: delivery.key_slip_to.clone(),
        sign: delivery.sign,
        encrypt_to_self: delivery.to_self,
        ..SendOptions::default()
    };
    if delivery.draft.is_none() && delivery.key_slip_out.is_none() {
        // The library's whole flow: the mail, then the key slip mailed on its own.
        let submitter = Submitter::new(account).map_err(|e| transport_failure(&e))?;
        let report = submitter
            .send_secure_streaming(&draft, attachments, sealer, &options)
            .map_err(|e| transport_failure(&e))?;
        print_reply("", &report.message_id, &report.reply);
        for slip in &report.key_slips {
            print_reply("Key slip ", &slip.message_id, &slip.reply);
        }
        say_sealed(account, delivery, report.signer.as_ref(), report.encrypted_to_self);
        submitter.close();
        return Ok(());
    }
    match delivery.draft {
        Some((path, force)) => {
            let mut file = AtomicFile::create(path, force, FORCE_HINT)?;
            let packaged = account
                .package_to(&draft, attachments, sealer, &options, &mut file)
                .map_err(|e| transport_failure(&e))?;
            // The key slip is safe on disk (or printed) before the mail appears.
            if let (Some(slip_path), Some(slip)) = (&delivery.key_slip_out, &packaged.mail.key_slip) {
                write_slip(slip_path, slip)?;
            }
            file.commit(FORCE_HINT)?;
            println!("Message-ID: <{}>", packaged.mail.message_id);
            println!("Draft: {} ({} bytes, not sent)", path.display(), packaged.mail.size);
            say_sealed(account, delivery, packaged.signer.as_ref(), packaged.encrypted_to_self);
        }
        None => {
            let mut temp =
                tempfile::tempfile().map_err(|e| Failure::io("cannot create a temporary file", &e))?;
            let packaged = {
                let mut out = io::BufWriter::with_capacity(64 * 1024, &mut temp);
                let packaged = account
                    .package_to(&draft, attachments, sealer, &options, &mut out)
                    .map_err(|e| transport_failure(&e))?;
                out.flush().map_err(|e| Failure::io("cannot write a temporary file", &e))?;
                packaged
            };
            let mail = &packaged.mail;
            // The key slip is safe on disk (or printed) before the mail leaves: a mail whose key
            // is lost would be worse than a slip for a mail that was not sent.
            if let (Some(path), Some(slip)) = (&delivery.key_slip_out, &mail.key_slip) {
                write_slip(path, slip)?;
            }
            temp.seek(io::SeekFrom::Start(0)).map_err(|e| Failure::io("cannot read a temporary file", &e))?;
            let submitter = Submitter::new(account).map_err(|e| transport_failure(&e))?;
            let reply = submitter
                .send_raw_from(
                    &draft.from.address,
                    &draft.smtp_recipients(),
                    &mut temp,
                    mail.size,
                    mail.smtputf8,
                )
                .map_err(|e| transport_failure(&e))?;
            print_reply("", &mail.message_id, &reply);
            say_sealed(account, delivery, packaged.signer.as_ref(), packaged.encrypted_to_self);
            submitter.close();
        }
    }
    Ok(())
}

/// The key slip to a file (mode 0600, never over an existing one) or standard output.
fn write_slip(path: &Path, slip: &KeySlip) -> Result<()> {
    let id = slip.envelope_id();
    let token = slip.to_token();
    if files::is_stdio(Some(path)) {
        println!("Key slip: {}", token.as_str());
        return Ok(());
    }
    let text = zeroize::Zeroizing::new(format!("# esmtp key slip for envelope {id}\n{}\n", token.as_str()));
    files::write_secret(path, &text)?;
    eprintln!(
        "esmtp: key slip for envelope {id} written to {}: hand it over by another channel",
        path.display()
    );
    Ok(())
}
