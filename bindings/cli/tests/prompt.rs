//! Passphrase prompts on a real terminal: `script` (util-linux) gives the binary a pseudo-terminal
//! and types the answers into it.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Scratch;

/// Run `args` under a pseudo-terminal, typing each answer after a pause; returns (exit code,
/// everything the terminal showed).
fn on_terminal(dir: &std::path::Path, args: &str, answers: &[&str]) -> (i32, String) {
    on_terminal_line(dir, &format!("{} {args}", env!("CARGO_BIN_EXE_esmtp")), answers)
}

/// Run a shell command line under a pseudo-terminal, as [`on_terminal`].
fn on_terminal_line(dir: &std::path::Path, line: &str, answers: &[&str]) -> (i32, String) {
    let mut child = Command::new("script")
        .args(["-qec", line, "/dev/null"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) is installed");
    let mut stdin = child.stdin.take().unwrap();
    let answers: Vec<String> = answers.iter().map(|a| format!("{a}\n")).collect();
    let typist = std::thread::spawn(move || {
        for answer in answers {
            std::thread::sleep(Duration::from_millis(400));
            let _ = stdin.write_all(answer.as_bytes());
        }
        // Keep the terminal open until the program is done with it.
        std::thread::sleep(Duration::from_secs(5));
    });
    let out = child.wait_with_output().unwrap();
    drop(typist);
    let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), shown)
}

#[test]
fn seal_prompts_twice_and_open_prompts_only_when_the_envelope_needs_a_passphrase() {
    let s = Scratch::new();
    s.write("msg.txt", b"typed on a terminal\n");
    let (code, shown) =
        on_terminal(s.dir.path(), "seal -p -o pass.env msg.txt", &["tty secret", "tty secret"]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Passphrase (again):"), "{shown}");

    let (code, shown) = on_terminal(s.dir.path(), "open -o out.txt pass.env", &["tty secret"]);
    assert_eq!(code, 0, "{shown}");
    assert_eq!(s.read("out.txt"), b"typed on a terminal\n");
    assert!(shown.contains("MD5 "), "{shown}");

    let (code, shown) = on_terminal(s.dir.path(), "open -o wrong.txt pass.env", &["not it"]);
    assert_eq!(code, 3, "{shown}");
    assert!(!s.path("wrong.txt").exists());

    // Mistyped confirmation: nothing is sealed.
    let (code, shown) = on_terminal(s.dir.path(), "seal -p -o typo.env msg.txt", &["one", "two"]);
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("differ") && !s.path("typo.env").exists(), "{shown}");

    // An envelope for a public key has no passphrase stanza: no prompt, just exit 3.
    let public = s.keygen("bob.key");
    let (code, _) = on_terminal(s.dir.path(), &format!("seal -r {public} -o key.env msg.txt"), &[]);
    assert_eq!(code, 0);
    let (code, shown) = on_terminal(s.dir.path(), "open -o x.txt key.env", &[]);
    assert_eq!(code, 3, "{shown}");
    assert!(!shown.contains("Passphrase"), "asked for a passphrase nobody needs: {shown}");
}

#[test]
fn a_binary_envelope_is_not_written_to_a_terminal_but_armor_is() {
    let s = Scratch::new();
    s.write("msg.txt", b"x");
    let public = s.keygen("bob.key");
    let (code, shown) = on_terminal(s.dir.path(), &format!("seal -r {public} msg.txt"), &[]);
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("--armor"), "{shown}");
    let (code, shown) = on_terminal(s.dir.path(), &format!("seal -a -r {public} msg.txt"), &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("-----BEGIN ESMTP ENVELOPE-----"), "{shown}");
}

#[test]
fn a_passphrase_envelope_from_a_pipe_asks_on_the_terminal() {
    let s = Scratch::new();
    s.write("msg.txt", b"piped in\n");
    s.write("pass.txt", b"pipe secret\n");
    let esmtp = env!("CARGO_BIN_EXE_esmtp");
    let out = std::process::Command::new(esmtp)
        .args(["seal", "--passphrase-file", "pass.txt", "-a", "-o", "pass.asc", "msg.txt"])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let (code, shown) =
        on_terminal_line(s.dir.path(), &format!("cat pass.asc | {esmtp} open -o out.txt"), &["pipe secret"]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Passphrase:"), "{shown}");
    assert_eq!(s.read("out.txt"), b"piped in\n");
}

#[test]
fn keygen_and_send_ask_twice_and_a_protected_identity_asks_once() {
    let s = Scratch::new();
    let (code, shown) = on_terminal(s.dir.path(), "keygen -p -o bob.key", &["id secret", "id secret"]);
    assert_eq!(code, 0, "{shown}");
    let public = common::public_from_stderr(shown.as_bytes());
    assert!(String::from_utf8_lossy(&s.read("bob.key")).starts_with("-----BEGIN ESMTP ENVELOPE-----"));
    s.write("msg.txt", b"for the protected key\n");
    let (code, _) = on_terminal(s.dir.path(), &format!("seal -r {public} -o env msg.txt"), &[]);
    assert_eq!(code, 0);
    let (code, shown) = on_terminal(s.dir.path(), "open -i bob.key -o out.txt env", &["id secret"]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Passphrase for bob.key:"), "{shown}");
    assert_eq!(s.read("out.txt"), b"for the protected key\n");
    let (code, shown) = on_terminal(s.dir.path(), "open -i bob.key -o wrong.txt env", &["not it"]);
    assert_eq!(code, 3, "{shown}");
    assert!(shown.contains("wrong passphrase for the identity file"), "{shown}");
    assert!(!s.path("wrong.txt").exists());

    // send -p seals to a passphrase asked twice (written as a draft: no server needed).
    s.write("a.toml", b"address = \"a@example.test\"\npassword_env = \"UNSET\"\n[smtp]\nhost = \"127.0.0.1\"\nport = 1\ntls = \"implicit\"\n");
    s.write("pass.txt", b"mail secret\n");
    let (code, shown) = on_terminal(
        s.dir.path(),
        "send --account a.toml --to b@example.test -p --draft m.eml msg.txt",
        &["mail secret", "mail secret"],
    );
    assert_eq!(code, 0, "{shown}");
    let (code, shown) = on_terminal(s.dir.path(), "read --passphrase-file pass.txt m.eml", &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("for the protected key"), "{shown}");
}

#[test]
fn a_protected_identity_signs_after_its_passphrase_is_typed() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    s.write("pw.txt", b"alice's long passphrase\n");
    let out = common::esmtp()
        .args(["keygen", "--passphrase-file"])
        .arg(s.path("pw.txt"))
        .arg("-o")
        .arg(s.path("alice.key"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let alice = common::public_from_stderr(&out.stderr);
    s.write("note.txt", b"signed at a terminal\n");

    // seal --sign-with asks for the identity's passphrase.
    let line = format!("seal -r {bob} --sign-with alice.key -o note.esmtp note.txt");
    let (code, shown) = on_terminal(s.dir.path(), &line, &["alice's long passphrase"]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Passphrase for alice.key"), "{shown}");
    let out = common::esmtp()
        .args(["open", "-i"])
        .arg(s.path("bob.key"))
        .arg("--expect-signer")
        .arg(&alice)
        .arg("-o")
        .arg(s.path("note.out"))
        .arg(s.path("note.esmtp"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::err(&out));

    // So does an account file whose identity_file is protected.
    s.write("alice.toml", b"address = \"alice@example.test\"\npassword_env = \"ESMTP_TEST_UNSET\"\nidentity_file = \"alice.key\"\n");
    let line = format!("send --account alice.toml --to bob@example.test -r {bob} --draft mail.eml note.txt");
    let (code, shown) = on_terminal(s.dir.path(), &line, &["alice's long passphrase"]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains(&format!("signed by {alice}")), "{shown}");
    // A wrong passphrase: nothing is written.
    let line = format!("send --account alice.toml --to bob@example.test -r {bob} --draft wrong.eml note.txt");
    let (code, shown) = on_terminal(s.dir.path(), &line, &["not it"]);
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("wrong passphrase") && !s.path("wrong.eml").exists(), "{shown}");
}
