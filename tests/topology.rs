//! The runtime reads its topology from the sysfs root it is given, so a fake
//! two-node machine places cores by NUMA node.

use std::path::Path;

use frys::{Cores, Placement, Runtime};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn cores_are_placed_by_numa_node_from_a_fake_sysfs_tree() {
    let allowed: Vec<usize> = {
        let rt = Runtime::builder()
            .cores(Cores::All)
            .pin(false)
            .build()
            .unwrap();
        rt.cpus()
    };
    if allowed.len() < 2 {
        eprintln!("SKIPPED: needs 2 usable CPUs, this process may use {allowed:?}");
        return;
    }
    let (a, b) = (allowed[0], allowed[1]);
    let root = std::env::temp_dir().join(format!("frys-fake-sysfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    write(&root, "devices/system/cpu/online", &format!("{a},{b}\n"));
    write(
        &root,
        "devices/system/node/node0/cpulist",
        &format!("{a}\n"),
    );
    write(
        &root,
        "devices/system/node/node1/cpulist",
        &format!("{b}\n"),
    );

    let rt = Runtime::builder()
        .sysfs_root(&root)
        .cores(Cores::Count(2))
        .placement(Placement::Spread)
        .build()
        .unwrap();
    let stats = rt.stats();
    assert_eq!(rt.cpus(), vec![a, b]);
    assert_eq!((stats[0].node, stats[1].node), (0, 1));
    let ran_on = rt.run_on_all(|core| async move { (core, frys::current_core()) });
    assert_eq!(ran_on, vec![(0, Some(0)), (1, Some(1))]);
    drop(rt);

    // A CPU the fake machine does not have is refused with a clear error.
    let err = Runtime::builder()
        .sysfs_root(&root)
        .cores(Cores::List(vec![a, 63]))
        .build()
        .err()
        .expect("cpu 63 is not online in the fake tree");
    assert!(err.to_string().contains("cpu 63 is not usable"), "{err}");
    std::fs::remove_dir_all(&root).unwrap();
}
