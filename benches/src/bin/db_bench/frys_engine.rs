//! frys-storage under the benchmark: one `Db` on the runtime's one core.
//!
//! `tasks == 1` is the default mode: one caller awaiting each operation in
//! turn, so every put is its own group commit — the loop fjall and RocksDB
//! run. `tasks > 1` runs the same operations from that many
//! `spawn_local` tasks on the same core, which lets group commit batch the
//! writes of one tick (and overlap reads).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use frys_storage::{Db, Options, SyncPolicy};

use crate::workload::{key, Values};
use crate::{BenchError, ReadSeq};

pub struct FrysEngine {
    pub tasks: usize,
    dir: PathBuf,
    db: Option<Db>,
}

/// The options every frys run uses; the peers mirror them (see `main.rs`).
pub fn options() -> Options {
    Options {
        // The WAL is written at every commit, never fsync'ed by us.
        sync: SyncPolicy::No,
        ..Options::default()
    }
}

impl FrysEngine {
    pub fn new(dir: &Path, tasks: usize) -> Self {
        Self {
            tasks,
            dir: dir.to_path_buf(),
            db: None,
        }
    }

    pub async fn open_fresh(&mut self) -> Result<(), BenchError> {
        self.close().await?;
        crate::remove_dir(&self.dir)?;
        std::fs::create_dir_all(&self.dir)?;
        self.db = Some(Db::open(&self.dir, options()).await?);
        Ok(())
    }

    fn db(&self) -> &Db {
        self.db
            .as_ref()
            .expect("frys db opened by the fill that ran first")
    }

    /// Puts `values.get(i)` under `key(i)` for every `i` of `order`.
    pub async fn write(&self, order: &Rc<Vec<u64>>, values: &Rc<Values>) -> Result<(), BenchError> {
        let db = self.db();
        if self.tasks <= 1 {
            for &i in order.iter() {
                db.put(&key(i), values.get(i)).await?;
            }
            return Ok(());
        }
        let cursor = Rc::new(Cell::new(0usize));
        let handles: Vec<_> = (0..self.tasks)
            .map(|_| {
                let (db, order, values, cursor) =
                    (db.clone(), order.clone(), values.clone(), cursor.clone());
                frys::spawn_local(async move {
                    loop {
                        let n = cursor.get();
                        let Some(&i) = order.get(n) else {
                            return Ok(());
                        };
                        cursor.set(n + 1);
                        db.put(&key(i), values.get(i)).await?;
                    }
                })
            })
            .collect();
        join_all(handles).await
    }

    /// Gets `key(i)` for every `i` of `order`; returns how many were found.
    pub async fn read_random(&self, order: &Rc<Vec<u64>>) -> Result<u64, BenchError> {
        let db = self.db();
        let found = Rc::new(Cell::new(0u64));
        if self.tasks <= 1 {
            for &i in order.iter() {
                if db.get(&key(i)).await?.is_some() {
                    found.set(found.get() + 1);
                }
            }
            return Ok(found.get());
        }
        let cursor = Rc::new(Cell::new(0usize));
        let handles: Vec<_> = (0..self.tasks)
            .map(|_| {
                let (db, order, cursor, found) =
                    (db.clone(), order.clone(), cursor.clone(), found.clone());
                frys::spawn_local(async move {
                    loop {
                        let n = cursor.get();
                        let Some(&i) = order.get(n) else {
                            return Ok(());
                        };
                        cursor.set(n + 1);
                        if db.get(&key(i)).await?.is_some() {
                            found.set(found.get() + 1);
                        }
                    }
                })
            })
            .collect();
        join_all(handles).await?;
        Ok(found.get())
    }

    /// Scans every key once, forward.
    pub async fn read_seq(&self) -> Result<ReadSeq, BenchError> {
        let mut scan = self.db().scan(..);
        let mut out = ReadSeq::default();
        while let Some((k, v)) = scan.next().await? {
            out.entries += 1;
            out.bytes += (k.len() + v.len()) as u64;
        }
        Ok(out)
    }

    /// Flushes the memtable and waits for background work to finish.
    pub async fn settle(&self) -> Result<(), BenchError> {
        Ok(self.db().flush().await?)
    }

    pub async fn compact(&self) -> Result<(), BenchError> {
        Ok(self.db().compact_range().await?)
    }

    /// Write stalls since the partition was opened: wall time writes were
    /// stopped, the longest stop, and the delays of slowed-down writes.
    pub fn stall_line(&self) -> String {
        let m = self.db().metrics();
        format!(
            "stopped {:.3} s in {} stops (longest {:.1} ms, {} writes waited); slowed {} writes by {:.3} s in total (since open)",
            m.write_stop_micros as f64 / 1e6,
            m.write_stop_periods,
            m.longest_write_stop_micros as f64 / 1e3,
            m.write_stops,
            m.write_slowdowns,
            m.write_slowdown_micros as f64 / 1e6,
        )
    }

    /// The partition's own counters, one line.
    pub fn metrics_line(&self) -> String {
        let m = self.db().metrics();
        format!(
            "disk_bytes_written={} compaction_bytes_written={} user_bytes_written={} metrics_wa={:.2} commit_groups={} writes={} flushes={} compactions={} subcompactions={} peak_merge_input_bytes={} slowdowns={} stops={} cache_hits={} cache_misses={} tables_per_level={:?}",
            m.disk_bytes_written,
            m.compaction_bytes_written,
            m.user_bytes_written,
            m.write_amplification(),
            m.commit_groups,
            m.writes,
            m.flushes,
            m.compactions,
            m.subcompactions,
            m.compaction_peak_input_bytes,
            m.write_slowdowns,
            m.write_stops,
            m.block_cache_hits,
            m.block_cache_misses,
            m.tables_per_level,
        )
    }

    pub async fn close(&mut self) -> Result<(), BenchError> {
        if let Some(db) = self.db.take() {
            db.close().await?;
        }
        Ok(())
    }
}

async fn join_all(
    handles: Vec<frys::JoinHandle<Result<(), frys_storage::Error>>>,
) -> Result<(), BenchError> {
    for h in handles {
        h.await.map_err(|e| format!("frys task failed: {e:?}"))??;
    }
    Ok(())
}
