//! Where a key lives: its hash slot, the partition holding the slot, the
//! core owning the partition, and the on-disk layout of a data directory.

mod data_dir;
mod partition_map;
mod slot;

pub(crate) use data_dir::{create_dir_all_durably, sync_parent};
pub use data_dir::{DataDir, DataDirError, FORMAT_VERSION};
pub use partition_map::PartitionMap;
pub use slot::{crc16, key_slot, SLOTS};
