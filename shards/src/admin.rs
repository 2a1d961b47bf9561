//! The admin HTTP port: `GET /metrics` (Prometheus text format) and
//! `GET /health`. Served by core 0; requests are parsed with `httparse`,
//! bounded to 8 KiB, one request per connection.

use std::fmt::Write as _;
use std::net::SocketAddr;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::exec::join_all;
use crate::server::{shared, stats};
use crate::store;

const MAX_REQUEST: usize = 8 * 1024;
/// Most admin connections served at once (more are closed at once).
const MAX_CONNECTIONS: usize = 64;
/// A request must arrive within this time.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Binds the admin port (`None` when it is 0).
pub fn bind(addr: SocketAddr) -> Result<Option<std::net::TcpListener>, String> {
    if addr.port() == 0 {
        return Ok(None);
    }
    let l = std::net::TcpListener::bind(addr).map_err(|e| format!("admin port {addr}: {e}"))?;
    Ok(Some(l))
}

/// Serves the admin port on this core until the task is dropped.
pub async fn serve(listener: std::net::TcpListener) {
    let listener = match frys_runtime::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "admin port unusable");
            return;
        }
    };
    let open = std::rc::Rc::new(std::cell::Cell::new(0usize));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                if open.get() >= MAX_CONNECTIONS {
                    drop(stream);
                    continue;
                }
                open.set(open.get() + 1);
                let open = open.clone();
                frys_runtime::spawn_local(async move {
                    let _ = crate::exec::race(
                        handle(stream),
                        frys_runtime::time::sleep(REQUEST_TIMEOUT),
                    )
                    .await;
                    open.set(open.get() - 1);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                frys_runtime::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle(stream: frys_runtime::net::TcpStream) {
    let mut request = Vec::new();
    let mut buf = Vec::with_capacity(2048);
    let path = loop {
        buf.clear();
        let (res, b) = stream.read(buf).await;
        buf = b;
        let n = match res {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        request.extend_from_slice(&buf[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&request) {
            Ok(httparse::Status::Complete(_)) => {
                break (
                    req.method.unwrap_or("").to_string(),
                    req.path.unwrap_or("").to_string(),
                )
            }
            Ok(httparse::Status::Partial) if request.len() < MAX_REQUEST => continue,
            _ => {
                let _ = stream
                    .write_all(response("400 Bad Request", "text/plain", "bad request\n"))
                    .await;
                return;
            }
        }
    };
    let reply = match (path.0.as_str(), path.1.as_str()) {
        ("GET", "/health") if crate::store::disk_state::disk_full() => response(
            "503 Service Unavailable",
            "text/plain",
            "disk full: writes are refused\n",
        ),
        ("GET", "/health") => response("200 OK", "text/plain", "ok\n"),
        ("GET", "/metrics") => response(
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            &render().await,
        ),
        ("GET", _) => response(
            "404 Not Found",
            "text/plain",
            "not found: try /metrics or /health\n",
        ),
        _ => response("405 Method Not Allowed", "text/plain", "only GET\n"),
    };
    let _ = stream.write_all(reply).await;
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    let mut out = String::new();
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    out.into_bytes()
}

struct CoreMetrics {
    counters: stats::CoreCounters,
    partitions: Vec<(u16, frys_storage::Metrics)>,
}

/// Every core's counters and storage metrics, in the text format.
pub async fn render() -> String {
    let cores = usize::from(shared().map().cores());
    let handles: Vec<_> = (0..cores)
        .map(|c| {
            frys_runtime::spawn_on(c, || async {
                let store = store::current();
                CoreMetrics {
                    counters: stats::snapshot(),
                    partitions: store.owned().map(|(id, db)| (id, db.metrics())).collect(),
                }
            })
        })
        .collect();
    let reports: Vec<CoreMetrics> = join_all(handles)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect();

    let mut registry = Registry::with_prefix("frys");
    let calls = Family::<Vec<(String, String)>, Counter>::default();
    let errors = Family::<Vec<(String, String)>, Counter>::default();
    let forwarded = Family::<Vec<(String, String)>, Counter>::default();
    let connected = Family::<Vec<(String, String)>, Gauge>::default();
    let accepted = Family::<Vec<(String, String)>, Counter>::default();
    let memtable = Family::<Vec<(String, String)>, Gauge>::default();
    let tables = Family::<Vec<(String, String)>, Gauge>::default();
    let compactions = Family::<Vec<(String, String)>, Counter>::default();
    let flushes = Family::<Vec<(String, String)>, Counter>::default();
    let wal_syncs = Family::<Vec<(String, String)>, Counter>::default();
    let stalls = Family::<Vec<(String, String)>, Counter>::default();
    for (core, r) in reports.iter().enumerate() {
        let c = core.to_string();
        for (name, n) in &r.counters.calls {
            calls
                .get_or_create(&vec![("command".into(), name.to_string())])
                .inc_by(*n);
        }
        for (code, n) in &r.counters.errors {
            errors
                .get_or_create(&vec![("error".into(), code.clone())])
                .inc_by(*n);
        }
        for (to, n) in r.counters.forwarded.iter().enumerate() {
            if *n > 0 {
                forwarded
                    .get_or_create(&vec![
                        ("from".into(), c.clone()),
                        ("to".into(), to.to_string()),
                    ])
                    .inc_by(*n);
            }
        }
        connected
            .get_or_create(&vec![("core".into(), c.clone())])
            .set(r.counters.connected as i64);
        accepted
            .get_or_create(&vec![("core".into(), c.clone())])
            .inc_by(r.counters.connections_received);
        for (id, m) in &r.partitions {
            let p = vec![("partition".to_string(), id.to_string())];
            memtable.get_or_create(&p).set(m.memtable_bytes as i64);
            compactions.get_or_create(&p).inc_by(m.compactions);
            flushes.get_or_create(&p).inc_by(m.flushes);
            wal_syncs.get_or_create(&p).inc_by(m.wal_syncs);
            stalls
                .get_or_create(&vec![
                    ("partition".into(), id.to_string()),
                    ("kind".into(), "slowdown".into()),
                ])
                .inc_by(m.write_slowdowns);
            stalls
                .get_or_create(&vec![
                    ("partition".into(), id.to_string()),
                    ("kind".into(), "stop".into()),
                ])
                .inc_by(m.write_stops);
            for (level, n) in m.tables_per_level.iter().enumerate() {
                tables
                    .get_or_create(&vec![
                        ("partition".into(), id.to_string()),
                        ("level".into(), level.to_string()),
                    ])
                    .set(*n as i64);
            }
        }
    }
    registry.register("commands", "Commands processed, by command", calls);
    registry.register("errors", "Error replies, by error code", errors);
    registry.register(
        "forwarded_commands",
        "Commands forwarded between cores",
        forwarded,
    );
    registry.register(
        "connected_clients",
        "Client connections open, by core",
        connected,
    );
    registry.register(
        "connections",
        "Client connections accepted, by core",
        accepted,
    );
    registry.register(
        "memtable_bytes",
        "Bytes in a partition's memtables",
        memtable,
    );
    registry.register("tables", "SSTables per partition and level", tables);
    registry.register("compactions", "Compactions run, by partition", compactions);
    registry.register("flushes", "Memtable flushes, by partition", flushes);
    registry.register("wal_syncs", "WAL fdatasyncs, by partition", wal_syncs);
    registry.register(
        "write_stalls",
        "Writes slowed down or stopped by compaction debt",
        stalls,
    );
    let plugin_families: [(&str, &str); 5] = [
        ("plugin_calls", "Plugin command calls"),
        (
            "plugin_errors",
            "Plugin command calls that answered an error",
        ),
        ("plugin_traps", "Plugin command calls that trapped"),
        (
            "plugin_timeouts",
            "Plugin command calls stopped at their deadline",
        ),
        ("plugin_usec", "Microseconds spent in plugin code"),
    ];
    let plugin_counters = crate::plugin::metrics::counters();
    for (i, (name, help)) in plugin_families.into_iter().enumerate() {
        let family = Family::<Vec<(String, String)>, Counter>::default();
        for (plugin, command, values) in &plugin_counters {
            family
                .get_or_create(&vec![
                    ("plugin".into(), plugin.clone()),
                    ("command".into(), command.clone()),
                ])
                .inc_by(values[i]);
        }
        registry.register(name, help, family);
    }
    let driver = Family::<Vec<(String, String)>, Gauge>::default();
    driver
        .get_or_create(&vec![("driver".into(), shared().driver().to_string())])
        .set(1);
    registry.register(
        "io_driver",
        "The I/O driver the cores run (io_uring or epoll)",
        driver,
    );
    let mut out = String::new();
    if encode(&mut out, &registry).is_err() {
        out = "# encoding failed\n".to_string();
    }
    // prometheus-client's Histogram only takes observations; ours are
    // already bucketed per core, so write that family by hand before EOF.
    let body = out.strip_suffix("# EOF\n").unwrap_or(&out).to_string();
    let mut out = body;
    write_latency_histogram(&mut out, &reports);
    out.push_str("# EOF\n");
    out
}

fn write_latency_histogram(out: &mut String, reports: &[CoreMetrics]) {
    let name = "frys_request_latency_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time from a request's dispatch to its reply being ready, by core."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (core, r) in reports.iter().enumerate() {
        let mut cumulative = 0u64;
        for (i, n) in r.counters.latency_buckets.iter().enumerate() {
            cumulative += n;
            let le = match stats::latency_bucket_bound_us(i) {
                Some(us) => format!("{}", us as f64 / 1e6),
                None => "+Inf".to_string(),
            };
            let _ = writeln!(
                out,
                "{name}_bucket{{core=\"{core}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_sum{{core=\"{core}\"}} {}",
            r.counters.latency_sum_us as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{{core=\"{core}\"}} {cumulative}");
    }
}
