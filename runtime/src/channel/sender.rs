//! The sending half of a [`channel`](super).

use core::fmt;
use core::future::poll_fn;
use core::task::{Context, Poll};

use super::error::{Closed, SendError, TrySendError};
use super::ring::Producer;
use super::shared::Shared;
use crate::loom::sync::Arc;

/// Sends values to the [`Receiver`](super::Receiver) of a
/// [`bounded`](super::bounded) channel.
///
/// `Send` (if `T: Send`), not `Sync`, not `Clone`: there is exactly one
/// sender. Dropping it publishes any buffered items, closes the channel and
/// wakes the receiver.
pub struct Sender<T> {
    producer: Producer<T>,
    shared: Arc<Shared>,
}

impl<T> Sender<T> {
    pub(super) fn new(producer: Producer<T>, shared: Arc<Shared>) -> Sender<T> {
        Sender { producer, shared }
    }

    /// Sends `value`, waiting for room while the channel is full.
    ///
    /// Publishes any previously buffered items together with `value`. Fails
    /// with the value if the receiver is dropped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe. The value is pushed and published in the same poll that
    /// completes the future; if the future is dropped before completing, the
    /// value is dropped and nothing was sent.
    pub async fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        let mut value = value;
        loop {
            if poll_fn(|cx| self.poll_ready(cx)).await.is_err() {
                return Err(SendError(value));
            }
            match self.try_send(value) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(v)) => return Err(SendError(v)),
                // Unreachable in practice: we hold `&mut self` and
                // `poll_ready` just saw room. Retrying is correct anyway.
                Err(TrySendError::Full(v)) => value = v,
            }
        }
    }

    /// Sends `value` if there is room now, publishing it (and any buffered
    /// items) and waking the receiver if it waits.
    ///
    /// On `Full`, buffered items are still published so the receiver can make
    /// room.
    pub fn try_send(&mut self, value: T) -> Result<(), TrySendError<T>> {
        let result = self.try_send_buffered(value);
        self.flush();
        result
    }

    /// Pushes `value` without making it visible to the receiver; call
    /// [`flush`](Self::flush) (or [`try_send`](Self::try_send) /
    /// [`send`](Self::send)) to publish the batch with one store and at most
    /// one wake-up.
    ///
    /// Returns `Full` if the ring has no free slot, counting buffered items.
    /// Buffered items are published when the sender is dropped.
    pub fn try_send_buffered(&mut self, value: T) -> Result<(), TrySendError<T>> {
        if self.shared.is_closed() {
            return Err(TrySendError::Closed(value));
        }
        self.producer.push(value).map_err(TrySendError::Full)
    }

    /// Publishes every buffered item and wakes the receiver (once) if it
    /// waits. Does nothing if nothing is buffered.
    pub fn flush(&mut self) {
        if self.producer.pending() > 0 {
            self.producer.publish();
            self.shared.rx.notify();
        }
    }

    /// Number of buffered (pushed but unpublished) items.
    pub fn buffered(&self) -> usize {
        self.producer.pending()
    }

    /// Polls for room for one more item.
    ///
    /// `Ready(Ok(()))` if a push would succeed now; `Ready(Err(Closed))` if
    /// the receiver was dropped. Otherwise flushes buffered items (the
    /// receiver cannot free room it cannot see), registers `cx`'s waker to be
    /// woken when the receiver frees a slot or is dropped, and returns
    /// `Pending`.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        if self.shared.is_closed() {
            return Poll::Ready(Err(Closed));
        }
        if self.producer.has_room() {
            return Poll::Ready(Ok(()));
        }
        self.flush();
        self.shared.tx.prepare_wait(cx.waker());
        // Re-check after announcing (see `WaitSlot`).
        if self.producer.has_room() {
            self.shared.tx.cancel_wait();
            return Poll::Ready(Ok(()));
        }
        if self.shared.is_closed() {
            return Poll::Ready(Err(Closed));
        }
        Poll::Pending
    }

    /// Whether the receiver was dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Maximum number of items in flight.
    pub fn capacity(&self) -> usize {
        self.producer.capacity()
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Publish before closing: a receiver that sees `closed` must also see
        // every item (the `Release` of `close` orders the `tail` store).
        self.producer.publish();
        self.shared.close();
        self.shared.rx.wake();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .field("buffered", &self.buffered())
            .field("closed", &self.is_closed())
            .finish()
    }
}
