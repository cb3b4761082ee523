//! A person's keys (SPEC.md section 4.1): an X25519 key pair to open envelopes sealed to them
//! (ephemeral-static ECDH, stanza type `x25519`) and an Ed25519 key pair to sign what they seal
//! (section 5.4). One secret text holds both secrets; one public text serves as the recipient and
//! as the expected signer.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::error::{OpenError, ParseKeyError, SealError};
use crate::key::{EnvelopeId, MessageKey, hkdf_sha256};
use crate::random::{OsRandom, RandomError, RandomSource};
use crate::recipient::private::{UnwrapStanza, WrapMessageKey};
use crate::recipient::{Identity, Recipient};
use crate::stanza::{self, Stanza, X25519_BODY_LEN};
use crate::text;

const RECIPIENT_HRP: &str = "esmtp";
const IDENTITY_HRP: &str = "ESMTP-SECRET-KEY-";
/// Both text forms carry two 32-byte keys; 32 bytes alone is the form from before signatures.
const KEYS_LEN: usize = 64;
const OUTDATED_LEN: usize = 32;

/// A person's public keys, to seal to and to expect as a signer; text form `esmtp1...`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct X25519Recipient {
    x25519: PublicKey,
    /// A valid Ed25519 point of large order (checked when made); decompressed to verify.
    ed25519: [u8; 32],
}

/// A person's secret keys: opens envelopes sealed to their [`X25519Recipient`] and signs what they
/// seal. Text form `ESMTP-SECRET-KEY-1...`. Zeroized on drop; `Debug` never prints it.
#[derive(Clone)]
pub struct X25519Identity {
    secret: StaticSecret,
    /// Boxed: the key with its expanded public point is 224 bytes. Zeroized on drop.
    signing: Box<SigningKey>,
    /// Derived once: unwrapping needs it for every stanza tried.
    public: X25519Recipient,
}

impl X25519Identity {
    fn from_secrets(secret: StaticSecret, signing: SigningKey) -> Self {
        let public =
            X25519Recipient { x25519: PublicKey::from(&secret), ed25519: signing.verifying_key().to_bytes() };
        X25519Identity { secret, signing: Box::new(signing), public }
    }

    /// A new random identity from the operating system's generator.
    ///
    /// # Errors
    /// When the operating system's random number generator fails.
    pub fn generate() -> Result<Self, RandomError> {
        Self::generate_with(&mut OsRandom)
    }

    /// [`X25519Identity::generate`] from a given generator (reproducible test vectors only).
    #[doc(hidden)]
    pub fn generate_with(rng: &mut dyn RandomSource) -> Result<Self, RandomError> {
        let mut bytes = Zeroizing::new([0u8; KEYS_LEN]);
        rng.fill(&mut bytes[..])?;
        Ok(Self::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8; KEYS_LEN]) -> Self {
        let mut x = Zeroizing::new([0u8; 32]);
        let mut ed = Zeroizing::new([0u8; 32]);
        x.copy_from_slice(&bytes[..32]);
        ed.copy_from_slice(&bytes[32..]);
        Self::from_secrets(StaticSecret::from(*x), SigningKey::from_bytes(&ed))
    }

    /// The public keys of this identity: the recipient to seal to, and the signer others expect.
    pub fn to_public(&self) -> X25519Recipient {
        self.public.clone()
    }

    /// The secret text form. Handle with care: it is the key.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new([0u8; KEYS_LEN]);
        bytes[..32].copy_from_slice(self.secret.as_bytes());
        bytes[32..].copy_from_slice(self.signing.as_bytes());
        text::encode(IDENTITY_HRP, &bytes[..], true)
    }

    /// Ed25519 (RFC 8032) signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl FromStr for X25519Identity {
    type Err = ParseKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = text::decode(s, IDENTITY_HRP)?;
        match bytes.len() {
            KEYS_LEN => {
                let mut keys = Zeroizing::new([0u8; KEYS_LEN]);
                keys.copy_from_slice(&bytes);
                Ok(X25519Identity::from_bytes(&keys))
            }
            OUTDATED_LEN => Err(ParseKeyError::Outdated),
            _ => Err(ParseKeyError::Length),
        }
    }
}

impl fmt::Debug for X25519Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X25519Identity {{ public: {} }}", self.public)
    }
}

impl X25519Recipient {
    /// The public keys from their raw bytes, refusing weak ones (SPEC.md section 4.1): an X25519
    /// point of small order (every shared secret with it is zero, so anyone could compute the
    /// message key) and an Ed25519 point that is invalid or of small order.
    fn from_bytes(x25519: [u8; 32], ed25519: [u8; 32]) -> Result<Self, ParseKeyError> {
        let x25519 = PublicKey::from(x25519);
        if is_low_order(&x25519) {
            return Err(ParseKeyError::WeakKey);
        }
        let point = VerifyingKey::from_bytes(&ed25519).map_err(|_| ParseKeyError::WeakKey)?;
        if point.is_weak() {
            return Err(ParseKeyError::WeakKey);
        }
        Ok(X25519Recipient { x25519, ed25519 })
    }

    /// The 64 bytes of the text form: `X25519 public key || Ed25519 public key`.
    pub(crate) fn to_bytes(&self) -> [u8; KEYS_LEN] {
        let mut out = [0u8; KEYS_LEN];
        out[..32].copy_from_slice(self.x25519.as_bytes());
        out[32..].copy_from_slice(&self.ed25519);
        out
    }

    /// The inverse of [`X25519Recipient::to_bytes`], with the checks of the text form.
    pub(crate) fn from_signer_bytes(bytes: &[u8]) -> Result<Self, ParseKeyError> {
        let (mut x, mut ed) = ([0u8; 32], [0u8; 32]);
        if bytes.len() != KEYS_LEN {
            return Err(ParseKeyError::Length);
        }
        x.copy_from_slice(&bytes[..32]);
        ed.copy_from_slice(&bytes[32..]);
        Self::from_bytes(x, ed)
    }

    /// Strict Ed25519 verification (RFC 8032 section 5.1.7, canonical encodings, no small-order
    /// components), so one message has one valid signature encoding per key.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        VerifyingKey::from_bytes(&self.ed25519)
            .is_ok_and(|key| key.verify_strict(message, &signature).is_ok())
    }
}

/// Whether `point` has small order: its product with any clamped scalar (a multiple of the
/// cofactor 8) is zero. Covers every encoding of the eight small-order points, canonical or not.
fn is_low_order(point: &PublicKey) -> bool {
    let probe = StaticSecret::from([0x5a; 32]);
    bool::from(probe.diffie_hellman(point).as_bytes().ct_eq(&[0u8; 32]))
}

impl FromStr for X25519Recipient {
    type Err = ParseKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = text::decode(s, RECIPIENT_HRP)?;
        match bytes.len() {
            KEYS_LEN => Self::from_signer_bytes(&bytes),
            OUTDATED_LEN => Err(ParseKeyError::Outdated),
            _ => Err(ParseKeyError::Length),
        }
    }
}

impl fmt::Display for X25519Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::encode(RECIPIENT_HRP, &self.to_bytes(), false))
    }
}

impl fmt::Debug for X25519Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X25519Recipient({self})")
    }
}

/// `HKDF(S, E || Rx, "esmtp/v1 x25519", 32)`
fn wrap_secret(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    Zeroizing::new(hkdf_sha256(shared, &salt, b"esmtp/v1 x25519"))
}

impl Recipient for X25519Recipient {}

impl WrapMessageKey for X25519Recipient {
    fn wrap_message_key(
        &self,
        key: &MessageKey,
        id: &EnvelopeId,
        rng: &mut dyn RandomSource,
    ) -> Result<Stanza, SealError> {
        let mut e = Zeroizing::new([0u8; 32]);
        rng.fill(&mut e[..])?;
        let ephemeral = StaticSecret::from(*e);
        let ephemeral_public = PublicKey::from(&ephemeral);
        let shared = ephemeral.diffie_hellman(&self.x25519);
        // SPEC.md section 4.1: an all-zero shared secret means a low-order recipient key, and
        // anyone could compute the wrap key. Parsing refuses such keys; this check stays so that
        // no path can seal to one.
        if bool::from(shared.as_bytes().ct_eq(&[0u8; 32])) {
            return Err(SealError::InvalidRecipient);
        }
        let secret = wrap_secret(shared.as_bytes(), ephemeral_public.as_bytes(), self.x25519.as_bytes());
        let mut body = Vec::with_capacity(X25519_BODY_LEN);
        body.extend_from_slice(ephemeral_public.as_bytes());
        body.extend_from_slice(&stanza::wrap(&secret, id, key));
        Ok(Stanza { kind: stanza::X25519, body })
    }
}

impl Identity for X25519Identity {}

impl UnwrapStanza for X25519Identity {
    fn unwrap_stanza(&self, stanza: &Stanza, id: &EnvelopeId) -> Option<Result<MessageKey, OpenError>> {
        if stanza.kind != stanza::X25519 || stanza.body.len() != X25519_BODY_LEN {
            return None;
        }
        let mut ephemeral = [0u8; 32];
        ephemeral.copy_from_slice(&stanza.body[..32]);
        let shared = self.secret.diffie_hellman(&PublicKey::from(ephemeral));
        // An all-zero secret means a low-order point: no key agreement took place.
        if bool::from(shared.as_bytes().ct_eq(&[0u8; 32])) {
            return None;
        }
        let secret = wrap_secret(shared.as_bytes(), &ephemeral, self.public.x25519.as_bytes());
        stanza::unwrap(&secret, id, &stanza.body[32..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip_and_debug_hides_the_secret() {
        let identity = X25519Identity::generate().unwrap();
        let secret = identity.to_secret_string();
        assert!(secret.starts_with("ESMTP-SECRET-KEY-1"));
        let parsed: X25519Identity = secret.parse().unwrap();
        assert_eq!(parsed.to_public(), identity.to_public());
        let public = identity.to_public().to_string();
        assert!(public.starts_with("esmtp1"));
        assert_eq!(public.parse::<X25519Recipient>().unwrap(), identity.to_public());
        assert!(!format!("{identity:?}").contains(&secret[18..40]));
        assert_eq!(public.parse::<X25519Identity>().err(), Some(ParseKeyError::WrongKind));
    }

    #[test]
    fn keys_from_before_signatures_are_refused_with_advice() {
        let old_public = text::encode(RECIPIENT_HRP, &[9; 32], false);
        assert_eq!(old_public.parse::<X25519Recipient>().err(), Some(ParseKeyError::Outdated));
        let old_secret = text::encode(IDENTITY_HRP, &[9; 32], true);
        assert_eq!(old_secret.parse::<X25519Identity>().err(), Some(ParseKeyError::Outdated));
        assert!(ParseKeyError::Outdated.to_string().contains("esmtp keygen"));
    }

    #[test]
    fn low_order_ephemeral_is_not_mine() {
        let identity = X25519Identity::generate().unwrap();
        let stanza = Stanza { kind: stanza::X25519, body: vec![0; X25519_BODY_LEN] };
        assert!(identity.unwrap_stanza(&stanza, &EnvelopeId::from_bytes([0; 16])).is_none());
    }

    #[test]
    fn signatures_verify_strictly() {
        let identity = X25519Identity::generate().unwrap();
        let sig = identity.sign(b"message");
        assert!(identity.to_public().verify(b"message", &sig));
        assert!(!identity.to_public().verify(b"massage", &sig));
        let other = X25519Identity::generate().unwrap();
        assert!(!other.to_public().verify(b"message", &sig));
    }
}
