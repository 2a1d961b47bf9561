//! The compaction filter: compactions drop elements whose metadata no longer
//! holds their version, keep what a snapshot still sees, and never let an
//! older version resurface.

mod common;

use common::collections::{
    all_elements, element_key, elements_of, meta_key, version_value, with_filter,
};
use common::{runtime, TempDir};
use frys_storage::{Db, Options, WriteBatch};

fn opts() -> Options {
    with_filter(Options {
        // Table sizes then show how many value bytes are left.
        compression: false,
        ..Options::default()
    })
}

const VALUE_LEN: usize = 1024;

/// Writes collection `name` at `version` with `subs` elements, as one batch.
async fn write_collection(db: &Db, name: &str, version: u64, subs: usize) {
    let mut batch = WriteBatch::new();
    batch.put(&meta_key(name), &version_value(version));
    for sub in 0..subs {
        let key = element_key(name, version, &sub.to_string());
        batch.put(&key, &[b'v'; VALUE_LEN]);
    }
    db.write(batch).await.unwrap();
}

async fn count(db: &Db, range: std::ops::Range<Vec<u8>>) -> usize {
    db.scan(range).collect().await.unwrap().len()
}

fn table_bytes(db: &Db) -> u64 {
    db.metrics().bytes_per_level.iter().sum()
}

#[test]
fn compaction_drops_elements_of_overwritten_deleted_and_expired_collections() {
    let dir = TempDir::new("filter-dead");
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts()).await.unwrap();
        for (version, name) in ["a", "b", "c", "d"].into_iter().enumerate() {
            write_collection(&db, name, version as u64 + 1, 20).await;
        }
        db.flush().await.unwrap();
        // a gets a new version, b is deleted, c expires, d stays.
        write_collection(&db, "a", 5, 3).await;
        db.delete(&meta_key("b")).await.unwrap();
        db.put_with_expiry(&meta_key("c"), &version_value(3), 1)
            .await
            .unwrap();
        assert_eq!(
            count(&db, elements_of("a", 1)).await,
            20,
            "not yet compacted"
        );

        db.compact_range().await.unwrap();
        for (name, version) in [("a", 1), ("b", 2)] {
            assert_eq!(count(&db, elements_of(name, version)).await, 0, "{name}");
        }
        // An expired dependency still stored keeps its records: this
        // compaction turned it into a tombstone, the next one sees that.
        assert_eq!(count(&db, elements_of("c", 3)).await, 20);
        db.compact_range().await.unwrap();
        for (name, version) in [("a", 1), ("b", 2), ("c", 3)] {
            assert_eq!(count(&db, elements_of(name, version)).await, 0, "{name}");
        }
        assert_eq!(count(&db, elements_of("a", 5)).await, 3);
        assert_eq!(count(&db, elements_of("d", 4)).await, 20);
        assert_eq!(count(&db, all_elements()).await, 23);
        let live = element_key("d", 4, "7");
        assert_eq!(db.get(&live).await.unwrap(), Some(vec![b'v'; VALUE_LEN]));

        let m = db.metrics();
        assert_eq!(m.compaction_filtered, 60, "{m:?}");
        // 23 elements are left; the 60 dead ones are not in any table.
        let bytes = table_bytes(&db);
        assert!(bytes > 23 * VALUE_LEN as u64, "{m:?}");
        assert!(bytes < 40 * VALUE_LEN as u64, "{m:?}");
        db.close().await.unwrap();
    });
}

#[test]
fn a_snapshot_from_before_the_metadata_change_keeps_the_elements() {
    let dir = TempDir::new("filter-snapshot");
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts()).await.unwrap();
        // Sees none of the elements, so it needs none of them.
        let before_everything = db.snapshot();
        write_collection(&db, "a", 1, 10).await;
        db.flush().await.unwrap();
        let old = db.snapshot();
        write_collection(&db, "a", 2, 1).await;
        // Sees the new version already: no reason to keep the old one.
        let after = db.snapshot();

        db.compact_range().await.unwrap();
        assert_eq!(db.metrics().compaction_filtered, 0);
        let kept = db
            .scan_at(&old, elements_of("a", 1))
            .collect()
            .await
            .unwrap();
        assert_eq!(kept.len(), 10);
        let key = element_key("a", 1, "3");
        assert_eq!(
            db.get_at(&old, &key).await.unwrap(),
            Some(vec![b'v'; VALUE_LEN])
        );
        assert_eq!(
            db.get_at(&old, &meta_key("a")).await.unwrap(),
            Some(version_value(1))
        );

        drop(old);
        db.compact_range().await.unwrap();
        assert_eq!(db.metrics().compaction_filtered, 10);
        assert_eq!(count(&db, elements_of("a", 1)).await, 0);
        let through_after = db.scan_at(&after, all_elements()).collect().await.unwrap();
        assert_eq!(through_after.len(), 1);
        let through_first = db.scan_at(&before_everything, all_elements());
        assert_eq!(through_first.collect().await.unwrap(), vec![]);
        db.close().await.unwrap();
    });
}

#[test]
fn an_older_version_in_a_lower_level_does_not_resurface() {
    let dir = TempDir::new("filter-resurface");
    let key = element_key("a", 1, "x");
    runtime().block_on(async {
        // Tiny levels: the table of the old version sinks below L1.
        let sinking = Options {
            level_base_bytes: 1,
            ..opts()
        };
        let db = Db::open(dir.path(), sinking).await.unwrap();
        let mut batch = WriteBatch::new();
        batch.put(&meta_key("a"), &version_value(1));
        batch.put(&key, b"old");
        db.write(batch).await.unwrap();
        db.compact_range().await.unwrap();
        let levels = db.metrics().tables_per_level;
        assert_eq!(levels[..2], [0, 0], "{levels:?}");
        assert_eq!(levels.iter().sum::<usize>(), 1, "{levels:?}");
        db.close().await.unwrap();
    });
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts()).await.unwrap();
        // The element's newest version, then its death; four overlapping
        // L0 tables make the policy merge them into L1, above the old one.
        let mut batch = WriteBatch::new();
        batch.put(&meta_key("a"), &version_value(1));
        batch.put(&key, b"new");
        db.write(batch).await.unwrap();
        db.flush().await.unwrap();
        write_collection(&db, "a", 2, 1).await;
        db.flush().await.unwrap();
        for _ in 0..2 {
            db.put(&meta_key("a"), &version_value(2)).await.unwrap();
            db.flush().await.unwrap();
        }
        let m = db.metrics();
        assert_eq!(m.tables_per_level[..2], [0, 1], "{m:?}");
        assert_eq!(m.tables_per_level.iter().sum::<usize>(), 2, "{m:?}");
        assert_eq!(m.compaction_filtered, 1, "{m:?}");
        assert_eq!(db.get(&key).await.unwrap(), None);
        assert_eq!(count(&db, elements_of("a", 1)).await, 0);
        assert_eq!(count(&db, elements_of("a", 2)).await, 1);

        db.compact_range().await.unwrap();
        assert_eq!(db.get(&key).await.unwrap(), None);
        assert_eq!(count(&db, all_elements()).await, 1);
        db.close().await.unwrap();
    });
}

#[test]
fn without_a_filter_compaction_keeps_every_element() {
    let dir = TempDir::new("filter-none");
    runtime().block_on(async {
        let db = Db::open(dir.path(), Options::default()).await.unwrap();
        write_collection(&db, "a", 1, 5).await;
        db.flush().await.unwrap();
        db.delete(&meta_key("a")).await.unwrap();
        db.compact_range().await.unwrap();
        assert_eq!(count(&db, elements_of("a", 1)).await, 5);
        assert_eq!(db.metrics().compaction_filtered, 0);
    });
}
