//! Reading the CPU and NUMA topology from sysfs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::topology::cpulist;

/// One online CPU and the NUMA node it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cpu {
    /// The kernel's CPU number, as used by `sched_setaffinity` and `taskset`.
    pub id: usize,
    /// The NUMA node the CPU belongs to (0 on machines without NUMA).
    pub node: usize,
}

/// The online CPUs of the machine and their NUMA nodes.
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
    /// directory) is on node 0.
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

        let mut cpus: Vec<Cpu> = online.iter().map(|&id| Cpu { id, node: 0 }).collect();
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
        self.cpus
            .binary_search_by_key(&cpu, |c| c.id)
            .ok()
            .map(|i| self.cpus[i].node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake sysfs root in the temp dir, removed on drop.
    struct FakeSysfs {
        root: PathBuf,
    }

    impl FakeSysfs {
        fn new(name: &str) -> FakeSysfs {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let root = std::env::temp_dir().join(format!(
                "frys-topology-{name}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(root.join("devices/system/cpu")).unwrap();
            FakeSysfs { root }
        }

        fn write(&self, relative: &str, contents: &str) -> &FakeSysfs {
            let path = self.root.join("devices/system").join(relative);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
            self
        }
    }

    impl Drop for FakeSysfs {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

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
        let topo = Topology::new([
            Cpu { id: 3, node: 1 },
            Cpu { id: 0, node: 0 },
            Cpu { id: 3, node: 0 },
        ]);
        assert_eq!(
            topo.cpus(),
            &[Cpu { id: 0, node: 0 }, Cpu { id: 3, node: 1 }]
        );
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
