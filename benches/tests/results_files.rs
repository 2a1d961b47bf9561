//! The results files of `frys-bench`: stored example runs (in `data/`) are
//! read by today's code, written back unchanged, summarized, compared and
//! drawn.

use std::path::{Path, PathBuf};

use frys_benches::results::compare::{changes, render, Verdict};
use frys_benches::results::summary::summarize;
use frys_benches::results::{report, Run, SCHEMA_VERSION};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("frys-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn stored_example_run_reads_and_writes_back_unchanged() {
    let path = data("run-a.json");
    let run = Run::read(&path).unwrap();
    assert_eq!(run.schema, SCHEMA_VERSION);
    assert_eq!(run.git_commit, "1".repeat(40));
    assert_eq!(run.machine.cpus.len(), 8);
    assert_eq!(run.settings.placement, "one-per-physical-core");
    assert_eq!(run.settings.client_cpus, vec![2, 3, 6, 7]);
    assert_eq!(run.rounds.len(), 24);
    let first = &run.rounds[0];
    assert_eq!(
        (
            first.bench.as_str(),
            first.system.as_str(),
            first.cores,
            first.round
        ),
        ("echo", "frys", 1, 1)
    );
    assert_eq!(first.p99_us, Some(2525.0));
    let storage = run.rounds.iter().find(|r| r.bench == "storage").unwrap();
    assert_eq!(storage.p50_us, None);
    // Every field of the stored file is a field of today's schema, with
    // the same name and value: writing it back gives the same JSON.
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(serde_json::to_value(&run).unwrap(), stored);
}

#[test]
fn a_file_of_another_schema_version_is_refused() {
    let dir = scratch("schema");
    let text = std::fs::read_to_string(data("run-a.json")).unwrap();
    let newer = text.replacen("\"schema\": 1", "\"schema\": 99", 1);
    let path = dir.join("newer.json");
    std::fs::write(&path, newer).unwrap();
    let err = Run::read(&path).unwrap_err();
    assert!(err.to_string().contains("schema version 99"), "{err}");
    std::fs::write(&path, "{\"schema\": 1}").unwrap();
    let err = Run::read(&path).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("newer.json"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rounds_are_summarized_per_system_case_and_cores() {
    let run = Run::read(&data("run-a.json")).unwrap();
    let series = summarize(&run.rounds);
    // echo: 2 systems x 2 core counts; redis and storage: 2 systems.
    assert_eq!(series.len(), 8);
    let frys2 = series
        .iter()
        .find(|s| s.key.bench == "echo" && s.key.system == "frys" && s.key.cores == 2)
        .unwrap();
    assert_eq!(frys2.ops_per_sec.median, 100_000.0);
    assert_eq!(frys2.ops_per_sec.n, 3);
    assert!((frys2.ops_per_sec.noise() - 0.01).abs() < 1e-9);
    assert_eq!(frys2.p50_us.unwrap().median, 600.0);
}

#[test]
fn compare_of_two_stored_runs_judges_changes_against_the_noise() {
    let a = Run::read(&data("run-a.json")).unwrap();
    let b = Run::read(&data("run-b.json")).unwrap();
    let (lines, only_a, only_b) = changes(&a, &b);
    let verdict = |bench: &str, system: &str, cores: usize, metric: &str| {
        lines
            .iter()
            .find(|c| {
                c.key.bench == bench
                    && c.key.system == system
                    && c.key.cores == cores
                    && c.metric == metric
            })
            .map(|c| (c.verdict, (c.change * 1000.0).round() / 10.0))
    };
    assert_eq!(
        verdict("echo", "frys", 1, "ops/s"),
        Some((Verdict::Worse, -10.0))
    );
    assert_eq!(
        verdict("echo", "tokio", 1, "ops/s"),
        Some((Verdict::WithinNoise, 0.0))
    );
    assert_eq!(
        verdict("storage", "frys", 1, "ops/s"),
        Some((Verdict::Better, 20.0))
    );
    assert_eq!(
        verdict("redis", "frys", 1, "ops/s"),
        Some((Verdict::WithinNoise, 1.0))
    );
    assert_eq!(only_a.len(), 1);
    assert_eq!((only_a[0].system.as_str(), only_a[0].cores), ("tokio", 2));
    assert!(only_b.is_empty());

    let text = render(&a, &b);
    let expected = std::fs::read_to_string(data("compare-a-b.txt")).unwrap();
    assert_eq!(text, expected, "the compare output changed:\n{text}");
}

#[test]
fn report_has_the_tables_ratios_and_plots() {
    let dir = scratch("report");
    let run = Run::read(&data("run-b.json")).unwrap();
    let md = report::write(&run, &dir).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("report.md")).unwrap(), md);
    assert!(
        md.contains("commit `2222222222222222222222222222222222222222`"),
        "{md}"
    );
    // tokio at 1 core does 45000 ops/s against frys' 45000 (0.9 x 50000).
    assert!(
        md.contains("| ping-pong 64B | tokio | 1 | 45000 ±1% | 1.00 | 1200 | 2500 | 10.5 | 1.17 |"),
        "{md}"
    );
    assert!(
        md.contains("| fillrandom | fjall | 1 | 380000 ±1% | 0.77 |"),
        "{md}"
    );
    assert!(
        md.contains("- echo 2 cores: tokio server did not start"),
        "{md}"
    );
    for bench in ["echo", "redis", "storage"] {
        let png = std::fs::read(dir.join(format!("{bench}-throughput.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{bench}");
        let svg = std::fs::read_to_string(dir.join(format!("{bench}-throughput.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("frys ping-pong 64B") == (bench == "echo"));
        assert!(md.contains(&format!("({bench}-throughput.png)")), "{md}");
    }
    assert!(dir.join("echo-latency.png").exists());
    assert!(dir.join("redis-cpu.svg").exists());
    assert!(
        !dir.join("storage-latency.png").exists(),
        "storage has no latency"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
