//! The `x25519` recipient type (SPEC.md section 4.1): long-term key pairs, ephemeral-static ECDH.

use std::fmt;
use std::str::FromStr;

use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::error::{OpenError, ParseKeyError, SealError};
use crate::key::{EnvelopeId, MessageKey};
use crate::random::RandomSource;
use crate::recipient::{Identity, Recipient, STANZA_X25519, Stanza, text, unwrap_key, wrap_key};

const RECIPIENT_HRP: &str = "esmtp";
const IDENTITY_HRP: &str = "ESMTP-SECRET-KEY-";

/// A public key to seal to; text form `esmtp1...`.
#[derive(Clone, PartialEq, Eq)]
pub struct X25519Recipient(PublicKey);

/// A secret key that opens envelopes sealed to its [`X25519Recipient`]; text form
/// `ESMTP-SECRET-KEY-1...`. Zeroized on drop; `Debug` never prints it.
#[derive(Clone)]
pub struct X25519Identity {
    secret: StaticSecret,
    /// Derived once: unwrapping needs it for every stanza tried.
    public: PublicKey,
}

impl X25519Identity {
    fn from_secret(secret: StaticSecret) -> Self {
        let public = PublicKey::from(&secret);
        X25519Identity { secret, public }
    }

    /// A new random identity from the OS generator.
    ///
    /// # Errors
    /// When the OS random number generator fails.
    pub fn generate() -> Result<Self, SealError> {
        Self::generate_with_rng(&mut crate::OsRandom)
    }

    /// A new identity from `rng` (for reproducible tests).
    ///
    /// # Errors
    /// When `rng` fails.
    pub fn generate_with_rng(rng: &mut dyn RandomSource) -> Result<Self, SealError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(&mut bytes[..])?;
        Ok(X25519Identity::from_secret(StaticSecret::from(*bytes)))
    }

    /// The public recipient of this identity.
    pub fn to_public(&self) -> X25519Recipient {
        X25519Recipient(self.public)
    }

    /// The secret text form. Handle with care: it is the key.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        text::encode(IDENTITY_HRP, self.secret.as_bytes(), true)
    }
}

impl FromStr for X25519Identity {
    type Err = ParseKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = text::decode::<32>(s, IDENTITY_HRP)?;
        Ok(X25519Identity::from_secret(StaticSecret::from(*bytes)))
    }
}

impl fmt::Debug for X25519Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X25519Identity({{ public: {} }})", self.to_public())
    }
}

impl FromStr for X25519Recipient {
    type Err = ParseKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = text::decode::<32>(s, RECIPIENT_HRP)?;
        Ok(X25519Recipient(PublicKey::from(*bytes)))
    }
}

impl fmt::Display for X25519Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::encode(RECIPIENT_HRP, self.0.as_bytes(), false))
    }
}

impl fmt::Debug for X25519Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X25519Recipient({self})")
    }
}

/// `HKDF(S, E || Rp, "esmtp/v1 x25519", 32)`
fn derive_wrap_key(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    let mut out = Zeroizing::new([0u8; 32]);
    let expanded =
        hkdf::Hkdf::<sha2::Sha256>::new(Some(&salt), shared).expand(b"esmtp/v1 x25519", &mut out[..]);
    debug_assert!(expanded.is_ok());
    out
}

impl Recipient for X25519Recipient {
    fn wrap(
        &self,
        key: &MessageKey,
        id: &EnvelopeId,
        rng: &mut dyn RandomSource,
    ) -> Result<Stanza, SealError> {
        let mut e = Zeroizing::new([0u8; 32]);
        rng.fill(&mut e[..])?;
        let ephemeral = StaticSecret::from(*e);
        let ephemeral_public = PublicKey::from(&ephemeral);
        let shared = ephemeral.diffie_hellman(&self.0);
        let wrap = derive_wrap_key(shared.as_bytes(), ephemeral_public.as_bytes(), self.0.as_bytes());
        let mut body = Vec::with_capacity(80);
        body.extend_from_slice(ephemeral_public.as_bytes());
        body.extend_from_slice(&wrap_key(&wrap, id, key));
        Ok(Stanza { kind: STANZA_X25519, body })
    }
}

impl Identity for X25519Identity {
    fn unwrap(&self, stanza: &Stanza, id: &EnvelopeId) -> Option<Result<MessageKey, OpenError>> {
        if stanza.kind != STANZA_X25519 || stanza.body.len() != 80 {
            return None;
        }
        let mut ephemeral = [0u8; 32];
        ephemeral.copy_from_slice(&stanza.body[..32]);
        let shared = self.secret.diffie_hellman(&PublicKey::from(ephemeral));
        // An all-zero secret means a low-order point: no key agreement took place.
        if bool::from(shared.as_bytes().ct_eq(&[0u8; 32])) {
            return None;
        }
        let wrap = derive_wrap_key(shared.as_bytes(), &ephemeral, self.public.as_bytes());
        unwrap_key(&wrap, id, &stanza.body[32..]).map(Ok)
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
        assert!(!format!("{identity:?}").contains(&secret[18..]));
        assert_eq!(public.parse::<X25519Identity>().err(), Some(ParseKeyError::WrongKind));
    }

    #[test]
    fn low_order_ephemeral_is_not_mine() {
        let identity = X25519Identity::generate().unwrap();
        let stanza = Stanza { kind: STANZA_X25519, body: vec![0; 80] };
        assert!(identity.unwrap(&stanza, &EnvelopeId::from_bytes([0; 16])).is_none());
    }
}
