//! Point-read latency on one core while a big compaction runs on the same
//! core, with the compaction in the low-share background task queue
//! (`Options::background_shares`, the default) and in the default queue
//! beside the readers (`background_shares: None`).
//!
//! Each round loads a fresh partition (one copy of every key in the bottom
//! level, an overwrite of every key in L0, all blocks cached), measures
//! reads alone, then starts `compact_range` (merging both copies) and
//! measures reads until it ends. Readers are closed-loop tasks in the
//! default queue; a read's latency runs from the moment the reader is
//! ready to issue it (before it yields to the scheduler) to the value, so
//! it includes the wait for the core. Modes alternate round by round; the
//! summary gives the median of the rounds.
//!
//! Besides the latencies, each round prints the CPU share the core's
//! thread got from the OS during the busy phase (low on a loaded machine:
//! then every figure includes time the thread was not running), the
//! polls past the stall threshold, and the time the scheduler charged the
//! background queue and the default queue.
//!
//! `cargo bench -p frys-storage --bench read_latency_under_compaction -- [rounds] [keys]`

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use frys_runtime::{self as rt, Cores, Runtime};
use frys_storage::{Db, Options, BACKGROUND_QUEUE};

const READERS: usize = 4;
const VALUE_LEN: usize = 100;
const IDLE_READS: usize = 200_000;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    LowShareQueue,
    DefaultQueue,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::LowShareQueue => "background queue (10 shares)",
            Mode::DefaultQueue => "default queue (no shares)",
        }
    }
    fn background_shares(self) -> Option<u32> {
        match self {
            Mode::LowShareQueue => Options::default().background_shares,
            Mode::DefaultQueue => None,
        }
    }
}

/// Figures of one round.
struct Round {
    idle: Percentiles,
    busy: Percentiles,
    busy_reads_per_sec: f64,
    compaction: Duration,
    /// CPU time the core's thread got during the busy phase / its wall
    /// time: below ~0.9 the OS ran other work on this CPU (a loaded
    /// machine) and the latencies include that.
    cpu_share: f64,
    /// Polls past the stall threshold (25 ms) during the busy phase.
    stalls: u64,
    /// Time the scheduler charged the background queue / the readers'
    /// (default) queue during the busy phase; with background work in
    /// the default queue the two are not told apart (all is "readers").
    background_time: Duration,
    reader_time: Duration,
}

/// CPU time of the calling thread.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// (stalls, time charged per queue name) of core 0.
fn core_figures(rt: &Runtime) -> (u64, Vec<(String, Duration)>) {
    let stats = rt.stats().swap_remove(0);
    let queues = stats
        .queues
        .iter()
        .map(|q| (q.name.clone(), q.runtime))
        .collect();
    (stats.stalls, queues)
}

fn charged(queues: &[(String, Duration)], name: &str) -> Duration {
    queues
        .iter()
        .find(|(n, _)| n == name)
        .map_or(Duration::ZERO, |(_, d)| *d)
}

#[derive(Clone, Copy)]
struct Percentiles {
    p50: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
}

fn percentiles(mut ns: Vec<u64>) -> Percentiles {
    ns.sort_unstable();
    let at = |q: f64| {
        let i = ((ns.len() as f64 * q) as usize).min(ns.len().saturating_sub(1));
        Duration::from_nanos(ns.get(i).copied().unwrap_or(0))
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
        max: at(1.0),
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("user:{i:012}").into_bytes()
}

/// xorshift64*.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Runs `READERS` closed-loop readers until `stop()` (or `limit` reads);
/// returns every read's latency in nanoseconds.
async fn read_until(db: &Db, keys: u64, limit: usize, stop: Rc<dyn Fn() -> bool>) -> Vec<u64> {
    let latencies = Rc::new(RefCell::new(Vec::with_capacity(limit.min(1 << 22))));
    let count = Rc::new(Cell::new(0usize));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (db, latencies, count, stop) =
                (db.clone(), latencies.clone(), count.clone(), stop.clone());
            rt::spawn_local(async move {
                let mut seed = 0x9e37_79b9_7f4a_7c15 ^ (r as u64 + 1);
                while !stop() && count.get() < limit {
                    let k = key(next(&mut seed) % keys);
                    let start = Instant::now();
                    rt::yield_now().await;
                    let value = db.get(&k).await.expect("read");
                    assert!(value.is_some_and(|v| v.len() == VALUE_LEN));
                    latencies
                        .borrow_mut()
                        .push(start.elapsed().as_nanos() as u64);
                    count.set(count.get() + 1);
                }
            })
        })
        .collect();
    for r in readers {
        r.await.expect("reader");
    }
    Rc::try_unwrap(latencies).map_or_else(|l| l.borrow().clone(), RefCell::into_inner)
}

fn round(mode: Mode, keys: u64) -> Round {
    let dir = std::env::temp_dir().join(format!(
        "frys-bench-read-latency-{}-{}",
        std::process::id(),
        mode as u8
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let rt = Runtime::builder()
        .cores(Cores::Count(1))
        .build()
        .expect("runtime");
    let round = rt.block_on(async {
        let opts = Options {
            memtable_bytes: 4 << 20,
            block_cache_bytes: 512 << 20,
            // Keep the automatic policy from merging L0 before we do.
            level_base_bytes: 4 << 30,
            background_shares: mode.background_shares(),
            ..Options::default()
        };
        let db = Db::open(&dir, opts).await.expect("open");
        let mut value = vec![0u8; VALUE_LEN];
        for copy in 0..2u8 {
            for i in 0..keys {
                value[0] = copy;
                value[1..9].copy_from_slice(&i.to_le_bytes());
                db.put(&key(i), &value).await.expect("put");
            }
            if copy == 0 {
                db.compact_range().await.expect("first compaction");
            } else {
                db.flush().await.expect("flush");
            }
        }
        // Warm the block cache over both copies.
        for i in 0..keys {
            db.get(&key(i)).await.expect("warm");
        }
        let idle = percentiles(read_until(&db, keys, IDLE_READS, Rc::new(|| false)).await);
        let compacting = Rc::new(Cell::new(true));
        let compaction = {
            let (db, compacting) = (db.clone(), compacting.clone());
            rt::spawn_local(async move {
                let start = Instant::now();
                db.compact_range().await.expect("big compaction");
                compacting.set(false);
                start.elapsed()
            })
        };
        let started = Instant::now();
        let cpu_before = thread_cpu_time();
        let (stalls_before, queues_before) = core_figures(&rt);
        let flag = compacting.clone();
        let busy = read_until(&db, keys, usize::MAX, Rc::new(move || !flag.get())).await;
        let read_time = started.elapsed();
        let cpu = thread_cpu_time() - cpu_before;
        let (stalls_after, queues_after) = core_figures(&rt);
        let compaction = compaction.await.expect("compaction task");
        db.close().await.expect("close");
        let delta = |name: &str| charged(&queues_after, name) - charged(&queues_before, name);
        Round {
            busy_reads_per_sec: busy.len() as f64 / read_time.as_secs_f64(),
            idle,
            busy: percentiles(busy),
            compaction,
            cpu_share: cpu.as_secs_f64() / read_time.as_secs_f64(),
            stalls: stalls_after - stalls_before,
            background_time: delta(BACKGROUND_QUEUE),
            reader_time: delta("default"),
        }
    });
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
    round
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn median<T: Copy>(mut v: Vec<T>, key: impl Fn(&T) -> f64) -> T {
    v.sort_by(|a, b| key(a).total_cmp(&key(b)));
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; positional numbers are ours.
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(3).max(1) as usize;
    let keys = args.get(1).copied().unwrap_or(200_000).max(1000);
    println!(
        "read latency under compaction: 1 core, {READERS} readers, {keys} keys x {VALUE_LEN} B, \
         compact_range over 2 copies, {rounds} rounds per mode (alternating)"
    );
    println!(
        "{:<30} {:>5} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>12} {:>5} {:>6} {:>15}",
        "mode",
        "round",
        "idle p50",
        "idle p99",
        "busy p50",
        "busy p99",
        "busy p99.9",
        "busy max",
        "reads/s",
        "compaction",
        "cpu",
        "stalls",
        "bg/default ms"
    );
    let modes = [Mode::LowShareQueue, Mode::DefaultQueue];
    let mut results: Vec<(Mode, Round)> = Vec::new();
    for r in 0..rounds {
        for &mode in &modes {
            let f = round(mode, keys);
            println!(
                "{:<30} {:>5} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10.0} {:>10.2} s {:>4.0}% {:>6} {:>7.0}/{:<7.0}",
                mode.name(),
                r + 1,
                us(f.idle.p50),
                us(f.idle.p99),
                us(f.busy.p50),
                us(f.busy.p99),
                us(f.busy.p999),
                us(f.busy.max),
                f.busy_reads_per_sec,
                f.compaction.as_secs_f64(),
                f.cpu_share * 100.0,
                f.stalls,
                f.background_time.as_secs_f64() * 1e3,
                f.reader_time.as_secs_f64() * 1e3,
            );
            results.push((mode, f));
        }
    }
    println!("median of {rounds} rounds (latencies in µs):");
    for &mode in &modes {
        let of = |pick: &dyn Fn(&Round) -> f64| {
            median(
                results
                    .iter()
                    .filter(|(m, _)| *m == mode)
                    .map(|(_, r)| pick(r))
                    .collect(),
                |x| *x,
            )
        };
        println!(
            "{:<30} busy p50 {:>8.1}  busy p99 {:>8.1}  busy p99.9 {:>8.1}  idle p99 {:>6.1}  reads/s {:>8.0}  compaction {:>6.2} s",
            mode.name(),
            of(&|r| r.busy.p50.as_secs_f64() * 1e6),
            of(&|r| r.busy.p99.as_secs_f64() * 1e6),
            of(&|r| r.busy.p999.as_secs_f64() * 1e6),
            of(&|r| r.idle.p99.as_secs_f64() * 1e6),
            of(&|r| r.busy_reads_per_sec),
            of(&|r| r.compaction.as_secs_f64()),
        );
    }
}
