//! Authenticated submission (the paper's sections 2 and 4.2): the [`Submit`] trait, the SMTP
//! [`Submitter`] and the in-memory [`StubSubmitter`].
//!
//! One authenticated session is kept and reused for batches. A session the server answered
//! moments ago ([`FRESH`]) is used as it is; an older one is probed with NOOP first. A session
//! the server closed while idle is replaced transparently: found by the probe, or by the first
//! command of the next mail, before any of that mail was sent (see [`transaction`]).

mod conn;
pub(crate) mod reply;
mod secure;
mod streaming;
mod stub;
mod transaction;

use std::io::{Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use esmtp_core::Sealer;
use esmtp_core::mime::{AttachmentSource, MailDraft};
use lettre::Address;
use lettre::transport::smtp::commands::{Noop, Rset};
use lettre::transport::smtp::extension::{MailBodyParameter, MailParameter};

use crate::account::{Account, PasswordMechanism, ServerSettings, SessionSecret};
use crate::error::{Error, ErrorKind, Result};
use crate::net::Stream;
use crate::sasl;
use conn::SmtpConn;
pub use reply::{Capabilities, SubmitReply};
pub use secure::{KeySlipDelivery, PackagedMail, Retry, SendOptions, SendReport};
pub use streaming::StreamedPackage;
pub use stub::{StubSubmitter, SubmittedMail};

/// Submits mail: [`Submitter`] over SMTP, [`StubSubmitter`] in memory (for testing code that
/// sends, without a server). Object safe: `&dyn Submit` works.
pub trait Submit: Send + Sync {
    /// Submit an already encoded message (RFC 5322, CRLF line ends) to `recipients` with
    /// envelope sender `from`.
    ///
    /// # Errors
    /// See [`ErrorKind`].
    fn send_raw(&self, from: &str, recipients: &[String], message: &[u8]) -> Result<SubmitReply>;

    /// [`Submit::send_raw`] for a message read as it is sent, so it need not be held in memory
    /// (a mail packaged into a file): `message` yields exactly `size` bytes, which are checked
    /// against the server's SIZE before anything is sent. `eight_bit` says whether any byte of
    /// it may be above 127 (then 8BITMIME is asked for, as `send_raw` does when it sees one).
    /// A reader that fails or yields another length fails with [`ErrorKind::Io`], and the
    /// server discards the partial upload.
    ///
    /// The default reads the message into memory (at most `size` bytes) and calls
    /// [`Submit::send_raw`]; [`Submitter`] streams it.
    ///
    /// # Errors
    /// As [`Submit::send_raw`], and [`ErrorKind::Io`].
    fn send_raw_from(
        &self,
        from: &str,
        recipients: &[String],
        message: &mut dyn Read,
        size: u64,
        eight_bit: bool,
    ) -> Result<SubmitReply> {
        let _ = eight_bit;
        let message = read_exactly(message, size)?;
        self.send_raw(from, recipients, &message)
    }

    /// The account whose sending rules [`Submit::send_secure`] applies: the allowed `From`
    /// addresses, the signature and encrypt-to-self (see [`Account::package`]). `None` (the
    /// default, and a [`StubSubmitter::new`]) sends with the sealer as given.
    fn account(&self) -> Option<&Account> {
        None
    }

    /// The paper's sending flow in one call: seal `draft` with `sealer` (any suite, any
    /// recipient mix) under the account's rules (the `From` must be the account's, the envelope
    /// is signed with the account's identity and sealed to it too, as [`Account::package`]
    /// says), package it as an encrypted mail and submit it to every To, Cc and Bcc recipient.
    /// When `sealer` makes a key slip, the key slip follows as its own mail (see
    /// [`SendOptions::key_slip_to`]) once the envelope was accepted. A draft without a date
    /// gets the current time.
    ///
    /// ```
    /// use esmtp_core::mime::{MailDraft, Mailbox};
    /// use esmtp_core::{Sealer, X25519Identity};
    /// use esmtp_transport::{Account, Credentials, Secret, SendOptions, StubSubmitter, Submit};
    ///
    /// let (alice, bob) = (X25519Identity::generate()?, X25519Identity::generate()?);
    /// let account = Account::builder("alice@example.org", Credentials::Password(Secret::new("pw")))
    ///     .identity(alice.clone())
    ///     .build()?;
    /// let draft = MailDraft::new(Mailbox::new("alice@example.org"))
    ///     .to(Mailbox::new("bob@example.org"))
    ///     .subject("The plan")
    ///     .text("Meet at noon.");
    /// let stub = StubSubmitter::for_account(&account);
    /// let report = stub.send_secure(&draft, Sealer::new().recipient(bob.to_public()), &SendOptions::default())?;
    /// let sent = stub.sent();
    /// assert_eq!(sent[0].recipients, ["bob@example.org"]);
    /// assert_eq!(sent[0].message.len(), report.size);
    /// assert_eq!(report.signer, Some(alice.to_public()));
    /// assert!(report.encrypted_to_self);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::FromNotAllowed`] for a `From` that is not the account's,
    /// [`ErrorKind::InvalidDraft`] when the draft cannot be packaged (an invalid address),
    /// [`ErrorKind::Encryption`] when sealing fails (also: a sealer without any recipient),
    /// else as [`Submit::send_raw`]. If the envelope went out but a key slip did not, the error
    /// says so and names the envelope's Message-ID, so the caller can resend the slip.
    fn send_secure(&self, draft: &MailDraft, sealer: Sealer, options: &SendOptions) -> Result<SendReport> {
        secure::send_secure(self, draft, sealer, options)
    }

    /// [`Submit::send_secure`] in bounded memory, with `attachments` read while the mail is
    /// packaged (after the draft's own, as [`esmtp_core::mime::package_to`] says): the mail is
    /// packaged once into an unnamed temporary file (it holds only the encrypted mail) and sent
    /// from there with [`Submit::send_raw_from`], so its exact size is known before DATA and
    /// every retry sends the same bytes. Memory stays at a few chunks whatever the attachments'
    /// sizes; the temporary file takes the mail's size on disk (in `TMPDIR`) until the call
    /// returns.
    ///
    /// ```
    /// use esmtp_core::mime::{AttachmentSource, MailDraft, Mailbox};
    /// use esmtp_core::{Sealer, X25519Identity};
    /// use esmtp_transport::{SendOptions, StubSubmitter, Submit};
    ///
    /// let bob = X25519Identity::generate()?;
    /// let draft = MailDraft::new(Mailbox::new("alice@example.org")).to(Mailbox::new("bob@example.org"));
    /// let file = vec![0u8; 300_000]; // or a std::fs::File and its length
    /// let attachment = AttachmentSource::new("big.bin", "application/octet-stream", 300_000, &file[..]);
    /// let stub = StubSubmitter::new();
    /// let report = stub.send_secure_streaming(&draft, vec![attachment], Sealer::new().recipient(bob.to_public()), &SendOptions::default())?;
    /// assert_eq!(stub.sent()[0].message.len(), report.size);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Submit::send_secure`], and [`ErrorKind::Io`] when an attachment cannot be read or
    /// changed its length, or the temporary file cannot be written.
    fn send_secure_streaming(
        &self,
        draft: &MailDraft,
        attachments: Vec<AttachmentSource<'_>>,
        sealer: Sealer,
        options: &SendOptions,
    ) -> Result<SendReport> {
        streaming::send_secure_streaming(self, draft, attachments, sealer, options)
    }
}

/// Read exactly `size` bytes of a message into memory.
fn read_exactly(message: &mut dyn Read, size: u64) -> Result<Vec<u8>> {
    let io = |e| Error::new(ErrorKind::Io, "reading the message to send failed").with_source(e);
    // Grown as the bytes come, not reserved from `size`: a wrong size must not allocate.
    let mut bytes = Vec::new();
    message.take(size.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 != size {
        return Err(Error::new(ErrorKind::Io, "the message has another length than its size"));
    }
    Ok(bytes)
}

/// A message to upload: in memory, or read as it is sent.
enum Body<'a> {
    Bytes(&'a [u8]),
    Reader { reader: &'a mut dyn Read, size: u64, eight_bit: bool },
}

impl Body<'_> {
    fn size(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Reader { size, .. } => *size,
        }
    }

    fn eight_bit(&self) -> bool {
        match self {
            Body::Bytes(bytes) => !bytes.is_ascii(),
            Body::Reader { eight_bit, .. } => *eight_bit,
        }
    }
}

/// Where a submitter's sessions come from.
enum Origin {
    /// The account's SMTP server, connected anew whenever a session is needed.
    Server(ServerSettings),
    /// A caller's stream, for the first session only.
    Stream(Mutex<Option<Box<dyn Stream>>>),
}

/// Submits mail for one account over SMTP; safe to share between threads (sessions are
/// serialised).
///
/// ```no_run
/// use esmtp_core::mime::{MailDraft, Mailbox};
/// use esmtp_core::Sealer;
/// use esmtp_transport::{Account, Credentials, Secret, SendOptions, Submit, Submitter};
///
/// let account = Account::gmail("alice@gmail.com", Credentials::Password(Secret::new("app password")))
///     .build()?;
/// let submitter = Submitter::new(&account)?;
/// println!("SIZE limit: {:?}", submitter.capabilities()?.size);
/// let draft = MailDraft::new(Mailbox::new("alice@gmail.com"))
///     .to(Mailbox::new("bob@example.org"))
///     .subject("The plan")
///     .text("Meet at noon.");
/// let report = submitter.send_secure(&draft, Sealer::new().key_slip(), &SendOptions::default())?;
/// println!("sent {} ({})", report.message_id, report.reply.text);
/// # Ok::<(), esmtp_transport::Error>(())
/// ```
pub struct Submitter {
    account: Account,
    origin: Origin,
    session: Mutex<Option<SmtpConn>>,
    connections: AtomicU64,
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let server = match &self.origin {
            Origin::Server(server) => Some(server),
            Origin::Stream(_) => None,
        };
        f.debug_struct("Submitter").field("server", &server).finish_non_exhaustive()
    }
}

impl Submitter {
    /// A submitter for `account`'s SMTP server. Does not connect yet.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the account has no SMTP server.
    pub fn new(account: &Account) -> Result<Self> {
        let server = account
            .smtp()
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::Config, "the account has no SMTP server"))?;
        Ok(Submitter::with_origin(account, Origin::Server(server)))
    }

    /// A submitter whose one session runs over `stream`, used as it is: the server's greeting
    /// comes first, then EHLO and AUTH as over the network. No TLS is added: the stream must
    /// already be protected (a TLS session of the caller's, a local socket), or be a test's.
    /// Once that session has ended (or [`Submitter::capabilities`] used it), further sends fail
    /// with [`ErrorKind::Connection`]. The deadline is checked before each read and write; a read
    /// that blocks forever can only be ended by the stream itself (set its timeouts).
    pub fn from_stream(account: &Account, stream: impl Read + Write + Send + 'static) -> Self {
        Submitter::with_origin(account, Origin::Stream(Mutex::new(Some(Box::new(stream)))))
    }

    fn with_origin(account: &Account, origin: Origin) -> Self {
        Submitter {
            account: account.clone(),
            origin,
            session: Mutex::new(None),
            connections: AtomicU64::new(0),
        }
    }

    /// A new session, after EHLO, not logged in.
    fn open(&self) -> Result<SmtpConn> {
        match &self.origin {
            Origin::Server(server) => SmtpConn::open(&self.account, server),
            Origin::Stream(stream) => {
                let stream = stream.lock().unwrap_or_else(|p| p.into_inner()).take().ok_or_else(|| {
                    Error::new(ErrorKind::Connection, "the session over the caller's stream has ended")
                })?;
                SmtpConn::over_stream(&self.account, stream)
            }
        }
    }

    /// The server's extensions after EHLO (over TLS, without logging in).
    ///
    /// # Errors
    /// Connection and TLS errors.
    pub fn capabilities(&self) -> Result<Capabilities> {
        let conn = self.open()?;
        let caps = conn.caps.clone();
        conn.quit();
        Ok(caps)
    }

    /// How many authenticated sessions this submitter has opened (batches reuse one).
    pub fn connections_opened(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    fn login(&self) -> Result<SmtpConn> {
        let mut conn = self.open()?;
        self.connections.fetch_add(1, Ordering::Relaxed);
        let user = self.account.username();
        match self.account.credentials.resolve()? {
            SessionSecret::OAuth2(token) => {
                if !conn.caps.offers_auth("XOAUTH2") {
                    return Err(no_mechanism());
                }
                let first = zeroize::Zeroizing::new(format!(
                    "AUTH XOAUTH2 {}",
                    sasl::xoauth2(user, token.expose()).as_str()
                ));
                conn.authenticate(&first, &[])?;
            }
            SessionSecret::Password(password) => {
                let (plain, login) = match self.account.password_mechanism {
                    PasswordMechanism::Any => (true, true),
                    PasswordMechanism::Plain => (true, false),
                    PasswordMechanism::Login => (false, true),
                };
                if plain && conn.caps.offers_auth("PLAIN") {
                    let first = zeroize::Zeroizing::new(format!(
                        "AUTH PLAIN {}",
                        sasl::plain(user, password.expose()).as_str()
                    ));
                    conn.authenticate(&first, &[])?;
                } else if login && conn.caps.offers_auth("LOGIN") {
                    // The server asks for the user name, then the password; every server asks in
                    // that order, so the challenges' text is not interpreted.
                    let (user, password) = (sasl::base64(user), sasl::base64(password.expose()));
                    conn.authenticate("AUTH LOGIN", &[&user, &password])?;
                } else {
                    return Err(no_mechanism());
                }
            }
        }
        Ok(conn)
    }

    /// The reusable session and whether it was reused: used as it is when the server answered
    /// within [`FRESH`], probed with NOOP when older, replaced when broken or closed.
    fn session<'a>(&self, slot: &'a mut Option<SmtpConn>) -> Result<(&'a mut SmtpConn, bool)> {
        let reusable = match slot.as_mut() {
            Some(s) if s.is_broken() => false,
            Some(s) if s.idle_for() < FRESH => true,
            Some(s) => s.lettre(Noop, "NOOP").is_ok(),
            None => false,
        };
        if !reusable {
            slot.take();
            *slot = Some(self.login()?);
        }
        let session = slot.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no session"))?;
        Ok((session, reusable))
    }

    /// Close the session politely (QUIT). Dropping the submitter does the same.
    pub fn close(&self) {
        let mut guard = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(s) = guard.take() {
            s.quit();
        }
    }
}

/// How recently the server must have answered for its session to be used without a NOOP probe.
/// Servers wait far longer for an idle client: RFC 5321 section 4.5.3.2.7 asks for 5 minutes,
/// Postfix waits 300 s, and 10 s under stress, its shortest. Below that a session is alive unless
/// the server restarted or something on the way cut it, and then the next mail's first command
/// fails before any of the mail was sent, so the mail goes on a new session (once) instead. The
/// probe stays for older sessions: its round trip is paid only by mails sent seconds apart.
const FRESH: Duration = Duration::from_secs(5);

fn no_mechanism() -> Error {
    Error::new(ErrorKind::Unsupported, "the server offers none of the allowed AUTH mechanisms")
}

impl Submit for Submitter {
    fn account(&self) -> Option<&Account> {
        Some(&self.account)
    }

    /// Checks before any upload: `from` must be the account's address or an alias; the size must
    /// fit the server's SIZE; non-ASCII addresses need SMTPUTF8 and 8-bit content 8BITMIME.
    /// [`ErrorKind::TooLarge`] and [`ErrorKind::Unsupported`] come before MAIL FROM, so
    /// nothing was sent.
    fn send_raw(&self, from: &str, recipients: &[String], message: &[u8]) -> Result<SubmitReply> {
        self.submit(from, recipients, Body::Bytes(message))
    }

    /// As [`Submitter::send_raw`], reading the message as it is uploaded.
    fn send_raw_from(
        &self,
        from: &str,
        recipients: &[String],
        message: &mut dyn Read,
        size: u64,
        eight_bit: bool,
    ) -> Result<SubmitReply> {
        self.submit(from, recipients, Body::Reader { reader: message, size, eight_bit })
    }
}

impl Submitter {
    fn submit(&self, from: &str, recipients: &[String], mut message: Body<'_>) -> Result<SubmitReply> {
        if !self.account.may_send_as(from) {
            return Err(secure::from_not_allowed(from));
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
        let mut redone = false;
        loop {
            let (session, reused) = self.session(&mut guard)?;
            let params = mail_parameters(&session.caps, &message, non_ascii)?;
            match transaction::run(session, &from_addr, &rcpts, params, &mut message) {
                // The session was gone before the server heard of this mail: nothing was
                // delivered, so the mail goes once more on a new session. Only once, and only
                // for a reused session: a new one that fails so is a real failure.
                Err(failed) if failed.session_gone && reused && !redone => {
                    redone = true;
                    guard.take();
                }
                result => {
                    // Leave a clean session for the next mail, or none at all.
                    if result.is_err() && (session.is_broken() || session.lettre(Rset, "RSET").is_err()) {
                        guard.take();
                    }
                    return result.map_err(|failed| failed.error);
                }
            }
        }
    }
}

/// The MAIL FROM parameters for `message` on a server with `caps`, after the checks that come
/// before anything is sent: [`ErrorKind::TooLarge`] for a message above SIZE,
/// [`ErrorKind::Unsupported`] when SMTPUTF8 or 8BITMIME is needed and not offered.
fn mail_parameters(caps: &Capabilities, message: &Body<'_>, non_ascii: bool) -> Result<Vec<MailParameter>> {
    if let Some(limit) = caps.size.filter(|l| *l > 0)
        && message.size() > limit
    {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("the message has {} bytes, the server takes at most {limit}", message.size()),
        ));
    }
    if non_ascii && !caps.smtputf8 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "a non-ASCII address needs SMTPUTF8, which the server does not offer",
        ));
    }
    let eight_bit = message.eight_bit();
    if eight_bit && !caps.eight_bit_mime {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "8-bit content needs 8BITMIME, which the server does not offer",
        ));
    }
    let mut params = Vec::new();
    if caps.size.is_some() {
        // A size beyond usize cannot have passed the SIZE check above.
        params.push(MailParameter::Size(usize::try_from(message.size()).unwrap_or(usize::MAX)));
    }
    if non_ascii {
        params.push(MailParameter::SmtpUtfEight);
    }
    if eight_bit {
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    Ok(params)
}

impl Drop for Submitter {
    fn drop(&mut self) {
        self.close();
    }
}
