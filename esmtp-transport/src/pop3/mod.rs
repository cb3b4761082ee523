//! POP3 retrieval (the paper's section 2.2.2): RFC 1939 with CAPA (RFC 2449), STLS (RFC 2595)
//! and SASL AUTH (RFC 5034) for PLAIN and XOAUTH2, over rustls.
//!
//! No maintained blocking POP3 crate exists, so this is a small client of its own. Mail stays on
//! the server unless the caller deletes it; deletions take effect only at [`Pop3Client::quit`].

pub(crate) mod wire;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::TcpStream;

use esmtp_core::Opener;

use crate::account::{Account, PasswordMechanism, SessionSecret, TlsMode};
use crate::error::{Error, ErrorKind, Result};
use crate::retrieve::net::{TlsStream, connect_tcp};
use crate::retrieve::{self, FetchScope, Fetched, MessageError, MessageRef, Reader, Retrieved};
use wire::{MAX_LINE, Status, Wire};

/// Room for dot-stuffing and line-end differences above the size LIST announces: every line
/// can gain a stuffed dot, and a server's count may differ a little from the wire.
fn retr_limit(listed: u64) -> usize {
    let limit = listed.saturating_add(listed / 2).saturating_add(64 * 1024);
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// The most a listing (LIST, UIDL, CAPA) may take: 64 MiB holds millions of entries.
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

/// How [`Pop3Client::fetch_esmtp`] fetches.
#[derive(Debug, Clone)]
pub struct Pop3FetchOptions {
    /// Esmtp mails only (default; classified from the headers with TOP when the server has it)
    /// or every message.
    pub scope: FetchScope,
    /// Mark messages that opened (and the key slips that opened them) for deletion; the
    /// server deletes them when [`Pop3Client::quit`] is called. Off by default: mail stays.
    pub delete_after_open: bool,
    /// Messages above this size are reported as [`MessageError::TooLarge`] and not downloaded
    /// (default 128 MiB, the MIME reader's limit).
    pub max_message_size: u64,
}

impl Default for Pop3FetchOptions {
    fn default() -> Self {
        Pop3FetchOptions {
            scope: FetchScope::EsmtpOnly,
            delete_after_open: false,
            max_message_size: esmtp_core::mime::Limits::default().max_mail_bytes as u64,
        }
    }
}

/// The result of [`Pop3Client::fetch_esmtp`].
#[derive(Debug)]
pub struct Pop3Report {
    /// The messages not in `known_uidls`, each with its own result, in server order.
    pub messages: Vec<Fetched>,
    /// The unique ids of every message now on the server: the `known_uidls` for next time.
    pub uidls: Vec<String>,
    /// Why marking for deletion failed, if it did.
    pub action_error: Option<Error>,
}

impl Pop3Report {
    /// The messages that opened.
    pub fn opened(&self) -> impl Iterator<Item = &Fetched> {
        self.messages.iter().filter(|m| m.opened().is_some())
    }
}

/// An authenticated POP3 session (TRANSACTION state). Blocking; `Send`.
pub struct Pop3Client {
    wire: Wire<TlsStream>,
    capabilities: Vec<String>,
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
    Error::new(kind, format!("the server refused {during}: {text}"))
}

fn expect_ok<S: std::io::Read + std::io::Write>(wire: &mut Wire<S>, during: &str) -> Result<String> {
    match wire.read_status(during)? {
        Status::Ok(text) => Ok(text),
        Status::Err { code, text } => Err(refused(code, text, during, false)),
        Status::Continue(_) => {
            Err(Error::new(ErrorKind::Protocol, format!("unexpected continuation after {during}")))
        }
    }
}

fn capa<S: std::io::Read + std::io::Write>(wire: &mut Wire<S>) -> Result<Option<Vec<String>>> {
    wire.send("CAPA", "CAPA")?;
    match wire.read_status("CAPA")? {
        Status::Ok(_) => {
            let mut body = Vec::new();
            wire.read_multiline(MAX_LINE, MAX_LISTING, &mut body, "CAPA")?;
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
        let tcp = connect_tcp(server, account.timeout())?;
        let tls = match server.tls {
            TlsMode::Implicit => TlsStream::handshake(account, &server.host, tcp)?,
            TlsMode::StartTls => TlsStream::handshake(account, &server.host, stls(tcp)?)?,
        };
        let mut wire = Wire::new(tls);
        if server.tls == TlsMode::Implicit {
            expect_ok(&mut wire, "the greeting")?;
        }
        // What the server said before TLS is not trusted (RFC 2595 section 4).
        let capabilities = capa(&mut wire)?.unwrap_or_default();
        let mut client = Pop3Client { wire, capabilities };
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
        match account.credentials.resolve()? {
            SessionSecret::OAuth2(token) => {
                if self.sasl_offers("XOAUTH2") == Some(false) {
                    return Err(Error::new(ErrorKind::Unsupported, "the server does not offer XOAUTH2"));
                }
                self.auth("XOAUTH2", &crate::sasl::xoauth2(user, token.expose()))
            }
            SessionSecret::Password(password) => {
                let plain = self.sasl_offers("PLAIN");
                match (account.password_mechanism, plain) {
                    (PasswordMechanism::Plain, Some(false)) => {
                        Err(Error::new(ErrorKind::Unsupported, "the server does not offer SASL PLAIN"))
                    }
                    (PasswordMechanism::Plain, _) | (PasswordMechanism::Any, Some(true)) => {
                        self.auth("PLAIN", &crate::sasl::plain(user, password.expose()))
                    }
                    _ => {
                        self.wire.send(&format!("USER {user}"), "USER")?;
                        self.auth_reply("USER")?;
                        let pass = zeroize::Zeroizing::new(format!("PASS {}", password.expose()));
                        self.wire.send(&pass, "PASS")?;
                        self.auth_reply("PASS")
                    }
                }
            }
        }
    }

    /// AUTH with the response in a continuation: initial responses must stay under 255 octets
    /// (RFC 5034 section 4), which OAuth2 tokens do not.
    fn auth(&mut self, mechanism: &str, response: &str) -> Result<()> {
        let during = format!("AUTH {mechanism}");
        self.wire.send(&during, &during)?;
        let mut sent = false;
        loop {
            match self.wire.read_status(&during)? {
                Status::Ok(_) => return Ok(()),
                Status::Err { code, text } => return Err(refused(code, text, &during, true)),
                // XOAUTH2 reports failure in a second challenge, answered with an empty line.
                Status::Continue(_) if sent => self.wire.send("", &during)?,
                Status::Continue(_) => {
                    self.wire.send(response, &during)?;
                    sent = true;
                }
            }
        }
    }

    fn auth_reply(&mut self, during: &str) -> Result<()> {
        match self.wire.read_status(during)? {
            Status::Ok(_) => Ok(()),
            Status::Err { code, text } => Err(refused(code, text, during, true)),
            Status::Continue(_) => {
                Err(Error::new(ErrorKind::Protocol, format!("unexpected continuation after {during}")))
            }
        }
    }

    fn command(&mut self, line: &str, during: &str) -> Result<String> {
        self.wire.send(line, during)?;
        expect_ok(&mut self.wire, during)
    }

    fn listing(&mut self, line: &str, during: &str) -> Result<Vec<u8>> {
        self.command(line, during)?;
        let mut body = Vec::new();
        self.wire.read_multiline(MAX_LINE, MAX_LISTING, &mut body, during)?;
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

    /// RETR: the whole message, dot-unstuffed, CRLF line ends. Its size is checked with LIST
    /// first, and the download may not grow past it (plus room for the wire format).
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] for a message number that does not exist; protocol errors.
    pub fn retr(&mut self, number: u32) -> Result<Vec<u8>> {
        let size = self.size_of(number)?;
        self.retr_sized(number, size)
    }

    fn retr_sized(&mut self, number: u32, size: u64) -> Result<Vec<u8>> {
        self.command(&format!("RETR {number}"), "RETR")?;
        let limit = retr_limit(size);
        let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(limit));
        self.wire.read_multiline(limit, limit, &mut body, "RETR")?;
        Ok(body)
    }

    /// TOP: the header and the first `lines` lines of the body (TOP is optional; see
    /// [`Pop3Client::capabilities`]).
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when the server refuses TOP or the number.
    pub fn top(&mut self, number: u32, lines: u32) -> Result<Vec<u8>> {
        let size = self.size_of(number)?;
        self.command(&format!("TOP {number} {lines}"), "TOP")?;
        let limit = retr_limit(size);
        let mut body = Vec::new();
        self.wire.read_multiline(limit, limit, &mut body, "TOP")?;
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

    /// QUIT: the server deletes what was marked and ends the session. Dropping the client
    /// without QUIT leaves every message on the server.
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when the server could not delete marked messages.
    pub fn quit(mut self) -> Result<()> {
        self.command("QUIT", "QUIT").map(drop)
    }

    /// Fetch the messages whose unique id is not in `known_uidls` and open each with `opener`;
    /// key-slip mails among them are paired with their envelopes by envelope id and used
    /// automatically. Every message gets its own result: one bad, foreign or undecryptable
    /// message never aborts the fetch.
    ///
    /// With [`FetchScope::EsmtpOnly`] and a server that has TOP, headers are read first and
    /// only esmtp mails are downloaded. Key slips are paired within the messages read in this
    /// call; earlier slips come back in [`Retrieved::KeySlip`] for the caller to keep.
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when the server has no UIDL; connection and protocol errors.
    pub fn fetch_esmtp(
        &mut self,
        opener: &Opener,
        known_uidls: &HashSet<String>,
        options: &Pop3FetchOptions,
    ) -> Result<Pop3Report> {
        let entries = self.entries()?;
        let uidls = entries.iter().map(|e| e.uidl.clone()).collect();
        let fresh: Vec<&Pop3Entry> = entries.iter().filter(|e| !known_uidls.contains(&e.uidl)).collect();

        // Headers first where TOP allows: plain mail is then never downloaded, and key slips
        // are read before the envelopes they open.
        let use_top = options.scope == FetchScope::EsmtpOnly && self.has("TOP");
        let mut order: Vec<(&Pop3Entry, bool)> = Vec::new();
        let mut headers: BTreeMap<u32, retrieve::HeaderInfo> = BTreeMap::new();
        if use_top {
            // RFC 2449 PIPELINING: send a group of TOPs, then read their replies in order.
            let group = if self.has("PIPELINING") { 32 } else { 1 };
            for chunk in fresh.chunks(group) {
                for e in chunk {
                    self.wire.send(&format!("TOP {} 0", e.number), "TOP")?;
                }
                for e in chunk {
                    if let Err(err) = expect_ok(&mut self.wire, "TOP") {
                        // A refused TOP leaves the session in step; RETR below reports it.
                        if err.kind() != ErrorKind::Permanent {
                            return Err(err);
                        }
                        order.push((e, false));
                        continue;
                    }
                    let limit = retr_limit(e.size);
                    let mut head = Vec::new();
                    self.wire.read_multiline(limit, limit, &mut head, "TOP")?;
                    let info = retrieve::header_info(&head);
                    if info.esmtp {
                        order.push((e, info.key_slip));
                    }
                    headers.insert(e.number, info);
                }
            }
        } else {
            order.extend(fresh.iter().map(|e| (*e, false)));
        }
        order.sort_by_key(|(e, slip)| (!slip, e.number));

        let mut reader = Reader::new(opener);
        let mut results: BTreeMap<u32, Fetched> = BTreeMap::new();
        let mut retry: Vec<(&Pop3Entry, esmtp_core::EnvelopeId)> = Vec::new();
        for (e, _) in order {
            let outer = headers.get(&e.number).map(|h| h.outer.clone()).unwrap_or_default();
            let location = MessageRef::Pop3 { number: e.number, uidl: e.uidl.clone() };
            if e.size > options.max_message_size {
                let why = format!("{} bytes, the limit is {}", e.size, options.max_message_size);
                results.insert(
                    e.number,
                    Fetched { location, size: e.size, outer, result: Err(MessageError::TooLarge(why)) },
                );
                continue;
            }
            let raw = match self.retr_sized(e.number, e.size) {
                Ok(raw) => raw,
                // A message the server refuses is that message's failure; the session goes on.
                Err(err) if err.kind() == ErrorKind::Permanent => {
                    let result = Err(MessageError::Other(err.to_string()));
                    results.insert(e.number, Fetched { location, size: e.size, outer, result });
                    continue;
                }
                Err(err) => return Err(err),
            };
            let read = reader.read(&raw);
            let outer =
                read.outer.unwrap_or_else(|| if use_top { outer } else { retrieve::header_info(&raw).outer });
            if matches!(read.result, Err(MessageError::NoMatchingRecipient))
                && let Some(id) = retrieve::header_info(&raw).envelope_id
            {
                retry.push((e, id));
            }
            results.insert(e.number, Fetched { location, size: e.size, outer, result: read.result });
        }
        // Without TOP, a slip can come after its envelope: read such envelopes once more.
        for (e, id) in retry {
            if reader.has_slip(&id) {
                let raw = self.retr_sized(e.number, e.size)?;
                if let Some(slot) = results.get_mut(&e.number) {
                    slot.result = reader.read(&raw).result;
                }
            }
        }
        let messages: Vec<Fetched> = results.into_values().collect();
        let action_error = if options.delete_after_open { self.delete_opened(&messages).err() } else { None };
        Ok(Pop3Report { messages, uidls, action_error })
    }

    fn delete_opened(&mut self, messages: &[Fetched]) -> Result<()> {
        let used: HashSet<_> = messages
            .iter()
            .filter(|m| matches!(m.result, Ok(Retrieved::Opened { with_key_slip: true, .. })))
            .filter_map(|m| m.opened().map(|o| o.envelope_id))
            .collect();
        for m in messages {
            let MessageRef::Pop3 { number, .. } = m.location else { continue };
            let slip_used = matches!(&m.result, Ok(Retrieved::KeySlip(s)) if used.contains(&s.envelope_id));
            if m.opened().is_some() || slip_used {
                self.dele(number)?;
            }
        }
        Ok(())
    }
}

/// The plaintext phase of STLS: greeting, CAPA (STLS required), STLS; returns the socket for
/// the handshake. Bytes the server sent after its +OK are an error, never read as TLS data.
fn stls(tcp: TcpStream) -> Result<TcpStream> {
    let mut wire = Wire::new(tcp);
    expect_ok(&mut wire, "the greeting")?;
    if let Some(caps) = capa(&mut wire)?
        && !caps.iter().any(|c| c.eq_ignore_ascii_case("STLS"))
    {
        return Err(Error::new(ErrorKind::Tls, "the server does not offer STLS"));
    }
    wire.send("STLS", "STLS")?;
    match wire.read_status("STLS")? {
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
