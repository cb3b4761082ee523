//! Sealing and opening, in memory and file to file; the hash tool.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::error::Result;
use crate::keys::{Identity, KeySlip, PublicKey, Secret, key_slip, public_key};

/// A cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Suite {
    /// ChaCha20-Poly1305: the default.
    ChaCha20Poly1305,
    /// The paper's DES-CBC with MD5: legacy strength (DES keys can be brute-forced).
    DesCbcMd5,
}

impl From<Suite> for esmtp_ffi::Suite {
    fn from(s: Suite) -> Self {
        match s {
            Suite::ChaCha20Poly1305 => esmtp_ffi::Suite::ChaCha20Poly1305,
            Suite::DesCbcMd5 => esmtp_ffi::Suite::DesCbcMd5,
        }
    }
}

impl From<esmtp_ffi::Suite> for Suite {
    fn from(s: esmtp_ffi::Suite) -> Self {
        match s {
            esmtp_ffi::Suite::ChaCha20Poly1305 => Suite::ChaCha20Poly1305,
            esmtp_ffi::Suite::DesCbcMd5 => Suite::DesCbcMd5,
        }
    }
}

/// The suite named `name` (`chacha20-poly1305` or `des-cbc-md5`).
#[uniffi::export]
pub fn suite_from_name(name: String) -> Result<Suite> {
    Ok(esmtp_ffi::Suite::from_name(&name)?.into())
}

/// The suite's name.
#[uniffi::export]
pub fn suite_name(suite: Suite) -> String {
    esmtp_ffi::Suite::from(suite).name().to_string()
}

/// Who an envelope is for, how, and who signs it.
#[derive(uniffi::Record)]
pub struct SealOptions {
    /// Public keys to seal to.
    #[uniffi(default)]
    pub recipients: Vec<Arc<PublicKey>>,
    /// A passphrase that opens it too.
    #[uniffi(default)]
    pub passphrase: Option<Arc<Secret>>,
    /// Also make a key slip, the paper's separately delivered key.
    #[uniffi(default)]
    pub key_slip: bool,
    /// The cipher suite; unset for the default (ChaCha20-Poly1305).
    #[uniffi(default)]
    pub suite: Option<Suite>,
    /// Armor the envelope (text, `-----BEGIN ESMTP ENVELOPE-----`).
    #[uniffi(default)]
    pub armor: bool,
    /// Sign with this identity.
    #[uniffi(default)]
    pub sign_with: Option<Arc<Identity>>,
}

impl From<SealOptions> for esmtp_ffi::SealOptions {
    fn from(o: SealOptions) -> Self {
        esmtp_ffi::SealOptions {
            recipients: o.recipients.iter().map(|k| k.0.clone()).collect(),
            passphrase: o.passphrase.map(|p| p.copy()),
            key_slip: o.key_slip,
            suite: o.suite.map_or_else(esmtp_ffi::Suite::default, Into::into),
            armor: o.armor,
            sign_with: o.sign_with.map(|i| i.0.clone()),
        }
    }
}

/// The most Argon2 work a passphrase stanza may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PassphraseWork {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub passes: u32,
    /// Lanes.
    pub lanes: u32,
}

/// What may open an envelope, and who must have signed it.
#[derive(uniffi::Record)]
pub struct OpenOptions {
    /// Secret keys.
    #[uniffi(default)]
    pub identities: Vec<Arc<Identity>>,
    /// A passphrase.
    #[uniffi(default)]
    pub passphrase: Option<Arc<Secret>>,
    /// Key slips.
    #[uniffi(default)]
    pub key_slips: Vec<Arc<KeySlip>>,
    /// When not empty: the envelope must be signed by one of these.
    #[uniffi(default)]
    pub require_signers: Vec<Arc<PublicKey>>,
    /// The most Argon2 work a passphrase may ask for; `null`/`nil` for the reader limit (256 MiB,
    /// 16 passes, 8 lanes). Apps that open mail unattended should set the cost they seal with.
    #[uniffi(default)]
    pub max_passphrase_work: Option<PassphraseWork>,
}

impl From<OpenOptions> for esmtp_ffi::OpenOptions {
    fn from(o: OpenOptions) -> Self {
        esmtp_ffi::OpenOptions {
            identities: o.identities.iter().map(|i| i.0.clone()).collect(),
            passphrase: o.passphrase.map(|p| p.copy()),
            key_slips: o.key_slips.iter().map(|s| s.0.clone()).collect(),
            require_signers: o.require_signers.iter().map(|k| k.0.clone()).collect(),
            max_passphrase_work: o.max_passphrase_work.map(|w| (w.memory_kib, w.passes, w.lanes)),
        }
    }
}

/// A sealed envelope.
#[derive(uniffi::Record)]
pub struct Sealed {
    /// The envelope, binary or armored as asked.
    pub envelope: Vec<u8>,
    /// Its id (32 hex digits).
    pub envelope_id: String,
    /// The key slip, when asked for.
    pub key_slip: Option<Arc<KeySlip>>,
}

/// What opening found, besides the plaintext.
#[derive(uniffi::Record)]
pub struct OpenReport {
    /// MD5 of the message, lower-case hex: the paper's integrity hash.
    pub md5_hex: String,
    /// The suite.
    pub suite: Suite,
    /// The envelope id.
    pub envelope_id: String,
    /// Who signed it (verified), or `null`/`nil`: unsigned, so it says nothing about its sender.
    pub signer: Option<Arc<PublicKey>>,
    /// Bytes of plaintext.
    pub size: u64,
}

impl From<esmtp_ffi::OpenReport> for OpenReport {
    fn from(r: esmtp_ffi::OpenReport) -> Self {
        OpenReport {
            md5_hex: r.md5_hex,
            suite: r.suite.into(),
            envelope_id: r.envelope_id,
            signer: r.signer.map(public_key),
            size: r.size,
        }
    }
}

/// An opened envelope: authenticated before anything was returned.
#[derive(uniffi::Record)]
pub struct Opened {
    /// The message. (A Kotlin or Swift byte array cannot be wiped by the library: overwrite it
    /// when done with a secret message.)
    pub plaintext: Vec<u8>,
    /// Facts about the envelope.
    pub report: OpenReport,
}

/// What sealing a file wrote.
#[derive(uniffi::Record)]
pub struct SealReport {
    /// The envelope id.
    pub envelope_id: String,
    /// The key slip, when asked for.
    pub key_slip: Option<Arc<KeySlip>>,
    /// Bytes of plaintext read.
    pub size: u64,
}

/// Seal `plaintext`.
#[uniffi::export]
pub fn seal(plaintext: Vec<u8>, options: SealOptions) -> Result<Sealed> {
    let plaintext = Zeroizing::new(plaintext);
    let sealed = esmtp_ffi::seal(&plaintext, &options.into())?;
    Ok(Sealed {
        envelope: sealed.envelope,
        envelope_id: sealed.envelope_id,
        key_slip: sealed.key_slip.map(key_slip),
    })
}

/// Open a binary or armored envelope: nothing is returned unless all of it is authentic.
#[uniffi::export]
pub fn open(envelope: Vec<u8>, options: OpenOptions) -> Result<Opened> {
    let opened = esmtp_ffi::open(&envelope, &options.into())?;
    let report = opened.report().into();
    // Moved out, not copied: the foreign language owns the bytes from here.
    Ok(Opened { plaintext: std::mem::take(&mut *opened.into_plaintext()), report })
}

/// Seal the file `input` into the file `output`, in bounded memory; `output` appears only when
/// complete. An existing `output` is replaced only with `overwrite`.
#[uniffi::export]
pub fn seal_file(input: String, output: String, options: SealOptions, overwrite: bool) -> Result<SealReport> {
    let r = esmtp_ffi::seal_file(input.as_ref(), output.as_ref(), &options.into(), overwrite)?;
    Ok(SealReport { envelope_id: r.envelope_id, key_slip: r.key_slip.map(key_slip), size: r.size })
}

/// Open the envelope in the file `input` into the file `output`, in bounded memory; `output`
/// appears only once the whole envelope was authenticated. An existing `output` is replaced only
/// with `overwrite`.
#[uniffi::export]
pub fn open_file(input: String, output: String, options: OpenOptions, overwrite: bool) -> Result<OpenReport> {
    Ok(esmtp_ffi::open_file(input.as_ref(), output.as_ref(), &options.into(), overwrite)?.into())
}

/// The hash tool (the paper's section 4.4): MD5 of `data`, lower-case hex.
#[uniffi::export]
pub fn md5_hex(data: Vec<u8>) -> String {
    esmtp_ffi::md5_hex(&data)
}

/// The hash tool: SHA-256 of `data`, lower-case hex.
#[uniffi::export]
pub fn sha256_hex(data: Vec<u8>) -> String {
    esmtp_ffi::sha256_hex(&data)
}

/// The hash tool over a file, in bounded memory: `algorithm` is `md5` or `sha256`.
#[uniffi::export]
pub fn hash_file_hex(path: String, algorithm: String) -> Result<String> {
    Ok(esmtp_ffi::hash_file_hex(path.as_ref(), &algorithm)?)
}
