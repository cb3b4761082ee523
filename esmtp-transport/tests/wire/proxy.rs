//! Fault-injecting TCP proxies on loopback, in front of the real lab. Each connection is relayed
//! line by line (a line ends at LF; a partial line goes on when nothing more comes), and a
//! per-connection script sees every line and says what to do with it: forward it, replace it,
//! answer it, cut the connection, or fall silent.
//!
//! A proxy can terminate TLS on both sides (a TLS server with the wire tests' own certificate
//! towards the client, a TLS client trusting the lab CA towards the lab), so that faults land at
//! exact protocol points of implicit-TLS sessions; or relay bytes as they are (STARTTLS
//! stripping, TLS corruption, silence, a wrong host name).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};

/// Who sent a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Once, when the connection is accepted (with an empty line), before anything is relayed.
    Accept,
    Client,
    Server,
}

/// What to do with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Forward,
    /// Send these bytes on instead (empty: swallow the line).
    Replace(Vec<u8>),
    /// Swallow the line and send these bytes back to whoever sent it.
    Answer(Vec<u8>),
    /// Swallow the line, send these bytes back, and cut both connections.
    AnswerAndClose(Vec<u8>),
    /// Cut both connections now (the line is not forwarded).
    Close,
    /// Forward nothing from the server any more; the client waits until it gives up.
    Silence,
}

/// The script of one connection, given its number (0 for the first).
pub type Script = Box<dyn FnMut(Who, &[u8]) -> Action + Send>;

/// How the proxy speaks to each side.
#[derive(Clone, Default)]
pub struct Tls {
    /// Terminate the client's TLS with this server configuration.
    pub client: Option<Arc<ServerConfig>>,
    /// Speak TLS to the lab with this client configuration.
    pub server: Option<Arc<ClientConfig>>,
}

pub struct Proxy {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy on `ip` (a loopback address) in front of the lab port `upstream`; `script`
    /// makes each connection's script.
    pub fn start(
        ip: &'static str,
        upstream: u16,
        tls: Tls,
        script: impl Fn(usize) -> Script + Send + Sync + 'static,
    ) -> Proxy {
        let listener = TcpListener::bind((ip, 0)).expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (stop2, accepted2) = (stop.clone(), accepted.clone());
        let script = Arc::new(script);
        let handle = std::thread::spawn(move || {
            let mut workers = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let n = accepted2.fetch_add(1, Ordering::SeqCst);
                        let (tls, stop, script) = (tls.clone(), stop2.clone(), script.clone());
                        workers.push(std::thread::spawn(move || {
                            let _ = relay(client, upstream, &tls, script(n), &stop);
                        }));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => break,
                }
            }
            for w in workers {
                let _ = w.join();
            }
        });
        Proxy { port, accepted, stop, handle: Some(handle) }
    }

    /// A proxy that relays everything unchanged.
    pub fn transparent(ip: &'static str, upstream: u16, tls: Tls) -> Proxy {
        Proxy::start(ip, upstream, tls, |_| Box::new(|_, _| Action::Forward))
    }

    /// How many connections it has accepted.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// One side of a relayed connection.
trait Side: Read + Write + Send {}
impl<T: Read + Write + Send> Side for T {}

/// Lines of one direction, cut at LF.
#[derive(Default)]
struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Complete lines so far; with `flush` the partial rest as well.
    fn take(&mut self, flush: bool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
            out.push(self.pending.drain(..=i).collect());
        }
        if flush && !self.pending.is_empty() {
            out.push(std::mem::take(&mut self.pending));
        }
        out
    }
}

fn quiet(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Read what is there: `Ok(None)` when nothing came within the poll interval, `Ok(Some(0))` at
/// end of stream.
fn poll(side: &mut dyn Side, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match side.read(buf) {
        Ok(n) => Ok(Some(n)),
        Err(e) if quiet(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn relay(
    client: TcpStream,
    upstream: u16,
    tls: &Tls,
    mut script: Script,
    stop: &AtomicBool,
) -> io::Result<()> {
    match script(Who::Accept, b"") {
        Action::Close => return Ok(()),
        Action::Silence => {
            // Take the client's bytes, answer nothing, until it gives up.
            client.set_read_timeout(Some(Duration::from_millis(20)))?;
            let mut c = client;
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                if poll(&mut c, &mut buf)? == Some(0) {
                    break;
                }
            }
            return Ok(());
        }
        _ => {}
    }
    let server = TcpStream::connect(("127.0.0.1", upstream))?;
    for s in [&client, &server] {
        s.set_read_timeout(Some(Duration::from_millis(5)))?;
        s.set_nodelay(true)?;
    }
    let mut c: Box<dyn Side> = match &tls.client {
        Some(config) => Box::new(StreamOwned::new(ServerConnection::new(config.clone()).unwrap(), client)),
        None => Box::new(client),
    };
    let mut s: Box<dyn Side> = match &tls.server {
        Some(config) => {
            let name = ServerName::try_from("127.0.0.1").unwrap();
            Box::new(StreamOwned::new(ClientConnection::new(config.clone(), name).unwrap(), server))
        }
        None => Box::new(server),
    };
    let (mut from_client, mut from_server) = (Lines::default(), Lines::default());
    let mut silent = false;
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        for (who, lines) in [(Who::Client, &mut from_client), (Who::Server, &mut from_server)] {
            let (src, dst): (&mut Box<dyn Side>, &mut Box<dyn Side>) =
                if who == Who::Client { (&mut c, &mut s) } else { (&mut s, &mut c) };
            let got = poll(src.as_mut(), &mut buf)?;
            // At the end of a stream, what is left still goes on before the connection ends.
            let ended = got == Some(0);
            if let Some(n) = got {
                lines.pending.extend_from_slice(&buf[..n]);
            }
            for line in lines.take(got.is_none() || ended) {
                let action = if who == Who::Server && silent {
                    Action::Replace(Vec::new())
                } else {
                    script(who, &line)
                };
                match action {
                    Action::Forward => write(dst, &line)?,
                    Action::Replace(bytes) => write(dst, &bytes)?,
                    Action::Answer(bytes) => write(src, &bytes)?,
                    Action::AnswerAndClose(bytes) => {
                        write(src, &bytes)?;
                        return Ok(());
                    }
                    Action::Close => return Ok(()),
                    Action::Silence => silent = true,
                }
            }
            if ended {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn write(side: &mut Box<dyn Side>, bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    // A TLS side may hit the poll timeout while it flushes: keep going until all is out.
    let mut rest = bytes;
    while !rest.is_empty() {
        match side.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(e) if quiet(&e) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(e),
        }
    }
    loop {
        match side.flush() {
            Ok(()) => return Ok(()),
            Err(e) if quiet(&e) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(e),
        }
    }
}

/// A script that runs `fault` on connection `n` only and relays the others unchanged: the
/// first attempt meets the fault, a retry gets through.
pub fn on_connection(
    n: usize,
    fault: impl Fn() -> Script + Send + Sync + 'static,
) -> impl Fn(usize) -> Script + Send + Sync + 'static {
    move |i| if i == n { fault() } else { Box::new(|_, _| Action::Forward) }
}
