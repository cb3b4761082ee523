//! IMAP retrieval (RFC 3501) over the `imap` crate and rustls: implicit TLS or STARTTLS, LOGIN,
//! AUTHENTICATE PLAIN and XOAUTH2, server-side search for esmtp mails, batched UID FETCH,
//! incremental sync by UIDVALIDITY and UID, and IDLE (RFC 2177).

mod fetch;
mod login;
mod utf7;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::imap::types::UnsolicitedResponse;
use imap_proto::types::NameAttribute;

use crate::account::{Account, TlsMode};
use crate::contacts::Contacts;
use crate::error::{Error, ErrorKind, Result, server_text};
use crate::net::{self, Channel, Control, DEFAULT_BUDGET, PREAUTH_BUDGET, map_io};
use crate::trace::Protocol;
pub use fetch::{ImapFetchOptions, ImapFetchReport, ImapSyncState};

/// Servers may drop an IDLE after 30 minutes (RFC 2177); it is renewed well before that.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);

/// A mailbox as LIST reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// The name, decoded from modified UTF-7: pass it back as is.
    pub name: String,
    /// The hierarchy delimiter, if the server has one.
    pub delimiter: Option<String>,
    /// Whether the mailbox can be selected (no `\Noselect` or `\NonExistent`).
    pub selectable: bool,
    /// The attributes (`\HasChildren`, `\Sent`, `\Trash`, ...).
    pub attributes: Vec<String>,
}

/// A mailbox's state after SELECT or EXAMINE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxState {
    /// UIDVALIDITY: while it stays the same, UIDs keep their meaning.
    pub uid_validity: u32,
    /// The UID the next message will get (a lower bound), when the server says.
    pub uid_next: Option<u32>,
    /// The number of messages.
    pub exists: u32,
}

/// An authenticated IMAP session for one account. Blocking; `Send`, so it can live on a
/// background thread. Close it with [`ImapClient::logout`] (dropping it just disconnects).
///
/// ```no_run
/// use esmtp_core::{Opener, X25519Identity};
/// use esmtp_transport::{Account, Credentials, ImapClient, ImapFetchOptions, ImapSyncState, Secret};
///
/// # fn identity() -> X25519Identity { X25519Identity::generate().expect("the OS random source") }
/// # fn stored_state() -> Option<String> { None }
/// let account = Account::gmail("bob@gmail.com", Credentials::Password(Secret::new("app password")))
///     .build()?;
/// let mut imap = ImapClient::connect(&account)?;
/// let since = stored_state().map(|s| s.parse::<ImapSyncState>()).transpose()?;
/// let options = ImapFetchOptions { since, ..ImapFetchOptions::default() };
/// let report = imap.fetch_esmtp("INBOX", &Opener::new().identity(identity()), &options)?;
/// for m in &report.messages {
///     match m.opened() {
///         Some(mail) => println!("{}: {:?}", m.uid().unwrap_or(0), mail.headers.subject),
///         None => println!("{}: {:?}", m.uid().unwrap_or(0), m.result.as_ref().err()),
///     }
/// }
/// println!("next time: {}", report.sync); // e.g. "1700000000:42"
/// imap.logout()?;
/// # Ok::<(), esmtp_transport::Error>(())
/// ```
pub struct ImapClient {
    session: ::imap::Session<Channel>,
    ctl: Arc<Control>,
    capabilities: HashSet<String>,
    idle_renewal: Duration,
    /// The account's contacts: every opened mail's sender is checked against them.
    contacts: Contacts,
}

impl std::fmt::Debug for ImapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapClient").field("capabilities", &self.capabilities.len()).finish_non_exhaustive()
    }
}

/// Map an `imap` crate error for the command `during`.
pub(crate) fn map_imap(e: ::imap::Error, during: &str) -> Error {
    use ::imap::error::Error as E;
    match e {
        E::Io(io) => map_io(io, during),
        E::ConnectionLost => {
            Error::new(ErrorKind::Connection, format!("the server closed the connection during {during}"))
        }
        E::No(no) => {
            // RFC 5530 codes that mean "later"; the parser keeps codes it does not know in the text.
            let text = no.information.to_ascii_uppercase();
            let later =
                ["[UNAVAILABLE]", "[INUSE]", "[LIMIT]", "[SERVERBUG]"].iter().any(|c| text.contains(c));
            let kind = if later { ErrorKind::Transient } else { ErrorKind::Permanent };
            Error::new(kind, format!("the server refused {during}: {}", server_text(&no.information)))
        }
        E::Bad(bad) => Error::new(
            ErrorKind::Protocol,
            format!("the server rejected {during}: {}", server_text(&bad.information)),
        ),
        E::Bye(bye) => Error::new(
            ErrorKind::Connection,
            format!("the server ended the session during {during}: {}", server_text(&bye.information)),
        ),
        E::Validate(v) => {
            Error::new(ErrorKind::Config, format!("invalid argument for {during}")).with_source(v)
        }
        E::StartTlsNotAvailable => Error::new(ErrorKind::Tls, "the server does not offer STARTTLS"),
        other => {
            Error::new(ErrorKind::Protocol, format!("unexpected reply during {during}")).with_source(other)
        }
    }
}

/// An IMAP quoted string (RFC 3501 section 9) for an ASCII value; anything that cannot be quoted
/// (CR, LF, NUL, 8-bit) is refused, so a value can never end the command early.
pub(crate) fn quoted(value: &str) -> Result<String> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0 || !b.is_ascii()) {
        return Err(Error::new(
            ErrorKind::Config,
            "a mailbox name or search value the protocol cannot quote",
        ));
    }
    Ok(format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")))
}

fn capability_set(caps: &::imap::types::Capabilities) -> HashSet<String> {
    use imap_proto::types::Capability;
    caps.iter()
        .map(|c| match c {
            Capability::Imap4rev1 => "IMAP4REV1".to_string(),
            Capability::Auth(m) => format!("AUTH={}", m.to_ascii_uppercase()),
            Capability::Atom(a) => a.to_ascii_uppercase(),
        })
        .collect()
}

impl ImapClient {
    /// Connect to the account's IMAP server, set up TLS (implicit or STARTTLS, required) and log
    /// in: XOAUTH2 for OAuth2 credentials; for a password AUTHENTICATE PLAIN when offered, else
    /// LOGIN (as [`crate::PasswordMechanism`] allows).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] without an IMAP server; [`ErrorKind::Tls`] for certificate problems
    /// or a server without STARTTLS; [`ErrorKind::Auth`] for rejected credentials;
    /// [`ErrorKind::Unsupported`] when no allowed mechanism is offered; connection errors.
    pub fn connect(account: &Account) -> Result<Self> {
        let server =
            account.imap().ok_or_else(|| Error::new(ErrorKind::Config, "the account has no IMAP server"))?;
        let wire = net::connect(account, server, Protocol::Imap)?;
        let channel = match server.tls {
            TlsMode::Implicit => wire.into_inner()?,
            TlsMode::StartTls => {
                let mut channel = login::starttls(wire)?;
                channel.start_tls(&account.trust, server, false)?;
                channel
            }
        };
        // After STARTTLS the session goes on without a second greeting.
        ImapClient::start(account, channel, server.tls == TlsMode::Implicit)
    }

    /// A session over `stream`, used as it is: the server's greeting comes first, then the
    /// capabilities and the login of [`ImapClient::connect`]. No TLS is added: the stream must
    /// already be protected (a TLS session of the caller's, a local socket), or be a test's.
    /// The account's servers are not used; its credentials, deadline and trace are. The deadline
    /// is checked before each read and write; a read that blocks forever can only be ended by
    /// the stream itself (set its timeouts).
    ///
    /// # Errors
    /// As [`ImapClient::connect`].
    pub fn from_stream(account: &Account, stream: impl Read + Write + Send + 'static) -> Result<Self> {
        let channel = net::over_stream(account, Protocol::Imap, stream).into_inner()?;
        ImapClient::start(account, channel, true)
    }

    fn start(account: &Account, channel: Channel, greeting: bool) -> Result<Self> {
        let ctl = channel.control().clone();
        ctl.begin(PREAUTH_BUDGET);
        let mut client = ::imap::Client::new(channel);
        if greeting {
            let greeting = client.read_greeting().map_err(|e| map_imap(e, "the greeting"))?;
            if !greeting.starts_with(b"* OK") {
                return Err(Error::new(
                    ErrorKind::Connection,
                    "the server refused the connection in its greeting",
                ));
            }
        }
        // Capabilities learned before TLS are not trusted (RFC 3501 section 6.2.1).
        ctl.begin(PREAUTH_BUDGET);
        let caps = capability_set(&client.capabilities().map_err(|e| map_imap(e, "CAPABILITY"))?);
        ctl.begin(PREAUTH_BUDGET);
        let session = login::login(account, client, &caps, &ctl)?;
        let mut this = ImapClient {
            session,
            ctl,
            capabilities: HashSet::new(),
            idle_renewal: IDLE_RENEW,
            contacts: account.contacts().clone(),
        };
        // Servers announce more after login.
        this.ctl.begin(DEFAULT_BUDGET);
        let caps = this.session.capabilities().map_err(|e| map_imap(e, "CAPABILITY"))?;
        this.capabilities = capability_set(&caps);
        Ok(this)
    }

    /// The capabilities the server announced after login, upper-cased (`IDLE`, `MOVE`,
    /// `UIDPLUS`, `AUTH=PLAIN`, ...).
    pub fn capabilities(&self) -> Vec<String> {
        let mut caps: Vec<String> = self.capabilities.iter().cloned().collect();
        caps.sort();
        caps
    }

    /// How often [`ImapClient::idle_wait`] ends and re-issues its IDLE (default 25 minutes,
    /// inside the 29 of RFC 2177). Shorter suits networks whose NAT forgets quiet connections
    /// sooner. At least one second.
    pub fn set_idle_renewal(&mut self, every: Duration) {
        self.idle_renewal = every.max(Duration::from_secs(1));
    }

    pub(crate) fn has(&self, capability: &str) -> bool {
        self.capabilities.contains(capability)
    }

    /// Every mailbox of the account (LIST "" "*").
    ///
    /// # Errors
    /// Protocol and connection errors.
    pub fn mailboxes(&mut self) -> Result<Vec<MailboxInfo>> {
        self.ctl.begin(DEFAULT_BUDGET);
        let names = self.session.list(Some(""), Some("*")).map_err(|e| map_imap(e, "LIST"))?;
        let mut out: Vec<MailboxInfo> = names
            .iter()
            .map(|n| {
                let attributes: Vec<String> = n.attributes().iter().map(attribute_name).collect();
                let selectable = !n.attributes().iter().any(|a| matches!(a, NameAttribute::NoSelect))
                    && !attributes.iter().any(|a| a.eq_ignore_ascii_case("\\NonExistent"));
                MailboxInfo {
                    name: {
                        let wire = unescape_quoted(n.name());
                        utf7::decode(&wire).unwrap_or(wire)
                    },
                    delimiter: n.delimiter().map(str::to_string),
                    selectable,
                    attributes,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Create a mailbox.
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when it exists or the name is refused.
    pub fn create_mailbox(&mut self, name: &str) -> Result<()> {
        self.ctl.begin(DEFAULT_BUDGET);
        self.session.create(utf7::encode(name)).map_err(|e| map_imap(e, "CREATE"))
    }

    /// Delete a mailbox and everything in it.
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when it does not exist or cannot be deleted.
    pub fn delete_mailbox(&mut self, name: &str) -> Result<()> {
        self.ctl.begin(DEFAULT_BUDGET);
        // A selected mailbox cannot always be deleted; leave it first (UNSELECT needs RFC 3691).
        if self.has("UNSELECT") {
            let _ = self.session.run_command_and_check_ok("UNSELECT");
        }
        self.session.delete(utf7::encode(name)).map_err(|e| map_imap(e, "DELETE"))
    }

    /// Store a complete message (RFC 5322 bytes, CRLF line ends) in `mailbox` (APPEND); for
    /// keeping a copy of sent mail, or importing.
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when the mailbox does not exist or the server refuses the message.
    pub fn append(&mut self, mailbox: &str, message: &[u8]) -> Result<()> {
        self.ctl.begin_transfer(message.len() as u64, DEFAULT_BUDGET);
        // The crate puts the name between quotes without escaping it: hand it the escaped inside.
        let name = quoted(&utf7::encode(mailbox))?;
        let inner = &name[1..name.len() - 1];
        self.session.append(inner, message).finish().map(|_| ()).map_err(|e| map_imap(e, "APPEND"))
    }

    /// SELECT `mailbox` (read-write) and report its state.
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when it does not exist; [`ErrorKind::Protocol`] when the server
    /// gives no UIDVALIDITY.
    pub fn select(&mut self, mailbox: &str) -> Result<MailboxState> {
        self.open_mailbox(mailbox, false)
    }

    /// EXAMINE `mailbox` (read-only: flags and `\Recent` stay untouched) and report its state.
    ///
    /// # Errors
    /// As [`ImapClient::select`].
    pub fn examine(&mut self, mailbox: &str) -> Result<MailboxState> {
        self.open_mailbox(mailbox, true)
    }

    /// SELECT or EXAMINE, its response read here: the `imap` crate's reader of it panics on an
    /// untagged `NO` or `BAD` among the responses, which RFC 3501 allows as warnings (found by
    /// the `imap` fuzz target).
    fn open_mailbox(&mut self, mailbox: &str, read_only: bool) -> Result<MailboxState> {
        self.ctl.begin(DEFAULT_BUDGET);
        let during = if read_only { "EXAMINE" } else { "SELECT" };
        let command = format!("{during} {}", quoted(&utf7::encode(mailbox))?);
        let lines = self.session.run_command_and_read_response(command).map_err(|e| map_imap(e, during))?;
        // What arrived before the SELECT concerns the previous mailbox.
        self.session.take_all_unsolicited().for_each(drop);
        mailbox_state(&lines, during)
    }

    /// Wait until new mail arrives in `mailbox` or `timeout` passes; returns whether new mail
    /// is there. With `since` (the state after the last fetch) it returns at once when mail
    /// newer than that is already waiting, or when UIDVALIDITY changed (a full resync is due).
    ///
    /// Uses IDLE, re-issued every 25 minutes (see [`ImapClient::set_idle_renewal`]) so that
    /// servers which drop idle clients after 30 (RFC 2177) keep the session; without IDLE it
    /// polls with NOOP once a minute.
    ///
    /// # Errors
    /// Connection and protocol errors; the session is unusable after a connection error.
    pub fn idle_wait(
        &mut self,
        mailbox: &str,
        since: Option<&ImapSyncState>,
        timeout: Duration,
    ) -> Result<bool> {
        let state = self.examine(mailbox)?;
        if let Some(since) = since {
            if since.uid_validity != state.uid_validity {
                return Ok(true);
            }
            if state.uid_next.is_some_and(|next| next > since.last_uid.saturating_add(1)) {
                return Ok(true);
            }
        }
        let deadline = Instant::now() + timeout;
        let mut exists = state.exists;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            self.ctl.begin(DEFAULT_BUDGET);
            let new_mail = if self.has("IDLE") {
                self.idle_once(left.min(self.idle_renewal), &mut exists)?
            } else {
                std::thread::sleep(left.min(Duration::from_secs(60)));
                self.session.noop().map_err(|e| map_imap(e, "NOOP"))?;
                let mut new_mail = false;
                for r in self.session.take_all_unsolicited() {
                    new_mail |= track_exists(&r, &mut exists);
                }
                new_mail
            };
            if new_mail {
                return Ok(true);
            }
        }
    }

    fn idle_once(&mut self, wait: Duration, exists: &mut u32) -> Result<bool> {
        let mut new_mail = false;
        for r in self.session.take_all_unsolicited() {
            new_mail |= track_exists(&r, exists);
        }
        if new_mail {
            return Ok(true);
        }
        let mut handle = self.session.idle();
        handle.timeout(wait).keepalive(false);
        let outcome = handle.wait_while(|r| !track_exists(&r, exists));
        // Dropping the handle sends DONE and reads the tagged reply.
        drop(handle);
        match outcome {
            Ok(::imap::extensions::idle::WaitOutcome::MailboxChanged) => Ok(true),
            Ok(::imap::extensions::idle::WaitOutcome::TimedOut) => Ok(false),
            Err(e) => Err(map_imap(e, "IDLE")),
        }
    }

    /// A handle that cancels this session's blocking calls (an IDLE wait, a fetch) from another
    /// thread; see [`Canceller`](crate::Canceller).
    pub fn canceller(&self) -> crate::Canceller {
        crate::Canceller::new(&self.ctl)
    }

    /// Log out politely.
    ///
    /// # Errors
    /// Connection errors (the session ends either way).
    pub fn logout(mut self) -> Result<()> {
        self.ctl.begin(DEFAULT_BUDGET);
        self.session.logout().map_err(|e| map_imap(e, "LOGOUT"))
    }
}

/// The state in the untagged responses to SELECT or EXAMINE: `OK [UIDVALIDITY n]`,
/// `OK [UIDNEXT n]` and `n EXISTS`; anything else (flags, warnings, unsolicited data) is ignored.
fn mailbox_state(mut lines: &[u8], during: &str) -> Result<MailboxState> {
    use imap_proto::types::{MailboxDatum, Response, ResponseCode, Status};
    let (mut uid_validity, mut uid_next, mut exists) = (None, None, 0);
    while !lines.is_empty() {
        let (rest, response) = imap_proto::parser::parse_response(lines)
            .map_err(|_| Error::new(ErrorKind::Protocol, format!("an unreadable response to {during}")))?;
        lines = rest;
        match response {
            Response::Data { status: Status::Ok, code: Some(ResponseCode::UidValidity(v)), .. } => {
                uid_validity = Some(v)
            }
            Response::Data { status: Status::Ok, code: Some(ResponseCode::UidNext(n)), .. } => {
                uid_next = Some(n)
            }
            Response::MailboxData(MailboxDatum::Exists(n)) => exists = n,
            _ => {}
        }
    }
    let uid_validity = uid_validity
        .ok_or_else(|| Error::new(ErrorKind::Protocol, "the server gave no UIDVALIDITY for the mailbox"))?;
    Ok(MailboxState { uid_validity, uid_next, exists })
}

/// The parser hands out quoted strings with their backslash escapes still in.
fn unescape_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Whether `r` announces more messages than `exists`; keeps `exists` up to date.
fn track_exists(r: &UnsolicitedResponse, exists: &mut u32) -> bool {
    match r {
        UnsolicitedResponse::Exists(n) => {
            let more = *n > *exists;
            *exists = *n;
            more
        }
        UnsolicitedResponse::Expunge(_) => {
            *exists = exists.saturating_sub(1);
            false
        }
        _ => false,
    }
}

fn attribute_name(a: &NameAttribute<'_>) -> String {
    match a {
        NameAttribute::NoInferiors => "\\Noinferiors".into(),
        NameAttribute::NoSelect => "\\Noselect".into(),
        NameAttribute::Marked => "\\Marked".into(),
        NameAttribute::Unmarked => "\\Unmarked".into(),
        NameAttribute::All => "\\All".into(),
        NameAttribute::Archive => "\\Archive".into(),
        NameAttribute::Drafts => "\\Drafts".into(),
        NameAttribute::Flagged => "\\Flagged".into(),
        NameAttribute::Junk => "\\Junk".into(),
        NameAttribute::Sent => "\\Sent".into(),
        NameAttribute::Trash => "\\Trash".into(),
        NameAttribute::Extension(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_and_refuses_line_breaks() {
        assert_eq!(quoted("INBOX").unwrap(), "\"INBOX\"");
        assert_eq!(quoted(r#"a"b\c"#).unwrap(), r#""a\"b\\c""#);
        assert_eq!(quoted("").unwrap(), "\"\"");
        for bad in ["a\r\nb", "a\nb", "a\0b", "é"] {
            assert_eq!(quoted(bad).unwrap_err().kind(), ErrorKind::Config);
        }
    }

    #[test]
    fn quoted_names_are_unescaped() {
        assert_eq!(unescape_quoted(r#"a \"q\" \\ b"#), r#"a "q" \ b"#);
        assert_eq!(unescape_quoted("INBOX"), "INBOX");
    }

    /// Found with the `imap` fuzz target (input
    /// `esmtp-core/fuzz/regressions/imap/select-untagged-no`): an untagged `NO` in the
    /// response to EXAMINE made the `imap` crate's reader panic (`unreachable!`).
    #[test]
    fn select_responses_with_warnings_are_read() {
        let lines = b"* FLAGS (\\Seen)\r\n* NO [ALERT] quota nearly full\r\n* BAD odd\r\n* 4 EXISTS\r\n\
                      * OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 9] ok\r\n* 2 RECENT\r\n";
        let state = mailbox_state(lines, "SELECT").unwrap();
        assert_eq!(state, MailboxState { uid_validity: 7, uid_next: Some(9), exists: 4 });
        let none = mailbox_state(b"* 4 EXISTS\r\n", "SELECT").unwrap_err();
        assert_eq!(none.kind(), ErrorKind::Protocol);
        let garbage = mailbox_state(b"* OK [UIDVALIDITY 7] ok\r\n\x00garbage\r\n", "SELECT").unwrap_err();
        assert_eq!(garbage.kind(), ErrorKind::Protocol);
    }

    #[test]
    fn exists_tracking() {
        let mut n = 3;
        assert!(!track_exists(&UnsolicitedResponse::Exists(3), &mut n));
        assert!(!track_exists(&UnsolicitedResponse::Expunge(1), &mut n));
        assert_eq!(n, 2);
        assert!(track_exists(&UnsolicitedResponse::Exists(3), &mut n));
    }

    #[test]
    fn client_is_send() {
        fn send<T: Send>() {}
        send::<ImapClient>();
    }
}
