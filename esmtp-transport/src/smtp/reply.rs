//! Server replies and the EHLO capability report (the paper's section 2.1 table, read live).

/// The final reply of a submission: the server took the mail (e.g. `250 2.0.0 Ok: queued as ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitReply {
    /// The reply code (250).
    pub code: u16,
    /// The enhanced status code (RFC 3463), when the server sends them.
    pub enhanced: Option<String>,
    /// The reply text, without the codes (often names the queue id).
    pub text: String,
}

impl SubmitReply {
    pub(crate) fn from_lines<'a>(code: u16, lines: impl Iterator<Item = &'a str>) -> Self {
        let text = lines.collect::<Vec<_>>().join(" ");
        let enhanced = enhanced_code(&text);
        let text = match &enhanced {
            Some(e) => text.trim_start_matches(e.as_str()).trim_start().to_string(),
            None => text,
        };
        SubmitReply { code, enhanced, text }
    }
}

/// The enhanced status code at the start of a reply text: `class.subject.detail` (RFC 3463
/// section 2: class 2, 4 or 5; subject up to 3 digits; detail up to 3 digits).
pub(crate) fn enhanced_code(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    let digits =
        |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
    (parts.next().is_none() && matches!(class, "2" | "4" | "5") && digits(subject, 3) && digits(detail, 3))
        .then(|| word.to_string())
}

/// What a submission server offers after EHLO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// SIZE (RFC 1870): `Some(limit)`; `Some(0)` means "no fixed limit".
    pub size: Option<u64>,
    /// 8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// AUTH mechanisms (RFC 4954), upper case.
    pub auth: Vec<String>,
    /// STARTTLS (RFC 3207), as advertised before TLS.
    pub starttls: bool,
    /// DSN (RFC 3461).
    pub dsn: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub enhanced_status_codes: bool,
    /// CHUNKING (RFC 3030).
    pub chunking: bool,
    /// Every keyword line of the EHLO reply after the greeting, as sent.
    pub lines: Vec<String>,
}

impl Capabilities {
    /// Parse the lines of an EHLO reply (the first line is the server's greeting name).
    pub fn parse<'a>(lines: impl Iterator<Item = &'a str>) -> Self {
        let mut caps = Capabilities::default();
        for line in lines.skip(1) {
            caps.lines.push(line.to_string());
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else { continue };
            match keyword.to_ascii_uppercase().as_str() {
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "PIPELINING" => caps.pipelining = true,
                "AUTH" => caps.auth.extend(words.map(|w| w.to_ascii_uppercase())),
                "STARTTLS" => caps.starttls = true,
                "DSN" => caps.dsn = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                "CHUNKING" => caps.chunking = true,
                _ => {}
            }
        }
        caps.auth.dedup();
        caps
    }

    /// Whether `mechanism` (e.g. `PLAIN`) is offered.
    pub fn offers_auth(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_papers_figure_1_reply() {
        let lines = [
            "linux Hello [192.168.1.2]",
            "SIZE 2097152",
            "PIPELINING",
            "DSN",
            "ENHANCEDSTATUSCODES",
            "8bitmime",
            "BINARYMIME",
            "CHUNKING",
            "VRFY",
            "OK",
        ];
        let caps = Capabilities::parse(lines.into_iter());
        assert_eq!(caps.size, Some(2_097_152));
        assert!(
            caps.pipelining && caps.dsn && caps.enhanced_status_codes && caps.eight_bit_mime && caps.chunking
        );
        assert!(!caps.smtputf8 && !caps.starttls && caps.auth.is_empty());
        assert_eq!(caps.lines.len(), 9);
    }

    #[test]
    fn auth_and_enhanced_codes() {
        let caps = Capabilities::parse(["x", "AUTH PLAIN LOGIN", "SIZE"].into_iter());
        assert!(caps.offers_auth("plain") && caps.offers_auth("LOGIN") && !caps.offers_auth("XOAUTH2"));
        assert_eq!(caps.size, Some(0));
        assert_eq!(enhanced_code("2.0.0 Ok: queued as 4B"), Some("2.0.0".into()));
        assert_eq!(enhanced_code("5.7.8 Error"), Some("5.7.8".into()));
        assert_eq!(enhanced_code("Ok 2.0.0"), None);
        assert_eq!(enhanced_code("3.0.0 x"), None);
        let reply = SubmitReply::from_lines(250, ["2.0.0 Ok: queued as ABC"].into_iter());
        assert_eq!((reply.enhanced.as_deref(), reply.text.as_str()), (Some("2.0.0"), "Ok: queued as ABC"));
    }
}
