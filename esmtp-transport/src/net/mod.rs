//! The byte stream under every session: TCP, TLS over TCP, or any `Read + Write` the caller
//! supplies, with the limits that keep a hostile or broken server from holding the client:
//! an I/O timeout per read and write, a deadline per command exchange, a read budget per
//! exchange, and the protocol trace with secrets redacted.

mod connect;
pub(crate) mod wire;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::{ClientConnection, StreamOwned};

use crate::account::{Account, transfer_deadline};
use crate::error::{Error, ErrorKind};
use crate::trace::{Protocol, Tracer};
pub(crate) use connect::{connect, over_stream};
pub(crate) use wire::Wire;

/// How much one ordinary command exchange may return before the server is cut off: 64 MiB holds
/// listings of millions of messages. Message downloads get a budget from their size instead.
pub(crate) const DEFAULT_BUDGET: u64 = 64 << 20;

/// What a server may send before the login is through (greeting, capabilities, the SASL
/// exchange): none of it is ever large.
pub(crate) const PREAUTH_BUDGET: u64 = 1 << 20;

const NO_DEADLINE: u64 = u64::MAX;
const NO_REDACTION: usize = usize::MAX;

/// The limits of one session, shared between its client and its stream (the `imap` crate owns
/// the stream, so limits are set from outside it).
pub(crate) struct Control {
    epoch: Instant,
    /// Milliseconds after `epoch` at which reads and writes fail; [`NO_DEADLINE`] for none.
    deadline_ms: AtomicU64,
    /// Bytes that may still be read in the current exchange.
    budget: AtomicU64,
    /// While set, written lines are traced with at most this many leading words.
    redact: AtomicUsize,
    base_deadline: Duration,
    tracer: Option<Mutex<Tracer>>,
    /// Set from another thread by a [`Canceller`]: every read and write then fails.
    cancelled: AtomicBool,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").field("base_deadline", &self.base_deadline).finish_non_exhaustive()
    }
}

impl Control {
    pub(crate) fn new(base_deadline: Duration, tracer: Option<Tracer>) -> Arc<Self> {
        Arc::new(Control {
            epoch: Instant::now(),
            deadline_ms: AtomicU64::new(NO_DEADLINE),
            budget: AtomicU64::new(DEFAULT_BUDGET),
            redact: AtomicUsize::new(NO_REDACTION),
            base_deadline,
            tracer: tracer.map(Mutex::new),
            cancelled: AtomicBool::new(false),
        })
    }

    /// The limits of `account`'s sessions over `protocol`.
    pub(crate) fn for_account(account: &Account, protocol: Protocol) -> Arc<Self> {
        Control::new(account.deadline, account.trace.clone().map(|t| Tracer::new(t, protocol)))
    }

    /// Start one command exchange: `budget` bytes may be read, and everything must be done
    /// within the account's deadline.
    pub(crate) fn begin(&self, budget: u64) {
        self.budget.store(budget, Ordering::Relaxed);
        self.set_deadline_in(self.base_deadline);
    }

    /// Start an exchange that moves about `bytes` (a message download or upload): a deadline
    /// grown by the size, and `budget` bytes to read.
    pub(crate) fn begin_transfer(&self, bytes: u64, budget: u64) {
        self.budget.store(budget, Ordering::Relaxed);
        self.set_deadline_in(transfer_deadline(self.base_deadline, bytes));
    }

    /// Reads and writes fail once `wait` has passed from now.
    pub(crate) fn set_deadline_in(&self, wait: Duration) {
        let at =
            (Instant::now() + wait.min(crate::account::MAX_TRANSFER_DEADLINE)).duration_since(self.epoch);
        self.deadline_ms.store(u64::try_from(at.as_millis()).unwrap_or(NO_DEADLINE - 1), Ordering::Relaxed);
    }

    /// The current deadline, to restore after a shorter wait.
    fn saved_deadline(&self) -> u64 {
        self.deadline_ms.load(Ordering::Relaxed)
    }

    fn restore_deadline(&self, saved: u64) {
        self.deadline_ms.store(saved, Ordering::Relaxed);
    }

    /// How long until the deadline: `None` without one, zero once it has passed.
    fn time_left(&self) -> Option<Duration> {
        let at = self.deadline_ms.load(Ordering::Relaxed);
        (at != NO_DEADLINE).then(|| {
            let now = Instant::now().duration_since(self.epoch);
            Duration::from_millis(at).saturating_sub(now)
        })
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Stop the current exchange: the next read fails (a SASL exchange that never ends).
    pub(crate) fn cut_off(&self) {
        self.budget.store(0, Ordering::Relaxed);
    }

    fn take(&self, bytes: usize) -> bool {
        let bytes = bytes as u64;
        self.budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(bytes)).is_ok()
    }

    /// Until the guard is dropped, written lines are traced as at most `keep` leading words and
    /// `<redacted>`.
    pub(crate) fn redact(&self, keep: usize) -> Redaction<'_> {
        self.redact.store(keep, Ordering::Relaxed);
        Redaction(self)
    }

    /// A remark in the trace.
    pub(crate) fn note(&self, text: &str) {
        if let Some(t) = &self.tracer {
            t.lock().unwrap_or_else(|p| p.into_inner()).note(text);
        }
    }

    fn trace_sent(&self, bytes: &[u8]) {
        if let Some(t) = &self.tracer {
            let redact = self.redact.load(Ordering::Relaxed);
            let redact = (redact != NO_REDACTION).then_some(redact);
            t.lock().unwrap_or_else(|p| p.into_inner()).sent(bytes, redact);
        }
    }

    fn trace_received(&self, bytes: &[u8]) {
        if let Some(t) = &self.tracer {
            t.lock().unwrap_or_else(|p| p.into_inner()).received(bytes);
        }
    }

    fn finish_trace(&self) {
        if let Some(t) = &self.tracer {
            t.lock().unwrap_or_else(|p| p.into_inner()).finish();
        }
    }
}

/// Cancels a session's blocking call (an IDLE wait, a long fetch) from another thread: the call
/// returns an error of kind [`ErrorKind::Cancelled`] within about a quarter of a second. The
/// session is unusable afterwards (it stopped mid-exchange): drop it and connect again.
///
/// Over a caller's own stream ([`crate::ImapClient::from_stream`]) a read that blocks is not
/// interrupted; the cancellation is seen at the next read or write.
#[derive(Clone)]
pub struct Canceller(Arc<Control>);

impl Canceller {
    pub(crate) fn new(ctl: &Arc<Control>) -> Self {
        Canceller(ctl.clone())
    }

    /// Cancel the session's current and every later call.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether [`Canceller::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

impl std::fmt::Debug for Canceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canceller").field("cancelled", &self.is_cancelled()).finish()
    }
}

/// How often a blocked read looks for a cancellation.
const CANCEL_POLL: Duration = Duration::from_millis(250);

/// The call was cancelled.
#[derive(Debug)]
struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Not `ErrorKind::Interrupted`: the standard readers (`read_line`, `read_until`, `read_exact`)
/// retry an interrupted read at once, so a cancelled read would spin for ever under them.
fn cancelled() -> io::Error {
    io::Error::other(Cancelled)
}

/// Redaction of written lines in the trace, while it lives.
pub(crate) struct Redaction<'a>(&'a Control);

impl Drop for Redaction<'_> {
    fn drop(&mut self) {
        self.0.redact.store(NO_REDACTION, Ordering::Relaxed);
    }
}

/// Any stream a caller hands in; this crate adds nothing to its protection.
pub(crate) trait Stream: Read + Write + Send {}

impl<T: Read + Write + Send> Stream for T {}

pub(crate) enum Io {
    Tcp(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    Stream(Box<dyn Stream>),
    /// Only while TLS is being set up.
    Closed,
}

impl Io {
    fn socket(&self) -> Option<&TcpStream> {
        match self {
            Io::Tcp(tcp) => Some(tcp),
            Io::Tls(tls) => Some(&tls.sock),
            Io::Stream(_) | Io::Closed => None,
        }
    }

    fn stream(&mut self) -> io::Result<&mut dyn Stream> {
        match self {
            Io::Tcp(tcp) => Ok(tcp),
            Io::Tls(tls) => Ok(tls.as_mut()),
            Io::Stream(s) => Ok(s.as_mut()),
            Io::Closed => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }
}

/// The stream of one session, enforcing its [`Control`].
pub(crate) struct Channel {
    io: Io,
    ctl: Arc<Control>,
    io_timeout: Duration,
    /// The socket timeouts last set, so they are set again only when they change.
    socket_timeouts: (Option<Duration>, Option<Duration>),
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").finish_non_exhaustive()
    }
}

/// The deadline of the exchange passed (however fast single reads were).
#[derive(Debug)]
struct DeadlinePassed;

impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline passed")
    }
}

impl std::error::Error for DeadlinePassed {}

/// The exchange read more than its budget.
#[derive(Debug)]
struct BudgetExceeded;

impl std::fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("read budget exceeded")
    }
}

impl std::error::Error for BudgetExceeded {}

impl Channel {
    pub(crate) fn new(io: Io, ctl: Arc<Control>, io_timeout: Duration) -> Self {
        Channel { io, ctl, io_timeout, socket_timeouts: (None, None) }
    }

    /// A caller's stream, used as it is.
    pub(crate) fn from_stream(stream: impl Read + Write + Send + 'static, ctl: Arc<Control>) -> Self {
        Channel::new(Io::Stream(Box::new(stream)), ctl, crate::account::DEFAULT_TIMEOUT)
    }

    pub(crate) fn control(&self) -> &Arc<Control> {
        &self.ctl
    }

    /// How long the next read or write may wait: the I/O timeout, or less when the deadline is
    /// nearer; an error once the deadline has passed.
    fn wait(&self) -> io::Result<Duration> {
        match self.ctl.time_left() {
            Some(left) if left.is_zero() => Err(io::Error::new(io::ErrorKind::TimedOut, DeadlinePassed)),
            Some(left) => Ok(left.min(self.io_timeout)),
            None => Ok(self.io_timeout),
        }
    }

    fn arm(&mut self, read: bool) -> io::Result<()> {
        let wait = self.wait()?;
        self.arm_for(read, wait)
    }

    fn arm_for(&mut self, read: bool, wait: Duration) -> io::Result<()> {
        // A zero timeout would mean "block forever" to the socket.
        let wait = Some(wait.max(Duration::from_millis(1)));
        let Some(socket) = self.io.socket() else { return Ok(()) };
        if read && self.socket_timeouts.0 != wait {
            socket.set_read_timeout(wait)?;
            self.socket_timeouts.0 = wait;
        } else if !read && self.socket_timeouts.1 != wait {
            socket.set_write_timeout(wait)?;
            self.socket_timeouts.1 = wait;
        }
        Ok(())
    }

    /// A timeout that happened after the deadline is the deadline's.
    fn timed_out(&self, e: io::Error) -> io::Error {
        let timeout = matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock);
        if timeout && self.ctl.time_left().is_some_and(|l| l.is_zero()) {
            return io::Error::new(io::ErrorKind::TimedOut, DeadlinePassed);
        }
        e
    }

    /// Write bytes that are not part of the conversation (a TLS probe), untraced.
    fn write_untraced(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.arm(false)?;
        self.io.stream()?.write_all(bytes)
    }

    /// Read one byte outside the conversation, untraced and not counted; `None` at end of stream.
    fn read_byte_untraced(&mut self) -> io::Result<Option<u8>> {
        self.arm(true)?;
        let mut byte = [0u8; 1];
        let n = self.io.stream()?.read(&mut byte).map_err(|e| self.timed_out(e))?;
        Ok((n == 1).then_some(byte[0]))
    }
}

impl Read for Channel {
    /// One read, waiting at most the I/O timeout (or until the deadline). A socket is polled in
    /// slices of [`CANCEL_POLL`] so that a [`Canceller`] is seen while the read waits.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let until = Instant::now() + self.wait()?;
        let n = loop {
            if self.ctl.is_cancelled() {
                return Err(cancelled());
            }
            let left = until.saturating_duration_since(Instant::now());
            self.arm_for(true, left.min(CANCEL_POLL))?;
            match self.io.stream()?.read(buf) {
                Ok(n) => break n,
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
                        && self.io.socket().is_some()
                        && Instant::now() < until =>
                {
                    continue;
                }
                Err(e) => return Err(self.timed_out(e)),
            }
        };
        if !self.ctl.take(n) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, BudgetExceeded));
        }
        self.ctl.trace_received(&buf[..n]);
        Ok(n)
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.ctl.is_cancelled() {
            return Err(cancelled());
        }
        self.arm(false)?;
        let n = self.io.stream()?.write(buf).map_err(|e| self.timed_out(e))?;
        self.ctl.trace_sent(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.arm(false)?;
        self.io.stream()?.flush().map_err(|e| self.timed_out(e))
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.ctl.finish_trace();
    }
}

impl ::imap::extensions::idle::SetReadTimeout for Channel {
    /// The `imap` crate sets one timeout for a whole IDLE wait (server keepalives must not
    /// extend it) and clears it after; clearing restores the ordinary deadline.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> ::imap::Result<()> {
        self.ctl.set_deadline_in(timeout.unwrap_or(self.ctl.base_deadline));
        Ok(())
    }
}

/// Whether a rustls error sits anywhere in `e`'s source chain (also inside `io::Error`s).
fn error_chain_has_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<io::Error>()
            && io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        current = err.source();
    }
    false
}

/// Map an I/O error: TLS failures anywhere in the chain, then the deadline, timeouts, the read
/// budget, then broken connections.
pub(crate) fn map_io(e: io::Error, during: &str) -> Error {
    if error_chain_has_tls(&e) {
        return Error::new(ErrorKind::Tls, format!("TLS failed during {during}")).with_source(e);
    }
    let inner_is =
        |f: fn(&(dyn std::error::Error + Send + Sync + 'static)) -> bool| e.get_ref().is_some_and(f);
    if inner_is(|i| i.is::<DeadlinePassed>()) {
        return Error::new(
            ErrorKind::Timeout,
            format!("the server did not finish {during} within the deadline"),
        );
    }
    if inner_is(|i| i.is::<Cancelled>()) {
        return Error::new(ErrorKind::Cancelled, format!("{during} was cancelled"));
    }
    if inner_is(|i| i.is::<BudgetExceeded>()) {
        return Error::new(
            ErrorKind::Protocol,
            format!("the server sent more data than expected during {during}"),
        );
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            Error::new(ErrorKind::Timeout, format!("timed out during {during}")).with_source(e)
        }
        _ => Error::new(ErrorKind::Connection, format!("connection failed during {during}")).with_source(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_counts_down_and_refuses_overdraft() {
        let ctl = Control::new(Duration::from_secs(1), None);
        ctl.begin(10);
        assert!(ctl.take(4));
        assert!(ctl.take(6));
        assert!(!ctl.take(1));
        ctl.begin(u64::MAX);
        assert!(ctl.take(usize::MAX));
        ctl.cut_off();
        assert!(!ctl.take(1));
    }

    #[test]
    fn deadline_in_the_past_fails_reads_and_writes() {
        let ctl = Control::new(Duration::from_secs(60), None);
        let mut ch = Channel::from_stream(std::io::Cursor::new(b"data".to_vec()), ctl.clone());
        ctl.set_deadline_in(Duration::ZERO);
        let err = ch.read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(map_io(err, "FETCH").kind(), ErrorKind::Timeout);
        assert_eq!(map_io(ch.write(b"x").unwrap_err(), "DATA").kind(), ErrorKind::Timeout);
        ctl.begin(DEFAULT_BUDGET);
        assert_eq!(ch.read(&mut [0u8; 4]).unwrap(), 4);
    }

    #[test]
    fn a_cancelled_control_fails_reads_and_writes() {
        let ctl = Control::new(Duration::from_secs(60), None);
        let mut ch = Channel::from_stream(std::io::Cursor::new(b"data".to_vec()), ctl.clone());
        let canceller = Canceller::new(&ctl);
        assert!(!canceller.is_cancelled());
        canceller.clone().cancel();
        assert!(canceller.is_cancelled());
        assert_eq!(map_io(ch.read(&mut [0u8; 4]).unwrap_err(), "IDLE").kind(), ErrorKind::Cancelled);
        assert_eq!(map_io(ch.write(b"x").unwrap_err(), "DONE").kind(), ErrorKind::Cancelled);
        // The readers the protocol crates use retry interrupted reads: a cancelled one must end.
        let mut line = String::new();
        let err = std::io::BufRead::read_line(&mut std::io::BufReader::new(&mut ch), &mut line).unwrap_err();
        assert_eq!(map_io(err, "IDLE").kind(), ErrorKind::Cancelled);
    }

    #[test]
    fn a_blocked_socket_read_sees_the_cancellation() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || listener.accept().unwrap());
        let tcp = TcpStream::connect(addr).unwrap();
        let _peer = server.join().unwrap();
        let ctl = Control::new(Duration::from_secs(60), None);
        let mut ch = Channel::new(Io::Tcp(tcp), ctl.clone(), Duration::from_secs(60));
        let canceller = Canceller::new(&ctl);
        let started = Instant::now();
        let cancel = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            canceller.cancel();
        });
        let err = ch.read(&mut [0u8; 4]).unwrap_err();
        cancel.join().unwrap();
        assert_eq!(map_io(err, "IDLE").kind(), ErrorKind::Cancelled);
        assert!(started.elapsed() < Duration::from_secs(5), "a silent server must not hold it");
    }

    #[test]
    fn io_errors_map_to_kinds() {
        let timeout = map_io(io::Error::new(io::ErrorKind::WouldBlock, "x"), "read");
        assert_eq!(timeout.kind(), ErrorKind::Timeout);
        let over = map_io(io::Error::new(io::ErrorKind::InvalidData, BudgetExceeded), "FETCH");
        assert_eq!(over.kind(), ErrorKind::Protocol);
        let tls = map_io(io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError), "read");
        assert_eq!(tls.kind(), ErrorKind::Tls);
        assert_eq!(map_io(cancelled(), "IDLE").kind(), ErrorKind::Cancelled);
        let reset = map_io(io::Error::new(io::ErrorKind::ConnectionReset, "x"), "read");
        assert_eq!(reset.kind(), ErrorKind::Connection);
    }
}
