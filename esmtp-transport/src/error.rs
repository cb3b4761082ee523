//! The transport error: one opaque type with a kind and predicates, in the style of `lettre` and
//! `reqwest`. Messages never contain passwords or tokens, and never repeat the text of the
//! error returned by [`std::error::Error::source`].

/// What went wrong, broadly: enough for a caller to choose a retry policy or an exit code without
/// looking at inner errors. `#[non_exhaustive]`: match with a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server rejected the credentials (SMTP 535, IMAP NO on LOGIN/AUTHENTICATE, POP3
    /// `-ERR`), or no OAuth2 token could be had.
    Auth,
    /// TLS failed: handshake, untrusted certificate, wrong host name, or no STARTTLS offered.
    Tls,
    /// The account's TLS mode does not match what the port speaks: implicit TLS configured for a
    /// port that greets in plain text (STARTTLS), or the reverse. The message names the setting.
    WrongTlsMode,
    /// Could not connect, or the connection broke.
    Connection,
    /// The server did not answer in time: no byte within the I/O timeout, or the operation
    /// did not finish within its deadline.
    Timeout,
    /// The server refused with a temporary (4xx) reply: try again later.
    Transient,
    /// The server refused with a permanent (5xx) reply.
    Permanent,
    /// The message is larger than the server accepts (its SIZE limit, or a 552 reply).
    TooLarge,
    /// The server lacks an extension the operation needs (e.g. SMTPUTF8 for a non-ASCII address).
    Unsupported,
    /// The server answered something this client does not understand, or more than it may.
    Protocol,
    /// The account or arguments are invalid (bad address, missing server).
    Config,
    /// The mail's `From` is neither the account's address nor one of its aliases (the account
    /// file's `allow_from`): refused before anything is sealed or sent, so an account cannot be
    /// used to claim someone else's address.
    FromNotAllowed,
    /// The draft cannot be packaged as a mail (e.g. an invalid address in it): the caller's to fix.
    InvalidDraft,
    /// Sealing the mail failed.
    Encryption,
    /// The call was cancelled from another thread ([`crate::Canceller`]).
    Cancelled,
    /// A local file could not be read or written: an attachment read while the mail is
    /// packaged (or one that changed size meanwhile), or the temporary copy of the mail.
    Io,
}

/// An error of the transport layer.
#[derive(Debug, thiserror::Error)]
#[error("{message}{}", reply_suffix(code, enhanced))]
pub struct Error {
    kind: ErrorKind,
    message: String,
    code: Option<u16>,
    enhanced: Option<String>,
    /// The whole message reached the server, but its reply did not reach us.
    outcome_unknown: bool,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

fn reply_suffix(code: &Option<u16>, enhanced: &Option<String>) -> String {
    match (code, enhanced) {
        (Some(code), Some(e)) => format!(" (server reply {code} {e})"),
        (Some(code), None) => format!(" (server reply {code})"),
        (None, _) => String::new(),
    }
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            code: None,
            enhanced: None,
            outcome_unknown: false,
            source: None,
        }
    }

    /// Attach the underlying error. Its text must not be in this error's message as well.
    pub(crate) fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Attach a server reply code and its enhanced status code, if any.
    pub(crate) fn with_reply(mut self, code: u16, enhanced: Option<String>) -> Self {
        self.code = Some(code);
        self.enhanced = enhanced;
        self
    }

    /// Mark a failure that came after the whole message was sent and before the server's reply.
    pub(crate) fn with_unknown_outcome(mut self) -> Self {
        self.outcome_unknown = true;
        self
    }

    /// The same error under another message (and kind), keeping the reply codes and whether the
    /// outcome is unknown; the original becomes the source, so its text is not repeated here.
    pub(crate) fn context(self, kind: ErrorKind, message: impl Into<String>) -> Self {
        let (code, enhanced, outcome_unknown) = (self.code, self.enhanced.clone(), self.outcome_unknown);
        Error { kind, message: message.into(), code, enhanced, outcome_unknown, source: Some(Box::new(self)) }
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

    /// Whether TLS failed (including an untrusted certificate and a TLS mode that does not
    /// match the port).
    pub fn is_tls(&self) -> bool {
        matches!(self.kind, ErrorKind::Tls | ErrorKind::WrongTlsMode)
    }

    /// Whether the server's reply was not understood.
    pub fn is_protocol(&self) -> bool {
        self.kind == ErrorKind::Protocol
    }

    /// Whether the operation ran out of time.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// Whether the call was cancelled ([`crate::Canceller`]).
    pub fn is_cancelled(&self) -> bool {
        self.kind == ErrorKind::Cancelled
    }

    /// Whether a submission may have succeeded although it failed: the connection broke (or the
    /// deadline passed) after the whole message and its final dot were sent, before the server's
    /// reply arrived. The server may have taken the mail; sending it again may deliver it twice.
    /// Such errors are also [`Error::is_transient`]: a caller that sends again sends the same
    /// bytes (as [`crate::SendOptions::retry`] does), so the copies have the same Message-ID and
    /// body, and the fetch side reports the second as a [`crate::Duplicate`]. This is the only
    /// window in which a submission is "at least once" rather than "exactly once".
    pub fn may_have_been_delivered(&self) -> bool {
        self.outcome_unknown
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

/// A convenient alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A server's text for an error message: control characters replaced (no terminal escapes, no
/// forged lines) and cut to a readable length.
pub(crate) fn server_text(text: &str) -> String {
    const MAX: usize = 300;
    let mut out: String =
        text.trim().chars().take(MAX).map(|c| if c.is_control() { '?' } else { c }).collect();
    if text.trim().chars().nth(MAX).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_shows_the_reply_and_never_the_source_text() {
        let io = std::io::Error::other("socket said no");
        let e = Error::new(ErrorKind::Connection, "connection failed during EHLO").with_source(io);
        assert_eq!(e.to_string(), "connection failed during EHLO");
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("socket said no"));
        let refused = Error::new(ErrorKind::Permanent, "the server refused RCPT TO: no such user")
            .with_reply(550, Some("5.1.1".into()));
        assert_eq!(refused.to_string(), "the server refused RCPT TO: no such user (server reply 550 5.1.1)");
        let wrapped = refused.context(ErrorKind::Permanent, "the key slip was not sent");
        assert_eq!(wrapped.to_string(), "the key slip was not sent (server reply 550 5.1.1)");
        assert!(!wrapped.to_string().contains("no such user"));
        assert_eq!(wrapped.code(), Some(550));
        assert!(wrapped.source().is_some_and(|s| s.to_string().contains("no such user")));
    }

    #[test]
    fn predicates() {
        assert!(Error::new(ErrorKind::Timeout, "x").is_transient());
        assert!(Error::new(ErrorKind::Timeout, "x").is_timeout());
        assert!(Error::new(ErrorKind::WrongTlsMode, "x").is_tls());
        assert!(!Error::new(ErrorKind::Permanent, "x").is_transient());
        assert!(Error::new(ErrorKind::Protocol, "x").is_protocol());
    }

    #[test]
    fn server_text_is_cleaned_and_cut() {
        assert_eq!(server_text(" no such user\r\n"), "no such user");
        assert_eq!(server_text("a\x1b[2Jb"), "a?[2Jb");
        assert_eq!(server_text(&"x".repeat(1000)).len(), 303);
    }

    #[test]
    fn error_is_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }
}
