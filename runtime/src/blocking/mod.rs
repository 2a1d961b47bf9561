//! Running blocking code off the cores: [`spawn_blocking`].
//!
//! A core runs many tasks on one thread, so one blocking call (a
//! synchronous library, `std::fs`, a DNS lookup, heavy CPU work) stalls
//! every task and timer of that core until it returns. `spawn_blocking`
//! runs the call on a separate, process-wide pool of threads instead and
//! gives back a future of its result.
//!
//! The pool starts threads on demand, up to [`MAX_THREADS`]; a thread that
//! has been idle for [`IDLE_TIMEOUT`] exits. Pool threads are not pinned
//! and are not frys cores (no `spawn_local` there). Jobs beyond the thread
//! limit wait in a FIFO queue.

mod pool;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::sync::AtomicWaker;
use crate::JoinError;

/// Most pool threads alive at once.
pub(crate) const MAX_THREADS: usize = 512;
/// How long an idle pool thread waits for a job before it exits.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `f` on the blocking pool; the handle resolves to its result.
///
/// The pool is process-wide: threads start on demand, at most 512 at once
/// (later jobs wait in FIFO order), and exit after 10 s without work.
///
/// The call runs to completion even if the handle is dropped (a thread
/// cannot be interrupted). A panic in `f` comes back as a [`JoinError`]
/// whose `is_panic()` is true.
///
/// Works from any thread, frys core or not; awaiting the handle works in
/// any executor.
///
/// # Examples
/// ```no_run
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let n = frys_runtime::spawn_blocking(|| std::fs::read_dir("/").map(|d| d.count()))
///     .await
///     .unwrap()?;
/// println!("{n} entries in /");
/// # Ok::<(), std::io::Error>(())
/// # });
/// ```
pub fn spawn_blocking<F, R>(f: F) -> BlockingHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let shared = Arc::new(Shared {
        result: Mutex::new(None),
        waker: AtomicWaker::new(),
    });
    let done = shared.clone();
    pool::submit(Box::new(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        *done.result.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(outcome.map_err(JoinError::panic));
        done.waker.wake();
    }));
    BlockingHandle { shared }
}

struct Shared<R> {
    result: Mutex<Option<Result<R, JoinError>>>,
    waker: AtomicWaker,
}

/// The result of a [`spawn_blocking`] call, as a future.
///
/// # Cancel safety
/// Dropping it does not stop the call; its result is then dropped.
pub struct BlockingHandle<R> {
    shared: Arc<Shared<R>>,
}

impl<R> Future for BlockingHandle<R> {
    type Output = Result<R, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let take = |s: &Shared<R>| s.result.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(r) = take(&self.shared) {
            return Poll::Ready(r);
        }
        self.shared.waker.register(cx.waker());
        // The job may have finished between the check and the register.
        match take(&self.shared) {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }
}

impl<R> std::fmt::Debug for BlockingHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingHandle").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
