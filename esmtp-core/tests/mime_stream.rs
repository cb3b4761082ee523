//! Streaming packaging (`mime::package_to`) writes the very bytes `mime::package` makes of the
//! same draft with the same random numbers, for every body shape, both suites, signed or not,
//! with a key slip; and a streamed attachment of another length than declared, a failing
//! reader or a failing output is an error, never a mail with other bytes.

use std::io::{self, Read, Write};

use esmtp_core::mime::{
    self, Attachment, AttachmentSource, Limits, MailDraft, Mailbox, MimeError, PackageOptions, ReadMail,
};
use esmtp_core::{Opener, SealError, Sealer, SeededRandom, Suite, X25519Identity};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn seeded(seed: u64) -> SeededRandom<ChaCha20Rng> {
    SeededRandom(ChaCha20Rng::seed_from_u64(seed))
}

fn identity(seed: u64) -> X25519Identity {
    X25519Identity::generate_with(&mut seeded(seed)).unwrap()
}

fn base() -> MailDraft {
    MailDraft::new(Mailbox::with_name("Pelé", "alice@example.com"))
        .to(Mailbox::new("bob@example.org"))
        .cc(Mailbox::new("carol@example.net"))
        .bcc(Mailbox::new("dave@example.net"))
        .subject("Quarterly numbers δοκιμή")
        .date(1_700_000_000)
}

/// Bytes of every value, lengths around the 64 KiB chunk and the 48-byte armor line.
fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Hands out at most `step` bytes a read, as a pipe or a socket does.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Package `draft` plus `streamed` both ways with the same seed; they must be equal.
fn same_both_ways(
    draft: &MailDraft,
    streamed: &[Attachment],
    sealer: &Sealer,
    options: &PackageOptions,
) -> Vec<u8> {
    let mut whole = draft.clone();
    whole.attachments.extend(streamed.iter().cloned());
    let expected = mime::package_with(&whole, sealer, options, &mut seeded(42)).unwrap();
    let sources = streamed
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let reader = Trickle { data: &a.data, step: 1000 + 7919 * i };
            AttachmentSource::new(a.filename.clone(), a.content_type.clone(), a.data.len() as u64, reader)
        })
        .collect();
    let mut out = Vec::new();
    let mail = mime::package_to_with(draft, sources, sealer, options, &mut out, &mut seeded(42)).unwrap();
    assert!(out == expected.bytes, "streamed and in-memory mails differ");
    assert_eq!(mail.size, expected.size as u64);
    assert_eq!(
        (mail.message_id.as_str(), mail.envelope_id),
        (expected.message_id.as_str(), expected.envelope_id)
    );
    assert_eq!(mail.smtputf8, expected.smtputf8);
    assert_eq!(
        mail.key_slip.map(|s| s.to_token().as_str().to_string()),
        expected.key_slip.map(|s| s.to_token().as_str().to_string())
    );
    out
}

#[test]
fn streamed_mails_are_byte_identical_to_in_memory_ones() {
    let bob = identity(1);
    let alice = identity(2);
    let options = PackageOptions::new(1_700_000_000);
    let shapes: Vec<(MailDraft, Vec<Attachment>)> = vec![
        (base().text("only text"), vec![]),
        (base(), vec![]),
        (base().html("<p>hi</p>"), vec![Attachment::new("a.bin", "application/octet-stream", data(1, 1))]),
        (
            base().text("text\nwith LF").html("<p>and html</p>"),
            vec![
                Attachment::new("", "application/octet-stream", vec![]),
                Attachment::new("zwölf.pdf", "application/PDF", data(65_536 - 700, 2)),
                Attachment::new("big.bin", "application/octet-stream", data(3 * 65_536 + 49, 3)),
            ],
        ),
        (
            base().text("one in memory, one streamed").attachment(Attachment::new(
                "m.txt",
                "text/plain",
                data(5000, 4),
            )),
            vec![Attachment::new("s.bin", "image/png", data(200_001, 5))],
        ),
    ];
    for suite in [Suite::ChaCha20Poly1305, Suite::LegacyDesCbcMd5] {
        for signed in [false, true] {
            let mut sealer = Sealer::new().suite(suite).recipient(bob.to_public()).key_slip();
            if signed {
                sealer = sealer.sign_with(alice.clone());
            }
            for (draft, streamed) in &shapes {
                let bytes = same_both_ways(draft, streamed, &sealer, &options);
                let opener = Opener::new().identity(bob.clone());
                let ReadMail::Encrypted(opened) =
                    mime::read_mail(&bytes, &opener, &Limits::default()).unwrap()
                else {
                    panic!("not read as encrypted")
                };
                let all: Vec<&Attachment> = draft.attachments.iter().chain(streamed).collect();
                assert_eq!(opened.attachments.len(), all.len());
                for (got, want) in opened.attachments.iter().zip(all) {
                    assert!(got.data == want.data, "attachment {} differs", want.filename);
                }
            }
        }
    }
}

#[test]
fn a_text_holding_the_placeholder_still_streams_exactly() {
    let bob = identity(1);
    let sealer = Sealer::new().recipient(bob.to_public());
    let sneaky = base().text("\0esmtp-attachment-0-0\0 and \0esmtp-envelope\0");
    same_both_ways(
        &sneaky,
        &[Attachment::new("x", "application/octet-stream", data(100, 9))],
        &sealer,
        &PackageOptions::new(0),
    );
}

/// Fails every read after `ok` bytes.
struct Broken(usize);

impl Read for Broken {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(1);
        self.0 -= n;
        Ok(n)
    }
}

/// Takes `room` bytes, then fails.
struct Full(usize);

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "no room"));
        }
        self.0 -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn wrong_lengths_and_failing_readers_or_writers_are_errors() {
    let sealer = Sealer::new().recipient(identity(1).to_public());
    let options = PackageOptions::new(1_700_000_000);
    let draft = base().text("x");
    let bytes = data(100_000, 7);
    let package = |source: AttachmentSource<'_>, out: &mut dyn Write| {
        mime::package_to(&draft, vec![source], &sealer, &options, out)
    };
    let io_kind = |r: Result<_, MimeError>| match r {
        Err(MimeError::Io(e)) => e.kind(),
        other => panic!("expected an I/O error, got {other:?}"),
    };
    let short = AttachmentSource::new("a", "application/octet-stream", 100_001, &bytes[..]);
    assert_eq!(io_kind(package(short, &mut io::sink())), io::ErrorKind::InvalidData);
    let long = AttachmentSource::new("a", "application/octet-stream", 99_999, &bytes[..]);
    assert_eq!(io_kind(package(long, &mut io::sink())), io::ErrorKind::InvalidData);
    let broken = AttachmentSource::new("a", "application/octet-stream", 100_000, Broken(70_000));
    assert_eq!(io_kind(package(broken, &mut io::sink())), io::ErrorKind::Other);
    let fine = || AttachmentSource::new("a", "application/octet-stream", 100_000, &bytes[..]);
    for room in [0, 500, 5_000, 100_000] {
        assert_eq!(io_kind(package(fine(), &mut Full(room))), io::ErrorKind::StorageFull, "room {room}");
    }
    let bad_type = AttachmentSource::new("a", "not a type", 100_000, &bytes[..]);
    assert!(matches!(package(bad_type, &mut io::sink()), Err(MimeError::InvalidDraft(_))));
    let bad_name = AttachmentSource::new("a\r\nb", "text/plain", 100_000, &bytes[..]);
    assert!(matches!(package(bad_name, &mut io::sink()), Err(MimeError::InvalidDraft(_))));
    // The paper's suite limits a message to 256 MiB: refused before anything is read.
    let des = Sealer::new().suite(Suite::LegacyDesCbcMd5).key_slip();
    let huge = AttachmentSource::new("a", "application/octet-stream", 300 << 20, Broken(0));
    let mut out = Vec::new();
    let result = mime::package_to(&draft, vec![huge], &des, &options, &mut out);
    assert!(matches!(result, Err(MimeError::Seal(SealError::MessageTooLarge { .. }))), "{result:?}");
    assert!(out.is_empty(), "nothing written for a refused mail");
}
