//! Mails as files, no server needed: `send --draft` writes the sealed mail, `read` opens it (and
//! saves it as `fetch --out` does), `reply` answers it with threading and quoting, key slips go
//! to a file for another channel, and passphrase-protected identity files are recognised.

mod common;

use std::path::{Path, PathBuf};

use common::{Scratch, assert_clean_error, code, err, esmtp};
use esmtp_core::mime::{self, Attachment, MailDraft, Mailbox, PackageOptions};
use esmtp_core::{Sealer, X25519Recipient};

/// An account whose servers are closed: enough for drafts, which log in nowhere.
fn account(s: &Scratch, name: &str, address: &str) -> PathBuf {
    let text = format!(
        "address = \"{address}\"\npassword_env = \"ESMTP_TEST_UNSET\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = 1\ntls = \"implicit\"\n"
    );
    s.write(name, text.as_bytes())
}

fn draft(s: &Scratch, account: &Path, args: &[&str], body: &str, out: &str) -> std::process::Output {
    let out = esmtp()
        .args(["send", "--account"])
        .arg(account)
        .args(args)
        .arg("--draft")
        .arg(s.path(out))
        .write_stdin(body.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "send --draft: {}", err(&out));
    out
}

#[test]
fn a_drafted_mail_is_read_with_its_attachments_and_saved() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    let alice = account(&s, "alice.toml", "alice@example.test");
    s.write("plan.pdf", &(0..5000u32).map(|i| (i % 256) as u8).collect::<Vec<_>>());
    let attach = s.path("plan.pdf").display().to_string();
    let sent = draft(
        &s,
        &alice,
        &["--to", "bob@example.test", "-r", &bob, "--subject", "The plan", "--attach", &attach],
        "Meet at noon.\n",
        "mail.eml",
    );
    assert!(String::from_utf8_lossy(&sent.stdout).contains("not sent"));
    let eml = String::from_utf8(s.read("mail.eml")).unwrap();
    assert!(eml.contains("multipart/encrypted") && !eml.contains("The plan") && !eml.contains("noon"));

    let out = esmtp()
        .arg("read")
        .arg("-i")
        .arg(s.path("bob.key"))
        .arg("--out")
        .arg(s.path("saved"))
        .arg(s.path("mail.eml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("Subject: The plan") && shown.contains("Meet at noon."), "{shown}");
    assert!(shown.contains("Attachment: plan.pdf (application/octet-stream, 5000 bytes)"), "{shown}");
    assert_eq!(std::fs::read(s.path("saved/plan.pdf")).unwrap(), s.read("plan.pdf"));
    let inner = std::fs::read(s.path("saved/message.eml")).unwrap();
    let (md5, _) = common::md5_line(&out.stderr);
    assert_eq!(common::md5_hex(&inner), md5);

    // Without the key: exit 3, naming the envelope so a slip can be matched.
    let other = Scratch::new();
    other.keygen("other.key");
    let out =
        esmtp().arg("read").arg("-i").arg(other.path("other.key")).arg(s.path("mail.eml")).output().unwrap();
    assert_eq!(code(&out), 3, "{}", err(&out));
    assert_clean_error(&out);
    assert!(err(&out).contains("(envelope "), "{}", err(&out));
    // A plain mail is not an esmtp mail.
    s.write("plain.eml", b"From: a@example.test\r\nSubject: hi\r\n\r\nhello\r\n");
    let out = esmtp().arg("read").arg("-i").arg(s.path("bob.key")).arg(s.path("plain.eml")).output().unwrap();
    assert_eq!(code(&out), 5, "{}", err(&out));
}

#[test]
fn a_long_multibyte_attachment_name_is_saved_and_a_partial_directory_completed() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    let long = format!("{}.pdf", "€".repeat(120));
    let draft = MailDraft::new(Mailbox::new("alice@example.test"))
        .to(Mailbox::new("bob@example.test"))
        .subject("names")
        .text("three files")
        .attachment(Attachment::new(long, "application/pdf", b"euros".to_vec()))
        .attachment(Attachment::new("b.txt", "text/plain", b"bee".to_vec()))
        .attachment(Attachment::new("c.txt", "text/plain", b"sea".to_vec()))
        .date(1_700_000_000);
    let recipient: X25519Recipient = bob.parse().unwrap();
    let mail =
        mime::package(&draft, &Sealer::new().recipient(recipient), &PackageOptions::new(1_700_000_000))
            .unwrap();
    s.write("mail.eml", &mail.bytes);
    let read = || {
        esmtp()
            .arg("read")
            .arg("-i")
            .arg(s.path("bob.key"))
            .arg("--out")
            .arg(s.path("saved"))
            .arg(s.path("mail.eml"))
            .output()
            .unwrap()
    };
    let out = read();
    assert!(out.status.success(), "{}", err(&out));
    let names = |dir: &Path| -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let saved = names(&s.path("saved"));
    let euro = saved.iter().find(|n| n.starts_with('€')).expect("the long name was saved").clone();
    assert!(euro.len() <= 255 && euro.ends_with(".pdf"), "{euro}");
    assert_eq!(std::fs::read(s.path("saved").join(&euro)).unwrap(), b"euros");
    // An interrupted save left two files out: the next one completes the directory.
    std::fs::remove_file(s.path("saved/c.txt")).unwrap();
    std::fs::remove_file(s.path("saved").join(&euro)).unwrap();
    std::fs::write(s.path("saved/b.txt"), b"edited by the user").unwrap();
    let out = read();
    assert!(out.status.success(), "{}", err(&out));
    assert!(err(&out).contains("(2 new files)"), "{}", err(&out));
    assert_eq!(names(&s.path("saved")), saved);
    assert_eq!(std::fs::read(s.path("saved/c.txt")).unwrap(), b"sea");
    assert_eq!(std::fs::read(s.path("saved/b.txt")).unwrap(), b"edited by the user", "never replaced");
}

#[test]
fn a_reply_is_threaded_quoted_and_sealed() {
    let s = Scratch::new();
    let alice_pub = s.keygen("alice.key");
    let bob_pub = s.keygen("bob.key");
    let alice = account(&s, "alice.toml", "alice@example.test");
    let bob = account(&s, "bob.toml", "bob@example.test");
    draft(
        &s,
        &alice,
        &["--to", "bob@example.test", "--cc", "carol@example.test", "-r", &bob_pub, "--subject", "The plan"],
        "Meet at noon.\n\nBring the numbers.\n",
        "mail.eml",
    );
    let first_id = String::from_utf8_lossy(&s.read("mail.eml"))
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: <").map(|r| r.trim_end_matches('>').to_string()))
        .unwrap();
    let out = esmtp()
        .args(["reply", "--all", "--account"])
        .arg(&bob)
        .arg("-i")
        .arg(s.path("bob.key"))
        .args(["-r", &alice_pub, "--draft"])
        .arg(s.path("reply.eml"))
        .arg(s.path("mail.eml"))
        .write_stdin("Agreed.\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    // Alice reads the answer: threading headers are protected, so check them inside.
    let out = esmtp()
        .arg("read")
        .arg("-i")
        .arg(s.path("alice.key"))
        .arg("--out")
        .arg(s.path("answer"))
        .arg(s.path("reply.eml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("Subject: Re: The plan"), "{shown}");
    assert!(shown.contains("To: alice@example.test") && shown.contains("Cc: carol@example.test"), "{shown}");
    assert!(!shown.contains("To: bob@") && !shown.contains("bob@example.test,"), "not to oneself: {shown}");
    assert!(
        shown.contains("Agreed.\n\nOn 20") && shown.contains("> Meet at noon.\n>\n> Bring the numbers."),
        "{shown}"
    );
    let inner = String::from_utf8(std::fs::read(s.path("answer/message.eml")).unwrap()).unwrap();
    assert!(inner.contains(&format!("In-Reply-To: <{first_id}>")), "{inner}");
    assert!(inner.contains(&format!("References: <{first_id}>")), "{inner}");
    // The reply was sealed to alice only: bob cannot read his own answer.
    let out = esmtp().arg("read").arg("-i").arg(s.path("bob.key")).arg(s.path("reply.eml")).output().unwrap();
    assert_eq!(code(&out), 3);
    // Nothing to seal to: refused before anything is written.
    let out = esmtp()
        .args(["reply", "--account"])
        .arg(&bob)
        .arg("-i")
        .arg(s.path("bob.key"))
        .arg("--draft")
        .arg(s.path("none.eml"))
        .arg(s.path("mail.eml"))
        .write_stdin("x")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert!(!s.path("none.eml").exists());
}

#[test]
fn the_key_slip_goes_to_a_file_for_another_channel() {
    let s = Scratch::new();
    let alice = account(&s, "alice.toml", "alice@example.test");
    let out = draft(
        &s,
        &alice,
        &[
            "--to",
            "bob@example.test",
            "--suite",
            "des-cbc-md5",
            "--key-slip-out",
            &s.path("slip.txt").display().to_string(),
        ],
        "Key apart.\n",
        "mail.eml",
    );
    assert!(err(&out).contains("legacy strength"), "{}", err(&out));
    let slip = std::fs::metadata(s.path("slip.txt")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&slip.permissions()) & 0o777, 0o600);
    // Without the slip nothing opens it; with it, the mail reads.
    let out = esmtp()
        .args(["read", "--key-slip"])
        .arg(s.path("slip.txt"))
        .arg(s.path("mail.eml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Key apart."));
    // The token, to tell it from the next mail's.
    let token = std::fs::read_to_string(s.path("slip.txt")).unwrap();
    let token = token.lines().find(|l| l.starts_with("ESMTP-SLIP-")).unwrap().to_string();
    // An existing slip file is never overwritten, and nothing is drafted then.
    let out = esmtp()
        .args(["send", "--account"])
        .arg(&alice)
        .args(["--to", "bob@example.test", "--key-slip-out"])
        .arg(s.path("slip.txt"))
        .arg("--draft")
        .arg(s.path("second.eml"))
        .write_stdin("x")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", err(&out));
    assert!(!s.path("second.eml").exists());
    // `-` prints it instead.
    let out = esmtp()
        .args(["send", "--account"])
        .arg(&alice)
        .args(["--to", "bob@example.test", "--key-slip-out", "-", "--draft"])
        .arg(s.path("third.eml"))
        .write_stdin("x")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.lines().any(|l| l.starts_with("Key slip: ESMTP-SLIP-1")), "{printed}");
    assert!(!printed.contains(&token), "a new mail has a new slip");
}

#[test]
fn a_passphrase_protected_identity_is_recognised_and_never_used_without_its_passphrase() {
    let s = Scratch::new();
    s.write("pass.txt", b"identity passphrase\n");
    let out = esmtp()
        .args(["keygen", "--passphrase-file"])
        .arg(s.path("pass.txt"))
        .arg("-o")
        .arg(s.path("bob.key"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let public = common::public_from_stderr(&out.stderr);
    let text = String::from_utf8(s.read("bob.key")).unwrap();
    assert!(
        text.starts_with("-----BEGIN ESMTP ENVELOPE-----") && !text.contains("ESMTP-SECRET-KEY"),
        "{text}"
    );
    s.write("msg.txt", b"for bob");
    let out = esmtp()
        .args(["seal", "-r", &public, "-o"])
        .arg(s.path("env"))
        .arg(s.path("msg.txt"))
        .output()
        .unwrap();
    assert!(out.status.success());
    // No terminal to ask on: a usage error that says why, nothing written.
    for args in [vec!["open", "-o", "out.txt"], vec!["recipient"]] {
        let out = esmtp()
            .current_dir(s.dir.path())
            .args(&args)
            .arg("-i")
            .arg(s.path("bob.key"))
            .args(if args[0] == "open" { vec![s.path("env")] } else { vec![] })
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {}", err(&out));
        assert_clean_error(&out);
        assert!(err(&out).contains("passphrase-protected"), "{}", err(&out));
        assert!(!s.path("out.txt").exists());
    }
}
