//! A subscriber's pending pub/sub output: frames encoded as they happen
//! (in the protocol the client speaks at that moment, as Redis appends to
//! its output buffer), waiting for the connection to write them.
//!
//! Invariants: a mailbox lives on its client's core and is touched only
//! there (its connection, its commands, deliveries run on that core). The
//! socket `fd` it shuts down on overflow is the connection's, which is
//! still open: the connection removes the mailbox from the registry
//! before it closes the socket, and only the registry and the client's
//! own commands append to it. Once overflowed it stays empty.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::limit;
use crate::protocol::{encode, ProtocolVersion, Reply};

/// One subscribed client's pending output.
pub struct Mailbox {
    client: u64,
    fd: RawFd,
    resp: Cell<u8>,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// Encoded frames not yet taken by the connection.
    out: Vec<u8>,
    /// Bytes the connection is writing now (they count toward the limit).
    writing: usize,
    soft_since: Option<Instant>,
    overflowed: bool,
    /// The connection, waiting for input or frames.
    waker: Option<Waker>,
}

impl Mailbox {
    /// The mailbox of client `client` on socket `fd`, speaking `resp`.
    pub fn new(client: u64, fd: RawFd, resp: u8) -> Mailbox {
        Mailbox {
            client,
            fd,
            resp: Cell::new(resp),
            state: RefCell::new(State::default()),
        }
    }

    /// The client's id.
    pub fn client(&self) -> u64 {
        self.client
    }

    /// The protocol frames are encoded in from now on (HELLO, RESET).
    pub fn set_resp(&self, resp: u8) {
        self.resp.set(resp);
    }

    /// The protocol frames are encoded in.
    pub fn version(&self) -> ProtocolVersion {
        if self.resp.get() >= 3 {
            ProtocolVersion::Resp3
        } else {
            ProtocolVersion::Resp2
        }
    }

    /// Encodes `reply` and appends it.
    pub fn push_reply(&self, reply: &Reply) {
        let mut frame = Vec::new();
        encode(reply, self.version(), &mut frame);
        self.push_encoded(&frame);
    }

    /// Appends a frame already encoded in [`Mailbox::version`]; past the
    /// output limit, the client is disconnected instead.
    pub fn push_encoded(&self, frame: &[u8]) {
        let mut s = self.state.borrow_mut();
        if s.overflowed {
            return;
        }
        // The connection needs a wake only when frames start to wait.
        let wake = s.out.is_empty();
        s.out.extend_from_slice(frame);
        let used = (s.out.len() + s.writing) as u64;
        let st = &mut *s;
        let current = limit::current();
        if limit::exceeded(&current, used, &mut st.soft_since, Instant::now()) {
            let which = if current.hard > 0 && used >= current.hard {
                "hard"
            } else {
                "soft"
            };
            crate::server::output_limit::report_disconnection(
                &format!("id={}", self.client),
                "pubsub",
                which,
                used as usize,
                crate::server::output_limit::Found::AddingOutput,
            );
            st.overflowed = true;
            st.out = Vec::new();
            // Ends a write the client does not take and the next read.
            let _ = crate::session::shutdown_socket(self.fd, libc::SHUT_RDWR);
        }
        if wake || st.overflowed {
            if let Some(w) = st.waker.take() {
                w.wake();
            }
        }
    }

    /// Takes the pending frames.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.state.borrow_mut().out)
    }

    /// Pending bytes (CLIENT LIST `omem`).
    pub fn pending_bytes(&self) -> usize {
        let s = self.state.borrow();
        s.out.len() + s.writing
    }

    /// The connection is writing `bytes` bytes (0: done).
    pub fn set_writing(&self, bytes: usize) {
        self.state.borrow_mut().writing = bytes;
    }

    /// Whether the client went over its limit (the connection must end).
    pub fn overflowed(&self) -> bool {
        self.state.borrow().overflowed
    }

    /// Completes when there are frames to write or the mailbox overflowed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it takes nothing.
    pub fn ready(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| self.poll_until(cx, |s| !s.out.is_empty() || s.overflowed))
    }

    /// Completes once the mailbox overflowed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it takes nothing.
    pub fn overflow(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| self.poll_until(cx, |s| s.overflowed))
    }

    fn poll_until(&self, cx: &mut Context<'_>, done: fn(&State) -> bool) -> Poll<()> {
        let mut s = self.state.borrow_mut();
        if done(&s) {
            return Poll::Ready(());
        }
        match &mut s.waker {
            Some(w) => w.clone_from(cx.waker()),
            None => s.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::pin::pin;

    fn is_ready(f: impl Future<Output = ()>) -> bool {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        f.as_mut().poll(&mut cx).is_ready()
    }

    #[test]
    fn frames_wait_in_order_until_taken() {
        let (a, _b) = UnixStream::pair().unwrap();
        let m = Mailbox::new(7, a.as_raw_fd(), 2);
        assert!(!is_ready(m.ready()));
        m.push_reply(&Reply::Push(vec![Reply::bulk("x")]));
        m.set_resp(3);
        m.push_reply(&Reply::Push(vec![Reply::bulk("y")]));
        assert!(is_ready(m.ready()));
        assert_eq!(m.take(), b"*1\r\n$1\r\nx\r\n>1\r\n$1\r\ny\r\n");
        assert!(!is_ready(m.ready()));
        assert!(!m.overflowed());
    }

    #[test]
    fn past_the_hard_limit_the_mailbox_empties_and_shuts_the_socket() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let m = Mailbox::new(7, a.as_raw_fd(), 2);
        let hard = limit::current().hard;
        let frame = vec![b'x'; 1 << 20];
        // Bytes being written count too.
        m.set_writing(frame.len());
        let mut pushed = 0u64;
        while !m.overflowed() {
            m.push_encoded(&frame);
            pushed += 1 << 20;
            assert!(pushed <= hard, "not disconnected at {pushed} bytes");
        }
        assert!(is_ready(m.overflow()));
        assert_eq!(m.take(), b"");
        m.push_encoded(b"more");
        assert_eq!(m.pending_bytes(), frame.len(), "refuses frames once over");
        let mut buf = [0u8; 1];
        assert_eq!(b.read(&mut buf).unwrap(), 0, "the peer sees the end");
    }
}
