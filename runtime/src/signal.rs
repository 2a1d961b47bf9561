//! Waiting for Unix signals (`SIGINT`, `SIGTERM`, ...) as futures.
//!
//! The first time a signal is awaited, a process-wide handler is installed
//! for it that writes to an eventfd (`write` is async-signal-safe); the
//! awaiting task reads that eventfd through its core's driver. This works
//! whatever the signal masks of the core threads are. Each delivery of a
//! signal completes one waiting `recv` (deliveries that arrive while nobody
//! waits are counted and complete the next `recv`). The handler stays
//! installed for the life of the process, as with tokio.
//!
//! Each signal has up to two eventfds, created on first use by each kind of
//! driver: a blocking one that io_uring reads (a read of a non-blocking
//! eventfd would complete at once with `EAGAIN`) and a non-blocking one
//! that epoll waits on. The handler writes both, so each driver sees every
//! delivery; in a process that runs both drivers, a delivery counted by one
//! is not consumed by a `recv` on the other.

use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;

use io_uring::{opcode, squeue, types};

use crate::driver::{DriverKind, Op, Operation, SourceRef, SourceState, Syscall};
use crate::runtime::context;

/// Highest signal number handled (Linux has 64).
const MAX_SIGNAL: usize = 65;

/// Blocking eventfd of each signal (io_uring), -1 until created. Read by
/// the signal handler, so it must be a lock-free atomic.
static EVENTFDS: [AtomicI32; MAX_SIGNAL] = [const { AtomicI32::new(-1) }; MAX_SIGNAL];
/// Non-blocking eventfd of each signal (epoll), -1 until created.
static NB_EVENTFDS: [AtomicI32; MAX_SIGNAL] = [const { AtomicI32::new(-1) }; MAX_SIGNAL];
/// The epoll registration state of each `NB_EVENTFDS` entry.
static NB_SOURCES: [SourceState; MAX_SIGNAL] = [const { SourceState::new() }; MAX_SIGNAL];
/// Whether each signal's handler is installed; written under `INSTALL`.
static INSTALLED: [AtomicBool; MAX_SIGNAL] = [const { AtomicBool::new(false) }; MAX_SIGNAL];
/// Serialises eventfd creation and handler installation (not on any hot
/// path).
static INSTALL: Mutex<()> = Mutex::new(());

extern "C" fn on_signal(signum: libc::c_int) {
    let i = signum as usize;
    for fds in [&EVENTFDS, &NB_EVENTFDS] {
        let Some(slot) = fds.get(i) else {
            return;
        };
        let fd = slot.load(Ordering::Relaxed);
        if fd >= 0 {
            let one: u64 = 1;
            // SAFETY: write(2) is async-signal-safe; the buffer is a live
            // local.
            unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
        }
    }
}

/// The eventfd of `signum` for a driver of `kind` (created, and the
/// handler installed, on first use).
fn eventfd_for(signum: i32, kind: DriverKind) -> io::Result<RawFd> {
    let index = usize::try_from(signum)
        .ok()
        .filter(|&i| i > 0 && i < MAX_SIGNAL)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no such signal"))?;
    let (slot, flags) = match kind {
        DriverKind::Epoll => (&NB_EVENTFDS[index], libc::EFD_CLOEXEC | libc::EFD_NONBLOCK),
        _ => (&EVENTFDS[index], libc::EFD_CLOEXEC),
    };
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let mut fd = slot.load(Ordering::Acquire);
    if fd < 0 {
        // SAFETY: plain syscall; the fd is checked and then kept for the
        // life of the process (the handler may use it at any time).
        fd = unsafe { libc::eventfd(0, flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        slot.store(fd, Ordering::Release);
    }
    if !INSTALLED[index].load(Ordering::Relaxed) {
        install_handler(signum)?;
        INSTALLED[index].store(true, Ordering::Relaxed);
    }
    Ok(fd)
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

struct ReadCount {
    fd: RawFd,
    /// The epoll registration of `fd` (the non-blocking eventfds').
    source: &'static SourceState,
    count: u64,
}

impl ReadCount {
    /// A read of `signum`'s eventfd for the current core's driver.
    fn new(signum: i32) -> io::Result<Self> {
        let kind = context::driver_kind().unwrap_or(DriverKind::IoUring);
        let fd = eventfd_for(signum, kind)?;
        Ok(Self {
            fd,
            source: &NB_SOURCES[signum as usize],
            count: 0,
        })
    }

    async fn wait(self) -> io::Result<()> {
        let done = Op::submit(self).map_err(|(e, _)| e)?.await;
        done.result.map(|_| ())
    }
}

impl Operation for ReadCount {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Read::new(types::Fd(self.fd), (&mut self.count as *mut u64).cast(), 8).build()
    }

    fn syscall(&mut self) -> Syscall {
        Syscall::Read {
            fd: self.fd,
            source: SourceRef::new(self.source),
            buf: (&mut self.count as *mut u64).cast(),
            len: 8,
        }
    }
}

/// Waits for one delivery of signal `signum`.
///
/// # Cancel safety
/// Dropping the future cancels the read. On io_uring a delivery that
/// arrives before the cancellation takes effect may be consumed by the
/// cancelled read and lost; on epoll the count is only read in the poll
/// that returns it, so nothing is lost. Deliveries while nobody waits are
/// counted for the next `recv`.
pub async fn recv(signum: i32) -> io::Result<()> {
    ReadCount::new(signum)?.wait().await
}

/// Waits for `SIGINT` (Ctrl-C).
pub async fn ctrl_c() -> io::Result<()> {
    recv(libc::SIGINT).await
}

/// Waits for `SIGINT` or `SIGTERM`, whichever comes first; returns which.
pub async fn shutdown() -> io::Result<i32> {
    let mut int = std::pin::pin!(ReadCount::new(libc::SIGINT)?.wait());
    let mut term = std::pin::pin!(ReadCount::new(libc::SIGTERM)?.wait());
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(r) = int.as_mut().poll(cx) {
            return std::task::Poll::Ready(r.map(|_| libc::SIGINT));
        }
        if let std::task::Poll::Ready(r) = term.as_mut().poll(cx) {
            return std::task::Poll::Ready(r.map(|_| libc::SIGTERM));
        }
        std::task::Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use crate::{Cores, Runtime};

    #[test]
    fn a_raised_signal_completes_recv() {
        let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
        rt.block_on(async {
            let waiter = crate::spawn_local(super::recv(libc::SIGUSR1));
            crate::yield_now().await;
            crate::yield_now().await;
            // SAFETY: raising a signal whose handler we installed.
            unsafe { libc::raise(libc::SIGUSR1) };
            waiter.await.unwrap().unwrap();
        });
    }
}
