//! # esmtp-transport
//!
//! The network half of esmtp: authenticated SMTP submission (with a Gmail preset), and IMAP and
//! POP3 retrieval. The mail handed to the server is already sealed end to end by `esmtp-core`;
//! the TLS here protects the login and hides metadata from the path.
//!
//! - Blocking calls, safe to run on a background thread; types are `Send + Sync`.
//! - TLS is implicit or STARTTLS, always required, with certificate and host-name checks; the
//!   only way around them is named `dangerous_*`. A TLS mode that does not match the port is
//!   told quickly, with the setting to change ([`ErrorKind::WrongTlsMode`]).
//! - Whatever a server sends, memory and time stay bounded: lines and responses have limits,
//!   every command exchange a deadline ([`AccountBuilder::deadline`]), every SASL exchange a
//!   number of rounds.
//! - One opaque [`Error`] with an [`ErrorKind`], [`Error::is_transient`], [`Error::is_auth`],
//!   [`Error::is_tls`] and the server's codes; it never contains a password or token.
//! - Submission goes through the [`Submit`] trait: [`Submitter`] over SMTP, [`StubSubmitter`] in
//!   memory. Every client can also run over a caller's `Read + Write` stream
//!   ([`Submitter::from_stream`], [`ImapClient::from_stream`], [`Pop3Client::from_stream`]).
//! - A protocol trace with every secret redacted ([`AccountBuilder::trace`]).
//! - Who sends and who signed: an account sends only as its address or an alias
//!   ([`ErrorKind::FromNotAllowed`]), signs with its identity and seals to it too, so Sent
//!   copies stay readable ([`Account::package`], [`Submit::send_secure`]); every fetched mail
//!   is checked against the signers the account expects ([`Contacts`], [`Fetched::sender`]).
//! - Mail is submitted exactly once or the error says why; the one exception, a connection lost
//!   after the final dot, is told by [`Error::may_have_been_delivered`]. [`SendOptions::retry`]
//!   resends the same bytes, and fetches report the second copy as a [`Duplicate`]. Sync states
//!   never move past a message that was not read.
//!
//! ```no_run
//! use esmtp_core::mime::{MailDraft, Mailbox};
//! use esmtp_core::{Opener, Sealer, X25519Identity};
//! use esmtp_transport::{Account, Credentials, ImapClient, ImapFetchOptions, Secret, SendOptions, Submit, Submitter};
//!
//! let bob = X25519Identity::generate()?;
//! let account = Account::gmail("alice@gmail.com", Credentials::Password(Secret::new("app password")))
//!     .build()?;
//! let draft = MailDraft::new(Mailbox::new("alice@gmail.com"))
//!     .to(Mailbox::new("bob@example.org"))
//!     .subject("The plan")
//!     .text("Meet at noon.");
//! let sent = Submitter::new(&account)?
//!     .send_secure(&draft, Sealer::new().recipient(bob.to_public()), &SendOptions::default())?;
//! println!("sent {}", sent.message_id);
//!
//! let mut imap = ImapClient::connect(&account)?;
//! let report = imap.fetch_esmtp("INBOX", &Opener::new().identity(bob), &ImapFetchOptions::default())?;
//! println!("{} opened", report.opened().count());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod account;
pub mod account_file;
pub mod atomic_file;
mod contacts;
mod copies;
mod error;
mod imap;
mod maildir;
mod net;
mod pairing;
mod pop3;
mod retrieve;
mod sasl;
mod smtp;
mod tls;
mod trace;

pub use account::{
    Account, AccountBuilder, Credentials, DEFAULT_DEADLINE, DEFAULT_TIMEOUT, MAX_TIMEOUT,
    MAX_TRANSFER_DEADLINE, PasswordMechanism, Secret, ServerSettings, TRANSFER_BYTES_PER_SECOND, TlsMode,
    TokenProvider,
};
pub use contacts::{Contacts, SenderCheck, SenderVerdict};
pub use copies::Duplicate;
pub use error::{Error, ErrorKind, Result};
pub use imap::{ImapClient, ImapFetchOptions, ImapFetchReport, ImapSyncState, MailboxInfo, MailboxState};
pub use maildir::Maildir;
pub use net::Canceller;
pub use pop3::{Pop3Client, Pop3Download, Pop3Entry, Pop3FetchOptions, Pop3FetchReport, Pop3SyncState};
pub use retrieve::{FetchScope, Fetched, MessageError, MessageRef, Retrieved};
pub use smtp::{
    Capabilities, KeySlipDelivery, PackagedMail, Retry, SendOptions, SendReport, StreamedPackage,
    StubSubmitter, Submit, SubmitReply, SubmittedMail, Submitter,
};
pub use trace::{Direction, Protocol, ProtocolTrace};

/// The crate README's examples, compiled as doctests so they cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
