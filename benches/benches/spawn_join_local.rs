//! Spawn a local task and await its `JoinHandle`, N times inside one
//! `block_on`: frys `spawn_local` vs tokio current-thread `LocalSet`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

fn spawn_join_local(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join_local");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let rt = frys::Runtime::builder()
        .cores(frys::Cores::Count(1))
        .build()
        .expect("frys runtime");
    group.bench_function("frys", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for i in 0..iters {
                    let h = frys::spawn_local(async move { black_box(i) });
                    black_box(h.await.expect("task completes"));
                }
                start.elapsed()
            })
        })
    });
    drop(rt);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    group.bench_function("tokio_localset", |b| {
        b.iter_custom(|iters| {
            local.block_on(&rt, async move {
                let start = Instant::now();
                for i in 0..iters {
                    let h = tokio::task::spawn_local(async move { black_box(i) });
                    black_box(h.await.expect("task completes"));
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, spawn_join_local);
criterion_main!(benches);
