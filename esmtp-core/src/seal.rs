//! Sealing: one call, or a streaming writer with bounded memory.

use std::fmt;
use std::io::{self, Write};

use md5::{Digest, Md5};

use crate::error::SealError;
use crate::header::{Header, MAX_STANZAS};
use crate::key::{EnvelopeId, MessageKey};
use crate::keyslip::KeySlip;
use crate::random::{OsRandom, RandomSource};
use crate::recipient::{Recipient, Stanza};
use crate::suite::{CHUNK_SIZE, ChunkCipher, Suite};

/// Seals messages for a set of recipients.
///
/// ```
/// use esmtp_core::{Opener, Sealer, X25519Identity};
///
/// let bob = X25519Identity::generate()?;
/// let sealed = Sealer::new().recipient(bob.to_public()).seal(b"Hello Bob")?;
/// let opened = Opener::new().identity(bob).open(&sealed.envelope)?;
/// assert_eq!(opened.plaintext(), b"Hello Bob");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct Sealer {
    suite: Suite,
    recipients: Vec<Box<dyn Recipient + Send + Sync>>,
    key_slip: bool,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("suite", &self.suite)
            .field("recipients", &self.recipients.len())
            .field("key_slip", &self.key_slip)
            .finish()
    }
}

/// A sealed envelope and what the sender needs to know about it.
#[derive(Debug)]
pub struct Sealed {
    /// The binary envelope (armor it with [`crate::armor()`] for text channels).
    pub envelope: Vec<u8>,
    /// The envelope's id.
    pub envelope_id: EnvelopeId,
    /// The key slip to deliver separately, when [`Sealer::key_slip`] was asked for.
    pub key_slip: Option<KeySlip>,
}

impl Sealer {
    /// A sealer with the default (modern) suite and no recipients yet.
    pub fn new() -> Self {
        Sealer::default()
    }

    /// Choose the cipher suite. [`Suite::LegacyDesCbcMd5`] is of legacy strength; see its docs.
    pub fn suite(mut self, suite: Suite) -> Self {
        self.suite = suite;
        self
    }

    /// Add a recipient ([`crate::X25519Recipient`], [`crate::Passphrase`] or your own).
    pub fn recipient(mut self, recipient: impl Recipient + Send + Sync + 'static) -> Self {
        self.recipients.push(Box::new(recipient));
        self
    }

    /// Add a boxed recipient (for lists of recipients of mixed types).
    pub fn boxed_recipient(mut self, recipient: Box<dyn Recipient + Send + Sync>) -> Self {
        self.recipients.push(recipient);
        self
    }

    /// Also export the message key as a [`KeySlip`], the paper's separately delivered key.
    pub fn key_slip(mut self) -> Self {
        self.key_slip = true;
        self
    }

    /// The chosen suite.
    pub fn chosen_suite(&self) -> Suite {
        self.suite
    }

    /// Seal `plaintext` in one call.
    ///
    /// # Errors
    /// [`SealError::NoRecipients`] when there is no recipient and no key slip, and see [`SealError`].
    pub fn seal(&self, plaintext: &[u8]) -> Result<Sealed, SealError> {
        self.seal_with_rng(plaintext, &mut OsRandom)
    }

    /// [`Sealer::seal`] with a caller-provided random source (for reproducible test vectors).
    ///
    /// # Errors
    /// As [`Sealer::seal`].
    pub fn seal_with_rng(&self, plaintext: &[u8], rng: &mut dyn RandomSource) -> Result<Sealed, SealError> {
        let capacity = plaintext.len() + plaintext.len() / CHUNK_SIZE * 32 + 1024;
        let mut writer = self.seal_writer_with_rng(Vec::with_capacity(capacity), rng)?;
        writer.write_all(plaintext)?;
        let envelope_id = writer.envelope_id();
        let key_slip = writer.take_key_slip();
        let envelope = writer.finish()?;
        Ok(Sealed { envelope, envelope_id, key_slip })
    }

    /// Start a streaming seal into `out`: the header is written now, the payload as data is
    /// written, the final chunk by [`SealWriter::finish`]. Memory stays at about two chunks.
    ///
    /// # Errors
    /// As [`Sealer::seal`], and [`SealError::Io`] when writing the header fails.
    pub fn seal_writer<W: Write>(&self, out: W) -> Result<SealWriter<W>, SealError> {
        self.seal_writer_with_rng(out, &mut OsRandom)
    }

    /// [`Sealer::seal_writer`] with a caller-provided random source.
    ///
    /// # Errors
    /// As [`Sealer::seal_writer`].
    pub fn seal_writer_with_rng<W: Write>(
        &self,
        mut out: W,
        rng: &mut dyn RandomSource,
    ) -> Result<SealWriter<W>, SealError> {
        if self.recipients.is_empty() && !self.key_slip {
            return Err(SealError::NoRecipients);
        }
        if self.recipients.len() + usize::from(self.key_slip) > MAX_STANZAS {
            return Err(SealError::TooManyRecipients);
        }
        let key = MessageKey::generate(self.suite, rng)?;
        let id = EnvelopeId::generate(rng)?;
        let mut stanzas: Vec<Stanza> = Vec::with_capacity(self.recipients.len() + 1);
        for recipient in &self.recipients {
            let stanza = recipient.wrap(&key, &id, rng)?;
            if stanza.body.len() > usize::from(u16::MAX) {
                return Err(SealError::InvalidParameters("stanza body over 65535 bytes"));
            }
            stanzas.push(stanza);
        }
        if stanzas.iter().filter(|s| s.kind == crate::recipient::STANZA_PASSPHRASE).count() > 1 {
            return Err(SealError::InvalidParameters(
                "at most one passphrase per envelope (SPEC.md section 4.2)",
            ));
        }
        let key_slip = self.key_slip.then(|| KeySlip::new(id, key.clone()));
        if let Some(slip) = &key_slip {
            stanzas.push(slip.stanza());
        }
        out.write_all(&Header::write(self.suite, &id, &stanzas, &key))?;
        // MessageKey::generate keeps DES keys valid, so the cipher always keys.
        let cipher = ChunkCipher::new(self.suite, &key, &id).ok_or(SealError::Random)?;
        Ok(SealWriter {
            out,
            cipher,
            index: 0,
            buffer: zeroize::Zeroizing::new(Vec::with_capacity(CHUNK_SIZE)),
            wire: Vec::with_capacity(self.suite.wire_chunk_len()),
            md5: (self.suite == Suite::LegacyDesCbcMd5).then(Md5::new),
            id,
            key_slip,
        })
    }
}

/// Encrypts everything written to it; [`SealWriter::finish`] writes the final chunk.
///
/// Dropping it without `finish` leaves a truncated envelope, which every reader rejects.
pub struct SealWriter<W: Write> {
    out: W,
    cipher: ChunkCipher,
    index: u64,
    /// Plaintext of the chunk being filled; zeroized when dropped.
    buffer: zeroize::Zeroizing<Vec<u8>>,
    wire: Vec<u8>,
    /// `des-cbc-md5` only: the running MD5 of the message, appended to the chunk stream at the end.
    md5: Option<Md5>,
    id: EnvelopeId,
    key_slip: Option<KeySlip>,
}

impl<W: Write> SealWriter<W> {
    /// The id of the envelope being written.
    pub fn envelope_id(&self) -> EnvelopeId {
        self.id
    }

    /// The key slip, when the sealer was asked for one (taken once).
    pub fn take_key_slip(&mut self) -> Option<KeySlip> {
        self.key_slip.take()
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        self.wire.clear();
        self.cipher.seal_chunk(self.index, last, &self.buffer, &mut self.wire);
        zeroize::Zeroize::zeroize(&mut *self.buffer);
        self.index = self.index.checked_add(1).ok_or_else(|| io::Error::other("too many chunks"))?;
        self.out.write_all(&self.wire)
    }

    /// Add bytes to the chunk stream, emitting full chunks only once more data follows them, so
    /// the last chunk can carry the final flag.
    fn push(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.buffer.len() == CHUNK_SIZE {
                self.emit(false)?;
            }
            let n = data.len().min(CHUNK_SIZE - self.buffer.len());
            self.buffer.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(())
    }

    /// Write the final chunk and return the inner writer.
    ///
    /// # Errors
    /// When the inner writer fails.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(md5) = self.md5.take() {
            let digest = md5.finalize();
            self.push(&digest)?;
        }
        self.emit(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        self.push(data)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
