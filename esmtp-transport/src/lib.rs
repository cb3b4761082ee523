//! # esmtp-transport
//!
//! The network half of esmtp: authenticated SMTP submission (with a Gmail preset), and IMAP and
//! POP3 retrieval. The mail handed to the server is already sealed end to end by `esmtp-core`;
//! the TLS here protects the login and hides metadata from the path.
//!
//! - Blocking calls, safe to run on a background thread; types are `Send + Sync`.
//! - TLS is implicit or STARTTLS, always required, with certificate and host-name checks; the
//!   only way around them is named `dangerous_*`.
//! - One opaque [`Error`] with [`Error::is_transient`], [`Error::is_auth`], [`Error::is_tls`] and
//!   the server's codes; it never contains a password or token.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod account;
pub mod account_file;
mod error;
pub mod imap;
pub mod maildir;
pub mod pop3;
pub mod retrieve;
pub mod sasl;
pub mod smtp;
mod tls;

pub use account::{
    Account, AccountBuilder, Credentials, PasswordMechanism, Secret, ServerSettings, TlsMode, TokenProvider,
};
pub use error::{Error, ErrorKind, Result};
pub use imap::{FetchOptions, FetchReport, ImapClient, MailboxInfo, MailboxState, SyncState};
pub use maildir::Maildir;
pub use pop3::{Pop3Client, Pop3Entry, Pop3FetchOptions, Pop3Report};
pub use retrieve::{FetchScope, Fetched, MessageError, MessageRef, Retrieved};
pub use smtp::{Capabilities, KeySlipDelivery, SendOptions, SendReport, SubmitReply, Submitter};

/// Whether a rustls error sits anywhere in `e`'s source chain (also inside `io::Error`s).
pub(crate) fn error_chain_has_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        current = err.source();
    }
    false
}
