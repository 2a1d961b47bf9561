//! The receiving half of a [`channel`](super).

use core::fmt;
use core::future::poll_fn;
use core::task::{Context, Poll, Waker};

use super::error::TryRecvError;
use super::ring::Consumer;
use super::shared::Shared;
use crate::loom::sync::Arc;

/// Receives values from the [`Sender`](super::Sender) of a
/// [`bounded`](super::bounded) channel.
///
/// `Send` (if `T: Send`), not `Sync`, not `Clone`. Dropping it closes the
/// channel, wakes a sender waiting for room, and drops the items still in the
/// channel.
pub struct Receiver<T> {
    consumer: Consumer<T>,
    shared: Arc<Shared>,
}

impl<T> Receiver<T> {
    pub(super) fn new(consumer: Consumer<T>, shared: Arc<Shared>) -> Receiver<T> {
        Receiver { consumer, shared }
    }

    /// Receives the next item, waiting while the channel is empty. Returns
    /// `None` once the sender is dropped and every item has been received.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe. An item is taken out of the channel only in the poll that
    /// completes the future; dropping the future earlier loses nothing.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Takes the next item if one is available now; frees its slot and wakes
    /// the sender if it waits for room.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if let Some(value) = self.consumer.pop() {
            self.shared.tx.notify();
            return Ok(value);
        }
        if self.shared.is_closed() {
            // The sender published its last items before closing, and the
            // `Acquire` in `is_closed` made them visible: drain them first.
            // (No sender left to notify.)
            return self.consumer.pop().ok_or(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }

    /// Polls for the next item: `Ready(Some(_))` with an item,
    /// `Ready(None)` when closed and drained, otherwise registers `cx`'s
    /// waker (woken by the next publish or by the sender's drop) and returns
    /// `Pending`.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.try_recv() {
            Ok(value) => return Poll::Ready(Some(value)),
            Err(TryRecvError::Closed) => return Poll::Ready(None),
            Err(TryRecvError::Empty) => {}
        }
        self.register_waker(cx.waker());
        // Re-check after announcing (see `WaitSlot`).
        match self.try_recv() {
            Ok(value) => {
                self.shared.rx.cancel_wait();
                Poll::Ready(Some(value))
            }
            Err(TryRecvError::Closed) => Poll::Ready(None),
            Err(TryRecvError::Empty) => Poll::Pending,
        }
    }

    /// Arms `waker` to be woken by the next publish (or the sender's drop).
    ///
    /// For a scheduler loop that drains with [`try_recv`](Self::try_recv):
    /// call this before parking, then check [`has_pending`](Self::has_pending)
    /// and drain again instead of parking if it returns `true`. An armed
    /// waker fires at most once; arm again before each park.
    pub fn register_waker(&self, waker: &Waker) {
        self.shared.rx.prepare_wait(waker);
    }

    /// Whether an item is available to [`try_recv`](Self::try_recv) now.
    ///
    /// Does not report closure; a dropped sender wakes the armed waker, and
    /// `try_recv` then returns [`TryRecvError::Closed`].
    pub fn has_pending(&self) -> bool {
        !self.consumer.is_empty()
    }

    /// Whether the sender was dropped (items may still be pending).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Maximum number of items in flight.
    pub fn capacity(&self) -> usize {
        self.consumer.capacity()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.close();
        self.shared.tx.wake();
        // `self.consumer` is dropped next and drops the remaining items.
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}
