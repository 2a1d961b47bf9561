//! The running server: start-up, per-core serving, shutdown.
//!
//! Start-up: lock and open the data directory, build the runtime, open
//! every partition on its owning core (phase 1), then every core accepts
//! on the same ports (SO_REUSEPORT: `port`, and `tls-port` whose
//! connections first do their handshake, see [`tls`]) until a shutdown is
//! requested (phase 2),
//! then every core closes its partitions (phase 3). Phase 2 ends on each
//! core only when its connections are gone, and phase 3 starts only when
//! every core has ended phase 2, so forwarded commands always find their
//! partitions open.

pub mod backup;
pub mod blocked;
mod cluster_gate;
mod connection;
pub mod info;
mod open_slot;
pub(crate) mod output_limit;
mod pipeline;
pub mod protected;
pub mod socket_options;
pub mod stats;
mod stream;
pub mod tls;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use frys_runtime::net::TcpListener;
use frys_runtime::topology::PlacementError;
use frys_runtime::{Cores, Runtime};

use crate::config::{self, Config};
use crate::exec::{race, Either, Event};
use crate::keyspace::{DataDir, PartitionMap};
use crate::store::{self, CoreStore};

pub use pipeline::{execute, Answer};

/// State shared by every core (atomics only; nothing on the command path).
pub struct Shared {
    started: Instant,
    started_unix: u64,
    run_id: String,
    data_dir: DataDir,
    map: PartitionMap,
    port: u16,
    next_client_id: AtomicU64,
    clients: AtomicUsize,
    shutting_down: AtomicBool,
    last_save: AtomicU64,
    config_file: Option<String>,
    driver: frys_runtime::DriverKind,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// The server's shared state.
///
/// # Panics
/// Before the server started (a bug).
pub fn shared() -> &'static Shared {
    SHARED.get().expect("server::shared() before start")
}

impl Shared {
    /// Seconds since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
    /// Unix time of start.
    pub fn started_unix(&self) -> u64 {
        self.started_unix
    }
    /// A random id of this run (INFO run_id).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }
    /// The TCP port clients use.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The partition map.
    pub fn map(&self) -> PartitionMap {
        self.map
    }
    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }
    /// Clients connected now (all cores).
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }
    /// The `--config` file, if any.
    pub fn config_file(&self) -> Option<&str> {
        self.config_file.as_deref()
    }
    /// The I/O driver the cores run (INFO `multiplexing_api`).
    pub fn driver(&self) -> frys_runtime::DriverKind {
        self.driver
    }
}

thread_local! {
    static SHUTDOWN: Event = Event::default();
    static PRE_BOUND: RefCell<Vec<TcpListener>> = const { RefCell::new(Vec::new()) };
}

/// Asks every core to shut down (idempotent).
pub fn request_shutdown(reason: &str) {
    let s = shared();
    if s.shutting_down.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::info!(
        reason,
        "shutting down: no new connections; finishing the commands already read"
    );
    for core in 0..usize::from(s.map.cores()) {
        drop(frys_runtime::spawn_on(core, || async {
            SHUTDOWN.with(|e| e.set());
        }));
    }
}

/// Whether a shutdown was requested.
pub fn shutting_down() -> bool {
    SHARED
        .get()
        .is_some_and(|s| s.shutting_down.load(Ordering::Relaxed))
}

/// Persists the database → namespace map (after SWAPDB).
pub fn save_db_map(map: &[u16]) -> Result<(), String> {
    shared()
        .data_dir
        .save_db_map(map)
        .map_err(|e| e.to_string())
}

/// Unix seconds of the last SAVE (or of start).
pub fn last_save() -> u64 {
    shared().last_save.load(Ordering::Relaxed)
}

/// Flushes every partition's memtable to a table and syncs it (SAVE).
pub async fn save_all() -> Result<(), String> {
    let cores = usize::from(shared().map.cores());
    let handles: Vec<_> = (0..cores)
        .map(|c| {
            frys_runtime::spawn_on(c, || async {
                let store = store::current();
                for (id, db) in store.owned() {
                    db.flush()
                        .await
                        .map_err(|e| format!("partition {id}: {e}"))?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for h in crate::exec::join_all(handles).await {
        h.map_err(|e| e.to_string())??;
    }
    shared()
        .last_save
        .store(store::now_ms() / 1000, Ordering::Relaxed);
    Ok(())
}

/// CONFIG RESETSTAT on every core.
pub async fn reset_stats() {
    let cores = usize::from(shared().map.cores());
    let handles: Vec<_> = (0..cores)
        .map(|c| {
            frys_runtime::spawn_on(c, || {
                stats::reset();
                std::future::ready(())
            })
        })
        .collect();
    crate::exec::join_all(handles).await;
}

fn random_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut id = String::with_capacity(40);
    while id.len() < 40 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(store::now_ms());
        id.push_str(&format!("{:016x}", h.finish()));
    }
    id.truncate(40);
    id
}

/// Runs the server until it is shut down; `Err` says why it could not
/// start (or could not stop cleanly).
pub fn run(config: Config) -> Result<(), String> {
    let start = Instant::now();
    config::set_live(config.clone());
    crate::acl::file::load_at_start()?;
    let dir = config.dir();
    if let Some(from) = config.get("restore").filter(|r| !r.is_empty()) {
        backup::restore(std::path::Path::new(from), &dir)?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("data directory {}: {e}", dir.display()))?;
    let lock = frys_storage::DirLock::acquire(&dir, "LOCK").map_err(|e| e.to_string())?;
    let data_dir = DataDir::open_or_create(&dir, config.partitions()).map_err(|e| e.to_string())?;
    let databases = u16::try_from(config.databases().min(65535)).unwrap_or(u16::MAX);
    let db_map = data_dir.load_db_map(databases).map_err(|e| e.to_string())?;
    let cluster_mode =
        crate::cluster::Mode::from_setting(config.get("cluster-enabled").unwrap_or("no"));
    crate::cluster::start(&data_dir, cluster_mode)?;
    let cores = match config.cores() {
        Some(n) => Cores::Count(n),
        None => Cores::All,
    };
    let mut builder = Runtime::builder().cores(cores).driver(config.driver());
    if let Some(window) = config.idle_poll() {
        builder = builder.idle_poll(window);
    }
    let rt = match builder.clone().build() {
        // More cores than CPUs: run them unpinned, sharing the CPUs.
        Err(frys_runtime::BuildError::Placement(PlacementError::TooManyCores {
            requested,
            usable,
        })) => {
            tracing::warn!(
                cores = requested,
                cpus = usable.len(),
                "more cores than usable CPUs: running them unpinned"
            );
            builder.pin(false).build()
        }
        other => other,
    }
    .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let map = PartitionMap::new(data_dir.partitions(), rt.cores() as u16);
    let addrs = bind_addrs(&config)?;
    // Core 0 binds first so that port 0 resolves to one port for all cores.
    let port = rt.block_on(async {
        let mut port = config.port();
        for addr in &addrs {
            let addr = SocketAddr::new(addr.ip(), port);
            let l = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            port = l.local_addr().map_err(|e| e.to_string())?.port();
            PRE_BOUND.with(|p| p.borrow_mut().push(l));
        }
        Ok::<u16, String>(port)
    })?;
    let tls_port = rt.block_on(async { tls::start(&config, &addrs) })?;
    let started_unix = store::now_ms() / 1000;
    let _ = SHARED.set(Shared {
        started: start,
        started_unix,
        run_id: random_run_id(),
        data_dir: data_dir.clone(),
        map,
        port,
        next_client_id: AtomicU64::new(1),
        clients: AtomicUsize::new(0),
        shutting_down: AtomicBool::new(false),
        last_save: AtomicU64::new(started_unix),
        config_file: None,
        driver: rt.driver(),
    });
    tracing::info!(
        cores = rt.cores(),
        cpus = ?rt.cpus(),
        partitions = map.partitions(),
        driver = %rt.driver(),
        dir = %dir.display(),
        appendfsync = config.get("appendfsync").unwrap_or(""),
        "settings in effect"
    );

    // Phase 1: open partitions on their cores.
    let settings = StorageSettings {
        sync: config.sync_policy(),
        core_memory: config.core_memory(),
    };
    let dd = data_dir.clone();
    let opened = rt.run_on_all(move |core| {
        let dd = dd.clone();
        let db_map = db_map.clone();
        async move { open_core(core, map, dd, settings, db_map).await }
    });
    let failures: Vec<String> = opened.into_iter().filter_map(Result::err).collect();
    if !failures.is_empty() {
        close_all(&rt);
        return Err(failures.join("; "));
    }
    if let Err(e) = crate::plugin::load_configured(&config) {
        close_all(&rt);
        return Err(e);
    }
    let admin_addr = SocketAddr::new(
        addrs
            .first()
            .map_or(std::net::Ipv4Addr::LOCALHOST.into(), |a| a.ip()),
        config.admin_port(),
    );
    let admin = std::sync::Arc::new(std::sync::Mutex::new(crate::admin::bind(admin_addr)?));
    if config.admin_port() != 0 {
        tracing::info!(addr = %admin_addr, "admin HTTP (/metrics, /health)");
    }
    if let Some(tls_port) = tls_port {
        for addr in &addrs {
            let tls_addr = SocketAddr::new(addr.ip(), tls_port);
            tracing::info!(%tls_addr, "ready to accept TLS connections");
        }
    }
    for addr in &addrs {
        tracing::info!(addr = %SocketAddr::new(addr.ip(), port), startup_ms = start.elapsed().as_millis() as u64, "ready to accept connections");
    }

    // Phase 2: serve until shutdown.
    rt.block_on(async {
        // Detached: it lives on core 0 until a signal comes or the runtime ends.
        drop(frys_runtime::spawn_local(async {
            match frys_runtime::signal::shutdown().await {
                Ok(sig) => request_shutdown(sig.name()),
                Err(e) => tracing::warn!(error = %e, "cannot wait for signals"),
            }
        }));
        drop(frys_runtime::spawn_local(tls::reload_on_sighup()));
    });
    let port_for_cores = port;
    let addrs_for_cores = addrs.clone();
    rt.run_on_all(move |core| {
        let admin = admin.lock().ok().and_then(|mut a| a.take());
        serve_core(core, addrs_for_cores.clone(), port_for_cores, admin)
    });

    // Phase 3: close partitions (sync the WAL).
    let errors = close_all(&rt);
    drop(rt);
    drop(lock);
    if errors.is_empty() {
        tracing::info!("every partition synced and closed; bye");
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn bind_addrs(config: &Config) -> Result<Vec<SocketAddr>, String> {
    config
        .bind()
        .iter()
        .map(|a| {
            let ip: std::net::IpAddr = match a.as_str() {
                "*" => std::net::Ipv4Addr::UNSPECIFIED.into(),
                other => other
                    .parse()
                    .map_err(|_| format!("setting 'bind': '{other}' is not an IP address"))?,
            };
            Ok(SocketAddr::new(ip, config.port()))
        })
        .collect()
}

/// What every partition of a core is opened with: one [`CoreBudget`]
/// per core (`core-memory`: half for the shared block cache, a quarter for
/// the partitions' memtables together), shared by the core's partitions.
///
/// [`CoreBudget`]: frys_storage::CoreBudget
#[derive(Clone, Copy)]
struct StorageSettings {
    sync: frys_storage::SyncPolicy,
    core_memory: u64,
}

impl StorageSettings {
    fn options_for_core(&self) -> frys_storage::Options {
        let mem = self.core_memory.max(8 << 20) as usize;
        let budget = frys_storage::CoreBudget::new(mem / 2, mem / 4);
        frys_storage::Options {
            sync: self.sync,
            memtable_bytes: (mem / 4).min(8 << 20),
            block_cache_bytes: mem / 2,
            budget: Some(budget),
            compaction_filter: Some(std::sync::Arc::new(store::DeadElements)),
            ..frys_storage::Options::default()
        }
    }
}

async fn open_core(
    core: usize,
    map: PartitionMap,
    dir: DataDir,
    settings: StorageSettings,
    db_map: Vec<u16>,
) -> Result<(), String> {
    let opts = settings.options_for_core();
    let mut owned = Vec::new();
    for p in map.partitions_of_core(core) {
        let started = Instant::now();
        let path = dir.partition_dir(p);
        match frys_storage::Db::open(&path, opts.clone()).await {
            Ok(db) => {
                tracing::info!(
                    partition = p,
                    core,
                    recovery_ms = started.elapsed().as_millis() as u64,
                    "partition opened"
                );
                owned.push((p, db));
            }
            Err(e) => {
                for (_, db) in owned {
                    let _ = db.close().await;
                }
                return Err(format!("partition {p} ({}): {e}", path.display()));
            }
        }
    }
    let store = Rc::new(CoreStore::new(core, map, owned, db_map));
    store::install(store);
    Ok(())
}

fn close_all(rt: &Runtime) -> Vec<String> {
    rt.run_on_all(|_| async {
        let Some(store) = store::uninstall() else {
            return Vec::new();
        };
        let mut errors = Vec::new();
        for (id, db) in store.owned() {
            if let Err(e) = db.clone().close().await {
                errors.push(format!("partition {id}: {e}"));
            }
        }
        errors
    })
    .into_iter()
    .flatten()
    .collect()
}

/// How long a core waits at shutdown for its clients to take their last
/// replies before it closes the partitions anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

async fn serve_core(
    core: usize,
    addrs: Vec<SocketAddr>,
    port: u16,
    admin: Option<std::net::TcpListener>,
) {
    let shutdown = SHUTDOWN.with(|e| e.clone());
    let store = store::current();
    let expire = frys_runtime::spawn_local(store::run_expire_cycles(store.clone()));
    let admin = admin.map(|l| frys_runtime::spawn_local(crate::admin::serve(l)));
    let mut listeners: Vec<TcpListener> = PRE_BOUND.with(|p| p.borrow_mut().drain(..).collect());
    if listeners.is_empty() {
        for addr in &addrs {
            match TcpListener::bind(SocketAddr::new(addr.ip(), port)) {
                Ok(l) => listeners.push(l),
                Err(e) => tracing::error!(core, %addr, error = %e, "cannot listen"),
            }
        }
    }
    let open = Rc::new(std::cell::Cell::new(0usize));
    let drained = Rc::new(RefCell::new(Event::default()));
    let tls_listeners = tls::listeners(core, &addrs);
    let accepts: Vec<_> = listeners
        .into_iter()
        .map(|l| (l, false))
        .chain(tls_listeners.into_iter().map(|l| (l, true)))
        .map(|(l, tls)| {
            frys_runtime::spawn_local(accept_loop(l, tls, core, open.clone(), drained.clone()))
        })
        .collect();
    shutdown.wait().await;
    for a in &accepts {
        a.abort();
    }
    crate::session::shutdown_reads();
    blocked::cancel_all();
    if open.get() > 0 {
        let waiting = drained.borrow().wait();
        if let Either::Right(()) = race(waiting, frys_runtime::time::sleep(DRAIN_TIMEOUT)).await {
            tracing::warn!(
                core,
                clients = open.get(),
                "clients did not take their last replies in time"
            );
        }
    }
    expire.abort();
    if let Some(a) = admin {
        a.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: bool,
    core: usize,
    open: Rc<std::cell::Cell<usize>>,
    drained: Rc<RefCell<Event>>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(core, error = %e, "accept failed");
                frys_runtime::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let s = shared();
        let max = config::live(|c| c.maxclients());
        if s.clients.fetch_add(1, Ordering::Relaxed) >= max {
            s.clients.fetch_sub(1, Ordering::Relaxed);
            stats::count_rejected();
            if !tls {
                frys_runtime::spawn_local(connection::refuse(stream));
            }
            continue;
        }
        if protected::refuses(&peer) {
            s.clients.fetch_sub(1, Ordering::Relaxed);
            stats::count_rejected();
            frys_runtime::spawn_local(protected::deny(stream));
            continue;
        }
        let keepalive = config::live(|c| c.get("tcp-keepalive").and_then(|v| v.parse().ok()));
        if let Err(e) = socket_options::set_keepalive(stream.as_raw_fd(), keepalive.unwrap_or(0)) {
            tracing::debug!(%peer, error = %e, "cannot set tcp-keepalive");
        }
        let id = s.next_client_id.fetch_add(1, Ordering::Relaxed);
        open.set(open.get() + 1);
        if open.get() == 1 {
            *drained.borrow_mut() = Event::default();
        }
        let open = open.clone();
        let drained = drained.clone();
        frys_runtime::spawn_local(async move {
            if !tls {
                connection::serve(stream::ClientStream::Plain(stream), peer, id, core).await;
            } else if let Some(config) = tls::current() {
                // The handshake ends with the shutdown like a connection's read.
                let shutdown = SHUTDOWN.with(|e| e.clone());
                let handshake = tls::accept(stream, peer, config);
                if let Either::Left(Some(tls)) = race(handshake, shutdown.wait()).await {
                    connection::serve(stream::ClientStream::Tls(Box::new(tls)), peer, id, core)
                        .await;
                }
            }
            shared().clients.fetch_sub(1, Ordering::Relaxed);
            open.set(open.get() - 1);
            if open.get() == 0 {
                drained.borrow().set();
            }
        });
    }
}
