//! Loom models of the multi-producer channel: the ring hand-off and the
//! receiver's wake-ups.

use super::channel;
use crate::loom::block_on;
use crate::loom::thread;

/// A sender on another thread and one on the receiver's thread: every
/// value arrives and the receiver ends only after both are gone (a lost
/// hand-off or wake-up would deadlock or end early).
#[test]
fn mpsc_two_senders_all_values_arrive() {
    crate::loom::model(|| {
        let (mut tx, mut rx) = channel::<usize>(1);
        let mut tx2 = tx.clone();
        let a = thread::spawn(move || block_on(async move { tx2.send(2).await.unwrap() }));
        let got = block_on(async {
            tx.send(1).await.unwrap();
            drop(tx);
            let mut got = Vec::new();
            while let Some(v) = rx.recv().await {
                got.push(v);
            }
            got
        });
        a.join().unwrap();
        let mut got = got;
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// A clone made on another thread while the receiver waits: its ring is
/// handed over and its value received.
#[test]
fn mpsc_clone_while_receiver_waits() {
    crate::loom::model(|| {
        let (tx, mut rx) = channel::<usize>(1);
        let t = thread::spawn(move || {
            let mut child = tx.clone();
            drop(tx);
            block_on(async move { child.send(9).await.unwrap() });
        });
        let got = block_on(async { (rx.recv().await, rx.recv().await) });
        t.join().unwrap();
        assert_eq!(got, (Some(9), None));
    });
}
