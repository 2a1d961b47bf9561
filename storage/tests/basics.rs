//! Put/get/delete, batches, reopen, flush, scans, snapshots, expiry.

mod common;

use common::{runtime, TempDir};
use frys_storage::{Db, Options, SyncPolicy, WriteBatch};

fn small_opts() -> Options {
    Options {
        memtable_bytes: 64 << 10,
        target_file_size: 32 << 10,
        level_base_bytes: 128 << 10,
        ..Options::default()
    }
}

#[test]
fn writes_are_readable_and_survive_reopen() {
    let dir = TempDir::new("basics");
    runtime().block_on(async {
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        db.put(b"a", b"1").await.unwrap();
        db.put(b"b", b"2").await.unwrap();
        db.delete(b"a").await.unwrap();
        let mut batch = WriteBatch::new();
        batch.put(b"c", b"3");
        batch.put(b"d", b"4");
        db.write(batch).await.unwrap();
        assert_eq!(db.get(b"a").await.unwrap(), None);
        assert_eq!(db.get(b"b").await.unwrap(), Some(b"2".to_vec()));
        assert_eq!(db.get(b"d").await.unwrap(), Some(b"4".to_vec()));
        db.close().await.unwrap();

        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        assert_eq!(db.get(b"a").await.unwrap(), None);
        assert_eq!(db.get(b"c").await.unwrap(), Some(b"3".to_vec()));
        db.flush().await.unwrap();
        assert_eq!(db.metrics().tables_per_level[0], 1);
        assert_eq!(db.get(b"b").await.unwrap(), Some(b"2".to_vec()));
        db.close().await.unwrap();

        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        assert_eq!(db.get(b"b").await.unwrap(), Some(b"2".to_vec()));
        assert_eq!(db.get(b"a").await.unwrap(), None);
        let all = db.scan(..).collect().await.unwrap();
        let keys: Vec<_> = all.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, vec![b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]);
    });
}

#[test]
fn many_writes_flush_and_compact_and_stay_correct() {
    let dir = TempDir::new("compact");
    runtime().block_on(async {
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        for round in 0..4u32 {
            for i in 0..3000u32 {
                let k = format!("key{:06}", (i * 7919) % 3000);
                let v = format!("value-{round}-{i}-{}", "x".repeat((i % 50) as usize));
                db.put(k.as_bytes(), v.as_bytes()).await.unwrap();
            }
        }
        for i in (0..3000u32).step_by(3) {
            db.delete(format!("key{i:06}").as_bytes()).await.unwrap();
        }
        db.flush().await.unwrap();
        let m = db.metrics();
        assert!(m.flushes > 3, "{m:?}");
        assert!(m.compactions > 0, "{m:?}");
        db.compact_range().await.unwrap();
        let m = db.metrics();
        assert_eq!(m.tables_per_level[0], 0, "{m:?}");
        for i in 0..3000u32 {
            let got = db.get(format!("key{i:06}").as_bytes()).await.unwrap();
            if i % 3 == 0 {
                assert_eq!(got, None, "key {i}");
            } else {
                let j = (0..3000u32).find(|j| (j * 7919) % 3000 == i).unwrap();
                let want = format!("value-3-{j}-{}", "x".repeat((j % 50) as usize));
                assert_eq!(got, Some(want.into_bytes()), "key {i}");
            }
        }
        let live = db.scan(..).collect().await.unwrap();
        assert_eq!(live.len(), 2000);
        let ranged = db
            .scan(b"key000100".to_vec()..b"key000200".to_vec())
            .collect()
            .await
            .unwrap();
        assert_eq!(
            ranged.len(),
            100 - 33,
            "keys 100..200 minus deleted multiples of 3"
        );
        assert!(ranged.windows(2).all(|w| w[0].0 < w[1].0));
    });
}

#[test]
fn snapshots_see_the_past_across_flushes_and_compactions() {
    let dir = TempDir::new("snap");
    runtime().block_on(async {
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        db.put(b"k", b"old").await.unwrap();
        db.put(b"gone", b"here").await.unwrap();
        let snap = db.snapshot();
        db.put(b"k", b"new").await.unwrap();
        db.delete(b"gone").await.unwrap();
        db.compact_range().await.unwrap();
        assert_eq!(db.get_at(&snap, b"k").await.unwrap(), Some(b"old".to_vec()));
        assert_eq!(
            db.get_at(&snap, b"gone").await.unwrap(),
            Some(b"here".to_vec())
        );
        assert_eq!(db.get(b"k").await.unwrap(), Some(b"new".to_vec()));
        assert_eq!(db.get(b"gone").await.unwrap(), None);
        let past = db.scan_at(&snap, ..).collect().await.unwrap();
        assert_eq!(
            past,
            vec![
                (b"gone".to_vec(), b"here".to_vec()),
                (b"k".to_vec(), b"old".to_vec())
            ]
        );
    });
}

#[test]
fn expired_values_are_invisible_and_compacted_away() {
    let dir = TempDir::new("expiry");
    runtime().block_on(async {
        let db = Db::open(
            dir.path(),
            Options {
                sync: SyncPolicy::Always,
                ..small_opts()
            },
        )
        .await
        .unwrap();
        db.put_with_expiry(b"past", b"v", 1).await.unwrap();
        db.put_with_expiry(b"future", b"v", u64::MAX / 2)
            .await
            .unwrap();
        assert_eq!(db.get(b"past").await.unwrap(), None);
        assert_eq!(db.get(b"future").await.unwrap(), Some(b"v".to_vec()));
        db.compact_range().await.unwrap();
        assert_eq!(db.get(b"past").await.unwrap(), None);
        let all = db.scan(..).collect().await.unwrap();
        assert_eq!(all, vec![(b"future".to_vec(), b"v".to_vec())]);
    });
}

#[test]
fn group_commit_shares_one_sync_among_a_ticks_writes() {
    let dir = TempDir::new("group");
    runtime().block_on(async {
        let db = Db::open(
            dir.path(),
            Options {
                sync: SyncPolicy::Always,
                ..small_opts()
            },
        )
        .await
        .unwrap();
        let handles: Vec<_> = (0..64u32)
            .map(|i| {
                let db = db.clone();
                frys_runtime::spawn_local(async move { db.put(&i.to_be_bytes(), b"v").await })
            })
            .collect();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        let m = db.metrics();
        assert_eq!(m.writes, 64);
        assert!(
            m.wal_syncs < 64,
            "64 writes of one tick should share syncs: {m:?}"
        );
        assert_eq!(m.wal_syncs, m.commit_groups);
    });
}

#[test]
fn invalid_input_gets_a_clear_error() {
    let dir = TempDir::new("invalid");
    runtime().block_on(async {
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        let big = vec![0u8; frys_storage::MAX_KEY_LEN + 1];
        let err = db.put(&big, b"v").await.unwrap_err();
        assert!(
            matches!(err, frys_storage::Error::InvalidArgument(_)),
            "{err}"
        );
        db.put(b"ok", b"v").await.unwrap();
    });
}

#[test]
fn metrics_count_user_bytes_as_keys_plus_values() {
    let dir = TempDir::new("metrics");
    runtime().block_on(async {
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        for i in 0..100u32 {
            db.put(format!("key{i:05}").as_bytes(), &[7u8; 50])
                .await
                .unwrap();
        }
        db.delete(b"key00000").await.unwrap();
        let m = db.metrics();
        assert_eq!(m.user_bytes_written, 100 * (8 + 50) + 8);
        assert_eq!(m.writes, 101);
        // The WAL alone holds every user byte plus framing.
        assert!(m.disk_bytes_written > m.user_bytes_written, "{m:?}");
    });
}

#[test]
fn the_manifest_is_rotated_and_current_follows_it() {
    let dir = TempDir::new("rotate");
    let opts = Options {
        manifest_rotate_bytes: 512,
        ..small_opts()
    };
    let manifests = |dir: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("MANIFEST-"))
            .collect();
        v.sort();
        v
    };
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts.clone()).await.unwrap();
        for i in 0..40u32 {
            db.put(format!("key{i:03}").as_bytes(), b"value")
                .await
                .unwrap();
            db.flush().await.unwrap();
        }
        db.close().await.unwrap();
    });
    let live = manifests(dir.path());
    assert_eq!(live.len(), 1, "old manifests are removed: {live:?}");
    assert_ne!(
        live[0], "MANIFEST-000001",
        "40 flushes must have rotated a 512-byte manifest"
    );
    let current = std::fs::read_to_string(dir.path().join("CURRENT")).unwrap();
    assert_eq!(current.trim_end(), live[0]);
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts).await.unwrap();
        for i in 0..40u32 {
            assert_eq!(
                db.get(format!("key{i:03}").as_bytes()).await.unwrap(),
                Some(b"value".to_vec()),
                "key {i}"
            );
        }
    });
}
