//! The one-call paths, [`crate::Sealer::seal`] and [`crate::Opener::open`], on whole buffers.
//!
//! They produce and accept exactly what the streaming writer and reader do, but since the sizes
//! are known in advance the output is allocated once, at its final size, and every chunk is
//! sealed or opened in its final place: a full chunk's bytes are copied once (input to output)
//! and encrypted or decrypted there. On one thread the chunks are done in order, each appended
//! to the output while it is in cache, so no byte of it is written twice (no zeroing first); on
//! several, the places are made first (zeroed: safe code cannot hand out parts of a buffer that
//! is not initialized) and chunks that hold only message bytes are spread over the threads
//! (`crate::parallel`), while the few that hold the prefix or the suffix are assembled aside by
//! the calling thread.

use std::sync::atomic::{AtomicBool, Ordering};

use md5::{Digest, Md5};
use zeroize::{Zeroize, Zeroizing};

use crate::error::OpenError;
use crate::framing::{self, Transcript};
use crate::open::Opened;
use crate::parallel;
use crate::seal::{self, Prepared};
use crate::suite::{CHUNK_SIZE, ChunkCipher, FullChunk, Suite, room};
use crate::wipe::{wipe, wipe_zeroizing};
use crate::x25519::X25519Identity;

/// Seal `message` after the prepared header, on up to `threads` threads.
pub(crate) fn seal(
    prepared: &Prepared,
    signer: Option<&X25519Identity>,
    message: &[u8],
    threads: usize,
) -> Vec<u8> {
    let suite = prepared.suite;
    let prefix = seal::prefix(signer);
    let suffix_len = framing::suffix_len(suite.carries_digest(), signer.is_some());
    // The chunk stream `prefix || message || suffix`, and where the message ends in it.
    let message_end = prefix.len() + message.len();
    let stream_len = message_end + suffix_len;
    let chunks = stream_len.div_ceil(CHUNK_SIZE);
    let final_len = stream_len - (chunks - 1) * CHUNK_SIZE;
    let wire_chunk = suite.wire_chunk_len();
    let total = prepared.header.len() + (chunks - 1) * wire_chunk + suite.wire_len(final_len);
    let cipher = &prepared.cipher;
    let range = |i: usize| (i * CHUNK_SIZE, ((i + 1) * CHUNK_SIZE).min(stream_len));
    // Chunks of message bytes only are sealed straight from `message`; the others (chunk 0 with
    // the prefix, the one or two with the suffix, and the final one) are assembled aside.
    let is_edge = |i: usize| i == 0 || i == chunks - 1 || range(i).1 > message_end;
    let assemble = |i: usize, suffix: &[u8], scratch: &mut Vec<u8>| {
        let (start, end) = range(i);
        scratch.clear();
        for (part, at) in [(&prefix[..], 0), (message, prefix.len()), (suffix, message_end)] {
            // The part's bytes within [start, end).
            let from = start.clamp(at, at + part.len()) - at;
            let to = end.clamp(at, at + part.len()) - at;
            scratch.extend_from_slice(&part[from..to]);
        }
    };
    let mut scratch = Zeroizing::new(Vec::with_capacity(CHUNK_SIZE));

    let full_chunk = |i: usize| {
        let (start, end) = range(i);
        &message[start - prefix.len()..end - prefix.len()]
    };
    let lanes = cipher.lanes();

    if threads <= 1 {
        // In order, each chunk written at the end of the envelope while it is in cache; runs of
        // message-only chunks `lanes` at a time where the suite seals several side by side.
        let mut envelope = Vec::with_capacity(total);
        envelope.extend_from_slice(&prepared.header);
        let suffix = suffix(prepared, signer, &prefix, message);
        let mut i = 0;
        while i < chunks {
            if is_edge(i) {
                assemble(i, &suffix, &mut scratch);
                cipher.seal_chunk_append(i as u64, i == chunks - 1, &scratch, &mut envelope);
                i += 1;
            } else if lanes == 1 {
                cipher.seal_chunk_append(i as u64, false, full_chunk(i), &mut envelope);
                i += 1;
            } else {
                let run = (i..chunks).take(lanes).take_while(|&k| !is_edge(k)).count();
                let at = envelope.len();
                envelope.resize(at + run * wire_chunk, 0);
                let plain = &message[range(i).0 - prefix.len()..range(i + run - 1).1 - prefix.len()];
                cipher.seal_full_run(i as u64, plain, &mut envelope[at..]);
                i += run;
            }
        }
        wipe(&mut scratch);
        return envelope;
    }

    // Spread over threads: every chunk's place made first, then filled by any thread. Allocated
    // zeroed rather than zeroed after allocating: a large allocation then comes as fresh pages
    // that are zero already, and the threads touch them first, instead of the calling thread
    // zeroing the whole envelope before any chunk starts.
    let header_len = prepared.header.len();
    let mut envelope = vec![0u8; total];
    envelope[..header_len].copy_from_slice(&prepared.header);
    let payload = &mut envelope[header_len..];
    // A job is up to `lanes` consecutive message-only chunks (one for chacha20-poly1305).
    let mut jobs: Vec<Vec<FullChunk<'_>>> = Vec::with_capacity(chunks);
    let mut edges: Vec<(usize, &mut [u8])> = Vec::with_capacity(3);
    for (i, out) in payload.chunks_mut(wire_chunk).enumerate() {
        if is_edge(i) {
            edges.push((i, out));
            continue;
        }
        match jobs.last_mut() {
            Some(group) if group.len() < lanes && group.last().is_some_and(|g| g.0 + 1 == i as u64) => {
                group.push((i as u64, full_chunk(i), out));
            }
            _ => jobs.push(vec![(i as u64, full_chunk(i), out)]),
        }
    }
    let prelude = || {
        let suffix = suffix(prepared, signer, &prefix, message);
        for (i, out) in edges {
            assemble(i, &suffix, &mut scratch);
            cipher.seal_chunk_into(i as u64, i == chunks - 1, &scratch, out);
        }
        wipe(&mut scratch);
    };
    parallel::run(jobs, threads, |group| cipher.seal_full_chunks(group), prelude, |_| {});
    envelope
}

/// The suffix `[D] [SIG]` (SPEC.md sections 5 and 5.4).
fn suffix(prepared: &Prepared, signer: Option<&X25519Identity>, prefix: &[u8], message: &[u8]) -> Vec<u8> {
    let mut suffix = Vec::with_capacity(framing::DIGEST_LEN + framing::SIGNATURE_LEN);
    if prepared.suite.carries_digest() {
        suffix.extend_from_slice(&Md5::digest(message));
    }
    if let Some(signer) = signer {
        let mut transcript = Transcript::new(prepared.header_sha512);
        transcript.update(prefix);
        transcript.update(message);
        transcript.update(&suffix);
        suffix.extend_from_slice(&signer.sign(&transcript.message()));
    }
    suffix
}

/// Open chunks 1 and on, one after the other on this thread, each appended to `plain` (which has
/// the room): the memory is written once, while the chunk is in cache.
fn open_in_order(
    cipher: &ChunkCipher,
    pieces: &[&[u8]],
    plain: &mut Vec<u8>,
    hashes: &mut Hashes,
    surely_message: usize,
) -> Result<usize, OpenError> {
    for (i, wire) in pieces.iter().enumerate().skip(1) {
        let last = i == pieces.len() - 1;
        cipher.open_chunk_append(i as u64, last, wire, plain)?;
        let upto = surely_message.clamp(hashes.hashed, plain.len());
        let hashed = hashes.hashed;
        hashes.update(&plain[hashed..upto]);
    }
    Ok(plain.len())
}

/// Open chunks 1 and on spread over `threads` threads, each in its place in `plain` (every
/// chunk's room, after chunk 0's `head_len` message bytes), hashing them in order as they are
/// done; the stream's length after the prefix.
fn open_spread(
    cipher: &ChunkCipher,
    pieces: &[&[u8]],
    plain: &mut [u8],
    head_len: usize,
    threads: usize,
    hashes: &mut Hashes,
    surely_message: usize,
) -> Result<usize, OpenError> {
    let mut rest_out = &mut plain[head_len..];
    let mut jobs = Vec::with_capacity(pieces.len());
    let mut offset = head_len;
    for (i, wire) in pieces.iter().enumerate().skip(1) {
        let last = i == pieces.len() - 1;
        let (out, tail) = std::mem::take(&mut rest_out).split_at_mut(room(wire.len(), last));
        rest_out = tail;
        jobs.push(OpenJob { index: i as u64, last, wire, out, offset, result: None });
        offset += room(wire.len(), last);
    }
    let failed = AtomicBool::new(false);
    let jobs = parallel::run(
        jobs,
        threads,
        |job| {
            // After a failure the outcome is decided: the rest need not be opened.
            job.result = Some(if failed.load(Ordering::Relaxed) {
                Err(OpenError::DecryptionFailed)
            } else {
                let result = cipher.open_chunk_into(job.index, job.last, job.wire, job.out);
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                result
            });
        },
        || {},
        |job| {
            // Hashed in order while later chunks are still being opened.
            if matches!(job.result, Some(Ok(_))) && hashes.hashed == job.offset {
                let upto = surely_message.clamp(job.offset, job.offset + job.out.len());
                hashes.update(&job.out[..upto - job.offset]);
            }
        },
    );
    // With chunk 0 the only (so final) chunk, the stream's plaintext all went into `plain`.
    let mut message_len = if jobs.is_empty() { head_len } else { 0 };
    for job in &jobs {
        match job.result {
            Some(Ok(len)) if job.last => message_len = job.offset + len,
            Some(Ok(_)) => {}
            _ => return Err(OpenError::DecryptionFailed),
        }
    }
    Ok(message_len)
}

/// A chunk to open: its index, whether final, its wire bytes, where its plaintext goes (and that
/// place's offset in the message buffer), and the outcome.
struct OpenJob<'a> {
    index: u64,
    last: bool,
    wire: &'a [u8],
    out: &'a mut [u8],
    offset: usize,
    result: Option<Result<usize, OpenError>>,
}

/// The hashes of the message and transcript, fed in order (SPEC.md sections 5 and 5.4).
struct Hashes {
    md5: Option<Md5>,
    transcript: Option<Transcript>,
    /// Message bytes hashed so far.
    hashed: usize,
}

impl Hashes {
    fn update(&mut self, bytes: &[u8]) {
        if let Some(md5) = &mut self.md5 {
            md5.update(bytes);
        }
        if let Some(transcript) = &mut self.transcript {
            transcript.update(bytes);
        }
        self.hashed += bytes.len();
    }
}

/// Open the binary envelope whose header was read, its payload being `payload`; nothing is
/// returned before every chunk, the digest and the signature checked.
pub(crate) fn open(
    suite: Suite,
    cipher: &ChunkCipher,
    context: framing::Context<'_>,
    payload: &[u8],
    threads: usize,
) -> Result<Opened, OpenError> {
    // SPEC.md section 5.3: `W` bytes at a time; the last piece (possibly empty) is final.
    let wire_chunk = suite.wire_chunk_len();
    let pieces: Vec<&[u8]> =
        if payload.is_empty() { vec![payload] } else { payload.chunks(wire_chunk).collect() };
    let chunks = pieces.len();
    if suite.max_chunks().is_some_and(|max| chunks as u64 > max) {
        return Err(OpenError::DecryptionFailed);
    }
    // Chunk 0 first: it says who signed, checked before anything else is opened.
    let mut first = Zeroizing::new(Vec::with_capacity(room(pieces[0].len(), chunks == 1)));
    let first_len = cipher.open_chunk_append(0, chunks == 1, pieces[0], &mut first)?;
    let prefix = framing::read_prefix(suite, &first[..first_len], &context)?;
    let head = &first[prefix.len..first_len];

    // The message buffer: every chunk's plaintext after the prefix, each opened in its place.
    let rest: usize = pieces.iter().enumerate().skip(1).map(|(i, w)| room(w.len(), i == chunks - 1)).sum();
    let room_total = head.len() + rest;
    // Sized once (a reallocation would leave plaintext behind, unwiped), filled chunk by chunk.
    // For several threads every chunk's place is made first: allocated zeroed (see `seal`).
    let mut plain = if threads > 1 {
        let mut plain = Zeroizing::new(vec![0u8; room_total]);
        plain[..head.len()].copy_from_slice(head);
        plain
    } else {
        let mut plain = Zeroizing::new(Vec::with_capacity(room_total));
        plain.extend_from_slice(head);
        plain
    };
    let head_len = head.len();
    wipe_zeroizing(&mut first);
    // Message bytes that are surely not suffix: the final chunk's plaintext is its room, or (PKCS#7)
    // up to 8 bytes less.
    let slack = if suite == Suite::LegacyDesCbcMd5 { 8 } else { 0 };
    let surely_message = room_total.saturating_sub(prefix.hold_back + slack);
    let mut hashes =
        Hashes { md5: suite.carries_digest().then(Md5::new), transcript: prefix.transcript, hashed: 0 };
    hashes.update(&plain[..head_len.min(surely_message)]);
    let message_len = if threads > 1 {
        open_spread(cipher, &pieces, &mut plain, head_len, threads, &mut hashes, surely_message)?
    } else {
        open_in_order(cipher, &pieces, &mut plain, &mut hashes, surely_message)?
    };
    // SPEC.md section 5.3, after the final chunk: the suffix, then the checks.
    let body_end = message_len.checked_sub(prefix.hold_back).ok_or(OpenError::DecryptionFailed)?;
    if body_end < hashes.hashed {
        return Err(OpenError::DecryptionFailed);
    }
    let hashed = hashes.hashed;
    hashes.update(&plain[hashed..body_end]);
    let carried_md5 = framing::check_suffix(
        &plain[body_end..message_len],
        hashes.md5,
        hashes.transcript,
        &prefix.signature,
    )?;
    plain[body_end..].zeroize();
    plain.truncate(body_end);
    Ok(Opened::new(plain, suite, context.id, prefix.signature, carried_md5))
}
