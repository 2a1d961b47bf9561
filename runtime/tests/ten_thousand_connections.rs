//! 10,000 connections open at once, accepted through `TcpListener::incoming`
//! (multishot accept where the kernel has it) and each served an echo
//! through `recv_pooled`, with the io_uring fast path on and forced off
//! (the CI runs this file again with `FRYS_DRIVER=epoll`).
//!
//! The client runs in a child process (this test binary re-run with
//! `FRYS_10K_CLIENT` set to the server's address), so each process needs
//! about 10,100 file descriptors; the test raises its soft
//! `RLIMIT_NOFILE` to the hard limit if needed.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use frys_runtime::net::TcpListener;
use frys_runtime::{spawn_local, Cores, Runtime};

const CONNS: usize = 10_000;
/// Connections the client opens before it reads their echoes (which
/// proves them accepted), so the listen backlog (1,024) does not overflow
/// into SYN retries.
const BATCH: usize = 500;
const CLIENT_ENV: &str = "FRYS_10K_CLIENT";
const TEST: &str = "ten_thousand_connections_are_accepted_and_served";
/// Generous bound so that a bug fails the test instead of hanging it; no
/// assertion depends on it.
const HANG_GUARD: Duration = Duration::from_secs(300);

#[test]
fn ten_thousand_connections_are_accepted_and_served() {
    raise_fd_limit(CONNS as u64 + 500);
    if let Ok(addr) = std::env::var(CLIENT_ENV) {
        run_client(addr.parse().unwrap());
        println!("client: all echoes checked");
        return;
    }
    for fast_path in [true, false] {
        serve_all(fast_path);
    }
}

fn serve_all(fast_path: bool) {
    let rt = Runtime::builder()
        .cores(Cores::Count(1))
        .net_fast_path(fast_path)
        .build()
        .unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let (accepted2, served2) = (accepted.clone(), served.clone());
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
                .env(CLIENT_ENV, addr.to_string())
                .output()
                .unwrap()
        });
        let served = served2;
        let mut incoming = listener.incoming();
        let server = async {
            while accepted2.load(Ordering::Relaxed) < CONNS {
                let (stream, _peer) = incoming.accept().await.unwrap();
                accepted2.fetch_add(1, Ordering::Relaxed);
                let served = served.clone();
                spawn_local(async move {
                    let mut echoed = 0;
                    while let Ok(Some(bytes)) = stream.recv_pooled().await {
                        echoed += bytes.len();
                        let (res, _) = stream.write_all(bytes).await;
                        if res.is_err() {
                            break;
                        }
                    }
                    if echoed == 8 {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            while served.load(Ordering::Relaxed) < CONNS {
                frys_runtime::time::sleep(Duration::from_millis(5)).await;
            }
        };
        frys_runtime::time::timeout(HANG_GUARD, server)
            .await
            .expect("server hung");
        let out = client.join().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "client failed:\n{stdout}\n{stderr}");
        assert!(stdout.contains("client: all echoes checked"), "{stdout}");
    });
    assert_eq!(
        accepted.load(Ordering::Relaxed),
        CONNS,
        "fast_path {fast_path}"
    );
    assert_eq!(
        served.load(Ordering::Relaxed),
        CONNS,
        "fast_path {fast_path}"
    );
}

/// Opens every connection (all stay open until the end), sends each its
/// index and checks its echo, a batch at a time, then closes them all with
/// a reset (no `TIME_WAIT` left behind).
fn run_client(addr: SocketAddr) {
    let mut conns = Vec::with_capacity(CONNS);
    for start in (0..CONNS).step_by(BATCH) {
        for i in start..(start + BATCH).min(CONNS) {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(HANG_GUARD)).unwrap();
            c.write_all(&(i as u64).to_le_bytes()).unwrap();
            conns.push(c);
        }
        for (i, c) in conns.iter_mut().enumerate().skip(start) {
            let mut echo = [0; 8];
            c.read_exact(&mut echo).unwrap();
            assert_eq!(u64::from_le_bytes(echo), i as u64, "echo of connection {i}");
        }
    }
    assert_eq!(conns.len(), CONNS);
    for c in conns {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on an fd `c` owns, with a live `linger` of the
        // size passed.
        unsafe {
            libc::setsockopt(
                c.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
    }
}

fn raise_fd_limit(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a live `rlimit`.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur >= want {
            return;
        }
        lim.rlim_cur = want;
        if lim.rlim_max < want {
            // Only a privileged process may raise its hard limit.
            lim.rlim_max = want;
        }
        assert_eq!(
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim),
            0,
            "this test needs RLIMIT_NOFILE >= {want}: {}",
            std::io::Error::last_os_error()
        );
    }
}
