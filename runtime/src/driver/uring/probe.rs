//! What this ring's kernel offers beyond the basics, found once per ring
//! when it is created: the opcode probe (`IORING_REGISTER_PROBE`) for
//! `SEND_ZC`, and a real, tiny multishot accept and multishot receive for
//! the features that are flags on old opcodes (the opcode probe cannot see
//! them, and distributions backport features, so kernel versions are not
//! trusted).
//!
//! | feature | kernel | what frys does without it |
//! |---|---|---|
//! | multishot accept | 5.19 | one `ACCEPT` SQE per connection |
//! | provided buffer ring (`IORING_REGISTER_PBUF_RING`) | 5.19 | pooled receives wait for readability (`POLL_ADD`), then read into a per-core pool buffer |
//! | multishot receive into the ring | 6.0 | as above |
//! | `SEND_ZC` | 6.0 (pays off on 6.10+ for sends above a few KiB) | plain `SEND` |
//!
//! The probes run before anything else is queued on the ring, so every CQE
//! they reap is theirs (`PROBE_TOKEN`). They wait with a timeout and never
//! hang; a probe whose operation does not finish cleanly reports the
//! feature missing and leaves the ring unusable for it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use io_uring::{cqueue, opcode, types, IoUring, Probe};

use super::buf_ring::BufRing;

/// `user_data` of the probes' SQEs (reserved: never a slab token).
const PROBE_TOKEN: u64 = u64::MAX - 2;
const PROBE_CANCEL_TOKEN: u64 = u64::MAX - 3;
/// How long a probe waits for one CQE before it gives up.
const PROBE_WAIT: Duration = Duration::from_secs(1);

/// The fast paths this ring may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Features {
    /// Multishot accept (5.19).
    pub(crate) accept_multishot: bool,
    /// Multishot receive into the provided buffer ring (ring 5.19,
    /// multishot receive 6.0): both or neither.
    pub(crate) recv_multishot: bool,
    /// `IORING_OP_SEND_ZC` (6.0).
    pub(crate) send_zc: bool,
}

/// Probes `ring`'s kernel. `buf_ring` is the core's registered buffer ring
/// (a multishot receive needs one). The flag is false if a probe's
/// operation may still be in the kernel (it failed to finish).
pub(crate) fn probe(ring: &mut IoUring, buf_ring: Option<&BufRing>) -> (Features, bool) {
    let mut clean = true;
    let mut opcodes = Probe::new();
    let send_zc = ring.submitter().register_probe(&mut opcodes).is_ok()
        && opcodes.is_supported(opcode::SendZc::CODE);
    let accept_multishot = probe_accept(ring).unwrap_or_else(|e| {
        tracing::debug!(error = %e, "multishot accept probe failed");
        clean = false;
        false
    });
    let recv_multishot = clean
        && buf_ring.is_some_and(|br| {
            probe_recv(ring, br).unwrap_or_else(|e| {
                tracing::debug!(error = %e, "multishot receive probe failed");
                clean = false;
                false
            })
        });
    let features = Features {
        accept_multishot,
        recv_multishot,
        send_zc,
    };
    (features, clean)
}

/// A multishot accept on a Unix listener (abstract address: no file, no
/// network needed) with one connection already queued.
fn probe_accept(ring: &mut IoUring) -> io::Result<bool> {
    use std::os::linux::net::SocketAddrExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "frys-probe-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    // Failing to set up the sockets submits nothing: the feature is just
    // reported missing.
    let setup =
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).and_then(|addr| {
            let listener = UnixListener::bind_addr(&addr)?;
            let client = UnixStream::connect_addr(&addr)?;
            Ok((listener, client))
        });
    let (listener, _client) = match setup {
        Ok(sockets) => sockets,
        Err(e) => {
            tracing::debug!(error = %e, "cannot set up the multishot accept probe");
            return Ok(false);
        }
    };
    let sqe = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd()))
        .flags(libc::SOCK_CLOEXEC)
        .build()
        .user_data(PROBE_TOKEN);
    let first = run_until_first(ring, &sqe)?;
    if first.result() >= 0 {
        // SAFETY: the kernel accepted this fd for the probe; nobody else
        // knows it.
        drop(unsafe { OwnedFd::from_raw_fd(first.result()) });
    }
    let supported = first.result() >= 0 && cqueue::more(first.flags());
    if cqueue::more(first.flags()) {
        finish(ring, |_| {})?;
    }
    Ok(supported)
}

/// A multishot receive on a socket pair holding one byte and then end of
/// stream: a working kernel posts (1, MORE | BUFFER), then a final 0.
fn probe_recv(ring: &mut IoUring, buf_ring: &BufRing) -> io::Result<bool> {
    let setup = UnixStream::pair().and_then(|(a, b)| {
        std::io::Write::write_all(&mut &b, b"x")?;
        b.shutdown(std::net::Shutdown::Write)?;
        Ok((a, b))
    });
    let (a, _b) = match setup {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "cannot set up the multishot receive probe");
            return Ok(false);
        }
    };
    let sqe = opcode::RecvMulti::new(types::Fd(a.as_raw_fd()), buf_ring.bgid())
        .build()
        .user_data(PROBE_TOKEN);
    let first = run_until_first(ring, &sqe)?;
    let recycle = |flags: u32| {
        if let Some(bid) = cqueue::buffer_select(flags) {
            if buf_ring.take(bid).is_some() {
                buf_ring.recycle(bid);
            }
        }
    };
    recycle(first.flags());
    let supported = first.result() == 1
        && cqueue::more(first.flags())
        && cqueue::buffer_select(first.flags()).is_some();
    if cqueue::more(first.flags()) {
        finish(ring, recycle)?;
    }
    Ok(supported)
}

/// Pushes `sqe` and waits for its first CQE.
fn run_until_first(ring: &mut IoUring, sqe: &io_uring::squeue::Entry) -> io::Result<cqueue::Entry> {
    // SAFETY: the probe SQEs point only at fds the probe holds open until
    // the operation finished (`finish`) or, if it never does, for the
    // ring's life: a probe that fails to finish returns an error, and
    // `UringDriver::new` then leaks nothing it needs (the socket values
    // are closed, but the kernel holds its own reference to an fd's file
    // while an operation uses it).
    unsafe { ring.submission().push(sqe) }
        .map_err(|_| io::Error::other("submission queue full during the probe"))?;
    next_probe_cqe(ring)
}

/// Cancels the probe's multishot operation and reaps its CQEs until the
/// final one, passing each one's flags to `release`.
fn finish(ring: &mut IoUring, mut release: impl FnMut(u32)) -> io::Result<()> {
    let cancel = opcode::AsyncCancel::new(PROBE_TOKEN)
        .build()
        .user_data(PROBE_CANCEL_TOKEN);
    // SAFETY: a cancellation points at no memory.
    unsafe { ring.submission().push(&cancel) }
        .map_err(|_| io::Error::other("submission queue full during the probe"))?;
    loop {
        let cqe = next_probe_cqe(ring)?;
        release(cqe.flags());
        if !cqueue::more(cqe.flags()) {
            return Ok(());
        }
    }
}

/// The next CQE of the probe operation (cancellation CQEs are skipped).
fn next_probe_cqe(ring: &mut IoUring) -> io::Result<cqueue::Entry> {
    for _ in 0..3 {
        let ts = types::Timespec::from(PROBE_WAIT);
        let args = types::SubmitArgs::new().timespec(&ts);
        match ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME) | Some(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
        let mut cq = ring.completion();
        cq.sync();
        for cqe in &mut cq {
            if cqe.user_data() == PROBE_TOKEN {
                return Ok(cqe);
            }
        }
    }
    Err(io::Error::other("the probe operation did not complete"))
}
