//! The `client-output-buffer-limit pubsub` check (Redis'
//! `checkClientOutputBufferLimits`), and this core's cached copy of the
//! limit: re-read from the live settings only when they changed, so a
//! message append costs one atomic load, not a lock.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::config::{self, BufferLimit};

thread_local! {
    static CACHED: Cell<Option<(u64, BufferLimit)>> = const { Cell::new(None) };
}

/// The pubsub limit in force now.
pub fn current() -> BufferLimit {
    let generation = config::generation();
    CACHED.with(|c| match c.get() {
        Some((g, limit)) if g == generation => limit,
        _ => {
            let limit = config::live(|cfg| cfg.pubsub_output_limit());
            c.set(Some((generation, limit)));
            limit
        }
    })
}

/// Whether a client with `used` bytes of pending output is over `limit`
/// at `now`. `soft_since` remembers since when it has been at or over the
/// soft limit (cleared once it is under): as in Redis, the soft limit is
/// reached only after more than `soft_seconds` whole seconds over it.
pub fn exceeded(
    limit: &BufferLimit,
    used: u64,
    soft_since: &mut Option<Instant>,
    now: Instant,
) -> bool {
    if limit.hard > 0 && used >= limit.hard {
        return true;
    }
    if limit.soft == 0 || used < limit.soft {
        *soft_since = None;
        return false;
    }
    match soft_since {
        None => {
            *soft_since = Some(now);
            false
        }
        Some(since) => {
            now.saturating_duration_since(*since) >= Duration::from_secs(limit.soft_seconds + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: BufferLimit = BufferLimit {
        hard: 100,
        soft: 50,
        soft_seconds: 2,
    };

    #[test]
    fn the_hard_limit_disconnects_at_once() {
        let mut since = None;
        let now = Instant::now();
        assert!(!exceeded(&LIMIT, 49, &mut since, now));
        assert!(exceeded(&LIMIT, 100, &mut since, now));
    }

    #[test]
    fn the_soft_limit_disconnects_only_when_held_past_its_seconds() {
        let mut since = None;
        let t0 = Instant::now();
        assert!(!exceeded(&LIMIT, 60, &mut since, t0));
        assert_eq!(since, Some(t0));
        assert!(!exceeded(
            &LIMIT,
            60,
            &mut since,
            t0 + Duration::from_secs(2)
        ));
        assert!(exceeded(
            &LIMIT,
            60,
            &mut since,
            t0 + Duration::from_secs(3)
        ));
        // Going under the soft limit starts the clock again.
        let mut since = Some(t0);
        assert!(!exceeded(
            &LIMIT,
            10,
            &mut since,
            t0 + Duration::from_secs(9)
        ));
        assert_eq!(since, None);
    }

    #[test]
    fn zero_means_no_limit() {
        let none = BufferLimit::default();
        let mut since = None;
        assert!(!exceeded(&none, u64::MAX, &mut since, Instant::now()));
        assert_eq!(since, None);
    }
}
