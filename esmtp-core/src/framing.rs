//! The chunk stream around the message (SPEC.md sections 5 and 5.4): a prefix that says whether
//! the envelope is signed (and by whom), the message, and a suffix with the paper's MD5 digest
//! (`des-cbc-md5`) and the signature. Sealing and opening both take their layout from here, and
//! opening its checks (the prefix of chunk 0, the suffix after the final chunk).

use md5::Md5;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::error::OpenError;
use crate::key::EnvelopeId;
use crate::suite::Suite;
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

/// What opening the chunk stream needs from the header and the opener.
pub(crate) struct Context<'a> {
    pub(crate) id: EnvelopeId,
    pub(crate) header_sha512: [u8; 64],
    pub(crate) required_signers: &'a [X25519Recipient],
}

/// What the prefix `F [|| A]` at the start of chunk 0 says (SPEC.md section 5.4).
pub(crate) struct Prefix {
    /// Its length: where the message starts in the chunk stream.
    pub(crate) len: usize,
    /// The suffix's length, held back at the end of the stream until the final chunk.
    pub(crate) hold_back: usize,
    /// Who claims to have signed; verified at the end.
    pub(crate) signature: Signature,
    /// Signed envelopes: the transcript, the prefix in it.
    pub(crate) transcript: Option<Transcript>,
}

/// Read the prefix from the plaintext of chunk 0, and check the signer against the required ones
/// before anything is released.
pub(crate) fn read_prefix(suite: Suite, chunk0: &[u8], context: &Context<'_>) -> Result<Prefix, OpenError> {
    let len = match chunk0.first() {
        Some(&UNSIGNED) => 1,
        Some(&SIGNED) => 1 + SIGNER_LEN,
        _ => return Err(OpenError::DecryptionFailed),
    };
    if chunk0.len() < len {
        return Err(OpenError::DecryptionFailed);
    }
    let signed = len > 1;
    let (signature, transcript) = if signed {
        let signer =
            X25519Recipient::from_signer_bytes(&chunk0[1..len]).map_err(|_| OpenError::BadSignature)?;
        let mut transcript = Transcript::new(context.header_sha512);
        transcript.update(&chunk0[..len]);
        (Signature::Signed { signer }, Some(transcript))
    } else {
        (Signature::Unsigned, None)
    };
    if !context.required_signers.is_empty() {
        match &signature {
            Signature::Signed { signer } if context.required_signers.contains(signer) => {}
            other => return Err(OpenError::UnexpectedSigner(other.signer().cloned())),
        }
    }
    let hold_back = suffix_len(suite.carries_digest(), signed);
    Ok(Prefix { len, hold_back, signature, transcript })
}

/// Check the suffix `[D] [SIG]` against the message's MD5 (`des-cbc-md5`) and the transcript
/// (signed envelopes), both fed with every message byte; the verified digest.
pub(crate) fn check_suffix(
    suffix: &[u8],
    md5: Option<Md5>,
    mut transcript: Option<Transcript>,
    signature: &Signature,
) -> Result<Option<[u8; 16]>, OpenError> {
    let mut rest = suffix;
    let mut carried_md5 = None;
    if let Some(md5) = md5 {
        let computed: [u8; 16] = md5.finalize().into();
        let carried = rest.get(..DIGEST_LEN).ok_or(OpenError::DecryptionFailed)?;
        if !bool::from(computed.ct_eq(carried)) {
            return Err(OpenError::DecryptionFailed);
        }
        if let Some(transcript) = &mut transcript {
            transcript.update(carried);
        }
        carried_md5 = Some(computed);
        rest = &rest[DIGEST_LEN..];
    }
    if let (Some(transcript), Signature::Signed { signer }) = (transcript, signature) {
        let signature: &[u8; SIGNATURE_LEN] = rest.try_into().map_err(|_| OpenError::DecryptionFailed)?;
        if !signer.verify(&transcript.message(), signature) {
            return Err(OpenError::BadSignature);
        }
    }
    Ok(carried_md5)
}
