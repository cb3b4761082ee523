//! Network calls as async functions (`suspend` in Kotlin, `async` in Swift): each blocking call
//! of esmtp-ffi runs on a thread of a small pool, and the caller's coroutine or task awaits it
//! without holding a thread, so no network call can block a UI thread.

use std::sync::LazyLock;

use tokio::runtime::{Builder, Runtime};

use crate::error::{EsmtpError, Result};

/// Calls running at once beyond this wait for a free thread. A mail app runs a handful (a send,
/// an IDLE per account, a fetch); the bound keeps a burst of calls from making a thread each.
const MAX_THREADS: usize = 32;

/// The pool: a tokio runtime used only for `spawn_blocking` (its threads start on demand and end
/// when idle), so the library starts no thread until the first network call.
static POOL: LazyLock<std::io::Result<Runtime>> = LazyLock::new(|| {
    Builder::new_current_thread().thread_name("esmtp-net").max_blocking_threads(MAX_THREADS).build()
});

/// Run `call` on the pool and await its result.
pub(crate) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> esmtp_ffi::Result<T> + Send + 'static,
) -> Result<T> {
    let pool = POOL.as_ref().map_err(|e| EsmtpError::Io {
        reason: format!("cannot start the threads for network calls: {e}"),
        transient: true,
    })?;
    match pool.spawn_blocking(call).await {
        Ok(result) => result.map_err(EsmtpError::from),
        // A panic is a bug: uniffi reports it to the caller as an internal error.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => {
            Err(EsmtpError::Cancelled { reason: "the library is shutting down".into(), transient: false })
        }
    }
}

/// [`blocking`] for a call on a session that `cancel` can interrupt: when the awaiting coroutine
/// or task is cancelled (the future is dropped before the call ends), the call is cancelled too,
/// as the session's `cancel()` does, instead of running on unseen (an IDLE wait for hours).
pub(crate) async fn cancellable<T: Send + 'static>(
    cancel: impl FnOnce() + Send + 'static,
    call: impl FnOnce() -> esmtp_ffi::Result<T> + Send + 'static,
) -> Result<T> {
    let mut guard = OnDrop(Some(cancel));
    let result = blocking(call).await;
    guard.0 = None;
    result
}

/// Runs its closure when dropped, unless taken.
struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// Poll `future` to the end on this thread (the test has no executor; the pool wakes it).
    fn run<T>(future: impl Future<Output = T>) -> T {
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn results_and_errors_come_back() {
        assert_eq!(run(blocking(|| Ok(42))).unwrap(), 42);
        let e = run(blocking::<()>(|| {
            Err(esmtp_ffi::Error {
                kind: esmtp_ffi::ErrorKind::Timeout,
                reason: "slow".into(),
                transient: true,
            })
        }))
        .unwrap_err();
        assert_eq!(e, EsmtpError::Timeout { reason: "slow".into(), transient: true });
    }

    #[test]
    fn dropping_the_future_cancels_the_call_and_finishing_does_not() {
        let cancelled = Arc::new(AtomicBool::new(false));
        let flag = cancelled.clone();
        assert_eq!(run(cancellable(move || flag.store(true, Ordering::SeqCst), || Ok(1))).unwrap(), 1);
        assert!(!cancelled.load(Ordering::SeqCst), "a finished call is not cancelled");

        let (release, wait) = std::sync::mpsc::channel::<()>();
        let flag = cancelled.clone();
        let mut future = Box::pin(cancellable(
            move || {
                flag.store(true, Ordering::SeqCst);
                drop(release);
            },
            move || {
                // Ends only once cancel ran (its sender dropped): a call that cancel interrupts.
                let _ = wait.recv();
                Ok(())
            },
        ));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        drop(future);
        assert!(cancelled.load(Ordering::SeqCst), "the dropped call was cancelled");
    }
}
