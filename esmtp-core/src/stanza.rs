//! Stanzas (SPEC.md section 4): their types, their fixed layouts, the rules an envelope's stanza
//! list follows (used by sealing and by reading alike), and the key-committing wrap every
//! recipient type shares.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::OpenError;
use crate::key::{EnvelopeId, MESSAGE_KEY_LEN, MessageKey, hkdf_sha256};

/// Stanza type `x25519` (SPEC.md section 4.1).
pub(crate) const X25519: u8 = 0x01;
/// Stanza type `passphrase` (SPEC.md section 4.2).
pub(crate) const PASSPHRASE: u8 = 0x02;
/// Stanza type `key-slip` (SPEC.md section 4.3).
pub(crate) const KEY_SLIP: u8 = 0x03;

/// SPEC.md section 3: `count = 1 byte, 1..64`.
pub(crate) const MAX_STANZAS: usize = 64;

/// `commitment`: 32 bytes.
const COMMIT_LEN: usize = 32;
/// `AEAD-Seal(aead_key, 0^12, "", K)`: the key and its 16-byte tag.
const SEALED_KEY_LEN: usize = MESSAGE_KEY_LEN + 16;
/// `wrapped = commitment || AEAD-Seal(...)` (SPEC.md section 4).
pub(crate) const WRAPPED_LEN: usize = COMMIT_LEN + SEALED_KEY_LEN;

/// `x25519` body: `E || wrapped`.
pub(crate) const X25519_BODY_LEN: usize = 32 + WRAPPED_LEN;
/// `passphrase` body: `salt || BE32(m) || BE32(t) || BE32(p) || wrapped`.
pub(crate) const PASSPHRASE_BODY_LEN: usize = PASSPHRASE_PARAMS_END + WRAPPED_LEN;
/// Offsets in a `passphrase` body.
pub(crate) const PASSPHRASE_SALT_LEN: usize = 16;
pub(crate) const PASSPHRASE_PARAMS_END: usize = PASSPHRASE_SALT_LEN + 12;
/// `key-slip` body: `slip_id`.
pub(crate) const KEY_SLIP_BODY_LEN: usize = 16;

/// One recipient's way to recover the message key, as stored in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// The stanza type byte.
    pub(crate) kind: u8,
    /// The type-specific body (at most 65535 bytes).
    pub(crate) body: Vec<u8>,
}

impl Stanza {
    /// The body length SPEC.md section 4 fixes for a known type, `None` for unknown types.
    pub(crate) fn fixed_body_len(kind: u8) -> Option<usize> {
        match kind {
            X25519 => Some(X25519_BODY_LEN),
            PASSPHRASE => Some(PASSPHRASE_BODY_LEN),
            KEY_SLIP => Some(KEY_SLIP_BODY_LEN),
            _ => None,
        }
    }
}

/// A stanza list that breaks SPEC.md section 3, step 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    /// No stanza, or more than 64.
    Count,
    /// A body over 65535 bytes, or a known type with another body length than section 4 fixes.
    BodyLength,
    /// More than one `passphrase` stanza (each may cost up to the Argon2 ceiling; one bounds it).
    TwoPassphrases,
}

impl Violation {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Violation::Count => "stanza count out of range",
            Violation::BodyLength => "stanza body has the wrong length for its type",
            Violation::TwoPassphrases => "more than one passphrase stanza",
        }
    }
}

/// The one check of a stanza list, for sealing and reading alike.
pub(crate) fn check(kinds_and_lengths: impl ExactSizeIterator<Item = (u8, usize)>) -> Result<(), Violation> {
    if kinds_and_lengths.len() == 0 || kinds_and_lengths.len() > MAX_STANZAS {
        return Err(Violation::Count);
    }
    let mut passphrases = 0usize;
    for (kind, len) in kinds_and_lengths {
        if len > usize::from(u16::MAX) || Stanza::fixed_body_len(kind).is_some_and(|fixed| fixed != len) {
            return Err(Violation::BodyLength);
        }
        passphrases += usize::from(kind == PASSPHRASE);
    }
    if passphrases > 1 {
        return Err(Violation::TwoPassphrases);
    }
    Ok(())
}

/// `commitment || aead_key = HKDF(secret, ID, "esmtp/v1 wrap", 64)` (SPEC.md section 4).
fn wrap_keys(secret: &[u8; 32], id: &EnvelopeId) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
    let okm = Zeroizing::new(hkdf_sha256::<64>(secret, id.as_bytes(), b"esmtp/v1 wrap"));
    let mut commitment = Zeroizing::new([0u8; 32]);
    let mut aead_key = Zeroizing::new([0u8; 32]);
    commitment.copy_from_slice(&okm[..32]);
    aead_key.copy_from_slice(&okm[32..]);
    (commitment, aead_key)
}

/// `wrapped = commitment || AEAD-Seal(aead_key, 0^12, "", K)` (SPEC.md section 4). The zero nonce
/// is sound because each wrap secret comes from a fresh ephemeral key or salt and is used once.
pub(crate) fn wrap(secret: &[u8; 32], id: &EnvelopeId, key: &MessageKey) -> [u8; WRAPPED_LEN] {
    let (commitment, aead_key) = wrap_keys(secret, id);
    let mut out = [0u8; WRAPPED_LEN];
    out[..COMMIT_LEN].copy_from_slice(&commitment[..]);
    let (sealed, tag_out) = out[COMMIT_LEN..].split_at_mut(MESSAGE_KEY_LEN);
    sealed.copy_from_slice(key.expose());
    let aead = ChaCha20Poly1305::new(&Key::from(*aead_key));
    // Invariant: 32 bytes of plaintext are far below the AEAD's length limit, its only failure.
    #[allow(clippy::expect_used)]
    let tag = aead
        .encrypt_inout_detached(&Nonce::default(), b"", sealed.into())
        .expect("32-byte plaintext within ChaCha20-Poly1305 limits");
    tag_out.copy_from_slice(&tag);
    out
}

/// The inverse of [`wrap`]. `None` when the commitment differs: the stanza was not made with this
/// secret ("not this recipient"). When it matches, the stanza is this recipient's, so a tag that
/// then fails means the wrapped key was altered: *decryption failed*.
///
/// Checking the commitment first makes the wrap key-committing: one stanza matches one secret, so
/// a crafted stanza cannot test many passphrases at once (SPEC.md section 4).
pub(crate) fn unwrap(
    secret: &[u8; 32],
    id: &EnvelopeId,
    wrapped: &[u8],
) -> Option<Result<MessageKey, OpenError>> {
    if wrapped.len() != WRAPPED_LEN {
        return None;
    }
    let (commitment, aead_key) = wrap_keys(secret, id);
    // Constant time: the comparison must not tell how much of the commitment matched.
    if !bool::from(commitment.ct_eq(&wrapped[..COMMIT_LEN])) {
        return None;
    }
    let mut key = MessageKey::from_bytes([0u8; MESSAGE_KEY_LEN]);
    key.expose_mut().copy_from_slice(&wrapped[COMMIT_LEN..COMMIT_LEN + MESSAGE_KEY_LEN]);
    let tag = Tag::try_from(&wrapped[COMMIT_LEN + MESSAGE_KEY_LEN..]).ok()?;
    let aead = ChaCha20Poly1305::new(&Key::from(*aead_key));
    Some(
        aead.decrypt_inout_detached(&Nonce::default(), b"", key.expose_mut().as_mut_slice().into(), &tag)
            .map(|()| key)
            .map_err(|_| OpenError::DecryptionFailed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trips_commits_and_detects_alteration() {
        let key = MessageKey::from_bytes([7; 32]);
        let id = EnvelopeId::from_bytes([1; 16]);
        let wrapped = wrap(&[9; 32], &id, &key);
        assert_eq!(unwrap(&[9; 32], &id, &wrapped).map(|k| *k.unwrap().expose()), Some([7; 32]));
        assert!(unwrap(&[8; 32], &id, &wrapped).is_none(), "another secret: not mine");
        assert!(unwrap(&[9; 32], &EnvelopeId::from_bytes([2; 16]), &wrapped).is_none(), "another envelope");
        assert!(unwrap(&[9; 32], &id, &wrapped[..WRAPPED_LEN - 1]).is_none());
        let mut altered = wrapped;
        altered[40] ^= 1;
        assert!(matches!(unwrap(&[9; 32], &id, &altered), Some(Err(OpenError::DecryptionFailed))));
    }

    #[test]
    fn stanza_list_rules() {
        assert_eq!(check([].into_iter()), Err(Violation::Count));
        assert_eq!(check(vec![(KEY_SLIP, 16); 65].into_iter()), Err(Violation::Count));
        assert_eq!(check(vec![(KEY_SLIP, 16); 64].into_iter()), Ok(()));
        assert_eq!(check([(X25519, 80)].into_iter()), Err(Violation::BodyLength));
        assert_eq!(check([(0x7e, 70_000)].into_iter()), Err(Violation::BodyLength));
        assert_eq!(check([(0x7e, 3)].into_iter()), Ok(()));
        let two = [(PASSPHRASE, PASSPHRASE_BODY_LEN), (PASSPHRASE, PASSPHRASE_BODY_LEN)];
        assert_eq!(check(two.into_iter()), Err(Violation::TwoPassphrases));
    }
}
