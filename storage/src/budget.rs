//! [`CoreBudget`]: one memory budget shared by the partitions of one core.
//!
//! Two limits, both caps (nothing is allocated up front):
//! - **block cache**: one LRU cache of decoded blocks for every partition
//!   given this budget, holding at most `block_cache_bytes` together;
//! - **write buffer**: when the live memtables of those partitions hold
//!   more than `write_buffer_bytes` of keys and values together, the
//!   largest is frozen and flushed (as RocksDB's WriteBufferManager does).
//!   Memtables being switched, frozen ones waiting for their flush, and
//!   ones whose last switch found no room for a new WAL segment are not
//!   counted: the write stall (see `db::maintenance`) and the memtable's
//!   own bound (twice its size, `db::wal_task`) already bound them per
//!   partition, and asking again for a switch that found no room would
//!   only retry a file creation on every commit of the core.
//!
//! Invariants: a budget is `!Send` and lives on one core, like the
//! partitions that share it; it holds them weakly (a dropped partition
//! leaves the list at the next check); every borrow it takes of a
//! partition's state ends before it returns, and it never awaits.

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};

use crate::db::Inner;
use crate::sstable::BlockCache;

/// The memory budget of one core's partitions. Cheap to clone (clones
/// share the budget); `!Send`.
///
/// Give the same budget to every [`Db`](crate::Db) of a core through
/// [`Options::budget`](crate::Options::budget). Without one, a partition
/// has its own cache of [`Options::block_cache_bytes`](crate::Options) and
/// no write-buffer limit beyond its own
/// [`Options::memtable_bytes`](crate::Options).
///
/// # Examples
/// ```no_run
/// use frys_storage::{CoreBudget, Db, Options};
///
/// # async fn f() -> frys_storage::Result<()> {
/// let budget = CoreBudget::new(64 << 20, 64 << 20);
/// let opts = Options { budget: Some(budget.clone()), ..Options::default() };
/// let a = Db::open("/data/core0/p0", opts.clone()).await?;
/// let b = Db::open("/data/core0/p1", opts).await?;
/// assert!(budget.block_cache_bytes() <= budget.block_cache_capacity());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CoreBudget {
    shared: Rc<Shared>,
}

struct Shared {
    cache: Rc<RefCell<BlockCache>>,
    write_buffer_bytes: usize,
    partitions: RefCell<Vec<Weak<Inner>>>,
}

impl CoreBudget {
    /// Default block cache budget of a core: 64 MiB.
    pub const DEFAULT_BLOCK_CACHE_BYTES: usize = 64 << 20;
    /// Default write-buffer budget of a core: 64 MiB.
    pub const DEFAULT_WRITE_BUFFER_BYTES: usize = 64 << 20;

    /// A budget of `block_cache_bytes` of cached blocks and
    /// `write_buffer_bytes` of live memtable data, shared by every
    /// partition opened with it.
    pub fn new(block_cache_bytes: usize, write_buffer_bytes: usize) -> CoreBudget {
        CoreBudget {
            shared: Rc::new(Shared {
                cache: Rc::new(RefCell::new(BlockCache::new(block_cache_bytes))),
                write_buffer_bytes,
                partitions: RefCell::new(Vec::new()),
            }),
        }
    }

    /// Bytes the shared block cache holds now (payloads plus per-entry
    /// overhead).
    pub fn block_cache_bytes(&self) -> usize {
        self.shared.cache.borrow().stats().bytes
    }

    /// The block cache budget.
    pub fn block_cache_capacity(&self) -> usize {
        self.shared.cache.borrow().stats().capacity
    }

    /// Bytes of keys and values in the live memtables of the partitions
    /// sharing this budget.
    pub fn memtable_bytes(&self) -> usize {
        self.live_partitions()
            .iter()
            .map(|p| live_memtable_bytes(p))
            .sum()
    }

    /// The write-buffer budget.
    pub fn write_buffer_bytes(&self) -> usize {
        self.shared.write_buffer_bytes
    }

    pub(crate) fn cache(&self) -> Rc<RefCell<BlockCache>> {
        self.shared.cache.clone()
    }

    pub(crate) fn register(&self, partition: &Rc<Inner>) {
        let mut parts = self.shared.partitions.borrow_mut();
        parts.retain(|p| p.strong_count() > 0);
        parts.push(Rc::downgrade(partition));
    }

    /// After a commit: if the live memtables together are over budget, the
    /// partition whose live memtable is largest (and not already being
    /// switched, nor waiting for room for a new WAL segment), which should
    /// freeze and flush it.
    pub(crate) fn over_budget_partition(&self) -> Option<Rc<Inner>> {
        // A memtable already being switched is as good as frozen; one that
        // found no room retries at its own next write.
        let parts: Vec<_> = self
            .live_partitions()
            .into_iter()
            .filter(|p| !p.switch_requested.get() && p.switch_no_room.borrow().is_none())
            .collect();
        let total: usize = parts.iter().map(|p| live_memtable_bytes(p)).sum();
        if total <= self.shared.write_buffer_bytes {
            return None;
        }
        parts
            .into_iter()
            .max_by_key(|p| live_memtable_bytes(p))
            .filter(|p| live_memtable_bytes(p) > 0)
    }

    /// The partitions that still take writes: a closed, abandoned or
    /// poisoned one's memtable is never flushed, so it does not count.
    fn live_partitions(&self) -> Vec<Rc<Inner>> {
        self.shared
            .partitions
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|p| p.check_writable().is_ok() && !p.abandoned.get())
            .collect()
    }
}

impl Default for CoreBudget {
    /// [`DEFAULT_BLOCK_CACHE_BYTES`](Self::DEFAULT_BLOCK_CACHE_BYTES) and
    /// [`DEFAULT_WRITE_BUFFER_BYTES`](Self::DEFAULT_WRITE_BUFFER_BYTES).
    fn default() -> Self {
        CoreBudget::new(
            Self::DEFAULT_BLOCK_CACHE_BYTES,
            Self::DEFAULT_WRITE_BUFFER_BYTES,
        )
    }
}

impl fmt::Debug for CoreBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreBudget")
            .field("block_cache_capacity", &self.block_cache_capacity())
            .field("write_buffer_bytes", &self.shared.write_buffer_bytes)
            .finish_non_exhaustive()
    }
}

fn live_memtable_bytes(p: &Inner) -> usize {
    p.state.borrow().mem.borrow().data_bytes()
}
