//! Binding a core thread's memory to its CPU's NUMA node.
//!
//! A core allocates its arena, its I/O buffers (buffer rings) and, through
//! the storage partition it runs, its memtable and block cache from its own
//! thread after it starts. Linux applies a thread's memory policy when a
//! page is first touched, so setting the policy with `set_mempolicy(2)`
//! before any of that is allocated places all of it on the core's node,
//! without threading a node through every allocator.
//!
//! # Invariants
//!
//! - The policy is only set on a thread that is pinned to a CPU of the node
//!   (see [`place_current_thread`]): an unpinned thread could run far from
//!   the memory it is bound to.
//! - Binding never fails the runtime: a kernel without NUMA support
//!   (`ENOSYS`), a seccomp filter (`EPERM`) or a node the kernel does not
//!   have (`EINVAL`) is logged once per process and the core runs with the
//!   thread's previous policy. On a one-node machine the call is made anyway
//!   (and succeeds), so the path is exercised everywhere.
//! - The thread that builds the runtime runs core 0: its previous affinity
//!   and memory policy are saved in a [`SavedPlacement`] and restored when
//!   the runtime is dropped, so `numactl --membind` or `taskset` given to the
//!   process keep applying to it afterwards.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use libc::{c_int, c_long, c_ulong};

use crate::topology::affinity;

/// Bits in one word of a kernel node mask.
const WORD_BITS: usize = c_ulong::BITS as usize;

/// The highest node number a binding may name, plus one. Linux supports at
/// most 1024 nodes (`CONFIG_NODES_SHIFT` = 10).
pub const MAX_NODES: usize = 1024;

/// How a pinned core's memory is bound to the NUMA node of its CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryBinding {
    /// Leave the thread's memory policy alone.
    Off,
    /// `MPOL_PREFERRED`: allocate from the core's node, fall back to other
    /// nodes when it is full.
    #[default]
    Preferred,
    /// `MPOL_BIND`: allocate only from the core's node; an allocation that
    /// the node cannot satisfy fails (the OOM killer) instead of going
    /// remote.
    Bind,
}

impl MemoryBinding {
    /// The `MPOL_*` mode of the binding, `None` for [`MemoryBinding::Off`].
    fn mode(self) -> Option<c_int> {
        match self {
            MemoryBinding::Off => None,
            MemoryBinding::Preferred => Some(libc::MPOL_PREFERRED),
            MemoryBinding::Bind => Some(libc::MPOL_BIND),
        }
    }
}

/// Sets the memory policy of the calling thread to `binding` on `node`.
///
/// Only pages first touched by this thread afterwards are affected; pages
/// it touched before stay where they are.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`] when `node >= MAX_NODES`; otherwise the
/// error of `set_mempolicy(2)`: `EINVAL` for a node the machine does not
/// have, `ENOSYS` on a kernel without NUMA support.
pub fn bind_current_thread_memory(node: usize, binding: MemoryBinding) -> io::Result<()> {
    let Some(mode) = binding.mode() else {
        return Ok(());
    };
    if node >= MAX_NODES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("numa node {node} is beyond the largest node number ({MAX_NODES})"),
        ));
    }
    let mut mask = vec![0 as c_ulong; MAX_NODES / WORD_BITS];
    mask[node / WORD_BITS] |= 1 << (node % WORD_BITS);
    set_mempolicy(mode, Some(&mask))
}

/// Pins the calling thread to `cpu`, then binds its memory to `node` (the
/// node of `cpu`) as `binding` says.
///
/// # Errors
///
/// The error of [`pin_current_thread`](crate::topology::pin_current_thread).
/// A failed memory binding is not an error: it is logged once per process
/// and the thread keeps its previous policy.
pub fn place_current_thread(cpu: usize, node: usize, binding: MemoryBinding) -> io::Result<()> {
    affinity::pin_current_thread(cpu)?;
    let result = bind_current_thread_memory(node, binding);
    #[cfg(test)]
    requests::record(cpu, node, binding, &result);
    if let Err(e) = result {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                cpu,
                node,
                ?binding,
                error = %e,
                "cannot bind a core's memory to its numa node; its memory may be remote"
            );
        }
    }
    Ok(())
}

/// The affinity and memory policy a thread had before the runtime placed
/// it, to put back when the runtime is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPlacement {
    affinity: Vec<usize>,
    /// `None` when the policy could not be read: it is then left alone.
    policy: Option<(c_int, Vec<c_ulong>)>,
}

impl SavedPlacement {
    /// Reads the calling thread's affinity mask and memory policy.
    ///
    /// # Errors
    ///
    /// The error of [`allowed_cpus`](crate::topology::allowed_cpus). A
    /// memory policy that cannot be read (a kernel without NUMA support) is
    /// not an error: restoring then leaves the policy alone.
    pub fn of_current_thread() -> io::Result<SavedPlacement> {
        Ok(SavedPlacement {
            affinity: affinity::allowed_cpus()?,
            policy: get_mempolicy().ok(),
        })
    }

    /// Gives the calling thread the saved affinity and memory policy back.
    /// Failures are ignored: the thread keeps running where it is.
    pub fn restore(self) {
        let _ = affinity::set_current_thread_affinity(&self.affinity);
        if let Some((mode, mask)) = self.policy {
            let mask = (mode != libc::MPOL_DEFAULT).then_some(&mask[..]);
            let _ = set_mempolicy(mode, mask);
        }
    }
}

/// `set_mempolicy(mode, mask)`; `None` passes a null mask (`MPOL_DEFAULT`).
fn set_mempolicy(mode: c_int, mask: Option<&[c_ulong]>) -> io::Result<()> {
    let (ptr, words) = match mask {
        Some(m) => (m.as_ptr(), m.len()),
        None => (ptr::null(), 0),
    };
    // The kernel reads `maxnode - 1` bits (a historical off-by-one that
    // libnuma also compensates for), so one more than the mask holds.
    let maxnode = (words * WORD_BITS + 1) as c_ulong;
    // SAFETY: `ptr` is null with `maxnode` 1 (no bit is read), or points to
    // `words` live, initialized `c_ulong`s, which is exactly the
    // `maxnode - 1` bits the kernel reads. The kernel copies the mask during
    // the call and does not retain the pointer; the call changes only the
    // calling thread's memory policy, which no Rust invariant depends on.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode as c_long, ptr, maxnode) };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The calling thread's memory policy: its mode (with mode flags) and node
/// mask.
fn get_mempolicy() -> io::Result<(c_int, Vec<c_ulong>)> {
    let mut mode: c_int = 0;
    let mut mask = vec![0 as c_ulong; MAX_NODES / WORD_BITS];
    let maxnode = (mask.len() * WORD_BITS) as c_ulong;
    // SAFETY: `mode` is a live `c_int` and `mask` a live, exclusively
    // borrowed buffer of `maxnode` bits; with flags 0 and a null address the
    // kernel writes one `c_int` through the first pointer and at most
    // `maxnode` bits through the second, and retains neither.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut c_int,
            mask.as_mut_ptr(),
            maxnode,
            ptr::null_mut::<libc::c_void>(),
            0 as c_ulong,
        )
    };
    if ret == 0 {
        Ok((mode, mask))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The bindings [`place_current_thread`] requested, for tests to check
/// which node each core asked for (the kernel's answer is recorded too: on
/// a one-node machine a fake second node is refused).
#[cfg(test)]
pub(crate) mod requests {
    use std::sync::Mutex;

    use super::MemoryBinding;

    /// One request: the CPU pinned to, the node bound to, how, and whether
    /// the kernel accepted it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Request {
        pub(crate) cpu: usize,
        pub(crate) node: usize,
        pub(crate) binding: MemoryBinding,
        pub(crate) accepted: bool,
    }

    static REQUESTS: Mutex<Vec<Request>> = Mutex::new(Vec::new());

    pub(super) fn record(
        cpu: usize,
        node: usize,
        binding: MemoryBinding,
        result: &std::io::Result<()>,
    ) {
        let request = Request {
            cpu,
            node,
            binding,
            accepted: result.is_ok(),
        };
        REQUESTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
    }

    /// Every request recorded so far whose node satisfies `keep`.
    pub(crate) fn matching(keep: impl Fn(usize) -> bool) -> Vec<Request> {
        let all = REQUESTS.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().filter(|r| keep(r.node)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::requests::{matching, Request};
    use super::*;
    use crate::topology::fake_sysfs::FakeSysfs;
    use crate::{Cores, Runtime};
    use std::path::Path;

    fn has_node0() -> bool {
        Path::new("/sys/devices/system/node/node0").exists()
    }

    #[test]
    fn binding_to_node_0_sets_the_threads_policy_and_restore_undoes_it() {
        if !has_node0() {
            eprintln!("SKIPPED: this kernel shows no numa node 0");
            return;
        }
        std::thread::spawn(|| {
            let saved = SavedPlacement::of_current_thread().unwrap();
            let before = get_mempolicy().unwrap();
            for (binding, mode) in [
                (MemoryBinding::Preferred, libc::MPOL_PREFERRED),
                (MemoryBinding::Bind, libc::MPOL_BIND),
            ] {
                bind_current_thread_memory(0, binding).unwrap();
                let (got_mode, mask) = get_mempolicy().unwrap();
                assert_eq!(got_mode, mode, "{binding:?}");
                assert_eq!(mask[0], 1, "{binding:?} binds to node 0 only");
                assert!(mask[1..].iter().all(|&w| w == 0));
            }
            saved.restore();
            assert_eq!(get_mempolicy().unwrap(), before);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn off_and_out_of_range_nodes() {
        std::thread::spawn(|| {
            let before = get_mempolicy().ok();
            bind_current_thread_memory(MAX_NODES + 5, MemoryBinding::Off).unwrap();
            assert_eq!(get_mempolicy().ok(), before, "Off makes no call");
            let err = bind_current_thread_memory(MAX_NODES, MemoryBinding::Preferred).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(get_mempolicy().ok(), before);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_node_the_kernel_lacks_is_refused_and_placing_still_succeeds() {
        let node = 1000;
        if Path::new(&format!("/sys/devices/system/node/node{node}")).exists() {
            return;
        }
        std::thread::spawn(move || {
            let saved = SavedPlacement::of_current_thread().unwrap();
            let cpu = saved.affinity[0];
            assert!(bind_current_thread_memory(node, MemoryBinding::Bind).is_err());
            place_current_thread(cpu, node, MemoryBinding::Bind).unwrap();
            assert_eq!(affinity::allowed_cpus().unwrap(), vec![cpu]);
            let recorded = matching(|n| n == node);
            assert!(recorded.contains(&Request {
                cpu,
                node,
                binding: MemoryBinding::Bind,
                accepted: false
            }));
            saved.restore();
        })
        .join()
        .unwrap();
    }

    /// A runtime on a fake two-node machine asks each core's thread to bind
    /// to its CPU's node (nodes 5 and 9, which no other test uses, so the
    /// recorder's other entries do not matter).
    #[test]
    fn each_core_binds_memory_to_the_node_of_its_cpu() {
        let allowed = affinity::allowed_cpus().unwrap();
        let [a, b, ..] = allowed[..] else {
            eprintln!("SKIPPED: needs 2 usable CPUs, have {allowed:?}");
            return;
        };
        let fs = FakeSysfs::new("membind");
        fs.write("cpu/online", &format!("{a},{b}\n"))
            .write("node/node5/cpulist", &format!("{a}\n"))
            .write("node/node9/cpulist", &format!("{b}\n"));
        let rt = Runtime::builder()
            .sysfs_root(fs.root())
            .cores(Cores::List(vec![b, a]))
            .memory_binding(MemoryBinding::Bind)
            .build()
            .unwrap();
        assert_eq!(rt.cpus(), vec![b, a]);
        drop(rt);
        let mut got: Vec<(usize, usize, MemoryBinding)> = matching(|n| n == 5 || n == 9)
            .into_iter()
            .map(|r| (r.cpu, r.node, r.binding))
            .collect();
        got.sort_unstable_by_key(|r| r.0);
        let mut want = vec![(a, 5, MemoryBinding::Bind), (b, 9, MemoryBinding::Bind)];
        want.sort_unstable_by_key(|r| r.0);
        assert_eq!(got, want);
    }
}
