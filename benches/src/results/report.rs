//! The Markdown report of a run: the machine, the settings, one table per
//! bench with ratios to Frys, and the plots beside it.

use std::fmt::Write;
use std::io;
use std::path::Path;

use crate::results::compare::figure;
use crate::results::summary::{frys_of, summarize, Series, Stat};
use crate::results::{plot, Run};

/// The benches in report order.
const BENCHES: [&str; 3] = ["echo", "redis", "storage"];

/// Writes `<dir>/report.md` and its plots (`<dir>/<bench>-*.png|svg`);
/// returns the report's text.
///
/// # Errors
///
/// Writing a file failed, or the plots could not be drawn (no font).
pub fn write(run: &Run, dir: &Path) -> io::Result<String> {
    let series = summarize(&run.rounds);
    let mut md = header(run);
    for bench in BENCHES {
        if !series.iter().any(|s| s.key.bench == bench) {
            continue;
        }
        let _ = writeln!(md, "\n## {bench}\n");
        md.push_str(&table(bench, &series));
        md.push('\n');
        for (stem, chart) in plot::charts_of(bench, &series) {
            plot::draw(&chart, dir, &stem)?;
            let _ = writeln!(md, "![{}]({stem}.png)\n", chart.title);
        }
    }
    if !run.failures.is_empty() {
        md.push_str("\n## Failures\n\n");
        for f in &run.failures {
            let _ = writeln!(md, "- {f}");
        }
    }
    let path = dir.join("report.md");
    std::fs::write(&path, &md)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(md)
}

fn header(run: &Run) -> String {
    let m = &run.machine;
    let s = &run.settings;
    let nodes = distinct(m.cpus.iter().map(|c| c.node));
    let packages = distinct(m.cpus.iter().map(|c| c.package));
    let cores = distinct(m.cpus.iter().map(|c| (c.package, c.core)));
    let mut md = String::new();
    let _ = writeln!(md, "# frys-bench run\n");
    let _ = writeln!(
        md,
        "- commit `{}`, {} rounds in {:.0} s",
        run.git_commit,
        run.rounds.len(),
        run.duration_secs
    );
    let _ = writeln!(
        md,
        "- machine `{}`: {}, {} CPUs ({} physical cores, {} packages, {} NUMA nodes, read from {}), kernel {}, {:.1} GiB",
        m.hostname,
        m.cpu_model,
        m.cpus.len(),
        cores,
        packages,
        nodes,
        m.topology_source,
        m.kernel,
        m.memory_bytes as f64 / (1u64 << 30) as f64
    );
    let _ = writeln!(
        md,
        "- servers on CPUs {} (placement `{}`), load generators on CPUs {}; server cores swept: {}; {} rounds per system, alternating",
        list(&s.server_cpus),
        s.placement,
        list(&s.client_cpus),
        s.cores
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        s.rounds
    );
    if !run.versions.is_empty() {
        let v: Vec<String> = run
            .versions
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(md, "- versions: {}", v.join(", "));
    }
    if !s.params.is_empty() {
        let p: Vec<String> = s.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(md, "- parameters: {}", p.join(" "));
    }
    let _ = writeln!(
        md,
        "\nEach figure is the median of the rounds; ± is half their range over the median."
    );
    md
}

fn table(bench: &str, series: &[Series]) -> String {
    let mut md = String::from(
        "| case | system | cores | ops/s | vs frys | p50 µs | p99 µs | CPU-µs/req | CPU vs frys |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for s in series.iter().filter(|s| s.key.bench == bench) {
        let frys = frys_of(series, s);
        let ratio = |get: fn(&Series) -> Option<Stat>| match (frys.and_then(get), get(s)) {
            (Some(f), Some(x)) if f.median != 0.0 => format!("{:.2}", x.median / f.median),
            _ => "-".into(),
        };
        let opt = |m: Option<Stat>| m.map_or("-".into(), |m| figure(m.median));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} ±{:.0}% | {} | {} | {} | {} | {} |",
            s.key.case,
            s.key.system,
            s.key.cores,
            figure(s.ops_per_sec.median),
            s.ops_per_sec.noise() * 100.0,
            ratio(|s| Some(s.ops_per_sec)),
            opt(s.p50_us),
            opt(s.p99_us),
            opt(s.cpu_us_per_req),
            ratio(|s| s.cpu_us_per_req),
        );
    }
    md
}

fn distinct<T: PartialEq>(it: impl Iterator<Item = T>) -> usize {
    let mut seen: Vec<T> = Vec::new();
    for x in it {
        if !seen.contains(&x) {
            seen.push(x);
        }
    }
    seen.len()
}

fn list(v: &[usize]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        frys::topology::format_cpulist(v)
    }
}
