//! Behaviour specific to the epoll driver. What both drivers share is
//! tested by the crate's other tests, which run on epoll too under
//! `FRYS_DRIVER=epoll`.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use crate::buf::{IoBuf, IoBufMut};
use crate::fs::{File, OpenOptions};
use crate::net::{TcpListener, TcpStream};
use crate::{spawn_local, Cores, DriverKind, Runtime};

/// A one-core epoll runtime that parks as soon as it is idle, so results
/// of the file-operation pool arrive through the eventfd wake path.
fn epoll_runtime() -> Runtime {
    Runtime::builder()
        .cores(Cores::Count(1))
        .driver(DriverKind::Epoll)
        .idle_poll(Duration::ZERO)
        .build()
        .unwrap()
}

fn block_on<F: Future>(future: F) -> F::Output {
    let rt = epoll_runtime();
    assert_eq!(rt.driver(), DriverKind::Epoll);
    rt.block_on(async move {
        crate::time::timeout(Duration::from_secs(20), future)
            .await
            .expect("test hung")
    })
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Polls `future` once; true if it is still pending.
async fn pending_after_one_poll<F: Future>(future: std::pin::Pin<&mut F>) -> bool {
    let mut future = future;
    poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await
}

#[test]
fn an_explicit_driver_is_the_one_that_runs() {
    assert_eq!(epoll_runtime().driver(), DriverKind::Epoll);
    let rt = Runtime::builder()
        .cores(Cores::Count(1))
        .driver(DriverKind::IoUring)
        .build()
        .unwrap();
    assert_eq!(rt.driver(), DriverKind::IoUring);
}

#[test]
fn a_dropped_waiting_read_consumes_nothing() {
    block_on(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = spawn_local(async move { listener.accept().await.unwrap().0 });
        let client = TcpStream::connect(addr).await.unwrap();
        let server = accept.await.unwrap();
        for round in 0..50u32 {
            {
                let mut read = pin!(server.read(Vec::with_capacity(64)));
                assert!(pending_after_one_poll(read.as_mut()).await);
                let msg = round.to_be_bytes().to_vec();
                let (res, _) = client.write_all(msg).await;
                res.unwrap();
                // Let the event arrive while the read waits, then drop it.
                crate::time::sleep(Duration::from_millis(1)).await;
            }
            let (n, buf) = server.read(Vec::with_capacity(64)).await;
            assert_eq!(&buf[..n.unwrap()], round.to_be_bytes(), "round {round}");
        }
    });
}

#[test]
fn a_new_socket_on_a_reused_fd_number_is_waited_on_again() {
    block_on(async {
        for _ in 0..20 {
            let listener = TcpListener::bind(localhost()).unwrap();
            let fd = listener.as_raw_fd();
            {
                // Registers the fd with this core's epoll instance.
                let mut accept = pin!(listener.accept());
                assert!(pending_after_one_poll(accept.as_mut()).await);
            }
            drop(listener);
            let listener = TcpListener::bind(localhost()).unwrap();
            // Usually the same number; the test is meaningful either way.
            let _same = listener.as_raw_fd() == fd;
            let addr = listener.local_addr().unwrap();
            let accept = spawn_local(async move { listener.accept().await.map(drop) });
            crate::yield_now().await;
            let _client = TcpStream::connect(addr).await.unwrap();
            accept.await.unwrap().unwrap();
        }
    });
}

#[test]
fn a_refused_connect_reports_the_socket_error() {
    block_on(async {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn a_listener_moves_between_runtimes_of_both_drivers() {
    let listener = TcpListener::bind(localhost()).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = Rc::new(listener);
    for kind in [
        DriverKind::IoUring,
        DriverKind::Epoll,
        DriverKind::IoUring,
        DriverKind::Epoll,
    ] {
        let rt = Runtime::builder()
            .cores(Cores::Count(1))
            .driver(kind)
            .build()
            .unwrap();
        let listener = listener.clone();
        rt.block_on(async move {
            let accept = spawn_local(async move { listener.accept().await.map(|(s, _)| s) });
            // The accept waits in the driver before anyone connects.
            crate::time::sleep(Duration::from_millis(5)).await;
            let client = TcpStream::connect(addr).await.unwrap();
            let server = accept.await.unwrap().expect("accept in this driver's mode");
            let (res, _) = client.write_all(&b"ping"[..]).await;
            res.unwrap();
            let (n, buf) = server.read(Vec::with_capacity(8)).await;
            assert_eq!(&buf[..n.unwrap()], b"ping", "{kind}");
        });
    }
}

/// A buffer that records when it is freed.
struct Tracked {
    bytes: Vec<u8>,
    freed: Rc<Cell<bool>>,
}

// SAFETY: delegates to the inner `Vec<u8>`, whose heap bytes stay put when
// the struct moves.
unsafe impl IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.bytes_init()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.bytes_total()
    }
}

// SAFETY: as above, the inner `Vec<u8>`'s contract.
unsafe impl IoBufMut for Tracked {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.stable_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: forwarded from our caller's guarantee.
        unsafe { self.bytes.set_init(pos) }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.freed.set(true);
    }
}

#[test]
fn a_file_read_dropped_on_the_pool_keeps_its_buffer_until_the_call_returns() {
    let dir = std::env::temp_dir().join(format!("frys-epoll-pool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data");
    std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
    block_on(async {
        let file = File::open(&path).await.unwrap();
        for _ in 0..20 {
            let freed = Rc::new(Cell::new(false));
            let buf = Tracked {
                bytes: Vec::with_capacity(1 << 20),
                freed: freed.clone(),
            };
            {
                let mut read = pin!(file.read_at(buf, 0));
                // Queued on the pool; dropped while (probably) running.
                assert!(pending_after_one_poll(read.as_mut()).await);
            }
            assert!(!freed.get(), "freed while the pool may still write it");
            while !freed.get() {
                crate::time::sleep(Duration::from_millis(1)).await;
            }
        }
        // The file still works, and the data is what was written.
        let (n, buf) = file.read_at(Vec::with_capacity(16), 4096).await;
        assert_eq!(n.unwrap(), 16);
        assert_eq!(buf, [7u8; 16]);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_writes_reach_the_disk_through_the_pool() {
    let dir = std::env::temp_dir().join(format!("frys-epoll-fs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log");
    let written = block_on({
        let path = path.clone();
        async move {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .await
                .unwrap();
            let (res, _) = file.write_all_at(b"hello epoll".to_vec(), 0).await;
            res.unwrap();
            file.sync_data().await.unwrap();
            file.sync_all().await.unwrap();
            file.metadata().await.unwrap().len()
        }
    });
    assert_eq!(written, 11);
    assert_eq!(std::fs::read(&path).unwrap(), b"hello epoll");
    std::fs::remove_dir_all(&dir).unwrap();
}
