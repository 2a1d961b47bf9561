//! Choosing disjoint server and client CPU sets from the topology.

use frys::topology::{select_cpus, Cores, Topology};
use frys::Placement;

/// The server and client CPUs of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuSets {
    pub server: Vec<usize>,
    pub client: Vec<usize>,
}

/// Picks the CPU sets: the given ones (checked to be usable and disjoint),
/// or by default the first half of the placement's CPUs for the servers and
/// the usable CPUs that share no physical core with a server CPU for the
/// clients (any CPU not a server's when every one does).
pub fn choose(
    topo: &Topology,
    allowed: &[usize],
    placement: Placement,
    server: Option<Vec<usize>>,
    client: Option<Vec<usize>>,
) -> Result<CpuSets, String> {
    let usable =
        select_cpus(topo, allowed, &Cores::All, Placement::Compact).map_err(|e| e.to_string())?;
    let server = match server {
        Some(list) => select_cpus(topo, allowed, &Cores::List(list), placement)
            .map_err(|e| format!("--server-cpus: {e}"))?,
        None => {
            let placed =
                select_cpus(topo, allowed, &Cores::All, placement).map_err(|e| e.to_string())?;
            let half = (placed.len() / 2).max(1);
            placed[..half].to_vec()
        }
    };
    let client = match client {
        Some(list) => select_cpus(topo, allowed, &Cores::List(list), placement)
            .map_err(|e| format!("--client-cpus: {e}"))?,
        None => {
            let core_of = |id: usize| topo.cpu(id).map(|c| (c.package, c.core));
            let server_cores: Vec<_> = server.iter().map(|&c| core_of(c)).collect();
            let apart: Vec<usize> = usable
                .iter()
                .copied()
                .filter(|&c| !server_cores.contains(&core_of(c)))
                .collect();
            if apart.is_empty() {
                usable
                    .iter()
                    .copied()
                    .filter(|c| !server.contains(c))
                    .collect()
            } else {
                apart
            }
        }
    };
    if let Some(cpu) = server.iter().find(|c| client.contains(c)) {
        return Err(format!(
            "cpu {cpu} is both a server and a client cpu: the sets must be disjoint"
        ));
    }
    if client.is_empty() {
        return Err(format!(
            "no cpu is left for the load generators: the servers take {} of the usable {}",
            frys::topology::format_cpulist(&server),
            frys::topology::format_cpulist(&usable)
        ));
    }
    Ok(CpuSets { server, client })
}

/// The default core sweep: 1, 2, 4, ... up to the server CPUs, and their
/// count itself.
pub fn default_sweep(server_cpus: usize) -> Vec<usize> {
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|&n| n <= server_cpus)
        .collect();
    if v.last() != Some(&server_cpus) && server_cpus > 0 {
        v.push(server_cpus);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use frys::topology::Cpu;

    /// Two nodes of two physical cores with two threads each: cpus 0-3 are
    /// the first threads, 4-7 their siblings.
    fn smt() -> Topology {
        Topology::new((0..8).map(|id| Cpu {
            id,
            node: (id % 4) / 2,
            package: (id % 4) / 2,
            core: id % 4,
        }))
    }

    #[test]
    fn default_sets_keep_server_and_client_on_different_physical_cores() {
        let all: Vec<usize> = (0..8).collect();
        let sets = choose(&smt(), &all, Placement::OnePerPhysicalCore, None, None).unwrap();
        assert_eq!(sets.server, vec![0, 1]);
        assert_eq!(sets.client, vec![2, 3, 6, 7]);
        let sets = choose(&smt(), &all, Placement::Node(1), None, None).unwrap();
        assert_eq!(sets.server, vec![2, 3]);
        assert_eq!(sets.client, vec![0, 1, 4, 5]);
    }

    #[test]
    fn two_cpus_one_each_and_overlap_is_refused() {
        let t = Topology::new([Cpu::new(0, 0), Cpu::new(1, 0)]);
        let sets = choose(&t, &[0, 1], Placement::Compact, None, None).unwrap();
        assert_eq!((sets.server, sets.client), (vec![0], vec![1]));
        let err = choose(
            &t,
            &[0, 1],
            Placement::Compact,
            Some(vec![0, 1]),
            Some(vec![1]),
        )
        .unwrap_err();
        assert!(err.contains("cpu 1 is both"), "{err}");
        let err = choose(&t, &[0], Placement::Compact, None, None).unwrap_err();
        assert!(err.contains("no cpu is left"), "{err}");
    }

    #[test]
    fn sweeps() {
        assert_eq!(default_sweep(1), vec![1]);
        assert_eq!(default_sweep(6), vec![1, 2, 4, 6]);
        assert_eq!(default_sweep(8), vec![1, 2, 4, 8]);
    }
}
