//! RocksDB (feature `rocksdb`) under the benchmark, configured like frys.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, Options, WriteOptions, DB};

use crate::workload::{key, Values};
use crate::{BenchError, ReadSeq};

pub struct RocksEngine {
    dir: PathBuf,
    db: Option<DB>,
    write_opts: WriteOptions,
}

impl RocksEngine {
    pub fn new(dir: &Path) -> Self {
        let mut write_opts = WriteOptions::default();
        // WAL on, no fsync per write: the same durability as frys `No`.
        write_opts.set_sync(false);
        write_opts.disable_wal(false);
        Self {
            dir: dir.to_path_buf(),
            db: None,
            write_opts,
        }
    }

    pub fn open_fresh(&mut self) -> Result<(), BenchError> {
        self.close();
        crate::remove_dir(&self.dir)?;
        let mut table = BlockBasedOptions::default();
        table.set_block_size(4096);
        table.set_bloom_filter(10.0, false);
        table.set_block_cache(&Cache::new_lru_cache(64 << 20)?);
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_block_based_table_factory(&table);
        opts.set_compression_type(DBCompressionType::Lz4);
        opts.set_write_buffer_size(8 << 20);
        opts.set_target_file_size_base(8 << 20);
        opts.set_max_bytes_for_level_base(64 << 20);
        opts.set_max_background_jobs(2);
        self.db = Some(DB::open(&opts, &self.dir)?);
        Ok(())
    }

    fn db(&self) -> &DB {
        self.db
            .as_ref()
            .expect("rocksdb opened by the fill that ran first")
    }

    pub fn write(&self, order: &[u64], values: &Values) -> Result<(), BenchError> {
        let db = self.db();
        for &i in order {
            db.put_opt(key(i), values.get(i), &self.write_opts)?;
        }
        Ok(())
    }

    pub fn read_random(&self, order: &[u64]) -> Result<u64, BenchError> {
        let db = self.db();
        let mut found = 0;
        for &i in order {
            if db.get_pinned(key(i))?.is_some() {
                found += 1;
            }
        }
        Ok(found)
    }

    pub fn read_seq(&self) -> Result<ReadSeq, BenchError> {
        let mut it = self.db().raw_iterator();
        it.seek_to_first();
        let mut out = ReadSeq::default();
        while it.valid() {
            if let (Some(k), Some(v)) = (it.key(), it.value()) {
                out.entries += 1;
                out.bytes += (k.len() + v.len()) as u64;
            }
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    /// Flushes the memtable and waits until no compaction runs or is due.
    pub fn settle(&self) -> Result<(), BenchError> {
        let db = self.db();
        db.flush()?;
        loop {
            let running = db
                .property_int_value("rocksdb.num-running-compactions")?
                .unwrap_or(0);
            let pending = db
                .property_int_value("rocksdb.compaction-pending")?
                .unwrap_or(0);
            if running == 0 && pending == 0 {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn compact(&self) -> Result<(), BenchError> {
        self.settle()?;
        self.db().compact_range(None::<&[u8]>, None::<&[u8]>);
        self.settle()
    }

    /// RocksDB's own "Cumulative stall" line from `rocksdb.stats` (since
    /// open; RocksDB counts slowdowns and stops together there).
    pub fn stall_line(&self) -> String {
        let stats = self
            .db()
            .property_value("rocksdb.stats")
            .ok()
            .flatten()
            .unwrap_or_default();
        stats
            .lines()
            .find(|l| l.starts_with("Cumulative stall:"))
            .map_or_else(|| "not reported".to_string(), |l| l.trim().to_string())
    }

    pub fn metrics_line(&self) -> String {
        let files: Vec<String> = (0..7)
            .map(|l| {
                self.db()
                    .property_value(&format!("rocksdb.num-files-at-level{l}"))
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            })
            .collect();
        format!("files_per_level=[{}]", files.join(", "))
    }

    pub fn close(&mut self) {
        self.db = None;
    }
}
