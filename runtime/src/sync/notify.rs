//! [`Notify`]: wake one or all waiting tasks of a core.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Wakes tasks of one core that wait for an event (share it with `Rc`).
///
/// [`notify_one`](Self::notify_one) wakes the longest-waiting task, or, if
/// none waits, stores one permit that the next [`notified`](Self::notified)
/// takes at once (permits do not accumulate: at most one is stored).
/// [`notify_waiters`](Self::notify_waiters) wakes every task waiting now
/// and stores nothing.
///
/// Invariant: a waiter in the queue is either waiting or *notified*; a
/// notified waiter that is dropped before it sees the notification passes
/// a `notify_one` on to the next waiter (or back to the permit).
///
/// # Examples
/// ```no_run
/// use std::rc::Rc;
/// use frys_runtime::sync::Notify;
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let ready = Rc::new(Notify::new());
/// let r = ready.clone();
/// let waiter = frys_runtime::spawn_local(async move { r.notified().await });
/// ready.notify_one();
/// waiter.await.unwrap();
/// # });
/// ```
#[derive(Default)]
pub struct Notify {
    permit: Cell<bool>,
    next_id: Cell<u64>,
    waiters: RefCell<VecDeque<Waiter>>,
}

struct Waiter {
    id: u64,
    state: Woken,
    waker: Option<Waker>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Woken {
    No,
    /// By `notify_one`: must be passed on if never seen.
    One,
    /// By `notify_waiters`.
    All,
}

impl Notify {
    /// A `Notify` with no permit stored.
    pub fn new() -> Notify {
        Notify::default()
    }

    /// Wakes the longest-waiting task, or stores a permit if none waits.
    pub fn notify_one(&self) {
        let waker = {
            let mut waiters = self.waiters.borrow_mut();
            match waiters.iter_mut().find(|w| w.state == Woken::No) {
                Some(w) => {
                    w.state = Woken::One;
                    w.waker.take()
                }
                None => {
                    self.permit.set(true);
                    None
                }
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every task waiting now; stores no permit.
    pub fn notify_waiters(&self) {
        let woken: Vec<Waker> = self
            .waiters
            .borrow_mut()
            .iter_mut()
            .filter(|w| w.state == Woken::No)
            .filter_map(|w| {
                w.state = Woken::All;
                w.waker.take()
            })
            .collect();
        woken.into_iter().for_each(Waker::wake);
    }

    /// Waits for a notification (or takes the stored permit).
    ///
    /// The future joins the queue at its first poll, so a `notify_waiters`
    /// before that poll is not seen by it.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped future leaves the queue; a `notify_one` it had
    /// received goes to the next waiter.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            id: None,
        }
    }
}

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notify")
            .field("permit", &self.permit.get())
            .finish_non_exhaustive()
    }
}

/// The future of [`Notify::notified`].
pub struct Notified<'a> {
    notify: &'a Notify,
    id: Option<u64>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let notify = self.notify;
        let Some(id) = self.id else {
            if notify.permit.replace(false) {
                return Poll::Ready(());
            }
            let id = notify.next_id.get();
            notify.next_id.set(id + 1);
            notify.waiters.borrow_mut().push_back(Waiter {
                id,
                state: Woken::No,
                waker: Some(cx.waker().clone()),
            });
            self.id = Some(id);
            return Poll::Pending;
        };
        let mut waiters = notify.waiters.borrow_mut();
        let at = waiters
            .iter()
            .position(|w| w.id == id)
            .expect("a waiting Notified is in the queue");
        if waiters[at].state != Woken::No {
            waiters.remove(at);
            self.id = None;
            return Poll::Ready(());
        }
        waiters[at].waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else {
            return;
        };
        let removed = {
            let mut waiters = self.notify.waiters.borrow_mut();
            let at = waiters.iter().position(|w| w.id == id);
            at.and_then(|at| waiters.remove(at))
        };
        if matches!(removed, Some(w) if w.state == Woken::One) {
            self.notify.notify_one();
        }
    }
}
