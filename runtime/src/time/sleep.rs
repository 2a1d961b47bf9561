//! `sleep` and `sleep_until`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::timers::TimerKey;
use crate::runtime::context;

/// Waits until `duration` has passed.
///
/// # Cancel safety
/// Dropping the future removes its timer; nothing else happens.
///
/// # Panics
/// Polling it outside a frys core panics.
///
/// # Examples
/// ```no_run
/// use std::time::{Duration, Instant};
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let start = Instant::now();
/// frys_runtime::time::sleep(Duration::from_millis(5)).await;
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// # });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Waits until `deadline`. It never completes before the deadline.
///
/// # Cancel safety
/// Dropping the future removes its timer; nothing else happens.
///
/// # Panics
/// Polling it outside a frys core panics.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        registration: None,
    }
}

/// The future of [`sleep`]. `Send`: it registers with whichever core polls
/// it.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// The runtime and core whose timers hold our entry, and the entry.
    registration: Option<(u64, usize, TimerKey)>,
}

impl Sleep {
    /// When this sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline (for `interval` and reuse).
    pub fn reset(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = deadline;
    }

    fn deregister(&mut self) {
        if let Some((runtime, core, key)) = self.registration.take() {
            context::with_current(|ctx| {
                if ctx.shared.id == runtime && ctx.index == core {
                    ctx.timers.borrow_mut().remove(&key);
                }
            });
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.deregister();
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let registration = self.registration;
        let new = context::with_current(|ctx| {
            let mut timers = ctx.timers.borrow_mut();
            let here = (ctx.shared.id, ctx.index);
            match registration {
                Some((runtime, core, key))
                    if (runtime, core) == here && timers.update(&key, cx.waker()) =>
                {
                    (runtime, core, key)
                }
                _ => (here.0, here.1, timers.insert(deadline, cx.waker().clone())),
            }
        })
        .expect("frys::time::sleep polled outside a frys core");
        self.registration = Some(new);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}
