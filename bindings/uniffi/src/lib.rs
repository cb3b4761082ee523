//! # esmtp-uniffi
//!
//! esmtp for Kotlin (Android) and Swift (iOS): the uniffi layer over `esmtp-ffi`, namespace
//! `esmtp`. Each export converts its arguments, makes one call into esmtp-ffi and converts the
//! result; the rules live in esmtp-core, esmtp-transport and esmtp-ffi.
//!
//! - Errors: one enum, [`EsmtpError`] (`EsmtpException` in Kotlin), one variant per kind, each
//!   with a reason and `transient`; mapped in `src/error.rs`.
//! - Network calls (sending, fetching, IDLE) are async: `suspend` functions in Kotlin, `async`
//!   in Swift, each running its blocking esmtp call on a small thread pool (`src/runtime.rs`).
//!   Cancelling the awaiting coroutine or task cancels an inbox call.
//! - Passwords, tokens and passphrases go in as [`Secret`] objects, never as record fields, so
//!   that printing a record shows no secret.
//!
//! Build the library, then generate the bindings from it:
//!
//! ```text
//! cargo build -p esmtp-uniffi
//! cargo run -p esmtp-uniffi-bindgen -- generate --library target/debug/libesmtp_uniffi.so \
//!     --language kotlin --out-dir out/kotlin
//! ```
// The scaffolding that uniffi's macros write (extern "C" functions) comes from another crate's
// macros, which the lint does not look into; this crate's own code has no unsafe.
#![forbid(unsafe_code)]

uniffi::setup_scaffolding!("esmtp");

mod account;
mod envelope;
mod error;
mod inbox;
mod keys;
mod mail;
mod mailer;
mod runtime;

pub use account::{Account, AccountConfig, Contact, Credential, Server, TlsMode, TokenProvider};
pub use envelope::{
    OpenOptions, OpenReport, Opened, PassphraseWork, SealOptions, SealReport, Sealed, Suite, hash_file_hex,
    md5_hex, open, open_file, seal, seal_file, sha256_hex, suite_from_name, suite_name,
};
pub use error::{ErrorKind, EsmtpError, Failure, Result};
pub use inbox::{
    DuplicateMessage, FetchOutcome, FetchReport, FetchedMessage, ImapFetchOptions, ImapInbox,
    Pop3FetchOptions, Pop3Inbox, SenderCheck, SenderVerdict,
};
pub use keys::{
    Identity, IdentityFileContents, KeySlip, PublicKey, Secret, load_identity_file, parse_identity_file,
};
pub use mail::{
    Attachment, BuiltMail, Draft, Headers, MailContent, Mailbox, ReadMail, build_mail, read_mail,
};
pub use mailer::{BatchResult, Capabilities, KeySlipSent, Mailer, SendOptions, SendReport};
