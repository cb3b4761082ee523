//! The jobs a streaming writer and reader hand to their [`Pipeline`]: a few consecutive chunks
//! each, with buffers that go back and forth between the calling thread and the workers and are
//! reused, so a long stream allocates a bounded number of them once.

use std::io::{self, Read};
use std::sync::Arc;

use crate::error::OpenError;
use crate::framing::{DIGEST_LEN, SIGNATURE_LEN};
use crate::pipeline::Pipeline;
use crate::suite::{CHUNK_SIZE, ChunkCipher, Suite, room};
use crate::wipe::wipe;

/// Chunks per job: four (256 KiB), what `des-cbc-md5` seals side by side, and enough
/// chacha20-poly1305 work (about 0.15 ms) that handing a job over costs little.
pub(crate) const JOB_CHUNKS: usize = 4;

/// Jobs out at once, at most: with [`JOB_CHUNKS`], 32 chunks (2 MiB) and their other side.
pub(crate) const MAX_JOBS_IN_FLIGHT: usize = 8;

/// Full, non-final chunks to seal: `plain` holds [`JOB_CHUNKS`] or fewer whole chunks.
pub(crate) struct SealJob {
    pub(crate) first_index: u64,
    pub(crate) plain: Vec<u8>,
    pub(crate) wire: Vec<u8>,
}

impl SealJob {
    /// An empty job whose buffers hold a whole job without growing.
    pub(crate) fn with_capacity(suite: Suite) -> Self {
        SealJob {
            first_index: 0,
            plain: Vec::with_capacity(JOB_CHUNKS * CHUNK_SIZE),
            wire: Vec::with_capacity(JOB_CHUNKS * suite.wire_chunk_len()),
        }
    }

    /// Seal `plain` into `wire` and empty `plain`, keeping its capacity for the next job.
    ///
    /// Not wiped here: the buffer goes back to the writer, which fills the next job's plaintext
    /// into it, overwriting these bytes, and it is wiped when the job is dropped (the stream's
    /// end) — the rule of the reader's jobs too. Wiping each job as well was a third pass over
    /// every byte, on the same cores that seal.
    fn seal(mut self, cipher: &ChunkCipher) -> Self {
        let wire_len = self.plain.len() / CHUNK_SIZE * cipher.suite().wire_chunk_len();
        if self.wire.len() != wire_len {
            // Zeroed only when the size changes: sealing overwrites every byte.
            self.wire.clear();
            self.wire.resize(wire_len, 0);
        }
        cipher.seal_full_run(self.first_index, &self.plain, &mut self.wire);
        self.plain.clear();
        self
    }
}

impl Drop for SealJob {
    fn drop(&mut self) {
        // In bulk: a job dropped in flight (the writer dropped mid-stream) still holds plaintext.
        wipe(&mut self.plain);
    }
}

/// The sealing pipeline of one stream.
pub(crate) fn seal_pipeline(cipher: &Arc<ChunkCipher>, threads: usize) -> Pipeline<SealJob, SealJob> {
    let cipher = Arc::clone(cipher);
    Pipeline::new(threads, move |job: SealJob| job.seal(&cipher))
}

/// Room left at the front of an opened job's plaintext for the bytes a reader holds back from
/// the job before (the longest suffix: a digest and a signature), so that the job's buffer can
/// become the reader's without copying the chunks.
pub(crate) const HEADROOM: usize = DIGEST_LEN + SIGNATURE_LEN;

/// Consecutive wire chunks to open; `last`: the final chunk of the envelope is the last of them.
pub(crate) struct OpenJob {
    pub(crate) first_index: u64,
    pub(crate) last: bool,
    /// `wire[..wire_len]` are the chunks; the buffer keeps its length (it is zeroed only when
    /// allocated, and read into in place).
    wire: Vec<u8>,
    wire_len: usize,
    /// Once opened, [`HEADROOM`] zero bytes and the chunks' plaintext; empty if any failed.
    pub(crate) plain: Vec<u8>,
    pub(crate) opened: bool,
}

impl OpenJob {
    /// An empty job whose buffers hold a whole job without growing.
    pub(crate) fn with_capacity(suite: Suite) -> Self {
        OpenJob {
            first_index: 0,
            last: false,
            wire: vec![0; JOB_CHUNKS * suite.wire_chunk_len() + 1],
            wire_len: 0,
            plain: Vec::with_capacity(HEADROOM + JOB_CHUNKS * CHUNK_SIZE),
            opened: false,
        }
    }

    /// The job's wire chunks.
    pub(crate) fn wire(&self) -> &[u8] {
        &self.wire[..self.wire_len]
    }

    /// Authenticate and decrypt every chunk of `wire` into `plain`: all of them, or none (SPEC.md
    /// section 5.3; a chunk that fails leaves no plaintext of the job behind).
    fn open(mut self, cipher: &ChunkCipher) -> Self {
        let wire_chunk_len = cipher.suite().wire_chunk_len();
        let wire = &self.wire[..self.wire_len];
        let pieces = wire.chunks(wire_chunk_len).count();
        // The room each chunk's opening takes: a final des-cbc-md5 chunk's padding block is
        // decrypted in place too, up to 8 bytes past a full chunk.
        let needed = HEADROOM
            + wire
                .chunks(wire_chunk_len)
                .enumerate()
                .map(|(n, p)| room(p.len(), self.last && n == pieces - 1))
                .sum::<usize>();
        // The buffer comes back from the reader holding plaintext it released, which the chunks
        // overwrite here, on a worker (what lies past them is wiped when the job is dropped).
        // Appended, not zeroed first: a buffer that has just been on the reader's core is slow
        // to write twice. One too small is replaced, wiped, rather than grown: growing would
        // leave its bytes behind in freed memory.
        if self.plain.capacity() < needed {
            wipe(&mut self.plain);
            self.plain = Vec::with_capacity(needed);
        }
        self.plain.clear();
        self.plain.resize(HEADROOM, 0);
        let capacity = self.plain.capacity();
        self.opened = pieces > 0;
        for (n, piece) in wire.chunks(wire_chunk_len).enumerate() {
            let last = self.last && n == pieces - 1;
            if cipher.open_chunk_append(self.first_index + n as u64, last, piece, &mut self.plain).is_err() {
                self.opened = false;
                break;
            }
        }
        debug_assert_eq!(self.plain.capacity(), capacity, "opened without reallocating");
        if !self.opened {
            wipe(&mut self.plain);
        }
        self
    }
}

impl Drop for OpenJob {
    fn drop(&mut self) {
        // In bulk: a job dropped in flight (the reader dropped mid-stream) holds plaintext.
        wipe(&mut self.plain);
    }
}

/// A streaming reader's chunks after the first: read ahead of the caller, in jobs, and opened by
/// workers while the caller hashes and hands out the plaintext of the jobs before.
pub(crate) struct OpenAhead {
    pipeline: Pipeline<OpenJob, OpenJob>,
    suite: Suite,
    spare: Vec<OpenJob>,
    /// Read past the last job submitted: the look-ahead byte that told it was not the final one.
    carry: Option<u8>,
    next_index: u64,
    /// The final chunk was read.
    input_done: bool,
    /// Why reading ahead stopped early (a read error, too many chunks): reported once the jobs
    /// read before it are taken, so the caller sees the same order of events as reading one
    /// batch after another.
    stopped: Option<OpenError>,
}

impl OpenAhead {
    /// Read ahead from chunk `next_index` on, `carry` being the look-ahead byte read already.
    pub(crate) fn new(cipher: &Arc<ChunkCipher>, threads: usize, next_index: u64, carry: Option<u8>) -> Self {
        let worker_cipher = Arc::clone(cipher);
        OpenAhead {
            pipeline: Pipeline::new(threads, move |job: OpenJob| job.open(&worker_cipher)),
            suite: cipher.suite(),
            spare: Vec::new(),
            carry,
            next_index,
            input_done: false,
            stopped: None,
        }
    }

    /// The next job, opened or failed (see [`OpenJob::opened`]), in order.
    pub(crate) fn next(&mut self, input: &mut dyn Read) -> Result<OpenJob, OpenError> {
        self.read_ahead(input);
        match self.pipeline.next() {
            Some(job) => Ok(job),
            // Never asked for after the final job; a stop is reported once.
            None => Err(self.stopped.take().unwrap_or(OpenError::DecryptionFailed)),
        }
    }

    /// Give a taken job's buffers back for a later job; its `plain` may hold plaintext, which
    /// the job overwrites when it is opened into again, and wipes when dropped.
    pub(crate) fn recycle(&mut self, job: OpenJob) {
        self.spare.push(job);
    }

    /// Read and submit jobs until [`MAX_JOBS_IN_FLIGHT`] are out or the input ends.
    fn read_ahead(&mut self, input: &mut dyn Read) {
        let wire_chunk_len = self.suite.wire_chunk_len();
        let want = JOB_CHUNKS * wire_chunk_len + 1;
        while self.pipeline.in_flight() < MAX_JOBS_IN_FLIGHT && !self.input_done && self.stopped.is_none() {
            let mut job = self.spare.pop().unwrap_or_else(|| OpenJob::with_capacity(self.suite));
            let mut carried = 0;
            if let Some(byte) = self.carry.take() {
                job.wire[0] = byte;
                carried = 1;
            }
            let filled = match fill_slice(input, &mut job.wire, carried) {
                Ok(filled) => filled,
                Err(e) => {
                    self.stopped = Some(OpenError::Io(e));
                    self.spare.push(job);
                    return;
                }
            };
            // One byte past the job's chunks tells that the last of them is not the final one.
            let last = filled < want;
            job.wire_len = if last { filled } else { want - 1 };
            if !last {
                self.carry = Some(job.wire[want - 1]);
            }
            let chunks = job.wire_len.div_ceil(wire_chunk_len).max(1) as u64;
            if self.suite.max_chunks().is_some_and(|max| self.next_index + chunks > max) {
                self.stopped = Some(OpenError::DecryptionFailed);
                self.spare.push(job);
                return;
            }
            (job.first_index, job.last) = (self.next_index, last);
            self.next_index += chunks;
            self.input_done = last;
            // A short stream's only job is opened on the calling thread.
            self.pipeline.submit(job, last);
        }
    }
}

/// Read from `input` until `buf` holds `want` bytes or the input ends.
pub(crate) fn fill(input: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let filled = buf.len();
    if filled >= want {
        return Ok(());
    }
    buf.resize(want, 0);
    let result = fill_slice(input, buf, filled);
    buf.truncate(*result.as_ref().unwrap_or(&filled));
    result.map(drop)
}

/// Read from `input` into `buf[filled..]` until it is full or the input ends; the bytes now in
/// `buf`. Whole reads go to the input at once (a buffered reader passes them through).
fn fill_slice(input: &mut dyn Read, buf: &mut [u8], mut filled: usize) -> io::Result<usize> {
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
