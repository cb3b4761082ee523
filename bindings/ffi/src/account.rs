//! Accounts: a mail address with its servers and credentials, built from values, the Gmail
//! preset, or an account file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use esmtp_transport::account_file::{self, Login};
use esmtp_transport::{AccountBuilder, Credentials, Secret, ServerSettings};
use zeroize::Zeroizing;

use crate::error::Result;
use crate::keys::{Identity, PublicKey};

/// How a server's TLS starts. There is no plaintext mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// TLS from the first byte (ports 465, 993, 995).
    Implicit,
    /// STARTTLS after the greeting (ports 587, 143, 110); refused if the server does not offer it.
    StartTls,
}

/// One server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Server {
    /// Host name (checked against its certificate).
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
}

impl From<&Server> for ServerSettings {
    fn from(s: &Server) -> Self {
        let tls = match s.tls {
            TlsMode::Implicit => esmtp_transport::TlsMode::Implicit,
            TlsMode::StartTls => esmtp_transport::TlsMode::StartTls,
        };
        ServerSettings::new(s.host.clone(), s.port, tls)
    }
}

/// Gives a fresh OAuth2 access token for each new session; implemented by the caller (in Rust,
/// Python or Kotlin/Swift). Errors are messages for people and never hold a token.
pub trait TokenProvider: Send + Sync {
    /// A currently valid access token.
    ///
    /// # Errors
    /// Why no token could be had.
    fn access_token(&self) -> std::result::Result<String, String>;
}

/// How an account logs in.
#[derive(Clone, Default)]
pub enum Credential {
    /// A password (for Gmail: an app password). Zeroized when dropped.
    Password(Zeroizing<String>),
    /// A fixed OAuth2 access token (XOAUTH2). Zeroized when dropped.
    OAuth2Token(Zeroizing<String>),
    /// A provider asked for a token at every new session.
    OAuth2Provider(Arc<dyn TokenProvider>),
    /// No login (only capability queries work).
    #[default]
    None,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Password(_) => "Password(<redacted>)",
            Credential::OAuth2Token(_) => "OAuth2Token(<redacted>)",
            Credential::OAuth2Provider(_) => "OAuth2Provider",
            Credential::None => "None",
        })
    }
}

/// An account, as values.
#[derive(Debug, Clone, Default)]
pub struct AccountConfig {
    /// The mail address (`From` of what it sends).
    pub address: String,
    /// The login name, when not the address.
    pub username: Option<String>,
    /// How it logs in.
    pub login: Credential,
    /// Submission server.
    pub smtp: Option<Server>,
    /// IMAP server.
    pub imap: Option<Server>,
    /// POP3 server.
    pub pop3: Option<Server>,
    /// Extra trusted CA certificates (PEM), beside the public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Seconds a read or write may wait (default 30; at most 3600).
    pub timeout_secs: Option<u64>,
    /// Seconds one command exchange may take in all (default 120; at most 3600).
    pub deadline_secs: Option<u64>,
    /// Other addresses the account may send as (the account file's `allow_from`).
    pub aliases: Vec<String>,
    /// The account owner's identity: mail sent with the account is signed with it and, unless
    /// `encrypt_to_self` is `Some(false)`, sealed to it too (so the Sent copy stays readable).
    pub identity: Option<Arc<Identity>>,
    /// Seal sent mail to the account's own identity too (default `true` when it has one).
    pub encrypt_to_self: Option<bool>,
    /// Known correspondents: `(address, public key)`; every fetched mail's signer is checked
    /// against the keys listed for its `From` address ([`crate::FetchedMessage::sender`]).
    pub contacts: Vec<(String, Arc<PublicKey>)>,
}

struct Provider(Arc<dyn TokenProvider>);

impl esmtp_transport::TokenProvider for Provider {
    fn access_token(&self) -> std::result::Result<Secret, String> {
        self.0.access_token().map(Secret::new)
    }
}

fn credentials(login: &Credential) -> Credentials {
    match login {
        Credential::Password(p) => Credentials::Password(Secret::new(p.as_str())),
        Credential::OAuth2Token(t) => Credentials::OAuth2Token(Secret::new(t.as_str())),
        Credential::OAuth2Provider(p) => Credentials::OAuth2Provider(Arc::new(Provider(p.clone()))),
        Credential::None => Credentials::Password(Secret::new("")),
    }
}

/// CA files are small; a larger file is not one.
const MAX_CA_FILE: u64 = 1 << 20;

/// The PEM certificates in the file at `path`, for [`AccountConfig::ca_pem`] (at most 1 MiB).
///
/// # Errors
/// [`crate::ErrorKind::Io`], and [`crate::ErrorKind::InvalidArgument`] for a larger file.
pub fn read_ca_file(path: &Path) -> Result<Vec<u8>> {
    crate::keys::read_small(path, MAX_CA_FILE)
}

/// An account: where and how to send and fetch.
#[derive(Debug, Clone)]
pub struct Account(pub(crate) esmtp_transport::Account);

impl Account {
    /// An account from values.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidArgument`] for an invalid address or CA.
    pub fn new(config: &AccountConfig) -> Result<Arc<Account>> {
        let builder = esmtp_transport::Account::builder(config.address.clone(), credentials(&config.login));
        Self::finish(builder, config)
    }

    /// Gmail's servers (smtp.gmail.com 465, imap.gmail.com 993, pop.gmail.com 995) for
    /// `address`, logging in with an app password or OAuth2 (the `https://mail.google.com/` scope).
    ///
    /// # Errors
    /// As [`Account::new`].
    pub fn gmail(address: &str, login: Credential) -> Result<Arc<Account>> {
        let config = AccountConfig { address: address.to_string(), login, ..AccountConfig::default() };
        let builder = esmtp_transport::Account::gmail(address, credentials(&config.login));
        Self::finish(builder, &config)
    }

    fn finish(mut builder: AccountBuilder, config: &AccountConfig) -> Result<Arc<Account>> {
        if let Some(u) = &config.username {
            builder = builder.username(u.clone());
        }
        for (server, set) in [
            (&config.smtp, AccountBuilder::smtp as fn(AccountBuilder, ServerSettings) -> AccountBuilder),
            (&config.imap, AccountBuilder::imap),
            (&config.pop3, AccountBuilder::pop3),
        ] {
            if let Some(s) = server {
                builder = set(builder, s.into());
            }
        }
        if let Some(pem) = &config.ca_pem {
            builder = builder.add_root_certificates_pem(pem.clone());
        }
        if let Some(t) = config.timeout_secs {
            builder = builder.timeout(Duration::from_secs(t));
        }
        if let Some(d) = config.deadline_secs {
            builder = builder.deadline(Duration::from_secs(d));
        }
        for alias in &config.aliases {
            builder = builder.alias(alias.clone());
        }
        if let Some(identity) = &config.identity {
            builder = builder.identity(identity.0.clone());
        }
        if let Some(on) = config.encrypt_to_self {
            builder = builder.encrypt_to_self(on);
        }
        for (address, key) in &config.contacts {
            builder = builder.contact(address, key.0.clone());
        }
        Ok(Arc::new(Account(builder.build()?)))
    }

    /// An account from an account file (TOML, as the `esmtp` command reads it).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidArgument`] naming the file and line.
    pub fn from_file(path: &Path) -> Result<Arc<Account>> {
        Ok(Arc::new(Account(account_file::load(path, Login::Needed)?)))
    }

    /// The account's address.
    pub fn address(&self) -> String {
        self.0.address().to_string()
    }
}

impl From<&Account> for esmtp_transport::Account {
    fn from(a: &Account) -> Self {
        a.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl TokenProvider for Fixed {
        fn access_token(&self) -> std::result::Result<String, String> {
            Ok("token".into())
        }
    }

    #[test]
    fn accounts_from_values_and_the_gmail_preset() {
        let gmail = Account::gmail("a@gmail.com", Credential::OAuth2Provider(Arc::new(Fixed))).unwrap();
        assert_eq!(gmail.0.imap().map(|s| s.host.as_str()), Some("imap.gmail.com"));
        let config = AccountConfig {
            address: "a@example.org".into(),
            login: Credential::Password(Zeroizing::new("secret".into())),
            imap: Some(Server { host: "127.0.0.1".into(), port: 993, tls: TlsMode::Implicit }),
            timeout_secs: Some(u64::MAX),
            ..AccountConfig::default()
        };
        let account = Account::new(&config).unwrap();
        assert!(account.0.timeout() <= esmtp_transport::MAX_TIMEOUT, "capped");
        assert!(!format!("{account:?}{config:?}").contains("secret"));
        assert_eq!(read_ca_file(Path::new("/nonexistent/ca.pem")).unwrap_err().kind, crate::ErrorKind::Io);
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'-'; (MAX_CA_FILE + 1) as usize]).unwrap();
        assert_eq!(read_ca_file(&big).unwrap_err().kind, crate::ErrorKind::InvalidArgument);
        let bad = AccountConfig { ca_pem: Some(b"not a PEM".to_vec()), ..config };
        assert_eq!(Account::new(&bad).unwrap_err().kind, crate::ErrorKind::InvalidArgument);
    }
}
