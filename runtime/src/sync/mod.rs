//! Synchronization for tasks.
//!
//! Core-local (`!Send`, for tasks of one core that share state through
//! `Rc`): [`Mutex`], [`RwLock`], [`Notify`], [`oneshot`] and a bounded
//! [`mpsc`] channel. Across cores: [`CancellationToken`] (`Send + Sync`),
//! and the SPSC [`channel`](crate::channel) between two cores.
//!
//! The runtime's own lock-free pieces (the waker slot and the park flag,
//! with their loom models) are internal.

pub(crate) mod atomic_waker;
mod cancel;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
pub(crate) mod park;
mod rwlock;
mod semaphore;

pub(crate) use atomic_waker::AtomicWaker;
pub use cancel::CancellationToken;
pub use mutex::{Mutex, MutexGuard};
pub use notify::{Notified, Notify};
pub(crate) use park::ParkFlag;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(all(test, not(loom)))]
mod tests;
