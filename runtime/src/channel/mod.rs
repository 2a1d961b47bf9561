//! Bounded async single-producer / single-consumer channel for cross-core
//! messages, built on the lock-free [`ring`].
//!
//! [`bounded`] returns a [`Sender`] and a [`Receiver`]; each may live on its
//! own core. Sending applies backpressure (waits while the ring is full);
//! receiving waits while it is empty. Buffered sending
//! ([`Sender::try_send_buffered`] + [`Sender::flush`]) publishes a batch with
//! one store and at most one wake-up.
//!
//! # Wake protocol
//!
//! Each side has a waker slot with a "waiting" flag (see `shared.rs`,
//! built on [`ParkFlag`](crate::sync::ParkFlag)):
//!
//! * The receiver, finding the ring empty, registers its waker, raises its
//!   flag, and re-checks the ring (and the closed flag) before returning
//!   `Pending`. The sender, after each publish, checks the flag with a plain
//!   load behind a fence and only swaps it and wakes the receiver if it is
//!   raised. A busy stream of sends therefore does no atomic read-modify-write
//!   on shared state per message (one local `SeqCst` fence per publish, which
//!   batching amortizes).
//! * Symmetrically, the sender, finding the ring full, registers, raises its
//!   flag and re-checks for room; the receiver checks that flag after every
//!   pop and wakes the sender only if it is raised.
//! * Dropping either half publishes nothing new (the sender publishes its
//!   buffered items first), sets `closed`, and wakes the other side
//!   unconditionally.
//!
//! Wakers are only woken (`Waker::wake`); waking a task that lives on another
//! core is the executor's business.

mod error;
pub mod mpsc;
mod receiver;
pub(crate) mod ring;
mod sender;
mod shared;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

pub use error::{Closed, SendError, TryRecvError, TrySendError};
pub use receiver::Receiver;
pub use sender::Sender;

use crate::loom::sync::Arc;

/// Creates a channel holding up to `capacity` items (rounded up to a power of
/// two, at least 1).
///
/// # Panics
///
/// If `capacity > ring::MAX_CAPACITY`.
///
/// # Examples
/// Core 1 produces, core 0 consumes; `send` waits while the ring is full.
/// ```no_run
/// use frys_runtime::{channel, Cores, Runtime};
/// let rt = Runtime::builder().cores(Cores::Count(2)).build().unwrap();
/// rt.block_on(async {
///     let (mut tx, mut rx) = channel::bounded::<u64>(64);
///     frys_runtime::spawn_on(1, move || async move {
///         for i in 0..1000 {
///             tx.send(i).await.unwrap();
///         }
///     });
///     let mut sum = 0;
///     while let Some(v) = rx.recv().await {
///         sum += v;
///     }
///     assert_eq!(sum, 499_500);
/// });
/// ```
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let (producer, consumer) = ring::ring(capacity);
    let shared = Arc::new(shared::Shared::new());
    (
        Sender::new(producer, shared.clone()),
        Receiver::new(consumer, shared),
    )
}
