//! Task queues on a running core: shares, no credit for sleeping, the
//! quota, inheritance, stealing; and the stall detector. No test asserts a
//! duration: shares are checked on the time the scheduler charged each
//! queue (`QueueStats::runtime`), polls are made long with a clock only
//! to be sure they pass the quota or the stall threshold.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::runtime::core::BUDGET;
use crate::{Cores, QueueStats, Runtime, TaskQueue, TaskQueueError, MAX_SHARES};

fn one_core() -> crate::Builder {
    Runtime::builder().cores(Cores::Count(1)).pin(false)
}

/// A unit of CPU work that the compiler cannot remove.
fn work_unit() {
    let mut x = 1u64;
    for i in 0..2_000u64 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    std::hint::black_box(x);
}

/// Spins for at least `d` (to outlast a quota or a stall threshold).
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        work_unit();
    }
}

fn queue_stats(rt: &Runtime, name: &str) -> QueueStats {
    rt.stats()[0]
        .queues
        .iter()
        .find(|q| q.name == name)
        .cloned()
        .unwrap_or_default()
}

/// A task that works and yields until `stop` is set.
fn busy(queue: &TaskQueue, stop: &Rc<Cell<bool>>) -> crate::JoinHandle<()> {
    let stop = stop.clone();
    queue.spawn_local(async move {
        while !stop.get() {
            work_unit();
            crate::yield_now().await;
        }
    })
}

#[test]
fn busy_queues_of_shares_1_and_3_split_a_core_1_to_3() {
    let rt = one_core().build().unwrap();
    let (ratios, low, high) = rt.block_on(async {
        let low = TaskQueue::new("one-share", 1).unwrap();
        let high = TaskQueue::new("three-shares", 3).unwrap();
        let stop = Rc::new(Cell::new(false));
        let tasks: Vec<_> = (0..2)
            .flat_map(|_| [busy(&low, &stop), busy(&high, &stop)])
            .collect();
        // The split so far, sampled as it converges. One slice the OS
        // stretches (preempting the thread mid-poll) skews the split until
        // the other queue has caught up; the median of the samples is not
        // moved by such passing skews, the last sample could be.
        let mut ratios = Vec::new();
        loop {
            crate::time::sleep(Duration::from_millis(2)).await;
            let (l, h) = (
                queue_stats(&rt, "one-share").runtime,
                queue_stats(&rt, "three-shares").runtime,
            );
            if l >= Duration::from_millis(30) {
                // The one-share queue's part of the core's time: 1/4.
                ratios.push(l.as_secs_f64() / (l + h).as_secs_f64());
            }
            if l >= Duration::from_millis(200) && ratios.len() >= 40 {
                break;
            }
        }
        stop.set(true);
        for t in tasks {
            t.await.unwrap();
        }
        (
            ratios,
            queue_stats(&rt, "one-share"),
            queue_stats(&rt, "three-shares"),
        )
    });
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    // Each queue's part of the core within 10% of its due (1/4 and 3/4).
    let part = sorted[sorted.len() / 2];
    assert!(
        (part - 0.25).abs() <= 0.1 * 0.25,
        "the one-share queue had {part:.3} of the core, not within 10% of 1/4: \
         {ratios:.3?} {low:?} {high:?}"
    );
    assert!(low.polls > 0 && high.polls > low.polls, "{low:?} {high:?}");
}

#[test]
fn a_queue_that_slept_gets_no_credit_for_it() {
    let rt = one_core().build().unwrap();
    let (awake, sleeper) = rt.block_on(async {
        let awake = TaskQueue::new("awake", 1).unwrap();
        let sleeper = TaskQueue::new("sleeper", 1).unwrap();
        let stop = Rc::new(Cell::new(false));
        let (wake_up, sleeping) = crate::sync::oneshot::channel::<()>();
        let sleeper_task = {
            let stop = stop.clone();
            sleeper.spawn_local(async move {
                work_unit();
                let _ = sleeping.await;
                while !stop.get() {
                    work_unit();
                    crate::yield_now().await;
                }
            })
        };
        let awake_task = busy(&awake, &stop);
        // `awake` has the core to itself for a long time.
        while queue_stats(&rt, "awake").runtime < Duration::from_millis(300) {
            crate::time::sleep(Duration::from_millis(5)).await;
        }
        let before = (queue_stats(&rt, "awake"), queue_stats(&rt, "sleeper"));
        let _ = wake_up.send(());
        // With credit, the sleeper would now run alone for ~300 ms.
        while queue_stats(&rt, "sleeper").runtime < before.1.runtime + Duration::from_millis(200) {
            crate::time::sleep(Duration::from_millis(2)).await;
        }
        stop.set(true);
        let after = (queue_stats(&rt, "awake"), queue_stats(&rt, "sleeper"));
        sleeper_task.await.unwrap();
        awake_task.await.unwrap();
        (
            after.0.runtime - before.0.runtime,
            after.1.runtime - before.1.runtime,
        )
    });
    // Equal shares: about equal time, but one slice the OS stretched at
    // the end may skew it; with credit the other queue would get none.
    assert!(
        awake >= sleeper / 4,
        "the woken queue ran {sleeper:?} while the other got {awake:?}"
    );
}

/// Polls of a busy task in one queue seen when a task of another queue
/// first runs (both spawned together, the busy one first).
fn busy_polls_before_another_queue_runs(quota: Duration, long_polls: bool) -> (usize, bool) {
    let rt = one_core().task_quota(quota).build().unwrap();
    rt.block_on(async {
        let first = TaskQueue::new("first", 100).unwrap();
        let second = TaskQueue::new("second", 100).unwrap();
        let polls = Rc::new(Cell::new(0usize));
        let done = Rc::new(Cell::new(false));
        let exited = Rc::new(Cell::new(false));
        let busy = {
            let (polls, done, exited) = (polls.clone(), done.clone(), exited.clone());
            first.spawn_local(async move {
                while !done.get() {
                    polls.set(polls.get() + 1);
                    if long_polls {
                        spin_for(quota * 2);
                    }
                    crate::yield_now().await;
                }
                exited.set(true);
            })
        };
        let other = second.spawn_local(async move {
            done.set(true);
            (polls.get(), !exited.get())
        });
        let seen = other.await.unwrap();
        busy.await.unwrap();
        seen
    })
}

#[test]
fn the_quota_makes_a_busy_queue_yield_to_another() {
    // Each poll of the busy task outlasts the quota: the other queue runs
    // after its first poll, while it is still busy.
    let (seen, still_busy) = busy_polls_before_another_queue_runs(Duration::from_micros(200), true);
    assert_eq!(seen, 1);
    assert!(still_busy);
    // With a quota that never passes, only the end of the tick's budget
    // lets the other queue in.
    let (seen, _) = busy_polls_before_another_queue_runs(Duration::from_secs(3600), false);
    assert_eq!(seen, BUDGET);
}

#[test]
fn spawned_tasks_inherit_their_spawners_queue() {
    let rt = one_core().build().unwrap();
    rt.block_on(async {
        let q = TaskQueue::new("parent", 7).unwrap();
        let child = q
            .spawn_local(async {
                let local = crate::spawn_local(async { 1 });
                let stealable = crate::spawn(async { 2 });
                local.await.unwrap() + stealable.await.unwrap()
            })
            .await
            .unwrap();
        assert_eq!(child, 3);
    });
    let parent = queue_stats(&rt, "parent");
    // The parent's polls (at least two: it waits for its children) and one
    // poll of each child.
    assert!(parent.polls >= 4, "{parent:?}");
    assert_eq!(parent.shares, 7);
    // The `block_on` future is not a task: nothing ran in the default queue.
    assert_eq!(queue_stats(&rt, "default").polls, 0);
}

#[test]
fn a_stolen_task_stays_in_its_queue() {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .pin(false)
        .build()
        .unwrap();
    rt.block_on(async {
        let q = TaskQueue::new("stolen", 5).unwrap();
        // A flood of CPU-bound `Send` tasks on core 0: core 1, woken for
        // the backlog, steals some (as in `tests/stealing.rs`, with as
        // much work per task).
        let handles: Vec<_> = (0..200)
            .map(|_| {
                q.spawn(async {
                    for _ in 0..100 {
                        work_unit();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let stats = rt.stats();
    let polls = |core: usize, name: &str| {
        let queues = &stats[core].queues;
        queues.iter().find(|q| q.name == name).unwrap().polls
    };
    assert!(stats[1].steals > 0, "core 1 stole nothing: {stats:?}");
    // Each stolen task ran in one poll on core 1, in its own queue (queue
    // polls are counted before the poll, so they are exact once every
    // task's result is in).
    assert_eq!(polls(1, "stolen"), stats[1].steals, "{stats:?}");
    assert_eq!(polls(1, "stolen"), stats[1].polls, "{stats:?}");
    assert_eq!(polls(1, "default"), 0, "{stats:?}");
}

#[test]
fn queue_names_are_unique_shares_are_bounded_and_slots_run_out() {
    let rt = one_core().build().unwrap();
    rt.block_on(async {
        assert!(matches!(
            TaskQueue::new("x", 0),
            Err(TaskQueueError::Shares(0))
        ));
        assert!(matches!(
            TaskQueue::new("x", MAX_SHARES + 1),
            Err(TaskQueueError::Shares(_))
        ));
        let x = TaskQueue::new("x", 3).unwrap();
        match TaskQueue::new("x", 9) {
            Err(TaskQueueError::Exists(same)) => assert_eq!(same.shares(), x.shares()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            TaskQueue::new("default", 1),
            Err(TaskQueueError::Exists(_))
        ));
        let mut made = 2; // default and x
        loop {
            match TaskQueue::new(&format!("q{made}"), 1) {
                Ok(_) => made += 1,
                Err(TaskQueueError::Full) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(made, super::MAX_QUEUES);
    });
}

#[test]
#[should_panic(expected = "belongs to another frys runtime")]
fn a_queue_of_another_runtime_is_refused() {
    let a = one_core().build().unwrap();
    let q = a.block_on(async { TaskQueue::new("mine", 1).unwrap() });
    let b = one_core().build().unwrap();
    b.block_on(async { drop(q.spawn_local(async {})) });
}

/// Records the `tracing` events emitted on this thread.
#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", f.name(), v));
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_stalling_poll_is_reported_with_its_queue_and_spawn_site_and_counted() {
    let recorder = Recorder::default();
    // `tracing` caches per callsite, process-wide, whether a subscriber
    // wants its events. While only one dispatcher is registered it asks
    // the registering thread's, so a sibling test's core (no subscriber)
    // reaching the report first would cache "never". With a second one
    // registered, every registration and rebuild asks all of them.
    let _second = tracing::Dispatch::new(Recorder::default());
    let threshold = Duration::from_millis(5);
    let (stalls, spawn_line) = tracing::subscriber::with_default(recorder.clone(), || {
        let rt = one_core().stall_threshold(threshold).build().unwrap();
        let line = rt.block_on(async {
            let q = TaskQueue::new("blocker", 10).unwrap();
            // Recomputed with the recorders registered (see above), in
            // case a sibling registered the callsite meanwhile.
            let line = line!() + 1;
            let h = q.spawn_local(async move {
                tracing::callsite::rebuild_interest_cache();
                std::thread::sleep(threshold * 4)
            });
            h.await.unwrap();
            // A second stall right after: counted, rate-limited.
            crate::spawn_local(async move { std::thread::sleep(threshold * 4) })
                .await
                .unwrap();
            line
        });
        (rt.stats()[0].stalls, line)
    });
    assert_eq!(stalls, 2);
    let events = recorder.0.lock().unwrap();
    let reports: Vec<_> = events.iter().filter(|e| e.contains("stalled")).collect();
    // The second stall came well within a second of the first: counted
    // but not reported.
    assert_eq!(reports.len(), 1, "{events:?}");
    let first = reports[0];
    assert!(first.contains("queue=\"blocker\""), "{first}");
    let site = format!("{}:{spawn_line}:", file!());
    assert!(first.contains(&site), "{first} lacks {site}");
}
