//! A TCP echo server on every usable core.
//!
//! ```text
//! cargo run --release --example echo -- --cores N --port P --driver auto|io_uring|epoll
//! ```
//!
//! Defaults: all usable cores, port 7000, driver `auto` (io_uring, or epoll
//! where io_uring is blocked; `FRYS_DRIVER` overrides `auto`). Each core binds its own listener
//! on the same port (SO_REUSEPORT: the kernel spreads connections over the
//! cores), and each connection is served by a `!Send` task on the core that
//! accepted it. SIGINT or SIGTERM stops the server cleanly: every core drops
//! its tasks and its thread is joined.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use frys::net::{TcpListener, TcpStream};
use frys::{Cores, DriverKind, Runtime};

struct Args {
    cores: Cores,
    port: u16,
    driver: DriverKind,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        cores: Cores::All,
        port: 7000,
        driver: DriverKind::Auto,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--cores" => {
                let v = value("--cores")?;
                let n = v
                    .parse()
                    .map_err(|_| format!("--cores: not a number: {v}"))?;
                args.cores = Cores::Count(n);
            }
            "--port" => {
                let v = value("--port")?;
                args.port = v.parse().map_err(|_| format!("--port: not a port: {v}"))?;
            }
            "--driver" => {
                let v = value("--driver")?;
                args.driver = v.parse().map_err(|e| format!("--driver: {e}"))?;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: echo [--cores N] [--port P] [--driver auto|io_uring|epoll]   \
                     (defaults: all cores, 7000, auto)"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}; try --help")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let rt = match Runtime::builder()
        .cores(args.cores)
        .driver(args.driver)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("echo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, args.port));
    let cores = rt.cores();
    let cpus = rt.cpus();
    let driver = rt.driver();
    let result = rt.block_on(async move {
        // Bind on every core first, so a port in use is reported at once.
        let mut servers = Vec::new();
        for core in 0..cores {
            let bound = frys::submit_to(core, move || bind_and_serve(addr)).await;
            servers.push(bound?);
        }
        println!(
            "echo: listening on {addr} with {cores} cores (cpus {cpus:?}, {driver}); Ctrl-C to stop"
        );
        let signal = frys::signal::shutdown().await?;
        eprintln!("echo: got signal {signal}, shutting down");
        Ok::<_, std::io::Error>(servers.len())
    });
    // Dropping the runtime cancels every connection task on its own core
    // and joins the core threads.
    drop(rt);
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Binds this core's listener and starts its accept loop.
fn bind_and_serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    frys::spawn_local(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _peer)) => {
                    frys::spawn_local(echo(stream));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            }
        }
    });
    Ok(())
}

/// Echoes until the peer closes.
async fn echo(stream: TcpStream) {
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
