//! The mail vectors: `testdata/mime/`, one mail per file with its expected outcome (MIME.md).
//! Each file is a header of `name: value` lines (`expect`, `comment`, and `identity`,
//! `passphrase`, `key-slip`, `envelope-id`, `md5`, `subject` where they apply), an empty line,
//! then the raw mail. `every_vector_has_its_outcome` walks the directory;
//! `vectors_match_generator` proves the files are what this generator makes from fixed seeds
//! (`ESMTP_REGENERATE_MIME=1` rewrites them).

use std::collections::BTreeMap;
use std::path::PathBuf;

use esmtp_core::mime::{
    self, Attachment, Limits, MailDraft, MailKind, Mailbox, MimeError, PackageOptions, ReadMail,
};
use esmtp_core::{Argon2Params, KeySlip, OpenError, Opener, Passphrase, Sealer, Suite, X25519Identity};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const CHEAP: Argon2Params = Argon2Params { m_cost: 256, t_cost: 1, p_cost: 1 };
const PASSPHRASE: &str = "correct horse battery staple";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/mime")
}

#[derive(Default, Clone)]
struct Case {
    expect: &'static str,
    fields: Vec<(&'static str, String)>,
    comment: String,
    mail: Vec<u8>,
}

impl Case {
    fn new(expect: &'static str, comment: &str, mail: impl Into<Vec<u8>>) -> Self {
        Case { expect, comment: comment.to_string(), mail: mail.into(), ..Case::default() }
    }

    fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.fields.push((name, value.to_string()));
        self
    }

    fn render(&self) -> Vec<u8> {
        let mut h = format!("expect: {}\n", self.expect);
        for (name, value) in &self.fields {
            h += &format!("{name}: {value}\n");
        }
        h += &format!("comment: {}\n\n", self.comment);
        let mut out = h.into_bytes();
        out.extend_from_slice(&self.mail);
        out
    }
}

fn parse(file: &[u8]) -> (BTreeMap<String, Vec<String>>, &[u8]) {
    let split = file.windows(2).position(|w| w == b"\n\n").expect("header ends with an empty line");
    let header = std::str::from_utf8(&file[..split]).expect("utf-8 header");
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in header.lines() {
        let (k, v) = line.split_once(": ").expect("name: value");
        fields.entry(k.to_string()).or_default().push(v.to_string());
    }
    (fields, &file[split + 2..])
}

fn rng(seed: u64) -> esmtp_core::SeededRandom<ChaCha20Rng> {
    esmtp_core::SeededRandom(ChaCha20Rng::seed_from_u64(seed))
}

fn draft() -> MailDraft {
    MailDraft::new(Mailbox::with_name("Pelé", "pele@example.com"))
        .to(Mailbox::with_name("δοκιμή", "bob@example.org"))
        .cc(Mailbox::new("carol@example.net"))
        .bcc(Mailbox::new("hidden@example.net"))
        .subject("测试 vectors")
        .date(1_700_000_000)
        .text("The plaintext body.\n")
        .html("<p>The HTML body.</p>\n")
        .attachment(Attachment::new("notes.txt", "text/plain", b"notes\n".to_vec()))
}

/// A packaged mail for a fresh identity: (mail text, identity text, envelope id, md5 hex).
struct Base {
    mail: String,
    identity: String,
    key_slip: String,
    envelope_id: String,
}

fn base(seed: u64, suite: Suite, slip: bool) -> Base {
    let mut r = rng(seed);
    let bob = X25519Identity::generate_with(&mut r).unwrap();
    let mut sealer = Sealer::new().suite(suite).recipient(bob.to_public());
    if slip {
        sealer = sealer.key_slip();
    }
    let mail = mime::package_with(&draft(), &sealer, &PackageOptions::new(1_700_000_000), &mut r).unwrap();
    Base {
        mail: String::from_utf8(mail.bytes).unwrap(),
        identity: bob.to_secret_string().to_string(),
        key_slip: mail.key_slip.map(|k| k.to_token().to_string()).unwrap_or_default(),
        envelope_id: mail.envelope_id.to_string(),
    }
}

/// Replace the first `from` (which must occur) with `to`.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the mail");
    text.replacen(from, to, 1)
}

/// The outer message around an armored envelope, written out by hand.
fn outer(extra_header: &str, armored: &str) -> String {
    format!(
        "From: pele@example.com\r\nTo: bob@example.org\r\nSubject: ...\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
         Message-ID: <hand@example.com>\r\n{extra_header}MIME-Version: 1.0\r\n\
         Content-Type: multipart/encrypted; protocol=\"application/vnd.esmtp.envelope\"; boundary=\"x\"\r\n\r\n\
         --x\r\nContent-Type: application/vnd.esmtp.envelope\r\n\r\nVersion: 1\r\n\r\n\
         --x\r\nContent-Type: application/octet-stream\r\n\r\n{armored}\r\n--x--\r\n"
    )
}

fn armored_crlf(envelope: &[u8]) -> String {
    esmtp_core::armor(envelope).replace('\n', "\r\n")
}

fn generate() -> BTreeMap<String, Case> {
    let mut cases = BTreeMap::new();
    let mut add = |name: &str, case: Case| assert!(cases.insert(name.to_string(), case).is_none());

    // --- mails that read ---
    let b = base(1, Suite::ChaCha20Poly1305, false);
    let ok = |b: &Base, comment: &str, mail: String| {
        Case::new("encrypted", comment, mail)
            .with("identity", &b.identity)
            .with("envelope-id", &b.envelope_id)
            .with("subject", "测试 vectors")
    };
    add("encrypted_chacha20", ok(&b, "multipart/encrypted, x25519, chacha20-poly1305", b.mail.clone()));
    add(
        "encrypted_lf_line_endings",
        ok(&b, "the same mail with LF line endings", b.mail.replace("\r\n", "\n")),
    );
    let d = base(2, Suite::LegacyDesCbcMd5, true);
    add(
        "encrypted_des_key_slip",
        Case::new("encrypted", "des-cbc-md5 opened with the key slip alone", d.mail.clone())
            .with("key-slip", &d.key_slip)
            .with("envelope-id", &d.envelope_id)
            .with("subject", "测试 vectors"),
    );
    {
        let mut r = rng(3);
        let sealer = Sealer::new().recipient(Passphrase::new(PASSPHRASE).with_params(CHEAP).unwrap());
        let mail =
            mime::package_with(&draft(), &sealer, &PackageOptions::new(1_700_000_000), &mut r).unwrap();
        add(
            "encrypted_passphrase",
            Case::new("encrypted", "passphrase stanza (cheap Argon2 parameters)", mail.bytes)
                .with("passphrase", PASSPHRASE)
                .with("envelope-id", mail.envelope_id)
                .with("subject", "测试 vectors"),
        );
    }
    let armor_start = b.mail.find("-----BEGIN").unwrap();
    let armor_end = b.mail.find("-----END ESMTP ENVELOPE-----").unwrap() + 28;
    let armored = &b.mail[armor_start..armor_end];
    // Every armor line quoted-printable with a soft break in its middle and a blank line after it.
    let mut qp_armor = String::new();
    for line in armored.split("\r\n") {
        if line.starts_with("-----") {
            qp_armor += &format!("{line}\r\n");
        } else {
            let (head, tail) = line.split_at(line.len() / 2);
            qp_armor += &format!("{}=\r\n{}\r\n\r\n", head.replace('=', "=3D"), tail.replace('=', "=3D"));
        }
    }
    let pasted = format!(
        "From: pele@example.com\r\nTo: bob@example.org\r\nSubject: Fwd: encrypted\r\nMessage-ID: <fwd@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         See below.\r\n\r\n{qp_armor}"
    );
    add(
        "pasted_armor",
        ok(&b, "armor pasted in a quoted-printable text/plain body, blank lines between", pasted),
    );
    let ks = {
        let mut r = rng(4);
        let slip: KeySlip = d.key_slip.parse().unwrap();
        let m = mime::key_slip_mail_with(
            &slip,
            &Mailbox::new("pele@example.com"),
            &Mailbox::new("bob@example.org"),
            1_700_000_001,
            &mut r,
        )
        .unwrap();
        String::from_utf8(m.bytes.to_vec()).unwrap()
    };
    add(
        "key_slip_mail",
        Case::new("key-slip", "the key-slip mail for encrypted_des_key_slip", ks.clone())
            .with("envelope-id", &d.envelope_id),
    );
    add(
        "plain_text",
        Case::new("plain", "an ordinary mail", "From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n"),
    );
    add(
        "plain_pgp_mime",
        Case::new(
            "plain",
            "multipart/encrypted of another protocol is not ours",
            "From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/encrypted;\r\n protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n\
             --b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--b\r\n\
             Content-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nhQ==\r\n-----END PGP MESSAGE-----\r\n--b--\r\n",
        ),
    );

    // --- one file per failure mode ---
    let bad = |expect: &'static str, comment: &str, mail: String| {
        Case::new(expect, comment, mail).with("identity", &b.identity)
    };
    let nested = |levels: usize| {
        let mut s =
            String::from("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
        for i in 1..=levels {
            s += &format!("--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n", i - 1);
        }
        s += &format!("--b{levels}\r\n\r\ndeep\r\n");
        for i in (0..=levels).rev() {
            s += &format!("--b{i}--\r\n");
        }
        s
    };
    add("too_deep", bad("too-deep", "17 levels of multipart (the limit is 16)", nested(16)));
    {
        let mut r = rng(5);
        let bob = X25519Identity::generate_with(&mut r).unwrap();
        let sealed =
            Sealer::new().recipient(bob.to_public()).seal_with(nested(16).as_bytes(), &mut r).unwrap();
        add(
            "too_deep_inner",
            Case::new("too-deep", "a well-formed outer message whose sealed inner entity nests 17 levels", {
                outer(
                    &format!("X-Esmtp-Envelope-Id: {}\r\n", sealed.envelope_id),
                    &armored_crlf(&sealed.envelope),
                )
            })
            .with("identity", bob.to_secret_string().as_str()),
        );
    }
    let mut flood = String::from("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
    for i in 0..1000 {
        flood += &format!("--b\r\n\r\n{i}\r\n");
    }
    flood += "--b--\r\n";
    add("too_many_parts", bad("too-many-parts", "1001 MIME parts (the limit is 1000)", flood));
    let filler: String = (0..3600).map(|i| format!("X-Filler-{i:04}: {}\r\n", "f".repeat(58))).collect();
    let comment = format!(
        "a header block of {} KiB (the limit is 256 KiB)",
        (b.mail.find("\r\n\r\n").unwrap() + filler.len()) >> 10
    );
    add(
        "header_too_large",
        bad("too-large", &comment, edit(&b.mail, "MIME-Version", &(filler + "MIME-Version"))),
    );
    let line = &b.mail[armor_start + 32..armor_start + 96];
    let mut starred = line.to_string();
    starred.replace_range(10..11, "*");
    add("broken_base64", bad("malformed", "a '*' inside an armor line", edit(&b.mail, line, &starred)));
    add(
        "base64_bad_length",
        bad("malformed", "one character missing from an armor line", edit(&b.mail, line, &line[1..])),
    );
    let boundary_param = b.mail.split("boundary=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    add(
        "wrong_boundary",
        bad(
            "malformed",
            "the boundary parameter matches no delimiter",
            edit(
                &b.mail,
                &format!("boundary=\"{boundary_param}\""),
                "boundary=\"esmtp-000000000000000000000000\"",
            ),
        ),
    );
    let envelope_part_start = b.mail[..armor_start].rfind(&format!("--{boundary_param}\r\n")).unwrap();
    let only_version = format!("{}--{boundary_param}--\r\n", &b.mail[..envelope_part_start]);
    add(
        "missing_envelope_part",
        bad("malformed", "multipart/encrypted with the version part only", only_version),
    );
    let three = edit(
        &b.mail,
        &format!("--{boundary_param}--"),
        &format!("--{boundary_param}\r\nContent-Type: text/plain\r\n\r\nextra\r\n--{boundary_param}--"),
    );
    add("extra_part", bad("malformed", "multipart/encrypted with a third part", three));
    add(
        "wrong_part_type",
        bad(
            "malformed",
            "the envelope part is text/plain",
            edit(&b.mail, "Content-Type: application/octet-stream", "Content-Type: text/plain"),
        ),
    );
    add(
        "missing_version_line",
        bad(
            "malformed",
            "the version part has no Version line",
            edit(&b.mail, "\r\nVersion: 1\r\n", "\r\nHello\r\n"),
        ),
    );
    add(
        "unsupported_version",
        bad("unsupported-version", "Version: 2", edit(&b.mail, "\r\nVersion: 1\r\n", "\r\nVersion: 2\r\n")),
    );
    add(
        "envelope_id_mismatch",
        bad(
            "envelope-id-mismatch",
            "X-Esmtp-Envelope-Id names another envelope",
            edit(&b.mail, &b.envelope_id, &"0".repeat(32)),
        ),
    );
    add(
        "envelope_id_invalid",
        bad(
            "malformed",
            "X-Esmtp-Envelope-Id is not 32 hex digits",
            edit(&b.mail, &b.envelope_id, "not-an-id"),
        ),
    );
    let stripped = format!(
        "From: pele@example.com\r\nSubject: ...\r\nX-Esmtp-Envelope-Id: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n(parts removed)\r\n",
        b.envelope_id
    );
    add(
        "envelope_id_without_envelope",
        bad("malformed", "X-Esmtp-Envelope-Id, but the parts were stripped", stripped),
    );
    add(
        "armor_without_end",
        bad("malformed", "the END line is missing", edit(&b.mail, "-----END ESMTP ENVELOPE-----\r\n", "")),
    );
    add("no_matching_recipient", {
        let stranger = X25519Identity::generate_with(&mut rng(6)).unwrap();
        Case::new("no-match", "a well-formed mail for someone else", b.mail.clone())
            .with("identity", stranger.to_secret_string().as_str())
    });
    let mut tampered = b.mail.clone();
    let at = tampered[..tampered.find("\r\n-----END").unwrap() - 70]
        .rfind(|c: char| c.is_ascii_alphanumeric())
        .unwrap();
    let c = if &tampered[at..=at] == "Q" { "R" } else { "Q" };
    tampered.replace_range(at..=at, c);
    add(
        "tampered_envelope",
        bad("decryption-failed", "one base64 character of the payload changed", tampered),
    );
    add(
        "envelope_not_an_envelope",
        bad(
            "envelope-malformed",
            "canonical armor around bytes that are no envelope",
            outer("", &armored_crlf(b"not an envelope at all")),
        ),
    );
    let token_line = ks.split("\r\n").find(|l| l.starts_with("ESMTP-SLIP-1")).unwrap();
    let broken_token = format!("{}{}", &token_line[..20], if &token_line[20..21] == "Q" { "P" } else { "Q" });
    add(
        "key_slip_bad_token",
        Case::new(
            "bad-key-slip",
            "one character of the token changed (checksum fails)",
            edit(&ks, &token_line[..21], &broken_token),
        ),
    );
    add(
        "not_a_mail",
        Case::new("malformed", "binary bytes, no header", vec![0u8, 1, 2, 3, 0xff, b'\n', b'\n', 9]),
    );
    cases
}

/// The outcome name of a read, as the `expect` field spells it.
fn outcome(result: &Result<ReadMail, MimeError>) -> &'static str {
    match result {
        Ok(ReadMail::Encrypted(_)) => "encrypted",
        Ok(ReadMail::KeySlip(_)) => "key-slip",
        Ok(_) => "plain",
        Err(MimeError::Malformed(_)) => "malformed",
        Err(MimeError::TooLarge(_)) => "too-large",
        Err(MimeError::TooDeep) => "too-deep",
        Err(MimeError::TooManyParts) => "too-many-parts",
        Err(MimeError::UnsupportedVersion) => "unsupported-version",
        Err(MimeError::EnvelopeIdMismatch { .. }) => "envelope-id-mismatch",
        Err(MimeError::KeySlip(_)) => "bad-key-slip",
        Err(MimeError::Open(OpenError::NoMatchingRecipient)) => "no-match",
        Err(MimeError::Open(OpenError::DecryptionFailed)) => "decryption-failed",
        Err(MimeError::Open(OpenError::Malformed(_))) => "envelope-malformed",
        Err(_) => "other-error",
    }
}

#[test]
fn vectors_match_generator() {
    let cases = generate();
    if std::env::var_os("ESMTP_REGENERATE_MIME").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        for entry in std::fs::read_dir(dir()).unwrap() {
            let path = entry.unwrap().path();
            if !path.file_name().unwrap().to_string_lossy().starts_with('.') {
                std::fs::remove_file(path).unwrap();
            }
        }
        for (name, case) in &cases {
            std::fs::write(dir().join(name), case.render()).unwrap();
        }
    }
    for (name, case) in &cases {
        let on_disk = std::fs::read(dir().join(name)).unwrap_or_else(|_| panic!("missing vector {name}"));
        assert!(on_disk == case.render(), "vector {name} differs from the generator");
    }
    let files = std::fs::read_dir(dir())
        .unwrap()
        .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(files, cases.len(), "files in testdata/mime that the generator does not make");
}

#[test]
fn every_vector_has_its_outcome() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let file = std::fs::read(&path).unwrap();
        let (fields, mail) = parse(&file);
        let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let mut opener = Opener::new();
        for i in field("identity") {
            opener = opener.identity(i.parse::<X25519Identity>().unwrap());
        }
        for p in field("passphrase") {
            opener = opener.identity(Passphrase::new(p));
        }
        for s in field("key-slip") {
            opener = opener.identity(s.parse::<KeySlip>().unwrap());
        }
        let expect = &field("expect")[0];
        let result = mime::read_mail(mail, &opener, &Limits::default());
        assert_eq!(outcome(&result), expect, "{name}: {:?}", result.as_ref().err());
        let envelope_id = field("envelope-id").first().cloned();
        match result.unwrap_or_else(|_| ReadMail::Plain(Box::default())) {
            ReadMail::Encrypted(opened) => {
                assert_eq!(Some(opened.envelope_id.to_string()), envelope_id, "{name}");
                assert_eq!(opened.headers.subject, field("subject").first().cloned(), "{name}");
                assert!(
                    matches!(mime::classify(mail, &Limits::default()).unwrap(), MailKind::Encrypted { .. }),
                    "{name}"
                );
            }
            ReadMail::KeySlip(slip) => {
                assert_eq!(Some(slip.envelope_id.to_string()), envelope_id, "{name}");
                assert!(
                    matches!(mime::classify(mail, &Limits::default()).unwrap(), MailKind::KeySlip { .. }),
                    "{name}"
                );
            }
            _ => {}
        }
        seen += 1;
    }
    assert!(seen >= 25, "only {seen} vectors");
}
