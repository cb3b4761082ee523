//! Chunks on several threads: the one-call and the streaming paths give the same bytes whatever
//! the thread count (and the same as each other), open on any thread count, and still reject
//! tampering. Sizes are chosen around the chunk boundaries where the prefix and the suffix
//! (digest, signature) fall, and large enough that several threads are used.

mod common;

use std::io::{Read, Write};

use esmtp_core::{OpenError, Opener, Sealer, SeededRandom, Signature, Suite, X25519Identity};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const C: usize = common::C;

fn rng(seed: u64) -> SeededRandom<ChaCha20Rng> {
    SeededRandom(ChaCha20Rng::seed_from_u64(seed))
}

/// Message lengths that put the end of the message, and so the suffix, at and across chunk
/// boundaries, for prefixes of 1 and 65 bytes and suffixes of 0 to 80; and multi-chunk ones.
fn lengths() -> Vec<usize> {
    let mut lengths = vec![0, 1, 1000];
    for chunks in [1, 2, 5, 9, 10, 17, 21] {
        for delta in [-146i64, -145, -120, -81, -80, -66, -65, -64, -17, -1, 0, 1, 7] {
            lengths.push((chunks as i64 * C as i64 + delta) as usize);
        }
    }
    // Where the streams hand chunks to workers (after chunk 0 for des-cbc-md5, chunk 16 for
    // chacha20-poly1305), and past their 8 jobs of 4 chunks in flight.
    for chunks in [33, 45] {
        for delta in [-65i64, -1, 7] {
            lengths.push((chunks * C as i64 + delta) as usize);
        }
    }
    lengths.push(72 * C - 1);
    lengths.push(17 * C + 12345);
    lengths
}

/// Write `data` in pieces of varying size (1 byte up to several chunks).
fn write_in_pieces(writer: &mut impl Write, data: &[u8]) {
    let sizes = [1, 7, 4096, C - 3, 3 * C + 5, 100];
    let (mut at, mut i) = (0, 0);
    while at < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - at);
        writer.write_all(&data[at..at + n]).unwrap();
        at += n;
        i += 1;
    }
}

fn read_in_pieces(reader: &mut impl Read) -> Result<Vec<u8>, OpenError> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 5 * C + 11];
    let sizes = [13, C, 2 * C + 1, 5 * C + 11];
    let mut i = 0;
    loop {
        let n = reader.read(&mut buf[..sizes[i % sizes.len()]]).map_err(OpenError::from_io)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
        i += 1;
    }
}

#[test]
fn same_bytes_on_any_thread_count_one_call_and_streaming() {
    let signer = X25519Identity::generate().unwrap();
    for suite in Suite::ALL {
        for signed in [false, true] {
            for (n, len) in lengths().into_iter().enumerate() {
                let message = common::pattern(len, n as u8);
                let sealer = |threads: usize| {
                    let sealer = Sealer::new().suite(suite).key_slip().threads(threads);
                    if signed { sealer.sign_with(signer.clone()) } else { sealer }
                };
                let what = format!("{suite}, signed {signed}, {len} bytes");
                let reference = sealer(1).seal_with(&message, &mut rng(n as u64)).unwrap();
                for threads in [2, 3, 8] {
                    let sealed = sealer(threads).seal_with(&message, &mut rng(n as u64)).unwrap();
                    assert!(sealed.envelope == reference.envelope, "{what}: one call on {threads} threads");
                }
                for threads in [1, 3] {
                    let mut writer =
                        sealer(threads).seal_writer_with(Vec::new(), &mut rng(n as u64)).unwrap();
                    write_in_pieces(&mut writer, &message);
                    let streamed = writer.finish().unwrap();
                    assert!(streamed == reference.envelope, "{what}: streaming on {threads} threads");
                }

                let slip = reference.key_slip.unwrap();
                for threads in [1, 2, 8] {
                    let opener = Opener::new().identity(slip.clone()).threads(threads);
                    let opened = opener.open(&reference.envelope).unwrap();
                    assert!(opened.plaintext() == &message[..], "{what}: open on {threads} threads");
                    assert_eq!(opened.md5(), common::md5(&message), "{what}");
                    let expected = if signed {
                        Signature::Signed { signer: signer.to_public() }
                    } else {
                        Signature::Unsigned
                    };
                    assert_eq!(opened.signature(), &expected, "{what}");
                    let mut reader = opener.open_reader(&reference.envelope[..]).unwrap();
                    reader.hash_released();
                    assert!(read_in_pieces(&mut reader).unwrap() == message, "{what}: open_reader");
                    assert!(reader.is_verified());
                    assert_eq!(reader.md5(), Some(common::md5(&message)), "{what}: the reader's MD5");
                    assert_eq!(reader.carried_md5().is_some(), suite == Suite::LegacyDesCbcMd5);
                }
            }
        }
    }
}

/// The streams can be sent to and shared with other threads, as before they had workers.
#[test]
fn streams_are_send_and_sync() {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<esmtp_core::SealWriter<Vec<u8>>>();
    send_and_sync::<esmtp_core::OpenReader<&[u8]>>();
    send_and_sync::<esmtp_core::OpenReader<std::fs::File>>();
}

/// Yields `data`, then fails with `error` instead of ending.
struct FailingAfter<'a> {
    data: &'a [u8],
    error: std::io::ErrorKind,
}

impl Read for FailingAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.data.is_empty() {
            return Err(self.error.into());
        }
        let n = buf.len().min(self.data.len()).min(1000);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A read error in the middle of the envelope is reported after the chunks read before it were
/// released (all of them on one thread; with several, all but the batch the error cut), however
/// far the reader had read ahead, and every read after it fails too.
#[test]
fn a_read_error_comes_after_the_chunks_before_it() {
    for suite in Suite::ALL {
        let message = common::pattern(60 * C, 9);
        let sealed = Sealer::new().suite(suite).key_slip().seal(&message).unwrap();
        let slip = sealed.key_slip.unwrap();
        // Inside chunk 50 or so: past where chacha20-poly1305 streams start workers (chunk 16).
        let cut = sealed.envelope.len() * 50 / 61 + 77;
        let released = |threads: usize| {
            let input =
                FailingAfter { data: &sealed.envelope[..cut], error: std::io::ErrorKind::ConnectionReset };
            let opener = Opener::new().identity(slip.clone()).threads(threads);
            let mut reader = opener.open_reader(input).unwrap();
            let mut out = Vec::new();
            let err = reader.read_to_end(&mut out).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{suite}, {threads} threads");
            assert!(matches!(OpenError::from_io(err), OpenError::Io(_)));
            assert!(out[..] == message[..out.len()], "{suite}, {threads} threads");
            assert!(reader.read(&mut [0u8; 10]).is_err(), "{suite}, {threads} threads: fails again");
            out.len()
        };
        let one_thread = released(1);
        assert!(one_thread >= 48 * C, "{suite}: {one_thread}");
        for threads in [2, 4] {
            let n = released(threads);
            assert!(n <= one_thread && n + 4 * C >= one_thread, "{suite}, {threads} threads: {n}");
        }
    }
}

/// A writer's output, shared with the test.
#[derive(Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `flush` writes out every chunk the writer has sealed: all but the chunks still being filled
/// (at most a batch of four, and the partial one); 50 chunks, so both suites use workers.
#[test]
fn flush_writes_every_sealed_chunk() {
    for suite in Suite::ALL {
        let wire_chunk = if suite == Suite::LegacyDesCbcMd5 { C + 8 + 16 } else { C + 16 };
        for threads in [1, 2, 4] {
            let sealer = Sealer::new().suite(suite).key_slip().threads(threads);
            let out = Shared::default();
            let mut writer = sealer.seal_writer(out.clone()).unwrap();
            writer.write_all(&common::pattern(50 * C + 5, 1)).unwrap();
            writer.flush().unwrap();
            let flushed = out.0.borrow().len();
            writer.finish().unwrap();
            let whole = out.0.borrow().len();
            assert!(whole - flushed <= 5 * wire_chunk, "{suite}, {threads} threads: {flushed} of {whole}");
        }
    }
}

/// A writer or reader dropped mid-stream, with chunks in flight, ends its workers and returns.
#[test]
fn dropping_a_stream_midway_returns() {
    for suite in Suite::ALL {
        let message = common::pattern(40 * C, 4);
        let sealer = Sealer::new().suite(suite).key_slip().threads(4);
        let mut writer = sealer.seal_writer(Vec::new()).unwrap();
        writer.write_all(&message).unwrap();
        drop(writer);
        let sealed = sealer.seal(&message).unwrap();
        let opener = Opener::new().identity(sealed.key_slip.unwrap()).threads(4);
        let mut reader = opener.open_reader(&sealed.envelope[..]).unwrap();
        let mut some = vec![0u8; 36 * C];
        reader.read_exact(&mut some).unwrap();
        assert!(some == message[..36 * C]);
        drop(reader);
    }
}

/// Tampering with any one chunk of a many-chunk envelope, or cutting it at a chunk boundary,
/// fails on every thread count, in both paths, and releases nothing past the damage.
#[test]
fn tampering_fails_on_any_thread_count() {
    for suite in Suite::ALL {
        let message = common::pattern(12 * C + 99, 3);
        let sealed = Sealer::new().suite(suite).key_slip().seal(&message).unwrap();
        let slip = sealed.key_slip.unwrap();
        let des = suite == Suite::LegacyDesCbcMd5;
        let wire = if des { C + 8 + 16 } else { C + 16 };
        // Unsigned key-slip envelope: the chunk stream is `F || message [|| D]`.
        let stream = 1 + message.len() + if des { 16 } else { 0 };
        let final_len = stream - (stream - 1) / C * C;
        let final_wire = if des { (final_len / 8 + 1) * 8 + 16 } else { final_len + 16 };
        let payload_start = sealed.envelope.len() - (stream - 1) / C * wire - final_wire;
        for threads in [1, 2, 4] {
            let opener = Opener::new().identity(slip.clone()).threads(threads);
            for chunk in [0, 1, 5, 11, 12] {
                let mut bad = sealed.envelope.clone();
                let at = (payload_start + chunk * wire + 40).min(bad.len() - 1);
                bad[at] ^= 0x10;
                assert!(
                    matches!(opener.open(&bad), Err(OpenError::DecryptionFailed)),
                    "{suite} chunk {chunk}"
                );
                let released = match opener.open_reader(&bad[..]) {
                    Ok(mut reader) => {
                        let mut out = Vec::new();
                        let err = reader.read_to_end(&mut out).unwrap_err();
                        assert!(
                            matches!(OpenError::from_io(err), OpenError::DecryptionFailed),
                            "{suite} chunk {chunk}"
                        );
                        out.len()
                    }
                    Err(e) => {
                        assert!(matches!(e, OpenError::DecryptionFailed), "{suite} chunk {chunk}");
                        0
                    }
                };
                assert!(
                    released <= chunk * C,
                    "{suite}: {released} bytes released before damaged chunk {chunk}"
                );
            }
            for cut_chunks in [1, 6, 12] {
                let cut = &sealed.envelope[..payload_start + cut_chunks * wire];
                assert!(
                    matches!(opener.open(cut), Err(OpenError::DecryptionFailed)),
                    "{suite} cut {cut_chunks}"
                );
            }
        }
    }
}

/// Random damage (a flipped bit, a cut, bytes added at the end) anywhere in a many-chunk
/// envelope: the streaming reader on several threads gives the verdict it gives on one, never
/// panics, and what it released before failing is the start of the message.
#[test]
fn random_damage_gets_the_same_verdict_on_any_thread_count() {
    use rand_chacha::rand_core::Rng;
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed);
    for suite in Suite::ALL {
        // Long enough that both suites' streams use workers (chacha20-poly1305 from chunk 16).
        let message = common::pattern(41 * C + 4321, 5);
        let sealed = Sealer::new().suite(suite).key_slip().seal(&message).unwrap();
        let slip = sealed.key_slip.unwrap();
        for round in 0..24 {
            let mut bad = sealed.envelope.clone();
            let at = rng.next_u64() as usize % bad.len();
            match round % 3 {
                0 => bad[at] ^= 1 << (rng.next_u32() % 8),
                1 => bad.truncate(at),
                _ => bad.extend_from_slice(&[0u8, 1, 2][..1 + at % 3]),
            }
            let verdict = |threads: usize| {
                let opener = Opener::new().identity(slip.clone()).threads(threads);
                let mut reader = match opener.open_reader(&bad[..]) {
                    Ok(reader) => reader,
                    Err(e) => return Err(format!("{e:?}")),
                };
                let mut out = Vec::new();
                let result = reader.read_to_end(&mut out).map_err(|e| format!("{:?}", OpenError::from_io(e)));
                assert!(out[..] == message[..out.len()], "{suite}, round {round}, {threads} threads");
                result.map(|_| out.len())
            };
            let one = verdict(1);
            for threads in [2, 3] {
                assert_eq!(verdict(threads), one, "{suite}, round {round} (at {at}), {threads} threads");
            }
        }
    }
}
