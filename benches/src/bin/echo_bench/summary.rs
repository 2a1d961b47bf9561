//! The summary of a run: the median of the rounds for every server, and
//! every server's figures as ratios to frys'.

use crate::RoundResult;

/// The median of each metric over one server's rounds (each separately).
pub(crate) struct Medians {
    ops_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us_per_req: f64,
    user_us_per_req: f64,
    rounds_ok: usize,
    rounds: usize,
}

impl Medians {
    pub(crate) fn of(rounds: &[RoundResult], planned: usize) -> Self {
        let m = |f: fn(&RoundResult) -> f64| median(rounds.iter().map(f));
        Self {
            ops_per_sec: m(|r| r.ops_per_sec),
            p50_us: m(|r| r.p50_us),
            p99_us: m(|r| r.p99_us),
            cpu_us_per_req: m(|r| r.cpu_us_per_req),
            user_us_per_req: m(|r| r.user_us_per_req),
            rounds_ok: rounds.len(),
            rounds: planned,
        }
    }
}

/// Prints the medians table and, if `frys` ran, the ratios table.
pub(crate) fn print(servers: &[(&str, Medians)], rounds: usize) {
    println!();
    println!("median of {rounds} rounds (each metric separately):");
    println!(
        "| server | ops/s | p50 µs | p99 µs | server CPU-µs/req | user-space CPU-µs/req | rounds ok |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, m) in servers {
        println!(
            "| {name} | {:.0} | {:.1} | {:.1} | {:.2} | {:.3} | {}/{} |",
            m.ops_per_sec,
            m.p50_us,
            m.p99_us,
            m.cpu_us_per_req,
            m.user_us_per_req,
            m.rounds_ok,
            m.rounds
        );
    }
    let Some((_, frys)) = servers.iter().find(|(name, _)| *name == "frys") else {
        return;
    };
    println!();
    println!("ratios to frys (server / frys; ops/s: higher is better, the rest: lower is better):");
    println!("| server | ops/s | p50 | p99 | server CPU/req | user-space CPU/req |");
    println!("|---|---|---|---|---|---|");
    for (name, m) in servers {
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            m.ops_per_sec / frys.ops_per_sec,
            m.p50_us / frys.p50_us,
            m.p99_us / frys.p99_us,
            m.cpu_us_per_req / frys.cpu_us_per_req,
            m.user_us_per_req / frys.user_us_per_req
        );
    }
}

pub(crate) fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 3.0, 2.0].into_iter()), 2.5);
        assert!(median(std::iter::empty()).is_nan());
    }
}
