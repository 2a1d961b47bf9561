//! A LevelDB `db_bench`-style comparison of frys-storage with fjall 3 (and,
//! with the `rocksdb` feature, RocksDB built from the `rocksdb` crate's
//! bundled sources) in one run.
//!
//! ```text
//! cargo run --release -p frys-benches [--features rocksdb] --bin db_bench -- \
//!     --benchmarks fillrandom,overwrite,readrandom,readzipf,readwhilewriting,seekrandom,fillsync16 \
//!     --num 10000000 --cache-mb 64 --value-size 100 --dir DIR [--reads N] \
//!     [--frys-tasks 16] [--readers 1] [--scan-len 10] [--sync-num 50000] [--seed 1]
//! ```
//!
//! Every engine runs the same key orders and values (see `workload.rs`) in
//! its own subdirectory of `--dir`; for each benchmark the engines run one
//! after another (the first engine rotates from one benchmark to the next,
//! so no engine always runs first), then the ratios are printed. Options
//! are mirrored: block cache `--cache-mb`, 8 MiB memtable, 4 KiB blocks,
//! lz4, 10 bloom bits per key, 8 MiB tables, leveled compaction (L0 trigger
//! 4, level ratio 10; RocksDB and frys: 64 MiB L1). Durability is the same
//! for all: the WAL is on and written to the OS on every write, nothing is
//! fsync'ed per write (frys `SyncPolicy::No`, fjall's default automatic
//! journal flush, RocksDB `sync=false, disable_wal=false`), except in
//! `fillsync16`: 16 concurrent writers, each write durable before it
//! returns (frys `SyncPolicy::Always` with 16 tasks on its one core and
//! group commit; RocksDB `sync=true` from 16 threads; fjall `insert` +
//! `persist(SyncData)` from 16 threads).
//!
//! Benchmarks: `fillseq`, `fillrandom` (a permutation of `--num` keys),
//! `overwrite` (`--num` uniform writes), `readrandom` (`--reads` uniform
//! gets), `readzipf` (`--reads` gets of a scrambled zipfian, θ 0.99: a hot
//! set), `readseq`, `seekrandom` (`--reads` seeks, each reading
//! `--scan-len` entries), `readwhilewriting` (one writer overwriting at
//! full speed while `--readers` readers do `--reads` gets; the readers are
//! measured), `fillsync16` (`--sync-num` distinct keys from 16 writers).
//!
//! Result lines: `<engine> <benchmark> <ops/s> ops/s <MB/s> MB/s`, with
//! MB = 2^20 bytes of key + value, as db_bench, then `latency_us` (p50,
//! p99, p99.9, max of each operation, measured around each call the same
//! way for every engine). Lines starting with `#` are details. After each
//! write benchmark (untimed) every engine flushes and waits for its
//! background compactions, so the next engine runs alone; write
//! amplification is the `/proc/self/io` `write_bytes` delta from the start
//! of the benchmark to the end of that wait, over the user bytes written;
//! `space_amp` is the directory's allocated size then over the live user
//! bytes, and after a fill also after a full compaction. Write stops:
//! `write_stalls` is what the engine reports of itself (fjall reports
//! none), `slow_writes` what the harness saw for every engine: the writes
//! that took at least 10 ms, their total time and the longest.

mod fjall_engine;
mod frys_engine;
mod latency;
#[cfg(feature = "rocksdb")]
mod rocksdb_engine;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use fjall_engine::FjallEngine;
use frys_engine::FrysEngine;
use frys_storage::SyncPolicy;
use latency::{Latencies, Summary};
#[cfg(feature = "rocksdb")]
use rocksdb_engine::RocksEngine;
use workload::{Values, KEY_LEN};

pub type BenchError = Box<dyn std::error::Error>;

const BENCHMARKS: [&str; 9] = [
    "fillseq",
    "fillrandom",
    "overwrite",
    "readrandom",
    "readzipf",
    "readseq",
    "seekrandom",
    "readwhilewriting",
    "fillsync16",
];

/// Writers of `fillsync16`.
const SYNC_WRITERS: usize = 16;

const USAGE: &str = "usage: db_bench [--benchmarks fillseq,fillrandom,overwrite,readrandom,readzipf,readseq,seekrandom,readwhilewriting,fillsync16] \
[--num 1000000] [--reads NUM] [--value-size 100] [--cache-mb 64] [--dir DIR] \
[--frys-tasks 16 (0: no concurrent frys line)] [--readers 1] [--scan-len 10] [--sync-num 50000] [--seed 1] \
[--json PATH] [--round 1]";

/// What a full scan saw.
#[derive(Default, Debug, Clone, Copy)]
pub struct ReadSeq {
    pub entries: u64,
    pub bytes: u64,
}

/// What `readwhilewriting` saw.
#[derive(Default, Debug)]
pub struct ReadWhileWriting {
    /// Gets that found their key.
    pub found: u64,
    /// Every get's latency.
    pub reads: Latencies,
    /// Wall time from the readers' start to the last reader's end.
    pub read_secs: f64,
    /// Every write's latency, while the readers ran.
    pub writes: Latencies,
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("db_bench: {msg}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("db_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- arguments

struct Args {
    benchmarks: Vec<String>,
    num: u64,
    /// Operations of the read benchmarks (default `num`).
    reads: u64,
    value_size: usize,
    /// Block cache of every engine, bytes.
    cache_bytes: usize,
    dir: PathBuf,
    frys_tasks: usize,
    /// Reader threads (frys: tasks) of `readwhilewriting`.
    readers: usize,
    /// Entries each `seekrandom` seek reads.
    scan_len: usize,
    /// Keys `fillsync16` writes.
    sync_num: u64,
    seed: u64,
    /// `--json PATH`: also write every result as a `BenchOutput`.
    json: Option<PathBuf>,
    /// `--round N`: the round number recorded in the JSON.
    round: usize,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
        v.parse()
            .map_err(|_| format!("{flag}: not a valid number: {v}"))
    }
    let mut a = Args {
        benchmarks: BENCHMARKS.iter().map(|s| s.to_string()).collect(),
        num: 1_000_000,
        reads: 0,
        value_size: 100,
        cache_bytes: 64 << 20,
        dir: std::env::temp_dir().join("frys_db_bench"),
        frys_tasks: 16,
        readers: 1,
        scan_len: 10,
        sync_num: 0,
        seed: 1,
        json: None,
        round: 1,
    };
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let v = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--benchmarks" => a.benchmarks = v.split(',').map(str::to_string).collect(),
            "--num" => a.num = num(&flag, &v)?,
            "--reads" => a.reads = num(&flag, &v)?,
            "--value-size" => a.value_size = num(&flag, &v)?,
            "--cache-mb" => a.cache_bytes = num::<usize>(&flag, &v)? << 20,
            "--dir" => a.dir = PathBuf::from(v),
            "--frys-tasks" => a.frys_tasks = num(&flag, &v)?,
            "--readers" => a.readers = num(&flag, &v)?,
            "--scan-len" => a.scan_len = num(&flag, &v)?,
            "--sync-num" => a.sync_num = num(&flag, &v)?,
            "--seed" => a.seed = num(&flag, &v)?,
            "--json" => a.json = Some(PathBuf::from(v)),
            "--round" => a.round = num(&flag, &v)?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if let Some(b) = a
        .benchmarks
        .iter()
        .find(|b| !BENCHMARKS.contains(&b.as_str()))
    {
        return Err(format!(
            "unknown benchmark {b}; known: {}",
            BENCHMARKS.join(",")
        ));
    }
    if a.num == 0 {
        return Err("--num must be > 0".into());
    }
    if a.reads == 0 {
        a.reads = a.num;
    }
    if a.sync_num == 0 {
        a.sync_num = a.num.min(50_000);
    }
    a.sync_num = a.sync_num.min(a.num);
    if a.readers == 0 || a.scan_len == 0 || a.cache_bytes == 0 {
        return Err("--readers, --scan-len and --cache-mb must be > 0".into());
    }
    Ok(a)
}

// ---------------------------------------------------------------- engines

enum Engine {
    Frys(FrysEngine),
    Fjall(FjallEngine),
    #[cfg(feature = "rocksdb")]
    Rocks(RocksEngine),
}

impl Engine {
    fn name(&self) -> String {
        match self {
            Engine::Frys(f) if f.tasks > 1 => format!("frys({} tasks)", f.tasks),
            Engine::Frys(_) => "frys".into(),
            Engine::Fjall(_) => "fjall".into(),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(_) => "rocksdb".into(),
        }
    }

    fn is_frys(&self) -> bool {
        matches!(self, Engine::Frys(_))
    }

    /// A new empty database. `synced`: frys opens with
    /// `SyncPolicy::Always` (the peers choose per write).
    async fn open_fresh(&mut self, synced: bool) -> Result<(), BenchError> {
        match self {
            Engine::Frys(e) => {
                let sync = if synced {
                    SyncPolicy::Always
                } else {
                    SyncPolicy::No
                };
                e.open_fresh(sync).await
            }
            Engine::Fjall(e) => e.open_fresh(),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.open_fresh(),
        }
    }

    async fn write(
        &self,
        order: &Rc<Vec<u64>>,
        values: &Rc<Values>,
    ) -> Result<Latencies, BenchError> {
        match self {
            Engine::Frys(e) => e.write(order, values, e.tasks).await,
            Engine::Fjall(e) => e.write(order, values),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.write(order, values),
        }
    }

    /// `writers` concurrent writers, every write durable when it returns.
    async fn write_synced(
        &self,
        order: &Rc<Vec<u64>>,
        values: &Rc<Values>,
        writers: usize,
    ) -> Result<Latencies, BenchError> {
        match self {
            Engine::Frys(e) => e.write(order, values, writers).await,
            Engine::Fjall(e) => e.write_synced(order, values, writers),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.write_synced(order, values, writers),
        }
    }

    async fn read_random(&self, order: &Rc<Vec<u64>>) -> Result<(u64, Latencies), BenchError> {
        match self {
            Engine::Frys(e) => e.read_random(order).await,
            Engine::Fjall(e) => e.read_random(order),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.read_random(order),
        }
    }

    async fn seek_random(
        &self,
        order: &Rc<Vec<u64>>,
        len: usize,
    ) -> Result<(u64, Latencies), BenchError> {
        match self {
            Engine::Frys(e) => e.seek_random(order, len).await,
            Engine::Fjall(e) => e.seek_random(order, len),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.seek_random(order, len),
        }
    }

    async fn read_while_writing(
        &self,
        reads: &Rc<Vec<u64>>,
        writes: &Rc<Vec<u64>>,
        values: &Rc<Values>,
        readers: usize,
    ) -> Result<ReadWhileWriting, BenchError> {
        match self {
            Engine::Frys(e) => {
                e.read_while_writing(reads, writes, values, readers.max(e.tasks))
                    .await
            }
            Engine::Fjall(e) => e.read_while_writing(reads, writes, values, readers),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.read_while_writing(reads, writes, values, readers),
        }
    }

    async fn read_seq(&self) -> Result<ReadSeq, BenchError> {
        match self {
            Engine::Frys(e) => e.read_seq().await,
            Engine::Fjall(e) => e.read_seq(),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.read_seq(),
        }
    }

    async fn settle(&self) -> Result<(), BenchError> {
        match self {
            Engine::Frys(e) => e.settle().await,
            Engine::Fjall(e) => e.settle(),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.settle(),
        }
    }

    async fn compact(&self) -> Result<(), BenchError> {
        match self {
            Engine::Frys(e) => e.compact().await,
            Engine::Fjall(e) => e.compact(),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.compact(),
        }
    }

    /// What the engine reports of its write stalls so far, one line.
    fn stall_line(&self) -> String {
        match self {
            Engine::Frys(e) => e.stall_line(),
            Engine::Fjall(_) => "not reported by fjall (see slow_writes)".to_string(),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.stall_line(),
        }
    }

    fn metrics_line(&self) -> String {
        match self {
            Engine::Frys(e) => e.metrics_line(),
            Engine::Fjall(e) => e.metrics_line(),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.metrics_line(),
        }
    }

    async fn close(&mut self) -> Result<(), BenchError> {
        match self {
            Engine::Frys(e) => e.close().await,
            Engine::Fjall(e) => e.close(),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => {
                e.close();
                Ok(())
            }
        }
    }
}

fn engines(args: &Args) -> Vec<Engine> {
    let cache = args.cache_bytes;
    let mut v = vec![
        Engine::Frys(FrysEngine::new(&args.dir.join("frys"), 1, cache)),
        Engine::Fjall(FjallEngine::new(&args.dir.join("fjall"), cache as u64)),
    ];
    #[cfg(feature = "rocksdb")]
    v.push(Engine::Rocks(RocksEngine::new(
        &args.dir.join("rocksdb"),
        cache,
    )));
    if args.frys_tasks > 1 {
        let dir = args.dir.join(format!("frys_{}tasks", args.frys_tasks));
        v.push(Engine::Frys(FrysEngine::new(&dir, args.frys_tasks, cache)));
    }
    v
}

// ---------------------------------------------------------------- the run

/// One engine's result of one benchmark.
struct Outcome {
    ops_per_sec: f64,
    latency: Summary,
}

fn run(args: &Args) -> Result<(), BenchError> {
    let entry = (KEY_LEN + args.value_size) as u64;
    println!(
        "# num={} reads={} value_size={} key_size={KEY_LEN} keys=zero-padded decimal values=~50% compressible (db_bench generator) seed={}",
        args.num, args.reads, args.value_size, args.seed
    );
    println!("# durability: WAL on, written to the OS per write, no fsync per write (frys SyncPolicy::No, fjall auto journal flush, rocksdb sync=false); fillsync16: every write synced");
    println!(
        "# options of every engine: {} MiB block cache, 8 MiB memtable, 4 KiB blocks, lz4, bloom 10 bits/key, 8 MiB tables, leveled (L0 trigger 4, ratio 10); frys: 1 runtime core, other options default",
        args.cache_bytes >> 20
    );
    println!("# frys = one caller awaiting each op; frys(N tasks) = N spawn_local tasks on the same core sharing the op sequence; peers: one caller thread (readwhilewriting: 1 writer + --readers threads; fillsync16: 16 threads)");
    let rt = frys::Runtime::builder()
        .cores(frys::Cores::Count(1))
        .build()?;
    let mut output = frys_benches::results::BenchOutput::default();
    let result = rt.block_on(async {
        let values = Rc::new(Values::new(args.value_size, args.seed));
        let mut engines = engines(args);
        let mut filled = vec![false; engines.len()];
        for (b, bench) in args.benchmarks.iter().enumerate() {
            let order = Rc::new(workload::order(
                bench,
                args.num,
                args.reads,
                args.sync_num,
                args.seed,
            ));
            let mut rates = Vec::new();
            // Rotate who goes first.
            let n = engines.len();
            for k in 0..n {
                let at = (b + k) % n;
                let e = &mut engines[at];
                let is_fill = bench.starts_with("fill");
                if is_fill {
                    e.open_fresh(bench == "fillsync16").await?;
                } else if !filled[at] {
                    println!(
                        "# {}: no full fill ran before {bench}; loading with an untimed fillseq",
                        e.name()
                    );
                    e.open_fresh(false).await?;
                    e.write(
                        &Rc::new(workload::order("fillseq", args.num, 0, 0, args.seed)),
                        &values,
                    )
                    .await?;
                    e.settle().await?;
                }
                // fillsync16 leaves only `sync_num` keys (and a synced db).
                filled[at] = bench != "fillsync16";
                let cpu_before = process_cpu_us();
                let out = run_one(e, bench, &order, &values, args, entry).await?;
                let cpu_us = process_cpu_us() - cpu_before;
                output.rounds.push(frys_benches::results::Round {
                    bench: "storage".into(),
                    case: bench.clone(),
                    system: e.name(),
                    cores: 1,
                    round: args.round,
                    ops_per_sec: out.ops_per_sec,
                    p50_us: Some(out.latency.p50_us).filter(|v| v.is_finite()),
                    p99_us: Some(out.latency.p99_us).filter(|v| v.is_finite()),
                    cpu_us_per_req: (out.latency.ops > 0 && bench != "readseq")
                        .then(|| cpu_us / out.latency.ops as f64),
                });
                rates.push((e.name(), e.is_frys(), out.ops_per_sec));
            }
            print_ratios(bench, &rates);
        }
        for e in &mut engines {
            e.close().await?;
        }
        Ok::<(), BenchError>(())
    });
    if let Some(path) = &args.json {
        output.write(path)?;
    }
    result
}

/// `frys/<peer>` for every frys line and peer, then `frys/best-peer`.
fn print_ratios(bench: &str, rates: &[(String, bool, f64)]) {
    let best = rates
        .iter()
        .filter(|r| !r.1)
        .max_by(|a, b| a.2.total_cmp(&b.2));
    for (frys_name, _, frys_rate) in rates.iter().filter(|r| r.1) {
        for (peer, _, peer_rate) in rates.iter().filter(|r| !r.1) {
            println!("{frys_name}/{peer} {bench} {:.2}", frys_rate / peer_rate);
        }
        if let Some((peer, _, peer_rate)) = best {
            println!(
                "{frys_name}/best-peer({peer}) {bench} {:.2}",
                frys_rate / peer_rate
            );
        }
    }
}

/// The CPU time (user + system) of the whole process so far, µs: the
/// engines' background threads included.
fn process_cpu_us() -> f64 {
    // SAFETY: `libc::rusage` is plain old data, for which all-zero bytes are
    // a valid value; `getrusage` writes one through the pointer to our
    // live, exclusively borrowed local and keeps no reference to it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return f64::NAN;
        }
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

fn latency_line(name: &str, bench: &str, what: &str, s: &Summary) {
    println!(
        "{name} {bench} {what} p50 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
        s.p50_us, s.p99_us, s.p999_us, s.max_us
    );
}

/// Runs one benchmark on one engine, prints its lines.
async fn run_one(
    e: &Engine,
    bench: &str,
    order: &Rc<Vec<u64>>,
    values: &Rc<Values>,
    args: &Args,
    entry: u64,
) -> Result<Outcome, BenchError> {
    let name = e.name();
    let io_before = proc_io()?;
    let start = Instant::now();
    // (ops, bytes, latencies of the measured ops, latencies of writes)
    let (ops, bytes, lat, writes) = match bench {
        "readrandom" | "readzipf" => {
            let (found, lat) = e.read_random(order).await?;
            println!("# {name} {bench} found {found} of {}", order.len());
            let ops = order.len() as u64;
            (ops, ops * entry, lat, None)
        }
        "seekrandom" => {
            let (seen, lat) = e.seek_random(order, args.scan_len).await?;
            println!(
                "# {name} seekrandom: {} seeks, each reading up to {} entries, saw {seen}",
                order.len(),
                args.scan_len
            );
            (order.len() as u64, seen * entry, lat, None)
        }
        "readseq" => {
            let seen = e.read_seq().await?;
            println!("# {name} readseq saw {} entries", seen.entries);
            (seen.entries, seen.bytes, Latencies::default(), None)
        }
        "readwhilewriting" => {
            let writes = Rc::new(workload::order(
                "overwrite",
                args.num,
                0,
                0,
                args.seed ^ 0x5757,
            ));
            let r = e
                .read_while_writing(order, &writes, values, args.readers)
                .await?;
            let ops = order.len() as u64;
            let wrote = r.writes.len();
            println!(
                "# {name} readwhilewriting found {} of {ops}; the writer wrote {wrote} ({:.0} writes/s) while the readers ran {:.2} s",
                r.found,
                wrote as f64 / r.read_secs,
                r.read_secs
            );
            // The readers' own span: the timer below also covers the
            // writer's last write.
            let rate = ops as f64 / r.read_secs;
            println!(
                "{name} readwhilewriting {rate:.0} ops/s {:.1} MB/s (readers)",
                (ops * entry) as f64 / r.read_secs / (1 << 20) as f64
            );
            let lat = r.reads.summary();
            latency_line(&name, bench, "latency_us", &lat);
            println!(
                "{name} readwhilewriting writer {:.0} ops/s",
                wrote as f64 / r.read_secs
            );
            let written = wrote as u64 * entry;
            write_tail(e, bench, r.writes, written, args, io_before).await?;
            return Ok(Outcome {
                ops_per_sec: rate,
                latency: lat,
            });
        }
        "fillsync16" => {
            let lat = e.write_synced(order, values, SYNC_WRITERS).await?;
            let ops = order.len() as u64;
            (ops, ops * entry, Latencies::default(), Some(lat))
        }
        _ => {
            let lat = e.write(order, values).await?;
            let ops = order.len() as u64;
            (ops, ops * entry, Latencies::default(), Some(lat))
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let rate = ops as f64 / secs;
    println!(
        "{name} {bench} {rate:.0} ops/s {:.1} MB/s",
        bytes as f64 / secs / (1 << 20) as f64
    );
    let Some(writes) = writes else {
        let lat = lat.summary();
        if lat.ops > 0 {
            latency_line(&name, bench, "latency_us", &lat);
        }
        println!("# {name} after {bench}: {}", e.metrics_line());
        return Ok(Outcome {
            ops_per_sec: rate,
            latency: lat,
        });
    };
    let lat = write_tail(e, bench, writes, ops * entry, args, io_before).await?;
    Ok(Outcome {
        ops_per_sec: rate,
        latency: lat,
    })
}

/// After a write benchmark: latencies, slow writes, settles, then write
/// amplification, stalls and space amplification. Returns the writes'
/// latency summary.
async fn write_tail(
    e: &Engine,
    bench: &str,
    writes: Latencies,
    user_bytes: u64,
    args: &Args,
    io_before: ProcIo,
) -> Result<Summary, BenchError> {
    let name = e.name();
    let lat = writes.summary();
    let what = if bench == "readwhilewriting" {
        "writer_latency_us"
    } else {
        "latency_us"
    };
    latency_line(&name, bench, what, &lat);
    println!(
        "{name} {bench} slow_writes {} took >= {} ms, {:.3} s in total, longest {:.1} ms",
        lat.stalled_ops,
        latency::STALL.as_millis(),
        lat.stalled_secs,
        lat.max_us / 1e3
    );
    let settle_start = Instant::now();
    e.settle().await?;
    let settle = settle_start.elapsed().as_secs_f64();
    let io_after = proc_io()?;
    let written = io_after.write_bytes - io_before.write_bytes;
    let cancelled = io_after.cancelled_write_bytes - io_before.cancelled_write_bytes;
    println!(
        "{name} {bench} write_amp {:.2} (write_bytes {written} / user bytes {user_bytes}; {:.2} net of cancelled_write_bytes {cancelled})",
        written as f64 / user_bytes as f64,
        written.saturating_sub(cancelled) as f64 / user_bytes as f64,
    );
    println!("# {name} {bench} flush+compaction wait after the timed loop {settle:.2} s");
    println!("# {name} after {bench}: {}", e.metrics_line());
    println!("{name} {bench} write_stalls {}", e.stall_line());
    let entry = (KEY_LEN + args.value_size) as u64;
    let live = if bench == "fillsync16" {
        args.sync_num
    } else {
        args.num
    } * entry;
    let size = dir_size(&dir_of(e, args))?;
    println!(
        "{name} {bench} space_amp {:.3} (dir {size} bytes allocated / live user bytes {live}; {:.1}x the block cache)",
        size as f64 / live as f64,
        size as f64 / args.cache_bytes as f64
    );
    if bench.starts_with("fill") {
        let compact_start = Instant::now();
        e.compact().await?;
        let size = dir_size(&dir_of(e, args))?;
        println!(
            "{name} {bench} space_amp_compacted {:.3} (dir {size} bytes allocated / live user bytes {live}; full compaction {:.2} s)",
            size as f64 / live as f64,
            compact_start.elapsed().as_secs_f64()
        );
        println!("# {name} after compaction: {}", e.metrics_line());
    }
    Ok(lat)
}

fn dir_of(e: &Engine, args: &Args) -> PathBuf {
    match e {
        Engine::Frys(f) if f.tasks > 1 => args.dir.join(format!("frys_{}tasks", f.tasks)),
        Engine::Frys(_) => args.dir.join("frys"),
        Engine::Fjall(_) => args.dir.join("fjall"),
        #[cfg(feature = "rocksdb")]
        Engine::Rocks(_) => args.dir.join("rocksdb"),
    }
}

// ---------------------------------------------------------------- helpers

/// Bytes this process sent (or will send) to the block layer, all threads.
struct ProcIo {
    write_bytes: u64,
    cancelled_write_bytes: u64,
}

fn proc_io() -> Result<ProcIo, BenchError> {
    let text = std::fs::read_to_string("/proc/self/io")?;
    let field = |name: &str| -> Result<u64, BenchError> {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)?
                    .strip_prefix(": ")?
                    .trim()
                    .parse()
                    .ok()
            })
            .ok_or_else(|| format!("/proc/self/io has no {name}").into())
    };
    Ok(ProcIo {
        write_bytes: field("write_bytes")?,
        cancelled_write_bytes: field("cancelled_write_bytes")?,
    })
}

/// Bytes allocated on disk to every file under `dir`. Allocated, not
/// apparent: fjall's journal is a sparse 32 MiB preallocation.
fn dir_size(dir: &Path) -> Result<u64, BenchError> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.blocks() * 512
        };
    }
    Ok(total)
}

pub fn remove_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
