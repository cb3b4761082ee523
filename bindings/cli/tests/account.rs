//! Account files and the mail commands' failures that need no server: bad files are usage errors
//! (exit 2) naming the file and line, an unreachable server is exit 7, and no secret is printed.

mod common;

use common::{Scratch, assert_clean_error, code, err, esmtp};
use predicates::prelude::*;

/// Port 1 on loopback: nothing listens there, so connecting fails at once.
const CLOSED: &str = "[smtp]\nhost = \"127.0.0.1\"\nport = 1\ntls = \"implicit\"\n\
[imap]\nhost = \"127.0.0.1\"\nport = 1\ntls = \"starttls\"\n\
[pop3]\nhost = \"127.0.0.1\"\nport = 1\ntls = \"implicit\"\n";

fn account(s: &Scratch, head: &str) -> std::path::PathBuf {
    s.write("account.toml", format!("{head}\n{CLOSED}").as_bytes())
}

#[test]
fn invalid_account_files_are_usage_errors_naming_the_line() {
    let s = Scratch::new();
    let cases = [
        ("address = \"a@example.test\"\npassword = \"hunter2\"", "password"),
        ("address = \"a@example.test\"", "no secret"),
        ("address = \"a@example.test\"\npassword_env = \"X\"\npassword_file = \"p\"", "only one"),
        ("address = \"a@example.test\"\npassword_env = \"X\"\npreset = \"yahoo\"", "line 3"),
        ("address = \"a@example.test\"\npassword_env = \"X\"\ntimeout_secs = \"soon\"", "line 3"),
        ("address = \"no-at-sign\"\npassword_env = \"X\"", "@"),
        ("address = \"a@example.test\"\npassword_env = \"X\"\nca_file = \"missing.pem\"", "missing.pem"),
        ("this is not toml", "line 1"),
    ];
    for (head, expected) in cases {
        let path = account(&s, head);
        let out = esmtp().arg("capabilities").arg("--account").arg(&path).output().unwrap();
        assert_eq!(code(&out), 2, "{head}: {}", err(&out));
        assert_clean_error(&out);
        assert!(err(&out).contains(expected), "{head}: {}", err(&out));
        assert!(err(&out).contains("account.toml") || expected == "missing.pem", "{}", err(&out));
        assert!(!err(&out).contains("hunter2"), "a secret was printed");
    }
    esmtp()
        .args(["capabilities", "--account"])
        .arg(s.path("missing.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.toml"));
}

#[test]
fn a_missing_secret_matters_only_where_a_login_happens() {
    let s = Scratch::new();
    let path = account(&s, "address = \"a@example.test\"\npassword_env = \"ESMTP_TEST_UNSET\"");
    // capabilities does not log in: it gets as far as the (closed) server.
    esmtp().arg("capabilities").arg("--account").arg(&path).env_remove("ESMTP_TEST_UNSET").assert().code(7);
    // fetch logs in: the unset variable is a usage error, before any connection.
    esmtp()
        .arg("fetch")
        .arg("--account")
        .arg(&path)
        .env_remove("ESMTP_TEST_UNSET")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ESMTP_TEST_UNSET"));
    let file = account(&s, "address = \"a@example.test\"\npassword_file = \"no-such-password\"");
    esmtp()
        .arg("fetch")
        .arg("--account")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-such-password"))
        // The account file that names it, so the user knows where to fix it.
        .stderr(predicate::str::contains("account file").and(predicate::str::contains("account.toml")));
}

#[test]
fn paths_in_an_account_file_named_without_a_directory_are_relative_to_its_directory() {
    let s = Scratch::new();
    std::fs::create_dir(s.path("conf")).unwrap();
    std::fs::create_dir(s.path("elsewhere")).unwrap();
    s.write("conf/secret", b"hunter2-password\n");
    s.write("conf/ca.pem", b"not a certificate\n");
    let text =
        format!("address = \"a@example.test\"\npassword_file = \"secret\"\nca_file = \"ca.pem\"\n{CLOSED}");
    s.write("conf/bob.toml", text.as_bytes());
    // A bare file name, from its own directory, and a relative path from another directory: the
    // CA file is found (and read) either way. (The token command's directory, the other use of
    // the file's directory, needs a login: see the lab tests.)
    for (dir, account) in [("conf", "bob.toml"), ("elsewhere", "../conf/bob.toml")] {
        let out = esmtp().current_dir(s.path(dir)).args(["fetch", "--account", account]).output().unwrap();
        assert_eq!(code(&out), 2, "{dir}: {}", err(&out));
        assert!(err(&out).contains("the CA file holds no certificate"), "{dir}: {}", err(&out));
    }
}

#[test]
fn unreachable_servers_are_exit_7_with_a_hint() {
    let s = Scratch::new();
    let path = account(&s, "address = \"a@example.test\"\npassword_env = \"ESMTP_TEST_PW\"");
    for args in [
        vec!["capabilities"],
        vec!["fetch"],
        vec!["fetch", "--protocol", "pop3"],
        vec!["send", "--to", "b@example.test", "-r", "RECIPIENT"],
    ] {
        let bob = s.keygen("bob.key");
        let args: Vec<String> =
            args.iter().map(|a| if *a == "RECIPIENT" { bob.clone() } else { a.to_string() }).collect();
        let _ = std::fs::remove_file(s.path("bob.key"));
        let out = esmtp()
            .args(&args)
            .arg("--account")
            .arg(&path)
            .env("ESMTP_TEST_PW", "sw0rdfish-secret")
            .write_stdin("body")
            .output()
            .unwrap();
        assert_eq!(code(&out), 7, "{args:?}: {}", err(&out));
        assert_clean_error(&out);
        assert!(err(&out).contains("hint: check host and port"), "{args:?}: {}", err(&out));
        assert!(!err(&out).contains("sw0rdfish"), "a secret was printed");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn send_refuses_before_connecting_when_the_mail_cannot_be_made() {
    let s = Scratch::new();
    let path = account(&s, "address = \"a@example.test\"\npassword_env = \"ESMTP_TEST_PW\"");
    let bob = s.keygen("bob.key");
    let send = |extra: &[&str], body: &[u8]| {
        esmtp()
            .args(["send", "--account"])
            .arg(&path)
            .args(extra)
            .env("ESMTP_TEST_PW", "pw")
            .write_stdin(body.to_vec())
            .output()
            .unwrap()
    };
    // No recipient key at all: nobody could open it.
    let out = send(&["--to", "b@example.test"], b"hi");
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert!(err(&out).contains("no recipient"));
    // A binary body.
    let out = send(&["--to", "b@example.test", "-r", &bob], &[0xff, 0xfe, 0x00]);
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert!(err(&out).contains("--attach"));
    // An invalid address: the draft cannot become a mail.
    let out = send(&["--to", "not an address", "-r", &bob], b"hi");
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert_clean_error(&out);
    // --to is required.
    let out = send(&["-r", &bob], b"hi");
    assert_eq!(code(&out), 2);
    // A missing attachment is an I/O error.
    let out = send(&["--to", "b@example.test", "-r", &bob, "--attach", "/nonexistent/file"], b"hi");
    assert_eq!(code(&out), 1, "{}", err(&out));
}
