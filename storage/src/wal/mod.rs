//! Write-ahead-log record framing and the rules for recovering a segment.
//!
//! # Record layout
//!
//! A WAL segment file is a plain sequence of records, no block padding:
//!
//! ```text
//! +------------------+---------------------------+-----------------+
//! | len: u32 LE      | masked crc32c(payload):   | payload         |
//! | (payload bytes)  | u32 LE                    | (len bytes)     |
//! +------------------+---------------------------+-----------------+
//! ```
//!
//! The checksum is CRC-32C of the payload, *masked* as in LevelDB
//! (`crc.rotate_right(15) + 0xa282ead8`) so that payloads which themselves
//! contain CRCs (the manifest, or a value holding a WAL) do not checksum
//! degenerately; a masked CRC is also never zero for an empty payload, so an
//! all-zero header never passes. `len` is at most [`MAX_PAYLOAD_LEN`]; an
//! empty payload is a valid record.
//!
//! # Recovery rules ([`decode_segment`])
//!
//! Records are read from offset 0. At each record start, with `rest` the
//! bytes from there to end of file (EOF):
//!
//! 1. `rest` empty: clean end.
//! 2. `rest` all zero bytes (preallocated space): **torn tail**.
//! 3. fewer than 8 bytes (incomplete header): **torn tail**.
//! 4. `len > MAX_PAYLOAD_LEN`: **corruption** — no writer emits it and a torn
//!    write (a prefix, or zeros) cannot produce it.
//! 5. payload extends past EOF: **torn tail**.
//! 6. CRC mismatch: **torn tail** if everything after the record is zero
//!    bytes or nothing (the record is the last thing written, possibly into
//!    preallocated space); otherwise **corruption**.
//!
//! A torn tail stops replay: the records before it are returned,
//! `valid_len` is the torn record's offset, and the caller truncates the
//! file to `valid_len` (or resumes writing there) — the torn write was never
//! acknowledged. Corruption is an error naming the record's offset: the
//! caller refuses to open and reports file and offset.
//!
//! Limitation of this format: a bit flip in a `len` field that makes the
//! record reach past EOF is indistinguishable from a torn write (rule 5), so
//! everything from that record on is treated as torn. Closing that needs a
//! header checksum (a future format version).

mod error;
mod record;
mod replay;
#[cfg(test)]
mod tests;

pub use error::{CorruptReason, WalError};
pub use record::{encode_record, HEADER_LEN, MAX_PAYLOAD_LEN};
pub use replay::{decode_segment, Replay, TornReason, TornTail};
