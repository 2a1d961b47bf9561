//! Block handles and the fixed-size footer at the end of every table.

use super::block::BLOCK_TRAILER_LEN;
use super::coding::{get_u32_le, get_u64_le, get_varint64, put_varint};
use super::TableError;
use crate::checksum::masked_crc32c;

/// Bytes of the footer.
pub const FOOTER_LEN: usize = 64;
/// The last 8 bytes of every table: `"FRYS.SST"` read as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"FRYS.SST");
/// The format version this code writes, and the only one it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Largest stored block a handle may describe; larger is corruption.
const MAX_STORED_BLOCK: u64 = 1 << 33;
const HANDLES_LEN: usize = 48;

/// Where a stored block lies in the file; `size` includes the 5-byte
/// trailer, so `[offset, offset + size)` is exactly what to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockHandle {
    /// File offset of the block's first byte.
    pub offset: u64,
    /// Bytes of the stored block, trailer included.
    pub size: u64,
}

impl BlockHandle {
    /// One past the block's last byte.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.size)
    }

    pub(crate) fn encode_varint(&self, out: &mut Vec<u8>) {
        put_varint(out, self.offset);
        put_varint(out, self.size);
    }

    /// Reads a varint-encoded handle and checks it is plausible.
    pub(crate) fn decode_varint(input: &mut &[u8]) -> Option<BlockHandle> {
        let offset = get_varint64(input)?;
        let size = get_varint64(input)?;
        BlockHandle { offset, size }.plausible()
    }

    fn plausible(self) -> Option<BlockHandle> {
        let ok = self.size >= BLOCK_TRAILER_LEN as u64
            && self.size <= MAX_STORED_BLOCK
            && self.offset.checked_add(self.size).is_some();
        ok.then_some(self)
    }
}

/// The decoded footer: where the index, filter and properties blocks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The index block.
    pub index: BlockHandle,
    /// The bloom filter block.
    pub filter: BlockHandle,
    /// The properties block.
    pub properties: BlockHandle,
    /// Format version the table was written with.
    pub version: u32,
}

impl Footer {
    /// Parses the footer from the end of `tail` (the last [`FOOTER_LEN`]
    /// bytes of the file, or any longer suffix of it, or the whole file).
    /// Checks, in order: length, magic, version, checksum, handle sanity.
    /// Offsets in errors are relative to the start of `tail`.
    pub fn decode(tail: &[u8]) -> Result<Footer, TableError> {
        let start = tail
            .len()
            .checked_sub(FOOTER_LEN)
            .ok_or(TableError::TooShort {
                len: tail.len() as u64,
            })?;
        let bytes = &tail[start..];
        let corrupt = |what| TableError::Corrupt {
            what,
            offset: start as u64,
        };
        let mut cur = &bytes[HANDLES_LEN..];
        let crc = get_u32_le(&mut cur).ok_or(corrupt("footer"))?;
        let version = get_u32_le(&mut cur).ok_or(corrupt("footer"))?;
        let magic = get_u64_le(&mut cur).ok_or(corrupt("footer"))?;
        if magic != MAGIC {
            return Err(TableError::BadMagic { found: magic });
        }
        if version != FORMAT_VERSION {
            return Err(TableError::UnsupportedVersion(version));
        }
        if masked_crc32c(&[&bytes[..HANDLES_LEN]]) != crc {
            return Err(TableError::ChecksumMismatch {
                offset: start as u64,
            });
        }
        let mut cur = &bytes[..HANDLES_LEN];
        let mut handle = || -> Result<BlockHandle, TableError> {
            let offset = get_u64_le(&mut cur).ok_or(corrupt("footer"))?;
            let size = get_u64_le(&mut cur).ok_or(corrupt("footer"))?;
            BlockHandle { offset, size }
                .plausible()
                .ok_or(corrupt("footer block handle"))
        };
        Ok(Footer {
            index: handle()?,
            filter: handle()?,
            properties: handle()?,
            version,
        })
    }

    /// Checks that every handle lies within a file of `file_len` bytes,
    /// before the footer. Call it before reading the blocks.
    pub fn check_bounds(&self, file_len: u64) -> Result<(), TableError> {
        let limit = file_len.saturating_sub(FOOTER_LEN as u64);
        for h in [self.index, self.filter, self.properties] {
            if h.end() > limit {
                return Err(TableError::Corrupt {
                    what: "footer block handle past the end of the file",
                    offset: limit,
                });
            }
        }
        Ok(())
    }

    /// Appends the encoded footer.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        for h in [self.index, self.filter, self.properties] {
            out.extend_from_slice(&h.offset.to_le_bytes());
            out.extend_from_slice(&h.size.to_le_bytes());
        }
        let crc = masked_crc32c(&[&out[start..]]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&MAGIC.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Footer {
        Footer {
            index: BlockHandle {
                offset: 1000,
                size: 50,
            },
            filter: BlockHandle {
                offset: 900,
                size: 60,
            },
            properties: BlockHandle {
                offset: 960,
                size: 40,
            },
            version: FORMAT_VERSION,
        }
    }

    fn encoded() -> Vec<u8> {
        let mut out = vec![0xaa; 3];
        sample().encode(&mut out);
        assert_eq!(out.len(), 3 + FOOTER_LEN);
        out
    }

    #[test]
    fn footer_round_trips_from_any_suffix() {
        let bytes = encoded();
        assert_eq!(Footer::decode(&bytes).unwrap(), sample());
        assert_eq!(Footer::decode(&bytes[3..]).unwrap(), sample());
        assert!(sample().check_bounds(1050 + FOOTER_LEN as u64).is_ok());
        assert!(sample().check_bounds(1049 + FOOTER_LEN as u64).is_err());
    }

    #[test]
    fn truncated_footer_is_too_short() {
        let bytes = encoded();
        let err = Footer::decode(&bytes[bytes.len() - FOOTER_LEN + 1..]).unwrap_err();
        assert_eq!(err, TableError::TooShort { len: 63 });
        assert!(err.to_string().contains("shorter than the 64-byte footer"));
    }

    #[test]
    fn wrong_magic_and_future_version_are_named() {
        let mut bytes = encoded();
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        assert!(matches!(
            Footer::decode(&bytes),
            Err(TableError::BadMagic { .. })
        ));
        let mut bytes = encoded();
        bytes[n - 12..n - 8].copy_from_slice(&2u32.to_le_bytes());
        let err = Footer::decode(&bytes).unwrap_err();
        assert_eq!(err, TableError::UnsupportedVersion(2));
        assert!(err
            .to_string()
            .contains("format version 2 is not supported"));
    }

    #[test]
    fn corrupted_handles_fail_the_checksum() {
        for i in 0..HANDLES_LEN {
            let mut bytes = encoded();
            bytes[3 + i] ^= 0x10;
            assert_eq!(
                Footer::decode(&bytes),
                Err(TableError::ChecksumMismatch { offset: 3 })
            );
        }
    }
}
