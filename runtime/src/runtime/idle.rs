//! Idle policy: poll, then park.
//!
//! A core that runs out of work keeps looking at its queues, its incoming
//! mesh rings, the other cores' stealable queues and its completion queue
//! for a bounded window ([`Builder::idle_poll`](super::Builder::idle_poll))
//! before it parks in the kernel. Work that arrives inside the window is
//! picked up in well under a microsecond instead of paying for a park and
//! a cross-CPU wake of a sleeping thread (tens of microseconds, more under
//! a hypervisor). The window costs at most that much CPU per idle period;
//! once it has passed, the core parks with the usual flag protocol
//! (`sync::park`), so an idle runtime uses almost no CPU.
//!
//! Polling is only a fast path: everything it looks at is re-checked by
//! the park protocol before the core sleeps, so a hint missed here is
//! never a lost wake-up.

use std::path::Path;
use std::time::Duration;

/// Default window on bare metal (Seastar's `--idle-poll-time-us` default).
pub(crate) const BARE_METAL_IDLE_POLL: Duration = Duration::from_micros(200);

/// Default window under a hypervisor, where waking a halted vCPU costs far
/// more (Seastar uses the same value when `/sys/hypervisor` says so).
pub(crate) const VIRTUALIZED_IDLE_POLL: Duration = Duration::from_millis(2);

/// The default window: [`VIRTUALIZED_IDLE_POLL`] if the machine looks
/// virtualized, else [`BARE_METAL_IDLE_POLL`].
pub(crate) fn default_idle_poll(sysfs_root: &Path) -> Duration {
    if looks_virtualized(sysfs_root) {
        VIRTUALIZED_IDLE_POLL
    } else {
        BARE_METAL_IDLE_POLL
    }
}

/// Virtualized if `<sysfs>/hypervisor/type` names a hypervisor (Xen and
/// others, Seastar's test), or if the CPU flags in `/proc/cpuinfo` include
/// `hypervisor` (set by KVM, Firecracker, VMware, Hyper-V guests on x86,
/// which often have no `/sys/hypervisor`).
fn looks_virtualized(sysfs_root: &Path) -> bool {
    let sysfs_says = std::fs::read_to_string(sysfs_root.join("hypervisor/type"))
        .is_ok_and(|t| !t.trim().is_empty());
    sysfs_says
        || std::fs::read_to_string("/proc/cpuinfo")
            .is_ok_and(|info| cpu_flags_say_hypervisor(&info))
}

fn cpu_flags_say_hypervisor(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "hypervisor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sysfs_hypervisor_type_means_virtualized() {
        let dir = std::env::temp_dir().join(format!("frys-idle-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("hypervisor")).unwrap();
        std::fs::write(dir.join("hypervisor/type"), "xen\n").unwrap();
        assert_eq!(default_idle_poll(&dir), VIRTUALIZED_IDLE_POLL);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_hypervisor_cpu_flag_means_virtualized() {
        let info = "processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor lahf_lm\n";
        assert!(cpu_flags_say_hypervisor(info));
        assert!(!cpu_flags_say_hypervisor("flags\t\t: fpu vme sse2\n"));
    }
}
