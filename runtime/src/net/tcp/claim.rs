//! Which listening addresses this process holds, so that the cores of one
//! process share a port while another process cannot take part of it.
//!
//! The first listener of this process on an address binds and listens
//! *without* `SO_REUSEPORT`: if any socket already listens there (another
//! process, with or without `SO_REUSEPORT`), that fails with `EADDRINUSE`.
//! Only once it listens does it set `SO_REUSEPORT`, which lets this
//! process' later listeners on the address join it; the kernel then forms
//! one reuseport group and spreads connections over all of them. Those
//! later listeners find the address in `CLAIMS` and bind with
//! `SO_REUSEPORT` from the start.
//!
//! Invariants: `CLAIMS` holds each address with the number of live
//! listeners of this process bound through it; an address leaves it when
//! its last listener is dropped. Binding happens under the `CLAIMS` lock, so
//! two cores binding at once cannot both take the first-listener path.
//!
//! Limits, by the kernel's rules: once the first listener has set
//! `SO_REUSEPORT`, a program of the same user that sets `SO_REUSEPORT`
//! itself can still join; another frys process cannot, because it starts
//! with the exclusive bind.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Mutex;

use crate::net::addr::SockAddr;
use crate::net::fd::SocketFd;
use crate::net::socket;

/// Connections waiting in the kernel per listener before it refuses more.
const BACKLOG: libc::c_int = 1024;

static CLAIMS: Mutex<Vec<(SocketAddr, usize)>> = Mutex::new(Vec::new());

/// One listener's share of its address; released on drop.
#[derive(Debug)]
pub(super) struct Claim(SocketAddr);

impl Drop for Claim {
    fn drop(&mut self) {
        let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = claims.iter().position(|(a, _)| *a == self.0) {
            claims[i].1 -= 1;
            if claims[i].1 == 0 {
                claims.swap_remove(i);
            }
        }
    }
}

/// A socket bound to `addr` and listening, with its claim.
pub(super) fn bind_listener(addr: SocketAddr) -> io::Result<(SocketFd, Claim)> {
    let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
    let sock_addr = SockAddr::from_std(&addr);
    let fd = socket::new_socket(sock_addr.family(), libc::SOCK_STREAM)?;
    let raw = fd.as_raw_fd();
    socket::set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    // A port this process already listens on, on this or another address
    // (`0.0.0.0` and `::` of one dual-stack server), is joined: the
    // kernel would refuse an exclusive bind beside our own listener.
    let joined = addr.port() != 0 && claims.iter().any(|(a, _)| a.port() == addr.port());
    if joined {
        socket::set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    }
    socket::bind(raw, &sock_addr)?;
    socket::listen(raw, BACKLOG)?;
    let bound = if joined {
        addr
    } else {
        socket::set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        socket::local_addr(raw)?
    };
    match claims.iter_mut().find(|(a, _)| *a == bound) {
        Some(entry) => entry.1 += 1,
        None => claims.push((bound, 1)),
    }
    Ok((fd, Claim(bound)))
}
