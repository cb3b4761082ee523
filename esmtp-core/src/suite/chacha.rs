//! `chacha20-poly1305` chunks (SPEC.md section 5.1), the STREAM construction of Hoang, Reyhanitabar,
//! Rogaway and Vizár as age uses it: the nonce is the chunk index and a final-chunk flag.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

use super::TAG_LEN;
use crate::error::OpenError;
use crate::key::{EnvelopeId, MessageKey};

pub(crate) struct ChaChaChunks {
    aead: ChaCha20Poly1305,
}

/// `nonce_i = BE88(i) || flag`
fn nonce(index: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::from(n)
}

impl ChaChaChunks {
    pub(crate) fn new(key: &MessageKey, id: &EnvelopeId) -> Self {
        let mut payload_key: [u8; 32] = key.derive(id, b"esmtp/v1 payload");
        let aead = ChaCha20Poly1305::new(&Key::from(payload_key));
        zeroize::Zeroize::zeroize(&mut payload_key);
        ChaChaChunks { aead }
    }

    pub(crate) fn seal(&self, index: u64, last: bool, plaintext: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(plaintext);
        // A chunk is at most 64 KiB, far below ChaCha20-Poly1305's 256 GiB message limit.
        let tag = self
            .aead
            .encrypt_inout_detached(&nonce(index, last), b"", out[start..].as_mut().into())
            .unwrap_or_default();
        out.extend_from_slice(&tag);
    }

    pub(crate) fn open(
        &self,
        index: u64,
        last: bool,
        wire: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), OpenError> {
        let ct_len = wire.len().checked_sub(TAG_LEN).ok_or(OpenError::DecryptionFailed)?;
        let (ct, tag) = wire.split_at(ct_len);
        let tag = Tag::try_from(tag).map_err(|_| OpenError::DecryptionFailed)?;
        let start = out.len();
        out.extend_from_slice(ct);
        // The tag check inside decrypt_inout_detached is constant-time (poly1305 + subtle).
        self.aead
            .decrypt_inout_detached(&nonce(index, last), b"", out[start..].as_mut().into(), &tag)
            .map_err(|_| OpenError::DecryptionFailed)
    }
}
