//! The `passphrase` recipient type (SPEC.md section 4.2): Argon2id with the cost in the stanza.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{OpenError, SealError};
use crate::key::{EnvelopeId, MessageKey};
use crate::random::RandomSource;
use crate::recipient::private::{UnwrapStanza, WrapMessageKey};
use crate::recipient::{Identity, Recipient};
use crate::stanza::{self, PASSPHRASE_BODY_LEN, PASSPHRASE_PARAMS_END, PASSPHRASE_SALT_LEN, Stanza};

/// Argon2id cost parameters, as stored in a passphrase stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    /// The most work any reader accepts (SPEC.md section 4.2): 256 MiB, 16 passes, 8 lanes.
    pub const READER_LIMIT: Argon2Params = Argon2Params { m_cost: 256 * 1024, t_cost: 16, p_cost: 8 };

    /// Argon2's own minima: `t_cost >= 1`, `p_cost >= 1`, `m_cost >= 8 * p_cost`. Computed in 64
    /// bits: the values come from untrusted stanzas and `8 * p_cost` overflows 32 bits.
    fn within_minima(self) -> bool {
        self.t_cost >= 1 && self.p_cost >= 1 && u64::from(self.m_cost) >= 8 * u64::from(self.p_cost)
    }

    /// Whether every parameter is at most `limit`'s.
    pub fn within(self, limit: Argon2Params) -> bool {
        self.m_cost <= limit.m_cost && self.t_cost <= limit.t_cost && self.p_cost <= limit.p_cost
    }

    fn derive(self, passphrase: &[u8], salt: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        let params = argon2::Params::new(self.m_cost, self.t_cost, self.p_cost, Some(32)).ok()?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon.hash_password_into(passphrase, salt, &mut out[..]).ok()?;
        Some(out)
    }

    fn read(body: &[u8]) -> Argon2Params {
        let be32 = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&body[at..at + 4]);
            u32::from_be_bytes(b)
        };
        let p = PASSPHRASE_SALT_LEN;
        Argon2Params { m_cost: be32(p), t_cost: be32(p + 4), p_cost: be32(p + 8) }
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
    max_work: Argon2Params,
}

impl Passphrase {
    /// A passphrase with the default (OWASP) Argon2id cost, opening stanzas up to
    /// [`Argon2Params::READER_LIMIT`].
    pub fn new(secret: impl Into<String>) -> Self {
        Passphrase {
            secret: Zeroizing::new(secret.into()),
            params: Argon2Params::default(),
            max_work: Argon2Params::READER_LIMIT,
        }
    }

    /// The Argon2id cost used when sealing. Opening always uses the cost stored in the stanza.
    ///
    /// # Errors
    /// [`SealError::InvalidParameters`] when below Argon2's minima or above what readers accept.
    pub fn with_params(mut self, params: Argon2Params) -> Result<Self, SealError> {
        if !params.within_minima() {
            return Err(SealError::InvalidParameters("below Argon2's minimum cost"));
        }
        if !params.within(Argon2Params::READER_LIMIT) {
            return Err(SealError::InvalidParameters("above the cost readers accept"));
        }
        self.params = params;
        Ok(self)
    }

    /// The most work opening may cost: stanzas asking for more give
    /// [`OpenError::ExcessiveWork`] without running Argon2. Never above
    /// [`Argon2Params::READER_LIMIT`] (larger values are lowered to it). A program that opens mail
    /// automatically (a fetch) should set this to the cost it seals with, so that a hostile mail
    /// cannot make it spend more than the user's own envelopes do.
    pub fn with_max_work(mut self, limit: Argon2Params) -> Self {
        let cap = Argon2Params::READER_LIMIT;
        self.max_work = Argon2Params {
            m_cost: limit.m_cost.min(cap.m_cost),
            t_cost: limit.t_cost.min(cap.t_cost),
            p_cost: limit.p_cost.min(cap.p_cost),
        };
        self
    }

    /// The Argon2id cost used when sealing.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// The most work opening may cost.
    pub fn max_work(&self) -> Argon2Params {
        self.max_work
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passphrase")
            .field("secret", &"<redacted>")
            .field("params", &self.params)
            .field("max_work", &self.max_work)
            .finish()
    }
}

impl Recipient for Passphrase {}

impl WrapMessageKey for Passphrase {
    fn wrap_message_key(
        &self,
        key: &MessageKey,
        id: &EnvelopeId,
        rng: &mut dyn RandomSource,
    ) -> Result<Stanza, SealError> {
        let mut salt = [0u8; PASSPHRASE_SALT_LEN];
        rng.fill(&mut salt)?;
        let p = self.params;
        let secret = p
            .derive(self.secret.as_bytes(), &salt)
            .ok_or(SealError::InvalidParameters("rejected by Argon2"))?;
        let mut body = Vec::with_capacity(PASSPHRASE_BODY_LEN);
        body.extend_from_slice(&salt);
        for value in [p.m_cost, p.t_cost, p.p_cost] {
            body.extend_from_slice(&value.to_be_bytes());
        }
        body.extend_from_slice(&stanza::wrap(&secret, id, key));
        Ok(Stanza { kind: stanza::PASSPHRASE, body })
    }

    fn is_passphrase(&self) -> bool {
        true
    }
}

impl Identity for Passphrase {}

impl UnwrapStanza for Passphrase {
    fn unwrap_stanza(&self, stanza: &Stanza, id: &EnvelopeId) -> Option<Result<MessageKey, OpenError>> {
        if stanza.kind != stanza::PASSPHRASE || stanza.body.len() != PASSPHRASE_BODY_LEN {
            return None;
        }
        let body = &stanza.body;
        let params = Argon2Params::read(body);
        // Checked before Argon2 runs, so a hostile envelope never costs more than the limit.
        if !params.within_minima() {
            return Some(Err(OpenError::Malformed("passphrase stanza parameters below Argon2's minima")));
        }
        if !params.within(self.max_work) {
            return Some(Err(OpenError::ExcessiveWork));
        }
        let secret = params.derive(self.secret.as_bytes(), &body[..PASSPHRASE_SALT_LEN])?;
        stanza::unwrap(&secret, id, &body[PASSPHRASE_PARAMS_END..])
    }
}

/// A passphrase asked for only when an envelope has a passphrase stanza: `ask` runs at most once,
/// the first time one is met (a terminal prompt, a dialog, a callback from another language).
/// Its answer is kept, zeroized on drop, for the other stanzas and envelopes it opens.
pub struct PassphrasePrompt {
    ask: Box<dyn Fn() -> Option<String> + Send + Sync>,
    answer: std::sync::OnceLock<Option<Passphrase>>,
    max_work: Argon2Params,
}

impl PassphrasePrompt {
    /// Ask with `ask`; `None` (no answer, or an empty one) means "no passphrase": the stanza is
    /// not opened.
    pub fn new(ask: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        PassphrasePrompt {
            ask: Box::new(ask),
            answer: std::sync::OnceLock::new(),
            max_work: Argon2Params::READER_LIMIT,
        }
    }

    /// As [`Passphrase::with_max_work`].
    pub fn with_max_work(mut self, limit: Argon2Params) -> Self {
        self.max_work = Passphrase::new(String::new()).with_max_work(limit).max_work;
        self
    }
}

impl fmt::Debug for PassphrasePrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphrasePrompt")
            .field("asked", &self.answer.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Identity for PassphrasePrompt {}

impl UnwrapStanza for PassphrasePrompt {
    fn unwrap_stanza(&self, stanza: &Stanza, id: &EnvelopeId) -> Option<Result<MessageKey, OpenError>> {
        if stanza.kind != stanza::PASSPHRASE {
            return None;
        }
        let passphrase = self.answer.get_or_init(|| {
            let answer = Zeroizing::new((self.ask)()?);
            (!answer.is_empty()).then(|| Passphrase::new(answer.as_str()).with_max_work(self.max_work))
        });
        passphrase.as_ref()?.unwrap_stanza(stanza, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Argon2Params = Argon2Params { m_cost: 64, t_cost: 1, p_cost: 1 };

    fn stanza_with(params: Argon2Params) -> Stanza {
        let mut body = vec![0u8; PASSPHRASE_BODY_LEN];
        for (i, v) in [params.m_cost, params.t_cost, params.p_cost].into_iter().enumerate() {
            body[16 + 4 * i..20 + 4 * i].copy_from_slice(&v.to_be_bytes());
        }
        Stanza { kind: stanza::PASSPHRASE, body }
    }

    #[test]
    fn round_trip_wrong_passphrase_and_limits() {
        let key = MessageKey::from_bytes([5; 32]);
        let id = EnvelopeId::from_bytes([6; 16]);
        let p = Passphrase::new("correct horse").with_params(CHEAP).unwrap();
        let stanza = p.wrap_message_key(&key, &id, &mut crate::random::OsRandom).unwrap();
        assert_eq!(*p.unwrap_stanza(&stanza, &id).unwrap().unwrap().expose(), [5; 32]);
        assert!(Passphrase::new("wrong").unwrap_stanza(&stanza, &id).is_none());

        let hostile = stanza_with(Argon2Params { m_cost: 4 << 20, ..CHEAP });
        assert!(matches!(p.unwrap_stanza(&hostile, &id), Some(Err(OpenError::ExcessiveWork))));
        let zero = stanza_with(Argon2Params { t_cost: 0, ..CHEAP });
        assert!(matches!(p.unwrap_stanza(&zero, &id), Some(Err(OpenError::Malformed(_)))));

        assert!(
            Passphrase::new("x").with_params(Argon2Params { m_cost: 1 << 30, t_cost: 1, p_cost: 1 }).is_err()
        );
        assert!(!format!("{p:?}").contains("horse"));
    }

    /// `8 * p_cost` in 32 bits overflowed for `p_cost = 2^29` (a panic in debug builds, a wrong
    /// answer in release builds). The stanza must be malformed: `m_cost = 1 < 8 * 2^29`.
    #[test]
    fn minima_check_does_not_overflow() {
        let id = EnvelopeId::from_bytes([6; 16]);
        let p = Passphrase::new("x");
        for p_cost in [1 << 29, u32::MAX, (1 << 29) + 1] {
            let hostile = stanza_with(Argon2Params { m_cost: 1, t_cost: 1, p_cost });
            assert!(matches!(p.unwrap_stanza(&hostile, &id), Some(Err(OpenError::Malformed(_)))), "{p_cost}");
        }
        let huge = stanza_with(Argon2Params { m_cost: u32::MAX, t_cost: u32::MAX, p_cost: u32::MAX });
        assert!(matches!(p.unwrap_stanza(&huge, &id), Some(Err(OpenError::Malformed(_)))), "minima first");
        let costly = stanza_with(Argon2Params { m_cost: u32::MAX, t_cost: u32::MAX, p_cost: 1 });
        assert!(matches!(p.unwrap_stanza(&costly, &id), Some(Err(OpenError::ExcessiveWork))));
    }

    #[test]
    fn a_prompt_is_asked_once_and_only_for_passphrase_stanzas() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let key = MessageKey::from_bytes([5; 32]);
        let id = EnvelopeId::from_bytes([6; 16]);
        let stanza = Passphrase::new("pw")
            .with_params(CHEAP)
            .unwrap()
            .wrap_message_key(&key, &id, &mut crate::random::OsRandom)
            .unwrap();
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let prompt = PassphrasePrompt::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Some("pw".into())
        });
        let other = Stanza { kind: stanza::KEY_SLIP, body: vec![0; 16] };
        assert!(prompt.unwrap_stanza(&other, &id).is_none());
        assert_eq!(asked.load(Ordering::SeqCst), 0, "not asked for another kind of stanza");
        assert_eq!(*prompt.unwrap_stanza(&stanza, &id).unwrap().unwrap().expose(), [5; 32]);
        assert!(prompt.unwrap_stanza(&stanza, &id).is_some());
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        let refused = PassphrasePrompt::new(|| None);
        assert!(refused.unwrap_stanza(&stanza, &id).is_none());
    }

    #[test]
    fn max_work_lowers_what_opening_accepts() {
        let key = MessageKey::from_bytes([5; 32]);
        let id = EnvelopeId::from_bytes([6; 16]);
        let costly = Argon2Params { m_cost: 128, ..CHEAP };
        let stanza = Passphrase::new("pw")
            .with_params(costly)
            .unwrap()
            .wrap_message_key(&key, &id, &mut crate::random::OsRandom)
            .unwrap();
        let strict = Passphrase::new("pw").with_max_work(CHEAP);
        assert!(matches!(strict.unwrap_stanza(&stanza, &id), Some(Err(OpenError::ExcessiveWork))));
        assert!(Passphrase::new("pw").with_max_work(costly).unwrap_stanza(&stanza, &id).unwrap().is_ok());
        let prompt = PassphrasePrompt::new(|| Some("pw".into())).with_max_work(CHEAP);
        assert!(matches!(prompt.unwrap_stanza(&stanza, &id), Some(Err(OpenError::ExcessiveWork))));
        let capped = Passphrase::new("pw").with_max_work(Argon2Params { m_cost: u32::MAX, ..CHEAP });
        assert_eq!(capped.max_work().m_cost, Argon2Params::READER_LIMIT.m_cost);
    }
}
