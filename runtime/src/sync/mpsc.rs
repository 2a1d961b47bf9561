//! A bounded multi-producer, single-consumer channel between tasks of one
//! core. (Between cores, use [`crate::channel`].)
//!
//! Invariants: `sem` holds one permit per free slot, so `queue.len()` never
//! exceeds the capacity; a sender takes a permit before it pushes and the
//! receiver gives one back per value it takes. The receiver's drop closes
//! `sem`, which fails every waiting and later send.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::semaphore::Semaphore;

/// A bounded channel of `capacity` values (at least 1).
///
/// # Panics
/// If `capacity` is 0.
///
/// # Examples
/// ```no_run
/// use frys_runtime::sync::mpsc;
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::channel(16);
/// for id in 0..3 {
///     let tx = tx.clone();
///     frys_runtime::spawn_local(async move { tx.send(id).await.unwrap() });
/// }
/// drop(tx);
/// let mut got = Vec::new();
/// while let Some(id) = rx.recv().await {
///     got.push(id);
/// }
/// got.sort();
/// assert_eq!(got, [0, 1, 2]);
/// # });
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc::channel needs a capacity of at least 1");
    let shared = Rc::new(Shared {
        queue: RefCell::new(VecDeque::new()),
        sem: Semaphore::new(capacity),
        senders: Cell::new(1),
        receiver_waker: RefCell::new(None),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    queue: RefCell<VecDeque<T>>,
    sem: Semaphore,
    senders: Cell<usize>,
    receiver_waker: RefCell<Option<Waker>>,
}

impl<T> Shared<T> {
    fn wake_receiver(&self) {
        let waker = self.receiver_waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The receiver is gone; the value is given back.
#[derive(Debug, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> std::fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the channel's receiver was dropped")
    }
}

impl<T: std::fmt::Debug> std::error::Error for SendError<T> {}

/// Sends values; clone it for more producers.
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full.
    ///
    /// # Errors
    /// The value back if the receiver is dropped.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped send sent nothing and gives up its place.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        // The receiver may go between the grant and this poll.
        if self.shared.sem.acquire(1).await.is_err() || self.shared.sem.is_closed() {
            return Err(SendError(value));
        }
        self.shared.queue.borrow_mut().push_back(value);
        self.shared.wake_receiver();
        Ok(())
    }

    /// Sends `value` if there is room now.
    ///
    /// # Errors
    /// The value back if the channel is full or the receiver is dropped.
    pub fn try_send(&self, value: T) -> Result<(), SendError<T>> {
        if !self.shared.sem.try_acquire(1) {
            return Err(SendError(value));
        }
        self.shared.queue.borrow_mut().push_back(value);
        self.shared.wake_receiver();
        Ok(())
    }

    /// Whether the receiver has been dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.sem.is_closed()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.set(self.shared.senders.get() + 1);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.senders.set(self.shared.senders.get() - 1);
        if self.shared.senders.get() == 0 {
            self.shared.wake_receiver();
        }
    }
}

/// Receives values in the order they were sent.
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next value; `None` once every sender is dropped and the queue
    /// is empty.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped `recv` took nothing.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| {
            if let Some(v) = self.try_recv() {
                return Poll::Ready(Some(v));
            }
            if self.shared.senders.get() == 0 {
                return Poll::Ready(None);
            }
            *self.shared.receiver_waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The next value if one is queued now.
    pub fn try_recv(&mut self) -> Option<T> {
        let v = self.shared.queue.borrow_mut().pop_front()?;
        self.shared.sem.release(1);
        Some(v)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.sem.close();
        self.shared.queue.borrow_mut().clear();
    }
}
