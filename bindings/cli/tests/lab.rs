//! `capabilities`, `send` and `fetch` against the real mail lab (Postfix + Dovecot on 127.0.0.1)
//! over IMAP and POP3, implicit TLS and STARTTLS, passwords and OAuth2. Run by ./scripts/test,
//! which starts the lab; without its variables every test here fails.
//!
//! The tests share the lab users' mailboxes, so they take turns (a lock), and each fetch starts
//! after the last message that was there before the test sent anything (`--since-uid`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{Scratch, assert_clean_error, code, err, esmtp};
use esmtp_transport::account_file::{self, Login};
use esmtp_transport::{ImapClient, Pop3Client, Submit, Submitter};

static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the lab tests through ./scripts/test, which starts scripts/mail-lab")
    })
}

fn port(name: &str) -> String {
    var(&format!("ESMTP_LAB_{name}_PORT"))
}

fn address(user: &str) -> String {
    var(&format!("ESMTP_LAB_{}_ADDRESS", user.to_uppercase()))
}

fn password(user: &str) -> String {
    var(&format!("ESMTP_LAB_{}_PASSWORD", user.to_uppercase()))
}

/// A random tag for one test's mails.
fn tag() -> String {
    use esmtp_core::RandomSource;
    let mut b = [0u8; 6];
    esmtp_core::OsRandom.fill(&mut b).expect("OS random");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tls {
    Implicit,
    StartTls,
}

/// How the account file names its secret.
enum Secret {
    /// `password_file`, relative to the account file.
    File,
    /// `password_env`, with this variable.
    Env(&'static str),
    /// `oauth2_token_cmd`, the lab's token minter.
    Token,
}

/// Write an account file for `user`: every lab server with the given TLS mode, the lab CA.
fn account(s: &Scratch, user: &str, tls: Tls, secret: Secret) -> PathBuf {
    let (smtp, imap, pop3, mode) = match tls {
        Tls::Implicit => (port("SMTPS"), port("IMAPS"), port("POP3S"), "implicit"),
        Tls::StartTls => (port("SUBMISSION"), port("IMAP"), port("POP3"), "starttls"),
    };
    let secret = match secret {
        Secret::File => {
            s.write(&format!("{user}.password"), format!("{}\n", password(user)).as_bytes());
            format!("password_file = \"{user}.password\"")
        }
        Secret::Env(var) => format!("password_env = \"{var}\""),
        Secret::Token => format!("oauth2_token_cmd = [\"{}\", \"{user}\"]", var("ESMTP_LAB_MINT_TOKEN")),
    };
    let host = var("ESMTP_LAB_HOST");
    let text = format!(
        "address = \"{}\"\n{secret}\nca_file = \"{}\"\ntimeout_secs = 20\n\n\
         [smtp]\nhost = \"{host}\"\nport = {smtp}\ntls = \"{mode}\"\n\n\
         [imap]\nhost = \"{host}\"\nport = {imap}\ntls = \"{mode}\"\n\n\
         [pop3]\nhost = \"{host}\"\nport = {pop3}\ntls = \"{mode}\"\n",
        address(user),
        var("ESMTP_LAB_CA"),
    );
    s.write(&format!("{user}-{mode}.toml"), text.as_bytes())
}

/// Where the next fetch should start: the IMAP UID / POP3 message number of the last message now
/// in the user's INBOX.
fn mark(s: &Scratch, user: &str, protocol: &str) -> String {
    let path = account(s, user, Tls::Implicit, Secret::File);
    let account = account_file::load(&path, Login::Needed).expect("account file loads");
    if protocol == "imap" {
        let mut client = ImapClient::connect(&account).expect("IMAP login");
        let state = client.examine("INBOX").expect("EXAMINE INBOX");
        let _ = client.logout();
        state.uid_next.expect("UIDNEXT").saturating_sub(1).to_string()
    } else {
        let mut client = Pop3Client::connect(&account).expect("POP3 login");
        let (count, _) = client.stat().expect("STAT");
        let _ = client.quit();
        count.to_string()
    }
}

/// Wait until `user`'s Maildir holds a mail containing `needle` (delivery is asynchronous).
fn wait_for(user: &str, needle: &str) {
    let maildir = PathBuf::from(var(&format!("ESMTP_LAB_{}_MAILDIR", user.to_uppercase())));
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        for sub in ["new", "cur"] {
            for entry in std::fs::read_dir(maildir.join(sub)).into_iter().flatten().flatten() {
                if std::fs::read(entry.path())
                    .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                {
                    return;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no mail with {needle:?} reached {user} in 30 s");
}

/// One line of `esmtp fetch`.
#[derive(Debug)]
struct Row {
    uid: String,
    kind: String,
    from: String,
    subject: String,
    md5: String,
    suite: String,
}

fn rows(stdout: &[u8]) -> Vec<Row> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "six tab-separated fields: {l:?}");
            Row {
                uid: f[0].into(),
                kind: f[1].into(),
                from: f[2].into(),
                subject: f[3].into(),
                md5: f[4].into(),
                suite: f[5].into(),
            }
        })
        .collect()
}

/// `esmtp send` from `account`; returns the Message-IDs it printed (the mail's, then the slip's).
fn send(account: &Path, args: &[&str], body: &str) -> Vec<String> {
    let out =
        esmtp().arg("send").arg("--account").arg(account).args(args).write_stdin(body).output().unwrap();
    assert!(out.status.success(), "send {args:?}: {}", err(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("Server reply: 250 2.0.0"), "{stdout}");
    stdout.lines().filter_map(|l| l.split_once("Message-ID: ").map(|(_, id)| id.trim().to_string())).collect()
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn capabilities_lists_the_servers_extensions_over_both_tls_modes() {
    let _turn = turn();
    let s = Scratch::new();
    for tls in [Tls::Implicit, Tls::StartTls] {
        // No login happens, so the password's variable need not even be set.
        let path = account(&s, "alice", tls, Secret::Env("ESMTP_TEST_UNSET_PASSWORD"));
        let out = esmtp().arg("capabilities").arg("--account").arg(&path).output().unwrap();
        assert!(out.status.success(), "{}", err(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        for line in [
            "SIZE                 36700160 bytes",
            "8BITMIME             yes",
            "SMTPUTF8             yes",
            "PIPELINING           yes",
            "DSN                  yes",
            "ENHANCEDSTATUSCODES  yes",
            "CHUNKING             yes",
        ] {
            assert!(text.contains(line), "{line:?} missing:\n{text}");
        }
        let auth = text.lines().find(|l| l.starts_with("AUTH ")).expect("AUTH line");
        assert!(auth.contains("PLAIN") && auth.contains("LOGIN") && auth.contains("XOAUTH2"), "{auth}");
        let starttls =
            if tls == Tls::StartTls { "STARTTLS             yes" } else { "STARTTLS             no" };
        assert!(text.contains(starttls), "{text}");
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn send_and_fetch_over_imap_both_suites_with_attachments() {
    let _turn = turn();
    let s = Scratch::new();
    let bob_key = s.keygen("bob.key");
    s.write("pass.txt", b"a shared passphrase");
    let alice = account(&s, "alice", Tls::Implicit, Secret::File);
    let bob = account(&s, "bob", Tls::StartTls, Secret::Env("ESMTP_TEST_BOB_PW"));
    let since = mark(&s, "bob", "imap");
    let t = tag();
    let attachment: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    s.write("data.bin", &attachment);
    s.write("body.txt", format!("The plan, {t}.\nLine two.\n").as_bytes());

    let ids_modern = send(
        &alice,
        &[
            "--to",
            &address("bob"),
            "-r",
            &bob_key,
            "--subject",
            &format!("modern {t}"),
            "--attach",
            &s.path("data.bin").display().to_string(),
            &s.path("body.txt").display().to_string(),
        ],
        "",
    );
    let ids_legacy = send(
        &alice,
        &[
            "--to",
            &address("bob"),
            "--suite",
            "des-cbc-md5",
            "--passphrase-file",
            &s.path("pass.txt").display().to_string(),
            "--subject",
            &format!("legacy {t}"),
        ],
        &format!("Sealed the paper's way, {t}.\n"),
    );
    wait_for("bob", &format!("Message-ID: {}", ids_modern[0]));
    wait_for("bob", &format!("Message-ID: {}", ids_legacy[0]));

    let out_dir = s.path("mail");
    let out = esmtp()
        .args(["fetch", "--protocol", "imap", "--account"])
        .arg(&bob)
        .arg("-i")
        .arg(s.path("bob.key"))
        .arg("--passphrase-file")
        .arg(s.path("pass.txt"))
        .args(["--since-uid", &since, "--out"])
        .arg(&out_dir)
        .env("ESMTP_TEST_BOB_PW", password("bob"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let rows = rows(&out.stdout);
    let modern = rows.iter().find(|r| r.subject == format!("modern {t}")).expect("modern mail listed");
    let legacy = rows.iter().find(|r| r.subject == format!("legacy {t}")).expect("legacy mail listed");
    assert_eq!((modern.kind.as_str(), modern.suite.as_str()), ("esmtp", "chacha20-poly1305"));
    assert_eq!((legacy.kind.as_str(), legacy.suite.as_str()), ("esmtp", "des-cbc-md5"));
    assert_eq!(modern.from, address("alice"));
    assert_eq!(modern.md5.len(), 32);
    assert!(err(&out).contains("next time: --since-uid"), "{}", err(&out));

    // Saved: the protected headers and the text, and the attachment byte for byte.
    let saved = out_dir.join(format!("INBOX-{}", modern.uid));
    let message = std::fs::read_to_string(saved.join("message.txt")).expect("message.txt");
    assert!(
        message.contains(&format!("Subject: modern {t}")) && message.contains(&format!("The plan, {t}."))
    );
    assert_eq!(std::fs::read(saved.join("data.bin")).expect("attachment saved"), attachment);
    // The decrypted mail itself, whose digest is the MD5 listed (the paper's integrity check).
    let eml = std::fs::read(saved.join("message.eml")).expect("message.eml");
    assert_eq!(common::md5_hex(&eml), modern.md5);
    assert!(String::from_utf8_lossy(&eml).contains(&format!("Subject: modern {t}")));
    let legacy_text =
        std::fs::read_to_string(out_dir.join(format!("INBOX-{}", legacy.uid)).join("message.txt")).unwrap();
    assert!(legacy_text.contains(&format!("Sealed the paper's way, {t}.")));

    // A second fetch from where the first ended has nothing new.
    let next = err(&out).rsplit("--since-uid ").next().unwrap().trim().to_string();
    let again = esmtp()
        .args(["fetch", "--account"])
        .arg(&bob)
        .args(["--since-uid", &next])
        .env("ESMTP_TEST_BOB_PW", password("bob"))
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", err(&again));
    assert!(again.stdout.is_empty(), "{}", String::from_utf8_lossy(&again.stdout));
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn the_papers_flow_key_slip_mailed_separately_fetched_over_pop3_without_any_key() {
    let _turn = turn();
    let s = Scratch::new();
    let alice = account(&s, "alice", Tls::StartTls, Secret::Token);
    let carol = account(&s, "carol", Tls::Implicit, Secret::File);
    let carol_starttls = account(&s, "carol", Tls::StartTls, Secret::Token);
    let since = mark(&s, "carol", "pop3");
    let t = tag();
    let ids = send(
        &alice,
        &[
            "--to",
            &address("carol"),
            "--suite",
            "des-cbc-md5",
            "--key-slip-to",
            &address("carol"),
            "--subject",
            &format!("slip {t}"),
        ],
        &format!("Key delivered apart, {t}.\n"),
    );
    assert_eq!(ids.len(), 2, "the mail and its key slip: {ids:?}");
    wait_for("carol", &format!("Message-ID: {}", ids[1]));
    wait_for("carol", &format!("Message-ID: {}", ids[0]));

    for path in [&carol, &carol_starttls] {
        let out = esmtp()
            .args(["fetch", "--protocol", "pop3", "--account"])
            .arg(path)
            .args(["--since-uid", &since])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", err(&out));
        let rows = rows(&out.stdout);
        let mail = rows.iter().find(|r| r.subject == format!("slip {t}")).expect("the mail is listed");
        assert_eq!((mail.kind.as_str(), mail.suite.as_str()), ("esmtp+slip", "des-cbc-md5"));
        assert!(rows.iter().any(|r| r.kind == "key-slip"), "{rows:?}");
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_mail_that_does_not_open_is_reported_and_the_others_continue() {
    let _turn = turn();
    let s = Scratch::new();
    let bob_key = s.keygen("bob.key");
    let someone_else = s.keygen("other.key");
    let alice = account(&s, "alice", Tls::Implicit, Secret::File);
    let bob = account(&s, "bob", Tls::Implicit, Secret::File);
    let since_imap = mark(&s, "bob", "imap");
    let since_pop3 = mark(&s, "bob", "pop3");
    let t = tag();
    let foreign = send(
        &alice,
        &["--to", &address("bob"), "-r", &someone_else, "--subject", &format!("foreign {t}")],
        "x",
    );
    let mine =
        send(&alice, &["--to", &address("bob"), "-r", &bob_key, "--subject", &format!("mine {t}")], "y");
    // A plain mail, submitted with the library (the command only sends encrypted mail).
    let alice_account = account_file::load(&alice, Login::Needed).unwrap();
    let plain = format!(
        "From: <{}>\r\nTo: <{}>\r\nSubject: plain {t}\r\n\
         Message-ID: <plain-{t}@example.test>\r\n\r\nhello\r\n",
        address("alice"),
        address("bob")
    );
    Submitter::new(&alice_account)
        .unwrap()
        .send_raw(&address("alice"), &[address("bob")], plain.as_bytes())
        .unwrap();
    for id in [&foreign[0], &mine[0]] {
        wait_for("bob", &format!("Message-ID: {id}"));
    }
    wait_for("bob", &format!("Message-ID: <plain-{t}@example.test>"));

    for (protocol, since) in [("imap", &since_imap), ("pop3", &since_pop3)] {
        let out = esmtp()
            .args(["fetch", "--protocol", protocol, "--account"])
            .arg(&bob)
            .arg("-i")
            .arg(s.path("bob.key"))
            .args(["--since-uid", since])
            .output()
            .unwrap();
        assert_eq!(code(&out), 3, "{protocol}: {}", err(&out));
        assert_clean_error(&out);
        let rows = rows(&out.stdout);
        let kinds: Vec<(&str, &str)> = rows.iter().map(|r| (r.kind.as_str(), r.subject.as_str())).collect();
        assert!(kinds.contains(&("failed", "...")), "{protocol}: {kinds:?}");
        assert!(kinds.contains(&("esmtp", format!("mine {t}").as_str())), "{protocol}: {kinds:?}");
        assert!(kinds.contains(&("plain", format!("plain {t}").as_str())), "{protocol}: {kinds:?}");
        assert!(
            !kinds.iter().any(|(_, subject)| subject.contains("foreign")),
            "the protected subject stays hidden"
        );
        assert!(err(&out).contains("no matching recipient"), "{}", err(&out));
        assert!(err(&out).contains("1 of 3 messages could not be opened"), "{}", err(&out));
        // --esmtp-only leaves the plain mail out.
        let only = esmtp()
            .args(["fetch", "--esmtp-only", "--protocol", protocol, "--account"])
            .arg(&bob)
            .arg("-i")
            .arg(s.path("bob.key"))
            .args(["--since-uid", since])
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&only.stdout).contains("\tplain\t"), "{protocol}");
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn rejected_logins_are_exit_6_and_an_untrusted_server_is_exit_7() {
    let _turn = turn();
    let s = Scratch::new();
    let bob_key = s.keygen("bob.key");
    let alice = account(&s, "alice", Tls::Implicit, Secret::Env("ESMTP_TEST_ALICE_PW"));
    let wrong = "not-the-password-4711";
    for args in [
        vec!["send", "--to", &address("bob"), "-r", &bob_key],
        vec!["fetch", "--protocol", "imap"],
        vec!["fetch", "--protocol", "pop3"],
    ] {
        let out = esmtp()
            .args(&args)
            .arg("--account")
            .arg(&alice)
            .env("ESMTP_TEST_ALICE_PW", wrong)
            .write_stdin("body")
            .output()
            .unwrap();
        assert_eq!(code(&out), 6, "{args:?}: {}", err(&out));
        assert_clean_error(&out);
        assert!(!err(&out).contains(wrong), "the password was printed");
        assert!(err(&out).contains("hint:"), "{}", err(&out));
    }
    // A token command that fails is a failed login too.
    let text = std::fs::read_to_string(account(&s, "alice", Tls::Implicit, Secret::Token)).unwrap();
    let failing = text
        .lines()
        .map(|l| if l.starts_with("oauth2_token_cmd") { "oauth2_token_cmd = \"exit 3\"" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let failing = s.write("failing.toml", failing.as_bytes());
    esmtp().args(["fetch", "--account"]).arg(&failing).assert().code(6);

    // The lab's certificate, checked against a CA that did not sign it.
    let untrusted = std::fs::read_to_string(&alice)
        .unwrap()
        .replace(&var("ESMTP_LAB_CA"), &var("ESMTP_LAB_UNTRUSTED_CA"));
    let untrusted = s.write("untrusted.toml", untrusted.as_bytes());
    let out = esmtp().args(["capabilities", "--account"]).arg(&untrusted).output().unwrap();
    assert_eq!(code(&out), 7, "{}", err(&out));
    assert!(err(&out).contains("ca_file"), "the hint names ca_file: {}", err(&out));
}
