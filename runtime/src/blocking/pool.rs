//! The process-wide blocking pool: a FIFO of jobs and the threads that
//! take them.
//!
//! Invariants (under `POOL`): `idle` counts threads waiting for a job
//! (including one notified but not yet awake); `threads` counts live
//! threads. A submitted job wakes an idle thread if there is one, and
//! starts a thread whenever queued jobs outnumber idle threads (below
//! `MAX_THREADS`), so two jobs submitted at once never wait for each other
//! while the pool may grow.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use super::{IDLE_TIMEOUT, MAX_THREADS};

pub(super) type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    queue: VecDeque::new(),
    threads: 0,
    idle: 0,
});
static WORK: Condvar = Condvar::new();

pub(super) fn submit(job: Job) {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    pool.queue.push_back(job);
    if pool.idle > 0 {
        WORK.notify_one();
    }
    // An idle thread that was notified counts as idle until it wakes, so
    // compare with the queue: more jobs than idle threads need a new one.
    if pool.queue.len() > pool.idle && pool.threads < MAX_THREADS {
        let started = std::thread::Builder::new()
            .name("frys-blocking".into())
            .spawn(worker);
        match started {
            Ok(_) => pool.threads += 1,
            // No thread could be made: an existing one takes the job when
            // it is free; with none at all, run it here rather than lose it.
            Err(e) if pool.threads == 0 => {
                tracing::warn!(error = %e, "cannot start a blocking-pool thread; running the job inline");
                let job = pool.queue.pop_back().expect("just pushed");
                drop(pool);
                job();
            }
            Err(e) => tracing::warn!(error = %e, "cannot start a blocking-pool thread"),
        }
    }
}

fn worker() {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = pool.queue.pop_front() {
            drop(pool);
            // Panics are caught inside the job (spawn_blocking wraps it).
            job();
            pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        pool.idle += 1;
        let (guard, timeout) = WORK
            .wait_timeout(pool, IDLE_TIMEOUT)
            .unwrap_or_else(|e| e.into_inner());
        pool = guard;
        pool.idle -= 1;
        if timeout.timed_out() && pool.queue.is_empty() {
            pool.threads -= 1;
            return;
        }
    }
}
