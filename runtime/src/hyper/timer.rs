//! [`FrysTimer`]: hyper's timer on the core's timers.

use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::time::{self, Sleep};

/// A [`hyper::rt::Timer`] whose sleeps are frys [`Sleep`]s: they wait on
/// the timers of the core that polls them, and like every frys timer never
/// complete before their deadline. Give it to hyper's connection builders
/// (`http1::Builder::timer`) so that their timeouts work, such as
/// `header_read_timeout` (hyper's default of 30 s applies only once a
/// timer is set; setting a timeout without a timer panics in hyper).
///
/// # Panics
///
/// A sleep it returns panics when polled outside a frys core.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use frys_runtime::hyper::FrysTimer;
///
/// let mut http = hyper::server::conn::http1::Builder::new();
/// http.timer(FrysTimer)
///     .header_read_timeout(Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FrysTimer;

impl ::hyper::rt::Timer for FrysTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(time::sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(time::sleep_until(deadline))
    }

    /// Moves the deadline of a sleep this timer made in place (no new
    /// allocation); any other sleep is replaced.
    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(mine) => mine.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A frys sleep is a hyper sleep (it is `Send` and `Sync`: it registers
/// with whichever core polls it).
impl ::hyper::rt::Sleep for Sleep {}
