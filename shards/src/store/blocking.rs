//! Clients blocked on keys (BLPOP & co., BZPOPMIN & co.): the waiter
//! they share between cores, and each core's FIFO queues of waiters per
//! key.
//!
//! A blocked client makes one [`Waiter`] and registers it on the core
//! owning each key it waits for (one `Arc`, several registrations). The
//! owning core's queues are core-local: only that core's commands touch
//! them, and only while holding the key's lock, so a registration made
//! after checking that a key is empty cannot miss a write to it.
//!
//! # Kinds
//!
//! A waiter waits for a list or for a sorted set ([`WaitOp::kind`]); one
//! queue per key holds both kinds, in arrival order. A write that gives a
//! key elements claims only waiters of the type it wrote
//! ([`claim_next`]`(key, kind)`), after re-reading the key's type under
//! its lock; waiters of the other kind keep their place and go on
//! waiting, as in Redis 7.2 (`handleClientsBlockedOnKey` serves only the
//! clients whose blocked type is the key's type). So a BLPOP waiter is
//! never handed sorted-set members, nor a BZPOPMIN waiter list elements,
//! whatever the key held in between.
//!
//! # The hand-over invariant
//!
//! A waiter's `state` goes `WAITING -> CLAIMED` or `WAITING -> CANCELLED`,
//! once, by compare-and-swap; nothing else changes it. An element is only
//! removed from a list for a waiter that the remover itself moved to
//! `CLAIMED` (on the key's core, under the key's lock, before removing
//! anything). The client moves its own waiter to `CANCELLED` when it
//! times out, is killed or goes away; if that swap fails, the waiter was
//! claimed and the client must take the delivery (it is on its way).
//! Hence:
//! - a waiter registered on several cores is served by exactly one of
//!   them (the one whose swap won; the others drop the stale
//!   registration when they meet it);
//! - a cancelled wait is never handed an element;
//! - a claimed waiter whose client disappeared before taking its
//!   delivery hands it back ([`Waiter::deliver`] returns it to the
//!   serving core, still under the key's lock, or [`Waiter::abandon`]
//!   returns it to the client's drop path), so the caller puts the
//!   elements (or members, with their scores) back where they came from:
//!   none is lost.
//!
//! Queues are FIFO per kind: the longest waiting registration of a key
//! that the write can serve is claimed first (Redis' order); a waiter
//! that was woken without being given an element (BLMOVE, which moves the
//! element itself) re-registers at the front.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::ValueType;

const WAITING: u8 = 0;
const CLAIMED: u8 = 1;
const CANCELLED: u8 = 2;

/// What a blocked client wants when one of its keys gets elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOp {
    /// Pop from the front (`true`) or back; `count: None` pops one element
    /// (BLPOP, BRPOP), `Some(n)` up to `n` (BLMPOP).
    Pop {
        /// Which end.
        front: bool,
        /// How many, at most.
        count: Option<u64>,
    },
    /// Only be woken: the client then runs its command itself (BLMOVE,
    /// whose move touches a second key, perhaps on another core).
    Wake,
    /// Pop the lowest (`min`) or highest scores of a sorted set;
    /// `count: None` pops one member (BZPOPMIN, BZPOPMAX), `Some(n)` up to
    /// `n` (BZMPOP).
    ZPop {
        /// Lowest scores first.
        min: bool,
        /// How many, at most.
        count: Option<u64>,
    },
}

impl WaitOp {
    /// The type a key must hold to serve this wait: only writes of that
    /// type claim it.
    pub fn kind(&self) -> ValueType {
        match self {
            WaitOp::Pop { .. } | WaitOp::Wake => ValueType::List,
            WaitOp::ZPop { .. } => ValueType::ZSet,
        }
    }
}

/// What a claimed waiter is handed.
#[derive(Debug, Clone, PartialEq)]
pub enum Served {
    /// Elements popped for it from `key`'s `front` (or back) end, in pop
    /// order.
    Elements {
        /// The (client) key they came from.
        key: Vec<u8>,
        /// Which end they came from.
        front: bool,
        /// The elements.
        items: Vec<Vec<u8>>,
    },
    /// Members popped for it from the sorted set `key` ([`WaitOp::ZPop`]),
    /// in pop order, with their scores.
    Members {
        /// The (client) key they came from.
        key: Vec<u8>,
        /// The members and their scores.
        items: Vec<(Vec<u8>, f64)>,
    },
    /// `key` has elements: run the command again ([`WaitOp::Wake`]).
    Ready,
    /// The serving core failed (a storage error): the reply text.
    Failed(String),
}

enum Slot {
    Empty,
    Filled(Served),
    Taken,
    Abandoned,
}

struct Delivery {
    slot: Slot,
    waker: Option<Waker>,
}

/// One blocked client's wait, shared by its registrations on every core.
pub struct Waiter {
    id: u64,
    op: WaitOp,
    state: AtomicU8,
    delivery: Mutex<Delivery>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Waiter {
    /// A new wait for `op`.
    pub fn new(op: WaitOp) -> Arc<Waiter> {
        Arc::new(Waiter {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            op,
            state: AtomicU8::new(WAITING),
            delivery: Mutex::new(Delivery {
                slot: Slot::Empty,
                waker: None,
            }),
        })
    }

    /// Its id (unique in the process).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// What it wants.
    pub fn op(&self) -> WaitOp {
        self.op
    }

    /// Whether it still waits (neither claimed nor cancelled).
    pub fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Serving side: takes the waiter; true for exactly one caller, and
    /// only if it was not cancelled.
    fn claim(&self) -> bool {
        self.state
            .compare_exchange(WAITING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Client side: stops waiting. False if a core claimed the waiter
    /// first: then [`Waiter::wait`] will complete with its delivery.
    pub fn cancel(&self) -> bool {
        self.state
            .compare_exchange(WAITING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Delivery> {
        // A panic while holding this lock leaves a consistent `Delivery`
        // (every update is a single assignment), so poisoning is ignored.
        self.delivery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Serving side, after [`claim_next`] returned this waiter:
    /// hands `served` over and wakes the client. `Err(served)` if the
    /// client is gone: the caller puts the elements back.
    pub fn deliver(&self, served: Served) -> Result<(), Served> {
        let waker = {
            let mut d = self.lock();
            if matches!(d.slot, Slot::Abandoned) {
                return Err(served);
            }
            d.slot = Slot::Filled(served);
            d.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Client side, when it goes away after a failed [`Waiter::cancel`]:
    /// the delivery if it already came (the caller puts its elements
    /// back); otherwise a later [`Waiter::deliver`] returns it instead.
    pub fn abandon(&self) -> Option<Served> {
        let mut d = self.lock();
        match std::mem::replace(&mut d.slot, Slot::Abandoned) {
            Slot::Filled(s) => Some(s),
            Slot::Taken => {
                d.slot = Slot::Taken;
                None
            }
            Slot::Empty | Slot::Abandoned => None,
        }
    }

    /// Completes with the delivery (after a claim).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future takes nothing: the delivery stays in the
    /// waiter for a later `wait` or for [`Waiter::abandon`].
    pub fn wait(self: &Arc<Self>) -> WaitDelivery {
        WaitDelivery {
            waiter: self.clone(),
        }
    }
}

/// The future of [`Waiter::wait`].
pub struct WaitDelivery {
    waiter: Arc<Waiter>,
}

impl Future for WaitDelivery {
    type Output = Served;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Served> {
        let mut d = self.waiter.lock();
        match std::mem::replace(&mut d.slot, Slot::Taken) {
            Slot::Filled(s) => Poll::Ready(s),
            other => {
                d.slot = other;
                d.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// One core's waiters, per key (the key's data record key, so namespaces
/// stay apart).
#[derive(Default)]
struct Queues {
    by_key: HashMap<Vec<u8>, VecDeque<Arc<Waiter>>, foldhash::fast::RandomState>,
}

thread_local! {
    static QUEUES: RefCell<Queues> = RefCell::new(Queues::default());
}

/// Registers `waiter` for `key` on this core, behind (or, `front`, before)
/// the waiters already there. The caller holds the key's lock and saw no
/// element.
pub fn register(key: &[u8], waiter: Arc<Waiter>, front: bool) {
    QUEUES.with(|q| {
        let mut q = q.borrow_mut();
        let queue = q.by_key.entry(key.to_vec()).or_default();
        if front {
            queue.push_front(waiter);
        } else {
            queue.push_back(waiter);
        }
    });
}

/// Removes the registration of waiter `id` for `key` (after its wait
/// ended, whichever way).
pub fn unregister(key: &[u8], id: u64) {
    QUEUES.with(|q| {
        let mut q = q.borrow_mut();
        if let Some(queue) = q.by_key.get_mut(key) {
            queue.retain(|w| w.id != id);
            if queue.is_empty() {
                q.by_key.remove(key);
            }
        }
    });
}

/// Whether any client waits for any key on this core (what every push
/// asks first: nobody is blocked, in the common case).
pub fn any_waiters() -> bool {
    QUEUES.with(|q| !q.borrow().by_key.is_empty())
}

/// Whether some client (of either kind) waits for `key` on this core.
pub fn has_waiters(key: &[u8]) -> bool {
    QUEUES.with(|q| q.borrow().by_key.contains_key(key))
}

/// Claims the longest waiting live waiter of `key` whose [`WaitOp::kind`]
/// is `kind`, removing it (and the stale registrations met before it)
/// from the queue; live waiters of the other kind keep their place. The
/// caller holds the key's lock, has seen that `key` holds a non-empty
/// value of `kind`, and must [`Waiter::deliver`] to the waiter it gets.
pub fn claim_next(key: &[u8], kind: ValueType) -> Option<Arc<Waiter>> {
    QUEUES.with(|q| {
        let mut q = q.borrow_mut();
        let queue = q.by_key.get_mut(key)?;
        let mut claimed = None;
        let mut i = 0;
        while i < queue.len() {
            let w = &queue[i];
            if w.op.kind() == kind {
                // Claimed here, or stale (cancelled, or claimed by
                // another core): either way its registration goes.
                let won = w.claim();
                let w = queue.remove(i);
                if won {
                    claimed = w;
                    break;
                }
            } else if w.is_waiting() {
                i += 1;
            } else {
                queue.remove(i);
            }
        }
        if queue.is_empty() {
            q.by_key.remove(key);
        }
        claimed
    })
}

/// Registrations on this core (for tests and stats).
pub fn registrations() -> usize {
    QUEUES.with(|q| q.borrow().by_key.values().map(VecDeque::len).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_wins_and_a_cancelled_waiter_is_skipped() {
        let a = Waiter::new(WaitOp::Wake);
        let b = Waiter::new(WaitOp::Wake);
        register(b"k", a.clone(), false);
        register(b"j", a.clone(), false);
        register(b"k", b.clone(), false);
        assert!(a.cancel());
        assert!(!a.cancel());
        let got = claim_next(b"k", ValueType::List).unwrap();
        assert_eq!(got.id(), b.id());
        assert!(!b.cancel(), "claimed: the client must take the delivery");
        assert!(claim_next(b"k", ValueType::List).is_none());
        assert!(
            claim_next(b"j", ValueType::List).is_none(),
            "stale registration dropped"
        );
        assert_eq!(registrations(), 0);
    }

    #[test]
    fn fifo_and_front_registration() {
        let a = Waiter::new(WaitOp::Wake);
        let b = Waiter::new(WaitOp::Wake);
        let c = Waiter::new(WaitOp::Wake);
        register(b"q", a.clone(), false);
        register(b"q", b.clone(), false);
        register(b"q", c.clone(), true);
        assert_eq!(claim_next(b"q", ValueType::List).unwrap().id(), c.id());
        assert_eq!(claim_next(b"q", ValueType::List).unwrap().id(), a.id());
        unregister(b"q", b.id());
        assert!(!has_waiters(b"q"));
    }

    #[test]
    fn a_write_claims_only_waiters_of_its_type_and_the_others_keep_their_place() {
        let zpop = WaitOp::ZPop {
            min: true,
            count: None,
        };
        let list = Waiter::new(WaitOp::Pop {
            front: true,
            count: None,
        });
        let z1 = Waiter::new(zpop);
        let z2 = Waiter::new(zpop);
        let gone = Waiter::new(WaitOp::Wake);
        register(b"t", gone.clone(), false);
        register(b"t", list.clone(), false);
        register(b"t", z1.clone(), false);
        register(b"t", z2.clone(), false);
        assert!(gone.cancel());
        assert_eq!(claim_next(b"t", ValueType::ZSet).unwrap().id(), z1.id());
        assert!(list.is_waiting(), "a list waiter is not claimed by a zset");
        assert_eq!(registrations(), 2, "the cancelled one was dropped");
        assert_eq!(claim_next(b"t", ValueType::List).unwrap().id(), list.id());
        assert!(claim_next(b"t", ValueType::List).is_none());
        assert_eq!(claim_next(b"t", ValueType::ZSet).unwrap().id(), z2.id());
        assert!(!has_waiters(b"t"));
    }

    #[test]
    fn a_delivery_to_an_abandoned_waiter_comes_back() {
        let w = Waiter::new(WaitOp::Pop {
            front: true,
            count: None,
        });
        assert!(w.claim());
        assert_eq!(w.abandon(), None);
        let s = Served::Ready;
        assert_eq!(w.deliver(s.clone()), Err(s));

        let w = Waiter::new(WaitOp::Wake);
        assert!(w.claim());
        w.deliver(Served::Ready).unwrap();
        assert_eq!(w.abandon(), Some(Served::Ready));
    }
}
