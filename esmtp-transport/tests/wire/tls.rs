//! TLS that must be refused, through proxies in front of the lab: a certificate from a CA the
//! account does not trust, one for another host name, an expired one, and STARTTLS stripped from
//! the server's capabilities. Each has a positive control: the same path without the defect
//! works, so the refusal is the defect's.

use esmtp_transport::{
    Account, AccountBuilder, Credentials, ImapClient, Pop3Client, ServerSettings, Submitter, TlsMode,
};

use crate::certs::certs;
use crate::lab::{self, Lab};
use crate::proxy::{Action, Proxy, Tls, Who};
use crate::terminating;

const PROTOCOLS: [(&str, &str, &str); 3] =
    [("smtp", "SMTPS", "SUBMISSION"), ("imap", "IMAPS", "IMAP"), ("pop3", "POP3S", "POP3")];

/// bob's account with only `protocol` at `host:port`, trusting `ca`.
fn account(lab: &Lab, protocol: &str, host: &str, port: u16, tls: TlsMode, ca: &[u8]) -> AccountBuilder {
    let server = ServerSettings::new(host, port, tls);
    let builder = Account::builder(lab.address("bob"), Credentials::Password(lab.password("bob")))
        .add_root_certificates_pem(ca.to_vec())
        .timeout(std::time::Duration::from_secs(5));
    match protocol {
        "smtp" => builder.smtp(server),
        "imap" => builder.imap(server),
        _ => builder.pop3(server),
    }
}

/// Connect (and for IMAP and POP3 log in) with `protocol`.
fn session(protocol: &str, account: AccountBuilder) -> esmtp_transport::Result<()> {
    let account = account.build().unwrap();
    match protocol {
        "smtp" => Submitter::new(&account)?.capabilities().map(drop),
        "imap" => ImapClient::connect(&account)?.logout(),
        _ => Pop3Client::connect(&account)?.quit(),
    }
}

fn refused(protocol: &str, what: &str, result: esmtp_transport::Result<()>, detail: &str) {
    let err = result.expect_err(&format!("{protocol}: {what} accepted"));
    assert!(err.is_tls(), "{protocol}, {what}: {err:?}");
    assert!(!err.is_transient(), "{protocol}, {what}: {err:?}");
    assert!(format!("{err:?}").contains(detail), "{protocol}, {what}: {err:?}");
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn untrusted_wrong_host_and_expired_certificates_are_refused() {
    let lab = Lab::get();
    for (protocol, implicit, _) in PROTOCOLS {
        let port = lab::port(implicit);
        // The lab's certificate, its CA not trusted.
        let untrusted = account(&lab, protocol, "127.0.0.1", port, TlsMode::Implicit, &lab.untrusted_ca_pem);
        refused(protocol, "an untrusted CA", session(protocol, untrusted), "UnknownIssuer");

        // The lab's certificate names 127.0.0.1, not 127.0.0.3, where this proxy listens.
        let elsewhere = Proxy::transparent("127.0.0.3", port, Tls::default());
        let wrong = account(&lab, protocol, "127.0.0.3", elsewhere.port, TlsMode::Implicit, &lab.ca_pem);
        refused(protocol, "a wrong host name", session(protocol, wrong), "NotValidForName");
        let here = Proxy::transparent("127.0.0.1", port, Tls::default());
        let right = account(&lab, protocol, "127.0.0.1", here.port, TlsMode::Implicit, &lab.ca_pem);
        session(protocol, right).unwrap_or_else(|e| panic!("{protocol} through the proxy: {e:?}"));

        // Trusted CA, right name, expired: refused; the same CA's valid certificate works.
        let expired_tls = Tls { client: Some(certs().expired_server()), ..terminating(&lab) };
        let expired = Proxy::transparent("127.0.0.1", port, expired_tls);
        let old = account(&lab, protocol, "127.0.0.1", expired.port, TlsMode::Implicit, &certs().ca_pem);
        refused(protocol, "an expired certificate", session(protocol, old), "Expired");
        let valid = Proxy::transparent("127.0.0.1", port, terminating(&lab));
        let fresh = account(&lab, protocol, "127.0.0.1", valid.port, TlsMode::Implicit, &certs().ca_pem);
        session(protocol, fresh).unwrap_or_else(|e| panic!("{protocol} with a valid certificate: {e:?}"));
    }
}

/// Remove STARTTLS (SMTP EHLO lines, IMAP capability words) and STLS (POP3 CAPA lines) from
/// what the server says.
fn strip(line: &[u8]) -> Action {
    let text = String::from_utf8_lossy(line);
    let upper = text.to_ascii_uppercase();
    if upper.starts_with("250-STARTTLS") || upper.trim_end() == "STLS" {
        return Action::Replace(Vec::new());
    }
    if upper.starts_with("250 STARTTLS") {
        return Action::Replace(b"250 HELP\r\n".to_vec());
    }
    if upper.contains(" STARTTLS") {
        let cut = upper.find(" STARTTLS").unwrap();
        let stripped = format!("{}{}", &text[..cut], &text[cut + " STARTTLS".len()..]);
        return Action::Replace(stripped.into_bytes());
    }
    Action::Forward
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn starttls_stripping_fails_the_session() {
    let lab = Lab::get();
    for (protocol, _, starttls) in PROTOCOLS {
        let port = lab::port(starttls);
        let stripper = Proxy::start("127.0.0.1", port, Tls::default(), |_| {
            Box::new(|who, line| if who == Who::Server { strip(line) } else { Action::Forward })
        });
        let stripped = account(&lab, protocol, "127.0.0.1", stripper.port, TlsMode::StartTls, &lab.ca_pem);
        let err = session(protocol, stripped).expect_err(protocol);
        assert!(err.is_tls(), "{protocol}: {err:?}");
        assert!(err.to_string().contains("does not offer"), "{protocol}: {err}");
        assert!(!format!("{err:?}").contains(lab.password("bob").expose()));
        // The same relay, unchanged, gets through (TLS and login included).
        let relay = Proxy::transparent("127.0.0.1", port, Tls::default());
        let plain = account(&lab, protocol, "127.0.0.1", relay.port, TlsMode::StartTls, &lab.ca_pem);
        session(protocol, plain).unwrap_or_else(|e| panic!("{protocol} through the relay: {e:?}"));
    }
}
