//! `capabilities`, `send` and `fetch` against the real mail lab (Postfix + Dovecot on 127.0.0.1)
//! over IMAP and POP3, implicit TLS and STARTTLS, passwords and OAuth2. Run by ./scripts/test,
//! which starts the lab; without its variables every test here fails.
//!
//! The tests share the lab users' mailboxes, so they take turns (a lock), and each fetch starts
//! after the last message that was there before the test sent anything (`--since-uid`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{Scratch, assert_clean_error, code, err, esmtp};
use esmtp_core::hash::{HashAlgorithm, Hasher, digest_reader, to_hex};
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
    // A fresh envelope id is 16 random bytes from the OS generator.
    let sealed = esmtp_core::Sealer::new().key_slip().seal(b"").expect("OS random");
    sealed.envelope_id.to_string()[..12].to_string()
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
#[allow(dead_code)]
struct Row {
    uid: String,
    kind: String,
    from: String,
    subject: String,
    md5: String,
    suite: String,
    signer: String,
    check: String,
}

fn rows(stdout: &[u8]) -> Vec<Row> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 8, "eight tab-separated fields: {l:?}");
            Row {
                uid: f[0].into(),
                kind: f[1].into(),
                from: f[2].into(),
                subject: f[3].into(),
                md5: f[4].into(),
                suite: f[5].into(),
                signer: f[6].into(),
                check: f[7].into(),
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
    let next: String =
        err(&out).rsplit("--since-uid ").next().unwrap().chars().take_while(char::is_ascii_digit).collect();
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
        // The line names the envelope, so the key slip that opens it can be found.
        let line = err(&out).lines().find(|l| l.contains("no matching recipient")).unwrap().to_string();
        let envelope = line.split("(envelope ").nth(1).map(|r| r.chars().take(32).collect::<String>());
        assert!(envelope.as_ref().is_some_and(|e| e.chars().all(|c| c.is_ascii_hexdigit())), "{line}");
        // Mails anyone could have sent are unsigned: nothing says who wrote them.
        let mine_row = rows.iter().find(|r| r.subject == format!("mine {t}")).unwrap();
        assert_eq!((mine_row.signer.as_str(), mine_row.check.as_str()), ("-", "unsigned"));
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

fn fetch_json(
    account: &Path,
    extra: &[&str],
    state: &Path,
    env: (&str, &str),
) -> (std::process::Output, Vec<serde_json::Value>) {
    let out = esmtp()
        .args(["fetch", "--new", "--json", "--account"])
        .arg(account)
        .args(extra)
        .env("XDG_STATE_HOME", state)
        .env(env.0, env.1)
        .output()
        .unwrap();
    let rows = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (out, rows)
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn fetch_new_remembers_where_it_ended_over_imap_and_pop3() {
    let _turn = turn();
    let s = Scratch::new();
    let bob_key = s.keygen("bob.key");
    let alice = account(&s, "alice", Tls::Implicit, Secret::File);
    let bob = account(&s, "bob", Tls::Implicit, Secret::Env("ESMTP_TEST_BOB_PW"));
    let state = s.path("state");
    let env = ("ESMTP_TEST_BOB_PW", password("bob"));
    let env = (env.0, env.1.as_str());
    let key = s.path("bob.key").display().to_string();
    for protocol in ["imap", "pop3"] {
        // The first --new lists whatever is there and remembers it.
        let (out, _) = fetch_json(&bob, &["--protocol", protocol, "-i", &key], &state, env);
        assert!(matches!(code(&out), 0 | 3), "{protocol}: {}", err(&out));
    }
    assert!(state.join("esmtp/sync.toml").exists(), "the state lives in $XDG_STATE_HOME/esmtp");
    let t = tag();
    let ids =
        send(&alice, &["--to", &address("bob"), "-r", &bob_key, "--subject", &format!("new {t}")], "fresh");
    wait_for("bob", &format!("Message-ID: {}", ids[0]));
    for protocol in ["imap", "pop3"] {
        let (out, rows) = fetch_json(&bob, &["--protocol", protocol, "-i", &key], &state, env);
        assert!(out.status.success(), "{protocol}: {}", err(&out));
        // Only what arrived since: the new mail (others' tests may add theirs, never older ones).
        let ours: Vec<&serde_json::Value> =
            rows.iter().filter(|r| r["subject"] == format!("new {t}")).collect();
        assert_eq!(ours.len(), 1, "{protocol}: {rows:?}");
        let row = ours[0];
        assert_eq!(row["kind"], "esmtp");
        assert_eq!(row["from"], address("alice"));
        assert_eq!(row["suite"], "chacha20-poly1305");
        assert_eq!(row["md5"].as_str().map(str::len), Some(32));
        assert!(row["signer"].is_null() && row["error"].is_null());
        assert_eq!(row["sender_check"]["verdict"], "unsigned", "{row}");
        if protocol == "imap" {
            assert!(row["uid"].is_u64() && row["mailbox"] == "INBOX", "{row}");
        } else {
            assert!(row["uidl"].is_string() && row["uid"].is_null(), "{row}");
        }
        let (again, rows) = fetch_json(&bob, &["--protocol", protocol, "-i", &key], &state, env);
        assert!(again.status.success(), "{protocol}: {}", err(&again));
        assert!(
            !rows.iter().any(|r| r["subject"] == format!("new {t}")),
            "{protocol}: listed twice: {rows:?}"
        );
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_key_slip_sent_to_another_address_is_saved_by_fetch_and_opens_the_mail() {
    let _turn = turn();
    let s = Scratch::new();
    let alice = account(&s, "alice", Tls::Implicit, Secret::File);
    let bob = account(&s, "bob", Tls::Implicit, Secret::File);
    let carol = account(&s, "carol", Tls::Implicit, Secret::File);
    let since_bob = mark(&s, "bob", "imap");
    let since_carol = mark(&s, "carol", "imap");
    let t = tag();
    let out = esmtp()
        .args(["send", "--account"])
        .arg(&alice)
        .args(["--to", &address("bob"), "--suite", "des-cbc-md5", "--key-slip-to", &address("carol")])
        .args(["--subject", &format!("apart {t}")])
        .write_stdin(format!("Two mailboxes, {t}.\n"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert!(!err(&out).contains("also receives the mail"), "a separate address is not warned about");
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once("Message-ID: ").map(|(_, id)| id.trim().to_string()))
        .collect();
    wait_for("bob", &format!("Message-ID: {}", ids[0]));
    wait_for("carol", &format!("Message-ID: {}", ids[1]));

    // Bob alone cannot open it; the failure names the mail.
    let out =
        esmtp().args(["fetch", "--account"]).arg(&bob).args(["--since-uid", &since_bob]).output().unwrap();
    assert_eq!(code(&out), 3, "{}", err(&out));
    assert!(err(&out).contains(&format!("Message-ID {}", ids[0])), "{}", err(&out));
    // Carol's fetch saves the slip, mode 0600, named by the envelope.
    let slips = s.path("slips");
    let out = esmtp()
        .args(["fetch", "--account"])
        .arg(&carol)
        .args(["--since-uid", &since_carol, "--out"])
        .arg(&slips)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let row = rows(&out.stdout).into_iter().find(|r| r.kind == "key-slip").expect("the slip is listed");
    let file = slips.join(format!("key-slip-{}.txt", row.md5));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).expect("slip saved").permissions());
    assert_eq!(mode & 0o777, 0o600);
    // With it, bob's mail opens.
    let out = esmtp()
        .args(["fetch", "--account"])
        .arg(&bob)
        .args(["--since-uid", &since_bob, "--key-slip"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let mail = rows(&out.stdout).into_iter().find(|r| r.subject == format!("apart {t}")).expect("opened");
    assert_eq!((mail.kind.as_str(), mail.suite.as_str()), ("esmtp", "des-cbc-md5"));
    // Fetching into the directory that holds the saved slip opens it without naming the slip.
    let out = esmtp()
        .args(["fetch", "--account"])
        .arg(&bob)
        .args(["--since-uid", &since_bob, "--out"])
        .arg(&slips)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let mail = rows(&out.stdout).into_iter().find(|r| r.subject == format!("apart {t}")).expect("opened");
    assert_eq!(mail.kind, "esmtp");
    assert!(slips.join(format!("INBOX-{}", mail.uid)).join("message.txt").exists());
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn watch_lists_new_mail_and_ends_cleanly_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let _turn = turn();
    let s = Scratch::new();
    let bob_key = s.keygen("bob.key");
    let alice = account(&s, "alice", Tls::Implicit, Secret::File);
    let bob = account(&s, "bob", Tls::StartTls, Secret::File);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_esmtp"))
        .args(["watch", "--json", "--account"])
        .arg(&bob)
        .arg("-i")
        .arg(s.path("bob.key"))
        .arg("--out")
        .arg(s.path("mail"))
        .env("XDG_STATE_HOME", s.path("state"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Standard error tells when it waits; read it on a thread. Standard output too, from the
    // start: the first listing (the whole mailbox) can be larger than a pipe holds.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (out_tx, out_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = out_tx.send(line);
        }
    });
    let wait_line = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if line.contains(what) {
                return;
            }
        }
        panic!("no {what:?} on standard error");
    };
    wait_line("waiting for new mail");
    let t = tag();
    let ids = send(
        &alice,
        &["--to", &address("bob"), "-r", &bob_key, "--subject", &format!("watched {t}")],
        "live",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = None;
    while seen.is_none() {
        let Ok(line) = out_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            break;
        };
        let row: serde_json::Value = serde_json::from_str(&line).unwrap();
        if row["subject"] == format!("watched {t}") {
            seen = Some(row);
        }
    }
    let row = seen.unwrap_or_else(|| panic!("the new mail {} was not listed", ids[0]));
    assert_eq!(row["kind"], "esmtp");
    assert!(s.path("mail").join(format!("INBOX-{}", row["uid"])).join("message.eml").exists());
    wait_line("waiting for new mail");
    let kill = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "Ctrl-C ends watch cleanly");
    wait_line("watch ended");
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_token_command_runs_for_an_account_file_named_without_a_directory() {
    let _turn = turn();
    let s = Scratch::new();
    let path = account(&s, "alice", Tls::Implicit, Secret::Token);
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::create_dir(s.path("elsewhere")).unwrap();
    for (dir, account) in
        [(s.dir.path().to_path_buf(), name.clone()), (s.path("elsewhere"), format!("../{name}"))]
    {
        let out = esmtp()
            .current_dir(&dir)
            .args(["fetch", "--esmtp-only", "--since-uid", "4294967295", "--account", &account])
            .output()
            .unwrap();
        assert!(out.status.success(), "{account}: {}", err(&out));
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn capabilities_as_json() {
    let _turn = turn();
    let s = Scratch::new();
    let path = account(&s, "alice", Tls::StartTls, Secret::Env("ESMTP_TEST_UNSET_PASSWORD"));
    let out = esmtp().args(["capabilities", "--json", "--account"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let caps: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(caps["size"], 36_700_160);
    assert_eq!(caps["server"]["tls"], "starttls");
    assert_eq!(caps["starttls"], true);
    assert!(caps["auth"].as_array().unwrap().iter().any(|m| m == "XOAUTH2"), "{caps}");
    assert!(caps["ehlo"].as_array().is_some_and(|l| !l.is_empty()));
}

/// An account file with `identity_file` and `[contacts]` added.
fn with_identity(s: &Scratch, base: &Path, name: &str, key: &str, contacts: &[(String, String)]) -> PathBuf {
    let mut text = std::fs::read_to_string(base).unwrap();
    // Top-level keys go before the first table.
    let at = text.find("\n[").unwrap();
    text.insert_str(at, &format!("\nidentity_file = \"{}\"", s.path(key).display()));
    text.push_str("\n[contacts]\n");
    for (address, key) in contacts {
        text.push_str(&format!("\"{address}\" = \"{key}\"\n"));
    }
    s.write(name, text.as_bytes())
}

/// Every line the client sent that carries a login is redacted, and the password appears nowhere:
/// neither as itself nor in base64 (AUTH LOGIN), nor as an AUTH PLAIN payload.
fn assert_trace_without_secrets(
    out: &std::process::Output,
    protocol: &str,
    user: &str,
    secret: Option<&str>,
) {
    use base64::Engine as _;
    let stderr = err(out);
    assert!(stderr.contains(&format!("{protocol} C: ")), "no {protocol} trace: {stderr}");
    if let Some(secret) = secret {
        let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
        for form in [secret.to_string(), b64(secret), b64(&format!("\0{user}\0{secret}"))] {
            assert!(!stderr.contains(&form), "the password is in the trace");
        }
    }
    let logins: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{protocol} C: ")))
        .filter(|l| ["AUTH", "LOGIN", "PASS "].iter().any(|w| l.to_ascii_uppercase().contains(w)))
        .collect();
    assert!(!logins.is_empty(), "no login in the {protocol} trace: {stderr}");
    // A login line ends with its mechanism (the payload follows on its own line) or is redacted.
    for line in logins {
        let last = line.split_whitespace().last().unwrap_or_default();
        let mechanism = ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"].contains(&last);
        assert!(mechanism || line.contains("<redacted>"), "{line}");
    }
    assert!(
        stderr.lines().any(|l| l == format!("{protocol} C: <redacted>")
            || (l.starts_with(&format!("{protocol} C: ")) && l.ends_with("<redacted>"))),
        "no redacted login: {stderr}"
    );
    // The base64 of an XOAUTH2 payload starts with "user=".
    assert!(!stderr.contains("dXNlcj0"), "an XOAUTH2 payload is in the trace");
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn signed_mail_is_verified_against_the_contacts_and_a_wrong_or_missing_signature_is_flagged() {
    let _turn = turn();
    let s = Scratch::new();
    let alice_pub = s.keygen("alice.key");
    let bob_pub = s.keygen("bob.key");
    s.keygen("carol.key");
    let someone = s.keygen("someone.key");
    let alice = with_identity(
        &s,
        &account(&s, "alice", Tls::StartTls, Secret::File),
        "alice-id.toml",
        "alice.key",
        &[],
    );
    let carol = with_identity(
        &s,
        &account(&s, "carol", Tls::Implicit, Secret::Token),
        "carol-id.toml",
        "carol.key",
        &[],
    );
    // Bob holds alice's key, and a key for carol that is not the one she signs with.
    let contacts = [(address("alice"), alice_pub.clone()), (address("carol"), someone)];
    let bob = with_identity(
        &s,
        &account(&s, "bob", Tls::Implicit, Secret::File),
        "bob-id.toml",
        "bob.key",
        &contacts,
    );
    let since_imap = mark(&s, "bob", "imap");
    let since_pop3 = mark(&s, "bob", "pop3");
    let t = tag();

    // Signed by default, and traced with -v: the login is redacted.
    let out = esmtp()
        .args(["send", "-v", "--account"])
        .arg(&alice)
        .args(["--to", &address("bob"), "-r", &bob_pub, "--subject", &format!("signed {t}")])
        .write_stdin("from alice")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert_trace_without_secrets(&out, "SMTP", &address("alice"), Some(&password("alice")));
    assert!(err(&out).contains(&format!("signed by {alice_pub}")), "{}", err(&out));
    let signed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: ").map(str::to_string))
        .unwrap();
    let unsigned = send(
        &alice,
        &["--to", &address("bob"), "-r", &bob_pub, "--no-sign", "--subject", &format!("unsigned {t}")],
        "who?",
    );
    let out = esmtp()
        .args(["send", "-v", "--account"])
        .arg(&carol)
        .args(["--to", &address("bob"), "-r", &bob_pub, "--subject", &format!("carol {t}")])
        .write_stdin("from carol")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert_trace_without_secrets(&out, "SMTP", &address("carol"), None);
    let from_carol = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: ").map(str::to_string))
        .unwrap();
    for id in [&signed, &unsigned[0], &from_carol] {
        wait_for("bob", &format!("Message-ID: {id}"));
    }

    for (protocol, since, upper) in [("imap", &since_imap, "IMAP"), ("pop3", &since_pop3, "POP3")] {
        // No -i: the account's identity opens the mail.
        let out = esmtp()
            .args(["fetch", "-v", "--protocol", protocol, "--account"])
            .arg(&bob)
            .args(["--since-uid", since])
            .output()
            .unwrap();
        assert!(out.status.success(), "{protocol}: {}", err(&out));
        assert_trace_without_secrets(&out, upper, &address("bob"), Some(&password("bob")));
        let rows = rows(&out.stdout);
        let find = |subject: String| {
            rows.iter()
                .find(|r| r.subject == subject)
                .unwrap_or_else(|| panic!("{protocol}: {subject} in {rows:?}"))
        };
        let ok = find(format!("signed {t}"));
        assert_eq!((ok.signer.as_str(), ok.check.as_str()), (alice_pub.as_str(), "verified"), "{protocol}");
        let bare = find(format!("unsigned {t}"));
        assert_eq!((bare.signer.as_str(), bare.check.as_str()), ("-", "missing-signature"), "{protocol}");
        let wrong = find(format!("carol {t}"));
        assert_eq!(wrong.check, "wrong-signer", "{protocol}");
        assert!(wrong.signer.starts_with("esmtp1") && wrong.signer != alice_pub);
        let stderr = err(&out);
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains(": warning: ")).collect();
        assert!(
            warnings.iter().any(|l| l.contains(&format!("message {}: warning: not signed", bare.uid))),
            "{protocol}: {warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|l| l.contains(&format!("message {}: warning: signed by a key that is not", wrong.uid))),
            "{protocol}: {warnings:?}"
        );
        assert!(
            !warnings.iter().any(|l| l.contains(&format!("message {}:", ok.uid))),
            "{protocol}: {warnings:?}"
        );
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn pop3_fetch_leaves_mail_unread_and_capabilities_traces_without_logging_in() {
    let _turn = turn();
    let s = Scratch::new();
    let bob_pub = s.keygen("bob.key");
    let alice = account(&s, "alice", Tls::Implicit, Secret::File);
    let bob = account(&s, "bob", Tls::Implicit, Secret::File);
    let since = mark(&s, "bob", "pop3");
    let t = tag();
    let ids =
        send(&alice, &["--to", &address("bob"), "-r", &bob_pub, "--subject", &format!("unread {t}")], "x");
    let needle = format!("Message-ID: {}", ids[0]);
    wait_for("bob", &needle);
    let out = esmtp()
        .args(["fetch", "--protocol", "pop3", "--account"])
        .arg(&bob)
        .arg("-i")
        .arg(s.path("bob.key"))
        .args(["--since-uid", &since])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert!(rows(&out.stdout).iter().any(|r| r.subject == format!("unread {t}")));
    assert!(!err(&out).contains("RETR"), "TOP was used: {}", err(&out));
    // Dovecot keeps flags in the Maildir file name (":2,S" once seen): none was set.
    let maildir = PathBuf::from(var("ESMTP_LAB_BOB_MAILDIR"));
    let mut found = false;
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(maildir.join(sub)).unwrap().flatten() {
            if std::fs::read(entry.path())
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                found = true;
                let name = entry.file_name().to_string_lossy().into_owned();
                let flags = name.rsplit_once(":2,").map(|(_, f)| f.to_string()).unwrap_or_default();
                assert!(!flags.contains('S'), "the mail was marked seen: {name}");
            }
        }
    }
    assert!(found, "the mail is in the Maildir");

    // capabilities -v: the EHLO exchange, no login at all.
    let out = esmtp().args(["capabilities", "-v", "--account"]).arg(&alice).output().unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert!(err(&out).contains("SMTP C: EHLO"), "{}", err(&out));
    assert!(!err(&out).contains("SMTP C: AUTH") && !err(&out).contains(&password("alice")), "{}", err(&out));
}

/// Mail arrives unasked: a passphrase stanza that asks for more Argon2 work than esmtp seals with
/// is left unopened by `fetch` (it would cost seconds and hundreds of MiB per mail before anything
/// is authenticated), unless --allow-costly-passphrases says the user expects it.
#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn fetch_leaves_costly_passphrase_envelopes_unopened_unless_allowed() {
    use esmtp_core::mime::{self, MailDraft, Mailbox, PackageOptions};
    use esmtp_core::{Argon2Params, Passphrase, Sealer};

    let _turn = turn();
    let s = Scratch::new();
    s.write("pass.txt", b"a shared passphrase");
    let bob = account(&s, "bob", Tls::Implicit, Secret::File);
    let since = mark(&s, "bob", "imap");
    let t = tag();
    // Above the default (19 MiB, 2 passes, 1 lane), far below the reader limit.
    let costly = Argon2Params { m_cost: 32 * 1024, t_cost: 3, p_cost: 1 };
    let sealer = Sealer::new().recipient(Passphrase::new("a shared passphrase").with_params(costly).unwrap());
    let draft = MailDraft::new(Mailbox::new(address("alice")))
        .to(Mailbox::new(address("bob")))
        .subject(format!("costly {t}"))
        .text("worth the wait");
    let mail = mime::package(&draft, &sealer, &PackageOptions::new(1_700_000_000)).unwrap();
    let alice_account =
        account_file::load(&account(&s, "alice", Tls::Implicit, Secret::File), Login::Needed).unwrap();
    Submitter::new(&alice_account)
        .unwrap()
        .send_raw(&address("alice"), &[address("bob")], &mail.bytes)
        .unwrap();
    wait_for("bob", &format!("Message-ID: <{}>", mail.message_id));

    let fetch = |extra: &[&str]| {
        esmtp()
            .args(["fetch", "--esmtp-only", "--account"])
            .arg(&bob)
            .arg("--passphrase-file")
            .arg(s.path("pass.txt"))
            .args(["--since-uid", &since])
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = fetch(&[]);
    assert_eq!(code(&refused), 5, "unsupported: {}", err(&refused));
    assert!(err(&refused).contains("excessive work"), "{}", err(&refused));
    assert!(rows(&refused.stdout).iter().all(|r| r.subject != format!("costly {t}")), "not opened");
    let allowed = fetch(&["--allow-costly-passphrases"]);
    assert_eq!(code(&allowed), 0, "{}", err(&allowed));
    assert!(rows(&allowed.stdout).iter().any(|r| r.kind == "esmtp" && r.subject == format!("costly {t}")));
}

/// A 20 MiB attachment (a mail of about 29 MB, within the lab's 35 MB SIZE) sent with
/// `esmtp send` in bounded memory: the child's peak resident set, polled from /proc, stays far
/// below the data. Fetched back over IMAP, the attachment is byte for byte the file; the fetch's
/// peak is reported (it holds the mail whole, within the reader's 128 MiB limit).
#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_large_attachment_is_sent_in_bounded_memory_and_fetched_back_exactly() {
    const LEN: u64 = 20 << 20;
    let _turn = turn();
    let s = Scratch::new();
    let bob_key = s.keygen("bob.key");
    let alice = account(&s, "alice", Tls::Implicit, Secret::File);
    let bob = account(&s, "bob", Tls::Implicit, Secret::File);
    let since = mark(&s, "bob", "imap");
    let t = tag();
    let path = s.path("big.bin");
    let mut hasher = Hasher::new(HashAlgorithm::Md5);
    common::generate(&mut std::fs::File::create(&path).unwrap(), LEN, &mut hasher);
    let expected = to_hex(&hasher.finish());
    s.write("body.txt", format!("Large, {t}.\n").as_bytes());

    let child = Command::new(env!("CARGO_BIN_EXE_esmtp"))
        .args(["send", "--account"])
        .arg(&alice)
        .args(["--to", &address("bob"), "-r", &bob_key, "--subject", &format!("large {t}"), "--attach"])
        .arg(&path)
        .arg(s.path("body.txt"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(s.path("send.out")).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("esmtp runs");
    let (ok, send_peak, stderr) = common::watch(child);
    assert!(ok, "send: {}", String::from_utf8_lossy(&stderr));
    let stdout = std::fs::read_to_string(s.path("send.out")).unwrap();
    assert!(stdout.contains("Server reply: 250 2.0.0"), "{stdout}");
    let id = stdout.lines().find_map(|l| l.strip_prefix("Message-ID: ")).expect("Message-ID printed");
    wait_for("bob", &format!("Message-ID: {}", id.trim()));

    let out_dir = s.path("mail");
    let child = Command::new(env!("CARGO_BIN_EXE_esmtp"))
        .args(["fetch", "--protocol", "imap", "--account"])
        .arg(&bob)
        .arg("-i")
        .arg(s.path("bob.key"))
        .args(["--since-uid", &since, "--out"])
        .arg(&out_dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(s.path("fetch.out")).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("esmtp runs");
    let (ok, fetch_peak, stderr) = common::watch(child);
    assert!(ok, "fetch: {}", String::from_utf8_lossy(&stderr));
    let rows = rows(&std::fs::read(s.path("fetch.out")).unwrap());
    let row = rows.iter().find(|r| r.subject == format!("large {t}")).expect("the mail is listed");
    let saved = std::fs::File::open(out_dir.join(format!("INBOX-{}", row.uid)).join("big.bin")).unwrap();
    assert_eq!(
        to_hex(&digest_reader(HashAlgorithm::Md5, saved).unwrap()),
        expected,
        "the attachment came back exactly"
    );
    eprintln!("20 MiB attachment: send peak {send_peak} KiB, IMAP fetch peak {fetch_peak} KiB");
    assert!(send_peak > 0, "memory was measured");
    assert!(send_peak < 48 << 10, "send peak {send_peak} KiB for a 20 MiB attachment");
}
