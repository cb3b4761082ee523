//! # esmtp-ffi
//!
//! The surface of esmtp that its language bindings wrap (the Python package and the Kotlin/Swift
//! library): owned values, objects behind `Arc` with `&self` methods, one flat [`Error`], and
//! nothing a binding would otherwise write twice. Rust programs should use `esmtp-core` and
//! `esmtp-transport` directly.
//!
//! ```
//! use esmtp_ffi::{Identity, OpenOptions, SealOptions, open, seal};
//!
//! let bob = Identity::generate()?;
//! let sealed = seal(b"Meet at noon.", &SealOptions { recipients: vec![bob.public_key()], ..Default::default() })?;
//! let opened = open(&sealed.envelope, &OpenOptions { identities: vec![bob], ..Default::default() })?;
//! assert_eq!(opened.plaintext(), b"Meet at noon.");
//! assert!(opened.signer().is_none());
//! # Ok::<(), esmtp_ffi::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod account;
mod envelope;
mod error;
mod files;
mod inbox;
mod keys;
mod mail;
mod mailer;

pub use account::{Account, AccountConfig, Credential, Server, TlsMode, TokenProvider, read_ca_file};
pub use envelope::{
    OpenOptions, OpenReport, Opened, SealOptions, SealReport, Sealed, Suite, open, open_file, open_stream,
    seal, seal_file, seal_stream,
};
pub use error::{Error, ErrorKind, Result};
pub use inbox::{
    DuplicateMessage, FetchOutcome, FetchReport, FetchedMessage, ImapFetchOptions, ImapInbox,
    Pop3FetchOptions, Pop3Inbox, SenderCheck, SenderVerdict,
};
pub use keys::{Identity, IdentityFileContents, KeySlip, PublicKey, load_identity_file, parse_identity_file};
pub use mail::{
    Attachment, BuiltMail, Draft, Headers, MailContent, Mailbox, ReadMail, build_mail, read_mail,
};
pub use mailer::{BatchResult, Capabilities, KeySlipSent, Mailer, SendOptions, SendReport};

/// The hash tool (the paper's section 4.4): MD5 of `data`, lower-case hex.
pub fn md5_hex(data: &[u8]) -> String {
    esmtp_core::hash::to_hex(&esmtp_core::hash::digest(esmtp_core::hash::HashAlgorithm::Md5, data))
}

/// The hash tool: SHA-256 of `data`, lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    esmtp_core::hash::to_hex(&esmtp_core::hash::digest(esmtp_core::hash::HashAlgorithm::Sha256, data))
}

/// The hash tool over a file, in bounded memory: `algorithm` is `md5` or `sha256`.
///
/// # Errors
/// [`ErrorKind::InvalidArgument`] for another algorithm, [`ErrorKind::Io`].
pub fn hash_file_hex(path: &std::path::Path, algorithm: &str) -> Result<String> {
    let algorithm: esmtp_core::hash::HashAlgorithm =
        algorithm.parse().map_err(|e: &str| Error::invalid(e.to_string()))?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display(), &e))?;
    let digest =
        esmtp_core::hash::digest_reader(algorithm, file).map_err(|e| Error::io(path.display(), &e))?;
    Ok(esmtp_core::hash::to_hex(&digest))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_match_rfc_1321_and_fips_180_4() {
        assert_eq!(super::md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(super::hash_file_hex(std::path::Path::new("/nonexistent"), "md5").is_err());
        assert!(super::hash_file_hex(std::path::Path::new("Cargo.toml"), "crc32").is_err());
    }
}
