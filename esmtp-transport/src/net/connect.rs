//! Opening a session: TCP within the deadline, the TLS handshake, and telling a port's TLS mode
//! quickly when the account names the wrong one (a STARTTLS client on an implicit-TLS port
//! would otherwise wait for a greeting that never comes; the reverse fails with an obscure
//! TLS error).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use rustls::StreamOwned;

use super::Wire;
use super::{Channel, Control, Io, PREAUTH_BUDGET, map_io};
use crate::account::{Account, ServerSettings, TlsMode};
use crate::error::{Error, ErrorKind, Result};
use crate::tls::Trust;
use crate::trace::Protocol;

/// How long a STARTTLS port may stay silent before it is checked for implicit TLS. Plain-text
/// servers greet at once; one that is only slow costs a second connection, nothing more.
const GREETING_PROBE: Duration = Duration::from_secs(2);

/// Connect to `server` for `protocol`: TCP, then the TLS handshake for implicit TLS. For
/// STARTTLS the result is the plaintext phase, with the server's greeting on its way.
pub(crate) fn connect(account: &Account, server: &ServerSettings, protocol: Protocol) -> Result<Wire> {
    let ctl = Control::for_account(account, protocol);
    ctl.begin(PREAUTH_BUDGET);
    let mode = match server.tls {
        TlsMode::Implicit => "implicit TLS",
        TlsMode::StartTls => "STARTTLS",
    };
    ctl.note(&format!("connecting to {}:{} ({mode})", server.host, server.port));
    let stream = tcp(server, &ctl, account.timeout)?;
    let mut channel = Channel::new(Io::Tcp(stream), ctl.clone(), account.timeout);
    match server.tls {
        TlsMode::Implicit => {
            channel.start_tls(&account.trust, server, true)?;
            Ok(Wire::new(channel))
        }
        TlsMode::StartTls => {
            let wire = Wire::new(channel);
            match greeting_probe(account, server, wire)? {
                Some(wire) => Ok(wire),
                None => {
                    ctl.note("the server greeted late; connecting again");
                    let stream = tcp(server, &ctl, account.timeout)?;
                    Ok(Wire::new(Channel::new(Io::Tcp(stream), ctl, account.timeout)))
                }
            }
        }
    }
}

/// Wait briefly for a plain-text greeting. A port that stays silent is sent a TLS ClientHello:
/// a TLS answer means the account has the wrong mode (an error naming the fix); a plain-text
/// answer means the server was only slow, and the connection, now holding our hello, is
/// dropped (`None`: connect again).
fn greeting_probe(account: &Account, server: &ServerSettings, mut wire: Wire) -> Result<Option<Wire>> {
    let ctl = wire.control().clone();
    let saved = ctl.saved_deadline();
    ctl.set_deadline_in(GREETING_PROBE.min(account.timeout).min(ctl.time_left().unwrap_or(Duration::MAX)));
    let first = wire.fill("the greeting");
    ctl.restore_deadline(saved);
    match first {
        Ok(()) => return Ok(Some(wire)),
        Err(e) if e.kind() == ErrorKind::Timeout => {}
        Err(e) => return Err(e),
    }
    let mut channel = wire.into_inner()?;
    let mut hello = Vec::new();
    account
        .trust
        .client(&server.host)?
        .write_tls(&mut hello)
        .map_err(|e| Error::new(ErrorKind::Tls, "TLS setup failed").with_source(e))?;
    channel.write_untraced(&hello).map_err(|e| map_io(e, "the greeting"))?;
    match channel.read_byte_untraced().map_err(|e| map_io(e, "the greeting"))? {
        // Handshake and alert records (RFC 8446 section 5.1).
        Some(0x15 | 0x16) => Err(Error::new(
            ErrorKind::WrongTlsMode,
            format!("{}: port {} speaks implicit TLS; set tls = \"implicit\"", server.host, server.port),
        )),
        Some(_) => Ok(None),
        None => {
            Err(Error::new(ErrorKind::Connection, "the server closed the connection before its greeting"))
        }
    }
}

/// A TCP connection to `server` within the I/O timeout and the deadline.
fn tcp(server: &ServerSettings, ctl: &Control, io_timeout: Duration) -> Result<TcpStream> {
    let addrs = (server.host.as_str(), server.port).to_socket_addrs().map_err(|e| {
        Error::new(ErrorKind::Connection, format!("cannot resolve {}", server.host)).with_source(e)
    })?;
    let mut last = None;
    for addr in addrs {
        let wait = ctl.time_left().unwrap_or(io_timeout).min(io_timeout);
        if wait.is_zero() {
            return Err(Error::new(ErrorKind::Timeout, "connecting took longer than the deadline"));
        }
        match TcpStream::connect_timeout(&addr, wait) {
            Ok(tcp) => {
                tcp.set_nodelay(true).map_err(|e| map_io(e, "connect"))?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => map_io(e, "connect"),
        None => Error::new(ErrorKind::Connection, format!("{} has no address", server.host)),
    })
}

/// The handshake's view of the socket, keeping the first byte the server sent: a plain-text
/// greeting there means a STARTTLS port.
struct Sniff<'a> {
    tcp: &'a mut TcpStream,
    first: Option<u8>,
}

impl Read for Sniff<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        if self.first.is_none() && n > 0 {
            self.first = Some(buf[0]);
        }
        Ok(n)
    }
}

impl Write for Sniff<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

impl Channel {
    /// Run the TLS handshake for `server` now, so certificate errors surface here and not on
    /// some later read. `implicit`: the port was configured for implicit TLS, so a plain-text
    /// answer means the wrong mode.
    pub(crate) fn start_tls(&mut self, trust: &Trust, server: &ServerSettings, implicit: bool) -> Result<()> {
        let mut tcp = match std::mem::replace(&mut self.io, Io::Closed) {
            Io::Tcp(tcp) => tcp,
            other => {
                self.io = other;
                return Err(Error::new(ErrorKind::Tls, "TLS is only started over a plain TCP connection"));
            }
        };
        let mut conn = trust.client(&server.host)?;
        let mut sniff = Sniff { tcp: &mut tcp, first: None };
        while conn.is_handshaking() {
            let wait = self.wait().map_err(|e| map_io(e, "the TLS handshake"))?;
            let armed =
                sniff.tcp.set_read_timeout(Some(wait)).and_then(|()| sniff.tcp.set_write_timeout(Some(wait)));
            armed.map_err(|e| map_io(e, "the TLS handshake"))?;
            if let Err(e) = conn.complete_io(&mut sniff) {
                if implicit && sniff.first.is_some_and(|b| b.is_ascii_graphic()) {
                    return Err(Error::new(
                        ErrorKind::WrongTlsMode,
                        format!(
                            "{}: port {} speaks plain text first (STARTTLS); set tls = \"starttls\"",
                            server.host, server.port
                        ),
                    ));
                }
                let err = map_io(self.timed_out(e), "the TLS handshake");
                // A handshake that dies halfway is the server refusing our TLS, not a network
                // glitch; a connection dropped before the server's first byte may be either, and
                // stays a connection error (transient: worth trying again).
                return Err(if err.kind() == ErrorKind::Connection && sniff.first.is_some() {
                    Error::new(ErrorKind::Tls, "the server closed the connection during the TLS handshake")
                } else {
                    err
                });
            }
        }
        let version = conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
        self.socket_timeouts = (None, None);
        self.io = Io::Tls(Box::new(StreamOwned::new(conn, tcp)));
        self.ctl.note(&format!("TLS established ({version}) with {}", server.host));
        Ok(())
    }
}

/// A session over a caller's stream, used as it is: no TLS is added, the greeting comes next.
pub(crate) fn over_stream(
    account: &Account,
    protocol: Protocol,
    stream: impl Read + Write + Send + 'static,
) -> Wire {
    let ctl = Control::for_account(account, protocol);
    ctl.begin(PREAUTH_BUDGET);
    ctl.note("over a caller's stream");
    let mut channel = Channel::from_stream(stream, ctl);
    channel.io_timeout = account.timeout;
    Wire::new(channel)
}
