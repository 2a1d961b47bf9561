//! Choosing the CPUs the runtime's cores run on.

use std::fmt;
use std::str::FromStr;

use crate::topology::cpulist;
use crate::topology::Topology;

/// Which CPUs the runtime uses: one core (executor thread) per CPU.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cores {
    /// Every usable CPU (online and in the process's affinity mask).
    #[default]
    All,
    /// This many usable CPUs, chosen by the [`Placement`] policy.
    Count(usize),
    /// Exactly these CPUs, in this order. The [`Placement`] is ignored.
    List(Vec<usize>),
}

/// How CPUs are chosen (and ordered) among the usable ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// Fill NUMA node by node: all usable CPUs of the lowest node, then of the
    /// next one, and so on. Keeps a small runtime on one node, sharing its
    /// memory and last-level cache.
    #[default]
    Compact,
    /// Round-robin across NUMA nodes: the first CPU of every node, then the
    /// second of every node, and so on. Spreads memory bandwidth over nodes.
    Spread,
    /// One CPU per physical core, filling node by node as [`Compact`] does:
    /// the hyperthread siblings of a chosen CPU are skipped, so no two cores
    /// share a physical core's execution units and L1/L2 caches.
    ///
    /// [`Compact`]: Placement::Compact
    OnePerPhysicalCore,
    /// Only the CPUs of this NUMA node, ascending (siblings included).
    Node(usize),
}

impl fmt::Display for Placement {
    /// The spelling [`Placement::from_str`] parses: `compact`, `spread`,
    /// `one-per-physical-core`, `node:N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::Compact => f.write_str("compact"),
            Placement::Spread => f.write_str("spread"),
            Placement::OnePerPhysicalCore => f.write_str("one-per-physical-core"),
            Placement::Node(n) => write!(f, "node:{n}"),
        }
    }
}

/// A placement name that [`Placement::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsePlacementError {
    text: String,
}

impl fmt::Display for ParsePlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown placement {:?}: expected compact, spread, one-per-physical-core or node:N",
            self.text
        )
    }
}

impl std::error::Error for ParsePlacementError {}

impl FromStr for Placement {
    type Err = ParsePlacementError;

    fn from_str(text: &str) -> Result<Placement, ParsePlacementError> {
        let err = || ParsePlacementError {
            text: text.to_owned(),
        };
        match text {
            "compact" => Ok(Placement::Compact),
            "spread" => Ok(Placement::Spread),
            "one-per-physical-core" => Ok(Placement::OnePerPhysicalCore),
            _ => {
                let digits = text.strip_prefix("node:").ok_or_else(err)?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err());
                }
                digits.parse().map(Placement::Node).map_err(|_| err())
            }
        }
    }
}

/// Why [`select_cpus`] could not choose CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlacementError {
    /// [`Placement::Node`] names a node with no usable CPU.
    NoUsableCpusOnNode {
        /// The node asked for.
        node: usize,
        /// The nodes that have usable CPUs.
        usable_nodes: Vec<usize>,
    },
    /// No CPU is both online and in the affinity mask.
    NoUsableCpus {
        /// The online CPUs.
        online: Vec<usize>,
        /// The CPUs the process may run on.
        allowed: Vec<usize>,
    },
    /// `Cores::Count(0)` was asked for.
    ZeroCores,
    /// `Cores::Count(n)` asked for more CPUs than are usable.
    TooManyCores {
        /// The number asked for.
        requested: usize,
        /// The usable CPUs.
        usable: Vec<usize>,
    },
    /// `Cores::List` was empty.
    EmptyList,
    /// `Cores::List` names the same CPU twice.
    DuplicateCpu {
        /// The repeated CPU.
        cpu: usize,
    },
    /// `Cores::List` names a CPU that is offline or outside the affinity mask.
    CpuNotUsable {
        /// The CPU that cannot be used.
        cpu: usize,
        /// The online CPUs.
        online: Vec<usize>,
        /// The CPUs the process may run on.
        allowed: Vec<usize>,
    },
}

/// Formats a set of CPUs for a message, spelling out the empty set.
fn set(cpus: &[usize]) -> String {
    if cpus.is_empty() {
        "none".to_owned()
    } else {
        cpulist::format(cpus)
    }
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlacementError::NoUsableCpus { online, allowed } => write!(
                f,
                "no cpu is usable: online cpus are {}, the process may run on {}",
                set(online),
                set(allowed)
            ),
            PlacementError::NoUsableCpusOnNode { node, usable_nodes } => write!(
                f,
                "numa node {node} has no usable cpu: the usable cpus are on node{} {}",
                if usable_nodes.len() == 1 { "" } else { "s" },
                set(usable_nodes)
            ),
            PlacementError::ZeroCores => write!(f, "the runtime needs at least 1 core, not 0"),
            PlacementError::TooManyCores { requested, usable } => write!(
                f,
                "cannot run {requested} cores: only {} cpus are usable ({})",
                usable.len(),
                set(usable)
            ),
            PlacementError::EmptyList => write!(f, "the list of cpus to run on is empty"),
            PlacementError::DuplicateCpu { cpu } => {
                write!(f, "cpu {cpu} is listed more than once")
            }
            PlacementError::CpuNotUsable {
                cpu,
                online,
                allowed,
            } => write!(
                f,
                "cpu {cpu} is not usable: online cpus are {}, the process may run on {}",
                set(online),
                set(allowed)
            ),
        }
    }
}

impl std::error::Error for PlacementError {}

/// Chooses the CPUs to run one core each on, in core order.
///
/// The usable CPUs are the CPUs of `topo` (the online ones) that are also in
/// `allowed` (normally [`allowed_cpus`](crate::topology::allowed_cpus)), so
/// that `taskset` and container cpusets are respected.
///
/// - [`Cores::All`]: every usable CPU, ordered by `placement`.
/// - [`Cores::Count(n)`](Cores::Count): the first `n` usable CPUs in
///   `placement` order.
/// - [`Cores::List(v)`](Cores::List): exactly `v`, in that order.
///
/// This function is pure: it reads neither sysfs nor the affinity mask.
///
/// # Errors
///
/// A [`PlacementError`] when no CPU is usable, when `n` is 0 or larger than
/// the number of usable CPUs, or when the list is empty, repeats a CPU or
/// names a CPU that is not usable.
///
/// # Examples
///
/// ```ignore
/// use frys_runtime::topology::{select_cpus, Cores, Cpu, Placement, Topology};
/// let topo = Topology::new((0..8).map(|id| Cpu::new(id, id / 4)));
/// let all: Vec<usize> = (0..8).collect();
/// let cpus = select_cpus(&topo, &all, &Cores::Count(4), Placement::Spread).unwrap();
/// assert_eq!(cpus, vec![0, 4, 1, 5]);
/// ```
pub fn select_cpus(
    topo: &Topology,
    allowed: &[usize],
    cores: &Cores,
    placement: Placement,
) -> Result<Vec<usize>, PlacementError> {
    let online: Vec<usize> = topo.cpus().iter().map(|c| c.id).collect();
    let mut allowed_sorted = allowed.to_vec();
    allowed_sorted.sort_unstable();
    allowed_sorted.dedup();
    let is_usable = |id: usize| allowed_sorted.binary_search(&id).is_ok();

    if let Cores::List(list) = cores {
        if list.is_empty() {
            return Err(PlacementError::EmptyList);
        }
        let mut seen = Vec::with_capacity(list.len());
        for &cpu in list {
            if topo.node_of(cpu).is_none() || !is_usable(cpu) {
                return Err(PlacementError::CpuNotUsable {
                    cpu,
                    online,
                    allowed: allowed_sorted,
                });
            }
            if seen.contains(&cpu) {
                return Err(PlacementError::DuplicateCpu { cpu });
            }
            seen.push(cpu);
        }
        return Ok(list.clone());
    }

    // Usable CPUs grouped by node: nodes ascending, ids ascending in a node.
    let mut by_node: Vec<(usize, Vec<usize>)> = Vec::new();
    for node in topo.nodes() {
        let cpus: Vec<usize> = topo
            .cpus()
            .iter()
            .filter(|c| c.node == node && is_usable(c.id))
            .map(|c| c.id)
            .collect();
        if !cpus.is_empty() {
            by_node.push((node, cpus));
        }
    }
    let ordered: Vec<usize> = match placement {
        Placement::Compact => by_node.into_iter().flat_map(|(_, cpus)| cpus).collect(),
        Placement::OnePerPhysicalCore => {
            let mut cores_taken = Vec::new();
            by_node
                .into_iter()
                .flat_map(|(_, cpus)| cpus)
                .filter(|&id| {
                    // Every id in `by_node` is online, so `cpu` finds it.
                    let core = topo.cpu(id).map(|c| (c.package, c.core));
                    if cores_taken.contains(&core) {
                        return false;
                    }
                    cores_taken.push(core);
                    true
                })
                .collect()
        }
        Placement::Node(node) => {
            let usable_nodes: Vec<usize> = by_node.iter().map(|(n, _)| *n).collect();
            match by_node.into_iter().find(|(n, _)| *n == node) {
                Some((_, cpus)) => cpus,
                None if usable_nodes.is_empty() => Vec::new(),
                None => {
                    return Err(PlacementError::NoUsableCpusOnNode { node, usable_nodes });
                }
            }
        }
        Placement::Spread => {
            let longest = by_node.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
            (0..longest)
                .flat_map(|i| by_node.iter().filter_map(move |(_, cpus)| cpus.get(i)))
                .copied()
                .collect()
        }
    };
    if ordered.is_empty() {
        return Err(PlacementError::NoUsableCpus {
            online,
            allowed: allowed_sorted,
        });
    }
    match *cores {
        Cores::Count(0) => Err(PlacementError::ZeroCores),
        Cores::Count(n) if n > ordered.len() => {
            let mut usable = ordered;
            usable.sort_unstable();
            Err(PlacementError::TooManyCores {
                requested: n,
                usable,
            })
        }
        Cores::Count(n) => Ok(ordered[..n].to_vec()),
        Cores::All | Cores::List(_) => Ok(ordered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::fake_sysfs::FakeSysfs;
    use crate::topology::Cpu;

    /// `nodes` nodes of `per_node` CPUs each, numbered node by node.
    fn topo(nodes: usize, per_node: usize) -> Topology {
        Topology::new((0..nodes * per_node).map(|id| Cpu::new(id, id / per_node)))
    }

    fn all(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    /// The placements of the fake two-package, two-node, four-core,
    /// two-threads-per-core machine read from its sysfs tree.
    #[test]
    fn placements_on_a_two_node_smt_machine_from_sysfs() {
        let fs = FakeSysfs::two_packages_two_nodes_smt("placements");
        let t = Topology::from_sysfs(fs.root()).unwrap();
        let pick = |cores: Cores, placement| select_cpus(&t, &all(8), &cores, placement);
        assert_eq!(
            pick(Cores::All, Placement::Compact).unwrap(),
            vec![0, 1, 4, 5, 2, 3, 6, 7]
        );
        assert_eq!(
            pick(Cores::All, Placement::Spread).unwrap(),
            vec![0, 2, 1, 3, 4, 6, 5, 7]
        );
        assert_eq!(
            pick(Cores::All, Placement::OnePerPhysicalCore).unwrap(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(
            pick(Cores::Count(2), Placement::OnePerPhysicalCore).unwrap(),
            vec![0, 1]
        );
        assert_eq!(
            pick(Cores::All, Placement::Node(0)).unwrap(),
            vec![0, 1, 4, 5]
        );
        assert_eq!(
            pick(Cores::All, Placement::Node(1)).unwrap(),
            vec![2, 3, 6, 7]
        );
        assert_eq!(
            pick(Cores::Count(3), Placement::Node(1)).unwrap(),
            vec![2, 3, 6]
        );
        let err = pick(Cores::Count(5), Placement::OnePerPhysicalCore).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot run 5 cores: only 4 cpus are usable (0-3)"
        );
        let err = pick(Cores::All, Placement::Node(2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "numa node 2 has no usable cpu: the usable cpus are on nodes 0-1"
        );
    }

    #[test]
    fn one_per_physical_core_takes_a_usable_sibling() {
        let fs = FakeSysfs::two_packages_two_nodes_smt("siblings");
        let t = Topology::from_sysfs(fs.root()).unwrap();
        // taskset -c 4-7: only the second threads are allowed.
        let allowed = [4, 5, 6, 7];
        let got = select_cpus(&t, &allowed, &Cores::All, Placement::OnePerPhysicalCore).unwrap();
        assert_eq!(got, vec![4, 5, 6, 7]);
        // taskset -c 0,4,6: cpu 4 is cpu 0's sibling.
        let got = select_cpus(&t, &[0, 4, 6], &Cores::All, Placement::OnePerPhysicalCore).unwrap();
        assert_eq!(got, vec![0, 6]);
        let err = select_cpus(&t, &[0, 4], &Cores::All, Placement::Node(1)).unwrap_err();
        assert_eq!(
            err,
            PlacementError::NoUsableCpusOnNode {
                node: 1,
                usable_nodes: vec![0]
            }
        );
    }

    #[test]
    fn placement_names_round_trip() {
        for p in [
            Placement::Compact,
            Placement::Spread,
            Placement::OnePerPhysicalCore,
            Placement::Node(0),
            Placement::Node(12),
        ] {
            assert_eq!(p.to_string().parse::<Placement>(), Ok(p));
        }
        for bad in [
            "", "Compact", "node", "node:", "node:-1", "node:x", "node:1 ",
        ] {
            let err = bad.parse::<Placement>().unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn spread_round_robins_across_nodes() {
        let t = topo(2, 4);
        let got = select_cpus(&t, &all(8), &Cores::Count(4), Placement::Spread).unwrap();
        assert_eq!(got, vec![0, 4, 1, 5]);
        let got = select_cpus(&t, &all(8), &Cores::All, Placement::Spread).unwrap();
        assert_eq!(got, vec![0, 4, 1, 5, 2, 6, 3, 7]);
    }

    #[test]
    fn compact_fills_node_by_node() {
        let t = topo(2, 4);
        let got = select_cpus(&t, &all(8), &Cores::Count(4), Placement::Compact).unwrap();
        assert_eq!(got, vec![0, 1, 2, 3]);
        let got = select_cpus(&t, &all(8), &Cores::Count(6), Placement::Compact).unwrap();
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5]);
        let got = select_cpus(&t, &all(8), &Cores::All, Placement::Compact).unwrap();
        assert_eq!(got, all(8));
    }

    #[test]
    fn interleaved_numbering_is_grouped_by_node() {
        // Even CPUs on node 0, odd ones on node 1 (common on 2-socket boxes).
        let t = Topology::new((0..8).map(|id| Cpu::new(id, id % 2)));
        let compact = select_cpus(&t, &all(8), &Cores::Count(4), Placement::Compact).unwrap();
        assert_eq!(compact, vec![0, 2, 4, 6]);
        let spread = select_cpus(&t, &all(8), &Cores::Count(4), Placement::Spread).unwrap();
        assert_eq!(spread, vec![0, 1, 2, 3]);
    }

    #[test]
    fn affinity_mask_excludes_cpus() {
        let t = topo(2, 4);
        // taskset -c 1,2,5 (and 9, which is not even online)
        let allowed = [5, 1, 2, 9];
        let got = select_cpus(&t, &allowed, &Cores::All, Placement::Spread).unwrap();
        assert_eq!(got, vec![1, 5, 2]);
        let got = select_cpus(&t, &allowed, &Cores::All, Placement::Compact).unwrap();
        assert_eq!(got, vec![1, 2, 5]);
        let err = select_cpus(&t, &allowed, &Cores::Count(4), Placement::Compact).unwrap_err();
        assert_eq!(
            err,
            PlacementError::TooManyCores {
                requested: 4,
                usable: vec![1, 2, 5]
            }
        );
        assert_eq!(
            err.to_string(),
            "cannot run 4 cores: only 3 cpus are usable (1-2,5)"
        );
    }

    #[test]
    fn spread_with_uneven_nodes() {
        let t = Topology::new([
            Cpu::new(0, 0),
            Cpu::new(1, 0),
            Cpu::new(2, 0),
            Cpu::new(3, 1),
        ]);
        let got = select_cpus(&t, &all(4), &Cores::All, Placement::Spread).unwrap();
        assert_eq!(got, vec![0, 3, 1, 2]);
    }

    #[test]
    fn count_errors() {
        let t = topo(1, 4);
        assert_eq!(
            select_cpus(&t, &all(4), &Cores::Count(0), Placement::Compact),
            Err(PlacementError::ZeroCores)
        );
        assert!(matches!(
            select_cpus(&t, &all(4), &Cores::Count(5), Placement::Compact),
            Err(PlacementError::TooManyCores { requested: 5, .. })
        ));
    }

    #[test]
    fn no_usable_cpus() {
        let t = topo(1, 4);
        let err = select_cpus(&t, &[6, 7], &Cores::All, Placement::Compact).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no cpu is usable: online cpus are 0-3, the process may run on 6-7"
        );
        let err = select_cpus(&t, &[], &Cores::Count(1), Placement::Compact).unwrap_err();
        assert!(matches!(err, PlacementError::NoUsableCpus { .. }));
    }

    #[test]
    fn list_is_taken_verbatim() {
        let t = topo(2, 4);
        let list = Cores::List(vec![5, 0, 3]);
        let got = select_cpus(&t, &all(8), &list, Placement::Spread).unwrap();
        assert_eq!(got, vec![5, 0, 3]);
    }

    #[test]
    fn list_errors_name_the_cpu() {
        let t = topo(1, 4);
        let allowed = [0, 1];
        let err =
            select_cpus(&t, &allowed, &Cores::List(vec![0, 7]), Placement::Compact).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cpu 7 is not usable: online cpus are 0-3, the process may run on 0-1"
        );
        // Online but outside the mask.
        let err = select_cpus(&t, &allowed, &Cores::List(vec![2]), Placement::Compact).unwrap_err();
        assert!(matches!(err, PlacementError::CpuNotUsable { cpu: 2, .. }));
        let err = select_cpus(
            &t,
            &allowed,
            &Cores::List(vec![1, 0, 1]),
            Placement::Compact,
        )
        .unwrap_err();
        assert_eq!(err, PlacementError::DuplicateCpu { cpu: 1 });
        assert_eq!(err.to_string(), "cpu 1 is listed more than once");
        let err = select_cpus(&t, &allowed, &Cores::List(vec![]), Placement::Compact).unwrap_err();
        assert_eq!(err, PlacementError::EmptyList);
    }

    #[test]
    fn empty_sets_are_spelled_out() {
        let t = Topology::default();
        let err = select_cpus(&t, &[], &Cores::All, Placement::Compact).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no cpu is usable: online cpus are none, the process may run on none"
        );
    }
}
