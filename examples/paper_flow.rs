//! The whole flow of the paper "Secure Email Software using e-SMTP" (section 4.1, steps 1-8),
//! printed as it happens: alice writes a mail; it is sealed with the paper's DES/MD5 suite (and,
//! in a second round, the modern default); the key slip is produced; the mail goes out over
//! authenticated submission; the key slip goes separately; bob retrieves both; decrypts; and
//! recomputes the MD5 with the hash tool (section 4.4).
//!
//! Beyond the paper, alice also signs the mail (inside the encryption) and bob checks the
//! signature against the key his contacts list for alice: the MD5 says the mail arrived as
//! sealed, but every holder of its key (bob, or whoever got the key slip) could have sealed it;
//! only the signature says alice wrote it.
//!
//! ```text
//! cargo run --release --example paper_flow                       # embedded local Maildir, no server
//! cargo run --release --example paper_flow -- --lab              # the lab of scripts/mail-lab (its env)
//! cargo run --release --example paper_flow -- --account FILE [--to ADDR]   # a real account
//! ```
//!
//! With `--account`, the mail goes to `--to` (default: the account's own address) and is read back
//! from the account's own mailbox, so sender and receiver are the same real account.

use std::path::PathBuf;
use std::time::Duration;

use esmtp_core::hash::{HashAlgorithm, digest, to_hex};
use esmtp_core::mime::{self, Attachment, MailDraft, Mailbox, PackageOptions};
use esmtp_core::{Opener, Sealer, Suite, X25519Identity};
use esmtp_transport::account_file::{self, Login};
use esmtp_transport::{
    Account, AccountBuilder, Contacts, Credentials, Fetched, ImapClient, ImapFetchOptions, ImapSyncState,
    Maildir, Pop3Client, Pop3FetchOptions, Pop3SyncState, Retrieved, Secret, SendOptions, SenderVerdict,
    ServerSettings, Submit, Submitter, TlsMode,
};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// Where the mail goes and comes from (built once per run, so its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Mode {
    /// No account: a real Maildir in a temporary directory stands in for the servers; alice
    /// signs with this identity.
    Local(Maildir, X25519Identity),
    /// Real servers: alice submits with `sender`, bob reads with `receiver`.
    Servers { sender: Account, receiver: Account, to: String },
}

fn step(n: u8, text: impl AsRef<str>) {
    println!("  [{n}] {}", text.as_ref());
}

fn lab_account(user: &str) -> Fallible<AccountBuilder> {
    let var =
        |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set (run scripts/mail-lab env)"));
    let port = |name: &str| -> Fallible<u16> { Ok(var(&format!("ESMTP_LAB_{name}_PORT"))?.parse()?) };
    let upper = user.to_uppercase();
    let host = var("ESMTP_LAB_HOST")?;
    Ok(Account::builder(
        var(&format!("ESMTP_LAB_{upper}_ADDRESS"))?,
        Credentials::Password(Secret::new(var(&format!("ESMTP_LAB_{upper}_PASSWORD"))?)),
    )
    .smtp(ServerSettings::new(&host, port("SUBMISSION")?, TlsMode::StartTls))
    .imap(ServerSettings::new(&host, port("IMAPS")?, TlsMode::Implicit))
    .pop3(ServerSettings::new(&host, port("POP3S")?, TlsMode::Implicit))
    .add_root_certificates_pem(std::fs::read(var("ESMTP_LAB_CA")?)?))
}

fn mode_from_args() -> Fallible<(Mode, Option<tempdir::TempDir>)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if let Some(file) = value("--account") {
        let account = account_file::load(&PathBuf::from(file), Login::Needed)?;
        let to = value("--to").unwrap_or_else(|| account.address().to_string());
        return Ok((Mode::Servers { sender: account.clone(), receiver: account, to }, None));
    }
    if args.iter().any(|a| a == "--lab") {
        // Alice signs with her identity; bob's contacts say which key is hers.
        let alice = X25519Identity::generate()?;
        let sender = lab_account("alice")?.identity(alice.clone()).build()?;
        let receiver = lab_account("bob")?.contact(sender.address(), alice.to_public()).build()?;
        let to = receiver.address().to_string();
        return Ok((Mode::Servers { sender, receiver, to }, None));
    }
    if let Some(other) = args.first() {
        return Err(format!("unknown argument {other}; use --lab or --account FILE [--to ADDR]").into());
    }
    let dir = tempdir::TempDir::new()?;
    let alice = X25519Identity::generate()?;
    let mut contacts = Contacts::new();
    contacts.add(LOCAL_ALICE, alice.to_public());
    let maildir = Maildir::create(dir.path().join("bob/Maildir"))?.with_contacts(contacts);
    Ok((Mode::Local(maildir, alice), Some(dir)))
}

/// A temporary directory removed on drop (std only, for the embedded default).
mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> std::io::Result<Self> {
            // A fresh envelope id is 16 random bytes from the OS generator.
            let sealed = esmtp_core::Sealer::new()
                .key_slip()
                .seal(b"")
                .map_err(|_| std::io::Error::other("no randomness"))?;
            let name = sealed.envelope_id.to_string();
            let path = std::env::temp_dir().join(format!("esmtp-paper-flow-{name}"));
            std::fs::create_dir(&path)?;
            Ok(TempDir(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The embedded default's addresses.
const LOCAL_ALICE: &str = "alice@example.test";
const LOCAL_BOB: &str = "bob@example.test";

/// Steps 7-8 on what a retrieval returned: find our mail, check it, recompute the MD5, and check
/// who signed it.
fn check(fetched: &[Fetched], envelope_id: &esmtp_core::EnvelopeId, body: &str, how: &str) -> Fallible<()> {
    let ours = fetched
        .iter()
        .find_map(|f| match &f.result {
            Ok(Retrieved::Opened { mail, with_key_slip }) if mail.envelope_id == *envelope_id => {
                Some((&f.sender, mail, *with_key_slip))
            }
            _ => None,
        })
        .ok_or_else(|| format!("the mail did not open over {how}"))?;
    let (sender, mail, with_key_slip) = ours;
    let slip_note = if with_key_slip { "with the key slip from its own mail" } else { "with bob's key" };
    step(7, format!("bob downloads {} message(s) over {how}; the mail opens {slip_note}", fetched.len()));
    let recomputed = digest(HashAlgorithm::Md5, &mail.inner);
    step(8, format!("bob reads: subject {:?}", mail.headers.subject.as_deref().unwrap_or("")));
    let source = if mail.suite.is_legacy() { "carried in the envelope:" } else { "reported on opening:" };
    println!("      {:<28} {}", format!("MD5 {source}"), mail.md5_hex());
    println!("      {:<28} {}", "MD5 recomputed by bob:", to_hex(&recomputed));
    let intact = recomputed == mail.md5() && mail.text.as_deref().map(str::trim_end) == Some(body);
    println!("      integrity check: {}", if intact { "OK" } else { "FAILED" });
    if !intact {
        return Err("integrity check failed".into());
    }
    // Beyond the paper: the MD5 shows the mail is as it was sealed, not who sealed it.
    let verdict = sender.as_ref().map(|s| s.verdict);
    let signer = mail.signature.signer().map_or_else(|| "nobody".to_string(), |s| s.to_string());
    println!("      {:<28} {signer}", "signed by:");
    println!("      sender check: {}", verdict.map_or("-", SenderVerdict::name));
    match verdict {
        Some(SenderVerdict::Verified) => Ok(()),
        // A real account without identity_file sends unsigned: said, not an error.
        Some(SenderVerdict::Unsigned) => {
            println!("      (unsigned: the account has no identity, so nothing says who wrote it)");
            Ok(())
        }
        _ => Err("the sender check failed".into()),
    }
}

fn round(mode: &Mode, suite: Suite) -> Fallible<()> {
    let label = if suite.is_legacy() { "the paper's suite, legacy strength" } else { "the modern default" };
    println!("\n== {suite} ({label})");
    let (from, to) = match mode {
        Mode::Local(..) => (LOCAL_ALICE.to_string(), LOCAL_BOB.to_string()),
        Mode::Servers { sender, to, .. } => (sender.address().to_string(), to.clone()),
    };
    let body = format!("Bob, the quarterly numbers are attached. ({suite})");
    let draft = MailDraft::new(Mailbox::with_name("Alice", &from))
        .to(Mailbox::new(&to))
        .subject(format!("Quarterly numbers ({suite})"))
        .text(body.clone())
        .attachment(Attachment::new("numbers.csv", "text/csv", b"q1,12\nq2,17\nq3,23\n".to_vec()))
        .date(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64);
    step(1, format!("alice writes a mail to {to} with one attachment"));
    let sealer = Sealer::new().suite(suite).key_slip();
    let what = if suite.is_legacy() {
        "a fresh random DES key and random number (IV); DES-CBC, MD5 of the message, HMAC-MD5 per chunk"
    } else {
        "a fresh random key; ChaCha20-Poly1305 in 64 KiB chunks"
    };

    match mode {
        Mode::Local(maildir, alice) => {
            let date = draft.date.unwrap_or_default();
            let sealer = sealer.sign_with(alice.clone());
            let mail = mime::package(&draft, &sealer, &PackageOptions::new(date))?;
            step(
                2,
                format!(
                    "sealed with {what}, signed by alice: envelope {}, {} bytes, 7-bit MIME",
                    mail.envelope_id, mail.size
                ),
            );
            let slip = mail.key_slip.as_ref().ok_or("no key slip")?;
            step(3, "no account configured: the embedded local default delivers into a Maildir");
            let name = maildir.deliver(&mail.bytes)?;
            step(4, format!("the encrypted mail is stored as {name}"));
            let slip_mail = mime::key_slip_mail(slip, &draft.from, &Mailbox::new(&to), date)?;
            let slip_name = maildir.deliver(&slip_mail.bytes)?;
            step(5, format!("the key slip goes as its own mail, to the same mailbox: {slip_name}"));
            let stored = std::fs::read(maildir.path().join("new").join(&name))?;
            let leaks =
                stored.windows(9).any(|w| w == b"Quarterly") || stored.windows(9).any(|w| w == b"quarterly");
            step(6, format!("what the mailbox holds is ciphertext only (subject or body readable: {leaks})"));
            if leaks {
                return Err("plaintext on the server side".into());
            }
            check(&maildir.fetch_esmtp(&Opener::new())?, &mail.envelope_id, &body, "the local Maildir")?;
        }
        Mode::Servers { sender, receiver, .. } => {
            // Note what bob's mailbox holds already, so only the new mail is fetched.
            let mut imap = ImapClient::connect(receiver)?;
            let before = imap.examine("INBOX")?;
            let since = before
                .uid_next
                .map(|next| ImapSyncState { uid_validity: before.uid_validity, last_uid: next - 1 });
            let pop3_since = match receiver.pop3() {
                Some(_) => {
                    let mut pop3 = Pop3Client::connect(receiver)?;
                    let state = Pop3SyncState::after(&pop3.entries()?);
                    let _ = pop3.quit();
                    Some(state)
                }
                None => None,
            };
            let submitter = Submitter::new(sender)?;
            let smtp = sender.smtp().ok_or("no SMTP server")?;
            let signed = if sender.identity().is_some() { ", signed by alice" } else { "" };
            step(2, format!("sealed with {what}{signed}; key slip produced"));
            let report = submitter.send_secure(&draft, sealer, &SendOptions::default())?;
            step(
                3,
                format!(
                    "authenticated submission to {}:{} over TLS: {} {} {}",
                    smtp.host,
                    smtp.port,
                    report.reply.code,
                    report.reply.enhanced.as_deref().unwrap_or(""),
                    report.reply.text
                ),
            );
            step(
                4,
                format!(
                    "envelope {} ({} bytes) relayed by the servers as ciphertext",
                    report.envelope_id, report.size
                ),
            );
            for slip in &report.key_slips {
                step(5, format!("the key slip went as its own mail to {}: {}", slip.to, slip.reply.code));
            }
            step(6, "the receiving server stores both in bob's INBOX");
            std::thread::sleep(Duration::from_secs(1));
            let options = ImapFetchOptions { since, ..ImapFetchOptions::default() };
            let mut report_imap = imap.fetch_esmtp("INBOX", &Opener::new(), &options)?;
            for _ in 0..20 {
                if report_imap.messages.iter().any(|m| matches!(&m.result, Ok(Retrieved::Opened { mail, .. }) if mail.envelope_id == report.envelope_id)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
                report_imap = imap.fetch_esmtp("INBOX", &Opener::new(), &options)?;
            }
            let _ = imap.logout();
            check(&report_imap.messages, &report.envelope_id, &body, "IMAP")?;
            if receiver.pop3().is_some() {
                let mut pop3 = Pop3Client::connect(receiver)?;
                let options = Pop3FetchOptions { since: pop3_since, ..Pop3FetchOptions::default() };
                let pop = pop3.fetch_esmtp(&Opener::new(), &options)?;
                let _ = pop3.quit();
                check(&pop.messages, &report.envelope_id, &body, "POP3")?;
            }
        }
    }
    Ok(())
}

fn main() {
    let run = || -> Fallible<()> {
        let (mode, _dir) = mode_from_args()?;
        match &mode {
            Mode::Local(m, _) => {
                println!("Paper flow on the embedded local default: Maildir {}", m.path().display())
            }
            Mode::Servers { sender, receiver, .. } => {
                println!("Paper flow against real servers: {} -> {}", sender.address(), receiver.address())
            }
        }
        for suite in [Suite::LegacyDesCbcMd5, Suite::ChaCha20Poly1305] {
            round(&mode, suite)?;
        }
        println!("\nAll steps done: the mail itself was only ever carried and stored as ciphertext.");
        println!(
            "The MD5 shows that the mail arrived as it was sealed, not who sealed it: anyone holding its \
             key could have. The signature, beyond the paper, is what says that alice wrote it."
        );
        println!(
            "The key slip reproduces the paper's separate key delivery, but here it went to the same \
             mailbox through the same servers: whoever can read both mails can read the message. Only \
             a slip sent by another channel or to another provider's account (esmtp send \
             --key-slip-to ADDR or --key-slip-out FILE) keeps the server from holding both."
        );
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("paper_flow: {e}");
        std::process::exit(1);
    }
}
