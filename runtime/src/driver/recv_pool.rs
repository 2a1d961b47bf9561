//! [`RecvPool`]: one core's pool of heap receive buffers, for pooled
//! receives where there is no provided-buffer ring (the epoll driver, an
//! io_uring kernel without multishot receive, a forced fallback, or a ring
//! that ran out of buffers).
//!
//! A buffer is taken only once the socket is readable, for the one call that
//! reads into it, and goes back to the pool when the
//! [`PooledBuf`](crate::buf::PooledBuf) holding it is dropped (or at once if
//! the call read nothing), so an idle connection holds none. The pool keeps
//! at most `max_free` buffers; more are freed, so a burst does not pin
//! memory for ever. Only the core's thread touches it (`!Sync` by
//! construction).

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::Rc;

use crate::buf::PooledBuf;

/// See the module docs.
pub(crate) struct RecvPool {
    buf_size: usize,
    max_free: usize,
    free: RefCell<Vec<Box<[u8]>>>,
    /// Buffers taken and not returned yet.
    out: Cell<usize>,
    /// Reads made into pool buffers because the ring ran out.
    direct_reads: Cell<u64>,
}

impl RecvPool {
    pub(crate) fn new(buf_size: usize, max_free: usize) -> Self {
        Self {
            buf_size: buf_size.max(1),
            max_free,
            free: RefCell::new(Vec::new()),
            out: Cell::new(0),
            direct_reads: Cell::new(0),
        }
    }

    /// Counts a read into a pool buffer made because the ring ran out.
    pub(crate) fn note_direct_read(&self) {
        self.direct_reads.set(self.direct_reads.get() + 1);
    }

    /// Reads counted by [`note_direct_read`](Self::note_direct_read).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn direct_reads(&self) -> u64 {
        self.direct_reads.get()
    }

    /// A buffer of `buf_size` bytes.
    pub(crate) fn take(&self) -> Box<[u8]> {
        self.out.set(self.out.get() + 1);
        self.free
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| vec![0; self.buf_size].into_boxed_slice())
    }

    /// Returns a buffer taken from this pool.
    pub(crate) fn put(&self, buf: Box<[u8]>) {
        self.out.set(self.out.get().saturating_sub(1));
        let mut free = self.free.borrow_mut();
        if free.len() < self.max_free {
            free.push(buf);
        }
    }

    /// Buffers taken and not returned.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn out(&self) -> usize {
        self.out.get()
    }
}

/// One pooled receive's target: a readiness call (epoll) or a direct call
/// after a readiness wait (io_uring without multishot receive) takes a pool
/// buffer only for the `recv` itself, and keeps it only if bytes arrived.
pub(crate) struct PoolRecv {
    pool: Rc<RecvPool>,
    /// The buffer and the count of bytes received into it.
    got: Option<(Box<[u8]>, usize)>,
}

impl PoolRecv {
    pub(crate) fn new(pool: Rc<RecvPool>) -> Self {
        Self { pool, got: None }
    }

    /// One non-blocking `recv` on `fd` into a pool buffer, CQE-style: the
    /// count (kept with its buffer if > 0) or `-errno`. A buffer that got
    /// nothing goes back to the pool at once.
    pub(crate) fn attempt(&mut self, fd: RawFd) -> i32 {
        let mut buf = self.pool.take();
        // SAFETY: `buf` is a live, exclusively owned allocation of
        // `buf.len()` bytes; the call writes at most that many.
        let ret = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if ret > 0 {
            let n = ret as usize;
            self.got = Some((buf, n));
            i32::try_from(n).unwrap_or(i32::MAX)
        } else {
            let err = if ret < 0 {
                -std::io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO)
            } else {
                0
            };
            self.pool.put(buf);
            err
        }
    }

    /// What the last attempt received, as a pooled buffer.
    pub(crate) fn take_received(&mut self) -> Option<PooledBuf> {
        let (buf, n) = self.got.take()?;
        Some(PooledBuf::from_pool(self.pool.clone(), buf, n))
    }
}

impl Drop for PoolRecv {
    fn drop(&mut self) {
        if let Some((buf, _)) = self.got.take() {
            self.pool.put(buf);
        }
    }
}
