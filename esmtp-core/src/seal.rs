//! Sealing: one call, or a streaming writer with bounded memory.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use md5::{Digest, Md5};
use zeroize::Zeroizing;

use crate::chunk_jobs::{self, JOB_CHUNKS, MAX_JOBS_IN_FLIGHT, SealJob};
use crate::error::SealError;
use crate::framing::{self, Transcript};
use crate::header::Header;
use crate::key::EnvelopeId;
use crate::keyslip::KeySlip;
use crate::oneshot;
use crate::parallel;
use crate::pipeline::Pipeline;
use crate::random::{OsRandom, RandomSource};
use crate::recipient::Recipient;
use crate::stanza::{self, Stanza};
use crate::suite::{CHUNK_SIZE, ChunkCipher, Suite};
use crate::wipe::wipe;
use crate::x25519::X25519Identity;

/// Seals messages for a set of recipients, optionally signed.
///
/// ```
/// use esmtp_core::{Opener, Sealer, Signature, X25519Identity};
///
/// let (alice, bob) = (X25519Identity::generate()?, X25519Identity::generate()?);
/// let sealed = Sealer::new().recipient(bob.to_public()).sign_with(alice.clone()).seal(b"Hello Bob")?;
/// let opened = Opener::new().identity(bob).require_signer(alice.to_public()).open(&sealed.envelope)?;
/// assert_eq!(opened.plaintext(), b"Hello Bob");
/// assert_eq!(opened.signature(), &Signature::Signed { signer: alice.to_public() });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct Sealer {
    suite: Suite,
    recipients: Vec<Box<dyn Recipient>>,
    key_slip: bool,
    signer: Option<X25519Identity>,
    /// At most this many threads for large messages; `None`: one per core.
    threads: Option<usize>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("suite", &self.suite)
            .field("recipients", &self.recipients.len())
            .field("key_slip", &self.key_slip)
            .field("signer", &self.signer.as_ref().map(X25519Identity::to_public))
            .field("threads", &self.threads)
            .finish()
    }
}

/// A sealed envelope and what the sender needs to know about it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Sealed {
    /// The binary envelope (armor it with [`crate::armor()`] for text channels).
    pub envelope: Vec<u8>,
    /// The envelope's id.
    pub envelope_id: EnvelopeId,
    /// The key slip to deliver separately, when [`Sealer::key_slip`] was asked for.
    pub key_slip: Option<KeySlip>,
}

impl Sealer {
    /// A sealer with the default (modern) suite, no recipients and no signer yet.
    pub fn new() -> Self {
        Sealer::default()
    }

    /// Choose the cipher suite. [`Suite::LegacyDesCbcMd5`] is of legacy strength; see its docs.
    pub fn suite(mut self, suite: Suite) -> Self {
        self.suite = suite;
        self
    }

    /// Add a recipient: an [`crate::X25519Recipient`] or a [`crate::Passphrase`] (at most one).
    pub fn recipient(mut self, recipient: impl Recipient + 'static) -> Self {
        self.recipients.push(Box::new(recipient));
        self
    }

    /// Also export the message key as a [`KeySlip`], the paper's separately delivered key.
    pub fn key_slip(mut self) -> Self {
        self.key_slip = true;
        self
    }

    /// Sign with `identity` (SPEC.md section 5.4): the signature covers the whole header (so the
    /// set of recipients) and the whole message, and travels inside the encryption.
    pub fn sign_with(mut self, identity: X25519Identity) -> Self {
        self.signer = Some(identity);
        self
    }

    /// Use at most `threads` threads for a large message (`0` and `1`: only the calling thread).
    /// The default is one per core. Small messages always stay on the calling thread, and the
    /// envelope's bytes do not depend on the number of threads. The calling thread counts as
    /// one: [`Sealer::seal_writer`] starts at most `threads - 1` workers, which end with the
    /// writer.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    fn thread_limit(&self) -> usize {
        self.threads.unwrap_or_else(parallel::default_threads)
    }

    /// The chosen suite.
    pub fn chosen_suite(&self) -> Suite {
        self.suite
    }

    /// Whether anyone could open what this sealer seals: it has a recipient or makes a key slip
    /// (otherwise sealing fails with [`SealError::NoRecipients`]). A caller that adds a recipient
    /// of its own, such as the sender's key for a readable Sent copy, asks this first.
    ///
    /// ```
    /// use esmtp_core::Sealer;
    /// assert!(!Sealer::new().has_recipients());
    /// assert!(Sealer::new().key_slip().has_recipients());
    /// ```
    pub fn has_recipients(&self) -> bool {
        !self.recipients.is_empty() || self.key_slip
    }

    /// The largest message this sealer can seal, in bytes, if its suite limits it.
    pub fn max_message_len(&self) -> Option<u64> {
        let framing = 1 + self.prefix_signer_len() + self.suffix_len();
        self.suite.max_chunks().map(|chunks| chunks * CHUNK_SIZE as u64 - framing as u64)
    }

    fn prefix_signer_len(&self) -> usize {
        if self.signer.is_some() { framing::SIGNER_LEN } else { 0 }
    }

    fn suffix_len(&self) -> usize {
        framing::suffix_len(self.suite.carries_digest(), self.signer.is_some())
    }

    /// Seal `plaintext` in one call.
    ///
    /// # Errors
    /// [`SealError::NoRecipients`] when there is no recipient and no key slip,
    /// [`SealError::MessageTooLarge`] beyond the suite's limit, and see [`SealError`].
    pub fn seal(&self, plaintext: &[u8]) -> Result<Sealed, SealError> {
        self.seal_with(plaintext, &mut OsRandom)
    }

    /// [`Sealer::seal`] with a given generator (reproducible test vectors only).
    #[doc(hidden)]
    pub fn seal_with(&self, plaintext: &[u8], rng: &mut dyn RandomSource) -> Result<Sealed, SealError> {
        if let Some(limit) = self.max_message_len()
            && plaintext.len() as u64 > limit
        {
            return Err(SealError::MessageTooLarge { suite: self.suite.name(), limit });
        }
        let prepared = self.prepare(rng)?;
        let envelope = oneshot::seal(
            &prepared,
            self.signer.as_ref(),
            plaintext,
            parallel::threads_for(self.suite, plaintext.len() / CHUNK_SIZE, self.thread_limit()),
        );
        Ok(Sealed { envelope, envelope_id: prepared.id, key_slip: prepared.key_slip })
    }

    /// Start a streaming seal into `out`: the header is written now, the payload as data is
    /// written, the final chunk by [`SealWriter::finish`]. Memory stays bounded: one chunk of
    /// plaintext and its ciphertext on one thread (four for `des-cbc-md5`). With several (see
    /// [`Sealer::threads`]), once a message passes 1 MiB (256 KiB for `des-cbc-md5`), worker
    /// threads seal the chunks while the calling thread takes the next ones in (and seals some
    /// itself while it would wait): up to 36 chunks (2.25 MiB) and their ciphertext are held,
    /// and the workers end with the writer.
    ///
    /// # Errors
    /// As [`Sealer::seal`], and [`SealError::Io`] when writing the header fails. A message that
    /// grows beyond the suite's limit fails a later write with an `io::Error` carrying
    /// [`SealError::MessageTooLarge`].
    pub fn seal_writer<W: Write>(&self, out: W) -> Result<SealWriter<W>, SealError> {
        self.seal_writer_with(out, &mut OsRandom)
    }

    /// [`Sealer::seal_writer`] with a given generator (reproducible test vectors only).
    #[doc(hidden)]
    pub fn seal_writer_with<W: Write>(
        &self,
        mut out: W,
        rng: &mut dyn RandomSource,
    ) -> Result<SealWriter<W>, SealError> {
        let prepared = self.prepare(rng)?;
        out.write_all(&prepared.header)?;
        let threads = self.thread_limit();
        let prepared_lanes = prepared.cipher.lanes();
        let Prepared { cipher, id, key_slip, header_sha512, .. } = prepared;
        let mut writer = SealWriter {
            out,
            cipher: Arc::new(cipher),
            suite: self.suite,
            message_limit: self.max_message_len(),
            index: 0,
            threads,
            // As many chunks as the cipher seals side by side (des-cbc-md5: four, 256 KiB; a
            // pipeline job is as large), until the workers start (see `emit`).
            batch_chunks: prepared_lanes,
            ahead: None,
            spare: Vec::new(),
            buffer: Zeroizing::new(Vec::with_capacity(CHUNK_SIZE)),
            wire: Vec::with_capacity(self.suite.wire_chunk_len()),
            md5: self.suite.carries_digest().then(Md5::new),
            signing: self.signer.clone().map(|signer| (signer, Transcript::new(header_sha512))),
            id,
            key_slip,
        };
        writer.push(&prefix(self.signer.as_ref()), false).map_err(SealError::from)?;
        Ok(writer)
    }

    /// Everything before the payload: the checks, the message key, the stanzas, the header.
    fn prepare(&self, rng: &mut dyn RandomSource) -> Result<Prepared, SealError> {
        if self.recipients.is_empty() && !self.key_slip {
            return Err(SealError::NoRecipients);
        }
        if self.recipients.len() + usize::from(self.key_slip) > stanza::MAX_STANZAS {
            return Err(SealError::TooManyRecipients);
        }
        if self.recipients.iter().filter(|r| r.is_passphrase()).count() > 1 {
            return Err(SealError::TwoPassphrases);
        }
        let key = self.suite.new_message_key(rng)?;
        let id = EnvelopeId::generate(rng)?;
        let mut stanzas: Vec<Stanza> = Vec::with_capacity(self.recipients.len() + 1);
        for recipient in &self.recipients {
            stanzas.push(recipient.wrap_message_key(&key, &id, rng)?);
        }
        let key_slip = self.key_slip.then(|| KeySlip::new(id, key.clone()));
        if let Some(slip) = &key_slip {
            stanzas.push(slip.stanza());
        }
        // The one check of SPEC.md section 3, step 4, as readers apply it.
        stanza::check(stanzas.iter().map(|s| (s.kind, s.body.len())))
            .map_err(|_| SealError::InvalidParameters("the stanzas break SPEC.md section 3"))?;
        let header = Header::write(self.suite, &id, &stanzas, &key);
        // Invariant: `Suite::new_message_key` draws keys that follow the suite's rules, the only
        // reason keying can fail.
        #[allow(clippy::expect_used)]
        let cipher = ChunkCipher::new(self.suite, &key, &id).expect("a key drawn by the suite's rules");
        Ok(Prepared {
            suite: self.suite,
            header: header.to_bytes(),
            header_sha512: header.sha512(),
            cipher,
            id,
            key_slip,
        })
    }
}

/// A sealer's header written and its chunk cipher keyed: what the payload needs.
pub(crate) struct Prepared {
    pub(crate) suite: Suite,
    pub(crate) header: Vec<u8>,
    pub(crate) header_sha512: [u8; 64],
    pub(crate) cipher: ChunkCipher,
    pub(crate) id: EnvelopeId,
    pub(crate) key_slip: Option<KeySlip>,
}

/// The chunk stream's prefix (SPEC.md section 5.4): `F`, and the signer's public keys when signed.
pub(crate) fn prefix(signer: Option<&X25519Identity>) -> Vec<u8> {
    match signer {
        None => vec![framing::UNSIGNED],
        Some(signer) => [&[framing::SIGNED][..], &signer.to_public().to_bytes()].concat(),
    }
}

/// Encrypts everything written to it; [`SealWriter::finish`] writes the final chunk.
///
/// Dropping it without `finish` leaves a truncated envelope, which every reader rejects.
pub struct SealWriter<W: Write> {
    out: W,
    cipher: Arc<ChunkCipher>,
    suite: Suite,
    /// [`Sealer::max_message_len`], reported when the chunk limit is hit.
    message_limit: Option<u64>,
    index: u64,
    /// At most this many threads seal chunks.
    threads: usize,
    /// Chunks sealed together: the cipher's lanes on the calling thread, a pipeline job once
    /// workers seal them.
    batch_chunks: usize,
    /// With several threads, once the message is long enough: full chunks being sealed by
    /// workers, written out in order.
    ahead: Option<Pipeline<SealJob, SealJob>>,
    /// Jobs back from the workers, their buffers empty and ready for reuse.
    spare: Vec<SealJob>,
    /// Chunk stream bytes of the chunks being filled (at most `batch_chunks` chunks); zeroized
    /// when dropped.
    buffer: Zeroizing<Vec<u8>>,
    /// The wire form of the last batch.
    wire: Vec<u8>,
    /// `des-cbc-md5` only: the running MD5 of the message, appended to the chunk stream at the end.
    md5: Option<Md5>,
    /// When signing: the signer and the transcript of the chunk stream so far.
    signing: Option<(X25519Identity, Transcript)>,
    id: EnvelopeId,
    key_slip: Option<KeySlip>,
}

impl<W: Write> fmt::Debug for SealWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealWriter")
            .field("suite", &self.suite)
            .field("envelope_id", &self.id)
            .field("chunks_written", &self.index)
            .finish_non_exhaustive()
    }
}

impl<W: Write> SealWriter<W> {
    /// The id of the envelope being written.
    pub fn envelope_id(&self) -> EnvelopeId {
        self.id
    }

    /// The writer the envelope goes to. Bytes written to it directly land between the
    /// envelope's own: only for a caller that frames the envelope (the streaming mail packager),
    /// and only before the first payload write, while no sealed chunk can be waiting in the
    /// workers to be written.
    pub(crate) fn get_mut(&mut self) -> &mut W {
        debug_assert!(self.ahead.is_none(), "chunks may be in flight");
        &mut self.out
    }

    /// The key slip, when the sealer was asked for one (taken once).
    pub fn take_key_slip(&mut self) -> Option<KeySlip> {
        self.key_slip.take()
    }

    /// Seal the buffered chunks (all full, unless `last`) and write them.
    fn emit(&mut self, last: bool) -> io::Result<()> {
        let chunks = self.buffer.len().div_ceil(CHUNK_SIZE).max(1);
        if let (Some(max), Some(limit)) = (self.suite.max_chunks(), self.message_limit)
            && self.index + chunks as u64 > max
        {
            return Err(SealError::MessageTooLarge { suite: self.suite.name(), limit }.into_io());
        }
        let workers = self.threads > 1 && self.index >= parallel::stream_workers_from(self.suite);
        if workers && !last {
            return self.submit(chunks);
        }
        self.write_sealed_ahead()?;
        // On this thread (a batch is at most what the cipher seals side by side, or the last
        // one): the full chunks, then, at the end, the message's final chunk.
        let full = if last { chunks - 1 } else { chunks };
        let (full_len, full_wire) = (full * CHUNK_SIZE, full * self.suite.wire_chunk_len());
        let final_wire = if last { self.suite.wire_len(self.buffer.len() - full_len) } else { 0 };
        self.wire.clear();
        self.wire.resize(full_wire + final_wire, 0);
        let (plain_full, plain_final) = self.buffer.split_at(full_len);
        let (wire_full, wire_final) = self.wire.split_at_mut(full_wire);
        self.cipher.seal_full_run(self.index, plain_full, wire_full);
        if last {
            self.cipher.seal_chunk_into(self.index + full as u64, true, plain_final, wire_final);
        }
        if last {
            wipe(&mut self.buffer);
        } else {
            // Overwritten by the next batch, and wiped at the end (above, or when the writer is
            // dropped): wiping every batch too was one more pass over each byte.
            self.buffer.clear();
        }
        self.index += chunks as u64;
        if self.threads > 1 && self.index >= parallel::stream_workers_from(self.suite) {
            // From here on the chunks go to workers, in jobs (the buffer grows to one in `push`).
            self.batch_chunks = JOB_CHUNKS;
        }
        self.out.write_all(&self.wire)
    }

    /// Hand the buffered full chunks to the workers (starting them the first time), and write
    /// out whatever they have finished, in order.
    fn submit(&mut self, chunks: usize) -> io::Result<()> {
        let (threads, suite) = (self.threads, self.suite);
        let ahead = self.ahead.get_or_insert_with(|| chunk_jobs::seal_pipeline(&self.cipher, threads));
        if ahead.in_flight() >= MAX_JOBS_IN_FLIGHT
            && let Some(job) = ahead.next()
        {
            write_job(&mut self.out, &mut self.spare, job)?;
        }
        let mut job = self.spare.pop().unwrap_or_else(|| SealJob::with_capacity(suite));
        job.first_index = self.index;
        // The job takes the filled buffer and leaves its own, empty one for the next chunks.
        std::mem::swap(&mut job.plain, &mut *self.buffer);
        ahead.submit(job, false);
        self.index += chunks as u64;
        while let Some(job) = ahead.try_next() {
            write_job(&mut self.out, &mut self.spare, job)?;
        }
        Ok(())
    }

    /// Wait for the chunks the workers hold and write them, in order.
    fn write_sealed_ahead(&mut self) -> io::Result<()> {
        if let Some(ahead) = &mut self.ahead {
            while let Some(job) = ahead.next() {
                write_job(&mut self.out, &mut self.spare, job)?;
            }
        }
        Ok(())
    }

    /// Add bytes to the chunk stream (and to the signed transcript), emitting full chunks only
    /// once more data follows them, so the last chunk can carry the final flag.
    /// Message bytes (`message`) also go into the MD5. Both hashes take the data a buffer at a
    /// time, between the batches, so that a large write keeps the workers busy meanwhile.
    fn push(&mut self, mut data: &[u8], message: bool) -> io::Result<()> {
        let capacity = self.batch_chunks * CHUNK_SIZE;
        while !data.is_empty() {
            if self.buffer.len() == capacity {
                self.emit(false)?;
            }
            if self.buffer.len() == self.buffer.capacity() && self.buffer.capacity() < capacity {
                // Grown once, to a whole batch, when a message proves longer than a chunk:
                // small messages keep a small buffer. Copied by hand, as a reallocation would
                // leave the old bytes behind unwiped.
                let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
                grown.extend_from_slice(&self.buffer);
                self.buffer = grown;
            }
            let n = data.len().min(capacity - self.buffer.len());
            let (piece, rest) = data.split_at(n);
            if let Some((_, transcript)) = &mut self.signing {
                transcript.update(piece);
            }
            if let (true, Some(md5)) = (message, &mut self.md5) {
                md5.update(piece);
            }
            self.buffer.extend_from_slice(piece);
            data = rest;
        }
        Ok(())
    }

    /// Write the suffix (the MD5 digest, the signature) and the final chunk, and return the inner
    /// writer.
    ///
    /// # Errors
    /// When the inner writer fails, or the message grew beyond the suite's limit.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(md5) = self.md5.take() {
            let digest = md5.finalize();
            self.push(&digest, false)?;
        }
        if let Some((signer, transcript)) = self.signing.take() {
            // Pushed after `take`, so the signature is not part of its own transcript.
            let signature = signer.sign(&transcript.message());
            self.push(&signature, false)?;
        }
        self.emit(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.push(data, true)?;
        Ok(data.len())
    }

    /// Writes out every chunk sealed so far and flushes the inner writer. The chunks still
    /// being filled stay: a chunk is sealed only once it is full and more data follows.
    fn flush(&mut self) -> io::Result<()> {
        self.write_sealed_ahead()?;
        self.out.flush()
    }
}

/// Write a job's sealed chunks and keep its buffers for a later job.
fn write_job<W: Write>(out: &mut W, spare: &mut Vec<SealJob>, job: SealJob) -> io::Result<()> {
    out.write_all(&job.wire)?;
    spare.push(job);
    Ok(())
}
