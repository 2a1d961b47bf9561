//! Overflow work stealing: `Send` tasks flooding one core are taken by an
//! idle one; `!Send` tasks never move.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use frys::{Cores, Runtime};

/// Spins for a while without yielding (CPU-bound work).
fn busy_work(iterations: u64) -> u64 {
    let mut x = 0u64;
    for i in 0..iterations {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    x
}

#[test]
fn send_tasks_flooding_one_core_are_stolen_by_an_idle_core() {
    let rt = Runtime::builder().cores(Cores::Count(2)).build().unwrap();
    let ran_on = Arc::new(Mutex::new(Vec::new()));
    let r = ran_on.clone();
    rt.block_on(async move {
        let handles: Vec<_> = (0..200)
            .map(|_| {
                let r = r.clone();
                frys::spawn(async move {
                    busy_work(200_000);
                    r.lock().unwrap().push(frys::current_core().unwrap());
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let stats = rt.stats();
    let cores: HashSet<usize> = ran_on.lock().unwrap().iter().copied().collect();
    assert_eq!(ran_on.lock().unwrap().len(), 200, "every task finished");
    assert!(stats[1].steals > 0, "core 1 stole nothing: {stats:?}");
    assert_eq!(stats[0].stolen_from, stats[1].steals);
    assert_eq!(cores, HashSet::from([0, 1]), "work finished on both cores");
}

#[test]
fn local_tasks_are_never_stolen() {
    let rt = Runtime::builder().cores(Cores::Count(2)).build().unwrap();
    let cores = rt.block_on(async {
        let handles: Vec<_> = (0..100)
            .map(|_| {
                frys::spawn_local(async {
                    busy_work(100_000);
                    frys::current_core().unwrap()
                })
            })
            .collect();
        let mut cores = HashSet::new();
        for h in handles {
            cores.insert(h.await.unwrap());
        }
        cores
    });
    assert_eq!(cores, HashSet::from([0]));
    assert_eq!(rt.stats()[1].steals, 0);
}

#[test]
fn stealing_off_keeps_send_tasks_home() {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .stealing(false)
        .build()
        .unwrap();
    let cores = rt.block_on(async {
        let handles: Vec<_> = (0..100)
            .map(|_| {
                frys::spawn(async {
                    busy_work(50_000);
                    frys::current_core().unwrap()
                })
            })
            .collect();
        let mut cores = HashSet::new();
        for h in handles {
            cores.insert(h.await.unwrap());
        }
        cores
    });
    assert_eq!(cores, HashSet::from([0]));
}

#[test]
fn send_tasks_left_by_block_on_finish_on_another_core() {
    let rt = Runtime::builder().cores(Cores::Count(2)).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    rt.block_on(async move {
        // Spawned and left behind: core 0 stops when block_on returns, so
        // core 1 must take it.
        frys::spawn(async move {
            tx.send(frys::current_core()).unwrap();
        });
    });
    let ran_on = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the task left in core 0's stealable queue must run");
    assert_eq!(ran_on, Some(1));
}
