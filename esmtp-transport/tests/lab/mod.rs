//! The local mail lab (`scripts/mail-lab`): real Postfix + Dovecot on 127.0.0.1. `./scripts/test`
//! starts it and exports its variables; lab tests are `#[ignore]`d for a plain `cargo test` and
//! fail loudly when run without the lab.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use esmtp_transport::{Account, Credentials, Secret, ServerSettings, TlsMode};

pub struct Lab {
    pub host: String,
    pub ca_pem: Vec<u8>,
    pub untrusted_ca_pem: Vec<u8>,
    pub mint_token: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the lab tests through ./scripts/test, which starts scripts/mail-lab")
    })
}

pub fn port(name: &str) -> u16 {
    var(&format!("ESMTP_LAB_{name}_PORT")).parse().expect("numeric port")
}

impl Lab {
    pub fn get() -> Lab {
        Lab {
            host: var("ESMTP_LAB_HOST"),
            ca_pem: std::fs::read(var("ESMTP_LAB_CA")).expect("lab CA"),
            untrusted_ca_pem: std::fs::read(var("ESMTP_LAB_UNTRUSTED_CA")).expect("untrusted CA"),
            mint_token: var("ESMTP_LAB_MINT_TOKEN"),
        }
    }

    pub fn address(&self, user: &str) -> String {
        var(&format!("ESMTP_LAB_{}_ADDRESS", user.to_uppercase()))
    }

    pub fn password(&self, user: &str) -> Secret {
        Secret::new(var(&format!("ESMTP_LAB_{}_PASSWORD", user.to_uppercase())))
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        PathBuf::from(var(&format!("ESMTP_LAB_{}_MAILDIR", user.to_uppercase())))
    }

    pub fn utf8_address(&self) -> String {
        var("ESMTP_LAB_UTF8_ADDRESS")
    }

    /// An XOAUTH2 access token for `user`, valid for `seconds` (negative: already expired).
    pub fn token(&self, user: &str, seconds: i64) -> Secret {
        let out = std::process::Command::new(&self.mint_token)
            .args([user, &seconds.to_string()])
            .output()
            .expect("mint-token runs");
        assert!(out.status.success(), "mint-token failed");
        Secret::new(String::from_utf8(out.stdout).unwrap().trim().to_string())
    }

    /// An account for `user` with every lab server, the lab CA trusted.
    pub fn account(
        &self,
        user: &str,
        smtp_tls: TlsMode,
        credentials: Credentials,
    ) -> esmtp_transport::AccountBuilder {
        let smtp_port = match smtp_tls {
            TlsMode::Implicit => port("SMTPS"),
            TlsMode::StartTls => port("SUBMISSION"),
        };
        Account::builder(self.address(user), credentials)
            .smtp(ServerSettings::new(&self.host, smtp_port, smtp_tls))
            .imap(ServerSettings::new(&self.host, port("IMAPS"), TlsMode::Implicit))
            .pop3(ServerSettings::new(&self.host, port("POP3S"), TlsMode::Implicit))
            .add_root_certificates_pem(self.ca_pem.clone())
            .timeout(Duration::from_secs(20))
    }

    pub fn password_account(&self, user: &str, smtp_tls: TlsMode) -> Account {
        self.account(user, smtp_tls, Credentials::Password(self.password(user))).build().unwrap()
    }
}

/// Files in `maildir`'s new/ and cur/ whose content contains `needle`; waits up to 20 s for at
/// least `want` of them (delivery is asynchronous).
pub fn wait_for_mail(maildir: &std::path::Path, needle: &[u8], want: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(maildir.join(sub)) {
                for e in entries.flatten() {
                    if let Ok(bytes) = std::fs::read(e.path())
                        && bytes.windows(needle.len()).any(|w| w == needle)
                    {
                        found.push(bytes);
                    }
                }
            }
        }
        if found.len() >= want || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The pid of the lab's Postfix master process (its smtpd children serve our sessions).
pub fn postfix_master_pid() -> String {
    let path = format!("{}/postfix/spool/pid/master.pid", var("ESMTP_LAB_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path} readable")).trim().to_string()
}

/// A random token to tag one test's mails.
pub fn tag() -> String {
    // A fresh envelope id is 16 random bytes from the OS generator.
    let sealed = esmtp_core::Sealer::new().key_slip().seal(b"").expect("OS random");
    sealed.envelope_id.to_string()[..16].to_string()
}
