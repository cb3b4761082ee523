//! Getting an IMAP session ready: the plaintext phase of STARTTLS, and the login with a
//! bounded SASL exchange whose secrets the trace never shows.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::map_imap;
use crate::account::{Account, PasswordMechanism, SessionSecret};
use crate::error::{Error, ErrorKind, Result};
use crate::net::wire::MAX_LINE;
use crate::net::{Channel, Control, Wire};
use crate::sasl;

/// One SASL response, sent once: a server that answers with another challenge (XOAUTH2 does,
/// with its error details) gets the empty response it expects before its NO.
/// A server that keeps challenging is cut off after [`sasl::MAX_CHALLENGES`]: the session's
/// next read fails, so the exchange ends.
struct SaslOnce {
    response: Zeroizing<Vec<u8>>,
    challenges: Cell<usize>,
    ctl: Arc<Control>,
}

impl SaslOnce {
    fn new(response: Zeroizing<Vec<u8>>, ctl: &Arc<Control>) -> Self {
        SaslOnce { response, challenges: Cell::new(0), ctl: ctl.clone() }
    }

    fn exceeded(&self) -> bool {
        self.challenges.get() > sasl::MAX_CHALLENGES
    }
}

impl ::imap::Authenticator for SaslOnce {
    type Response = Zeroizing<Vec<u8>>;

    fn process(&self, _challenge: &[u8]) -> Self::Response {
        let n = self.challenges.get() + 1;
        self.challenges.set(n);
        match n {
            1 => self.response.clone(),
            n if n > sasl::MAX_CHALLENGES => {
                self.ctl.cut_off();
                Zeroizing::new(Vec::new())
            }
            _ => Zeroizing::new(Vec::new()),
        }
    }
}

/// The plaintext phase of STARTTLS (greeting, CAPABILITY, STARTTLS), spoken line by line with
/// bounded lines; returns the socket for the handshake. Bytes the server sent after its OK are
/// an error, never read as if they had come through TLS.
pub(super) fn starttls(mut wire: Wire) -> Result<Channel> {
    let mut line = Vec::new();
    wire.read_line(MAX_LINE, &mut line, "the greeting")?;
    if !line.starts_with(b"* OK") {
        return Err(Error::new(ErrorKind::Connection, "the server refused the connection in its greeting"));
    }
    let mut offered = false;
    for (tag, command) in [("S1", "CAPABILITY"), ("S2", "STARTTLS")] {
        if command == "STARTTLS" && !offered {
            return Err(Error::new(ErrorKind::Tls, "the server does not offer STARTTLS"));
        }
        wire.send(&format!("{tag} {command}"), command)?;
        loop {
            wire.read_line(MAX_LINE, &mut line, command)?;
            let text = String::from_utf8_lossy(&line).to_ascii_uppercase();
            if let Some(caps) = text.strip_prefix("* CAPABILITY ") {
                offered |= caps.split_ascii_whitespace().any(|c| c == "STARTTLS");
            } else if let Some(status) = text.strip_prefix(&format!("{tag} ")) {
                if status.starts_with("OK") {
                    break;
                }
                let kind = if command == "STARTTLS" { ErrorKind::Tls } else { ErrorKind::Protocol };
                return Err(Error::new(kind, format!("the server refused {command}")));
            }
        }
    }
    wire.into_inner()
}

pub(super) fn login(
    account: &Account,
    client: ::imap::Client<Channel>,
    caps: &HashSet<String>,
    ctl: &Arc<Control>,
) -> Result<::imap::Session<Channel>> {
    let user = account.username();
    let auth_failed = |(e, _client): (::imap::Error, ::imap::Client<Channel>), during: &str| {
        let err = map_imap(e, during);
        match err.kind() {
            ErrorKind::Permanent => Error::new(ErrorKind::Auth, "authentication failed"),
            _ => err,
        }
    };
    // The trace shows the tag and the command of each line, never what follows.
    let authenticate = |mechanism: &str, auth: SaslOnce, client: ::imap::Client<Channel>| {
        let during = format!("AUTHENTICATE {mechanism}");
        let redaction = ctl.redact(2);
        let result = client.authenticate(mechanism, &auth);
        drop(redaction);
        if auth.exceeded() {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("the server kept challenging during {during}"),
            ));
        }
        result.map_err(|e| auth_failed(e, &during))
    };
    match account.credentials.resolve()? {
        SessionSecret::OAuth2(token) => {
            if !caps.contains("AUTH=XOAUTH2") {
                return Err(Error::new(ErrorKind::Unsupported, "the server does not offer XOAUTH2"));
            }
            authenticate("XOAUTH2", SaslOnce::new(sasl::xoauth2_raw(user, token.expose()), ctl), client)
        }
        SessionSecret::Password(password) => {
            let plain_offered = caps.contains("AUTH=PLAIN");
            let login_allowed = !caps.contains("LOGINDISABLED");
            let use_plain = match account.password_mechanism {
                PasswordMechanism::Plain if !plain_offered => {
                    return Err(Error::new(ErrorKind::Unsupported, "the server does not offer AUTH=PLAIN"));
                }
                PasswordMechanism::Plain => true,
                PasswordMechanism::Login => false,
                PasswordMechanism::Any => plain_offered || !login_allowed,
            };
            if use_plain {
                authenticate("PLAIN", SaslOnce::new(sasl::plain_raw(user, password.expose()), ctl), client)
            } else if !login_allowed {
                Err(Error::new(ErrorKind::Unsupported, "the server disables LOGIN"))
            } else {
                // LOGIN sends quoted strings; the crate refuses CR and LF in them.
                let _redaction = ctl.redact(2);
                client.login(user, password.expose()).map_err(|e| auth_failed(e, "LOGIN"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::imap::Authenticator;
    use std::time::Duration;

    #[test]
    fn sasl_response_is_sent_once_and_endless_challenges_are_cut_off() {
        let ctl = Control::new(Duration::from_secs(1), None);
        ctl.begin(1000);
        let auth = SaslOnce::new(Zeroizing::new(b"secret".to_vec()), &ctl);
        assert_eq!(&auth.process(b"")[..], b"secret");
        assert!(auth.process(b"{\"status\":\"401\"}").is_empty());
        assert!(!auth.exceeded());
        assert!(auth.process(b"").is_empty());
        assert!(auth.exceeded());
    }
}
