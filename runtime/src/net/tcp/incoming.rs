//! [`Incoming`]: a listener's connections through one multishot accept.
//!
//! On io_uring kernels with multishot accept (5.19+, found by the ring's
//! probe) one `ACCEPT` SQE stays armed and posts a CQE for every connection
//! the kernel accepts; the CQEs wait, in order, in the driver's multishot
//! slot until [`Incoming::accept`] takes them, so a dropped `accept` future
//! loses no connection. The kernel keeps accepting while connections
//! arrive, whether or not anyone calls `accept`, and each accepted
//! connection is an fd of this process: so when
//! `multishot::ACCEPT_QUEUE_CAP` (64) connections wait unclaimed, the driver
//! cancels the operation, and later connections wait in the listen backlog
//! as with plain accept (the kernel accepts in batches, all that are ready
//! in the backlog at once, so the queue may pass the cap by one batch).
//! When the kernel ends the operation (a CQE without `IORING_CQE_F_MORE`:
//! that cancellation, or an error) the call that takes its last CQE
//! re-arms it.
//! Elsewhere (epoll, older kernels, `Builder::net_fast_path(false)`) each
//! call is one ordinary accept.
//!
//! Invariant: at most one multishot accept is armed per `Incoming`, on the
//! driver recorded with it; `Incoming` is `!Send`, so it is dropped on the
//! thread of that driver, and its drop cancels the operation (the driver
//! closes connections accepted after that and keeps the listener's fd open
//! until the kernel's final CQE).

use std::future::poll_fn;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;
use std::task::Poll;

use io_uring::{opcode, types};

use super::{TcpListener, TcpStream};
use crate::driver::MultishotKind;
use crate::net::fd::SocketFd;
use crate::net::socket;
use crate::runtime::context;

/// The connections of a [`TcpListener`], taken one by one with
/// [`accept`](Self::accept) (see [`TcpListener::incoming`]).
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    /// The armed multishot accept: (driver id, token).
    armed: Option<(u64, u64)>,
    /// Dropped on the core whose driver runs the operation.
    _core_bound: PhantomData<*const ()>,
}

impl<'a> Incoming<'a> {
    pub(super) fn new(listener: &'a TcpListener) -> Self {
        Self {
            listener,
            armed: None,
            _core_bound: PhantomData,
        }
    }

    /// Waits for the next connection and returns it with the peer's
    /// address.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses no connection. With
    /// multishot accept, a connection the kernel accepted meanwhile waits
    /// for the next call; otherwise a connection is only taken in the poll
    /// that returns it (on io_uring without multishot, as
    /// [`TcpListener::accept`]: one accepted just as the future is dropped
    /// is closed).
    pub async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        let multishot = context::with_driver(|d| d.features().accept_multishot)
            .ok_or_else(context::not_on_core)?;
        if !multishot {
            return self.listener.accept().await;
        }
        loop {
            let (driver, token) = self.arm()?;
            let polled = poll_fn(|cx| {
                match context::with_driver(|d| {
                    (d.id() == driver).then(|| d.poll_multishot(token, cx))
                }) {
                    Some(Some(p)) => p,
                    _ => Poll::Ready(None),
                }
            })
            .await;
            let Some(cqe) = polled else {
                self.armed = None;
                continue;
            };
            if !cqe.more() {
                self.armed = None;
            }
            match cqe.result {
                fd if fd >= 0 => {
                    // SAFETY: the kernel accepted this fd for us; nobody
                    // else knows it.
                    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                    let fd = Arc::new(SocketFd::new(owned, false));
                    let peer = socket::peer_addr(std::os::fd::AsRawFd::as_raw_fd(&*fd));
                    match peer {
                        Ok(peer) => return Ok((TcpStream::from_fd(fd), peer)),
                        // Reset before we looked: as if never accepted.
                        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => continue,
                        Err(e) => return Err(e),
                    }
                }
                e if e == -libc::ECANCELED || e == -libc::EINTR => continue,
                e => return Err(io::Error::from_raw_os_error(-e)),
            }
        }
    }

    /// The armed multishot accept on the current driver, armed now if none.
    fn arm(&mut self) -> io::Result<(u64, u64)> {
        let current = context::with_driver(|d| d.id()).ok_or_else(context::not_on_core)?;
        if let Some(armed) = self.armed.filter(|&(driver, _)| driver == current) {
            return Ok(armed);
        }
        let fd = self.listener.fd();
        let keep = fd.clone();
        let token = context::with_driver(|d| {
            let sqe = opcode::AcceptMulti::new(types::Fd(fd.for_uring()))
                .flags(libc::SOCK_CLOEXEC)
                .build();
            d.submit_multishot(sqe, MultishotKind::Accept, Box::new(keep))
        })
        .ok_or_else(context::not_on_core)??;
        self.armed = Some((current, token));
        Ok((current, token))
    }
}

impl Drop for Incoming<'_> {
    fn drop(&mut self) {
        if let Some((driver, token)) = self.armed.take() {
            let _ = context::with_driver(|d| {
                if d.id() == driver {
                    d.cancel_multishot(token);
                }
            });
        }
    }
}

impl std::fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("listener", self.listener)
            .field("multishot_armed", &self.armed.is_some())
            .finish()
    }
}
