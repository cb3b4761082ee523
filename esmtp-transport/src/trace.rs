//! The protocol trace: every line a session sends and receives, for `--verbose` and for
//! debugging a server, with every secret (AUTH payloads, passwords, tokens, LOGIN arguments)
//! replaced by `<redacted>` before it leaves this crate.

use std::sync::Arc;

use zeroize::Zeroize;

/// Which protocol a trace line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// SMTP submission.
    Smtp,
    /// IMAP retrieval.
    Imap,
    /// POP3 retrieval.
    Pop3,
}

impl Protocol {
    /// `SMTP`, `IMAP` or `POP3`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "SMTP",
            Protocol::Imap => "IMAP",
            Protocol::Pop3 => "POP3",
        }
    }
}

/// Where a trace line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A line this client sent (secrets already replaced by `<redacted>`).
    Sent,
    /// A line the server sent.
    Received,
    /// A remark of this client: connecting, TLS established, lines left out.
    Note,
}

/// Receives the protocol trace of the sessions of an [`crate::Account`] (see
/// [`crate::AccountBuilder::trace`]). Lines come without their line end; long lines are cut,
/// and of a long run of lines (a message body) only the first are given, then a count.
///
/// Implemented for closures, and easy to implement in a foreign language (`Send + Sync`, owned
/// values, no return value):
///
/// ```
/// use esmtp_transport::{Direction, Protocol};
/// let trace = |protocol: Protocol, direction: Direction, line: &str| {
///     let arrow = match direction {
///         Direction::Sent => "C:",
///         Direction::Received => "S:",
///         Direction::Note => "--",
///     };
///     eprintln!("{} {arrow} {line}", protocol.name());
/// };
/// # let _ = esmtp_transport::Account::builder("a@example.test", esmtp_transport::Credentials::Password(
/// #     esmtp_transport::Secret::new("x"))).trace(std::sync::Arc::new(trace));
/// ```
pub trait ProtocolTrace: Send + Sync {
    /// One line of the conversation, or a note.
    fn line(&self, protocol: Protocol, direction: Direction, line: &str);
}

impl<F> ProtocolTrace for F
where
    F: Fn(Protocol, Direction, &str) + Send + Sync,
{
    fn line(&self, protocol: Protocol, direction: Direction, line: &str) {
        self(protocol, direction, line)
    }
}

/// The longest line given to the trace; the rest is counted, not shown.
const MAX_SHOWN: usize = 400;
/// Of a run of lines in one direction (a message body), only this many are shown.
const MAX_RUN: usize = 30;

/// One direction's line under assembly.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    cut: u64,
    /// The fewest words shown of this line, if any part of it was written while redacting.
    redact: Option<usize>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

/// Assembles lines from the bytes of a session and hands them to the trace.
pub(crate) struct Tracer {
    sink: Arc<dyn ProtocolTrace>,
    protocol: Protocol,
    sent: Pending,
    received: Pending,
    /// The direction of the current run, and how many of its lines were shown / left out.
    run: Option<Direction>,
    shown: usize,
    hidden_lines: u64,
    hidden_bytes: u64,
}

impl Tracer {
    pub(crate) fn new(sink: Arc<dyn ProtocolTrace>, protocol: Protocol) -> Self {
        Tracer {
            sink,
            protocol,
            sent: Pending::default(),
            received: Pending::default(),
            run: None,
            shown: 0,
            hidden_lines: 0,
            hidden_bytes: 0,
        }
    }

    pub(crate) fn note(&mut self, text: &str) {
        self.end_run();
        self.sink.line(self.protocol, Direction::Note, text);
    }

    /// Bytes this client wrote; `redact` (words kept) when they carry a secret.
    pub(crate) fn sent(&mut self, bytes: &[u8], redact: Option<usize>) {
        self.feed(Direction::Sent, bytes, redact);
    }

    /// Bytes the server sent.
    pub(crate) fn received(&mut self, bytes: &[u8]) {
        self.feed(Direction::Received, bytes, None);
    }

    fn feed(&mut self, direction: Direction, mut bytes: &[u8], redact: Option<usize>) {
        while !bytes.is_empty() {
            let (chunk, done) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..=i], true),
                None => (bytes, false),
            };
            bytes = &bytes[chunk.len()..];
            let pending = if direction == Direction::Sent { &mut self.sent } else { &mut self.received };
            if let Some(keep) = redact {
                pending.redact = Some(pending.redact.map_or(keep, |k| k.min(keep)));
            }
            // The line end is not content: it is neither shown nor counted as cut.
            let content = if done { chunk.strip_suffix(b"\n").unwrap_or(chunk) } else { chunk };
            let content = if done { content.strip_suffix(b"\r").unwrap_or(content) } else { content };
            let room = MAX_SHOWN.saturating_sub(pending.bytes.len());
            let keep = content.len().min(room);
            pending.bytes.extend_from_slice(&content[..keep]);
            pending.cut = pending.cut.saturating_add((content.len() - keep) as u64);
            if done {
                let mut line = std::mem::take(&mut pending.bytes);
                let cut = std::mem::take(&mut pending.cut);
                let redact = pending.redact.take();
                self.emit(direction, &line, cut, redact);
                line.zeroize();
            }
        }
    }

    fn emit(&mut self, direction: Direction, line: &[u8], cut: u64, redact: Option<usize>) {
        if self.run != Some(direction) {
            self.end_run();
            self.run = Some(direction);
        }
        if self.shown >= MAX_RUN {
            self.hidden_lines += 1;
            self.hidden_bytes = self.hidden_bytes.saturating_add(line.len() as u64).saturating_add(cut);
            return;
        }
        self.shown += 1;
        // A CR written apart from its LF is still a line end.
        let line = if cut == 0 { line.strip_suffix(b"\r").unwrap_or(line) } else { line };
        let text = match redact {
            Some(keep) => redacted(line, keep),
            None => {
                let mut text = printable(line);
                if cut > 0 {
                    text.push_str(&format!(" ... ({cut} more bytes)"));
                }
                text
            }
        };
        self.sink.line(self.protocol, direction, &text);
    }

    /// Close the current run, reporting what was left out of it.
    fn end_run(&mut self) {
        if self.hidden_lines > 0 {
            let text =
                format!("... {} more lines ({} bytes) not shown", self.hidden_lines, self.hidden_bytes);
            self.sink.line(self.protocol, Direction::Note, &text);
        }
        self.run = None;
        self.shown = 0;
        self.hidden_lines = 0;
        self.hidden_bytes = 0;
    }

    /// At the end of a session: report what is still held back.
    pub(crate) fn finish(&mut self) {
        for direction in [Direction::Sent, Direction::Received] {
            let pending = if direction == Direction::Sent { &mut self.sent } else { &mut self.received };
            if !pending.bytes.is_empty() || pending.cut > 0 {
                let mut line = std::mem::take(&mut pending.bytes);
                let cut = std::mem::take(&mut pending.cut);
                let redact = pending.redact.take();
                self.emit(direction, &line, cut, redact);
                line.zeroize();
            }
        }
        self.end_run();
    }
}

/// At most `keep` leading words, never the last word of the line, then `<redacted>`: a secret is
/// always at the end of the line that carries it (`AUTH PLAIN <b64>`, `a1 LOGIN user pass`,
/// `PASS pw`, or a continuation line that is all secret).
fn redacted(line: &[u8], keep: usize) -> String {
    let text = String::from_utf8_lossy(line);
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let keep = keep.min(words.len().saturating_sub(1));
    let mut out: String = words[..keep].iter().map(|w| printable(w.as_bytes())).collect::<Vec<_>>().join(" ");
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str("<redacted>");
    out
}

/// The line as text, control characters escaped so a server cannot drive the terminal.
fn printable(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .chars()
        .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    type Lines = Arc<Mutex<Vec<(Direction, String)>>>;

    fn tracer() -> (Tracer, Lines) {
        let lines: Lines = Arc::default();
        let sink = lines.clone();
        let trace = move |_: Protocol, d: Direction, l: &str| sink.lock().unwrap().push((d, l.to_string()));
        (Tracer::new(Arc::new(trace), Protocol::Smtp), lines)
    }

    #[test]
    fn lines_are_assembled_across_writes_and_secrets_redacted() {
        let (mut t, lines) = tracer();
        t.received(b"220 hello\r");
        t.received(b"\n250-one\r\n250 two\r\n");
        t.sent(b"AUTH PLAIN AHRpbQB0YW5zdGFh", Some(2));
        t.sent(b"ZnRhbnN0YWFm\r\n", None);
        t.sent(b"a1 LOGIN bob \"pass word\"\r\n", Some(2));
        t.sent(b"c2VjcmV0\r\n", Some(2));
        t.sent(b"QUIT\r\n", None);
        let lines = lines.lock().unwrap();
        let texts: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            texts,
            [
                "220 hello",
                "250-one",
                "250 two",
                "AUTH PLAIN <redacted>",
                "a1 LOGIN <redacted>",
                "<redacted>",
                "QUIT"
            ]
        );
        assert_eq!(lines[3].0, Direction::Sent);
    }

    #[test]
    fn long_lines_and_long_runs_are_cut() {
        let (mut t, lines) = tracer();
        t.received(&[b'x'; 1000]);
        t.received(b"\r\n");
        for _ in 0..100 {
            t.received(b"body line\r\n");
        }
        t.sent(b"QUIT\r\n", None);
        t.received(b"\x1b[2Jbye");
        t.finish();
        let lines = lines.lock().unwrap();
        assert!(lines[0].1.ends_with("... (600 more bytes)"), "{}", lines[0].1);
        assert!(lines[0].1.starts_with(&"x".repeat(MAX_SHOWN)));
        assert_eq!(lines.iter().filter(|(_, l)| l == "body line").count(), MAX_RUN - 1);
        assert!(lines.iter().any(|(d, l)| *d == Direction::Note && l.contains("71 more lines")), "{lines:?}");
        assert_eq!(lines.last().unwrap().1, "\\u{1b}[2Jbye");
    }
}
