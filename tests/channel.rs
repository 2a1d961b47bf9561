//! Cross-core channels deliver every message exactly once, in order, under
//! backpressure.

use std::time::Duration;

use frys::channel;
use frys::{Cores, Runtime};

#[test]
fn every_message_arrives_once_in_order_across_cores_under_backpressure() {
    const N: u64 = 200_000;
    let rt = Runtime::builder().cores(Cores::Count(2)).build().unwrap();
    let (mut tx, mut rx) = channel::bounded::<u64>(8);
    let received = rt.block_on(async move {
        // The receiver lives on core 1 and is slow now and then, so the
        // 8-slot ring fills and the sender on core 0 must wait.
        let consumer = frys::spawn_on(1, move || async move {
            let mut expected = 0u64;
            while let Some(v) = rx.recv().await {
                assert_eq!(v, expected, "out of order or duplicated");
                expected += 1;
                if expected.is_multiple_of(10_000) {
                    frys::time::sleep(Duration::from_millis(1)).await;
                }
            }
            (expected, frys::current_core())
        });
        for i in 0..N {
            tx.send(i).await.expect("receiver alive");
        }
        drop(tx);
        consumer.await.unwrap()
    });
    assert_eq!(received, (N, Some(1)));
}

#[test]
fn a_full_channel_gives_the_value_back_and_a_dropped_receiver_closes_it() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async {
        let (mut tx, rx) = channel::bounded::<String>(2);
        tx.try_send("a".into()).unwrap();
        tx.try_send("b".into()).unwrap();
        match tx.try_send("c".into()) {
            Err(channel::TrySendError::Full(v)) => assert_eq!(v, "c"),
            other => panic!("expected Full, got {other:?}"),
        }
        drop(rx);
        match tx.send("d".into()).await {
            Err(channel::SendError(v)) => assert_eq!(v, "d"),
            Ok(()) => panic!("send to a dropped receiver succeeded"),
        }
    });
}
