//! SASL responses built here rather than by each protocol crate, so SMTP, IMAP and POP3 send
//! byte-identical strings, held in memory that is wiped after use.

use base64::Engine;
use zeroize::Zeroizing;

/// The most server challenges one authentication answers: the one the response goes to, and
/// the error document XOAUTH2 sends before its failure reply (answered with an empty line). A
/// server that keeps challenging is cut off, so the exchange always ends.
pub(crate) const MAX_CHALLENGES: usize = 2;

/// XOAUTH2 (Google's "OAuth 2.0 Mechanism"): `base64("user=" user ^A "auth=Bearer " token ^A ^A)`.
pub(crate) fn xoauth2(user: &str, token: &str) -> Zeroizing<String> {
    encode(&xoauth2_raw(user, token))
}

/// PLAIN (RFC 4616) with an empty authorization identity: `base64(NUL user NUL password)`.
pub(crate) fn plain(user: &str, password: &str) -> Zeroizing<String> {
    encode(&plain_raw(user, password))
}

/// The XOAUTH2 response before base64, for protocol crates that encode it themselves (IMAP).
pub(crate) fn xoauth2_raw(user: &str, token: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes())
}

/// The PLAIN response before base64, for protocol crates that encode it themselves (IMAP).
pub(crate) fn plain_raw(user: &str, password: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(format!("\0{user}\0{password}").into_bytes())
}

/// One value in base64 (the LOGIN mechanism's user name and password).
pub(crate) fn base64(value: &str) -> Zeroizing<String> {
    encode(value.as_bytes())
}

fn encode(raw: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Google's XOAUTH2 documentation (developers.google.com/gmail/imap/xoauth2-protocol).
    #[test]
    fn xoauth2_matches_googles_documented_example() {
        let encoded = xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
        assert_eq!(
            encoded.as_str(),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    #[test]
    fn raw_forms_are_the_base64_input() {
        assert_eq!(&plain_raw("tim", "tanstaaftanstaaf")[..], b"\0tim\0tanstaaftanstaaf");
        assert_eq!(&xoauth2_raw("u@x", "t")[..], b"user=u@x\x01auth=Bearer t\x01\x01");
        assert_eq!(base64("tim").as_str(), "dGlt");
    }

    /// RFC 4616 section 4's example, without authorization identity.
    #[test]
    fn plain_matches_rfc4616() {
        assert_eq!(plain("tim", "tanstaaftanstaaf").as_str(), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    }
}
