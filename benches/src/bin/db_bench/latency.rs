//! Per-operation latencies, recorded the same way for every engine: the
//! wall time from just before an operation is issued to just after it
//! returns, in nanoseconds.
//!
//! The same record gives an engine-neutral view of write stops: a write
//! that took at least [`STALL`] waited for the engine (a stop, or a
//! slowdown that long), whatever the engine reports of itself.

use std::time::{Duration, Instant};

/// A write at least this slow counts as stalled.
pub const STALL: Duration = Duration::from_millis(10);

#[derive(Default, Debug)]
pub struct Latencies {
    nanos: Vec<u32>,
}

/// What a run's latencies say, µs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub ops: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// Operations that took at least [`STALL`].
    pub stalled_ops: usize,
    /// Their total time, s.
    pub stalled_secs: f64,
}

impl Latencies {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            nanos: Vec::with_capacity(n),
        }
    }

    /// Records the time since `start` (saturating at ~4.3 s).
    pub fn record_since(&mut self, start: Instant) {
        let ns = start.elapsed().as_nanos();
        self.nanos.push(u32::try_from(ns).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Latencies) {
        self.nanos.extend(other.nanos);
    }

    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    pub fn summary(mut self) -> Summary {
        let stall = STALL.as_nanos() as u32;
        let slow = self.nanos.iter().filter(|&&n| n >= stall);
        let stalled_ops = slow.clone().count();
        let stalled_secs = slow.map(|&n| f64::from(n)).sum::<f64>() / 1e9;
        self.nanos.sort_unstable();
        let pick = |q: f64| -> f64 {
            if self.nanos.is_empty() {
                return f64::NAN;
            }
            // Nearest rank: the smallest value with at least q of all at or
            // below it.
            let rank = ((q * self.nanos.len() as f64).ceil() as usize).clamp(1, self.nanos.len());
            f64::from(self.nanos[rank - 1]) / 1e3
        };
        Summary {
            ops: self.nanos.len(),
            p50_us: pick(0.50),
            p99_us: pick(0.99),
            p999_us: pick(0.999),
            max_us: self.nanos.last().map_or(f64::NAN, |&n| f64::from(n) / 1e3),
            stalled_ops,
            stalled_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(nanos: &[u32]) -> Latencies {
        Latencies {
            nanos: nanos.to_vec(),
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let s = of(&(1..=1000).rev().map(|n| n * 1000).collect::<Vec<_>>()).summary();
        assert_eq!(s.ops, 1000);
        assert_eq!(s.p50_us, 500.0);
        assert_eq!(s.p99_us, 990.0);
        assert_eq!(s.p999_us, 999.0);
        assert_eq!(s.max_us, 1000.0);
    }

    #[test]
    fn slow_operations_are_counted_as_stalls() {
        let stall = STALL.as_nanos() as u32;
        let s = of(&[1_000, stall, 3 * stall, stall - 1]).summary();
        assert_eq!(s.stalled_ops, 2);
        assert!((s.stalled_secs - 4.0 * STALL.as_secs_f64()).abs() < 1e-9);
    }

    #[test]
    fn merged_records_count_together() {
        let mut a = of(&[1_000, 2_000]);
        a.merge(of(&[3_000]));
        assert_eq!(a.len(), 3);
        assert_eq!(a.summary().max_us, 3.0);
    }
}
