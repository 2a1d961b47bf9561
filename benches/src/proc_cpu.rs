//! A server process's CPU time, as the benches measure it (Linux only).
//!
//! - The total (user space + kernel, all threads, including threads that
//!   have exited) comes from the process's CPU-time clock
//!   (`clock_getcpuclockid` + `clock_gettime`), in nanoseconds: the
//!   scheduler's own run-time accounting, so a short round is measured as
//!   precisely as a long one.
//! - The user-space part has no nanosecond source for another process:
//!   it is `utime` from `/proc/<pid>/stat`, in clock ticks (10 ms at the
//!   usual `CLK_TCK` of 100). A figure from fewer than [`PRECISE_TICKS`]
//!   ticks is off by up to a tick, more than 1 %, so the benches print
//!   the tick count and mark such a figure as imprecise.

/// The fewest `utime` ticks for which one tick is at most 1 % of the
/// figure.
pub const PRECISE_TICKS: u64 = 100;

/// Clock ticks per second (the unit of `/proc/<pid>/stat`).
pub fn clock_ticks_per_sec() -> Result<u64, String> {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t)
        .ok()
        .filter(|&t| t > 0)
        .ok_or_else(|| "sysconf(_SC_CLK_TCK) failed".to_string())
}

/// A process's CPU time so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuSample {
    /// User space and kernel, in nanoseconds.
    pub total_ns: u64,
    /// User space, in clock ticks (`utime`).
    pub user_ticks: u64,
}

impl CpuSample {
    /// The time from `earlier` to `self`.
    pub fn since(self, earlier: CpuSample) -> CpuSample {
        CpuSample {
            total_ns: self.total_ns.saturating_sub(earlier.total_ns),
            user_ticks: self.user_ticks.saturating_sub(earlier.user_ticks),
        }
    }

    /// Whether the user-space part is within a tick's 1 %.
    pub fn user_is_precise(self) -> bool {
        self.user_ticks >= PRECISE_TICKS
    }
}

/// The CPU time of process `pid` (all its threads).
pub fn process_cpu(pid: u32) -> Result<CpuSample, String> {
    Ok(CpuSample {
        total_ns: process_cpu_ns(pid)?,
        user_ticks: process_user_ticks(pid)?,
    })
}

fn process_cpu_ns(pid: u32) -> Result<u64, String> {
    let pid_t = libc::pid_t::try_from(pid).map_err(|_| format!("pid {pid} out of range"))?;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `clock` is a valid, writable `clockid_t` for the call's
    // duration; the function only writes it.
    let rc = unsafe { libc::clock_getcpuclockid(pid_t, &mut clock) };
    if rc != 0 {
        let e = std::io::Error::from_raw_os_error(rc);
        return Err(format!("clock_getcpuclockid({pid}): {e}"));
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; `clock` came from
    // `clock_getcpuclockid`. An exited process gives an error, not UB.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!("clock_gettime(CPU clock of {pid}): {e}"));
    }
    let secs = u64::try_from(ts.tv_sec).map_err(|_| "negative CPU time".to_string())?;
    let nanos = u64::try_from(ts.tv_nsec).map_err(|_| "negative CPU time".to_string())?;
    Ok(secs * 1_000_000_000 + nanos)
}

fn process_user_ticks(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    utime(&stat).ok_or_else(|| format!("{path}: unexpected format"))
}

/// Field 14 (`utime`), counting from the pid; the command name (field 2)
/// is in parentheses and may hold spaces and parentheses.
fn utime(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(14 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_is_field_14_after_a_command_with_spaces() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 111 222 13 14 15";
        assert_eq!(utime(stat), Some(111));
        assert_eq!(utime("42 (x) S 1 2"), None);
    }

    #[test]
    fn this_process_cpu_time_grows_in_nanoseconds() {
        let pid = std::process::id();
        let before = process_cpu(pid).unwrap();
        // Spin until the CPU clock moves (it has nanosecond resolution,
        // so this takes microseconds, far below one clock tick).
        let mut after = process_cpu(pid).unwrap();
        let mut x = 0u64;
        while after.total_ns == before.total_ns {
            x = std::hint::black_box(x.wrapping_add(1));
            after = process_cpu(pid).unwrap();
        }
        let spent = after.since(before);
        assert!(spent.total_ns > 0);
        assert!(after.user_ticks >= before.user_ticks);
        assert!(process_cpu(u32::MAX).is_err());
    }
}
