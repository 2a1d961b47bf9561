//! Benchmark results: the schema of a run's JSON file and what is derived
//! from it.
//!
//! A [`Run`] is one invocation of `frys-bench run`: the machine, the
//! settings and every [`Round`] measured, each a single measurement of one
//! system on one case at one core count. Nothing is averaged in the file:
//! medians and noise are computed when reading it ([`summary`]), so two runs
//! can always be compared from their files alone ([`compare`]).
//!
//! # Schema stability
//!
//! [`SCHEMA_VERSION`] changes whenever a field is removed or changes
//! meaning; new optional fields keep the version (readers default them).
//! `benches/tests/data/` holds example files that the tests read, so a
//! change that breaks old files fails the tests.

pub mod compare;
pub mod plot;
pub mod report;
pub mod summary;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The version of the JSON layout written by this code.
pub const SCHEMA_VERSION: u32 = 1;

/// One `frys-bench run`: everything needed to read its figures later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema: u32,
    /// `git rev-parse HEAD` of the tree that was measured (`unknown` outside
    /// a checkout), with `-dirty` when it had uncommitted changes.
    pub git_commit: String,
    /// When the run started, seconds since the Unix epoch.
    pub started_unix: u64,
    /// How long the run took, in seconds.
    pub duration_secs: f64,
    pub machine: Machine,
    pub settings: Settings,
    /// The version of every system compared (`frys`, `tokio`, `redis`,
    /// `fjall`, ...).
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
    /// Every measurement, in the order they were taken.
    pub rounds: Vec<Round>,
    /// Benches or rounds that failed, with the reason, in order.
    #[serde(default)]
    pub failures: Vec<String>,
}

/// The machine the run was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub hostname: String,
    /// `uname -r`.
    pub kernel: String,
    /// `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Where the topology was read: `sysfs` or `hwloc`.
    pub topology_source: String,
    /// Every online CPU.
    pub cpus: Vec<MachineCpu>,
    /// The CPUs the runner was allowed to use (its affinity mask).
    pub allowed_cpus: Vec<usize>,
    /// Total memory, in bytes.
    #[serde(default)]
    pub memory_bytes: u64,
}

/// One online CPU of [`Machine::cpus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineCpu {
    pub id: usize,
    pub node: usize,
    pub package: usize,
    /// The lowest CPU id of its physical core (hyperthread siblings share it).
    pub core: usize,
}

/// What `frys-bench run` was asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The benches run: `echo`, `redis`, `storage`.
    pub benches: Vec<String>,
    /// The placement policy the server CPUs were chosen with.
    pub placement: String,
    /// The CPUs servers (and the storage engines) ran on.
    pub server_cpus: Vec<usize>,
    /// The CPUs load generators ran on, disjoint from `server_cpus`.
    pub client_cpus: Vec<usize>,
    /// The server core counts swept.
    pub cores: Vec<usize>,
    /// Rounds per system and case.
    pub rounds: usize,
    /// Bench-specific settings as passed to the bench (`echo.secs`, ...).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// One measurement of one system on one case at one core count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// `echo`, `redis` or `storage`.
    pub bench: String,
    /// What was measured within the bench: `ping-pong 64B`, `set P16`,
    /// `fillrandom`, ...
    pub case: String,
    /// The system: `frys`, `frys-epoll`, `tokio`, `redis`, `fjall`, ...
    pub system: String,
    /// Server cores (threads) the system ran with.
    pub cores: usize,
    /// 1-based round number; rounds alternate between systems.
    pub round: usize,
    /// Operations (requests) per second.
    pub ops_per_sec: f64,
    /// Median latency, µs, when the bench measures latency.
    #[serde(default)]
    pub p50_us: Option<f64>,
    /// 99th percentile latency, µs.
    #[serde(default)]
    pub p99_us: Option<f64>,
    /// Server CPU time (user + system) per request, µs.
    #[serde(default)]
    pub cpu_us_per_req: Option<f64>,
}

/// What a bench binary writes with `--json PATH`: its rounds and the
/// versions of what it compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchOutput {
    pub rounds: Vec<Round>,
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
}

impl BenchOutput {
    /// Writes the output as pretty JSON to `path`.
    ///
    /// # Errors
    ///
    /// The error of writing the file.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        write_json(path, self)
    }

    /// Reads a bench's output.
    ///
    /// # Errors
    ///
    /// An I/O error, or [`io::ErrorKind::InvalidData`] naming the file when
    /// it is not a bench output.
    pub fn read(path: &Path) -> io::Result<BenchOutput> {
        read_json(path)
    }
}

impl Run {
    /// Reads a run's JSON file.
    ///
    /// # Errors
    ///
    /// An I/O error, or [`io::ErrorKind::InvalidData`] naming the file when
    /// it is not a run or has a schema version this code does not read.
    pub fn read(path: &Path) -> io::Result<Run> {
        let run: Run = read_json(path)?;
        if run.schema != SCHEMA_VERSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: schema version {} (this frys-bench reads {SCHEMA_VERSION})",
                    path.display(),
                    run.schema
                ),
            ));
        }
        Ok(run)
    }

    /// Writes the run as pretty JSON to `path`.
    ///
    /// # Errors
    ///
    /// The error of writing the file.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        write_json(path, self)
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> io::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}
