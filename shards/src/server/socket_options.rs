//! Socket options of an accepted client: `tcp-keepalive` (Redis'
//! `anetKeepAlive`: SO_KEEPALIVE, the first probe after the interval,
//! then every third of it, and the peer is dead after 3 unanswered).

use std::os::fd::RawFd;

/// Turns TCP keepalive on for `fd` with `interval` seconds (0: leave it
/// off).
pub fn set_keepalive(fd: RawFd, interval: u32) -> std::io::Result<()> {
    if interval == 0 {
        return Ok(());
    }
    let idle = interval.min(i32::MAX as u32) as libc::c_int;
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle)?;
    setsockopt(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_KEEPINTVL,
        (idle / 3).max(1),
    )?;
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3)
}

fn setsockopt(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    // SAFETY: `value` is a live c_int on this stack frame and the length
    // passed is its size, so the kernel reads exactly that int; an fd that
    // is not a socket only makes the call fail (EBADF / ENOTSOCK).
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The value of an integer socket option (tests read keepalive back).
pub fn getsockopt(fd: RawFd, level: libc::c_int, name: libc::c_int) -> std::io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live locals; the kernel writes at
    // most `len` (the size of `value`) bytes into `value` and the actual
    // length into `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn keepalive_is_set_with_redis_intervals() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let fd = client.as_raw_fd();
        set_keepalive(fd, 300).unwrap();
        assert_eq!(
            getsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE).unwrap(),
            1
        );
        assert_eq!(
            getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE).unwrap(),
            300
        );
        assert_eq!(
            getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL).unwrap(),
            100
        );
        assert_eq!(
            getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT).unwrap(),
            3
        );
        assert!(set_keepalive(-1, 10).is_err());
    }
}
