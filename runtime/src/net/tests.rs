//! Behaviour of the sockets on a one-core runtime.

use std::future::{poll_fn, Future};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::path::PathBuf;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

use super::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use crate::runtime::Runtime;
use crate::{spawn_local, Cores};

/// Generous bound so that a bug fails the test instead of hanging it; no
/// assertion depends on it.
const HANG_GUARD: Duration = Duration::from_secs(20);

pub(super) fn block_on<F: Future>(future: F) -> F::Output {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async move {
        crate::time::timeout(HANG_GUARD, future)
            .await
            .expect("test hung")
    })
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Polls `future` exactly once; returns whether it was still pending.
async fn poll_once<F: Future>(mut future: Pin<&mut F>) -> bool {
    poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await
}

/// Lets the core park in `io_uring_enter` once, so that every queued SQE
/// reaches the kernel and pending completions are reaped.
async fn ring_tick() {
    crate::time::sleep(Duration::from_millis(1)).await;
}

async fn read_exactly(stream: &TcpStream, len: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < len {
        let (n, buf) = stream.read(Vec::with_capacity(len - got.len())).await;
        let n = n.unwrap();
        assert_ne!(n, 0, "unexpected end of stream");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

pub(super) async fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(localhost()).unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = spawn_local(async move { listener.accept().await.unwrap().0 });
    let client = TcpStream::connect(addr).await.unwrap();
    (client, accept.await.unwrap())
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("frys-net-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn tcp_echo_round_trip() {
    block_on(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let server = spawn_local(async move {
            let (stream, peer) = listener.accept().await.unwrap();
            assert_eq!(stream.peer_addr().unwrap(), peer);
            loop {
                let (n, buf) = stream.read(Vec::with_capacity(1024)).await;
                if n.unwrap() == 0 {
                    return;
                }
                let (res, _) = stream.write_all(buf).await;
                res.unwrap();
            }
        });
        let client = TcpStream::connect(addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        assert_eq!(client.peer_addr().unwrap(), addr);
        let message = b"hello frys, echo me back".to_vec();
        let (res, _) = client.write_all(message.clone()).await;
        res.unwrap();
        assert_eq!(read_exactly(&client, message.len()).await, message);
        client.shutdown(Shutdown::Write).await.unwrap();
        server.await.unwrap();
        let (n, _) = client.read(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 0, "server closed, so end of stream");
    });
}

#[test]
fn listeners_share_a_port_with_reuseport() {
    let first = TcpListener::bind(localhost()).unwrap();
    let addr = first.local_addr().unwrap();
    let second = TcpListener::bind(addr).unwrap();
    assert_eq!(second.local_addr().unwrap(), addr);
    // The kernel spreads connections over both: each gets some of 64.
    let clients: Vec<_> = (0..64)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let accepted = |l: &TcpListener| {
        let fd = std::os::fd::AsRawFd::as_raw_fd(l);
        let mut n = 0;
        loop {
            // SAFETY: a non-blocking accept4 on a live listening fd; a
            // returned fd is closed at once.
            let c = unsafe {
                libc::accept4(
                    fd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK,
                )
            };
            if c < 0 {
                return n;
            }
            // SAFETY: `c` is a fresh fd this closure owns.
            unsafe { libc::close(c) };
            n += 1;
        }
    };
    for l in [&first, &second] {
        let fd = std::os::fd::AsRawFd::as_raw_fd(l);
        // SAFETY: fcntl on a live fd.
        unsafe { libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) };
    }
    let mut counts = (0, 0);
    for _ in 0..200 {
        counts.0 += accepted(&first);
        counts.1 += accepted(&second);
        if counts.0 + counts.1 == clients.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(counts.0 + counts.1, clients.len());
    assert!(
        counts.0 > 0 && counts.1 > 0,
        "all on one listener: {counts:?}"
    );
}

#[test]
fn an_address_another_process_listens_on_is_refused() {
    // A listener this runtime did not make stands for another process: a
    // plain one, and one with SO_REUSEPORT (which a plain SO_REUSEPORT
    // bind would silently join).
    for reuseport in [false, true] {
        let other = foreign_listener(reuseport);
        let addr = other.local_addr().unwrap();
        let err = TcpListener::bind(addr).unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::AddrInUse,
            "reuseport={reuseport}"
        );
    }
}

#[test]
fn a_port_is_free_again_once_its_listeners_are_dropped() {
    let first = TcpListener::bind(localhost()).unwrap();
    let addr = first.local_addr().unwrap();
    let second = TcpListener::bind(addr).unwrap();
    drop(first);
    drop(second);
    // No claim is left behind: a fresh bind takes the exclusive path, and
    // another program can then not join it.
    let again = TcpListener::bind(addr).unwrap();
    drop(again);
    let other = std::net::TcpListener::bind(addr).unwrap();
    drop(other);
}

/// A std listener on a free loopback port, with or without SO_REUSEPORT.
fn foreign_listener(reuseport: bool) -> std::net::TcpListener {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a fresh fd that the returned listener
    // then owns; every result is checked.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let one: libc::c_int = 1;
        if reuseport {
            let r = libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEPORT,
                (&one as *const libc::c_int).cast(),
                4,
            );
            assert_eq!(r, 0);
        }
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        let r = libc::bind(
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(r, 0);
        assert_eq!(libc::listen(fd, 16), 0);
        std::net::TcpListener::from_raw_fd(fd)
    }
}

#[test]
fn dropped_in_flight_read_leaves_later_data_intact() {
    block_on(async {
        let (client, server) = connected_pair().await;
        for i in 0..200 {
            {
                let mut read = pin!(server.read(Vec::with_capacity(64)));
                assert!(poll_once(read.as_mut()).await, "nothing sent yet");
                ring_tick().await;
                // Dropped while the kernel holds its buffer.
            }
            ring_tick().await;
            let message = format!("message number {i}").into_bytes();
            let (res, _) = client.write_all(message.clone()).await;
            res.unwrap();
            assert_eq!(read_exactly(&server, message.len()).await, message);
        }
    });
}

/// Runs the calling test again in a child process (this test binary,
/// filtered to that one test) so that fds opened by tests on other threads
/// do not disturb the count. Returns `true` in the child, where the test
/// body runs, and `false` in the parent once the child passed.
fn in_fd_counting_child(test: &str) -> bool {
    const CHILD: &str = "FRYS_FD_COUNT_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let args = ["--exact", test, "--test-threads=1"];
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(args)
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "child did not run the test:\n{stdout}"
    );
    false
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn dropped_in_flight_accept_leaks_no_fd() {
    if !in_fd_counting_child("net::tests::dropped_in_flight_accept_leaks_no_fd") {
        return;
    }
    block_on(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let before = open_fds();
        for _ in 0..20 {
            {
                let mut accept = pin!(listener.accept());
                assert!(poll_once(accept.as_mut()).await, "nobody connected yet");
                ring_tick().await;
            }
            ring_tick().await;
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            assert_eq!(open_fds(), before + 2, "the client and the accepted stream");
            drop((client, server));
            assert_eq!(open_fds(), before);
        }
    });
}

/// An accept whose completion was reaped but not yet polled when its future
/// is dropped: the driver must hand the result to `orphan_completed`.
#[test]
fn accept_completed_but_unpolled_when_dropped_leaks_no_fd() {
    if !in_fd_counting_child("net::tests::accept_completed_but_unpolled_when_dropped_leaks_no_fd") {
        return;
    }
    block_on(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let before = open_fds();
        let client = {
            let mut accept = pin!(listener.accept());
            assert!(poll_once(accept.as_mut()).await);
            let client = TcpStream::connect(addr).await.unwrap();
            ring_tick().await;
            client
        };
        ring_tick().await;
        assert_eq!(open_fds(), before + 1, "only the client is open");
        drop(client);
    });
}

#[test]
fn udp_send_to_recv_from_round_trip() {
    block_on(async {
        let a = UdpSocket::bind(localhost()).unwrap();
        let b = UdpSocket::bind(localhost()).unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let (sent, _) = a.send_to(&b"ping"[..], b_addr).await;
        assert_eq!(sent.unwrap(), 4);
        let (got, buf) = b.recv_from(Vec::with_capacity(64)).await;
        assert_eq!(got.unwrap(), (4, a_addr));
        assert_eq!(buf, b"ping");

        b.connect(a_addr).await.unwrap();
        let (sent, _) = b.send("pong").await;
        assert_eq!(sent.unwrap(), 4);
        let (got, buf) = a.recv_from(Vec::with_capacity(2)).await;
        assert_eq!(
            got.unwrap(),
            (2, b_addr),
            "datagram truncated to the buffer"
        );
        assert_eq!(buf, b"po");
        a.connect(b_addr).await.unwrap();
        let (_, _) = b.send("again").await;
        let (n, buf) = a.recv(Vec::with_capacity(16)).await;
        assert_eq!(&buf[..n.unwrap()], b"again");
    });
}

#[test]
fn unix_stream_round_trip() {
    let dir = temp_dir("unix");
    let path = dir.join("echo.sock");
    let server_path = path.clone();
    block_on(async move {
        let listener = UnixListener::bind(&server_path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(server_path.as_path())
        );
        let server = spawn_local(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (n, buf) = stream.read(Vec::with_capacity(64)).await;
            let n = n.unwrap();
            let reply: Vec<u8> = buf[..n].iter().rev().copied().collect();
            let (res, _) = stream.write_all(reply).await;
            res.unwrap();
        });
        let client = UnixStream::connect(&path).await.unwrap();
        assert_eq!(
            client.peer_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let (res, _) = client.write_all(b"abc".to_vec()).await;
        res.unwrap();
        server.await.unwrap();
        let (n, buf) = client.read(Vec::with_capacity(64)).await;
        assert_eq!(&buf[..n.unwrap()], b"cba");
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unix_bind_rejects_nul_and_long_paths() {
    let err = UnixListener::bind("bad\0path").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = UnixListener::bind("x".repeat(300)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn io_outside_a_core_returns_the_buffer_with_an_error() {
    let listener = std::net::TcpListener::bind(localhost()).unwrap();
    let stream =
        TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap())
            .unwrap();
    struct NoopWake;
    impl std::task::Wake for NoopWake {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(NoopWake));
    let mut cx = std::task::Context::from_waker(&waker);
    let polled = pin!(stream.write(vec![1, 2, 3])).poll(&mut cx);
    match polled {
        Poll::Ready((res, buf)) => {
            assert!(res.is_err());
            assert_eq!(buf, [1, 2, 3]);
        }
        Poll::Pending => panic!("must fail at once outside a core"),
    }
}

async fn write_all_via_trait<W: AsyncWrite + Unpin>(w: &mut W, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, data)).await?;
        assert_ne!(n, 0);
        data = &data[n..];
    }
    poll_fn(|cx| Pin::new(&mut *w).poll_flush(cx)).await
}

async fn read_exact_via_trait<R: AsyncRead + Unpin>(
    r: &mut R,
    mut out: &mut [u8],
) -> io::Result<()> {
    while !out.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, out)).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        out = &mut out[n..];
    }
    Ok(())
}

#[test]
fn futures_io_round_trip_through_tcp() {
    block_on(async {
        let (mut client, server) = connected_pair().await;
        let echo = spawn_local(async move {
            let mut total = 0;
            loop {
                let (n, buf) = server.read(Vec::with_capacity(4096)).await;
                let n = n.unwrap();
                if n == 0 {
                    return total;
                }
                total += n;
                let (res, _) = server.write_all(buf).await;
                res.unwrap();
            }
        });
        // Several internal chunks, and reads in odd sizes to exercise the
        // leftover bytes.
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut back = vec![0u8; data.len()];
        let mut received = 0;
        let mut sent = 0;
        while sent < data.len() {
            let end = (sent + 30_000).min(data.len());
            write_all_via_trait(&mut client, &data[sent..end])
                .await
                .unwrap();
            sent = end;
            while received < sent {
                let step = 777.min(sent - received);
                read_exact_via_trait(&mut client, &mut back[received..received + step])
                    .await
                    .unwrap();
                received += step;
            }
        }
        assert!(back == data, "echoed bytes differ");
        poll_fn(|cx| Pin::new(&mut client).poll_close(cx))
            .await
            .unwrap();
        assert_eq!(echo.await.unwrap(), data.len());
        let mut rest = [0u8; 1];
        let n = poll_fn(|cx| Pin::new(&mut client).poll_read(cx, &mut rest))
            .await
            .unwrap();
        assert_eq!(n, 0, "end of stream after the server closed");
        let err = poll_fn(|cx| Pin::new(&mut client).poll_write(cx, b"x"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn read_appends_into_spare_capacity_and_sets_the_length() {
    block_on(async {
        let (client, server) = connected_pair().await;
        let (r, _) = client.write_all(b"abcdef".to_vec()).await;
        r.unwrap();
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(b"xy");
        let mut total = 0;
        while total < 6 {
            let (n, back) = server.read(buf).await;
            buf = back;
            let n = n.unwrap();
            assert_ne!(n, 0);
            total += n;
        }
        // The bytes follow what was there, and the length counts them.
        assert_eq!(buf, b"xyabcdef");
        // A buffer without spare capacity is an error, never a fake EOF.
        for full in [Vec::new(), vec![0u8; 8]] {
            let (n, back) = server.read(full).await;
            assert_eq!(n.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            assert_eq!(back.len(), back.capacity());
        }
        // A partial fill: len is the count, not the capacity.
        let (r, _) = client.write_all(b"1234".to_vec()).await;
        r.unwrap();
        let (n, got) = server.read(Vec::with_capacity(8)).await;
        assert_eq!(got.len(), n.unwrap());
        assert_eq!(&got[..], &b"1234"[..got.len()]);
    });
}

#[test]
fn buffered_lines_over_a_split_stream() {
    use super::BufReader;
    block_on(async {
        let (client, server) = connected_pair().await;
        let (read, write) = server.into_split();
        // Echo each line back upper-cased, from the two halves.
        let echo = spawn_local(async move {
            let mut lines = BufReader::with_capacity(4, read).lines();
            let mut n = 0;
            while let Some(line) = lines.next_line().await.unwrap() {
                let (r, _) = write
                    .write_all(format!("{}\n", line.to_uppercase()).into_bytes())
                    .await;
                r.unwrap();
                n += 1;
            }
            n
            // `write` dropped here: the client sees end of stream.
        });
        // Lines longer than the 4-byte buffer, a CRLF and a last line
        // without an ending.
        let (r, _) = client
            .write_all(b"hello world\r\nfrys\nlast".to_vec())
            .await;
        r.unwrap();
        client.shutdown(Shutdown::Write).await.unwrap();
        let mut reader = BufReader::new(client);
        let mut got = Vec::new();
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line).await.unwrap() == 0 {
                break;
            }
            got.push(String::from_utf8(line).unwrap());
        }
        assert_eq!(got, ["HELLO WORLD\n", "FRYS\n", "LAST\n"]);
        assert_eq!(echo.await.unwrap(), 3);
    });
}

#[test]
fn a_line_that_is_not_utf8_is_invalid_data() {
    use super::BufReader;
    block_on(async {
        let (client, server) = connected_pair().await;
        let (r, _) = client.write_all(vec![0xff, b'\n', b'o', b'k', b'\n']).await;
        r.unwrap();
        let mut lines = BufReader::new(server).lines();
        let e = lines.next_line().await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ok"));
    });
}

#[test]
fn connect_and_bind_take_names_and_pairs() {
    block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accept = spawn_local(async move {
            for _ in 0..3 {
                listener.accept().await.unwrap();
            }
        });
        // A name looked up on the blocking pool, a literal string, a pair.
        TcpStream::connect(format!("localhost:{port}"))
            .await
            .unwrap();
        TcpStream::connect(format!("127.0.0.1:{port}").as_str())
            .await
            .unwrap();
        let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        TcpStream::connect((ip, port)).await.unwrap();
        accept.await.unwrap();
        let e = TcpStream::connect("127.0.0.1:not-a-port")
            .await
            .unwrap_err();
        assert_ne!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
        let udp = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        udp.connect(format!("localhost:{port}")).await.unwrap();
    });
}
