//! The epoll driver: for machines where io_uring is blocked or missing.
//!
//! One [`EpollDriver`] per core, created and used only on that core's
//! thread, with its own edge-triggered epoll instance. It runs the same
//! operations as the io_uring driver, each described as a [`Syscall`]:
//!
//! - **Sockets** (readiness calls): the call is tried at once, on a
//!   non-blocking fd. Only if it fails with `EAGAIN` is the fd added to the
//!   epoll set (once per socket, see `source`) and the operation parked in
//!   its slot, waiting for the fd's next edge (`fds`). When epoll reports
//!   the fd, the waiting operations' tasks are woken and each retries its
//!   call when its future is polled. So no call is in progress while an
//!   operation waits: dropping its future just forgets it, and nothing it
//!   would have read is consumed.
//! - **Files and paths** (blocking calls) run on the process's small thread
//!   pool (`pool`); the slot stays `Waiting` until the result is back in
//!   this core's inbox, and a future dropped meanwhile leaves its buffers
//!   in the slot as an orphan until then, exactly like an io_uring
//!   operation whose CQE has not arrived.
//! - **Waking and parking**: the core's eventfd is in the epoll set; other
//!   threads write it only when the core is parked (`sync::park`). Parking
//!   is one `epoll_wait` with the nearest timer deadline (`wait`).
//!
//! Invariants: `waiting` counts the slots waiting for readiness (each has
//! its token in exactly one waiter list of `fds`, or is about to be woken);
//! `on_pool` counts the jobs handed to the pool whose result has not been
//! reaped. Operations are resolved only on this driver (by id), so a
//! `SourceRef` or pointer in a slot is dereferenced only while its
//! operation's box is alive.

mod fds;
mod pool;
mod source;
mod statx;
mod syscall;
mod wait;

pub(crate) use pool::Notify;
pub(crate) use source::{SourceRef, SourceState};
pub(crate) use syscall::Syscall;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crossbeam_deque::Steal;

use super::recv_pool::RecvPool;
use super::slab::{self, Completed, FinishedOrphan, OpSlab, Slot};
use super::{next_driver_id, release_orphans};
use fds::FdTable;
use pool::{Inbox, Job};
use syscall::{Attempt, Class, Interest};

/// `epoll_event.u64` of the core's eventfd (fds are below 2^31).
const WAKE_TOKEN: u64 = u64::MAX;
/// Events taken per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 256;

/// What a waiting slot needs besides its waker.
pub(crate) enum Pending {
    /// Waiting for `fd` to be ready for `interest`, then `call` is retried.
    Ready {
        call: Syscall,
        fd: RawFd,
        interest: Interest,
    },
    /// Running on the pool.
    Pool,
}

pub(crate) struct EpollDriver {
    id: u64,
    epoll: OwnedFd,
    eventfd: RawFd,
    ops: OpSlab<Pending>,
    fds: FdTable,
    inbox: Arc<Inbox>,
    events: Vec<libc::epoll_event>,
    /// Tokens an event made worth retrying (scratch).
    ready: Vec<u64>,
    waiting: usize,
    on_pool: usize,
    /// `epoll_wait` calls made, for metrics.
    waits: u64,
    finished_orphans: Vec<FinishedOrphan>,
    /// Buffers for pooled receives, taken only when a socket is readable.
    recv_pool: Rc<RecvPool>,
}

/// Pool threads run on these CPUs (see `pool::set_affinity`).
pub(crate) fn set_pool_affinity(cpus: Vec<usize>) {
    pool::set_affinity(cpus);
}

impl EpollDriver {
    /// Creates the epoll instance and adds `eventfd` (switched to
    /// non-blocking; the core owns it and nothing else reads it).
    pub(crate) fn new(eventfd: RawFd, notify: Notify, recv_pool: Rc<RecvPool>) -> io::Result<Self> {
        // SAFETY: plain syscall; the fd is checked and owned below.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `epfd` is a fresh descriptor nobody else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(epfd) };
        set_nonblocking(eventfd)?;
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: plain syscall on fds we hold; `event` is a live local.
        if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, eventfd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            id: next_driver_id(),
            epoll,
            eventfd,
            ops: OpSlab::new(),
            fds: FdTable::default(),
            inbox: Inbox::new(notify),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAIT],
            ready: Vec::new(),
            waiting: 0,
            on_pool: 0,
            waits: 0,
            finished_orphans: Vec::new(),
            recv_pool,
        })
    }

    pub(crate) fn recv_pool(&self) -> &Rc<RecvPool> {
        &self.recv_pool
    }

    #[cfg(test)]
    pub(crate) fn ops_in_flight(&self) -> usize {
        self.ops.in_flight()
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn waits(&self) -> u64 {
        self.waits
    }

    /// Starts an operation (see the module docs); returns its token.
    pub(crate) fn submit(&mut self, mut call: Syscall) -> io::Result<u64> {
        match call.class() {
            Class::Blocking => {
                let token = self.insert(Pending::Pool)?;
                pool::submit(Job::new(call, token, self.inbox.clone()));
                self.on_pool += 1;
                Ok(token)
            }
            Class::Inline => {
                // SAFETY: the operation was just boxed by `Op::submit` and
                // outlives this call.
                let Attempt::Done(result) = (unsafe { call.attempt() }) else {
                    return self.finished(-libc::EAGAIN);
                };
                self.finished(result)
            }
            Class::Ready {
                fd,
                source,
                interest,
            } => {
                // SAFETY: as above.
                match unsafe { call.attempt() } {
                    Attempt::Done(result) => self.finished(result),
                    Attempt::WouldBlock => {
                        // SAFETY: the operation holds the fd's owner.
                        let source = unsafe { source.get() };
                        self.fds
                            .register(self.epoll.as_raw_fd(), self.id, fd, source)?;
                        self.fds.clear(fd, interest);
                        let token = self.insert(Pending::Ready { call, fd, interest })?;
                        self.fds.add_waiter(fd, interest, token);
                        self.waiting += 1;
                        Ok(token)
                    }
                }
            }
        }
    }

    fn insert(&mut self, pending: Pending) -> io::Result<u64> {
        self.ops
            .insert(pending)
            .ok_or_else(|| io::Error::other("too many I/O operations in flight"))
    }

    /// A slot that is already complete, for the first poll to take.
    fn finished(&mut self, result: i32) -> io::Result<u64> {
        let token = self.insert(Pending::Pool)?;
        let _ = self.ops.complete(token, result, 0);
        Ok(token)
    }

    pub(crate) fn poll_op(&mut self, token: u64, cx: &mut Context<'_>) -> Poll<(i32, u32)> {
        let Some(slot) = self.ops.get_mut(token) else {
            return Poll::Pending;
        };
        let (waker, pending) = match slot {
            Slot::Completed { result, flags } => {
                let done = (*result, *flags);
                self.ops.remove(token);
                return Poll::Ready(done);
            }
            Slot::Waiting(waker, pending) => (waker, pending),
            Slot::Orphaned(_) | Slot::Free { .. } => return Poll::Pending,
        };
        if let Pending::Ready { call, fd, interest } = pending {
            let (fd, interest) = (*fd, *interest);
            if self.fds.is_ready(fd, interest) {
                // SAFETY: the operation's future is polling it, so its box
                // is alive.
                match unsafe { call.attempt() } {
                    Attempt::Done(result) => {
                        self.fds.remove_waiter(fd, interest, token);
                        self.ops.remove(token);
                        self.waiting -= 1;
                        return Poll::Ready((result, 0));
                    }
                    Attempt::WouldBlock => self.fds.clear(fd, interest),
                }
            }
            self.fds.add_waiter(fd, interest, token);
        }
        match waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The future of operation `token` was dropped. A readiness wait has no
    /// call in progress: its slot is freed and its data handed back at
    /// once. A pool call keeps its data in the slot until the pool returns.
    /// A completed operation gives its data back with the result. What is
    /// given back is released by the caller outside the driver's borrow.
    #[must_use]
    pub(crate) fn orphan(
        &mut self,
        token: u64,
        data: Box<dyn slab::Orphan>,
    ) -> Option<FinishedOrphan> {
        let Some(slot) = self.ops.get_mut(token) else {
            // Not ours: the pool may still use it (unreachable while `Op`
            // is tied to its driver; leaking is only a safety net).
            std::mem::forget(data);
            return None;
        };
        match slot {
            Slot::Waiting(_, Pending::Ready { fd, interest, .. }) => {
                let (fd, interest) = (*fd, *interest);
                self.fds.remove_waiter(fd, interest, token);
                self.ops.remove(token);
                self.waiting -= 1;
                Some((data, -libc::ECANCELED))
            }
            Slot::Waiting(_, Pending::Pool) => {
                *slot = Slot::Orphaned(data);
                None
            }
            Slot::Completed { result, .. } => {
                let result = *result;
                self.ops.remove(token);
                Some((data, result))
            }
            Slot::Orphaned(_) | Slot::Free { .. } => {
                std::mem::forget(data);
                None
            }
        }
    }

    pub(crate) fn take_finished_orphans(&mut self) -> Vec<FinishedOrphan> {
        std::mem::take(&mut self.finished_orphans)
    }

    /// Whether a non-blocking reap may find something: a pool result, or
    /// an event for an operation that waits (only an `epoll_wait` can tell).
    pub(crate) fn has_progress(&mut self) -> bool {
        self.waiting > 0 || !self.inbox.done.is_empty()
    }

    /// Collects pool results and, if an operation waits for readiness, the
    /// events that are already there (`epoll_wait` with a zero timeout).
    pub(crate) fn submit_and_reap(&mut self, woken: &mut Vec<Waker>) -> io::Result<()> {
        let result = if self.waiting > 0 {
            self.wait(Some(Duration::ZERO), woken)
        } else {
            Ok(())
        };
        self.drain_inbox(woken);
        result
    }

    /// Sleeps in `epoll_wait` until an fd is ready, the eventfd is written
    /// or `timeout` passes. The inbox is checked first, after the core's
    /// `begin_park`: a pool thread that pushed after this check sees the
    /// park flag and writes the eventfd (`sync::park`).
    pub(crate) fn park(
        &mut self,
        timeout: Option<Duration>,
        woken: &mut Vec<Waker>,
    ) -> io::Result<()> {
        let timeout = if self.inbox.done.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        let result = self.wait(timeout, woken);
        self.drain_inbox(woken);
        result
    }

    fn wait(&mut self, timeout: Option<Duration>, woken: &mut Vec<Waker>) -> io::Result<()> {
        self.waits += 1;
        let n = wait::wait(self.epoll.as_raw_fd(), &mut self.events, timeout)?;
        for i in 0..n {
            // `epoll_event` is packed on x86_64: copy the fields out.
            let (token, bits) = (self.events[i].u64, self.events[i].events);
            if token == WAKE_TOKEN {
                drain_eventfd(self.eventfd);
            } else if let Ok(fd) = RawFd::try_from(token) {
                self.fds.on_event(fd, bits, &mut self.ready);
            }
        }
        for token in self.ready.drain(..) {
            if let Some(Slot::Waiting(waker, _)) = self.ops.get_mut(token) {
                woken.extend(waker.take());
            }
        }
        Ok(())
    }

    fn drain_inbox(&mut self, woken: &mut Vec<Waker>) {
        loop {
            match self.inbox.done.steal() {
                Steal::Success((token, result)) => {
                    self.on_pool -= 1;
                    match self.ops.complete(token, result, 0) {
                        Completed::Wake(w) => woken.push(w),
                        Completed::Orphan(o) => self.finished_orphans.push(o),
                        Completed::Nothing => {}
                    }
                }
                Steal::Empty => return,
                Steal::Retry => {}
            }
        }
    }
}

impl Drop for EpollDriver {
    /// Waits (bounded) for the pool to finish every call that points into
    /// an operation of this driver before the slab and its orphans are
    /// freed; readiness waits have nothing in progress.
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut woken = Vec::new();
        loop {
            self.drain_inbox(&mut woken);
            // Wakers of tasks that no longer exist; nothing to do with them.
            woken.clear();
            if self.on_pool == 0 || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        release_orphans(self.take_finished_orphans());
        if self.on_pool > 0 {
            tracing::warn!(
                in_flight = self.on_pool,
                "file operations did not finish at shutdown; leaking their buffers"
            );
            let ops = std::mem::replace(&mut self.ops, OpSlab::new());
            std::mem::forget(ops);
        }
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with integer arguments on an fd the caller holds.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Resets the core's eventfd counter (it is non-blocking: an empty one is
/// `EAGAIN`, which is fine).
fn drain_eventfd(fd: RawFd) {
    let mut count: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64.
    let _ = unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
}

#[cfg(test)]
mod tests;
