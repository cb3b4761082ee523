//! MIME packaging round trips (MIME.md): every body shape, UTF-8 headers, attachments of 0 B, 1 B
//! and 20 MiB, both suites, key-slip mails paired with their envelope, the pasted-armor fallback,
//! and the promises about the outer message (7-bit, 78 columns, no Bcc, no plaintext).

use std::time::Instant;

use esmtp_core::hash::{HashAlgorithm, digest};
use esmtp_core::mime::{
    self, Attachment, EncryptedMail, EnvelopeForm, Limits, MailDraft, MailKind, Mailbox, MimeError,
    OpenedMail, PackageOptions, ReadMail,
};
use esmtp_core::{Argon2Params, OpenError, Opener, Passphrase, Sealer, Suite, X25519Identity};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const SUITES: [Suite; 2] = [Suite::ChaCha20Poly1305, Suite::LegacyDesCbcMd5];
const CHEAP: Argon2Params = Argon2Params { m_cost: 256, t_cost: 1, p_cost: 1 };

fn bob() -> X25519Identity {
    X25519Identity::generate_with(&mut esmtp_core::SeededRandom(ChaCha20Rng::seed_from_u64(7))).unwrap()
}

fn draft() -> MailDraft {
    MailDraft::new(Mailbox::new("alice@example.com"))
        .to(Mailbox::new("bob@example.org"))
        .subject("Quarterly numbers")
        .date(1_700_000_000)
}

/// Package for Bob, check the outer promises, read it back.
fn round_trip(draft: &MailDraft, suite: Suite) -> (EncryptedMail, OpenedMail) {
    let bob = bob();
    let sealer = Sealer::new().suite(suite).recipient(bob.to_public());
    let mail = mime::package(draft, &sealer, &PackageOptions::new(1_700_000_000)).unwrap();
    check_outer(&mail, draft);
    match mime::read_mail(&mail.bytes, &Opener::new().identity(bob), &Limits::default()).unwrap() {
        ReadMail::Encrypted(opened) => {
            assert_eq!(opened.suite, suite);
            assert_eq!(opened.envelope_id, mail.envelope_id);
            assert_eq!(opened.form, EnvelopeForm::MultipartEncrypted);
            check_protected(draft, &opened);
            (mail, *opened)
        }
        other => panic!("not read as encrypted: {other:?}"),
    }
}

/// The armored envelope inside an outer message, from its BEGIN line to its END line.
fn envelope_of(mail: &[u8]) -> &[u8] {
    let text = std::str::from_utf8(mail).unwrap();
    let start = text.find("-----BEGIN ESMTP ENVELOPE-----").unwrap();
    let end = text.find("-----END ESMTP ENVELOPE-----").unwrap() + "-----END ESMTP ENVELOPE-----".len();
    &mail[start..end]
}

/// MIME.md section 3, as far as bytes can show it.
fn check_outer(mail: &EncryptedMail, draft: &MailDraft) {
    check_outer_with(mail, draft, "...");
}

fn check_outer_with(mail: &EncryptedMail, draft: &MailDraft, placeholder: &str) {
    let bytes = &mail.bytes;
    assert_eq!(mail.size, bytes.len());
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        assert!(line.ends_with(b"\r\n"), "line without CRLF: {:?}", String::from_utf8_lossy(line));
        assert!(line.len() - 2 <= 78, "line over 78: {:?}", String::from_utf8_lossy(line));
        assert!(!line[..line.len() - 2].contains(&b'\r'));
    }
    assert_eq!(bytes.is_ascii(), !mail.smtputf8);
    let text = String::from_utf8_lossy(bytes);
    let header = &text[..text.find("\r\n\r\n").unwrap()];
    assert!(header.contains(&format!("\r\nSubject: {placeholder}\r\n")), "{header}");
    assert!(header.contains(&format!("\r\nX-Esmtp-Envelope-Id: {}\r\n", mail.envelope_id)));
    let message_id = format!("<{}>\r\n", mail.message_id);
    assert!(
        header.contains(&format!("\r\nMessage-ID: {message_id}"))
            || header.contains(&format!("\r\nMessage-ID:\r\n {message_id}"))
    );
    assert!(
        header.contains("Content-Type: multipart/encrypted; protocol=\"application/vnd.esmtp.envelope\"")
    );
    for forbidden in ["Bcc:", "Reply-To:", "In-Reply-To:", "References:"] {
        assert!(!header.to_ascii_lowercase().contains(&forbidden.to_ascii_lowercase()), "{forbidden}");
    }
    let mut secrets: Vec<&str> = vec![&draft.subject];
    secrets.extend(draft.text.as_deref().filter(|t| t.len() >= 4));
    secrets.extend(draft.html.as_deref().filter(|t| t.len() >= 4));
    secrets.extend(draft.bcc.iter().map(|m| m.address.as_str()));
    secrets.extend(draft.attachments.iter().map(|a| a.filename.as_str()).filter(|f| f.len() >= 4));
    for secret in secrets.into_iter().filter(|s| s.len() >= 4) {
        assert!(!text.contains(secret), "{secret:?} leaks into the outer message");
    }
    match mime::classify(bytes, &Limits::default()).unwrap() {
        MailKind::Encrypted { envelope_id, message_id, form } => {
            assert_eq!(envelope_id, mail.envelope_id);
            assert_eq!(message_id.as_deref(), Some(mail.message_id.as_str()));
            assert_eq!(form, EnvelopeForm::MultipartEncrypted);
        }
        other => panic!("{other:?}"),
    }
}

/// The protected headers and contents equal the draft (text bodies up to CRLF).
fn check_protected(draft: &MailDraft, opened: &OpenedMail) {
    let h = &opened.headers;
    assert_eq!(h.from.as_ref(), Some(&draft.from));
    assert_eq!(h.to, draft.to);
    assert_eq!(h.cc, draft.cc);
    assert_eq!(h.reply_to, draft.reply_to);
    assert_eq!(h.subject.as_deref(), Some(draft.subject.as_str()));
    assert_eq!(h.date, draft.date);
    assert_eq!(h.in_reply_to, draft.in_reply_to);
    assert_eq!(h.references, draft.references);
    assert_eq!(h.message_id, opened.outer.message_id);
    assert_eq!(opened.outer.subject.as_deref(), Some("..."));
    let lf = |s: &Option<String>| s.as_ref().map(|t| t.replace("\r\n", "\n"));
    let empty = draft.text.is_none() && draft.html.is_none() && draft.attachments.is_empty();
    assert_eq!(opened.text, if empty { Some(String::new()) } else { lf(&draft.text) });
    assert_eq!(opened.html, lf(&draft.html));
    assert_eq!(opened.attachments.len(), draft.attachments.len());
    for (got, want) in opened.attachments.iter().zip(&draft.attachments) {
        assert_eq!(got.filename, want.filename);
        assert_eq!(got.content_type, want.content_type);
        assert!(got.data == want.data, "attachment {:?} altered", want.filename);
    }
}

#[test]
fn text_html_and_both_in_both_suites() {
    for suite in SUITES {
        round_trip(&draft().text("Meet at noon.\nBring the numbers."), suite);
        round_trip(&draft().html("<p>Meet at <b>noon</b>.</p>\n"), suite);
        let (_, opened) = round_trip(&draft().text("Plain version").html("<p>HTML version</p>"), suite);
        assert_eq!(opened.text.as_deref(), Some("Plain version"));
        round_trip(&draft(), suite);
        round_trip(
            &draft().text("CRLF\r\nstays\r\nlines.\r\n  trailing space   \n.\nFrom the start\n"),
            suite,
        );
    }
}

#[test]
fn utf8_headers_and_threading_in_both_suites() {
    for suite in SUITES {
        let d = MailDraft::new(Mailbox::with_name("Pelé", "pele@example.com"))
            .to(Mailbox::with_name("δοκιμή Παπαδοπούλου", "dokimi@example.gr"))
            .to(Mailbox::new("plain@example.org"))
            .cc(Mailbox::with_name("测试 用户", "ceshi@example.cn"))
            .cc(Mailbox::with_name("O'Brien, \"Jr.\" (Team)", "obrien@example.ie"))
            .reply_to(Mailbox::with_name("Équipe", "equipe@example.fr"))
            .bcc(Mailbox::new("hidden-bcc@example.net"))
            .subject("测试 δοκιμή Pelé: a subject long enough that it must be folded over several lines ✓")
            .date(1_234_567_890)
            .in_reply_to("<parent@example.com>")
            .reference("root@example.com")
            .reference("<parent@example.com>")
            .text("Olá, δοκιμή, 测试 ✓\n")
            .html("<p>Olá 测试</p>");
        let (mail, opened) = round_trip(&d, suite);
        assert!(!mail.smtputf8);
        assert_eq!(opened.outer.from.as_ref(), Some(&d.from));
        assert_eq!(opened.outer.to, d.to);
        assert!(opened.outer.reply_to.is_empty() && opened.outer.references.is_empty());
    }
}

#[test]
fn small_attachments_in_both_suites() {
    let non_utf8_text = b"caf\xe9 \xff\xfe\r\nbare LF\nbare CR\r trailing  \n".to_vec();
    for suite in SUITES {
        let d = draft()
            .text("See attached.")
            .attachment(Attachment::new("empty.bin", "application/octet-stream", Vec::new()))
            .attachment(Attachment::new("one.bin", "application/octet-stream", vec![0x42]))
            .attachment(Attachment::new("latin1 résumé.txt", "text/plain", non_utf8_text.clone()))
            .attachment(Attachment::new("página.html", "text/html", b"<p>not the body</p>".to_vec()))
            .attachment(Attachment::new("", "image/png", (0..=255u8).collect::<Vec<_>>()))
            .attachment(Attachment::new(
                "fwd.eml",
                "message/rfc822",
                b"From: x@y\r\n\r\nforwarded\r\n".to_vec(),
            ));
        let (_, opened) = round_trip(&d, suite);
        assert_eq!(opened.text.as_deref(), Some("See attached."));
        // Attachments alone, without any body.
        let mut only = draft();
        only.attachments = d.attachments.clone();
        round_trip(&only, suite);
    }
}

/// 20 MiB of incompressible bytes: the attachment size the transport must handle. One test per
/// suite so they run in parallel; in a debug build each takes about a minute, nearly all of it
/// the unoptimised ciphers (sealing and opening 27 MiB of inner entity).
fn twenty_mib_round_trip(suite: Suite) {
    let mut x = 0x9e37_79b9_u32;
    let data: Vec<u8> = (0..20 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let start = Instant::now();
    let d =
        draft().text("The archive.").attachment(Attachment::new("archive.tar", "application/x-tar", data));
    let (mail, opened) = round_trip(&d, suite);
    eprintln!(
        "20 MiB attachment, {suite}: {} bytes on the wire, round trip {:?}",
        mail.size,
        start.elapsed()
    );
    assert_eq!(opened.attachments[0].data.len(), 20 << 20);
}

#[test]
fn twenty_mib_attachment_chacha20_poly1305() {
    twenty_mib_round_trip(Suite::ChaCha20Poly1305);
}

#[test]
fn twenty_mib_attachment_des_cbc_md5() {
    twenty_mib_round_trip(Suite::LegacyDesCbcMd5);
}

#[test]
fn md5_is_the_digest_of_the_inner_entity() {
    for suite in SUITES {
        let (mail, opened) = round_trip(&draft().text("digest me"), suite);
        let inner = Opener::new().identity(bob()).open(envelope_of(&mail.bytes)).unwrap();
        assert_eq!(opened.md5(), digest(HashAlgorithm::Md5, inner.plaintext())[..]);
        assert_eq!(opened.md5_hex().len(), 32);
        let inner_text = String::from_utf8_lossy(inner.plaintext());
        assert!(inner_text.contains("Subject: Quarterly numbers\r\n"));
        assert!(inner_text.contains("hp=\"cipher\""));
        // A "bcc:" header; a bare "bcc" occurs by chance in a random boundary or id.
        let lower = inner_text.to_ascii_lowercase();
        assert!(!lower.starts_with("bcc:") && !lower.contains("\nbcc:"), "{inner_text}");
    }
}

#[test]
fn bcc_is_nowhere_not_even_inside_the_envelope() {
    let d = draft().bcc(Mailbox::with_name("Secret Watcher", "watcher@example.net")).text("hi");
    assert_eq!(d.smtp_recipients(), ["bob@example.org", "watcher@example.net"]);
    let (mail, _) = round_trip(&d, Suite::ChaCha20Poly1305);
    let inner = Opener::new().identity(bob()).open(envelope_of(&mail.bytes)).unwrap();
    let inner = String::from_utf8_lossy(inner.plaintext()).to_ascii_lowercase();
    // "bcc:" as a header name; a bare "bcc" may occur by chance in a random boundary or id.
    assert!(!inner.contains("watcher") && !inner.contains("\nbcc:"), "{inner}");
}

#[test]
fn key_slip_mail_pairs_with_its_envelope() {
    for suite in SUITES {
        let sealer = Sealer::new().suite(suite).key_slip();
        let d = draft().text("sealed for a key slip");
        let mail = mime::package(&d, &sealer, &PackageOptions::new(1_700_000_000)).unwrap();
        check_outer(&mail, &d);
        let slip = mail.key_slip.as_ref().unwrap();
        let slip_mail = mime::key_slip_mail(slip, &d.from, &d.to[0], 1_700_000_100).unwrap();
        assert_eq!(slip_mail.size, slip_mail.bytes.len());
        assert!(slip_mail.bytes.is_ascii());
        assert!(slip_mail.bytes.split(|&b| b == b'\n').all(|l| l.len() <= 79));
        // Pairing as the transport does it, without keys.
        let MailKind::KeySlip { envelope_id, .. } =
            mime::classify(&slip_mail.bytes, &Limits::default()).unwrap()
        else {
            panic!("key-slip mail not recognised")
        };
        assert_eq!(envelope_id, mail.envelope_id);
        // Nothing a server reads in the headers links the slip to the encrypted mail.
        let slip_text = String::from_utf8_lossy(&slip_mail.bytes);
        let slip_headers = &slip_text[..slip_text.find("\r\n\r\n").unwrap()];
        assert!(!slip_headers.contains(&mail.message_id), "{slip_headers}");
        assert!(
            !slip_text.contains(&mail.envelope_id.to_string()),
            "the envelope id is only inside the token"
        );
        assert!(!slip_headers.contains("In-Reply-To") && !slip_headers.contains("References"));
        // Without the slip the envelope does not open; with it, it does.
        assert!(matches!(
            mime::read_mail(&mail.bytes, &Opener::new().identity(bob()), &Limits::default()),
            Err(MimeError::Open(OpenError::NoMatchingRecipient))
        ));
        let ReadMail::KeySlip(received) =
            mime::read_mail(&slip_mail.bytes, &Opener::new(), &Limits::default()).unwrap()
        else {
            panic!("key-slip mail not read")
        };
        assert_eq!(received.envelope_id, mail.envelope_id);
        assert_eq!(received.headers.from.as_ref(), Some(&d.from));
        let ReadMail::Encrypted(opened) =
            mime::read_mail(&mail.bytes, &Opener::new().identity(received.key_slip), &Limits::default())
                .unwrap()
        else {
            panic!("envelope not opened with its slip")
        };
        assert_eq!(opened.text.as_deref(), Some("sealed for a key slip"));
        if suite == Suite::LegacyDesCbcMd5 {
            let slip_opened = Opener::new().identity(slip.clone()).open(envelope_of(&mail.bytes)).unwrap();
            assert_eq!(opened.md5(), slip_opened.md5());
        }
    }
}

#[test]
fn passphrase_and_several_recipients() {
    let carol =
        X25519Identity::generate_with(&mut esmtp_core::SeededRandom(ChaCha20Rng::seed_from_u64(8))).unwrap();
    let sealer = Sealer::new()
        .recipient(bob().to_public())
        .recipient(carol.to_public())
        .recipient(Passphrase::new("correct horse").with_params(CHEAP).unwrap());
    let d = draft().cc(Mailbox::new("carol@example.net")).text("for three");
    let mail = mime::package(&d, &sealer, &PackageOptions::new(1_700_000_000)).unwrap();
    for opener in [
        Opener::new().identity(bob()),
        Opener::new().identity(carol),
        Opener::new().identity(Passphrase::new("correct horse")),
    ] {
        let ReadMail::Encrypted(opened) = mime::read_mail(&mail.bytes, &opener, &Limits::default()).unwrap()
        else {
            panic!()
        };
        assert_eq!(opened.text.as_deref(), Some("for three"));
    }
    assert!(matches!(
        mime::read_mail(&mail.bytes, &Opener::new().identity(Passphrase::new("wrong")), &Limits::default()),
        Err(MimeError::Open(OpenError::NoMatchingRecipient))
    ));
}

#[test]
fn options_and_reproducibility() {
    let sealer = Sealer::new().recipient(bob().to_public());
    let options = PackageOptions {
        subject_placeholder: "Encrypted message".into(),
        message_id_domain: Some("mx.example".into()),
        ..PackageOptions::new(1_700_000_000)
    };
    let d = draft().text("same bytes twice");
    let seeded = || esmtp_core::SeededRandom(ChaCha20Rng::seed_from_u64(1));
    let a = mime::package_with(&d, &sealer, &options, &mut seeded()).unwrap();
    let b = mime::package_with(&d, &sealer, &options, &mut seeded()).unwrap();
    assert_eq!(a.bytes, b.bytes);
    assert!(a.message_id.ends_with("@mx.example"));
    assert!(String::from_utf8_lossy(&a.bytes).contains("\r\nSubject: Encrypted message\r\n"));
    // The longest message id domain that still folds into 78 columns: 42 characters.
    let longest =
        PackageOptions { message_id_domain: Some(format!("{}.example", "m".repeat(34))), ..options.clone() };
    let long = mime::package(&d, &sealer, &longest).unwrap();
    check_outer_with(&long, &d, "Encrypted message");
    assert!(
        String::from_utf8_lossy(&long.bytes)
            .contains(&format!("\r\nMessage-ID:\r\n <{}>\r\n", long.message_id))
    );
    let too_long =
        PackageOptions { message_id_domain: Some(format!("{}.example", "m".repeat(35))), ..options.clone() };
    assert!(matches!(mime::package(&d, &sealer, &too_long), Err(MimeError::InvalidDraft(_))));
    let c = mime::package(&d, &sealer, &options).unwrap();
    assert_ne!(a.bytes, c.bytes);
    assert_ne!(a.message_id, c.message_id);
}

#[test]
fn international_address_needs_smtputf8() {
    let d = MailDraft::new(Mailbox::with_name("Pelé", "pelé@example.test"))
        .to(Mailbox::new("bob@example.org"))
        .subject("utf-8 address")
        .date(1_700_000_000)
        .text("hi")
        .reply_to(Mailbox::new("pelé@example.test"));
    let options = PackageOptions {
        message_id_domain: Some("example.test".into()),
        ..PackageOptions::new(1_700_000_000)
    };
    let mail = mime::package(&d, &Sealer::new().recipient(bob().to_public()), &options).unwrap();
    assert!(mail.smtputf8);
    check_outer(&mail, &d);
    let ReadMail::Encrypted(opened) =
        mime::read_mail(&mail.bytes, &Opener::new().identity(bob()), &Limits::default()).unwrap()
    else {
        panic!()
    };
    check_protected(&d, &opened);
    // Reply-To travels only inside the envelope: it alone does not make the mail need SMTPUTF8.
    let reply_only = draft().reply_to(Mailbox::new("pelé@example.test")).text("x");
    let mail = mime::package(&reply_only, &Sealer::new().recipient(bob().to_public()), &options).unwrap();
    assert!(!mail.smtputf8 && mail.bytes.is_ascii());
    // The sender's domain is the message id's default; a non-ASCII one must be replaced.
    let idn = MailDraft::new(Mailbox::new("a@bücher.example")).to(Mailbox::new("b@c.example")).date(0);
    assert!(matches!(
        mime::package(&idn, &Sealer::new().key_slip(), &PackageOptions::new(1_700_000_000)),
        Err(MimeError::InvalidDraft(_))
    ));
}

#[test]
fn invalid_drafts_are_refused() {
    let sealer = Sealer::new().recipient(bob().to_public());
    let o = PackageOptions::new(1_700_000_000);
    let refused = |d: MailDraft| matches!(mime::package(&d, &sealer, &o), Err(MimeError::InvalidDraft(_)));
    // Without a date of its own, a draft is dated by the options (the caller's clock).
    let mut no_date = draft();
    no_date.date = None;
    let mail = mime::package(&no_date, &sealer, &o).unwrap();
    let ReadMail::Encrypted(opened) =
        mime::read_mail(&mail.bytes, &Opener::new().identity(bob()), &Limits::default()).unwrap()
    else {
        panic!()
    };
    assert_eq!(opened.headers.date, Some(1_700_000_000));
    assert_eq!(opened.outer.date, Some(1_700_000_000));
    let mut out_of_range = draft();
    out_of_range.date = Some(-1);
    assert!(refused(out_of_range));
    assert!(refused(MailDraft::new(Mailbox::new("a@b.example")).date(0)));
    assert!(refused(draft().to(Mailbox::new("not an address"))));
    assert!(refused(draft().cc(Mailbox::new("a@b.example\r\nBcc: evil@example.com"))));
    assert!(refused(draft().subject("line\r\nBcc: evil@example.com")));
    assert!(refused(draft().to(Mailbox::with_name("x\ny", "x@y.example"))));
    assert!(refused(draft().in_reply_to("no-at-sign")));
    assert!(refused(draft().attachment(Attachment::new("a", "not a type", vec![]))));
    assert!(refused(draft().to(Mailbox::new(format!("{}@example.com", "a".repeat(80))))));
    assert!(refused(draft().date(-1)));
    let long_domain =
        PackageOptions { message_id_domain: Some(format!("{}.example", "d".repeat(60))), ..o.clone() };
    assert!(matches!(mime::package(&draft(), &sealer, &long_domain), Err(MimeError::InvalidDraft(_))));
    assert!(matches!(mime::package(&draft(), &Sealer::new(), &o), Err(MimeError::Seal(_))));
}

/// A client that pastes the armored envelope into a plain text body, in the three transfer
/// encodings such clients use.
#[test]
fn pasted_armor_is_recognised() {
    let sealer = Sealer::new().recipient(bob().to_public());
    let mail = mime::package(&draft().text("pasted"), &sealer, &PackageOptions::new(1_700_000_000)).unwrap();
    let armor = std::str::from_utf8(envelope_of(&mail.bytes)).unwrap();
    let body = format!("Hi Bob,\r\n\r\nthe message is below.\r\n\r\n{armor}\r\n\r\n-- \r\nAlice\r\n");
    let qp = quoted_printable(&body);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
    let b64_lines: Vec<&str> = b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    for (encoding, encoded) in
        [("7bit", body.clone()), ("quoted-printable", qp), ("base64", b64_lines.join("\r\n"))]
    {
        let raw = format!(
            "From: alice@example.com\r\nTo: bob@example.org\r\nSubject: fwd\r\nMessage-ID: <p@example.com>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n\
             Content-Type: text/plain; charset=utf-8; format=flowed\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n\
             {encoded}\r\n--x--\r\n"
        );
        let ReadMail::Encrypted(opened) =
            mime::read_mail(raw.as_bytes(), &Opener::new().identity(bob()), &Limits::default()).unwrap()
        else {
            panic!("{encoding}: not recognised")
        };
        assert_eq!(opened.form, EnvelopeForm::PastedArmor);
        assert_eq!(opened.text.as_deref(), Some("pasted"));
        assert_eq!(opened.outer.subject.as_deref(), Some("fwd"));
        assert!(matches!(
            mime::classify(raw.as_bytes(), &Limits::default()).unwrap(),
            MailKind::Encrypted { form: EnvelopeForm::PastedArmor, .. }
        ));
    }
}

#[test]
fn plain_mails_are_a_result_not_an_error() {
    for raw in [
        &b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hello\r\n\r\nJust text.\r\n"[..],
        b"From: a@example.com\nSubject: lf only\n\nbody\n",
        b"Subject: no body\r\n",
        b"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\nabc\r\n-----END PGP MESSAGE-----\r\n--b--\r\n",
    ] {
        assert_eq!(mime::classify(raw, &Limits::default()).unwrap(), MailKind::Plain);
        let ReadMail::Plain(plain) = mime::read_mail(raw, &Opener::new(), &Limits::default()).unwrap() else { panic!() };
        assert!(plain.headers.subject.is_some() || plain.headers.from.is_some());
    }
}

#[test]
fn crypto_failures_pass_through_unchanged() {
    let sealer = Sealer::new().recipient(bob().to_public());
    let mail = mime::package(&draft().text("x"), &sealer, &PackageOptions::new(1_700_000_000)).unwrap();
    let stranger =
        X25519Identity::generate_with(&mut esmtp_core::SeededRandom(ChaCha20Rng::seed_from_u64(99))).unwrap();
    assert!(matches!(
        mime::read_mail(&mail.bytes, &Opener::new().identity(stranger), &Limits::default()),
        Err(MimeError::Open(OpenError::NoMatchingRecipient))
    ));
    // Flip one base64 character of the last armor line: the payload no longer authenticates.
    let mut text = String::from_utf8(mail.bytes).unwrap();
    let end = text.find("\r\n-----END").unwrap();
    let at = end - 10;
    let flipped = if &text[at..=at] == "A" { "B" } else { "A" };
    text.replace_range(at..=at, flipped);
    let err =
        mime::read_mail(text.as_bytes(), &Opener::new().identity(bob()), &Limits::default()).unwrap_err();
    assert!(matches!(err, MimeError::Open(OpenError::DecryptionFailed) | MimeError::Malformed(_)), "{err}");
}

/// Quoted-printable (RFC 2045 section 6.7) with soft line breaks every 40 characters.
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let mut column = 0;
        for b in line.bytes() {
            let token =
                if b == b'=' || !b.is_ascii() { format!("={b:02X}") } else { (b as char).to_string() };
            if column + token.len() > 40 {
                out.push_str("=\r\n");
                column = 0;
            }
            column += token.len();
            out.push_str(&token);
        }
    }
    out
}
