//! The stall detector: a task whose single poll holds the core past a
//! threshold ([`Builder::stall_threshold`](super::Builder::stall_threshold))
//! is counted (`CoreStats::stalls`) and reported with `tracing::warn!`,
//! naming its queue and where it was spawned.
//!
//! Invariants: every poll the clock measures at or over the threshold is
//! counted; reports are rate-limited to one per second per core, and a
//! report says how many stalls were not reported since the previous one,
//! so none goes unseen. The poll is timed with the clock reading the
//! scheduler takes after every poll anyway (`CoreCtx::run_tasks`,
//! `runtime::clock`): detection costs a comparison per poll.
//! Nothing preempts a poll; the report comes when the poll returns.
//!
//! Known limits (measured in wall time, without a system call per poll):
//! - OS preemption: a poll during which the thread was descheduled is
//!   measured with the time it did not run, so on a loaded host it can be
//!   counted and reported as a stall of the task that happened to run.
//!   Telling the two apart needs the thread's involuntary context switches
//!   (`idle::involuntary_switches`, one `getrusage` each) sampled before
//!   the poll, which this detector does not do.
//! - The coarse clock: while only one task queue is runnable the reading
//!   is the coarse clock, so a poll is judged to within one kernel tick
//!   (1–10 ms) in either direction: below a tick, a short poll that
//!   straddles a tick boundary is a false stall; above, a poll up to a tick
//!   longer than the threshold can be missed. Keep the threshold well above
//!   a tick.

use std::time::Duration;

/// Default threshold (as Seastar's default `--blocked-reactor-notify-ms`).
pub(crate) const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_millis(25);

/// At most one report per core per this long.
pub(crate) const REPORT_INTERVAL_NS: u64 = 1_000_000_000;

/// One core's detector.
pub(crate) struct StallDetector {
    threshold_ns: u64,
    /// When the last report went out (clock nanoseconds).
    last_report: Option<u64>,
    /// Stalls since the last report that were not reported.
    unreported: u64,
}

/// What to do about one poll.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not a stall.
    Fine,
    /// A stall to count but not report (a report went out recently).
    Quiet,
    /// A stall to count and report, with the stalls not reported since
    /// the last report.
    Report { unreported: u64 },
}

impl StallDetector {
    pub(crate) fn new(threshold: Duration) -> Self {
        Self {
            threshold_ns: u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX),
            last_report: None,
            unreported: 0,
        }
    }

    /// Whether a poll of `poll_ns` is a stall (the cheap test made after
    /// every poll).
    pub(crate) fn is_stall(&self, poll_ns: u64) -> bool {
        poll_ns >= self.threshold_ns
    }

    /// Judges a poll that took `poll_ns` and ended at `now_ns`.
    pub(crate) fn observe(&mut self, poll_ns: u64, now_ns: u64) -> Verdict {
        if !self.is_stall(poll_ns) {
            return Verdict::Fine;
        }
        let due = self
            .last_report
            .is_none_or(|last| now_ns.saturating_sub(last) >= REPORT_INTERVAL_NS);
        if !due {
            self.unreported += 1;
            return Verdict::Quiet;
        }
        self.last_report = Some(now_ns);
        Verdict::Report {
            unreported: std::mem::take(&mut self.unreported),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stalls_are_reported_at_most_once_a_second_and_none_is_lost() {
        let mut d = StallDetector::new(Duration::from_millis(25));
        let t0 = 7_000_000_000u64;
        let ms = |n: u64| n * 1_000_000;
        assert_eq!(d.observe(ms(24), t0), Verdict::Fine);
        assert_eq!(d.observe(ms(25), t0), Verdict::Report { unreported: 0 });
        assert_eq!(d.observe(ms(30), t0 + ms(100)), Verdict::Quiet);
        assert_eq!(d.observe(ms(90), t0 + ms(999)), Verdict::Quiet);
        assert_eq!(d.observe(ms(1), t0 + ms(1500)), Verdict::Fine);
        assert_eq!(
            d.observe(ms(40), t0 + ms(1000)),
            Verdict::Report { unreported: 2 }
        );
        assert_eq!(d.observe(ms(40), t0 + ms(1200)), Verdict::Quiet);
    }
}
