//! A core-local, fair (FIFO) semaphore: the building block of the local
//! `Mutex`, `RwLock` and `mpsc` channel.
//!
//! Invariants: `waiters` is in arrival order; a waiter is *granted* when
//! `release` hands it its permits directly (they are taken from `permits`
//! at that moment), and stays in the queue until its future sees the grant
//! or is dropped (a dropped granted waiter gives its permits back). Permits
//! are handed out strictly in order: a waiter that needs more than are free
//! blocks the ones behind it, so a writer of an `RwLock` is not starved by
//! a stream of readers. After `close`, every waiter and every new acquire
//! fails.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

pub(crate) struct Semaphore {
    permits: Cell<usize>,
    closed: Cell<bool>,
    next_id: Cell<u64>,
    waiters: RefCell<VecDeque<Waiter>>,
}

struct Waiter {
    id: u64,
    need: usize,
    granted: bool,
    waker: Option<Waker>,
}

/// The semaphore was closed.
#[derive(Debug)]
pub(crate) struct Closed;

impl Semaphore {
    pub(crate) const fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: Cell::new(permits),
            closed: Cell::new(false),
            next_id: Cell::new(0),
            waiters: RefCell::new(VecDeque::new()),
        }
    }

    /// Waits for `n` permits (in arrival order).
    pub(crate) fn acquire(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            n,
            id: None,
        }
    }

    /// Takes `n` permits if they are free and nobody waits before us.
    pub(crate) fn try_acquire(&self, n: usize) -> bool {
        // Granted waiters already hold their permits: only ungranted ones
        // come first.
        let nobody_first = self.waiters.borrow().iter().all(|w| w.granted);
        if !self.closed.get() && nobody_first && self.permits.get() >= n {
            self.permits.set(self.permits.get() - n);
            true
        } else {
            false
        }
    }

    /// Gives back `n` permits, granting waiters in order.
    pub(crate) fn release(&self, n: usize) {
        self.permits.set(self.permits.get() + n);
        let mut woken = Vec::new();
        {
            let mut waiters = self.waiters.borrow_mut();
            for w in waiters.iter_mut().filter(|w| !w.granted) {
                if w.need > self.permits.get() {
                    break;
                }
                self.permits.set(self.permits.get() - w.need);
                w.granted = true;
                woken.extend(w.waker.take());
            }
        }
        // Woken outside the borrow: a waker may run code that touches us.
        woken.into_iter().for_each(Waker::wake);
    }

    /// Fails every waiter and every later acquire.
    pub(crate) fn close(&self) {
        self.closed.set(true);
        let woken: Vec<Waker> = self
            .waiters
            .borrow_mut()
            .iter_mut()
            .filter_map(|w| w.waker.take())
            .collect();
        woken.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }
}

/// The future of [`Semaphore::acquire`].
pub(crate) struct Acquire<'a> {
    sem: &'a Semaphore,
    n: usize,
    /// Our place in the queue, once we wait.
    id: Option<u64>,
}

impl Future for Acquire<'_> {
    type Output = Result<(), Closed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let sem = self.sem;
        let Some(id) = self.id else {
            if sem.try_acquire(self.n) {
                return Poll::Ready(Ok(()));
            }
            if sem.closed.get() {
                return Poll::Ready(Err(Closed));
            }
            let id = sem.next_id.get();
            sem.next_id.set(id + 1);
            sem.waiters.borrow_mut().push_back(Waiter {
                id,
                need: self.n,
                granted: false,
                waker: Some(cx.waker().clone()),
            });
            self.id = Some(id);
            return Poll::Pending;
        };
        let mut waiters = sem.waiters.borrow_mut();
        let at = waiters
            .iter()
            .position(|w| w.id == id)
            .expect("a waiting acquire is in the queue");
        if waiters[at].granted {
            waiters.remove(at);
            self.id = None;
            return Poll::Ready(Ok(()));
        }
        if sem.closed.get() {
            waiters.remove(at);
            self.id = None;
            return Poll::Ready(Err(Closed));
        }
        waiters[at].waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else {
            return;
        };
        let removed = {
            let mut waiters = self.sem.waiters.borrow_mut();
            let at = waiters.iter().position(|w| w.id == id);
            at.and_then(|at| waiters.remove(at))
        };
        match removed {
            // Granted but never seen: pass the permits on.
            Some(w) if w.granted => self.sem.release(w.need),
            // We may have been blocking smaller waiters behind us.
            Some(_) => self.sem.release(0),
            None => {}
        }
    }
}
