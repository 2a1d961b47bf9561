use std::sync::mpsc;
use std::time::Duration;

use super::spawn_blocking;
use crate::{Cores, Runtime};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    Runtime::builder()
        .cores(Cores::Count(1))
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn the_result_comes_back() {
    let v = block_on(async { spawn_blocking(|| 6 * 7).await.unwrap() });
    assert_eq!(v, 42);
}

#[test]
fn a_panic_comes_back_as_a_join_error() {
    let e = block_on(async {
        spawn_blocking(|| -> u8 { panic!("boom") })
            .await
            .unwrap_err()
    });
    assert!(e.is_panic());
    assert_eq!(e.to_string(), "task panicked: boom");
}

#[test]
fn a_blocking_call_does_not_stall_the_core() {
    // The job blocks until the core, after a timer, releases it: if the job
    // ran on the core, the timer could never fire and this would hang.
    block_on(async {
        let (release, wait) = mpsc::channel::<()>();
        let job = spawn_blocking(move || wait.recv().is_ok());
        crate::time::sleep(Duration::from_millis(10)).await;
        release.send(()).unwrap();
        assert!(job.await.unwrap());
    });
}

#[test]
fn many_jobs_at_once_all_finish() {
    block_on(async {
        let handles: Vec<_> = (0..200u64).map(|i| spawn_blocking(move || i * 2)).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, (0..200u64).map(|i| i * 2).sum::<u64>());
    });
}

#[test]
fn two_jobs_submitted_together_run_at_the_same_time() {
    // Job A waits for job B: with one idle thread taking both in turn, A
    // would wait forever.
    block_on(async {
        // Leave one idle pool thread behind first.
        spawn_blocking(|| ()).await.unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        let a = spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)).is_ok());
        let b = spawn_blocking(move || tx.send(()).is_ok());
        assert!(b.await.unwrap());
        assert!(a.await.unwrap(), "job A never saw job B run");
    });
}
