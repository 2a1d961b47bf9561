//! Per-core counters (commands, errors, forwarded commands, connections).
//!
//! Each core counts into thread-local cells: no atomics or locks on the
//! command path. INFO and /metrics gather every core's [`CoreCounters`]
//! over the mesh (`submit_to`).

use std::cell::RefCell;
use std::collections::BTreeMap;

/// A copy of one core's counters.
#[derive(Debug, Clone, Default)]
pub struct CoreCounters {
    /// Calls per command name.
    pub calls: BTreeMap<&'static str, u64>,
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
    /// Bytes read from clients.
    pub net_input_bytes: u64,
    /// Bytes written to clients.
    pub net_output_bytes: u64,
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

/// A connection was refused.
pub fn count_rejected() {
    with(|c| c.rejected += 1);
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
        c.connections_received = 0;
        c.net_input_bytes = 0;
        c.net_output_bytes = 0;
    });
}
