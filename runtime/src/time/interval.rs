//! `interval`: a tick every period.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::sleep::{sleep_until, Sleep};

/// Ticks every `period`; the first tick completes at once. A late tick
/// (the core was busy) is not made up for with a burst: the next one is
/// scheduled one period after the late one.
///
/// # Panics
/// Panics if `period` is zero.
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let mut every = frys_runtime::time::interval(Duration::from_millis(100));
/// for _ in 0..3 {
///     every.tick().await; // at 0, 100 and 200 ms
/// }
/// # });
/// ```
pub fn interval(period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be non-zero");
    Interval {
        period,
        sleep: sleep_until(Instant::now()),
    }
}

/// The stream of ticks made by [`interval`].
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time.
    ///
    /// # Cancel safety
    /// Cancel safe: a dropped `tick()` does not consume a tick.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Poll form of [`tick`](Self::tick).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let scheduled = self.sleep.deadline();
        match Pin::new(&mut self.sleep).poll(cx) {
            Poll::Ready(()) => {
                let next = (scheduled + self.period).max(Instant::now());
                self.sleep.reset(next);
                Poll::Ready(scheduled)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}
