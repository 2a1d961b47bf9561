//! An I/O future belongs to the ring it was started on: finishing it under
//! another runtime on the same thread must fail loudly, never resolve
//! against the other ring's operations (which would hand its buffer to the
//! kernel's writes after free).

use std::future::Future;
use std::task::Poll;

use frys::net::UdpSocket;
use frys::{Cores, Runtime};

#[test]
fn an_io_future_moved_to_another_runtime_panics_instead_of_reading_a_foreign_slot() {
    let rt_a = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    let rt_b = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut pending = Box::pin(async move { sock.recv_from(vec![0u8; 64]).await });
    // Start the receive on runtime A (nothing will arrive).
    rt_a.block_on(std::future::poll_fn(|cx| {
        assert!(pending.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    }));
    // Runtime B has its own receive in flight in the same slot index.
    let outcome = rt_b.block_on(async move {
        let other = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = other.local_addr().unwrap();
        let mine = frys::spawn_local(async move { other.recv_from(vec![0u8; 64]).await.1 });
        frys::yield_now().await;
        let moved = frys::spawn_local(pending).await;
        // B's own operation is untouched and still completes.
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let (sent, _) = sender.send_to(&b"ping"[..], addr).await;
        sent.unwrap();
        (moved, mine.await.unwrap())
    });
    let (moved, mine) = outcome;
    let err = moved.expect_err("the moved future must not complete");
    assert!(err.is_panic(), "{err}");
    assert!(
        err.to_string()
            .contains("outside the runtime core it was started on"),
        "{err}"
    );
    assert_eq!(&mine[..4], b"ping");
}
