//! Recipients and identities: the one-method traits every stanza type implements (SPEC.md section 4).

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use zeroize::Zeroizing;

use crate::error::{OpenError, ParseKeyError, SealError};
use crate::key::{EnvelopeId, MESSAGE_KEY_LEN, MessageKey};
use crate::random::RandomSource;

/// Stanza type `x25519` (SPEC.md section 4.1).
pub const STANZA_X25519: u8 = 0x01;
/// Stanza type `passphrase` (SPEC.md section 4.2).
pub const STANZA_PASSPHRASE: u8 = 0x02;
/// Stanza type `key-slip` (SPEC.md section 4.3).
pub const STANZA_KEY_SLIP: u8 = 0x03;

/// One recipient's way to recover the message key, as stored in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// The stanza type byte.
    pub kind: u8,
    /// The type-specific body (at most 65535 bytes).
    pub body: Vec<u8>,
}

impl Stanza {
    /// The body length SPEC.md section 4 fixes for a known type, `None` for unknown types.
    pub(crate) fn fixed_body_len(kind: u8) -> Option<usize> {
        match kind {
            STANZA_X25519 => Some(32 + WRAPPED_LEN),
            STANZA_PASSPHRASE => Some(16 + 12 + WRAPPED_LEN),
            STANZA_KEY_SLIP => Some(16),
            _ => None,
        }
    }
}

/// Someone an envelope can be sealed to.
pub trait Recipient {
    /// Wrap `key` for this recipient into a stanza of envelope `id`.
    ///
    /// # Errors
    /// When randomness is unavailable or the recipient's parameters are invalid.
    fn wrap(
        &self,
        key: &MessageKey,
        id: &EnvelopeId,
        rng: &mut dyn RandomSource,
    ) -> Result<Stanza, SealError>;
}

/// Something that can open stanzas: a secret key, a passphrase, a key slip.
pub trait Identity {
    /// Try to recover the message key from `stanza` of envelope `id`.
    ///
    /// Returns `None` when the stanza is not for this identity (including a wrong key or
    /// passphrase: wrapping is authenticated), `Some(Err(_))` when the stanza is for this kind of
    /// identity but cannot be processed (e.g. excessive Argon2 parameters).
    fn unwrap(&self, stanza: &Stanza, id: &EnvelopeId) -> Option<Result<MessageKey, OpenError>>;
}

/// Length of `AEAD-Seal(wrap_key, 0^12, ID, K)`.
pub(crate) const WRAPPED_LEN: usize = MESSAGE_KEY_LEN + 16;

/// `AEAD-Seal(wrap_key, 0^12, ID, K)` (SPEC.md section 4). The zero nonce is sound because each
/// `wrap_key` comes from a fresh ephemeral key or salt and is used once.
pub(crate) fn wrap_key(wrap_key: &[u8; 32], id: &EnvelopeId, key: &MessageKey) -> [u8; WRAPPED_LEN] {
    let aead = ChaCha20Poly1305::new(&Key::from(*wrap_key));
    let mut out = [0u8; WRAPPED_LEN];
    out[..MESSAGE_KEY_LEN].copy_from_slice(key.expose());
    // 32 bytes of plaintext cannot exceed the AEAD's length limit.
    let tag = aead
        .encrypt_inout_detached(&Nonce::default(), id.as_bytes(), out[..MESSAGE_KEY_LEN].as_mut().into())
        .unwrap_or_default();
    out[MESSAGE_KEY_LEN..].copy_from_slice(&tag);
    out
}

/// The inverse of [`wrap_key`]; `None` when the tag does not verify (not this recipient).
pub(crate) fn unwrap_key(wrap_key: &[u8; 32], id: &EnvelopeId, wrapped: &[u8]) -> Option<MessageKey> {
    if wrapped.len() != WRAPPED_LEN {
        return None;
    }
    let aead = ChaCha20Poly1305::new(&Key::from(*wrap_key));
    let mut key = Zeroizing::new([0u8; MESSAGE_KEY_LEN]);
    key.copy_from_slice(&wrapped[..MESSAGE_KEY_LEN]);
    let tag = Tag::try_from(&wrapped[MESSAGE_KEY_LEN..]).ok()?;
    aead.decrypt_inout_detached(&Nonce::default(), id.as_bytes(), key.as_mut_slice().into(), &tag).ok()?;
    Some(MessageKey::from_bytes(*key))
}

/// Bech32 text forms of keys (SPEC.md section 4.1).
pub(crate) mod text {
    use bech32::primitives::decode::CheckedHrpstring;
    use bech32::{Bech32, Hrp};
    use zeroize::Zeroizing;

    use super::ParseKeyError;

    pub(crate) fn encode(hrp: &str, data: &[u8], upper: bool) -> Zeroizing<String> {
        // The human-readable parts are constants of this crate and always valid.
        let hrp = Hrp::parse(hrp).unwrap_or_else(|_| Hrp::parse_unchecked("invalid"));
        let text = if upper {
            bech32::encode_upper::<Bech32>(hrp, data)
        } else {
            bech32::encode_lower::<Bech32>(hrp, data)
        };
        Zeroizing::new(text.unwrap_or_default())
    }

    pub(crate) fn decode<const N: usize>(text: &str, hrp: &str) -> Result<Zeroizing<[u8; N]>, ParseKeyError> {
        let parsed = CheckedHrpstring::new::<Bech32>(text.trim()).map_err(|_| ParseKeyError::Encoding)?;
        if !parsed.hrp().to_lowercase().eq_ignore_ascii_case(hrp) {
            return Err(ParseKeyError::WrongKind);
        }
        parsed.validate_segwit_padding().map_err(|_| ParseKeyError::Encoding)?;
        let mut out = Zeroizing::new([0u8; N]);
        let mut n = 0;
        for byte in parsed.byte_iter() {
            if n == N {
                return Err(ParseKeyError::Length);
            }
            out[n] = byte;
            n += 1;
        }
        if n != N {
            return Err(ParseKeyError::Length);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trips_and_rejects_other_keys_and_ids() {
        let key = MessageKey::from_bytes([7; 32]);
        let id = EnvelopeId::from_bytes([1; 16]);
        let wrapped = wrap_key(&[9; 32], &id, &key);
        assert_eq!(unwrap_key(&[9; 32], &id, &wrapped).map(|k| *k.expose()), Some([7; 32]));
        assert!(unwrap_key(&[8; 32], &id, &wrapped).is_none());
        assert!(unwrap_key(&[9; 32], &EnvelopeId::from_bytes([2; 16]), &wrapped).is_none());
        assert!(unwrap_key(&[9; 32], &id, &wrapped[..47]).is_none());
    }

    #[test]
    fn text_rejects_mixed_case_wrong_hrp_and_length() {
        let t = text::encode("esmtp", &[3; 32], false);
        assert_eq!(*text::decode::<32>(&t, "esmtp").unwrap(), [3; 32]);
        assert_eq!(*text::decode::<32>(&t.to_uppercase(), "esmtp").unwrap(), [3; 32]);
        let mut mixed = t.to_string();
        mixed.replace_range(7..8, &mixed[7..8].to_uppercase());
        assert_eq!(text::decode::<32>(&mixed, "esmtp").err(), Some(ParseKeyError::Encoding));
        assert_eq!(text::decode::<32>(&t, "other").err(), Some(ParseKeyError::WrongKind));
        assert_eq!(text::decode::<16>(&t, "esmtp").err(), Some(ParseKeyError::Length));
        let mut flipped = t.to_string();
        let last = if flipped.ends_with('q') { "p" } else { "q" };
        flipped.replace_range(flipped.len() - 1.., last);
        assert_eq!(text::decode::<32>(&flipped, "esmtp").err(), Some(ParseKeyError::Encoding));
    }
}
