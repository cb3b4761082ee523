//! The `passphrase` recipient type (SPEC.md section 4.2): Argon2id with the cost in the stanza.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{OpenError, SealError};
use crate::key::{EnvelopeId, MessageKey};
use crate::random::RandomSource;
use crate::recipient::{Identity, Recipient, STANZA_PASSPHRASE, Stanza, WRAPPED_LEN, unwrap_key, wrap_key};

/// Argon2id cost parameters, as stored in a passphrase stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Argon2Params {
    /// OWASP's minimum recommendation for Argon2id: 19 MiB, 2 passes, 1 lane. The default.
    pub const OWASP: Argon2Params = Argon2Params { m_cost: 19 * 1024, t_cost: 2, p_cost: 1 };

    /// The most work a reader accepts (SPEC.md section 4.2): 256 MiB, 16 passes, 8 lanes.
    pub const READER_LIMIT: Argon2Params = Argon2Params { m_cost: 256 * 1024, t_cost: 16, p_cost: 8 };

    fn within_minima(self) -> bool {
        self.t_cost >= 1 && self.p_cost >= 1 && self.m_cost >= 8 * self.p_cost
    }

    fn within_reader_limit(self) -> bool {
        let max = Self::READER_LIMIT;
        self.m_cost <= max.m_cost && self.t_cost <= max.t_cost && self.p_cost <= max.p_cost
    }

    fn derive(self, passphrase: &[u8], salt: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        let params = argon2::Params::new(self.m_cost, self.t_cost, self.p_cost, Some(32)).ok()?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon.hash_password_into(passphrase, salt, &mut out[..]).ok()?;
        Some(out)
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// A passphrase: seals as a `passphrase` stanza and opens one. Zeroized on drop, never printed.
#[derive(Clone)]
pub struct Passphrase {
    secret: Zeroizing<String>,
    params: Argon2Params,
}

impl Passphrase {
    /// A passphrase with the default (OWASP) Argon2id cost.
    pub fn new(secret: impl Into<String>) -> Self {
        Passphrase { secret: Zeroizing::new(secret.into()), params: Argon2Params::default() }
    }

    /// The Argon2id cost used when sealing. Opening always uses the cost stored in the stanza.
    ///
    /// # Errors
    /// [`SealError::InvalidParameters`] when below Argon2's minima or above what readers accept.
    pub fn with_params(mut self, params: Argon2Params) -> Result<Self, SealError> {
        if !params.within_minima() {
            return Err(SealError::InvalidParameters("below Argon2's minimum cost"));
        }
        if !params.within_reader_limit() {
            return Err(SealError::InvalidParameters("above the cost readers accept"));
        }
        self.params = params;
        Ok(self)
    }

    /// The Argon2id cost used when sealing.
    pub fn params(&self) -> Argon2Params {
        self.params
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Passphrase(<redacted>, {:?})", self.params)
    }
}

impl Recipient for Passphrase {
    fn wrap(
        &self,
        key: &MessageKey,
        id: &EnvelopeId,
        rng: &mut dyn RandomSource,
    ) -> Result<Stanza, SealError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt)?;
        let p = self.params;
        let wrap = p
            .derive(self.secret.as_bytes(), &salt)
            .ok_or(SealError::InvalidParameters("rejected by Argon2"))?;
        let mut body = Vec::with_capacity(16 + 12 + WRAPPED_LEN);
        body.extend_from_slice(&salt);
        body.extend_from_slice(&p.m_cost.to_be_bytes());
        body.extend_from_slice(&p.t_cost.to_be_bytes());
        body.extend_from_slice(&p.p_cost.to_be_bytes());
        body.extend_from_slice(&wrap_key(&wrap, id, key));
        Ok(Stanza { kind: STANZA_PASSPHRASE, body })
    }
}

fn be32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(bytes);
    u32::from_be_bytes(b)
}

impl Identity for Passphrase {
    fn unwrap(&self, stanza: &Stanza, id: &EnvelopeId) -> Option<Result<MessageKey, OpenError>> {
        if stanza.kind != STANZA_PASSPHRASE || stanza.body.len() != 16 + 12 + WRAPPED_LEN {
            return None;
        }
        let body = &stanza.body;
        let params = Argon2Params {
            m_cost: be32(&body[16..20]),
            t_cost: be32(&body[20..24]),
            p_cost: be32(&body[24..28]),
        };
        // Checked before Argon2 runs, so a hostile envelope never costs more than the limit.
        if !params.within_minima() {
            return Some(Err(OpenError::Malformed("passphrase stanza parameters below Argon2's minima")));
        }
        if !params.within_reader_limit() {
            return Some(Err(OpenError::ExcessiveWork));
        }
        let wrap = params.derive(self.secret.as_bytes(), &body[..16])?;
        unwrap_key(&wrap, id, &body[28..]).map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Argon2Params = Argon2Params { m_cost: 64, t_cost: 1, p_cost: 1 };

    #[test]
    fn round_trip_wrong_passphrase_and_limits() {
        let key = MessageKey::from_bytes([5; 32]);
        let id = EnvelopeId::from_bytes([6; 16]);
        let p = Passphrase::new("correct horse").with_params(CHEAP).unwrap();
        let stanza = p.wrap(&key, &id, &mut crate::OsRandom).unwrap();
        assert_eq!(*p.unwrap(&stanza, &id).unwrap().unwrap().expose(), [5; 32]);
        assert!(Passphrase::new("wrong").unwrap(&stanza, &id).is_none());

        let mut hostile = stanza.clone();
        hostile.body[16..20].copy_from_slice(&(4 * 1024 * 1024u32).to_be_bytes());
        assert!(matches!(p.unwrap(&hostile, &id), Some(Err(OpenError::ExcessiveWork))));
        let mut zero = stanza;
        zero.body[20..24].copy_from_slice(&0u32.to_be_bytes());
        assert!(matches!(p.unwrap(&zero, &id), Some(Err(OpenError::Malformed(_)))));

        assert!(
            Passphrase::new("x").with_params(Argon2Params { m_cost: 1 << 30, t_cost: 1, p_cost: 1 }).is_err()
        );
        assert!(!format!("{p:?}").contains("horse"));
    }
}
