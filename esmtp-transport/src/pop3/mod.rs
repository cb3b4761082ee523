//! POP3 retrieval (the paper's section 2.2.2): RFC 1939 with CAPA (RFC 2449), STLS (RFC 2595)
//! and SASL AUTH (RFC 5034) for PLAIN and XOAUTH2, over rustls.
//!
//! No maintained blocking POP3 crate exists, so this is a small client of its own. Mail stays on
//! the server unless the caller deletes it; deletions take effect only at [`Pop3Client::quit`].

mod fetch;
pub(crate) mod wire;

use std::collections::HashMap;
use std::io::{Read, Write};

use crate::account::{Account, PasswordMechanism, SessionSecret, TlsMode};
use crate::contacts::Contacts;
use crate::error::{Error, ErrorKind, Result, server_text};
use crate::net::Wire;
use crate::net::{self, DEFAULT_BUDGET, PREAUTH_BUDGET};
use crate::retrieve;
use crate::sasl;
use crate::trace::Protocol;
pub use fetch::{Pop3Download, Pop3FetchOptions, Pop3FetchReport, Pop3SyncState};
use wire::{MAX_LINE, Status, read_multiline, read_status};

/// Room for dot-stuffing and line-end differences above the size LIST announces: every line
/// can gain a stuffed dot, and a server's count may differ a little from the wire.
fn retr_limit(listed: u64) -> usize {
    let limit = listed.saturating_add(listed / 2).saturating_add(64 * 1024);
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// The most a listing (LIST, UIDL) may take: 64 MiB holds millions of entries.
const MAX_LISTING: usize = 64 << 20;

/// A message as LIST and UIDL report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Entry {
    /// The message number in this session (1-based).
    pub number: u32,
    /// Its size in octets, as the server counts it.
    pub size: u64,
    /// Its unique id (UIDL), stable across sessions.
    pub uidl: String,
}

/// An authenticated POP3 session (TRANSACTION state). Blocking; `Send`.
///
/// ```no_run
/// use esmtp_core::{Opener, X25519Identity};
/// use esmtp_transport::{Account, Credentials, Pop3Client, Pop3FetchOptions, Secret};
///
/// # fn identity() -> X25519Identity { X25519Identity::generate().expect("the OS random source") }
/// let account = Account::gmail("bob@gmail.com", Credentials::Password(Secret::new("app password")))
///     .build()?;
/// let mut pop3 = Pop3Client::connect(&account)?;
/// let report = pop3.fetch_esmtp(&Opener::new().identity(identity()), &Pop3FetchOptions::default())?;
/// for m in report.opened() {
///     println!("{:?}", m.opened().and_then(|o| o.headers.subject.as_deref()));
/// }
/// // Keep `report.sync.to_string()` and pass it back as `since` next time.
/// pop3.quit()?;
/// # Ok::<(), esmtp_transport::Error>(())
/// ```
pub struct Pop3Client {
    wire: Wire,
    capabilities: Vec<String>,
    /// The account's contacts: every opened mail's sender is checked against them.
    contacts: Contacts,
}

impl std::fmt::Debug for Pop3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Client").field("capabilities", &self.capabilities).finish_non_exhaustive()
    }
}

/// An `-ERR` as an error: RFC 2449 response codes tell credentials from temporary trouble.
fn refused(code: Option<String>, text: String, during: &str, auth: bool) -> Error {
    let code = code.unwrap_or_default().to_ascii_uppercase();
    let kind = match code.as_str() {
        "AUTH" => ErrorKind::Auth,
        "IN-USE" | "LOGIN-DELAY" | "SYS/TEMP" => ErrorKind::Transient,
        _ if auth => ErrorKind::Auth,
        _ => ErrorKind::Permanent,
    };
    if kind == ErrorKind::Auth {
        return Error::new(kind, "authentication failed");
    }
    Error::new(kind, format!("the server refused {during}: {}", server_text(&text)))
}

fn expect_ok(wire: &mut Wire, during: &str) -> Result<String> {
    match read_status(wire, during)? {
        Status::Ok(text) => Ok(text),
        Status::Err { code, text } => Err(refused(code, text, during, false)),
        Status::Continue(_) => {
            Err(Error::new(ErrorKind::Protocol, format!("unexpected continuation after {during}")))
        }
    }
}

/// The most a CAPA listing may take: a few dozen short lines in practice.
const MAX_CAPA: usize = 64 * 1024;

fn capa(wire: &mut Wire) -> Result<Option<Vec<String>>> {
    wire.control().begin(PREAUTH_BUDGET);
    wire.send("CAPA", "CAPA")?;
    match read_status(wire, "CAPA")? {
        Status::Ok(_) => {
            let mut body = Vec::new();
            read_multiline(wire, MAX_LINE, MAX_CAPA, &mut body, "CAPA")?;
            Ok(Some(
                String::from_utf8_lossy(&body)
                    .lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect(),
            ))
        }
        // CAPA is optional (RFC 2449): a server without it just has the RFC 1939 commands.
        Status::Err { .. } => Ok(None),
        Status::Continue(_) => Err(Error::new(ErrorKind::Protocol, "unexpected continuation after CAPA")),
    }
}

impl Pop3Client {
    /// Connect to the account's POP3 server, set up TLS (POP3S or STLS, required) and log in:
    /// XOAUTH2 for OAuth2 credentials; for a password AUTH PLAIN when offered, else USER/PASS
    /// (as [`crate::PasswordMechanism`] allows; `Login` means USER/PASS).
    ///
    /// # Errors
    /// As [`crate::ImapClient::connect`].
    pub fn connect(account: &Account) -> Result<Self> {
        let server =
            account.pop3().ok_or_else(|| Error::new(ErrorKind::Config, "the account has no POP3 server"))?;
        let mut wire = net::connect(account, server, Protocol::Pop3)?;
        if server.tls == TlsMode::StartTls {
            let mut channel = stls(wire)?;
            channel.start_tls(&account.trust, server, false)?;
            wire = Wire::new(channel);
        } else {
            expect_ok(&mut wire, "the greeting")?;
        }
        Pop3Client::start(account, wire)
    }

    /// A session over `stream`, used as it is: the server's greeting comes first, then CAPA and
    /// the login of [`Pop3Client::connect`]. No TLS is added: the stream must already be
    /// protected (a TLS session of the caller's, a local socket), or be a test's. The account's
    /// servers are not used; its credentials, deadline and trace are. The deadline is checked
    /// before each read and write; a read that blocks forever can only be ended by the stream
    /// itself (set its timeouts).
    ///
    /// # Errors
    /// As [`Pop3Client::connect`].
    pub fn from_stream(account: &Account, stream: impl Read + Write + Send + 'static) -> Result<Self> {
        let mut wire = net::over_stream(account, Protocol::Pop3, stream);
        expect_ok(&mut wire, "the greeting")?;
        Pop3Client::start(account, wire)
    }

    fn start(account: &Account, mut wire: Wire) -> Result<Self> {
        // What the server said before TLS is not trusted (RFC 2595 section 4).
        let capabilities = capa(&mut wire)?.unwrap_or_default();
        let mut client = Pop3Client { wire, capabilities, contacts: account.contacts().clone() };
        client.login(account)?;
        Ok(client)
    }

    /// The capabilities from CAPA after TLS (`TOP`, `UIDL`, `SASL PLAIN XOAUTH2`, ...); empty
    /// when the server has no CAPA.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    fn has(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case(name)))
    }

    fn sasl_offers(&self, mechanism: &str) -> Option<bool> {
        if self.capabilities.is_empty() {
            return None;
        }
        Some(self.capabilities.iter().any(|c| {
            let mut words = c.split_whitespace();
            words.next().is_some_and(|w| w.eq_ignore_ascii_case("SASL"))
                && words.any(|m| m.eq_ignore_ascii_case(mechanism))
        }))
    }

    fn login(&mut self, account: &Account) -> Result<()> {
        let user = account.username();
        self.wire.control().begin(PREAUTH_BUDGET);
        match account.credentials.resolve()? {
            SessionSecret::OAuth2(token) => {
                if self.sasl_offers("XOAUTH2") == Some(false) {
                    return Err(Error::new(ErrorKind::Unsupported, "the server does not offer XOAUTH2"));
                }
                self.auth("XOAUTH2", &sasl::xoauth2(user, token.expose()))
            }
            SessionSecret::Password(password) => {
                let plain = self.sasl_offers("PLAIN");
                match (account.password_mechanism, plain) {
                    (PasswordMechanism::Plain, Some(false)) => {
                        Err(Error::new(ErrorKind::Unsupported, "the server does not offer SASL PLAIN"))
                    }
                    (PasswordMechanism::Plain, _) | (PasswordMechanism::Any, Some(true)) => {
                        self.auth("PLAIN", &sasl::plain(user, password.expose()))
                    }
                    _ => {
                        self.wire.send(&format!("USER {user}"), "USER")?;
                        self.auth_reply("USER")?;
                        let pass = zeroize::Zeroizing::new(format!("PASS {}", password.expose()));
                        self.wire.send_secret(&pass, 1, "PASS")?;
                        self.auth_reply("PASS")
                    }
                }
            }
        }
    }

    /// AUTH with the response in a continuation: initial responses must stay under 255 octets
    /// (RFC 5034 section 4), which OAuth2 tokens do not. At most [`sasl::MAX_CHALLENGES`]
    /// continuations are answered; then the exchange is cancelled (`*`) and is an error.
    fn auth(&mut self, mechanism: &str, response: &str) -> Result<()> {
        let during = format!("AUTH {mechanism}");
        self.wire.send(&during, &during)?;
        for challenge in 0..=sasl::MAX_CHALLENGES {
            match read_status(&mut self.wire, &during)? {
                Status::Ok(_) => return Ok(()),
                Status::Err { code, text } => return Err(refused(code, text, &during, true)),
                Status::Continue(_) if challenge == sasl::MAX_CHALLENGES => break,
                Status::Continue(_) if challenge == 0 => self.wire.send_secret(response, 0, &during)?,
                // XOAUTH2 reports failure in a second challenge, answered with an empty line.
                Status::Continue(_) => self.wire.send("", &during)?,
            }
        }
        let _ = self.wire.send("*", &during);
        Err(Error::new(ErrorKind::Protocol, format!("the server kept challenging during {during}")))
    }

    fn auth_reply(&mut self, during: &str) -> Result<()> {
        match read_status(&mut self.wire, during)? {
            Status::Ok(_) => Ok(()),
            Status::Err { code, text } => Err(refused(code, text, during, true)),
            Status::Continue(_) => {
                Err(Error::new(ErrorKind::Protocol, format!("unexpected continuation after {during}")))
            }
        }
    }

    /// One command exchange within the account's deadline.
    fn command(&mut self, line: &str, during: &str) -> Result<String> {
        self.wire.control().begin(DEFAULT_BUDGET);
        self.wire.send(line, during)?;
        expect_ok(&mut self.wire, during)
    }

    fn listing(&mut self, line: &str, during: &str) -> Result<Vec<u8>> {
        self.command(line, during)?;
        let mut body = Vec::new();
        read_multiline(&mut self.wire, MAX_LINE, MAX_LISTING, &mut body, during)?;
        Ok(body)
    }

    /// STAT: the number of messages and their total size.
    ///
    /// # Errors
    /// Connection and protocol errors.
    pub fn stat(&mut self) -> Result<(u32, u64)> {
        let text = self.command("STAT", "STAT")?;
        let mut words = text.split_ascii_whitespace();
        let parsed = (words.next().and_then(|w| w.parse().ok()), words.next().and_then(|w| w.parse().ok()));
        match parsed {
            (Some(count), Some(size)) => Ok((count, size)),
            _ => Err(Error::new(ErrorKind::Protocol, "the STAT reply is not 'count size'")),
        }
    }

    /// LIST: every message's number and size.
    ///
    /// # Errors
    /// Connection and protocol errors.
    pub fn list(&mut self) -> Result<Vec<(u32, u64)>> {
        let body = self.listing("LIST", "LIST")?;
        body.split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.is_empty())
            .map(|l| {
                wire::parse_listing(l)
                    .and_then(|(n, size)| Some((n, size.parse().ok()?)))
                    .ok_or_else(|| Error::new(ErrorKind::Protocol, "a LIST line is not 'number size'"))
            })
            .collect()
    }

    /// UIDL: every message's number and unique id.
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when the server has no UIDL; connection and protocol errors.
    pub fn uidl(&mut self) -> Result<Vec<(u32, String)>> {
        let body = self.listing("UIDL", "UIDL")?;
        body.split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.is_empty())
            .map(|l| {
                wire::parse_listing(l)
                    .map(|(n, id)| (n, id.to_string()))
                    .ok_or_else(|| Error::new(ErrorKind::Protocol, "a UIDL line is not 'number id'"))
            })
            .collect()
    }

    /// LIST and UIDL together, in message-number order.
    ///
    /// # Errors
    /// As [`Pop3Client::uidl`].
    pub fn entries(&mut self) -> Result<Vec<Pop3Entry>> {
        let sizes: HashMap<u32, u64> = self.list()?.into_iter().collect();
        Ok(self
            .uidl()?
            .into_iter()
            .map(|(number, uidl)| Pop3Entry { number, size: sizes.get(&number).copied().unwrap_or(0), uidl })
            .collect())
    }

    /// The size LIST gives for one message.
    fn size_of(&mut self, number: u32) -> Result<u64> {
        let text = self.command(&format!("LIST {number}"), "LIST")?;
        let mut words = text.split_ascii_whitespace();
        words
            .nth(1)
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "the LIST reply is not 'number size'"))
    }

    /// The size of one message, refused above the MIME reader's limit before any download.
    fn checked_size(&mut self, number: u32) -> Result<u64> {
        let size = self.size_of(number)?;
        let max = retrieve::default_max_message_size();
        if size > max {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("message {number} has {size} bytes, the limit is {max}"),
            ));
        }
        Ok(size)
    }

    /// RETR: the whole message, dot-unstuffed, CRLF line ends. Its size is checked with LIST
    /// first (messages above the MIME reader's limit are [`ErrorKind::TooLarge`]), and the
    /// download may not grow past it (plus room for the wire format). Servers such as Dovecot
    /// flag a message retrieved this way `\Seen`; [`Pop3Client::fetch_esmtp`] avoids that.
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] for a message number that does not exist; protocol errors.
    pub fn retr(&mut self, number: u32) -> Result<Vec<u8>> {
        let size = self.checked_size(number)?;
        self.download(number, size, false)
    }

    /// Download a message of `size` (as LIST says) with RETR, or with TOP asking for more body
    /// lines than the message can have (each line takes a byte at least), which servers do not
    /// count as reading it. The deadline grows with the size; the bytes may not exceed it by
    /// more than the wire format allows.
    fn download(&mut self, number: u32, size: u64, top: bool) -> Result<Vec<u8>> {
        let limit = retr_limit(size);
        self.wire.control().begin_transfer(size, limit as u64 + MAX_LINE as u64);
        let (line, during) = if top {
            // Below 2^31 for servers that parse the count as a signed 32-bit number.
            (format!("TOP {number} {}", size.saturating_add(1).min(i32::MAX as u64)), "TOP")
        } else {
            (format!("RETR {number}"), "RETR")
        };
        self.wire.send(&line, during)?;
        expect_ok(&mut self.wire, during)?;
        let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(limit).min(16 << 20));
        read_multiline(&mut self.wire, limit, limit, &mut body, during)?;
        Ok(body)
    }

    /// TOP: the header and the first `lines` lines of the body (TOP is optional; see
    /// [`Pop3Client::capabilities`]). Bounded like [`Pop3Client::retr`].
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when the server refuses TOP or the number.
    pub fn top(&mut self, number: u32, lines: u32) -> Result<Vec<u8>> {
        let size = self.checked_size(number)?;
        let limit = retr_limit(size);
        self.wire.control().begin_transfer(size, limit as u64 + MAX_LINE as u64);
        self.wire.send(&format!("TOP {number} {lines}"), "TOP")?;
        expect_ok(&mut self.wire, "TOP")?;
        let mut body = Vec::new();
        read_multiline(&mut self.wire, limit, limit, &mut body, "TOP")?;
        Ok(body)
    }

    /// DELE: mark a message for deletion at [`Pop3Client::quit`].
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] for a message that does not exist or is already marked.
    pub fn dele(&mut self, number: u32) -> Result<()> {
        self.command(&format!("DELE {number}"), "DELE").map(drop)
    }

    /// RSET: unmark every message marked for deletion.
    ///
    /// # Errors
    /// Connection errors.
    pub fn rset(&mut self) -> Result<()> {
        self.command("RSET", "RSET").map(drop)
    }

    /// NOOP.
    ///
    /// # Errors
    /// Connection errors.
    pub fn noop(&mut self) -> Result<()> {
        self.command("NOOP", "NOOP").map(drop)
    }

    /// A handle that cancels this session's blocking calls (a fetch) from another thread; see
    /// [`crate::Canceller`].
    pub fn canceller(&self) -> crate::Canceller {
        crate::Canceller::new(self.wire.control())
    }

    /// QUIT: the server deletes what was marked and ends the session. Dropping the client
    /// without QUIT leaves every message on the server.
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when the server could not delete marked messages.
    pub fn quit(mut self) -> Result<()> {
        self.command("QUIT", "QUIT").map(drop)
    }
}

/// The plaintext phase of STLS: greeting, CAPA (STLS required), STLS; returns the stream for
/// the handshake. Bytes the server sent after its +OK are an error, never read as TLS data.
fn stls(mut wire: Wire) -> Result<crate::net::Channel> {
    expect_ok(&mut wire, "the greeting")?;
    if let Some(caps) = capa(&mut wire)?
        && !caps.iter().any(|c| c.eq_ignore_ascii_case("STLS"))
    {
        return Err(Error::new(ErrorKind::Tls, "the server does not offer STLS"));
    }
    wire.control().begin(PREAUTH_BUDGET);
    wire.send("STLS", "STLS")?;
    match read_status(&mut wire, "STLS")? {
        Status::Ok(_) => wire.into_inner(),
        _ => Err(Error::new(ErrorKind::Tls, "the server refused STLS")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_codes_map_to_kinds() {
        assert_eq!(refused(Some("AUTH".into()), "bad".into(), "PASS", false).kind(), ErrorKind::Auth);
        assert_eq!(
            refused(Some("in-use".into()), "locked".into(), "PASS", true).kind(),
            ErrorKind::Transient
        );
        assert_eq!(refused(Some("SYS/TEMP".into()), "x".into(), "RETR", false).kind(), ErrorKind::Transient);
        assert_eq!(refused(None, "no such message".into(), "RETR", false).kind(), ErrorKind::Permanent);
        assert_eq!(refused(None, "x".into(), "AUTH PLAIN", true).kind(), ErrorKind::Auth);
        assert!(!refused(None, "x".into(), "PASS", true).to_string().contains('x'));
    }

    #[test]
    fn retr_limit_leaves_room_for_stuffing() {
        assert_eq!(retr_limit(0), 64 * 1024);
        assert_eq!(retr_limit(1000), 1500 + 64 * 1024);
        assert_eq!(retr_limit(u64::MAX), usize::MAX);
    }

    #[test]
    fn client_is_send() {
        fn send<T: Send>() {}
        send::<Pop3Client>();
    }
}
