//! TLS on the client port's side: `tls-port` listeners whose connections
//! run rustls' sans-IO [`rustls::ServerConnection`] over the runtime's
//! owned-buffer TCP I/O (no tokio), so the connection loop sees the same
//! read/write of owned buffers as on the plain port
//! (`server::stream::ClientStream`).
//!
//! Invariants:
//! - The server configuration in force is one `Arc<ServerConfig>`
//!   ([`settings::current`]); each new connection takes a clone of it, so
//!   a reload (`CONFIG SET tls-*`, SIGHUP) changes what new connections get
//!   while open ones keep the configuration they started with.
//! - A reload that fails leaves the previous configuration in force.
//! - A failed handshake or a broken TLS record ends only its own
//!   connection, and is logged at most once a second
//!   ([`log_failure`]) so a flood of bad clients cannot flood the log.
//! - A handshake not finished within 10 s is dropped, so a client that
//!   connects and stays silent does not keep its `maxclients` slot.

mod settings;
mod stream;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use frys_runtime::net::TcpListener;

pub use settings::{current, on_config_set, reload, CONFIG_SET_FAILED};
pub use stream::{accept, TlsStream};

/// The TLS port every core listens on, once bound (0 or unset: no TLS).
static PORT: OnceLock<u16> = OnceLock::new();

thread_local! {
    /// Listeners core 0 bound before the cores start serving.
    static PRE_BOUND: RefCell<Vec<TcpListener>> = const { RefCell::new(Vec::new()) };
}

/// The TLS port in use, if TLS is on.
pub fn port() -> Option<u16> {
    PORT.get().copied().filter(|&p| p != 0)
}

/// Checks the TLS settings and, when `tls-port` is set, binds it on
/// `addrs` from this thread (core 0) so that port 0 resolves to one port
/// for every core. Returns the TLS port (None when TLS is off).
pub fn start(config: &crate::config::Config, addrs: &[SocketAddr]) -> Result<Option<u16>, String> {
    let mut port = config.tls_port();
    if port == 0 {
        return Ok(None);
    }
    settings::install_initial(config)?;
    for addr in addrs {
        let addr = SocketAddr::new(addr.ip(), port);
        let l =
            TcpListener::bind(addr).map_err(|e| format!("cannot listen (TLS) on {addr}: {e}"))?;
        port = l.local_addr().map_err(|e| e.to_string())?.port();
        PRE_BOUND.with(|p| p.borrow_mut().push(l));
    }
    let _ = PORT.set(port);
    Ok(Some(port))
}

/// This core's TLS listeners: the ones bound at start on core 0, or new
/// ones on the same port (SO_REUSEPORT) on the other cores.
pub fn listeners(core: usize, addrs: &[SocketAddr]) -> Vec<TcpListener> {
    let Some(port) = port() else {
        return Vec::new();
    };
    let mut listeners: Vec<TcpListener> = PRE_BOUND.with(|p| p.borrow_mut().drain(..).collect());
    if listeners.is_empty() {
        for addr in addrs {
            match TcpListener::bind(SocketAddr::new(addr.ip(), port)) {
                Ok(l) => listeners.push(l),
                Err(e) => tracing::error!(core, %addr, port, error = %e, "cannot listen (TLS)"),
            }
        }
    }
    listeners
}

/// Reloads the certificates on every SIGHUP, for the life of the process
/// (without TLS a SIGHUP is ignored, as Redis ignores it).
pub async fn reload_on_sighup() {
    use frys_runtime::signal::{Signal, SignalKind};
    let mut hangups = match Signal::new(SignalKind::Hangup) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot wait for SIGHUP");
            return;
        }
    };
    loop {
        if let Err(e) = hangups.recv().await {
            tracing::warn!(error = %e, "cannot wait for SIGHUP");
            return;
        }
        if port().is_none() {
            continue;
        }
        match reload(&crate::config::live(|c| c.clone())) {
            Ok(()) => tracing::info!("SIGHUP: TLS certificates reloaded"),
            Err(e) => {
                tracing::warn!(error = %e, "SIGHUP: TLS reload failed; the previous certificates stay in force")
            }
        }
    }
}

/// Unix milliseconds of the last logged failure.
static LAST_LOGGED_MS: AtomicU64 = AtomicU64::new(0);
/// Failures not logged since then.
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
/// At most one failure line per this many milliseconds.
const LOG_INTERVAL_MS: u64 = 1000;

/// Logs a TLS failure of one connection, at most once a second across the
/// server; the lines skipped meanwhile are counted in the next one.
pub fn log_failure(peer: SocketAddr, stage: &'static str, error: &dyn std::fmt::Display) {
    let now = crate::store::now_ms();
    let last = LAST_LOGGED_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) < LOG_INTERVAL_MS
        || LAST_LOGGED_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let suppressed = SUPPRESSED.swap(0, Ordering::Relaxed);
    tracing::warn!(%peer, stage, error = %error, suppressed, "TLS connection closed");
}
