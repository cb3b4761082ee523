//! Scripted servers on 127.0.0.1: each runs a test's script against one client connection in a
//! thread, speaking the real protocol line by line. A script that sees something unexpected
//! panics, and the test fails when it joins the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use esmtp_transport::{Account, AccountBuilder, Credentials, Direction, Protocol, Secret};

pub const USER: &str = "alice@example.test";
pub const PASSWORD: &str = "pw-Ae3oo!x";

/// The server side of one connection.
pub struct Peer {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Peer {
    /// Send text as it is (the script writes the CRLFs).
    pub fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes());
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("client reads");
    }

    /// Try to send; false once the client has gone.
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.writer.write_all(bytes).and_then(|()| self.writer.flush()).is_ok()
    }

    /// The next line from the client, without its line end; `None` when it closed.
    pub fn next_line(&mut self) -> Option<String> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                assert!(line.ends_with(b"\r\n"), "client lines end in CRLF: {line:?}");
                line.truncate(line.len() - 2);
                Some(String::from_utf8(line).expect("client lines are UTF-8"))
            }
        }
    }

    /// Whether the client has sent nothing more for `wait` (it waits for a reply): nothing
    /// buffered, and nothing arriving meanwhile.
    pub fn client_waits(&mut self, wait: Duration) -> bool {
        if !self.reader.buffer().is_empty() {
            return false;
        }
        self.writer.set_read_timeout(Some(wait)).unwrap();
        let waiting = matches!(
            self.reader.fill_buf(),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        );
        self.writer.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        waiting
    }

    /// The next line, which must start with `prefix`.
    pub fn expect(&mut self, prefix: &str) -> String {
        let line = self.next_line().unwrap_or_else(|| panic!("client closed; expected {prefix:?}"));
        assert!(line.starts_with(prefix), "expected {prefix:?}, client sent {line:?}");
        line
    }

    /// SMTP DATA content up to the lone dot, dot-unstuffed, CRLF line ends kept.
    pub fn data(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            assert!(self.reader.read_until(b'\n', &mut line).unwrap() > 0, "client closed during DATA");
            if line == b".\r\n" {
                return out;
            }
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
        }
    }

    /// The next command of an IMAP client: its tag and the rest of the line.
    pub fn command(&mut self) -> (String, String) {
        let line = self.next_line().expect("an IMAP command");
        let (tag, rest) = line.split_once(' ').expect("tagged");
        (tag.to_string(), rest.to_string())
    }

    /// The next IMAP command, which must start with `prefix`; returns its tag.
    pub fn imap(&mut self, prefix: &str) -> String {
        let (tag, rest) = self.command();
        assert!(rest.starts_with(prefix), "expected {prefix:?}, client sent {rest:?}");
        tag
    }

    /// An IMAP literal: `{n}` CRLF and the bytes.
    pub fn literal(&mut self, bytes: &[u8]) {
        self.send(&format!("{{{}}}\r\n", bytes.len()));
        self.send_bytes(bytes);
    }

    /// A POP3 multi-line body: dot-stuffed, ended by the lone dot.
    pub fn multiline(&mut self, bytes: &[u8]) {
        let mut out = Vec::new();
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b".") {
                out.push(b'.');
            }
            out.extend_from_slice(line);
        }
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        self.send_bytes(&out);
    }

    /// The first byte the client sends, raw.
    pub fn first_byte(&mut self) -> Option<u8> {
        let mut b = [0u8; 1];
        (self.reader.read(&mut b).ok()? == 1).then_some(b[0])
    }

    /// Whether the client closed the connection (reads until end of stream).
    pub fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok()
    }
}

/// A server for `connections` clients in turn, each handed to `script` with its number.
pub struct Server {
    pub port: u16,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(connections: usize, script: impl Fn(&mut Peer, usize) + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            for n in 0..connections {
                let (tcp, _) = listener.accept().unwrap();
                // The server never waits forever either: a stuck test fails instead of hanging.
                tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut peer = Peer { reader: BufReader::new(tcp.try_clone().unwrap()), writer: tcp };
                script(&mut peer, n);
            }
        });
        Server { port, handle: Some(handle) }
    }

    /// One connection.
    pub fn once(script: impl FnOnce(&mut Peer) + Send + 'static) -> Server {
        let script = Mutex::new(Some(script));
        Server::start(1, move |peer, _| (script.lock().unwrap().take().unwrap())(peer))
    }

    /// A client connection to this server.
    pub fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port)).unwrap()
    }

    /// Wait for the script to end; its panic is the test's.
    pub fn join(mut self) {
        if let Some(h) = self.handle.take()
            && let Err(panic) = h.join()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Every trace line, for assertions on what a session showed.
#[derive(Clone, Default)]
pub struct Trace(pub Arc<Mutex<Vec<(Protocol, Direction, String)>>>);

impl Trace {
    pub fn text(&self) -> String {
        self.0.lock().unwrap().iter().map(|(_, d, l)| format!("{d:?}: {l}\n")).collect()
    }

    /// Assert that no form of `secret` appears: as is, and in base64 alone or inside SASL PLAIN
    /// and XOAUTH2 responses.
    pub fn assert_hides(&self, secret: &str) {
        use base64::Engine;
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let text = self.text();
        let forms = [
            secret.to_string(),
            b64(secret.as_bytes()),
            b64(format!("\0{USER}\0{secret}").as_bytes()),
            b64(format!("user={USER}\x01auth=Bearer {secret}\x01\x01").as_bytes()),
        ];
        for form in forms {
            assert!(!text.contains(&form), "{form:?} in the trace:\n{text}");
        }
        // Shorter pieces of the secret would show a partial leak too.
        assert!(!text.contains(&secret[..6]), "part of the secret in the trace:\n{text}");
        assert!(text.contains("<redacted>"), "the secret's place is marked:\n{text}");
    }
}

/// An account for the scripted servers: the test user, its password, short limits.
pub fn account() -> AccountBuilder {
    Account::builder(USER, Credentials::Password(Secret::new(PASSWORD)))
        .timeout(Duration::from_secs(10))
        .deadline(Duration::from_secs(20))
}

/// An account for the scripted servers with an OAuth2 token instead of a password.
pub fn token_account(token: &str) -> AccountBuilder {
    Account::builder(USER, Credentials::OAuth2Token(Secret::new(token)))
        .timeout(Duration::from_secs(10))
        .deadline(Duration::from_secs(20))
}

/// The same with a trace collected into the returned value.
pub fn traced(builder: AccountBuilder) -> (Account, Trace) {
    let trace = Trace::default();
    let sink = trace.0.clone();
    let account = builder
        .trace(Arc::new(move |p: Protocol, d: Direction, l: &str| {
            sink.lock().unwrap().push((p, d, l.to_string()))
        }))
        .build()
        .unwrap();
    (account, trace)
}

/// Base64, decoded, for checking what a client sent.
pub fn unbase64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text.trim()).expect("base64")
}

/// A server that greets with `greeting` then sends one byte every 100 ms and never ends the
/// line: a client without an overall deadline would wait for as long as it lasts (here 20 s).
pub fn trickler(greeting: &'static str) -> Server {
    Server::once(move |peer| {
        peer.send(greeting);
        for _ in 0..200 {
            if !peer.try_send(b"x") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// A server that greets with `prefix` and then an endless line (until 64 MiB); returns how many
/// bytes it could send before the client went away.
pub fn flooder(prefix: &'static str) -> (Server, Arc<Mutex<u64>>) {
    let sent = Arc::new(Mutex::new(0u64));
    let count = sent.clone();
    let server = Server::once(move |peer| {
        peer.send(prefix);
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..1024 {
            if !peer.try_send(&chunk) {
                return;
            }
            *count.lock().unwrap() += chunk.len() as u64;
        }
    });
    (server, sent)
}

/// A port that speaks implicit TLS: silent until the client's first byte, which must open a TLS
/// ClientHello, then the start of a TLS record.
pub fn implicit_tls_port() -> Server {
    Server::once(|peer| {
        assert_eq!(peer.first_byte(), Some(0x16), "a TLS ClientHello");
        peer.send_bytes(&[0x16, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
        std::thread::sleep(Duration::from_millis(200));
    })
}

/// A port that greets in plain text at once (a STARTTLS port).
pub fn plaintext_port(greeting: &'static str) -> Server {
    Server::once(move |peer| {
        peer.send(greeting);
        let _ = peer.closed();
    })
}
