//! The per-message secrets and the keys derived from them (SPEC.md section 2).

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::random::{RandomError, RandomSource};
use crate::suite::Suite;

/// Length of the message key in bytes.
pub const MESSAGE_KEY_LEN: usize = 32;

/// The fresh random key of one envelope, which every stanza wraps.
///
/// Zeroized on drop; `Debug` never prints it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MessageKey([u8; MESSAGE_KEY_LEN]);

impl MessageKey {
    /// Wrap raw key bytes (for [`crate::Identity`] implementations outside this crate).
    pub fn from_bytes(bytes: [u8; MESSAGE_KEY_LEN]) -> Self {
        MessageKey(bytes)
    }

    /// The raw key bytes (for [`crate::Recipient`] implementations outside this crate).
    pub fn expose(&self) -> &[u8; MESSAGE_KEY_LEN] {
        &self.0
    }

    /// Draw a key for `suite`.
    ///
    /// SPEC.md section 2: for `des-cbc-md5` the first 8 bytes are the DES key, with odd parity and
    /// never weak or semi-weak; the rest is uniformly random.
    pub(crate) fn generate(suite: Suite, rng: &mut dyn RandomSource) -> Result<Self, RandomError> {
        let mut key = MessageKey([0u8; MESSAGE_KEY_LEN]);
        rng.fill(&mut key.0)?;
        if suite == Suite::LegacyDesCbcMd5 {
            loop {
                set_odd_parity(&mut key.0[..8]);
                if des::weak_key_test(&key.0[..8]).is_ok() {
                    break;
                }
                rng.fill(&mut key.0[..8])?;
            }
        }
        Ok(key)
    }

    /// `HKDF(K, ID, info, N)` of SPEC.md section 2.
    pub(crate) fn derive<const N: usize>(&self, id: &EnvelopeId, info: &[u8]) -> [u8; N] {
        let mut out = [0u8; N];
        let expanded = Hkdf::<Sha256>::new(Some(&id.0), &self.0).expand(info, &mut out);
        // N is at most 32 at every call site, far below HKDF-SHA256's 8160-byte limit.
        debug_assert!(expanded.is_ok());
        out
    }
}

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageKey(<redacted>)")
    }
}

/// Sets each byte's least significant bit so that the byte has an odd number of one bits.
pub(crate) fn set_odd_parity(key: &mut [u8]) {
    for b in key {
        *b = (*b & 0xfe) | u8::from((*b >> 1).count_ones() % 2 == 0);
    }
}

pub(crate) fn has_odd_parity(key: &[u8]) -> bool {
    key.iter().all(|b| b.count_ones() % 2 == 1)
}

/// The random 16-byte id of an envelope: names it in mail headers and binds key slips to it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvelopeId(pub(crate) [u8; 16]);

impl EnvelopeId {
    /// Length in bytes.
    pub const LEN: usize = 16;

    pub(crate) fn generate(rng: &mut dyn RandomSource) -> Result<Self, RandomError> {
        let mut id = [0u8; 16];
        rng.fill(&mut id)?;
        Ok(EnvelopeId(id))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// From raw bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        EnvelopeId(bytes)
    }

    /// Parse the 32-character lower-case hex form printed by `Display`.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in text.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0])?;
            let lo = hex_val(pair[1])?;
            out[i] = (hi << 4) | lo;
        }
        Some(EnvelopeId(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvelopeId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_is_odd_after_setting() {
        for b in 0..=255u8 {
            let mut k = [b];
            set_odd_parity(&mut k);
            assert!(has_odd_parity(&k), "{b:#x}");
            assert_eq!(k[0] & 0xfe, b & 0xfe);
        }
    }

    #[test]
    fn envelope_id_hex_round_trip() {
        let id = EnvelopeId([0xab; 16]);
        assert_eq!(EnvelopeId::from_hex(&id.to_string()), Some(id));
        assert_eq!(EnvelopeId::from_hex("AB"), None);
        assert_eq!(EnvelopeId::from_hex(&"AB".repeat(16)), None);
    }
}
