//! `frys-bench`: runs Frys' comparisons with every process placed on
//! purpose, and keeps every figure in a JSON file with a report beside it.
//!
//! ```text
//! frys-bench topology [--sysfs-root /sys]
//! frys-bench run [echo|redis|storage|all] [--server-cpus LIST] [--client-cpus LIST]
//!                [--placement compact|spread|one-per-physical-core|node:N]
//!                [--cores 1,2,4] [--rounds 3] [--out bench-results]
//! frys-bench compare A.json B.json
//! frys-bench report RUN.json [--out DIR]
//! ```
//!
//! `run` invokes the existing bench binaries (`echo_bench`, `db_bench`,
//! next to this one: build them with
//! `cargo build --release -p frys-benches --bins`) and
//! `benches/redis_compare.sh`, each with its `--json` output, with servers
//! on the server CPUs and load generators on the client CPUs, rounds
//! alternating between systems. It writes `<out>/<run-id>/run.json`,
//! `report.md` and the plots (PNG and SVG) beside them, and the benches'
//! own text output under `logs/`.

mod cpus;
mod machine;
mod run;
mod topology;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use frys::Placement;

#[derive(Parser)]
#[command(
    name = "frys-bench",
    about = "Frys and its peers, measured side by side"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the machine's topology and the CPUs each placement picks.
    Topology {
        /// The sysfs root to read (a fake tree for tests).
        #[arg(long, default_value = "/sys")]
        sysfs_root: PathBuf,
    },
    /// Run comparisons and write the JSON, the report and the plots.
    Run(run::RunArgs),
    /// Print the change from run A to run B, with the noise of the rounds.
    Compare { a: PathBuf, b: PathBuf },
    /// Write the report and plots of a stored run again.
    Report {
        run: PathBuf,
        /// Where to write them (default: beside the JSON).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Which comparison `run` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Which {
    Echo,
    Redis,
    Storage,
    All,
}

/// Parses `--placement`.
pub fn parse_placement(text: &str) -> Result<Placement, String> {
    text.parse()
        .map_err(|e: frys::topology::ParsePlacementError| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Topology { sysfs_root } => topology::print(&sysfs_root),
        Command::Run(args) => run::run(&args),
        Command::Compare { a, b } => compare(&a, &b),
        Command::Report { run, out } => report(&run, out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("frys-bench: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn compare(a: &std::path::Path, b: &std::path::Path) -> Result<(), String> {
    let a = frys_benches::results::Run::read(a).map_err(|e| e.to_string())?;
    let b = frys_benches::results::Run::read(b).map_err(|e| e.to_string())?;
    print!("{}", frys_benches::results::compare::render(&a, &b));
    Ok(())
}

fn report(path: &std::path::Path, out: Option<PathBuf>) -> Result<(), String> {
    let run = frys_benches::results::Run::read(path).map_err(|e| e.to_string())?;
    let dir = out.unwrap_or_else(|| {
        path.parent()
            .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf)
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    frys_benches::results::report::write(&run, &dir).map_err(|e| e.to_string())?;
    println!("wrote {}", dir.join("report.md").display());
    Ok(())
}
