//! Facade over `std` and [`loom`](https://docs.rs/loom) primitives.
//!
//! Every concurrent data structure in this crate imports its atomics, `Arc`,
//! `UnsafeCell` and `thread` from here, never from `std` directly, so that
//! building with `RUSTFLAGS="--cfg loom"` swaps in loom's model-checked
//! versions. The std `UnsafeCell` is wrapped to offer loom's closure-based
//! `with` / `with_mut` API, so the same code compiles against both.
#![allow(unused_imports, dead_code)]

#[cfg(loom)]
pub(crate) mod sync {
    pub(crate) use ::loom::sync::Arc;

    pub(crate) mod atomic {
        pub(crate) use ::loom::sync::atomic::*;
    }
}

#[cfg(loom)]
pub(crate) mod cell {
    pub(crate) use ::loom::cell::UnsafeCell;
}

#[cfg(loom)]
pub(crate) use ::loom::{hint, thread};

#[cfg(not(loom))]
pub(crate) mod sync {
    pub(crate) use std::sync::Arc;

    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::*;
    }
}

#[cfg(not(loom))]
pub(crate) mod cell {
    /// `std::cell::UnsafeCell` with loom's closure-based access API.
    #[derive(Debug)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// Wraps `data`.
        #[inline]
        pub(crate) const fn new(data: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(data))
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        /// Runs `f` with a shared raw pointer to the contents.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` with a mutable raw pointer to the contents.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(not(loom))]
pub(crate) use std::{hint, thread};

/// Test support: a minimal executor for loom models. Polls `fut` on the
/// current loom thread and sleeps on a loom `Condvar` between polls; the
/// waker sets a flag and signals the condvar. A lost wake-up leaves the
/// thread waiting with nobody to signal it, which loom reports as a deadlock.
///
/// (`loom::thread::park`/`unpark` is not used: a late `unpark` would also
/// wake the thread out of an unrelated blocking call such as `join`.)
#[cfg(all(test, loom))]
pub(crate) fn block_on<F: core::future::Future>(fut: F) -> F::Output {
    use ::loom::sync::{Condvar, Mutex};
    use core::task::{Context, Poll, Waker};

    struct Signal {
        woken: Mutex<bool>,
        cv: Condvar,
    }
    impl std::task::Wake for Signal {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            *self.woken.lock().unwrap() = true;
            self.cv.notify_one();
        }
    }

    let signal = std::sync::Arc::new(Signal {
        woken: Mutex::new(false),
        cv: Condvar::new(),
    });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = core::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        let mut woken = signal.woken.lock().unwrap();
        while !*woken {
            woken = signal.cv.wait(woken).unwrap();
        }
        *woken = false;
    }
}

/// Test support: runs a loom model. Honors loom's environment variables; if
/// `LOOM_MAX_PREEMPTIONS` is unset, bounds preemptions to
/// [`DEFAULT_MAX_PREEMPTIONS`] so the suite stays fast (the unbounded search
/// of the three-thread models takes many minutes).
#[cfg(all(test, loom))]
pub(crate) fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = ::loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(DEFAULT_MAX_PREEMPTIONS);
    }
    builder.check(f);
}

/// Preemption bound used by [`model`] unless `LOOM_MAX_PREEMPTIONS` is set.
#[cfg(all(test, loom))]
pub(crate) const DEFAULT_MAX_PREEMPTIONS: usize = 4;
