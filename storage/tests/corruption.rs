//! Corruption: a torn WAL tail is truncated; damage anywhere else is refused
//! with an error naming the file and offset; nothing panics.

mod common;

use std::path::{Path, PathBuf};

use common::{runtime, TempDir};
use frys_storage::{Db, Error, Options, SyncPolicy};

fn opts() -> Options {
    Options {
        sync: SyncPolicy::Always,
        ..Options::default()
    }
}

fn files_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

/// Writes keys 0..n with `always` and returns the WAL segment that holds them.
fn write_keys(dir: &Path, n: u32) -> PathBuf {
    runtime().block_on(async {
        let db = Db::open(dir, opts()).await.unwrap();
        for i in 0..n {
            db.put(
                format!("key{i:03}").as_bytes(),
                format!("value{i}").as_bytes(),
            )
            .await
            .unwrap();
        }
        db.close().await.unwrap();
    });
    files_with(dir, ".log")
        .into_iter()
        .find(|p| std::fs::metadata(p).unwrap().len() > 0)
        .expect("a non-empty WAL segment")
}

#[test]
fn a_torn_wal_tail_is_truncated_and_earlier_writes_survive() {
    let dir = TempDir::new("torn");
    let wal = write_keys(dir.path(), 10);
    let len = std::fs::metadata(&wal).unwrap().len();
    flip(&wal, len - 2); // inside the last record
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts())
            .await
            .expect("a torn tail must not stop the open");
        for i in 0..9 {
            assert_eq!(
                db.get(format!("key{i:03}").as_bytes()).await.unwrap(),
                Some(format!("value{i}").into_bytes())
            );
        }
        assert_eq!(
            db.get(b"key009").await.unwrap(),
            None,
            "the torn record is dropped"
        );
        db.put(b"after", b"x").await.unwrap();
        db.close().await.unwrap();
        let db = Db::open(dir.path(), opts()).await.unwrap();
        assert_eq!(db.get(b"after").await.unwrap(), Some(b"x".to_vec()));
    });
}

#[test]
fn damage_inside_the_wal_is_refused_with_file_and_offset() {
    let dir = TempDir::new("walmid");
    let wal = write_keys(dir.path(), 10);
    flip(&wal, 10); // inside the first record's payload
    runtime().block_on(async {
        match Db::open(dir.path(), opts()).await {
            Err(Error::Corruption { path, offset, .. }) => {
                assert_eq!(path, wal);
                assert_eq!(offset, 0, "the first record is the damaged one");
            }
            Err(e) => panic!("expected corruption, got {e}"),
            Ok(_) => panic!("opened a partition with a damaged WAL"),
        }
    });
}

#[test]
fn a_damaged_data_block_is_reported_on_read_with_file_and_offset() {
    let dir = TempDir::new("block");
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts()).await.unwrap();
        for i in 0..200u32 {
            db.put(format!("key{i:03}").as_bytes(), &[b'v'; 100])
                .await
                .unwrap();
        }
        db.flush().await.unwrap();
        db.close().await.unwrap();
    });
    let sst = files_with(dir.path(), ".sst").pop().expect("a table");
    flip(&sst, 20); // inside the first data block
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts())
            .await
            .expect("meta blocks are intact");
        match db.get(b"key000").await {
            Err(Error::Corruption { path, offset, .. }) => {
                assert_eq!(path, sst);
                assert_eq!(offset, 0, "the first block starts at 0");
            }
            other => panic!("expected corruption, got {other:?}"),
        }
        // Keys in undamaged blocks are still readable.
        assert_eq!(db.get(b"key199").await.unwrap(), Some(vec![b'v'; 100]));
    });
}

#[test]
fn a_damaged_compaction_input_is_reported_with_the_table_path() {
    let dir = TempDir::new("compaction-input");
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts()).await.unwrap();
        // Two overlapping L0 tables, so that compaction must merge them.
        for round in 0..2u32 {
            for i in 0..200u32 {
                db.put(format!("key{i:03}").as_bytes(), &[b'a' + round as u8; 100])
                    .await
                    .unwrap();
            }
            db.flush().await.unwrap();
        }
        db.close().await.unwrap();
    });
    let tables = files_with(dir.path(), ".sst");
    assert_eq!(tables.len(), 2);
    let damaged = &tables[0];
    flip(damaged, 20); // inside its first data block
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts())
            .await
            .expect("meta blocks are intact");
        match db.compact_range().await {
            Err(Error::Corruption { path, offset, .. }) => {
                assert_eq!(&path, damaged, "the error names the table file");
                assert_eq!(offset, 0, "the first block starts at 0");
            }
            other => panic!("expected corruption, got {other:?}"),
        }
        // Nothing was replaced: both tables are still there.
        assert_eq!(files_with(dir.path(), ".sst"), tables);
    });
}

#[test]
fn a_damaged_manifest_is_refused_with_file_and_offset() {
    let dir = TempDir::new("manifest");
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts()).await.unwrap();
        for round in 0..3u32 {
            db.put(format!("k{round}").as_bytes(), b"v").await.unwrap();
            db.flush().await.unwrap();
        }
        db.close().await.unwrap();
    });
    let manifest = files_with(dir.path(), "")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("MANIFEST-"))
        .unwrap();
    flip(&manifest, 9); // inside the first edit
    runtime().block_on(async {
        match Db::open(dir.path(), opts()).await {
            Err(Error::Corruption { path, offset, .. }) => {
                assert_eq!(path, manifest);
                assert_eq!(offset, 0);
            }
            Err(e) => panic!("expected corruption, got {e}"),
            Ok(_) => panic!("opened a partition with a damaged manifest"),
        }
    });
}

#[test]
fn a_missing_table_is_refused_not_ignored() {
    let dir = TempDir::new("missing");
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts()).await.unwrap();
        db.put(b"k", b"v").await.unwrap();
        db.flush().await.unwrap();
        db.close().await.unwrap();
    });
    let sst = files_with(dir.path(), ".sst").pop().unwrap();
    std::fs::remove_file(&sst).unwrap();
    runtime().block_on(async {
        let err = Db::open(dir.path(), opts())
            .await
            .err()
            .expect("must not open");
        assert!(
            err.to_string()
                .contains(&sst.file_name().unwrap().to_string_lossy().to_string()),
            "{err}"
        );
    });
}

#[test]
fn a_damaged_last_manifest_edit_is_refused_not_silently_rolled_back() {
    let dir = TempDir::new("manifest-tail");
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts()).await.unwrap();
        db.put(b"k", b"v").await.unwrap();
        db.flush().await.unwrap();
        db.close().await.unwrap();
    });
    let manifest = dir.path().join("MANIFEST-000001");
    let len = std::fs::metadata(&manifest).unwrap().len();
    flip(&manifest, len - 2); // inside the flush's edit, the last record
    let tables_before = files_with(dir.path(), ".sst");
    runtime().block_on(async {
        match Db::open(dir.path(), opts()).await {
            Err(Error::Corruption { path, .. }) => assert_eq!(path, manifest),
            Err(e) => panic!("expected corruption, got {e}"),
            Ok(db) => panic!("opened and lost the flushed key: {:?}", db.get(b"k").await),
        }
    });
    assert_eq!(
        files_with(dir.path(), ".sst"),
        tables_before,
        "no table may be deleted"
    );
}

#[test]
fn damage_at_the_end_of_an_older_wal_segment_is_refused() {
    let dir = TempDir::new("old-segment");
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts()).await.unwrap();
        db.put(b"a", b"1").await.unwrap();
        db.close().await.unwrap();
        let db = Db::open(dir.path(), opts()).await.unwrap();
        db.put(b"b", b"2").await.unwrap();
        db.close().await.unwrap();
    });
    let older = dir.path().join("000002.log");
    let len = std::fs::metadata(&older).unwrap().len();
    flip(&older, len - 1);
    runtime().block_on(async {
        match Db::open(dir.path(), opts()).await {
            Err(Error::Corruption { path, .. }) => assert_eq!(path, older),
            Err(e) => panic!("expected corruption, got {e}"),
            Ok(_) => panic!("opened with a damaged older segment"),
        }
    });
}

#[test]
fn an_interrupted_creation_is_finished_at_the_next_open() {
    let dir = TempDir::new("interrupted-create");
    runtime().block_on(async {
        Db::open(dir.path(), opts())
            .await
            .unwrap()
            .close()
            .await
            .unwrap();
    });
    // What a crash before the CURRENT rename leaves behind.
    std::fs::remove_file(dir.path().join("CURRENT")).unwrap();
    runtime().block_on(async {
        let db = Db::open(dir.path(), opts())
            .await
            .expect("creation restarts");
        db.put(b"k", b"v").await.unwrap();
        assert_eq!(db.get(b"k").await.unwrap(), Some(b"v".to_vec()));
    });
}

#[test]
fn reopening_without_writes_does_not_pile_up_wal_segments() {
    let dir = TempDir::new("empty-segments");
    runtime().block_on(async {
        for _ in 0..6 {
            let db = Db::open(dir.path(), opts()).await.unwrap();
            db.flush().await.unwrap();
            db.close().await.unwrap();
        }
        let db = Db::open(dir.path(), opts()).await.unwrap();
        db.put(b"k", b"v").await.unwrap();
        db.close().await.unwrap();
        let db = Db::open(dir.path(), opts()).await.unwrap();
        assert_eq!(db.get(b"k").await.unwrap(), Some(b"v".to_vec()));
    });
    let segments = files_with(dir.path(), ".log");
    assert!(segments.len() <= 2, "segments left behind: {segments:?}");
}
