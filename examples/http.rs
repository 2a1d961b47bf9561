//! A hello-world HTTP/1.1 server (hyper 1.x) on every usable core.
//!
//! ```text
//! cargo run --release --example http --features hyper -- --cores N --port P
//! curl http://127.0.0.1:8080/
//! ```
//!
//! Defaults: all usable cores, port 8080. Each core binds its own listener
//! on the shared port (the kernel spreads connections over the cores) and
//! serves each connection it accepts with hyper's HTTP/1.1 server, as a
//! `!Send` task of that core: [`HyperStream`] is hyper's I/O over the frys
//! stream, [`FrysTimer`] drives hyper's timeouts (a client has 10 s to send
//! its headers). SIGINT or SIGTERM stops the server cleanly.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use frys::hyper::{FrysTimer, HyperStream};
use frys::net::{TcpListener, TcpStream};
use frys::{Cores, Runtime};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

fn parse_args() -> Result<(Cores, u16), String> {
    let (mut cores, mut port) = (Cores::All, 8080);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--cores" => {
                let v = value("--cores")?;
                cores = Cores::Count(
                    v.parse()
                        .map_err(|_| format!("--cores: not a number: {v}"))?,
                );
            }
            "--port" => {
                let v = value("--port")?;
                port = v.parse().map_err(|_| format!("--port: not a port: {v}"))?;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: http [--cores N] [--port P]   (defaults: all cores, 8080)".into(),
                )
            }
            other => return Err(format!("unknown argument {other}; try --help")),
        }
    }
    Ok((cores, port))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let (cores, port) = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let rt = match Runtime::builder().cores(cores).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("http: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let cores = rt.cores();
    let result = rt.block_on(async move {
        // Bind on every core first, so a port in use is reported at once.
        for core in 0..cores {
            frys::submit_to(core, move || bind_and_serve(addr)).await?;
        }
        println!("http: listening on http://{addr} with {cores} cores; Ctrl-C to stop");
        let signal = frys::signal::shutdown().await?;
        eprintln!("http: got signal {signal}, shutting down");
        Ok::<_, std::io::Error>(())
    });
    // Dropping the runtime cancels every connection on its own core and
    // joins the core threads.
    drop(rt);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How long an accept loop waits after a failed accept before it retries.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Binds this core's listener and starts its accept loop.
fn bind_and_serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    frys::spawn_local(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _peer)) => {
                    frys::spawn_local(serve(stream));
                }
                Err(e) => {
                    // Often persistent (out of fds, `EMFILE`): pause instead
                    // of retrying in a busy loop that floods the log.
                    tracing::warn!(error = %e, "accept failed");
                    frys::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            }
        }
    });
    Ok(())
}

/// Serves one connection's requests until it closes.
async fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let hello = service_fn(|_req: Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
            b"Hello, world!\n",
        ))))
    });
    let served = http1::Builder::new()
        .timer(FrysTimer)
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(HyperStream::new(stream), hello)
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
