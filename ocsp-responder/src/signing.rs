//! Live signatures on a fixed set of threads, one per HSM session, fed by a
//! bounded queue; each result goes back to the waiting request through a
//! oneshot channel.
//!
//! Why not `block_in_place` on the tokio worker: every call hands the
//! worker's core to another thread (waking or spawning one) and takes it
//! back afterwards. Profiled under the live-signing load bench, that cost
//! about 35 µs of thread hand-offs, futex wake-ups, thread churn and
//! cache misses in SoftHSM per ~100 µs signature. Here a signer thread
//! with more work queued takes the next job without sleeping, and the
//! tokio workers never block, so a hung HSM only ever holds these threads.
//!
//! The queue holds at most `capacity` jobs (the live permits); callers
//! take a semaphore permit first (see [`crate::source::Live`]) and hand it
//! to the job, so the queue is never full in practice and a hung HSM
//! cannot make work pile up.
//!
//! The thread count is a setting (`live.signer_threads`, default one per
//! permit). Measured with SoftHSM on 2 cores shared with the HTTP side and
//! the load driver, 4 threads sign faster than 2, and 2 than 1 (10.9k,
//! 10.2k, 7.7k/s), although SoftHSM's own `C_Sign` loop runs about as fast
//! on 1 thread as on 2 or 4: the scheduler shares the cores by thread, so
//! one signer thread gets too small a share.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// One unit of blocking work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refused {
    /// As many jobs are queued as the capacity allows.
    Full,
    /// No signer thread could be started.
    NoThreads,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Threads waiting on `ready` (only they need a wake-up).
    idle: usize,
    closing: bool,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Jobs run outside the lock and panics are caught: poisoning can
        // only come from a panic in this module's few lines; the state is
        // still consistent then.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The signer threads. Dropping this stops them once the queue is empty
/// (a thread stuck in a hung HSM call ends when the call returns).
pub struct SignerThreads {
    shared: Arc<Shared>,
    threads: usize,
}

impl std::fmt::Debug for SignerThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerThreads")
            .field("threads", &self.threads)
            .field("queued", &self.shared.lock().jobs.len())
            .finish()
    }
}

impl SignerThreads {
    /// Starts `threads` (at least one) threads named `ocsp-signer-N`
    /// taking jobs from a queue of `capacity` (at least one). A thread that
    /// cannot be started is logged and left out.
    pub fn start(threads: usize, capacity: usize) -> Self {
        let wanted = threads.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        });
        let mut started = 0;
        for n in 0..wanted {
            let worker = Arc::clone(&shared);
            match std::thread::Builder::new()
                .name(format!("ocsp-signer-{n}"))
                .spawn(move || run(&worker))
            {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a signer thread"),
            }
        }
        Self {
            shared,
            threads: started,
        }
    }

    /// Threads running.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Queues `job` for the next free thread.
    pub fn submit(&self, job: Job) -> Result<(), Refused> {
        if self.threads == 0 {
            return Err(Refused::NoThreads);
        }
        let wake = {
            let mut state = self.shared.lock();
            if state.jobs.len() >= self.shared.capacity {
                return Err(Refused::Full);
            }
            state.jobs.push_back(job);
            state.idle > 0
        };
        // A busy thread finds the job when it finishes its own: no wake-up
        // (and no futex call) then.
        if wake {
            self.shared.ready.notify_one();
        }
        Ok(())
    }
}

impl Drop for SignerThreads {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.ready.notify_all();
    }
}

fn run(shared: &Shared) {
    loop {
        let job = {
            let mut state = shared.lock();
            loop {
                if let Some(job) = state.jobs.pop_front() {
                    break job;
                }
                if state.closing {
                    return;
                }
                state.idle += 1;
                state = shared
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                state.idle -= 1;
            }
        };
        // A panicking signer must not take the thread with it: the job's
        // reply channel is dropped, its caller answers internalError.
        if catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a live signing job panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn runs_jobs_refuses_beyond_capacity_and_survives_panics() {
        let threads = SignerThreads::start(2, 2);
        assert_eq!(threads.threads(), 2);
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate_rx));
        let (done_tx, done_rx) = mpsc::channel();
        // Two jobs block both threads, two more fill the queue.
        let wait_queued = |n: usize| {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while threads.shared.lock().jobs.len() > n && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        for i in 0..4 {
            let gate = Arc::clone(&gate);
            let done = done_tx.clone();
            let job: Job = Box::new(move || {
                let _ = gate.lock().unwrap().recv();
                done.send(i).unwrap();
            });
            threads.submit(job).unwrap();
            if i == 1 {
                wait_queued(0);
            }
        }
        wait_queued(2);
        assert_eq!(
            threads.submit(Box::new(|| {})).unwrap_err(),
            Refused::Full,
            "a fifth job fits nowhere"
        );
        for _ in 0..4 {
            gate_tx.send(()).unwrap();
        }
        let mut got: Vec<i32> = (0..4)
            .map(|_| done_rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3]);

        threads.submit(Box::new(|| panic!("signer bug"))).unwrap();
        let (tx, rx) = mpsc::channel();
        for _ in 0..4 {
            let tx = tx.clone();
            threads
                .submit(Box::new(move || tx.send(()).unwrap()))
                .unwrap();
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
    }
}
