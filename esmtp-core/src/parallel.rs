//! Chunks on several threads (SPEC.md section 5: every chunk is sealed and opened on its own).
//!
//! The one-call paths' threads (the streams keep theirs for the stream's life:
//! [`crate::pipeline`]). No thread pool lives between calls: a call that has enough chunks
//! starts scoped threads (`std::thread::scope`), hands chunks to them one at a time from a
//! shared counter (so a thread that is slowed down by other work on the machine takes fewer),
//! and ends them before it returns. The calling thread works too, and is the one that sees the
//! finished chunks in order, which is where hashes of the stream (the MD5 digest, the signed
//! transcript) are computed. The bytes produced do not depend on the number of threads: each
//! chunk's output depends only on the key, its index and its input.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, TryLockError};
use std::thread;

use crate::suite::Suite;

/// The default number of threads: one per core the process may use, at most this many.
const MAX_DEFAULT_THREADS: usize = 16;

/// The default thread count of [`crate::Sealer::threads`] and [`crate::Opener::threads`].
///
/// Asked of the OS once per process: `available_parallelism` reads the cgroup quota files each
/// time, which cost a tenth of the CPU of fetching and opening many small mails.
pub(crate) fn default_threads() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| thread::available_parallelism().map_or(1, |n| n.get().min(MAX_DEFAULT_THREADS)))
}

/// How many threads `chunks` chunks of `suite` are worth, given at most `max`.
///
/// Starting a thread costs tens of microseconds (more on a busy machine); a 64 KiB
/// chacha20-poly1305 chunk takes about 25-40 µs on one core, a des-cbc-md5 chunk about a
/// millisecond. So a thread is added per 4 chacha20-poly1305 chunks (small messages stay on the
/// calling thread) and per des-cbc-md5 chunk.
pub(crate) fn threads_for(suite: Suite, chunks: usize, max: usize) -> usize {
    let per_thread = match suite {
        Suite::ChaCha20Poly1305 => 4,
        Suite::LegacyDesCbcMd5 => 1,
    };
    (chunks / per_thread).clamp(1, max.max(1))
}

/// The chunk index from which a stream ([`crate::SealWriter`], [`crate::OpenReader`]) hands
/// its chunks to workers ([`crate::pipeline`]); before it, the calling thread does them.
///
/// The workers' buffers (up to 8 jobs of 256 KiB each way) are fresh memory, and touching it
/// the first time costs page faults: a 1 MiB chacha20-poly1305 stream took 0.9 ms longer with
/// workers than without (576 more faults), more than that MiB takes to seal on one core (about
/// 0.6 ms). So chacha20-poly1305 streams start workers after 1 MiB (the buffers then serve
/// the rest of a large message); des-cbc-md5 (about 10 ms a MiB) at once.
pub(crate) fn stream_workers_from(suite: Suite) -> u64 {
    match suite {
        Suite::ChaCha20Poly1305 => 16,
        Suite::LegacyDesCbcMd5 => 0,
    }
}

/// A job and whether it was done.
struct Slot<J> {
    job: J,
    done: bool,
}

fn lock<J>(slot: &Mutex<Slot<J>>) -> MutexGuard<'_, Slot<J>> {
    // A poisoned slot means a worker panicked; the scope re-raises that panic when it ends.
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Run `work` on every job, on up to `threads` threads, the calling one included.
///
/// The calling thread first runs `prelude` (while the others start on the jobs), then works on
/// jobs too, and hands every finished job to `in_order`, in the jobs' order, as soon as it and
/// every job before it are done. With one thread (or one job) nothing is started and the jobs
/// run in order on the calling thread. Returns the jobs, all done.
pub(crate) fn run<J: Send>(
    jobs: Vec<J>,
    threads: usize,
    work: impl Fn(&mut J) + Sync,
    prelude: impl FnOnce(),
    mut in_order: impl FnMut(&mut J),
) -> Vec<J> {
    let slots: Vec<Mutex<Slot<J>>> =
        jobs.into_iter().map(|job| Mutex::new(Slot { job, done: false })).collect();
    let count = slots.len();
    let next = AtomicUsize::new(0);
    // Claim the next job and do it; false when none is left to claim.
    let work_one = || {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = slots.get(i) else { return false };
        let mut slot = lock(slot);
        work(&mut slot.job);
        slot.done = true;
        true
    };
    thread::scope(|scope| {
        for _ in 1..threads.min(count) {
            // A thread that cannot be started leaves its share to the others.
            if thread::Builder::new().spawn_scoped(scope, || while work_one() {}).is_err() {
                break;
            }
        }
        prelude();
        let mut handed = 0;
        while handed < count {
            let slot = match slots[handed].try_lock() {
                Ok(slot) => Some(slot),
                Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(mut slot) = slot
                && slot.done
            {
                in_order(&mut slot.job);
                handed += 1;
                continue;
            }
            // The next job to hand over is not done: do another one meanwhile, or, when every
            // job is taken, wait for it (its worker holds the lock while working on it).
            if !work_one() {
                let slot = lock(&slots[handed]);
                if !slot.done {
                    // Claimed, but its worker has not locked it yet.
                    drop(slot);
                    thread::yield_now();
                }
            }
        }
    });
    slots.into_iter().map(|slot| slot.into_inner().unwrap_or_else(|p| p.into_inner()).job).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every job runs once, and `in_order` sees them in order, whatever the thread count.
    #[test]
    fn every_job_runs_once_and_is_handed_over_in_order() {
        for threads in [1, 2, 3, 8] {
            for count in [0, 1, 2, 5, 64] {
                let jobs: Vec<(usize, u32)> = (0..count).map(|i| (i, 0)).collect();
                let mut seen = Vec::new();
                let mut prelude_ran = false;
                let jobs =
                    run(jobs, threads, |job| job.1 += 1, || prelude_ran = true, |job| seen.push(job.0));
                assert!(prelude_ran);
                assert!(jobs.iter().all(|job| job.1 == 1), "{threads} threads, {count} jobs");
                assert_eq!(seen, (0..count).collect::<Vec<_>>(), "{threads} threads, {count} jobs");
            }
        }
    }

    #[test]
    fn small_messages_stay_on_one_thread() {
        assert_eq!(threads_for(Suite::ChaCha20Poly1305, 1, 8), 1);
        assert_eq!(threads_for(Suite::ChaCha20Poly1305, 7, 8), 1);
        assert_eq!(threads_for(Suite::ChaCha20Poly1305, 400, 2), 2);
        assert_eq!(threads_for(Suite::LegacyDesCbcMd5, 1, 8), 1);
        assert_eq!(threads_for(Suite::LegacyDesCbcMd5, 3, 8), 3);
        assert_eq!(threads_for(Suite::LegacyDesCbcMd5, 3, 0), 1);
    }
}
