//! Key slips (SPEC.md section 4.3): the paper's "random key is sent to the receiver on his/her
//! account", as a short checksummed token delivered apart from the envelope.

use std::fmt;
use std::str::FromStr;

use subtle::ConstantTimeEq;

use crate::error::{OpenError, ParseKeyError};
use crate::key::{EnvelopeId, MESSAGE_KEY_LEN, MessageKey};
use crate::recipient::Identity;
use crate::recipient::private::UnwrapStanza;
use crate::stanza::{self, KEY_SLIP_BODY_LEN, Stanza};
use crate::text;

const SLIP_HRP: &str = "ESMTP-SLIP-";

/// The message key of one envelope, bound to that envelope's id.
///
/// Whoever holds it can open that one envelope. Zeroized on drop; `Debug` shows only the id.
#[derive(Clone)]
pub struct KeySlip {
    id: EnvelopeId,
    key: MessageKey,
}

impl KeySlip {
    pub(crate) fn new(id: EnvelopeId, key: MessageKey) -> Self {
        KeySlip { id, key }
    }

    /// The envelope this slip opens.
    pub fn envelope_id(&self) -> EnvelopeId {
        self.id
    }

    /// The text token (`ESMTP-SLIP-1...`, Bech32 with checksum) to deliver to the receiver.
    ///
    /// Parsing it back ignores whitespace, so a token wrapped over lines by a mail client or
    /// split for reading aloud still works.
    pub fn to_token(&self) -> zeroize::Zeroizing<String> {
        let mut data = zeroize::Zeroizing::new([0u8; 16 + MESSAGE_KEY_LEN]);
        data[..16].copy_from_slice(self.id.as_bytes());
        data[16..].copy_from_slice(self.key.expose());
        text::encode(SLIP_HRP, &data[..], true)
    }

    /// The stanza recording this slip in the header: `HKDF(K, ID, "esmtp/v1 key-slip", 16)`.
    pub(crate) fn stanza(&self) -> Stanza {
        Stanza { kind: stanza::KEY_SLIP, body: slip_id(&self.key, &self.id).to_vec() }
    }
}

fn slip_id(key: &MessageKey, id: &EnvelopeId) -> [u8; KEY_SLIP_BODY_LEN] {
    key.derive(id, b"esmtp/v1 key-slip")
}

impl FromStr for KeySlip {
    type Err = ParseKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let data = text::decode_exact::<{ 16 + MESSAGE_KEY_LEN }>(s, SLIP_HRP)?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&data[..16]);
        let mut key = MessageKey::from_bytes([0u8; MESSAGE_KEY_LEN]);
        key.expose_mut().copy_from_slice(&data[16..]);
        Ok(KeySlip { id: EnvelopeId::from_bytes(id), key })
    }
}

impl fmt::Debug for KeySlip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySlip {{ envelope_id: {}, key: <redacted> }}", self.id)
    }
}

impl Identity for KeySlip {}

impl UnwrapStanza for KeySlip {
    fn unwrap_stanza(&self, stanza: &Stanza, id: &EnvelopeId) -> Option<Result<MessageKey, OpenError>> {
        if stanza.kind != stanza::KEY_SLIP || *id != self.id {
            return None;
        }
        let matches = stanza.body.len() == KEY_SLIP_BODY_LEN
            && bool::from(stanza.body.ct_eq(&slip_id(&self.key, id)[..]));
        matches.then(|| Ok(self.key.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_binds_to_the_envelope() {
        let id = EnvelopeId::from_bytes([1; 16]);
        let slip = KeySlip::new(id, MessageKey::from_bytes([2; 32]));
        let token = slip.to_token();
        assert!(token.starts_with("ESMTP-SLIP-1"));
        let parsed: KeySlip = token.parse().unwrap();
        assert_eq!(parsed.envelope_id(), id);
        let stanza = slip.stanza();
        assert!(parsed.unwrap_stanza(&stanza, &id).is_some());
        assert!(parsed.unwrap_stanza(&stanza, &EnvelopeId::from_bytes([9; 16])).is_none());
        let other = KeySlip::new(id, MessageKey::from_bytes([3; 32]));
        assert!(other.unwrap_stanza(&stanza, &id).is_none());
        assert!(!format!("{slip:?}").contains(&token[12..30]));
        let wrapped: String = token
            .chars()
            .collect::<Vec<_>>()
            .chunks(40)
            .map(|c| c.iter().collect::<String>() + "\n  ")
            .collect();
        assert_eq!(wrapped.parse::<KeySlip>().unwrap().envelope_id(), id);
    }
}
