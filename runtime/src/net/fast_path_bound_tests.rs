//! The network fast path's bounds: what one stream, one listener or one
//! idle receive may take from the core (ring buffers, fds, polls), with
//! several tasks on one stream, and zero-copy sends on sockets that refuse
//! them. Each test fails on the fast path as first merged.

use std::cell::Cell;
use std::future::Future;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use super::{TcpListener, TcpStream, UnixListener};
use crate::driver::{PooledStats, ACCEPT_QUEUE_CAP, RECV_QUEUE_CAP};
use crate::runtime::{context, Builder, Runtime};
use crate::{spawn_local, yield_now, Cores, DriverKind};

/// Generous bound so that a bug fails the test instead of hanging it; no
/// assertion depends on it.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn builder() -> Builder {
    Runtime::builder().cores(Cores::Count(1))
}

fn run<F: Future>(b: Builder, future: F) -> F::Output {
    let rt = b.build().unwrap();
    rt.block_on(async move {
        crate::time::timeout(HANG_GUARD, future)
            .await
            .expect("test hung")
    })
}

fn stats() -> PooledStats {
    context::with_driver(|d| d.pooled_stats()).expect("on a core")
}

fn multishot_recv() -> bool {
    context::with_driver(|d| d.features().recv_multishot).expect("on a core")
}

async fn until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        crate::time::sleep(Duration::from_millis(1)).await;
    }
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn accepted_pair(listener: &TcpListener) -> (TcpStream, std::net::TcpStream) {
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (server, client)
}

/// Two tasks loop on `recv_pooled` of one stream while a 2-buffer ring
/// keeps ending the multishot receive (`ENOBUFS`): every byte reaches one
/// of them, and once the stream is dropped its socket is closed (the peer
/// reads end of stream), so no orphaned operation keeps it open.
#[test]
fn two_receivers_on_one_stream_get_every_byte_and_the_dropped_stream_closes() {
    const BURSTS: usize = 20;
    const BURST: usize = 16 * 1024;
    run(builder().recv_buffers(2, 256), async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let (server, mut client) = accepted_pair(&listener).await;
        let server = Rc::new(server);
        let total = Rc::new(Cell::new(0usize));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let (server, total) = (server.clone(), total.clone());
                spawn_local(async move {
                    while let Some(bytes) = server.recv_pooled().await.unwrap() {
                        total.set(total.get() + bytes.len());
                    }
                })
            })
            .collect();
        let writer = std::thread::spawn(move || {
            for _ in 0..BURSTS {
                client.write_all(&[7; BURST]).unwrap();
            }
            client.shutdown(std::net::Shutdown::Write).unwrap();
            client
        });
        until(|| writer.is_finished()).await;
        let client = writer.join().unwrap();
        // Both tasks end only when one of them saw the end of stream, so
        // a CQE queued on an operation nobody polls makes this hang.
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(total.get(), BURSTS * BURST, "bytes lost");
        assert_eq!(Rc::strong_count(&server), 1);
        drop(server);
        let reader = std::thread::spawn(move || {
            let mut client = client;
            client.set_read_timeout(Some(HANG_GUARD)).unwrap();
            client.read(&mut [0u8; 1])
        });
        until(|| reader.is_finished()).await;
        assert_eq!(
            reader.join().unwrap().unwrap(),
            0,
            "the peer sees the socket closed"
        );
        until(|| stats().multishot_in_flight == 0).await;
        assert_eq!(stats().ring_out, 0, "every ring buffer went back");
    });
}

/// A pooled receive on an idle stream while the ring is empty (another
/// stream holds every buffer) waits in the kernel: the core parks, and
/// polls the task only a few times, rather than re-arming into the empty
/// ring on every tick (which never parked: thousands of polls).
#[test]
fn an_idle_pooled_receive_with_the_ring_empty_lets_the_core_park() {
    let rt = builder().recv_buffers(2, 256).build().unwrap();
    let rt = &rt;
    rt.block_on(async move {
        let listener = TcpListener::bind(localhost()).unwrap();
        let (busy, mut busy_peer) = accepted_pair(&listener).await;
        let (idle, _idle_peer) = accepted_pair(&listener).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            busy_peer.write_all(&[1; 200]).unwrap();
            held.push(busy.recv_pooled().await.unwrap().unwrap());
        }
        if multishot_recv() {
            assert_eq!(stats().ring_out, 2, "the ring is empty");
        }
        let before = rt.stats()[0].clone();
        let waited = crate::time::timeout(Duration::from_millis(200), idle.recv_pooled()).await;
        let after = rt.stats()[0].clone();
        assert!(waited.is_err(), "nothing was sent: {waited:?}");
        let (polls, parks) = (after.polls - before.polls, after.parks - before.parks);
        assert!(parks >= 1, "the core never parked ({polls} polls)");
        // A waiting receive is polled when it starts and when the timeout
        // fires; a spinning one was polled on every tick (~50 per ms).
        assert!(polls < 1000, "{polls} polls while idle ({parks} parks)");
        drop(held);
    });
}

/// A stream whose caller took one buffer and then stopped receiving (a
/// server blocked writing to a peer that never reads) stops taking the
/// core's ring buffers once its queue reaches the cap: data that arrives
/// after that waits in the socket, and every byte arrives, in order, once
/// the caller receives again. (Without the cap the stream takes every
/// buffer the ring has.)
#[test]
fn a_stream_nobody_receives_from_stops_taking_ring_buffers_at_its_cap() {
    const SIZE: usize = 1024;
    // Written from the core's thread: the socket's buffers take it without
    // blocking.
    let wave = (RECV_QUEUE_CAP + 4) * SIZE;
    run(builder().recv_buffers(256, SIZE as u32), async move {
        if !multishot_recv() {
            return;
        }
        let listener = TcpListener::bind(localhost()).unwrap();
        let (server, mut client) = accepted_pair(&listener).await;
        let data = pattern(1 + 2 * wave);
        client.write_all(&data[..1]).unwrap();
        let first = server.recv_pooled().await.unwrap().unwrap();
        client.write_all(&data[1..1 + wave]).unwrap();
        until(|| stats().multishot_queued >= RECV_QUEUE_CAP).await;
        // The queue reached its cap: the receive is cancelled (without the
        // cap it stays armed, and this waits until the hang guard fails).
        until(|| stats().multishot_in_flight == 0).await;
        // Nothing receives for the stream now: the second wave waits in
        // the socket.
        client.write_all(&data[1 + wave..]).unwrap();
        let held = stats().ring_out;
        assert!(
            held <= 1 + wave / SIZE,
            "one stream holds {held} ring buffers (cap {RECV_QUEUE_CAP}, the first wave fills {})",
            wave / SIZE
        );
        let mut got = first.to_vec();
        drop(first);
        while got.len() < data.len() {
            let bytes = server.recv_pooled().await.unwrap().unwrap();
            got.extend_from_slice(&bytes);
        }
        assert!(got == data, "bytes lost or reordered");
        drop(client);
        assert_eq!(server.recv_pooled().await.unwrap().map(|b| b.len()), None);
    });
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// With `send_zc_threshold` set, a Unix stream's writes above it (which
/// the kernel refuses as `SEND_ZC`) are sent plainly, every time.
#[test]
fn unix_stream_writes_above_the_send_zc_threshold_are_sent_plainly() {
    let path = std::env::temp_dir().join(format!("frys-zc-unix-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let p = path.clone();
    run(builder().send_zc_threshold(Some(4096)), async move {
        let listener = UnixListener::bind(&p).unwrap();
        let peer = std::os::unix::net::UnixStream::connect(&p).unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let reader = std::thread::spawn(move || {
            let mut peer = peer;
            let mut got = Vec::new();
            peer.read_to_end(&mut got).map(|_| got)
        });
        let big = pattern(64 * 1024);
        for _ in 0..2 {
            let (sent, _) = stream.write_all(big.clone()).await;
            sent.unwrap();
        }
        let (sent, _) = stream.write(big.clone()).await;
        let first = sent.unwrap();
        assert!(first > 0);
        drop(stream);
        until(|| reader.is_finished()).await;
        let got = reader.join().unwrap().unwrap();
        assert_eq!(got.len(), 2 * big.len() + first);
        assert!(got[..big.len()] == big[..] && got[big.len()..2 * big.len()] == big[..]);
    });
    let _ = std::fs::remove_file(&path);
}

/// A listener's `Incoming` that nobody accepts from stops accepting once
/// its queue holds the cap: later connections wait in the listen backlog
/// (no fd of this process), and every one is accepted once the server accepts
/// again. (Without the cap it accepts every connection, an fd each, until
/// `EMFILE`.)
#[test]
fn incoming_without_a_consumer_stops_accepting_at_its_cap() {
    run(builder(), async move {
        if context::driver_kind() != Some(DriverKind::IoUring)
            || !context::with_driver(|d| d.features().accept_multishot).unwrap()
        {
            return;
        }
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = listener.incoming();
        let warm = std::net::TcpStream::connect(addr).unwrap();
        drop(incoming.accept().await.unwrap());
        drop(warm);
        // Connected from the core's thread: the handshake needs no accept.
        let connect = |n| {
            (0..n)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect::<Vec<_>>()
        };
        let mut peers = connect(ACCEPT_QUEUE_CAP);
        until(|| stats().multishot_queued >= ACCEPT_QUEUE_CAP).await;
        // The queue reached its cap: the accept is cancelled (without the
        // cap it stays armed, and this waits until the hang guard fails).
        until(|| stats().multishot_in_flight == 0).await;
        // Nothing accepts now: the second wave waits in the backlog.
        peers.extend(connect(ACCEPT_QUEUE_CAP));
        yield_now().await;
        assert_eq!(
            stats().multishot_queued,
            ACCEPT_QUEUE_CAP + 1,
            "the cap's connections and the final CQE; the rest wait in the backlog"
        );
        for _ in 0..peers.len() {
            drop(incoming.accept().await.unwrap());
        }
        drop(peers);
    });
}
