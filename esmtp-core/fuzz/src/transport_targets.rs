//! Targets on esmtp-transport: the account file, and what POP3, IMAP and SMTP servers answer.
//!
//! The protocol targets run the real clients ([`Pop3Client::from_stream`],
//! [`ImapClient::from_stream`], [`Submitter::from_stream`]) over an in-memory stream whose reads
//! are the fuzzer's bytes, trickled in pieces of varying size so that lines cross reads: every
//! response parser the clients use (the crate's own POP3 and SMTP readers, lettre's SMTP reply
//! parser, the `imap` crate's) sees hostile server output, and every limit meets it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use esmtp_core::Suite;
use esmtp_core::mime::{self, MailDraft, Mailbox, PackageOptions};
use esmtp_transport::account_file::{self, Login};
use esmtp_transport::{
    Account, Credentials, ImapClient, ImapFetchOptions, ImapSyncState, PasswordMechanism, Pop3Client,
    Pop3Download, Pop3FetchOptions, Pop3SyncState, Secret, Submit, Submitter,
};

use super::core_targets::{alice, bob, fixed_opener, seed_rng};
use super::input::{Deterministic, Input};

/// The account's address, user name and password in every session.
pub const ADDRESS: &str = "fuzz@example.test";
const PASSWORD: &str = "pw";

/// A server that says what the fuzzer says: reads come from the input in pieces of 1 to 4096
/// bytes; what the client writes is counted and dropped.
struct Script {
    data: Vec<u8>,
    at: usize,
    step: usize,
    written: usize,
}

impl Script {
    fn new(data: &[u8]) -> Self {
        Script { data: data.to_vec(), at: 0, step: 1, written: 0 }
    }
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.step = (self.step * 31 + 7) % 4096 + 1;
        let n = buf.len().min(self.step).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written += buf.len();
        // The client writes commands and one small message: far less than this, unless it
        // loops on what the server says.
        assert!(self.written < 16 << 20, "the client wrote more than 16 MiB to a scripted server");
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The accounts the sessions log in with: a password for any mechanism, for PLAIN only, for
/// LOGIN only (USER/PASS in POP3), and an OAuth2 token (XOAUTH2).
fn account(choice: u8) -> &'static Account {
    static ACCOUNTS: OnceLock<Vec<Account>> = OnceLock::new();
    let accounts = ACCOUNTS.get_or_init(|| {
        let password = || Credentials::Password(Secret::new(PASSWORD));
        let build = |b: esmtp_transport::AccountBuilder| {
            b.deadline(Duration::from_secs(60)).build().expect("a valid fuzzing account")
        };
        vec![
            build(Account::builder(ADDRESS, password())),
            build(Account::builder(ADDRESS, password()).password_mechanism(PasswordMechanism::Plain)),
            build(Account::builder(ADDRESS, password()).password_mechanism(PasswordMechanism::Login)),
            build(Account::builder(ADDRESS, Credentials::OAuth2Token(Secret::new("token")))),
        ]
    });
    &accounts[usize::from(choice) % accounts.len()]
}

/// A POP3 server's answers: login, then one of the client's operations.
pub fn pop3(data: &[u8]) {
    let mut input = Input::new(data);
    let (credentials, op) = (input.byte(), input.byte());
    let Ok(mut client) = Pop3Client::from_stream(account(credentials), Script::new(input.rest())) else {
        return;
    };
    let _ = client.capabilities();
    let ok = match op % 7 {
        0 => client.stat().is_ok(),
        1 => client.list().is_ok(),
        2 => client.uidl().is_ok(),
        3 => client.entries().is_ok(),
        4 => {
            client.retr(1).is_ok()
                && client.top(1, 0).is_ok()
                && client.dele(1).is_ok()
                && client.rset().is_ok()
        }
        5 => client.fetch_esmtp(fixed_opener(), &Pop3FetchOptions::default()).is_ok(),
        _ => {
            let options = Pop3FetchOptions {
                download: Pop3Download::Retr,
                delete_after_open: true,
                since: "pop3 uid-1".parse::<Pop3SyncState>().ok(),
                ..Pop3FetchOptions::default()
            };
            client.fetch_esmtp(fixed_opener(), &options).is_ok()
        }
    };
    if ok {
        let _ = client.noop();
        let _ = client.quit();
    }
}

/// An IMAP server's answers: greeting, capabilities and login, then one of the client's
/// operations.
pub fn imap(data: &[u8]) {
    let mut input = Input::new(data);
    let (credentials, op) = (input.byte(), input.byte());
    let Ok(mut client) = ImapClient::from_stream(account(credentials), Script::new(input.rest())) else {
        return;
    };
    let _ = client.capabilities();
    let ok = match op % 6 {
        0 => client.mailboxes().is_ok(),
        1 => client.select("INBOX").is_ok(),
        2 => client.fetch_esmtp("INBOX", fixed_opener(), &ImapFetchOptions::default()).is_ok(),
        3 => {
            let options = ImapFetchOptions {
                since: Some(ImapSyncState { uid_validity: 7, last_uid: 1 }),
                mark_seen: true,
                delete_after_open: true,
                batch_size: 2,
                ..ImapFetchOptions::default()
            };
            client.fetch_esmtp("INBOX", fixed_opener(), &options).is_ok()
        }
        4 => {
            let options = ImapFetchOptions { move_to: Some("Archive".into()), ..ImapFetchOptions::default() };
            client.fetch_esmtp("INBOX", fixed_opener(), &options).is_ok()
        }
        _ => {
            client.append("Sent", b"From: a@example.test\r\n\r\nhi\r\n").is_ok()
                && client.idle_wait("INBOX", None, Duration::from_millis(1)).is_ok()
        }
    };
    if ok {
        let _ = client.logout();
    }
}

/// An SMTP server's answers: greeting and EHLO, then the capabilities, or a login and one or two
/// submissions (the second reuses the session after a NOOP).
pub fn smtp(data: &[u8]) {
    let mut input = Input::new(data);
    let (credentials, op) = (input.byte(), input.byte());
    let submitter = Submitter::from_stream(account(credentials), Script::new(input.rest()));
    let message = b"From: fuzz@example.test\r\nTo: bob@example.test\r\n\r\nhello\r\n.leading dot\r\n";
    let recipients = ["bob@example.test".to_string(), "carol@example.test".to_string()];
    match op % 3 {
        0 => {
            if let Ok(caps) = submitter.capabilities() {
                let _ = caps.offers_auth("PLAIN");
            }
        }
        1 => {
            let _ = submitter.send_raw(ADDRESS, &recipients[..1], message);
        }
        _ => {
            if submitter.send_raw(ADDRESS, &recipients, message).is_ok() {
                let _ = submitter.send_raw(ADDRESS, &recipients[..1], &message[..20]);
            }
        }
    }
    submitter.close();
}

/// The account file, from a file of its own in a private directory (relative paths in it point
/// there), read as for `capabilities` (no secret) and as for a login (the secret is read).
pub fn account_file(data: &[u8]) {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("esmtp-fuzz-account-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a private temporary directory");
        std::fs::write(dir.join("password"), "secret\n").expect("a password file");
        dir
    });
    let path = dir.join("account.toml");
    std::fs::write(&path, data).expect("writing the account file");
    for login in [Login::NotNeeded, Login::Needed] {
        if let Ok(account) = account_file::load(&path, login) {
            assert!(!account.address().is_empty());
            assert!(account.deadline() > Duration::ZERO);
        }
    }
}

/// Seed inputs: name and bytes, per target (scripted sessions of the usual flows).
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let (envelope_mail, slip_mail) = sealed_pair();
    let mut out = Vec::new();
    let literal = |mail: &[u8]| {
        let mut v = format!("{{{}}}\r\n", mail.len()).into_bytes();
        v.extend_from_slice(mail);
        v
    };
    match target {
        "pop3" => {
            for (op, capa, auth) in [
                (0u8, "TOP\r\nUIDL\r\nSASL PLAIN\r\n", "+ \r\n+OK\r\n"),
                (3, "UIDL\r\n", "+OK\r\n+OK\r\n"),
                (5, "TOP\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\n", "+ \r\n+OK\r\n"),
                (6, "UIDL\r\nSASL PLAIN\r\nPIPELINING\r\n", "+ \r\n+OK\r\n"),
            ] {
                let mut s = vec![0u8, op];
                s.extend(format!("+OK ready\r\n+OK\r\n{capa}.\r\n{auth}").into_bytes());
                match op {
                    0 => s.extend_from_slice(b"+OK 2 320\r\n+OK\r\n"),
                    3 => s.extend_from_slice(
                        b"+OK\r\n1 120\r\n2 200\r\n.\r\n+OK\r\n1 uid-1\r\n2 uid-2\r\n.\r\n",
                    ),
                    _ => {
                        let list = format!(
                            "+OK\r\n1 {}\r\n2 {}\r\n.\r\n+OK\r\n1 uid-1\r\n2 uid-2\r\n.\r\n",
                            envelope_mail.len(),
                            slip_mail.len()
                        );
                        s.extend(list.into_bytes());
                        for mail in [&slip_mail, &envelope_mail] {
                            let head_end = mail.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
                            s.extend_from_slice(b"+OK\r\n");
                            s.extend_from_slice(&mail[..head_end]);
                            s.extend_from_slice(b".\r\n");
                        }
                        for mail in [&slip_mail, &envelope_mail] {
                            s.extend(format!("+OK 1 {}\r\n+OK\r\n", mail.len()).into_bytes());
                            s.extend_from_slice(mail);
                            s.extend_from_slice(b".\r\n");
                        }
                        s.extend_from_slice(b"+OK\r\n+OK\r\n+OK bye\r\n");
                    }
                }
                out.push((format!("op{op}"), s));
            }
        }
        "imap" => {
            let login = "* OK ready\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK done\r\n+ \r\na2 OK logged in\r\n\
                         * CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE\r\na3 OK done\r\n";
            let mut list = vec![0u8, 0];
            list.extend_from_slice(login.as_bytes());
            list.extend_from_slice(b"* LIST (\\HasNoChildren) \"/\" INBOX\r\n* LIST (\\Noselect) \"/\" \"&AOk-t&AOk-\"\r\na4 OK\r\n");
            out.push(("list".into(), list));
            let mut fetch = vec![0u8, 2];
            fetch.extend_from_slice(login.as_bytes());
            fetch.extend_from_slice(
                b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3] ok\r\na4 OK [READ-ONLY] done\r\n\
                  * SEARCH 1 2\r\na5 OK\r\n* SEARCH 2\r\na6 OK\r\n",
            );
            let fields = "BODY[HEADER.FIELDS (MESSAGE-ID FROM DATE SUBJECT X-ESMTP-ENVELOPE-ID)]";
            let mut tag = 7;
            for (uid, mail) in [(2, &slip_mail), (1, &envelope_mail)] {
                let head_end = mail.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
                if uid == 1 {
                    fetch.extend(format!("* SEARCH 1\r\na{tag} OK\r\n").into_bytes());
                    tag += 1;
                }
                fetch.extend(
                    format!("* {uid} FETCH (UID {uid} RFC822.SIZE {} {fields} ", mail.len()).into_bytes(),
                );
                fetch.extend(literal(&mail[..head_end]));
                fetch.extend(format!(")\r\na{tag} OK\r\n* {uid} FETCH (UID {uid} BODY[] ").into_bytes());
                fetch.extend(literal(mail));
                fetch.extend(format!(")\r\na{} OK\r\n", tag + 1).into_bytes());
                tag += 2;
            }
            fetch.extend(format!("* BYE\r\na{tag} OK\r\n").into_bytes());
            out.push(("fetch".into(), fetch));
        }
        "smtp" => {
            let ehlo = "220 mail.example.test ESMTP\r\n250-mail.example.test\r\n250-PIPELINING\r\n\
                        250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN XOAUTH2\r\n250-ENHANCEDSTATUSCODES\r\n\
                        250-8BITMIME\r\n250 SMTPUTF8\r\n";
            let mut caps = vec![0u8, 0];
            caps.extend_from_slice(ehlo.as_bytes());
            caps.extend_from_slice(b"221 2.0.0 Bye\r\n");
            out.push(("capabilities".into(), caps));
            let mut send = vec![2u8, 2];
            send.extend_from_slice(ehlo.as_bytes());
            send.extend_from_slice(
                b"334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 ok\r\n250 2.1.0 ok\r\n250 2.1.5 ok\r\n\
                  250 2.1.5 ok\r\n354 go on\r\n250 2.0.0 Ok: queued as ABC\r\n250 2.0.0 ok\r\n\
                  250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go on\r\n250 2.0.0 Ok: queued as ABD\r\n221 bye\r\n",
            );
            out.push(("send-login".into(), send));
        }
        "account_file" => {
            out.push((
                "full".into(),
                b"address = \"alice@example.test\"\nusername = \"alice\"\npassword_file = \"password\"\n\
                  timeout_secs = 30\ndeadline_secs = 120\n[smtp]\nhost = \"127.0.0.1\"\nport = 587\n\
                  tls = \"starttls\"\n[imap]\nhost = \"127.0.0.1\"\nport = 993\ntls = \"implicit\"\n\
                  [pop3]\nhost = \"127.0.0.1\"\nport = 995\ntls = \"implicit\"\n"
                    .to_vec(),
            ));
            out.push((
                "gmail".into(),
                b"address = \"alice@gmail.com\"\npreset = \"gmail\"\noauth2_token_cmd = [\"helper\", \"--account\", \"alice\"]\n"
                    .to_vec(),
            ));
            out.push((
                "env".into(),
                b"address = \"a@example.test\"\npassword_env = \"HOME\"\nca_file = \"ca.pem\"\n".to_vec(),
            ));
        }
        _ => {}
    }
    out
}

/// An encrypted mail for Bob with a key slip, and its key-slip mail (the same fixed key slip as
/// the core targets', so the fixed opener opens it with or without the slip mail).
fn sealed_pair() -> (Vec<u8>, Vec<u8>) {
    let draft = MailDraft::new(Mailbox::new(ADDRESS))
        .to(Mailbox::new("bob@example.test"))
        .subject("the plan")
        .text("Meet at noon by the old mill.")
        .date(1_700_000_000);
    let sealer = esmtp_core::Sealer::new().recipient(bob().to_public()).key_slip().sign_with(alice().clone());
    let mail = mime::package_with(
        &draft,
        &sealer,
        &PackageOptions::new(1_700_000_000),
        &mut seed_rng(Suite::ChaCha20Poly1305),
    )
    .expect("seed packaging");
    let slip = mail.key_slip.as_ref().expect("asked for a key slip");
    let slip_mail =
        mime::key_slip_mail_with(slip, &draft.from, &draft.to[0], 1_700_000_000, &mut Deterministic::new(9))
            .expect("seed key-slip mail");
    (mail.bytes, slip_mail.bytes.to_vec())
}
