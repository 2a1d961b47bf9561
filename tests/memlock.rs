//! Starting must not fail under a low `RLIMIT_MEMLOCK` (`ulimit -l 64`).
//!
//! The parent re-runs this test binary under `sh -c 'ulimit -l 64; exec ..'`
//! and the child builds a runtime with large rings and does real I/O.

use std::process::Command;

use frys::{Cores, Runtime};

const CHILD_ENV: &str = "FRYS_MEMLOCK_CHILD";

#[test]
fn runtime_starts_with_a_64k_memlock_limit() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child();
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -l 64 && ulimit -l && exec "$0" --exact runtime_starts_with_a_64k_memlock_limit --nocapture"#)
        .arg(exe)
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.starts_with("64\n"), "limit not applied: {stdout}");
    assert!(stdout.contains("child ran with memlock 65536"), "{stdout}");
}

fn child() {
    let mut limit = [0u64; 2];
    // SAFETY: getrlimit writes two u64s (struct rlimit on 64-bit Linux).
    let rc = unsafe {
        getrlimit(8 /* RLIMIT_MEMLOCK */, limit.as_mut_ptr())
    };
    assert_eq!(rc, 0);
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .ring_entries(4096)
        .build()
        .expect("runtime must start under a low memlock limit");
    let v = rt.block_on(async {
        frys::time::sleep(std::time::Duration::from_millis(1)).await;
        frys::submit_to(1, || 5).await
    });
    assert_eq!(v, 5);
    println!("child ran with memlock {}", limit[0]);
}

extern "C" {
    fn getrlimit(resource: i32, rlim: *mut u64) -> i32;
}
