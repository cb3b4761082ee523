//! Line framing shared by the SMTP and POP3 clients and IMAP's STARTTLS phase: commands out with
//! CRLF (never with a line break inside), lines in with a bounded length.

use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;

use super::{Channel, Control, map_io};
use crate::error::{Error, ErrorKind, Result};

/// The longest status or listing line accepted, CRLF included. RFC 2449 allows 512 octets for a
/// POP3 response, RFC 3501 no limit for IMAP; some servers send longer text, so there is room,
/// but a line never grows unbounded.
pub(crate) const MAX_LINE: usize = 8 * 1024;

/// A buffered session stream that writes through.
pub(crate) struct Wire {
    reader: BufReader<Channel>,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire").finish_non_exhaustive()
    }
}

impl Wire {
    pub(crate) fn new(channel: Channel) -> Self {
        Wire { reader: BufReader::with_capacity(16 * 1024, channel) }
    }

    pub(crate) fn control(&self) -> &Arc<Control> {
        self.reader.get_ref().control()
    }

    /// The stream back, for the TLS upgrade. Bytes the server sent before the handshake would
    /// be plaintext injected into the TLS session (the STARTTLS attacks of RFC 3207 section 6),
    /// so any are an error.
    pub(crate) fn into_inner(self) -> Result<Channel> {
        if !self.reader.buffer().is_empty() {
            return Err(Error::new(ErrorKind::Tls, "the server sent data before the TLS handshake"));
        }
        Ok(self.reader.into_inner())
    }

    /// Send one command line; the CRLF is added here. Lines with CR or LF are refused, so a
    /// value cannot smuggle in a second command.
    pub(crate) fn send(&mut self, line: &str, during: &str) -> Result<()> {
        self.send_lines(&[line], during)
    }

    /// Send several command lines in one write (a pipelined group); each gets its CRLF, and a
    /// line with CR or LF is refused before anything is written.
    pub(crate) fn send_lines<L: AsRef<str>>(&mut self, lines: &[L], during: &str) -> Result<()> {
        if lines.iter().any(|l| l.as_ref().contains(['\r', '\n'])) {
            return Err(Error::new(ErrorKind::Config, format!("a line break inside {during}")));
        }
        // Wiped when dropped: a line may carry a secret (AUTH).
        let mut out =
            zeroize::Zeroizing::new(Vec::with_capacity(lines.iter().map(|l| l.as_ref().len() + 2).sum()));
        for line in lines {
            out.extend_from_slice(line.as_ref().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.write_all(&out, during)
    }

    /// Send a line that carries a secret: the trace shows at most its first `keep` words.
    pub(crate) fn send_secret(&mut self, line: &str, keep: usize, during: &str) -> Result<()> {
        let ctl = self.control().clone();
        let _redaction = ctl.redact(keep);
        self.send(line, during)
    }

    /// Write raw bytes and flush (message data).
    pub(crate) fn write_all(&mut self, bytes: &[u8], during: &str) -> Result<()> {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).and_then(|()| stream.flush()).map_err(|e| map_io(e, during))
    }

    /// Wait until the server has sent at least one byte.
    pub(crate) fn fill(&mut self, during: &str) -> Result<()> {
        let available = self.reader.fill_buf().map_err(|e| map_io(e, during))?;
        if available.is_empty() {
            return Err(closed(during));
        }
        Ok(())
    }

    /// One line without its CRLF (a bare LF is accepted too), at most `max` bytes long
    /// including the line end.
    pub(crate) fn read_line(&mut self, max: usize, out: &mut Vec<u8>, during: &str) -> Result<()> {
        out.clear();
        loop {
            let available = self.reader.fill_buf().map_err(|e| map_io(e, during))?;
            if available.is_empty() {
                return Err(closed(during));
            }
            let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            if out.len().saturating_add(chunk.len()) > max {
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
}

fn closed(during: &str) -> Error {
    Error::new(ErrorKind::Connection, format!("the server closed the connection during {during}"))
}

#[cfg(test)]
pub(crate) mod testing {
    //! An in-memory duplex for framing tests: reads come from a fixed script, trickled a few
    //! bytes at a time so every line crosses reads; writes are kept.
    use std::io::{Cursor, Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::Wire;
    use crate::net::{Channel, Control};

    pub(crate) struct Duplex {
        input: Cursor<Vec<u8>>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1 + (self.input.position() as usize % 3));
            self.input.read(&mut buf[..n])
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A wire over `server`'s bytes, and what the client wrote.
    pub(crate) fn wire(server: &[u8]) -> (Wire, Arc<Mutex<Vec<u8>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let duplex = Duplex { input: Cursor::new(server.to_vec()), written: written.clone() };
        let ctl = Control::new(Duration::from_secs(60), None);
        ctl.begin(u64::MAX);
        (Wire::new(Channel::from_stream(duplex, ctl)), written)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::wire;
    use super::*;

    #[test]
    fn line_length_is_bounded() {
        let mut long = vec![b'a'; 100];
        long.extend_from_slice(b"\r\n");
        let (mut w, _) = wire(&long);
        let mut line = Vec::new();
        assert_eq!(w.read_line(101, &mut line, "x").unwrap_err().kind(), ErrorKind::Protocol);
        let (mut w, _) = wire(&long);
        w.read_line(102, &mut line, "x").unwrap();
        assert_eq!(line.len(), 100);
    }

    #[test]
    fn commands_get_crlf_and_cannot_inject() {
        let (mut w, written) = wire(b"");
        w.send("USER bob", "USER").unwrap();
        assert_eq!(*written.lock().unwrap(), b"USER bob\r\n");
        assert_eq!(w.send("PASS a\r\nDELE 1", "PASS").unwrap_err().kind(), ErrorKind::Config);
        assert_eq!(*written.lock().unwrap(), b"USER bob\r\n");
    }

    #[test]
    fn eof_is_a_connection_error() {
        let (mut w, _) = wire(b"half a li");
        let mut line = Vec::new();
        assert_eq!(w.read_line(100, &mut line, "x").unwrap_err().kind(), ErrorKind::Connection);
    }

    #[test]
    fn plaintext_left_before_tls_is_refused() {
        let (mut w, _) = wire(b"+OK begin TLS\r\n+OK injected\r\n");
        let mut line = Vec::new();
        w.read_line(100, &mut line, "STLS").unwrap();
        // Force the rest into the buffer, as a fast server would.
        let _ = w.reader.fill_buf();
        assert_eq!(w.into_inner().unwrap_err().kind(), ErrorKind::Tls);
        let (mut clean, _) = wire(b"+OK begin TLS\r\n");
        clean.read_line(100, &mut line, "STLS").unwrap();
        assert!(clean.into_inner().is_ok());
    }
}
