//! The I/O driver: `--driver` picks it, INFO reports it, and a server whose
//! seccomp profile refuses io_uring (as Docker's default profile does) runs
//! on epoll and serves clients.

use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::common::{q, qa, redis_cli, Server};

#[test]
fn the_driver_setting_picks_the_driver_and_info_reports_it() {
    for driver in ["epoll", "io_uring"] {
        let s = Server::start_with(2, &["--driver", driver]);
        let mut c = s.conn();
        let info: String = qa(&mut c, &["INFO", "server"]);
        assert!(
            info.contains(&format!("multiplexing_api:{driver}\r\n")),
            "{info}"
        );
        let got: Vec<String> = qa(&mut c, &["CONFIG", "GET", "driver"]);
        assert_eq!(got, ["driver", driver]);
        q(&mut c, &["SET", "k", "v"]);
        let v: String = qa(&mut c, &["GET", "k"]);
        assert_eq!(v, "v");
    }
}

/// Set in the re-run of this test binary that installs the filter and
/// then runs the server; holds the server's command line, one argument a
/// line.
const EXEC_ENV: &str = "FRYS_SECCOMP_EXEC";
// The libtest name of the test below (its module path in this binary).
const TEST: &str = "driver::under_a_seccomp_profile_refusing_io_uring_the_server_runs_on_epoll";

#[test]
fn under_a_seccomp_profile_refusing_io_uring_the_server_runs_on_epoll() {
    if let Ok(command_line) = std::env::var(EXEC_ENV) {
        return exec_under_filter(&command_line);
    }
    let s = Server::start_launched(2, &[], |server| {
        let mut line = vec![server.get_program().to_string_lossy().into_owned()];
        line.extend(server.get_args().map(|a| a.to_string_lossy().into_owned()));
        let mut launcher = Command::new(std::env::current_exe().unwrap());
        launcher
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env(EXEC_ENV, line.join("\n"))
            // Auto must find out by itself.
            .env_remove("FRYS_DRIVER");
        launcher
    });
    let mut c = s.conn();
    let info: String = qa(&mut c, &["INFO", "server"]);
    assert!(info.contains("multiplexing_api:epoll\r\n"), "{info}");
    q(&mut c, &["SET", "k", "v"]);
    let v: String = qa(&mut c, &["GET", "k"]);
    assert_eq!(v, "v");
    let keys: Vec<String> = qa(&mut c, &["KEYS", "*"]);
    assert_eq!(keys, ["k"]);
    // redis-cli, as a user would.
    assert_eq!(redis_cli(&s, &["SET", "cli", "works"]), "OK\n");
    assert_eq!(redis_cli(&s, &["GET", "cli"]), "works\n");
    assert_eq!(redis_cli(&s, &["PING"]), "PONG\n");
    let log = s.stderr();
    assert!(
        log.contains("falling back") && log.contains("seccomp"),
        "the fallback and its cause are logged:\n{log}"
    );
}

/// In the re-run: refuses `io_uring_setup` for this process and its
/// children (the filter survives `exec`), then becomes the server.
fn exec_under_filter(command_line: &str) {
    let mut parts = command_line.lines();
    let program = parts.next().expect("server program");
    refuse_io_uring_setup();
    let err = Command::new(program)
        .args(parts)
        .env_remove(EXEC_ENV)
        .exec();
    panic!("cannot run the server: {err}");
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

/// The filter of `runtime/tests/seccomp_fallback.rs`: `io_uring_setup`
/// fails with `EPERM`, everything else is allowed.
fn refuse_io_uring_setup() {
    let insn = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let (ld, jeq, ret) = (
        libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
        libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
        libc::BPF_RET | libc::BPF_K,
    );
    let mut program = [
        insn(ld, 4, 0, 0), // seccomp_data.arch
        insn(jeq, AUDIT_ARCH, 1, 0),
        insn(ret, libc::SECCOMP_RET_ALLOW, 0, 0),
        insn(ld, 0, 0, 0), // seccomp_data.nr
        insn(jeq, libc::SYS_io_uring_setup as u32, 0, 1),
        insn(ret, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32, 0, 0),
        insn(ret, libc::SECCOMP_RET_ALLOW, 0, 0),
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments.
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
