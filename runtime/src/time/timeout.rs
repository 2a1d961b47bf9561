//! `timeout`: bound how long a future may take.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::sleep::{sleep, Sleep};

/// Runs `future`, giving up after `duration`.
///
/// # Cancel safety
/// Dropping it drops `future`; the inner future's own cancel safety applies.
///
/// # Examples
/// ```no_run
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// use std::time::Duration;
/// let slow = frys_runtime::time::sleep(Duration::from_secs(10));
/// let r = frys_runtime::time::timeout(Duration::from_millis(10), slow).await;
/// assert!(r.is_err());
/// # });
/// ```
/// # Panics
/// Polling it outside a frys core panics (its timer lives on the core).
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// The future of [`timeout`].
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

/// The deadline of a [`timeout`] passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of `future`: it is never moved out of
        // `self` and `Timeout` has no `Drop` impl or `Unpin` impl of its own
        // that could move it; `sleep` is `Unpin` and handled by `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.future` stays pinned inside `self`.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(out) = future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}
