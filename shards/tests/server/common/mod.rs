//! The integration-test harness: starts the real `shard-server` binary on
//! a free port with its own temporary data directory, waits until it
//! accepts, hands out RESP2 / RESP3 connections and raw sockets, and stops
//! it (SIGTERM, SIGKILL) or restarts it on the same directory. The process
//! is killed when the [`Server`] is dropped, so tests run in parallel.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frys_shards::keyspace::{key_slot, PartitionMap};

/// Longest wait for start-up, shutdown or a reply on a loaded machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running `shard-server` and its data directory.
pub struct Server {
    child: Option<Child>,
    port: u16,
    cores: usize,
    extra: Vec<String>,
    stderr: Arc<Mutex<String>>,
    dir: PathBuf,
    // Removed on drop, after the process is gone.
    _tmp: Option<tempfile::TempDir>,
}

/// Why a server did not come up: its exit status (if it exited) and stderr.
#[derive(Debug)]
pub struct StartError {
    pub status: Option<ExitStatus>,
    pub stderr: String,
}

impl Server {
    /// A server on `cores` cores with a fresh data directory.
    pub fn start(cores: usize) -> Server {
        Server::start_with(cores, &[])
    }

    /// A server on `cores` cores with extra flags (`["--requirepass", "x"]`).
    pub fn start_with(cores: usize, extra: &[&str]) -> Server {
        Server::start_launched(cores, extra, |server| server)
    }

    /// Like [`start_with`](Self::start_with), but the process is started by
    /// the command `launch` makes of the server's command line (a wrapper
    /// that restricts the process and then runs the server, say).
    pub fn start_launched(cores: usize, extra: &[&str], launch: Launcher) -> Server {
        let tmp = tempfile::Builder::new()
            .prefix("frys-shards-test")
            .tempdir()
            .expect("temp dir");
        let dir = tmp.path().join("data");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let (child, port, stderr) =
            spawn_launched(&dir, cores, &extra, launch).unwrap_or_else(|e| {
                panic!("server did not start: {e:?}");
            });
        Server {
            child: Some(child),
            port,
            cores,
            extra,
            stderr,
            dir,
            _tmp: Some(tmp),
        }
    }

    /// Tries to start a second server on this one's data directory.
    pub fn try_start_on(dir: &Path, cores: usize, extra: &[&str]) -> Result<Server, StartError> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let (child, port, stderr) = spawn(dir, cores, &extra)?;
        Ok(Server {
            child: Some(child),
            port,
            cores,
            extra,
            stderr,
            dir: dir.to_path_buf(),
            _tmp: None,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn cores(&self) -> usize {
        self.cores
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Everything the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A RESP2 connection to database 0.
    pub fn conn(&self) -> redis::Connection {
        connect(&self.url())
    }

    /// A RESP3 connection (the client sends HELLO 3).
    pub fn conn3(&self) -> redis::Connection {
        connect(&format!("{}?protocol=resp3", self.url()))
    }

    /// A connection made from `url_tail` appended to `redis://127.0.0.1:port`.
    pub fn conn_url(&self, url_tail: &str) -> redis::Connection {
        connect(&format!("redis://127.0.0.1:{}{url_tail}", self.port))
    }

    /// A raw socket with read and write timeouts.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(PATIENCE)).expect("timeout");
        s.set_write_timeout(Some(PATIENCE)).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        s
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM)
    }

    /// Sends SIGKILL and waits for the process to be gone.
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
    }

    fn signal(&mut self, sig: libc::c_int) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) on our own child's pid, which has not been reaped
        // (the Child still owns it), so the pid cannot have been reused.
        unsafe { libc::kill(child.id() as libc::pid_t, sig) };
        wait_with_deadline(&mut child, PATIENCE).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not exit within {PATIENCE:?} after signal {sig}");
        })
    }

    /// Waits for the server to exit by itself (SHUTDOWN) and returns its
    /// exit status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        wait_with_deadline(&mut child, PATIENCE).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not exit within {PATIENCE:?}");
        })
    }

    /// Stops the server with SIGTERM (which must exit 0) and starts it
    /// again on the same directory, with `cores` cores.
    pub fn restart(&mut self, cores: usize) {
        if self.child.is_some() {
            let status = self.terminate();
            assert!(
                status.success(),
                "SIGTERM exit {status:?}\n{}",
                self.stderr()
            );
        }
        self.start_again(cores);
    }

    /// Starts the (stopped) server again on the same directory.
    pub fn start_again(&mut self, cores: usize) {
        assert!(self.child.is_none(), "still running");
        let (child, port, stderr) = spawn(&self.dir, cores, &self.extra)
            .unwrap_or_else(|e| panic!("server did not restart: {e:?}"));
        self.child = Some(child);
        self.port = port;
        self.cores = cores;
        self.stderr = stderr;
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// The server's resident memory in bytes (VmRSS).
    pub fn rss_bytes(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .expect("VmRSS");
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("VmRSS kB");
        kb * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_with_deadline(child: &mut Child, patience: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

type Spawned = (Child, u16, Arc<Mutex<String>>);

/// Makes the command that starts the server from the server's own command
/// line (program and arguments, no stdio set).
pub type Launcher = fn(Command) -> Command;

/// Starts the binary with `--port 0` (unless `extra` has a `--port`) and
/// waits for its `ready to accept connections addr=...` line.
fn spawn(dir: &Path, cores: usize, extra: &[String]) -> Result<Spawned, StartError> {
    spawn_launched(dir, cores, extra, |server| server)
}

fn spawn_launched(
    dir: &Path,
    cores: usize,
    extra: &[String],
    launch: Launcher,
) -> Result<Spawned, StartError> {
    let mut server = Command::new(env!("CARGO_BIN_EXE_shard-server"));
    // A free port unless the test fixes one (a cluster node keeps its
    // address across restarts).
    if !extra.iter().any(|a| a == "--port") {
        server.arg("--port").arg("0");
    }
    server
        .arg("--dir")
        .arg(dir)
        .arg("--admin-port")
        .arg("0")
        .arg("--cores")
        .arg(cores.to_string())
        .args(extra);
    let mut child = launch(server)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shard-server");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel::<u16>();
    let pipe = child.stderr.take().expect("stderr");
    let log = stderr.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if line.contains("ready to accept connections") {
                if let Some(port) = ready_port(&line) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(port);
                    }
                }
            }
            if let Ok(mut l) = log.lock() {
                l.push_str(&line);
                l.push('\n');
            }
        }
    });
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(port) = rx.recv_timeout(Duration::from_millis(20)) {
            wait_accepting(port);
            return Ok((child, port, stderr));
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Let the reader thread drain the pipe.
            std::thread::sleep(Duration::from_millis(100));
            let text = stderr.lock().map(|s| s.clone()).unwrap_or_default();
            return Err(StartError {
                status: Some(status),
                stderr: text,
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let text = stderr.lock().map(|s| s.clone()).unwrap_or_default();
            return Err(StartError {
                status: None,
                stderr: text,
            });
        }
    }
}

fn ready_port(line: &str) -> Option<u16> {
    let addr = line.split("addr=").nth(1)?.split_whitespace().next()?;
    addr.rsplit(':').next()?.parse().ok()
}

fn wait_accepting(port: u16) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(PATIENCE)).ok();
            if s.write_all(b"PING\r\n").is_ok() {
                let mut buf = [0u8; 7];
                if s.read_exact(&mut buf).is_ok() {
                    // +PONG, or -NOAUTH when a password is required.
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "server never accepted");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A connection from a full URL, with timeouts.
pub fn connect(url: &str) -> redis::Connection {
    let client = redis::Client::open(url).expect("client");
    let con = client
        .get_connection_with_timeout(PATIENCE)
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    con.set_read_timeout(Some(PATIENCE)).expect("timeout");
    con.set_write_timeout(Some(PATIENCE)).expect("timeout");
    con
}

/// Builds a command from words.
pub fn cmd(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

/// Runs a command and returns its reply (an error reply panics).
pub fn q(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    cmd(args)
        .query(con)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs a command and converts its reply.
pub fn qa<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&str]) -> T {
    cmd(args)
        .query(con)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs a command that must fail and returns the whole error line as the
/// server sent it (`ERR syntax error`).
pub fn err(con: &mut redis::Connection, args: &[&str]) -> String {
    match cmd(args).query::<redis::Value>(con) {
        Ok(v) => panic!("{args:?}: expected an error, got {v:?}"),
        Err(e) => error_text(&e),
    }
}

/// The error line of a server error (`CODE detail`).
pub fn error_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => panic!("not a server error: {e:?}"),
    }
}

/// The wrong-arity error of `name`.
pub fn arity_error(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// `n` keys (`{prefix}{i}`) owned by `core` of a `cores`-core server with
/// the default 16 partitions.
pub fn keys_on_core(prefix: &str, core: usize, cores: usize, n: usize) -> Vec<String> {
    let map = PartitionMap::new(16, cores as u16);
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| map.core_of_slot(key_slot(k.as_bytes())) == core)
        .take(n)
        .collect()
}

/// The core owning `key` on a `cores`-core server with 16 partitions.
pub fn core_of(key: &str, cores: usize) -> usize {
    PartitionMap::new(16, cores as u16).core_of_slot(key_slot(key.as_bytes()))
}

/// Polls `f` until it returns true or `patience` passes.
pub fn eventually(patience: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends raw bytes and reads until `expect` bytes arrived or the peer
/// closed; returns what was read and whether the peer closed.
pub fn raw_exchange(s: &mut TcpStream, send: &[u8]) -> (Vec<u8>, bool) {
    let _ = s.write_all(send);
    read_until_closed(s)
}

/// Reads until the peer closes (or the read timeout); returns the bytes
/// and whether it closed.
pub fn read_until_closed(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// Reads exactly one RESP line (up to CRLF) from a raw socket.
pub fn read_line(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        match s.read(&mut b) {
            Ok(1) => out.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---- helpers of the blocking-command tests

/// A bulk string value.
pub fn bulk(s: &str) -> redis::Value {
    redis::Value::BulkString(s.as_bytes().to_vec())
}

/// One key owned by each core of a two-core server: `[core 0, core 1]`.
pub fn two_keys(prefix: &str) -> [String; 2] {
    [
        keys_on_core(prefix, 0, 2, 1).remove(0),
        keys_on_core(prefix, 1, 2, 1).remove(0),
    ]
}

/// `blocked_clients` of INFO.
pub fn blocked_clients(c: &mut redis::Connection) -> i64 {
    let info: String = qa(c, &["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

/// Waits until exactly `n` clients are blocked.
pub fn wait_blocked(c: &mut redis::Connection, n: i64) {
    assert!(
        eventually(PATIENCE, || blocked_clients(c) == n),
        "never {n} blocked clients"
    );
}

/// Runs `args` on `con` in a thread; the reply comes on the channel.
pub fn query_in_thread(
    mut con: redis::Connection,
    args: &[&str],
) -> std::sync::mpsc::Receiver<redis::RedisResult<redis::Value>> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = tx.send(cmd(&refs).query::<redis::Value>(&mut con));
    });
    rx
}

/// Runs `args` on a new RESP2 connection of `s` in a thread.
pub fn spawn_query(
    s: &Server,
    args: &[&str],
) -> std::sync::mpsc::Receiver<redis::RedisResult<redis::Value>> {
    query_in_thread(s.conn(), args)
}

/// Runs `redis-cli -p <port> <args>` (installed by `scripts/test.sh`) and
/// returns what it printed.
pub fn redis_cli(s: &Server, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &s.port().to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}
