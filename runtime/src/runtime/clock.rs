//! The scheduler's clocks, read once per poll: nanoseconds of the kernel's
//! monotonic clock, precise or coarse.
//!
//! A core times its polls with the precise clock (`CLOCK_MONOTONIC`, a
//! vDSO read of the TSC, ~25 ns here) only while another task queue is
//! runnable, when the task quota must be enforced to the microsecond.
//! With one queue runnable nothing needs to yield, and the coarse clock
//! (`CLOCK_MONOTONIC_COARSE`, the time of the last kernel tick, ~6 ns)
//! serves the stall detector and the queue's account: a poll reads as up
//! to one tick (1–4 ms) longer or shorter than it was, and the charges
//! are unbiased on average (a slice spans a tick with a probability
//! proportional to its length). Both clocks count from the same origin.

/// Nanoseconds of `CLOCK_MONOTONIC`.
pub(crate) fn precise_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC)
}

/// Nanoseconds of `CLOCK_MONOTONIC_COARSE`.
pub(crate) fn coarse_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC_COARSE)
}

fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable timespec; both clocks exist on
    // every Linux the runtime supports, so the call cannot fail (if it
    // did, `ts` stays zero and time seems to stand still: no stall and no
    // charge is then seen, which is harmless).
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_clocks_move_forward_from_the_same_origin() {
        let (c0, p0) = (coarse_ns(), precise_ns());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (c1, p1) = (coarse_ns(), precise_ns());
        assert!(p1 > p0 && c1 > c0);
        // The coarse clock lags the precise one by less than a tick
        // (at most 10 ms, HZ=100); it never leads it.
        assert!(c0 <= p0 + 1 && p0 - c0 < 10_000_000, "{c0} {p0}");
    }
}
