//! `esmtp seal` and `esmtp open`: both suites, every recipient type, armored and binary, files
//! and pipes, and every way opening can fail.

mod common;

use common::{Scratch, assert_clean_error, code, err, esmtp, md5_hex, md5_line};
use predicates::prelude::*;

const SUITES: [&str; 2] = ["chacha20-poly1305", "des-cbc-md5"];

/// A message that spans several 64 KiB chunks and ends mid-chunk.
fn message() -> Vec<u8> {
    (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// How a test seals and then opens.
struct Way {
    name: &'static str,
    seal: Vec<String>,
    open: Vec<String>,
    env: Option<(&'static str, &'static str)>,
}

fn ways(s: &Scratch) -> Vec<Way> {
    let bob = s.keygen("bob.key");
    let carol = s.keygen("carol.key");
    let p = |name: &str| s.path(name).display().to_string();
    s.write("team.txt", format!("# the team\n{bob}\n\n{carol}\n").as_bytes());
    s.write("pass.txt", b"correct horse battery staple\n");
    let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        Way { name: "x25519 -r", seal: v(&["-r", &bob]), open: v(&["-i", &p("bob.key")]), env: None },
        Way {
            name: "x25519 -R, second entry",
            seal: v(&["-R", &p("team.txt")]),
            open: v(&["-i", &p("carol.key")]),
            env: None,
        },
        Way {
            name: "x25519, two identity files",
            seal: v(&["-r", &carol]),
            open: v(&["-i", &p("bob.key"), "-i", &p("carol.key")]),
            env: None,
        },
        Way {
            name: "passphrase file",
            seal: v(&["--passphrase-file", &p("pass.txt")]),
            open: v(&["--passphrase-file", &p("pass.txt")]),
            env: None,
        },
        Way {
            name: "passphrase env",
            seal: v(&["--passphrase-env", "ESMTP_PASS"]),
            open: v(&["--passphrase-env", "ESMTP_PASS"]),
            env: Some(("ESMTP_PASS", "correct horse battery staple")),
        },
        Way {
            name: "key slip",
            seal: v(&["--key-slip-out", &p("slip.txt")]),
            open: v(&["--key-slip", &p("slip.txt")]),
            env: None,
        },
        Way {
            name: "key slip as identity file, beside a public key",
            seal: v(&["--key-slip-out", &p("slip.txt"), "-r", &carol]),
            open: v(&["-i", &p("slip.txt")]),
            env: None,
        },
    ]
}

#[test]
fn every_suite_recipient_type_and_form_round_trips_through_files() {
    let s = Scratch::new();
    let msg = message();
    s.write("msg.bin", &msg);
    for way in ways(&s) {
        for suite in SUITES {
            for armor in [false, true] {
                let _ = std::fs::remove_file(s.path("slip.txt"));
                let label = format!("{} / {suite} / armor {armor}", way.name);
                let mut seal = esmtp();
                seal.args(["seal", "--suite", suite])
                    .args(&way.seal)
                    .arg("--force")
                    .arg("-o")
                    .arg(s.path("env"))
                    .arg(s.path("msg.bin"));
                if armor {
                    seal.arg("-a");
                }
                if let Some((k, v)) = way.env {
                    seal.env(k, v);
                }
                let out = seal.output().unwrap();
                assert!(out.status.success(), "seal {label}: {}", err(&out));
                let sealed = s.read("env");
                assert_eq!(sealed.starts_with(b"-----BEGIN ESMTP ENVELOPE-----\n"), armor, "{label}");
                assert!(
                    !sealed.windows(32).any(|w| w == &msg[1000..1032]),
                    "plaintext in the envelope: {label}"
                );

                let _ = std::fs::remove_file(s.path("out.bin"));
                let mut open = esmtp();
                open.arg("open").args(&way.open).arg("-o").arg(s.path("out.bin")).arg(s.path("env"));
                if let Some((k, v)) = way.env {
                    open.env(k, v);
                }
                let out = open.output().unwrap();
                assert!(out.status.success(), "open {label}: {}", err(&out));
                assert!(s.read("out.bin") == msg, "plaintext differs: {label}");
                assert_eq!(md5_line(&out.stderr), (md5_hex(&msg), suite.to_string()), "{label}");
                assert!(out.stdout.is_empty(), "{label}");
            }
        }
    }
    let leftovers: Vec<String> = s.listing().into_iter().filter(|n| n.contains(".esmtp-")).collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn pipes_stdin_to_stdout_both_suites_both_forms() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    let msg = message();
    for suite in SUITES {
        for armor in [&[][..], &["--armor"][..]] {
            let sealed = esmtp()
                .args(["seal", "--suite", suite, "-r", &bob])
                .args(armor)
                .write_stdin(msg.clone())
                .output()
                .unwrap();
            assert!(sealed.status.success(), "{}", err(&sealed));
            // Quiet, but for the legacy suite's warning.
            let warned = err(&sealed).contains("warning: des-cbc-md5 is of legacy strength");
            assert_eq!(warned, suite == "des-cbc-md5", "{}", err(&sealed));
            assert_eq!(err(&sealed).lines().count(), usize::from(warned), "{}", err(&sealed));
            let opened = esmtp()
                .arg("open")
                .arg("-i")
                .arg(s.path("bob.key"))
                .write_stdin(sealed.stdout)
                .output()
                .unwrap();
            assert!(opened.status.success(), "{}", err(&opened));
            assert!(opened.stdout == msg);
            assert_eq!(md5_line(&opened.stderr).1, suite);
        }
    }
    // "-" names stdin and stdout explicitly; an empty message is a message too.
    let sealed = esmtp().args(["seal", "-r", &bob, "-o", "-", "-"]).write_stdin(Vec::new()).output().unwrap();
    assert!(sealed.status.success());
    let opened = esmtp()
        .arg("open")
        .arg("-i")
        .arg(s.path("bob.key"))
        .args(["-o", "-", "-"])
        .write_stdin(sealed.stdout)
        .output()
        .unwrap();
    assert!(opened.status.success() && opened.stdout.is_empty());
    assert_eq!(md5_line(&opened.stderr).0, "d41d8cd98f00b204e9800998ecf8427e");
}

#[test]
fn the_md5_line_matches_md5sum() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    let msg = s.write("msg", b"The paper's integrity hash.\n");
    let md5sum = std::process::Command::new("md5sum").arg(&msg).output().expect("md5sum is installed");
    let expected = String::from_utf8(md5sum.stdout).unwrap().split_whitespace().next().unwrap().to_string();
    for suite in SUITES {
        let sealed = esmtp().args(["seal", "--suite", suite, "-r", &bob]).arg(&msg).output().unwrap();
        let opened =
            esmtp().arg("open").arg("-i").arg(s.path("bob.key")).write_stdin(sealed.stdout).output().unwrap();
        assert_eq!(md5_line(&opened.stderr).0, expected);
    }
}

#[test]
fn wrong_key_or_passphrase_is_exit_3_and_writes_nothing() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    s.keygen("eve.key");
    s.write("pass.txt", b"right");
    s.write("wrong.txt", b"wrong");
    for seal in [vec!["-r", &bob], vec!["--passphrase-file"]] {
        let mut cmd = esmtp();
        cmd.arg("seal").args(&seal);
        if seal.len() == 1 {
            cmd.arg(s.path("pass.txt"));
        }
        let sealed = cmd.write_stdin("secret").output().unwrap();
        assert!(sealed.status.success());
        s.write("env", &sealed.stdout);
        for open in [
            vec!["-i".to_string(), s.path("eve.key").display().to_string()],
            vec!["--passphrase-file".into(), s.path("wrong.txt").display().to_string()],
        ] {
            let out = esmtp()
                .arg("open")
                .args(&open)
                .arg("-o")
                .arg(s.path("out"))
                .arg(s.path("env"))
                .output()
                .unwrap();
            assert_eq!(code(&out), 3, "{}", err(&out));
            assert_clean_error(&out);
            assert!(err(&out).contains("hint:"));
            assert!(!s.path("out").exists(), "no output on failure");
        }
    }
    // A key slip for another envelope does not open this one.
    esmtp()
        .args(["seal", "--key-slip-out"])
        .arg(s.path("slip1"))
        .arg("-o")
        .arg(s.path("e1"))
        .write_stdin("one")
        .assert()
        .success();
    esmtp()
        .args(["seal", "--key-slip-out"])
        .arg(s.path("slip2"))
        .arg("-o")
        .arg(s.path("e2"))
        .write_stdin("two")
        .assert()
        .success();
    esmtp().args(["open", "--key-slip"]).arg(s.path("slip2")).arg(s.path("e1")).assert().code(3).stdout("");
}

/// Flip one byte in the middle of the payload, or cut the envelope short.
#[test]
fn altered_or_truncated_envelopes_are_exit_4_and_never_leave_a_partial_output() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    let msg = message();
    for suite in SUITES {
        let sealed =
            esmtp().args(["seal", "--suite", suite, "-r", &bob]).write_stdin(msg.clone()).output().unwrap();
        let envelope = sealed.stdout;
        let mut flipped = envelope.clone();
        let at = envelope.len() - 1000;
        flipped[at] ^= 0x01;
        let truncated = envelope[..envelope.len() - 70_000].to_vec();
        let extended = [envelope.clone(), b"x".to_vec()].concat();
        for (what, bad) in [("flipped", flipped), ("truncated", truncated), ("extended", extended)] {
            s.write("env", &bad);
            s.write("out", b"previous content");
            let out = esmtp()
                .arg("open")
                .arg("-i")
                .arg(s.path("bob.key"))
                .arg("--force")
                .arg("-o")
                .arg(s.path("out"))
                .arg(s.path("env"))
                .output()
                .unwrap();
            assert_eq!(code(&out), 4, "{suite} {what}: {}", err(&out));
            assert_clean_error(&out);
            assert_eq!(s.read("out"), b"previous content", "{suite} {what}: OUT untouched");
            // To stdout: not one byte, although the first chunks authenticated fine.
            let out = esmtp().arg("open").arg("-i").arg(s.path("bob.key")).write_stdin(bad).output().unwrap();
            assert_eq!(code(&out), 4, "{suite} {what}");
            assert!(out.stdout.is_empty(), "{suite} {what}: {} bytes released", out.stdout.len());
        }
    }
    let leftovers: Vec<String> = s.listing().into_iter().filter(|n| n.contains(".esmtp-")).collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn malformed_input_is_exit_5() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    let sealed = esmtp().args(["seal", "-a", "-r", &bob]).write_stdin("hi").output().unwrap().stdout;
    let text = String::from_utf8(sealed.clone()).unwrap();
    let mut wrong_version = esmtp().args(["seal", "-r", &bob]).write_stdin("hi").output().unwrap().stdout;
    wrong_version[8] = 9;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"this is not an envelope at all".to_vec()),
        ("empty", Vec::new()),
        ("armor without END", text.replace("-----END ESMTP ENVELOPE-----\n", "").into_bytes()),
        ("armor with a bad character", text.replacen('A', "*", 1).into_bytes()),
        ("unknown version", wrong_version.clone()),
        // Documented under exit code 5: cut short inside its header, it is not yet an envelope.
        ("cut inside the header", wrong_version[..40].to_vec()),
    ];
    for (what, input) in cases {
        let out = esmtp().arg("open").arg("-i").arg(s.path("bob.key")).write_stdin(input).output().unwrap();
        assert_eq!(code(&out), 5, "{what}: {}", err(&out));
        assert_clean_error(&out);
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn seal_usage_errors_are_exit_2() {
    let s = Scratch::new();
    let out = esmtp().arg("seal").write_stdin("x").output().unwrap();
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty(), "no unencrypted copy");
    assert!(err(&out).contains("no recipient"));
    esmtp().args(["seal", "-r", "esmtp1notakey"]).write_stdin("x").assert().code(2).stdout("");
    let secret = String::from_utf8(common::esmtp().arg("keygen").output().unwrap().stdout).unwrap();
    let secret_line = secret.lines().find(|l| l.starts_with("ESMTP-SECRET")).unwrap().to_string();
    esmtp().args(["seal", "-r", &secret_line]).write_stdin("x").assert().code(2).stderr(
        predicate::str::contains("secret key").and(predicate::str::contains(&secret_line[20..40]).not()),
    );
    let empty = s.write("empty.txt", b"# nobody\n");
    esmtp().arg("seal").arg("-R").arg(&empty).write_stdin("x").assert().code(2);
    esmtp().args(["seal", "--passphrase-env", "ESMTP_UNSET_VARIABLE"]).write_stdin("x").assert().code(2);
    s.write("blank.txt", b"\n");
    esmtp().arg("seal").arg("--passphrase-file").arg(s.path("blank.txt")).write_stdin("x").assert().code(2);
    // No terminal to prompt on.
    esmtp()
        .args(["seal", "-p"])
        .write_stdin("x")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--passphrase-file"));
    esmtp()
        .arg("open")
        .write_stdin("x")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to open with"));
    // Missing input file: an I/O error.
    let bob = s.keygen("bob.key");
    esmtp()
        .args(["seal", "-r", &bob])
        .arg(s.path("missing"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read"));
}

#[test]
fn key_slip_out_never_overwrites() {
    let s = Scratch::new();
    s.write("slip.txt", b"an older slip");
    esmtp()
        .args(["seal", "--key-slip-out"])
        .arg(s.path("slip.txt"))
        .arg("-o")
        .arg(s.path("env"))
        .write_stdin("x")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(s.read("slip.txt"), b"an older slip");
    assert!(!s.path("env").exists());
    esmtp()
        .args(["seal", "--key-slip-out"])
        .arg(s.path("new-slip.txt"))
        .arg("-o")
        .arg(s.path("env"))
        .write_stdin("x")
        .assert()
        .success();
    let token = String::from_utf8(s.read("new-slip.txt")).unwrap();
    assert!(token.starts_with("ESMTP-SLIP-1"), "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(s.path("new-slip.txt")).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn armor_pasted_or_quoted_by_a_mail_program_opens() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    let armored =
        esmtp().args(["seal", "-a", "-r", &bob]).write_stdin("quoted twice").output().unwrap().stdout;
    let armored = String::from_utf8(armored).unwrap();
    let quote = |prefix: &str| armored.lines().map(|l| format!("{prefix}{l}\n")).collect::<String>();
    let cases = [
        ("quoted", format!("On Monday, Alice wrote:\n{}\n> -- \n> Alice\n", quote("> "))),
        ("quoted twice", format!("{}\n", quote(">> "))),
        ("indented", format!("Here it is:\n\n{}\nBye\n", quote("    "))),
        ("pasted", format!("Hi Bob,\n\n{armored}\nAlice\n")),
    ];
    for (what, text) in cases {
        let out = esmtp().arg("open").arg("-i").arg(s.path("bob.key")).write_stdin(text).output().unwrap();
        assert!(out.status.success(), "{what}: {}", err(&out));
        assert_eq!(out.stdout, b"quoted twice", "{what}");
    }
    // A damaged block inside the text is still malformed input.
    let damaged = quote("> ").replacen('A', "*", 1);
    let out = esmtp().arg("open").arg("-i").arg(s.path("bob.key")).write_stdin(damaged).output().unwrap();
    assert_eq!(code(&out), 5, "{}", err(&out));
}

#[test]
fn quiet_and_json_reports() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    s.write("msg.txt", b"report me");
    let sealed =
        esmtp().args(["seal", "-r", &bob, "-o"]).arg(s.path("env")).arg(s.path("msg.txt")).output().unwrap();
    assert!(sealed.status.success());
    let out = esmtp().args(["open", "-q", "-i"]).arg(s.path("bob.key")).arg(s.path("env")).output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{}", err(&out));
    assert_eq!(out.stdout, b"report me");

    let out = esmtp()
        .args(["open", "--json", "-i"])
        .arg(s.path("bob.key"))
        .arg("-o")
        .arg(s.path("out"))
        .arg(s.path("env"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert!(out.stderr.is_empty(), "the JSON replaces the MD5 line: {}", err(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["ok"], true);
    assert_eq!(report["md5"], md5_hex(b"report me"));
    assert_eq!(report["suite"], "chacha20-poly1305");
    assert_eq!(report["bytes"], 9);
    assert_eq!(report["envelope_id"].as_str().map(str::len), Some(32));
    assert!(report["signer"].is_null());
    // A failure is reported in JSON too, with the exit code.
    let other = Scratch::new();
    other.keygen("other.key");
    let out = esmtp()
        .args(["open", "--json", "-i"])
        .arg(other.path("other.key"))
        .arg("-o")
        .arg(s.path("out2"))
        .arg(s.path("env"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!((report["ok"].as_bool(), report["error"]["code"].as_u64()), (Some(false), Some(3)));
    // --json needs -o: standard output cannot carry both.
    let out =
        esmtp().args(["open", "--json", "-i"]).arg(s.path("bob.key")).arg(s.path("env")).output().unwrap();
    assert_eq!(code(&out), 2);
}
