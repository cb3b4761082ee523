//! The envelope header (SPEC.md section 3): reading, writing and the header MAC.

use std::io::Read;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::OpenError;
use crate::key::{EnvelopeId, MessageKey};
use crate::recipient::Stanza;
use crate::suite::Suite;

/// `magic = "ESMTPENV"`
pub(crate) const MAGIC: &[u8; 8] = b"ESMTPENV";
/// The only format version this library reads and writes.
pub const FORMAT_VERSION: u8 = 0x01;
/// SPEC.md section 3: `count = 1 byte, 1..64`.
pub(crate) const MAX_STANZAS: usize = 64;
const MAC_LEN: usize = 32;

/// A parsed header whose MAC has not been checked yet (that needs the message key).
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) suite: Suite,
    pub(crate) id: EnvelopeId,
    pub(crate) stanzas: Vec<Stanza>,
    /// Every header byte before the MAC, as read: the MAC is checked over these exact bytes.
    covered: Vec<u8>,
    mac: [u8; MAC_LEN],
}

fn header_mac(key: &MessageKey, id: &EnvelopeId, covered: &[u8]) -> Hmac<Sha256> {
    let mut mac_key: [u8; 32] = key.derive(id, b"esmtp/v1 header");
    #[allow(clippy::expect_used)]
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&mac_key).expect("HMAC takes keys of any length");
    zeroize::Zeroize::zeroize(&mut mac_key);
    mac.update(covered);
    mac
}

impl Header {
    /// Build and serialize a header for sealing.
    pub(crate) fn write(suite: Suite, id: &EnvelopeId, stanzas: &[Stanza], key: &MessageKey) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + stanzas.iter().map(|s| 3 + s.body.len()).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.push(suite.id());
        out.extend_from_slice(id.as_bytes());
        // Callers check the count and body sizes (at most 64 stanzas, bodies < 64 KiB).
        out.push(stanzas.len() as u8);
        for stanza in stanzas {
            out.push(stanza.kind);
            out.extend_from_slice(&(stanza.body.len() as u16).to_be_bytes());
            out.extend_from_slice(&stanza.body);
        }
        let mac = header_mac(key, id, &out).finalize().into_bytes();
        out.extend_from_slice(&mac);
        out
    }

    /// Read a header from the start of `input`, consuming exactly its bytes.
    pub(crate) fn read(input: &mut dyn Read) -> Result<Header, OpenError> {
        let mut covered = Vec::with_capacity(256);
        let mut take = |n: usize, covered: &mut Vec<u8>| -> Result<(), OpenError> {
            let start = covered.len();
            covered.resize(start + n, 0);
            read_exact_or(input, &mut covered[start..])
        };
        take(MAGIC.len(), &mut covered)?;
        if &covered[..] != MAGIC {
            return Err(OpenError::Malformed("not an esmtp envelope (bad magic)"));
        }
        take(1, &mut covered)?;
        if covered[8] != FORMAT_VERSION {
            return Err(OpenError::UnsupportedVersion(covered[8]));
        }
        take(1, &mut covered)?;
        let suite = Suite::from_id(covered[9]).ok_or(OpenError::UnsupportedSuite(covered[9]))?;
        take(16 + 1, &mut covered)?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&covered[10..26]);
        let count = usize::from(covered[26]);
        if count == 0 || count > MAX_STANZAS {
            return Err(OpenError::Malformed("stanza count out of range"));
        }
        let mut stanzas = Vec::with_capacity(count);
        for _ in 0..count {
            let at = covered.len();
            take(3, &mut covered)?;
            let kind = covered[at];
            let len = usize::from(u16::from_be_bytes([covered[at + 1], covered[at + 2]]));
            if Stanza::fixed_body_len(kind).is_some_and(|fixed| fixed != len) {
                return Err(OpenError::Malformed("stanza body has the wrong length for its type"));
            }
            take(len, &mut covered)?;
            stanzas.push(Stanza { kind, body: covered[at + 3..].to_vec() });
        }
        if stanzas.iter().filter(|s| s.kind == crate::recipient::STANZA_PASSPHRASE).count() > 1 {
            // Each passphrase stanza may cost up to the Argon2 ceiling; one per envelope bounds it.
            return Err(OpenError::Malformed("more than one passphrase stanza"));
        }
        let mut mac = [0u8; MAC_LEN];
        read_exact_or(input, &mut mac)?;
        Ok(Header { suite, id: EnvelopeId::from_bytes(id), stanzas, covered, mac })
    }

    /// Check the header MAC with a recovered key (constant time).
    pub(crate) fn verify(&self, key: &MessageKey) -> Result<(), OpenError> {
        header_mac(key, &self.id, &self.covered)
            .verify_slice(&self.mac)
            .map_err(|_| OpenError::DecryptionFailed)
    }
}

/// `read_exact`, with the end of input reported as a malformed (truncated) header.
fn read_exact_or(input: &mut dyn Read, buf: &mut [u8]) -> Result<(), OpenError> {
    input.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => OpenError::Malformed("truncated header"),
        _ => OpenError::from(e),
    })
}

/// What the header of an envelope says, readable without any key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvelopeInfo {
    /// The cipher suite.
    pub suite: Suite,
    /// The envelope id.
    pub envelope_id: EnvelopeId,
    /// The type byte of each stanza, in order.
    pub stanza_kinds: Vec<u8>,
}

/// Read the header of an envelope (binary or armored) without opening it.
///
/// The header MAC is not checked, since that needs the message key: treat the answer as a hint.
///
/// # Errors
/// [`OpenError::Malformed`], [`OpenError::UnsupportedVersion`] or [`OpenError::UnsupportedSuite`].
pub fn inspect(envelope: &[u8]) -> Result<EnvelopeInfo, OpenError> {
    let mut input = crate::armor::auto_reader(envelope)?;
    let header = Header::read(&mut input)?;
    Ok(EnvelopeInfo {
        suite: header.suite,
        envelope_id: header.id,
        stanza_kinds: header.stanzas.iter().map(|s| s.kind).collect(),
    })
}
