//! The process-wide signal handler and the eventfd slots it writes.
//!
//! A *slot* is one listener's eventfd for one signal: each core that waits
//! for a signal owns one slot for it (see `hub.rs`). The handler, on a
//! delivery of `signum`, writes 1 to the eventfd of every slot assigned to
//! `signum`; each slot's single reader (its core's pump) reads the summed
//! count. So every core sees every delivery.
//!
//! Invariants:
//! - An eventfd stored in `SLOT_FD` is never closed: the handler may have
//!   loaded it just before a slot is released, and a closed fd number could
//!   be reused by an unrelated file that the handler would then write to. A
//!   released slot keeps its eventfd for the next listener of the same kind.
//! - A slot belongs to one signal and one kind of eventfd for good (set at
//!   its first assignment, under `INSTALL`); a released slot is reused only
//!   for the same signal and kind, and its eventfd is drained at
//!   reassignment, so a delivery is never read as another signal's, and
//!   one that arrived while the slot was free is not seen by the new
//!   listener.
//! - The handler only loads atomics and calls `write(2)`: async-signal-safe.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};
use std::sync::Mutex;

use crate::driver::{DriverKind, SourceState};

/// Highest signal number handled, exclusive (Linux has 64).
pub(super) const MAX_SIGNAL: i32 = 65;
/// Listeners that can exist at once: (core, signal) pairs.
const SLOTS: usize = 512;

/// Each slot's eventfd, -1 until its first assignment.
static SLOT_FD: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
/// The signal each slot listens for, 0 until its first assignment (then
/// never changed).
static SLOT_SIGNAL: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
/// Whether each slot has a listener now; written under `INSTALL`.
static SLOT_IN_USE: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
/// The kind of each slot's eventfd: 0 none yet, 1 blocking (io_uring reads
/// it), 2 non-blocking (epoll waits on it). Written under `INSTALL`.
static SLOT_KIND: [AtomicU8; SLOTS] = [const { AtomicU8::new(0) }; SLOTS];
/// The epoll registration state of each slot's (non-blocking) eventfd.
static SLOT_SOURCE: [SourceState; SLOTS] = [const { SourceState::new() }; SLOTS];
/// Whether each signal's handler is installed; written under `INSTALL`.
static INSTALLED: [AtomicBool; MAX_SIGNAL as usize] =
    [const { AtomicBool::new(false) }; MAX_SIGNAL as usize];
/// Serialises slot assignment and handler installation (never on a hot
/// path).
static INSTALL: Mutex<()> = Mutex::new(());

extern "C" fn on_signal(signum: libc::c_int) {
    // SAFETY: `__errno_location` returns this thread's errno, valid for the
    // thread's life; the handler must leave errno as it found it.
    let saved_errno = unsafe { *libc::__errno_location() };
    for (fd, signal) in SLOT_FD.iter().zip(&SLOT_SIGNAL) {
        if signal.load(Ordering::Acquire) != signum {
            continue;
        }
        let fd = fd.load(Ordering::Acquire);
        if fd >= 0 {
            let one: u64 = 1;
            // SAFETY: write(2) is async-signal-safe; the buffer is a live
            // local; `fd` is an eventfd that is never closed (module
            // invariant), so it names no other file.
            unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

/// One listener's slot: released (its eventfd kept) on drop.
pub(super) struct Slot {
    index: usize,
    fd: RawFd,
}

impl Slot {
    /// Assigns a free slot to `signum` for a driver of `kind`, installing
    /// the handler on first use.
    pub(super) fn assign(signum: i32, kind: DriverKind) -> io::Result<Slot> {
        if !(1..MAX_SIGNAL).contains(&signum) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no such signal: {signum}"),
            ));
        }
        let want: u8 = if kind == DriverKind::Epoll { 2 } else { 1 };
        let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        // A free slot of this signal and kind, else one never used.
        let index = (0..SLOTS)
            .find(|&i| {
                !SLOT_IN_USE[i].load(Ordering::Relaxed)
                    && SLOT_SIGNAL[i].load(Ordering::Relaxed) == signum
                    && SLOT_KIND[i].load(Ordering::Relaxed) == want
            })
            .or_else(|| (0..SLOTS).find(|&i| SLOT_KIND[i].load(Ordering::Relaxed) == 0))
            .ok_or_else(|| {
                io::Error::other(format!(
                    "too many signal listeners at once (at most {SLOTS} core and signal pairs)"
                ))
            })?;
        let mut fd = SLOT_FD[index].load(Ordering::Relaxed);
        if fd < 0 {
            let flags = if want == 2 {
                libc::EFD_CLOEXEC | libc::EFD_NONBLOCK
            } else {
                libc::EFD_CLOEXEC
            };
            // SAFETY: plain syscall; the result is checked, and the fd is
            // kept for the life of the process (module invariant).
            fd = unsafe { libc::eventfd(0, flags) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            SLOT_FD[index].store(fd, Ordering::Release);
            SLOT_KIND[index].store(want, Ordering::Relaxed);
            SLOT_SIGNAL[index].store(signum, Ordering::Release);
        } else {
            drain(fd);
        }
        SLOT_IN_USE[index].store(true, Ordering::Relaxed);
        if !INSTALLED[signum as usize].load(Ordering::Relaxed) {
            if let Err(e) = install_handler(signum) {
                SLOT_IN_USE[index].store(false, Ordering::Relaxed);
                return Err(e);
            }
            INSTALLED[signum as usize].store(true, Ordering::Relaxed);
        }
        Ok(Slot { index, fd })
    }

    pub(super) fn fd(&self) -> RawFd {
        self.fd
    }

    pub(super) fn source(&self) -> &'static SourceState {
        &SLOT_SOURCE[self.index]
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        SLOT_IN_USE[self.index].store(false, Ordering::Relaxed);
    }
}

/// Reads away a count left in `fd` without blocking (it may be a blocking
/// eventfd, so poll first).
fn drain(fd: RawFd) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    if ready == 1 && pfd.revents & libc::POLLIN != 0 {
        let mut count = 0u64;
        // SAFETY: 8-byte buffer, live local; the eventfd is readable, so
        // the read does not block, and only the slot's owner reads it.
        unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
    }
}

fn install_handler(signum: i32) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; we
    // set a handler that only performs async-signal-safe work.
    let installed = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signum, &action, std::ptr::null_mut())
    };
    if installed != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
