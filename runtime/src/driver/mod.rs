//! The per-core I/O driver: io_uring (`uring`) or epoll (`epoll`), behind
//! one interface.
//!
//! One [`Driver`] per core, created and used only on that core's thread.
//! Both drivers run the same operations ([`Operation`]): each describes
//! itself once as an io_uring SQE and once as a system call
//! ([`Syscall`]), and both resolve it through the same generation-checked
//! slab (`slab`), so an [`Op`] future, its cancellation and its orphaned
//! buffers behave the same on either. What differs is how the core waits:
//! in `io_uring_enter` for completions, or in `epoll_wait` for readiness
//! (with file operations on a thread pool). Either way the core's eventfd
//! ends a park, written by other threads only while the core is parked
//! (`sync::park`).
//!
//! Which driver a runtime gets is decided once per build (`kind`).

mod epoll;
mod kind;
mod op;
mod setup;
mod slab;
mod uring;

pub(crate) use epoll::{Notify, SourceRef, SourceState, Syscall};
pub(crate) use kind::resolve as resolve_kind;
pub use kind::{DriverKind, ParseDriverKindError, DRIVER_ENV};
pub(crate) use op::{Completion, Op, Operation};
pub use setup::RingSetupError;

use std::io;
use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use epoll::EpollDriver;
use slab::FinishedOrphan;
use uring::UringDriver;

/// The driver of one core.
// One per core, inside the core's context: the unused bytes of the smaller
// variant cost nothing, while boxing would add an indirection to every
// I/O call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Driver {
    Uring(UringDriver),
    Epoll(EpollDriver),
}

impl Driver {
    /// Creates an io_uring driver on the calling thread. `eventfd` must
    /// stay open for the driver's whole life (the core owns it).
    pub(crate) fn io_uring(entries: u32, eventfd: RawFd) -> Result<Self, RingSetupError> {
        UringDriver::new(entries, eventfd).map(Driver::Uring)
    }

    /// Creates an epoll driver on the calling thread. `eventfd` must stay
    /// open for the driver's whole life (it is switched to non-blocking
    /// mode); `notify` wakes this core from the file-operation pool's
    /// threads.
    pub(crate) fn epoll(eventfd: RawFd, notify: Notify) -> io::Result<Self> {
        EpollDriver::new(eventfd, notify).map(Driver::Epoll)
    }

    /// Unique among all drivers of the process: an `Op` remembers it and is
    /// only ever resolved against the driver that carries it.
    pub(crate) fn id(&self) -> u64 {
        match self {
            Driver::Uring(d) => d.id(),
            Driver::Epoll(d) => d.id(),
        }
    }

    pub(crate) fn kind(&self) -> DriverKind {
        match self {
            Driver::Uring(_) => DriverKind::IoUring,
            Driver::Epoll(_) => DriverKind::Epoll,
        }
    }

    /// Kernel waits made (`io_uring_enter` or `epoll_wait`), for metrics.
    pub(crate) fn enters(&self) -> u64 {
        match self {
            Driver::Uring(d) => d.enters(),
            Driver::Epoll(d) => d.waits(),
        }
    }

    /// Starts `op`, which is at its final heap address and stays there
    /// until its completion is taken or it is released as an orphan.
    /// Returns its token.
    pub(crate) fn submit<T: Operation>(&mut self, op: &mut T) -> io::Result<u64> {
        match self {
            Driver::Uring(d) => d.submit_op(op.sqe()),
            Driver::Epoll(d) => d.submit(op.syscall()),
        }
    }

    pub(crate) fn poll_op(&mut self, token: u64, cx: &mut Context<'_>) -> Poll<(i32, u32)> {
        match self {
            Driver::Uring(d) => d.poll_op(token, cx),
            Driver::Epoll(d) => d.poll_op(token, cx),
        }
    }

    /// The future of operation `token` was dropped; see
    /// `UringDriver::orphan` and `EpollDriver::orphan`.
    #[must_use]
    pub(crate) fn orphan(
        &mut self,
        token: u64,
        data: Box<dyn slab::Orphan>,
    ) -> Option<FinishedOrphan> {
        match self {
            Driver::Uring(d) => d.orphan(token, data),
            Driver::Epoll(d) => d.orphan(token, data),
        }
    }

    /// Orphans whose operation finished; release them with
    /// [`release_orphans`] once the driver is no longer borrowed.
    pub(crate) fn take_finished_orphans(&mut self) -> Vec<FinishedOrphan> {
        match self {
            Driver::Uring(d) => d.take_finished_orphans(),
            Driver::Epoll(d) => d.take_finished_orphans(),
        }
    }

    /// Whether a non-blocking [`submit_and_reap`](Self::submit_and_reap)
    /// may find something.
    pub(crate) fn has_progress(&mut self) -> bool {
        match self {
            Driver::Uring(d) => d.has_progress(),
            Driver::Epoll(d) => d.has_progress(),
        }
    }

    /// Hands queued work to the kernel without waiting, then collects what
    /// completed or became ready.
    pub(crate) fn submit_and_reap(&mut self, woken: &mut Vec<Waker>) -> io::Result<()> {
        match self {
            Driver::Uring(d) => d.submit_and_reap(woken),
            Driver::Epoll(d) => d.submit_and_reap(woken),
        }
    }

    /// Sleeps in the kernel until an operation progresses, the eventfd is
    /// written or `timeout` passes. Call only after `begin_park` and a
    /// re-check that found no work.
    pub(crate) fn park(
        &mut self,
        timeout: Option<Duration>,
        woken: &mut Vec<Waker>,
    ) -> io::Result<()> {
        match self {
            Driver::Uring(d) => d.park(timeout, woken),
            Driver::Epoll(d) => d.park(timeout, woken),
        }
    }
}

/// A fresh driver id (never 0, never reused in the process).
pub(crate) fn next_driver_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Where the file-operation pool's threads may run: the process's CPUs
/// before any core was pinned (recorded by the first runtime built).
pub(crate) fn set_pool_affinity(cpus: Vec<usize>) {
    epoll::set_pool_affinity(cpus);
}

/// Releases finished orphans (closing what the kernel produced, dropping
/// the buffers). Call without the driver borrowed. A panic in one is logged
/// and does not stop the others.
pub(crate) fn release_orphans(orphans: Vec<FinishedOrphan>) {
    for (orphan, result) in orphans {
        let released = catch_unwind(AssertUnwindSafe(|| orphan.completed(result)));
        if released.is_err() {
            tracing::error!("releasing an abandoned I/O operation panicked");
        }
    }
}
