//! Sorted string tables: the immutable on-disk runs of the LSM tree.
//!
//! This module is sans-IO: it turns entries into file bytes
//! ([`TableBuilder`]) and turns bytes read back from a file into typed parts
//! ([`Footer`], [`TableIndex`], [`BloomFilter`], [`TableProperties`],
//! [`Block`]). The caller does all file I/O. Every decoder takes untrusted
//! bytes and returns a [`TableError`] instead of panicking.
//!
//! # File layout
//!
//! ```text
//! [data block 0] .. [data block n-1] [filter block] [properties block] [index block] [footer]
//! ```
//!
//! All integers are little-endian unless said otherwise; `varint` is
//! unsigned LEB128 (7 bits per byte, low group first, at most 10 bytes for a
//! u64 and 5 for a u32). Keys are internal keys (see [`crate::key`]) ordered
//! by [`compare_internal_keys`](crate::key::compare_internal_keys), never by
//! plain byte order.
//!
//! **Block trailer.** Every block (data, filter, properties, index) is
//! stored as `stored_payload | type: u8 | crc: u32`. `type` is 0 for an
//! uncompressed payload and 1 for lz4: `uncompressed_len: u32` followed by
//! an lz4 *block-format* stream (`lz4_flex::block::compress_prepend_size`).
//! The writer uses lz4 only when it saves at least 1/8 of the payload bytes.
//! `crc` is the CRC32C of `stored_payload | type`, masked like LevelDB
//! (`((crc >> 15) | (crc << 17)) + 0xa282ead8`, see [`crate::checksum`]).
//! A [`BlockHandle`] `{offset, size}` points at a stored block; `size`
//! includes the 5-byte trailer. [`decode_block_payload`] checks the CRC and
//! decompresses; [`decode_block`] then parses the block format below.
//!
//! **Data blocks** (target [`TableOptions::block_size`], 4 KiB by default)
//! hold entries in strictly increasing key order, each
//! `shared: varint32 | unshared: varint32 | value_len: varint32 |
//! key[shared..]: unshared bytes | value: value_len bytes`, where `shared`
//! is the length of the prefix the key has in common with the previous
//! key. Every [`TableOptions::restart_interval`]-th entry (16 by default)
//! is a *restart point* with `shared = 0`. After the entries come the
//! restart offsets `u32 * num_restarts` (offsets of the restart entries
//! from the start of the payload, increasing, the first one 0) and then
//! `num_restarts: u32`. An empty block is just `num_restarts = 0`. A block
//! is fully validated once when decoded (structure, restarts, key order),
//! so iterating it afterwards cannot fail. Payloads are < 4 GiB.
//!
//! **Filter block** is one bloom filter over the *user keys* of the whole
//! table (consecutive versions of one user key are added once):
//! `bits: ceil(m/8) bytes | k: u8`, with `m >= 64` bits (about
//! [`TableOptions::bloom_bits_per_key`] per user key) and `k = round(0.69 *
//! bits_per_key)` clamped to 1..=30 (7 for 10 bits per key). Probe `i` tests
//! bit `(h1 + i * h2) mod m` (bit `j` is bit `j % 8` of byte `j / 8`) where
//! `h = xxh64(user_key, seed 0)`, `h1 = h`, `h2 = h.rotate_left(32) | 1`.
//! `k = 0` (filtering disabled) means "may contain" for every key.
//!
//! **Properties block** is a sequence of records `tag: varint | len: varint
//! | len bytes`; numbers are varints inside their record. Tags: 1 entries,
//! 2 smallest internal key (raw bytes), 3 largest internal key, 4 min seqno,
//! 5 max seqno, 6 tombstones, 7 raw key bytes (sum of internal key lengths),
//! 8 raw value bytes (sum of value field lengths). All are required, each at
//! most once; unknown tags are skipped so later writers may add more.
//!
//! **Index block** uses the data block format, with restart interval 1.
//! Entry `i` maps a separator key to the handle of data block `i` encoded
//! as `offset: varint64 | size: varint64`. The separator is `>=` the last
//! key of block `i` and `<` the first key of block `i + 1`: when the two
//! user keys differ it is a short user key `s` with `last_user <= s <
//! next_user` followed by the trailer `(MAX_SEQNO, Put)`, otherwise (and for
//! the last block) it is the last key itself.
//!
//! **Footer** ([`FOOTER_LEN`] = 64 bytes, the end of the file):
//! `index.offset: u64 | index.size: u64 | filter.offset: u64 | filter.size:
//! u64 | properties.offset: u64 | properties.size: u64 | crc: u32 |
//! version: u32 | magic: u64`. `crc` is the masked CRC32C of the 48 handle
//! bytes. The last 12 bytes (`version | magic`) keep their place in every
//! future version; [`Footer::decode`] checks the magic, then the version,
//! then the CRC.

#![forbid(unsafe_code)]

mod block;
mod builder;
mod cache;
mod coding;
mod error;
mod filter;
mod footer;
mod index;
mod iter;
mod properties;
#[cfg(test)]
mod tests;

pub use block::{decode_block, decode_block_payload, Block, BlockIter, BLOCK_TRAILER_LEN};
pub use builder::TableBuilder;
pub use cache::{BlockCache, CacheStats};
pub use error::TableError;
pub use filter::{BloomFilter, BloomFilterBuilder};
pub use footer::{BlockHandle, Footer, FOOTER_LEN, FORMAT_VERSION, MAGIC};
pub use index::TableIndex;
pub use iter::TableIter;
pub use properties::TableProperties;

/// How a [`TableBuilder`] lays out a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    /// A data block is closed once its payload reaches this many bytes
    /// (before compression). 0 means one entry per block.
    pub block_size: usize,
    /// Entries between restart points in data blocks (0 is taken as 1).
    pub restart_interval: usize,
    /// Bloom filter bits per distinct user key; 0 disables filtering.
    pub bloom_bits_per_key: usize,
    /// Whether to lz4-compress blocks when it saves at least 1/8.
    pub compression: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
            compression: true,
        }
    }
}
