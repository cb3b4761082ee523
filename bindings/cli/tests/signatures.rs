//! Sender signatures on the command line, no server needed: `seal --sign-with`, `open` saying who
//! signed (and `--expect-signer` with its own exit code), a bad signature as an integrity
//! failure, and mails as files: `send --draft` signing and sealing to the sender as the account
//! file says (`identity_file`, `encrypt_to_self`, `allow_from`), `read --account` checking the
//! signer against the account file's `[contacts]`.

mod common;

use std::path::{Path, PathBuf};

use common::{Scratch, assert_clean_error, code, err, esmtp};

fn stderr_lines(out: &std::process::Output) -> Vec<String> {
    err(out).lines().map(str::to_string).collect()
}

fn seal(s: &Scratch, args: &[&str], input: &str, output: &str) {
    let out =
        esmtp().arg("seal").args(args).arg("-o").arg(s.path(output)).arg(s.path(input)).output().unwrap();
    assert!(out.status.success(), "seal {args:?}: {}", err(&out));
}

fn open(s: &Scratch, args: &[&str], input: &str) -> std::process::Output {
    esmtp().arg("open").args(args).arg(s.path(input)).output().unwrap()
}

#[test]
fn open_says_who_signed_and_that_an_unsigned_envelope_says_nothing() {
    let s = Scratch::new();
    let alice = s.keygen("alice.key");
    let bob = s.keygen("bob.key");
    s.write("note.txt", b"Meet at noon.\n");
    let alice_key = s.path("alice.key").display().to_string();
    let bob_key = s.path("bob.key").display().to_string();
    seal(&s, &["-r", &bob, "--sign-with", &alice_key, "-a"], "note.txt", "signed.asc");
    seal(&s, &["-r", &bob], "note.txt", "unsigned.esmtp");

    let out = open(&s, &["-i", &bob_key, "-o", &s.path("a.txt").display().to_string()], "signed.asc");
    assert!(out.status.success(), "{}", err(&out));
    let lines = stderr_lines(&out);
    let md5 = lines.iter().position(|l| l.starts_with("MD5 ")).expect("MD5 line");
    assert_eq!(
        lines.get(md5 + 1).map(String::as_str),
        Some(format!("Signed by {alice}").as_str()),
        "{lines:?}"
    );
    assert_eq!(s.read("a.txt"), b"Meet at noon.\n");

    let out = open(&s, &["-i", &bob_key, "-o", &s.path("b.txt").display().to_string()], "unsigned.esmtp");
    assert!(out.status.success(), "{}", err(&out));
    assert!(stderr_lines(&out).iter().any(|l| l == "Unsigned"), "{}", err(&out));

    // -q: neither line.
    let out = open(&s, &["-q", "-i", &bob_key, "-o", &s.path("c.txt").display().to_string()], "signed.asc");
    assert!(out.status.success() && out.stderr.is_empty(), "{}", err(&out));

    // --json: the signer field.
    for (input, signer) in
        [("signed.asc", serde_json::json!(alice)), ("unsigned.esmtp", serde_json::Value::Null)]
    {
        let target = s.path(&format!("{input}.json.txt")).display().to_string();
        let out = open(&s, &["--json", "-i", &bob_key, "-o", &target], input);
        assert!(out.status.success(), "{}", err(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["signer"], signer, "{report}");
    }
}

#[test]
fn expect_signer_refuses_unsigned_and_other_signers_with_exit_8_and_writes_nothing() {
    let s = Scratch::new();
    let alice = s.keygen("alice.key");
    let bob = s.keygen("bob.key");
    let carol = s.keygen("carol.key");
    s.write("note.txt", b"from alice\n");
    let bob_key = s.path("bob.key").display().to_string();
    seal(
        &s,
        &["-r", &bob, "--sign-with", &s.path("alice.key").display().to_string()],
        "note.txt",
        "alice.esmtp",
    );
    seal(
        &s,
        &["-r", &bob, "--sign-with", &s.path("carol.key").display().to_string()],
        "note.txt",
        "carol.esmtp",
    );
    seal(&s, &["-r", &bob], "note.txt", "nobody.esmtp");

    let target = |name: &str| s.path(name).display().to_string();
    let out = open(&s, &["-i", &bob_key, "--expect-signer", &alice, "-o", &target("ok.txt")], "alice.esmtp");
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(s.read("ok.txt"), b"from alice\n");

    // Any of several expected signers will do; a file of them too.
    s.write("signers.txt", format!("# who may write to me\n{carol}\n\n{alice}\n").as_bytes());
    let out = open(
        &s,
        &["-i", &bob_key, "--expect-signer-file", &target("signers.txt"), "-o", &target("ok2.txt")],
        "alice.esmtp",
    );
    assert!(out.status.success(), "{}", err(&out));

    for (input, expected) in [("carol.esmtp", "signed by esmtp1"), ("nobody.esmtp", "not signed")] {
        let out_name = format!("{input}.txt");
        let out = open(&s, &["-i", &bob_key, "--expect-signer", &alice, "-o", &target(&out_name)], input);
        assert_eq!(code(&out), 8, "{input}: {}", err(&out));
        assert_clean_error(&out);
        assert!(err(&out).contains(expected), "{input}: {}", err(&out));
        assert!(!s.path(&out_name).exists(), "{input}: no plaintext written");
    }
    let out = open(
        &s,
        &["--json", "-i", &bob_key, "--expect-signer", &alice, "-o", &target("j.txt")],
        "nobody.esmtp",
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"]["code"], 8, "{report}");

    // An expected signer must be a public key.
    let out = open(
        &s,
        &["-i", &bob_key, "--expect-signer", "esmtp1nonsense", "-o", &target("x.txt")],
        "alice.esmtp",
    );
    assert_eq!(code(&out), 2, "{}", err(&out));
    // The table in --help lists the code.
    let help = esmtp().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("8  unexpected signer"));
}

/// The key text of a test-kit vector's header field.
fn vector_field(vector: &[u8], name: &str) -> String {
    let header = &vector[..vector.windows(2).position(|w| w == b"\n\n").unwrap()];
    let prefix = format!("{name}: ");
    String::from_utf8_lossy(header)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_else(|| panic!("no {name} in the vector"))
}

#[test]
fn a_signature_that_does_not_verify_is_an_integrity_failure() {
    // Bob re-sealed alice's signed message to dave alone: every tag checks, the signature does
    // not.
    let vector = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../esmtp-core/testdata/testkit/signature_rewrapped_by_co_recipient"),
    )
    .unwrap();
    let s = Scratch::new();
    s.write("dave.key", format!("{}\n", vector_field(&vector, "identity")).as_bytes());
    let start = vector.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    s.write("forged.esmtp", &vector[start..]);
    let out = open(
        &s,
        &["-i", &s.path("dave.key").display().to_string(), "-o", &s.path("out.txt").display().to_string()],
        "forged.esmtp",
    );
    assert_eq!(code(&out), 4, "{}", err(&out));
    assert_clean_error(&out);
    assert!(err(&out).contains("bad signature"), "{}", err(&out));
    assert!(!s.path("out.txt").exists());
}

#[test]
fn sign_with_needs_one_secret_key() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    s.write("note.txt", b"x");
    s.write("public.txt", format!("{bob}\n").as_bytes());
    let out = esmtp()
        .args(["seal", "-r", &bob, "--sign-with"])
        .arg(s.path("public.txt"))
        .arg("-o")
        .arg(s.path("out.esmtp"))
        .arg(s.path("note.txt"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert_clean_error(&out);
    assert!(!s.path("out.esmtp").exists());
}

/// An account file for drafts (no server is contacted) with extra lines.
fn account(s: &Scratch, name: &str, address: &str, extra: &str) -> PathBuf {
    let text = format!("address = \"{address}\"\npassword_env = \"ESMTP_TEST_UNSET\"\n{extra}");
    s.write(name, text.as_bytes())
}

fn draft(s: &Scratch, account: &Path, args: &[&str], out: &str) -> std::process::Output {
    esmtp()
        .args(["send", "--account"])
        .arg(account)
        .args(["--to", "bob@example.test", "--subject", "The plan"])
        .args(args)
        .arg("--draft")
        .arg(s.path(out))
        .write_stdin("Meet at noon.\n")
        .output()
        .unwrap()
}

fn read(s: &Scratch, args: &[&str], mail: &str) -> std::process::Output {
    esmtp().arg("read").args(args).arg(s.path(mail)).output().unwrap()
}

#[test]
fn send_signs_and_seals_to_the_sender_as_the_account_file_says() {
    let s = Scratch::new();
    let alice = s.keygen("alice.key");
    let bob = s.keygen("bob.key");
    let alice_toml = account(
        &s,
        "alice.toml",
        "alice@example.test",
        "identity_file = \"alice.key\"\nallow_from = [\"sales@example.test\"]\n",
    );
    let bob_toml = account(
        &s,
        "bob.toml",
        "bob@example.test",
        &format!("identity_file = \"bob.key\"\n[contacts]\n\"alice@example.test\" = \"{alice}\"\n"),
    );

    let out = draft(&s, &alice_toml, &["-r", &bob], "signed.eml");
    assert!(out.status.success(), "{}", err(&out));
    assert!(
        err(&out).contains(&format!("signed by {alice}")) && err(&out).contains("Sent copy stays readable"),
        "{}",
        err(&out)
    );

    // Bob opens it with his account alone (its identity), and the signer is alice's contact key.
    let out = read(&s, &["--account", &bob_toml.display().to_string()], "signed.eml");
    assert!(out.status.success(), "{}", err(&out));
    let lines = stderr_lines(&out);
    assert!(lines.contains(&format!("Signed by {alice}")), "{lines:?}");
    assert!(lines.contains(&"Sender check: verified".to_string()), "{lines:?}");
    assert!(!err(&out).contains("warning"), "{}", err(&out));
    // Alice reads her own Sent copy.
    let out = read(&s, &["-i", &s.path("alice.key").display().to_string()], "signed.eml");
    assert!(out.status.success(), "{}", err(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Meet at noon."));

    // --no-self: alice cannot read it; --no-sign: unsigned, and bob is warned, as alice has a key.
    let out = draft(&s, &alice_toml, &["-r", &bob, "--no-self", "--no-sign"], "bare.eml");
    assert!(out.status.success(), "{}", err(&out));
    let out = read(&s, &["-i", &s.path("alice.key").display().to_string()], "bare.eml");
    assert_eq!(code(&out), 3, "{}", err(&out));
    let out = read(&s, &["--account", &bob_toml.display().to_string()], "bare.eml");
    assert!(out.status.success(), "{}", err(&out));
    assert!(stderr_lines(&out).contains(&"Unsigned".to_string()), "{}", err(&out));
    assert!(err(&out).contains("Sender check: missing-signature"), "{}", err(&out));
    assert!(err(&out).contains("warning: not signed, though alice@example.test has a key"), "{}", err(&out));

    // encrypt_to_self = false in the account file.
    let quiet = account(
        &s,
        "quiet.toml",
        "alice@example.test",
        "identity_file = \"alice.key\"\nencrypt_to_self = false\n",
    );
    assert!(draft(&s, &quiet, &["-r", &bob], "quiet.eml").status.success());
    assert_eq!(code(&read(&s, &["-i", &s.path("alice.key").display().to_string()], "quiet.eml")), 3);

    // Without identity_file: unsigned, said on standard error.
    let plain = account(&s, "plain.toml", "alice@example.test", "");
    let out = draft(&s, &plain, &["-r", &bob], "plain.eml");
    assert!(out.status.success() && err(&out).contains("unsigned"), "{}", err(&out));
}

#[test]
fn a_protected_identity_without_a_terminal_is_a_usage_error() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    s.write("pw.txt", b"a long passphrase\n");
    let out = esmtp()
        .args(["keygen", "--passphrase-file"])
        .arg(s.path("pw.txt"))
        .arg("-o")
        .arg(s.path("alice.key"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let alice_toml = account(&s, "alice.toml", "alice@example.test", "identity_file = \"alice.key\"\n");
    let out = draft(&s, &alice_toml, &["-r", &bob], "mail.eml");
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert_clean_error(&out);
    assert!(
        err(&out).contains("passphrase-protected") && err(&out).contains("hint: run it at a terminal"),
        "{}",
        err(&out)
    );
    assert!(!s.path("mail.eml").exists());
}

#[test]
fn send_refuses_a_from_the_account_may_not_use() {
    let s = Scratch::new();
    s.keygen("alice.key");
    let bob = s.keygen("bob.key");
    let alice_toml = account(
        &s,
        "alice.toml",
        "alice@example.test",
        "identity_file = \"alice.key\"\nallow_from = [\"sales@example.test\"]\n",
    );
    let out = draft(&s, &alice_toml, &["-r", &bob, "--from", "boss@example.test"], "forged.eml");
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert_clean_error(&out);
    assert!(err(&out).contains("boss@example.test") && err(&out).contains("allow_from"), "{}", err(&out));
    assert!(!s.path("forged.eml").exists());
    let out = draft(&s, &alice_toml, &["-r", &bob, "--from", "sales@example.test"], "sales.eml");
    assert!(out.status.success(), "{}", err(&out));
    let out = read(&s, &["-i", &s.path("bob.key").display().to_string()], "sales.eml");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("From: sales@example.test"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn read_flags_a_wrong_signer_and_a_changed_outer_from() {
    let s = Scratch::new();
    s.keygen("alice.key");
    let bob = s.keygen("bob.key");
    let mallory = s.keygen("mallory.key");
    let alice_toml = account(&s, "alice.toml", "alice@example.test", "identity_file = \"alice.key\"\n");
    // Bob's contacts hold another key for alice (say, mallory's, given to him as alice's).
    let bob_toml = account(
        &s,
        "bob.toml",
        "bob@example.test",
        &format!("identity_file = \"bob.key\"\n[contacts]\n\"alice@example.test\" = \"{mallory}\"\n"),
    );
    assert!(draft(&s, &alice_toml, &["-r", &bob], "mail.eml").status.success());
    let out = read(&s, &["--account", &bob_toml.display().to_string()], "mail.eml");
    assert!(out.status.success(), "{}", err(&out));
    assert!(err(&out).contains("Sender check: wrong-signer"), "{}", err(&out));
    assert!(err(&out).contains("warning: signed by a key that is not alice@example.test's"), "{}", err(&out));

    // The outer From changed in transit; the protected one is what was signed.
    let text = String::from_utf8(s.read("mail.eml")).unwrap();
    let changed = text.replacen("From: <alice@example.test>", "From: <boss@example.test>", 1);
    assert_ne!(text, changed, "the outer From is rewritten");
    s.write("changed.eml", changed.as_bytes());
    let out = read(&s, &["-i", &s.path("bob.key").display().to_string()], "changed.eml");
    assert!(out.status.success(), "{}", err(&out));
    assert!(err(&out).contains("warning: the protected From differs from the outer From"), "{}", err(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("From: alice@example.test"));
}

#[test]
fn fetch_help_says_what_pop3_marks_and_what_the_columns_mean() {
    let out = esmtp().args(["fetch", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("downloaded with TOP, which leaves them unread"), "{help}");
    assert!(!help.contains("the server may mark retrieved messages as read"), "{help}");
    assert!(help.contains("SIGNER CHECK"), "{help}");
    assert!(!help.contains("reserved"), "{help}");
    for command in ["send", "fetch", "watch", "reply", "capabilities"] {
        let out = esmtp().args([command, "--help"]).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("--verbose"), "{command}");
    }
}
