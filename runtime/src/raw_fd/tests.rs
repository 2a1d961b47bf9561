//! `into_raw_fd` while an abandoned operation still names the fd: the
//! caller closes the number it got and another file takes that number
//! (`dup2`, so that fds opened by tests on other threads cannot interfere);
//! the abandoned operation must not act on that other file. On io_uring the
//! operation is an SQE queued but not yet submitted (the kernel resolves
//! its fd number only at submission); on epoll it is a file call queued on
//! the pool behind calls that block until the test lets them go.

use std::future::{poll_fn, Future};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use crate::fs::File;
use crate::net::UnixStream;
use crate::runtime::context;
use crate::{spawn_local, Cores, DriverKind, Runtime};

/// Most pool threads (`driver::epoll::pool::MAX_WORKERS`).
const POOL_WORKERS: usize = 16;

fn block_on<F: Future>(kind: DriverKind, future: F) -> F::Output {
    let rt = Runtime::builder()
        .cores(Cores::Count(1))
        .driver(kind)
        .build()
        .unwrap();
    assert_eq!(rt.driver(), kind);
    rt.block_on(async move {
        crate::time::timeout(Duration::from_secs(20), future)
            .await
            .expect("test hung")
    })
}

/// Polls `future` exactly once.
async fn poll_once<F: Future>(mut future: Pin<&mut F>) {
    poll_fn(|cx| {
        let _ = future.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await
}

/// Waits until the core's driver has no operation left, orphans included.
async fn until_no_op_in_flight() {
    while context::with_driver(|d| d.ops_in_flight()) != Some(0) {
        crate::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Closes `raw` and makes its number refer to `other`'s file instead.
fn reuse_number(raw: RawFd, other: &impl AsRawFd) {
    // SAFETY: `raw` is ours (from `into_raw_fd`); `dup2` closes it and
    // makes the number a second fd of `other`'s file, which we close at the
    // end of the test.
    assert_eq!(unsafe { libc::dup2(other.as_raw_fd(), raw) }, raw);
}

fn close(raw: RawFd) {
    // SAFETY: the test owns `raw` and uses it no more.
    drop(unsafe { OwnedFd::from_raw_fd(raw) });
}

fn a_send_abandoned_before_submission_never_reaches_a_reused_number(kind: DriverKind) {
    block_on(kind, async {
        let (ours, _our_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let stream = UnixStream::from_std(ours).unwrap();
        {
            let mut send = pin!(stream.write(b"abandoned".to_vec()));
            // io_uring: the SQE is queued, the kernel has not seen it.
            poll_once(send.as_mut()).await;
        }
        let raw = stream.into_raw_fd();
        let (victim, mut victim_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        reuse_number(raw, &victim);
        until_no_op_in_flight().await;
        victim_peer.set_nonblocking(true).unwrap();
        let mut got = [0u8; 64];
        let read = victim_peer.read(&mut got);
        assert!(
            matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "the abandoned send reached the file that reused its fd number: {read:?}"
        );
        close(raw);
    });
}

#[test]
fn a_send_abandoned_before_submission_never_reaches_a_reused_number_uring() {
    a_send_abandoned_before_submission_never_reaches_a_reused_number(DriverKind::IoUring);
}

#[test]
fn a_send_abandoned_before_submission_never_reaches_a_reused_number_epoll() {
    a_send_abandoned_before_submission_never_reaches_a_reused_number(DriverKind::Epoll);
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("frys-raw-fd-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

fn a_file_write_abandoned_before_it_ran_never_reaches_a_reused_number(kind: DriverKind) {
    let dir = temp_dir(&format!("{kind:?}"));
    block_on(kind, async {
        // Opened first: on epoll an open is a pool call too.
        let file = File::from_std(std::fs::File::create(dir.join("ours")).unwrap());
        // epoll: occupy every pool thread with an open of a FIFO nobody
        // writes, so the write below waits in the pool's queue.
        let fifo = dir.join("fifo");
        mkfifo(&fifo);
        let blockers: Vec<_> = (0..POOL_WORKERS)
            .map(|_| {
                let fifo = fifo.clone();
                spawn_local(async move { File::open(fifo).await.unwrap() })
            })
            .collect();
        crate::time::sleep(Duration::from_millis(1)).await;
        {
            let mut write = pin!(file.write_at(b"abandoned".to_vec(), 0));
            poll_once(write.as_mut()).await;
        }
        let raw = file.into_raw_fd();
        let victim = std::fs::File::create(dir.join("victim")).unwrap();
        reuse_number(raw, &victim);
        // Lets the blocked opens finish (a FIFO open for reading returns
        // once a writer opened it).
        let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        for blocker in blockers {
            drop(blocker.await.unwrap());
        }
        until_no_op_in_flight().await;
        drop(writer);
        let victim_len = std::fs::metadata(dir.join("victim")).unwrap().len();
        assert_eq!(
            victim_len, 0,
            "the abandoned write reached the file that reused its fd number"
        );
        close(raw);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_write_abandoned_before_it_ran_never_reaches_a_reused_number_uring() {
    a_file_write_abandoned_before_it_ran_never_reaches_a_reused_number(DriverKind::IoUring);
}

#[test]
fn a_file_write_abandoned_before_it_ran_never_reaches_a_reused_number_epoll() {
    a_file_write_abandoned_before_it_ran_never_reaches_a_reused_number(DriverKind::Epoll);
}

/// Runs the calling test again alone in a child process (this test binary,
/// filtered to that one test), so that exhausting the fd table there does
/// not disturb tests on other threads. `true` in the child.
fn in_child(test: &str) -> bool {
    const CHILD: &str = "FRYS_RAW_FD_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A regression that hangs the child (a wait that never ends) fails
    // here instead of hanging the test run; the bound is far above what a
    // loaded machine needs.
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > patience {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child running {test} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "child did not run the test:\n{stdout}"
    );
    false
}

/// Takes every free fd number (up to a lowered limit); closed on drop.
struct FullFdTable {
    _fds: Vec<OwnedFd>,
}

impl FullFdTable {
    fn fill() -> Self {
        let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
        let limit = libc::rlimit {
            rlim_cur: open + 64,
            rlim_max: open + 64,
        };
        // SAFETY: plain syscall with a live struct.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
        let mut fds = Vec::new();
        loop {
            // SAFETY: fcntl with integer arguments on stdin, which stays open.
            let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 0) };
            if fd < 0 {
                assert_eq!(
                    std::io::Error::last_os_error().raw_os_error(),
                    Some(libc::EMFILE)
                );
                return Self { _fds: fds };
            }
            // SAFETY: a new fd nobody else owns.
            fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
}

/// Without a free fd for the duplicate, `into_raw_fd` waits for the
/// abandoned send instead (driving the core, which submits it): it then
/// hands over the number itself, which the send can no longer use.
#[test]
fn without_a_free_fd_into_raw_fd_waits_for_the_abandoned_send() {
    if !in_child("raw_fd::tests::without_a_free_fd_into_raw_fd_waits_for_the_abandoned_send") {
        return;
    }
    block_on(DriverKind::IoUring, async {
        let (ours, _our_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let (victim, mut victim_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let stream = UnixStream::from_std(ours).unwrap();
        let original = stream.as_raw_fd();
        let full = FullFdTable::fill();
        {
            let mut send = pin!(stream.write(b"abandoned".to_vec()));
            poll_once(send.as_mut()).await;
        }
        let raw = stream.into_raw_fd();
        assert_eq!(raw, original, "no fd was free for a duplicate");
        reuse_number(raw, &victim);
        drop(full);
        until_no_op_in_flight().await;
        victim_peer.set_nonblocking(true).unwrap();
        let mut got = [0u8; 64];
        let read = victim_peer.read(&mut got);
        assert!(
            matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "the abandoned send reached the file that reused its fd number: {read:?}"
        );
        close(raw);
    });
}
