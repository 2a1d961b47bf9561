//! One I/O operation as a future that owns its buffers.
//!
//! Invariant: everything the SQE or the [`Syscall`] points at lives in the
//! `Box<T>` of the operation, which is either held by the [`Op`] future or,
//! once the future is dropped, by the driver's orphaned slot — until the
//! kernel (or, on epoll, the file-operation pool) is done with it. Only then
//! is the box released (or handed back to the caller inside a
//! [`Completion`]). Dropping an `Op` early cancels it: io_uring gets an
//! `ASYNC_CANCEL`, so an abandoned read on a quiet socket does not pin its
//! buffer forever; on epoll a readiness wait is simply forgotten (no system
//! call was in progress), while a call already running on the pool keeps
//! its box until it returns.

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use io_uring::squeue;

use super::Syscall;
use crate::runtime::context;

/// An operation either driver can run.
pub(crate) trait Operation: 'static {
    /// Builds the SQE (io_uring). `self` is at its final heap address and
    /// stays there until the completion arrives, so the entry may point
    /// into it.
    fn sqe(&mut self) -> squeue::Entry;

    /// Describes the same operation as a system call (epoll), under the
    /// same address guarantee as [`sqe`](Self::sqe). The result must mean
    /// what the CQE's would: the non-negative value or `-errno`.
    fn syscall(&mut self) -> Syscall;

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

/// A submitted operation. Not `Send`: it belongs to the core whose driver
/// carries it, and it is resolved only against that driver (by id):
/// polling it anywhere else panics, dropping it anywhere else leaks its
/// buffers rather than freeing memory the kernel may still write.
pub(crate) struct Op<T: Operation> {
    data: Option<Box<T>>,
    /// The operation's token in its driver's slab.
    token: u64,
    /// The driver the operation was queued on.
    driver: u64,
    _core_bound: PhantomData<*const ()>,
}

impl<T: Operation> Op<T> {
    /// Starts the operation on the current core's driver. On io_uring it
    /// reaches the kernel at the core's next submission (once per scheduler
    /// tick); on epoll a socket operation is tried at once and a file
    /// operation is queued on the pool. On error the operation never
    /// started, and its data is given back.
    pub(crate) fn submit(data: T) -> Result<Self, (io::Error, T)> {
        let mut data = Box::new(data);
        let submitted = context::with_driver(|driver| (driver.id(), driver.submit(&mut *data)));
        let (driver, token) = match submitted {
            Some((id, Ok(token))) => (id, token),
            Some((_, Err(e))) => return Err((e, *data)),
            None => return Err((context::not_on_core(), *data)),
        };
        Ok(Self {
            data: Some(data),
            token,
            driver,
            _core_bound: PhantomData,
        })
    }
}

impl<T: Operation> Future for Op<T> {
    type Output = Completion<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Completion<T>> {
        // `Op` is `Unpin`: it holds a box and two integers.
        let this = self.get_mut();
        if this.data.is_none() {
            // Polled after completion: a caller bug. The slot may belong to
            // another operation by now, so do not look at it.
            return Poll::Pending;
        }
        let (driver, token) = (this.driver, this.token);
        let polled = context::with_driver(|d| (d.id() == driver).then(|| d.poll_op(token, cx)));
        match polled {
            Some(Some(Poll::Ready((result, flags)))) => {
                let Some(data) = this.data.take() else {
                    return Poll::Pending;
                };
                let result = if result < 0 {
                    Err(io::Error::from_raw_os_error(-result))
                } else {
                    Ok(result as u32)
                };
                Poll::Ready(Completion {
                    result,
                    flags,
                    data: *data,
                })
            }
            Some(Some(Poll::Pending)) => Poll::Pending,
            // Polled on another runtime's core (or after its core shut
            // down): its driver is not this thread's driver, and its slot
            // index means nothing here.
            Some(None) | None => {
                panic!("a frys I/O future was polled outside the runtime core it was started on")
            }
        }
    }
}

impl<T: Operation> Drop for Op<T> {
    fn drop(&mut self) {
        let Some(data) = self.data.take() else {
            return;
        };
        let (driver_id, token) = (self.driver, self.token);
        let mut data = Some(data);
        let finished = context::with_driver(|driver| {
            if driver.id() != driver_id {
                return None;
            }
            let data = data.take()?;
            driver.orphan(token, data)
        });
        // Released now that the driver is no longer borrowed.
        if let Some(finished) = finished.flatten() {
            super::release_orphans(vec![finished]);
        }
        if let Some(data) = data {
            // Not on the driver that carries the operation (another
            // runtime's core, or that core shut down): the kernel may still
            // hold a pointer into `data`, so leaking it is the only safe
            // choice.
            std::mem::forget(data);
        }
    }
}
