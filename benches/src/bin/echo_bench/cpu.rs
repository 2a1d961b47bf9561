//! A process's CPU time from `/proc/<pid>/stat`: user space (`utime`) and
//! kernel (`stime`) separately, summed over all its threads.

/// Clock ticks per second (the unit of `/proc/<pid>/stat`).
pub(crate) fn clock_ticks_per_sec() -> Result<u64, String> {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t)
        .ok()
        .filter(|&t| t > 0)
        .ok_or_else(|| "sysconf(_SC_CLK_TCK) failed".to_string())
}

/// CPU time of a process, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuTicks {
    /// Time in user space (`utime`).
    pub(crate) user: u64,
    /// Time in the kernel on the process's behalf (`stime`).
    pub(crate) system: u64,
}

impl CpuTicks {
    pub(crate) fn total(self) -> u64 {
        self.user + self.system
    }

    /// The time from `earlier` to `self`.
    pub(crate) fn since(self, earlier: CpuTicks) -> CpuTicks {
        CpuTicks {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// utime and stime of every thread of process `pid`.
pub(crate) fn process_cpu_ticks(pid: u32) -> Result<CpuTicks, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    parse_stat(&stat).ok_or_else(|| format!("{path}: unexpected format"))
}

/// Fields after the command name, which is in parentheses and may hold
/// spaces: state is field 3, utime 14, stime 15.
fn parse_stat(stat: &str) -> Option<CpuTicks> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse().ok());
    Some(CpuTicks {
        user: field(14)?,
        system: field(15)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_fields_14_and_15_after_a_command_with_spaces() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 111 222 13 14 15";
        assert_eq!(
            parse_stat(stat),
            Some(CpuTicks {
                user: 111,
                system: 222
            })
        );
        assert_eq!(parse_stat("42 (x) S 1 2"), None);
    }
}
