//! Fake sysfs trees for tests: multi-node, multi-package, SMT machines on
//! any machine, including the one-node ones CI runs on.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fake sysfs root in the temp dir, removed on drop.
pub(crate) struct FakeSysfs {
    pub(crate) root: PathBuf,
}

impl FakeSysfs {
    pub(crate) fn new(name: &str) -> FakeSysfs {
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

    /// Writes `contents` to `<root>/devices/system/<relative>`.
    pub(crate) fn write(&self, relative: &str, contents: &str) -> &FakeSysfs {
        let path = self.root.join("devices/system").join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
        self
    }

    /// Writes the `topology/` files of CPU `cpu`.
    pub(crate) fn cpu_topology(&self, cpu: usize, package: usize, siblings: &str) -> &FakeSysfs {
        self.write(
            &format!("cpu/cpu{cpu}/topology/physical_package_id"),
            &format!("{package}\n"),
        )
        .write(
            &format!("cpu/cpu{cpu}/topology/thread_siblings_list"),
            &format!("{siblings}\n"),
        )
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Two packages, one NUMA node each, two physical cores per package,
    /// two hardware threads per core: 8 CPUs numbered as Linux does on
    /// Intel machines, first threads first.
    ///
    /// | package/node | core (siblings) |
    /// |--------------|-----------------|
    /// | 0            | 0 (0,4), 1 (1,5) |
    /// | 1            | 2 (2,6), 3 (3,7) |
    pub(crate) fn two_packages_two_nodes_smt(name: &str) -> FakeSysfs {
        let fs = FakeSysfs::new(name);
        fs.write("cpu/online", "0-7\n")
            .write("node/node0/cpulist", "0-1,4-5\n")
            .write("node/node1/cpulist", "2-3,6-7\n")
            .write("node/online", "0-1\n");
        for cpu in 0..8 {
            let core = cpu % 4;
            fs.cpu_topology(cpu, core / 2, &format!("{core},{}", core + 4));
        }
        fs
    }
}

impl Drop for FakeSysfs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}
