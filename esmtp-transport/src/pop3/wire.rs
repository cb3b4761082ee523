//! POP3 framing (RFC 1939 section 3, RFC 2449): status lines, continuation lines and
//! multi-line responses with dot-unstuffing, all with bounded line and total lengths.

use std::io::{BufRead, BufReader, Read, Write};

use crate::error::{Error, ErrorKind, Result};
use crate::retrieve::net::map_io;

/// The longest status or listing line accepted, CRLF included. RFC 2449 allows 512 octets for a
/// response; some servers send longer text, so there is room, but a line never grows unbounded.
pub(crate) const MAX_LINE: usize = 8 * 1024;

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

/// A POP3 connection: a buffered reader over `S` that writes through to `S` too.
pub(crate) struct Wire<S> {
    reader: BufReader<S>,
}

impl<S: Read + Write> Wire<S> {
    pub(crate) fn new(stream: S) -> Self {
        Wire { reader: BufReader::with_capacity(16 * 1024, stream) }
    }

    /// The stream back, for the TLS upgrade. Bytes the server sent before the handshake would
    /// be plaintext injected into the TLS session (the STARTTLS attacks of RFC 3207 section 6),
    /// so any are an error.
    pub(crate) fn into_inner(self) -> Result<S> {
        if !self.reader.buffer().is_empty() {
            return Err(Error::new(ErrorKind::Tls, "the server sent data before the TLS handshake"));
        }
        Ok(self.reader.into_inner())
    }

    /// Send one command line; the CRLF is added here. Lines with CR or LF are refused, so a
    /// value cannot smuggle in a second command.
    pub(crate) fn send(&mut self, line: &str, during: &str) -> Result<()> {
        if line.contains(['\r', '\n']) {
            return Err(Error::new(ErrorKind::Config, format!("a line break inside {during}")));
        }
        let stream = self.reader.get_mut();
        let mut out = Vec::with_capacity(line.len() + 2);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        let result = stream.write_all(&out).and_then(|()| stream.flush());
        zeroize::Zeroize::zeroize(&mut out);
        result.map_err(|e| map_io(e, during))
    }

    /// One line without its CRLF (a bare LF is accepted too), at most `max` bytes long
    /// including the line end.
    pub(crate) fn read_line(&mut self, max: usize, out: &mut Vec<u8>, during: &str) -> Result<()> {
        out.clear();
        loop {
            let available = self.reader.fill_buf().map_err(|e| map_io(e, during))?;
            if available.is_empty() {
                return Err(Error::new(
                    ErrorKind::Connection,
                    format!("the server closed the connection during {during}"),
                ));
            }
            let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            if out.len() + chunk.len() > max {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("a line longer than {max} bytes during {during}"),
                ));
            }
            out.extend_from_slice(chunk);
            let used = chunk.len();
            self.reader.consume(used);
            if done {
                out.pop();
                if out.last() == Some(&b'\r') {
                    out.pop();
                }
                return Ok(());
            }
        }
    }

    /// A status line (or an AUTH continuation).
    pub(crate) fn read_status(&mut self, during: &str) -> Result<Status> {
        let mut line = Vec::new();
        self.read_line(MAX_LINE, &mut line, during)?;
        parse_status(&line).ok_or_else(|| {
            Error::new(ErrorKind::Protocol, format!("the server's reply to {during} is not +OK or -ERR"))
        })
    }

    /// The body of a multi-line response, after its `+OK` line: lines until the lone `.`, with
    /// the stuffed leading dot removed, each ended by CRLF in `out`. Each line may take at most
    /// `max_line` bytes and all of them `max_total` (counted on the wire, terminator excluded).
    pub(crate) fn read_multiline(
        &mut self,
        max_line: usize,
        max_total: usize,
        out: &mut Vec<u8>,
        during: &str,
    ) -> Result<()> {
        let mut line = Vec::new();
        let mut total = 0usize;
        loop {
            let room = max_total.saturating_sub(total).saturating_add(3).min(max_line);
            self.read_line(room, &mut line, during).map_err(|e| {
                if e.kind() == ErrorKind::Protocol {
                    Error::new(
                        ErrorKind::Protocol,
                        format!("the response to {during} exceeds its limit ({max_total} bytes, lines of {max_line})"),
                    )
                } else {
                    e
                }
            })?;
            if line == b"." {
                return Ok(());
            }
            total += line.len() + 2;
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
    use std::io::Cursor;

    /// An in-memory duplex: reads come from a fixed script of server bytes, writes are kept.
    #[derive(Debug)]
    struct Duplex {
        input: Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            // Trickle one to three bytes at a time so that every line crosses reads.
            let n = buf.len().min(1 + (self.input.position() as usize % 3));
            self.input.read(&mut buf[..n])
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn wire(server: &[u8]) -> Wire<Duplex> {
        Wire::new(Duplex { input: Cursor::new(server.to_vec()), written: Vec::new() })
    }

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
        let mut w = wire(server);
        assert_eq!(w.read_status("RETR").unwrap(), Status::Ok("120 octets".into()));
        let mut body = Vec::new();
        w.read_multiline(MAX_LINE, 1 << 20, &mut body, "RETR").unwrap();
        assert_eq!(body, b"Subject: x\r\n\r\n.leading dot\r\n");
        // The stream is positioned right after the terminator.
        let mut second = Vec::new();
        w.read_multiline(MAX_LINE, 1 << 20, &mut second, "TOP").unwrap();
        assert_eq!(second, b"..\r\nbare LF line\r\n");
        assert_eq!(w.read_status("NOOP").unwrap(), Status::Ok("next".into()));
    }

    #[test]
    fn empty_multiline_and_lone_dot_content() {
        let mut w = wire(b".\r\n..\r\n.\r\n");
        let mut out = Vec::new();
        w.read_multiline(MAX_LINE, 100, &mut out, "LIST").unwrap();
        assert!(out.is_empty());
        w.read_multiline(MAX_LINE, 100, &mut out, "RETR").unwrap();
        assert_eq!(out, b".\r\n");
    }

    #[test]
    fn line_length_is_bounded() {
        let mut long = vec![b'a'; MAX_LINE];
        long.extend_from_slice(b"\r\n");
        let mut w = wire(&long);
        let err = w.read_status("USER").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        // Exactly at the bound (CRLF included) is fine.
        let mut ok = b"+OK ".to_vec();
        ok.extend(std::iter::repeat_n(b'a', MAX_LINE - 6));
        ok.extend_from_slice(b"\r\n");
        assert!(matches!(wire(&ok).read_status("USER"), Ok(Status::Ok(_))));
    }

    #[test]
    fn total_size_is_bounded() {
        let mut server = Vec::new();
        for _ in 0..100 {
            server.extend_from_slice(b"0123456789\r\n");
        }
        server.extend_from_slice(b".\r\n");
        let mut out = Vec::new();
        assert!(wire(&server).read_multiline(MAX_LINE, 1200, &mut out, "RETR").is_ok());
        let mut out = Vec::new();
        let err = wire(&server).read_multiline(MAX_LINE, 1199, &mut out, "RETR").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(out.len() <= 1199);
        // A single endless line is cut at the total bound, not at end of input.
        let mut endless = vec![b'x'; 100_000];
        endless.extend_from_slice(b"\r\n.\r\n");
        let mut out = Vec::new();
        let err = wire(&endless).read_multiline(usize::MAX, 5000, &mut out, "RETR").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
    }

    #[test]
    fn eof_inside_a_response_is_a_connection_error() {
        let mut out = Vec::new();
        let err = wire(b"line one\r\nline tw").read_multiline(MAX_LINE, 1000, &mut out, "RETR").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection);
        assert_eq!(wire(b"").read_status("greeting").unwrap_err().kind(), ErrorKind::Connection);
    }

    #[test]
    fn commands_get_crlf_and_cannot_inject() {
        let mut w = wire(b"");
        w.send("USER bob", "USER").unwrap();
        assert_eq!(w.reader.get_ref().written, b"USER bob\r\n");
        assert_eq!(w.send("PASS a\r\nDELE 1", "PASS").unwrap_err().kind(), ErrorKind::Config);
        assert_eq!(w.reader.get_ref().written, b"USER bob\r\n");
    }

    #[test]
    fn plaintext_left_before_tls_is_refused() {
        let mut w = wire(b"+OK begin TLS\r\n+OK injected\r\n");
        assert!(matches!(w.read_status("STLS"), Ok(Status::Ok(_))));
        // Force the rest into the buffer, as a fast server would.
        let _ = w.reader.fill_buf();
        assert_eq!(w.into_inner().unwrap_err().kind(), ErrorKind::Tls);
        let mut clean = wire(b"+OK begin TLS\r\n");
        clean.read_status("STLS").unwrap();
        assert!(clean.into_inner().is_ok());
    }

    #[test]
    fn listing_lines() {
        assert_eq!(parse_listing(b"1 120"), Some((1, "120")));
        assert_eq!(parse_listing(b"2 QhdPYR:00WBw1Ph7x7"), Some((2, "QhdPYR:00WBw1Ph7x7")));
        assert_eq!(parse_listing(b"x 1"), None);
        assert_eq!(parse_listing(b"3"), None);
    }
}
