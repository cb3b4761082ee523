//! `esmtp keygen` and `esmtp recipient`.

mod common;

use common::{Scratch, assert_clean_error, code, esmtp, public_from_stderr};
use predicates::prelude::*;

#[test]
fn keygen_writes_a_0600_file_and_prints_the_public_recipient() {
    let s = Scratch::new();
    let public = s.keygen("me.key");
    assert!(public.starts_with("esmtp1"), "{public}");
    let text = String::from_utf8(s.read("me.key")).unwrap();
    assert!(text.lines().any(|l| l.starts_with("ESMTP-SECRET-KEY-1")), "{text}");
    assert!(text.contains(&public), "the file names its public recipient in a comment");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.path("me.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    esmtp().arg("recipient").arg("-i").arg(s.path("me.key")).assert().success().stdout(format!("{public}\n"));
}

#[test]
fn keygen_refuses_to_overwrite() {
    let s = Scratch::new();
    s.keygen("me.key");
    let before = s.read("me.key");
    let out = esmtp().arg("keygen").arg("-o").arg(s.path("me.key")).output().unwrap();
    assert_eq!(code(&out), 1);
    assert_clean_error(&out);
    assert!(common::err(&out).contains("already exists"));
    assert_eq!(s.read("me.key"), before, "the first key is intact");
}

#[test]
fn keygen_to_stdout_and_recipient_from_stdin() {
    let out = esmtp().arg("keygen").output().unwrap();
    assert!(out.status.success());
    let public = public_from_stderr(&out.stderr);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ESMTP-SECRET-KEY-1"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("ESMTP-SECRET-KEY"), "no secret on stderr");
    esmtp().arg("recipient").write_stdin(out.stdout.clone()).assert().success().stdout(format!("{public}\n"));
    esmtp()
        .args(["recipient", "-i", "-"])
        .write_stdin(out.stdout)
        .assert()
        .success()
        .stdout(format!("{public}\n"));
}

#[test]
fn recipient_rejects_bad_identity_files_without_echoing_them() {
    let s = Scratch::new();
    let bad = s.write("bad.key", b"# comment\nESMTP-SECRET-KEY-1QQQQQQQQQQQQQQQQQ\n");
    let out = esmtp().arg("recipient").arg("-i").arg(&bad).output().unwrap();
    assert_eq!(code(&out), 2);
    assert_clean_error(&out);
    let stderr = common::err(&out);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(!stderr.contains("QQQQ"), "key text echoed: {stderr}");

    let public = s.keygen("me.key");
    let wrong = s.write("public.key", format!("{public}\n").as_bytes());
    esmtp()
        .arg("recipient")
        .arg("-i")
        .arg(&wrong)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("hint: this is a public recipient"));

    let empty = s.write("empty.key", b"# nothing here\n\n");
    esmtp()
        .arg("recipient")
        .arg("-i")
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no identity"));
    esmtp()
        .arg("recipient")
        .arg("-i")
        .arg(s.path("missing.key"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read"));
}

#[test]
fn help_documents_every_command_and_the_exit_codes() {
    let out = esmtp().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["keygen", "recipient", "seal", "open", "hash", "capabilities", "send", "fetch"] {
        assert!(help.contains(command), "{command} missing from --help");
    }
    for n in 0..=7 {
        assert!(help.contains(&format!("\n  {n}  ")), "exit code {n} missing from --help");
    }
    assert!(help.contains("Examples:"));
    for command in ["keygen", "recipient", "seal", "open", "hash", "capabilities", "send", "fetch"] {
        esmtp().args([command, "--help"]).assert().success().stdout(predicate::str::contains("Usage: esmtp"));
    }
    // clap's own usage errors are exit code 2 too.
    esmtp().arg("frobnicate").assert().code(2);
    esmtp().args(["seal", "--suite", "rot13"]).assert().code(2);
    esmtp().args(["seal", "--passphrase-file", "a", "--passphrase-env", "B"]).assert().code(2);
}
