//! Reading the CPU and NUMA topology from sysfs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::topology::cpulist;

/// One online CPU: its NUMA node, its package and its physical core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cpu {
    /// The kernel's CPU number, as used by `sched_setaffinity` and `taskset`.
    pub id: usize,
    /// The NUMA node the CPU belongs to (0 on machines without NUMA).
    pub node: usize,
    /// The physical package (socket) the CPU is on.
    pub package: usize,
    /// The physical core the CPU is a hardware thread of, named by the
    /// lowest CPU id among that core's threads (its hyperthread siblings):
    /// two CPUs share a physical core exactly when their `core` is equal.
    /// Without SMT, `core == id`.
    pub core: usize,
}

impl Cpu {
    /// A CPU that is a physical core of its own, on package 0.
    pub fn new(id: usize, node: usize) -> Cpu {
        Cpu {
            id,
            node,
            package: 0,
            core: id,
        }
    }
}

/// The online CPUs of the machine: their NUMA nodes, packages and physical
/// cores.
///
/// Offline CPUs are not part of the topology. The affinity mask of the
/// process is not taken into account here: see
/// [`select_cpus`](crate::topology::select_cpus) for that.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Topology {
    /// Sorted by id, no duplicate ids.
    cpus: Vec<Cpu>,
}

/// Wraps `err` so that its message names `path`, keeping its kind.
fn with_path(path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// Reads a cpu-list file; both I/O and parse errors name the file.
fn read_cpulist(path: &Path) -> io::Result<Vec<usize>> {
    let text = fs::read_to_string(path).map_err(|e| with_path(path, e))?;
    cpulist::parse(&text)
        .map_err(|e| with_path(path, io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// Reads a cpu-list file, `None` when it does not exist.
fn read_cpulist_if_present(path: &Path) -> io::Result<Option<Vec<usize>>> {
    match read_cpulist(path) {
        Ok(cpus) => Ok(Some(cpus)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads `physical_package_id`: `None` when the file does not exist or
/// holds -1 (the kernel's "unknown" on some architectures).
fn read_package(path: &Path) -> io::Result<Option<usize>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(with_path(path, e)),
    };
    let text = text.trim();
    if text == "-1" {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        with_path(
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{text:?} is not a package number"),
            ),
        )
    })
}

/// Returns `N` for a directory entry named `node<N>`, `None` for anything
/// else (`online`, `possible`, `has_cpu`, `power`, ...).
fn node_number(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("node")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Topology {
    /// Builds a topology from a list of CPUs, for tests and for callers that
    /// know the topology some other way.
    ///
    /// The CPUs are sorted by id; when an id appears more than once, the first
    /// occurrence wins.
    pub fn new(cpus: impl IntoIterator<Item = Cpu>) -> Topology {
        let mut cpus: Vec<Cpu> = cpus.into_iter().collect();
        // Stable sort keeps the first occurrence of an id first, and dedup
        // keeps the first of each run.
        cpus.sort_by_key(|c| c.id);
        cpus.dedup_by_key(|c| c.id);
        Topology { cpus }
    }

    /// Reads the topology of the running machine from `/sys`.
    ///
    /// # Errors
    ///
    /// See [`Topology::from_sysfs`].
    pub fn detect() -> io::Result<Topology> {
        Topology::from_sysfs(Path::new("/sys"))
    }

    /// Reads the topology from a sysfs tree mounted at `root` (normally
    /// `/sys`; tests pass a fake tree).
    ///
    /// The online CPUs come from `<root>/devices/system/cpu/online`. When
    /// `<root>/devices/system/node/` exists, the node of each CPU comes from
    /// the `node<N>/cpulist` files in it; a CPU that no node lists (or every
    /// CPU, on kernels built without NUMA support, which have no node
    /// directory) is on node 0. The package of CPU `N` comes from
    /// `cpu/cpu<N>/topology/physical_package_id` and its physical core from
    /// `cpu/cpu<N>/topology/thread_siblings_list` (the lowest sibling names
    /// the core); when a CPU has no `topology` files (some containers and
    /// emulated machines), it is a core of its own on package 0.
    ///
    /// # Errors
    ///
    /// An I/O error when a file or directory cannot be read, or an
    /// [`io::ErrorKind::InvalidData`] error when a cpu-list file is
    /// malformed. The message of either names the path that failed.
    pub fn from_sysfs(root: &Path) -> io::Result<Topology> {
        let system = root.join("devices/system");
        let online = read_cpulist(&system.join("cpu/online"))?;

        let node_dir = system.join("node");
        // (node, cpulist path) for every node<N> directory, sorted by node so
        // that a CPU listed by two nodes (which the kernel never does)
        // deterministically goes to the lower one.
        let mut nodes: Vec<(usize, PathBuf)> = Vec::new();
        match fs::read_dir(&node_dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(|e| with_path(&node_dir, e))?;
                    let name = entry.file_name();
                    if let Some(node) = name.to_str().and_then(node_number) {
                        nodes.push((node, entry.path().join("cpulist")));
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(with_path(&node_dir, e)),
        }
        nodes.sort();

        let mut cpus = Vec::with_capacity(online.len());
        for &id in &online {
            let dir = system.join(format!("cpu/cpu{id}/topology"));
            let package = read_package(&dir.join("physical_package_id"))?.unwrap_or(0);
            let core = read_cpulist_if_present(&dir.join("thread_siblings_list"))?
                .and_then(|siblings| siblings.first().copied())
                .unwrap_or(id);
            cpus.push(Cpu {
                id,
                node: 0,
                package,
                core,
            });
        }
        let mut assigned = vec![false; cpus.len()];
        for (node, path) in &nodes {
            for id in read_cpulist(path)? {
                // `cpus` is sorted by id, as `online` is.
                if let Ok(i) = cpus.binary_search_by_key(&id, |c| c.id) {
                    if !assigned[i] {
                        cpus[i].node = *node;
                        assigned[i] = true;
                    }
                }
            }
        }
        Ok(Topology { cpus })
    }

    /// The online CPUs, sorted by id.
    pub fn cpus(&self) -> &[Cpu] {
        &self.cpus
    }

    /// The NUMA nodes that have at least one online CPU, sorted.
    ///
    /// Nodes with memory but no online CPU are not listed.
    pub fn nodes(&self) -> Vec<usize> {
        let mut nodes: Vec<usize> = self.cpus.iter().map(|c| c.node).collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// The node of CPU `cpu`, or `None` when that CPU is not online.
    pub fn node_of(&self, cpu: usize) -> Option<usize> {
        self.cpu(cpu).map(|c| c.node)
    }

    /// CPU `cpu`, or `None` when that CPU is not online.
    pub fn cpu(&self, cpu: usize) -> Option<&Cpu> {
        self.cpus
            .binary_search_by_key(&cpu, |c| c.id)
            .ok()
            .map(|i| &self.cpus[i])
    }

    /// The packages that have at least one online CPU, sorted.
    pub fn packages(&self) -> Vec<usize> {
        let mut packages: Vec<usize> = self.cpus.iter().map(|c| c.package).collect();
        packages.sort_unstable();
        packages.dedup();
        packages
    }

    /// How many physical cores have at least one online CPU.
    pub fn physical_cores(&self) -> usize {
        let mut cores: Vec<(usize, usize)> =
            self.cpus.iter().map(|c| (c.package, c.core)).collect();
        cores.sort_unstable();
        cores.dedup();
        cores.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::fake_sysfs::FakeSysfs;

    fn ids(topo: &Topology) -> Vec<usize> {
        topo.cpus().iter().map(|c| c.id).collect()
    }

    #[test]
    fn two_nodes_with_an_offline_cpu() {
        let fs = FakeSysfs::new("two-nodes");
        fs.write("cpu/online", "0-2,4-7\n")
            .write("node/node0/cpulist", "0-3\n")
            .write("node/node1/cpulist", "4-7\n")
            .write("node/online", "0-1\n")
            .write("node/possible", "0-1\n");
        let topo = Topology::from_sysfs(&fs.root).unwrap();
        assert_eq!(ids(&topo), vec![0, 1, 2, 4, 5, 6, 7]);
        assert_eq!(topo.nodes(), vec![0, 1]);
        assert_eq!(topo.node_of(2), Some(0));
        assert_eq!(topo.node_of(3), None, "cpu 3 is offline");
        assert_eq!(topo.node_of(4), Some(1));
        assert_eq!(topo.node_of(7), Some(1));
        assert_eq!(topo.node_of(8), None);
    }

    #[test]
    fn packages_and_hyperthread_siblings() {
        let fs = FakeSysfs::two_packages_two_nodes_smt("smt");
        let topo = Topology::from_sysfs(fs.root()).unwrap();
        assert_eq!(ids(&topo), (0..8).collect::<Vec<_>>());
        assert_eq!(topo.nodes(), vec![0, 1]);
        assert_eq!(topo.packages(), vec![0, 1]);
        assert_eq!(topo.physical_cores(), 4);
        let cpu6 = topo.cpu(6).unwrap();
        assert_eq!((cpu6.node, cpu6.package, cpu6.core), (1, 1, 2));
        let cpu1 = topo.cpu(1).unwrap();
        assert_eq!((cpu1.node, cpu1.package, cpu1.core), (0, 0, 1));
    }

    #[test]
    fn missing_cpu_topology_files_mean_a_core_of_its_own() {
        let fs = FakeSysfs::new("no-topology");
        fs.write(
            "cpu/online",
            "0-2
",
        )
        .write(
            "cpu/cpu1/topology/physical_package_id",
            "-1
",
        );
        let topo = Topology::from_sysfs(fs.root()).unwrap();
        assert_eq!(
            topo.cpus(),
            &[Cpu::new(0, 0), Cpu::new(1, 0), Cpu::new(2, 0)]
        );
        assert_eq!(topo.physical_cores(), 3);
    }

    #[test]
    fn malformed_package_id_error_names_the_file() {
        let fs = FakeSysfs::new("bad-package");
        fs.write(
            "cpu/online",
            "0
",
        )
        .write(
            "cpu/cpu0/topology/physical_package_id",
            "zero
",
        );
        let err = Topology::from_sysfs(fs.root()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let msg = err.to_string();
        assert!(msg.contains("cpu0/topology/physical_package_id"), "{msg}");
        assert!(msg.contains("\"zero\""), "{msg}");
    }

    #[test]
    fn no_node_directory_means_node_0() {
        let fs = FakeSysfs::new("no-node");
        fs.write("cpu/online", "0-3\n");
        let topo = Topology::from_sysfs(&fs.root).unwrap();
        assert_eq!(ids(&topo), vec![0, 1, 2, 3]);
        assert_eq!(topo.nodes(), vec![0]);
        assert!(topo.cpus().iter().all(|c| c.node == 0));
    }

    #[test]
    fn cpu_in_no_node_is_on_node_0_and_memory_only_nodes_are_skipped() {
        let fs = FakeSysfs::new("unlisted");
        fs.write("cpu/online", "0-3\n")
            .write("node/node1/cpulist", "0-1\n")
            .write("node/node2/cpulist", "\n");
        let topo = Topology::from_sysfs(&fs.root).unwrap();
        assert_eq!(topo.node_of(0), Some(1));
        assert_eq!(topo.node_of(3), Some(0));
        assert_eq!(topo.nodes(), vec![0, 1]);
    }

    #[test]
    fn malformed_cpulist_error_names_the_file() {
        let fs = FakeSysfs::new("malformed");
        fs.write("cpu/online", "0-3\n")
            .write("node/node0/cpulist", "0-1\n")
            .write("node/node1/cpulist", "3-2\n");
        let err = Topology::from_sysfs(&fs.root).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let msg = err.to_string();
        assert!(msg.contains("node1/cpulist"), "{msg}");
        assert!(msg.contains("3-2"), "{msg}");
    }

    #[test]
    fn missing_online_file_error_names_the_file() {
        let fs = FakeSysfs::new("missing");
        let err = Topology::from_sysfs(&fs.root).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("cpu/online"), "{err}");
    }

    #[test]
    fn new_sorts_and_deduplicates() {
        let topo = Topology::new([Cpu::new(3, 1), Cpu::new(0, 0), Cpu::new(3, 0)]);
        assert_eq!(topo.cpus(), &[Cpu::new(0, 0), Cpu::new(3, 1)]);
    }

    #[test]
    fn detect_on_this_machine() {
        // /sys may be missing in odd sandboxes; when it is there, it parses.
        if Path::new("/sys/devices/system/cpu/online").exists() {
            let topo = Topology::detect().unwrap();
            assert!(!topo.cpus().is_empty());
        }
    }
}
