//! An open SSTable: its file, index, bloom filter and properties, and the
//! async reads that find a key in it.
//!
//! The index, filter and properties stay in memory for the table's life;
//! data blocks go through the block cache (the partition's or its core's);
//! compaction reads its inputs itself, past the cache (`db::stream`). The file stays open,
//! so a table that compaction has unlinked can still be read by a scan or
//! snapshot that holds it.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use crate::file_system::{File, FileSystem, OpenMode};

use crate::error::{Error, Result};
use crate::key::{self, Kind, SeqNo};
use crate::sstable::{
    decode_block, decode_block_payload, Block, BlockCache, BlockHandle, BloomFilter, Footer,
    TableError, TableIndex, TableProperties, FOOTER_LEN,
};

/// One version found in a table or memtable, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// A value field (`key::decode_value`).
    Value(Vec<u8>),
    /// A tombstone.
    Deleted,
}

pub(crate) struct Table {
    pub(crate) id: u64,
    /// Its key in the block cache (unique among the cache's tables).
    pub(crate) cache_key: u64,
    pub(crate) path: PathBuf,
    file: File,
    pub(crate) size: u64,
    pub(crate) index: TableIndex,
    bloom: BloomFilter,
    pub(crate) props: TableProperties,
}

/// Maps a format error to a corruption error naming the file.
pub(crate) fn corrupt(path: &Path, e: TableError) -> Error {
    let offset = match &e {
        TableError::ChecksumMismatch { offset } | TableError::Corrupt { offset, .. } => *offset,
        _ => 0,
    };
    Error::corruption(path, offset, e)
}

impl Table {
    /// Opens table `id` at `path`, reading its footer and meta blocks.
    pub(crate) async fn open(
        fs: &FileSystem,
        id: u64,
        cache_key: u64,
        path: PathBuf,
    ) -> Result<Table> {
        let file = fs
            .open(&path, OpenMode::Read)
            .await
            .map_err(|e| Error::io("open", &path, e))?;
        let size = file.len().await.map_err(|e| Error::io("stat", &path, e))?;
        if size < FOOTER_LEN as u64 {
            return Err(Error::corruption(
                &path,
                0,
                format!("table is {size} bytes, shorter than its footer"),
            ));
        }
        let tail = read_exact(&file, &path, size - FOOTER_LEN as u64, FOOTER_LEN).await?;
        let footer = Footer::decode(&tail).map_err(|e| corrupt(&path, e))?;
        footer.check_bounds(size).map_err(|e| corrupt(&path, e))?;
        let meta = |h: BlockHandle| read_exact(&file, &path, h.offset, h.size as usize);
        let index_raw = meta(footer.index).await?;
        let filter_raw = meta(footer.filter).await?;
        let props_raw = meta(footer.properties).await?;
        let (index, bloom, props) =
            decode_meta(&path, &footer, &index_raw, &filter_raw, &props_raw)?;
        Ok(Table {
            id,
            cache_key,
            path,
            file,
            size,
            index,
            bloom,
            props,
        })
    }

    /// Opens a table whose bytes we just wrote (no need to read them back).
    pub(crate) async fn from_written(
        fs: &FileSystem,
        id: u64,
        cache_key: u64,
        path: PathBuf,
        bytes: &[u8],
    ) -> Result<Table> {
        let file = fs
            .open(&path, OpenMode::Read)
            .await
            .map_err(|e| Error::io("open", &path, e))?;
        let footer = Footer::decode(bytes).map_err(|e| corrupt(&path, e))?;
        let slice = |h: BlockHandle| &bytes[h.offset as usize..(h.offset + h.size) as usize];
        footer
            .check_bounds(bytes.len() as u64)
            .map_err(|e| corrupt(&path, e))?;
        let (index, bloom, props) = decode_meta(
            &path,
            &footer,
            slice(footer.index),
            slice(footer.filter),
            slice(footer.properties),
        )?;
        Ok(Table {
            id,
            cache_key,
            size: bytes.len() as u64,
            path,
            file,
            index,
            bloom,
            props,
        })
    }

    /// Smallest and largest user keys in the table.
    pub(crate) fn user_key_range(&self) -> (&[u8], &[u8]) {
        (
            key::user_key(&self.props.smallest),
            key::user_key(&self.props.largest),
        )
    }

    /// The newest version of `user_key` visible at `snapshot`, and its
    /// seqno.
    pub(crate) async fn get(
        &self,
        cache: &RefCell<BlockCache>,
        user_key: &[u8],
        snapshot: SeqNo,
    ) -> Result<Option<(SeqNo, Found)>> {
        let (lo, hi) = self.user_key_range();
        if user_key < lo || user_key > hi || !self.bloom.may_contain(user_key) {
            return Ok(None);
        }
        let seek = key::seek_key(user_key, snapshot);
        let Some(handle) = self.index.find(&seek) else {
            return Ok(None);
        };
        let block = self.block(cache, handle).await?;
        let mut it = block.iter();
        it.seek(&seek);
        if !it.valid() {
            return Ok(None);
        }
        match key::split_internal_key(it.key()) {
            Some((k, seqno, kind)) if k == user_key => {
                let found = match kind {
                    Kind::Put => Found::Value(it.value().to_vec()),
                    Kind::Delete => Found::Deleted,
                };
                Ok(Some((seqno, found)))
            }
            _ => Ok(None),
        }
    }

    /// A data block, from the cache or the file.
    pub(crate) async fn block(
        &self,
        cache: &RefCell<BlockCache>,
        handle: BlockHandle,
    ) -> Result<Block> {
        if let Some(b) = cache.borrow_mut().get(self.cache_key, handle.offset) {
            return Ok(b);
        }
        let raw = read_exact(&self.file, &self.path, handle.offset, handle.size as usize).await?;
        let block = decode_block(&raw, handle.offset).map_err(|e| corrupt(&self.path, e))?;
        Ok(cache
            .borrow_mut()
            .insert(self.cache_key, handle.offset, block))
    }
}

fn decode_meta(
    path: &Path,
    footer: &Footer,
    index_raw: &[u8],
    filter_raw: &[u8],
    props_raw: &[u8],
) -> Result<(TableIndex, BloomFilter, TableProperties)> {
    let index_block = decode_block(index_raw, footer.index.offset).map_err(|e| corrupt(path, e))?;
    let index = TableIndex::decode(&index_block).map_err(|e| corrupt(path, e))?;
    // Data blocks come before the meta blocks: a handle past them (a bad
    // index that still passed its checksum) would make a read allocate or
    // fetch a span the file does not hold.
    let meta_start = footer
        .index
        .offset
        .min(footer.filter.offset)
        .min(footer.properties.offset);
    if index.data_end() > meta_start {
        return Err(corrupt(
            path,
            TableError::Corrupt {
                what: "data block handle past the data blocks",
                offset: footer.index.offset,
            },
        ));
    }
    let filter =
        decode_block_payload(filter_raw, footer.filter.offset).map_err(|e| corrupt(path, e))?;
    let bloom = BloomFilter::decode(filter, footer.filter.offset).map_err(|e| corrupt(path, e))?;
    let props_payload =
        decode_block_payload(props_raw, footer.properties.offset).map_err(|e| corrupt(path, e))?;
    let props = TableProperties::decode(&props_payload, footer.properties.offset)
        .map_err(|e| corrupt(path, e))?;
    Ok((index, bloom, props))
}

async fn read_exact(file: &File, path: &Path, offset: u64, len: usize) -> Result<Vec<u8>> {
    match file.read_exact_at(len, offset).await {
        Ok(buf) => Ok(buf),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::corruption(
            path,
            offset,
            format!("file ends before {len} bytes at this offset"),
        )),
        Err(e) => Err(Error::io("read", path, e)),
    }
}
