//! A one-value channel between tasks of one core.
//!
//! Invariant: the value is stored at most once; the receiver's waker is
//! woken when the value arrives or the sender is dropped without sending.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A sender and receiver of one value, for tasks of one core.
///
/// # Examples
/// ```no_run
/// use frys_runtime::sync::oneshot;
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let (tx, rx) = oneshot::channel();
/// frys_runtime::spawn_local(async move { tx.send(42).unwrap() });
/// assert_eq!(rx.await, Ok(42));
/// # });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        value: RefCell::new(None),
        sender_gone: Cell::new(false),
        receiver_gone: Cell::new(false),
        waker: RefCell::new(None),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    value: RefCell<Option<T>>,
    sender_gone: Cell<bool>,
    receiver_gone: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the oneshot sender was dropped without sending")
    }
}

impl std::error::Error for RecvError {}

/// Sends the one value.
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`; gives it back if the receiver is gone.
    pub fn send(self, value: T) -> Result<(), T> {
        if self.shared.receiver_gone.get() {
            return Err(value);
        }
        *self.shared.value.borrow_mut() = Some(value);
        Ok(())
        // Dropping `self` wakes the receiver.
    }

    /// Whether the receiver has been dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.receiver_gone.get()
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.sender_gone.set(true);
        let waker = self.shared.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Receives the one value: a future of `Result<T, RecvError>`.
///
/// # Cancel safety
/// Dropping the receiver drops a value sent to it; a later `send` fails.
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(v) = self.shared.value.borrow_mut().take() {
            return Poll::Ready(Ok(v));
        }
        if self.shared.sender_gone.get() {
            return Poll::Ready(Err(RecvError));
        }
        *self.shared.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receiver_gone.set(true);
    }
}
