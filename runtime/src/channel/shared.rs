//! State the two channel halves share besides the ring: the closed flag and
//! one [`WaitSlot`] per side.

use core::task::Waker;

use crossbeam_utils::CachePadded;

use crate::loom::sync::atomic::AtomicBool;
use crate::loom::sync::atomic::Ordering::{Acquire, Release};
use crate::sync::{AtomicWaker, ParkFlag};

/// Shared between [`Sender`](super::Sender) and
/// [`Receiver`](super::Receiver).
#[derive(Debug)]
pub(super) struct Shared {
    /// Set by whichever half is dropped first. Each half knows it is alive
    /// itself, so one flag is enough.
    closed: AtomicBool,
    /// Where the receiver waits for items. Written by the receiver only when
    /// it goes to sleep; read by the sender on every publish.
    pub(super) rx: CachePadded<WaitSlot>,
    /// Where the sender waits for room. Written by the sender only when it
    /// blocks on a full ring; read by the receiver on every pop.
    pub(super) tx: CachePadded<WaitSlot>,
}

impl Shared {
    pub(super) fn new() -> Shared {
        Shared {
            closed: AtomicBool::new(false),
            rx: CachePadded::new(WaitSlot::new()),
            tx: CachePadded::new(WaitSlot::new()),
        }
    }

    /// Whether the other half was dropped. `Acquire`: everything the dropped
    /// half did before [`close`](Self::close) (the sender's final publish) is
    /// visible after this returns `true`.
    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Acquire)
    }

    /// Marks the channel closed. The caller then wakes the other side with
    /// [`WaitSlot::wake`].
    pub(super) fn close(&self) {
        self.closed.store(true, Release);
    }
}

/// A waker slot plus a "waiting" flag: the no-lost-wake-up protocol of
/// [`ParkFlag`] applied to a task instead of a core.
///
/// * Waiting side: [`prepare_wait`](Self::prepare_wait) (register the waker,
///   then raise the flag behind a `SeqCst` fence), then **re-check** the
///   condition; if it now holds, [`cancel_wait`](Self::cancel_wait).
/// * Other side: make progress visible (publish / free a slot), then
///   [`notify`](Self::notify): a fence and a plain load of the flag; the
///   atomic swap and the wake happen only if the waiter raised the flag.
///
/// `ParkFlag`'s proof gives: if the re-check misses the progress, `notify`
/// sees the flag raised. The flag is raised with `Release` after the
/// registration and taken with an `Acquire` swap, so `notify` then wakes the
/// waker just registered (or a newer one).
#[derive(Debug)]
pub(super) struct WaitSlot {
    waiting: ParkFlag,
    waker: AtomicWaker,
}

impl WaitSlot {
    fn new() -> WaitSlot {
        WaitSlot {
            waiting: ParkFlag::new(),
            waker: AtomicWaker::new(),
        }
    }

    /// Waiting side: registers `waker` and announces it is waiting. The caller
    /// must re-check its condition afterwards.
    pub(super) fn prepare_wait(&self, waker: &Waker) {
        self.waker.register(waker);
        self.waiting.begin_park();
    }

    /// Waiting side: the re-check after [`prepare_wait`](Self::prepare_wait)
    /// succeeded; withdraws the announcement (saves the other side a wake).
    pub(super) fn cancel_wait(&self) {
        self.waiting.end_park();
    }

    /// Other side, after making progress visible: wakes the waiter if it
    /// announced it is waiting. No RMW unless it did.
    pub(super) fn notify(&self) {
        if self.waiting.must_notify() {
            self.waker.wake();
        }
    }

    /// Wakes the registered waker unconditionally (used on close). No fence
    /// needed: a close is published through the `closed` flag before this
    /// call, and `AtomicWaker`'s RMW chain makes it visible to a waiter that
    /// registers concurrently.
    pub(super) fn wake(&self) {
        self.waker.wake();
    }
}
