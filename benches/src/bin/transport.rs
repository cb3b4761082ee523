//! The esmtp side of `scripts/bench-transport`, against a mail server (the mail lab):
//!
//! - `smtp --account A --to ADDR --count N --out DIR`: seal, package and submit N mails over one
//!   SMTP session, timed as a whole; then writes the submitted mails to DIR (for the Python peer,
//!   which sends the same bytes). Prints `seconds<TAB>connections opened`.
//! - `imap-load --account B --mailbox M --count N --key F`: creates mailbox M and appends N esmtp
//!   mails sealed to a fresh identity, saved to F (untimed preparation).
//! - `imap-fetch --account B --mailbox M --count N --key F`: one IMAP session fetching and
//!   opening every mail of M, timed from connecting to the last mail opened. Prints
//!   `seconds<TAB>mails opened`; fails unless all N opened.
//! - `imap-drop --account B --mailbox M`: deletes M.
//!
//! With `ESMTP_BENCH_TIMES=1` in the environment, every command line sent and every tagged
//! IMAP completion received goes to stderr with the milliseconds since the start (secrets are
//! redacted by the trace), to see where a run's time goes.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use esmtp_core::mime::{MailDraft, Mailbox};
use esmtp_core::{Opener, Sealer, X25519Identity};
use esmtp_transport::account_file::{self, LoadOptions, Login};
use esmtp_transport::{Direction, ImapClient, ImapFetchOptions, Protocol, SendOptions, Submit, Submitter};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Default)]
struct Args {
    account: Option<PathBuf>,
    to: Option<String>,
    count: usize,
    out: Option<PathBuf>,
    mailbox: Option<String>,
    key: Option<PathBuf>,
    /// imap-fetch: messages per UID FETCH (the library's default without it).
    batch: Option<usize>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args> {
    let mut parsed = Args { count: 1, ..Args::default() };
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--account" => parsed.account = Some(value.into()),
            "--to" => parsed.to = Some(value),
            "--count" => parsed.count = value.parse()?,
            "--out" => parsed.out = Some(value.into()),
            "--mailbox" => parsed.mailbox = Some(value),
            "--key" => parsed.key = Some(value.into()),
            "--batch" => parsed.batch = Some(value.parse()?),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    Ok(parsed)
}

/// A text mail of about 2 KB, numbered.
fn draft(from: &str, to: &str, i: usize) -> MailDraft {
    let body = format!(
        "Message {i} of the transport benchmark.\n{}",
        "The quick brown fox jumps over the lazy dog.\n".repeat(40)
    );
    MailDraft::new(Mailbox::new(from)).to(Mailbox::new(to)).subject(format!("bench {i}")).text(body)
}

fn main() -> Result<()> {
    let mut argv = std::env::args().skip(1);
    let command = argv.next().ok_or("usage: transport smtp|imap-load|imap-fetch|imap-drop ...")?;
    let args = parse(argv)?;
    let path = args.account.as_deref().ok_or("--account is needed")?;
    let account = if std::env::var_os("ESMTP_BENCH_TIMES").is_some() {
        let start = Instant::now();
        let times = move |_: Protocol, direction: Direction, line: &str| {
            let completion = line.split_once(' ').is_some_and(|(tag, rest)| {
                !tag.starts_with('*') && ["OK", "NO", "BAD"].iter().any(|s| rest.starts_with(s))
            });
            if matches!(direction, Direction::Sent) || completion {
                let shown: String = line.chars().take(90).collect();
                eprintln!("{:8.2} ms {direction:?}: {shown}", start.elapsed().as_secs_f64() * 1000.0);
            }
        };
        account_file::load_with(path, &LoadOptions::new(Login::Needed).trace(Arc::new(times)))?
    } else {
        account_file::load(path, Login::Needed)?
    };
    let from = account.address().to_string();
    match command.as_str() {
        "smtp" => {
            let to = args.to.ok_or("--to is needed")?;
            let out = args.out.ok_or("--out is needed")?;
            let bob = X25519Identity::generate()?;
            let submitter = Submitter::new(&account)?;
            let options = SendOptions::default();
            let mut sent = Vec::with_capacity(args.count);
            let start = Instant::now();
            for i in 0..args.count {
                let packaged = account.package(
                    &draft(&from, &to, i),
                    Sealer::new().recipient(bob.to_public()),
                    &options,
                )?;
                submitter.send_raw(&from, std::slice::from_ref(&to), &packaged.mail.bytes)?;
                sent.push(packaged.mail.bytes);
            }
            let seconds = start.elapsed().as_secs_f64();
            let connections = submitter.connections_opened();
            submitter.close();
            std::fs::create_dir_all(&out)?;
            for (i, bytes) in sent.iter().enumerate() {
                std::fs::write(out.join(format!("{i:04}.eml")), bytes)?;
            }
            println!("{seconds:.4}\t{connections}");
        }
        "imap-load" => {
            let mailbox = args.mailbox.ok_or("--mailbox is needed")?;
            let key = args.key.ok_or("--key is needed")?;
            let bob = X25519Identity::generate()?;
            std::fs::write(&key, bob.to_secret_string().as_bytes())?;
            let options = SendOptions::default();
            let mut imap = ImapClient::connect(&account)?;
            imap.create_mailbox(&mailbox)?;
            for i in 0..args.count {
                let packaged = account.package(
                    &draft(&from, &from, i),
                    Sealer::new().recipient(bob.to_public()),
                    &options,
                )?;
                imap.append(&mailbox, &packaged.mail.bytes)?;
            }
            imap.logout()?;
        }
        "imap-fetch" => {
            let mailbox = args.mailbox.ok_or("--mailbox is needed")?;
            let key = args.key.ok_or("--key is needed")?;
            let bob: X25519Identity = std::fs::read_to_string(&key)?.trim().parse()?;
            let opener = Opener::new().identity(bob);
            let start = Instant::now();
            let mut imap = ImapClient::connect(&account)?;
            let mut options = ImapFetchOptions::default();
            if let Some(batch) = args.batch {
                options.batch_size = batch;
            }
            let report = imap.fetch_esmtp(&mailbox, &opener, &options)?;
            let opened = report.opened().count();
            let seconds = start.elapsed().as_secs_f64();
            imap.logout()?;
            if opened != args.count {
                return Err(format!("opened {opened} of {} mails", args.count).into());
            }
            println!("{seconds:.4}\t{opened}");
        }
        "imap-drop" => {
            let mut imap = ImapClient::connect(&account)?;
            imap.delete_mailbox(&args.mailbox.ok_or("--mailbox is needed")?)?;
            imap.logout()?;
        }
        other => return Err(format!("unknown command {other:?}").into()),
    }
    Ok(())
}
