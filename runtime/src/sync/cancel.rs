//! [`CancellationToken`]: tell tasks on any core to stop.
//!
//! Invariants: `cancelled` only ever goes from false to true; a waker is
//! registered under `state`'s lock and `cancel` sets the flag under the
//! same lock before it takes the wakers, so no waiter registers after the
//! wake-up and sleeps forever. Children are cancelled with their parent
//! (a child registered after its parent was cancelled is cancelled at once).
//! The lock is held only to register or cancel, never across an `.await`.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Poll, Waker};

/// A token that tasks watch and anyone can cancel, once; `Send + Sync`, so
/// clones work across cores. Clones share one state.
///
/// # Examples
/// ```no_run
/// use frys_runtime::sync::CancellationToken;
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let stop = CancellationToken::new();
/// let watched = stop.clone();
/// let worker = frys_runtime::spawn(async move {
///     watched.cancelled().await;
///     "stopped"
/// });
/// stop.cancel();
/// assert_eq!(worker.await.unwrap(), "stopped");
/// # });
/// ```
#[derive(Clone, Default)]
pub struct CancellationToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiters: Vec<Waker>,
    /// Weak, so that a dropped child does not stay; dead ones are pruned
    /// whenever a child is added.
    children: Vec<Weak<Inner>>,
}

impl CancellationToken {
    /// A token not yet cancelled.
    pub fn new() -> CancellationToken {
        CancellationToken::default()
    }

    /// A token cancelled when this one is (and which can be cancelled on
    /// its own without affecting this one).
    pub fn child_token(&self) -> CancellationToken {
        let child = CancellationToken::new();
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_cancelled() {
            drop(state);
            child.cancel();
        } else {
            state.children.retain(|c| c.strong_count() > 0);
            state.children.push(Arc::downgrade(&child.inner));
        }
        child
    }

    /// Cancels the token, its clones and its children; wakes every waiter.
    /// Cancelling twice does nothing more.
    pub fn cancel(&self) {
        let (waiters, children) = {
            let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            if self.inner.cancelled.swap(true, Ordering::AcqRel) {
                return;
            }
            (
                std::mem::take(&mut state.waiters),
                std::mem::take(&mut state.children),
            )
        };
        waiters.into_iter().for_each(Waker::wake);
        for child in children.iter().filter_map(Weak::upgrade) {
            CancellationToken { inner: child }.cancel();
        }
    }

    /// Whether the token has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Acquire)
    }

    /// Waits until the token is cancelled.
    ///
    /// # Cancel safety
    /// Cancel-safe (a dropped wait leaves at most a stale waker, woken and
    /// dropped at `cancel`).
    pub async fn cancelled(&self) {
        poll_fn(|cx| {
            if self.is_cancelled() {
                return Poll::Ready(());
            }
            let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            if self.is_cancelled() {
                return Poll::Ready(());
            }
            if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                state.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

impl std::fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancellationToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}
