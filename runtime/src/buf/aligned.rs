//! [`AlignedBuf`]: a zeroed heap buffer with a chosen alignment, for
//! `O_DIRECT` I/O.
//!
//! Invariants: `ptr` comes from `alloc_zeroed(layout)` and is freed with the
//! same `layout`; `layout.size() >= capacity` (a zero capacity still
//! allocates one byte so that `ptr` is a real allocation); `len <= capacity`;
//! all `capacity` bytes are always initialized (zeroed at allocation, then
//! only ever overwritten), which is why [`AlignedBuf::set_len`] is safe.

use std::alloc::{self, Layout, LayoutError};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use super::{IoBuf, IoBufMut};

/// The default alignment: a page, which satisfies every block device's
/// `O_DIRECT` requirement.
pub const DEFAULT_ALIGNMENT: usize = 4096;

/// A heap buffer whose start is aligned to a power of two (4096 by default),
/// as `O_DIRECT` reads and writes require.
///
/// It has a fixed capacity and a length (`0..=capacity`); it dereferences to
/// the first `len` bytes. Memory is zeroed at allocation.
///
/// # Examples
///
/// ```
/// let mut buf = frys_runtime::buf::AlignedBuf::new(4096);
/// buf.set_len(4096);
/// buf.fill(b'x');
/// assert_eq!(buf.as_ptr() as usize % 4096, 0);
/// ```
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    capacity: usize,
    layout: Layout,
}

impl AlignedBuf {
    /// Allocates a zeroed buffer of `capacity` bytes aligned to 4096, with
    /// length 0.
    ///
    /// # Panics
    ///
    /// Panics if `capacity` rounded up to the alignment overflows `isize`,
    /// and aborts on allocation failure, like `Vec`.
    pub fn new(capacity: usize) -> Self {
        match Self::with_alignment(capacity, DEFAULT_ALIGNMENT) {
            Ok(buf) => buf,
            Err(e) => panic!("AlignedBuf capacity {capacity} is too large: {e}"),
        }
    }

    /// Allocates a zeroed buffer of `capacity` bytes aligned to `align`, with
    /// length 0. Fails if `align` is not a power of two or the size
    /// overflows.
    pub fn with_alignment(capacity: usize, align: usize) -> Result<Self, LayoutError> {
        let layout = Layout::from_size_align(capacity.max(1), align)?;
        // SAFETY: `layout` has a non-zero size (at least 1).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        Ok(Self {
            ptr,
            len: 0,
            capacity,
            layout,
        })
    }

    /// The number of bytes in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is in use.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The fixed number of bytes the buffer can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The alignment of the first byte.
    pub fn alignment(&self) -> usize {
        self.layout.align()
    }

    /// Sets the length. Bytes past the old length keep their content (zero,
    /// or what an earlier read or write left there).
    ///
    /// # Panics
    ///
    /// Panics if `len > capacity()`.
    pub fn set_len(&mut self, len: usize) {
        assert!(
            len <= self.capacity,
            "AlignedBuf::set_len({len}) past capacity {}",
            self.capacity
        );
        self.len = len;
    }

    /// Sets the length to 0.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `capacity >= len` initialized bytes
        // (module invariants) and we hold `&self`, so no `&mut` aliases it.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: `ptr` was returned by `alloc_zeroed(self.layout)` and is
        // freed only here, once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("alignment", &self.layout.align())
            .finish()
    }
}

// SAFETY: `AlignedBuf` uniquely owns its allocation, like `Box<[u8]>`; the
// raw pointer is the only thing that keeps the compiler from deriving these.
unsafe impl Send for AlignedBuf {}
// SAFETY: `&AlignedBuf` only gives out `&[u8]`, which is `Sync`.
unsafe impl Sync for AlignedBuf {}

// SAFETY: the bytes are in a heap allocation that moves only with `drop`,
// valid for `capacity` bytes, all initialized (module invariants), and
// `len <= capacity`.
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len
    }

    fn bytes_total(&self) -> usize {
        self.capacity
    }
}

// SAFETY: the allocation is uniquely owned and writable for `capacity`
// bytes; `set_init` raises `len` to at least `pos`.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        // The caller guarantees `pos <= bytes_total() == capacity`.
        if self.len < pos {
            self.len = pos.min(self.capacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_aligned_and_zeroed() {
        for align in [512, 4096, 65536] {
            let mut buf = AlignedBuf::with_alignment(10_000, align).unwrap();
            assert_eq!(buf.as_ptr() as usize % align, 0);
            assert!(buf.is_empty());
            buf.set_len(buf.capacity());
            assert!(buf.iter().all(|&b| b == 0));
            buf.fill(7);
            assert_eq!(buf.len(), 10_000);
            assert_eq!(buf.alignment(), align);
        }
    }

    #[test]
    fn zero_capacity_and_bad_alignment() {
        let buf = AlignedBuf::new(0);
        assert_eq!(buf.capacity(), 0);
        assert_eq!(&buf[..], &[] as &[u8]);
        assert!(AlignedBuf::with_alignment(16, 3).is_err());
    }

    #[test]
    #[should_panic(expected = "past capacity")]
    fn set_len_past_capacity_panics() {
        AlignedBuf::new(8).set_len(9);
    }
}
