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
//!
//! Pooled receives (`TcpStream::recv_pooled`) take their buffers from the
//! core's provided buffer ring (`uring::BufRing`, multishot receive) where
//! the ring's probe found it, else from the core's heap pool (`recv_pool`),
//! only once the socket is readable. Either way an idle connection holds
//! no buffer.

mod epoll;
mod kind;
mod op;
mod recv_pool;
mod setup;
mod slab;
mod uring;

pub(crate) use epoll::{Notify, SourceRef, SourceState, Syscall};
pub(crate) use kind::resolve as resolve_kind;
pub use kind::{DriverKind, ParseDriverKindError, DRIVER_ENV};
pub(crate) use op::{Completion, Op, Operation};
pub(crate) use recv_pool::{PoolRecv, RecvPool};
pub use setup::RingSetupError;
pub(crate) use uring::{BufRing, Features, MultishotCqe, MultishotKind, MAX_RING_BUFFERS};
#[cfg(test)]
pub(crate) use uring::{ACCEPT_QUEUE_CAP, RECV_QUEUE_CAP};

use std::any::Any;
use std::io;
use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use epoll::EpollDriver;
use slab::FinishedOrphan;
use uring::UringDriver;

/// The network fast-path settings of a core's driver (from the builder).
#[derive(Debug, Clone)]
pub(crate) struct NetConfig {
    /// Use what the io_uring probe finds (false: behave as on a kernel
    /// without multishot, buffer rings or `SEND_ZC`).
    pub(crate) fast_path: bool,
    /// Buffers in the provided buffer ring (a power of two), and the most
    /// heap pool buffers kept free.
    pub(crate) recv_buffers: u16,
    /// Bytes per receive buffer (ring and pool).
    pub(crate) recv_buffer_size: u32,
    /// Sends of at least this many bytes use `SEND_ZC` where the kernel
    /// has it (`None`: never).
    pub(crate) send_zc_threshold: Option<usize>,
}

/// Pooled-receive bookkeeping of one core (tests).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PooledStats {
    /// Ring buffers handed out by the kernel and not recycled.
    pub(crate) ring_out: usize,
    /// Heap pool buffers taken and not returned.
    pub(crate) pool_out: usize,
    /// Multishot operations the kernel may still post to.
    pub(crate) multishot_in_flight: usize,
    /// Multishot CQEs queued, not yet taken by their owners.
    pub(crate) multishot_queued: usize,
    /// Reads into heap buffers after the ring ran out (`ENOBUFS`).
    pub(crate) direct_reads: u64,
    /// `SEND_ZC` buffer notifications reaped.
    pub(crate) zc_notifs: u64,
}

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
    pub(crate) fn io_uring(
        entries: u32,
        eventfd: RawFd,
        net: &NetConfig,
    ) -> Result<Self, RingSetupError> {
        UringDriver::new(entries, eventfd, net).map(Driver::Uring)
    }

    /// Creates an epoll driver on the calling thread. `eventfd` must stay
    /// open for the driver's whole life (it is switched to non-blocking
    /// mode); `notify` wakes this core from the file-operation pool's
    /// threads.
    pub(crate) fn epoll(eventfd: RawFd, notify: Notify, net: &NetConfig) -> io::Result<Self> {
        let pool = RecvPool::new(net.recv_buffer_size as usize, usize::from(net.recv_buffers));
        EpollDriver::new(eventfd, notify, Rc::new(pool)).map(Driver::Epoll)
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

    /// The io_uring fast paths this core uses (none on epoll).
    pub(crate) fn features(&self) -> Features {
        match self {
            Driver::Uring(d) => d.features(),
            Driver::Epoll(_) => Features::default(),
        }
    }

    /// Sends of at least this many bytes go out as `SEND_ZC` (`None`:
    /// never; always `None` on epoll or without the kernel feature).
    pub(crate) fn send_zc_threshold(&self) -> Option<usize> {
        match self {
            Driver::Uring(d) => d.send_zc_threshold(),
            Driver::Epoll(_) => None,
        }
    }

    /// The core's provided buffer ring, if multishot receive is on.
    pub(crate) fn buf_ring(&self) -> Option<&Rc<BufRing>> {
        match self {
            Driver::Uring(d) => d.buf_ring(),
            Driver::Epoll(_) => None,
        }
    }

    /// The core's heap pool of receive buffers.
    pub(crate) fn recv_pool(&self) -> &Rc<RecvPool> {
        match self {
            Driver::Uring(d) => d.recv_pool(),
            Driver::Epoll(d) => d.recv_pool(),
        }
    }

    /// Starts a multishot operation (io_uring only: callers check
    /// [`features`](Self::features) first). `keep` (the socket) lives in
    /// the operation's slot until the kernel's final CQE.
    pub(crate) fn submit_multishot(
        &mut self,
        sqe: io_uring::squeue::Entry,
        kind: MultishotKind,
        keep: Box<dyn Any>,
    ) -> io::Result<u64> {
        match self {
            Driver::Uring(d) => d.submit_multishot(sqe, kind, keep),
            Driver::Epoll(_) => Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP)),
        }
    }

    /// The next CQE of multishot operation `token`; `Ready(None)`: it is
    /// over (re-arm to go on).
    pub(crate) fn poll_multishot(
        &mut self,
        token: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<MultishotCqe>> {
        match self {
            Driver::Uring(d) => d.poll_multishot(token, cx),
            Driver::Epoll(_) => Poll::Ready(None),
        }
    }

    /// Stops multishot operation `token`, releasing what it holds.
    pub(crate) fn cancel_multishot(&mut self, token: u64) {
        if let Driver::Uring(d) = self {
            d.cancel_multishot(token);
        }
    }

    /// Where the pooled-receive buffers are, for tests.
    #[cfg(test)]
    pub(crate) fn pooled_stats(&self) -> PooledStats {
        let (ring_out, multishot_in_flight, multishot_queued, zc_notifs) = match self {
            Driver::Uring(d) => (
                d.buf_ring().map_or(0, |r| r.out()),
                d.multishot_in_flight(),
                d.multishot_queued(),
                d.zc_notifs(),
            ),
            Driver::Epoll(_) => (0, 0, 0, 0),
        };
        let pool = self.recv_pool();
        PooledStats {
            ring_out,
            pool_out: pool.out(),
            multishot_in_flight,
            multishot_queued,
            direct_reads: pool.direct_reads(),
            zc_notifs,
        }
    }

    /// One-shot operations not finished yet, orphans included (tests).
    #[cfg(test)]
    pub(crate) fn ops_in_flight(&self) -> usize {
        match self {
            Driver::Uring(d) => d.ops_in_flight(),
            Driver::Epoll(d) => d.ops_in_flight(),
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
