//! Timers fire in deadline order and never early.

use std::time::{Duration, Instant};

use frys::{Cores, Runtime};

#[test]
fn timers_fire_in_order_and_not_early() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    let fired = rt.block_on(async {
        let start = Instant::now();
        let order = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut handles = Vec::new();
        // Registered out of order on purpose.
        for ms in [30u64, 5, 20, 1, 10, 25, 15] {
            let order = order.clone();
            handles.push(frys::spawn_local(async move {
                let deadline = start + Duration::from_millis(ms);
                frys::time::sleep_until(deadline).await;
                let now = Instant::now();
                assert!(now >= deadline, "timer {ms}ms fired early");
                order.borrow_mut().push(ms);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let v = order.borrow().clone();
        v
    });
    assert_eq!(fired, vec![1, 5, 10, 15, 20, 25, 30]);
}

#[test]
fn timeout_gives_up_and_passes_through() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async {
        let slow = frys::time::sleep(Duration::from_secs(30));
        let r = frys::time::timeout(Duration::from_millis(5), slow).await;
        assert_eq!(r, Err(frys::time::Elapsed));
        let fast = async { 3 };
        assert_eq!(
            frys::time::timeout(Duration::from_secs(30), fast).await,
            Ok(3)
        );
    });
}

#[test]
fn interval_ticks_are_spaced_by_the_period() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async {
        let period = Duration::from_millis(3);
        let mut iv = frys::time::interval(period);
        let mut last = iv.tick().await;
        for _ in 0..5 {
            let t = iv.tick().await;
            assert!(t >= last + period);
            assert!(Instant::now() >= t);
            last = t;
        }
    });
}

#[test]
fn sleeps_on_other_cores_wake_their_own_core() {
    let rt = Runtime::builder().cores(Cores::Count(2)).build().unwrap();
    let out = rt.run_on_all(|core| async move {
        let start = Instant::now();
        frys::time::sleep(Duration::from_millis(5 + core as u64)).await;
        (
            frys::current_core(),
            start.elapsed() >= Duration::from_millis(5),
        )
    });
    assert_eq!(out, vec![(Some(0), true), (Some(1), true)]);
}
