//! Cross-core SPSC channel: throughput of 1M `u64` from core 0 to core 1
//! through `frys::channel::bounded(1024)`, against `crossbeam_channel` and
//! `tokio::sync::mpsc` (both bounded 1024, across two threads); and the
//! one-way latency (half a ping-pong round trip over two channels).
//!
//! frys pins its two cores to two CPUs by default; the crossbeam and tokio
//! threads are left to the OS scheduler. The `_unpinned` frys variants
//! (`Builder::pin(false)`) separate the cost of cross-CPU wake-ups from frys.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

const MESSAGES: u64 = 1_000_000;
const CAPACITY: usize = 1024;

fn throughput(c: &mut Criterion) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("spsc_channel: skipped, only {cpus} usable CPU");
        return;
    }
    let mut group = c.benchmark_group("spsc_channel_throughput");
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(MESSAGES));

    for pin in [true, false] {
        frys_throughput(&mut group, pin);
    }

    group.bench_function("crossbeam_bounded", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (tx, rx) = crossbeam_channel::bounded::<u64>(CAPACITY);
                let start = Instant::now();
                std::thread::scope(|s| {
                    let sink = s.spawn(move || {
                        let mut n = 0u64;
                        while let Ok(v) = rx.recv() {
                            black_box(v);
                            n += 1;
                        }
                        n
                    });
                    for i in 0..MESSAGES {
                        tx.send(i).expect("receiver alive");
                    }
                    drop(tx);
                    assert_eq!(sink.join().expect("receiver thread"), MESSAGES);
                });
                total += start.elapsed();
            }
            total
        })
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    group.bench_function("tokio_mpsc", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAPACITY);
                let start = Instant::now();
                std::thread::scope(|s| {
                    let sink = s.spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .build()
                            .expect("tokio runtime");
                        rt.block_on(async move {
                            let mut n = 0u64;
                            while let Some(v) = rx.recv().await {
                                black_box(v);
                                n += 1;
                            }
                            n
                        })
                    });
                    rt.block_on(async {
                        for i in 0..MESSAGES {
                            tx.send(i).await.expect("receiver alive");
                        }
                    });
                    drop(tx);
                    assert_eq!(sink.join().expect("receiver thread"), MESSAGES);
                });
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

/// The frys variants; `pin` = cores pinned to CPUs (frys' default) or left
/// to the OS scheduler, like the crossbeam and tokio threads.
fn frys_throughput(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    pin: bool,
) {
    let suffix = if pin { "" } else { "_unpinned" };
    let rt = frys::Runtime::builder()
        .cores(frys::Cores::Count(2))
        .pin(pin)
        .build()
        .expect("frys runtime");
    group.bench_function(format!("frys_send{suffix}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let (mut tx, rx) = frys::channel::bounded::<u64>(CAPACITY);
                    let sink = frys::spawn_on(1, move || drain_frys(rx));
                    for i in 0..MESSAGES {
                        tx.send(i).await.expect("receiver alive");
                    }
                    drop(tx);
                    assert_eq!(sink.await.expect("receiver task"), MESSAGES);
                }
                start.elapsed()
            })
        })
    });
    group.bench_function(format!("frys_send_buffered{suffix}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let (mut tx, rx) = frys::channel::bounded::<u64>(CAPACITY);
                    let sink = frys::spawn_on(1, move || drain_frys(rx));
                    for i in 0..MESSAGES {
                        if let Err(e) = tx.try_send_buffered(i) {
                            // Full: `send` publishes the batch and waits for room.
                            tx.send(e.into_inner()).await.expect("receiver alive");
                        }
                    }
                    drop(tx); // publishes the rest
                    assert_eq!(sink.await.expect("receiver task"), MESSAGES);
                }
                start.elapsed()
            })
        })
    });
    drop(rt);
}

async fn drain_frys(mut rx: frys::channel::Receiver<u64>) -> u64 {
    let mut n = 0u64;
    while let Some(v) = rx.recv().await {
        black_box(v);
        n += 1;
    }
    n
}

fn one_way_latency(c: &mut Criterion) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("spsc_channel: skipped, only {cpus} usable CPU");
        return;
    }
    let mut group = c.benchmark_group("spsc_channel_one_way_latency");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    for pin in [true, false] {
        frys_latency(&mut group, pin);
    }

    group.bench_function("crossbeam_ping_pong_half", |b| {
        b.iter_custom(|iters| {
            let (ping_tx, ping_rx) = crossbeam_channel::bounded::<u64>(CAPACITY);
            let (pong_tx, pong_rx) = crossbeam_channel::bounded::<u64>(CAPACITY);
            std::thread::scope(|s| {
                s.spawn(move || {
                    while let Ok(v) = ping_rx.recv() {
                        if pong_tx.send(v).is_err() {
                            break;
                        }
                    }
                });
                let start = Instant::now();
                for i in 0..iters {
                    ping_tx.send(i).expect("echo alive");
                    black_box(pong_rx.recv().expect("echo alive"));
                }
                let elapsed = start.elapsed();
                drop(ping_tx);
                elapsed / 2
            })
        })
    });
    group.finish();
}

/// Half a ping-pong round trip between core 0 and core 1.
fn frys_latency(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    pin: bool,
) {
    let suffix = if pin { "" } else { "_unpinned" };
    let rt = frys::Runtime::builder()
        .cores(frys::Cores::Count(2))
        .pin(pin)
        .build()
        .expect("frys runtime");
    group.bench_function(format!("frys_ping_pong_half{suffix}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let (mut ping_tx, mut ping_rx) = frys::channel::bounded::<u64>(CAPACITY);
                let (mut pong_tx, mut pong_rx) = frys::channel::bounded::<u64>(CAPACITY);
                let echo = frys::spawn_on(1, move || async move {
                    while let Some(v) = ping_rx.recv().await {
                        if pong_tx.send(v).await.is_err() {
                            break;
                        }
                    }
                });
                let start = Instant::now();
                for i in 0..iters {
                    ping_tx.send(i).await.expect("echo alive");
                    black_box(pong_rx.recv().await.expect("echo alive"));
                }
                let elapsed = start.elapsed();
                drop(ping_tx);
                echo.await.expect("echo task");
                elapsed / 2
            })
        })
    });
    drop(rt);
}

criterion_group!(benches, throughput, one_way_latency);
criterion_main!(benches);
