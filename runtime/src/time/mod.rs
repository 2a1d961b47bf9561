//! Time: `sleep`, `sleep_until`, `timeout`, `interval` on per-core timers.
//!
//! Each core keeps its own deadlines (no shared timer wheel) and parks with
//! the nearest one as the ring timeout. A timer never fires early: a `Sleep`
//! completes only when `Instant::now() >= deadline`.

mod interval;
mod sleep;
mod timeout;
mod timers;

pub use interval::{interval, Interval};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, Elapsed, Timeout};
pub(crate) use timers::Timers;
