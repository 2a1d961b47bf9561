use super::channel;
use crate::channel::TryRecvError;
use crate::{Cores, Runtime};

#[test]
fn values_from_senders_on_every_core_arrive_in_per_sender_order() {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .pin(false)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, mut rx) = channel::<(usize, u32)>(4);
        let mut joins = Vec::new();
        // Three senders per core, each with more values than its ring holds.
        for core in 0..2 {
            for id in 0..3 {
                let mut tx = tx.clone();
                joins.push(crate::spawn_on(core, move || async move {
                    for i in 0..100 {
                        tx.send((core * 10 + id, i)).await.unwrap();
                    }
                }));
            }
        }
        drop(tx);
        let mut last = std::collections::HashMap::new();
        let mut count = 0;
        while let Some((sender, i)) = rx.recv().await {
            let prev = last.insert(sender, i);
            assert_eq!(prev.map_or(0, |p| p + 1), i, "sender {sender} out of order");
            count += 1;
        }
        assert_eq!(count, 600);
        for j in joins {
            j.await.unwrap();
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn a_clone_of_a_clone_reaches_the_receiver_after_its_parent_is_gone() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async {
        let (tx, mut rx) = channel::<u8>(2);
        let mut grandchild = tx.clone().clone();
        drop(tx);
        // Both the original and the first clone are gone; the grandchild's
        // ring must still be found.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        grandchild.send(7).await.unwrap();
        drop(grandchild);
        assert_eq!(rx.recv().await, Some(7));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn senders_see_a_dropped_receiver() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async {
        let (mut tx, rx) = channel::<u8>(2);
        let mut other = tx.clone();
        drop(rx);
        assert!(tx.is_closed());
        assert!(tx.send(1).await.is_err());
        // The clone's ring was never taken by the receiver: the receiver's
        // drop closed it on the stack.
        assert!(other.send(2).await.is_err());
        let mut later = other.clone();
        assert!(later.send(3).await.is_err());
    });
}
