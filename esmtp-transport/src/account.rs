//! Accounts: who the user is at their provider and how to reach its servers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

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

/// A mail account: address, login, and the submission and retrieval servers.
#[derive(Debug, Clone)]
pub struct Account {
    pub(crate) address: String,
    pub(crate) username: String,
    pub(crate) credentials: Credentials,
    pub(crate) aliases: Vec<String>,
    pub(crate) smtp: Option<ServerSettings>,
    pub(crate) imap: Option<ServerSettings>,
    pub(crate) pop3: Option<ServerSettings>,
    pub(crate) extra_roots_pem: Vec<Vec<u8>>,
    pub(crate) timeout: Duration,
    pub(crate) password_mechanism: PasswordMechanism,
    pub(crate) dangerous_accept_invalid_certs: bool,
    pub(crate) dangerous_allow_any_from: bool,
}

impl Account {
    /// Start building an account for `address`, logging in as `username` (often the address).
    pub fn builder(address: impl Into<String>, credentials: Credentials) -> AccountBuilder {
        let address = address.into();
        AccountBuilder {
            account: Account {
                username: address.clone(),
                address,
                credentials,
                aliases: Vec::new(),
                smtp: None,
                imap: None,
                pop3: None,
                extra_roots_pem: Vec::new(),
                timeout: Duration::from_secs(30),
                password_mechanism: PasswordMechanism::Any,
                dangerous_accept_invalid_certs: false,
                dangerous_allow_any_from: false,
            },
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

    /// The I/O timeout for every network operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether `from` may be used as the sender: the account's address or an alias
    /// (case-insensitive), unless [`AccountBuilder::dangerous_allow_any_from`] was set.
    pub fn may_send_as(&self, from: &str) -> bool {
        self.dangerous_allow_any_from
            || std::iter::once(&self.address).chain(&self.aliases).any(|a| a.eq_ignore_ascii_case(from))
    }
}

/// Builds an [`Account`]; every method consumes and returns the builder, [`AccountBuilder::build`]
/// checks it.
#[derive(Debug, Clone)]
pub struct AccountBuilder {
    account: Account,
}

impl AccountBuilder {
    /// The login name, when it differs from the address.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.account.username = username.into();
        self
    }

    /// Another address this account may send as (the server must allow it too).
    pub fn alias(mut self, address: impl Into<String>) -> Self {
        self.account.aliases.push(address.into());
        self
    }

    /// The submission server.
    pub fn smtp(mut self, server: ServerSettings) -> Self {
        self.account.smtp = Some(server);
        self
    }

    /// The IMAP server.
    pub fn imap(mut self, server: ServerSettings) -> Self {
        self.account.imap = Some(server);
        self
    }

    /// The POP3 server.
    pub fn pop3(mut self, server: ServerSettings) -> Self {
        self.account.pop3 = Some(server);
        self
    }

    /// Trust the CA certificates in this PEM text too, beside the built-in Mozilla roots (for
    /// private servers). Verification of the chain and the host name stays on.
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.account.extra_roots_pem.push(pem.into());
        self
    }

    /// The I/O timeout for every network operation (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.account.timeout = timeout;
        self
    }

    /// Which mechanisms a password may be sent with (default: PLAIN, else LOGIN).
    pub fn password_mechanism(mut self, mechanism: PasswordMechanism) -> Self {
        self.account.password_mechanism = mechanism;
        self
    }

    /// **Dangerous:** accept any server certificate, even self-signed or for another host. Anyone
    /// on the path can then read the password and the (still end-to-end encrypted) mail.
    pub fn dangerous_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.account.dangerous_accept_invalid_certs = accept;
        self
    }

    /// **Dangerous:** allow any From address, not only the account's address and aliases.
    pub fn dangerous_allow_any_from(mut self, allow: bool) -> Self {
        self.account.dangerous_allow_any_from = allow;
        self
    }

    /// Check and build.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the address has no `@`, a CA file holds no certificate, or the
    /// timeout is zero.
    pub fn build(self) -> Result<Account> {
        let a = self.account;
        if !a.address.contains('@') {
            return Err(Error::new(ErrorKind::Config, "the account address has no '@'"));
        }
        if a.timeout.is_zero() {
            return Err(Error::new(ErrorKind::Config, "the timeout must be above zero"));
        }
        for pem in &a.extra_roots_pem {
            crate::tls::parse_pem_roots(pem)?;
        }
        Ok(a)
    }
}
