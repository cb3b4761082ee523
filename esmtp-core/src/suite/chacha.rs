//! `chacha20-poly1305` chunks (SPEC.md section 5.1), the STREAM construction of Hoang, Reyhanitabar,
//! Rogaway and Vizár as age uses it: the nonce is the chunk index and a final-chunk flag.
//!
//! The AEAD itself is `ring`'s ChaCha20-Poly1305 with the `ring` feature (the default: assembly
//! from BoringSSL, near OpenSSL's speed) and RustCrypto's pure-Rust `chacha20poly1305` without it
//! (`--no-default-features`, for targets without a C toolchain). Both produce the same bytes;
//! both pass the RFC 8439 vectors below and the whole test suite.

use super::TAG_LEN;
use crate::error::OpenError;
use crate::key::{EnvelopeId, MessageKey};

/// The AEAD behind the chunks, with the interface they need: in place, detached 16-byte tag.
#[cfg(feature = "ring")]
mod aead {
    use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};

    pub(super) struct Aead(LessSafeKey);

    impl Aead {
        pub(super) fn new(key: &[u8; 32]) -> Self {
            // ring rejects only keys of the wrong length, and this one has 32 bytes.
            let key = UnboundKey::new(&CHACHA20_POLY1305, key).unwrap_or_else(|_| unreachable!());
            Aead(LessSafeKey::new(key))
        }

        /// Encrypt `buf` in place; the tag.
        pub(super) fn seal(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
            // ring fails only past ChaCha20's 256 GiB per nonce; a chunk is at most 64 KiB.
            let tag =
                self.0.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf);
            let mut out = [0u8; 16];
            if let Ok(tag) = tag {
                out.copy_from_slice(tag.as_ref());
            }
            out
        }

        /// Check `tag` (in constant time) and decrypt `buf` in place; `false` if it does not match,
        /// and then `buf` holds no plaintext.
        pub(super) fn open(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8], tag: [u8; 16]) -> bool {
            let nonce = Nonce::assume_unique_for_key(nonce);
            self.0.open_in_place_separate_tag(nonce, Aad::from(aad), Tag::from(tag), buf, 0..).is_ok()
        }
    }
}

/// The AEAD behind the chunks, with the interface they need: in place, detached 16-byte tag.
#[cfg(not(feature = "ring"))]
mod aead {
    use chacha20poly1305::ChaCha20Poly1305;
    use chacha20poly1305::aead::{AeadInOut, KeyInit};

    pub(super) struct Aead(ChaCha20Poly1305);

    impl Aead {
        pub(super) fn new(key: &[u8; 32]) -> Self {
            Aead(ChaCha20Poly1305::new(&(*key).into()))
        }

        /// Encrypt `buf` in place; the tag.
        pub(super) fn seal(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
            // Fails only past ChaCha20's 256 GiB per nonce; a chunk is at most 64 KiB.
            self.0.encrypt_inout_detached(&nonce.into(), aad, buf.into()).unwrap_or_default().into()
        }

        /// Check `tag` (in constant time: poly1305 + subtle) and decrypt `buf` in place; `false` if
        /// it does not match, and then `buf` holds no plaintext.
        pub(super) fn open(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8], tag: [u8; 16]) -> bool {
            self.0.decrypt_inout_detached(&nonce.into(), aad, buf.into(), &tag.into()).is_ok()
        }
    }
}

pub(crate) struct ChaChaChunks {
    /// Boxed: ring's key schedule is over 500 bytes, and the chunk cipher is moved around by value.
    aead: Box<aead::Aead>,
}

/// `nonce_i = BE88(i) || flag`
fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

impl ChaChaChunks {
    pub(crate) fn new(key: &MessageKey, id: &EnvelopeId) -> Self {
        let mut payload_key: [u8; 32] = key.derive(id, b"esmtp/v1 payload");
        let aead = Box::new(aead::Aead::new(&payload_key));
        zeroize::Zeroize::zeroize(&mut payload_key);
        ChaChaChunks { aead }
    }

    /// Seal `plaintext` into `out`, which holds exactly `plaintext.len() + 16` bytes: copied once
    /// into its place and encrypted there, the tag after it.
    pub(crate) fn seal_into(&self, index: u64, last: bool, plaintext: &[u8], out: &mut [u8]) {
        let (body, tag_out) = out.split_at_mut(plaintext.len());
        body.copy_from_slice(plaintext);
        let tag = self.aead.seal(nonce(index, last), b"", body);
        tag_out.copy_from_slice(&tag);
    }

    /// Authenticate and decrypt `wire` into the start of `out` (at least the ciphertext's
    /// length); the plaintext length. On failure the caller wipes `out`.
    pub(crate) fn open_into(
        &self,
        index: u64,
        last: bool,
        wire: &[u8],
        out: &mut [u8],
    ) -> Result<usize, OpenError> {
        let ct_len = wire.len().checked_sub(TAG_LEN).ok_or(OpenError::DecryptionFailed)?;
        let (ct, tag) = wire.split_at(ct_len);
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| OpenError::DecryptionFailed)?;
        let body = out.get_mut(..ct_len).ok_or(OpenError::DecryptionFailed)?;
        body.copy_from_slice(ct);
        if self.aead.open(nonce(index, last), b"", body, tag) {
            Ok(ct_len)
        } else {
            Err(OpenError::DecryptionFailed)
        }
    }

    /// Append `plaintext`, sealed, to `out`: copied once to its end and encrypted there, the tag
    /// after it. Nothing is zeroed first: the copy is the only write before the encryption.
    pub(crate) fn seal_append(&self, index: u64, last: bool, plaintext: &[u8], out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(plaintext);
        let tag = self.aead.seal(nonce(index, last), b"", &mut out[at..]);
        out.extend_from_slice(&tag);
    }

    /// Append the plaintext of `wire` to `out`: the ciphertext copied to its end, authenticated and
    /// decrypted there; the plaintext length. On failure the caller wipes what was appended.
    pub(crate) fn open_append(
        &self,
        index: u64,
        last: bool,
        wire: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, OpenError> {
        let ct_len = wire.len().checked_sub(TAG_LEN).ok_or(OpenError::DecryptionFailed)?;
        if ct_len > super::CHUNK_SIZE {
            // Never more than the room a caller made for one chunk.
            return Err(OpenError::DecryptionFailed);
        }
        let (ct, tag) = wire.split_at(ct_len);
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| OpenError::DecryptionFailed)?;
        let at = out.len();
        out.extend_from_slice(ct);
        if self.aead.open(nonce(index, last), b"", &mut out[at..], tag) {
            Ok(ct_len)
        } else {
            Err(OpenError::DecryptionFailed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::katfile;
    use super::*;

    fn flip_bit(data: &[u8], bit: usize) -> Vec<u8> {
        let mut out = data.to_vec();
        out[bit / 8] ^= 1 << (bit % 8);
        out
    }

    /// RFC 8439 sections 2.8.2 and A.5 through the AEAD this build uses.
    #[test]
    fn rfc8439_known_answers() {
        for r in katfile::load("chacha20-poly1305.txt", 2) {
            let key: [u8; 32] = r.hex("key").try_into().unwrap_or_else(|_| panic!("{r}: key length"));
            let nonce: [u8; 12] = r.hex("nonce").try_into().unwrap_or_else(|_| panic!("{r}: nonce length"));
            let (aad, pt, ct) = (r.hex("aad"), r.input("plaintext"), r.hex("ciphertext"));
            let tag: [u8; 16] = r.hex("tag").try_into().unwrap_or_else(|_| panic!("{r}: tag length"));
            let aead = aead::Aead::new(&key);

            let mut buf = pt.clone();
            assert_eq!(hex::encode(aead.seal(nonce, &aad, &mut buf)), hex::encode(tag), "{r}: tag");
            assert_eq!(hex::encode(&buf), hex::encode(&ct), "{r}: ciphertext");
            assert!(aead.open(nonce, &aad, &mut buf, tag), "{r}: open");
            assert_eq!(buf, pt, "{r}: plaintext");

            let flipped_tag = flip_bit(&tag, 5).try_into().unwrap();
            for (what, mut msg, aad, tag) in [
                ("tag", ct.clone(), aad.clone(), flipped_tag),
                ("ciphertext", flip_bit(&ct, 3), aad.clone(), tag),
                ("aad", ct.clone(), flip_bit(&aad, 0), tag),
            ] {
                assert!(
                    !aead.open(nonce, &aad, &mut msg, tag),
                    "{r}: opened despite a flipped bit in the {what}"
                );
            }
        }
    }

    /// The wire form does not depend on the implementation: the chunks of a fixed key, as both
    /// builds must produce them (this value is the same in `--no-default-features`).
    #[test]
    fn chunk_wire_form_is_pinned() {
        let mut key = [0u8; 32];
        key.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let aead = aead::Aead::new(&key);
        let mut buf = b"esmtp chunk".to_vec();
        let tag = aead.seal(nonce(7, true), b"", &mut buf);
        assert_eq!(nonce(7, true), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 1]);
        assert_eq!(
            hex::encode([buf, tag.to_vec()].concat()),
            "35c39b6129b2e6d6d1fca15255e548773cf77e60b9ffffdd8115fe"
        );
    }
}
