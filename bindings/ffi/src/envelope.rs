//! Sealing and opening: in memory, over streams, and file to file.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use esmtp_core::{Argon2Params, ArmorReader, ArmorWriter, Opener, Passphrase, Sealer, Signature};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::files::AtomicOutput;
use crate::keys::{Identity, KeySlip, PublicKey};

/// A cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Suite {
    /// ChaCha20-Poly1305: the default.
    #[default]
    ChaCha20Poly1305,
    /// The paper's DES-CBC with MD5: **legacy strength** (DES keys can be brute-forced).
    DesCbcMd5,
}

impl Suite {
    /// The suite named `name` (`chacha20-poly1305` or `des-cbc-md5`).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for another name.
    pub fn from_name(name: &str) -> Result<Suite> {
        name.parse::<esmtp_core::Suite>().map(Suite::from).map_err(|e| Error::invalid(e.to_string()))
    }

    /// The suite's name.
    pub fn name(self) -> &'static str {
        esmtp_core::Suite::from(self).name()
    }
}

impl From<Suite> for esmtp_core::Suite {
    fn from(s: Suite) -> Self {
        match s {
            Suite::ChaCha20Poly1305 => esmtp_core::Suite::ChaCha20Poly1305,
            Suite::DesCbcMd5 => esmtp_core::Suite::LegacyDesCbcMd5,
        }
    }
}

impl From<esmtp_core::Suite> for Suite {
    fn from(s: esmtp_core::Suite) -> Self {
        match s {
            esmtp_core::Suite::LegacyDesCbcMd5 => Suite::DesCbcMd5,
            _ => Suite::ChaCha20Poly1305,
        }
    }
}

/// Who an envelope is for, how, and who signs it.
#[derive(Debug, Clone, Default)]
pub struct SealOptions {
    /// Public keys to seal to.
    pub recipients: Vec<Arc<PublicKey>>,
    /// A passphrase that opens it too (at most one). Zeroized when dropped.
    pub passphrase: Option<Zeroizing<String>>,
    /// Also make a key slip, the paper's separately delivered key.
    pub key_slip: bool,
    /// The cipher suite.
    pub suite: Suite,
    /// Armor the envelope (text, `-----BEGIN ESMTP ENVELOPE-----`).
    pub armor: bool,
    /// Sign with this identity.
    pub sign_with: Option<Arc<Identity>>,
}

impl SealOptions {
    pub(crate) fn sealer(&self) -> Sealer {
        let mut sealer = Sealer::new().suite(self.suite.into());
        for r in &self.recipients {
            sealer = sealer.recipient(r.0.clone());
        }
        if let Some(p) = &self.passphrase {
            sealer = sealer.recipient(Passphrase::new(p.as_str()));
        }
        if self.key_slip {
            sealer = sealer.key_slip();
        }
        if let Some(id) = &self.sign_with {
            sealer = sealer.sign_with(id.0.clone());
        }
        sealer
    }
}

/// What may open an envelope, and who must have signed it.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Secret keys.
    pub identities: Vec<Arc<Identity>>,
    /// A passphrase. Zeroized when dropped.
    pub passphrase: Option<Zeroizing<String>>,
    /// Key slips.
    pub key_slips: Vec<Arc<KeySlip>>,
    /// When not empty: the envelope must be signed by one of these.
    pub require_signers: Vec<Arc<PublicKey>>,
    /// The most Argon2 work a passphrase stanza may ask for (memory KiB, passes, lanes); `None`
    /// for the reader limit (256 MiB, 16, 8). Programs that open mail unattended should set the
    /// cost they seal with.
    pub max_passphrase_work: Option<(u32, u32, u32)>,
}

impl OpenOptions {
    pub(crate) fn opener(&self) -> Opener {
        let mut opener = Opener::new();
        for id in &self.identities {
            opener = opener.identity(id.0.clone());
        }
        if let Some(p) = &self.passphrase {
            let mut passphrase = Passphrase::new(p.as_str());
            if let Some((m_cost, t_cost, p_cost)) = self.max_passphrase_work {
                passphrase = passphrase.with_max_work(Argon2Params { m_cost, t_cost, p_cost });
            }
            opener = opener.identity(passphrase);
        }
        for slip in &self.key_slips {
            opener = opener.identity(slip.0.clone());
        }
        for signer in &self.require_signers {
            opener = opener.require_signer(signer.0.clone());
        }
        opener
    }
}

/// A sealed envelope.
#[derive(Debug)]
pub struct Sealed {
    /// The envelope, binary or armored as asked.
    pub envelope: Vec<u8>,
    /// Its id (32 hex digits).
    pub envelope_id: String,
    /// The key slip, when asked for.
    pub key_slip: Option<Arc<KeySlip>>,
}

/// An opened envelope: authenticated before anything was returned. The plaintext is wiped when
/// this is dropped; the MD5 is computed only when asked for (`des-cbc-md5` carries it).
#[derive(Debug)]
pub struct Opened(esmtp_core::Opened);

impl Opened {
    /// The message.
    pub fn plaintext(&self) -> &[u8] {
        self.0.plaintext()
    }

    /// The message, owned (zeroized when dropped).
    pub fn into_plaintext(self) -> Zeroizing<Vec<u8>> {
        self.0.into_plaintext()
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.0.suite().into()
    }

    /// The envelope id.
    pub fn envelope_id(&self) -> String {
        self.0.envelope_id().to_string()
    }

    /// Who signed it (verified), or `None`: unsigned, so it says nothing about its sender.
    pub fn signer(&self) -> Option<Arc<PublicKey>> {
        signer(self.0.signature())
    }

    /// MD5 of the message, lower-case hex: the paper's integrity hash (carried and verified for
    /// `des-cbc-md5`, computed on the first call for the other suites).
    pub fn md5_hex(&self) -> String {
        self.0.md5_hex()
    }

    /// [`Opened::md5_hex`] if it is known without hashing (see `esmtp_core::Opened::md5_if_known`).
    pub fn md5_hex_if_known(&self) -> Option<String> {
        self.0.md5_if_known().map(|d| esmtp_core::hash::to_hex(&d))
    }

    /// The facts about the envelope as a stream's open reports them (this computes the MD5).
    pub fn report(&self) -> OpenReport {
        OpenReport {
            md5_hex: self.md5_hex(),
            suite: self.suite(),
            envelope_id: self.envelope_id(),
            signer: self.signer(),
            size: self.plaintext().len() as u64,
        }
    }
}

/// What opening found, besides the plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// MD5 of the message, lower-case hex: the paper's integrity hash (carried and verified for
    /// `des-cbc-md5`).
    pub md5_hex: String,
    /// The suite.
    pub suite: Suite,
    /// The envelope id.
    pub envelope_id: String,
    /// Who signed it (verified), or `None`: unsigned, so it says nothing about its sender.
    pub signer: Option<Arc<PublicKey>>,
    /// Bytes of plaintext.
    pub size: u64,
}

pub(crate) fn signer(signature: &Signature) -> Option<Arc<PublicKey>> {
    signature.signer().map(|s| Arc::new(PublicKey(s.clone())))
}

/// Seal `plaintext`.
///
/// # Errors
/// [`ErrorKind::InvalidArgument`] (no recipient, two passphrases), [`ErrorKind::MessageTooLarge`].
pub fn seal(plaintext: &[u8], options: &SealOptions) -> Result<Sealed> {
    let sealed = options.sealer().seal(plaintext)?;
    let envelope =
        if options.armor { esmtp_core::armor(&sealed.envelope).into_bytes() } else { sealed.envelope };
    Ok(Sealed {
        envelope,
        envelope_id: sealed.envelope_id.to_string(),
        key_slip: sealed.key_slip.map(|s| Arc::new(KeySlip(s))),
    })
}

/// Open a binary or armored envelope: nothing is returned unless all of it is authentic.
///
/// # Errors
/// See [`ErrorKind`].
pub fn open(envelope: &[u8], options: &OpenOptions) -> Result<Opened> {
    Ok(Opened(options.opener().open(envelope)?))
}

/// What a streaming seal wrote.
#[derive(Debug)]
pub struct SealReport {
    /// The envelope id.
    pub envelope_id: String,
    /// The key slip, when asked for.
    pub key_slip: Option<Arc<KeySlip>>,
    /// Bytes of plaintext read.
    pub size: u64,
}

/// Seal everything `input` yields into `output`, in bounded memory.
///
/// # Errors
/// As [`seal`], and [`ErrorKind::Io`].
pub fn seal_stream(
    input: &mut dyn Read,
    output: &mut dyn Write,
    options: &SealOptions,
) -> Result<SealReport> {
    if options.armor {
        let mut armored = ArmorWriter::new(&mut *output);
        let report = seal_into(input, &mut armored, options)?;
        armored.finish().map_err(|e| Error::io("the output", &e))?;
        Ok(report)
    } else {
        seal_into(input, output, options)
    }
}

fn seal_into(input: &mut dyn Read, output: &mut dyn Write, options: &SealOptions) -> Result<SealReport> {
    let mut writer = options.sealer().seal_writer(output)?;
    let size = std::io::copy(input, &mut writer).map_err(stream_error)?;
    let envelope_id = writer.envelope_id().to_string();
    let key_slip = writer.take_key_slip().map(|s| Arc::new(KeySlip(s)));
    writer.finish().map_err(stream_error)?.flush().map_err(|e| Error::io("the output", &e))?;
    Ok(SealReport { envelope_id, key_slip, size })
}

/// An I/O error while sealing: the sealer's own error (a message over the suite's limit) when it
/// carries one.
fn stream_error(e: std::io::Error) -> Error {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<esmtp_core::SealError>()) {
        Some(esmtp_core::SealError::MessageTooLarge { suite, limit }) => Error::new(
            ErrorKind::MessageTooLarge,
            format!("message too large for {suite}: at most {limit} bytes"),
        ),
        _ => Error::io("sealing", &e),
    }
}

/// Open the envelope `input` yields (binary or armored) into `output`, chunk by chunk, each
/// written only once authenticated. A digest or signature is checked at the end: on an error
/// the output holds part of the message and must be discarded. (For all-or-nothing output, use
/// [`open_file`] or [`open`].)
///
/// # Errors
/// As [`open`], and [`ErrorKind::Io`].
pub fn open_stream(
    input: &mut dyn Read,
    output: &mut dyn Write,
    options: &OpenOptions,
) -> Result<OpenReport> {
    let mut input = std::io::BufReader::with_capacity(1 << 16, input);
    let armored = esmtp_core::is_armored(
        std::io::BufRead::fill_buf(&mut input).map_err(|e| Error::io("the input", &e))?,
    );
    let source: Box<dyn Read + '_> =
        if armored { Box::new(ArmorReader::new(input)) } else { Box::new(input) };
    let mut reader = options.opener().open_reader(source)?;
    reader.hash_released();
    let mut buf = Zeroizing::new(vec![0u8; 1 << 16]);
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| Error::from(esmtp_core::OpenError::from_io(e)))?;
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n]).map_err(|e| Error::io("the output", &e))?;
        size += n as u64;
    }
    output.flush().map_err(|e| Error::io("the output", &e))?;
    // Known once the end was read (which the loop did).
    let md5 = reader.md5().ok_or(esmtp_core::OpenError::DecryptionFailed)?;
    let md5_hex = esmtp_core::hash::to_hex(&md5);
    Ok(OpenReport {
        md5_hex,
        suite: reader.suite().into(),
        envelope_id: reader.envelope_id().to_string(),
        signer: signer(reader.signature()),
        size,
    })
}

/// Seal the file `input` into the file `output`, which appears only when complete. An existing
/// `output` is replaced only with `overwrite`; `output` may not be `input`.
///
/// # Errors
/// As [`seal_stream`], and [`ErrorKind::InvalidArgument`] for the paths.
pub fn seal_file(input: &Path, output: &Path, options: &SealOptions, overwrite: bool) -> Result<SealReport> {
    let mut out = AtomicOutput::create(input, output, overwrite)?;
    let mut file = std::fs::File::open(input).map_err(|e| Error::io(input.display(), &e))?;
    let report = seal_stream(&mut file, out.writer(), options)?;
    out.commit()?;
    Ok(report)
}

/// Open the envelope in the file `input` into the file `output`, which appears only once the whole
/// envelope was authenticated (digest and signature included). An existing `output` is replaced
/// only with `overwrite`; `output` may not be `input`.
///
/// # Errors
/// As [`open_stream`], and [`ErrorKind::InvalidArgument`] for the paths.
pub fn open_file(input: &Path, output: &Path, options: &OpenOptions, overwrite: bool) -> Result<OpenReport> {
    let mut out = AtomicOutput::create(input, output, overwrite)?;
    let mut file = std::fs::File::open(input).map_err(|e| Error::io(input.display(), &e))?;
    let report = open_stream(&mut file, out.writer(), options)?;
    out.commit()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options_for(id: &Arc<Identity>) -> (SealOptions, OpenOptions) {
        let seal = SealOptions { recipients: vec![id.public_key()], ..SealOptions::default() };
        let open = OpenOptions { identities: vec![id.clone()], ..OpenOptions::default() };
        (seal, open)
    }

    #[test]
    fn both_suites_in_memory_and_streaming_with_signatures() {
        let bob = Identity::generate().unwrap();
        let alice = Identity::generate().unwrap();
        for suite in [Suite::ChaCha20Poly1305, Suite::DesCbcMd5] {
            for armor in [false, true] {
                let (mut seal_opts, mut open_opts) = options_for(&bob);
                seal_opts.suite = suite;
                seal_opts.armor = armor;
                seal_opts.sign_with = Some(alice.clone());
                open_opts.require_signers = vec![alice.public_key()];
                let message = vec![7u8; 200_000];
                let sealed = seal(&message, &seal_opts).unwrap();
                let opened = open(&sealed.envelope, &open_opts).unwrap();
                assert_eq!(opened.md5_hex_if_known().is_some(), suite == Suite::DesCbcMd5);
                assert_eq!(opened.plaintext(), &message[..]);
                assert_eq!(opened.signer().as_deref(), Some(&*alice.public_key()));
                assert_eq!(opened.suite(), suite);
                let mut out = Vec::new();
                let mut sealed_stream = Vec::new();
                let report = seal_stream(&mut &message[..], &mut sealed_stream, &seal_opts).unwrap();
                assert_eq!(report.size, message.len() as u64);
                let streamed = open_stream(&mut &sealed_stream[..], &mut out, &open_opts).unwrap();
                assert_eq!(out, message);
                assert_eq!(streamed.md5_hex, opened.md5_hex());
                assert_eq!(
                    OpenReport { envelope_id: streamed.envelope_id.clone(), ..opened.report() },
                    streamed
                );
                assert_eq!(opened.md5_hex(), crate::md5_hex(&message));
            }
        }
    }

    #[test]
    fn files_appear_only_when_authentic() {
        let dir = tempfile::tempdir().unwrap();
        let bob = Identity::generate().unwrap();
        let (seal_opts, open_opts) = options_for(&bob);
        let (plain, sealed, opened) = (dir.path().join("p"), dir.path().join("s"), dir.path().join("o"));
        std::fs::write(&plain, vec![1u8; 300_000]).unwrap();
        seal_file(&plain, &sealed, &seal_opts, false).unwrap();
        assert_eq!(
            seal_file(&plain, &sealed, &seal_opts, false).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(seal_file(&plain, &plain, &seal_opts, true).unwrap_err().kind, ErrorKind::InvalidArgument);
        let mut bytes = std::fs::read(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let damaged = dir.path().join("d");
        std::fs::write(&damaged, &bytes).unwrap();
        assert_eq!(
            open_file(&damaged, &opened, &open_opts, false).unwrap_err().kind,
            ErrorKind::DecryptionFailed
        );
        assert!(!opened.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "no temporary file left");
        let report = open_file(&sealed, &opened, &open_opts, false).unwrap();
        assert_eq!(std::fs::read(&opened).unwrap(), vec![1u8; 300_000]);
        assert!(report.signer.is_none());
    }

    #[test]
    fn suite_names() {
        assert_eq!(Suite::from_name("des-cbc-md5").unwrap(), Suite::DesCbcMd5);
        assert_eq!(Suite::from_name("des").unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(Suite::default().name(), "chacha20-poly1305");
    }
}
