//! `frys-bench compare A.json B.json`: the change from run A to run B,
//! series by series, judged against the noise measured in both runs.
//!
//! A change counts only when it is larger than twice the noise of either
//! run (half the range of its rounds over the median): with 3 rounds that
//! keeps an unlucky round from reading as a regression.

use std::fmt::Write;

use crate::results::summary::{summarize, Key, Series, Stat};
use crate::results::Run;

/// Whether a metric is better high (throughput) or low (latency, CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

/// Reads one metric of a series.
type Metric = fn(&Series) -> Option<Stat>;

/// The metrics compared, in output order.
const METRICS: [(&str, Better, Metric); 4] = [
    ("ops/s", Better::Higher, |s| Some(s.ops_per_sec)),
    ("p50 µs", Better::Lower, |s| s.p50_us),
    ("p99 µs", Better::Lower, |s| s.p99_us),
    ("CPU-µs/req", Better::Lower, |s| s.cpu_us_per_req),
];

/// The comparison of one metric of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: Key,
    pub metric: &'static str,
    pub before: f64,
    pub after: f64,
    /// `(after - before) / before`.
    pub change: f64,
    /// The larger noise of the two runs, as a fraction.
    pub noise: f64,
    pub verdict: Verdict,
}

/// What a change means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Better,
    Worse,
    WithinNoise,
    /// A run has a single round of it: its noise is unknown.
    NoiseUnknown,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "WORSE",
            Verdict::WithinNoise => "within noise",
            Verdict::NoiseUnknown => "noise unknown (1 round)",
        }
    }
}

/// Every metric of every series in both runs, in B's order.
pub fn changes(a: &Run, b: &Run) -> (Vec<Change>, Vec<Key>, Vec<Key>) {
    let (sa, sb) = (summarize(&a.rounds), summarize(&b.rounds));
    let mut out = Vec::new();
    let mut only_b = Vec::new();
    for s in &sb {
        let Some(prev) = sa.iter().find(|p| p.key == s.key) else {
            only_b.push(s.key.clone());
            continue;
        };
        for (metric, better, get) in METRICS {
            let (Some(x), Some(y)) = (get(prev), get(s)) else {
                continue;
            };
            if x.median == 0.0 {
                continue;
            }
            let change = (y.median - x.median) / x.median;
            let noise = x.noise().max(y.noise());
            let verdict = if x.n < 2 || y.n < 2 {
                Verdict::NoiseUnknown
            } else if change.abs() <= 2.0 * noise {
                Verdict::WithinNoise
            } else if (change > 0.0) == (better == Better::Higher) {
                Verdict::Better
            } else {
                Verdict::Worse
            };
            out.push(Change {
                key: s.key.clone(),
                metric,
                before: x.median,
                after: y.median,
                change,
                noise,
                verdict,
            });
        }
    }
    let only_a = sa
        .iter()
        .filter(|p| !sb.iter().any(|s| s.key == p.key))
        .map(|p| p.key.clone())
        .collect();
    (out, only_a, only_b)
}

/// The text `frys-bench compare` prints: a header naming both runs, one
/// line per metric, then the series only one run has.
pub fn render(a: &Run, b: &Run) -> String {
    let (changes, only_a, only_b) = changes(a, b);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "A: commit {} ({} rounds)",
        a.git_commit,
        a.rounds.len()
    );
    let _ = writeln!(
        out,
        "B: commit {} ({} rounds)",
        b.git_commit,
        b.rounds.len()
    );
    let _ = writeln!(
        out,
        "{:<8} {:<16} {:<11} {:>5}  {:<10} {:>12} {:>12} {:>8} {:>8}  verdict",
        "bench", "case", "system", "cores", "metric", "A", "B", "change", "noise"
    );
    for c in &changes {
        let _ = writeln!(
            out,
            "{:<8} {:<16} {:<11} {:>5}  {:<10} {:>12} {:>12} {:>+7.1}% {:>7.1}%  {}",
            c.key.bench,
            c.key.case,
            c.key.system,
            c.key.cores,
            c.metric,
            figure(c.before),
            figure(c.after),
            c.change * 100.0,
            c.noise * 100.0,
            c.verdict.word()
        );
    }
    for (which, keys) in [("A", &only_a), ("B", &only_b)] {
        for k in keys {
            let _ = writeln!(
                out,
                "only in {which}: {} {} {} {} cores",
                k.bench, k.case, k.system, k.cores
            );
        }
    }
    out
}

/// A figure with as many decimals as its size needs.
pub fn figure(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}
