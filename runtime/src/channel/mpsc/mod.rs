//! A bounded multi-producer, single-consumer channel across cores, made of
//! one lock-free SPSC ring per sender.
//!
//! Each [`Sender`] owns the producing end of its own ring
//! ([`bounded`](super::bounded)); cloning a sender makes a new ring and
//! hands its consuming end to the receiver through a lock-free stack
//! (`handoff.rs`). The [`Receiver`] takes new rings from the stack and
//! polls its rings in turn, so one busy sender cannot starve the others.
//! No locks anywhere: the rings and the stack are atomics only.
//!
//! Invariants:
//! - every sender's ring reaches the receiver: it is pushed onto the stack
//!   before the clone returns, i.e. while the sender it was cloned from is
//!   alive, so before that sender's ring can report closed;
//! - hence the receiver may end (`None`) only when every ring it holds is
//!   closed and drained *and* the stack is empty, checked in that order;
//! - a dropped receiver closes the stack, so every sender, including one
//!   cloned later, sees it gone.
//!
//! Capacity is per sender: each ring holds `capacity` values, so `n`
//! senders buffer at most `n * capacity`.

mod handoff;
#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

use std::future::poll_fn;
use std::task::{Context, Poll};

use handoff::Handoff;

use super::{SendError, TryRecvError, TrySendError};
use crate::loom::sync::Arc;

/// A channel from any number of senders, on any cores, to one receiver;
/// each sender's ring holds `capacity` values (rounded up to a power of
/// two).
///
/// # Panics
/// If `capacity` is above the ring's maximum.
///
/// # Examples
/// ```no_run
/// use frys_runtime::{channel::mpsc, Cores, Runtime};
/// let rt = Runtime::builder().cores(Cores::Count(2)).build().unwrap();
/// rt.block_on(async {
///     let (tx, mut rx) = mpsc::channel::<usize>(64);
///     for core in 0..2 {
///         let mut tx = tx.clone();
///         frys_runtime::spawn_on(core, move || async move {
///             tx.send(core).await.unwrap();
///         });
///     }
///     drop(tx);
///     let mut got = Vec::new();
///     while let Some(core) = rx.recv().await {
///         got.push(core);
///     }
///     got.sort();
///     assert_eq!(got, [0, 1]);
/// });
/// ```
pub fn channel<T: Send>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let handoff = Arc::new(Handoff::new());
    let (tx, rx) = super::bounded(capacity);
    (
        Sender {
            ring: tx,
            handoff: handoff.clone(),
            capacity,
        },
        Receiver {
            rings: vec![rx],
            handoff,
            next: 0,
        },
    )
}

/// Sends values to the channel's [`Receiver`]; clone it for more senders
/// (each clone has its own ring). `Send`: move it to any core.
pub struct Sender<T: Send> {
    ring: super::Sender<T>,
    handoff: Arc<Handoff<super::Receiver<T>>>,
    capacity: usize,
}

impl<T: Send> Sender<T> {
    /// Sends `value`, waiting while this sender's ring is full.
    ///
    /// # Errors
    /// The value back if the receiver is gone.
    ///
    /// # Cancel safety
    /// As [`super::Sender::send`]: a dropped send sent nothing.
    pub async fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        self.ring.send(value).await
    }

    /// Sends `value` if this sender's ring has room now.
    ///
    /// # Errors
    /// `Full` or `Closed`, with the value.
    pub fn try_send(&mut self, value: T) -> Result<(), TrySendError<T>> {
        self.ring.try_send(value)
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.ring.is_closed()
    }
}

impl<T: Send> Clone for Sender<T> {
    fn clone(&self) -> Self {
        let (tx, rx) = super::bounded(self.capacity);
        self.handoff.push(rx);
        Sender {
            ring: tx,
            handoff: self.handoff.clone(),
            capacity: self.capacity,
        }
    }
}

impl<T: Send> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("mpsc::Sender").finish_non_exhaustive()
    }
}

/// Receives the values of every [`Sender`], each sender's in its order.
pub struct Receiver<T: Send> {
    rings: Vec<super::Receiver<T>>,
    handoff: Arc<Handoff<super::Receiver<T>>>,
    /// Where the next poll starts (round robin over the rings).
    next: usize,
}

impl<T: Send> Receiver<T> {
    /// The next value; `None` once every sender is dropped and everything
    /// sent has been received.
    ///
    /// # Cancel safety
    /// Cancel-safe: a value is taken only in the poll that returns it.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// A value if one is available now.
    ///
    /// # Errors
    /// `Empty` if none is available, `Closed` once every sender is gone and
    /// everything was received.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.rings.extend(self.handoff.take_all());
        let n = self.rings.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if let Ok(v) = self.rings[i].try_recv() {
                self.next = (i + 1) % n;
                return Ok(v);
            }
        }
        // Drop the rings that are closed and drained. Decide on what is
        // left, not on what the loop saw: a ring may close in between.
        self.rings.retain(|r| !r.is_closed() || r.has_pending());
        self.next = 0;
        if !self.rings.is_empty() || !self.handoff.is_empty() {
            Err(TryRecvError::Empty)
        } else {
            Err(TryRecvError::Closed)
        }
    }

    /// Polls for the next value (see [`recv`](Self::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        loop {
            match self.try_recv() {
                Ok(v) => return Poll::Ready(Some(v)),
                Err(TryRecvError::Closed) => return Poll::Ready(None),
                Err(TryRecvError::Empty) => {}
            }
            self.handoff.waker.register(cx.waker());
            for r in &self.rings {
                r.register_waker(cx.waker());
            }
            // Re-check after announcing: a value, a close or a new ring
            // that arrived in between would otherwise wake nobody.
            let moved = !self.handoff.is_empty()
                || self.rings.iter().any(|r| r.has_pending() || r.is_closed());
            if !moved {
                return Poll::Pending;
            }
        }
    }
}

impl<T: Send> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Rings still on the stack close with it, so their senders see the
        // receiver gone; so do rings of later clones.
        self.handoff.close();
    }
}

impl<T: Send> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("mpsc::Receiver")
            .field("senders_seen", &self.rings.len())
            .finish_non_exhaustive()
    }
}
