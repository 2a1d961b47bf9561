//! Reading the topology through hwloc (the `hwloc` feature).
//!
//! The same [`Topology`] the sysfs reader builds, from hwloc's view of the
//! machine: hwloc also knows machines whose sysfs is partial (containers,
//! other kernels), and it can build *synthetic* topologies from a one-line
//! description, which tests use to check placements on machines CI does not
//! have. The sysfs reader stays the runtime's default: this one needs the C
//! library (`libhwloc-dev` 2.8 or newer).
//!
//! Mapping: every PU (hardware thread) hwloc lists is a [`Cpu`] with its OS
//! index as id; its node is the first NUMA node of its nodeset; its package
//! is the OS index (or, when hwloc has none, the logical index) of its
//! `Package` ancestor; its physical core is the lowest PU of its `Core`
//! ancestor's cpuset, as in the sysfs reader.

use std::io;

use hwlocality::object::types::ObjectType;
use hwlocality::object::TopologyObject;

use crate::topology::{Cpu, Topology};

impl Topology {
    /// Reads the running machine's topology through hwloc.
    ///
    /// # Errors
    ///
    /// hwloc's error when it cannot discover the machine, or an
    /// [`io::ErrorKind::InvalidData`] error when a PU has no OS index.
    pub fn detect_hwloc() -> io::Result<Topology> {
        let topo = hwlocality::Topology::new().map_err(io::Error::other)?;
        Topology::from_hwloc(&topo)
    }

    /// Builds the topology hwloc describes as `description`, in hwloc's
    /// synthetic syntax (for example `"pack:2 numa:1 core:2 pu:2"`: two
    /// packages of one node, two cores and four threads each).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] when hwloc rejects the description.
    pub fn from_hwloc_synthetic(description: &str) -> io::Result<Topology> {
        let invalid = |e: &dyn std::fmt::Display| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid synthetic topology {description:?}: {e}"),
            )
        };
        let topo = hwlocality::Topology::builder()
            .from_synthetic(description)
            .map_err(|e| invalid(&e))?
            .build()
            .map_err(|e| invalid(&e))?;
        Topology::from_hwloc(&topo)
    }

    /// Converts an hwloc topology.
    ///
    /// # Errors
    ///
    /// An [`io::ErrorKind::InvalidData`] error when a PU has no OS index.
    pub fn from_hwloc(topo: &hwlocality::Topology) -> io::Result<Topology> {
        let mut cpus = Vec::new();
        for pu in topo.objects_with_type(ObjectType::PU) {
            let id = pu.os_index().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "hwloc lists PU L#{} without an OS index",
                        pu.logical_index()
                    ),
                )
            })?;
            let node = pu
                .nodeset()
                .and_then(|nodes| nodes.first_set())
                .map_or(0, usize::from);
            let package = pu
                .first_ancestor_with_type(ObjectType::Package)
                .map_or(0, |p| p.os_index().unwrap_or_else(|| p.logical_index()));
            let core = pu
                .first_ancestor_with_type(ObjectType::Core)
                .and_then(lowest_pu)
                .unwrap_or(id);
            cpus.push(Cpu {
                id,
                node,
                package,
                core,
            });
        }
        Ok(Topology::new(cpus))
    }
}

/// The lowest OS index in an object's cpuset.
fn lowest_pu(object: &TopologyObject) -> Option<usize> {
    object
        .cpuset()
        .and_then(|cpus| cpus.first_set())
        .map(usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{select_cpus, Cores, Placement};

    #[test]
    fn synthetic_two_packages_two_nodes_smt() {
        let t = Topology::from_hwloc_synthetic("pack:2 numa:1 core:2 pu:2").unwrap();
        assert_eq!(t.cpus().len(), 8);
        assert_eq!(t.nodes(), vec![0, 1]);
        assert_eq!(t.packages(), vec![0, 1]);
        assert_eq!(t.physical_cores(), 4);
        // hwloc numbers PUs depth-first: core 0 is PUs 0-1, package 1 is 4-7.
        let cpu5 = t.cpu(5).unwrap();
        assert_eq!((cpu5.node, cpu5.package, cpu5.core), (1, 1, 4));

        let all: Vec<usize> = (0..8).collect();
        let pick = |cores: Cores, p| select_cpus(&t, &all, &cores, p).unwrap();
        assert_eq!(pick(Cores::All, Placement::Compact), all);
        assert_eq!(
            pick(Cores::All, Placement::Spread),
            vec![0, 4, 1, 5, 2, 6, 3, 7]
        );
        assert_eq!(
            pick(Cores::All, Placement::OnePerPhysicalCore),
            vec![0, 2, 4, 6]
        );
        assert_eq!(pick(Cores::All, Placement::Node(1)), vec![4, 5, 6, 7]);
        assert_eq!(pick(Cores::Count(2), Placement::Spread), vec![0, 4]);
    }

    #[test]
    fn synthetic_without_numa_is_one_node() {
        let t = Topology::from_hwloc_synthetic("core:3 pu:1").unwrap();
        assert_eq!(t.cpus(), &[Cpu::new(0, 0), Cpu::new(1, 0), Cpu::new(2, 0)]);
    }

    #[test]
    fn bad_synthetic_description_is_invalid_input() {
        let err = Topology::from_hwloc_synthetic("pack:two").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("pack:two"), "{err}");
    }

    #[test]
    fn this_machine_agrees_with_sysfs() {
        let Ok(sysfs) = Topology::detect() else {
            return;
        };
        let hwloc = Topology::detect_hwloc().unwrap();
        let ids = |t: &Topology| t.cpus().iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(&hwloc), ids(&sysfs));
        assert_eq!(hwloc.nodes(), sysfs.nodes());
        assert_eq!(hwloc.physical_cores(), sysfs.physical_cores());
    }
}
