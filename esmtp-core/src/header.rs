//! The envelope header (SPEC.md section 3): reading, writing and the header MAC.

use std::io::Read;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::error::OpenError;
use crate::key::{EnvelopeId, MessageKey};
use crate::stanza::{self, Stanza};
use crate::suite::Suite;

/// `magic = "ESMTPENV"`
pub(crate) const MAGIC: &[u8; 8] = b"ESMTPENV";
/// The only format version this library reads and writes.
pub const FORMAT_VERSION: u8 = 0x01;
const MAC_LEN: usize = 32;
/// magic, version, suite, ID and count.
const FIXED_LEN: usize = 8 + 1 + 1 + 16 + 1;

/// A parsed header. Its MAC is checked by [`Header::verify`], once the message key is known.
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
    let mac_key = zeroize::Zeroizing::new(key.derive::<32>(id, b"esmtp/v1 header"));
    // Invariant: HMAC takes keys of any length.
    #[allow(clippy::expect_used)]
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&mac_key[..]).expect("HMAC accepts a 32-byte key");
    mac.update(covered);
    mac
}

impl Header {
    /// Serialize a header for sealing. The caller has checked the stanzas with [`stanza::check`].
    pub(crate) fn write(suite: Suite, id: &EnvelopeId, stanzas: &[Stanza], key: &MessageKey) -> Header {
        let mut covered =
            Vec::with_capacity(FIXED_LEN + stanzas.iter().map(|s| 3 + s.body.len()).sum::<usize>());
        covered.extend_from_slice(MAGIC);
        covered.push(FORMAT_VERSION);
        covered.push(suite.id());
        covered.extend_from_slice(id.as_bytes());
        // Invariant: `stanza::check` bounds the count to 1..=64 and every body to 65535 bytes.
        #[allow(clippy::expect_used)]
        covered.push(u8::try_from(stanzas.len()).expect("at most 64 stanzas"));
        for s in stanzas {
            covered.push(s.kind);
            #[allow(clippy::expect_used)]
            let len = u16::try_from(s.body.len()).expect("stanza bodies of at most 65535 bytes");
            covered.extend_from_slice(&len.to_be_bytes());
            covered.extend_from_slice(&s.body);
        }
        let mac = header_mac(key, id, &covered).finalize().into_bytes().into();
        Header { suite, id: *id, stanzas: stanzas.to_vec(), covered, mac }
    }

    /// The header's bytes, MAC included.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.covered.len() + MAC_LEN);
        out.extend_from_slice(&self.covered);
        out.extend_from_slice(&self.mac);
        out
    }

    /// `SHA-512` of the header's bytes, MAC included: what a signature covers (SPEC.md section 5.4).
    pub(crate) fn sha512(&self) -> [u8; 64] {
        let mut h = Sha512::new();
        h.update(&self.covered);
        h.update(self.mac);
        h.finalize().into()
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
        // Checked before reading on, so that at most 64 bodies of at most 64 KiB are read.
        if count == 0 || count > stanza::MAX_STANZAS {
            return Err(OpenError::Malformed(stanza::Violation::Count.reason()));
        }
        let mut stanzas = Vec::with_capacity(count);
        for _ in 0..count {
            let at = covered.len();
            take(3, &mut covered)?;
            let kind = covered[at];
            let len = usize::from(u16::from_be_bytes([covered[at + 1], covered[at + 2]]));
            if Stanza::fixed_body_len(kind).is_some_and(|fixed| fixed != len) {
                return Err(OpenError::Malformed(stanza::Violation::BodyLength.reason()));
            }
            take(len, &mut covered)?;
            stanzas.push(Stanza { kind, body: covered[at + 3..].to_vec() });
        }
        stanza::check(stanzas.iter().map(|s| (s.kind, s.body.len())))
            .map_err(|v| OpenError::Malformed(v.reason()))?;
        let mut mac = [0u8; MAC_LEN];
        read_exact_or(input, &mut mac)?;
        Ok(Header { suite, id: EnvelopeId::from_bytes(id), stanzas, covered, mac })
    }

    /// Check the header MAC with a recovered key (constant time, by `verify_slice`).
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
    /// The kind of each stanza, in order.
    pub stanzas: Vec<StanzaKind>,
}

/// The kind of a stanza, as [`inspect`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StanzaKind {
    /// An X25519 public-key recipient (SPEC.md section 4.1).
    X25519,
    /// A passphrase (SPEC.md section 4.2).
    Passphrase,
    /// A key slip (SPEC.md section 4.3).
    KeySlip,
    /// A type this library does not know (skipped when opening).
    Unknown(u8),
}

impl StanzaKind {
    fn from_byte(kind: u8) -> Self {
        match kind {
            stanza::X25519 => StanzaKind::X25519,
            stanza::PASSPHRASE => StanzaKind::Passphrase,
            stanza::KEY_SLIP => StanzaKind::KeySlip,
            other => StanzaKind::Unknown(other),
        }
    }
}

/// Read the header of an envelope (binary or armored) without opening it.
///
/// The header MAC is not checked, since that needs the message key: treat the answer as a hint.
///
/// # Errors
/// [`OpenError::Malformed`], [`OpenError::UnsupportedVersion`] or [`OpenError::UnsupportedSuite`].
pub fn inspect(envelope: &[u8]) -> Result<EnvelopeInfo, OpenError> {
    let mut input = crate::armor::auto_reader(envelope);
    let header = Header::read(&mut input)?;
    Ok(EnvelopeInfo {
        suite: header.suite,
        envelope_id: header.id,
        stanzas: header.stanzas.iter().map(|s| StanzaKind::from_byte(s.kind)).collect(),
    })
}
