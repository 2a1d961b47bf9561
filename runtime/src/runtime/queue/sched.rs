//! One core's scheduler: a run list and an account per task queue, and the
//! choice of which queue runs next.
//!
//! Invariants (owner thread only, like everything in `CoreCtx`):
//! - `runs[q]` exists once queue `q` had a task on this core; it holds the
//!   queue's non-stealable run list (woken tasks, `spawn_local`, mesh
//!   arrivals). Its stealable deque lives beside it in `CoreCtx` (other
//!   cores steal from it), and the `stealable_empty` closures passed in
//!   say whether it is empty.
//! - A queue's virtual runtime only grows: `charge` adds the time its
//!   tasks were polled, times [`VRUNTIME_SCALE`], divided by its shares.
//!   [`pick`](Scheduler::pick) takes the runnable queue with the least.
//! - No credit for sleeping: when a queue that was not runnable gets a
//!   task (`note_runnable`), its virtual runtime is raised to at least the
//!   least one of the queues that are runnable, or, if none is, that of
//!   the queue picked last. A queue that slept therefore competes from
//!   where the others are, and cannot then hold the core for as long as
//!   it slept.
//! - One poll is charged at most [`poll_charge`]'s cap (the larger of the
//!   task quota and the stall threshold): a poll during which the thread
//!   was descheduled is measured in wall time, and charging the whole
//!   preemption would lock a low-share queue out for the preemption times
//!   the shares ratio (a 100 ms throttle at 10 vs 100 shares: 1 s).
//! - `runnable` is true from the push that makes a queue non-empty until a
//!   `pick` finds it empty (a steal may empty it meanwhile; `pick` then
//!   clears the flag). Only `note_runnable`'s rule depends on it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::table::QueueTable;

/// Charged nanoseconds are scaled by this before dividing by the shares,
/// so that a queue of [`MAX_SHARES`](super::MAX_SHARES) still moves.
pub(crate) const VRUNTIME_SCALE: u128 = 1000;

/// What one poll of `poll_ns` (wall time) is charged: at most `cap_ns`,
/// which `CoreCtx` sets to the larger of the task quota and the stall
/// threshold (see the module docs).
pub(crate) fn poll_charge(poll_ns: u64, cap_ns: u64) -> u64 {
    poll_ns.min(cap_ns)
}

pub(crate) struct Scheduler<T> {
    runs: Vec<QueueRun<T>>,
    /// Virtual runtime of the queue that ran last, after its charge (the
    /// floor of a queue that wakes up while no other is runnable).
    last_run: u128,
}

pub(crate) struct QueueRun<T> {
    pub(crate) local: VecDeque<T>,
    pub(crate) name: Arc<str>,
    shares: u32,
    vruntime: u128,
    runnable: bool,
}

impl<T> Default for Scheduler<T> {
    fn default() -> Self {
        Self {
            runs: Vec::new(),
            last_run: 0,
        }
    }
}

impl<T> Scheduler<T> {
    /// Queues `task` in queue `q`'s run list (at the front with `front`);
    /// true if that woke the queue up (see `note_runnable`).
    pub(crate) fn push(
        &mut self,
        table: &QueueTable,
        q: usize,
        task: T,
        front: bool,
        stealable_empty: impl Fn(usize) -> bool,
    ) -> bool {
        let woke = self.note_runnable(table, q, &stealable_empty);
        let local = &mut self.runs[q].local;
        if front {
            local.push_front(task);
        } else {
            local.push_back(task);
        }
        woke
    }

    /// Queue `q` is about to get a task (in its run list or its stealable
    /// deque): if it had none, it wakes up without credit, and this
    /// returns true.
    pub(crate) fn note_runnable(
        &mut self,
        table: &QueueTable,
        q: usize,
        stealable_empty: impl Fn(usize) -> bool,
    ) -> bool {
        self.materialize(table, q);
        if self.runs[q].runnable {
            return false;
        }
        let floor = self
            .runs
            .iter()
            .enumerate()
            .filter(|&(i, r)| i != q && r.runnable && (!r.local.is_empty() || !stealable_empty(i)))
            .map(|(_, r)| r.vruntime)
            .min()
            .unwrap_or(self.last_run);
        let run = &mut self.runs[q];
        run.vruntime = run.vruntime.max(floor);
        run.runnable = true;
        true
    }

    /// The runnable queue with the least virtual runtime (the lowest slot
    /// on a tie), and whether another queue is runnable too; `None` if no
    /// queue has a task.
    pub(crate) fn pick(
        &mut self,
        stealable_empty: impl Fn(usize) -> bool,
    ) -> Option<(usize, bool)> {
        let mut best: Option<(usize, u128)> = None;
        let mut runnable = 0;
        // (A linear scan: a runtime has at most 16 queues.)
        for (i, run) in self.runs.iter_mut().enumerate() {
            if !run.runnable {
                continue;
            }
            if run.local.is_empty() && stealable_empty(i) {
                run.runnable = false;
                continue;
            }
            runnable += 1;
            if best.is_none_or(|(_, v)| run.vruntime < v) {
                best = Some((i, run.vruntime));
            }
        }
        best.map(|(q, _)| (q, runnable > 1))
    }

    /// Adds `ran` of polling to queue `q`'s virtual runtime.
    pub(crate) fn charge(&mut self, q: usize, ran: Duration) {
        if let Some(run) = self.runs.get_mut(q) {
            run.vruntime += ran.as_nanos() * VRUNTIME_SCALE / u128::from(run.shares.max(1));
            self.last_run = run.vruntime;
        }
    }

    /// The next task of queue `q`'s run list.
    pub(crate) fn pop(&mut self, q: usize) -> Option<T> {
        self.runs.get_mut(q)?.local.pop_front()
    }

    /// The name of queue `q` on this core (for reports).
    pub(crate) fn name(&self, q: usize) -> Option<&Arc<str>> {
        self.runs.get(q).map(|r| &r.name)
    }

    /// How many queues this core has seen (slots `0..queues()`).
    pub(crate) fn queues(&self) -> usize {
        self.runs.len()
    }

    /// Whether some run list holds a task (stealable deques not included).
    pub(crate) fn has_local(&self) -> bool {
        self.runs.iter().any(|r| !r.local.is_empty())
    }

    /// Takes every task out of every run list (shutdown).
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.runs
            .iter_mut()
            .flat_map(|r| {
                r.runnable = false;
                r.local.drain(..)
            })
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn vruntime(&self, q: usize) -> u128 {
        self.runs[q].vruntime
    }

    fn materialize(&mut self, table: &QueueTable, q: usize) {
        while self.runs.len() <= q {
            let i = self.runs.len();
            // Every index a task carries names a created slot (see
            // `table`); a missing one could only be a bug, and the task
            // is still run, in a queue of default shares.
            let (name, shares) = match table.get(i) {
                Some(spec) => (spec.name.clone(), spec.shares),
                None => (Arc::from("unknown"), super::DEFAULT_SHARES),
            };
            self.runs.push(QueueRun {
                local: VecDeque::new(),
                name,
                shares,
                vruntime: 0,
                runnable: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE_STEALABLE: fn(usize) -> bool = |_| true;

    fn table(shares: &[u32]) -> QueueTable {
        let t = QueueTable::new();
        for (i, &s) in shares.iter().enumerate() {
            assert!(t.create(&format!("q{i}"), s).is_ok());
        }
        t
    }

    /// Runs `slices` picks, each charging `slice` to the picked queue and
    /// keeping every queue runnable; returns the time each queue got.
    fn simulate(t: &QueueTable, queues: &[usize], slice: Duration, slices: usize) -> Vec<u128> {
        let mut s = Scheduler::default();
        for &q in queues {
            s.push(t, q, (), false, NONE_STEALABLE);
        }
        let mut got = vec![0u128; t.iter().count()];
        for _ in 0..slices {
            let (q, _) = s.pick(NONE_STEALABLE).unwrap();
            s.charge(q, slice);
            got[q] += slice.as_nanos();
        }
        got
    }

    #[test]
    fn runnable_queues_split_the_time_by_their_shares() {
        let t = table(&[1, 3]);
        let slice = Duration::from_micros(500);
        let within_a_slice = |a: u128, b: u128| a.abs_diff(b) <= slice.as_nanos();
        let got = simulate(&t, &[1, 2], slice, 4000);
        assert!(within_a_slice(got[1] * 3, got[2]), "{got:?}");
        let t = table(&[10]);
        let got = simulate(&t, &[0, 1], slice, 1100);
        assert!(within_a_slice(got[0], 10 * got[1]), "{got:?}");
    }

    #[test]
    fn a_queue_that_slept_gets_no_credit() {
        let t = table(&[100]);
        let mut s = Scheduler::default();
        s.push(&t, 0, (), false, NONE_STEALABLE);
        // Queue 0 runs alone for a long time; queue 1 sleeps.
        for _ in 0..100 {
            assert_eq!(s.pick(NONE_STEALABLE), Some((0, false)));
            s.charge(0, Duration::from_millis(1));
        }
        assert!(s.push(&t, 1, (), false, NONE_STEALABLE));
        assert_eq!(s.vruntime(1), s.vruntime(0));
        assert_eq!(s.pick(NONE_STEALABLE), Some((0, true)));
        // From there on they alternate instead of queue 1 taking 100 ms.
        let mut ones_in_a_row = 0;
        for _ in 0..10 {
            let (q, _) = s.pick(NONE_STEALABLE).unwrap();
            s.charge(q, Duration::from_millis(1));
            ones_in_a_row = if q == 1 { ones_in_a_row + 1 } else { 0 };
            assert!(ones_in_a_row <= 1);
        }
    }

    #[test]
    fn a_queue_that_wakes_on_an_idle_core_starts_from_the_last_one_run() {
        let t = table(&[100]);
        let mut s = Scheduler::default();
        assert!(s.push(&t, 0, (), false, NONE_STEALABLE));
        assert!(
            !s.push(&t, 0, (), false, NONE_STEALABLE),
            "already runnable"
        );
        assert_eq!(s.pick(NONE_STEALABLE), Some((0, false)));
        s.charge(0, Duration::from_millis(50));
        assert_eq!(s.pop(0), Some(()));
        assert_eq!(s.pop(0), Some(()));
        // Queue 0 emptied; the core idles; then queue 0 and queue 1 wake.
        assert_eq!(s.pick(NONE_STEALABLE), None);
        s.push(&t, 1, (), false, NONE_STEALABLE);
        s.push(&t, 0, (), false, NONE_STEALABLE);
        let floor = 50_000_000 * VRUNTIME_SCALE / 100;
        assert_eq!(s.vruntime(1), floor);
        assert_eq!(s.vruntime(0), floor);
    }

    #[test]
    fn a_preempted_poll_locks_a_low_share_queue_out_only_for_the_capped_charge() {
        // Queue 1 (10 shares) and the default queue (100) are both busy.
        let t = table(&[10]);
        let cap = Duration::from_millis(25);
        let cap_ns = u64::try_from(cap.as_nanos()).unwrap();
        let mut s = Scheduler::default();
        s.push(&t, 0, (), false, NONE_STEALABLE);
        s.push(&t, 1, (), false, NONE_STEALABLE);
        // Queue 1 runs first (lower slot on the tie) and its poll is
        // stretched to 2 s by a preemption.
        assert_eq!(s.pick(NONE_STEALABLE), Some((0, true)));
        s.charge(0, Duration::from_millis(1));
        assert_eq!(s.pick(NONE_STEALABLE), Some((1, true)));
        let preempted = Duration::from_secs(2).as_nanos() as u64;
        s.charge(1, Duration::from_nanos(poll_charge(preempted, cap_ns)));
        // The default queue then runs 1 ms slices until queue 1 is picked.
        let slice = Duration::from_millis(1);
        let mut default_slices = 0u128;
        while s.pick(NONE_STEALABLE) == Some((0, true)) {
            s.charge(0, slice);
            default_slices += 1;
        }
        // Locked out for the cap times the shares ratio (100 / 10), not
        // for 2 s times it.
        let bound = cap.as_nanos() * 10 / slice.as_nanos() + 1;
        assert!(default_slices <= bound, "{default_slices} > {bound}");
        assert!(default_slices > 1, "the capped charge still counts");
    }

    #[test]
    fn a_queue_emptied_by_a_steal_is_not_picked() {
        let t = table(&[100]);
        let mut s: Scheduler<()> = Scheduler::default();
        let stealable = std::cell::Cell::new(true);
        s.note_runnable(&t, 1, |_| !stealable.get());
        // The task was stolen from queue 1's stealable deque.
        stealable.set(false);
        assert_eq!(s.pick(|_| !stealable.get()), None);
    }
}
