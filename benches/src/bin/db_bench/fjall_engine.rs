//! fjall 3 under the benchmark: one `Database` with one keyspace, driven
//! by one caller thread (several for `readwhilewriting` and `fillsync16`);
//! fjall flushes and compacts on its own worker threads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjall::config::{
    BlockSizePolicy, BloomConstructionPolicy, CompressionPolicy, FilterPolicy, FilterPolicyEntry,
};
use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use crate::latency::Latencies;
use crate::workload::{key, Values};
use crate::{BenchError, ReadSeq, ReadWhileWriting};

pub struct FjallEngine {
    dir: PathBuf,
    cache_bytes: u64,
    db: Option<(Database, Keyspace)>,
}

impl FjallEngine {
    pub fn new(dir: &Path, cache_bytes: u64) -> Self {
        Self {
            dir: dir.to_path_buf(),
            cache_bytes,
            db: None,
        }
    }

    pub fn open_fresh(&mut self) -> Result<(), BenchError> {
        self.close()?;
        crate::remove_dir(&self.dir)?;
        // Mirrors frys' options: the same block cache, 8 MiB memtable, 4 KiB
        // blocks, lz4, 10 bloom bits per key, 8 MiB tables, leveled with 4
        // L0 tables and ratio 10. `manual_journal_persist` stays false:
        // every write reaches the OS, nothing is fsync'ed per write (frys
        // `SyncPolicy::No`).
        let db = Database::builder(&self.dir)
            .cache_size(self.cache_bytes)
            .open()?;
        let keyspace = db.keyspace("bench", || {
            KeyspaceCreateOptions::default()
                .max_memtable_size(8 << 20)
                .data_block_size_policy(BlockSizePolicy::all(4096))
                .filter_policy(FilterPolicy::all(FilterPolicyEntry::Bloom(
                    BloomConstructionPolicy::BitsPerKey(10.0),
                )))
                .data_block_compression_policy(CompressionPolicy::all(CompressionType::Lz4))
                .compaction_strategy(Arc::new(
                    fjall::compaction::Leveled::default()
                        .with_table_target_size(8 << 20)
                        .with_l0_threshold(4),
                ))
        })?;
        self.db = Some((db, keyspace));
        Ok(())
    }

    fn ks(&self) -> &Keyspace {
        &self
            .db
            .as_ref()
            .expect("fjall db opened by the fill that ran first")
            .1
    }

    pub fn write(&self, order: &[u64], values: &Values) -> Result<Latencies, BenchError> {
        let ks = self.ks();
        let mut lat = Latencies::with_capacity(order.len());
        for &i in order {
            let start = Instant::now();
            ks.insert(key(i), values.get(i))?;
            lat.record_since(start);
        }
        Ok(lat)
    }

    /// `writers` threads share `order`; each write is fsync'ed before the
    /// next one of its thread (fjall has no sync-per-write flag:
    /// `persist(SyncData)` after each insert is how a user gets it).
    pub fn write_synced(
        &self,
        order: &[u64],
        values: &Values,
        writers: usize,
    ) -> Result<Latencies, BenchError> {
        let (db, ks) = self.db.as_ref().expect("fjall db open");
        let chunk = order.len().div_ceil(writers.max(1)).max(1);
        std::thread::scope(|s| -> Result<Latencies, BenchError> {
            let handles: Vec<_> = order
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || -> Result<Latencies, fjall::Error> {
                        let mut lat = Latencies::with_capacity(part.len());
                        for &i in part {
                            let start = Instant::now();
                            ks.insert(key(i), values.get(i))?;
                            db.persist(PersistMode::SyncData)?;
                            lat.record_since(start);
                        }
                        Ok(lat)
                    })
                })
                .collect();
            let mut all = Latencies::with_capacity(order.len());
            for h in handles {
                all.merge(h.join().map_err(|_| "fjall writer panicked")??);
            }
            Ok(all)
        })
    }

    pub fn read_random(&self, order: &[u64]) -> Result<(u64, Latencies), BenchError> {
        read(self.ks(), order)
    }

    pub fn seek_random(&self, order: &[u64], len: usize) -> Result<(u64, Latencies), BenchError> {
        let ks = self.ks();
        let mut lat = Latencies::with_capacity(order.len());
        let mut seen = 0;
        for &i in order {
            let start = Instant::now();
            for kv in ks.range(key(i)..).take(len) {
                kv.into_inner()?;
                seen += 1;
            }
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
        let ks = self.ks();
        let done = AtomicBool::new(false);
        let chunk = reads.len().div_ceil(readers.max(1)).max(1);
        std::thread::scope(|s| -> Result<ReadWhileWriting, BenchError> {
            let done = &done;
            let writer = s.spawn(move || -> Result<Latencies, fjall::Error> {
                let mut lat = Latencies::default();
                for &i in writes.iter().cycle() {
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    let start = Instant::now();
                    ks.insert(key(i), values.get(i))?;
                    lat.record_since(start);
                }
                Ok(lat)
            });
            let start = Instant::now();
            let handles: Vec<_> = reads
                .chunks(chunk)
                .map(|part| s.spawn(move || read(ks, part).map_err(|e| e.to_string())))
                .collect();
            let mut out = ReadWhileWriting::default();
            for h in handles {
                let (found, lat) = h.join().map_err(|_| "fjall reader panicked")??;
                out.found += found;
                out.reads.merge(lat);
            }
            out.read_secs = start.elapsed().as_secs_f64();
            done.store(true, Ordering::Relaxed);
            out.writes = writer.join().map_err(|_| "fjall writer panicked")??;
            Ok(out)
        })
    }

    pub fn read_seq(&self) -> Result<ReadSeq, BenchError> {
        let mut out = ReadSeq::default();
        for kv in self.ks().iter() {
            let (k, v) = kv.into_inner()?;
            out.entries += 1;
            out.bytes += (k.len() + v.len()) as u64;
        }
        Ok(out)
    }

    /// Flushes the memtable, syncs the journal, and waits until no
    /// compaction has run or finished for half a second.
    pub fn settle(&self) -> Result<(), BenchError> {
        let (db, ks) = self.db.as_ref().expect("fjall db open");
        ks.rotate_memtable_and_wait()?;
        db.persist(PersistMode::SyncAll)?;
        let mut quiet = 0;
        let mut last = (db.compactions_completed(), ks.table_count());
        while quiet < 5 {
            std::thread::sleep(Duration::from_millis(100));
            let now = (db.compactions_completed(), ks.table_count());
            if db.active_compactions() == 0 && db.outstanding_flushes() == 0 && now == last {
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
        self.ks().major_compact()?;
        self.settle()
    }

    pub fn metrics_line(&self) -> String {
        let (db, ks) = self.db.as_ref().expect("fjall db open");
        format!(
            "tables={} l0_tables={} compactions={} time_compacting={:.1}s journals={}",
            ks.table_count(),
            ks.l0_table_count(),
            db.compactions_completed(),
            db.time_compacting().as_secs_f64(),
            db.journal_count(),
        )
    }

    pub fn close(&mut self) -> Result<(), BenchError> {
        if let Some((db, _)) = self.db.take() {
            db.persist(PersistMode::SyncAll)?;
        }
        Ok(())
    }
}

fn read(ks: &Keyspace, order: &[u64]) -> Result<(u64, Latencies), BenchError> {
    let mut lat = Latencies::with_capacity(order.len());
    let mut found = 0;
    for &i in order {
        let start = Instant::now();
        let hit = ks.get(key(i))?.is_some();
        lat.record_since(start);
        found += u64::from(hit);
    }
    Ok((found, lat))
}
