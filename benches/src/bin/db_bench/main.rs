//! A LevelDB `db_bench`-style comparison of frys-storage with fjall (and,
//! with the `rocksdb` feature, RocksDB) in one run.
//!
//! ```text
//! cargo run --release -p frys-benches --bin db_bench -- \
//!     --benchmarks fillseq,fillrandom,overwrite,readrandom,readseq \
//!     --num 1000000 --value-size 100 --dir DIR [--frys-tasks 16] [--seed 1]
//! ```
//!
//! Every engine runs the same key orders and values (see `workload.rs`) in
//! its own subdirectory of `--dir`; for each benchmark the engines run one
//! after another, then the ratios are printed. Durability is the same for
//! all: the WAL is on and written to the OS on every write, nothing is
//! fsync'ed per write (frys `SyncPolicy::No`, fjall's default automatic
//! journal flush, RocksDB `sync=false, disable_wal=false`).
//!
//! Result lines: `<engine> <benchmark> <ops/s> ops/s <MB/s> MB/s`, with
//! MB = 2^20 bytes of key + value, as db_bench. Lines starting with `#` are
//! details. After each write benchmark (untimed) every engine flushes and
//! waits for its background compactions, so the next engine runs alone;
//! write amplification is the `/proc/self/io` `write_bytes` delta from the
//! start of the benchmark to the end of that wait, over the user bytes
//! written. After the fills, space amplification is the directory size
//! after a full compaction over `num * (16 + value_size)`.

mod fjall_engine;
mod frys_engine;
#[cfg(feature = "rocksdb")]
mod rocksdb_engine;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use fjall_engine::FjallEngine;
use frys_engine::FrysEngine;
#[cfg(feature = "rocksdb")]
use rocksdb_engine::RocksEngine;
use workload::{Values, KEY_LEN};

pub type BenchError = Box<dyn std::error::Error>;

const BENCHMARKS: [&str; 5] = [
    "fillseq",
    "fillrandom",
    "overwrite",
    "readrandom",
    "readseq",
];

const USAGE: &str = "usage: db_bench [--benchmarks fillseq,fillrandom,overwrite,readrandom,readseq] \
[--num 1000000] [--value-size 100] [--dir DIR] [--frys-tasks 16 (0: no concurrent frys line)] [--seed 1] \
[--json PATH] [--round 1]";

/// What a full scan saw.
#[derive(Default, Debug, Clone, Copy)]
pub struct ReadSeq {
    pub entries: u64,
    pub bytes: u64,
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
    value_size: usize,
    dir: PathBuf,
    frys_tasks: usize,
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
        value_size: 100,
        dir: std::env::temp_dir().join("frys_db_bench"),
        frys_tasks: 16,
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
            "--value-size" => a.value_size = num(&flag, &v)?,
            "--dir" => a.dir = PathBuf::from(v),
            "--frys-tasks" => a.frys_tasks = num(&flag, &v)?,
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

    async fn open_fresh(&mut self) -> Result<(), BenchError> {
        match self {
            Engine::Frys(e) => e.open_fresh().await,
            Engine::Fjall(e) => e.open_fresh(),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.open_fresh(),
        }
    }

    async fn write(&self, order: &Rc<Vec<u64>>, values: &Rc<Values>) -> Result<(), BenchError> {
        match self {
            Engine::Frys(e) => e.write(order, values).await,
            Engine::Fjall(e) => e.write(order, values),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.write(order, values),
        }
    }

    async fn read_random(&self, order: &Rc<Vec<u64>>) -> Result<u64, BenchError> {
        match self {
            Engine::Frys(e) => e.read_random(order).await,
            Engine::Fjall(e) => e.read_random(order),
            #[cfg(feature = "rocksdb")]
            Engine::Rocks(e) => e.read_random(order),
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
            Engine::Fjall(_) => "not reported by fjall".to_string(),
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
    let mut v = vec![
        Engine::Frys(FrysEngine::new(&args.dir.join("frys"), 1)),
        Engine::Fjall(FjallEngine::new(&args.dir.join("fjall"))),
    ];
    #[cfg(feature = "rocksdb")]
    v.push(Engine::Rocks(RocksEngine::new(&args.dir.join("rocksdb"))));
    if args.frys_tasks > 1 {
        let dir = args.dir.join(format!("frys_{}tasks", args.frys_tasks));
        v.push(Engine::Frys(FrysEngine::new(&dir, args.frys_tasks)));
    }
    v
}

// ---------------------------------------------------------------- the run

fn run(args: &Args) -> Result<(), BenchError> {
    let user_bytes = args.num * (KEY_LEN + args.value_size) as u64;
    println!(
        "# num={} value_size={} key_size={KEY_LEN} keys=zero-padded decimal values=~50% compressible (db_bench generator) seed={}",
        args.num, args.value_size, args.seed
    );
    println!("# durability: WAL on, written to the OS per write, no fsync per write (frys SyncPolicy::No, fjall auto journal flush, rocksdb sync=false)");
    println!("# frys: 1 runtime core, default Options but sync=No; peers: 8 MiB memtable, 4 KiB blocks, lz4, bloom 10, 64 MiB cache");
    println!("# frys = one caller awaiting each op; frys(N tasks) = N spawn_local tasks on the same core sharing the op sequence");
    let rt = frys::Runtime::builder()
        .cores(frys::Cores::Count(1))
        .build()?;
    let mut output = frys_benches::results::BenchOutput::default();
    let result = rt.block_on(async {
        let values = Rc::new(Values::new(args.value_size, args.seed));
        let mut engines = engines(args);
        let mut filled = vec![false; engines.len()];
        for bench in &args.benchmarks {
            let order = Rc::new(workload::order(bench, args.num, args.seed));
            let mut rates = Vec::new();
            for (e, filled) in engines.iter_mut().zip(filled.iter_mut()) {
                let is_fill = bench.starts_with("fill");
                if is_fill {
                    e.open_fresh().await?;
                } else if !*filled {
                    println!(
                        "# {}: no fill ran before {bench}; loading with an untimed fillseq",
                        e.name()
                    );
                    e.open_fresh().await?;
                    e.write(
                        &Rc::new(workload::order("fillseq", args.num, args.seed)),
                        &values,
                    )
                    .await?;
                    e.settle().await?;
                }
                *filled = true;
                let cpu_before = process_cpu_us();
                let rate = run_one(e, bench, &order, &values, args, user_bytes).await?;
                let cpu_us = process_cpu_us() - cpu_before;
                output.rounds.push(frys_benches::results::Round {
                    bench: "storage".into(),
                    case: bench.clone(),
                    system: e.name(),
                    cores: 1,
                    round: args.round,
                    ops_per_sec: rate,
                    p50_us: None,
                    p99_us: None,
                    cpu_us_per_req: (!order.is_empty() && bench != "readseq")
                        .then(|| cpu_us / order.len() as f64),
                });
                rates.push((e.name(), e.is_frys(), rate));
            }
            for (frys_name, _, frys_rate) in rates.iter().filter(|r| r.1) {
                for (peer, _, peer_rate) in rates.iter().filter(|r| !r.1) {
                    println!("{frys_name}/{peer} {bench} {:.2}", frys_rate / peer_rate);
                }
            }
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

/// Runs one benchmark on one engine, prints its lines, returns ops/s.
async fn run_one(
    e: &Engine,
    bench: &str,
    order: &Rc<Vec<u64>>,
    values: &Rc<Values>,
    args: &Args,
    user_bytes: u64,
) -> Result<f64, BenchError> {
    let name = e.name();
    let io_before = proc_io()?;
    let start = Instant::now();
    let (ops, bytes) = match bench {
        "readrandom" => {
            let found = e.read_random(order).await?;
            println!("# {name} readrandom found {found} of {}", order.len());
            (
                order.len() as u64,
                order.len() as u64 * (KEY_LEN + args.value_size) as u64,
            )
        }
        "readseq" => {
            let seen = e.read_seq().await?;
            println!("# {name} readseq saw {} entries", seen.entries);
            (seen.entries, seen.bytes)
        }
        _ => {
            e.write(order, values).await?;
            (order.len() as u64, user_bytes)
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let rate = ops as f64 / secs;
    println!(
        "{name} {bench} {rate:.0} ops/s {:.1} MB/s",
        bytes as f64 / secs / (1 << 20) as f64
    );
    if matches!(bench, "readrandom" | "readseq") {
        println!("# {name} after {bench}: {}", e.metrics_line());
        return Ok(rate);
    }
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
    println!(
        "# {name} {bench} flush+compaction wait after the timed loop {settle:.2} s ({:.0} ops/s counting it)",
        ops as f64 / (secs + settle)
    );
    println!("# {name} after {bench}: {}", e.metrics_line());
    println!("{name} {bench} write_stalls {}", e.stall_line());
    if bench.starts_with("fill") {
        let compact_start = Instant::now();
        e.compact().await?;
        let size = dir_size(&dir_of(e, args))?;
        println!(
            "{name} {bench} space_amp {:.3} (dir {size} bytes allocated / user bytes {user_bytes}; full compaction {:.2} s)",
            size as f64 / user_bytes as f64,
            compact_start.elapsed().as_secs_f64()
        );
        println!("# {name} after compaction: {}", e.metrics_line());
    }
    Ok(rate)
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
