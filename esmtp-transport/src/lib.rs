//! SMTP submission and IMAP / POP3 retrieval for esmtp end-to-end encrypted email.
//!
//! Work in progress: the transport API is not published yet; see `esmtp-core` for the envelope
//! format.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
