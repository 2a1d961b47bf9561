//! A cursor over a whole table held in memory (tests, verification,
//! compaction input already read into a buffer).

use std::sync::Arc;

use super::block::{decode_block, BlockIter};
use super::footer::{BlockHandle, Footer};
use super::index::TableIndex;
use super::TableError;

/// Iterates every entry of a table given its file bytes, in key order.
///
/// Moves that may read a block return `Result`: a corrupt block stops the
/// cursor (it becomes invalid) and the error says which block.
pub struct TableIter {
    file: Arc<[u8]>,
    footer: Footer,
    index: TableIndex,
    /// Index position of the loaded block (`index.len()` once past the end).
    pos: usize,
    block: Option<BlockIter>,
}

impl TableIter {
    /// Decodes the footer and the index; the cursor starts not valid.
    pub fn new(file: Arc<[u8]>) -> Result<TableIter, TableError> {
        let footer = Footer::decode(&file)?;
        footer.check_bounds(file.len() as u64)?;
        let index_block = decode_block(read(&file, footer.index)?, footer.index.offset)?;
        let index = TableIndex::decode(&index_block)?;
        Ok(TableIter {
            pos: index.len(),
            file,
            footer,
            index,
            block: None,
        })
    }

    /// The table's footer.
    pub fn footer(&self) -> &Footer {
        &self.footer
    }

    /// The table's decoded index.
    pub fn index(&self) -> &TableIndex {
        &self.index
    }

    /// Whether the cursor is at an entry.
    pub fn valid(&self) -> bool {
        self.block.as_ref().is_some_and(BlockIter::valid)
    }

    /// Moves to the first entry.
    pub fn seek_to_first(&mut self) -> Result<(), TableError> {
        self.load(0)?;
        if let Some(it) = &mut self.block {
            it.seek_to_first();
        }
        self.skip_exhausted_blocks()
    }

    /// Moves to the first entry `>= ikey` by internal key order.
    pub fn seek(&mut self, ikey: &[u8]) -> Result<(), TableError> {
        self.load(self.index.position(ikey))?;
        if let Some(it) = &mut self.block {
            it.seek(ikey);
        }
        self.skip_exhausted_blocks()
    }

    /// Moves to the next entry; no-op when not valid.
    // A cursor, not an `Iterator`: entries borrow the cursor's buffers.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<(), TableError> {
        match &mut self.block {
            Some(it) if it.valid() => it.next(),
            _ => return Ok(()),
        }
        self.skip_exhausted_blocks()
    }

    /// The current internal key; empty when not valid.
    pub fn key(&self) -> &[u8] {
        self.block.as_ref().map_or(&[], BlockIter::key)
    }

    /// The current value field; empty when not valid.
    pub fn value(&self) -> &[u8] {
        self.block.as_ref().map_or(&[], BlockIter::value)
    }

    /// Loads data block `pos` (or nothing past the last block).
    fn load(&mut self, pos: usize) -> Result<(), TableError> {
        self.block = None;
        self.pos = pos;
        let Some(handle) = self.index.handle(pos) else {
            return Ok(());
        };
        let block = decode_block(read(&self.file, handle)?, handle.offset)?;
        self.block = Some(block.iter());
        Ok(())
    }

    /// While the current block is used up, moves to the next one's start.
    fn skip_exhausted_blocks(&mut self) -> Result<(), TableError> {
        while self.block.as_ref().is_some_and(|it| !it.valid()) {
            self.load(self.pos + 1)?;
            if let Some(it) = &mut self.block {
                it.seek_to_first();
            }
        }
        Ok(())
    }
}

/// The stored bytes of the block at `handle`, or an error if the handle
/// points outside the file.
fn read(file: &[u8], handle: BlockHandle) -> Result<&[u8], TableError> {
    usize::try_from(handle.offset)
        .ok()
        .zip(usize::try_from(handle.end()).ok())
        .and_then(|(start, end)| file.get(start..end))
        .ok_or(TableError::Corrupt {
            what: "block handle past the end of the file",
            offset: handle.offset,
        })
}
