//! The network fast path on both drivers, with and without the io_uring
//! fast path (`Builder::net_fast_path(false)` forces the fallback this
//! kernel would otherwise not take): pooled receives (`recv_pooled`),
//! multishot accept (`incoming`), vectored and zero-copy sends.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use super::{TcpListener, TcpStream};
use crate::driver::PooledStats;
use crate::runtime::{context, Builder, Runtime};
use crate::{spawn_local, yield_now, Cores, DriverKind};

/// Generous bound so that a bug fails the test instead of hanging it; no
/// assertion depends on it.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn builder(fast_path: bool) -> Builder {
    Runtime::builder()
        .cores(Cores::Count(1))
        .net_fast_path(fast_path)
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

/// Yields until `cond` holds (bounded by the test's hang guard).
async fn until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        crate::time::sleep(Duration::from_millis(1)).await;
    }
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn accepted_pair() -> (TcpStream, std::net::TcpStream) {
    let listener = TcpListener::bind(localhost()).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = std::net::TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (server, client)
}

fn pattern(conn: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + conn * 13) as u8).collect()
}

#[test]
fn the_probe_finds_the_fast_paths_on_this_kernel_unless_forced_off() {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let major: u32 = kernel.split('.').next().unwrap().parse().unwrap();
    let (on, kind) = run(builder(true), async {
        (
            context::with_driver(|d| d.features()).unwrap(),
            context::driver_kind().unwrap(),
        )
    });
    if kind == DriverKind::IoUring && major >= 6 {
        assert!(on.recv_multishot, "{on:?} on {kernel}");
        assert!(on.accept_multishot, "{on:?} on {kernel}");
    }
    let off = run(builder(false), async {
        let features = context::with_driver(|d| d.features()).unwrap();
        let ring = context::with_driver(|d| d.buf_ring().is_some()).unwrap();
        (features, ring)
    });
    assert_eq!(off, (Default::default(), false), "forced fallback");
}

fn bytes_arrive_in_order_then_end_of_stream(fast_path: bool) {
    run(builder(fast_path), async {
        let (server, mut client) = accepted_pair().await;
        let sent = pattern(1, 200_000);
        let to_send = sent.clone();
        let writer = std::thread::spawn(move || {
            for chunk in to_send.chunks(3000) {
                client.write_all(chunk).unwrap();
            }
        });
        let mut got = Vec::new();
        let mut held = Vec::new();
        while let Some(buf) = server.recv_pooled().await.unwrap() {
            assert!(!buf.is_empty());
            got.extend_from_slice(&buf);
            // Hold a few, to prove held buffers keep their bytes.
            if held.len() < 4 {
                held.push(buf);
            }
        }
        writer.join().unwrap();
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "bytes out of order");
        let first: Vec<u8> = held.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(first[..], sent[..first.len()]);
        assert!(server.recv_pooled().await.unwrap().is_none(), "EOF again");
        drop(held);
        let s = stats();
        assert_eq!((s.ring_out, s.pool_out), (0, 0), "every buffer returned");
        if context::driver_kind() == Some(DriverKind::IoUring) {
            assert_eq!(multishot_recv(), fast_path, "the path this test meant");
        }
    });
}

#[test]
fn pooled_receives_arrive_in_order_then_end_of_stream() {
    bytes_arrive_in_order_then_end_of_stream(true);
}

#[test]
fn pooled_receives_arrive_in_order_on_the_forced_fallback() {
    bytes_arrive_in_order_then_end_of_stream(false);
}

#[test]
fn a_dropped_multishot_recv_returns_its_buffers() {
    for fast_path in [true, false] {
        run(builder(fast_path), async {
            let (server, mut client) = accepted_pair().await;
            client.write_all(b"first").unwrap();
            let held = server.recv_pooled().await.unwrap().unwrap();
            assert_eq!(&held[..], b"first");
            // More data arrives while nobody receives: with multishot, the
            // kernel fills ring buffers that queue in the operation.
            for _ in 0..8 {
                client.write_all(&[7; 100]).unwrap();
                crate::time::sleep(Duration::from_millis(1)).await;
            }
            // A future dropped while waiting changes nothing either.
            {
                let pending = std::pin::pin!(server.recv_pooled());
                let _ = crate::time::timeout(Duration::ZERO, pending).await;
            }
            if multishot_recv() {
                until(|| stats().ring_out >= 2).await;
            }
            drop(server);
            // The queued buffers went back at once, later CQEs' buffers go
            // back as they arrive; the held one stays out until dropped.
            until(|| stats().multishot_in_flight == 0).await;
            let s = stats();
            assert_eq!(s.ring_out, usize::from(multishot_recv()), "{s:?}");
            drop(held);
            let s = stats();
            assert_eq!((s.ring_out, s.pool_out), (0, 0), "{s:?}");
            drop(client);
        });
    }
}

#[test]
fn an_empty_ring_falls_back_without_losing_or_reordering_bytes() {
    const CONNS: usize = 40;
    const LEN: usize = 64 * 1024;
    // Two 256-byte ring buffers for forty connections sending at once:
    // the ring runs dry (ENOBUFS) over and over.
    let b = builder(true).recv_buffers(2, 256);
    run(b, async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let writers: Vec<_> = (0..CONNS)
            .map(|i| {
                std::thread::spawn(move || {
                    let mut c = std::net::TcpStream::connect(addr).unwrap();
                    c.write_all(&(i as u32).to_le_bytes()).unwrap();
                    c.write_all(&pattern(i, LEN)).unwrap();
                })
            })
            .collect();
        let mut readers = Vec::new();
        for _ in 0..CONNS {
            let (stream, _) = listener.accept().await.unwrap();
            readers.push(spawn_local(async move {
                let mut got = Vec::new();
                // Hold the last buffer until the next arrives, so the ring
                // stays short of buffers.
                let mut _held = None;
                while let Some(buf) = stream.recv_pooled().await.unwrap() {
                    got.extend_from_slice(&buf);
                    _held = Some(buf);
                    yield_now().await;
                }
                got
            }));
        }
        for r in readers {
            let got = r.await.unwrap();
            let conn = u32::from_le_bytes(got[..4].try_into().unwrap()) as usize;
            assert_eq!(got.len(), 4 + LEN, "conn {conn}");
            assert!(got[4..] == pattern(conn, LEN)[..], "conn {conn} reordered");
        }
        for w in writers {
            w.join().unwrap();
        }
        let s = stats();
        assert_eq!((s.ring_out, s.pool_out), (0, 0), "{s:?}");
        if multishot_recv() {
            assert!(s.direct_reads > 0, "the ring never ran out: {s:?}");
        }
    });
}

#[test]
fn incoming_accepts_through_one_multishot_accept_and_dropping_it_stops_it() {
    for fast_path in [true, false] {
        run(builder(fast_path), async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            let clients: Vec<_> = (0..5)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            let mut incoming = listener.incoming();
            let mut peers = Vec::new();
            for _ in 0..clients.len() {
                let (stream, peer) = incoming.accept().await.unwrap();
                assert_eq!(stream.peer_addr().unwrap(), peer);
                peers.push(peer);
            }
            let mut local: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
            local.sort();
            peers.sort();
            assert_eq!(peers, local, "every client accepted once");
            let multishot = context::with_driver(|d| d.features().accept_multishot).unwrap();
            let armed = stats().multishot_in_flight;
            assert_eq!(armed, usize::from(multishot), "one armed accept");
            drop(incoming);
            until(|| stats().multishot_in_flight == 0).await;
            // The listener still works after its multishot accept stopped.
            let late = std::net::TcpStream::connect(addr).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            assert_eq!(stream.peer_addr().unwrap(), late.local_addr().unwrap());
        });
    }
}

#[test]
fn vectored_sends_deliver_every_buffer_in_order_across_short_sends() {
    for fast_path in [true, false] {
        run(builder(fast_path), async {
            let (server, mut client) = accepted_pair().await;
            // More buffers than one sendmsg takes (1,024) and more bytes
            // than the socket buffers hold: short sends must resume
            // mid-buffer.
            let bufs: Vec<Vec<u8>> = (0..3000).map(|i| pattern(i, 1 + i % 700)).collect();
            let mut expected: Vec<u8> = bufs.concat();
            expected.extend_from_slice(b"abc");
            let len = expected.len();
            let reader = std::thread::spawn(move || {
                let mut got = vec![0; len];
                std::io::Read::read_exact(&mut client, &mut got).unwrap();
                got
            });
            let (res, back) = server.write_all_vectored(bufs).await;
            res.unwrap();
            assert_eq!(back.len(), 3000, "the buffers come back");
            let (n, back) = server
                .write_vectored(vec![b"ab".to_vec(), Vec::new(), b"c".to_vec()])
                .await;
            assert_eq!(n.unwrap(), 3);
            assert_eq!(back[2], b"c");
            drop(server);
            let got = reader.join().unwrap();
            assert!(got == expected, "bytes out of order");
        });
    }
}

#[test]
fn zero_copy_sends_deliver_the_bytes_and_give_the_buffer_back_after_the_kernel() {
    for fast_path in [true, false] {
        let b = builder(fast_path).send_zc_threshold(Some(4096));
        run(b, async {
            let (server, mut client) = accepted_pair().await;
            let chunks: Vec<Vec<u8>> = (0..64).map(|i| pattern(i, 1000 + i * 997)).collect();
            let expected: Vec<u8> = chunks.concat();
            let len = expected.len();
            let reader = std::thread::spawn(move || {
                let mut got = vec![0; len];
                std::io::Read::read_exact(&mut client, &mut got).unwrap();
                got
            });
            for chunk in chunks {
                let (res, back) = server.write_all(chunk).await;
                res.unwrap();
                // The buffer is ours again: the kernel is done with it, so
                // overwriting it cannot change what was sent.
                let mut back = back;
                back.fill(0xee);
            }
            let got = reader.join().unwrap();
            assert!(got == expected, "bytes differ");
            let zc = context::with_driver(|d| d.send_zc_threshold().is_some()).unwrap();
            let notifs = stats().zc_notifs;
            assert_eq!(notifs > 0, zc, "zero-copy used exactly when available");
            if context::driver_kind() == Some(DriverKind::IoUring) {
                assert_eq!(zc, fast_path, "SEND_ZC is on this kernel (6.0+)");
            }
        });
    }
}

#[test]
fn a_dropped_recv_pooled_future_loses_no_bytes() {
    const CHUNKS: usize = 50;
    const CHUNK: usize = 1000;
    for fast_path in [true, false] {
        run(builder(fast_path), async {
            let (server, mut client) = accepted_pair().await;
            let sent = pattern(3, CHUNKS * CHUNK);
            let to_send = sent.clone();
            let (go, next) = std::sync::mpsc::channel::<()>();
            let writer = std::thread::spawn(move || {
                for chunk in to_send.chunks(CHUNK) {
                    next.recv().unwrap();
                    client.write_all(chunk).unwrap();
                }
            });
            let mut got = Vec::new();
            for k in 0..CHUNKS {
                // Everything sent so far was received, and chunk `k` is not
                // sent yet: this receive waits, and is abandoned after one
                // poll (with multishot, its armed receive stays).
                let early = crate::time::timeout(Duration::ZERO, server.recv_pooled()).await;
                assert!(early.is_err(), "nothing can have arrived yet");
                go.send(()).unwrap();
                while got.len() < (k + 1) * CHUNK {
                    let buf = server.recv_pooled().await.unwrap().expect("not at the end");
                    got.extend_from_slice(&buf);
                }
            }
            writer.join().unwrap();
            assert!(server.recv_pooled().await.unwrap().is_none());
            assert!(got == sent, "bytes lost or out of order");
        });
    }
}
