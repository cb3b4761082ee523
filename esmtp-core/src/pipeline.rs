//! Threads that live as long as a stream: the streaming writer's and reader's chunks.
//!
//! A one-call seal or open has all its chunks at hand and runs them on scoped threads
//! ([`crate::parallel`]). A stream gets its bytes a write (or a read) at a time, and starting
//! threads for every batch, with the calling thread idle while they ran and the workers idle while
//! it copied bytes in and out, left a second core mostly unused. Here the workers are started once,
//! when a stream proves long enough, and take jobs (a few chunks each) while the calling thread
//! fills the next job and hands on finished ones, strictly in the order they were submitted.
//!
//! The calling thread counts as one of the threads: there is one worker fewer, and a caller that
//! would wait for a job takes a queued one and does it itself. So the stream's threads never
//! outnumber the threads asked for, and a core does not sit idle while the caller, woken late by
//! a scheduler whose cores the workers hold, gets round to handing out work.
//!
//! Memory stays bounded by the caller: [`Pipeline::in_flight`] says how many jobs are out, and
//! the caller takes a finished one before submitting past its limit. Dropping a pipeline ends its
//! workers after the job each is on; a job's buffers are the caller's to wipe (they are
//! `Zeroizing` where they hold plaintext).

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

/// A finished job and its place in order; a panic in the work is carried to the calling thread,
/// which unwinds with it as it would have doing the job itself.
type Done<O> = (u64, thread::Result<O>);

/// The job queue's receiving end, shared by the workers and the waiting caller.
type Queue<J> = Arc<Mutex<Receiver<(u64, J)>>>;

/// Jobs done by worker threads and handed back in the order they were submitted.
pub(crate) struct Pipeline<J, O> {
    work: Arc<dyn Fn(J) -> O + Send + Sync>,
    /// Up to this many workers, started at the first job that may not run inline.
    max_workers: usize,
    jobs: Option<Sender<(u64, J)>>,
    /// The workers' end of `jobs`, from which a waiting caller takes jobs too.
    queue: Option<Queue<J>>,
    /// Behind a lock only so that the streams holding a pipeline stay `Sync`, as they were
    /// before they had one (a `Receiver` is not); only the calling thread ever takes it.
    done: Option<Mutex<Receiver<Done<O>>>>,
    workers: Vec<JoinHandle<()>>,
    submitted: u64,
    taken: u64,
    /// Finished ahead of an earlier job, or done inline.
    arrived: BTreeMap<u64, O>,
}

impl<J: Send + 'static, O: Send + 'static> Pipeline<J, O> {
    /// A pipeline doing `work` on up to `max_workers` threads; none is started yet.
    pub(crate) fn new(max_workers: usize, work: impl Fn(J) -> O + Send + Sync + 'static) -> Self {
        Pipeline {
            work: Arc::new(work),
            max_workers,
            jobs: None,
            queue: None,
            done: None,
            workers: Vec::new(),
            submitted: 0,
            taken: 0,
            arrived: BTreeMap::new(),
        }
    }

    /// Jobs submitted and not taken yet.
    pub(crate) fn in_flight(&self) -> usize {
        usize::try_from(self.submitted - self.taken).unwrap_or(usize::MAX)
    }

    /// Hand `job` to the workers, starting them if none runs yet. With `inline` and no worker
    /// running, the job is done on the calling thread instead (the last job of a short stream is
    /// not worth starting threads for). When no thread can be started, every job runs inline.
    pub(crate) fn submit(&mut self, job: J, inline: bool) {
        let seq = self.submitted;
        self.submitted += 1;
        if self.jobs.is_none() && !inline {
            self.start();
        }
        let job = match &self.jobs {
            Some(jobs) => match jobs.send((seq, job)) {
                Ok(()) => return,
                // Every worker has ended, which only a failed start leaves behind.
                Err(mpsc::SendError((_, job))) => job,
            },
            None => job,
        };
        let output = (self.work)(job);
        self.arrived.insert(seq, output);
    }

    /// The next job in order if it is finished, without waiting.
    pub(crate) fn try_next(&mut self) -> Option<O> {
        while let Some(finished) = self.done.as_ref().and_then(|done| lock(done).try_recv().ok()) {
            self.arrive(finished);
        }
        self.take_arrived()
    }

    /// The next job in order, doing queued jobs meanwhile; `None` when nothing is in flight.
    pub(crate) fn next(&mut self) -> Option<O> {
        if self.in_flight() == 0 {
            return None;
        }
        loop {
            if let Some(output) = self.try_next() {
                return Some(output);
            }
            if let Some((seq, job)) = self.queued() {
                let output = (self.work)(job);
                self.arrived.insert(seq, output);
                continue;
            }
            let finished = self.done.as_ref().map(|done| lock(done).recv());
            match finished {
                Some(Ok(finished)) => self.arrive(finished),
                // Unreachable while a job is in flight: a worker reports every job it takes,
                // panics included, and the workers end only when `jobs` is dropped.
                _ => return None,
            }
        }
    }

    /// A job no worker has taken yet. (A worker waiting for jobs holds the lock, but then the
    /// queue is empty.)
    fn queued(&self) -> Option<(u64, J)> {
        let queue = self.queue.as_ref()?.try_lock().ok()?;
        queue.try_recv().ok()
    }

    fn take_arrived(&mut self) -> Option<O> {
        let output = self.arrived.remove(&self.taken)?;
        self.taken += 1;
        Some(output)
    }

    fn arrive(&mut self, (seq, output): Done<O>) {
        let output = output.unwrap_or_else(|panic| panic::resume_unwind(panic));
        self.arrived.insert(seq, output);
    }

    fn start(&mut self) {
        let (job_tx, job_rx) = mpsc::channel::<(u64, J)>();
        let (done_tx, done_rx) = mpsc::channel::<Done<O>>();
        let job_rx: Queue<J> = Arc::new(Mutex::new(job_rx));
        // The calling thread is one of the threads (it works while it waits), unless only one
        // was asked for: then a worker does the jobs and the caller fills them.
        for _ in 0..self.max_workers.saturating_sub(1).max(1) {
            let (job_rx, done_tx, work) = (Arc::clone(&job_rx), done_tx.clone(), Arc::clone(&self.work));
            let worker = thread::Builder::new().name("esmtp-chunks".into()).spawn(move || {
                loop {
                    // The lock is held while waiting for a job, not while doing it.
                    let job = lock(&job_rx).recv();
                    let Ok((seq, job)) = job else { return };
                    let output = panic::catch_unwind(AssertUnwindSafe(|| work(job)));
                    if done_tx.send((seq, output)).is_err() {
                        return;
                    }
                }
            });
            // A thread that cannot be started leaves its share to the others.
            match worker {
                Ok(worker) => self.workers.push(worker),
                Err(_) => break,
            }
        }
        if !self.workers.is_empty() {
            self.jobs = Some(job_tx);
            self.queue = Some(job_rx);
            self.done = Some(Mutex::new(done_rx));
        }
    }
}

/// A lock whose holder cannot have panicked while holding it (receiving does not panic).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<J, O> Drop for Pipeline<J, O> {
    fn drop(&mut self) {
        // Closing the job queue ends each worker after its current job. Joined so that no
        // worker outlives the stream (and its buffers); a worker's panic was caught in it.
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_come_back_in_the_order_submitted() {
        for workers in [1, 2, 4] {
            let mut pipeline = Pipeline::new(workers, |n: u64| {
                // Early jobs take longest, so they finish out of order.
                thread::sleep(std::time::Duration::from_micros(200u64.saturating_sub(n * 10)));
                n * 2
            });
            let mut seen = Vec::new();
            for n in 0..40 {
                pipeline.submit(n, false);
                if pipeline.in_flight() >= 6
                    && let Some(out) = pipeline.next()
                {
                    seen.push(out);
                }
                while let Some(out) = pipeline.try_next() {
                    seen.push(out);
                }
            }
            while let Some(out) = pipeline.next() {
                seen.push(out);
            }
            assert_eq!(seen, (0..40).map(|n| n * 2).collect::<Vec<_>>(), "{workers} workers");
            assert_eq!(pipeline.in_flight(), 0);
        }
    }

    #[test]
    fn an_inline_job_before_any_worker_runs_on_the_calling_thread() {
        let caller = thread::current().id();
        let mut pipeline = Pipeline::new(2, move |()| thread::current().id() == caller);
        pipeline.submit((), true);
        assert!(pipeline.workers.is_empty());
        assert_eq!(pipeline.next(), Some(true));
        // Then a worker starts (one fewer than the threads: the caller is the other), though
        // the waiting caller may still take the job before it does.
        pipeline.submit((), false);
        assert_eq!(pipeline.workers.len(), 1);
        assert!(pipeline.next().is_some());
        assert_eq!(pipeline.next(), None);
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller() {
        let mut pipeline = Pipeline::new(2, |n: u32| {
            assert!(n != 3, "job three fails");
            n
        });
        for n in 0..5 {
            pipeline.submit(n, false);
        }
        let caught = panic::catch_unwind(AssertUnwindSafe(|| while pipeline.next().is_some() {}));
        let message = caught.expect_err("the worker's panic is re-raised");
        assert_eq!(message.downcast_ref::<&str>(), Some(&"job three fails"));
    }

    #[test]
    fn dropping_with_jobs_in_flight_ends_the_workers() {
        // The work holds a reference that only the workers and the pipeline share: once the
        // pipeline is dropped, no copy of it may be left in a running thread.
        let alive = Arc::new(());
        let held = Arc::clone(&alive);
        let mut pipeline = Pipeline::new(3, move |n: u32| {
            let _held = &held;
            thread::sleep(std::time::Duration::from_millis(2));
            n
        });
        for n in 0..10 {
            pipeline.submit(n, false);
        }
        assert_eq!(pipeline.workers.len(), 2);
        drop(pipeline);
        assert_eq!(Arc::strong_count(&alive), 1, "a worker outlived its pipeline");
    }
}
