//! The chunk stream around the message (SPEC.md sections 5 and 5.4): a prefix that says whether
//! the envelope is signed (and by whom), the message, and a suffix with the paper's MD5 digest
//! (`des-cbc-md5`) and the signature. Sealing and opening both take their layout from here.

use sha2::{Digest, Sha512};

use crate::x25519::X25519Recipient;

/// `F = 0x00`: unsigned.
pub(crate) const UNSIGNED: u8 = 0x00;
/// `F = 0x01`: signed; the signer's public keys follow.
pub(crate) const SIGNED: u8 = 0x01;
/// `A`: the signer's public keys, as in their text form (X25519 || Ed25519).
pub(crate) const SIGNER_LEN: usize = 64;
/// `SIG`: an Ed25519 signature.
pub(crate) const SIGNATURE_LEN: usize = 64;
/// `D`: the MD5 digest of the message (`des-cbc-md5` only).
pub(crate) const DIGEST_LEN: usize = 16;
/// The longest prefix: `F || A`.
pub(crate) const MAX_PREFIX_LEN: usize = 1 + SIGNER_LEN;

/// Who signed an opened envelope. A signature that does not verify is never reported here: it
/// is an error ([`crate::OpenError::BadSignature`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signature {
    /// The envelope carries no signature. Anyone who holds its message key (every recipient, the
    /// holder of a key slip or of the passphrase) could have made it.
    Unsigned,
    /// Signed by `signer`, verified over the whole header and the whole message.
    Signed {
        /// The signer's public keys (their text form is their recipient, `esmtp1...`).
        signer: X25519Recipient,
    },
}

impl Signature {
    /// The signer, if signed.
    pub fn signer(&self) -> Option<&X25519Recipient> {
        match self {
            Signature::Unsigned => None,
            Signature::Signed { signer } => Some(signer),
        }
    }
}

/// The suffix's length: `D` when the suite carries a digest, `SIG` when signed.
pub(crate) fn suffix_len(digest: bool, signed: bool) -> usize {
    (if digest { DIGEST_LEN } else { 0 }) + (if signed { SIGNATURE_LEN } else { 0 })
}

/// The signed transcript (SPEC.md section 5.4): `SHA-512` of everything in the chunk stream before
/// `SIG`, bound to the header.
pub(crate) struct Transcript {
    header: [u8; 64],
    stream: Sha512,
}

impl Transcript {
    pub(crate) fn new(header_sha512: [u8; 64]) -> Self {
        Transcript { header: header_sha512, stream: Sha512::new() }
    }

    pub(crate) fn update(&mut self, stream_bytes: &[u8]) {
        self.stream.update(stream_bytes);
    }

    /// `M = "esmtp/v1 signature" || SHA-512(header) || SHA-512(chunk stream before SIG)`
    pub(crate) fn message(self) -> Vec<u8> {
        let mut m = Vec::with_capacity(18 + 128);
        m.extend_from_slice(b"esmtp/v1 signature");
        m.extend_from_slice(&self.header);
        m.extend_from_slice(&self.stream.finalize());
        m
    }
}
