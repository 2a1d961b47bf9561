//! Knobs of a partition.

use std::sync::Arc;

use crate::budget::CoreBudget;
use crate::compaction_filter::CompactionFilter;
use crate::file_system::FileSystem;

/// When the WAL is made durable — named as Redis names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// A write is acknowledged only after its WAL record is fdatasync'ed.
    /// Writes of one executor tick share the sync (group commit).
    Always,
    /// The WAL is written at every commit and fdatasync'ed once a second by
    /// a timer: a process crash loses nothing, a power loss at most ~1 s.
    #[default]
    EverySec,
    /// Written at every commit; synced by us only when a memtable's WAL
    /// segment is closed (every `memtable_bytes`), so that a power loss
    /// leaves a prefix of the writes; how long a prefix is the OS's choice.
    No,
}

/// Options of [`Db::open`](crate::Db::open).
#[derive(Debug, Clone)]
pub struct Options {
    /// WAL durability (default `EverySec`).
    pub sync: SyncPolicy,
    /// A memtable holding this many bytes of keys + values is frozen and
    /// flushed to an SSTable (default 8 MiB).
    pub memtable_bytes: usize,
    /// Target data block size before compression (default 4 KiB).
    pub block_size: usize,
    /// Bloom filter bits per key (default 10, ~1% false positives).
    pub bloom_bits_per_key: usize,
    /// lz4-compress blocks when that saves space (default true).
    pub compression: bool,
    /// Byte budget of the partition's block cache (default 64 MiB); not
    /// used when `budget` is given.
    pub block_cache_bytes: usize,
    /// Compaction outputs are cut at this size (default 8 MiB).
    pub target_file_size: u64,
    /// L1 target size; each deeper level is 10x larger (default 64 MiB).
    pub level_base_bytes: u64,
    /// Create the partition if the directory holds none (default true).
    pub create_if_missing: bool,
    /// Past this size the manifest is rewritten as one snapshot edit into a
    /// new file and `CURRENT` is swapped to it (default 4 MiB).
    pub manifest_rotate_bytes: u64,
    /// The memory budget this partition shares with the other partitions
    /// of its core: their one block cache, and a write-buffer limit across
    /// their memtables (default `None`: an own cache of
    /// `block_cache_bytes`, and only `memtable_bytes` per partition).
    pub budget: Option<CoreBudget>,
    /// Bytes a compaction reads ahead from each input in one read (default
    /// 256 KiB): each input holds below twice this plus one block.
    pub compaction_readahead_bytes: usize,
    /// An L0→L1 merge of at least twice `target_file_size` is split into up
    /// to this many subcompactions by key range, which run side by side and
    /// which idle cores may steal (default 1: no split; 0 counts as 1).
    pub max_subcompactions: usize,
    /// Compactions that may run at once, on disjoint inputs (default 2;
    /// 0 counts as 1). Flushes never wait for them.
    pub max_compactions: usize,
    /// Lets compactions drop records that another record's current value
    /// makes dead (default `None`: compactions filter nothing and pay
    /// nothing for it). See [`CompactionFilter`].
    pub compaction_filter: Option<Arc<dyn CompactionFilter>>,
    /// Where the partition's files live (default: the real file system;
    /// crash tests give a simulated one, `fault-injection` feature).
    pub file_system: FileSystem,
    /// Shares of the task queue that compactions run in
    /// (default `Some(10)`, against the 100 of the runtime's default queue
    /// where the partition's readers and writers usually run; clamped to
    /// `1..=`[`MAX_SHARES`](frys_runtime::MAX_SHARES)). `None`: background
    /// compactions run in the default queue, side by side with the
    /// foreground. Flushes always run in the default queue: only a flush
    /// ends a write stop (4 frozen memtables).
    ///
    /// The queue is [`BACKGROUND_QUEUE`], one per runtime, shared by all
    /// partitions of all its cores; the first partition to start
    /// background work creates it, with its shares. While the foreground
    /// keeps a core busy, compactions get about 10/110 of it (so a big
    /// compaction adds little to read latency); a core with nothing else
    /// to do gives them all its time. The write throttle (see
    /// [`Metrics::write_slowdowns`](crate::Metrics::write_slowdowns))
    /// makes writers wait when compaction falls behind; that leaves the
    /// core to compaction only when the writers were what kept it busy.
    /// When readers (or other partitions) keep it busy, compactions keep
    /// their small share and a stop on L0 tables lasts longer; raise the
    /// shares, or use `None`, for such a load.
    pub background_shares: Option<u32>,
}

/// Name of the task queue of background work (see
/// [`Options::background_shares`]).
pub const BACKGROUND_QUEUE: &str = "storage-background";

impl Default for Options {
    fn default() -> Self {
        Self {
            sync: SyncPolicy::default(),
            memtable_bytes: 8 << 20,
            block_size: 4096,
            bloom_bits_per_key: 10,
            compression: true,
            block_cache_bytes: 64 << 20,
            target_file_size: 8 << 20,
            level_base_bytes: 64 << 20,
            create_if_missing: true,
            manifest_rotate_bytes: 4 << 20,
            budget: None,
            max_compactions: 2,
            max_subcompactions: 1,
            compaction_readahead_bytes: 256 << 10,
            compaction_filter: None,
            file_system: FileSystem::real(),
            background_shares: Some(10),
        }
    }
}

/// Longest key accepted (64 KiB).
pub const MAX_KEY_LEN: usize = 64 << 10;
/// Longest value accepted (512 MiB).
pub const MAX_VALUE_LEN: usize = 512 << 20;
