//! Owned buffers for I/O.
//!
//! An io_uring operation hands the kernel a raw pointer into a buffer and the
//! kernel reads or writes through it until the completion arrives, which may
//! be long after the future that started the operation was dropped (on the
//! epoll driver, a file operation's pool thread does the same). So I/O
//! methods take buffers *by value* and give them back with the result
//! (`(io::Result<T>, B)`); while an operation is in flight the buffer lives
//! inside the operation, and a dropped future leaves it with the driver until
//! the kernel is done with it.
//!
//! [`IoBuf`] (source of a write) and [`IoBufMut`] (target of a read) describe
//! what the driver needs from a buffer type: a pointer that stays valid and
//! unchanged while the value is moved around, and how many bytes there are.
//! They are implemented for `Vec<u8>`, `Box<[u8]>`, `&'static [u8]`,
//! `&'static str` (write only), [`PooledBuf`] (write only: bytes a pooled
//! receive returned) and [`AlignedBuf`] (for `O_DIRECT`).
//!
//! Reads fill a buffer from its start: `read(buf)` may write up to
//! [`IoBuf::bytes_total`] bytes (a `Vec`'s capacity) and then marks the bytes
//! read as initialized ([`IoBufMut::set_init`]); a `Vec` grows its length to
//! at least the number of bytes read, never shrinks it.

mod aligned;
mod pooled;

pub use aligned::{AlignedBuf, DEFAULT_ALIGNMENT};
pub use pooled::PooledBuf;

use std::io;

use crate::driver::{Op, Operation};

/// A buffer whose bytes the kernel may read while the value is moved.
///
/// # Safety
///
/// Implementors promise that:
/// - [`stable_ptr`](IoBuf::stable_ptr) returns the same address for as long
///   as the value lives, however often the value itself is moved (so the
///   bytes live on the heap or in static memory, never inline);
/// - the memory at that address is valid for reads of
///   [`bytes_total`](IoBuf::bytes_total) bytes for as long as the value lives
///   and is not mutated through this value except via [`IoBufMut`];
/// - the first [`bytes_init`](IoBuf::bytes_init) bytes are initialized and
///   `bytes_init() <= bytes_total()`.
pub unsafe trait IoBuf: Unpin + 'static {
    /// The address of the first byte; stable while the value lives.
    fn stable_ptr(&self) -> *const u8;

    /// The number of initialized bytes: what a write sends.
    fn bytes_init(&self) -> usize;

    /// The number of bytes the buffer can hold: what a read may fill.
    fn bytes_total(&self) -> usize;
}

/// A buffer the kernel may write into while the value is moved.
///
/// # Safety
///
/// On top of the [`IoBuf`] contract, implementors promise that the memory at
/// [`stable_mut_ptr`](IoBufMut::stable_mut_ptr) (the same address as
/// [`IoBuf::stable_ptr`]) is valid for writes of `bytes_total()` bytes, is
/// not aliased by any other live reference, and that after
/// [`set_init(pos)`](IoBufMut::set_init) `bytes_init()` is at least `pos`.
pub unsafe trait IoBufMut: IoBuf {
    /// The address of the first byte, for writing; same as `stable_ptr`.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Records that the first `pos` bytes are initialized.
    ///
    /// # Safety
    ///
    /// The caller guarantees that bytes `0..pos` were written (by the kernel
    /// or otherwise) and that `pos <= bytes_total()`.
    unsafe fn set_init(&mut self, pos: usize);
}

// SAFETY: a Vec's bytes are on the heap (or it is a dangling pointer with
// capacity 0, valid for 0 bytes); moving the Vec moves only its
// (ptr, len, cap) header, so the pointer is stable. `len` bytes are
// initialized and `len <= capacity`; the allocation is valid for `capacity`.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: the Vec uniquely owns its allocation, which is writable for
// `capacity` bytes; `set_init` raises `len` to `pos` as promised.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        if self.len() < pos {
            // SAFETY: the caller guarantees `pos <= capacity` and that bytes
            // `0..pos` are initialized, which is `set_len`'s contract.
            unsafe { self.set_len(pos) };
        }
    }
}

// SAFETY: a boxed slice lives on the heap (or is dangling with length 0);
// moving the box does not move the bytes. All `len` bytes are initialized.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: the box uniquely owns its bytes, all of which are initialized, so
// `set_init` has nothing to record.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, _pos: usize) {}
}

// SAFETY: static memory never moves and is never freed; the slice is fully
// initialized and immutable.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `&'static [u8]`: a `str` is initialized static bytes.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

/// Clamps a buffer length to what one SQE can carry.
pub(crate) fn sqe_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Starts `data` on the current core's driver, giving it back on error.
pub(crate) fn submit<T: Operation>(data: T) -> Result<Op<T>, (io::Error, T)> {
    Op::submit(data)
}
