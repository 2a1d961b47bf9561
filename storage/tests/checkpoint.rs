//! Checkpoints: the copy opens as of the checkpoint's sequence number,
//! whatever the partition does afterwards (more writes, flushes and
//! compactions that delete the files the checkpoint pinned).

mod common;

use common::{runtime, TempDir};
use frys_storage::{Db, Options};

fn small_opts() -> Options {
    Options {
        memtable_bytes: 64 << 10,
        target_file_size: 32 << 10,
        level_base_bytes: 128 << 10,
        ..Options::default()
    }
}

fn value(round: u32, i: u32) -> Vec<u8> {
    format!("v{round}-{i}-{}", "x".repeat((i % 40) as usize)).into_bytes()
}

#[test]
fn a_checkpoint_holds_exactly_the_writes_before_it() {
    let dir = TempDir::new("checkpoint-src");
    let out = TempDir::new("checkpoint-dst");
    let dest = out.path().to_path_buf();
    runtime().block_on(async {
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        // Enough to have tables (several flushes) and a memtable tail.
        for i in 0..5000u32 {
            db.put(format!("k{i:05}").as_bytes(), &value(0, i))
                .await
                .unwrap();
        }
        db.delete(b"k00007").await.unwrap();
        assert!(db.metrics().tables_per_level.iter().sum::<usize>() > 0);
        let pinned = db.begin_checkpoint(&dest).unwrap();
        // Written after the pin, while the copy is not finished yet.
        db.put(b"k00001", b"after").await.unwrap();
        db.put(b"new", b"after").await.unwrap();
        let stats = pinned.finish().await.unwrap();
        assert!(stats.tables > 0 && stats.wal_records > 0, "{stats:?}");
        // More writes, a flush and a full compaction delete the pinned files.
        for i in 0..5000u32 {
            db.put(format!("k{i:05}").as_bytes(), &value(1, i))
                .await
                .unwrap();
        }
        db.compact_range().await.unwrap();

        let copy = Db::open(&dest, small_opts()).await.unwrap();
        for i in 0..5000u32 {
            let got = copy.get(format!("k{i:05}").as_bytes()).await.unwrap();
            let want = (i != 7).then(|| value(0, i));
            assert_eq!(got, want, "k{i:05}");
        }
        assert_eq!(copy.get(b"new").await.unwrap(), None);
        // The copy is a partition of its own: it takes writes and reopens.
        copy.put(b"own", b"1").await.unwrap();
        copy.close().await.unwrap();
        let copy = Db::open(&dest, small_opts()).await.unwrap();
        assert_eq!(copy.get(b"own").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(copy.get(b"k00001").await.unwrap(), Some(value(0, 1)));
        copy.close().await.unwrap();
        // The source kept its own newer data.
        assert_eq!(db.get(b"k00001").await.unwrap(), Some(value(1, 1)));
        db.close().await.unwrap();
    });
}

#[test]
fn a_checkpoint_refuses_an_existing_destination() {
    let dir = TempDir::new("checkpoint-exists");
    runtime().block_on(async {
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        db.put(b"a", b"1").await.unwrap();
        assert!(db.begin_checkpoint(dir.path()).is_err());
        db.close().await.unwrap();
    });
}
