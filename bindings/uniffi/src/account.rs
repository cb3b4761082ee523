//! Accounts: a mail address with its servers and credentials, and the OAuth2 token provider
//! that Kotlin or Swift implements.

use std::sync::Arc;

use crate::error::Result;
use crate::keys::{Identity, PublicKey, Secret};

/// How a server's TLS starts. There is no plaintext mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum TlsMode {
    /// TLS from the first byte (ports 465, 993, 995).
    Implicit,
    /// STARTTLS after the greeting (ports 587, 143, 110); refused if the server does not offer it.
    StartTls,
}

/// One server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Server {
    /// Host name (checked against its certificate).
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
}

impl From<Server> for esmtp_ffi::Server {
    fn from(s: Server) -> Self {
        let tls = match s.tls {
            TlsMode::Implicit => esmtp_ffi::TlsMode::Implicit,
            TlsMode::StartTls => esmtp_ffi::TlsMode::StartTls,
        };
        esmtp_ffi::Server { host: s.host, port: s.port, tls }
    }
}

/// Gives a fresh OAuth2 access token for each new session: implemented in Kotlin or Swift (with
/// the platform's account manager or an OAuth library). It is called on a network thread, never
/// the UI thread; throw `EsmtpException.Authentication` / `EsmtpError.Authentication` when no
/// token can be had, with a reason that holds no token.
#[uniffi::export(with_foreign)]
pub trait TokenProvider: Send + Sync {
    /// A currently valid access token.
    fn access_token(&self) -> Result<String>;
}

/// esmtp-ffi's provider, calling the foreign one.
struct Provider(Arc<dyn TokenProvider>);

impl esmtp_ffi::TokenProvider for Provider {
    fn access_token(&self) -> std::result::Result<String, String> {
        self.0.access_token().map_err(|e| e.to_string())
    }
}

/// How an account logs in.
#[derive(uniffi::Enum)]
pub enum Credential {
    /// A password (for Gmail: an app password).
    Password {
        /// The password.
        password: Arc<Secret>,
    },
    /// A fixed OAuth2 access token (XOAUTH2).
    OAuth2Token {
        /// The token.
        token: Arc<Secret>,
    },
    /// A provider asked for a token at every new session.
    OAuth2Provider {
        /// The provider.
        provider: Arc<dyn TokenProvider>,
    },
    /// No login (only capability queries work).
    NoLogin,
}

impl From<Credential> for esmtp_ffi::Credential {
    fn from(c: Credential) -> Self {
        match c {
            Credential::Password { password } => esmtp_ffi::Credential::Password(password.copy()),
            Credential::OAuth2Token { token } => esmtp_ffi::Credential::OAuth2Token(token.copy()),
            Credential::OAuth2Provider { provider } => {
                esmtp_ffi::Credential::OAuth2Provider(Arc::new(Provider(provider)))
            }
            Credential::NoLogin => esmtp_ffi::Credential::None,
        }
    }
}

/// A known correspondent: an address and a public key it signs with.
#[derive(uniffi::Record)]
pub struct Contact {
    /// The address.
    pub address: String,
    /// Its key.
    pub key: Arc<PublicKey>,
}

/// An account, as values.
#[derive(uniffi::Record)]
pub struct AccountConfig {
    /// The mail address (`From` of what it sends).
    pub address: String,
    /// How it logs in.
    pub login: Credential,
    /// The login name, when not the address.
    #[uniffi(default)]
    pub username: Option<String>,
    /// Submission server.
    #[uniffi(default)]
    pub smtp: Option<Server>,
    /// IMAP server.
    #[uniffi(default)]
    pub imap: Option<Server>,
    /// POP3 server.
    #[uniffi(default)]
    pub pop3: Option<Server>,
    /// Extra trusted CA certificates (PEM), beside the public roots.
    #[uniffi(default)]
    pub ca_pem: Option<Vec<u8>>,
    /// Seconds a read or write may wait (default 30; at most 3600).
    #[uniffi(default)]
    pub timeout_secs: Option<u64>,
    /// Seconds one command exchange may take in all (default 120; at most 3600).
    #[uniffi(default)]
    pub deadline_secs: Option<u64>,
    /// Other addresses the account may send as.
    #[uniffi(default)]
    pub aliases: Vec<String>,
    /// The owner's identity: mail sent with the account is signed with it and, unless
    /// `encrypt_to_self` is false, sealed to it too (so the Sent copy stays readable).
    #[uniffi(default)]
    pub identity: Option<Arc<Identity>>,
    /// Seal sent mail to the account's own identity too (default true when it has one).
    #[uniffi(default)]
    pub encrypt_to_self: Option<bool>,
    /// Known correspondents: every fetched mail's signer is checked against the keys listed for
    /// its `From` address (`FetchedMessage.sender`).
    #[uniffi(default)]
    pub contacts: Vec<Contact>,
}

impl From<AccountConfig> for esmtp_ffi::AccountConfig {
    fn from(c: AccountConfig) -> Self {
        esmtp_ffi::AccountConfig {
            address: c.address,
            username: c.username,
            login: c.login.into(),
            smtp: c.smtp.map(Into::into),
            imap: c.imap.map(Into::into),
            pop3: c.pop3.map(Into::into),
            ca_pem: c.ca_pem,
            timeout_secs: c.timeout_secs,
            deadline_secs: c.deadline_secs,
            aliases: c.aliases,
            identity: c.identity.map(|i| i.0.clone()),
            encrypt_to_self: c.encrypt_to_self,
            contacts: c.contacts.into_iter().map(|k| (k.address, k.key.0.clone())).collect(),
        }
    }
}

/// An account: where and how to send and fetch. Making one does not connect.
#[derive(uniffi::Object)]
pub struct Account(pub(crate) Arc<esmtp_ffi::Account>);

#[uniffi::export]
impl Account {
    /// An account from values.
    #[uniffi::constructor]
    pub fn new(config: AccountConfig) -> Result<Arc<Account>> {
        Ok(Arc::new(Account(esmtp_ffi::Account::new(&config.into())?)))
    }

    /// Gmail's servers (smtp.gmail.com 465, imap.gmail.com 993, pop.gmail.com 995) for
    /// `address`, logging in with an app password or OAuth2 (the `https://mail.google.com/` scope).
    #[uniffi::constructor]
    pub fn gmail(address: String, login: Credential) -> Result<Arc<Account>> {
        Ok(Arc::new(Account(esmtp_ffi::Account::gmail(&address, login.into())?)))
    }

    /// An account from an account file (TOML, as the `esmtp` command reads it).
    #[uniffi::constructor]
    pub fn from_file(path: String) -> Result<Arc<Account>> {
        Ok(Arc::new(Account(esmtp_ffi::Account::from_file(path.as_ref())?)))
    }

    /// The account's address.
    pub fn address(&self) -> String {
        self.0.address()
    }
}
