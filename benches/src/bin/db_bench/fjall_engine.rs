//! fjall 2.x under the benchmark: one keyspace with one partition, driven
//! by one caller thread; fjall flushes and compacts on its own threads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};

use crate::workload::{key, Values};
use crate::{BenchError, ReadSeq};

pub struct FjallEngine {
    dir: PathBuf,
    db: Option<(Keyspace, PartitionHandle)>,
}

impl FjallEngine {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            db: None,
        }
    }

    pub fn open_fresh(&mut self) -> Result<(), BenchError> {
        self.close()?;
        crate::remove_dir(&self.dir)?;
        // Mirrors frys' options: 64 MiB block cache, 8 MiB memtable, 4 KiB
        // blocks, lz4, 10 bloom bits per key. `manual_journal_persist` stays
        // false: every write reaches the OS, nothing is fsync'ed per write
        // (frys `SyncPolicy::No`). Compaction shape: fjall's leveled default.
        let keyspace = Config::new(&self.dir).cache_size(64 << 20).open()?;
        let opts = PartitionCreateOptions::default()
            .max_memtable_size(8 << 20)
            .block_size(4096)
            .bloom_filter_bits(Some(10))
            .compression(fjall::CompressionType::Lz4);
        let part = keyspace.open_partition("bench", opts)?;
        self.db = Some((keyspace, part));
        Ok(())
    }

    fn part(&self) -> &PartitionHandle {
        &self
            .db
            .as_ref()
            .expect("fjall db opened by the fill that ran first")
            .1
    }

    pub fn write(&self, order: &[u64], values: &Values) -> Result<(), BenchError> {
        let part = self.part();
        for &i in order {
            part.insert(key(i), values.get(i))?;
        }
        Ok(())
    }

    pub fn read_random(&self, order: &[u64]) -> Result<u64, BenchError> {
        let part = self.part();
        let mut found = 0;
        for &i in order {
            if part.get(key(i))?.is_some() {
                found += 1;
            }
        }
        Ok(found)
    }

    pub fn read_seq(&self) -> Result<ReadSeq, BenchError> {
        let mut out = ReadSeq::default();
        for kv in self.part().iter() {
            let (k, v) = kv?;
            out.entries += 1;
            out.bytes += (k.len() + v.len()) as u64;
        }
        Ok(out)
    }

    /// Flushes the memtable, syncs the journal, and waits until no
    /// compaction has run or finished for half a second.
    pub fn settle(&self) -> Result<(), BenchError> {
        let (keyspace, part) = self.db.as_ref().expect("fjall db open");
        part.rotate_memtable_and_wait()?;
        keyspace.persist(PersistMode::SyncAll)?;
        let mut quiet = 0;
        let mut last = (keyspace.compactions_completed(), part.segment_count());
        while quiet < 5 {
            std::thread::sleep(Duration::from_millis(100));
            let now = (keyspace.compactions_completed(), part.segment_count());
            if keyspace.active_compactions() == 0 && now == last {
                quiet += 1;
            } else {
                quiet = 0;
            }
            last = now;
        }
        Ok(())
    }

    pub fn compact(&self) -> Result<(), BenchError> {
        self.settle()?;
        self.part().major_compact()?;
        self.settle()
    }

    pub fn metrics_line(&self) -> String {
        let (keyspace, part) = self.db.as_ref().expect("fjall db open");
        format!(
            "segments={} flushes={} compactions={} journals={}",
            part.segment_count(),
            keyspace.flushes_completed(),
            keyspace.compactions_completed(),
            keyspace.journal_count(),
        )
    }

    pub fn close(&mut self) -> Result<(), BenchError> {
        if let Some((keyspace, _)) = self.db.take() {
            keyspace.persist(PersistMode::SyncAll)?;
        }
        Ok(())
    }
}
