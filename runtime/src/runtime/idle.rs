//! Idle policy: poll, then park.
//!
//! A core that runs out of work keeps looking at its queues, its incoming
//! mesh rings, the other cores' stealable queues and its completion queue
//! for a bounded window ([`Builder::idle_poll`](super::Builder::idle_poll))
//! before it parks in the kernel. Work that arrives inside the window is
//! picked up in well under a microsecond instead of paying for a park and
//! a cross-CPU wake of a sleeping thread (tens of microseconds, more under
//! a hypervisor). The window costs at most that much CPU per idle period;
//! once it has passed, the core parks with the usual flag protocol
//! (`sync::park`), so an idle runtime uses almost no CPU.
//!
//! Polling is only a fast path: everything it looks at is re-checked by
//! the park protocol before the core sleeps, so a hint missed here is
//! never a lost wake-up.
//!
//! The window adapts ([`IdleWindow`]) unless the builder turns that off:
//! - a window that passes with nothing found is halved (down to zero), so a
//!   core whose work comes rarely stops burning CPU after a few idle
//!   periods;
//! - a park that a wake-up (not its own timer) ended sooner than the
//!   configured window would have restores the full window, since polling
//!   would have caught that work;
//! - a core whose thread was preempted while it polled (its involuntary
//!   context switches went up, `getrusage(RUSAGE_THREAD)`) shares its CPU
//!   with runnable threads, perhaps the very client it waits for: it parks
//!   at once for [`CONTENDED_BACKOFF`], then tries the full window again.
//!
//! The window only ever decides how long to poll; it never skips a
//! re-check, so adapting it cannot lose a wake-up either.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The default window: about what parking and being woken costs, so that
/// whatever the gap until the next piece of work, polling never spends
/// more than about twice the CPU that knowing the gap in advance would
/// (the ski-rental rule: poll as long as blocking would cost, then block).
/// Waking a thread parked on the other CPU of this project's 2-vCPU VM
/// costs ~36 µs. Longer windows take CPU from clients that share the
/// CPUs: in one loaded run of the echo bench on one core (3 rounds each),
/// frys' server CPU per request against tokio's was 1.32x with the former
/// default (2 ms on a VM, Seastar's value), 1.23x at 200 µs, 1.25x at
/// 50 µs and 1.13x at 0; no window at all would give back the park and
/// wake-up on every cross-core round trip (72 µs instead of under 3 µs).
pub(crate) const DEFAULT_IDLE_POLL: Duration = Duration::from_micros(50);

/// A poll shorter than this is not checked for preemption (the check is a
/// system call).
pub(crate) const PREEMPTION_CHECK_AFTER: Duration = Duration::from_micros(20);

/// How long a core that was preempted while polling parks at once.
pub(crate) const CONTENDED_BACKOFF: Duration = Duration::from_millis(100);

/// A halved window below this is zero.
const MIN_WINDOW: Duration = Duration::from_micros(5);

/// One core's idle-poll window (see the module docs). Core-local.
pub(crate) struct IdleWindow {
    /// The configured window (`Builder::idle_poll`): never exceeded.
    max: Duration,
    adaptive: bool,
    current: Cell<Duration>,
    /// Set when the core was preempted while polling: no polling until then.
    contended_until: Cell<Option<Instant>>,
}

impl IdleWindow {
    pub(crate) fn new(max: Duration, adaptive: bool) -> Self {
        Self {
            max,
            adaptive,
            current: Cell::new(max),
            contended_until: Cell::new(None),
        }
    }

    /// How long to poll in the idle period that starts at `now`.
    pub(crate) fn get(&self, now: Instant) -> Duration {
        if !self.adaptive {
            return self.max;
        }
        if let Some(until) = self.contended_until.get() {
            if now < until {
                return Duration::ZERO;
            }
            self.contended_until.set(None);
            self.current.set(self.max);
        }
        self.current.get()
    }

    /// Whether preemption is worth checking after polling for `polled`.
    pub(crate) fn checks_preemption(&self, polled: Duration) -> bool {
        self.adaptive && polled >= PREEMPTION_CHECK_AFTER
    }

    /// A poll ended at `now`: `found` whether work (or a due timer) came,
    /// `preempted` whether the thread was preempted while polling.
    pub(crate) fn polled(&self, found: bool, preempted: bool, now: Instant) {
        if !self.adaptive {
            return;
        }
        if preempted {
            self.contended_until.set(Some(now + CONTENDED_BACKOFF));
            self.current.set(Duration::ZERO);
        } else if !found {
            let half = self.current.get() / 2;
            self.current.set(if half < MIN_WINDOW {
                Duration::ZERO
            } else {
                half
            });
        }
    }

    /// A park ended after `slept`; `by_timeout` if its own timeout (the
    /// next timer) ended it rather than a completion or a wake-up.
    pub(crate) fn parked(&self, slept: Duration, by_timeout: bool) {
        if !self.adaptive || by_timeout || self.contended_until.get().is_some() {
            return;
        }
        if slept < self.max {
            self.current.set(self.max);
        }
    }
}

/// Involuntary context switches of the calling thread so far (`None` if
/// the kernel would not say).
pub(crate) fn involuntary_switches() -> Option<i64> {
    // SAFETY: all-zero bytes are a valid `rusage` (plain integers and
    // timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`; RUSAGE_THREAD asks for
    // the calling thread only and getrusage writes nothing else.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    (rc == 0).then_some(usage.ru_nivcsw)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_millis(2);

    #[test]
    fn empty_windows_halve_down_to_zero() {
        let w = IdleWindow::new(MAX, true);
        let now = Instant::now();
        let mut seen = vec![w.get(now)];
        while w.get(now) > Duration::ZERO {
            w.polled(false, false, now);
            seen.push(w.get(now));
        }
        assert_eq!(seen[0], MAX);
        assert_eq!(seen[1], MAX / 2);
        assert!(seen.len() < 16, "{seen:?}");
    }

    #[test]
    fn found_work_keeps_the_window() {
        let w = IdleWindow::new(MAX, true);
        let now = Instant::now();
        w.polled(false, false, now);
        w.polled(true, false, now);
        assert_eq!(w.get(now), MAX / 2);
    }

    #[test]
    fn a_short_park_restores_the_full_window_and_a_long_or_timed_one_does_not() {
        let w = IdleWindow::new(MAX, true);
        let now = Instant::now();
        for _ in 0..20 {
            w.polled(false, false, now);
        }
        assert_eq!(w.get(now), Duration::ZERO);
        w.parked(MAX * 10, false);
        assert_eq!(w.get(now), Duration::ZERO);
        w.parked(MAX / 10, true);
        assert_eq!(w.get(now), Duration::ZERO);
        w.parked(MAX / 10, false);
        assert_eq!(w.get(now), MAX);
    }

    #[test]
    fn preemption_stops_polling_for_the_backoff_then_tries_again() {
        let w = IdleWindow::new(MAX, true);
        let now = Instant::now();
        w.polled(true, true, now);
        assert_eq!(w.get(now), Duration::ZERO);
        // Short parks while contended do not bring polling back early.
        w.parked(Duration::from_micros(1), false);
        assert_eq!(w.get(now + CONTENDED_BACKOFF / 2), Duration::ZERO);
        assert_eq!(w.get(now + CONTENDED_BACKOFF), MAX);
    }

    #[test]
    fn a_fixed_window_never_adapts() {
        let w = IdleWindow::new(MAX, false);
        let now = Instant::now();
        w.polled(false, true, now);
        w.polled(false, false, now);
        assert_eq!(w.get(now), MAX);
        assert!(!w.checks_preemption(MAX));
    }

    #[test]
    fn involuntary_switches_are_readable() {
        assert!(involuntary_switches().is_some_and(|n| n >= 0));
    }
}
