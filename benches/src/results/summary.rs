//! Medians and noise of a run's rounds, per system, case and core count.

use crate::results::Round;

/// Identifies one series of rounds: a system on a case at a core count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub bench: String,
    pub case: String,
    pub system: String,
    pub cores: usize,
}

impl Key {
    fn of(round: &Round) -> Key {
        Key {
            bench: round.bench.clone(),
            case: round.case.clone(),
            system: round.system.clone(),
            cores: round.cores,
        }
    }
}

/// The rounds of one metric in one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// How many rounds measured it.
    pub n: usize,
}

impl Stat {
    /// `None` for no values.
    pub fn of(values: &[f64]) -> Option<Stat> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Some(Stat {
            median,
            min: v[0],
            max: v[v.len() - 1],
            n: v.len(),
        })
    }

    /// The noise of the rounds: half their range over the median, as a
    /// fraction (0.05 = ±5 %). 0 for a single round (unknown, not zero:
    /// see [`Stat::n`]).
    pub fn noise(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.max - self.min) / 2.0 / self.median.abs()
        }
    }
}

/// The summary of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub key: Key,
    pub ops_per_sec: Stat,
    pub p50_us: Option<Stat>,
    pub p99_us: Option<Stat>,
    pub cpu_us_per_req: Option<Stat>,
}

/// Summarizes `rounds` per series, in the order each series first appears.
pub fn summarize(rounds: &[Round]) -> Vec<Series> {
    let mut keys: Vec<Key> = Vec::new();
    for r in rounds {
        let k = Key::of(r);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .filter_map(|key| {
            let of: Vec<&Round> = rounds.iter().filter(|r| Key::of(r) == key).collect();
            let metric = |f: fn(&Round) -> Option<f64>| {
                Stat::of(&of.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
            };
            Some(Series {
                ops_per_sec: metric(|r| Some(r.ops_per_sec))?,
                p50_us: metric(|r| r.p50_us),
                p99_us: metric(|r| r.p99_us),
                cpu_us_per_req: metric(|r| r.cpu_us_per_req),
                key,
            })
        })
        .collect()
}

/// The frys series a series is compared with: the same bench, case and
/// cores, system `frys`.
pub fn frys_of<'a>(all: &'a [Series], s: &Series) -> Option<&'a Series> {
    all.iter().find(|f| {
        f.key.system == "frys"
            && f.key.bench == s.key.bench
            && f.key.case == s.key.case
            && f.key.cores == s.key.cores
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_noise() {
        let s = Stat::of(&[10.0, 12.0, 8.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (10.0, 8.0, 12.0, 3));
        assert!((s.noise() - 0.2).abs() < 1e-9);
        let even = Stat::of(&[1.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.0);
        assert_eq!(Stat::of(&[]), None);
        assert_eq!(Stat::of(&[f64::NAN]), None);
    }
}
