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
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut pending = Box::pin(async move { sock.recv_from(Vec::with_capacity(64)).await });
    // Start the receive on runtime A (nothing will arrive).
    rt_a.block_on(std::future::poll_fn(|cx| {
        assert!(pending.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    }));
    // Runtime B has its own receive in flight in the same slot index.
    let outcome = rt_b.block_on(async move {
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = other.local_addr().unwrap();
        let mine =
            frys::spawn_local(async move { other.recv_from(Vec::with_capacity(64)).await.1 });
        frys::yield_now().await;
        let moved = frys::spawn_local(pending).await;
        // B's own operation is untouched and still completes.
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
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

/// A buffer whose `Drop` starts frys I/O (a pool that recycles buffers by
/// writing them back, say) and records whether it could.
struct IoOnDrop {
    bytes: Vec<u8>,
    sock: std::rc::Rc<UdpSocket>,
    outcome: std::rc::Rc<std::cell::Cell<Option<bool>>>,
}

// SAFETY: delegates to the inner `Vec<u8>`, whose heap bytes stay put when
// the struct moves; the other fields are never handed to the kernel.
unsafe impl frys::buf::IoBuf for IoOnDrop {
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
unsafe impl frys::buf::IoBufMut for IoOnDrop {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.stable_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: forwarded from our caller's guarantee.
        unsafe { self.bytes.set_init(pos) }
    }
}

impl Drop for IoOnDrop {
    fn drop(&mut self) {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
        let sock = self.sock.clone();
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut send = Box::pin(async move { sock.send(b"bye".as_slice()).await });
            let _ = send
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker));
        }));
        self.outcome.set(Some(started.is_ok()));
    }
}

#[test]
fn a_buffer_whose_drop_does_io_is_released_outside_the_driver() {
    let rt = Runtime::builder()
        .cores(Cores::Count(1))
        .pin(false)
        .build()
        .unwrap();
    let started = rt.block_on(async {
        let sock = std::rc::Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.connect(peer.local_addr().unwrap()).await.unwrap();
        let outcome = std::rc::Rc::new(std::cell::Cell::new(None));
        let buf = IoOnDrop {
            bytes: Vec::with_capacity(16),
            sock: sock.clone(),
            outcome: outcome.clone(),
        };
        // A receive nothing will answer, abandoned in flight: the buffer
        // stays with the driver until the cancellation's completion.
        let mut recv = Box::pin(async move { sock.recv(buf).await });
        std::future::poll_fn(|cx| {
            assert!(recv.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        drop(recv);
        while outcome.get().is_none() {
            frys::yield_now().await;
        }
        outcome.get()
    });
    assert_eq!(started, Some(true), "the buffer's drop could start I/O");
}
