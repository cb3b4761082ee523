//! POP3 framing (RFC 1939 section 3, RFC 2449): status lines, continuation lines and
//! multi-line responses with dot-unstuffing, all with bounded line and total lengths.

use crate::error::{Error, ErrorKind, Result};
use crate::net::Wire;

pub(crate) use crate::net::wire::MAX_LINE;

/// A positive or negative status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// `+OK text`
    Ok(String),
    /// `-ERR text`, with the RFC 2449 response code (`AUTH`, `IN-USE`, `SYS/TEMP`...) if any.
    Err { code: Option<String>, text: String },
    /// `+ base64` during AUTH (RFC 5034).
    Continue(String),
}

/// A status line (or an AUTH continuation).
pub(crate) fn read_status(wire: &mut Wire, during: &str) -> Result<Status> {
    let mut line = Vec::new();
    wire.read_line(MAX_LINE, &mut line, during)?;
    parse_status(&line).ok_or_else(|| {
        Error::new(ErrorKind::Protocol, format!("the server's reply to {during} is not +OK or -ERR"))
    })
}

/// The body of a multi-line response, after its `+OK` line: lines until the lone `.`, with
/// the stuffed leading dot removed, each ended by CRLF in `out`. Each line may take at most
/// `max_line` bytes and all of them `max_total` (counted on the wire, terminator excluded).
pub(crate) fn read_multiline(
    wire: &mut Wire,
    max_line: usize,
    max_total: usize,
    out: &mut Vec<u8>,
    during: &str,
) -> Result<()> {
    let mut line = Vec::new();
    let mut total = 0usize;
    loop {
        let room = max_total.saturating_sub(total).saturating_add(3).min(max_line);
        wire.read_line(room, &mut line, during).map_err(|e| {
            if e.kind() == ErrorKind::Protocol {
                Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "the response to {during} exceeds its limit ({max_total} bytes, lines of {max_line})"
                    ),
                )
            } else {
                e
            }
        })?;
        if line == b"." {
            return Ok(());
        }
        total = total.saturating_add(line.len() + 2);
        if total > max_total {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("the response to {during} exceeds its limit of {max_total} bytes"),
            ));
        }
        let content = line.strip_prefix(b".").unwrap_or(&line);
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parse `+OK`, `-ERR [CODE] text` or `+ data`.
pub(crate) fn parse_status(line: &[u8]) -> Option<Status> {
    let text = |rest: &[u8]| String::from_utf8_lossy(rest.strip_prefix(b" ").unwrap_or(rest)).into_owned();
    if let Some(rest) = line.strip_prefix(b"+OK") {
        if rest.is_empty() || rest[0] == b' ' {
            return Some(Status::Ok(text(rest)));
        }
        return None;
    }
    if let Some(rest) = line.strip_prefix(b"-ERR") {
        if !(rest.is_empty() || rest[0] == b' ') {
            return None;
        }
        let rest = text(rest);
        if let Some(inner) = rest.strip_prefix('[')
            && let Some(end) = inner.find(']')
        {
            let code = inner[..end].to_string();
            return Some(Status::Err { code: Some(code), text: inner[end + 1..].trim_start().to_string() });
        }
        return Some(Status::Err { code: None, text: rest });
    }
    if line == b"+" {
        return Some(Status::Continue(String::new()));
    }
    line.strip_prefix(b"+ ").map(|rest| Status::Continue(String::from_utf8_lossy(rest).into_owned()))
}

/// One `n value` line of LIST or UIDL.
pub(crate) fn parse_listing(line: &[u8]) -> Option<(u32, &str)> {
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_ascii_whitespace();
    let n = parts.next()?.parse().ok()?;
    let value = parts.next()?;
    Some((n, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::wire::testing::wire;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"+OK"), Some(Status::Ok(String::new())));
        assert_eq!(parse_status(b"+OK 2 320"), Some(Status::Ok("2 320".into())));
        assert_eq!(
            parse_status(b"-ERR [IN-USE] mailbox locked"),
            Some(Status::Err { code: Some("IN-USE".into()), text: "mailbox locked".into() })
        );
        assert_eq!(
            parse_status(b"-ERR no such message"),
            Some(Status::Err { code: None, text: "no such message".into() })
        );
        assert_eq!(parse_status(b"+ "), Some(Status::Continue(String::new())));
        assert_eq!(parse_status(b"+"), Some(Status::Continue(String::new())));
        assert_eq!(
            parse_status(b"+ eyJzdGF0dXMiOiI0MDEifQ=="),
            Some(Status::Continue("eyJzdGF0dXMiOiI0MDEifQ==".into()))
        );
        assert_eq!(parse_status(b"+OKAY"), None);
        assert_eq!(parse_status(b"-ERROR"), None);
        assert_eq!(parse_status(b"* OK imap"), None);
    }

    #[test]
    fn multiline_unstuffs_dots_and_normalises_line_ends() {
        let server =
            b"+OK 120 octets\r\nSubject: x\r\n\r\n..leading dot\r\n.\r\n...\nbare LF line\n.\r\n+OK next\r\n";
        let (mut w, _) = wire(server);
        assert_eq!(read_status(&mut w, "RETR").unwrap(), Status::Ok("120 octets".into()));
        let mut body = Vec::new();
        read_multiline(&mut w, MAX_LINE, 1 << 20, &mut body, "RETR").unwrap();
        assert_eq!(body, b"Subject: x\r\n\r\n.leading dot\r\n");
        // The stream is positioned right after the terminator.
        let mut second = Vec::new();
        read_multiline(&mut w, MAX_LINE, 1 << 20, &mut second, "TOP").unwrap();
        assert_eq!(second, b"..\r\nbare LF line\r\n");
        assert_eq!(read_status(&mut w, "NOOP").unwrap(), Status::Ok("next".into()));
    }

    #[test]
    fn empty_multiline_and_lone_dot_content() {
        let (mut w, _) = wire(b".\r\n..\r\n.\r\n");
        let mut out = Vec::new();
        read_multiline(&mut w, MAX_LINE, 100, &mut out, "LIST").unwrap();
        assert!(out.is_empty());
        read_multiline(&mut w, MAX_LINE, 100, &mut out, "RETR").unwrap();
        assert_eq!(out, b".\r\n");
    }

    #[test]
    fn status_line_length_is_bounded() {
        let mut long = vec![b'a'; MAX_LINE];
        long.extend_from_slice(b"\r\n");
        let (mut w, _) = wire(&long);
        assert_eq!(read_status(&mut w, "USER").unwrap_err().kind(), ErrorKind::Protocol);
        // Exactly at the bound (CRLF included) is fine.
        let mut ok = b"+OK ".to_vec();
        ok.extend(std::iter::repeat_n(b'a', MAX_LINE - 6));
        ok.extend_from_slice(b"\r\n");
        assert!(matches!(read_status(&mut wire(&ok).0, "USER"), Ok(Status::Ok(_))));
    }

    #[test]
    fn total_size_is_bounded() {
        let mut server = Vec::new();
        for _ in 0..100 {
            server.extend_from_slice(b"0123456789\r\n");
        }
        server.extend_from_slice(b".\r\n");
        let mut out = Vec::new();
        assert!(read_multiline(&mut wire(&server).0, MAX_LINE, 1200, &mut out, "RETR").is_ok());
        let mut out = Vec::new();
        let err = read_multiline(&mut wire(&server).0, MAX_LINE, 1199, &mut out, "RETR").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(out.len() <= 1199);
        // A single endless line is cut at the total bound, not at end of input.
        let mut endless = vec![b'x'; 100_000];
        endless.extend_from_slice(b"\r\n.\r\n");
        let mut out = Vec::new();
        let err = read_multiline(&mut wire(&endless).0, usize::MAX, 5000, &mut out, "RETR").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
    }

    #[test]
    fn eof_inside_a_response_is_a_connection_error() {
        let mut out = Vec::new();
        let err = read_multiline(&mut wire(b"line one\r\nline tw").0, MAX_LINE, 1000, &mut out, "RETR")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection);
        assert_eq!(read_status(&mut wire(b"").0, "greeting").unwrap_err().kind(), ErrorKind::Connection);
    }

    #[test]
    fn listing_lines() {
        assert_eq!(parse_listing(b"1 120"), Some((1, "120")));
        assert_eq!(parse_listing(b"2 QhdPYR:00WBw1Ph7x7"), Some((2, "QhdPYR:00WBw1Ph7x7")));
        assert_eq!(parse_listing(b"x 1"), None);
        assert_eq!(parse_listing(b"3"), None);
    }
}
