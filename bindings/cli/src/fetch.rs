//! `esmtp fetch`: retrieve over IMAP or POP3, open every esmtp mail, list all, save on request.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use esmtp_core::mime::{MailHeaders, OpenedMail};
use esmtp_transport::{
    FetchScope, Fetched, ImapClient, ImapFetchOptions, ImapSyncState, MessageError, MessageRef, Pop3Client,
    Pop3FetchOptions, Pop3SyncState, Retrieved,
};

use crate::cli::PassphraseSource;
use crate::failure::{Code, Failure, Result};
use crate::mail::{load_account, transport_failure};
use crate::{progress, saved};
use esmtp_transport::account_file::Login;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Protocol {
    #[default]
    Imap,
    Pop3,
}

const EXAMPLES: &str = "\
Examples:
  esmtp fetch --account bob.toml -i bob.key
  esmtp fetch --account bob.toml --protocol pop3 -i bob.key --out mail/
  esmtp fetch --account bob.toml -i bob.key --since-uid 41 --esmtp-only";

/// Retrieve mail, open every esmtp mail, list them all, and save them on request.
///
/// Prints one tab-separated line per message on standard output:
///
///   UID  KIND  FROM  SUBJECT  MD5  SUITE
///
/// KIND is `esmtp` (opened; FROM and SUBJECT are the protected ones from inside the envelope),
/// `esmtp+slip` (opened with a key slip that arrived as its own mail, the paper's flow),
/// `key-slip` (a key-slip mail; MD5 shows the envelope id it opens), `plain` (not an esmtp mail)
/// or `failed` (an esmtp mail that did not open; the reason goes to standard error and the
/// others continue). UID is the IMAP UID, or the POP3 message number. Missing fields are `-`.
///
/// With --out DIR, each opened mail is saved in its own directory, DIR/MAILBOX-UID (IMAP) or
/// DIR/pop3-UIDL: `message.eml` (the decrypted mail, bytes exact: MD5 is its digest),
/// `message.txt` (protected headers and text), `message.html` when there is one, and every
/// attachment under its own (sanitised) name. An existing directory is left alone.
///
/// Exit status: 0 when every esmtp mail opened; otherwise the code of the first failure
/// (3 no matching recipient, 4 integrity, 5 malformed), after all messages were listed.
/// Nothing is marked, moved or deleted on the server.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
#[command(after_long_help = format!("{EXAMPLES}\n\n{}", crate::cli::ACCOUNT_FILE_HELP))]
pub struct FetchArgs {
    /// The account file (TOML; its fields are listed under --help)
    #[arg(long, value_name = "FILE")]
    pub account: PathBuf,
    /// Retrieve over IMAP or POP3
    #[arg(long, value_enum, default_value_t = Protocol::Imap)]
    pub protocol: Protocol,
    /// The IMAP mailbox
    #[arg(long, default_value = "INBOX", value_name = "MAILBOX")]
    pub mailbox: String,
    /// An identity file (from `esmtp keygen`); repeatable
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY")]
    pub identities: Vec<PathBuf>,
    #[command(flatten)]
    pub passphrase: PassphraseSource,
    /// A file holding a key slip token (ESMTP-SLIP-1...); repeatable
    #[arg(long = "key-slip", value_name = "FILE")]
    pub key_slips: Vec<PathBuf>,
    /// Only messages above this IMAP UID (POP3: above this message number)
    #[arg(long, value_name = "N")]
    pub since_uid: Option<u32>,
    /// Save each opened mail and its attachments under DIR
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// List esmtp mails only; plain mail is then not downloaded at all
    #[arg(long)]
    pub esmtp_only: bool,
}

fn transport(e: esmtp_transport::Error) -> Failure {
    transport_failure(&e)
}

pub fn run(args: FetchArgs) -> Result<()> {
    let account = load_account(&args.account, Login::Needed)?;
    let opener = crate::open::opener_for_fetch(&args.identities, &args.passphrase, &args.key_slips)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| Failure::write(dir, &e))?;
    }
    let scope = if args.esmtp_only { FetchScope::EsmtpOnly } else { FetchScope::All };
    let spinner = progress::spinner("fetching");
    let fetched = match args.protocol {
        Protocol::Imap => fetch_imap(&account, &opener, &args, scope),
        Protocol::Pop3 => fetch_pop3(&account, &opener, &args, scope),
    };
    spinner.finish_and_clear();
    let (messages, next) = fetched?;

    let bar = progress::messages(messages.len() as u64, "saving");
    let mut stdout = std::io::stdout().lock();
    let mut first_failure: Option<Code> = None;
    let mut unsaved = 0;
    for m in &messages {
        let id = match &m.location {
            MessageRef::Imap { uid } => uid.to_string(),
            MessageRef::Pop3 { number, .. } => number.to_string(),
            MessageRef::Maildir { name } => clean(name),
        };
        let line = match &m.result {
            Ok(Retrieved::Opened { mail, with_key_slip }) => {
                let kind = if *with_key_slip { "esmtp+slip" } else { "esmtp" };
                if let Some(dir) = &args.out {
                    let name = match &m.location {
                        MessageRef::Pop3 { uidl, .. } => format!("pop3-{uidl}"),
                        _ => format!("{}-{id}", args.mailbox),
                    };
                    if !save(dir, &name, mail, &id) {
                        first_failure.get_or_insert(Code::Failure);
                        unsaved += 1;
                    }
                }
                row(&id, kind, &mail.headers, &mail.md5_hex(), mail.suite.name())
            }
            Ok(Retrieved::KeySlip(slip)) => {
                row(&id, "key-slip", &slip.headers, &slip.envelope_id.to_string(), "-")
            }
            Ok(Retrieved::Plain(plain)) => row(&id, "plain", &plain.headers, "-", "-"),
            Err(e) => {
                eprintln!("esmtp: message {id}: {}", clean(&e.to_string()));
                first_failure.get_or_insert(message_code(e));
                row(&id, "failed", &m.outer, "-", "-")
            }
        };
        writeln!(stdout, "{line}").map_err(|e| Failure::io("cannot write standard output", &e))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!("esmtp: {} message(s); next time: --since-uid {next}", messages.len());
    let Some(code) = first_failure else { return Ok(()) };
    let failed = messages.iter().filter(|m| m.result.is_err()).count();
    let mut why = Vec::new();
    if failed > 0 {
        why.push(format!("{failed} of {} messages could not be opened", messages.len()));
    }
    if unsaved > 0 {
        why.push(format!("{unsaved} could not be saved"));
    }
    Err(Failure::new(code, why.join("; ")))
}

fn message_code(e: &MessageError) -> Code {
    match e {
        MessageError::NoMatchingRecipient => Code::NoMatchingRecipient,
        MessageError::DecryptionFailed => Code::Integrity,
        MessageError::Malformed(_) | MessageError::Unsupported(_) | MessageError::TooLarge(_) => {
            Code::Malformed
        }
        _ => Code::Failure,
    }
}

/// The messages, and the `--since-uid` value for the next fetch.
type Fetch = Result<(Vec<Fetched>, u32)>;

fn fetch_imap(
    account: &esmtp_transport::Account,
    opener: &esmtp_core::Opener,
    args: &FetchArgs,
    scope: FetchScope,
) -> Fetch {
    let mut client = ImapClient::connect(account).map_err(transport)?;
    let mut options = ImapFetchOptions { scope, ..ImapFetchOptions::default() };
    if let Some(last_uid) = args.since_uid {
        // The library resumes from a (UIDVALIDITY, UID) pair; a bare UID means "in the mailbox
        // as it is now".
        let state = client.examine(&args.mailbox).map_err(transport)?;
        options.since = Some(ImapSyncState { uid_validity: state.uid_validity, last_uid });
    }
    let report = client.fetch_esmtp(&args.mailbox, opener, &options).map_err(transport)?;
    let _ = client.logout();
    Ok((report.messages, report.sync.last_uid))
}

fn fetch_pop3(
    account: &esmtp_transport::Account,
    opener: &esmtp_core::Opener,
    args: &FetchArgs,
    scope: FetchScope,
) -> Fetch {
    let mut client = Pop3Client::connect(account).map_err(transport)?;
    let mut options = Pop3FetchOptions { scope, ..Pop3FetchOptions::default() };
    if let Some(last) = args.since_uid {
        let mut entries = client.entries().map_err(transport)?;
        entries.retain(|e| e.number <= last);
        options.since = Some(Pop3SyncState::after(&entries));
    }
    let report = client.fetch_esmtp(opener, &options).map_err(transport)?;
    let _ = client.quit();
    // Without deletions, POP3 numbers messages 1..n in arrival order.
    Ok((report.messages, report.uidls.len() as u32))
}

/// One listing line; fields come from mail anyone could send, so they are cleaned of control
/// characters (no terminal escapes, no forged extra lines or columns).
fn row(id: &str, kind: &str, headers: &MailHeaders, md5: &str, suite: &str) -> String {
    let from = headers.from.as_ref().map(|m| m.address.clone()).unwrap_or_else(|| "-".into());
    let subject = headers.subject.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into());
    format!("{id}\t{kind}\t{}\t{}\t{md5}\t{suite}", clean(&from), clean(&subject))
}

/// Control characters (tabs and line breaks included) become `?`.
pub fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Save one mail; `false` when that failed (reported, and the others go on).
fn save(dir: &Path, name: &str, mail: &OpenedMail, id: &str) -> bool {
    // Mailbox names and UIDLs may hold separators: keep all of the name, not its last part.
    let target = dir.join(saved::safe_name(&name.replace(['/', '\\'], "_"), "message"));
    match saved::write_mail(&target, mail) {
        Ok(true) => true,
        Ok(false) => {
            eprintln!("esmtp: message {id}: {} exists, left as it is", target.display());
            true
        }
        Err(e) => {
            eprintln!("esmtp: message {id}: {e}");
            false
        }
    }
}
