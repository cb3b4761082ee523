//! Hostile mails (MIME.md section 5.1): absurd nesting, gigantic headers, floods of parts and
//! damaged bytes all end in a typed error, in bounded time and memory, never in a panic or a
//! stack overflow.

use std::time::{Duration, Instant};

use esmtp_core::mime::{self, Limits, MailDraft, MailKind, Mailbox, MimeError, PackageOptions, ReadMail};
use esmtp_core::{Opener, Sealer, X25519Identity};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// `levels` multiparts inside each other, each with its own boundary.
fn nested_multiparts(levels: usize) -> Vec<u8> {
    let mut s = String::from("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
    for i in 1..=levels {
        s += &format!("--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n", i - 1);
    }
    s += &format!("--b{levels}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n");
    for i in (0..=levels).rev() {
        s += &format!("--b{i}--\r\n");
    }
    s.into_bytes()
}

/// `levels` attached messages inside each other (`message/rfc822` in `multipart/mixed`).
fn nested_messages(levels: usize) -> Vec<u8> {
    let mut s = String::from("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
    for i in 1..=levels {
        s += &format!(
            "--b{}\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@example.com\r\n\
             Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n",
            i - 1
        );
    }
    s += &format!("--b{levels}\r\n\r\ndeep\r\n");
    for i in (0..=levels).rev() {
        s += &format!("--b{i}--\r\n");
    }
    s.into_bytes()
}

fn assert_quick(start: Instant, limit_secs: u64, what: &str) {
    let took = start.elapsed();
    eprintln!("{what}: {took:?}");
    assert!(took < Duration::from_secs(limit_secs), "{what} took {took:?}");
}

#[test]
fn ten_thousand_nested_multiparts_are_too_deep() {
    let raw = nested_multiparts(10_000);
    // mail-parser itself walks multiparts without recursion: it parses this without trouble.
    let start = Instant::now();
    let parsed = mail_parser::MessageParser::new().parse(&raw).unwrap();
    assert_eq!(parsed.parts.len(), 10_002);
    drop(parsed);
    assert_quick(start, 20, "mail-parser on 10,000 nested multiparts");
    let start = Instant::now();
    assert!(matches!(mime::read_mail(&raw, &Opener::new(), &Limits::default()), Err(MimeError::TooDeep)));
    assert!(matches!(mime::classify(&raw, &Limits::default()), Err(MimeError::TooDeep)));
    assert_quick(start, 20, "read_mail and classify on 10,000 nested multiparts");
}

#[test]
fn a_hundred_thousand_nested_multiparts_are_refused_before_parsing() {
    let raw = nested_multiparts(100_000);
    let start = Instant::now();
    assert!(matches!(
        mime::read_mail(&raw, &Opener::new(), &Limits::default()),
        Err(MimeError::TooManyParts)
    ));
    assert_quick(start, 10, "pre-scan of 100,000 nested multiparts");
}

/// mail-parser builds a recursive tree for nested messages; dropping it the ordinary way would
/// recurse 10,000 times. Run on a 1 MiB stack to show that nothing here recurses per level.
#[test]
fn ten_thousand_nested_messages_do_not_overflow_a_small_stack() {
    let raw = nested_messages(10_000);
    let worker = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let start = Instant::now();
            assert!(matches!(
                mime::read_mail(&raw, &Opener::new(), &Limits::default()),
                Err(MimeError::TooDeep)
            ));
            assert!(matches!(mime::classify(&raw, &Limits::default()), Err(MimeError::TooDeep)));
            assert_quick(start, 30, "read_mail and classify on 10,000 nested messages");
        })
        .unwrap();
    worker.join().unwrap();
}

#[test]
fn nesting_at_the_limit_is_fine_and_one_more_is_not() {
    // The leaf of `nested_multiparts(n)` sits at depth n + 1.
    assert_eq!(mime::classify(&nested_multiparts(15), &Limits::default()).unwrap(), MailKind::Plain);
    assert!(matches!(mime::classify(&nested_multiparts(16), &Limits::default()), Err(MimeError::TooDeep)));
    assert_eq!(mime::classify(&nested_messages(7), &Limits::default()).unwrap(), MailKind::Plain);
    assert!(matches!(mime::classify(&nested_messages(8), &Limits::default()), Err(MimeError::TooDeep)));
    let relaxed = Limits { max_depth: 40, ..Limits::default() };
    assert_eq!(mime::classify(&nested_multiparts(30), &relaxed).unwrap(), MailKind::Plain);
}

#[test]
fn fifty_mib_header_line_is_too_large() {
    let mut raw = b"From: a@example.com\r\nSubject: ".to_vec();
    raw.resize(raw.len() + (50 << 20), b'x');
    raw.extend_from_slice(b"\r\n\r\nbody\r\n");
    let start = Instant::now();
    assert!(matches!(
        mime::read_mail(&raw, &Opener::new(), &Limits::default()),
        Err(MimeError::TooLarge("header block"))
    ));
    assert_quick(start, 10, "50 MiB top-level header line");

    // The same line in the header of a part, which only the parser can find.
    let mut raw =
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX-Big: ".to_vec();
    raw.resize(raw.len() + (50 << 20), b'y');
    raw.extend_from_slice(b"\r\n\r\nbody\r\n--b--\r\n");
    let start = Instant::now();
    assert!(matches!(
        mime::classify(&raw, &Limits::default()),
        Err(MimeError::TooLarge("part header block"))
    ));
    assert_quick(start, 60, "50 MiB part header line");
}

#[test]
fn many_small_headers_are_too_large() {
    let mut raw = String::from("From: a@example.com\r\n");
    for i in 0..30_000 {
        raw += &format!("X-H{i}: v\r\n");
    }
    raw += "\r\nbody\r\n";
    assert!(matches!(
        mime::classify(raw.as_bytes(), &Limits::default()),
        Err(MimeError::TooLarge("header block"))
    ));
}

#[test]
fn part_floods_are_refused() {
    let flood = |parts: usize| {
        let mut s = String::from("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
        for i in 0..parts {
            s += &format!("--b\r\n\r\npart {i}\r\n");
        }
        s += "--b--\r\n";
        s.into_bytes()
    };
    assert_eq!(mime::classify(&flood(999), &Limits::default()).unwrap(), MailKind::Plain);
    assert!(matches!(mime::classify(&flood(1000), &Limits::default()), Err(MimeError::TooManyParts)));
    // A million parts: refused by the pre-scan before mail-parser allocates for them.
    let start = Instant::now();
    assert!(matches!(mime::classify(&flood(1_000_000), &Limits::default()), Err(MimeError::TooManyParts)));
    assert_quick(start, 10, "a million parts");
}

#[test]
fn oversized_mail_is_refused_before_parsing() {
    let limits = Limits { max_mail_bytes: 1 << 20, ..Limits::default() };
    let raw = vec![b'a'; (1 << 20) + 1];
    assert!(matches!(mime::classify(&raw, &limits), Err(MimeError::TooLarge("mail"))));
}

/// Truncations and byte flips of real mails (an encrypted one and a key-slip one): every result
/// is an answer or a typed error.
#[test]
fn damaged_mails_never_panic() {
    let bob =
        X25519Identity::generate_with(&mut esmtp_core::SeededRandom(ChaCha20Rng::seed_from_u64(3))).unwrap();
    let draft = MailDraft::new(Mailbox::with_name("Pelé", "pele@example.com"))
        .to(Mailbox::new("bob@example.org"))
        .subject("δοκιμή")
        .date(1_700_000_000)
        .text("text")
        .html("<p>html</p>")
        .attachment(mime::Attachment::new("a.bin", "application/octet-stream", vec![1, 2, 3]));
    let sealer = Sealer::new().recipient(bob.to_public()).key_slip();
    let mail = mime::package(&draft, &sealer, &PackageOptions::new(1_700_000_000)).unwrap();
    let slip = mime::key_slip_mail(mail.key_slip.as_ref().unwrap(), &draft.from, &draft.to[0], 1_700_000_001)
        .unwrap();
    let opener = Opener::new().identity(bob);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for original in [&mail.bytes[..], &slip.bytes[..]] {
        let mut variants: Vec<Vec<u8>> =
            (0..original.len()).step_by(13).map(|n| original[..n].to_vec()).collect();
        for at in (0..original.len()).step_by(11) {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut v = original.to_vec();
                v[at] ^= flip;
                variants.push(v);
            }
        }
        for v in &variants {
            let outcome = match mime::read_mail(v, &opener, &Limits::default()) {
                Ok(ReadMail::Encrypted(_)) => "encrypted".to_string(),
                Ok(ReadMail::KeySlip(_)) => "key-slip".to_string(),
                Ok(_) => "plain".to_string(),
                Err(e) => format!("{:?}", e).split(['(', ' ', '{']).next().unwrap().to_string(),
            };
            *outcomes.entry(outcome).or_default() += 1;
            let _ = mime::classify(v, &Limits::default());
        }
    }
    eprintln!("outcomes of damaged mails: {outcomes:?}");
    assert!(outcomes.len() >= 4, "{outcomes:?}");
}
