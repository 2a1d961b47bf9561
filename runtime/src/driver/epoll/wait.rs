//! Waiting on an epoll instance with a timer deadline.
//!
//! `epoll_pwait2` (Linux 5.11) takes the timeout in nanoseconds, so a core
//! wakes for its next timer as precisely as on io_uring. Where it is
//! missing (`ENOSYS`) or refused by a seccomp profile (`EPERM`), every
//! later wait in the process uses `epoll_wait`, whose millisecond timeout
//! is rounded up: a timer may then fire up to a millisecond late, never
//! early.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set once `epoll_pwait2` failed as unavailable.
static NO_PWAIT2: AtomicBool = AtomicBool::new(false);

/// Waits for events on `epfd` into `events` for at most `timeout` (`None`:
/// no limit); returns how many were written. An interrupted wait returns 0.
pub(crate) fn wait(
    epfd: RawFd,
    events: &mut [libc::epoll_event],
    timeout: Option<Duration>,
) -> io::Result<usize> {
    let max = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
    let ptr = events.as_mut_ptr();
    let mut ret = -1;
    let mut tried_pwait2 = false;
    match timeout {
        Some(t) if !t.is_zero() && !NO_PWAIT2.load(Ordering::Relaxed) => {
            tried_pwait2 = true;
            let ts = libc::timespec {
                tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: t.subsec_nanos() as libc::c_long,
            };
            // SAFETY: `ptr` has room for `max` events; `ts` is a live
            // timespec; a null sigmask leaves the mask alone (its size is
            // then ignored).
            ret = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    epfd,
                    ptr,
                    max,
                    &ts as *const libc::timespec,
                    std::ptr::null::<libc::sigset_t>(),
                    8usize,
                )
            } as libc::c_int;
        }
        _ => {}
    }
    if !tried_pwait2 || (ret < 0 && pwait2_unavailable()) {
        let ms = timeout.map_or(-1, timeout_ms);
        // SAFETY: `ptr` has room for `max` events.
        ret = unsafe { libc::epoll_wait(epfd, ptr, max, ms) };
    }
    if ret >= 0 {
        return Ok(ret as usize);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EINTR) {
        return Ok(0);
    }
    Err(err)
}

/// After a failed `epoll_pwait2`: whether the call itself is unavailable
/// (and must not be tried again).
fn pwait2_unavailable() -> bool {
    let errno = io::Error::last_os_error().raw_os_error();
    let unavailable = matches!(errno, Some(libc::ENOSYS) | Some(libc::EPERM));
    if unavailable && !NO_PWAIT2.swap(true, Ordering::Relaxed) {
        tracing::debug!("epoll_pwait2 is unavailable; timers use epoll_wait's milliseconds");
    }
    unavailable
}

/// A timeout in whole milliseconds, rounded up so a timer never fires early.
fn timeout_ms(t: Duration) -> libc::c_int {
    let ms = t.as_nanos().div_ceil(1_000_000);
    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millisecond_timeouts_round_up() {
        assert_eq!(timeout_ms(Duration::ZERO), 0);
        assert_eq!(timeout_ms(Duration::from_nanos(1)), 1);
        assert_eq!(timeout_ms(Duration::from_micros(1500)), 2);
        assert_eq!(timeout_ms(Duration::from_millis(7)), 7);
        assert_eq!(timeout_ms(Duration::from_secs(u64::MAX)), libc::c_int::MAX);
    }
}
