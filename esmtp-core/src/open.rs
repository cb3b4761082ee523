//! Opening: one call that releases nothing before the whole envelope checked, or a streaming
//! reader that releases each chunk only after its tag or MAC checked.

use std::fmt;
use std::io::{self, Read};

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::OpenError;
use crate::header::Header;
use crate::key::{EnvelopeId, MessageKey};
use crate::recipient::Identity;
use crate::suite::{CHUNK_SIZE, ChunkCipher, DIGEST_LEN, Suite};

/// Opens envelopes with a set of identities (secret keys, passphrases, key slips).
#[derive(Default)]
pub struct Opener {
    identities: Vec<Box<dyn Identity + Send + Sync>>,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener").field("identities", &self.identities.len()).finish()
    }
}

/// An opened, authenticated message.
pub struct Opened {
    plaintext: Zeroizing<Vec<u8>>,
    /// The envelope's cipher suite.
    pub suite: Suite,
    /// The envelope's id.
    pub envelope_id: EnvelopeId,
    /// MD5 of the plaintext (the paper's integrity hash). For `des-cbc-md5` it is the digest the
    /// envelope carried, verified; for other suites it is computed on opening.
    pub md5: [u8; 16],
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
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("suite", &self.suite)
            .field("envelope_id", &self.envelope_id)
            .field("len", &self.plaintext.len())
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// An opener with no identities yet.
    pub fn new() -> Self {
        Opener::default()
    }

    /// Add an identity ([`crate::X25519Identity`], [`crate::Passphrase`], [`crate::KeySlip`], ...).
    pub fn identity(mut self, identity: impl Identity + Send + Sync + 'static) -> Self {
        self.identities.push(Box::new(identity));
        self
    }

    /// Add a boxed identity.
    pub fn boxed_identity(mut self, identity: Box<dyn Identity + Send + Sync>) -> Self {
        self.identities.push(identity);
        self
    }

    /// Open a binary or armored envelope in one call.
    ///
    /// # Errors
    /// See [`OpenError`]; on any error no plaintext is returned.
    pub fn open(&self, envelope: &[u8]) -> Result<Opened, OpenError> {
        let input = crate::armor::auto_reader(envelope)?;
        let mut reader = self.open_reader(input)?;
        let mut plaintext = Zeroizing::new(Vec::with_capacity(envelope.len()));
        reader.read_to_end(&mut plaintext).map_err(OpenError::from)?;
        let md5 = match reader.md5() {
            Some(digest) => digest,
            None => Md5::digest(&plaintext[..]).into(),
        };
        Ok(Opened { plaintext, suite: reader.suite(), envelope_id: reader.envelope_id(), md5 })
    }

    /// Read the header from `input`, recover the message key and check the header MAC; the
    /// returned reader then yields the plaintext chunk by chunk. Binary input only: wrap armored
    /// input in [`crate::ArmorReader`] first.
    ///
    /// # Errors
    /// See [`OpenError`].
    pub fn open_reader<R: Read>(&self, mut input: R) -> Result<OpenReader<R>, OpenError> {
        let header = Header::read(&mut input)?;
        let key = self.recover_key(&header)?;
        header.verify(&key)?;
        let cipher = ChunkCipher::new(header.suite, &key, &header.id).ok_or(OpenError::DecryptionFailed)?;
        let wire_len = header.suite.wire_chunk_len();
        let des = header.suite == Suite::LegacyDesCbcMd5;
        Ok(OpenReader {
            input,
            suite: header.suite,
            id: header.id,
            cipher,
            index: 0,
            wire: Vec::with_capacity(wire_len + 1),
            wire_len,
            plain: Zeroizing::new(Vec::with_capacity(CHUNK_SIZE + DIGEST_LEN)),
            released: 0,
            hold_back: if des { DIGEST_LEN } else { 0 },
            md5: des.then(Md5::new),
            verified_md5: None,
            state: State::Reading,
        })
    }

    /// SPEC.md section 3 step 5: the first stanza any identity opens wins; an identity error is
    /// reported only when no stanza yields a key.
    fn recover_key(&self, header: &Header) -> Result<MessageKey, OpenError> {
        let mut first_error = None;
        for stanza in &header.stanzas {
            for identity in &self.identities {
                match identity.unwrap(stanza, &header.id) {
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
    Io(io::ErrorKind),
}

/// Yields the plaintext of an envelope; see [`Opener::open_reader`].
///
/// Read errors carry an [`OpenError`]: convert with `OpenError::from(io_error)`. After an error,
/// every further read fails again.
pub struct OpenReader<R: Read> {
    input: R,
    suite: Suite,
    id: EnvelopeId,
    cipher: ChunkCipher,
    index: u64,
    wire: Vec<u8>,
    wire_len: usize,
    /// Authenticated plaintext; `plain[released..]` is not handed out yet.
    plain: Zeroizing<Vec<u8>>,
    released: usize,
    /// Bytes at the end of `plain` kept back until the end: `des-cbc-md5`'s digest may sit there.
    hold_back: usize,
    md5: Option<Md5>,
    verified_md5: Option<[u8; 16]>,
    state: State,
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

    /// `des-cbc-md5`: the verified MD5 digest the envelope carried, once the end was read.
    pub fn md5(&self) -> Option<[u8; 16]> {
        self.verified_md5
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
        self.fill_wire()?;
        let last = self.wire.len() <= self.wire_len;
        let take = self.wire.len().min(self.wire_len);
        let before = self.plain.len();
        self.cipher.open_chunk(self.index, last, &self.wire[..take], &mut self.plain)?;
        if last && self.index > 0 && self.plain.len() == before {
            return Err(OpenError::DecryptionFailed);
        }
        self.wire.drain(..take);
        self.index = self.index.checked_add(1).ok_or(OpenError::DecryptionFailed)?;
        if last {
            self.finish_stream()?;
        }
        Ok(())
    }

    /// `des-cbc-md5`: split off the digest and compare it with the MD5 of the message.
    fn finish_stream(&mut self) -> Result<(), OpenError> {
        if let Some(mut md5) = self.md5.take() {
            let body_len = self.plain.len().checked_sub(DIGEST_LEN).ok_or(OpenError::DecryptionFailed)?;
            if body_len < self.released {
                return Err(OpenError::DecryptionFailed);
            }
            md5.update(&self.plain[self.released..body_len]);
            let computed: [u8; 16] = md5.finalize().into();
            if !bool::from(computed.ct_eq(&self.plain[body_len..])) {
                return Err(OpenError::DecryptionFailed);
            }
            self.verified_md5 = Some(computed);
            zeroize::Zeroize::zeroize(&mut self.plain[body_len..]);
            self.plain.truncate(body_len);
        }
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
                return Err(match failure {
                    Failure::Decryption => OpenError::DecryptionFailed.into_io(),
                    Failure::Io(kind) => io::Error::new(kind, "an earlier read of the envelope failed"),
                });
            }
            let available = self.releasable();
            if available > 0 {
                let n = available.min(buf.len());
                let from = self.released;
                buf[..n].copy_from_slice(&self.plain[from..from + n]);
                if let Some(md5) = &mut self.md5 {
                    md5.update(&self.plain[from..from + n]);
                }
                self.released += n;
                return Ok(n);
            }
            if matches!(self.state, State::Done) {
                return Ok(0);
            }
            // Everything released so far can go; keep only the held-back tail.
            let keep_from = self.released;
            self.plain.drain(..keep_from);
            self.released = 0;
            if let Err(e) = self.next_chunk() {
                self.state = State::Failed(match &e {
                    OpenError::Io(io) => Failure::Io(io.kind()),
                    _ => Failure::Decryption,
                });
                return Err(e.into_io());
            }
        }
    }
}
