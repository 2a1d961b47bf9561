//! `frys-bench topology`: the machine and what each placement picks.

use std::path::Path;

use frys::topology::{allowed_cpus, format_cpulist, select_cpus, Cores, Topology};
use frys::Placement;

use crate::cpus;

/// Prints the topology read from `sysfs_root` (and from hwloc, with the
/// `hwloc` feature) and, for each placement, the CPUs a runtime taking
/// every usable CPU would get and the default server/client split.
pub fn print(sysfs_root: &Path) -> Result<(), String> {
    let topo =
        Topology::from_sysfs(sysfs_root).map_err(|e| format!("cannot read the topology: {e}"))?;
    let allowed = allowed_cpus().map_err(|e| format!("cannot read the affinity mask: {e}"))?;
    println!("sysfs ({}):", sysfs_root.display());
    print_topology(&topo, &allowed);
    #[cfg(feature = "hwloc")]
    match Topology::detect_hwloc() {
        Ok(h) => {
            println!("\nhwloc:");
            print_topology(&h, &allowed);
        }
        Err(e) => println!("\nhwloc: cannot read the topology: {e}"),
    }
    Ok(())
}

fn print_topology(topo: &Topology, allowed: &[usize]) {
    println!(
        "  {} cpus, {} physical cores, {} packages, {} numa nodes; this process may run on {}",
        topo.cpus().len(),
        topo.physical_cores(),
        topo.packages().len(),
        topo.nodes().len(),
        format_cpulist(allowed)
    );
    for node in topo.nodes() {
        let on: Vec<_> = topo.cpus().iter().filter(|c| c.node == node).collect();
        let ids: Vec<usize> = on.iter().map(|c| c.id).collect();
        println!("  node {node}: cpus {}", format_cpulist(&ids));
        let mut cores: Vec<(usize, usize)> = on.iter().map(|c| (c.package, c.core)).collect();
        cores.sort_unstable();
        cores.dedup();
        for (package, core) in cores {
            let threads: Vec<usize> = on
                .iter()
                .filter(|c| (c.package, c.core) == (package, core))
                .map(|c| c.id)
                .collect();
            println!(
                "    package {package} core {core}: threads {}",
                format_cpulist(&threads)
            );
        }
    }
    let mut placements = vec![
        Placement::Compact,
        Placement::Spread,
        Placement::OnePerPhysicalCore,
    ];
    placements.extend(topo.nodes().into_iter().map(Placement::Node));
    println!("  placements (every usable cpu, in core order; default server / client split):");
    for p in placements {
        let picked = select_cpus(topo, allowed, &Cores::All, p)
            .map(|c| c.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
        let split = cpus::choose(topo, allowed, p, None, None).map(|s| {
            format!(
                "server {} / client {}",
                format_cpulist(&s.server),
                format_cpulist(&s.client)
            )
        });
        match (picked, split) {
            (Ok(c), Ok(s)) => println!("    {:<22} {c:<24} {s}", p.to_string()),
            (Ok(c), Err(e)) => println!("    {:<22} {c:<24} ({e})", p.to_string()),
            (Err(e), _) => println!("    {:<22} {e}", p.to_string()),
        }
    }
}
