//! The file-operation pool: a few threads per process that run the system
//! calls epoll cannot wait for (`pread`, `pwrite`, `fdatasync`, `openat`,
//! `renameat`, `statx` ...), with their results delivered back to the core
//! that asked.
//!
//! A [`Job`] is a [`Syscall`] (raw pointers into its operation's box, which
//! the core keeps alive until it has taken the result: see `syscall`), the
//! operation's token and the core's [`Inbox`]. A worker runs the call, pushes
//! `(token, result)` onto the inbox and then notifies the core through the
//! runtime's cross-thread wake path: the core's park flag, and its eventfd
//! only if it is parked. The core drains its inbox every tick and re-checks
//! it after raising its park flag, exactly as it does its remote-wake queue
//! (same `Injector`, same `sync::park` protocol), so no result is lost.
//!
//! Workers are spawned on demand up to [`MAX_WORKERS`] and exit after
//! [`KEEP_ALIVE`] without work. Jobs wait in one FIFO under a mutex: each
//! costs a thread handoff anyway (microseconds), which the lock does not
//! change. Workers run on the CPUs the process had before cores were pinned
//! (`set_affinity`), not on the CPU of the core that spawned them.
//!
//! Calls run in the order queued but may finish in any order, as on
//! io_uring; `O_DIRECT` and `fdatasync` keep their meaning (the same system
//! calls run, only on another thread). A call that never returns (a read of
//! a FIFO nobody writes) holds its worker.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use crossbeam_deque::Injector;

use super::syscall::Syscall;

/// Most pool threads per process.
pub(crate) const MAX_WORKERS: usize = 16;
/// An idle worker exits after this long.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Wakes the core that owns an [`Inbox`] (its `Shared::notify`).
pub(crate) type Notify = Arc<dyn Fn() + Send + Sync>;

/// Where a core's finished jobs land.
pub(crate) struct Inbox {
    pub(crate) done: Injector<(u64, i32)>,
    notify: Notify,
}

impl Inbox {
    pub(crate) fn new(notify: Notify) -> Arc<Self> {
        Arc::new(Self {
            done: Injector::new(),
            notify,
        })
    }
}

/// One blocking call for the pool.
pub(crate) struct Job {
    call: Syscall,
    token: u64,
    inbox: Arc<Inbox>,
}

// SAFETY: the only non-`Send` parts are the raw pointers of `call`. They
// point into the operation's box, which stays alive and untouched by the
// core (held by the `Op` future or by the orphaned slot, and only read
// back after the result is in the inbox) until `run` has pushed the result;
// the pushing is a release, the core's pop an acquire, so the core sees
// everything the call wrote.
unsafe impl Send for Job {}

impl Job {
    pub(crate) fn new(call: Syscall, token: u64, inbox: Arc<Inbox>) -> Self {
        Self { call, token, inbox }
    }

    fn run(self) {
        // SAFETY: see `unsafe impl Send`: the operation outlives the call.
        let result = unsafe { self.call.run_blocking() };
        self.inbox.done.push((self.token, result));
        (self.inbox.notify)();
    }
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    workers: usize,
    /// Workers waiting for a job (counted until they wake).
    idle: usize,
}

static POOL: OnceLock<Pool> = OnceLock::new();
static AFFINITY: OnceLock<Vec<usize>> = OnceLock::new();

/// The CPUs pool threads run on (the first call wins).
pub(crate) fn set_affinity(cpus: Vec<usize>) {
    let _ = AFFINITY.set(cpus);
}

fn pool() -> &'static Pool {
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State::default()),
        work: Condvar::new(),
    })
}

/// Queues `job`. If no thread can ever run it (none exists and none can be
/// spawned), runs it on the calling thread.
pub(crate) fn submit(job: Job) {
    let pool = pool();
    let mut state = lock(pool);
    state.queue.push_back(job);
    if state.idle > 0 {
        pool.work.notify_one();
    }
    if state.queue.len() <= state.idle || state.workers >= MAX_WORKERS {
        return;
    }
    state.workers += 1;
    let spawned = std::thread::Builder::new()
        .name("frys-fs".into())
        .spawn(move || worker(pool));
    if let Err(e) = spawned {
        state.workers -= 1;
        tracing::warn!(error = %e, "cannot start a file-operation thread");
        if state.workers == 0 {
            let job = state.queue.pop_back();
            drop(state);
            if let Some(job) = job {
                job.run();
            }
        }
    }
}

fn worker(pool: &'static Pool) {
    if let Some(cpus) = AFFINITY.get() {
        if let Err(e) = crate::topology::set_current_thread_affinity(cpus) {
            tracing::debug!(error = %e, "file-operation thread keeps its inherited affinity");
        }
    }
    let mut state = lock(pool);
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            job.run();
            state = lock(pool);
            continue;
        }
        state.idle += 1;
        let (woken, timeout) = pool
            .work
            .wait_timeout(state, KEEP_ALIVE)
            .unwrap_or_else(|e| e.into_inner());
        state = woken;
        state.idle -= 1;
        if timeout.timed_out() && state.queue.is_empty() {
            state.workers -= 1;
            return;
        }
    }
}

/// The state lock; a panic while holding it cannot leave the queue
/// inconsistent (no job runs under it), so poisoning is ignored.
fn lock(pool: &Pool) -> std::sync::MutexGuard<'_, State> {
    pool.state.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn jobs_run_on_pool_threads_and_report_to_their_inbox() {
        let notified = Arc::new(AtomicUsize::new(0));
        let n = notified.clone();
        let inbox = Inbox::new(Arc::new(move || {
            n.fetch_add(1, Ordering::SeqCst);
        }));
        let path = std::env::temp_dir().join(format!("frys-pool-{}", std::process::id()));
        std::fs::write(&path, b"0123456789abcdefXYZ").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        let mut bufs: Vec<Vec<u8>> = (0..8).map(|_| vec![0u8; 16]).collect();
        for (token, buf) in bufs.iter_mut().enumerate() {
            let call = Syscall::ReadAt {
                fd,
                buf: buf.as_mut_ptr(),
                len: buf.len(),
                offset: 0,
            };
            submit(Job::new(call, token as u64, inbox.clone()));
        }
        let mut seen = Vec::new();
        while seen.len() < 8 {
            match inbox.done.steal() {
                crossbeam_deque::Steal::Success((token, result)) => {
                    assert_eq!(result, 16, "token {token}");
                    seen.push(token);
                }
                _ => std::thread::yield_now(),
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..8).collect::<Vec<u64>>());
        assert_eq!(notified.load(Ordering::SeqCst), 8);
        assert!(bufs.iter().all(|b| b == b"0123456789abcdef"));
        std::fs::remove_file(&path).unwrap();
    }
}
