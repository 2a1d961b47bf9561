//! 64 small (64-byte) allocations: in the core's bump arena
//! (`frys::arena::with`) vs one `Box::new` each, inside one `block_on`.
//!
//! Both keep the 64 objects alive until the batch ends, as the arena does
//! (it frees them all at the end of the scheduler tick). The arena variant
//! yields every `CHUNK` batches so the core resets the arena; the yield is
//! outside the timed section.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const OBJECTS: usize = 64;
/// Batches between arena resets (256 x 64 x 64 B = 1 MiB of arena).
const CHUNK: u64 = 256;

#[derive(Clone, Copy)]
#[allow(dead_code)] // Only its size matters.
struct Small([u64; 8]);

impl Small {
    fn new(i: usize) -> Small {
        Small([i as u64; 8])
    }
}

fn arena_vs_box(c: &mut Criterion) {
    assert_eq!(std::mem::size_of::<Small>(), 64);
    let mut group = c.benchmark_group("arena_vs_box");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(OBJECTS as u64));

    let rt = frys::Runtime::builder()
        .cores(frys::Cores::Count(1))
        .build()
        .expect("frys runtime");
    group.bench_function("frys_arena_64x64B", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let mut elapsed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = CHUNK.min(iters - done);
                    let start = Instant::now();
                    for _ in 0..n {
                        frys::arena::with(|bump| {
                            for i in 0..OBJECTS {
                                black_box(bump.alloc(Small::new(black_box(i))));
                            }
                        });
                    }
                    elapsed += start.elapsed();
                    done += n;
                    // A new tick: the core resets the arena.
                    frys::yield_now().await;
                }
                elapsed
            })
        })
    });

    group.bench_function("box_64x64B", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let mut live: Vec<Box<Small>> = Vec::with_capacity(OBJECTS);
                let start = Instant::now();
                for _ in 0..iters {
                    for i in 0..OBJECTS {
                        live.push(black_box(Box::new(Small::new(black_box(i)))));
                    }
                    black_box(&live);
                    live.clear();
                }
                start.elapsed()
            })
        })
    });
    drop(rt);
    group.finish();
}

criterion_group!(benches, arena_vs_box);
criterion_main!(benches);
