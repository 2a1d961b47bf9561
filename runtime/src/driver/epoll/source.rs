//! [`SourceState`]: what the epoll drivers remember inside the owner of a
//! file descriptor they wait on (a socket, a signal's eventfd).
//!
//! An fd is added to a core's epoll set once, the first time an operation
//! on it has to wait, and stays there until it is closed (the kernel drops
//! closed fds from epoll sets by itself). The state records the id of the
//! epoll driver that added it last, so the common case — a socket used on
//! one core — costs one `epoll_ctl` per socket, not one per wait. It lives
//! with the fd's owner, not in the driver's table, because fd numbers are
//! reused: a table keyed by number cannot tell a new socket from the one
//! that was closed, while a new owner starts with a fresh state.
//!
//! The id is only a hint that saves a system call: a stale one (the socket
//! moved to another core and back) leads to `EPOLL_CTL_ADD` failing with
//! `EEXIST`, which the driver turns into `EPOLL_CTL_MOD`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Registration state of one fd, kept by its owner for as long as the fd is
/// open.
#[derive(Debug, Default)]
pub(crate) struct SourceState {
    /// The epoll driver that last added the fd to its set (0: none).
    registered_in: AtomicU64,
}

impl SourceState {
    pub(crate) const fn new() -> Self {
        Self {
            registered_in: AtomicU64::new(0),
        }
    }

    /// Whether driver `id` has added the fd to its epoll set.
    pub(crate) fn is_registered_in(&self, id: u64) -> bool {
        self.registered_in.load(Ordering::Relaxed) == id
    }

    /// Driver `id` has added the fd to its epoll set.
    pub(crate) fn set_registered_in(&self, id: u64) {
        self.registered_in.store(id, Ordering::Relaxed);
    }
}

/// A pointer to the [`SourceState`] of the fd a [`Syscall`] names.
///
/// Valid for as long as the operation that built the syscall is alive: the
/// operation holds the fd's owner (an `Arc` of the socket) or the state is
/// static.
///
/// [`Syscall`]: super::Syscall
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceRef(*const SourceState);

impl SourceRef {
    pub(crate) fn new(state: &SourceState) -> Self {
        Self(state)
    }

    /// # Safety
    ///
    /// The operation that built the syscall carrying this reference must
    /// still be alive (see the type's docs).
    pub(crate) unsafe fn get<'a>(self) -> &'a SourceState {
        // SAFETY: the caller guarantees the owner, hence the state, lives.
        unsafe { &*self.0 }
    }
}
