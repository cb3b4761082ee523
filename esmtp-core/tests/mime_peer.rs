//! A peer no one here wrote: Python's standard `email` package (scripts in `tests/peer/`).
//!
//! - It parses our output and sees a `multipart/encrypted` message with the two parts and no
//!   plaintext subject, body, file name or Bcc anywhere (`check_outer.py`).
//! - Our reader opens mails whose outer MIME Python re-serialised, as a relaying client might
//!   (`reserialize.py`), and mails where a client pasted the armor into a text body
//!   (`paste_armor.py`).
//!
//! These tests fail, not skip, when `python3` is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use esmtp_core::mime::{
    self, Attachment, EnvelopeForm, Limits, MailDraft, MailKind, Mailbox, OpenedMail, PackageOptions,
    ReadMail,
};
use esmtp_core::{Opener, Sealer, Suite, X25519Identity};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const SECRET_SUBJECT: &str = "Geheimprojekt Pelé δοκιμή 测试";
const SECRET_TEXT: &str = "The vault code is 4711, tell no one.";
const SECRET_HTML: &str = "<p>The vault code is <b>4711</b></p>";
const SECRET_FILE: &str = "vault-plan-geheim.pdf";
const SECRET_FILE_CONTENT: &[u8] = b"VAULT-PLAN-CONTENT: second door on the left";
const BCC: &str = "silent-observer@example.net";

fn peer(script: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peer").join(script)
}

/// Run a peer script with `python3`; its stdout, or a failure that shows its stderr.
fn python(script: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new("python3").arg(peer(script)).args(args).output().unwrap_or_else(|e| {
        panic!("python3 is required for the peer tests (Python's standard email package), but it could not be run: {e}")
    });
    assert!(
        output.status.success(),
        "{script} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A file under the system temp dir, removed when dropped.
struct TempMail(PathBuf);

impl TempMail {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!("esmtp-mime-peer-{}-{name}.eml", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempMail(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempMail {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn bob() -> X25519Identity {
    X25519Identity::generate_with(&mut esmtp_core::SeededRandom(ChaCha20Rng::seed_from_u64(11))).unwrap()
}

fn draft() -> MailDraft {
    MailDraft::new(Mailbox::with_name("Pelé", "pele@example.com"))
        .to(Mailbox::with_name("δοκιμή", "bob@example.org"))
        .cc(Mailbox::with_name("测试", "ceshi@example.cn"))
        .bcc(Mailbox::new(BCC))
        .reply_to(Mailbox::new("replies-go-here@example.com"))
        .subject(SECRET_SUBJECT)
        .date(1_700_000_000)
        .in_reply_to("earlier-thread-message@example.com")
        .text(SECRET_TEXT)
        .html(SECRET_HTML)
        .attachment(Attachment::new(SECRET_FILE, "application/pdf", SECRET_FILE_CONTENT.to_vec()))
        .attachment(Attachment::new("empty.txt", "text/plain", Vec::new()))
}

fn open(raw: &[u8]) -> OpenedMail {
    match mime::read_mail(raw, &Opener::new().identity(bob()), &Limits::default()) {
        Ok(ReadMail::Encrypted(opened)) => *opened,
        other => panic!("not opened: {other:?}"),
    }
}

fn forbidden_args(extra: &[&'static str]) -> Vec<String> {
    let secrets =
        [SECRET_SUBJECT, "Geheimprojekt", SECRET_TEXT, "vault code", SECRET_FILE, "VAULT-PLAN-CONTENT", BCC]
            .into_iter()
            .chain(["replies-go-here", "earlier-thread-message"])
            .chain(extra.iter().copied());
    secrets.flat_map(|s| ["--forbid".to_string(), s.to_string()]).collect()
}

fn check_outer(mail: &Path, extra_args: &[&str]) {
    let mut args: Vec<String> = vec![mail.to_str().unwrap().to_string()];
    args.extend(forbidden_args(&[]));
    args.extend(extra_args.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = python("check_outer.py", &args);
    eprint!("{}", String::from_utf8_lossy(&out));
}

#[test]
fn python_sees_multipart_encrypted_and_no_plaintext() {
    for suite in [Suite::ChaCha20Poly1305, Suite::LegacyDesCbcMd5] {
        let sealer = Sealer::new().suite(suite).recipient(bob().to_public());
        let mail = mime::package(&draft(), &sealer, &PackageOptions::new(1_700_000_000)).unwrap();
        let file = TempMail::new(&format!("outer-{suite}"), &mail.bytes);
        check_outer(&file.0, &[]);
        // The opened mail really holds what the checker looked for, so its absence means something.
        let opened = open(&mail.bytes);
        assert_eq!(opened.headers.subject.as_deref(), Some(SECRET_SUBJECT));
        assert_eq!(opened.attachments[0].data, SECRET_FILE_CONTENT);
    }
    let options = PackageOptions {
        subject_placeholder: "Encrypted message".into(),
        ..PackageOptions::new(1_700_000_000)
    };
    let mail = mime::package(&draft(), &Sealer::new().recipient(bob().to_public()), &options).unwrap();
    let file = TempMail::new("outer-placeholder", &mail.bytes);
    check_outer(&file.0, &["--subject", "Encrypted message"]);
    // A message id too long for its header line, folded after the colon: Python reads it too.
    let long_domain = format!("{}.example", "m".repeat(34));
    let options =
        PackageOptions { message_id_domain: Some(long_domain.clone()), ..PackageOptions::new(1_700_000_000) };
    let mail = mime::package(&draft(), &Sealer::new().recipient(bob().to_public()), &options).unwrap();
    let file = TempMail::new("outer-long-id", &mail.bytes);
    check_outer(&file.0, &[]);
    let reserialised = python("reserialize.py", &[file.path(), "smtp"]);
    let MailKind::Encrypted { message_id, .. } = mime::classify(&reserialised, &Limits::default()).unwrap()
    else {
        panic!()
    };
    assert_eq!(message_id.as_deref(), Some(mail.message_id.as_str()));
    assert!(mail.message_id.ends_with(&long_domain));
}

#[test]
fn reader_opens_mails_that_python_reserialised() {
    let mail = mime::package(
        &draft(),
        &Sealer::new().recipient(bob().to_public()).key_slip(),
        &PackageOptions::new(1_700_000_000),
    )
    .unwrap();
    let original = open(&mail.bytes);
    let file = TempMail::new("reserialise", &mail.bytes);
    for mode in ["smtp", "default", "compat32", "base64"] {
        let reserialised = python("reserialize.py", &[file.path(), mode]);
        assert!(reserialised.len() > 1000, "{mode}: empty output");
        let opened = open(&reserialised);
        let mut expected = original.clone();
        expected.form = EnvelopeForm::MultipartEncrypted;
        assert_eq!(opened, expected, "{mode}");
        assert_eq!(
            mime::classify(&reserialised, &Limits::default()).unwrap(),
            MailKind::Encrypted {
                envelope_id: mail.envelope_id,
                message_id: Some(mail.message_id.clone()),
                form: EnvelopeForm::MultipartEncrypted
            },
            "{mode}"
        );
        let again = TempMail::new(&format!("reserialised-{mode}"), &reserialised);
        let lf: &[&str] = if mode == "default" || mode == "compat32" { &["--lf"] } else { &[] };
        check_outer(&again.0, lf);
    }
    // The key-slip mail survives the same treatment and still pairs with its envelope.
    let slip =
        mime::key_slip_mail(mail.key_slip.as_ref().unwrap(), &draft().from, &draft().to[0], 1_700_000_050)
            .unwrap();
    let slip_file = TempMail::new("slip", &slip.bytes);
    for mode in ["smtp", "compat32", "base64"] {
        let reserialised = python("reserialize.py", &[slip_file.path(), mode]);
        let Ok(ReadMail::KeySlip(received)) =
            mime::read_mail(&reserialised, &Opener::new(), &Limits::default())
        else {
            panic!("{mode}: key-slip mail not recognised")
        };
        assert_eq!(received.envelope_id, mail.envelope_id);
        let Ok(ReadMail::Encrypted(opened)) =
            mime::read_mail(&mail.bytes, &Opener::new().identity(received.key_slip), &Limits::default())
        else {
            panic!("{mode}: the slip does not open the envelope")
        };
        assert_eq!(opened.text, original.text);
    }
}

#[test]
fn reader_opens_armor_that_python_pasted_into_a_text_body() {
    let mail = mime::package(
        &draft(),
        &Sealer::new().recipient(bob().to_public()),
        &PackageOptions::new(1_700_000_000),
    )
    .unwrap();
    let original = open(&mail.bytes);
    let file = TempMail::new("paste", &mail.bytes);
    for cte in ["7bit", "quoted-printable", "base64"] {
        let pasted = python("paste_armor.py", &[file.path(), cte]);
        let opened = open(&pasted);
        assert_eq!(opened.form, EnvelopeForm::PastedArmor, "{cte}");
        assert_eq!(opened.headers, original.headers, "{cte}");
        assert_eq!(opened.attachments, original.attachments, "{cte}");
        assert_eq!(opened.outer.subject.as_deref(), Some("Fwd: encrypted message"));
    }
}
