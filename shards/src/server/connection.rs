//! One client connection: read, parse, execute, write, until the client
//! leaves, QUIT, CLIENT KILL, a protocol error, or shutdown.
//!
//! Memory per connection is bounded: one read buffer, the parser's
//! request under construction (at most the query buffer limit, then the
//! client is closed as Redis does), and the replies of one read's
//! requests; the next read starts only after they are written, so a
//! client that never reads its replies stops being read (TCP backpressure)
//! instead of growing the server's memory.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use frys_runtime::net::TcpStream;

use super::{blocked, pipeline, stats};
use crate::config;
use crate::errors;
use crate::exec::{race, Either};
use crate::protocol::{encode, Argv, Parsed, ProtocolVersion, Reply, RequestParser};
use crate::session::{self, Session};

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
pub async fn serve(stream: TcpStream, peer: SocketAddr, id: u64, core: usize) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(peer);
    let (needs_auth, limits, timeout) =
        config::live(|c| (c.requirepass().is_some(), c.limits(), c.timeout()));
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
    let mut buf = vec![0u8; READ_BUFFER];
    let mut pending: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::with_capacity(READ_BUFFER);
    // Requests parsed but not yet run (the reply budget stopped a batch),
    // and a protocol error to answer once they have run.
    let mut requests: Vec<crate::protocol::Argv> = Vec::new();
    let mut fatal = None;
    // A read started while a blocking command ran (it owns `buf` then).
    let mut inflight: Option<InFlightRead<'_>> = None;
    loop {
        let read = match inflight.take() {
            Some(r) => r,
            None => Box::pin(stream.read(std::mem::take(&mut buf))),
        };
        let (res, b) = if timeout > 0 {
            match race(
                read,
                frys_runtime::time::sleep(Duration::from_secs(timeout)),
            )
            .await
            {
                Either::Left(r) => r,
                Either::Right(()) => break,
            }
        } else {
            read.await
        };
        buf = b;
        let n = match res {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
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
            if parser.exceeds_query_buffer_limit(pending.len(), authenticated) {
                tracing::warn!(%peer, "closing client that reached the query buffer limit");
                close = true;
            }
            if !requests.is_empty() {
                let (replies, gone) = execute_watching_eof(
                    &stream,
                    &session,
                    &mut requests,
                    &mut buf,
                    &mut inflight,
                    &mut pending,
                )
                .await;
                close |= gone;
                for (reply, resp) in &replies {
                    encode(reply, version(*resp), &mut out);
                }
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
            if !out.is_empty() {
                let written = out.len();
                let (res, o) = stream.write_all(out).await;
                out = o;
                out.clear();
                if out.capacity() > 4 * READ_BUFFER {
                    out.shrink_to(READ_BUFFER);
                }
                stats::count_bytes(0, written);
                if res.is_err() {
                    close = true;
                }
            }
            if close || session.borrow().closing || (pending.is_empty() && requests.is_empty()) {
                break;
            }
        }
        stats::count_bytes(n, 0);
        if close || session.borrow().closing {
            break;
        }
    }
    session::unregister(id);
    blocked::forget(id);
    stats::count_connection(false);
}

/// A socket read in flight; dropping it would lose the bytes it got.
type InFlightRead<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (std::io::Result<usize>, Vec<u8>)> + 'a>>;

/// Executes `requests`. When one of them may block (BLPOP & co.), the
/// socket is read meanwhile, so a client that goes away while blocked is
/// noticed: its wait is cancelled (nothing is handed to it) and the
/// connection closes (returns `gone`). Bytes that arrive instead are kept
/// in `pending`; a read still pending when the commands finish is left in
/// `inflight` for the caller's next read (`buf` is inside it).
async fn execute_watching_eof<'a>(
    stream: &'a TcpStream,
    session: &session::SharedSession,
    requests: &mut Vec<Argv>,
    buf: &mut Vec<u8>,
    inflight: &mut Option<InFlightRead<'a>>,
    pending: &mut Vec<u8>,
) -> (Vec<(Reply, u8)>, bool) {
    let may_block = requests.iter().any(|r| {
        crate::command::lookup(r.get(0).unwrap_or_default())
            .is_some_and(|spec| spec.flags.contains(&"blocking"))
    });
    if !may_block {
        return (pipeline::execute(session, requests).await, false);
    }
    let mut read = match inflight.take() {
        Some(r) => r,
        None => Box::pin(stream.read(std::mem::take(buf))),
    };
    let mut exec = std::pin::pin!(pipeline::execute(session, requests));
    match race(exec.as_mut(), read.as_mut()).await {
        Either::Left(replies) => {
            *inflight = Some(read);
            (replies, false)
        }
        Either::Right((res, b)) => {
            *buf = b;
            let gone = match res {
                Ok(0) | Err(_) => {
                    let id = session.borrow().id;
                    blocked::cancel(id);
                    true
                }
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    stats::count_bytes(n, 0);
                    false
                }
            };
            (exec.await, gone)
        }
    }
}
