//! Cipher suites and their chunk ciphers (SPEC.md section 5).
//!
//! Each chunk is sealed and opened on its own (its nonce or IV comes from its index), so a caller
//! may process chunks in parallel, as `crate::parallel` does.

mod chacha;
mod des_key;
mod des_md5;
mod fast_des;

#[cfg(feature = "bench-internals")]
pub use fast_des::FastDes;

/// The published-vector file parser of the integration tests, for the primitives' unit tests.
#[cfg(test)]
#[allow(dead_code)] // the parser's helpers for other vector files
#[path = "../../tests/katfile/mod.rs"]
mod katfile;

use std::fmt;
use std::str::FromStr;

use crate::error::OpenError;
use crate::key::{EnvelopeId, MessageKey};
use crate::random::{RandomError, RandomSource};

/// Plaintext bytes per chunk (SPEC.md section 5: `C = 65536`).
pub const CHUNK_SIZE: usize = 64 * 1024;

/// SPEC.md section 5.2: a `des-cbc-md5` chunk stream has at most 4096 chunks (256 MiB), far below
/// the birthday bound of DES's 64-bit blocks.
const DES_MAX_CHUNKS: u64 = 4096;

/// Authentication tag or MAC length appended to each chunk, in both suites.
pub(crate) const TAG_LEN: usize = 16;

/// The cipher suite of an envelope.
///
/// The default is the modern AEAD suite. The paper's suite has to be named explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Suite {
    /// ChaCha20-Poly1305 (RFC 8439) in 64 KiB STREAM chunks, keys from HKDF-SHA256. The default.
    #[default]
    ChaCha20Poly1305,
    /// **Legacy strength.** The paper's scheme: a random DES key and random number (IV), DES-CBC
    /// with PKCS#7 padding, and the MD5 digest of the message, with HMAC-MD5 on every chunk.
    ///
    /// DES has a 56-bit key that can be brute-forced with modest hardware, and MD5 collisions are
    /// practical. Use it only to interoperate with, or study, the scheme of the paper.
    LegacyDesCbcMd5,
}

impl Suite {
    /// Every suite this library implements, default first.
    pub const ALL: [Suite; 2] = [Suite::ChaCha20Poly1305, Suite::LegacyDesCbcMd5];

    /// The suite byte in the header.
    pub fn id(self) -> u8 {
        match self {
            Suite::ChaCha20Poly1305 => 0x01,
            Suite::LegacyDesCbcMd5 => 0x02,
        }
    }

    /// The suite for a header byte.
    pub fn from_id(id: u8) -> Option<Suite> {
        match id {
            0x01 => Some(Suite::ChaCha20Poly1305),
            0x02 => Some(Suite::LegacyDesCbcMd5),
            _ => None,
        }
    }

    /// The suite's name: `chacha20-poly1305` or `des-cbc-md5`.
    pub fn name(self) -> &'static str {
        match self {
            Suite::ChaCha20Poly1305 => "chacha20-poly1305",
            Suite::LegacyDesCbcMd5 => "des-cbc-md5",
        }
    }

    /// Whether the suite is of legacy (breakable) strength.
    pub fn is_legacy(self) -> bool {
        matches!(self, Suite::LegacyDesCbcMd5)
    }

    /// Whether the chunk stream carries the MD5 digest of the message (SPEC.md section 5.2).
    pub(crate) fn carries_digest(self) -> bool {
        self == Suite::LegacyDesCbcMd5
    }

    /// The most chunks an envelope of this suite may have (SPEC.md section 5), if limited.
    pub(crate) fn max_chunks(self) -> Option<u64> {
        match self {
            Suite::ChaCha20Poly1305 => None,
            Suite::LegacyDesCbcMd5 => Some(DES_MAX_CHUNKS),
        }
    }

    /// Draw a fresh message key for this suite (SPEC.md section 2): uniformly random, and for
    /// `des-cbc-md5` with a valid DES key.
    pub(crate) fn new_message_key(self, rng: &mut dyn RandomSource) -> Result<MessageKey, RandomError> {
        let mut key = MessageKey::random(rng)?;
        if self == Suite::LegacyDesCbcMd5 {
            des_key::make_valid(&mut key, rng)?;
        }
        Ok(key)
    }

    /// Size of a full chunk on the wire.
    pub(crate) fn wire_chunk_len(self) -> usize {
        self.wire_len(CHUNK_SIZE)
    }

    /// Size on the wire of a chunk holding `plain_len` chunk stream bytes.
    pub(crate) fn wire_len(self, plain_len: usize) -> usize {
        match self {
            Suite::ChaCha20Poly1305 => plain_len + TAG_LEN,
            Suite::LegacyDesCbcMd5 => des_md5::padded_len(plain_len) + TAG_LEN,
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name did not match any suite.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cipher suite (expected chacha20-poly1305 or des-cbc-md5)")]
pub struct UnknownSuite;

impl FromStr for Suite {
    type Err = UnknownSuite;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Suite::ALL.into_iter().find(|suite| suite.name() == s).ok_or(UnknownSuite)
    }
}

/// A suite's chunk cipher, keyed for one envelope.
pub(crate) enum ChunkCipher {
    ChaCha(chacha::ChaChaChunks),
    Des(Box<des_md5::DesChunks>),
}

/// The room a chunk's plaintext needs when opened in place: a full chunk for a non-final one,
/// its ciphertext's length for the final one.
pub(crate) fn room(wire_len: usize, last: bool) -> usize {
    if last { wire_len.saturating_sub(TAG_LEN) } else { CHUNK_SIZE }
}

/// A full, non-final chunk to seal: its index, its plaintext and its place in the output.
pub(crate) type FullChunk<'a> = (u64, &'a [u8], &'a mut [u8]);

impl ChunkCipher {
    /// Key the cipher; `None` when a `des-cbc-md5` key breaks SPEC.md section 2's rules.
    pub(crate) fn new(suite: Suite, key: &MessageKey, id: &EnvelopeId) -> Option<Self> {
        match suite {
            Suite::ChaCha20Poly1305 => Some(ChunkCipher::ChaCha(chacha::ChaChaChunks::new(key, id))),
            Suite::LegacyDesCbcMd5 => des_md5::DesChunks::new(key).map(|c| ChunkCipher::Des(Box::new(c))),
        }
    }

    /// The suite this cipher belongs to.
    pub(crate) fn suite(&self) -> Suite {
        match self {
            ChunkCipher::ChaCha(_) => Suite::ChaCha20Poly1305,
            ChunkCipher::Des(_) => Suite::LegacyDesCbcMd5,
        }
    }

    /// Seal chunk `index` into `out`, which holds exactly [`Suite::wire_len`] of the plaintext.
    pub(crate) fn seal_chunk_into(&self, index: u64, last: bool, plaintext: &[u8], out: &mut [u8]) {
        match self {
            ChunkCipher::ChaCha(c) => c.seal_into(index, last, plaintext, out),
            ChunkCipher::Des(c) => c.seal_into(index, last, plaintext, out),
        }
    }

    /// How many full chunks [`ChunkCipher::seal_full_chunks`] seals side by side: four for
    /// `des-cbc-md5` (CBC encryption is serial within a chunk, so independent chunks are what a
    /// core can overlap), one for chacha20-poly1305 (its implementation is vectorised already).
    pub(crate) fn lanes(&self) -> usize {
        match self {
            ChunkCipher::ChaCha(_) => 1,
            ChunkCipher::Des(_) => 4,
        }
    }

    /// Seal non-final chunks of [`CHUNK_SIZE`] plaintext bytes, each job `(index, plaintext,
    /// out)` with `out` of [`Suite::wire_chunk_len`] bytes: the same bytes as
    /// [`ChunkCipher::seal_chunk_into`] on each, up to [`ChunkCipher::lanes`] at a time.
    pub(crate) fn seal_full_chunks(&self, jobs: &mut [FullChunk<'_>]) {
        let ChunkCipher::Des(des) = self else {
            for (index, plaintext, out) in jobs {
                self.seal_chunk_into(*index, false, plaintext, out);
            }
            return;
        };
        let mut rest = jobs;
        loop {
            rest = match rest {
                [(i0, p0, o0), (i1, p1, o1), (i2, p2, o2), (i3, p3, o3), tail @ ..] => {
                    des.seal_lanes_into([
                        (*i0, false, *p0, &mut **o0),
                        (*i1, false, *p1, &mut **o1),
                        (*i2, false, *p2, &mut **o2),
                        (*i3, false, *p3, &mut **o3),
                    ]);
                    tail
                }
                [(i0, p0, o0), (i1, p1, o1), tail @ ..] => {
                    des.seal_lanes_into([(*i0, false, *p0, &mut **o0), (*i1, false, *p1, &mut **o1)]);
                    tail
                }
                [(i0, p0, o0), tail @ ..] => {
                    des.seal_into(*i0, false, p0, o0);
                    tail
                }
                [] => return,
            };
        }
    }

    /// Seal the full, non-final chunks `plaintext` holds (whole chunks only), the first of them
    /// chunk `first`, into `out` (as many wire chunks): [`ChunkCipher::seal_full_chunks`] on
    /// contiguous buffers.
    pub(crate) fn seal_full_run(&self, first: u64, plaintext: &[u8], out: &mut [u8]) {
        debug_assert!(plaintext.len().is_multiple_of(CHUNK_SIZE), "whole chunks only");
        let mut chunks: Vec<FullChunk<'_>> = (first..)
            .zip(plaintext.chunks_exact(CHUNK_SIZE).zip(out.chunks_exact_mut(self.suite().wire_chunk_len())))
            .map(|(i, (plain, out))| (i, plain, out))
            .collect();
        self.seal_full_chunks(&mut chunks);
    }

    /// Authenticate and decrypt chunk `index` into the start of `out`; the plaintext length.
    /// `out` needs [`CHUNK_SIZE`] bytes for a non-final chunk, the ciphertext's length (the wire
    /// length less 16) for a final one.
    ///
    /// SPEC.md section 5.3, for both suites: a non-final chunk holds exactly `C` plaintext bytes
    /// and a final one 1 to `C`, so that one message has one chunking (a key holder cannot move
    /// chunk boundaries). On failure `out` is wiped: nothing unauthenticated is left in it.
    pub(crate) fn open_chunk_into(
        &self,
        index: u64,
        last: bool,
        wire: &[u8],
        out: &mut [u8],
    ) -> Result<usize, OpenError> {
        let result = match self {
            ChunkCipher::ChaCha(c) => c.open_into(index, last, wire, out),
            ChunkCipher::Des(c) => c.open_into(index, last, wire, out),
        };
        match result {
            Ok(len) if (if last { (1..=CHUNK_SIZE).contains(&len) } else { len == CHUNK_SIZE }) => Ok(len),
            _ => {
                zeroize::Zeroize::zeroize(out);
                Err(OpenError::DecryptionFailed)
            }
        }
    }

    /// Append chunk `index`, sealed, to `out` ([`Suite::wire_len`] of the plaintext's bytes).
    ///
    /// `out` should have that much spare capacity: a reallocation would leave a copy behind,
    /// unwiped. (The bytes appended are ciphertext; a `chacha20-poly1305` chunk's plaintext is
    /// there only between its copy and its encryption.)
    pub(crate) fn seal_chunk_append(&self, index: u64, last: bool, plaintext: &[u8], out: &mut Vec<u8>) {
        match self {
            ChunkCipher::ChaCha(c) => c.seal_append(index, last, plaintext, out),
            ChunkCipher::Des(c) => {
                let at = out.len();
                out.resize(at + Suite::LegacyDesCbcMd5.wire_len(plaintext.len()), 0);
                c.seal_into(index, last, plaintext, &mut out[at..]);
            }
        }
    }

    /// Authenticate and decrypt chunk `index`, appending its plaintext to `out`; its length.
    /// `out` must have spare capacity for [`CHUNK_SIZE`] bytes for a non-final chunk, for the
    /// ciphertext's length (the wire length less 16) for a final one: a reallocation would leave
    /// the plaintext before it behind, unwiped.
    ///
    /// SPEC.md section 5.3, for both suites: a non-final chunk holds exactly `C` plaintext bytes
    /// and a final one 1 to `C`, so that one message has one chunking (a key holder cannot move
    /// chunk boundaries). On failure what was appended is wiped and removed: `out` is as before.
    pub(crate) fn open_chunk_append(
        &self,
        index: u64,
        last: bool,
        wire: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, OpenError> {
        let at = out.len();
        let result = match self {
            ChunkCipher::ChaCha(c) => c.open_append(index, last, wire, out),
            ChunkCipher::Des(c) => {
                // Decrypted buffer to buffer, into room made for it (a full chunk takes exactly
                // `C` bytes: the padding block is decrypted aside).
                out.resize(at + room(wire.len(), last), 0);
                c.open_into(index, last, wire, &mut out[at..])
            }
        };
        match result {
            Ok(len) if (if last { (1..=CHUNK_SIZE).contains(&len) } else { len == CHUNK_SIZE }) => {
                // The room past a `des-cbc-md5` chunk's plaintext was never written: zeros.
                out.truncate(at + len);
                Ok(len)
            }
            _ => {
                zeroize::Zeroize::zeroize(&mut out[at..]);
                out.truncate(at);
                Err(OpenError::DecryptionFailed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_default_is_modern() {
        for suite in Suite::ALL {
            assert_eq!(suite.name().parse::<Suite>(), Ok(suite));
            assert_eq!(Suite::from_id(suite.id()), Some(suite));
        }
        assert_eq!(Suite::default(), Suite::ChaCha20Poly1305);
        assert!(!Suite::default().is_legacy());
        assert_eq!("des".parse::<Suite>(), Err(UnknownSuite));
        assert_eq!(Suite::from_id(0), None);
    }
}
