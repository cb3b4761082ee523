//! The transport error: one opaque type with predicates, in the style of `lettre` and `reqwest`.
//! Messages never contain passwords or tokens.

use std::fmt;

/// What went wrong, broadly. `#[non_exhaustive]`: match with a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server rejected the credentials (SMTP 535, IMAP NO on LOGIN/AUTHENTICATE, POP3 -ERR).
    Auth,
    /// TLS failed: handshake, untrusted certificate, wrong host name, or no STARTTLS offered.
    Tls,
    /// Could not connect, or the connection broke.
    Connection,
    /// The server did not answer in time.
    Timeout,
    /// The server refused with a temporary (4xx) reply: try again later.
    Transient,
    /// The server refused with a permanent (5xx) reply.
    Permanent,
    /// The message is larger than the server's SIZE limit; nothing was uploaded.
    MessageTooLarge,
    /// The server lacks an extension the operation needs (e.g. SMTPUTF8 for a non-ASCII address).
    Unsupported,
    /// The server answered something this client does not understand.
    Protocol,
    /// The account or arguments are invalid (bad address, missing server, From not allowed).
    Config,
    /// Sealing or packaging the mail failed.
    Encryption,
}

/// An error of the transport layer.
pub struct Error {
    kind: ErrorKind,
    message: String,
    code: Option<u16>,
    enhanced: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), code: None, enhanced: None, source: None }
    }

    pub(crate) fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub(crate) fn with_reply(mut self, code: u16, text: &str) -> Self {
        self.code = Some(code);
        self.enhanced = crate::smtp::reply::enhanced_code(text);
        self
    }

    /// The broad kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether trying again later may succeed (4xx replies, timeouts, broken connections).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::Connection)
    }

    /// Whether the credentials were rejected.
    pub fn is_auth(&self) -> bool {
        self.kind == ErrorKind::Auth
    }

    /// Whether TLS failed (including an untrusted certificate).
    pub fn is_tls(&self) -> bool {
        self.kind == ErrorKind::Tls
    }

    /// Whether the server's reply was not understood.
    pub fn is_protocol(&self) -> bool {
        self.kind == ErrorKind::Protocol
    }

    /// The SMTP reply code, when the server sent one (e.g. 535).
    pub fn code(&self) -> Option<u16> {
        self.code
    }

    /// The enhanced status code (RFC 3463), when the server sent one (e.g. `5.7.8`).
    pub fn enhanced_code(&self) -> Option<&str> {
        self.enhanced.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(code) = self.code {
            write!(f, " (server reply {code}")?;
            if let Some(e) = &self.enhanced {
                write!(f, " {e}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("code", &self.code)
            .field("enhanced", &self.enhanced)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A convenient alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
