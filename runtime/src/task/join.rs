//! `JoinHandle`: awaiting, aborting or detaching a task.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use std::sync::atomic::Ordering;

use super::cell::{JoinTarget, NO_SLOT};
use super::state::COMPLETE;

/// An owned permission to await a task's output.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked or
/// was aborted. Dropping it detaches the task, which keeps running.
///
/// # Examples
///
/// ```no_run
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let handle = frys_runtime::spawn_local(async { 6 * 7 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # });
/// ```
pub struct JoinHandle<T> {
    raw: Arc<dyn JoinTarget<T>>,
    /// `JoinHandle<T>` is `Send` only if `T` is: the output may be taken on
    /// the handle's thread.
    _output: PhantomData<T>,
}

// The handle holds only an `Arc` to the task; the output is never stored
// inside it, so moving a handle never moves pinned data.
impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(raw: Arc<dyn JoinTarget<T>>) -> Self {
        Self {
            raw,
            _output: PhantomData,
        }
    }

    /// Asks the task to stop. Its future is dropped on its own core the next
    /// time that core looks at it; awaiting the handle then gives
    /// [`JoinError::is_cancelled`]. Aborting a finished task does nothing.
    pub fn abort(&self) {
        Arc::clone(&self.raw).abort();
    }

    /// Whether the task has produced its output (or failed).
    pub fn is_finished(&self) -> bool {
        self.raw.header().state.load() & COMPLETE != 0
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// # Cancel safety
    ///
    /// Dropping the handle (or the future awaiting it) detaches the task; it
    /// keeps running and its output is dropped on its own core.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let header = self.raw.header();
        if header.state.load() & COMPLETE == 0 {
            // A reply over the mesh reaches only the submitting core; polled
            // anywhere else, ask for a direct wake (ordered before the
            // registration, which the completing core takes first).
            let reply_to = header.reply_to.load(Ordering::Relaxed);
            if reply_to != NO_SLOT && !crate::runtime::on_core(&header.shared, reply_to) {
                header.reply_to.store(NO_SLOT, Ordering::Release);
            }
            header.join_waker.register(cx.waker());
            // Re-check: completion may have happened before registration.
            if header.state.load() & COMPLETE == 0 {
                return Poll::Pending;
            }
        }
        // SAFETY: COMPLETE was observed with Acquire, so the output write
        // happened-before; only this handle takes the output, and `&mut self`
        // (through Pin of an Unpin type) makes this call exclusive.
        match unsafe { self.raw.take_output() } {
            Some(out) => Poll::Ready(out),
            // Polled again after returning Ready: a caller bug; stay pending.
            None => Poll::Pending,
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let prev = self.raw.header().state.set_detached();
        if prev & COMPLETE != 0 {
            // The output is there and nobody will take it: drop it here,
            // on the handle's thread (which is the task's core when `T` is
            // not `Send`).
            // SAFETY: as in `poll`: COMPLETE seen, and we are the only taker.
            drop(unsafe { self.raw.take_output() });
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a task produced no output.
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        Self {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> Self {
        Self {
            repr: Repr::Panic(payload),
        }
    }

    /// The task was aborted, or its runtime shut down first.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to resume the panic with
    /// `std::panic::resume_unwind`; gives the error back if it is not a panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => Err(self),
        }
    }

    fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic(p) => p
                .downcast_ref::<&'static str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str)),
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.panic_message()) {
            (Repr::Cancelled, _) => f.write_str("task was cancelled"),
            (Repr::Panic(_), Some(msg)) => write!(f, "task panicked: {msg}"),
            (Repr::Panic(_), None) => f.write_str("task panicked"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {}
