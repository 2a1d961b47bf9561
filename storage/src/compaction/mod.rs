//! Leveled compaction *policy*: a pure function from the table set to one
//! job ([`Choice`]); the worker carries the job out. Also write-stall
//! thresholds ([`write_pressure`]) and manual range compaction
//! ([`compact_range`]).
//!
//! # Invariants the policy relies on and preserves
//!
//! - L0 tables may overlap; `levels[0]` is ordered newest first.
//! - L1 and below: tables sorted by smallest key, no two share a user key
//!   (the worker never splits one user key's versions across outputs).
//! - For any user key, versions in a higher level (and in a newer L0 table)
//!   are newer than versions below. Every job keeps this: it always takes
//!   *all* older data that overlaps what it pushes down.
//!
//! # Rules of [`choose`]
//!
//! 1. **Scores.** L0: idle (not busy) file count / `l0_compaction_trigger`.
//!    Ln (n >= 1): idle bytes / `target(n)`, where `target(1) =
//!    level_base_bytes` and `target(n + 1) = target(n) * level_multiplier`.
//!    The bottom level (`max_levels - 1`) is never scored. Levels are tried
//!    by score, highest first (ties: upper level first); only scores >= 1.
//!    The first level that yields a job wins; otherwise `DoNothing`.
//! 2. **L0→L1.** Seed with each idle L0 table, oldest first. Take every L0
//!    table reachable by user-key overlap (transitively, by widening the
//!    range), then every L1 table intersecting that range. One L0 table and
//!    no L1 overlap: `Move`.
//! 3. **Ln→Ln+1.** Candidates are the idle tables of Ln, largest size
//!    first, ties by smallest user key, then id (deterministic, no
//!    per-level state). Take the candidate and every Ln+1 table
//!    intersecting it; none: `Move`.
//! 4. **Busy.** A job is skipped (the next candidate is tried) if any table
//!    of its input or output level that intersects its key range is busy.
//!    That covers its own inputs and keeps its outputs clear of every
//!    in-flight job's outputs.
//! 5. **Tombstones.** `drop_tombstones` is true only if no level below the
//!    output level has a table intersecting the job's key range (the union
//!    of its inputs' ranges).
//!
//! Merge inputs are listed level by level, each level in its own order
//! (L0 newest first), so the worker can feed them to a merging iterator
//! newest source first. A `Move` keeps tombstones as they are.

mod manual;
mod policy;
mod stall;
mod table;

pub use manual::compact_range;
pub use policy::{choose, Choice, PolicyConfig};
pub use stall::{
    write_pressure, Pressure, IMMUTABLE_SLOWDOWN, IMMUTABLE_STOP, MAX_SLOWDOWN_MICROS,
};
pub use table::{overlapping, Levels, TableMeta, UserRange};

#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod tests;
