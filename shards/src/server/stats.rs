//! Per-core counters (commands, errors, forwarded commands, connections).
//!
//! Each core counts into thread-local cells: no atomics or locks on the
//! command path. INFO and /metrics gather every core's [`CoreCounters`]
//! over the mesh (`submit_to`).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// A copy of one core's counters.
#[derive(Debug, Clone, Default)]
pub struct CoreCounters {
    /// Calls per command name.
    pub calls: HashMap<&'static str, u64, foldhash::fast::FixedState>,
    /// Microseconds commands of each name spent being polled on this core
    /// (INFO commandstats' `usec`): the time a command occupied a core,
    /// not the time it waited (for the WAL, another core, a lock).
    pub usec: HashMap<&'static str, u64, foldhash::fast::FixedState>,
    /// Error replies per error code (first word).
    pub errors: BTreeMap<String, u64>,
    /// Commands this core forwarded, per target core.
    pub forwarded: Vec<u64>,
    /// Connections accepted on this core.
    pub connections_received: u64,
    /// Connections open on this core now.
    pub connected: u64,
    /// Connections refused (maxclients).
    pub rejected: u64,
    /// Clients closed over their `client-output-buffer-limit` (Redis
    /// 7.2's `client_output_buffer_limit_disconnections`).
    pub output_limit_disconnections: u64,
    /// Clients of this core blocked now (BLPOP & co.).
    pub blocked: u64,
    /// Keys deleted by the active expiry cycle.
    pub expired_keys: u64,
    /// Bytes read from clients.
    pub net_input_bytes: u64,
    /// Bytes written to clients.
    pub net_output_bytes: u64,
    /// Request latency (dispatch to reply ready): bucket `i` counts
    /// requests that took less than `2^i` microseconds (the last bucket:
    /// any longer).
    pub latency_buckets: [u64; LATENCY_BUCKETS],
    /// Sum of all request latencies, in microseconds.
    pub latency_sum_us: u64,
}

/// Number of latency buckets: `< 1 us, < 2 us, ... < 2^21 us (~2 s)`, then
/// everything longer.
pub const LATENCY_BUCKETS: usize = 23;

/// Upper bound in microseconds of latency bucket `i` (`None`: +Inf).
pub fn latency_bucket_bound_us(i: usize) -> Option<u64> {
    (i + 1 < LATENCY_BUCKETS).then(|| 1u64 << i)
}

thread_local! {
    static COUNTERS: RefCell<CoreCounters> = RefCell::new(CoreCounters::default());
}

fn with<R>(f: impl FnOnce(&mut CoreCounters) -> R) -> R {
    COUNTERS.with(|c| f(&mut c.borrow_mut()))
}

/// Counts a call of `name`.
pub fn count_call(name: &'static str) {
    with(|c| *c.calls.entry(name).or_insert(0) += 1);
}

/// Adds `us` microseconds of core time to command `name`.
pub fn record_usec(name: &'static str, us: u64) {
    with(|c| *c.usec.entry(name).or_insert(0) += us);
}

/// A command's future, timed: the time spent inside its polls is added to
/// its command's `usec` when it completes.
pub struct Timed<F> {
    inner: F,
    name: &'static str,
    spent: std::time::Duration,
}

impl<F> Timed<F> {
    /// Times `inner` as a call of `name`.
    pub fn new(name: &'static str, inner: F) -> Timed<F> {
        Timed {
            inner,
            name,
            spent: std::time::Duration::ZERO,
        }
    }
}

impl<F: std::future::Future + Unpin> std::future::Future for Timed<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let started = std::time::Instant::now();
        let r = std::pin::Pin::new(&mut self.inner).poll(cx);
        self.spent += started.elapsed();
        if r.is_ready() {
            record_usec(self.name, self.spent.as_micros() as u64);
        }
        r
    }
}

/// Counts an error reply by its code.
pub fn count_error(text: &str) {
    let code = text.split(' ').next().unwrap_or("ERR");
    with(|c| match c.errors.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            c.errors.insert(code.to_string(), 1);
        }
    });
}

/// Records `n` requests whose replies were ready `us` microseconds after
/// they were dispatched.
pub fn record_latency(us: u64, n: usize) {
    let bucket = if us == 0 {
        0
    } else {
        (64 - us.leading_zeros()) as usize
    }
    .min(LATENCY_BUCKETS - 1);
    with(|c| {
        c.latency_buckets[bucket] += n as u64;
        c.latency_sum_us += us * n as u64;
    });
}

/// Counts keys the active expiry cycle deleted.
pub fn count_expired(n: usize) {
    with(|c| c.expired_keys += n as u64);
}

/// Counts `n` commands forwarded to `core`.
pub fn count_forwarded(core: usize, n: usize) {
    with(|c| {
        if c.forwarded.len() <= core {
            c.forwarded.resize(core + 1, 0);
        }
        c.forwarded[core] += n as u64;
    });
}

/// A connection was accepted (`true`) or closed (`false`).
pub fn count_connection(open: bool) {
    with(|c| {
        if open {
            c.connections_received += 1;
            c.connected += 1;
        } else {
            c.connected = c.connected.saturating_sub(1);
        }
    });
}

/// A client blocked (`true`) or stopped being blocked (`false`).
pub fn count_blocked(blocked: bool) {
    with(|c| {
        if blocked {
            c.blocked += 1;
        } else {
            c.blocked = c.blocked.saturating_sub(1);
        }
    });
}

/// A connection was refused.
pub fn count_rejected() {
    with(|c| c.rejected += 1);
}

/// A client was closed over its output buffer limit.
pub fn count_output_limit_disconnection() {
    with(|c| c.output_limit_disconnections += 1);
}

/// Bytes read and written.
pub fn count_bytes(input: usize, output: usize) {
    with(|c| {
        c.net_input_bytes += input as u64;
        c.net_output_bytes += output as u64;
    });
}

/// A copy of this core's counters.
pub fn snapshot() -> CoreCounters {
    with(|c| c.clone())
}

/// Clears the command and error counters (CONFIG RESETSTAT).
pub fn reset() {
    with(|c| {
        c.calls.clear();
        c.errors.clear();
        c.forwarded.clear();
        c.rejected = 0;
        c.output_limit_disconnections = 0;
        c.expired_keys = 0;
        c.connections_received = 0;
        c.net_input_bytes = 0;
        c.net_output_bytes = 0;
        c.latency_buckets = [0; LATENCY_BUCKETS];
        c.latency_sum_us = 0;
    });
}
