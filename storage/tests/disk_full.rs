//! A full disk (ENOSPC) comes back as `Error::DiskFull` on the write, and
//! everything acknowledged stays readable, before and after a reopen.
//!
//! Uses a 1 MiB tmpfs mounted for the test, which needs root (CI runs as
//! root). Without it the test says so and checks nothing.

mod common;

use std::process::Command;

use common::{runtime, TempDir};
use frys_storage::{Db, Error, Options, SyncPolicy};

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn enospc_is_an_error_on_the_write_and_acknowledged_data_stays_readable() {
    let dir = TempDir::new("enospc");
    std::fs::create_dir_all(dir.path()).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _mount = Mount(dir.path().to_path_buf());
    let db_dir = dir.path().join("db");
    // A memtable larger than the disk: the WAL is what fills it up.
    let opts = Options {
        sync: SyncPolicy::Always,
        memtable_bytes: 64 << 20,
        ..Options::default()
    };
    let acked = runtime().block_on(async {
        let db = Db::open(&db_dir, opts.clone()).await.unwrap();
        let value = vec![b'x'; 10_000];
        let mut acked = 0u32;
        let err = loop {
            match db.put(format!("key{acked:05}").as_bytes(), &value).await {
                Ok(()) => acked += 1,
                Err(e) => break e,
            }
            assert!(acked < 1000, "a 1 MiB disk cannot hold 10 MB");
        };
        assert!(
            matches!(err, Error::DiskFull { .. }),
            "expected DiskFull, got {err}"
        );
        assert!(acked > 10, "some writes fit before the disk filled");
        // A smaller write may still fit; either way nothing panics and the
        // acknowledged data is intact.
        for i in 0..acked {
            assert_eq!(
                db.get(format!("key{i:05}").as_bytes())
                    .await
                    .unwrap()
                    .as_deref(),
                Some(&value[..])
            );
        }
        acked
    });
    runtime().block_on(async {
        let db = Db::open(&db_dir, opts).await.expect("reopen after ENOSPC");
        for i in 0..acked {
            assert!(
                db.get(format!("key{i:05}").as_bytes())
                    .await
                    .unwrap()
                    .is_some(),
                "acked key {i} lost"
            );
        }
    });
}
