//! The hash tool (the paper's section 4.4): MD5 and SHA-256 of a message or stream, and the
//! `md5sum` / `sha256sum` line format for printing and checking.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

use md5::{Digest, Md5};
use sha2::Sha256;

/// A hash algorithm of the hash tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// MD5 (RFC 1321): the paper's integrity hash. Collisions are practical: it detects accidents,
    /// not a forger, which is why envelopes also carry MACs.
    #[default]
    Md5,
    /// SHA-256 (FIPS 180-4).
    Sha256,
}

impl HashAlgorithm {
    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Md5 => 16,
            HashAlgorithm::Sha256 => 32,
        }
    }

    /// Name as in `md5sum` / `sha256sum`: `md5` or `sha256`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Sha256 => "sha256",
        }
    }

    /// The algorithm whose hex digests have `hex_len` characters.
    pub fn from_hex_len(hex_len: usize) -> Option<Self> {
        match hex_len {
            32 => Some(HashAlgorithm::Md5),
            64 => Some(HashAlgorithm::Sha256),
            _ => None,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlgorithm {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "md5" => Ok(HashAlgorithm::Md5),
            "sha256" | "sha-256" => Ok(HashAlgorithm::Sha256),
            _ => Err("unknown hash algorithm (expected md5 or sha256)"),
        }
    }
}

/// An incremental hasher; also an `io::Write` sink, to hash while copying.
#[derive(Clone)]
pub struct Hasher(Inner);

#[derive(Clone)]
enum Inner {
    Md5(Md5),
    Sha256(Sha256),
}

impl Hasher {
    /// A new hasher.
    pub fn new(algorithm: HashAlgorithm) -> Self {
        Hasher(match algorithm {
            HashAlgorithm::Md5 => Inner::Md5(Md5::new()),
            HashAlgorithm::Sha256 => Inner::Sha256(Sha256::new()),
        })
    }

    /// Add data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Inner::Md5(h) => h.update(data),
            Inner::Sha256(h) => h.update(data),
        }
    }

    /// The digest.
    pub fn finish(self) -> Vec<u8> {
        match self.0 {
            Inner::Md5(h) => h.finalize().to_vec(),
            Inner::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A [`Hasher`] on a thread of its own, for a stream whose bytes are produced on this one.
///
/// MD5 runs at several hundred MB/s on one core: hashing the plaintext of a large open on the
/// thread that also reads and writes it made the hash most of the time. Here
/// [`BackgroundHasher::update`] copies the data into a buffer of 64 KiB and hands the buffer over
/// once it is full (so small updates cost a copy, not a hand-over each); at most
/// [`BackgroundHasher::QUEUED`] full buffers wait, and each is wiped once hashed (the data may be
/// plaintext). The thread starts with the first full buffer: a stream shorter than that (most
/// mails) is hashed on the calling thread by [`BackgroundHasher::finish`], without the cost of a
/// thread. When no thread can be started, it hashes on the calling thread.
///
/// ```
/// use esmtp_core::hash::{digest, BackgroundHasher, HashAlgorithm};
///
/// let mut hasher = BackgroundHasher::new(HashAlgorithm::Md5);
/// hasher.update(b"hello ");
/// hasher.update(b"world");
/// assert_eq!(hasher.finish(), digest(HashAlgorithm::Md5, b"hello world"));
/// ```
pub struct BackgroundHasher {
    algorithm: HashAlgorithm,
    /// Data not hashed or handed over yet: less than a piece.
    filling: Vec<u8>,
    worker: Worker,
}

enum Worker {
    /// No piece was full yet.
    NotStarted,
    Thread {
        /// `None` once finishing: the thread then hashes what is queued and ends.
        to_thread: Option<SyncSender<Vec<u8>>>,
        /// Buffers back from the thread, wiped, for reuse (behind a lock only so that the hasher,
        /// and a reader holding one, is `Sync`; only the caller takes it).
        spare: Mutex<Receiver<Vec<u8>>>,
        /// `None` once joined.
        thread: Option<JoinHandle<Hasher>>,
    },
    /// No thread could be started: hashing on the calling thread.
    Here(Hasher),
}

impl fmt::Debug for BackgroundHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundHasher")
            .field("algorithm", &self.algorithm)
            .field("on_a_thread", &matches!(self.worker, Worker::Thread { .. }))
            .finish()
    }
}

impl BackgroundHasher {
    /// Buffers waiting for the hashing thread, at most.
    pub const QUEUED: usize = 8;
    const PIECE: usize = 1 << 16;

    /// Start hashing with `algorithm` (the thread starts once there is a piece for it).
    pub fn new(algorithm: HashAlgorithm) -> Self {
        BackgroundHasher { algorithm, filling: Vec::new(), worker: Worker::NotStarted }
    }

    /// The hashing thread, or the calling thread's hasher if none can be started.
    fn start(algorithm: HashAlgorithm) -> Worker {
        let (to_thread, from_caller) = mpsc::sync_channel::<Vec<u8>>(Self::QUEUED);
        let (back, spare) = mpsc::channel::<Vec<u8>>();
        let thread = thread::Builder::new().name("esmtp-hash".into()).spawn(move || {
            let mut hasher = Hasher::new(algorithm);
            // Every buffer sent is received, also after the sender is dropped.
            for mut buf in from_caller {
                hasher.update(&buf);
                crate::wipe::wipe(&mut buf);
                // The caller may be gone (finished or dropped): the buffer is wiped already.
                let _ = back.send(buf);
            }
            hasher
        });
        match thread {
            Ok(thread) => {
                Worker::Thread { to_thread: Some(to_thread), spare: Mutex::new(spare), thread: Some(thread) }
            }
            Err(_) => Worker::Here(Hasher::new(algorithm)),
        }
    }

    /// Add data (copied; hashed on the thread a piece at a time).
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.filling.capacity() == 0 {
                self.filling.reserve_exact(Self::PIECE);
            }
            let n = data.len().min(Self::PIECE - self.filling.len());
            let (piece, rest) = data.split_at(n);
            self.filling.extend_from_slice(piece);
            data = rest;
            if self.filling.len() == Self::PIECE {
                self.hand_over_full();
            }
        }
    }

    /// Pass the full `filling` on: to the thread (started now if need be), or to the hasher here.
    fn hand_over_full(&mut self) {
        if matches!(self.worker, Worker::NotStarted) {
            self.worker = Self::start(self.algorithm);
        }
        match &mut self.worker {
            Worker::Thread { to_thread, spare, .. } => {
                // The next piece goes into a buffer back from the thread (wiped there) if any.
                let reused = spare.get_mut().ok().and_then(|spare| spare.try_recv().ok());
                let next = reused.unwrap_or_else(|| Vec::with_capacity(Self::PIECE));
                hand_over(to_thread, std::mem::replace(&mut self.filling, next));
            }
            Worker::Here(hasher) => {
                hasher.update(&self.filling);
                crate::wipe::wipe(&mut self.filling);
            }
            Worker::NotStarted => unreachable!("started above"),
        }
    }

    /// The digest, once everything handed over is hashed.
    ///
    /// # Panics
    /// When the hashing thread panicked (it does not, short of running out of memory).
    pub fn finish(mut self) -> Vec<u8> {
        let mut filling = std::mem::take(&mut self.filling);
        match std::mem::replace(&mut self.worker, Worker::NotStarted) {
            // Shorter than a piece: no thread was needed.
            Worker::NotStarted => {
                let digest = digest(self.algorithm, &filling);
                crate::wipe::wipe(&mut filling);
                digest
            }
            Worker::Here(mut hasher) => {
                hasher.update(&filling);
                crate::wipe::wipe(&mut filling);
                hasher.finish()
            }
            Worker::Thread { to_thread, thread, .. } => {
                if !filling.is_empty() {
                    hand_over(&to_thread, filling);
                }
                // The queue closes: the thread hashes what is in it, then ends.
                drop(to_thread);
                match thread.map(JoinHandle::join) {
                    Some(Ok(hasher)) => hasher.finish(),
                    Some(Err(panic)) => std::panic::resume_unwind(panic),
                    // Joined only here and in `drop`, each taking `self`.
                    None => unreachable!("a background hasher is finished once"),
                }
            }
        }
    }
}

/// Send a filled buffer to the hashing thread.
fn hand_over(to_thread: &Option<SyncSender<Vec<u8>>>, buf: Vec<u8>) {
    let Some(to_thread) = to_thread else { return };
    if let Err(mpsc::SendError(mut buf)) = to_thread.send(buf) {
        // Only a panic ends the thread early, and `finish` reports it.
        crate::wipe::wipe(&mut buf);
    }
}

impl Drop for BackgroundHasher {
    fn drop(&mut self) {
        crate::wipe::wipe(&mut self.filling);
        // The thread hashes (and wipes) what is queued, then ends; it is not left behind.
        if let Worker::Thread { to_thread, thread, .. } = &mut self.worker {
            *to_thread = None;
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// The digest of `data`.
pub fn digest(algorithm: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    let mut h = Hasher::new(algorithm);
    h.update(data);
    h.finish()
}

/// The digest of everything `reader` yields, in bounded memory.
///
/// # Errors
/// When reading fails.
pub fn digest_reader(algorithm: HashAlgorithm, mut reader: impl Read) -> io::Result<Vec<u8>> {
    let mut h = Hasher::new(algorithm);
    io::copy(&mut reader, &mut h)?;
    Ok(h.finish())
}

/// Lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// One line of `md5sum` output: `<hex>  <name>`. Names with a newline or backslash are escaped
/// the way GNU coreutils does (a leading `\` on the line, `\n` and `\\` in the name).
pub fn sum_line(digest: &[u8], name: &str) -> String {
    if name.contains(['\n', '\\', '\r']) {
        let escaped = name.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r");
        format!("\\{}  {escaped}", to_hex(digest))
    } else {
        format!("{}  {name}", to_hex(digest))
    }
}

/// One parsed line of a sums file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumLine {
    /// The algorithm implied by the digest length.
    pub algorithm: HashAlgorithm,
    /// The expected digest.
    pub digest: Vec<u8>,
    /// The file name (`-` is standard input).
    pub name: String,
}

/// Parse one line of `md5sum`/`sha256sum` output (text ` ` or binary `*` mode). `None` when the
/// line is not in that format.
pub fn parse_sum_line(line: &str) -> Option<SumLine> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let (hex, rest) = line.split_once(' ')?;
    let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
    let algorithm = HashAlgorithm::from_hex_len(hex.len())?;
    let digest = from_hex(hex)?;
    let name = if escaped { unescape(name)? } else { name.to_string() };
    (!name.is_empty()).then_some(SumLine { algorithm, digest, name })
}

fn unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_hashing_gives_the_same_digest() {
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for algorithm in [HashAlgorithm::Md5, HashAlgorithm::Sha256] {
            for (piece, len) in [(1, 5000), (1000, data.len()), (65_536, data.len()), (65_537, data.len())]
                .into_iter()
                .chain([(400_000, data.len()), (data.len(), data.len())])
            {
                let mut hasher = BackgroundHasher::new(algorithm);
                for part in data[..len].chunks(piece) {
                    hasher.update(part);
                }
                assert_eq!(
                    hasher.finish(),
                    digest(algorithm, &data[..len]),
                    "{algorithm}, pieces of {piece}"
                );
            }
            assert_eq!(BackgroundHasher::new(algorithm).finish(), digest(algorithm, b""));
            // Less than a piece starts no thread; a full piece does.
            let mut short = BackgroundHasher::new(algorithm);
            short.update(&data[..BackgroundHasher::PIECE - 1]);
            assert!(matches!(short.worker, Worker::NotStarted), "a thread for less than a piece");
            short.update(&data[..1]);
            assert!(matches!(short.worker, Worker::Thread { .. }), "no thread for a full piece");
            // Dropped with data queued: returns (the thread ends).
            let mut dropped = BackgroundHasher::new(algorithm);
            dropped.update(&data);
            drop(dropped);
        }
    }

    #[test]
    fn rfc1321_abc_and_sum_lines() {
        assert_eq!(to_hex(&digest(HashAlgorithm::Md5, b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            to_hex(&digest(HashAlgorithm::Sha256, b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let d = digest(HashAlgorithm::Md5, b"");
        let line = sum_line(&d, "a b.txt");
        assert_eq!(line, "d41d8cd98f00b204e9800998ecf8427e  a b.txt");
        assert_eq!(parse_sum_line(&line).unwrap().name, "a b.txt");
        let odd = sum_line(&d, "x\ny\\z");
        assert_eq!(parse_sum_line(&odd).unwrap().name, "x\ny\\z");
        assert_eq!(parse_sum_line("d41d8cd98f00b204e9800998ecf8427e *bin").unwrap().name, "bin");
        assert!(parse_sum_line("d41d8cd98f00b204e9800998ecf8427e bad").is_none());
        assert!(parse_sum_line("zz  x").is_none());
    }
}
