//! The per-message secret and the envelope id (SPEC.md section 2), and the keys derived from them.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::random::{RandomError, RandomSource};

/// Length of the message key in bytes.
pub(crate) const MESSAGE_KEY_LEN: usize = 32;

/// The fresh random key of one envelope, which every stanza wraps. Public in type only (the
/// sealed recipient traits name it); nothing outside this crate can make or read one.
///
///
/// Zeroized on drop; `Debug` never prints it. The suite's rules for its bytes (the DES key's
/// parity and weak keys) live in [`crate::suite`], which draws it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MessageKey([u8; MESSAGE_KEY_LEN]);

impl MessageKey {
    pub(crate) fn from_bytes(bytes: [u8; MESSAGE_KEY_LEN]) -> Self {
        MessageKey(bytes)
    }

    pub(crate) fn expose(&self) -> &[u8; MESSAGE_KEY_LEN] {
        &self.0
    }

    pub(crate) fn expose_mut(&mut self) -> &mut [u8; MESSAGE_KEY_LEN] {
        &mut self.0
    }

    /// 32 uniformly random bytes.
    pub(crate) fn random(rng: &mut dyn RandomSource) -> Result<Self, RandomError> {
        let mut key = MessageKey([0u8; MESSAGE_KEY_LEN]);
        rng.fill(&mut key.0)?;
        Ok(key)
    }

    /// `HKDF(K, ID, info, N)` of SPEC.md section 2.
    pub(crate) fn derive<const N: usize>(&self, id: &EnvelopeId, info: &[u8]) -> [u8; N] {
        hkdf_sha256(&self.0, &id.0, info)
    }
}

/// `HKDF(ikm, salt, info, N)`: HKDF-SHA256 (RFC 5869) producing `N` bytes.
pub(crate) fn hkdf_sha256<const N: usize>(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    // Invariant: every caller asks for at most 64 bytes, far below HKDF-SHA256's 8160-byte limit.
    #[allow(clippy::expect_used)]
    Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, &mut out).expect("HKDF output of at most 64 bytes");
    out
}

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageKey(<redacted>)")
    }
}

/// The random 16-byte id of an envelope: names it in mail headers and binds key slips to it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvelopeId([u8; 16]);

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
        // The printed form is lower case; upper case is refused so that one id has one text.
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let mut out = [0u8; 16];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(EnvelopeId(out))
    }
}

impl fmt::Display for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
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
    fn envelope_id_hex_round_trip() {
        let id = EnvelopeId([0xab; 16]);
        assert_eq!(EnvelopeId::from_hex(&id.to_string()), Some(id));
        assert_eq!(EnvelopeId::from_hex("ab"), None);
        assert_eq!(EnvelopeId::from_hex(&"AB".repeat(16)), None);
        assert_eq!(EnvelopeId::from_hex(&"zz".repeat(16)), None);
    }
}
