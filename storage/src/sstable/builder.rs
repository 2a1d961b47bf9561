//! Writes a table into memory, entry by entry, in key order.

use std::cmp::Ordering;

use super::block::{append_block, BlockBuilder};
use super::filter::BloomFilterBuilder;
use super::footer::{BlockHandle, Footer, FORMAT_VERSION};
use super::index::separator;
use super::properties::TableProperties;
use super::{TableError, TableOptions};
use crate::key::{compare_internal_keys, split_internal_key};

/// Largest key plus value accepted in one entry.
const MAX_ENTRY_LEN: u64 = 1 << 31;
/// Largest target block size honoured. With [`MAX_ENTRY_LEN`] it keeps any
/// block payload (one block's worth plus one entry, plus restarts) < 4 GiB.
const MAX_BLOCK_SIZE: usize = 1 << 30;

/// Builds the bytes of one table. Entries go in strictly increasing
/// internal key order; [`finish`](Self::finish) returns the whole file.
///
/// # Examples
///
/// ```
/// use frys_storage::key::{internal_key, Kind};
/// use frys_storage::sstable::{Footer, TableBuilder, TableOptions};
///
/// let mut b = TableBuilder::new(TableOptions::default());
/// b.add(&internal_key(b"apple", 2, Kind::Put), b"\0red").unwrap();
/// b.add(&internal_key(b"apple", 1, Kind::Delete), b"").unwrap();
/// let file = b.finish().unwrap();
/// assert_eq!(Footer::decode(&file).unwrap().version, 1);
/// ```
pub struct TableBuilder {
    opts: TableOptions,
    out: Vec<u8>,
    data: BlockBuilder,
    index: BlockBuilder,
    filter: BloomFilterBuilder,
    props: TableProperties,
    /// Handle of the last flushed data block, waiting for the next key to
    /// choose its separator.
    pending: Option<BlockHandle>,
}

impl TableBuilder {
    /// A builder for an empty table.
    pub fn new(opts: TableOptions) -> TableBuilder {
        TableBuilder {
            data: BlockBuilder::new(opts.restart_interval),
            index: BlockBuilder::new(1),
            filter: BloomFilterBuilder::new(opts.bloom_bits_per_key),
            opts: TableOptions {
                block_size: opts.block_size.min(MAX_BLOCK_SIZE),
                ..opts
            },
            out: Vec::new(),
            props: TableProperties::default(),
            pending: None,
        }
    }

    /// Appends an entry. `ikey` must be a valid internal key greater than
    /// the previous one; `value` is the value field (empty for tombstones).
    /// On error nothing is added and the builder stays usable.
    pub fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<(), TableError> {
        let (user_key, _, _) = split_internal_key(ikey).ok_or(TableError::MalformedKey)?;
        if self.props.entries > 0
            && compare_internal_keys(&self.props.largest, ikey) != Ordering::Less
        {
            return Err(TableError::OutOfOrder);
        }
        let len = ikey.len() as u64 + value.len() as u64;
        if len > MAX_ENTRY_LEN {
            return Err(TableError::EntryTooLarge { len });
        }
        if let Some(handle) = self.pending.take() {
            self.add_index_entry(&separator(&self.props.largest, ikey), handle);
        }
        self.filter.add(user_key);
        self.data.add(ikey, value);
        self.props.record(ikey, value);
        if self.data.size_estimate() >= self.opts.block_size {
            self.flush_data_block();
        }
        Ok(())
    }

    /// Entries added so far.
    pub fn entries(&self) -> u64 {
        self.props.entries
    }

    /// About how many bytes [`finish`](Self::finish) would return now.
    pub fn estimated_size(&self) -> usize {
        self.out.len()
            + self.data.size_estimate()
            + self.index.size_estimate()
            + self.filter.size_estimate()
            + self.props.smallest.len()
            + self.props.largest.len()
            + 128
    }

    /// Writes the remaining blocks and the footer; returns the file bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, TableError> {
        self.flush_data_block();
        if let Some(handle) = self.pending.take() {
            let last = std::mem::take(&mut self.props.largest);
            self.add_index_entry(&last, handle);
            self.props.largest = last;
        }
        let filter = append_block(&mut self.out, &self.filter.finish(), false);
        let properties = append_block(&mut self.out, &self.props.encode(), false);
        let index_payload = self.index.finish();
        let index = append_block(&mut self.out, &index_payload, self.opts.compression);
        Footer {
            index,
            filter,
            properties,
            version: FORMAT_VERSION,
        }
        .encode(&mut self.out);
        Ok(self.out)
    }

    fn flush_data_block(&mut self) {
        if self.data.is_empty() {
            return;
        }
        let payload = self.data.finish();
        self.pending = Some(append_block(&mut self.out, &payload, self.opts.compression));
    }

    fn add_index_entry(&mut self, separator: &[u8], handle: BlockHandle) {
        let mut value = Vec::with_capacity(20);
        handle.encode_varint(&mut value);
        self.index.add(separator, &value);
    }
}
