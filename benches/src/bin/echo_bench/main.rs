//! Echo ping-pong: a frys echo server (on its default io_uring driver and
//! on the epoll fallback driver, each with owned-buffer reads and with
//! pooled receives) against a tokio thread-per-core echo server, a raw
//! io_uring loop (`raw-uring`, the floor: `peers::raw_uring`) and, built
//! with `--features peers`, monoio and glommio servers, measured with the
//! same client, the same pinning and alternating rounds in one run. For
//! every server it reports ops/s, p50, p99, and the server's CPU per
//! request, in total (the process's CPU clock, in ns) and in user space
//! only (`utime` from `/proc/<pid>/stat`, in clock ticks, printed with its
//! tick count and marked imprecise under 100 ticks; the kernel's TCP path
//! is most of the total and the same for all), and every figure as a ratio
//! to frys'. See `frys_benches::proc_cpu`.
//!
//! ```text
//! cargo run --release -p frys-benches [--features peers] --bin echo_bench -- \
//!     [--cores N] [--conns 64] [--size 64] [--secs 5] [--rounds 3] \
//!     [--warmup 1] [--client-threads 1] [--servers frys,frys-pooled,...] \
//!     [--idle 10000] [--placement compact] \
//!     [--server-cpus 0-3 --client-cpus 4-7] [--json PATH]
//! ```
//!
//! `--server-cpus` and `--client-cpus` keep the servers and the client on
//! disjoint CPUs: each server process starts with the server CPUs as its
//! affinity mask (and picks `--cores` of them with `--placement`), the
//! client threads run on the client CPUs. `--json PATH` also writes every
//! round as `frys_benches::results::BenchOutput` (what `frys-bench` reads).
//!
//! Servers: `frys` and `frys-epoll` read into a 16 KiB `Vec` per
//! connection (`TcpStream::read`); `frys-pooled` and `frys-epoll-pooled`
//! accept through `TcpListener::incoming` and receive with
//! `TcpStream::recv_pooled` (multishot receive into the core's buffer ring
//! on io_uring, a pool buffer taken once readable on epoll), echoing the
//! pooled buffer itself. `--idle N` measures instead the server's resident
//! memory (`VmRSS`) with N connections open, each having echoed one
//! message and then idle, for every server in `--servers`.
//!
//! Each server runs in a child process (this binary re-executed with the
//! hidden `--serve NAME --port P --cores N`), so its CPU time can be
//! read for it alone at the start and end of the measured window. The tokio server is tokio's thread-per-core pattern: N threads,
//! each pinned to the CPU frys would use, each with its own current-thread
//! runtime and its own SO_REUSEPORT listener on the same port.
//!
//! The client (in this process) is tokio: `--client-threads` threads, each a
//! current-thread runtime, with the connections spread over them. Every
//! connection sends `--size` bytes and waits for the whole echo before the
//! next request. Rounds alternate servers (frys, frys-epoll, tokio, frys,
//! ...) and the summary reports the median of the rounds for each metric.
//!
//! The frys servers use the runtime's default idle policy unless
//! `ECHO_IDLE_POLL_US` (the window, in µs) or `ECHO_FIXED_IDLE_POLL=1`
//! (`adaptive_idle_poll(false)`) are set, to compare idle policies; a
//! value that does not parse is an error, and the header names the policy.

use std::future::Future;
use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use frys_benches::proc_cpu::{clock_ticks_per_sec, process_cpu, PRECISE_TICKS};
use summary::median;

mod peers;
mod summary;

const READY: &str = "READY";

fn main() -> ExitCode {
    let mode = match parse_args(std::env::args().skip(1)) {
        Ok(m) => m,
        Err(msg) => {
            eprintln!("echo_bench: {msg}");
            return ExitCode::from(2);
        }
    };
    let result = match mode {
        Mode::Serve {
            kind,
            port,
            cores,
            placement,
        } => {
            let frys = |driver, pooled| serve_frys(port, cores, placement, driver, pooled);
            match kind {
                ServerKind::Frys => frys(frys::DriverKind::Auto, false),
                ServerKind::FrysEpoll => frys(frys::DriverKind::Epoll, false),
                ServerKind::FrysPooled => frys(frys::DriverKind::Auto, true),
                ServerKind::FrysEpollPooled => frys(frys::DriverKind::Epoll, true),
                ServerKind::Tokio => serve_tokio(port, cores, placement),
                ServerKind::RawUring => peers::raw_uring::serve(port, cores, placement),
                #[cfg(feature = "peers")]
                ServerKind::Monoio => peers::monoio_server::serve(port, cores, placement),
                #[cfg(feature = "peers")]
                ServerKind::Glommio => peers::glommio_server::serve(port, cores, placement),
                #[cfg(not(feature = "peers"))]
                ServerKind::Monoio | ServerKind::Glommio => {
                    Err(format!("{} needs the `peers` feature", kind.name()))
                }
            }
        }
        Mode::Bench(args) if args.idle > 0 => idle_rss(&args),
        Mode::Bench(args) => bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("echo_bench: {msg}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- arguments

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ServerKind {
    /// frys on its default driver (io_uring where available).
    Frys,
    /// frys on the epoll driver, its fallback where io_uring is blocked.
    FrysEpoll,
    /// frys on its default driver with multishot accept and pooled receives.
    FrysPooled,
    /// frys on epoll with pooled receives.
    FrysEpollPooled,
    Tokio,
    /// The raw io_uring loop (`peers::raw_uring`): the floor.
    RawUring,
    /// monoio (feature `peers`).
    Monoio,
    /// glommio (feature `peers`).
    Glommio,
}

const ALL_SERVERS: [ServerKind; 8] = [
    ServerKind::Frys,
    ServerKind::FrysPooled,
    ServerKind::FrysEpoll,
    ServerKind::FrysEpollPooled,
    ServerKind::Tokio,
    ServerKind::RawUring,
    ServerKind::Monoio,
    ServerKind::Glommio,
];

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Frys => "frys",
            ServerKind::FrysEpoll => "frys-epoll",
            ServerKind::FrysPooled => "frys-pooled",
            ServerKind::FrysEpollPooled => "frys-epoll-pooled",
            ServerKind::Tokio => "tokio",
            ServerKind::RawUring => "raw-uring",
            ServerKind::Monoio => "monoio",
            ServerKind::Glommio => "glommio",
        }
    }

    /// Whether this build can run the server (monoio and glommio need the
    /// `peers` feature).
    fn built(self) -> bool {
        cfg!(feature = "peers") || !matches!(self, ServerKind::Monoio | ServerKind::Glommio)
    }

    fn parse(name: &str) -> Result<Self, String> {
        let kind = ALL_SERVERS
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| format!("unknown server {name}"))?;
        if !kind.built() {
            return Err(format!(
                "{name} is built only with `--features peers` (cargo run --release -p \
                 frys-benches --features peers --bin echo_bench)"
            ));
        }
        Ok(kind)
    }

    fn is_frys(self) -> bool {
        matches!(
            self,
            ServerKind::Frys
                | ServerKind::FrysEpoll
                | ServerKind::FrysPooled
                | ServerKind::FrysEpollPooled
        )
    }
}

struct BenchArgs {
    cores: usize,
    conns: usize,
    size: usize,
    secs: f64,
    warmup: f64,
    rounds: usize,
    client_threads: usize,
    servers: Vec<ServerKind>,
    /// Idle connections for the memory measurement (0: run the echo bench).
    idle: usize,
    placement: frys::Placement,
    server_cpus: Option<Vec<usize>>,
    client_cpus: Option<Vec<usize>>,
    json: Option<std::path::PathBuf>,
}

enum Mode {
    Bench(BenchArgs),
    Serve {
        kind: ServerKind,
        port: u16,
        cores: usize,
        placement: frys::Placement,
    },
}

const USAGE: &str = "usage: echo_bench [--cores N] [--conns 64] [--size 64] [--secs 5] \
                     [--rounds 3] [--warmup 1] [--client-threads 1] \
                     [--servers frys,frys-pooled,frys-epoll,frys-epoll-pooled,tokio,raw-uring,monoio,glommio] [--idle N] \
                     [--placement compact] [--server-cpus LIST] [--client-cpus LIST] [--json PATH]";

fn parse_args(args: impl Iterator<Item = String>) -> Result<Mode, String> {
    fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
        v.parse()
            .map_err(|_| format!("{flag}: not a valid number: {v}"))
    }
    let mut bench = BenchArgs {
        cores: 0,
        conns: 64,
        size: 64,
        secs: 5.0,
        warmup: 1.0,
        rounds: 3,
        client_threads: 1,
        servers: ALL_SERVERS.into_iter().filter(|k| k.built()).collect(),
        idle: 0,
        placement: frys::Placement::default(),
        server_cpus: None,
        client_cpus: None,
        json: None,
    };
    let cpus = |flag: &str, v: &str| {
        frys::topology::parse_cpulist(v)
            .map_err(|e| format!("{flag}: {e}"))
            .and_then(|c| {
                if c.is_empty() {
                    Err(format!("{flag}: the cpu list is empty"))
                } else {
                    Ok(c)
                }
            })
    };
    let mut serve = None;
    let mut port = None;
    let mut it = args;
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--cores" => bench.cores = num(&flag, &v)?,
            "--conns" => bench.conns = num(&flag, &v)?,
            "--size" => bench.size = num(&flag, &v)?,
            "--secs" => bench.secs = num(&flag, &v)?,
            "--warmup" => bench.warmup = num(&flag, &v)?,
            "--rounds" => bench.rounds = num(&flag, &v)?,
            "--client-threads" => bench.client_threads = num(&flag, &v)?,
            "--idle" => bench.idle = num(&flag, &v)?,
            "--servers" => {
                bench.servers = v
                    .split(',')
                    .map(ServerKind::parse)
                    .collect::<Result<_, _>>()?
            }
            "--placement" => bench.placement = v.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--server-cpus" => bench.server_cpus = Some(cpus(&flag, &v)?),
            "--client-cpus" => bench.client_cpus = Some(cpus(&flag, &v)?),
            "--json" => bench.json = Some(v.into()),
            "--port" => port = Some(num::<u16>(&flag, &v)?),
            "--serve" => serve = Some(ServerKind::parse(&v).map_err(|e| format!("--serve: {e}"))?),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if bench.cores == 0 {
        bench.cores = match &bench.server_cpus {
            Some(cpus) => cpus.len(),
            None => frys::topology::allowed_cpus()
                .map_err(|e| format!("cannot read the CPU affinity mask: {e}"))?
                .len(),
        };
    }
    if let Some(kind) = serve {
        let port = port.ok_or("--serve needs --port")?;
        return Ok(Mode::Serve {
            kind,
            port,
            cores: bench.cores,
            placement: bench.placement,
        });
    }
    if bench.servers.is_empty() {
        return Err("--servers names no server".into());
    }
    if let (Some(s), Some(c)) = (&bench.server_cpus, &bench.client_cpus) {
        if let Some(cpu) = s.iter().find(|cpu| c.contains(cpu)) {
            return Err(format!(
                "cpu {cpu} is in both --server-cpus and --client-cpus"
            ));
        }
    }
    if bench.conns == 0 || bench.size == 0 || bench.rounds == 0 || bench.client_threads == 0 {
        return Err("--conns, --size, --rounds and --client-threads must be > 0".into());
    }
    if !(bench.secs > 0.0 && bench.warmup >= 0.0) {
        return Err("--secs must be > 0 and --warmup >= 0".into());
    }
    Ok(Mode::Bench(bench))
}

// ---------------------------------------------------------------- servers

fn server_addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Tells the parent the server accepts connections (one line on stdout).
fn announce_ready(cpus: &[usize]) -> Result<(), String> {
    use std::io::Write;
    let mut out = io::stdout().lock();
    writeln!(out, "{READY} cpus={cpus:?}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to the parent: {e}"))
}

/// The frys servers' idle policy, from `ECHO_IDLE_POLL_US` and
/// `ECHO_FIXED_IDLE_POLL` (the runtime's default when neither is set).
struct IdlePolicy {
    poll_window: Option<Duration>,
    fixed: bool,
}

impl IdlePolicy {
    /// Rejects a value that does not parse, rather than silently running
    /// the default policy.
    fn from_env() -> Result<Self, String> {
        Self::parse(
            std::env::var("ECHO_IDLE_POLL_US"),
            std::env::var("ECHO_FIXED_IDLE_POLL"),
        )
    }

    fn parse(
        poll_us: Result<String, std::env::VarError>,
        fixed: Result<String, std::env::VarError>,
    ) -> Result<Self, String> {
        let poll_window = match poll_us {
            Ok(v) => Some(Duration::from_micros(v.trim().parse().map_err(|_| {
                format!("ECHO_IDLE_POLL_US={v:?}: expected a whole number of microseconds")
            })?)),
            Err(std::env::VarError::NotPresent) => None,
            Err(e) => return Err(format!("ECHO_IDLE_POLL_US: {e}")),
        };
        let fixed = match fixed {
            Ok(v) if v == "1" => true,
            Ok(v) if v == "0" => false,
            Ok(v) => return Err(format!("ECHO_FIXED_IDLE_POLL={v:?}: expected 1 or 0")),
            Err(std::env::VarError::NotPresent) => false,
            Err(e) => return Err(format!("ECHO_FIXED_IDLE_POLL: {e}")),
        };
        Ok(Self { poll_window, fixed })
    }
}

impl std::fmt::Display for IdlePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.poll_window {
            Some(w) => write!(f, "poll window {} µs", w.as_micros())?,
            None => write!(f, "default poll window")?,
        }
        let kind = if self.fixed { "fixed" } else { "adaptive" };
        write!(f, ", {kind}")
    }
}

/// The frys server: the same shape as `examples/echo.rs`.
fn serve_frys(
    port: u16,
    cores: usize,
    placement: frys::Placement,
    driver: frys::DriverKind,
    pooled: bool,
) -> Result<(), String> {
    let mut builder = frys::Runtime::builder()
        .cores(frys::Cores::Count(cores))
        .placement(placement)
        .pin(true)
        .driver(driver);
    let idle = IdlePolicy::from_env()?;
    if let Some(window) = idle.poll_window {
        builder = builder.idle_poll(window);
    }
    if idle.fixed {
        builder = builder.adaptive_idle_poll(false);
    }
    let rt = builder
        .build()
        .map_err(|e| format!("frys: cannot start the runtime: {e}"))?;
    let cpus = rt.cpus();
    let addr = server_addr(port);
    let result = rt.block_on(async move {
        for core in 0..cores {
            frys::submit_to(core, move || frys_bind_and_serve(addr, pooled)).await?;
        }
        // Install the signal handlers before announcing readiness, so a
        // SIGTERM sent right after READY is not fatal.
        let mut signal = std::pin::pin!(frys::signal::shutdown());
        if let std::task::Poll::Ready(r) =
            std::future::poll_fn(|cx| std::task::Poll::Ready(signal.as_mut().poll(cx))).await
        {
            return r.map(|_| ());
        }
        announce_ready(&cpus).map_err(io::Error::other)?;
        signal.await.map(|_| ())
    });
    drop(rt);
    result.map_err(|e| format!("frys server: {e}"))
}

fn frys_bind_and_serve(addr: SocketAddr, pooled: bool) -> io::Result<()> {
    let listener = frys::net::TcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    if pooled {
        frys::spawn_local(async move {
            let mut incoming = listener.incoming();
            loop {
                match incoming.accept().await {
                    Ok((stream, _peer)) => {
                        frys::spawn_local(frys_echo_pooled(stream));
                    }
                    Err(e) => eprintln!("frys server: accept failed: {e}"),
                }
            }
        });
        return Ok(());
    }
    frys::spawn_local(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _peer)) => {
                    frys::spawn_local(frys_echo(stream));
                }
                Err(e) => eprintln!("frys server: accept failed: {e}"),
            }
        }
    });
    Ok(())
}

async fn frys_echo(stream: frys::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        buf.clear();
        let (read, b) = stream.read(buf).await;
        buf = b;
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (written, b) = stream.write_all(buf).await;
        buf = b;
        if written.is_err() {
            return;
        }
    }
}

/// The pooled echo: no buffer of its own; the received pooled buffer is
/// written back as is.
async fn frys_echo_pooled(stream: frys::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    while let Ok(Some(bytes)) = stream.recv_pooled().await {
        let (written, _bytes) = stream.write_all(bytes).await;
        if written.is_err() {
            return;
        }
    }
}

/// The tokio server: one pinned thread per CPU, each with a current-thread
/// runtime and its own SO_REUSEPORT listener. Killed by SIGTERM.
fn serve_tokio(port: u16, cores: usize, placement: frys::Placement) -> Result<(), String> {
    let cpus = peers::server_cpus(cores, placement)?;
    let addr = server_addr(port);
    let mut threads = Vec::new();
    for &cpu in &cpus {
        // Bind here, so that a port in use is reported before READY.
        let listener =
            peers::reuseport_listener(addr, true).map_err(|e| format!("listen on {addr}: {e}"))?;
        let thread = std::thread::Builder::new()
            .name(format!("tokio-core-{cpu}"))
            .spawn(move || {
                if let Err(e) = frys::topology::pin_current_thread(cpu) {
                    eprintln!("tokio server: cannot pin to cpu {cpu}: {e}");
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("tokio server: cannot build a runtime: {e}");
                        return;
                    }
                };
                rt.block_on(tokio_accept_loop(listener));
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        threads.push(thread);
    }
    announce_ready(&cpus)?;
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

async fn tokio_accept_loop(listener: std::net::TcpListener) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tokio server: cannot register the listener: {e}");
            return;
        }
    };
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                tokio::spawn(tokio_echo(stream));
            }
            Err(e) => eprintln!("tokio server: accept failed: {e}"),
        }
    }
}

async fn tokio_echo(mut stream: tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------- the bench

/// What one round of one server measured.
pub(crate) struct RoundResult {
    pub(crate) ops_per_sec: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    /// Server CPU per request, user space and kernel.
    pub(crate) cpu_us_per_req: f64,
    /// Server CPU per request in user space only (the runtime's own cost;
    /// the rest is the kernel's TCP path, the same for every server).
    pub(crate) user_us_per_req: f64,
    /// The clock ticks `user_us_per_req` was computed from.
    pub(crate) user_ticks: u64,
    requests: u64,
    errors: Vec<String>,
}

fn bench(args: &BenchArgs) -> Result<(), String> {
    let cmdline: Vec<String> = std::env::args().collect();
    let clk_tck = clock_ticks_per_sec()?;
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "# echo ping-pong: frys (io_uring, epoll) vs tokio, monoio, glommio (thread per core, \
         SO_REUSEPORT) and a raw io_uring loop"
    );
    println!("command: {}", cmdline.join(" "));
    println!(
        "cores={} conns={} size={}B secs={} warmup={} rounds={} client=tokio current-thread x{} \
         (unpinned, {} conns each) nproc={nproc} clk_tck={clk_tck}",
        args.cores,
        args.conns,
        args.size,
        args.secs,
        args.warmup,
        args.rounds,
        args.client_threads,
        args.conns.div_ceil(args.client_threads),
    );
    if args.cores + args.client_threads > nproc {
        println!(
            "note: {} server threads + {} client thread(s) on {nproc} CPUs: client and server \
             share CPUs, so ops/s and latency include the client's CPU contention",
            args.cores, args.client_threads
        );
    }
    println!(
        "frys idle policy: {} (ECHO_IDLE_POLL_US, ECHO_FIXED_IDLE_POLL)",
        IdlePolicy::from_env()?
    );
    println!(
        "server CPU is read in ns (the process's CPU clock); its user-space part in clock ticks \
         of {:.0} ms (utime), shown with the tick count and marked imprecise under {PRECISE_TICKS} \
         ticks",
        1e3 / clk_tck as f64
    );
    if let (Some(s), Some(c)) = (&args.server_cpus, &args.client_cpus) {
        println!(
            "servers on cpus {}, client on cpus {}, placement {}",
            frys::topology::format_cpulist(s),
            frys::topology::format_cpulist(c),
            args.placement
        );
    }
    println!();
    // The client threads, spawned from this thread, inherit its mask.
    if let Some(cpus) = &args.client_cpus {
        frys::topology::set_current_thread_affinity(cpus)
            .map_err(|e| format!("cannot run the client on cpus {cpus:?}: {e}"))?;
    }

    let kinds = &args.servers;
    let mut output = frys_benches::results::BenchOutput::default();
    let mut results: Vec<Vec<RoundResult>> = kinds.iter().map(|_| Vec::new()).collect();
    for round in 1..=args.rounds {
        for (i, &kind) in kinds.iter().enumerate() {
            match run_round(kind, args, clk_tck) {
                Ok(r) => {
                    println!(
                        "round {round} {:<10}  ops/s {:>10.0}  p50 {:>7.1} µs  p99 {:>7.1} µs  \
                         server CPU {:>6.2} µs/req (user {:>5.2}, {} ticks{})  ({} req, {} conn \
                         errors)",
                        kind.name(),
                        r.ops_per_sec,
                        r.p50_us,
                        r.p99_us,
                        r.cpu_us_per_req,
                        r.user_us_per_req,
                        r.user_ticks,
                        if r.user_ticks < PRECISE_TICKS {
                            ", imprecise"
                        } else {
                            ""
                        },
                        r.requests,
                        r.errors.len()
                    );
                    for e in &r.errors {
                        println!("    connection error: {e}");
                    }
                    output.rounds.push(frys_benches::results::Round {
                        bench: "echo".into(),
                        case: format!("ping-pong {}B", args.size),
                        system: kind.name().into(),
                        cores: args.cores,
                        round,
                        ops_per_sec: r.ops_per_sec,
                        p50_us: Some(r.p50_us),
                        p99_us: Some(r.p99_us),
                        cpu_us_per_req: Some(r.cpu_us_per_req),
                    });
                    results[i].push(r);
                }
                Err(e) => println!("round {round} {:<10}  FAILED: {e}", kind.name()),
            }
        }
    }

    let medians: Vec<(&str, summary::Medians)> = kinds
        .iter()
        .zip(&results)
        .map(|(kind, rs)| (kind.name(), summary::Medians::of(rs, args.rounds)))
        .collect();
    summary::print(&medians, args.rounds);
    let imprecise = results
        .iter()
        .flatten()
        .filter(|r| r.user_ticks < PRECISE_TICKS)
        .count();
    if imprecise > 0 {
        println!(
            "note: the user-space figures of {imprecise} round(s) come from fewer than \
             {PRECISE_TICKS} clock ticks (marked imprecise above): one tick is more than 1 % of \
             them; the total CPU figures are in ns and not affected"
        );
    }
    if let Some(path) = &args.json {
        output
            .write(path)
            .map_err(|e| format!("cannot write the results: {e}"))?;
    }
    if results.iter().any(Vec::is_empty) {
        return Err("a server failed every round".into());
    }
    Ok(())
}

/// Starts the `kind` server process on `port`, on the server CPUs if
/// given (it inherits the mask of the thread that spawns it: the server
/// CPUs for the spawn, then back to this thread's, the client's).
fn spawn_server(kind: ServerKind, port: u16, args: &BenchArgs) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let client_mask = frys::topology::allowed_cpus()
        .map_err(|e| format!("cannot read the CPU affinity mask: {e}"))?;
    if let Some(cpus) = &args.server_cpus {
        frys::topology::set_current_thread_affinity(cpus)
            .map_err(|e| format!("cannot start a server on cpus {cpus:?}: {e}"))?;
    }
    let spawned = Command::new(exe)
        .args(["--serve", kind.name()])
        .args(["--port", &port.to_string()])
        .args(["--cores", &args.cores.to_string()])
        .args(["--placement", &args.placement.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn();
    if args.server_cpus.is_some() {
        frys::topology::set_current_thread_affinity(&client_mask)
            .map_err(|e| format!("cannot run the client on cpus {client_mask:?}: {e}"))?;
    }
    spawned.map_err(|e| format!("cannot start the {} server: {e}", kind.name()))
}

/// Starts one server, loads it, stops it.
fn run_round(kind: ServerKind, args: &BenchArgs, clk_tck: u64) -> Result<RoundResult, String> {
    let port = free_port().map_err(|e| format!("cannot find a free port: {e}"))?;
    let mut child = spawn_server(kind, port, args)?;
    // Keep the pipe open until the child is stopped.
    let stdout = match wait_ready(&mut child) {
        Ok(s) => s,
        Err(e) => {
            let _ = stop(&mut child, kind);
            return Err(e);
        }
    };
    let result = load(server_addr(port), args, child.id(), clk_tck);
    let stopped = stop(&mut child, kind);
    drop(stdout);
    let mut r = result?;
    if let Err(e) = stopped {
        r.errors.push(e);
    }
    Ok(r)
}

fn free_port() -> io::Result<u16> {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

fn wait_ready(child: &mut Child) -> Result<BufReader<ChildStdout>, String> {
    let stdout = child.stdout.take().ok_or("no pipe to the server")?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(n) if n > 0 && line.starts_with(READY) => Ok(reader),
        Ok(_) => Err(format!("server did not start (said {:?})", line.trim())),
        Err(e) => Err(format!("cannot read from the server: {e}")),
    }
}

/// SIGTERM, then wait (SIGKILL after 5 s). The frys server must exit 0.
fn stop(child: &mut Child, kind: ServerKind) -> Result<(), String> {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return Err("server pid out of range".into());
    };
    // SAFETY: plain syscall on our own child, which has not been reaped yet.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return if kind.is_frys() && !status.success() {
                    Err(format!("{} server exited with {status}", kind.name()))
                } else {
                    Ok(())
                };
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} server ignored SIGTERM for 5 s; killed",
                    kind.name()
                ));
            }
            Err(e) => return Err(format!("cannot wait for the server: {e}")),
        }
    }
}

// ---------------------------------------------------------------- idle memory

/// Resident memory of each server with `--idle` connections open, each
/// having echoed one message, then idle: the cost of a waiting connection.
fn idle_rss(args: &BenchArgs) -> Result<(), String> {
    raise_fd_limit(args.idle as u64 + 256)?;
    println!(
        "# server RSS with {} idle connections (each echoed one {}-byte message first)",
        args.idle, args.size
    );
    println!(
        "command: {}",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    println!("cores={} rounds={}", args.cores, args.rounds);
    println!();
    let kinds = &args.servers;
    let mut results: Vec<Vec<(f64, f64)>> = kinds.iter().map(|_| Vec::new()).collect();
    for round in 1..=args.rounds {
        for (i, &kind) in kinds.iter().enumerate() {
            match idle_round(kind, args) {
                Ok((base, loaded)) => {
                    println!(
                        "round {round} {:<18} RSS before {:>7.1} MiB, with connections {:>7.1} MiB \
                         ({:.0} bytes per connection)",
                        kind.name(),
                        base / 1048576.0,
                        loaded / 1048576.0,
                        (loaded - base) / args.idle as f64
                    );
                    results[i].push((base, loaded));
                }
                Err(e) => println!("round {round} {:<18} FAILED: {e}", kind.name()),
            }
        }
    }
    println!();
    println!("median of {} rounds:", args.rounds);
    println!(
        "| server | RSS idle, MiB | RSS with {} connections, MiB | bytes per connection |",
        args.idle
    );
    println!("|---|---|---|---|");
    for (i, &kind) in kinds.iter().enumerate() {
        let base = median(results[i].iter().map(|r| r.0));
        let loaded = median(results[i].iter().map(|r| r.1));
        let per = median(results[i].iter().map(|r| (r.1 - r.0) / args.idle as f64));
        println!(
            "| {} | {:.1} | {:.1} | {:.0} |",
            kind.name(),
            base / 1048576.0,
            loaded / 1048576.0,
            per
        );
    }
    Ok(())
}

/// Starts a server, reads its RSS, opens the idle connections, reads it
/// again: (before, with connections) in bytes.
fn idle_round(kind: ServerKind, args: &BenchArgs) -> Result<(f64, f64), String> {
    let port = free_port().map_err(|e| format!("cannot find a free port: {e}"))?;
    let mut child = spawn_server(kind, port, args)?;
    let stdout = match wait_ready(&mut child) {
        Ok(s) => s,
        Err(e) => {
            let _ = stop(&mut child, kind);
            return Err(e);
        }
    };
    let measured = (|| -> Result<(f64, f64), String> {
        std::thread::sleep(Duration::from_millis(300));
        let base = rss_bytes(child.id())?;
        let conns = open_idle(server_addr(port), args.idle, args.size)?;
        std::thread::sleep(Duration::from_millis(1000));
        let loaded = rss_bytes(child.id())?;
        drop(conns);
        Ok((base, loaded))
    })();
    let stopped = stop(&mut child, kind);
    drop(stdout);
    let r = measured?;
    stopped?;
    Ok(r)
}

/// `n` connections, each of which has echoed one message.
fn open_idle(addr: SocketAddr, n: usize, size: usize) -> Result<Vec<std::net::TcpStream>, String> {
    use std::io::{Read, Write};
    let mut conns = Vec::with_capacity(n);
    let msg = vec![7u8; size];
    let mut echo = vec![0u8; size];
    // Batches, so the listen backlog never overflows into SYN retries.
    for start in (0..n).step_by(500) {
        for _ in start..(start + 500).min(n) {
            let mut c = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
            c.set_nodelay(true).map_err(|e| e.to_string())?;
            c.write_all(&msg).map_err(|e| format!("write: {e}"))?;
            conns.push(c);
        }
        for c in &mut conns[start..] {
            c.read_exact(&mut echo).map_err(|e| format!("read: {e}"))?;
        }
    }
    Ok(conns)
}

fn rss_bytes(pid: u32) -> Result<f64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{path}: no VmRSS"))?;
    Ok(kib * 1024.0)
}

fn raise_fd_limit(want: u64) -> Result<(), String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a live `rlimit`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err("getrlimit failed".into());
        }
        if lim.rlim_cur >= want {
            return Ok(());
        }
        lim.rlim_cur = want.min(lim.rlim_max);
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < want {
            return Err(format!(
                "need RLIMIT_NOFILE >= {want} (hard limit {})",
                lim.rlim_max
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- client

/// The measured window, set once every connection is up.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

struct ConnOutcome {
    /// Latency (ns) of each request that completed inside the window.
    latencies: Vec<u64>,
    error: Option<String>,
}

/// Runs the client against `addr`; samples the server's CPU time at the
/// window's edges.
fn load(addr: SocketAddr, args: &BenchArgs, pid: u32, clk_tck: u64) -> Result<RoundResult, String> {
    let threads = args.client_threads.min(args.conns);
    let connected = Arc::new(Barrier::new(threads + 1));
    let go = Arc::new(Barrier::new(threads + 1));
    let window: Arc<OnceLock<Window>> = Arc::new(OnceLock::new());
    let mut handles = Vec::new();
    for t in 0..threads {
        let conns = args.conns / threads + usize::from(t < args.conns % threads);
        let (connected, go, window) = (connected.clone(), go.clone(), window.clone());
        let size = args.size;
        let expected = Duration::from_secs_f64(args.secs * 2.0 + args.warmup + 10.0);
        handles.push(std::thread::spawn(move || {
            client_thread(addr, conns, size, expected, &connected, &go, &window)
        }));
    }
    connected.wait();
    let now = Instant::now();
    let start = now + Duration::from_secs_f64(args.warmup);
    let end = start + Duration::from_secs_f64(args.secs);
    let _ = window.set(Window { start, end });
    go.wait();

    sleep_until(start);
    let cpu0 = process_cpu(pid);
    sleep_until(end);
    let cpu1 = process_cpu(pid);

    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for h in handles {
        match h.join() {
            Ok(Ok(outcomes)) => {
                for o in outcomes {
                    latencies.extend_from_slice(&o.latencies);
                    errors.extend(o.error);
                }
            }
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("a client thread panicked".into()),
        }
    }
    let (cpu0, cpu1) = (cpu0?, cpu1?);
    latencies.sort_unstable();
    let requests = latencies.len() as u64;
    if requests == 0 {
        return Err(format!("no request completed; errors: {errors:?}"));
    }
    let cpu = cpu1.since(cpu0);
    let per_req = requests as f64;
    // Requests are counted by completion time inside [start, end).
    Ok(RoundResult {
        ops_per_sec: requests as f64 / (end - start).as_secs_f64(),
        p50_us: percentile(&latencies, 0.50) / 1e3,
        p99_us: percentile(&latencies, 0.99) / 1e3,
        cpu_us_per_req: cpu.total_ns as f64 / 1e3 / per_req,
        user_us_per_req: cpu.user_ticks as f64 * 1e6 / clk_tck as f64 / per_req,
        user_ticks: cpu.user_ticks,
        requests,
        errors,
    })
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

fn client_thread(
    addr: SocketAddr,
    conns: usize,
    size: usize,
    limit: Duration,
    connected: &Barrier,
    go: &Barrier,
    window: &OnceLock<Window>,
) -> Result<Vec<ConnOutcome>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            // Still take part in both barriers, or the parent waits forever.
            connected.wait();
            go.wait();
            return Err(format!("cannot build the client runtime: {e}"));
        }
    };
    let streams = rt.block_on(async {
        let mut streams = Vec::with_capacity(conns);
        for _ in 0..conns {
            let s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            streams.push(s);
        }
        Ok::<_, io::Error>(streams)
    });
    connected.wait();
    go.wait();
    let streams = streams.map_err(|e| format!("connect to {addr}: {e}"))?;
    let Some(&window) = window.get() else {
        return Err("no window was set".into());
    };
    Ok(rt.block_on(async move {
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|s| tokio::spawn(tokio::time::timeout(limit, ping_pong(s, size, window))))
            .collect();
        let mut outcomes = Vec::with_capacity(tasks.len());
        for t in tasks {
            outcomes.push(match t.await {
                Ok(Ok(o)) => o,
                Ok(Err(_elapsed)) => ConnOutcome {
                    latencies: Vec::new(),
                    error: Some(format!("no echo within {limit:?}")),
                },
                Err(e) => ConnOutcome {
                    latencies: Vec::new(),
                    error: Some(format!("client task failed: {e}")),
                },
            });
        }
        outcomes
    }))
}

/// Ping-pong until the window ends. Keeps the latencies measured before an
/// error, and reports the error.
async fn ping_pong(mut stream: tokio::net::TcpStream, size: usize, window: Window) -> ConnOutcome {
    let mut latencies = Vec::with_capacity(64 * 1024);
    let mut msg = vec![0u8; size];
    let mut echo = vec![0u8; size];
    let mut seq: u8 = 0;
    loop {
        seq = seq.wrapping_add(1);
        msg[0] = seq;
        let t0 = Instant::now();
        if t0 >= window.end {
            return ConnOutcome {
                latencies,
                error: None,
            };
        }
        let res = async {
            stream.write_all(&msg).await?;
            stream.read_exact(&mut echo).await?;
            Ok::<_, io::Error>(())
        }
        .await;
        let t1 = Instant::now();
        let error = match res {
            Err(e) => Some(format!("request failed: {e}")),
            Ok(()) if echo != msg => Some("echo differs from the request".to_string()),
            Ok(()) => None,
        };
        if error.is_some() {
            return ConnOutcome { latencies, error };
        }
        if t1 >= window.start && t1 < window.end {
            latencies.push(u64::try_from((t1 - t0).as_nanos()).unwrap_or(u64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::env::VarError;

    use super::*;

    #[test]
    fn an_idle_policy_that_does_not_parse_is_an_error() {
        let p = IdlePolicy::parse(Ok("250".into()), Ok("1".into())).unwrap();
        assert_eq!(p.poll_window, Some(Duration::from_micros(250)));
        assert!(p.fixed);
        assert_eq!(p.to_string(), "poll window 250 µs, fixed");
        let p = IdlePolicy::parse(Err(VarError::NotPresent), Err(VarError::NotPresent)).unwrap();
        assert_eq!((p.poll_window, p.fixed), (None, false));
        assert!(IdlePolicy::parse(Ok("2ms".into()), Err(VarError::NotPresent)).is_err());
        assert!(IdlePolicy::parse(Err(VarError::NotPresent), Ok("yes".into())).is_err());
    }
}
