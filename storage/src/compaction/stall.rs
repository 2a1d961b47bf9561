//! Write stalls: how hard the write path must back off while flushes and
//! L0 compaction catch up.

use super::policy::PolicyConfig;
use super::table::Levels;

/// What the write path should do before applying the next write batch.
///
/// Ordered by severity: `None < Slowdown { .. } < Stop`, and slowdowns by
/// delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pressure {
    /// Write at full speed.
    None,
    /// Sleep `delay_micros` before applying the batch.
    Slowdown {
        /// Delay per write batch, in microseconds.
        delay_micros: u64,
    },
    /// Do not write until pressure drops (a flush or compaction finishes).
    Stop,
}

/// Delay per write batch just before a stop; slowdowns ramp up to it.
pub const MAX_SLOWDOWN_MICROS: u64 = 4_000;

/// Immutable memtables waiting for flush at which writes slow down.
pub const IMMUTABLE_SLOWDOWN: usize = 2;

/// Immutable memtables waiting for flush at which writes stop.
pub const IMMUTABLE_STOP: usize = 4;

/// Write pressure from the L0 file count and the flush backlog.
///
/// - `Stop` at `cfg.l0_stop` L0 files or more, or at [`IMMUTABLE_STOP`]
///   immutable memtables or more.
/// - Otherwise each source ramps linearly over its window: with `n` files
///   and window `[start, stop)` the delay is
///   `MAX_SLOWDOWN_MICROS * (n - start + 1) / (stop - start)`. Defaults
///   (8..12 L0 files): 8 → 1 ms, 9 → 2 ms, 10 → 3 ms, 11 → 4 ms, 12 → stop;
///   memtables (2..4): 2 → 2 ms, 3 → 4 ms, 4 → stop. The larger delay wins.
/// - `None` below both windows.
///
/// Monotonic: more L0 files or more immutable memtables never lower the
/// pressure. Busy L0 tables count: readers still see them.
pub fn write_pressure(levels: &Levels, immutable_memtables: usize, cfg: &PolicyConfig) -> Pressure {
    let l0 = levels.level(0).len();
    if l0 >= cfg.l0_stop || immutable_memtables >= IMMUTABLE_STOP {
        return Pressure::Stop;
    }
    let delay = ramp(l0, cfg.l0_slowdown, cfg.l0_stop).max(ramp(
        immutable_memtables,
        IMMUTABLE_SLOWDOWN,
        IMMUTABLE_STOP,
    ));
    if delay == 0 {
        Pressure::None
    } else {
        Pressure::Slowdown {
            delay_micros: delay,
        }
    }
}

/// Linear delay for `n` in the window `[start, stop)`; 0 below it. The
/// caller has already handled `n >= stop`.
fn ramp(n: usize, start: usize, stop: usize) -> u64 {
    if n < start || stop <= start {
        return 0;
    }
    let step = (n - start + 1) as u64;
    let width = (stop - start) as u64;
    MAX_SLOWDOWN_MICROS.saturating_mul(step) / width
}
