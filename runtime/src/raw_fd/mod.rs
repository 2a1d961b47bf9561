//! Giving up an fd that abandoned operations may still name
//! (`IntoRawFd` of sockets and files).
//!
//! Invariant (both drivers): an fd number that an operation names stays
//! open, and refers to the same file, until the operation is done with it.
//! The number is in an io_uring SQE that the kernel resolves only when the
//! ring is next submitted (up to a scheduler tick later, on whichever core
//! queued it), or in a call the epoll driver's file pool runs later on
//! another thread. Every operation holds a share of its fd's owner
//! (`Arc<SocketFd>`, `Arc<OwnedFd>`) until its completion, also after its
//! future was dropped, and the number is closed only with the last share.
//!
//! [`release`] keeps the invariant when the owner gives the fd away: with
//! the only share, no operation names the fd and the caller gets that very
//! number. If abandoned operations still hold shares, the caller gets a
//! *new* number for the same open file (`fcntl(F_DUPFD)`), and the old
//! number stays open, owned by those shares, until the last of them
//! finishes. Whatever the caller then does with its number (close it, let
//! another file take it) cannot change what the old number refers to, so an
//! abandoned operation may still complete on the caller's socket or file
//! (it could have done so before the call too) but never on another file.
//! If the process has no fd left for the duplicate (`EMFILE`), `release`
//! waits instead until the abandoned operations are gone, driving the
//! current core's driver meanwhile (their cancellations are queued, so
//! io_uring ones end at that submission); a pool call that never returns (a
//! read of a FIFO nobody writes), or an abandoned zero-copy send that the
//! peer never acknowledges, then blocks it. Off a runtime thread the wait
//! relies on the core that queued the operations to go on running (inside
//! `block_on` or `run_on_all`); while none does, it waits.
//!
//! The old number, now the runtime's alone, is made close-on-exec, so a
//! child spawned before the abandoned operations finish does not inherit
//! it even where the caller's file was inheritable.

use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use crate::driver::release_orphans;
use crate::runtime::context;

/// Gives up `fd` (see the module docs): the caller owns the number
/// returned, which no operation of this runtime will ever use.
pub(crate) fn release<T: AsRawFd>(fd: Arc<T>, into_owned: impl FnOnce(T) -> OwnedFd) -> RawFd {
    let shared = match Arc::try_unwrap(fd) {
        Ok(only) => return into_owned(only).into_raw_fd(),
        Err(shared) => shared,
    };
    match duplicate(shared.as_raw_fd()) {
        // Our share goes; the abandoned operations' shares close the old
        // number once they are done with it.
        Ok(new) => {
            set_cloexec(shared.as_raw_fd());
            new
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot duplicate an fd that abandoned operations still use; waiting for them");
            into_owned(sole_share(shared)).into_raw_fd()
        }
    }
}

/// A new number for `fd`'s open file, with the same close-on-exec flag.
fn duplicate(fd: RawFd) -> std::io::Result<RawFd> {
    // SAFETY: fcntl with integer arguments on an fd our share keeps open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let cmd = if flags & libc::FD_CLOEXEC != 0 {
        libc::F_DUPFD_CLOEXEC
    } else {
        libc::F_DUPFD
    };
    // SAFETY: as above; the new fd is returned to the caller, who owns it.
    let new = unsafe { libc::fcntl(fd, cmd, 0) };
    if new < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(new)
}

/// Marks `fd` close-on-exec (best effort: a failure only means a child
/// could inherit a number it never uses).
fn set_cloexec(fd: RawFd) {
    // SAFETY: fcntl with integer arguments on an fd our share keeps open;
    // FD_CLOEXEC is a flag of this descriptor alone, not of the open file.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
        // SAFETY: as above.
        unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
    }
}

/// Waits until every other share of `fd` is gone.
fn sole_share<T>(mut fd: Arc<T>) -> T {
    loop {
        match Arc::try_unwrap(fd) {
            Ok(only) => return only,
            Err(shared) => fd = shared,
        }
        drive_current_core();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Submits the current core's queued operations and releases the orphans
/// that finished (nothing off a core: other cores drive their own).
fn drive_current_core() {
    let progressed = context::with_driver(|driver| {
        let mut woken = Vec::new();
        if let Err(e) = driver.submit_and_reap(&mut woken) {
            tracing::debug!(error = %e, "driving the core while waiting for an fd");
        }
        (woken, driver.take_finished_orphans())
    });
    if let Some((woken, orphans)) = progressed {
        release_orphans(orphans);
        // A panicking user waker must not unwind out of `into_raw_fd` and
        // strand the other wakers.
        woken.into_iter().for_each(crate::task::wake_user);
    }
}

#[cfg(test)]
mod tests;
