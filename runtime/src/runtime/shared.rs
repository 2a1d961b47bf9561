//! State every core can reach: per-core remote queues, park flags, eventfds,
//! stealers and counters. Everything here is `Sync` and lock-free; nothing
//! here is mutated by a core on behalf of another except through atomics and
//! the lock-free queues.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_deque::{Injector, Stealer};

use super::queue::{QueueTable, MAX_QUEUES};
use crate::driver::DriverKind;
use crate::sync::ParkFlag;
use crate::task::TaskRef;

pub(crate) struct Shared {
    /// Unique per runtime in this process (never reused).
    pub(crate) id: u64,
    pub(crate) cores: Box<[CoreShared]>,
    /// Per core, one per task queue slot: steals from that core's
    /// stealable deque of that queue.
    pub(crate) stealers: Box<[Box<[Stealer<TaskRef>]>]>,
    /// The task queues of this runtime (`runtime::queue`).
    pub(crate) queues: QueueTable,
    /// Polling time after which a core's running queue yields to the
    /// others (`Builder::task_quota`).
    pub(crate) task_quota: Duration,
    /// A single poll longer than this is a stall (`runtime::stall`).
    pub(crate) stall_threshold: Duration,
    pub(crate) stealing: bool,
    /// How long an idle core polls before parking (`runtime::idle`).
    pub(crate) idle_poll: Duration,
    /// Whether each core adapts its window (`runtime::idle::IdleWindow`).
    pub(crate) adaptive_idle_poll: bool,
    /// The I/O driver of every core (never `Auto`).
    pub(crate) driver: DriverKind,
    pub(crate) shutdown: AtomicBool,
}

pub(crate) struct CoreShared {
    /// Tasks woken from other threads, drained by the core every tick.
    pub(crate) remote: Injector<TaskRef>,
    pub(crate) park: ParkFlag,
    /// Written to end the core's park; its ring always has a read armed, or
    /// its epoll set watches it.
    pub(crate) eventfd: OwnedFd,
    pub(crate) cpu: usize,
    pub(crate) node: usize,
    pub(crate) counters: CoreCounters,
}

/// Counters of one core, updated with relaxed atomics.
#[derive(Default)]
pub(crate) struct CoreCounters {
    pub(crate) polls: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) stolen_from: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) remote_wakes: AtomicU64,
    pub(crate) io_enters: AtomicU64,
    /// Polls that ran past the stall threshold.
    pub(crate) stalls: AtomicU64,
    /// Per task queue slot: nanoseconds its tasks were polled here.
    pub(crate) queue_runtime_ns: [AtomicU64; MAX_QUEUES],
    /// Per task queue slot: polls of its tasks here.
    pub(crate) queue_polls: [AtomicU64; MAX_QUEUES],
}

impl Shared {
    /// Ends core `index`'s park if it is parked (or about to).
    pub(crate) fn notify(&self, index: usize) {
        let core = &self.cores[index];
        if core.park.must_notify() {
            write_eventfd(&core.eventfd);
        }
    }

    /// Queues a task woken off its core and makes sure the core sees it.
    pub(crate) fn schedule_remote(&self, index: usize, task: TaskRef) {
        let core = &self.cores[index];
        core.counters.remote_wakes.fetch_add(1, Ordering::Relaxed);
        core.remote.push(task);
        self.notify(index);
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }
}

pub(crate) fn write_eventfd(fd: &OwnedFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to an fd we own. A failure can
    // only be EAGAIN (counter saturated: the core will wake anyway).
    let _ = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
}

pub(crate) fn new_eventfd() -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall; the returned fd is checked and owned below.
    // Blocking mode, so the armed io_uring read waits for a write on every
    // kernel rather than possibly failing with EAGAIN (which would make the
    // park spin); the epoll driver makes it non-blocking. A write blocks only
    // near a 2^64 count: never in practice.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh, valid descriptor nobody else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}
