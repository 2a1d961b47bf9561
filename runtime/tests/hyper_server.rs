//! hyper 1.x on frys (the `hyper` feature): an HTTP/1.1 server of hyper's
//! served over `HyperStream` with `FrysTimer`, talked to over real TCP (and
//! a Unix socket) by a plain std client thread that writes requests and
//! parses responses by hand, so nothing of hyper's is on the client side.
//!
//! The server answers `GET` with the path and how many requests its
//! connection has served (which proves keep-alive: one connection, counts
//! 1, 2, 3), and `POST` with the request body (collected whole, so a
//! body larger than the adapter's 16 KiB receive buffer crosses many
//! receives). It records how every connection ended, which the tests check
//! for a client that closes mid-request and for `header_read_timeout`.
//!
//! The CI also runs this file with `FRYS_DRIVER=epoll`. No assertion
//! depends on a duration; the hang guard only turns a hang into a failure.

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use frys_runtime::hyper::{FrysTimer, HyperStream, LocalExec};
use frys_runtime::net::{TcpListener, UnixListener};
use frys_runtime::{spawn_local, time, Cores, Runtime};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};

/// Turns a hang into a failure; no assertion depends on it.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// How a served connection ended.
#[derive(Debug, Clone)]
enum Ended {
    Ok,
    Timeout,
    /// The test dropped the connection future (`Config::drop_after`).
    Dropped,
    Error(#[expect(dead_code, reason = "read by Debug, in assertion messages")] String),
}

/// What the server saw, on its core.
#[derive(Default)]
struct Seen {
    accepted: Cell<usize>,
    ended: RefCell<Vec<Ended>>,
}

/// The server's connection settings.
#[derive(Clone, Copy)]
struct Config {
    header_read_timeout: Option<Duration>,
    /// Drop the connection future at the first check, once every this
    /// long, after the `/big` reply was handed to hyper (`BIG_STARTED`), so
    /// its send is in flight; then set `DROPPED`.
    drop_after: Option<Duration>,
}

const DEFAULT: Config = Config {
    header_read_timeout: None,
    drop_after: None,
};

/// Set once a connection future was dropped by `Config::drop_after` (only
/// the test that uses it reads it).
static DROPPED: AtomicBool = AtomicBool::new(false);
/// Set once the `/big` reply was handed to hyper.
static BIG_STARTED: AtomicBool = AtomicBool::new(false);

/// The body of `GET /big`: far more than the loopback socket buffers hold,
/// so a client that does not read leaves the server's send in flight.
const BIG_BODY: usize = 64 << 20;

/// Serves one connection's requests (see the module docs).
async fn handle(
    req: Request<Incoming>,
    served: Rc<Cell<usize>>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    served.set(served.get() + 1);
    if req.method() == Method::POST {
        let body = req.into_body().collect().await?.to_bytes();
        return Ok(Response::new(Full::new(body)));
    }
    if req.uri().path() == "/big" {
        BIG_STARTED.store(true, Ordering::SeqCst);
        return Ok(Response::new(Full::new(Bytes::from(vec![b'x'; BIG_BODY]))));
    }
    let text = format!("{} {}", req.uri().path(), served.get());
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// Serves `io` with hyper, recording how the connection ended.
async fn serve_connection<I>(io: I, config: Config, seen: Rc<Seen>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    seen.accepted.set(seen.accepted.get() + 1);
    let served = Rc::new(Cell::new(0));
    // A `!Send` service: it holds an `Rc` of this core.
    let service = service_fn(move |req| handle(req, served.clone()));
    let mut builder = http1::Builder::new();
    builder.timer(FrysTimer);
    if let Some(t) = config.header_read_timeout {
        builder.header_read_timeout(t);
    }
    let mut connection = std::pin::pin!(builder.serve_connection(io, service));
    let result = match config.drop_after {
        Some(after) => loop {
            match time::timeout(after, connection.as_mut()).await {
                Ok(result) => break Some(result),
                // Not sending the big reply yet: check again later.
                Err(time::Elapsed) if !BIG_STARTED.load(Ordering::SeqCst) => {}
                Err(time::Elapsed) => break None,
            }
        },
        None => Some(connection.await),
    };
    let ended = match result {
        None => {
            DROPPED.store(true, Ordering::SeqCst);
            Ended::Dropped
        }
        Some(Ok(())) => Ended::Ok,
        Some(Err(e)) if e.is_timeout() => Ended::Timeout,
        Some(Err(e)) => Ended::Error(e.to_string()),
    };
    seen.ended.borrow_mut().push(ended);
}

/// Runs the server on a one-core runtime while `client` runs on a std
/// thread against its address; then waits until the server has recorded
/// `wait_ended` ended connections, and returns the client's result and
/// how the connections ended.
fn with_server<R: Send + 'static>(
    config: Config,
    wait_ended: usize,
    client: impl FnOnce(SocketAddr) -> R + Send + 'static,
) -> (R, Vec<Ended>, usize) {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Rc::new(Seen::default());
        let seen2 = seen.clone();
        spawn_local(async move {
            loop {
                let (stream, _peer) = listener.accept().await.unwrap();
                spawn_local(serve_connection(
                    HyperStream::new(stream),
                    config,
                    seen2.clone(),
                ));
            }
        });
        let client = std::thread::spawn(move || client(addr));
        let start = Instant::now();
        while !client.is_finished() || seen.ended.borrow().len() < wait_ended {
            assert!(start.elapsed() < HANG_GUARD, "the test hung");
            time::sleep(Duration::from_millis(5)).await;
        }
        let result = client.join().unwrap();
        let ended = seen.ended.borrow().clone();
        (result, ended, seen.accepted.get())
    })
}

fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    stream
}

/// One parsed response: status and body (framed by `content-length`).
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Vec<u8>,
}

fn read_reply(r: &mut impl BufRead) -> Reply {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {line:?}"));
    let mut len = None;
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').expect("a header line");
        if name.eq_ignore_ascii_case("content-length") {
            len = Some(value.trim().parse::<usize>().unwrap());
        }
    }
    let mut body = vec![0; len.expect("a content-length")];
    r.read_exact(&mut body).unwrap();
    Reply { status, body }
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let (replies, ended, accepted) = with_server(DEFAULT, 1, |addr| {
        let stream = connect(addr);
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut replies = Vec::new();
        for path in ["/a", "/b", "/c"] {
            write!(writer, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
            replies.push(read_reply(&mut reader));
        }
        drop(writer);
        drop(reader);
        replies
    });
    let bodies: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200);
            String::from_utf8(r.body.clone()).unwrap()
        })
        .collect();
    // One connection served all three (its count went 1, 2, 3).
    assert_eq!(bodies, ["/a 1", "/b 2", "/c 3"]);
    assert_eq!(accepted, 1);
    assert!(matches!(ended[..], [Ended::Ok]), "{ended:?}");
}

#[test]
fn post_bodies_are_echoed_small_and_larger_than_a_read_buffer() {
    // 200 KiB: many times the adapter's 16 KiB receive buffer and hyper's
    // initial read buffer; a pattern that shows any reordering or loss.
    let big: Vec<u8> = (0..200 * 1024u32).map(|i| (i % 251) as u8).collect();
    let big2 = big.clone();
    let (replies, ended, accepted) = with_server(DEFAULT, 1, move |addr| {
        let stream = connect(addr);
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        writer.write_all(&post("/echo", b"hello")).unwrap();
        let small = read_reply(&mut reader);
        writer.write_all(&post("/echo", &big2)).unwrap();
        let large = read_reply(&mut reader);
        // Two requests in one write (pipelined), answered in order.
        let mut both = post("/echo", b"first");
        both.extend_from_slice(&post("/echo", b"second"));
        writer.write_all(&both).unwrap();
        let first = read_reply(&mut reader);
        let second = read_reply(&mut reader);
        [small, large, first, second]
    });
    for r in &replies {
        assert_eq!(r.status, 200);
    }
    assert_eq!(replies[0].body, b"hello");
    assert_eq!(replies[1].body.len(), big.len());
    assert!(replies[1].body == big, "the large body came back altered");
    assert_eq!(replies[2].body, b"first");
    assert_eq!(replies[3].body, b"second");
    assert_eq!(accepted, 1);
    assert!(matches!(ended[..], [Ended::Ok]), "{ended:?}");
}

#[test]
fn a_client_that_closes_mid_request_ends_its_connection_only() {
    let (reply, ended, accepted) = with_server(DEFAULT, 3, |addr| {
        // Headers promise 100,000 bytes of body; 10 arrive, then the
        // client is gone.
        let mut cut = connect(addr);
        cut.write_all(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\n0123456789",
        )
        .unwrap();
        drop(cut);
        // And one that closes in the middle of its headers.
        let mut half = connect(addr);
        half.write_all(b"GET /half HTTP/1.1\r\nHo").unwrap();
        drop(half);
        // The server still serves a new connection.
        let stream = connect(addr);
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        writer.write_all(&post("/echo", b"still here")).unwrap();
        let reply = read_reply(&mut reader);
        drop(writer);
        drop(reader);
        reply
    });
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"still here");
    assert_eq!(accepted, 3);
    // The two cut connections ended with an error, the good one cleanly
    // once its client closed (in an order that depends on scheduling).
    let count = |f: fn(&Ended) -> bool| ended.iter().filter(|e| f(e)).count();
    assert_eq!(ended.len(), 3, "{ended:?}");
    assert_eq!(count(|e| matches!(e, Ended::Error(_))), 2, "{ended:?}");
    assert_eq!(count(|e| matches!(e, Ended::Ok)), 1, "{ended:?}");
}

#[test]
fn header_read_timeout_closes_a_connection_whose_headers_never_end() {
    let config = Config {
        header_read_timeout: Some(Duration::from_millis(200)),
        ..DEFAULT
    };
    let (got, ended, accepted) = with_server(config, 1, |addr| {
        let mut stream = connect(addr);
        // Headers begun and never finished; the client keeps its end open
        // and waits: only the server's timer can end this.
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n")
            .unwrap();
        let mut got = Vec::new();
        // The server closes without a response (hyper sends none for a
        // header timeout); a reset is a close too.
        match stream.read_to_end(&mut got) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
        got
    });
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert_eq!(accepted, 1);
    assert!(matches!(ended[..], [Ended::Timeout]), "{ended:?}");
}

#[test]
fn dropping_a_connection_with_a_send_in_flight_closes_it_and_the_core_serves_on() {
    let config = Config {
        drop_after: Some(Duration::from_millis(100)),
        ..DEFAULT
    };
    let ((got, reply), ended, accepted) = with_server(config, 2, |addr| {
        let mut stream = connect(addr);
        stream
            .write_all(b"GET /big HTTP/1.1\r\nHost: test\r\n\r\n")
            .unwrap();
        // Read nothing until the server has dropped the connection: its
        // send of the 64 MiB reply waits for room the whole time.
        let start = Instant::now();
        while !DROPPED.load(Ordering::SeqCst) {
            assert!(start.elapsed() < HANG_GUARD, "the test hung");
            std::thread::sleep(Duration::from_millis(5));
        }
        // What the kernel had taken arrives, then the close.
        let mut got = Vec::new();
        match stream.read_to_end(&mut got) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
        // The core still serves.
        let stream = connect(addr);
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        writer.write_all(&post("/echo", b"after the drop")).unwrap();
        let reply = read_reply(&mut reader);
        drop(writer);
        drop(reader);
        (got.len(), reply)
    });
    // Some of the reply was sent before the drop, not all of it.
    assert!(got > 0 && got < BIG_BODY, "{got} bytes arrived");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"after the drop");
    assert_eq!(accepted, 2);
    assert!(matches!(ended[0], Ended::Dropped), "{ended:?}");
}

#[test]
fn a_unix_socket_serves_http_too() {
    let dir = std::env::temp_dir().join(format!("frys-hyper-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("http.sock");
    let _ = std::fs::remove_file(&path);
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    let client_path = path.clone();
    let (reply, ended) = rt.block_on(async move {
        let listener = UnixListener::bind(&path).unwrap();
        let seen = Rc::new(Seen::default());
        let seen2 = seen.clone();
        spawn_local(async move {
            let (stream, _peer) = listener.accept().await.unwrap();
            serve_connection(HyperStream::new(stream), DEFAULT, seen2).await;
        });
        let client = std::thread::spawn(move || {
            let stream = std::os::unix::net::UnixStream::connect(client_path).unwrap();
            stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            writer.write_all(&post("/echo", b"over unix")).unwrap();
            read_reply(&mut reader)
        });
        let start = Instant::now();
        while !client.is_finished() || seen.ended.borrow().is_empty() {
            assert!(start.elapsed() < HANG_GUARD, "the test hung");
            time::sleep(Duration::from_millis(5)).await;
        }
        let ended = seen.ended.borrow().clone();
        (client.join().unwrap(), ended)
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"over unix");
    assert!(matches!(ended[..], [Ended::Ok]), "{ended:?}");
}

#[test]
fn local_exec_runs_not_send_futures_on_the_current_core() {
    use hyper::rt::Executor;
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    let ran_on = rt.block_on(async {
        let ran_on = Rc::new(Cell::new(None));
        let r = ran_on.clone(); // an `Rc`: the future is `!Send`
        LocalExec.execute(async move { r.set(frys_runtime::current_core()) });
        while ran_on.get().is_none() {
            frys_runtime::yield_now().await;
        }
        (ran_on.get(), frys_runtime::current_core())
    });
    assert_eq!(ran_on.0, ran_on.1);
    assert!(ran_on.0.is_some());
}

#[test]
fn frys_timer_sleeps_and_resets_in_place() {
    use hyper::rt::Timer;
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async {
        let timer = FrysTimer;
        timer.sleep(Duration::from_millis(1)).await;
        // A reset to a later deadline: the same (frys) sleep, moved.
        let mut sleep = timer.sleep(Duration::from_millis(1));
        let later = Instant::now() + Duration::from_millis(30);
        timer.reset(&mut sleep, later);
        assert!(sleep
            .as_mut()
            .downcast_mut_pin::<frys_runtime::time::Sleep>()
            .is_some_and(|s| s.deadline() == later));
        sleep.await;
        // Not a duration bound: frys timers never fire early, so this
        // holds only if the reset moved the 1 ms sleep.
        assert!(Instant::now() >= later);
    });
}

/// Writes 16 KiB chunks through hyper's `Write` until one stays pending
/// (the client does not read yet), which leaves the previous chunk's send
/// in flight; returns the bytes `poll_write` accepted. A send that is only
/// slow (a loaded machine) makes the caller's test weaker, never wrong.
async fn write_until_a_send_is_stuck(
    io: &mut HyperStream<frys_runtime::net::TcpStream>,
) -> Vec<u8> {
    use hyper::rt::Write as _;
    let mut accepted = Vec::new();
    for i in 0..4000u32 {
        let chunk = vec![(i % 200) as u8 + 1; 16 * 1024];
        let write = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *io).poll_write(cx, &chunk));
        match time::timeout(Duration::from_millis(200), write).await {
            Ok(n) => accepted.extend_from_slice(&chunk[..n.unwrap()]),
            Err(_) => return accepted,
        }
    }
    panic!("64 MiB went out to a client that does not read");
}

#[test]
fn into_inner_with_a_send_in_flight_then_an_owned_write_keeps_every_byte_in_order() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    let (want, got) = rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let go = std::sync::Arc::new(AtomicBool::new(false));
        let client = std::thread::spawn({
            let go = go.clone();
            move || {
                let mut s = connect(addr);
                while !go.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let mut got = Vec::new();
                s.read_to_end(&mut got).unwrap();
                got
            }
        });
        let (stream, _) = listener.accept().await.unwrap();
        let mut io = HyperStream::new(stream);
        let mut want = write_until_a_send_is_stuck(&mut io).await;
        let stream = io.into_inner();
        go.store(true, Ordering::SeqCst);
        // Goes out after the send `into_inner` handed over, which it waits for.
        let (r, _) = stream.write_all(b"TAIL".to_vec()).await;
        r.unwrap();
        drop(stream);
        want.extend_from_slice(b"TAIL");
        let got = time::timeout(HANG_GUARD, async {
            while !client.is_finished() {
                time::sleep(Duration::from_millis(5)).await;
            }
        });
        got.await.expect("the client hung");
        (want, client.join().unwrap())
    });
    assert_eq!(got.len(), want.len(), "bytes lost");
    assert!(got == want, "bytes reordered");
}

/// Polls `sleep` once, which registers it with the core's timers; returns
/// whether it was still pending.
async fn registers(sleep: &mut std::pin::Pin<Box<dyn hyper::rt::Sleep>>) -> bool {
    std::future::poll_fn(|cx| std::task::Poll::Ready(sleep.as_mut().poll(cx).is_pending())).await
}

#[test]
fn frys_timer_resets_a_registered_sleep_both_ways() {
    use hyper::rt::Timer;
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    let carried_out = rt.block_on(async {
        let timer = FrysTimer;
        // Registered at 600 s, reset earlier: it fires (the hang guard
        // would fail the test if it kept the old deadline).
        let mut sleep = timer.sleep(Duration::from_secs(600));
        assert!(registers(&mut sleep).await);
        timer.reset(&mut sleep, Instant::now() + Duration::from_millis(20));
        time::timeout(HANG_GUARD, sleep)
            .await
            .expect("the reset sleep fired");
        // Registered at 1 ms, reset later: frys timers never fire early,
        // so this holds only if the registered deadline was moved.
        let mut sleep = timer.sleep(Duration::from_millis(1));
        assert!(registers(&mut sleep).await);
        let later = Instant::now() + Duration::from_millis(50);
        timer.reset(&mut sleep, later);
        sleep.await;
        assert!(Instant::now() >= later);
        // Registered sleeps dropped on another thread, and after the
        // runtime ended, do not panic.
        let mut out = timer.sleep(Duration::from_secs(600));
        assert!(registers(&mut out).await);
        let mut other = timer.sleep(Duration::from_secs(600));
        assert!(registers(&mut other).await);
        std::thread::spawn(move || drop(other)).join().unwrap();
        Some(out) // not the sleep itself: `block_on` would not await it
    });
    drop(rt);
    drop(carried_out);
}
