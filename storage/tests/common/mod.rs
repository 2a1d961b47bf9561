//! Shared test helpers: temp directories, a one-core runtime, a seeded RNG,
//! Kvrocks-shaped records and their compaction filter.
#![allow(dead_code)]

pub mod collections;
pub mod faults;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "frys-storage-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn runtime() -> frys_runtime::Runtime {
    frys_runtime::Runtime::builder()
        .cores(frys_runtime::Cores::Count(1))
        .build()
        .expect("runtime")
}

/// xorshift64*: deterministic, seedable.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Opens `dir`, retrying (a bounded number of times) while the open is
/// refused because the directory's lock is still held: by a dropped `Db`
/// whose background work is stopping, or by a process that another test
/// thread forked while this one held the lock and that has not reached
/// `exec` yet (flock locks are shared with a forked child until then).
pub async fn open_when_unlocked(
    dir: &Path,
    opts: frys_storage::Options,
) -> frys_storage::Result<frys_storage::Db> {
    const TRIES: u32 = 2000;
    let mut tries = 0;
    loop {
        match frys_storage::Db::open(dir, opts.clone()).await {
            Err(frys_storage::Error::Locked { .. }) if tries < TRIES => {
                tries += 1;
                frys_runtime::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            other => return other,
        }
    }
}
