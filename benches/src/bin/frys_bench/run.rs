//! `frys-bench run`: the comparisons, one bench invocation at a time.
//!
//! Every invocation's own text output goes to `<run dir>/logs/`, its JSON
//! rounds are collected into the run. A bench that fails is recorded in
//! [`Run::failures`] and the run goes on with the next one, so one broken
//! peer does not cost the others' figures.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use frys::topology::{allowed_cpus, format_cpulist, set_current_thread_affinity, Topology};
use frys::Placement;
use frys_benches::results::{report, BenchOutput, Run, Settings, SCHEMA_VERSION};

use crate::{cpus, machine, parse_placement, Which};

/// The options of `frys-bench run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The comparison to run.
    #[arg(value_enum, default_value = "all")]
    which: Which,
    /// CPUs for the servers (a cpu list: `0-3,8`); default: the first half
    /// of the placement's CPUs.
    #[arg(long)]
    server_cpus: Option<String>,
    /// CPUs for the load generators, disjoint from the server CPUs;
    /// default: the usable CPUs on other physical cores.
    #[arg(long)]
    client_cpus: Option<String>,
    /// How server cores are picked: compact, spread, one-per-physical-core,
    /// node:N.
    #[arg(long, default_value = "compact", value_parser = parse_placement)]
    placement: Placement,
    /// Server core counts to sweep (default 1, 2, 4, ... up to the server
    /// CPUs).
    #[arg(long, value_delimiter = ',')]
    cores: Vec<usize>,
    /// Rounds per system, alternating between systems.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Where the run's directory is created.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// echo: measured seconds per round.
    #[arg(long, default_value_t = 3.0)]
    echo_secs: f64,
    /// echo: connections.
    #[arg(long, default_value_t = 64)]
    echo_conns: usize,
    /// redis: requests per test (redis-benchmark -n). The defaults keep
    /// `run all` within 15 minutes on a busy 2-CPU machine.
    #[arg(long, default_value_t = 50_000)]
    redis_requests: u64,
    /// redis: redis-benchmark tests (-t).
    #[arg(long, default_value = "set,get")]
    redis_tests: String,
    /// redis: pipeline depths (-P), space separated.
    #[arg(long, default_value = "1 16")]
    redis_pipelines: String,
    /// redis: client connections (-c).
    #[arg(long, default_value_t = 50)]
    redis_clients: usize,
    /// storage: keys per benchmark (db_bench --num).
    #[arg(long, default_value_t = 200_000)]
    storage_num: u64,
    /// storage: db_bench benchmarks.
    #[arg(long, default_value = "fillseq,fillrandom,readrandom")]
    storage_benchmarks: String,
}

/// One bench invocation.
struct Step {
    bench: &'static str,
    label: String,
    command: Command,
    /// The CPUs the child starts on (its whole affinity mask); `None`: the
    /// command pins its own processes.
    cpus: Option<Vec<usize>>,
}

pub fn run(args: &RunArgs) -> Result<(), String> {
    if args.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let topo = Topology::detect().map_err(|e| format!("cannot read the topology: {e}"))?;
    let allowed = allowed_cpus().map_err(|e| format!("cannot read the affinity mask: {e}"))?;
    let list = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| frys::topology::parse_cpulist(t).map_err(|e| format!("{flag}: {e}")))
            .transpose()
    };
    let sets = cpus::choose(
        &topo,
        &allowed,
        args.placement,
        list("--server-cpus", &args.server_cpus)?,
        list("--client-cpus", &args.client_cpus)?,
    )?;
    let cores = if args.cores.is_empty() {
        cpus::default_sweep(sets.server.len())
    } else {
        args.cores.clone()
    };
    if let Some(&c) = cores.iter().find(|&&c| c == 0 || c > sets.server.len()) {
        return Err(format!(
            "--cores {c}: the servers have {} cpus ({})",
            sets.server.len(),
            format_cpulist(&sets.server)
        ));
    }
    let git_commit = machine::git_commit();
    let short: String = git_commit.chars().take(10).collect();
    let dir = args.out.join(format!("{started_unix}-{short}"));
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

    let benches: Vec<&str> = match args.which {
        Which::Echo => vec!["echo"],
        Which::Redis => vec!["redis"],
        Which::Storage => vec!["storage"],
        Which::All => vec!["echo", "redis", "storage"],
    };
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let steps = plan(args, &benches, &sets, &cores, &scratch)?;
    eprintln!(
        "frys-bench: {} steps; servers on cpus {}, clients on cpus {}, placement {}, cores {:?}; writing {}",
        steps.len(),
        format_cpulist(&sets.server),
        format_cpulist(&sets.client),
        args.placement,
        cores,
        dir.display()
    );
    let mut rounds = Vec::new();
    let mut failures = Vec::new();
    let total = steps.len();
    for (i, step) in steps.into_iter().enumerate() {
        let t = Instant::now();
        eprintln!(
            "[{}/{total}] {} {} (elapsed {:.0} s)",
            i + 1,
            step.bench,
            step.label,
            started.elapsed().as_secs_f64()
        );
        let json = scratch.join(format!("step-{i}.json"));
        let log = logs.join(format!(
            "{:02}-{}-{}.txt",
            i + 1,
            step.bench,
            slug(&step.label)
        ));
        match execute(step, &json, &log) {
            Ok(out) => {
                eprintln!(
                    "      {} rounds in {:.0} s",
                    out.rounds.len(),
                    t.elapsed().as_secs_f64()
                );
                rounds.extend(out.rounds);
            }
            Err(e) => {
                eprintln!("      FAILED: {e}");
                failures.push(e);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);

    let mut settings = Settings {
        benches: benches.iter().map(|b| (*b).to_owned()).collect(),
        placement: args.placement.to_string(),
        server_cpus: sets.server.clone(),
        client_cpus: sets.client.clone(),
        cores,
        rounds: args.rounds,
        params: Default::default(),
    };
    for (k, v) in params(args, &benches) {
        settings.params.insert(k, v);
    }
    // The versions of what was compared: peers that did not run are left out.
    // librocksdb-sys (the bundled RocksDB's version) goes with `rocksdb`.
    let mut versions = machine::versions();
    versions.retain(|name, _| {
        let system = if name == "librocksdb-sys" {
            "rocksdb"
        } else {
            name
        };
        name == "frys-runtime"
            || name == "shard-server"
            || rounds.iter().any(|r| r.system == system)
    });
    let run = Run {
        schema: SCHEMA_VERSION,
        git_commit,
        started_unix,
        duration_secs: started.elapsed().as_secs_f64(),
        machine: machine::describe(&topo, &allowed, "sysfs"),
        settings,
        versions,
        rounds,
        failures,
    };
    let json = dir.join("run.json");
    run.write(&json).map_err(|e| e.to_string())?;
    report::write(&run, &dir).map_err(|e| e.to_string())?;
    eprintln!(
        "frys-bench: {} rounds, {} failures in {:.0} s: {} and {}",
        run.rounds.len(),
        run.failures.len(),
        run.duration_secs,
        json.display(),
        dir.join("report.md").display()
    );
    if run.rounds.is_empty() {
        return Err("no round succeeded".into());
    }
    Ok(())
}

/// The settings recorded for the benches run, as passed to them.
fn params(args: &RunArgs, benches: &[&str]) -> Vec<(String, String)> {
    let mut p = Vec::new();
    if benches.contains(&"echo") {
        p.push(("echo.secs".into(), args.echo_secs.to_string()));
        p.push(("echo.conns".into(), args.echo_conns.to_string()));
        p.push(("echo.size".into(), "64".into()));
    }
    if benches.contains(&"redis") {
        p.push(("redis.requests".into(), args.redis_requests.to_string()));
        p.push(("redis.tests".into(), args.redis_tests.clone()));
        p.push(("redis.pipelines".into(), args.redis_pipelines.clone()));
        p.push(("redis.clients".into(), args.redis_clients.to_string()));
    }
    if benches.contains(&"storage") {
        p.push(("storage.num".into(), args.storage_num.to_string()));
        p.push(("storage.benchmarks".into(), args.storage_benchmarks.clone()));
    }
    p
}

/// Every bench invocation of the run, in order. echo_bench alternates the
/// systems itself over its rounds; the redis and storage comparisons are
/// invoked once per round, each invocation running every system once.
fn plan(
    args: &RunArgs,
    benches: &[&str],
    sets: &cpus::CpuSets,
    cores: &[usize],
    scratch: &Path,
) -> Result<Vec<Step>, String> {
    let bin_dir = std::env::current_exe()
        .map_err(|e| format!("cannot find this binary: {e}"))?
        .parent()
        .map(Path::to_path_buf)
        .ok_or("this binary has no directory")?;
    let bench_bin = |name: &str| -> Result<PathBuf, String> {
        let p = bin_dir.join(name);
        if p.exists() {
            Ok(p)
        } else {
            Err(format!(
                "{} is missing: build the benches with `cargo build --release -p frys-benches --bins`",
                p.display()
            ))
        }
    };
    let (server, client) = (format_cpulist(&sets.server), format_cpulist(&sets.client));
    let mut steps = Vec::new();
    if benches.contains(&"echo") {
        let exe = bench_bin("echo_bench")?;
        for &c in cores {
            let mut cmd = Command::new(&exe);
            cmd.args(["--cores", &c.to_string()])
                .args(["--secs", &args.echo_secs.to_string()])
                .args(["--warmup", "1"])
                .args(["--rounds", &args.rounds.to_string()])
                .args(["--conns", &args.echo_conns.to_string()])
                .args(["--size", "64"])
                .args(["--placement", &args.placement.to_string()])
                .args(["--server-cpus", &server, "--client-cpus", &client]);
            steps.push(Step {
                bench: "echo",
                label: format!("{c} cores, {} rounds", args.rounds),
                command: cmd,
                cpus: None,
            });
        }
    }
    if benches.contains(&"redis") {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("redis_compare.sh");
        let cores_arg: Vec<String> = cores.iter().map(usize::to_string).collect();
        for round in 1..=args.rounds {
            let mut cmd = Command::new("bash");
            cmd.arg(&script)
                .args(["-n", &args.redis_requests.to_string()])
                .args(["-c", &args.redis_clients.to_string()])
                .args(["-t", &args.redis_tests])
                .args(["-P", &args.redis_pipelines])
                .args(["--cores", &cores_arg.join(" ")])
                .args(["--drivers", "io_uring"])
                .args(["--server-cpus", &server, "--client-cpus", &client])
                .args(["--round", &round.to_string()]);
            steps.push(Step {
                bench: "redis",
                label: format!("round {round} of {}", args.rounds),
                command: cmd,
                cpus: None,
            });
        }
    }
    if benches.contains(&"storage") {
        let exe = bench_bin("db_bench")?;
        for round in 1..=args.rounds {
            let mut cmd = Command::new(&exe);
            cmd.args(["--benchmarks", &args.storage_benchmarks])
                .args(["--num", &args.storage_num.to_string()])
                .args(["--frys-tasks", "0"])
                .args(["--round", &round.to_string()])
                .arg("--dir")
                .arg(scratch.join(format!("db-{round}")));
            steps.push(Step {
                bench: "storage",
                label: format!("round {round} of {}", args.rounds),
                command: cmd,
                cpus: Some(sets.server.clone()),
            });
        }
    }
    Ok(steps)
}

/// Runs a step with its output in `log` and its results in `json`.
fn execute(mut step: Step, json: &Path, log: &Path) -> Result<BenchOutput, String> {
    let what = format!("{} {}", step.bench, step.label);
    let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    step.command
        .arg("--json")
        .arg(json)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // A child starts with the mask of the thread that spawns it.
    let own_mask = allowed_cpus().map_err(|e| format!("cannot read the affinity mask: {e}"))?;
    if let Some(cpus) = &step.cpus {
        set_current_thread_affinity(cpus)
            .map_err(|e| format!("{what}: cannot use cpus {cpus:?}: {e}"))?;
    }
    let status = step.command.status();
    if step.cpus.is_some() {
        set_current_thread_affinity(&own_mask)
            .map_err(|e| format!("cannot restore the affinity mask: {e}"))?;
    }
    let status = status.map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "{what}: {status} (see {}): {}",
            log.display(),
            tail.join(" / ")
        ));
    }
    BenchOutput::read(json).map_err(|e| format!("{what}: {e}"))
}

/// A label as a file-name piece.
fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}
