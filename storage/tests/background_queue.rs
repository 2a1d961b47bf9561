//! Flushes and compactions run in the low-share background task queue
//! (`Options::background_shares`), or in the default queue when asked.

mod common;

use common::{runtime, TempDir};
use frys_runtime::QueueStats;
use frys_storage::{Db, Options, BACKGROUND_QUEUE};

fn small_tables(background_shares: Option<u32>) -> Options {
    Options {
        memtable_bytes: 64 << 10,
        target_file_size: 64 << 10,
        level_base_bytes: 256 << 10,
        background_shares,
        ..Options::default()
    }
}

/// Writes enough for several flushes and a compaction, then waits for
/// the background work; returns the stats of the core's task queues.
fn write_and_compact(dir: &TempDir, opts: Options) -> Vec<QueueStats> {
    let rt = runtime();
    rt.block_on(async {
        let db = Db::open(dir.path(), opts).await.unwrap();
        let value = vec![7u8; 512];
        for _ in 0..4 {
            for i in 0..400u32 {
                db.put(format!("key{i:05}").as_bytes(), &value)
                    .await
                    .unwrap();
            }
            db.flush().await.unwrap();
        }
        db.compact_range().await.unwrap();
        assert!(db.metrics().compactions > 0);
        assert_eq!(db.get(b"key00042").await.unwrap(), Some(value));
        db.close().await.unwrap();
    });
    rt.stats().swap_remove(0).queues
}

fn polls_of(queues: &[QueueStats], name: &str) -> Option<u64> {
    queues.iter().find(|q| q.name == name).map(|q| q.polls)
}

#[test]
fn compactions_run_in_the_background_queue() {
    let dir = TempDir::new("background-queue");
    let queues = write_and_compact(&dir, small_tables(Some(10)));
    let background = queues.iter().find(|q| q.name == BACKGROUND_QUEUE).unwrap();
    assert_eq!(background.shares, 10);
    assert!(background.polls > 0, "{queues:?}");
}

#[test]
fn flushes_run_in_the_default_queue() {
    let dir = TempDir::new("background-flush");
    let rt = runtime();
    rt.block_on(async {
        let db = Db::open(dir.path(), small_tables(Some(10))).await.unwrap();
        db.put(b"key", b"value").await.unwrap();
        db.flush().await.unwrap();
        assert_eq!(db.metrics().compactions, 0);
        db.close().await.unwrap();
    });
    let queues = rt.stats().swap_remove(0).queues;
    assert_eq!(polls_of(&queues, BACKGROUND_QUEUE), None, "{queues:?}");
}

#[test]
fn background_work_can_stay_in_the_default_queue() {
    let dir = TempDir::new("background-default");
    let queues = write_and_compact(&dir, small_tables(None));
    assert_eq!(polls_of(&queues, BACKGROUND_QUEUE), None, "{queues:?}");
    assert!(polls_of(&queues, "default").unwrap() > 0);
}
