//! RocksDB (feature `rocksdb`: the `rocksdb` crate's bundled C++ sources)
//! under the benchmark, configured like frys.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, Options, WriteOptions, DB};

use crate::latency::Latencies;
use crate::workload::{key, Values};
use crate::{BenchError, ReadSeq, ReadWhileWriting};

pub struct RocksEngine {
    dir: PathBuf,
    cache_bytes: usize,
    db: Option<DB>,
    write_opts: WriteOptions,
}

impl RocksEngine {
    pub fn new(dir: &Path, cache_bytes: usize) -> Self {
        let mut write_opts = WriteOptions::default();
        // WAL on, no fsync per write: the same durability as frys `No`.
        write_opts.set_sync(false);
        write_opts.disable_wal(false);
        Self {
            dir: dir.to_path_buf(),
            cache_bytes,
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
        table.set_block_cache(&Cache::new_lru_cache(self.cache_bytes));
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

    pub fn write(&self, order: &[u64], values: &Values) -> Result<Latencies, BenchError> {
        let db = self.db();
        let mut lat = Latencies::with_capacity(order.len());
        for &i in order {
            let start = Instant::now();
            db.put_opt(key(i), values.get(i), &self.write_opts)?;
            lat.record_since(start);
        }
        Ok(lat)
    }

    /// `writers` threads share `order`, every write `sync=true` (RocksDB
    /// groups the concurrent writers' WAL syncs).
    pub fn write_synced(
        &self,
        order: &[u64],
        values: &Values,
        writers: usize,
    ) -> Result<Latencies, BenchError> {
        let db = self.db();
        let chunk = order.len().div_ceil(writers.max(1)).max(1);
        std::thread::scope(|s| -> Result<Latencies, BenchError> {
            let handles: Vec<_> = order
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || -> Result<Latencies, rocksdb::Error> {
                        let mut opts = WriteOptions::default();
                        opts.set_sync(true);
                        let mut lat = Latencies::with_capacity(part.len());
                        for &i in part {
                            let start = Instant::now();
                            db.put_opt(key(i), values.get(i), &opts)?;
                            lat.record_since(start);
                        }
                        Ok(lat)
                    })
                })
                .collect();
            let mut all = Latencies::with_capacity(order.len());
            for h in handles {
                all.merge(h.join().map_err(|_| "rocksdb writer panicked")??);
            }
            Ok(all)
        })
    }

    pub fn read_random(&self, order: &[u64]) -> Result<(u64, Latencies), BenchError> {
        Ok(read(self.db(), order)?)
    }

    pub fn seek_random(&self, order: &[u64], len: usize) -> Result<(u64, Latencies), BenchError> {
        let db = self.db();
        let mut lat = Latencies::with_capacity(order.len());
        let mut seen = 0;
        for &i in order {
            let start = Instant::now();
            let mut it = db.raw_iterator();
            it.seek(key(i));
            let mut n = 0;
            while n < len && it.valid() {
                if let (Some(_), Some(_)) = (it.key(), it.value()) {
                    seen += 1;
                }
                n += 1;
                it.next();
            }
            it.status()?;
            lat.record_since(start);
        }
        Ok((seen, lat))
    }

    /// One writer thread overwrites `writes` (cyclically) at full speed
    /// while `readers` threads share `reads`; ends when the readers do.
    pub fn read_while_writing(
        &self,
        reads: &[u64],
        writes: &[u64],
        values: &Values,
        readers: usize,
    ) -> Result<ReadWhileWriting, BenchError> {
        let db = self.db();
        let done = AtomicBool::new(false);
        let chunk = reads.len().div_ceil(readers.max(1)).max(1);
        std::thread::scope(|s| -> Result<ReadWhileWriting, BenchError> {
            let done = &done;
            let writer = s.spawn(move || -> Result<Latencies, rocksdb::Error> {
                let mut write_opts = WriteOptions::default();
                write_opts.set_sync(false);
                write_opts.disable_wal(false);
                let mut lat = Latencies::default();
                for &i in writes.iter().cycle() {
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    let start = Instant::now();
                    db.put_opt(key(i), values.get(i), &write_opts)?;
                    lat.record_since(start);
                }
                Ok(lat)
            });
            let start = Instant::now();
            let handles: Vec<_> = reads
                .chunks(chunk)
                .map(|part| s.spawn(move || read(db, part)))
                .collect();
            let mut out = ReadWhileWriting::default();
            for h in handles {
                let (found, lat) = h.join().map_err(|_| "rocksdb reader panicked")??;
                out.found += found;
                out.reads.merge(lat);
            }
            out.read_secs = start.elapsed().as_secs_f64();
            done.store(true, Ordering::Relaxed);
            out.writes = writer.join().map_err(|_| "rocksdb writer panicked")??;
            Ok(out)
        })
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

fn read(db: &DB, order: &[u64]) -> Result<(u64, Latencies), rocksdb::Error> {
    let mut lat = Latencies::with_capacity(order.len());
    let mut found = 0;
    for &i in order {
        let start = Instant::now();
        let hit = db.get_pinned(key(i))?.is_some();
        lat.record_since(start);
        found += u64::from(hit);
    }
    Ok((found, lat))
}
