//! Accounts: who the user is at their provider and how to reach its servers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use esmtp_core::X25519Identity;
use zeroize::Zeroizing;

use crate::contacts::Contacts;
use crate::error::{Error, ErrorKind, Result};
use crate::tls::Trust;
use crate::trace::ProtocolTrace;

/// A password or access token. Zeroized on drop; `Debug` never prints it.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wrap a secret string.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(Zeroizing::new(secret.into()))
    }

    /// The secret itself, for handing to a protocol exchange.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Supplies fresh OAuth2 access tokens, for long-lived applications whose tokens expire (Gmail's
/// last about an hour). Called before every new authentication.
///
/// A trait object with owned results, so a foreign language can implement it (bindings wrap it);
/// closures implement it too:
///
/// ```
/// use std::sync::Arc;
/// use esmtp_transport::{Credentials, Secret};
///
/// let provider = || -> Result<Secret, String> {
///     // Ask a token helper, refresh with a stored refresh token, ...
///     Ok(Secret::new("ya29.a0Af..."))
/// };
/// let credentials = Credentials::OAuth2Provider(Arc::new(provider));
/// # let _ = credentials;
/// ```
pub trait TokenProvider: Send + Sync {
    /// A currently valid access token.
    ///
    /// # Errors
    /// A message saying why no token could be had (it must not contain the token).
    fn access_token(&self) -> std::result::Result<Secret, String>;
}

impl<F> TokenProvider for F
where
    F: Fn() -> std::result::Result<Secret, String> + Send + Sync,
{
    fn access_token(&self) -> std::result::Result<Secret, String> {
        self()
    }
}

/// How the account proves who it is.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A password (for Gmail: an app password).
    Password(Secret),
    /// An OAuth2 access token, sent with XOAUTH2.
    OAuth2Token(Secret),
    /// A callback that returns a fresh OAuth2 access token for each new session.
    OAuth2Provider(Arc<dyn TokenProvider>),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credentials::Password(_) => "Password(<redacted>)",
            Credentials::OAuth2Token(_) => "OAuth2Token(<redacted>)",
            Credentials::OAuth2Provider(_) => "OAuth2Provider",
        })
    }
}

/// What the credentials resolve to for one session.
pub(crate) enum SessionSecret {
    Password(Secret),
    OAuth2(Secret),
}

impl Credentials {
    pub(crate) fn resolve(&self) -> Result<SessionSecret> {
        Ok(match self {
            Credentials::Password(p) => SessionSecret::Password(p.clone()),
            Credentials::OAuth2Token(t) => SessionSecret::OAuth2(t.clone()),
            Credentials::OAuth2Provider(p) => SessionSecret::OAuth2(
                p.access_token()
                    .map_err(|why| Error::new(ErrorKind::Auth, format!("no OAuth2 access token: {why}")))?,
            ),
        })
    }
}

/// How TLS is set up. There is no plaintext mode and no opportunistic mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (SMTP 465, IMAP 993, POP3 995).
    Implicit,
    /// A plaintext greeting, then STARTTLS (SMTP 587, IMAP 143) or STLS (POP3 110), required:
    /// a server that does not offer it is an error, never a fallback to plaintext.
    StartTls,
}

/// Which SASL mechanisms a password may be sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordMechanism {
    /// PLAIN when offered, else LOGIN.
    #[default]
    Any,
    /// PLAIN only (RFC 4616).
    Plain,
    /// LOGIN only.
    Login,
}

/// A server's address and TLS mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Host name; also the name the certificate must carry.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
}

impl ServerSettings {
    /// A server setting.
    pub fn new(host: impl Into<String>, port: u16, tls: TlsMode) -> Self {
        ServerSettings { host: host.into(), port, tls }
    }
}

/// A mail account: address, login, the submission and retrieval servers, whom TLS trusts, how
/// long the network may take, and who the user is end to end: their identity (to sign what they
/// send and to read their own Sent copies), the addresses they may send as, and the keys they
/// expect other senders to sign with. Built by [`AccountBuilder::build`], which parses the CA
/// certificates once for every later session.
#[derive(Clone)]
pub struct Account {
    pub(crate) address: String,
    pub(crate) username: String,
    pub(crate) credentials: Credentials,
    pub(crate) aliases: Vec<String>,
    pub(crate) smtp: Option<ServerSettings>,
    pub(crate) imap: Option<ServerSettings>,
    pub(crate) pop3: Option<ServerSettings>,
    pub(crate) trust: Trust,
    pub(crate) timeout: Duration,
    pub(crate) deadline: Duration,
    pub(crate) password_mechanism: PasswordMechanism,
    pub(crate) dangerous_allow_any_from: bool,
    pub(crate) trace: Option<Arc<dyn ProtocolTrace>>,
    pub(crate) identity: Option<X25519Identity>,
    pub(crate) encrypt_to_self: bool,
    pub(crate) contacts: Contacts,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("credentials", &self.credentials)
            .field("aliases", &self.aliases)
            .field("smtp", &self.smtp)
            .field("imap", &self.imap)
            .field("pop3", &self.pop3)
            .field("trust", &self.trust)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("password_mechanism", &self.password_mechanism)
            .field("dangerous_allow_any_from", &self.dangerous_allow_any_from)
            .field("trace", &self.trace.is_some())
            .field("identity", &self.identity.as_ref().map(X25519Identity::to_public))
            .field("encrypt_to_self", &self.encrypt_to_self)
            .field("contacts", &self.contacts)
            .finish()
    }
}

/// The I/O timeout when none is set: how long one read or write may wait.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The deadline of one command exchange when none is set.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
/// The most the I/O timeout and the deadline can be; larger values are taken as this.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Bulk transfers get one more second of deadline per this many bytes (a floor of 32 KiB/s).
pub const TRANSFER_BYTES_PER_SECOND: u64 = 32 * 1024;
/// The most any one operation's deadline can be, also for the largest transfer.
pub const MAX_TRANSFER_DEADLINE: Duration = Duration::from_secs(4 * 3600);

/// The deadline for an exchange that moves about `bytes`: `base`, plus a second per
/// [`TRANSFER_BYTES_PER_SECOND`], at most [`MAX_TRANSFER_DEADLINE`].
pub(crate) fn transfer_deadline(base: Duration, bytes: u64) -> Duration {
    base.saturating_add(Duration::from_secs(bytes / TRANSFER_BYTES_PER_SECOND)).min(MAX_TRANSFER_DEADLINE)
}

impl Account {
    /// Start building an account for `address`, logging in as `username` (often the address).
    pub fn builder(address: impl Into<String>, credentials: Credentials) -> AccountBuilder {
        let address = address.into();
        AccountBuilder {
            username: address.clone(),
            address,
            credentials,
            aliases: Vec::new(),
            smtp: None,
            imap: None,
            pop3: None,
            extra_roots_pem: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            password_mechanism: PasswordMechanism::Any,
            dangerous_accept_invalid_certs: false,
            dangerous_allow_any_from: false,
            trace: None,
            identity: None,
            encrypt_to_self: None,
            contacts: Contacts::new(),
        }
    }

    /// Gmail: smtp.gmail.com 465 (implicit TLS), imap.gmail.com 993, pop.gmail.com 995. Use an
    /// app password or an OAuth2 token (scope `https://mail.google.com/`).
    pub fn gmail(address: impl Into<String>, credentials: Credentials) -> AccountBuilder {
        Account::builder(address, credentials)
            .smtp(ServerSettings::new("smtp.gmail.com", 465, TlsMode::Implicit))
            .imap(ServerSettings::new("imap.gmail.com", 993, TlsMode::Implicit))
            .pop3(ServerSettings::new("pop.gmail.com", 995, TlsMode::Implicit))
    }

    /// The account's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The login name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The submission server.
    pub fn smtp(&self) -> Option<&ServerSettings> {
        self.smtp.as_ref()
    }

    /// The IMAP server.
    pub fn imap(&self) -> Option<&ServerSettings> {
        self.imap.as_ref()
    }

    /// The POP3 server.
    pub fn pop3(&self) -> Option<&ServerSettings> {
        self.pop3.as_ref()
    }

    /// The I/O timeout: how long one read or write may wait for the server.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The deadline of one command exchange (bulk transfers get more, see
    /// [`AccountBuilder::deadline`]).
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Whether `from` may be used as the sender: the account's address or an alias
    /// (case-insensitive), unless [`AccountBuilder::dangerous_allow_any_from`] was set.
    pub fn may_send_as(&self, from: &str) -> bool {
        self.dangerous_allow_any_from || self.own_addresses().any(|a| a.eq_ignore_ascii_case(from.trim()))
    }

    /// The other addresses this account may send as ([`AccountBuilder::alias`]).
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn own_addresses(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.address).chain(&self.aliases)
    }

    /// The user's identity: it signs what [`crate::Submit::send_secure`] sends and, with
    /// encrypt-to-self, opens the Sent copies. `Debug` shows only its public key.
    pub fn identity(&self) -> Option<&X25519Identity> {
        self.identity.as_ref()
    }

    /// Whether sending also seals every mail to the account's own identity, so the copy in the
    /// Sent folder stays readable (see [`AccountBuilder::encrypt_to_self`]).
    pub fn encrypts_to_self(&self) -> bool {
        self.encrypt_to_self
    }

    /// The keys expected as signers, by address: those given with [`AccountBuilder::contact`],
    /// and the account's own public key for its address and aliases. Fetches check every opened
    /// mail against them ([`crate::Fetched::sender`]).
    pub fn contacts(&self) -> &Contacts {
        &self.contacts
    }
}

/// Builds an [`Account`]; every method consumes and returns the builder, [`AccountBuilder::build`]
/// checks it.
///
/// ```
/// use std::time::Duration;
/// use esmtp_transport::{Account, Credentials, Secret, ServerSettings, TlsMode};
///
/// let account = Account::builder("alice@example.org", Credentials::Password(Secret::new("pw")))
///     .smtp(ServerSettings::new("mail.example.org", 587, TlsMode::StartTls))
///     .imap(ServerSettings::new("mail.example.org", 993, TlsMode::Implicit))
///     .timeout(Duration::from_secs(20))
///     .deadline(Duration::from_secs(60))
///     .build()?;
/// assert_eq!(account.deadline(), Duration::from_secs(60));
/// # Ok::<(), esmtp_transport::Error>(())
/// ```
#[derive(Clone)]
pub struct AccountBuilder {
    address: String,
    username: String,
    credentials: Credentials,
    aliases: Vec<String>,
    smtp: Option<ServerSettings>,
    imap: Option<ServerSettings>,
    pop3: Option<ServerSettings>,
    extra_roots_pem: Vec<Vec<u8>>,
    timeout: Duration,
    deadline: Duration,
    password_mechanism: PasswordMechanism,
    dangerous_accept_invalid_certs: bool,
    dangerous_allow_any_from: bool,
    trace: Option<Arc<dyn ProtocolTrace>>,
    identity: Option<X25519Identity>,
    encrypt_to_self: Option<bool>,
    contacts: Contacts,
}

impl fmt::Debug for AccountBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountBuilder").field("address", &self.address).finish_non_exhaustive()
    }
}

impl AccountBuilder {
    /// The login name, when it differs from the address.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = username.into();
        self
    }

    /// Another address this account may send as (the server must allow it too). Sending with
    /// any other `From` fails with [`ErrorKind::FromNotAllowed`].
    pub fn alias(mut self, address: impl Into<String>) -> Self {
        self.aliases.push(address.into());
        self
    }

    /// The user's identity (from their identity file): [`crate::Submit::send_secure`] signs
    /// with it by default, seals to it too (encrypt-to-self, unless turned off), and fetches
    /// expect it as the signer of mail from the account's own addresses.
    pub fn identity(mut self, identity: X25519Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Whether sending also seals every mail to the account's identity, so the copy the
    /// provider keeps in the Sent folder stays readable (default: on when there is an identity).
    /// Turning it on without an identity is refused by [`AccountBuilder::build`].
    pub fn encrypt_to_self(mut self, on: bool) -> Self {
        self.encrypt_to_self = Some(on);
        self
    }

    /// Expect `key` as the signer of mail from `address` (repeatable; an address may have
    /// several keys). See [`Contacts`].
    pub fn contact(mut self, address: &str, key: esmtp_core::X25519Recipient) -> Self {
        self.contacts.add(address, key);
        self
    }

    /// The submission server.
    pub fn smtp(mut self, server: ServerSettings) -> Self {
        self.smtp = Some(server);
        self
    }

    /// The IMAP server.
    pub fn imap(mut self, server: ServerSettings) -> Self {
        self.imap = Some(server);
        self
    }

    /// The POP3 server.
    pub fn pop3(mut self, server: ServerSettings) -> Self {
        self.pop3 = Some(server);
        self
    }

    /// Trust the CA certificates in this PEM text too, beside the built-in Mozilla roots (for
    /// private servers). Verification of the chain and the host name stays on.
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_roots_pem.push(pem.into());
        self
    }

    /// How long one read or write may wait for the server (default [`DEFAULT_TIMEOUT`], 30 s;
    /// at most [`MAX_TIMEOUT`], one hour: larger values are taken as that).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long one command exchange may take in total, however the server trickles its bytes
    /// (default [`DEFAULT_DEADLINE`], 120 s; at most [`MAX_TIMEOUT`]). Connecting, the TLS
    /// handshake and the login each count as one exchange. Bulk transfers (a message download
    /// or upload) get one more second per [`TRANSFER_BYTES_PER_SECOND`] bytes, up to
    /// [`MAX_TRANSFER_DEADLINE`]. IMAP IDLE waits as long as asked instead.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Which mechanisms a password may be sent with (default: PLAIN, else LOGIN).
    pub fn password_mechanism(mut self, mechanism: PasswordMechanism) -> Self {
        self.password_mechanism = mechanism;
        self
    }

    /// Hand every line of every session to `trace`, secrets replaced by `<redacted>` (see
    /// [`ProtocolTrace`]).
    pub fn trace(mut self, trace: Arc<dyn ProtocolTrace>) -> Self {
        self.trace = Some(trace);
        self
    }

    /// **Dangerous:** accept any server certificate, even self-signed or for another host. Anyone
    /// on the path can then read the password and the (still end-to-end encrypted) mail.
    pub fn dangerous_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.dangerous_accept_invalid_certs = accept;
        self
    }

    /// **Dangerous:** allow any From address, not only the account's address and aliases.
    pub fn dangerous_allow_any_from(mut self, allow: bool) -> Self {
        self.dangerous_allow_any_from = allow;
        self
    }

    /// Check and build: the CA certificates are parsed here, once.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the address or an alias has no `@`, a CA text holds no
    /// certificate, the timeout or deadline is zero, or encrypt-to-self is asked for without an
    /// identity.
    pub fn build(self) -> Result<Account> {
        if !self.address.contains('@') {
            return Err(Error::new(ErrorKind::Config, "the account address has no '@'"));
        }
        if self.timeout.is_zero() {
            return Err(Error::new(ErrorKind::Config, "the timeout must be above zero"));
        }
        if self.deadline.is_zero() {
            return Err(Error::new(ErrorKind::Config, "the deadline must be above zero"));
        }
        if let Some(alias) = self.aliases.iter().find(|a| !a.contains('@')) {
            return Err(Error::new(ErrorKind::Config, format!("the alias {alias:?} has no '@'")));
        }
        if self.encrypt_to_self == Some(true) && self.identity.is_none() {
            return Err(Error::new(ErrorKind::Config, "encrypt-to-self needs the account's identity"));
        }
        let encrypt_to_self = self.identity.is_some() && self.encrypt_to_self.unwrap_or(true);
        let mut contacts = self.contacts;
        if let Some(identity) = &self.identity {
            // Mail from the user's own addresses (Sent copies, mail to oneself) is theirs when
            // their own key signed it.
            for address in std::iter::once(&self.address).chain(&self.aliases) {
                contacts.add(address, identity.to_public());
            }
        }
        let trust = Trust::new(&self.extra_roots_pem, self.dangerous_accept_invalid_certs)?;
        Ok(Account {
            address: self.address,
            username: self.username,
            credentials: self.credentials,
            aliases: self.aliases,
            smtp: self.smtp,
            imap: self.imap,
            pop3: self.pop3,
            trust,
            timeout: self.timeout.min(MAX_TIMEOUT),
            deadline: self.deadline.min(MAX_TIMEOUT),
            password_mechanism: self.password_mechanism,
            dangerous_allow_any_from: self.dangerous_allow_any_from,
            trace: self.trace,
            identity: self.identity,
            encrypt_to_self,
            contacts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> AccountBuilder {
        Account::builder("a@example.test", Credentials::Password(Secret::new("hunter2")))
    }

    #[test]
    fn timeouts_are_capped_and_zero_is_refused() {
        let a = builder().timeout(Duration::from_secs(u64::MAX)).deadline(Duration::MAX).build().unwrap();
        assert_eq!((a.timeout(), a.deadline()), (MAX_TIMEOUT, MAX_TIMEOUT));
        assert_eq!(builder().timeout(Duration::ZERO).build().unwrap_err().kind(), ErrorKind::Config);
        assert_eq!(builder().deadline(Duration::ZERO).build().unwrap_err().kind(), ErrorKind::Config);
        let d = builder().build().unwrap();
        assert_eq!((d.timeout(), d.deadline()), (DEFAULT_TIMEOUT, DEFAULT_DEADLINE));
    }

    #[test]
    fn transfer_deadlines_grow_with_size_up_to_the_cap() {
        let base = Duration::from_secs(120);
        assert_eq!(transfer_deadline(base, 0), base);
        assert_eq!(transfer_deadline(base, 32 * 1024 * 60), Duration::from_secs(180));
        assert_eq!(transfer_deadline(base, u64::MAX), MAX_TRANSFER_DEADLINE);
        assert_eq!(transfer_deadline(Duration::MAX, 0), MAX_TRANSFER_DEADLINE);
    }

    #[test]
    fn debug_shows_no_secret() {
        let a = builder().build().unwrap();
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(!format!("{:?}", builder()).contains("hunter2"));
    }
}
