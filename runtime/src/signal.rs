//! Waiting for Unix signals (`SIGINT`, `SIGTERM`, ...) as futures.
//!
//! The first time a signal is awaited, a process-wide handler is installed
//! for it that writes to an eventfd (`write` is async-signal-safe); the
//! awaiting task reads that eventfd through its core's io_uring. This works
//! whatever the signal masks of the core threads are. Each delivery of a
//! signal completes one waiting `recv` (deliveries that arrive while nobody
//! waits are counted and complete the next `recv`). The handler stays
//! installed for the life of the process, as with tokio.

use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use io_uring::{opcode, squeue, types};

use crate::driver::{Op, Operation};

/// Highest signal number handled (Linux has 64).
const MAX_SIGNAL: usize = 65;

/// eventfd of each signal, -1 until its handler is installed. Read by the
/// signal handler, so it must be a lock-free atomic.
static EVENTFDS: [AtomicI32; MAX_SIGNAL] = [const { AtomicI32::new(-1) }; MAX_SIGNAL];
/// Serialises handler installation (not on any hot path).
static INSTALL: Mutex<()> = Mutex::new(());

extern "C" fn on_signal(signum: libc::c_int) {
    let Some(slot) = EVENTFDS.get(signum as usize) else {
        return;
    };
    let fd = slot.load(Ordering::Relaxed);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

fn eventfd_for(signum: i32) -> io::Result<RawFd> {
    let slot = EVENTFDS
        .get(signum as usize)
        .filter(|_| signum > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no such signal"))?;
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let fd = slot.load(Ordering::Acquire);
    if fd >= 0 {
        return Ok(fd);
    }
    // SAFETY: plain syscall; the fd is checked and then kept for the life of
    // the process (the handler may use it at any time).
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    slot.store(fd, Ordering::Release);
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
    Ok(fd)
}

struct ReadCount {
    fd: RawFd,
    count: u64,
}

impl Operation for ReadCount {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Read::new(types::Fd(self.fd), (&mut self.count as *mut u64).cast(), 8).build()
    }
}

/// Waits for one delivery of signal `signum`.
///
/// # Cancel safety
/// Dropping the future cancels the read. A delivery that arrives before the
/// cancellation takes effect may be consumed by the cancelled read and lost;
/// deliveries while nobody waits are counted for the next `recv`.
pub async fn recv(signum: i32) -> io::Result<()> {
    let fd = eventfd_for(signum)?;
    let done = Op::submit(ReadCount { fd, count: 0 })
        .map_err(|(e, _)| e)?
        .await;
    done.result.map(|_| ())
}

/// Waits for `SIGINT` (Ctrl-C).
pub async fn ctrl_c() -> io::Result<()> {
    recv(libc::SIGINT).await
}

/// Waits for `SIGINT` or `SIGTERM`, whichever comes first; returns which.
pub async fn shutdown() -> io::Result<i32> {
    let int = eventfd_for(libc::SIGINT)?;
    let term = eventfd_for(libc::SIGTERM)?;
    let mut int = std::pin::pin!(async {
        Op::submit(ReadCount { fd: int, count: 0 })
            .map_err(|(e, _)| e)?
            .await
            .result
    });
    let mut term = std::pin::pin!(async {
        Op::submit(ReadCount { fd: term, count: 0 })
            .map_err(|(e, _)| e)?
            .await
            .result
    });
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
