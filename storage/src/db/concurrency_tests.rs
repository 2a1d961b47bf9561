//! Background work under load: flushes go on while compactions are held
//! at the test gate, and several compactions run at once.

use super::test_hooks::{flush_only, runtime, TempDir};
use super::*;
use crate::options::SyncPolicy;
use frys_runtime as rt;

fn options() -> Options {
    Options {
        sync: SyncPolicy::No,
        max_compactions: 2,
        ..Options::default()
    }
}

/// Writes `prefix0000..prefix0199` with `round` in the values.
async fn write_range(db: &Db, prefix: &str, round: u32) {
    for i in 0..200 {
        let key = format!("{prefix}{i:04}");
        db.put(key.as_bytes(), format!("{key}@{round}").as_bytes())
            .await
            .expect("a write is accepted while a compaction is held");
    }
}

async fn check_range(db: &Db, prefix: &str, round: u32) {
    for i in 0..200 {
        let key = format!("{prefix}{i:04}");
        let got = db.get(key.as_bytes()).await.unwrap();
        assert_eq!(got, Some(format!("{key}@{round}").into_bytes()), "{key}");
    }
}

#[test]
fn flushes_complete_while_a_compaction_is_held() {
    let dir = TempDir::new("flush-during-compaction");
    runtime().block_on(async {
        let db = Db::open(dir.path(), options()).await.unwrap();
        let gate = &db.inner.test_hooks.merge_gate;
        gate.close();
        // Four overlapping L0 tables reach the L0 trigger: a merge starts
        // and waits at the gate with its inputs busy.
        for round in 0..4 {
            write_range(&db, "a", round).await;
            flush_only(&db).await;
        }
        gate.until_waiting(1).await;
        assert_eq!(gate.waiting(), 1, "one L0->L1 merge is held");
        let compactions = db.metrics().compactions;
        // Flushes and writes go on while it is held.
        for round in 4..7 {
            write_range(&db, "a", round).await;
            flush_only(&db).await;
            assert_eq!(gate.waiting(), 1);
        }
        let m = db.metrics();
        assert_eq!(
            m.compactions, compactions,
            "the held merge has not finished"
        );
        assert_eq!(m.flushes, 7);
        assert_eq!(m.tables_per_level[0], 7, "the new L0 tables are installed");
        check_range(&db, "a", 6).await;
        gate.open();
        db.flush().await.unwrap();
        assert!(db.metrics().compactions > compactions);
        check_range(&db, "a", 6).await;
        db.close().await.unwrap();
        let db = Db::open(dir.path(), options()).await.unwrap();
        check_range(&db, "a", 6).await;
        db.close().await.unwrap();
    });
}

#[test]
fn compactions_on_disjoint_inputs_run_at_once() {
    let dir = TempDir::new("concurrent-compactions");
    runtime().block_on(async {
        let db = Db::open(dir.path(), options()).await.unwrap();
        let gate = &db.inner.test_hooks.merge_gate;
        gate.close();
        for round in 0..4 {
            write_range(&db, "a", round).await;
            flush_only(&db).await;
        }
        gate.until_waiting(1).await;
        // Four more L0 tables over keys no busy table covers: a second
        // merge starts beside the first.
        for round in 0..4 {
            write_range(&db, "b", round).await;
            flush_only(&db).await;
        }
        gate.until_waiting(2).await;
        assert_eq!(
            gate.waiting(),
            2,
            "two merges on disjoint inputs run at once"
        );
        assert_eq!(db.inner.busy_tables.borrow().len(), 8);
        // A third range: its flushes complete with both merges held.
        for round in 0..2 {
            write_range(&db, "c", round).await;
            flush_only(&db).await;
        }
        assert_eq!(gate.waiting(), 2);
        assert_eq!(db.metrics().tables_per_level[0], 10);
        gate.open();
        db.flush().await.unwrap();
        assert!(db.inner.busy_tables.borrow().is_empty());
        assert!(db.metrics().compactions >= 2);
        for (prefix, round) in [("a", 3), ("b", 3), ("c", 1)] {
            check_range(&db, prefix, round).await;
        }
        db.close().await.unwrap();
        let db = Db::open(dir.path(), options()).await.unwrap();
        for (prefix, round) in [("a", 3), ("b", 3), ("c", 1)] {
            check_range(&db, prefix, round).await;
        }
        db.close().await.unwrap();
    });
}

#[test]
fn write_stops_and_slowdowns_are_counted_and_timed() {
    let dir = TempDir::new("stall-metrics");
    runtime().block_on(async {
        let db = Db::open(dir.path(), options()).await.unwrap();
        let gate = &db.inner.test_hooks.merge_gate;
        gate.close();
        let stop_at = crate::compaction::PolicyConfig::default().l0_stop;
        // Overlapping L0 tables pile up behind the held merge until writes
        // stop.
        for round in 0..stop_at {
            for i in 0..20 {
                let key = format!("k{i:02}");
                db.put(key.as_bytes(), format!("{round}").as_bytes())
                    .await
                    .unwrap();
            }
            flush_only(&db).await;
        }
        gate.until_waiting(1).await;
        let m = db.metrics();
        assert_eq!(m.tables_per_level[0], stop_at);
        assert!(m.write_slowdowns > 0, "{m:?}");
        assert!(m.write_slowdown_micros > 0, "{m:?}");
        assert_eq!((m.write_stops, m.write_stop_periods), (0, 0), "{m:?}");
        // A write now waits until the merge ends.
        let writer = {
            let db = db.clone();
            rt::spawn_local(async move { db.put(b"k00", b"after").await })
        };
        for _ in 0..1000 {
            if db.metrics().write_stops > 0 {
                break;
            }
            rt::yield_now().await;
        }
        let m = db.metrics();
        assert_eq!((m.write_stops, m.write_stop_periods), (1, 1), "{m:?}");
        assert!(
            !writer.is_finished(),
            "the write waits while writes are stopped"
        );
        gate.open();
        writer.await.unwrap().unwrap();
        let m = db.metrics();
        assert_eq!(m.write_stop_periods, 1, "{m:?}");
        assert!(m.longest_write_stop_micros > 0, "{m:?}");
        assert!(m.write_stop_micros >= m.longest_write_stop_micros, "{m:?}");
        db.flush().await.unwrap();
        assert_eq!(db.get(b"k00").await.unwrap(), Some(b"after".to_vec()));
        db.close().await.unwrap();
    });
}
