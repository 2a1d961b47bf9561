//! Where a seccomp profile refuses io_uring (as Docker's default profile
//! does: `io_uring_setup` fails with `EPERM`), a runtime built with
//! `DriverKind::Auto` runs on epoll and serves TCP.
//!
//! The parent re-runs this test binary, filtered to this test, with
//! `FRYS_SECCOMP_CHILD` set; the child installs the filter on itself
//! (`PR_SET_NO_NEW_PRIVS`, then `PR_SET_SECCOMP` with a small BPF program)
//! before it builds any runtime, so every core thread inherits it.

use std::process::Command;
use std::time::Duration;

use frys_runtime::net::{TcpListener, TcpStream};
use frys_runtime::{BuildError, Cores, DriverKind, RingSetupError, Runtime};

const CHILD_ENV: &str = "FRYS_SECCOMP_CHILD";
const TEST: &str = "auto_falls_back_to_epoll_when_seccomp_refuses_io_uring";

#[test]
fn auto_falls_back_to_epoll_when_seccomp_refuses_io_uring() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env_remove(frys_runtime::DRIVER_ENV)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("child: epoll served the echo"),
        "child did not run the test:\n{stdout}\n{stderr}"
    );
}

fn child() {
    refuse_io_uring_setup();
    // SAFETY: a raw syscall with a zeroed params struct of the right size;
    // it must fail without touching memory.
    let ret = unsafe {
        let mut params = [0u8; 120];
        libc::syscall(libc::SYS_io_uring_setup, 8, params.as_mut_ptr())
    };
    let err = std::io::Error::last_os_error();
    assert!(ret < 0 && err.raw_os_error() == Some(libc::EPERM), "{err}");

    // Asked for explicitly, io_uring fails and names the cause.
    let refused = Runtime::builder()
        .cores(Cores::Count(1))
        .driver(DriverKind::IoUring)
        .build();
    match refused {
        Err(BuildError::Ring {
            source: RingSetupError::Disabled { .. },
            ..
        }) => {}
        other => panic!("io_uring should be refused: {:?}", other.err()),
    }

    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .pin(false)
        .build()
        .expect("Auto must fall back to epoll");
    assert_eq!(rt.driver(), DriverKind::Epoll);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The server runs on core 1, the client on core 0.
        let server = frys_runtime::spawn_on(1, move || async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (n, buf) = stream.read(Vec::with_capacity(64)).await;
            let n = n.unwrap();
            let (res, _) = stream.write_all(buf[..n].to_vec()).await;
            res.unwrap();
        });
        let client = TcpStream::connect(addr).await.unwrap();
        let (res, _) = client.write_all(b"echo under seccomp".to_vec()).await;
        res.unwrap();
        let mut got = Vec::new();
        while got.len() < 18 {
            let (n, buf) = client.read(Vec::with_capacity(64)).await;
            let n = n.unwrap();
            assert_ne!(n, 0, "server closed early");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"echo under seccomp");
        server.await.unwrap();
        // Timers work too.
        frys_runtime::time::sleep(Duration::from_millis(2)).await;
    });
    println!("child: epoll served the echo");
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

/// Installs a seccomp filter on this thread (inherited by threads it starts)
/// that makes `io_uring_setup` fail with `EPERM` and allows everything else.
fn refuse_io_uring_setup() {
    const NR: u32 = 0; // offsetof(struct seccomp_data, nr)
    const ARCH: u32 = 4; // offsetof(struct seccomp_data, arch)
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let mut program = [
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, ARCH),
        // Another architecture's syscall numbers mean something else.
        jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            AUDIT_ARCH,
            1,
            0,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, NR),
        jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            libc::SYS_io_uring_setup as u32,
            0,
            1,
        ),
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments; NO_NEW_PRIVS lets an
    // unprivileged process install a filter.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    // SAFETY: `prog` points at `program`, a valid BPF program that lives
    // for the call (the kernel copies it).
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
}
