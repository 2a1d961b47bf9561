//! HTTP/1.1 hello world: hyper 1.x on frys (`frys::hyper`) against hyper
//! on tokio, the same server shape on the same cores, loaded by the same
//! `wrk` in one run.
//!
//! ```text
//! apt-get install -y wrk
//! cargo run --release -p frys-benches --features hyper --bin http_bench -- \
//!     [--cores 1] [--conns 64] [--threads 1] [--secs 5] [--warmup 1] \
//!     [--rounds 3] [--server-cpus 0 --client-cpus 1] [--wrk PATH]
//! ```
//!
//! Both servers answer every request with `Hello, world!\n` through
//! hyper's `http1` server (keep-alive, `header_read_timeout` 10 s on the
//! runtime's timer), one connection per task on the core that accepted
//! it:
//! - `frys`: the shape of `examples/http.rs`: a runtime of `--cores`
//!   pinned cores, each with its own listener on the shared port, each
//!   connection served by a `!Send` task over `HyperStream` with
//!   `FrysTimer`;
//! - `tokio`: tokio's thread-per-core pattern: `--cores` threads pinned to
//!   the CPUs frys would use, each with its own current-thread runtime and
//!   its own `SO_REUSEPORT` listener on the same port, each connection a
//!   `spawn`ed task over `hyper_util::rt::TokioIo` with `TokioTimer`.
//!
//! Each server runs in a child process (this binary re-run with the hidden
//! `--serve frys|tokio --port P --cores N`), so its CPU time (all its
//! threads) is read before and after the measured `wrk` run: the total
//! from the process's CPU clock in ns, the user-space part as `utime`
//! clock ticks, printed with the tick count and marked imprecise under 100
//! ticks (`frys_benches::proc_cpu`). `--server-cpus` and `--client-cpus` keep the
//! servers and `wrk` on disjoint CPUs (each child starts with that
//! affinity mask). Rounds alternate the order (frys, tokio; tokio, frys;
//! ...); each round warms up for `--warmup` seconds, then measures
//! `--secs` seconds of `wrk -t THREADS -c CONNS --latency`. The summary
//! gives the median of the rounds for requests/s, p99 latency, server
//! CPU-µs per request and its user-space part, and frys / tokio ratios.
//!
//! The frys server uses the runtime's default idle policy unless
//! `HTTP_IDLE_POLL_US` sets the idle poll window (in µs; 0 parks at once),
//! to see what the poll window costs in CPU per request; a value that does
//! not parse is an error, and the header names the setting.

use std::convert::Infallible;
use std::future::Future;
use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use frys_benches::proc_cpu::{clock_ticks_per_sec, process_cpu, PRECISE_TICKS};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

const READY: &str = "READY";
const BODY: &[u8] = b"Hello, world!\n";
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let mode = match parse_args(std::env::args().skip(1)) {
        Ok(m) => m,
        Err(msg) => {
            eprintln!("http_bench: {msg}");
            return ExitCode::from(2);
        }
    };
    let result = match mode {
        Mode::Serve {
            kind: Kind::Frys,
            port,
            cores,
        } => serve_frys(port, cores),
        Mode::Serve {
            kind: Kind::Tokio,
            port,
            cores,
        } => serve_tokio(port, cores),
        Mode::Bench(args) => bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("http_bench: {msg}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- arguments

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Frys,
    Tokio,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Frys => "frys",
            Kind::Tokio => "tokio",
        }
    }
}

struct Args {
    cores: usize,
    conns: usize,
    threads: usize,
    secs: u64,
    warmup: u64,
    rounds: usize,
    server_cpus: Option<Vec<usize>>,
    client_cpus: Option<Vec<usize>>,
    wrk: String,
}

enum Mode {
    Serve { kind: Kind, port: u16, cores: usize },
    Bench(Args),
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Mode, String> {
    let mut a = Args {
        cores: 1,
        conns: 64,
        threads: 1,
        secs: 5,
        warmup: 1,
        rounds: 3,
        server_cpus: None,
        client_cpus: None,
        wrk: "wrk".into(),
    };
    let (mut serve, mut port) = (None, None);
    let mut it = args;
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| -> Result<u64, String> {
            v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--cores" => a.cores = num(&v)? as usize,
            "--conns" => a.conns = num(&v)? as usize,
            "--threads" => a.threads = num(&v)? as usize,
            "--secs" => a.secs = num(&v)?,
            "--warmup" => a.warmup = num(&v)?,
            "--rounds" => a.rounds = num(&v)? as usize,
            "--server-cpus" => a.server_cpus = Some(cpu_list(&flag, &v)?),
            "--client-cpus" => a.client_cpus = Some(cpu_list(&flag, &v)?),
            "--wrk" => a.wrk = v,
            "--serve" => {
                serve = Some(match v.as_str() {
                    "frys" => Kind::Frys,
                    "tokio" => Kind::Tokio,
                    other => return Err(format!("--serve: unknown server {other}")),
                })
            }
            "--port" => port = Some(v.parse().map_err(|_| format!("--port: not a port: {v}"))?),
            other => return Err(format!("unknown argument {other} (see the module docs)")),
        }
    }
    if a.cores == 0 || a.conns == 0 || a.threads == 0 || a.secs == 0 || a.rounds == 0 {
        return Err("--cores, --conns, --threads, --secs and --rounds must be positive".into());
    }
    if a.threads > a.conns {
        return Err("wrk needs at least one connection per thread (--conns >= --threads)".into());
    }
    match (serve, port) {
        (Some(kind), Some(port)) => Ok(Mode::Serve {
            kind,
            port,
            cores: a.cores,
        }),
        (None, None) => Ok(Mode::Bench(a)),
        _ => Err("--serve and --port go together".into()),
    }
}

/// `0-3,6`: a list of CPU numbers.
fn cpu_list(flag: &str, v: &str) -> Result<Vec<usize>, String> {
    let bad = || format!("{flag}: not a CPU list: {v}");
    let mut cpus = Vec::new();
    for part in v.split(',') {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi): (usize, usize) = (
                    lo.parse().map_err(|_| bad())?,
                    hi.parse().map_err(|_| bad())?,
                );
                if lo > hi {
                    return Err(bad());
                }
                cpus.extend(lo..=hi);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(cpus)
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

/// The one response of both servers.
async fn hello(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(BODY))))
}

/// The frys server's idle poll window from `HTTP_IDLE_POLL_US` (`None`:
/// the runtime's default). A value that does not parse is an error rather
/// than a silent default.
fn idle_poll_from_env() -> Result<Option<Duration>, String> {
    idle_poll(std::env::var("HTTP_IDLE_POLL_US"))
}

fn idle_poll(var: Result<String, std::env::VarError>) -> Result<Option<Duration>, String> {
    match var {
        Ok(v) => v
            .trim()
            .parse()
            .map(|us| Some(Duration::from_micros(us)))
            .map_err(|_| {
                format!("HTTP_IDLE_POLL_US={v:?}: expected a whole number of microseconds")
            }),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("HTTP_IDLE_POLL_US: {e}")),
    }
}

/// The frys server: the shape of `examples/http.rs`.
fn serve_frys(port: u16, cores: usize) -> Result<(), String> {
    let mut builder = frys::Runtime::builder()
        .cores(frys::Cores::Count(cores))
        .placement(frys::Placement::Compact)
        .pin(true);
    if let Some(window) = idle_poll_from_env()? {
        builder = builder.idle_poll(window);
    }
    let rt = builder
        .build()
        .map_err(|e| format!("frys: cannot start the runtime: {e}"))?;
    let cpus = rt.cpus();
    let addr = server_addr(port);
    let result = rt.block_on(async move {
        for core in 0..cores {
            frys::submit_to(core, move || frys_bind_and_serve(addr)).await?;
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

fn frys_bind_and_serve(addr: SocketAddr) -> io::Result<()> {
    let listener = frys::net::TcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    frys::spawn_local(async move {
        while let Ok((stream, _peer)) = listener.accept().await {
            frys::spawn_local(async move {
                let _ = stream.set_nodelay(true);
                let _ = http1::Builder::new()
                    .timer(frys::hyper::FrysTimer)
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(frys::hyper::HyperStream::new(stream), service_fn(hello))
                    .await;
            });
        }
    });
    Ok(())
}

/// The tokio server: one pinned current-thread runtime per core, each with
/// its own `SO_REUSEPORT` listener.
fn serve_tokio(port: u16, cores: usize) -> Result<(), String> {
    // The CPUs frys would choose for the same core count.
    let topo = frys::topology::Topology::from_sysfs(std::path::Path::new("/sys"))
        .map_err(|e| format!("cannot read the CPU topology: {e}"))?;
    let allowed = frys::topology::allowed_cpus().map_err(|e| format!("affinity mask: {e}"))?;
    let cpus = frys::topology::select_cpus(
        &topo,
        &allowed,
        &frys::Cores::Count(cores),
        frys::Placement::Compact,
    )
    .map_err(|e| format!("cannot choose {cores} CPUs: {e}"))?;
    let addr = server_addr(port);
    let mut threads = Vec::new();
    for &cpu in &cpus {
        // Bind here, so that a port in use is reported before READY.
        let listener = reuseport_listener(addr).map_err(|e| format!("listen on {addr}: {e}"))?;
        let thread = std::thread::Builder::new()
            .name(format!("tokio-core-{cpu}"))
            .spawn(move || {
                if let Err(e) = frys::topology::pin_current_thread(cpu) {
                    eprintln!("tokio server: cannot pin to cpu {cpu}: {e}");
                }
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(tokio_accept_loop(listener)),
                    Err(e) => eprintln!("tokio server: cannot build a runtime: {e}"),
                }
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

fn reuseport_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

async fn tokio_accept_loop(listener: std::net::TcpListener) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tokio server: cannot register the listener: {e}");
            return;
        }
    };
    while let Ok((stream, _peer)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let _ = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}

// ---------------------------------------------------------------- the bench

struct Round {
    kind: Kind,
    rps: f64,
    p99_us: f64,
    cpu_us_per_req: f64,
    user_us_per_req: f64,
    /// The clock ticks `user_us_per_req` was computed from.
    user_ticks: u64,
    requests: u64,
    errors: u64,
}

fn bench(args: &Args) -> Result<(), String> {
    let clk_tck = clock_ticks_per_sec()?;
    println!(
        "http_bench: {} core(s), wrk -t{} -c{} -d{}s (warm-up {}s), {} rounds, server cpus {}, wrk cpus {}",
        args.cores,
        args.threads,
        args.conns,
        args.secs,
        args.warmup,
        args.rounds,
        args.server_cpus
            .as_ref()
            .map_or("any".into(), |c| format!("{c:?}")),
        args.client_cpus
            .as_ref()
            .map_or("any".into(), |c| format!("{c:?}")),
    );
    println!(
        "frys idle poll window: {} (HTTP_IDLE_POLL_US)",
        idle_poll_from_env()?.map_or("the runtime's default".into(), |w| format!(
            "{} µs",
            w.as_micros()
        ))
    );
    println!(
        "server CPU in ns (the process's CPU clock); user-space CPU in clock ticks of {:.0} ms \
         (utime), '*' when under {PRECISE_TICKS} ticks (imprecise)",
        1e3 / clk_tck as f64
    );
    println!(
        "{:<6} {:>5} {:>12} {:>10} {:>11} {:>12} {:>11} {:>10} {:>7}",
        "server",
        "round",
        "requests/s",
        "p99 µs",
        "CPU-µs/req",
        "user-µs/req",
        "user ticks",
        "requests",
        "errors"
    );
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        let order = if round % 2 == 0 {
            [Kind::Frys, Kind::Tokio]
        } else {
            [Kind::Tokio, Kind::Frys]
        };
        for kind in order {
            let r = run_round(kind, args, clk_tck)?;
            println!(
                "{:<6} {:>5} {:>12.0} {:>10.0} {:>11.2} {:>12.2} {:>10}{} {:>10} {:>7}",
                kind.name(),
                round + 1,
                r.rps,
                r.p99_us,
                r.cpu_us_per_req,
                r.user_us_per_req,
                r.user_ticks,
                if r.user_ticks < PRECISE_TICKS {
                    "*"
                } else {
                    " "
                },
                r.requests,
                r.errors
            );
            rounds.push(r);
        }
    }
    let med = |kind: Kind, f: fn(&Round) -> f64| {
        median(rounds.iter().filter(|r| r.kind == kind).map(f).collect())
    };
    println!("\nmedians of {} rounds:", args.rounds);
    println!(
        "{:<14} {:>12} {:>10} {:>11} {:>12}",
        "", "requests/s", "p99 µs", "CPU-µs/req", "user-µs/req"
    );
    let metrics: [fn(&Round) -> f64; 4] = [
        |r| r.rps,
        |r| r.p99_us,
        |r| r.cpu_us_per_req,
        |r| r.user_us_per_req,
    ];
    let frys: Vec<f64> = metrics.iter().map(|&m| med(Kind::Frys, m)).collect();
    let tokio: Vec<f64> = metrics.iter().map(|&m| med(Kind::Tokio, m)).collect();
    for (name, v) in [("frys+hyper", &frys), ("tokio+hyper", &tokio)] {
        println!(
            "{name:<14} {:>12.0} {:>10.0} {:>11.2} {:>12.2}",
            v[0], v[1], v[2], v[3]
        );
    }
    println!(
        "{:<14} {:>12.3} {:>10.3} {:>11.3} {:>12.3}",
        "frys / tokio",
        frys[0] / tokio[0],
        frys[1] / tokio[1],
        frys[2] / tokio[2],
        frys[3] / tokio[3]
    );
    let imprecise = rounds
        .iter()
        .filter(|r| r.user_ticks < PRECISE_TICKS)
        .count();
    if imprecise > 0 {
        println!(
            "note: the user-µs/req of {imprecise} round(s) (*) come from fewer than \
             {PRECISE_TICKS} clock ticks: one tick is more than 1 % of them (the CPU-µs/req \
             figures are in ns and not affected)"
        );
    }
    let errors: u64 = rounds.iter().map(|r| r.errors).sum();
    if errors > 0 {
        println!("warning: {errors} wrk errors (socket errors or non-2xx responses) in total");
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Starts one server, warms it up, measures it under `wrk`, stops it.
fn run_round(kind: Kind, args: &Args, clk_tck: u64) -> Result<Round, String> {
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot find a free port: {e}"))?
        .port();
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let mut serve = Command::new(exe);
    serve
        .args(["--serve", kind.name()])
        .args(["--port", &port.to_string()])
        .args(["--cores", &args.cores.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut child = spawn_on(&mut serve, args.server_cpus.as_deref())
        .map_err(|e| format!("cannot start the {} server: {e}", kind.name()))?;
    let result = wait_ready(&mut child).and_then(|stdout| {
        let url = format!("http://{}/", server_addr(port));
        if args.warmup > 0 {
            wrk(args, &url, args.warmup)?;
        }
        let before = process_cpu(child.id())?;
        let out = wrk(args, &url, args.secs)?;
        let after = process_cpu(child.id())?;
        drop(stdout);
        let mut r = parse_wrk(kind, &out)?;
        let cpu = after.since(before);
        let requests = r.requests as f64;
        r.cpu_us_per_req = cpu.total_ns as f64 / 1e3 / requests;
        r.user_us_per_req = cpu.user_ticks as f64 * 1e6 / clk_tck as f64 / requests;
        r.user_ticks = cpu.user_ticks;
        Ok(r)
    });
    let stopped = stop(&mut child, kind);
    let r = result?;
    stopped?;
    Ok(r)
}

/// Spawns `cmd` with `cpus` as its affinity mask (inherited from this
/// thread, whose mask is put back after).
fn spawn_on(cmd: &mut Command, cpus: Option<&[usize]>) -> Result<Child, String> {
    let Some(cpus) = cpus else {
        return cmd.spawn().map_err(|e| e.to_string());
    };
    let mine = frys::topology::allowed_cpus().map_err(|e| format!("affinity mask: {e}"))?;
    frys::topology::set_current_thread_affinity(cpus)
        .map_err(|e| format!("cannot use cpus {cpus:?}: {e}"))?;
    let spawned = cmd.spawn().map_err(|e| e.to_string());
    frys::topology::set_current_thread_affinity(&mine)
        .map_err(|e| format!("cannot restore the affinity mask {mine:?}: {e}"))?;
    spawned
}

/// Runs `wrk` for `secs` seconds; its report.
fn wrk(args: &Args, url: &str, secs: u64) -> Result<String, String> {
    let mut cmd = Command::new(&args.wrk);
    cmd.arg(format!("-t{}", args.threads))
        .arg(format!("-c{}", args.conns))
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = spawn_on(&mut cmd, args.client_cpus.as_deref()).map_err(|e| {
        format!(
            "cannot run {} ({e}); install it with `apt-get install -y wrk`",
            args.wrk
        )
    })?;
    let out = child.wait_with_output().map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "wrk failed ({}): {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(text)
}

/// Requests/s, p99, the request count and the errors of a `wrk --latency`
/// report.
fn parse_wrk(kind: Kind, out: &str) -> Result<Round, String> {
    let missing = |what: &str| format!("no {what} in wrk's report:\n{out}");
    let mut r = Round {
        kind,
        rps: f64::NAN,
        p99_us: f64::NAN,
        cpu_us_per_req: f64::NAN,
        user_us_per_req: f64::NAN,
        user_ticks: 0,
        requests: 0,
        errors: 0,
    };
    let numbers = |s: &str| -> u64 {
        s.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse::<u64>().ok())
            .sum()
    };
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse().map_err(|_| missing("Requests/sec"))?;
        } else if let Some(v) = line.strip_prefix("99%") {
            r.p99_us = duration_us(v.trim()).ok_or_else(|| missing("99% latency"))?;
        } else if line.contains(" requests in ") {
            r.requests = line
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| missing("request count"))?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            r.errors += numbers(v);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            r.errors += numbers(v);
        }
    }
    if r.rps.is_nan() || r.p99_us.is_nan() || r.requests == 0 {
        return Err(missing("requests/s, p99 or request count"));
    }
    Ok(r)
}

/// `462.00us`, `1.10ms`, `2.00s`, `1.00m` in µs.
fn duration_us(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        _ => return None,
    };
    Some(n * scale)
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

/// SIGTERM, then wait (SIGKILL after 5 s). The frys server must exit 0
/// (the tokio one has no handler: SIGTERM ends it).
fn stop(child: &mut Child, kind: Kind) -> Result<(), String> {
    let pid = libc::pid_t::try_from(child.id()).map_err(|_| "server pid out of range")?;
    // SAFETY: a plain syscall on our own child, which has not been reaped
    // yet (so the pid is still its).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if kind == Kind::Frys && !status.success() => {
                return Err(format!("the frys server exited with {status}"))
            }
            Ok(Some(_)) => return Ok(()),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the {} server ignored SIGTERM; killed",
                    kind.name()
                ));
            }
            Err(e) => return Err(format!("cannot wait for the server: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 5s test @ http://127.0.0.1:8080/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   520.31us  100.00us   5.00ms   90.00%
    Req/Sec    24.00k     1.00k   26.00k    70.00%
  Latency Distribution
     50%  500.00us
     75%  550.00us
     90%  600.00us
     99%    1.10ms
  122000 requests in 5.00s, 14.01MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  24400.50
Transfer/sec:      2.80MB
";

    #[test]
    fn wrk_reports_are_parsed() {
        let r = parse_wrk(Kind::Frys, REPORT).unwrap();
        assert_eq!(r.rps, 24400.5);
        assert_eq!(r.p99_us, 1100.0);
        assert_eq!(r.requests, 122_000);
        assert_eq!(r.errors, 7);
        assert!(parse_wrk(Kind::Frys, "garbage").is_err());
    }

    #[test]
    fn an_idle_poll_window_that_does_not_parse_is_an_error() {
        use std::env::VarError;
        assert_eq!(
            idle_poll(Ok("250".into())),
            Ok(Some(Duration::from_micros(250)))
        );
        assert_eq!(idle_poll(Err(VarError::NotPresent)), Ok(None));
        assert!(idle_poll(Ok("2ms".into())).is_err());
        assert!(idle_poll(Ok("-1".into())).is_err());
    }

    #[test]
    fn durations_and_cpu_lists_parse() {
        assert_eq!(duration_us("462.00us"), Some(462.0));
        assert_eq!(duration_us("2.00s"), Some(2e6));
        assert_eq!(duration_us("3"), None);
        assert_eq!(cpu_list("--x", "0-2,5").unwrap(), [0, 1, 2, 5]);
        assert!(cpu_list("--x", "3-1").is_err());
    }
}
