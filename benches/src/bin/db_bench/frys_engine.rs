//! frys-storage under the benchmark: one `Db` on the runtime's one core.
//!
//! `tasks == 1` is the default mode: one caller awaiting each operation in
//! turn, so every put is its own group commit — the loop fjall and RocksDB
//! run. `tasks > 1` runs the same operations from that many
//! `spawn_local` tasks on the same core, which lets group commit batch the
//! writes of one tick (and overlap reads). `readwhilewriting` and
//! `fillsync16` always use tasks on the one core (the peers use threads).

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use frys_storage::{Db, Options, SyncPolicy};

use crate::latency::Latencies;
use crate::workload::{key, Values};
use crate::{BenchError, ReadSeq, ReadWhileWriting};

pub struct FrysEngine {
    pub tasks: usize,
    dir: PathBuf,
    cache_bytes: usize,
    db: Option<Db>,
}

/// The options every frys run uses; the peers mirror them (see `main.rs`).
pub fn options(sync: SyncPolicy, cache_bytes: usize) -> Options {
    Options {
        // `No`: the WAL is written at every commit, never fsync'ed by us.
        sync,
        block_cache_bytes: cache_bytes,
        ..Options::default()
    }
}

type Shared = Rc<RefCell<Latencies>>;

impl FrysEngine {
    pub fn new(dir: &Path, tasks: usize, cache_bytes: usize) -> Self {
        Self {
            tasks,
            dir: dir.to_path_buf(),
            cache_bytes,
            db: None,
        }
    }

    pub async fn open_fresh(&mut self, sync: SyncPolicy) -> Result<(), BenchError> {
        self.close().await?;
        crate::remove_dir(&self.dir)?;
        std::fs::create_dir_all(&self.dir)?;
        self.db = Some(Db::open(&self.dir, options(sync, self.cache_bytes)).await?);
        Ok(())
    }

    fn db(&self) -> &Db {
        self.db
            .as_ref()
            .expect("frys db opened by the fill that ran first")
    }

    /// Puts `values.get(i)` under `key(i)` for every `i` of `order`, from
    /// `tasks` tasks.
    pub async fn write(
        &self,
        order: &Rc<Vec<u64>>,
        values: &Rc<Values>,
        tasks: usize,
    ) -> Result<Latencies, BenchError> {
        let db = self.db();
        if tasks <= 1 {
            let mut lat = Latencies::with_capacity(order.len());
            for &i in order.iter() {
                let start = Instant::now();
                db.put(&key(i), values.get(i)).await?;
                lat.record_since(start);
            }
            return Ok(lat);
        }
        let lat: Shared = Rc::new(RefCell::new(Latencies::with_capacity(order.len())));
        let cursor = Rc::new(Cell::new(0usize));
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let (db, order, values, cursor, lat) = (
                    db.clone(),
                    order.clone(),
                    values.clone(),
                    cursor.clone(),
                    lat.clone(),
                );
                frys::spawn_local(async move {
                    loop {
                        let n = cursor.get();
                        let Some(&i) = order.get(n) else {
                            return Ok(0);
                        };
                        cursor.set(n + 1);
                        let start = Instant::now();
                        db.put(&key(i), values.get(i)).await?;
                        lat.borrow_mut().record_since(start);
                    }
                })
            })
            .collect();
        join_all(handles).await?;
        Ok(lat.take())
    }

    /// Gets `key(i)` for every `i` of `order`; returns how many were found.
    pub async fn read_random(&self, order: &Rc<Vec<u64>>) -> Result<(u64, Latencies), BenchError> {
        let lat: Shared = Rc::new(RefCell::new(Latencies::with_capacity(order.len())));
        let found = read_tasks(self.db(), order, self.tasks, &lat).await?;
        Ok((found, lat.take()))
    }

    /// For every `i` of `order`: a scan from `key(i)` that reads `len`
    /// entries. Returns the entries seen.
    pub async fn seek_random(
        &self,
        order: &Rc<Vec<u64>>,
        len: usize,
    ) -> Result<(u64, Latencies), BenchError> {
        let db = self.db();
        let mut lat = Latencies::with_capacity(order.len());
        let mut seen = 0;
        for &i in order.iter() {
            let start = Instant::now();
            let mut scan = db.scan(key(i).to_vec()..);
            for _ in 0..len {
                if scan.next().await?.is_none() {
                    break;
                }
                seen += 1;
            }
            lat.record_since(start);
        }
        Ok((seen, lat))
    }

    /// One writer task overwrites `writes` (cyclically) as fast as it can
    /// while `readers` reader tasks share `reads`, all on the one core;
    /// ends when the readers do.
    pub async fn read_while_writing(
        &self,
        reads: &Rc<Vec<u64>>,
        writes: &Rc<Vec<u64>>,
        values: &Rc<Values>,
        readers: usize,
    ) -> Result<ReadWhileWriting, BenchError> {
        let db = self.db();
        let done = Rc::new(Cell::new(false));
        let writer = {
            let (db, writes, values, done) =
                (db.clone(), writes.clone(), values.clone(), done.clone());
            frys::spawn_local(async move {
                let mut lat = Latencies::default();
                for &i in writes.iter().cycle() {
                    if done.get() {
                        break;
                    }
                    let start = Instant::now();
                    db.put(&key(i), values.get(i)).await?;
                    lat.record_since(start);
                }
                Ok::<_, frys_storage::Error>(lat)
            })
        };
        let start = Instant::now();
        let lat: Shared = Rc::new(RefCell::new(Latencies::with_capacity(reads.len())));
        let found = read_tasks(db, reads, readers.max(1), &lat).await;
        let read_secs = start.elapsed().as_secs_f64();
        done.set(true);
        let writes = writer
            .await
            .map_err(|e| format!("frys writer failed: {e:?}"))??;
        Ok(ReadWhileWriting {
            found: found?,
            reads: lat.take(),
            read_secs,
            writes,
        })
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

/// Gets every key of `order` from `tasks` tasks sharing it; returns how
/// many were found.
async fn read_tasks(
    db: &Db,
    order: &Rc<Vec<u64>>,
    tasks: usize,
    lat: &Shared,
) -> Result<u64, BenchError> {
    if tasks <= 1 {
        let mut found = 0;
        let mut own = Latencies::with_capacity(order.len());
        for &i in order.iter() {
            let start = Instant::now();
            let hit = db.get(&key(i)).await?.is_some();
            own.record_since(start);
            found += u64::from(hit);
        }
        lat.borrow_mut().merge(own);
        return Ok(found);
    }
    let cursor = Rc::new(Cell::new(0usize));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (db, order, cursor, lat) = (db.clone(), order.clone(), cursor.clone(), lat.clone());
            frys::spawn_local(async move {
                let mut found = 0;
                loop {
                    let n = cursor.get();
                    let Some(&i) = order.get(n) else {
                        return Ok(found);
                    };
                    cursor.set(n + 1);
                    let start = Instant::now();
                    let hit = db.get(&key(i)).await?.is_some();
                    lat.borrow_mut().record_since(start);
                    found += u64::from(hit);
                }
            })
        })
        .collect();
    join_all(handles).await
}

/// Awaits every task; returns the sum of what they returned.
async fn join_all(
    handles: Vec<frys::JoinHandle<Result<u64, frys_storage::Error>>>,
) -> Result<u64, BenchError> {
    let mut sum = 0;
    for h in handles {
        sum += h.await.map_err(|e| format!("frys task failed: {e:?}"))??;
    }
    Ok(sum)
}
