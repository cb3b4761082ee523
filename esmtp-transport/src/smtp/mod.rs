//! Authenticated submission (the paper's sections 2 and 4.2) over `lettre`'s SMTP connection.
//!
//! One authenticated session is kept and reused for batches; before reuse it is probed with NOOP,
//! and a session the server closed while idle is replaced transparently.

pub(crate) mod reply;
mod secure;

use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials as LettreCredentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, MailBodyParameter, MailParameter};

use crate::account::{Account, PasswordMechanism, ServerSettings, SessionSecret, TlsMode};
use crate::error::{Error, ErrorKind, Result};
pub use reply::{Capabilities, SubmitReply};
pub use secure::{KeySlipDelivery, SendOptions, SendReport};

/// Submits mail for one account; safe to share between threads (sessions are serialised).
pub struct Submitter {
    account: Account,
    server: ServerSettings,
    tls: TlsParameters,
    session: Mutex<Option<Session>>,
    connections: AtomicU64,
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitter").field("server", &self.server).finish_non_exhaustive()
    }
}

struct Session {
    conn: SmtpConnection,
    caps: Capabilities,
}

/// The client's EHLO name: an address literal, so the user's host name is not disclosed.
fn hello() -> ClientId {
    ClientId::Ipv4(Ipv4Addr::LOCALHOST)
}

/// Map a lettre error, walking the source chain for TLS failures that surface as I/O errors
/// (rustls handshakes happen on the first read).
pub(crate) fn map_lettre(e: lettre::transport::smtp::Error, during: &str) -> Error {
    let server_text = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
    if e.is_tls() || crate::error_chain_has_tls(&e) || server_text.contains("STARTTLS is not supported") {
        return Error::new(ErrorKind::Tls, format!("TLS failed during {during}")).with_source(e);
    }
    if e.is_timeout() {
        return Error::new(ErrorKind::Timeout, format!("timed out during {during}")).with_source(e);
    }
    if let Some(code) = e.status() {
        let code = u16::from(code);
        let kind = match code {
            530 | 534 | 535 => ErrorKind::Auth,
            400..=499 => ErrorKind::Transient,
            _ => ErrorKind::Permanent,
        };
        let message = format!("the server refused {during}: {server_text}");
        return Error::new(kind, message).with_reply(code, &server_text).with_source(e);
    }
    if e.is_response() {
        return Error::new(ErrorKind::Protocol, format!("unexpected reply during {during}")).with_source(e);
    }
    if e.is_client() {
        return Error::new(ErrorKind::Unsupported, format!("{during}: {server_text}")).with_source(e);
    }
    Error::new(ErrorKind::Connection, format!("connection failed during {during}")).with_source(e)
}

impl Submitter {
    /// A submitter for `account`'s SMTP server. Does not connect yet.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the account has no SMTP server or its CA file is unusable.
    pub fn new(account: &Account) -> Result<Self> {
        let server = account
            .smtp()
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::Config, "the account has no SMTP server"))?;
        let mut builder =
            TlsParameters::builder(server.host.clone()).certificate_store(CertificateStore::WebpkiRoots);
        for pem in &account.extra_roots_pem {
            let cert = Certificate::from_pem(pem)
                .map_err(|e| Error::new(ErrorKind::Config, "the CA file is not valid PEM").with_source(e))?;
            builder = builder.add_root_certificate(cert);
        }
        if account.dangerous_accept_invalid_certs {
            builder = builder.dangerous_accept_invalid_certs(true).dangerous_accept_invalid_hostnames(true);
        }
        let tls = builder
            .build_rustls()
            .map_err(|e| Error::new(ErrorKind::Tls, "TLS setup failed").with_source(e))?;
        Ok(Submitter {
            account: account.clone(),
            server,
            tls,
            session: Mutex::new(None),
            connections: AtomicU64::new(0),
        })
    }

    /// Connect and upgrade to TLS; returns the connection, the EHLO report after TLS, and
    /// whether STARTTLS was advertised before it.
    fn open(&self) -> Result<(SmtpConnection, Capabilities)> {
        let addr = (self.server.host.as_str(), self.server.port);
        let timeout = Some(self.account.timeout);
        let (mut conn, starttls_offered) = match self.server.tls {
            TlsMode::Implicit => (
                SmtpConnection::connect(addr, timeout, &hello(), Some(&self.tls), None)
                    .map_err(|e| map_lettre(e, "connect"))?,
                false,
            ),
            TlsMode::StartTls => {
                let mut conn = SmtpConnection::connect(addr, timeout, &hello(), None, None)
                    .map_err(|e| map_lettre(e, "connect"))?;
                let offered = conn.can_starttls();
                if !offered {
                    return Err(Error::new(ErrorKind::Tls, "the server does not offer STARTTLS"));
                }
                conn.starttls(&self.tls, &hello()).map_err(|e| map_lettre(e, "STARTTLS"))?;
                (conn, true)
            }
        };
        let ehlo = conn.command(Ehlo::new(hello())).map_err(|e| map_lettre(e, "EHLO"))?;
        let mut caps = Capabilities::parse(ehlo.message());
        caps.starttls |= starttls_offered;
        Ok((conn, caps))
    }

    /// The server's extensions after EHLO (over TLS, without logging in).
    ///
    /// # Errors
    /// Connection and TLS errors.
    pub fn capabilities(&self) -> Result<Capabilities> {
        let (mut conn, caps) = self.open()?;
        let _ = conn.quit();
        Ok(caps)
    }

    /// How many authenticated sessions this submitter has opened (batches reuse one).
    pub fn connections_opened(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    fn login(&self) -> Result<Session> {
        let (mut conn, caps) = self.open()?;
        self.connections.fetch_add(1, Ordering::Relaxed);
        let username = self.account.username.clone();
        let (mechanisms, secret): (Vec<Mechanism>, _) = match self.account.credentials.resolve()? {
            SessionSecret::Password(p) => (
                match self.account.password_mechanism {
                    PasswordMechanism::Any => vec![Mechanism::Plain, Mechanism::Login],
                    PasswordMechanism::Plain => vec![Mechanism::Plain],
                    PasswordMechanism::Login => vec![Mechanism::Login],
                },
                p,
            ),
            SessionSecret::OAuth2(t) => (vec![Mechanism::Xoauth2], t),
        };
        if !mechanisms.iter().any(|m| caps.offers_auth(&m.to_string())) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "the server offers none of the allowed AUTH mechanisms",
            ));
        }
        if mechanisms == [Mechanism::Xoauth2] {
            xoauth2(&mut conn, &username, &secret)?;
            return Ok(Session { conn, caps });
        }
        // lettre keeps credentials as plain Strings; this copy lives only for the AUTH exchange.
        let credentials = LettreCredentials::new(username, secret.expose().to_string());
        conn.auth(&mechanisms, &credentials).map_err(|e| {
            let mut err = map_lettre(e, "AUTH");
            if err.kind() == ErrorKind::Permanent {
                err = Error::new(ErrorKind::Auth, "authentication failed")
                    .with_reply(err.code().unwrap_or(535), err.enhanced_code().unwrap_or(""));
            }
            err
        })?;
        Ok(Session { conn, caps })
    }

    /// The reusable session: probed with NOOP, replaced when the server closed it.
    fn session<'a>(&self, slot: &'a mut Option<Session>) -> Result<&'a mut Session> {
        let alive = match slot.as_mut() {
            Some(s) => !s.conn.has_broken() && s.conn.test_connected(),
            None => false,
        };
        if !alive {
            if let Some(mut old) = slot.take() {
                old.conn.abort();
            }
            *slot = Some(self.login()?);
        }
        slot.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no session"))
    }

    /// Submit an already encoded message to `recipients` with envelope sender `from`.
    ///
    /// Checks before any upload: `from` must be the account's address or an alias; the size must
    /// fit the server's SIZE; non-ASCII addresses need SMTPUTF8 and 8-bit content 8BITMIME.
    ///
    /// # Errors
    /// See [`ErrorKind`]; [`ErrorKind::MessageTooLarge`] and [`ErrorKind::Unsupported`] come
    /// before MAIL FROM, so nothing was sent.
    pub fn send_raw(&self, from: &str, recipients: &[String], message: &[u8]) -> Result<SubmitReply> {
        if !self.account.may_send_as(from) {
            return Err(Error::new(ErrorKind::Config, "From is neither the account's address nor an alias"));
        }
        if recipients.is_empty() {
            return Err(Error::new(ErrorKind::Config, "no recipients"));
        }
        let parse = |a: &str| {
            a.parse::<Address>().map_err(|e| Error::new(ErrorKind::Config, "invalid address").with_source(e))
        };
        let from_addr = parse(from)?;
        let rcpts = recipients.iter().map(|r| parse(r)).collect::<Result<Vec<_>>>()?;
        let non_ascii = !from.is_ascii() || recipients.iter().any(|r| !r.is_ascii());

        let mut guard = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let session = self.session(&mut guard)?;
        if let Some(limit) = session.caps.size.filter(|l| *l > 0)
            && message.len() as u64 > limit
        {
            return Err(Error::new(
                ErrorKind::MessageTooLarge,
                format!("the message has {} bytes, the server takes at most {limit}", message.len()),
            ));
        }
        if non_ascii && !session.caps.smtputf8 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "a non-ASCII address needs SMTPUTF8, which the server does not offer",
            ));
        }
        let eight_bit = !message.is_ascii();
        if eight_bit && !session.caps.eight_bit_mime {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "8-bit content needs 8BITMIME, which the server does not offer",
            ));
        }
        let mut params = Vec::new();
        if session.caps.size.is_some() {
            params.push(MailParameter::Size(message.len()));
        }
        if non_ascii {
            params.push(MailParameter::SmtpUtfEight);
        }
        if eight_bit {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let result = transaction(&mut session.conn, from_addr, rcpts, params, message);
        if result.is_err() {
            // Leave a clean session for the next mail, or none at all.
            if (session.conn.has_broken() || session.conn.command(Rset).is_err())
                && let Some(mut s) = guard.take()
            {
                s.conn.abort();
            }
        }
        result
    }

    /// Close the session politely (QUIT). Dropping the submitter does the same.
    pub fn close(&self) {
        let mut guard = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(mut s) = guard.take() {
            let _ = s.conn.quit();
        }
    }
}

/// XOAUTH2 by hand: a rejected token is answered with a 334 carrying an error document, to which
/// the client must send an empty line before the final 535 (Google's XOAUTH2 protocol);
/// lettre's mechanism stops at that challenge instead.
fn xoauth2(conn: &mut SmtpConnection, username: &str, token: &crate::Secret) -> Result<()> {
    let auth_failed = |e: Error| {
        if matches!(e.kind(), ErrorKind::Permanent | ErrorKind::Auth) {
            Error::new(ErrorKind::Auth, "authentication failed")
                .with_reply(e.code().unwrap_or(535), e.enhanced_code().unwrap_or(""))
        } else {
            e
        }
    };
    let line = zeroize::Zeroizing::new(format!(
        "AUTH XOAUTH2 {}\r\n",
        crate::sasl::xoauth2(username, token.expose()).as_str()
    ));
    let reply = conn.command(line.as_str()).map_err(|e| auth_failed(map_lettre(e, "AUTH")))?;
    if reply.has_code(334) {
        conn.command("\r\n").map_err(|e| auth_failed(map_lettre(e, "AUTH")))?;
        return Err(Error::new(ErrorKind::Auth, "authentication failed"));
    }
    if !reply.has_code(235) {
        return Err(Error::new(ErrorKind::Protocol, "unexpected reply to AUTH"));
    }
    Ok(())
}

fn transaction(
    conn: &mut SmtpConnection,
    from: Address,
    rcpts: Vec<Address>,
    params: Vec<MailParameter>,
    message: &[u8],
) -> Result<SubmitReply> {
    conn.command(Mail::new(Some(from), params)).map_err(|e| map_lettre(e, "MAIL FROM"))?;
    for rcpt in rcpts {
        conn.command(Rcpt::new(rcpt, vec![])).map_err(|e| map_lettre(e, "RCPT TO"))?;
    }
    conn.command(Data).map_err(|e| map_lettre(e, "DATA"))?;
    let reply = conn.message(message).map_err(|e| map_lettre(e, "message upload"))?;
    Ok(SubmitReply::from_lines(u16::from(reply.code()), reply.message()))
}

impl Drop for Submitter {
    fn drop(&mut self) {
        self.close();
    }
}
