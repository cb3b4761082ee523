//! TCP and TLS plumbing shared by the IMAP and POP3 clients.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustls::{ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;

use crate::account::{Account, ServerSettings};
use crate::error::{Error, ErrorKind, Result};

/// Map an I/O error: TLS failures anywhere in the chain, then timeouts, then broken connections.
pub(crate) fn map_io(e: io::Error, during: &str) -> Error {
    if crate::error_chain_has_tls(&e) {
        return Error::new(ErrorKind::Tls, format!("TLS failed during {during}")).with_source(e);
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            Error::new(ErrorKind::Timeout, format!("timed out during {during}")).with_source(e)
        }
        io::ErrorKind::InvalidData if e.get_ref().is_some_and(|inner| inner.is::<BudgetExceeded>()) => {
            Error::new(
                ErrorKind::Protocol,
                format!("the server sent more data than expected during {during}"),
            )
            .with_source(e)
        }
        _ => Error::new(ErrorKind::Connection, format!("connection failed during {during}")).with_source(e),
    }
}

/// Connect to `server` with `timeout` for the connection and every later read and write.
pub(crate) fn connect_tcp(server: &ServerSettings, timeout: Duration) -> Result<TcpStream> {
    let addrs = (server.host.as_str(), server.port).to_socket_addrs().map_err(|e| {
        Error::new(ErrorKind::Connection, format!("cannot resolve {}", server.host)).with_source(e)
    })?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(tcp) => {
                let setup = tcp
                    .set_read_timeout(Some(timeout))
                    .and_then(|()| tcp.set_write_timeout(Some(timeout)))
                    .and_then(|()| tcp.set_nodelay(true));
                setup.map_err(|e| map_io(e, "connect"))?;
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

/// A read allowance shared between a client and its stream: a hostile or broken server cannot
/// make the client buffer more than the current command may legitimately return.
#[derive(Debug, Clone)]
pub(crate) struct ReadBudget(Arc<AtomicU64>);

impl ReadBudget {
    fn unlimited() -> Self {
        ReadBudget(Arc::new(AtomicU64::new(u64::MAX)))
    }

    /// Allow `bytes` more bytes to be read from now on (replacing what was left).
    pub(crate) fn set(&self, bytes: u64) {
        self.0.store(bytes, Ordering::Relaxed);
    }

    fn take(&self, bytes: usize) -> bool {
        let bytes = bytes as u64;
        self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(bytes)).is_ok()
    }
}

#[derive(Debug)]
struct BudgetExceeded;

impl std::fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("read budget exceeded")
    }
}

impl std::error::Error for BudgetExceeded {}

/// A TLS session over TCP with the account's I/O timeout and a [`ReadBudget`].
pub(crate) struct TlsStream {
    inner: StreamOwned<ClientConnection, TcpStream>,
    io_timeout: Duration,
    budget: ReadBudget,
    /// While set, reads fail with `TimedOut` at this instant however much the server sends
    /// meanwhile (servers send keepalive lines during IDLE; they must not extend the wait).
    deadline: Option<Instant>,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream").finish_non_exhaustive()
    }
}

impl TlsStream {
    /// Run the TLS handshake on `tcp` for `host` now, so certificate errors surface here and not
    /// on some later read.
    pub(crate) fn handshake(account: &Account, host: &str, mut tcp: TcpStream) -> Result<Self> {
        let config = crate::tls::client_config(account)?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            Error::new(ErrorKind::Config, format!("invalid server name {host}")).with_source(e)
        })?;
        let mut conn = ClientConnection::new(config, name)
            .map_err(|e| Error::new(ErrorKind::Tls, "TLS setup failed").with_source(e))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| {
                let err = map_io(e, "the TLS handshake");
                // A handshake that dies halfway is the server refusing our TLS, not a network glitch.
                if err.kind() == ErrorKind::Connection {
                    Error::new(ErrorKind::Tls, "the server closed the connection during the TLS handshake")
                } else {
                    err
                }
            })?;
        }
        Ok(TlsStream {
            inner: StreamOwned::new(conn, tcp),
            io_timeout: account.timeout(),
            budget: ReadBudget::unlimited(),
            deadline: None,
        })
    }

    /// The allowance handle for this stream.
    pub(crate) fn budget(&self) -> ReadBudget {
        self.budget.clone()
    }

    /// Reads fail once `timeout` has passed from now, in total; `None` restores the account's
    /// per-read I/O timeout (never "forever").
    pub(crate) fn set_deadline(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.deadline = timeout.map(|t| Instant::now() + t);
        self.inner.sock.set_read_timeout(Some(self.io_timeout))
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
            }
            self.inner.sock.set_read_timeout(Some(left))?;
        }
        let n = self.inner.read(buf)?;
        if !self.budget.take(n) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, BudgetExceeded));
        }
        Ok(n)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl ::imap::extensions::idle::SetReadTimeout for TlsStream {
    /// The `imap` crate sets one timeout for a whole IDLE wait and clears it after.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> ::imap::Result<()> {
        self.set_deadline(timeout).map_err(::imap::Error::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_counts_down_and_refuses_overdraft() {
        let b = ReadBudget::unlimited();
        b.set(10);
        assert!(b.take(4));
        assert!(b.take(6));
        assert!(!b.take(1));
        b.set(u64::MAX);
        assert!(b.take(usize::MAX));
    }

    #[test]
    fn io_errors_map_to_kinds() {
        let timeout = map_io(io::Error::new(io::ErrorKind::WouldBlock, "x"), "read");
        assert_eq!(timeout.kind(), ErrorKind::Timeout);
        let over = map_io(io::Error::new(io::ErrorKind::InvalidData, BudgetExceeded), "FETCH");
        assert_eq!(over.kind(), ErrorKind::Protocol);
        let tls = map_io(io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError), "read");
        assert_eq!(tls.kind(), ErrorKind::Tls);
        let reset = map_io(io::Error::new(io::ErrorKind::ConnectionReset, "x"), "read");
        assert_eq!(reset.kind(), ErrorKind::Connection);
    }
}
