//! CPU topology, thread affinity and core placement.
//!
//! Frys is thread-per-core: the runtime starts one *core* (an executor thread
//! with its own io_uring instance) per selected CPU, and pins that thread to
//! its CPU, so a core's tasks, buffers and ring stay in one CPU's caches and
//! never migrate. This module decides which CPUs those are:
//!
//! 1. [`Topology::detect`] reads the online CPUs and their NUMA nodes from
//!    sysfs.
//! 2. [`allowed_cpus`] reads the affinity mask the process was started with.
//! 3. [`select_cpus`] picks CPUs from the *usable* ones according to the
//!    user's [`Cores`] and [`Placement`] choices.
//! 4. Each core thread calls [`place_current_thread`]: it is pinned to its
//!    CPU and its memory is bound to that CPU's NUMA node
//!    ([`MemoryBinding`], see the `membind` module for the invariants).
//!
//! The sysfs reader gives each CPU its node, package and physical core
//! (hyperthread siblings share one), which is all the placements need:
//! compact, spread, one per physical core, or one node. With the `hwloc`
//! feature, [`Topology::detect_hwloc`] reads the same through hwloc (a C
//! library) and [`Topology::from_hwloc_synthetic`] builds one from hwloc's
//! synthetic descriptions; the runtime itself always reads sysfs.
//!
//! # Why usable = online ∩ affinity
//!
//! A CPU can be online yet forbidden to this process: `taskset -c 0-1`,
//! `docker run --cpuset-cpus`, Kubernetes static CPU manager and systemd's
//! `CPUAffinity=` all shrink the affinity mask without touching sysfs.
//! Pinning a thread outside the mask fails (`EINVAL`), and counting such CPUs
//! would start more cores than the process can actually run in parallel.
//! Conversely, the mask may name CPUs that are offline (or do not exist).
//! So only CPUs in both sets are candidates.
//!
//! # Testing with fake topologies
//!
//! [`Topology::from_sysfs`] takes the sysfs root as a parameter, so tests can
//! build a fake tree in a temporary directory and exercise multi-node
//! machines, offline CPUs and malformed files on any machine, including the
//! single-node ones CI runs on. [`select_cpus`] is a pure function of a
//! [`Topology`] and a mask, for the same reason.

mod affinity;
pub mod cpulist;
#[cfg(test)]
pub(crate) mod fake_sysfs;
#[cfg(feature = "hwloc")]
mod hwloc;
mod membind;
mod placement;
mod sysfs;

pub use affinity::{allowed_cpus, pin_current_thread, set_current_thread_affinity};
pub use cpulist::{format as format_cpulist, parse as parse_cpulist, CpuListError};
pub use membind::{
    bind_current_thread_memory, place_current_thread, MemoryBinding, SavedPlacement, MAX_NODES,
};
pub use placement::{select_cpus, Cores, ParsePlacementError, Placement, PlacementError};
pub use sysfs::{Cpu, Topology};
