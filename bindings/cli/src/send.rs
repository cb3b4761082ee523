//! `esmtp send`: seal a mail end to end, package it, submit it; optionally mail the key slip
//! separately (the paper's flow).

use std::path::{Path, PathBuf};

use clap::Args;
use esmtp_core::mime::{Attachment, MailDraft, Mailbox};
use esmtp_core::{Passphrase, Sealer};
use esmtp_transport::account_file::Login;
use esmtp_transport::{SendOptions, Submit, SubmitReply, Submitter};

use crate::cli::{PassphraseSource, SuiteArg};
use crate::failure::{Failure, Result};
use crate::files;
use crate::keys;
use crate::mail::{load_account, transport_failure};

const EXAMPLES: &str = "\
Examples:
  esmtp send --account alice.toml --to bob@example.org -r esmtp1... --subject 'The plan' plan.txt
  echo 'See attached.' | esmtp send --account alice.toml --to bob@example.org -R bob.pub \\
      --attach report.pdf --subject Report
  esmtp send --account alice.toml --to bob@example.org --suite des-cbc-md5 \\
      --key-slip-to bob.private@example.net note.txt";

/// Seal a mail end to end and submit it through the account's SMTP server.
///
/// The body (BODY_FILE, or standard input) is UTF-8 text; the real subject, the body and every
/// attachment travel only inside the envelope, and the server sees `Subject: ...`. Seal to the
/// receivers' public recipients (-r, -R), to a passphrase, and/or with --key-slip-to to a key
/// slip that is mailed on its own to that address, the paper's flow: whoever reads both mails
/// can open the message, so send the slip to an address only the receiver reads.
///
/// Prints the Message-ID and the server's reply (and those of the key-slip mail).
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
#[command(after_long_help = format!("{EXAMPLES}\n\n{}", crate::cli::ACCOUNT_FILE_HELP))]
pub struct SendArgs {
    /// The account file (TOML; its fields are listed under --help)
    #[arg(long, value_name = "FILE")]
    pub account: PathBuf,
    /// A receiver; repeatable
    #[arg(long, value_name = "ADDR", required = true)]
    pub to: Vec<String>,
    /// A copy receiver; repeatable
    #[arg(long, value_name = "ADDR")]
    pub cc: Vec<String>,
    /// A blind copy receiver (delivery only: named in no header, not even inside); repeatable
    #[arg(long, value_name = "ADDR")]
    pub bcc: Vec<String>,
    /// The subject (protected: it travels inside the envelope)
    #[arg(long, value_name = "S", default_value = "")]
    pub subject: String,
    /// Attach a file; repeatable
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,
    /// The cipher suite
    #[arg(long, value_enum, default_value_t = SuiteArg::ChaCha20Poly1305, value_name = "SUITE")]
    pub suite: SuiteArg,
    /// Seal to this public recipient (esmtp1...); repeatable
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// Seal to every recipient listed in this file; repeatable
    #[arg(short = 'R', long = "recipients-file", value_name = "RECIPIENTS_FILE")]
    pub recipients_files: Vec<PathBuf>,
    #[command(flatten)]
    pub passphrase: PassphraseSource,
    /// Also seal to a key slip and mail it separately to ADDR
    #[arg(long, value_name = "ADDR")]
    pub key_slip_to: Option<String>,
    /// The body (standard input when omitted or `-`)
    #[arg(value_name = "BODY_FILE")]
    pub body: Option<PathBuf>,
}

fn print_reply(what: &str, message_id: &str, reply: &SubmitReply) {
    println!("{what}Message-ID: <{message_id}>");
    let enhanced = reply.enhanced.as_deref().map(|e| format!("{e} ")).unwrap_or_default();
    println!("{what}Server reply: {} {enhanced}{}", reply.code, crate::fetch::clean(&reply.text));
}

pub fn run(args: SendArgs) -> Result<()> {
    let recipients = keys::recipients(&args.recipients, &args.recipients_files)?;
    let passphrase = keys::passphrase(&args.passphrase)?;
    if recipients.is_empty() && passphrase.is_none() && args.key_slip_to.is_none() {
        return Err(Failure::usage("no recipient to seal to: refusing to send a mail nobody can open")
            .hint("give -r RECIPIENT, -R RECIPIENTS_FILE, --passphrase-file F or --key-slip-to ADDR"));
    }
    let account = load_account(&args.account, Login::Needed)?;

    let body = files::read_small(args.body.as_deref().unwrap_or(Path::new("-")))?;
    let body = String::from_utf8(body).map_err(|_| {
        Failure::usage("the body is not UTF-8 text").hint("send binary files with --attach FILE")
    })?;
    let mut draft = MailDraft::new(Mailbox::new(account.address())).subject(&args.subject).text(body);
    for to in &args.to {
        draft = draft.to(Mailbox::new(to));
    }
    for cc in &args.cc {
        draft = draft.cc(Mailbox::new(cc));
    }
    for bcc in &args.bcc {
        draft = draft.bcc(Mailbox::new(bcc));
    }
    for path in &args.attach {
        let data = files::read_small(path)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        draft = draft.attachment(Attachment::new(name, "application/octet-stream", data));
    }

    let mut sealer = Sealer::new().suite(args.suite.suite());
    for r in recipients {
        sealer = sealer.recipient(r);
    }
    if let Some(p) = passphrase {
        sealer = sealer.recipient(Passphrase::new(p.as_str()));
    }
    if args.key_slip_to.is_some() {
        sealer = sealer.key_slip();
    }
    let options = SendOptions { key_slip_to: args.key_slip_to.clone(), ..SendOptions::default() };
    let submitter = Submitter::new(&account).map_err(|e| transport_failure(&e))?;
    let report = submitter.send_secure(&draft, &sealer, &options).map_err(|e| transport_failure(&e))?;
    print_reply("", &report.message_id, &report.reply);
    for slip in &report.key_slips {
        print_reply("Key slip ", &slip.message_id, &slip.reply);
    }
    submitter.close();
    Ok(())
}
