//! Per-core counters, read as a snapshot.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::shared::Shared;

/// A snapshot of one core's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoreStats {
    /// Core index.
    pub core: usize,
    /// CPU the core runs on.
    pub cpu: usize,
    /// NUMA node of that CPU.
    pub node: usize,
    /// Task polls.
    pub polls: u64,
    /// Tasks this core stole from others.
    pub steals: u64,
    /// Tasks other cores stole from this one.
    pub stolen_from: u64,
    /// Times the core parked in the kernel.
    pub parks: u64,
    /// Wakes that arrived from other threads.
    pub remote_wakes: u64,
    /// `io_uring_enter` calls, or `epoll_wait` calls on the epoll driver
    /// (updated when the core parks).
    pub io_enters: u64,
    /// Polls that held the core past the stall threshold
    /// ([`Builder::stall_threshold`](crate::Builder::stall_threshold)).
    pub stalls: u64,
    /// Time and polls of every task queue on this core, default queue
    /// first, in the order the queues were made.
    pub queues: Vec<QueueStats>,
}

/// What one [`TaskQueue`](crate::TaskQueue) got of one core.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// The queue's name.
    pub name: String,
    /// The queue's shares.
    pub shares: u32,
    /// Wall time its tasks were polled on this core (what its shares
    /// are weighed against).
    pub runtime: Duration,
    /// Polls of its tasks on this core.
    pub polls: u64,
}

pub(crate) fn snapshot(shared: &Shared) -> Vec<CoreStats> {
    shared
        .cores
        .iter()
        .enumerate()
        .map(|(core, c)| CoreStats {
            core,
            cpu: c.cpu,
            node: c.node,
            polls: c.counters.polls.load(Ordering::Relaxed),
            steals: c.counters.steals.load(Ordering::Relaxed),
            stolen_from: c.counters.stolen_from.load(Ordering::Relaxed),
            parks: c.counters.parks.load(Ordering::Relaxed),
            remote_wakes: c.counters.remote_wakes.load(Ordering::Relaxed),
            io_enters: c.counters.io_enters.load(Ordering::Relaxed),
            stalls: c.counters.stalls.load(Ordering::Relaxed),
            queues: shared
                .queues
                .iter()
                .map(|(q, spec)| QueueStats {
                    name: spec.name.to_string(),
                    shares: spec.shares,
                    runtime: Duration::from_nanos(
                        c.counters.queue_runtime_ns[q].load(Ordering::Relaxed),
                    ),
                    polls: c.counters.queue_polls[q].load(Ordering::Relaxed),
                })
                .collect(),
        })
        .collect()
}
