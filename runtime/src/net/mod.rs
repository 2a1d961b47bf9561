//! Networking on the core's driver: TCP, UDP and Unix stream sockets.
//!
//! All waiting (accept, connect, send, receive, shutdown) is an operation
//! of the current core's driver — an io_uring SQE, or on epoll a system
//! call tried at once and retried when the socket is ready — so these
//! futures must run on a frys core and are not `Send`. Listeners and [`UdpSocket`] are `Send` and
//! may be moved to another core between operations; streams are not,
//! because they hold the in-flight operations of their `futures-io`
//! adapters (move the fd with `IntoRawFd` and `from_std` instead).
//!
//! Invariants shared by every type here:
//! - a socket owns its fd through an `Arc<SocketFd>`, and every operation in
//!   flight holds a clone, so the fd is closed (synchronously, by the last
//!   holder) only when no SQE can still name it; the `SocketFd` also keeps
//!   the fd in the blocking mode its driver needs (see `fd`);
//! - reads and writes take owned buffers ([`crate::buf`]) and give them
//!   back; a dropped future cancels its operation and the driver keeps the
//!   buffer until the kernel has completed it;
//! - accepted sockets are `SOCK_CLOEXEC`; an accept that completes after its
//!   future was dropped closes the new fd.

mod addr;
mod buf_reader;
mod fd;
mod msg;
mod ops;
mod poll_io;
mod poll_waiters;
mod pooled;
mod socket;
mod split;
mod stream;
mod tcp;
mod to_addrs;
mod udp;
mod unix;
mod vectored;

pub use buf_reader::{BufReader, Lines};
pub use split::{OwnedRead, OwnedWrite, ReadHalf, WriteHalf};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use to_addrs::ToSocketAddrs;
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

#[cfg(test)]
mod fast_path_bound_tests;
#[cfg(test)]
mod fast_path_tests;
#[cfg(test)]
mod mixed_io_tests;
#[cfg(test)]
mod tests;
