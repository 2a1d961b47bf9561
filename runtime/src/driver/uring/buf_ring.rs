//! [`BufRing`]: one core's provided-buffer ring (`IORING_REGISTER_PBUF_RING`,
//! Linux 5.19), from which the kernel picks a buffer for each multishot
//! receive completion, so a connection waiting for data holds none.
//!
//! Two allocations, both owned by the `BufRing` and freed only when its last
//! `Rc` is dropped:
//! - the ring: `entries` 16-byte `io_uring_buf` records, page aligned (the
//!   kernel requires it), that we write and the kernel reads. Its tail is the
//!   `resv` field of record 0 (bytes 14..16): the kernel loads it with
//!   acquire ordering, we store it with release ordering, after the records
//!   it publishes are written;
//! - the buffers: `entries * buf_size` bytes; buffer `bid` starts at
//!   `bid * buf_size`. Never initialized by us: only the `len` bytes the
//!   kernel reports for a completion are ever read.
//!
//! Ownership of a buffer id (the invariant everything rests on): each bid is,
//! at any time, in exactly one place — published in the ring (the kernel's:
//! it may write into it at any moment), named by a completion the driver
//! holds (`multishot`), or held by one [`PooledBuf`](crate::buf::PooledBuf).
//! The kernel hands a bid out once per publication; [`BufRing::recycle`]
//! publishes it again and is called exactly once per handed-out bid, by its
//! holder. So no two parties ever access one buffer at once.
//!
//! Teardown: the driver unregisters the ring only after every operation
//! that may pick a buffer has completed, and drops its `Rc` only if the
//! kernel confirmed the unregistration (otherwise, or if the operations
//! cannot be shown finished, it leaks the `Rc`), so the kernel never
//! touches the memory after it is freed.
//! Buffers still held by users keep the `Rc`, hence the memory, alive;
//! recycling one after unregistration writes only our own memory.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::IoUring;

/// The kernel's `struct io_uring_buf` (include/uapi/linux/io_uring.h).
#[repr(C)]
struct RawEntry {
    addr: u64,
    len: u32,
    bid: u16,
    /// In record 0, the ring's tail.
    resv: u16,
}

const _: () = assert!(std::mem::size_of::<RawEntry>() == 16);

/// Page alignment the kernel demands of the ring's address.
const RING_ALIGN: usize = 4096;

/// The most entries a ring may have (the kernel's limit is 2^15).
pub(crate) const MAX_ENTRIES: u16 = 1 << 15;

/// See the module docs.
pub(crate) struct BufRing {
    ring: NonNull<RawEntry>,
    bufs: NonNull<u8>,
    entries: u16,
    buf_size: u32,
    bgid: u16,
    /// Our copy of the tail (only we write it; the kernel reads the shared one).
    tail: Cell<u16>,
    /// Buffers handed out by the kernel and not recycled yet.
    out: Cell<usize>,
}

impl BufRing {
    /// Allocates a ring of `entries` buffers (a power of two, at most
    /// [`MAX_ENTRIES`]) of `buf_size` bytes, registers it with `ring` as
    /// buffer group `bgid` and publishes every buffer.
    pub(crate) fn register(
        ring: &IoUring,
        entries: u16,
        buf_size: u32,
        bgid: u16,
    ) -> io::Result<Self> {
        if !entries.is_power_of_two() || entries > MAX_ENTRIES || buf_size == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let ring_layout = ring_layout(entries)?;
        let bufs_layout = bufs_layout(entries, buf_size)?;
        // An allocation that fails leaves the core without a ring (pooled
        // receives then use the heap pool), it does not abort.
        let no_memory = || io::Error::from_raw_os_error(libc::ENOMEM);
        // SAFETY: both layouts have a non-zero size (entries > 0, buf_size > 0).
        let ring_mem = unsafe { alloc::alloc_zeroed(ring_layout) }.cast::<RawEntry>();
        let ring_ptr = NonNull::new(ring_mem).ok_or_else(no_memory)?;
        // SAFETY: as above.
        let Some(bufs) = NonNull::new(unsafe { alloc::alloc(bufs_layout) }) else {
            // SAFETY: allocated just above with this layout, never shared.
            unsafe { alloc::dealloc(ring_mem.cast(), ring_layout) };
            return Err(no_memory());
        };
        let this = Self {
            ring: ring_ptr,
            bufs,
            entries,
            buf_size,
            bgid,
            tail: Cell::new(0),
            out: Cell::new(0),
        };
        // SAFETY: the ring memory is page aligned, zeroed (tail 0: empty) and
        // valid for `entries` records; it stays valid until the kernel is
        // done with it: `this` owns it, and the driver drops its `Rc` only
        // after the kernel confirmed the unregistration, with no operation
        // left that may pick a buffer (multishot receive SQEs name this
        // group, and the kernel reaches the memory through it); if either
        // is not established, the driver leaks the `Rc` instead (module
        // docs). If registration fails, `this` is dropped and the kernel
        // never saw it.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                ring_ptr.as_ptr() as u64,
                entries,
                bgid,
                0,
            )?;
        }
        for bid in 0..entries {
            this.publish(bid);
        }
        this.commit();
        Ok(this)
    }

    pub(crate) fn bgid(&self) -> u16 {
        self.bgid
    }

    pub(crate) fn entries(&self) -> u16 {
        self.entries
    }

    pub(crate) fn buf_size(&self) -> u32 {
        self.buf_size
    }

    /// Buffers the kernel handed out that are not back in the ring.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn out(&self) -> usize {
        self.out.get()
    }

    /// A completion named buffer `bid`: it leaves the ring (counted until
    /// recycled). `None` if the kernel named a bid that does not exist.
    pub(crate) fn take(&self, bid: u16) -> Option<u16> {
        (bid < self.entries).then(|| {
            self.out.set(self.out.get() + 1);
            bid
        })
    }

    /// The first byte of buffer `bid` (which must be `< entries`).
    pub(crate) fn buf_ptr(&self, bid: u16) -> NonNull<u8> {
        let offset = usize::from(bid.min(self.entries - 1)) * self.buf_size as usize;
        // SAFETY: `offset` is the start of one of the `entries` buffers of
        // the `entries * buf_size`-byte allocation, so it stays in bounds.
        unsafe { self.bufs.add(offset) }
    }

    /// Gives buffer `bid` back to the kernel.
    ///
    /// The caller is the holder of `bid` (module invariant: it was handed
    /// out by [`take`](Self::take) and is recycled once) and no longer
    /// reads it.
    pub(crate) fn recycle(&self, bid: u16) {
        if bid >= self.entries {
            return;
        }
        self.out.set(self.out.get().saturating_sub(1));
        self.publish(bid);
        self.commit();
    }

    /// Writes the record at our tail for buffer `bid` (not yet visible).
    fn publish(&self, bid: u16) {
        let index = usize::from(self.tail.get() & (self.entries - 1));
        let addr = self.buf_ptr(bid).as_ptr() as u64;
        // SAFETY: `index < entries`, so the record is inside the ring
        // allocation. The kernel reads only records between its head and
        // the published tail; this one is at our tail, not published yet,
        // so nothing reads it concurrently. The fields are written through
        // raw pointers, never a reference, and `resv` (record 0's bytes
        // 14..16, the shared tail) is not touched.
        unsafe {
            let entry = self.ring.as_ptr().add(index);
            std::ptr::addr_of_mut!((*entry).addr).write(addr);
            std::ptr::addr_of_mut!((*entry).len).write(self.buf_size);
            std::ptr::addr_of_mut!((*entry).bid).write(bid);
        }
        self.tail.set(self.tail.get().wrapping_add(1));
    }

    /// Makes every written record visible to the kernel.
    fn commit(&self) {
        // SAFETY: record 0's `resv` is the ring's tail, 2-byte aligned
        // inside the live, page-aligned ring allocation. It is only ever
        // accessed atomically: by the kernel (acquire loads) and here.
        let tail =
            unsafe { AtomicU16::from_ptr(std::ptr::addr_of_mut!((*self.ring.as_ptr()).resv)) };
        // Release: the records written by `publish` are visible before the
        // kernel sees the tail that covers them.
        tail.store(self.tail.get(), Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // Layouts were valid when allocating, so they are now.
        if let (Ok(ring), Ok(bufs)) = (
            ring_layout(self.entries),
            bufs_layout(self.entries, self.buf_size),
        ) {
            // SAFETY: allocated in `register` with these layouts. The last
            // `Rc` is gone, so no buffer is held, and the driver unregistered
            // the group before dropping its share (or leaked it), so the
            // kernel no longer reads the ring or writes the buffers.
            unsafe {
                alloc::dealloc(self.ring.as_ptr().cast(), ring);
                alloc::dealloc(self.bufs.as_ptr(), bufs);
            }
        }
    }
}

fn ring_layout(entries: u16) -> io::Result<Layout> {
    Layout::from_size_align(usize::from(entries) * 16, RING_ALIGN).map_err(io::Error::other)
}

fn bufs_layout(entries: u16, buf_size: u32) -> io::Result<Layout> {
    let size = usize::from(entries)
        .checked_mul(buf_size as usize)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
    Layout::from_size_align(size, RING_ALIGN).map_err(io::Error::other)
}
