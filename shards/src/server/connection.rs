//! One client connection: read, parse, execute, write, until the client
//! leaves, QUIT, CLIENT KILL, a protocol error, or shutdown.
//!
//! Memory per connection is bounded: one read buffer, the parser's
//! request under construction (at most the query buffer limit, then the
//! client is closed as Redis does), and the replies of one read's
//! requests; the next read starts only after they are written, so a
//! client that never reads its replies stops being read (TCP backpressure)
//! instead of growing the server's memory. Replies are held to the output
//! limit of the client's class (`normal`, or `pubsub` while subscribed;
//! see `server::output_limit`), and a subscriber's pub/sub frames to the pubsub
//! limit as they arrive (see [`crate::pubsub`]).
//!
//! Between requests the connection waits for whichever comes first: the
//! read, pub/sub frames in the session's mailbox (written at once, while
//! the read stays in flight), or the idle `timeout`. Frames that arrive
//! while a batch runs are written after its replies.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use frys_runtime::net::TcpStream;

use super::stream::ClientStream;
use super::{blocked, output_limit, pipeline, stats};
use crate::config;
use crate::errors;
use crate::exec::{race, Either};
use crate::protocol::{encode, Argv, Parsed, ProtocolVersion, Reply, RequestParser};
use crate::pubsub::Mailbox;
use crate::session::{self, Session, SharedSession};

const READ_BUFFER: usize = 16 * 1024;
/// Most requests executed per read (the rest wait in the parser's input).
const MAX_REQUESTS_PER_BATCH: usize = 1024;

/// Answers a client over `maxclients` and closes it.
pub async fn refuse(stream: TcpStream) {
    let line = format!("-{}\r\n", errors::MAX_CLIENTS).into_bytes();
    let _ = stream.write_all(line).await;
}

fn version(resp: u8) -> ProtocolVersion {
    if resp >= 3 {
        ProtocolVersion::Resp3
    } else {
        ProtocolVersion::Resp2
    }
}

/// Serves one connection until it ends.
pub async fn serve(stream: ClientStream, peer: SocketAddr, id: u64, core: usize) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(peer);
    let needs_auth = !crate::acl::default_admits_anyone();
    let (limits, timeout) = config::live(|c| (c.limits(), c.timeout()));
    let session = Rc::new(RefCell::new(Session::new(
        id,
        peer,
        local,
        stream.as_raw_fd(),
        core,
        !needs_auth,
    )));
    session::register(session.clone());
    stats::count_connection(true);
    let mut parser = RequestParser::new(limits);
    let mut pending: Vec<u8> = Vec::new();
    // Grown on demand: an idle connection holds only its read buffer.
    let mut out: Vec<u8> = Vec::new();
    // Requests parsed but not yet run (the reply budget stopped a batch),
    // and a protocol error to answer once they have run.
    let mut requests: Vec<crate::protocol::Argv> = Vec::new();
    let mut fatal = None;
    // Kept across pub/sub writes: dropping a read in flight loses its bytes.
    let mut read = std::pin::pin!(stream.read(Vec::with_capacity(READ_BUFFER)));
    loop {
        let (mailbox, subscribed) = {
            let s = session.borrow();
            (s.pubsub.mailbox(), s.pubsub.is_subscribed())
        };
        // Redis never times out a subscriber.
        let idle = (timeout > 0 && !subscribed).then(|| Duration::from_secs(timeout));
        let (res, buf) = match next_input(read.as_mut(), mailbox.as_deref(), idle).await {
            Input::Read(r) => r,
            Input::Idle => break,
            Input::Pushes => {
                if let Some(m) = &mailbox {
                    out.extend_from_slice(&m.take());
                }
                let written = out.is_empty() || write_out(&stream, &session, &mut out).await;
                if !written || closing(&session) {
                    break;
                }
                continue;
            }
        };
        let n = match res {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        let mut buf = buf;
        buf.clear();
        // The next read is in flight while this one's requests run (at
        // most one buffer more is taken from the kernel before the replies
        // are written): a blocking command watches it for end of stream.
        read.set(stream.read(buf));
        let mut close = false;
        loop {
            let authenticated = session.borrow().authenticated;
            let mut used = 0;
            while fatal.is_none() && used < pending.len() && requests.len() < MAX_REQUESTS_PER_BATCH
            {
                match parser.parse(&pending[used..], authenticated) {
                    Ok(Parsed::Request { argv, consumed }) => {
                        used += consumed;
                        let name = argv.get(0).unwrap_or_default();
                        // Cross-protocol scripting guard, as Redis.
                        if name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
                        {
                            tracing::warn!(%peer, "possible cross-protocol attack: closing the client");
                            close = true;
                            break;
                        }
                        requests.push(argv);
                        if !authenticated {
                            // AUTH may be this request: run it before the
                            // rest is parsed with the unauthenticated limits.
                            break;
                        }
                    }
                    Ok(Parsed::Skip { consumed }) => used += consumed,
                    Ok(Parsed::NeedMore { consumed }) => {
                        used += consumed;
                        break;
                    }
                    Err(e) => {
                        fatal = Some(e);
                        break;
                    }
                }
            }
            pending.drain(..used.min(pending.len()));
            session.borrow_mut().qbuf = pending.len() + parser.pending_bytes();
            if parser.exceeds_query_buffer_limit(pending.len(), authenticated) {
                tracing::warn!(%peer, "closing client that reached the query buffer limit");
                close = true;
            }
            if !requests.is_empty() {
                let (replies, gone) = execute_watching_eof(
                    &session,
                    &mut requests,
                    read.as_mut(),
                    |b| stream.read(b),
                    &mut pending,
                    |n| parser.exceeds_query_buffer_limit(n, authenticated),
                )
                .await;
                close |= gone;
                // Each reply is checked before it is encoded, against the
                // class the client was in when its command ran (pubsub
                // while subscribed), counting the batch so far and the
                // frames waiting in the mailbox, as Redis counts its
                // output buffer.
                let mailbox = session.borrow().pubsub.mailbox();
                let mut over_limit = false;
                for a in &replies {
                    let v = version(a.resp);
                    let waiting = mailbox.as_ref().map_or(0, |m| m.pending_bytes());
                    let class = output_limit::Class::of(a.subscribed);
                    let buffered = out.len() + waiting;
                    if output_limit::breaks_hard_limit(&session, class, buffered, &a.reply, v) {
                        over_limit = true;
                        break;
                    }
                    encode(&a.reply, v, &mut out);
                }
                if over_limit {
                    out = Vec::new();
                    close = true;
                    break;
                }
            }
            // Messages that arrived while the batch ran follow its replies.
            if let Some(m) = session.borrow().pubsub.mailbox() {
                out.extend_from_slice(&m.take());
            }
            // If the reply budget stopped the batch, the rest runs (after
            // this write) before the protocol error is answered.
            let fatal_now = if requests.is_empty() {
                fatal.take()
            } else {
                None
            };
            if let Some(e) = fatal_now {
                if let Some(text) = e.reply_text() {
                    let resp = session.borrow().resp;
                    encode(&Reply::error(text.clone()), version(resp), &mut out);
                    stats::count_error(&text);
                }
                close = true;
            }
            if !out.is_empty() && !write_out(&stream, &session, &mut out).await {
                close = true;
            }
            if close || closing(&session) || (pending.is_empty() && requests.is_empty()) {
                break;
            }
        }
        stats::count_bytes(n, 0);
        if close || closing(&session) {
            break;
        }
    }
    crate::pubsub::leave_all(&mut session.borrow_mut());
    session::unregister(id);
    blocked::forget(id);
    stats::count_connection(false);
}

/// Whether the connection must end after what it wrote: QUIT, CLIENT
/// KILL, or a subscriber over its output limit.
fn closing(session: &SharedSession) -> bool {
    let s = session.borrow();
    s.closing || s.pubsub.mailbox().is_some_and(|m| m.overflowed())
}

/// What the connection waits for between requests.
enum Input<R> {
    /// The read completed.
    Read(R),
    /// Pub/sub frames wait in the mailbox (or it overflowed).
    Pushes,
    /// The client was idle for `timeout`.
    Idle,
}

/// Waits for the read, pub/sub frames, or the idle timeout; the read is
/// only polled, so it stays in flight unless it completed.
async fn next_input<F: Future>(
    mut read: Pin<&mut F>,
    mailbox: Option<&Mailbox>,
    idle: Option<Duration>,
) -> Input<F::Output> {
    let mut sleep = std::pin::pin!(idle.map(frys_runtime::time::sleep));
    let mut pushes = std::pin::pin!(mailbox.map(Mailbox::ready));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = read.as_mut().poll(cx) {
            return Poll::Ready(Input::Read(r));
        }
        if let Some(p) = pushes.as_mut().as_pin_mut() {
            if p.poll(cx).is_ready() {
                return Poll::Ready(Input::Pushes);
            }
        }
        if let Some(s) = sleep.as_mut().as_pin_mut() {
            if s.poll(cx).is_ready() {
                return Poll::Ready(Input::Idle);
            }
        }
        Poll::Pending
    })
    .await
}

/// Writes `out` (and empties it); false if the connection must end. A
/// reply confirming a subscription waits until every core knows of it.
/// The batch, with the frames waiting behind it, is held to the output
/// limit of the client's class now (pubsub while subscribed); a client
/// with a mailbox also ends if the mailbox overflows meanwhile.
async fn write_out(stream: &ClientStream, session: &SharedSession, out: &mut Vec<u8>) -> bool {
    let announcements = session.borrow_mut().pubsub.take_pending();
    for a in announcements {
        a.wait().await;
    }
    let (mailbox, class) = {
        let s = session.borrow();
        (
            s.pubsub.mailbox(),
            output_limit::Class::of(s.pubsub.is_subscribed()),
        )
    };
    let buf = std::mem::take(out);
    let written = buf.len();
    let waiting = mailbox.as_ref().map_or(0, |m| m.pending_bytes());
    let write = output_limit::write_within_limit(stream, session, class, waiting, buf);
    let outcome = match &mailbox {
        // The mailbox counts the bytes being written (CLIENT LIST `omem`
        // and the limit checked as frames arrive).
        Some(m) => {
            m.set_writing(written);
            let r = race(write, m.overflow()).await;
            m.set_writing(0);
            match r {
                Either::Left(r) => r,
                Either::Right(()) => return false,
            }
        }
        None => {
            session.borrow_mut().omem = written;
            write.await
        }
    };
    let Some((res, buf)) = outcome else {
        return false;
    };
    session.borrow_mut().omem = 0;
    *out = buf;
    out.clear();
    if out.capacity() > 4 * READ_BUFFER {
        out.shrink_to(READ_BUFFER);
    }
    stats::count_bytes(0, written);
    res.is_ok()
}

/// Executes `requests`. When one of them may block (BLPOP & co.), the
/// socket read in flight is polled meanwhile, for as long as the commands
/// run, so a client that goes away while blocked is noticed: its wait is
/// cancelled at once (nothing is handed to it). Bytes that arrive
/// meanwhile go to `pending` and the read is started again (`next_read`);
/// past `too_much` pending bytes the client is closed, as Redis closes a
/// client over its query buffer limit. Returns the replies and whether the
/// connection must close (then the read is finished and must not be
/// polled again).
async fn execute_watching_eof<F, N>(
    session: &SharedSession,
    requests: &mut Vec<Argv>,
    mut read: Pin<&mut F>,
    next_read: N,
    pending: &mut Vec<u8>,
    too_much: impl Fn(usize) -> bool,
) -> (Vec<pipeline::Answer>, bool)
where
    F: Future<Output = (std::io::Result<usize>, Vec<u8>)>,
    N: Fn(Vec<u8>) -> F,
{
    let may_block = requests.iter().any(|r| {
        crate::command::lookup(r.get(0).unwrap_or_default())
            .is_some_and(|spec| spec.flags.contains(&"blocking"))
    });
    if !may_block {
        return (pipeline::execute(session, requests).await, false);
    }
    let mut exec = std::pin::pin!(pipeline::execute(session, requests));
    loop {
        match race(exec.as_mut(), read.as_mut()).await {
            Either::Left(replies) => return (replies, false),
            Either::Right((Ok(n), buf)) if n > 0 => {
                pending.extend_from_slice(&buf[..n]);
                let mut buf = buf;
                buf.clear();
                stats::count_bytes(n, 0);
                read.set(next_read(buf));
                if too_much(pending.len()) {
                    tracing::warn!("closing a blocked client that reached the query buffer limit");
                    blocked::cancel(session.borrow().id);
                    return (exec.await, true);
                }
            }
            Either::Right(_) => {
                // End of stream or error: gone while blocked.
                blocked::cancel(session.borrow().id);
                return (exec.await, true);
            }
        }
    }
}
