//! Both APIs of one stream. Writes: a `futures-io` `poll_write` whose send
//! is still in flight (the peer does not read, so it waits for room), then
//! an owned-buffer `write_all` or `shutdown`; the owned call must go out
//! after the accepted bytes and lose none of them. Reads: `futures-io`
//! reads that left bytes buffered, or a receive in flight, then owned
//! `read`s; those must return the buffered bytes first. On either driver
//! (run these with `FRYS_DRIVER=epoll` too).

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::net::Shutdown;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use futures_io::AsyncWrite;

use super::TcpStream;
use crate::spawn_local;
use crate::time::timeout;

/// How long one `poll_write` may stay pending before the test takes its
/// send for stuck. A send that is only slow (a loaded machine) makes the
/// test weaker, never wrong: its bytes are still checked.
const STUCK_AFTER: Duration = Duration::from_millis(200);

/// Writes 16 KiB chunks through `futures-io` until one stays pending,
/// which leaves the send of the previous chunk in flight; returns the bytes
/// `poll_write` accepted.
async fn write_until_a_send_is_stuck(stream: &mut TcpStream) -> Vec<u8> {
    let mut accepted = Vec::new();
    for i in 0..4000u32 {
        let chunk = vec![(i % 200) as u8 + 1; 16 * 1024];
        let write = poll_fn(|cx| Pin::new(&mut *stream).poll_write(cx, &chunk));
        match timeout(STUCK_AFTER, write).await {
            Ok(n) => accepted.extend_from_slice(&chunk[..n.unwrap()]),
            Err(_) => return accepted,
        }
    }
    panic!("64 MiB went out to a peer that does not read");
}

/// Reads `stream` to end of stream, in a task of its own.
fn read_to_end(stream: TcpStream) -> crate::JoinHandle<Vec<u8>> {
    spawn_local(async move {
        let mut got = Vec::new();
        loop {
            let (n, buf) = stream.read(Vec::with_capacity(64 * 1024)).await;
            match n.unwrap() {
                0 => return got,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
    })
}

#[test]
fn write_all_after_a_futures_io_write_in_flight_goes_out_after_it() {
    let (got, want) = super::tests::block_on(async {
        let (mut writer, reader) = super::tests::connected_pair().await;
        let mut want = write_until_a_send_is_stuck(&mut writer).await;
        let reading = read_to_end(reader);
        let (r, _) = writer.write_all(b"TAIL".to_vec()).await;
        r.unwrap();
        drop(writer);
        want.extend_from_slice(b"TAIL");
        (reading.await.unwrap(), want)
    });
    assert_eq!(got.len(), want.len(), "bytes lost");
    assert!(got == want, "bytes reordered");
}

#[test]
fn shutdown_after_a_futures_io_write_in_flight_lets_it_out_first() {
    let (got, want) = super::tests::block_on(async {
        let (mut writer, reader) = super::tests::connected_pair().await;
        let want = write_until_a_send_is_stuck(&mut writer).await;
        let reading = read_to_end(reader);
        writer.shutdown(Shutdown::Write).await.unwrap();
        let got = reading.await.unwrap();
        drop(writer);
        (got, want)
    });
    assert_eq!(got.len(), want.len(), "bytes lost");
    assert!(got == want, "bytes reordered");
}

#[test]
fn several_tasks_waiting_on_one_send_in_flight_all_go_on() {
    let (got, want) = super::tests::block_on(async {
        let (mut writer, reader) = super::tests::connected_pair().await;
        let want = write_until_a_send_is_stuck(&mut writer).await;
        let writer = Rc::new(writer);
        // Both wait on the same send; the driver keeps only one waker.
        let tasks: Vec<_> = [b"first", b"other"]
            .into_iter()
            .map(|tail| {
                let writer = writer.clone();
                spawn_local(async move { writer.write_all(tail.to_vec()).await.0 })
            })
            .collect();
        crate::yield_now().await;
        let reading = read_to_end(reader);
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        drop(writer);
        (reading.await.unwrap(), want)
    });
    assert_eq!(got.len(), want.len() + 10, "bytes lost");
    assert!(got[..want.len()] == want[..], "bytes reordered");
    let tails = &got[want.len()..];
    assert!(
        tails == b"firstother" || tails == b"otherfirst",
        "{tails:?}"
    );
}

/// Polls a `futures-io` read of `stream` once; returns what it read, or
/// `None` if it stayed pending (its receive is then in flight).
async fn poll_read_once(stream: &mut TcpStream, cap: usize) -> Option<Vec<u8>> {
    use futures_io::AsyncRead;
    let mut buf = vec![0; cap];
    let n = poll_fn(|cx| match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
        Poll::Ready(n) => Poll::Ready(Some(n.unwrap())),
        Poll::Pending => Poll::Ready(None),
    })
    .await?;
    Some(buf[..n].to_vec())
}

#[test]
fn read_after_futures_io_reads_returns_their_leftover_bytes_first() {
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let got = super::tests::block_on({
        let data = data.clone();
        async move {
            let (mut stream, peer) = super::tests::connected_pair().await;
            let (r, _) = peer.write_all(data).await;
            r.unwrap();
            drop(peer);
            // Small futures-io reads leave most of each receive buffered.
            let mut got = Vec::new();
            while got.len() < 20_000 {
                match poll_read_once(&mut stream, 7).await {
                    Some(bytes) => {
                        assert!(!bytes.is_empty(), "early end of stream");
                        got.extend_from_slice(&bytes);
                    }
                    None => crate::yield_now().await,
                }
            }
            loop {
                let (n, buf) = stream.read(Vec::with_capacity(999)).await;
                match n.unwrap() {
                    0 => return got,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
        }
    });
    assert_eq!(got.len(), data.len(), "bytes lost");
    assert!(got == data, "bytes reordered");
}

#[test]
fn reads_after_a_futures_io_read_in_flight_take_its_bytes_first() {
    let got = super::tests::block_on(async {
        let (mut stream, peer) = super::tests::connected_pair().await;
        // Nothing to read yet: the receive stays in flight.
        assert_eq!(poll_read_once(&mut stream, 64).await, None);
        let stream = Rc::new(stream);
        let got = Rc::new(RefCell::new(Vec::new()));
        // Two readers wait on that receive; the driver keeps one waker.
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (stream, got) = (stream.clone(), got.clone());
                spawn_local(async move {
                    let (n, buf) = stream.read(Vec::with_capacity(64)).await;
                    got.borrow_mut().push(buf[..n.unwrap()].to_vec());
                })
            })
            .collect();
        crate::yield_now().await;
        let (r, _) = peer.write_all(b"first".to_vec()).await;
        r.unwrap();
        // One reader takes the bytes of the receive in flight ...
        while got.borrow().is_empty() {
            crate::time::sleep(Duration::from_millis(1)).await;
        }
        // ... and the other, woken too, receives the next ones.
        let (r, _) = peer.write_all(b"second".to_vec()).await;
        r.unwrap();
        for reader in readers {
            reader.await.unwrap();
        }
        got.take()
    });
    assert_eq!(got, [b"first".to_vec(), b"second".to_vec()]);
}

/// How long a waiting task may take to finish once its operation could
/// complete: generous, only to turn a lost wake-up into a failure.
const HANG_AFTER: Duration = Duration::from_secs(10);

#[test]
fn a_reader_waiting_on_the_poll_state_goes_on_when_the_last_poller_is_cancelled() {
    let got = super::tests::block_on(async {
        let (mut stream, peer) = super::tests::connected_pair().await;
        assert_eq!(poll_read_once(&mut stream, 64).await, None);
        let stream = Rc::new(stream);
        // A waits on the receive the futures-io read left in flight.
        let a = {
            let stream = stream.clone();
            spawn_local(async move {
                let (n, buf) = stream.read(Vec::with_capacity(64)).await;
                buf[..n.unwrap()].to_vec()
            })
        };
        crate::yield_now().await;
        // B polls the same receive after A (so the driver holds B's waker),
        // then is cancelled: nothing has been sent yet, so it cannot finish.
        let b = timeout(
            Duration::from_millis(20),
            stream.read(Vec::with_capacity(64)),
        )
        .await;
        assert!(b.is_err());
        let (r, _) = peer.write_all(b"hello".to_vec()).await;
        r.unwrap();
        let got = timeout(HANG_AFTER, a).await.map(|r| r.unwrap());
        (got, stream.waiter_counts())
    });
    assert_eq!(got.0.expect("reader A was never woken"), b"hello");
    assert_eq!(got.1, (0, 0));
}

#[test]
fn a_writer_waiting_on_the_poll_state_goes_on_when_the_last_poller_is_cancelled() {
    let (got, want, a_done) = super::tests::block_on(async {
        let (mut writer, reader) = super::tests::connected_pair().await;
        let mut want = write_until_a_send_is_stuck(&mut writer).await;
        let writer = Rc::new(writer);
        // A waits on the send the futures-io write left in flight.
        let a = {
            let writer = writer.clone();
            spawn_local(async move { writer.write_all(b"A".to_vec()).await.0 })
        };
        crate::yield_now().await;
        // B polls the same send after A, then is cancelled: the peer does
        // not read yet, so the send cannot finish.
        let b = timeout(Duration::from_millis(20), writer.write_all(b"B".to_vec())).await;
        assert!(b.is_err());
        let reading = read_to_end(reader);
        let a_done = timeout(HANG_AFTER, a)
            .await
            .ok()
            .map(|r| r.unwrap().is_ok());
        if a_done.is_none() {
            return (Vec::new(), want, a_done);
        }
        want.push(b'A');
        let writer = Rc::try_unwrap(writer).ok().unwrap();
        writer.shutdown(Shutdown::Write).await.unwrap();
        (reading.await.unwrap(), want, a_done)
    });
    assert_eq!(a_done, Some(true), "writer A was never woken");
    assert_eq!(got.len(), want.len());
    assert!(got == want);
}

#[test]
fn cancelled_waits_on_the_poll_state_leave_no_entry_behind() {
    let counts = super::tests::block_on(async {
        let (mut stream, _peer) = super::tests::connected_pair().await;
        assert_eq!(poll_read_once(&mut stream, 64).await, None);
        let stream = Rc::new(stream);
        for _ in 0..100 {
            let stream = stream.clone();
            spawn_local(async move {
                let read = stream.read(Vec::with_capacity(8));
                // Polled once (it waits on the receive), then dropped.
                let mut read = std::pin::pin!(read);
                let polled = poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx).is_pending())).await;
                assert!(polled);
            })
            .await
            .unwrap();
        }
        stream.waiter_counts()
    });
    assert_eq!(counts, (0, 0));
}

#[test]
fn cancelled_writes_waiting_on_the_poll_state_leave_no_entry_behind() {
    let counts = super::tests::block_on(async {
        let (mut writer, _reader) = super::tests::connected_pair().await;
        write_until_a_send_is_stuck(&mut writer).await;
        let writer = Rc::new(writer);
        for _ in 0..100 {
            let writer = writer.clone();
            spawn_local(async move {
                let write = writer.write_all(b"x".to_vec());
                // Polled once (it waits on the send), then dropped.
                let mut write = std::pin::pin!(write);
                let polled = poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx).is_pending())).await;
                assert!(polled);
            })
            .await
            .unwrap();
        }
        writer.waiter_counts()
    });
    assert_eq!(counts, (0, 0));
}
