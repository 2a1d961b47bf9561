//! One io_uring operation as a future that owns its buffers.
//!
//! Invariant: everything the SQE points at lives in the `Box<T>` of the
//! operation, which is either held by the [`Op`] future or, once the future
//! is dropped, by the driver's orphaned slot — until the kernel posts the
//! CQE. Only then is the box released (or handed back to the caller inside a
//! [`Completion`]). Dropping an `Op` early also submits an `ASYNC_CANCEL`, so
//! an abandoned read on a quiet socket does not pin its buffer forever.

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use io_uring::squeue;

use crate::runtime::context;

/// An operation the driver can submit.
pub(crate) trait Operation: 'static {
    /// Builds the SQE. `self` is at its final heap address and stays there
    /// until the completion arrives, so the entry may point into it.
    fn sqe(&mut self) -> squeue::Entry;

    /// Called when the operation completes after its future was dropped:
    /// release what the kernel produced (for example close an accepted fd).
    fn orphan_completed(self: Box<Self>, result: i32) {
        let _ = result;
    }
}

impl<T: Operation> super::slab::Orphan for T {
    fn completed(self: Box<Self>, result: i32) {
        T::orphan_completed(self, result);
    }
}

/// The outcome of an operation, with its buffers given back.
pub(crate) struct Completion<T> {
    /// The CQE result: the non-negative value or the errno as an error.
    pub(crate) result: io::Result<u32>,
    /// CQE flags, kept for operations that need them.
    #[allow(dead_code)]
    pub(crate) flags: u32,
    pub(crate) data: T,
}

/// A submitted operation. Not `Send`: it belongs to the core whose ring
/// carries it.
pub(crate) struct Op<T: Operation> {
    data: Option<Box<T>>,
    index: usize,
    _core_bound: PhantomData<*const ()>,
}

impl<T: Operation> Op<T> {
    /// Queues the operation on the current core's ring. It reaches the kernel
    /// at the core's next submission (once per scheduler tick). On error the
    /// operation never reached the ring, and its data is given back.
    pub(crate) fn submit(data: T) -> Result<Self, (io::Error, T)> {
        let mut data = Box::new(data);
        let sqe = data.sqe();
        let index = match context::with_driver(|driver| driver.submit_op(sqe)) {
            Some(Ok(index)) => index,
            Some(Err(e)) => return Err((e, *data)),
            None => return Err((context::not_on_core(), *data)),
        };
        Ok(Self {
            data: Some(data),
            index,
            _core_bound: PhantomData,
        })
    }
}

impl<T: Operation> Future for Op<T> {
    type Output = Completion<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Completion<T>> {
        // `Op` is `Unpin`: it holds a box and an index.
        let this = self.get_mut();
        let polled = context::with_driver(|driver| driver.poll_op(this.index, cx));
        match polled {
            Some(Poll::Ready((result, flags))) => {
                let data = match this.data.take() {
                    Some(data) => *data,
                    // Polling after completion is a caller bug; the Future
                    // contract allows any non-UB outcome. We keep waiting.
                    None => return Poll::Pending,
                };
                let result = if result < 0 {
                    Err(io::Error::from_raw_os_error(-result))
                } else {
                    Ok(result as u32)
                };
                Poll::Ready(Completion {
                    result,
                    flags,
                    data,
                })
            }
            Some(Poll::Pending) => Poll::Pending,
            // The core is gone; its driver drained every operation when it
            // shut down, so this future can never complete.
            None => Poll::Pending,
        }
    }
}

impl<T: Operation> Drop for Op<T> {
    fn drop(&mut self) {
        let Some(data) = self.data.take() else {
            return;
        };
        let index = self.index;
        let mut data = Some(data);
        let _ = context::with_driver(|driver| {
            if let Some(data) = data.take() {
                driver.orphan(index, data);
            }
        });
        if let Some(data) = data {
            // No driver on this thread any more (the core has shut down and
            // this future outlived it). The kernel may in theory still hold
            // a pointer into `data`, so leaking it is the only safe choice.
            std::mem::forget(data);
        }
    }
}
