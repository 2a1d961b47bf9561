//! The peers frys is measured against, each a server run in its own child
//! process on the same CPUs frys would use: the raw io_uring loop (the
//! floor), and, behind the `peers` feature (their builds are heavy and CI
//! must not pay for them), monoio and glommio. Each is its runtime's
//! thread-per-core shape: one pinned thread per core, each with its own
//! SO_REUSEPORT listener on the same port, echoing into a 16 KiB buffer per
//! connection like the `frys` server.

#[cfg(feature = "peers")]
pub(crate) mod glommio_server;
#[cfg(feature = "peers")]
pub(crate) mod monoio_server;
pub(crate) mod raw_uring;

use std::io;
use std::net::SocketAddr;

/// The CPUs frys would choose for `cores` cores with `placement`.
pub(crate) fn server_cpus(cores: usize, placement: frys::Placement) -> Result<Vec<usize>, String> {
    let topo = frys::topology::Topology::from_sysfs(std::path::Path::new("/sys"))
        .map_err(|e| format!("cannot read the CPU topology: {e}"))?;
    let allowed = frys::topology::allowed_cpus().map_err(|e| format!("affinity mask: {e}"))?;
    frys::topology::select_cpus(&topo, &allowed, &frys::Cores::Count(cores), placement)
        .map_err(|e| format!("cannot choose {cores} CPUs: {e}"))
}

/// A listener on `addr` sharing the port with the other cores' listeners.
pub(crate) fn reuseport_listener(
    addr: SocketAddr,
    nonblocking: bool,
) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(nonblocking)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Runs `serve` (one core's server loop) on a thread pinned to each of
/// `cpus`, announces readiness, and waits (the process is killed by
/// SIGTERM).
#[cfg(feature = "peers")]
pub(crate) fn per_core_threads(
    name: &str,
    cpus: &[usize],
    serve: impl Fn(usize, std::net::TcpListener) + Send + Sync + Clone + 'static,
    addr: SocketAddr,
) -> Result<(), String> {
    let mut threads = Vec::new();
    for &cpu in cpus {
        // Bound here, so that a port in use is reported before READY.
        let listener =
            reuseport_listener(addr, true).map_err(|e| format!("listen on {addr}: {e}"))?;
        let serve = serve.clone();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{cpu}"))
            .spawn(move || serve(cpu, listener))
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        threads.push(thread);
    }
    crate::announce_ready(cpus)?;
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}
