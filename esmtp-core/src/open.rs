//! Opening: one call that releases nothing before the whole envelope checked, or a streaming
//! reader that releases each chunk only after its tag or MAC checked.

use std::fmt;
use std::io::{self, Read};
use std::sync::OnceLock;

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::OpenError;
use crate::framing::{self, Signature, Transcript};
use crate::header::Header;
use crate::key::{EnvelopeId, MessageKey};
use crate::recipient::Identity;
use crate::suite::{CHUNK_SIZE, ChunkCipher, Suite};
use crate::x25519::X25519Recipient;

/// Opens envelopes with a set of identities (secret keys, passphrases, key slips).
#[derive(Default)]
pub struct Opener {
    identities: Vec<Box<dyn Identity>>,
    required_signers: Vec<X25519Recipient>,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("identities", &self.identities.len())
            .field("required_signers", &self.required_signers)
            .finish()
    }
}

/// An opened, authenticated message.
pub struct Opened {
    plaintext: Zeroizing<Vec<u8>>,
    suite: Suite,
    envelope_id: EnvelopeId,
    signature: Signature,
    /// For `des-cbc-md5` the digest the envelope carried (verified); else computed when asked.
    md5: OnceLock<[u8; 16]>,
}

impl Opened {
    /// The plaintext.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    /// The plaintext, owned (zeroized when dropped).
    pub fn into_plaintext(self) -> Zeroizing<Vec<u8>> {
        self.plaintext
    }

    /// The envelope's cipher suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The envelope's id.
    pub fn envelope_id(&self) -> EnvelopeId {
        self.envelope_id
    }

    /// Whether, and by whom, the envelope was signed (verified).
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// MD5 of the plaintext: the paper's integrity hash. For `des-cbc-md5` it is the digest the
    /// envelope carried, verified; for other suites it is computed on the first call.
    pub fn md5(&self) -> [u8; 16] {
        *self.md5.get_or_init(|| Md5::digest(&self.plaintext[..]).into())
    }

    /// [`Opened::md5`] as 32 lower-case hex digits.
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5())
    }
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("suite", &self.suite)
            .field("envelope_id", &self.envelope_id)
            .field("signature", &self.signature)
            .field("len", &self.plaintext.len())
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// An opener with no identities yet.
    pub fn new() -> Self {
        Opener::default()
    }

    /// Add an identity ([`crate::X25519Identity`], [`crate::Passphrase`], [`crate::KeySlip`]).
    pub fn identity(mut self, identity: impl Identity + 'static) -> Self {
        self.identities.push(Box::new(identity));
        self
    }

    /// Require a signature by `signer` (repeatable: any of the given signers will do). An
    /// unsigned envelope, or one signed by someone else, then fails with
    /// [`OpenError::UnexpectedSigner`] before any plaintext is released.
    pub fn require_signer(mut self, signer: X25519Recipient) -> Self {
        self.required_signers.push(signer);
        self
    }

    /// Open a binary or armored envelope in one call.
    ///
    /// # Errors
    /// See [`OpenError`]; on any error no plaintext is returned.
    pub fn open(&self, envelope: &[u8]) -> Result<Opened, OpenError> {
        let input = crate::armor::auto_reader(envelope);
        let mut reader = self.open_reader(input)?;
        // Sized so that reading never reallocates (a reallocation would leave a copy of the
        // plaintext behind, unzeroized): the plaintext is shorter than the envelope.
        let mut plaintext = Zeroizing::new(Vec::with_capacity(envelope.len()));
        reader.read_to_end(&mut plaintext).map_err(OpenError::from_io)?;
        let md5 = OnceLock::new();
        if let Some(digest) = reader.carried_md5() {
            let _ = md5.set(digest);
        }
        Ok(Opened {
            plaintext,
            suite: reader.suite,
            envelope_id: reader.id,
            signature: reader.signature.clone(),
            md5,
        })
    }

    /// Read the header from `input`, recover the message key, check the header MAC and read the
    /// first chunk (which says who signed, checked against [`Opener::require_signer`]); the
    /// returned reader then yields the plaintext chunk by chunk. Binary input only: wrap armored
    /// input in [`crate::ArmorReader`] first.
    ///
    /// A signature is verified at the end of the stream: the read that reaches the end fails
    /// with [`OpenError::BadSignature`] (see [`OpenError::from_io`]) when it does not verify.
    ///
    /// # Errors
    /// See [`OpenError`].
    pub fn open_reader<R: Read>(&self, mut input: R) -> Result<OpenReader<R>, OpenError> {
        let header = Header::read(&mut input)?;
        let key = self.recover_key(&header)?;
        header.verify(&key)?;
        // A DES key that breaks the suite's rules cannot come from a conforming sealer.
        let cipher = ChunkCipher::new(header.suite, &key, &header.id).ok_or(OpenError::DecryptionFailed)?;
        let wire_len = header.suite.wire_chunk_len();
        let mut reader = OpenReader {
            input,
            suite: header.suite,
            id: header.id,
            header_sha512: header.sha512(),
            cipher,
            index: 0,
            wire: Vec::with_capacity(wire_len + 1),
            wire_len,
            plain: Zeroizing::new(Vec::with_capacity(CHUNK_SIZE + framing::MAX_PREFIX_LEN)),
            released: 0,
            hashed: 0,
            hold_back: 0,
            md5: header.suite.carries_digest().then(Md5::new),
            transcript: None,
            signature: Signature::Unsigned,
            carried_md5: None,
            required_signers: self.required_signers.clone(),
            state: State::Reading,
        };
        reader.next_chunk()?;
        Ok(reader)
    }

    /// SPEC.md section 3 step 5: the first stanza any identity opens wins; an identity error is
    /// reported only when no stanza yields a key.
    fn recover_key(&self, header: &Header) -> Result<MessageKey, OpenError> {
        let mut first_error = None;
        for stanza in &header.stanzas {
            for identity in &self.identities {
                match identity.unwrap_stanza(stanza, &header.id) {
                    Some(Ok(key)) => return Ok(key),
                    Some(Err(e)) => {
                        first_error.get_or_insert(e);
                    }
                    None => {}
                }
            }
        }
        Err(first_error.unwrap_or(OpenError::NoMatchingRecipient))
    }
}

enum State {
    Reading,
    Done,
    /// Sticky: a reader that failed once never yields data again.
    Failed(Failure),
}

#[derive(Clone, Copy)]
enum Failure {
    Decryption,
    BadSignature,
    Io(io::ErrorKind),
}

impl Failure {
    fn of(e: &OpenError) -> Failure {
        match e {
            OpenError::Io(io) => Failure::Io(io.kind()),
            OpenError::BadSignature => Failure::BadSignature,
            _ => Failure::Decryption,
        }
    }

    fn error(self) -> io::Error {
        match self {
            Failure::Decryption => OpenError::DecryptionFailed.into_io(),
            Failure::BadSignature => OpenError::BadSignature.into_io(),
            Failure::Io(kind) => io::Error::new(kind, "an earlier read of the envelope failed"),
        }
    }
}

/// Yields the plaintext of an envelope; see [`Opener::open_reader`].
///
/// Read errors carry an [`OpenError`]: convert with [`OpenError::from_io`]. After an error,
/// every further read fails again.
pub struct OpenReader<R: Read> {
    input: R,
    suite: Suite,
    id: EnvelopeId,
    header_sha512: [u8; 64],
    cipher: ChunkCipher,
    index: u64,
    wire: Vec<u8>,
    wire_len: usize,
    /// Authenticated chunk stream; `plain[released..]` is not handed out yet.
    plain: Zeroizing<Vec<u8>>,
    released: usize,
    /// `plain[..hashed]` went into the MD5 and the transcript (the prefix, then message bytes).
    hashed: usize,
    /// The suffix's length, kept back at the end of `plain` until the final chunk.
    hold_back: usize,
    /// `des-cbc-md5`: the running MD5 of the message.
    md5: Option<Md5>,
    /// Signed envelopes: the running transcript of the chunk stream.
    transcript: Option<Transcript>,
    /// What the prefix says; verified once the final chunk was read.
    signature: Signature,
    carried_md5: Option<[u8; 16]>,
    required_signers: Vec<X25519Recipient>,
    state: State,
}

impl<R: Read> fmt::Debug for OpenReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenReader")
            .field("suite", &self.suite)
            .field("envelope_id", &self.id)
            .field("chunks_read", &self.index)
            .finish_non_exhaustive()
    }
}

impl<R: Read> OpenReader<R> {
    /// The envelope's cipher suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The envelope's id.
    pub fn envelope_id(&self) -> EnvelopeId {
        self.id
    }

    /// Who signed the envelope: known from the start (and checked against the required signers),
    /// but verified only at the end. Until a read has returned `Ok(0)` it is a claim.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Whether the end of the envelope was reached and everything verified: every chunk, the
    /// digest and the signature. (A one-chunk envelope is verified as soon as it is opened.)
    pub fn is_verified(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// `des-cbc-md5`: the verified MD5 digest the envelope carried, once the end was read.
    pub fn carried_md5(&self) -> Option<[u8; 16]> {
        self.carried_md5
    }

    /// Read up to one wire chunk plus one byte of look-ahead, which tells whether it is final.
    /// The buffer is sized once per chunk (not per read: armored input arrives a line at a time).
    fn fill_wire(&mut self) -> io::Result<()> {
        let want = self.wire_len + 1;
        let mut filled = self.wire.len();
        if filled >= want {
            return Ok(());
        }
        self.wire.resize(want, 0);
        let result = loop {
            if filled == want {
                break Ok(());
            }
            match self.input.read(&mut self.wire[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.wire.truncate(filled);
        result
    }

    fn next_chunk(&mut self) -> Result<(), OpenError> {
        if self.suite.max_chunks().is_some_and(|max| self.index >= max) {
            return Err(OpenError::DecryptionFailed);
        }
        self.fill_wire()?;
        let last = self.wire.len() <= self.wire_len;
        let take = self.wire.len().min(self.wire_len);
        self.cipher.open_chunk(self.index, last, &self.wire[..take], &mut self.plain)?;
        self.wire.drain(..take);
        if self.index == 0 {
            self.read_prefix()?;
        }
        self.index += 1;
        if last {
            self.finish_stream()
        } else {
            let upto = self.plain.len() - self.hold_back;
            self.hash_message(upto);
            Ok(())
        }
    }

    /// The prefix `F [|| A]` at the start of chunk 0 (SPEC.md section 5.4).
    fn read_prefix(&mut self) -> Result<(), OpenError> {
        let prefix_len = match self.plain.first() {
            Some(&framing::UNSIGNED) => 1,
            Some(&framing::SIGNED) => 1 + framing::SIGNER_LEN,
            _ => return Err(OpenError::DecryptionFailed),
        };
        if self.plain.len() < prefix_len {
            return Err(OpenError::DecryptionFailed);
        }
        let signed = prefix_len > 1;
        if signed {
            let signer = X25519Recipient::from_signer_bytes(&self.plain[1..prefix_len])
                .map_err(|_| OpenError::BadSignature)?;
            let mut transcript = Transcript::new(self.header_sha512);
            transcript.update(&self.plain[..prefix_len]);
            self.transcript = Some(transcript);
            self.signature = Signature::Signed { signer };
        }
        if !self.required_signers.is_empty() {
            match &self.signature {
                Signature::Signed { signer } if self.required_signers.contains(signer) => {}
                other => return Err(OpenError::UnexpectedSigner(other.signer().cloned())),
            }
        }
        self.hold_back = framing::suffix_len(self.suite.carries_digest(), signed);
        self.released = prefix_len;
        self.hashed = prefix_len;
        Ok(())
    }

    /// Feed `plain[hashed..upto]`, message bytes, to the MD5 and the transcript.
    fn hash_message(&mut self, upto: usize) {
        let bytes = &self.plain[self.hashed..upto];
        if let Some(md5) = &mut self.md5 {
            md5.update(bytes);
        }
        if let Some(transcript) = &mut self.transcript {
            transcript.update(bytes);
        }
        self.hashed = upto;
    }

    /// After the final chunk: split off the suffix, check the digest and the signature, and only
    /// then let the rest of the message out.
    fn finish_stream(&mut self) -> Result<(), OpenError> {
        let total = self.plain.len();
        let body_end = total.checked_sub(self.hold_back).ok_or(OpenError::DecryptionFailed)?;
        if body_end < self.hashed {
            return Err(OpenError::DecryptionFailed);
        }
        self.hash_message(body_end);
        let mut suffix = body_end;
        if let Some(md5) = self.md5.take() {
            let computed: [u8; 16] = md5.finalize().into();
            let carried = &self.plain[suffix..suffix + framing::DIGEST_LEN];
            if !bool::from(computed.ct_eq(carried)) {
                return Err(OpenError::DecryptionFailed);
            }
            if let Some(transcript) = &mut self.transcript {
                transcript.update(carried);
            }
            self.carried_md5 = Some(computed);
            suffix += framing::DIGEST_LEN;
        }
        if let (Some(transcript), Signature::Signed { signer }) = (self.transcript.take(), &self.signature) {
            let mut signature = [0u8; framing::SIGNATURE_LEN];
            signature.copy_from_slice(&self.plain[suffix..suffix + framing::SIGNATURE_LEN]);
            if !signer.verify(&transcript.message(), &signature) {
                return Err(OpenError::BadSignature);
            }
        }
        self.plain[body_end..].zeroize();
        self.plain.truncate(body_end);
        self.hold_back = 0;
        self.state = State::Done;
        Ok(())
    }

    fn releasable(&self) -> usize {
        self.plain.len().saturating_sub(self.hold_back).saturating_sub(self.released)
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let State::Failed(failure) = self.state {
                return Err(failure.error());
            }
            let available = self.releasable();
            if available > 0 {
                let n = available.min(buf.len());
                let from = self.released;
                buf[..n].copy_from_slice(&self.plain[from..from + n]);
                self.released += n;
                return Ok(n);
            }
            if matches!(self.state, State::Done) {
                return Ok(0);
            }
            // Everything released so far can go; keep the held-back tail.
            let keep_from = self.released;
            self.plain.drain(..keep_from);
            self.released = 0;
            self.hashed -= keep_from;
            if let Err(e) = self.next_chunk() {
                self.plain.zeroize();
                self.state = State::Failed(Failure::of(&e));
                return Err(e.into_io());
            }
        }
    }
}
