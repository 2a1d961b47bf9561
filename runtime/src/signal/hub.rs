//! Per-core broadcast of signal deliveries.
//!
//! The first listener of a signal on a core creates the core's *hub* for
//! it: a slot (one eventfd the handler writes on each delivery) and a pump
//! task that reads the eventfd through the core's driver and, for each
//! read, bumps the hub's delivery count and wakes every waiting listener
//! of the core. A listener remembers the count it has seen, so every
//! listener sees every delivery (deliveries that arrive between two `recv`s
//! coalesce into one, as with tokio).
//!
//! Invariants: one hub, and so one reader of its eventfd, per (core,
//! signal) at a time. The hub lives as long as its pump: the pump is
//! dropped when its runtime shuts down, which marks the hub dead, releases
//! the slot and wakes the listeners; a listener that finds its hub dead
//! joins (or creates) the current core's hub.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::Waker;

use io_uring::{opcode, squeue, types};

use super::slots::{Slot, MAX_SIGNAL};
use crate::driver::{DriverKind, Op, Operation, SourceRef, SourceState, Syscall};
use crate::runtime::context;

/// One core's view of one signal.
pub(super) struct Hub {
    /// Deliveries the pump has read so far.
    delivered: Cell<u64>,
    /// Whether the pump runs (false once its runtime dropped it).
    alive: Cell<bool>,
    /// Listeners waiting in `recv`.
    waiters: RefCell<Vec<Waker>>,
}

impl Hub {
    pub(super) fn delivered(&self) -> u64 {
        self.delivered.get()
    }

    pub(super) fn alive(&self) -> bool {
        self.alive.get()
    }

    /// Registers `waker` to be woken at the next delivery.
    pub(super) fn wait(&self, waker: &Waker) {
        let mut waiters = self.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(waker)) {
            waiters.push(waker.clone());
        }
    }

    fn wake_all(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }
}

thread_local! {
    /// The current core's hubs, by signal number.
    static HUBS: RefCell<Vec<Option<Rc<Hub>>>> =
        RefCell::new(vec![None; MAX_SIGNAL as usize]);
}

/// The current core's live hub for `signum`, created (with its pump) if
/// there is none.
pub(super) fn current(signum: i32) -> io::Result<Rc<Hub>> {
    let kind = context::driver_kind().ok_or_else(context::not_on_core)?;
    let existing = HUBS.with(|h| {
        h.borrow()
            .get(signum as usize)
            .and_then(|h| h.clone())
            .filter(|h| h.alive())
    });
    if let Some(hub) = existing {
        return Ok(hub);
    }
    let slot = Slot::assign(signum, kind)?;
    let hub = Rc::new(Hub {
        delivered: Cell::new(0),
        alive: Cell::new(true),
        waiters: RefCell::new(Vec::new()),
    });
    HUBS.with(|h| h.borrow_mut()[signum as usize] = Some(hub.clone()));
    // The guard is an argument, not a local of the body, so that a pump
    // dropped before its first poll still marks the hub dead. In the
    // default queue, not the first listener's: it serves every listener.
    drop(crate::TaskQueue::default().spawn_local(pump(PumpGuard(hub.clone()), slot, kind)));
    Ok(hub)
}

/// Marks the hub dead and wakes its listeners when the pump ends or is
/// dropped, polled or not (the slot is released by its own drop).
struct PumpGuard(Rc<Hub>);

impl Drop for PumpGuard {
    fn drop(&mut self) {
        self.0.alive.set(false);
        self.0.wake_all();
    }
}

async fn pump(guard: PumpGuard, slot: Slot, kind: DriverKind) {
    loop {
        let read = ReadCount {
            fd: slot.fd(),
            source: slot.source(),
            count: 0,
        };
        let done = match Op::submit(read) {
            Ok(op) => op.await,
            Err((e, _)) => {
                tracing::warn!(error = %e, "cannot wait for a signal");
                break;
            }
        };
        match done.result {
            Ok(_) => {
                let hub = &guard.0;
                hub.delivered
                    .set(hub.delivered.get() + done.data.count.max(1));
                hub.wake_all();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!(error = %e, ?kind, "reading a signal's eventfd failed");
                break;
            }
        }
    }
    drop(guard);
    drop(slot);
}

/// A read of a slot's eventfd (the delivery count since the last read).
struct ReadCount {
    fd: RawFd,
    /// The epoll registration of `fd` (non-blocking eventfds).
    source: &'static SourceState,
    count: u64,
}

impl Operation for ReadCount {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Read::new(types::Fd(self.fd), (&mut self.count as *mut u64).cast(), 8).build()
    }

    fn syscall(&mut self) -> Syscall {
        Syscall::Read {
            fd: self.fd,
            source: SourceRef::new(self.source),
            buf: (&mut self.count as *mut u64).cast(),
            len: 8,
        }
    }
}
