//! # esmtp-core
//!
//! The pure part of esmtp: the envelope format for end-to-end encrypted email. No I/O beyond
//! `std::io::{Read, Write}` adapters, no async, no network, no global state.
//!
//! A message is sealed under a fresh random *message key*; every recipient gets a *stanza* that
//! wraps that key for them. The normative description is `SPEC.md` beside this crate; doc
//! comments quote its section numbers.
//!
//! - Cipher suites ([`Suite`]): `chacha20-poly1305`, the default, and `des-cbc-md5`, the scheme of
//!   the paper "Secure Email Software using e-SMTP" (random DES key and random number, MD5 hash),
//!   which is of **legacy strength** and only used when asked for by name.
//! - Recipients: [`X25519Recipient`] / [`X25519Identity`] key pairs, a [`Passphrase`]
//!   (Argon2id), and [`KeySlip`]s: the paper's key delivered to the receiver separately.
//! - Chunked payload (64 KiB), each chunk authenticated with its index and a final flag, so
//!   [`Sealer::seal_writer`] and [`Opener::open_reader`] stream in bounded memory.
//! - [`armor()`] for text channels, and the [`hash`] tool (MD5 / SHA-256, `md5sum` format).
//!
//! ```
//! use esmtp_core::{Opener, Passphrase, Sealer, Suite, X25519Identity};
//!
//! let bob = X25519Identity::generate()?;
//! // The default, modern suite, for Bob and for a passphrase.
//! let sealed = Sealer::new()
//!     .recipient(bob.to_public())
//!     .seal(b"Meet at noon.")?;
//! let opened = Opener::new().identity(bob).open(&sealed.envelope)?;
//! assert_eq!(opened.plaintext(), b"Meet at noon.");
//!
//! // The paper's suite, with the key delivered as a separate key slip.
//! let sealed = Sealer::new().suite(Suite::LegacyDesCbcMd5).key_slip().seal(b"Meet at noon.")?;
//! let token = sealed.key_slip.as_ref().map(|s| s.to_token()).unwrap();
//! let slip: esmtp_core::KeySlip = token.parse()?;
//! let opened = Opener::new().identity(slip).open(&sealed.envelope)?;
//! assert_eq!(opened.md5, esmtp_core::hash::digest(esmtp_core::hash::HashAlgorithm::Md5, b"Meet at noon.")[..]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod armor;
mod error;
pub mod hash;
mod header;
mod key;
mod keyslip;
pub mod mime;
mod open;
mod passphrase;
mod random;
mod recipient;
mod seal;
mod suite;
mod x25519;

pub use armor::{ArmorReader, ArmorWriter, armor, dearmor};
pub use error::{OpenError, ParseKeyError, SealError};
pub use header::{EnvelopeInfo, FORMAT_VERSION, inspect};
pub use key::{EnvelopeId, MESSAGE_KEY_LEN, MessageKey};
pub use keyslip::KeySlip;
pub use open::{OpenReader, Opened, Opener};
pub use passphrase::{Argon2Params, Passphrase};
pub use random::{OsRandom, RandomError, RandomSource};
pub use recipient::{Identity, Recipient, STANZA_KEY_SLIP, STANZA_PASSPHRASE, STANZA_X25519, Stanza};
pub use seal::{SealWriter, Sealed, Sealer};
pub use suite::{CHUNK_SIZE, Suite, UnknownSuite};
pub use x25519::{X25519Identity, X25519Recipient};

/// Internal primitives, exposed only for esmtp's own benchmarks (feature `bench-internals`).
/// Not part of the API: no stability promise, may change or go in any release.
#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod bench_internals {
    pub use crate::suite::FastDes;
}
