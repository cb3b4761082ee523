//! # esmtp-core
//!
//! The pure part of esmtp: the envelope format for end-to-end encrypted email. No I/O beyond
//! `std::io::{Read, Write}` adapters, no async, no network, no global state.
//!
//! A message is sealed under a fresh random *message key*; every recipient gets a *stanza* that
//! wraps that key for them, and the sender may sign it. The normative description is `SPEC.md`
//! beside this crate; doc comments quote its section numbers.
//!
//! - Cipher suites ([`Suite`]): `chacha20-poly1305`, the default, and `des-cbc-md5`, the scheme of
//!   the paper "Secure Email Software using e-SMTP" (random DES key and random number, MD5 hash),
//!   which is of **legacy strength** and only used when asked for by name.
//! - Recipients: [`X25519Recipient`] / [`X25519Identity`] key pairs, a [`Passphrase`]
//!   (Argon2id), and [`KeySlip`]s: the paper's key delivered to the receiver separately. Every
//!   key wrap is key-committing.
//! - Sender signatures ([`Sealer::sign_with`], [`Opener::require_signer`], [`Signature`]):
//!   Ed25519 over the whole header and the whole message, inside the encryption. **An unsigned
//!   envelope does not say who wrote it**: every recipient holds its key and could have made it.
//! - Chunked payload (64 KiB), each chunk authenticated with its index and a final flag, so
//!   [`Sealer::seal_writer`] and [`Opener::open_reader`] stream in bounded memory.
//! - [`armor()`] for text channels, and the [`hash`] tool (MD5 / SHA-256, `md5sum` format).
//! - [`mime`]: encrypted mails as `multipart/encrypted` with protected headers.
//!
//! ```
//! use esmtp_core::{Opener, Passphrase, Sealer, Signature, Suite, X25519Identity};
//!
//! let alice = X25519Identity::generate()?;
//! let bob = X25519Identity::generate()?;
//! // The default, modern suite, for Bob, signed by Alice.
//! let sealed = Sealer::new().recipient(bob.to_public()).sign_with(alice.clone()).seal(b"Meet at noon.")?;
//! let opened = Opener::new().identity(bob).require_signer(alice.to_public()).open(&sealed.envelope)?;
//! assert_eq!(opened.plaintext(), b"Meet at noon.");
//! assert_eq!(opened.signature(), &Signature::Signed { signer: alice.to_public() });
//!
//! // The paper's suite, with the key delivered as a separate key slip.
//! let sealed = Sealer::new().suite(Suite::LegacyDesCbcMd5).key_slip().seal(b"Meet at noon.")?;
//! let token = sealed.key_slip.as_ref().map(|s| s.to_token()).unwrap();
//! let slip: esmtp_core::KeySlip = token.parse()?;
//! let opened = Opener::new().identity(slip).open(&sealed.envelope)?;
//! assert_eq!(opened.md5_hex(), esmtp_core::hash::to_hex(&esmtp_core::hash::digest(
//!     esmtp_core::hash::HashAlgorithm::Md5, b"Meet at noon.")));
//! assert_eq!(opened.signature(), &Signature::Unsigned);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod armor;
mod chunk_jobs;
mod error;
mod framing;
pub mod hash;
mod header;
pub mod identity_file;
mod key;
mod keyslip;
pub mod mime;
mod oneshot;
mod open;
mod parallel;
mod passphrase;
mod pipeline;
mod random;
mod recipient;
mod seal;
mod stanza;
mod suite;
mod text;
mod wipe;
mod x25519;

pub use armor::{ARMOR_BEGIN, ARMOR_END, ArmorReader, ArmorWriter, armor, dearmor, is_armored};
pub use error::{OpenError, ParseKeyError, SealError};
pub use framing::Signature;
pub use header::{EnvelopeInfo, FORMAT_VERSION, StanzaKind, inspect};
pub use key::EnvelopeId;
pub use keyslip::KeySlip;
pub use open::{OpenReader, Opened, Opener};
pub use passphrase::{Argon2Params, Passphrase, PassphrasePrompt};
pub use random::RandomError;
#[doc(hidden)]
pub use random::{RandomSource, SeededRandom};
pub use recipient::{Identity, Recipient};
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
