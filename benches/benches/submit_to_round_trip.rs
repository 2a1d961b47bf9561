//! `submit_to(1, || x)` awaited from core 0 of a 2-core frys runtime,
//! against a tokio round trip to a task on another current-thread runtime
//! thread (mpsc request + oneshot reply). `frys_submit_to_fixed_window`
//! turns the idle-poll adaptation off, to show what it costs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tokio::sync::{mpsc, oneshot};

fn submit_to_round_trip(c: &mut Criterion) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("submit_to_round_trip: skipped, only {cpus} usable CPU");
        return;
    }
    let mut group = c.benchmark_group("submit_to_round_trip");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let two_cores = || frys::Runtime::builder().cores(frys::Cores::Count(2));
    frys_round_trip(&mut group, "frys_submit_to", two_cores());
    // The same with the full idle-poll window every time (no adaptation):
    // what the adaptive window gives up when the CPUs are shared.
    frys_round_trip(
        &mut group,
        "frys_submit_to_fixed_window",
        two_cores().adaptive_idle_poll(false),
    );
    // Same, with the cores left to the OS scheduler (context for the
    // pinned numbers: cross-CPU wake-ups vs the scheduler's placement).
    frys_round_trip(
        &mut group,
        "frys_submit_to_unpinned",
        two_cores().pin(false),
    );
    tokio_round_trip(&mut group, None);
    tokio_round_trip(&mut group, Some((0, 1)));
    group.finish();
}

/// `submit_to(1, ..)` awaited from core 0 of the runtime `builder` makes.
fn frys_round_trip(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    builder: frys::Builder,
) {
    let rt = builder.build().expect("frys runtime");
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(frys::submit_to(1, move || black_box(i)).await);
                }
                start.elapsed()
            })
        })
    });
}

/// mpsc request + oneshot reply to a task on another thread's current-thread
/// runtime; `pin` = (client CPU, server CPU), or both left to the scheduler.
fn tokio_round_trip(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    pin: Option<(usize, usize)>,
) {
    let allowed = frys::topology::allowed_cpus().expect("affinity mask");
    if let Some((client, _)) = pin {
        frys::topology::pin_current_thread(allowed[client]).expect("pin client");
    }
    let server_cpu = pin.map(|(_, server)| allowed[server]);
    // The server: a task on its own thread and current-thread runtime.
    let (req_tx, mut req_rx) = mpsc::channel::<(u64, oneshot::Sender<u64>)>(1024);
    let server = std::thread::spawn(move || {
        if let Some(cpu) = server_cpu {
            frys::topology::pin_current_thread(cpu).expect("pin server");
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            while let Some((x, reply)) = req_rx.recv().await {
                let _ = reply.send(black_box(x));
            }
        });
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let name = if pin.is_some() {
        "tokio_mpsc_oneshot_pinned"
    } else {
        "tokio_mpsc_oneshot"
    };
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let req_tx = req_tx.clone();
            rt.block_on(async move {
                let start = Instant::now();
                for i in 0..iters {
                    let (tx, rx) = oneshot::channel();
                    req_tx.send((i, tx)).await.expect("server alive");
                    black_box(rx.await.expect("reply"));
                }
                start.elapsed()
            })
        })
    });
    drop(req_tx);
    server.join().expect("server thread");
    frys::topology::set_current_thread_affinity(&allowed).expect("unpin");
}

criterion_group!(benches, submit_to_round_trip);
criterion_main!(benches);
