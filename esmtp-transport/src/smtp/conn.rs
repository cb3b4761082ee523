//! One SMTP session (RFC 5321) on a stream this crate owns.
//!
//! Why not `lettre`'s `SmtpConnection`: it reads replies with `BufRead::read_line`, which
//! buffers a line until its LF arrives, so a server sending one endless line drives memory
//! without limit (a 1 GiB greeting costs 1 GB), and its stream type cannot be replaced by a
//! bounded one or by a caller's `Read + Write`. So this module owns the socket, the TLS (the
//! same rustls setup as IMAP and POP3), the per-exchange deadline and a bounded line reader,
//! while `lettre` still speaks SMTP: its command types (whose `Display` is the wire line),
//! its reply parser, addresses and MAIL parameters. The SASL responses come from
//! [`crate::sasl`], whose buffers are wiped after use (lettre keeps credentials in plain
//! `String`s).

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use lettre::transport::smtp::commands::{Ehlo, Quit, Starttls};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;

use super::reply::{Capabilities, enhanced_code};
use crate::account::{Account, ServerSettings, TlsMode};
use crate::error::{Error, ErrorKind, Result, server_text};
use crate::net::Wire;
use crate::net::{self, DEFAULT_BUDGET};
use crate::sasl;
use crate::trace::Protocol;

/// The longest reply line accepted, CRLF included (RFC 5321 section 4.5.3.1.5 says 512; some
/// servers send more text, so there is room, but never without bound).
const MAX_REPLY_LINE: usize = 4096;
/// The most one reply may take, all lines together (an EHLO reply is well under 1 KiB).
const MAX_REPLY: usize = 64 * 1024;
/// Message data goes out in pieces of this size after dot-stuffing.
const DATA_CHUNK: usize = 64 * 1024;

/// A server reply: code and text lines.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" ")
    }
}

/// The client's EHLO name: an address literal, so the user's host name is not disclosed.
fn hello() -> ClientId {
    ClientId::Ipv4(Ipv4Addr::LOCALHOST)
}

/// A lettre command as the line to send, without its CRLF.
pub(crate) fn line(command: impl std::fmt::Display) -> String {
    let mut s = command.to_string();
    if s.ends_with("\r\n") {
        s.truncate(s.len() - 2);
    }
    s
}

/// Read one reply, bounded in line length and total size; parsed by lettre.
fn read_reply(wire: &mut Wire, during: &str) -> Result<Reply> {
    let mut text = String::new();
    let mut line = Vec::new();
    loop {
        wire.read_line(MAX_REPLY_LINE, &mut line, during)?;
        let mut l = String::from_utf8_lossy(&line).into_owned();
        // RFC 5321 allows a last line of the code alone; lettre's parser wants a space after it.
        if l.len() == 3 {
            l.push(' ');
        }
        let last = match l.as_bytes().get(3) {
            Some(b' ') => true,
            Some(b'-') => false,
            _ => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("the server's reply to {during} is not an SMTP reply"),
                ));
            }
        };
        if text.len() + l.len() + 2 > MAX_REPLY {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("the server's reply to {during} is too long"),
            ));
        }
        text.push_str(&l);
        text.push_str("\r\n");
        if last {
            break;
        }
    }
    let response = Response::from_str(&text).map_err(|e| {
        Error::new(ErrorKind::Protocol, format!("the server's reply to {during} is not an SMTP reply"))
            .with_source(e)
    })?;
    Ok(Reply { code: u16::from(response.code()), lines: response.message().map(str::to_string).collect() })
}

/// A negative reply as an error of the matching kind.
pub(crate) fn refused(reply: &Reply, during: &str) -> Error {
    let text = reply.text();
    let enhanced = enhanced_code(&text);
    let shown = match &enhanced {
        Some(e) => text.trim_start_matches(e.as_str()).trim_start().to_string(),
        None => text,
    };
    let kind = match reply.code {
        530 | 534 | 535 | 538 => ErrorKind::Auth,
        // RFC 1870: a message over the fixed maximum size.
        552 => ErrorKind::TooLarge,
        400..=499 => ErrorKind::Transient,
        _ => ErrorKind::Permanent,
    };
    Error::new(kind, format!("the server refused {during}: {}", server_text(&shown)))
        .with_reply(reply.code, enhanced)
}

/// Send a command and read its reply; a negative reply is an error.
fn command(wire: &mut Wire, command: &str, during: &str) -> Result<Reply> {
    wire.control().begin(DEFAULT_BUDGET);
    wire.send(command, during)?;
    let reply = read_reply(wire, during)?;
    if reply.code >= 400 {
        return Err(refused(&reply, during));
    }
    Ok(reply)
}

fn greeting(wire: &mut Wire) -> Result<()> {
    let reply = read_reply(wire, "the greeting")?;
    match reply.code {
        220 => Ok(()),
        code if code >= 400 => Err(refused(&reply, "the connection")),
        _ => Err(Error::new(ErrorKind::Protocol, "the server's greeting is not 220")),
    }
}

fn ehlo(wire: &mut Wire) -> Result<Capabilities> {
    let reply = command(wire, &line(Ehlo::new(hello())), "EHLO")?;
    // The first line is the server's name; the keywords follow.
    Ok(Capabilities::parse(reply.lines.iter().map(String::as_str)))
}

/// Dot-stuffing (RFC 5321 section 4.5.2) across pieces of a message: a line that starts with
/// `.` gets another in front; the state carries over from one piece to the next.
#[derive(Clone, Copy)]
struct DotStuffer {
    line_start: bool,
    previous: u8,
    /// The last two bytes seen, to end the message with CRLF before the final dot.
    last_two: [u8; 2],
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer { line_start: true, previous: 0, last_two: [0; 2] }
    }
}

impl DotStuffer {
    fn stuff(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        for &b in piece {
            if self.line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            self.line_start = self.previous == b'\r' && b == b'\n';
            self.previous = b;
            self.last_two = [self.last_two[1], b];
        }
    }

    /// The end of data: CRLF if the message did not end with one, then `.` CRLF.
    fn end(&self, out: &mut Vec<u8>) {
        if self.last_two != *b"\r\n" {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// One read of the local message, retried when interrupted.
fn read_some(message: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    loop {
        match message.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            result => {
                return result.map_err(|e| {
                    Error::new(ErrorKind::Io, "reading the message to send failed").with_source(e)
                });
            }
        }
    }
}

fn local_read(what: &'static str) -> Error {
    Error::new(ErrorKind::Io, what)
}

/// An SMTP session after EHLO (over TLS unless the caller supplied the stream).
pub(crate) struct SmtpConn {
    wire: Wire,
    pub(crate) caps: Capabilities,
    broken: bool,
    /// When the server last answered: a session heard from moments ago is used without a probe.
    last_heard: Instant,
}

impl SmtpConn {
    /// Connect to `server`, set up TLS (implicit, or STARTTLS required) and say EHLO.
    pub(crate) fn open(account: &Account, server: &ServerSettings) -> Result<Self> {
        let mut wire = net::connect(account, server, Protocol::Smtp)?;
        greeting(&mut wire)?;
        let mut starttls_offered = false;
        if server.tls == TlsMode::StartTls {
            starttls_offered = ehlo(&mut wire)?.starttls;
            if !starttls_offered {
                return Err(Error::new(ErrorKind::Tls, "the server does not offer STARTTLS"));
            }
            command(&mut wire, &line(Starttls), "STARTTLS")
                .map_err(|e| e.context(ErrorKind::Tls, "the server refused STARTTLS"))?;
            let mut channel = wire.into_inner()?;
            channel.start_tls(&account.trust, server, false)?;
            wire = Wire::new(channel);
        }
        // What the server offered before TLS is not trusted (RFC 3207 section 4.2).
        let mut caps = ehlo(&mut wire)?;
        caps.starttls |= starttls_offered;
        Ok(SmtpConn { wire, caps, broken: false, last_heard: Instant::now() })
    }

    /// A session over a caller's stream, used as it is: greeting, then EHLO.
    pub(crate) fn over_stream(account: &Account, stream: impl Read + Write + Send + 'static) -> Result<Self> {
        let mut wire = net::over_stream(account, Protocol::Smtp, stream);
        greeting(&mut wire)?;
        let caps = ehlo(&mut wire)?;
        Ok(SmtpConn { wire, caps, broken: false, last_heard: Instant::now() })
    }

    /// A command exchange; an I/O or protocol failure breaks the session, a refusal does not
    /// (except 421, the server closing the session).
    pub(crate) fn command(&mut self, line: &str, during: &str) -> Result<Reply> {
        let result = command(&mut self.wire, line, during);
        match &result {
            Err(e) if e.code().is_none() || e.code() == Some(421) => self.broken = true,
            _ => self.last_heard = Instant::now(),
        }
        result
    }

    /// Send a group of command lines in one write (RFC 2920 pipelining), replies not read: the
    /// caller reads one per line with [`SmtpConn::reply`], in order.
    pub(crate) fn send_group(&mut self, lines: &[String], during: &str) -> Result<()> {
        self.wire.control().begin(DEFAULT_BUDGET);
        let result = self.wire.send_lines(lines, during);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// The next reply, whatever its code (the caller judges it). An I/O or protocol failure, or
    /// a 421 (the server closing the session), breaks the session. Each reply has the deadline
    /// and read budget of a command's, as without pipelining: a server that takes its time over
    /// each of many recipients is not cut off for their number.
    pub(crate) fn reply(&mut self, during: &str) -> Result<Reply> {
        self.wire.control().begin(DEFAULT_BUDGET);
        let result = read_reply(&mut self.wire, during);
        match &result {
            Ok(reply) if reply.code == 421 => self.broken = true,
            Ok(_) => self.last_heard = Instant::now(),
            Err(_) => self.broken = true,
        }
        result
    }

    /// How long since the server last answered.
    pub(crate) fn idle_for(&self) -> Duration {
        self.last_heard.elapsed()
    }

    /// Give up the session without another byte: used in DATA mode, where any line would be
    /// message content, so the server discards the unfinished message when the connection ends.
    pub(crate) fn abandon(&mut self) {
        self.broken = true;
    }

    pub(crate) fn lettre(&mut self, c: impl std::fmt::Display, during: &str) -> Result<Reply> {
        self.command(&line(c), during)
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Authenticate with `first` (the AUTH line, carrying the initial response if any), then
    /// `answers` to the server's challenges in order. At most one more challenge is answered,
    /// with an empty line (XOAUTH2's error document); a server that challenges further is cut
    /// off with `*` (RFC 4954 section 4).
    pub(crate) fn authenticate(&mut self, first: &str, answers: &[&str]) -> Result<()> {
        let failed = |reply: &Reply| {
            let enhanced = enhanced_code(&reply.text());
            let kind = if (400..500).contains(&reply.code) { ErrorKind::Transient } else { ErrorKind::Auth };
            Error::new(kind, "authentication failed").with_reply(reply.code, enhanced)
        };
        self.wire.control().begin(DEFAULT_BUDGET);
        let result = (|| {
            // `AUTH <mechanism> <initial response>`: the response is the secret.
            if first.split_ascii_whitespace().count() > 2 {
                self.wire.send_secret(first, 2, "AUTH")?;
            } else {
                self.wire.send(first, "AUTH")?;
            }
            let mut answers = answers.iter();
            let mut extra = sasl::MAX_CHALLENGES.saturating_sub(1);
            loop {
                let reply = read_reply(&mut self.wire, "AUTH")?;
                match reply.code {
                    235 => return Ok(()),
                    334 => match answers.next() {
                        Some(answer) => self.wire.send_secret(answer, 0, "AUTH")?,
                        None if extra > 0 => {
                            extra -= 1;
                            self.wire.send("", "AUTH")?;
                        }
                        None => {
                            let _ = self.wire.send("*", "AUTH");
                            self.broken = true;
                            return Err(Error::new(
                                ErrorKind::Protocol,
                                "the server kept challenging during AUTH",
                            ));
                        }
                    },
                    code if code >= 400 => return Err(failed(&reply)),
                    _ => return Err(Error::new(ErrorKind::Protocol, "unexpected reply to AUTH")),
                }
            }
        })();
        match &result {
            Err(e) if e.code().is_none() => self.broken = true,
            _ => self.last_heard = Instant::now(),
        }
        result
    }

    /// Upload the message after DATA's 354: dot-stuffed (RFC 5321 section 4.5.2), ended by
    /// CRLF . CRLF, within a deadline grown by its size; returns the final reply.
    pub(crate) fn data(&mut self, message: &[u8]) -> Result<Reply> {
        self.data_from(&mut &message[..], message.len() as u64)
    }

    /// [`SmtpConn::data`] for a message read from `message` as it is sent, in pieces of
    /// [`DATA_CHUNK`]: exactly `size` bytes. A reader that fails, or gives more or fewer bytes,
    /// ends the session before the final dot, so the server discards what it got.
    pub(crate) fn data_from(&mut self, message: &mut dyn Read, size: u64) -> Result<Reply> {
        let during = "the message upload";
        self.wire.control().begin_transfer(size, DEFAULT_BUDGET);
        let result = (|| {
            let mut input = vec![0u8; DATA_CHUNK];
            let mut out = Vec::with_capacity(DATA_CHUNK + DATA_CHUNK / 2);
            let mut stuffer = DotStuffer::default();
            let mut left = size;
            while left > 0 {
                let want = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = read_some(message, &mut input[..want])?;
                if n == 0 {
                    return Err(local_read("the message is shorter than its size"));
                }
                out.clear();
                stuffer.stuff(&input[..n], &mut out);
                self.wire.write_all(&out, during)?;
                left -= n as u64;
            }
            if read_some(message, &mut input[..1])? != 0 {
                return Err(local_read("the message is longer than its size"));
            }
            out.clear();
            stuffer.end(&mut out);
            self.wire.write_all(&out, during)?;
            // From here on the server has the whole message and may queue it before we hear so.
            read_reply(&mut self.wire, "the reply to the message upload").map_err(|e| {
                let kind = e.kind();
                e.context(kind, "no reply after the whole message was sent: the server may have taken it")
                    .with_unknown_outcome()
            })
        })();
        match result {
            Ok(reply) => {
                self.last_heard = Instant::now();
                if reply.code == 421 {
                    self.broken = true;
                }
                if reply.code >= 400 { Err(refused(&reply, during)) } else { Ok(reply) }
            }
            Err(e) => {
                self.broken = true;
                Err(e)
            }
        }
    }

    /// QUIT, politely; the session ends either way.
    pub(crate) fn quit(mut self) {
        if !self.broken {
            let _ = self.lettre(Quit, "QUIT");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::wire::testing::wire;

    #[test]
    fn replies_parse_single_multi_and_bare_code_lines() {
        let (mut w, _) = wire(b"250-mail.example Hello\r\n250-SIZE 100\r\n250 8BITMIME\r\n221\r\n");
        let reply = read_reply(&mut w, "EHLO").unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(reply.lines, ["mail.example Hello", "SIZE 100", "8BITMIME"]);
        assert_eq!(read_reply(&mut w, "QUIT").unwrap().code, 221);
    }

    #[test]
    fn malformed_and_oversized_replies_are_protocol_errors() {
        for bad in [&b"hello\r\n"[..], b"250-a\r\n251 b\r\n", b"2500 x\r\n", b"700 x\r\n"] {
            let (mut w, _) = wire(bad);
            assert_eq!(read_reply(&mut w, "EHLO").unwrap_err().kind(), ErrorKind::Protocol, "{bad:?}");
        }
        let mut long = b"220 ".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_REPLY_LINE));
        let (mut w, _) = wire(&long);
        assert_eq!(read_reply(&mut w, "the greeting").unwrap_err().kind(), ErrorKind::Protocol);
        let many =
            b"250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n".repeat(2000);
        let (mut w, _) = wire(&many);
        assert_eq!(read_reply(&mut w, "EHLO").unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn refusals_map_to_kinds() {
        let reply = |code, text: &str| Reply { code, lines: vec![text.to_string()] };
        let e = refused(&reply(550, "5.1.1 <x@y>: no such user"), "RCPT TO");
        assert_eq!((e.kind(), e.code(), e.enhanced_code()), (ErrorKind::Permanent, Some(550), Some("5.1.1")));
        assert_eq!(e.to_string(), "the server refused RCPT TO: <x@y>: no such user (server reply 550 5.1.1)");
        assert_eq!(refused(&reply(451, "later"), "DATA").kind(), ErrorKind::Transient);
        assert_eq!(refused(&reply(552, "5.3.4 too big"), "DATA").kind(), ErrorKind::TooLarge);
        assert_eq!(refused(&reply(535, "5.7.8 no"), "AUTH").kind(), ErrorKind::Auth);
    }

    #[test]
    fn dot_stuffing_carries_over_between_pieces() {
        let message = b"a\r\n.b\r\n..c\r\nd.\r\n.";
        let whole = {
            let mut s = DotStuffer::default();
            let mut out = Vec::new();
            s.stuff(message, &mut out);
            s.end(&mut out);
            out
        };
        assert_eq!(whole, b"a\r\n..b\r\n...c\r\nd.\r\n..\r\n.\r\n");
        for cut in 0..message.len() {
            let mut s = DotStuffer::default();
            let mut out = Vec::new();
            s.stuff(&message[..cut], &mut out);
            s.stuff(&message[cut..], &mut out);
            s.end(&mut out);
            assert_eq!(out, whole, "cut at {cut}");
        }
        let mut out = Vec::new();
        let mut s = DotStuffer::default();
        s.stuff(b".x\r\n", &mut out);
        s.end(&mut out);
        assert_eq!(out, b"..x\r\n.\r\n");
    }

    #[test]
    fn lettre_commands_become_lines() {
        assert_eq!(line(Ehlo::new(hello())), "EHLO [127.0.0.1]");
        assert_eq!(line(Starttls), "STARTTLS");
    }
}
