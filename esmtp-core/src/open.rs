//! Opening: one call that releases nothing before the whole envelope checked, or a streaming
//! reader that releases each chunk only after its tag or MAC checked.

use std::fmt;
use std::io::{self, Read};
use std::sync::{Arc, OnceLock};

use md5::{Digest, Md5};
use zeroize::{Zeroize, Zeroizing};

use crate::chunk_jobs::{self, HEADROOM, OpenAhead};
use crate::error::OpenError;
use crate::framing::{self, Context, Signature, Transcript, check_suffix, read_prefix};
use crate::hash::{BackgroundHasher, HashAlgorithm};
use crate::header::Header;
use crate::key::{EnvelopeId, MessageKey};
use crate::oneshot;
use crate::parallel;
use crate::recipient::Identity;
use crate::suite::{CHUNK_SIZE, ChunkCipher, Suite, room};
use crate::wipe::{wipe, wipe_zeroizing};
use crate::x25519::X25519Recipient;

/// Opens envelopes with a set of identities (secret keys, passphrases, key slips).
#[derive(Default)]
pub struct Opener {
    identities: Vec<Box<dyn Identity>>,
    required_signers: Vec<X25519Recipient>,
    /// At most this many threads for large envelopes; `None`: one per core.
    threads: Option<usize>,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("identities", &self.identities.len())
            .field("required_signers", &self.required_signers)
            .field("threads", &self.threads)
            .finish()
    }
}

/// An opened, authenticated message.
pub struct Opened {
    plaintext: Zeroizing<Vec<u8>>,
    suite: Suite,
    envelope_id: EnvelopeId,
    signature: Signature,
    /// For `des-cbc-md5` the digest the envelope carried (verified); else computed when asked.
    md5: OnceLock<[u8; 16]>,
}

impl Opened {
    pub(crate) fn new(
        plaintext: Zeroizing<Vec<u8>>,
        suite: Suite,
        envelope_id: EnvelopeId,
        signature: Signature,
        carried_md5: Option<[u8; 16]>,
    ) -> Self {
        let md5 = OnceLock::new();
        if let Some(digest) = carried_md5 {
            let _ = md5.set(digest);
        }
        Opened { plaintext, suite, envelope_id, signature, md5 }
    }

    /// The plaintext.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    /// The plaintext, owned (zeroized when dropped).
    pub fn into_plaintext(mut self) -> Zeroizing<Vec<u8>> {
        std::mem::take(&mut self.plaintext)
    }

    /// The envelope's cipher suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The envelope's id.
    pub fn envelope_id(&self) -> EnvelopeId {
        self.envelope_id
    }

    /// Whether, and by whom, the envelope was signed (verified).
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// MD5 of the plaintext: the paper's integrity hash. For `des-cbc-md5` it is the digest the
    /// envelope carried, verified; for other suites it is computed on the first call.
    pub fn md5(&self) -> [u8; 16] {
        *self.md5.get_or_init(|| Md5::digest(&self.plaintext[..]).into())
    }

    /// [`Opened::md5`] as 32 lower-case hex digits.
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5())
    }

    /// [`Opened::md5`] if it is at hand without hashing: the digest a `des-cbc-md5` envelope
    /// carried, or one an earlier [`Opened::md5`] call computed; else `None`. A caller that
    /// hands the plaintext on (a language binding copying it into its own buffer) keeps this,
    /// and hashes its copy only when the digest is asked for.
    pub fn md5_if_known(&self) -> Option<[u8; 16]> {
        self.md5.get().copied()
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        // In bulk: `Zeroizing<Vec<u8>>`'s own drop wipes one byte per store.
        wipe_zeroizing(&mut self.plaintext);
    }
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("suite", &self.suite)
            .field("envelope_id", &self.envelope_id)
            .field("signature", &self.signature)
            .field("len", &self.plaintext.len())
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// An opener with no identities yet.
    pub fn new() -> Self {
        Opener::default()
    }

    /// Add an identity ([`crate::X25519Identity`], [`crate::Passphrase`], [`crate::KeySlip`]).
    pub fn identity(mut self, identity: impl Identity + 'static) -> Self {
        self.identities.push(Box::new(identity));
        self
    }

    /// Require a signature by `signer` (repeatable: any of the given signers will do). An
    /// unsigned envelope, or one signed by someone else, then fails with
    /// [`OpenError::UnexpectedSigner`] before any plaintext is released.
    pub fn require_signer(mut self, signer: X25519Recipient) -> Self {
        self.required_signers.push(signer);
        self
    }

    /// Use at most `threads` threads for a large envelope (`0` and `1`: only the calling thread).
    /// The default is one per core; small envelopes always stay on the calling thread. The
    /// calling thread counts as one: [`Opener::open_reader`] starts at most `threads - 1`
    /// workers, which read ahead up to 32 chunks (2 MiB) and end with the reader.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    fn thread_limit(&self) -> usize {
        self.threads.unwrap_or_else(parallel::default_threads)
    }

    /// Open a binary or armored envelope in one call.
    ///
    /// # Errors
    /// See [`OpenError`]; on any error no plaintext is returned.
    pub fn open(&self, envelope: &[u8]) -> Result<Opened, OpenError> {
        if crate::armor::is_armored(envelope) {
            return self.open_armored(envelope);
        }
        let mut input = envelope;
        let header = Header::read(&mut input)?;
        let cipher = self.keyed_cipher(&header)?;
        let context = self.context(&header);
        let chunks = input.len() / header.suite.wire_chunk_len();
        let threads = parallel::threads_for(header.suite, chunks, self.thread_limit());
        oneshot::open(header.suite, &cipher, context, input, threads)
    }

    /// [`Opener::open`] of armored text: through the streaming reader, which decodes it on the way.
    fn open_armored(&self, envelope: &[u8]) -> Result<Opened, OpenError> {
        let mut reader = self.open_reader(crate::ArmorReader::new(envelope))?;
        // Sized so that reading never reallocates (a reallocation would leave a copy of the
        // plaintext behind, unzeroized): the plaintext is shorter than the envelope.
        let mut plaintext = Zeroizing::new(Vec::with_capacity(envelope.len()));
        reader.read_to_end(&mut plaintext).map_err(OpenError::from_io)?;
        Ok(Opened::new(plaintext, reader.suite, reader.id, reader.signature.clone(), reader.carried_md5()))
    }

    /// Recover the message key, check the header MAC, key the chunk cipher.
    fn keyed_cipher(&self, header: &Header) -> Result<ChunkCipher, OpenError> {
        let key = self.recover_key(header)?;
        header.verify(&key)?;
        // A DES key that breaks the suite's rules cannot come from a conforming sealer.
        ChunkCipher::new(header.suite, &key, &header.id).ok_or(OpenError::DecryptionFailed)
    }

    fn context(&self, header: &Header) -> Context<'_> {
        Context { id: header.id, header_sha512: header.sha512(), required_signers: &self.required_signers }
    }

    /// Read the header from `input`, recover the message key, check the header MAC and read the
    /// first chunk (which says who signed, checked against [`Opener::require_signer`]); the
    /// returned reader then yields the plaintext chunk by chunk. Binary input only: wrap armored
    /// input in [`crate::ArmorReader`] first.
    ///
    /// A signature is verified at the end of the stream: the read that reaches the end fails
    /// with [`OpenError::BadSignature`] (see [`OpenError::from_io`]) when it does not verify.
    ///
    /// # Errors
    /// See [`OpenError`].
    pub fn open_reader<R: Read>(&self, mut input: R) -> Result<OpenReader<R>, OpenError> {
        let header = Header::read(&mut input)?;
        let cipher = self.keyed_cipher(&header)?;
        let wire_len = header.suite.wire_chunk_len();
        let threads = self.thread_limit();
        let mut reader = OpenReader {
            input,
            suite: header.suite,
            id: header.id,
            header_sha512: header.sha512(),
            cipher: Arc::new(cipher),
            index: 0,
            threads,
            ahead: None,
            wire: Vec::with_capacity(wire_len + 1),
            wire_len,
            plain: Zeroizing::new(Vec::with_capacity(CHUNK_SIZE + framing::MAX_PREFIX_LEN)),
            released: 0,
            hashed: 0,
            hold_back: 0,
            md5: header.suite.carries_digest().then(Md5::new),
            transcript: None,
            signature: Signature::Unsigned,
            carried_md5: None,
            released_md5: None,
            handed_out: false,
            required_signers: self.required_signers.clone(),
            state: State::Reading,
        };
        reader.next_batch()?;
        Ok(reader)
    }

    /// SPEC.md section 3 step 5: the first stanza any identity opens wins; an identity error is
    /// reported only when no stanza yields a key.
    fn recover_key(&self, header: &Header) -> Result<MessageKey, OpenError> {
        let mut first_error = None;
        for stanza in &header.stanzas {
            for identity in &self.identities {
                match identity.unwrap_stanza(stanza, &header.id) {
                    Some(Ok(key)) => return Ok(key),
                    Some(Err(e)) => {
                        first_error.get_or_insert(e);
                    }
                    None => {}
                }
            }
        }
        Err(first_error.unwrap_or(OpenError::NoMatchingRecipient))
    }
}

enum State {
    Reading,
    Done,
    /// Sticky: a reader that failed once never yields data again.
    Failed(Failure),
}

/// The MD5 of the plaintext an [`OpenReader`] hands out: being computed, then known.
enum ReleasedMd5 {
    Hashing(BackgroundHasher),
    Done([u8; 16]),
}

#[derive(Clone, Copy)]
enum Failure {
    Decryption,
    BadSignature,
    Io(io::ErrorKind),
}

impl Failure {
    fn of(e: &OpenError) -> Failure {
        match e {
            OpenError::Io(io) => Failure::Io(io.kind()),
            OpenError::BadSignature => Failure::BadSignature,
            _ => Failure::Decryption,
        }
    }

    fn error(self) -> io::Error {
        match self {
            Failure::Decryption => OpenError::DecryptionFailed.into_io(),
            Failure::BadSignature => OpenError::BadSignature.into_io(),
            Failure::Io(kind) => io::Error::new(kind, "an earlier read of the envelope failed"),
        }
    }
}

/// Yields the plaintext of an envelope; see [`Opener::open_reader`].
///
/// Read errors carry an [`OpenError`]: convert with [`OpenError::from_io`]. After an error,
/// every further read fails again.
pub struct OpenReader<R: Read> {
    input: R,
    suite: Suite,
    id: EnvelopeId,
    header_sha512: [u8; 64],
    cipher: Arc<ChunkCipher>,
    index: u64,
    /// At most this many threads open chunks.
    threads: usize,
    /// With several threads, after the first chunk: the chunks read ahead and being opened.
    ahead: Option<OpenAhead>,
    wire: Vec<u8>,
    wire_len: usize,
    /// Authenticated chunk stream; `plain[released..]` is not handed out yet.
    plain: Zeroizing<Vec<u8>>,
    released: usize,
    /// `plain[..hashed]` went into the MD5 and the transcript (the prefix, then message bytes).
    hashed: usize,
    /// The suffix's length, kept back at the end of `plain` until the final chunk.
    hold_back: usize,
    /// `des-cbc-md5`: the running MD5 of the message.
    md5: Option<Md5>,
    /// Signed envelopes: the running transcript of the chunk stream.
    transcript: Option<Transcript>,
    /// What the prefix says; verified once the final chunk was read.
    signature: Signature,
    carried_md5: Option<[u8; 16]>,
    /// With [`OpenReader::hash_released`]: the MD5 of what was handed out, while reading, then
    /// its digest.
    released_md5: Option<ReleasedMd5>,
    /// Some plaintext was handed out (too late to start [`OpenReader::hash_released`]).
    handed_out: bool,
    required_signers: Vec<X25519Recipient>,
    state: State,
}

impl<R: Read> fmt::Debug for OpenReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenReader")
            .field("suite", &self.suite)
            .field("envelope_id", &self.id)
            .field("chunks_read", &self.index)
            .finish_non_exhaustive()
    }
}

impl<R: Read> OpenReader<R> {
    /// The envelope's cipher suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The envelope's id.
    pub fn envelope_id(&self) -> EnvelopeId {
        self.id
    }

    /// Who signed the envelope: known from the start (and checked against the required signers),
    /// but verified only at the end. Until a read has returned `Ok(0)` it is a claim.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Whether the end of the envelope was reached and everything verified: every chunk, the
    /// digest and the signature. (A one-chunk envelope is verified as soon as it is opened.)
    pub fn is_verified(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// `des-cbc-md5`: the verified MD5 digest the envelope carried, once the end was read.
    pub fn carried_md5(&self) -> Option<[u8; 16]> {
        self.carried_md5
    }

    /// Also compute the MD5 of the plaintext handed out, for [`OpenReader::md5`], on a thread of
    /// its own ([`crate::hash::BackgroundHasher`]). Nothing to do for `des-cbc-md5`, whose
    /// envelope carries it. Call it before the first read: once reading has begun it does
    /// nothing (a digest of part of the message would be a wrong one), and `md5` stays `None`.
    pub fn hash_released(&mut self) {
        if !self.handed_out && self.released_md5.is_none() && !self.suite.carries_digest() {
            self.released_md5 = Some(ReleasedMd5::Hashing(BackgroundHasher::new(HashAlgorithm::Md5)));
        }
    }

    /// The plaintext's MD5 once the end was read: the digest a `des-cbc-md5` envelope carried
    /// (verified), or, after [`OpenReader::hash_released`], that of everything handed out.
    pub fn md5(&self) -> Option<[u8; 16]> {
        match &self.released_md5 {
            Some(ReleasedMd5::Done(digest)) => Some(*digest),
            _ => self.carried_md5,
        }
    }

    /// Read up to one wire chunk plus one byte of look-ahead, which tells whether it is the
    /// final one. The buffer is sized once per chunk (not per read: armored input arrives a line
    /// at a time).
    fn fill_wire(&mut self) -> io::Result<()> {
        chunk_jobs::fill(&mut self.input, &mut self.wire, self.wire_len + 1)
    }

    /// Read, authenticate and decrypt the next batch of chunks (SPEC.md section 5.3), appending
    /// their plaintext to `plain` only once every chunk of the batch checked.
    fn next_batch(&mut self) -> Result<(), OpenError> {
        let here =
            self.index == 0 || self.threads <= 1 || self.index < parallel::stream_workers_from(self.suite);
        let (chunks, last) = if here { self.open_batch_here()? } else { self.open_batch_ahead()? };
        if self.index == 0 {
            let context = Context {
                id: self.id,
                header_sha512: self.header_sha512,
                required_signers: &self.required_signers,
            };
            let prefix = read_prefix(self.suite, &self.plain, &context)?;
            self.hold_back = prefix.hold_back;
            self.released = prefix.len;
            self.hashed = prefix.len;
            self.signature = prefix.signature;
            self.transcript = prefix.transcript;
        }
        self.index += chunks as u64;
        if last {
            self.finish_stream()
        } else {
            let upto = self.plain.len() - self.hold_back;
            self.hash_message(upto);
            Ok(())
        }
    }

    /// Make room in `plain` for `more` bytes without a reallocation, which would leave the old
    /// bytes behind unwiped: grown by hand, at most to a batch and the held-back bytes.
    fn reserve_plain(&mut self, more: usize) {
        let needed = self.plain.len() + more;
        if needed > self.plain.capacity() {
            let mut grown = Zeroizing::new(Vec::with_capacity(needed.max(CHUNK_SIZE + 128)));
            grown.extend_from_slice(&self.plain);
            let mut old = std::mem::replace(&mut self.plain, grown);
            wipe(&mut old);
        }
    }

    /// The next job of the workers, its buffer now `plain` (after the bytes held back from the
    /// batch before); how many chunks it had and whether it ended the envelope.
    fn open_batch_ahead(&mut self) -> Result<(usize, bool), OpenError> {
        let (cipher, threads, index) = (&self.cipher, self.threads, self.index);
        let ahead = self.ahead.get_or_insert_with(|| {
            // The look-ahead byte read after the chunks opened on this thread (one chunk and one
            // byte are read at a time there) is the next job's first.
            debug_assert_eq!(self.wire.len(), 1, "the look-ahead byte of a non-final chunk");
            OpenAhead::new(cipher, threads, index, self.wire.pop())
        });
        let mut job = ahead.next(&mut self.input)?;
        debug_assert_eq!(job.first_index, self.index);
        let (chunks, last) = (job.wire().len().div_ceil(self.wire_len).max(1), job.last);
        // Everything before was released (see `read`): only the held-back bytes are left, and
        // they go in front of the job's plaintext, in the room the job left for them.
        debug_assert!(self.plain.len() == self.hold_back && self.released == 0 && self.hashed == 0);
        debug_assert!(self.hold_back <= HEADROOM, "the longest suffix fits");
        if !job.opened {
            ahead.recycle(job);
            return Err(OpenError::DecryptionFailed);
        }
        let start = HEADROOM - self.hold_back;
        job.plain[start..HEADROOM].copy_from_slice(&self.plain);
        std::mem::swap(&mut job.plain, &mut *self.plain);
        (self.released, self.hashed) = (start, start);
        ahead.recycle(job);
        Ok((chunks, last))
    }

    /// Read the next chunk and open it on this thread; how many chunks that was (one) and
    /// whether it ended the envelope.
    fn open_batch_here(&mut self) -> Result<(usize, bool), OpenError> {
        self.fill_wire()?;
        let last = self.wire.len() <= self.wire_len;
        let take = self.wire.len().min(self.wire_len);
        if self.suite.max_chunks().is_some_and(|max| self.index >= max) {
            return Err(OpenError::DecryptionFailed);
        }
        // Room for the plaintext: a full chunk, or the final one's ciphertext length.
        let room = room(take, last);
        let start = self.plain.len();
        self.reserve_plain(room);
        self.plain.resize(start + room, 0);
        match self.cipher.open_chunk_into(self.index, last, &self.wire[..take], &mut self.plain[start..]) {
            Ok(len) => {
                self.plain[start + len..].zeroize();
                self.plain.truncate(start + len);
            }
            Err(e) => {
                // `open_chunk_into` wiped what it wrote.
                self.plain.truncate(start);
                return Err(e);
            }
        }
        self.wire.drain(..take);
        Ok((1, last))
    }

    /// Feed `plain[hashed..upto]`, message bytes, to the MD5 and the transcript.
    fn hash_message(&mut self, upto: usize) {
        let bytes = &self.plain[self.hashed..upto];
        if let Some(md5) = &mut self.md5 {
            md5.update(bytes);
        }
        if let Some(transcript) = &mut self.transcript {
            transcript.update(bytes);
        }
        self.hashed = upto;
    }

    /// After the final chunk: split off the suffix, check the digest and the signature, and only
    /// then let the rest of the message out.
    fn finish_stream(&mut self) -> Result<(), OpenError> {
        let total = self.plain.len();
        let body_end = total.checked_sub(self.hold_back).ok_or(OpenError::DecryptionFailed)?;
        if body_end < self.hashed {
            return Err(OpenError::DecryptionFailed);
        }
        self.hash_message(body_end);
        self.carried_md5 =
            check_suffix(&self.plain[body_end..], self.md5.take(), self.transcript.take(), &self.signature)?;
        self.plain[body_end..].zeroize();
        self.plain.truncate(body_end);
        self.hold_back = 0;
        self.state = State::Done;
        Ok(())
    }

    fn releasable(&self) -> usize {
        self.plain.len().saturating_sub(self.hold_back).saturating_sub(self.released)
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let State::Failed(failure) = self.state {
                return Err(failure.error());
            }
            let available = self.releasable();
            if available > 0 {
                let n = available.min(buf.len());
                let from = self.released;
                buf[..n].copy_from_slice(&self.plain[from..from + n]);
                self.released += n;
                self.handed_out = true;
                if let Some(ReleasedMd5::Hashing(hasher)) = &mut self.released_md5 {
                    hasher.update(&buf[..n]);
                }
                return Ok(n);
            }
            if matches!(self.state, State::Done) {
                // All released: the buffer can go now, wiped in bulk.
                wipe(&mut self.plain);
                self.released = 0;
                self.released_md5 = match self.released_md5.take() {
                    Some(ReleasedMd5::Hashing(hasher)) => {
                        hasher.finish().try_into().ok().map(ReleasedMd5::Done)
                    }
                    other => other,
                };
                return Ok(0);
            }
            // Everything released so far can go; keep the held-back tail.
            let keep_from = self.released;
            self.plain.drain(..keep_from);
            self.released = 0;
            self.hashed -= keep_from;
            if let Err(e) = self.next_batch() {
                // The workers and what they read ahead go now, not when the reader is dropped.
                self.ahead = None;
                wipe(&mut self.plain);
                self.state = State::Failed(Failure::of(&e));
                return Err(e.into_io());
            }
        }
    }
}
