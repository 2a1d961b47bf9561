//! [`PooledBuf`]: received bytes in a buffer that belongs to the core's
//! receive pool, returned to it on drop.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::rc::Rc;

use super::IoBuf;
use crate::driver::{BufRing, RecvPool};

/// Bytes received by [`TcpStream::recv_pooled`] (or
/// [`UnixStream::recv_pooled`]), in a buffer of the receiving core's pool.
///
/// Dereferences to the received bytes (`&[u8]`, or `&mut [u8]` to parse in
/// place). Dropping it gives the buffer back to its pool: on io_uring with
/// multishot receive, to the core's provided buffer ring, where the kernel
/// can fill it again; otherwise to the core's heap pool. It also implements
/// [`IoBuf`], so it can be written as is (an echo sends what it received
/// without copying).
///
/// `!Send`: a buffer goes back to the ring of the core that received it,
/// and that ring is touched only by its core's thread. To hand bytes to
/// another core, copy them (`buf.to_vec()`). Holding many buffers for long
/// starves the ring; receives then fall back to heap buffers (slower, never
/// wrong).
///
/// ```compile_fail
/// fn send_to_another_core<T: Send>(_: T) {}
/// fn try_it(buf: frys_runtime::buf::PooledBuf) {
///     send_to_another_core(buf); // error: `Rc` cannot be sent between threads
/// }
/// ```
///
/// [`TcpStream::recv_pooled`]: crate::net::TcpStream::recv_pooled
/// [`UnixStream::recv_pooled`]: crate::net::UnixStream::recv_pooled
pub struct PooledBuf {
    len: usize,
    home: Home,
}

enum Home {
    /// Buffer `bid` of the ring, which this value holds (`buf_ring` docs),
    /// starting at `ptr`.
    Ring {
        ring: Rc<BufRing>,
        bid: u16,
        ptr: NonNull<u8>,
    },
    /// A heap buffer of the pool, returned on drop.
    Pool { pool: Rc<RecvPool>, buf: Box<[u8]> },
}

impl PooledBuf {
    /// The first `len` bytes of ring buffer `bid`.
    ///
    /// # Safety
    ///
    /// The caller holds `bid` (the kernel handed it out and nobody else has
    /// it, see `buf_ring`), `bid < ring.entries()`, and the kernel wrote
    /// `len <= ring.buf_size()` bytes at its start.
    pub(crate) unsafe fn from_ring(ring: Rc<BufRing>, bid: u16, len: usize) -> Self {
        Self {
            len,
            home: Home::Ring {
                ptr: ring.buf_ptr(bid),
                ring,
                bid,
            },
        }
    }

    /// The first `len` bytes (clamped to its size) of a heap pool buffer.
    pub(crate) fn from_pool(pool: Rc<RecvPool>, buf: Box<[u8]>, len: usize) -> Self {
        Self {
            len: len.min(buf.len()),
            home: Home::Pool { pool, buf },
        }
    }
}

impl Deref for PooledBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.home {
            // SAFETY: `ptr` points at `len` bytes the kernel wrote (see
            // `from_ring`) in a buffer this value holds: while its id is
            // ours nobody else, kernel included, reads or writes it.
            Home::Ring { ptr, .. } => unsafe { std::slice::from_raw_parts(ptr.as_ptr(), self.len) },
            Home::Pool { buf, .. } => &buf[..self.len],
        }
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.home {
            // SAFETY: as in `deref`; `&mut self` makes this the only access.
            Home::Ring { ptr, .. } => unsafe {
                std::slice::from_raw_parts_mut(ptr.as_ptr(), self.len)
            },
            Home::Pool { buf, .. } => &mut buf[..self.len],
        }
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = match self.home {
            Home::Ring { .. } => "ring",
            Home::Pool { .. } => "heap pool",
        };
        f.debug_struct("PooledBuf")
            .field("len", &self.len)
            .field("from", &from)
            .finish()
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        match &mut self.home {
            // This value held `bid` and reads it no more.
            Home::Ring { ring, bid, .. } => ring.recycle(*bid),
            Home::Pool { pool, buf } => pool.put(std::mem::take(buf)),
        }
    }
}

// SAFETY: the pointer is stable while the value lives and however it
// moves: it points into the ring's buffer allocation, which the `Rc` keeps
// alive, or into the boxed slice `home` owns, whose bytes do not move with
// the box. The `len` bytes there are initialized, and nothing writes them
// while an operation holds the value (writes need `&mut self`).
unsafe impl IoBuf for PooledBuf {
    fn stable_ptr(&self) -> *const u8 {
        match &self.home {
            Home::Ring { ptr, .. } => ptr.as_ptr(),
            Home::Pool { buf, .. } => buf.as_ptr(),
        }
    }

    fn bytes_init(&self) -> usize {
        self.len
    }

    fn bytes_total(&self) -> usize {
        self.len
    }
}
