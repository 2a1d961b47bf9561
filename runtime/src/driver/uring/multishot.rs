//! The multishot operations of one ring (receive into the buffer ring,
//! accept): one SQE, many CQEs, each queued in the operation's slot until
//! its owner takes it.
//!
//! Tokens: `MULTISHOT_TAG | generation << 32 | index`, with a 30-bit
//! generation, so they never collide with the one-shot slab's tokens (whose
//! generation stops below bit 62) or the driver's reserved tokens (bit 63).
//! A slot's generation changes when it is freed, so a CQE for a freed
//! operation is recognized as stale and only its resources are released.
//!
//! States of a used slot:
//! - **armed**: the kernel may post more CQEs (the last one had
//!   `IORING_CQE_F_MORE`). CQEs queue up with their resources (a buffer id,
//!   an accepted fd). Nothing in the kernel bounds that queue (a multishot
//!   receive keeps taking ring buffers, a multishot accept keeps accepting
//!   while connections arrive, whether or not anyone takes them), so the
//!   table does: when an operation's queue reaches its kind's cap
//!   ([`RECV_QUEUE_CAP`], [`ACCEPT_QUEUE_CAP`]) the operation is
//!   **stopping**: the driver asks the kernel to cancel it, its final CQE
//!   (`ECANCELED`) queues behind the others, and the owner re-arms once it
//!   has taken them. The kernel posts in batches (a receive fills up to
//!   `MULTISHOT_MAX_RETRY`, 32, buffers per wakeup; an accept takes every
//!   connection ready in the backlog), so a queue may pass its cap by what
//!   the kernel posted before the cancellation reached it;
//! - **ended**: the kernel posted its final CQE (no `F_MORE`); the slot lives
//!   until its owner has taken every queued CQE, the final one frees it;
//! - **cancelled**: the owner is gone. Queued CQEs were released, later ones
//!   are released as they arrive, and the final one frees the slot. The
//!   slot keeps the socket's `Arc` until then, so the fd the SQE names stays
//!   open while the kernel may use it.
//!
//! Releasing a CQE nobody will take (`Release`): a receive's buffer goes
//! back to the ring, an accepted fd is closed.

use std::any::Any;
use std::collections::VecDeque;
use std::os::fd::{FromRawFd, OwnedFd};
use std::task::{Context, Poll, Waker};

use io_uring::cqueue;

use super::buf_ring::BufRing;

/// Untaken CQEs (each with a ring buffer) after which a multishot receive
/// is stopped: a stream whose caller stops receiving holds at most this
/// many of the core's ring buffers (plus one kernel batch, module docs);
/// its data waits in the socket meanwhile.
pub(crate) const RECV_QUEUE_CAP: usize = 16;
/// Accepted but unclaimed connections after which a multishot accept is
/// stopped; later connections wait in the listen backlog, as with plain
/// accept.
pub(crate) const ACCEPT_QUEUE_CAP: usize = 64;

/// Bit that marks a multishot token.
pub(crate) const MULTISHOT_TAG: u64 = 1 << 62;
const GEN_MASK: u32 = (1 << 30) - 1;
const INDEX_BITS: u32 = 32;

/// What a multishot operation's CQEs carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MultishotKind {
    /// A receive: a CQE with `IORING_CQE_F_BUFFER` holds a ring buffer.
    Recv,
    /// An accept: a CQE with a non-negative result is a new fd.
    Accept,
}

/// One CQE of a multishot operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MultishotCqe {
    pub(crate) result: i32,
    pub(crate) flags: u32,
}

impl MultishotCqe {
    /// Whether the kernel will post more CQEs after this one.
    pub(crate) fn more(&self) -> bool {
        cqueue::more(self.flags)
    }
}

struct Armed {
    kind: MultishotKind,
    /// Keeps the socket (its fd) alive while the kernel may use it.
    keep: Option<Box<dyn Any>>,
    queue: VecDeque<MultishotCqe>,
    /// Tasks waiting for a CQE (more than one only if several tasks await
    /// the same stream at once).
    wakers: Vec<Waker>,
    ended: bool,
    cancelled: bool,
    /// Its queue reached the cap; a cancellation was requested.
    stopping: bool,
}

impl Armed {
    fn cap(&self) -> usize {
        match self.kind {
            MultishotKind::Recv => RECV_QUEUE_CAP,
            MultishotKind::Accept => ACCEPT_QUEUE_CAP,
        }
    }
}

enum Slot {
    Used(Armed),
    Free { next: usize },
}

/// See the module docs.
pub(crate) struct MultishotTable {
    slots: Vec<Slot>,
    gens: Vec<u32>,
    free_head: usize,
    /// Slots the kernel may still post to (armed or cancelled, not ended).
    in_flight: usize,
}

const NONE: usize = usize::MAX;

impl MultishotTable {
    pub(crate) fn new() -> Self {
        Self {
            slots: Vec::new(),
            gens: Vec::new(),
            free_head: NONE,
            in_flight: 0,
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// CQEs queued for their owners, over all operations (tests).
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.slots
            .iter()
            .map(|slot| match slot {
                Slot::Used(armed) => armed.queue.len(),
                Slot::Free { .. } => 0,
            })
            .sum()
    }

    /// Takes a slot for a new operation that holds `keep` until its final
    /// CQE; `None` if 2^32 slots are in use.
    pub(crate) fn insert(&mut self, kind: MultishotKind, keep: Box<dyn Any>) -> Option<u64> {
        let armed = Slot::Used(Armed {
            kind,
            keep: Some(keep),
            queue: VecDeque::new(),
            wakers: Vec::new(),
            ended: false,
            cancelled: false,
            stopping: false,
        });
        let index = if self.free_head == NONE {
            if self.slots.len() >= u32::MAX as usize {
                return None;
            }
            self.slots.push(armed);
            self.gens.push(0);
            self.slots.len() - 1
        } else {
            let index = self.free_head;
            let Slot::Free { next } = self.slots[index] else {
                unreachable!("free list points at a used slot");
            };
            self.free_head = next;
            self.slots[index] = armed;
            index
        };
        self.in_flight += 1;
        Some(MULTISHOT_TAG | (u64::from(self.gens[index]) << INDEX_BITS) | index as u64)
    }

    /// A submission that never reached the ring: forget the slot.
    pub(crate) fn remove_unsubmitted(&mut self, token: u64) {
        if let Some(index) = self.index(token) {
            self.in_flight -= 1;
            self.free(index);
        }
    }

    fn index(&self, token: u64) -> Option<usize> {
        let index = (token & u64::from(u32::MAX)) as usize;
        let gen = ((token & !MULTISHOT_TAG) >> INDEX_BITS) as u32;
        let live = self.gens.get(index) == Some(&gen)
            && matches!(self.slots.get(index), Some(Slot::Used(_)));
        live.then_some(index)
    }

    fn free(&mut self, index: usize) {
        self.slots[index] = Slot::Free {
            next: self.free_head,
        };
        self.gens[index] = self.gens[index].wrapping_add(1) & GEN_MASK;
        self.free_head = index;
    }

    /// Records a CQE of operation `token`. Wakers to wake go to `woken`;
    /// the token goes to `stop` if its queue just reached the cap (the
    /// caller asks the kernel to cancel it).
    pub(crate) fn complete(
        &mut self,
        token: u64,
        cqe: MultishotCqe,
        ring: Option<&BufRing>,
        woken: &mut Vec<Waker>,
        stop: &mut Vec<u64>,
    ) {
        // A buffer the CQE names has left the ring, whoever gets it.
        if let (Some(ring), Some(bid)) = (ring, cqueue::buffer_select(cqe.flags)) {
            if ring.take(bid).is_none() {
                tracing::error!(bid, "the kernel named a buffer id outside the ring");
            }
        }
        let Some(index) = self.index(token) else {
            // Not ours any more (unreachable: a slot is freed only after
            // its final CQE): release what it holds. The kind is unknown,
            // but a buffer is flagged, and an accepted fd would need a
            // live accept.
            release(MultishotKind::Recv, cqe, ring);
            return;
        };
        let Slot::Used(armed) = &mut self.slots[index] else {
            return;
        };
        let last = !cqe.more();
        if armed.cancelled {
            release(armed.kind, cqe, ring);
        } else {
            armed.queue.push_back(cqe);
            woken.append(&mut armed.wakers);
            if !last && !armed.stopping && armed.queue.len() >= armed.cap() {
                armed.stopping = true;
                stop.push(token);
            }
        }
        if last {
            armed.ended = true;
            armed.keep = None;
            self.in_flight -= 1;
            if armed.cancelled {
                self.free(index);
            }
        }
    }

    /// The next CQE of operation `token`, in the order the kernel posted
    /// them. Taking the final one (no `F_MORE`) frees the slot. `None`: the
    /// token names no live operation (the owner should re-arm).
    pub(crate) fn poll(&mut self, token: u64, cx: &mut Context<'_>) -> Poll<Option<MultishotCqe>> {
        let Some(index) = self.index(token) else {
            return Poll::Ready(None);
        };
        let Slot::Used(armed) = &mut self.slots[index] else {
            return Poll::Ready(None);
        };
        match armed.queue.pop_front() {
            Some(cqe) => {
                if armed.ended && armed.queue.is_empty() {
                    self.free(index);
                }
                Poll::Ready(Some(cqe))
            }
            None if armed.ended => {
                self.free(index);
                Poll::Ready(None)
            }
            None => {
                if !armed.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    armed.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// The owner of operation `token` is gone: releases its queued CQEs.
    /// Returns whether the kernel still runs it (the caller then queues an
    /// `ASYNC_CANCEL`).
    #[must_use]
    pub(crate) fn cancel(&mut self, token: u64, ring: Option<&BufRing>) -> bool {
        let Some(index) = self.index(token) else {
            return false;
        };
        let Slot::Used(armed) = &mut self.slots[index] else {
            return false;
        };
        for cqe in armed.queue.drain(..) {
            release(armed.kind, cqe, ring);
        }
        armed.wakers.clear();
        if armed.ended {
            self.free(index);
            false
        } else {
            let first = !armed.cancelled;
            armed.cancelled = true;
            first
        }
    }

    /// Releases every queued CQE (the driver is being dropped, after its
    /// operations finished).
    pub(crate) fn release_all(&mut self, ring: Option<&BufRing>) {
        for slot in &mut self.slots {
            if let Slot::Used(armed) = slot {
                for cqe in armed.queue.drain(..) {
                    release(armed.kind, cqe, ring);
                }
            }
        }
    }
}

/// Gives back what a CQE nobody will take holds.
fn release(kind: MultishotKind, cqe: MultishotCqe, ring: Option<&BufRing>) {
    if let (Some(ring), Some(bid)) = (ring, cqueue::buffer_select(cqe.flags)) {
        ring.recycle(bid);
    }
    if kind == MultishotKind::Accept && cqe.result >= 0 {
        // SAFETY: the kernel accepted this fd for us and nobody else knows it.
        drop(unsafe { OwnedFd::from_raw_fd(cqe.result) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    // IORING_CQE_F_MORE (include/uapi/linux/io_uring.h).
    const MORE: u32 = 1 << 1;

    fn cqe(result: i32, flags: u32) -> MultishotCqe {
        MultishotCqe { result, flags }
    }

    #[test]
    fn cqes_are_taken_in_order_and_the_final_one_frees_the_slot() {
        let mut t = MultishotTable::new();
        let token = t.insert(MultishotKind::Recv, Box::new(())).unwrap();
        assert_ne!(token & MULTISHOT_TAG, 0);
        let (mut woken, mut stop) = (Vec::new(), Vec::new());
        t.complete(token, cqe(1, MORE), None, &mut woken, &mut stop);
        t.complete(token, cqe(2, 0), None, &mut woken, &mut stop);
        assert_eq!(t.in_flight(), 0, "the kernel is done");
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(t.poll(token, &mut cx), Poll::Ready(Some(c)) if c.result == 1));
        assert!(matches!(t.poll(token, &mut cx), Poll::Ready(Some(c)) if c.result == 2));
        assert!(matches!(t.poll(token, &mut cx), Poll::Ready(None)), "freed");
        let again = t.insert(MultishotKind::Accept, Box::new(())).unwrap();
        assert_eq!(again & 0xffff_ffff, token & 0xffff_ffff, "slot reused");
        assert_ne!(again, token, "with a new generation");
        // A stale CQE does not reach the new operation.
        t.complete(token, cqe(9, MORE), None, &mut woken, &mut stop);
        assert!(t.poll(again, &mut cx).is_pending());
    }

    #[test]
    fn a_cancelled_slot_lives_until_its_final_cqe() {
        let mut t = MultishotTable::new();
        let token = t.insert(MultishotKind::Recv, Box::new(())).unwrap();
        let (mut woken, mut stop) = (Vec::new(), Vec::new());
        t.complete(token, cqe(1, MORE), None, &mut woken, &mut stop);
        assert!(t.cancel(token, None), "still running: cancel it");
        assert!(!t.cancel(token, None), "cancelled once");
        assert_eq!(t.in_flight(), 1);
        t.complete(token, cqe(-libc::ECANCELED, 0), None, &mut woken, &mut stop);
        assert_eq!(t.in_flight(), 0);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(t.poll(token, &mut cx), Poll::Ready(None)));
    }

    #[test]
    fn a_queue_that_reaches_its_cap_is_stopped_once_and_keeps_its_cqes() {
        for (kind, cap) in [
            (MultishotKind::Recv, RECV_QUEUE_CAP),
            (MultishotKind::Accept, ACCEPT_QUEUE_CAP),
        ] {
            let mut t = MultishotTable::new();
            // Accept results must not be real fds: the table would close
            // them when released; negative ones are never closed.
            let token = t.insert(kind, Box::new(())).unwrap();
            let (mut woken, mut stop) = (Vec::new(), Vec::new());
            for i in 1..cap {
                t.complete(token, cqe(-(i as i32), MORE), None, &mut woken, &mut stop);
            }
            assert!(stop.is_empty(), "{kind:?}: below the cap");
            t.complete(token, cqe(-1, MORE), None, &mut woken, &mut stop);
            assert_eq!(stop, [token], "{kind:?}: stopped at the cap");
            // A batch the kernel posted before the cancel: kept, not
            // stopped twice.
            t.complete(token, cqe(-2, MORE), None, &mut woken, &mut stop);
            t.complete(token, cqe(-libc::ECANCELED, 0), None, &mut woken, &mut stop);
            assert_eq!(stop.len(), 1, "{kind:?}");
            let mut cx = Context::from_waker(Waker::noop());
            let mut taken = 0;
            while let Poll::Ready(Some(c)) = t.poll(token, &mut cx) {
                taken += 1;
                if !c.more() {
                    assert_eq!(c.result, -libc::ECANCELED, "{kind:?}: the final CQE last");
                }
            }
            assert_eq!(taken, cap + 2, "{kind:?}: every CQE reaches the owner");
        }
    }
}
