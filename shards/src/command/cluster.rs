//! Cluster commands: CLUSTER (HELP, INFO, NODES, SLOTS, SHARDS, MYID,
//! KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT, SETSLOT) in Redis 7's shapes;
//! Kvrocks' CLUSTERX (SETNODES, VERSION, MYID), through which the
//! operator tool pushes the slot map, and frys' EXPORTKEY / EXPORTED,
//! through which it moves a migrating slot's keys
//! (`crate::cluster::migration`); ASKING, READONLY, READWRITE.
//!
//! Without cluster mode every one of them answers Redis' "This instance
//! has cluster support disabled". The state lives in `crate::cluster`.

use super::body::{arg, help_reply, store_err};
use super::spec::{BarrierCtx, CommandSpec, Doc, KeyCtx, KeySpec, Run};
use crate::cluster::slot_map::{MAX_NODES, MAX_PAYLOAD_LEN};
use crate::cluster::transfer;
use crate::cluster::{self, Me, SlotMap};
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::keyspace::{key_slot, SLOTS};
use crate::protocol::{parse_i64, Argv, Reply};
use crate::session::Session;
use crate::store::{self, data_end, data_position, split_data_key, Entry};

fn disabled() -> Option<Reply> {
    (!cluster::enabled()).then(|| Reply::error(errors::CLUSTER_DISABLED))
}

/// What this node says of itself, for the connection `s`.
fn me(s: &Session) -> Me<'static> {
    let host = if cluster::mode() == cluster::Mode::Emulated {
        s.laddr.ip().to_string()
    } else {
        String::new()
    };
    Me {
        id: cluster::my_id(),
        port: crate::server::shared().port(),
        host,
        now_ms: store::now_ms(),
    }
}

fn cluster_help(_: &mut Session, _: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    help_reply(&[
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MYID",
        "    Return the node id.",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE)",
        "    Set slot state.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "(The slot map is pushed with CLUSTERX SETNODES: see `shard-server cluster`.)",
    ])
}

fn cluster_info(s: &mut Session, _: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    let me = me(s);
    Reply::verbatim_text(cluster::with_view(|v| cluster::info_text(v, &me)))
}

fn cluster_nodes(s: &mut Session, _: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    let me = me(s);
    Reply::verbatim_text(cluster::with_view(|v| cluster::nodes_text(v, &me)))
}

fn cluster_slots(s: &mut Session, _: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    let me = me(s);
    cluster::with_view(|v| cluster::slots_reply(v, &me))
}

fn cluster_shards(s: &mut Session, _: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    let me = me(s);
    cluster::with_view(|v| cluster::shards_reply(v, &me))
}

fn cluster_myid(_: &mut Session, _: &Argv) -> Reply {
    disabled().unwrap_or_else(|| Reply::bulk(cluster::my_id()))
}

fn cluster_keyslot(_: &mut Session, argv: &Argv) -> Reply {
    disabled().unwrap_or_else(|| Reply::Integer(i64::from(key_slot(arg(argv, 2)))))
}

/// The keys of `slot` in namespace `ns` on this core, up to `limit`
/// (expired ones not counted); `collect` keeps their names.
async fn keys_in_slot(
    ns: u16,
    slot: u16,
    limit: usize,
    collect: bool,
) -> Result<(usize, Vec<Vec<u8>>), Reply> {
    let store = store::current();
    let db = store.db_of_slot(slot).map_err(store_err)?;
    let now = store::now_ms();
    let mut scan = db.scan(data_position(ns, slot, 0)..data_end(ns, slot + 1));
    let (mut count, mut keys) = (0usize, Vec::new());
    while count < limit {
        let Some((k, v)) = scan.next().await.map_err(|e| store_err(e.into()))? else {
            break;
        };
        let live = Entry::peek(&v).is_some_and(|(_, at)| at.is_none_or(|at| at > now));
        if !live {
            continue;
        }
        if let Some((_, _, _, key)) = split_data_key(&k) {
            count += 1;
            if collect {
                keys.push(key.to_vec());
            }
            if count.is_multiple_of(1024) {
                frys_runtime::yield_now().await;
            }
        }
    }
    Ok((count, keys))
}

/// Runs [`keys_in_slot`] on the core owning `slot`.
async fn keys_in_slot_on_owner(
    ns: u16,
    slot: u16,
    limit: usize,
    collect: bool,
) -> Result<(usize, Vec<Vec<u8>>), Reply> {
    let core = store::current().map().core_of_slot(slot);
    frys_runtime::spawn_on(core, move || keys_in_slot(ns, slot, limit, collect))
        .await
        .map_err(|e| Reply::error(format!("ERR internal: core {core} did not answer: {e}")))?
}

fn cluster_countkeysinslot(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if let Some(e) = disabled() {
            return e;
        }
        let Some(slot) = parse_i64(arg(&argv, 2)) else {
            return Reply::error(errors::NOT_AN_INTEGER);
        };
        if !(0..i64::from(SLOTS)).contains(&slot) {
            return Reply::error(errors::INVALID_SLOT);
        }
        match keys_in_slot_on_owner(ctx.ns, slot as u16, usize::MAX, false).await {
            Ok((n, _)) => Reply::Integer(n as i64),
            Err(e) => e,
        }
    })
}

fn cluster_getkeysinslot(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if let Some(e) = disabled() {
            return e;
        }
        let (Some(slot), Some(count)) = (parse_i64(arg(&argv, 2)), parse_i64(arg(&argv, 3))) else {
            return Reply::error(errors::NOT_AN_INTEGER);
        };
        if !(0..i64::from(SLOTS)).contains(&slot) || count < 0 {
            return Reply::error(errors::INVALID_SLOT_OR_COUNT);
        }
        let limit = usize::try_from(count).unwrap_or(usize::MAX);
        match keys_in_slot_on_owner(ctx.ns, slot as u16, limit, true).await {
            Ok((_, keys)) => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
            Err(e) => e,
        }
    })
}

/// CLUSTER SETSLOT <slot> MIGRATING <node-id> | IMPORTING <node-id> | STABLE
fn cluster_setslot(_: &mut Session, argv: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    let slot = match parse_i64(arg(argv, 2)) {
        Some(s) if (0..i64::from(SLOTS)).contains(&s) => s as u16,
        _ => return Reply::error(errors::INVALID_OR_OUT_OF_RANGE_SLOT),
    };
    let action = arg(argv, 3).to_ascii_lowercase();
    let node = || String::from_utf8_lossy(arg(argv, 4)).into_owned();
    let action = match (action.as_slice(), argv.len()) {
        (b"migrating", 5) => cluster::SlotAction::Migrating(node()),
        (b"importing", 5) => cluster::SlotAction::Importing(node()),
        (b"stable", 4) => cluster::SlotAction::Stable,
        (b"node", 5) => {
            return Reply::error(
                "ERR CLUSTER SETSLOT NODE is not supported: slot ownership changes with CLUSTERX SETNODES (shard-server cluster move-slots)",
            )
        }
        _ => return Reply::error(errors::SETSLOT_SYNTAX),
    };
    match cluster::set_slot_state(slot, action) {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::error(e),
    }
}

/// CLUSTERX EXPORTKEY <key>: on the owner of the key's migrating slot,
/// marks the key in flight and answers the commands that rebuild it on
/// the importing node (a null bulk when the key does not exist).
fn clusterx_exportkey(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if let Some(e) = disabled() {
            return e;
        }
        let key = arg(&argv, 2).to_vec();
        on_key_owner(key, move |key| export_key(ctx.ns, key)).await
    })
}

/// CLUSTERX EXPORTED <key>: once the importing node acknowledged the
/// copy, deletes the exported key here and clears its mark.
fn clusterx_exported(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if let Some(e) = disabled() {
            return e;
        }
        let key = arg(&argv, 2).to_vec();
        on_key_owner(key, move |key| drop_exported(ctx.ns, key)).await
    })
}

/// Runs `f` on the core owning `key`'s slot if that slot is migrating
/// from this node.
async fn on_key_owner<F, Fut>(key: Vec<u8>, f: F) -> Reply
where
    F: FnOnce(Vec<u8>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Reply> + 'static,
{
    let slot = key_slot(&key);
    if !cluster::with_view(|v| v.owns(slot) && v.migrating.contains_key(&slot)) {
        return Reply::error(format!(
            "ERR slot {slot} is not migrating from this node (CLUSTER SETSLOT {slot} MIGRATING <node-id> first)"
        ));
    }
    let core = store::current().map().core_of_slot(slot);
    frys_runtime::spawn_on(core, move || f(key))
        .await
        .unwrap_or_else(|e| Reply::error(format!("ERR internal: core {core} did not answer: {e}")))
}

async fn export_key(ns: u16, key: Vec<u8>) -> Reply {
    use crate::plugin::snapshot::{self, Refused};
    let ctx = KeyCtx::new(store::current(), ns);
    let _guard = ctx.lock(&key).await;
    let cap = u64::MAX;
    let read = snapshot::read(&ctx, vec![key.clone()], true, cap, transfer::MAX_KEY_BYTES).await;
    let value = match read {
        Ok(mut s) => match s.values.pop() {
            Some((_, v)) => v,
            None => return Reply::error("ERR internal: the key was not read"),
        },
        Err(Refused::Store(e)) => return Reply::error(e),
        Err(Refused::OverCap { .. } | Refused::OverBytes { .. }) => {
            return Reply::error(format!(
                "ERR the key holds more than {} bytes, more than a move copies",
                transfer::MAX_KEY_BYTES
            ))
        }
    };
    let commands = transfer::replay_commands(&key, &value, store::now_ms());
    if commands.is_empty() {
        cluster::migration::clear_in_flight(&key);
        return Reply::Null;
    }
    cluster::migration::mark_in_flight(&key);
    Reply::Array(
        commands
            .into_iter()
            .map(|c| Reply::Array(c.into_iter().map(Reply::Bulk).collect()))
            .collect(),
    )
}

async fn drop_exported(ns: u16, key: Vec<u8>) -> Reply {
    let ctx = KeyCtx::new(store::current(), ns);
    let _guard = ctx.lock(&key).await;
    if !cluster::migration::is_in_flight(&key) {
        return Reply::error("ERR the key is not being exported (CLUSTERX EXPORTKEY first)");
    }
    if let Err(e) = ctx.store.write_many(ns, &[(&key[..], None)]).await {
        return Reply::error(e.0);
    }
    cluster::migration::clear_in_flight(&key);
    Reply::Integer(1)
}

/// CLUSTERX SETNODES <nodes-info> <version> [FORCE]
fn clusterx_setnodes(_: &mut Session, argv: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    if cluster::mode() == cluster::Mode::Emulated {
        return Reply::error(errors::SETNODES_EMULATED);
    }
    let Some(version) = parse_i64(arg(argv, 3)).and_then(|v| u64::try_from(v).ok()) else {
        return Reply::error("ERR Invalid version");
    };
    if version == 0 {
        // CLUSTERX VERSION answers 0 for "no map".
        return Reply::error("ERR Invalid version: 0 stands for no map; versions start at 1");
    }
    let force = match argv.len() {
        4 => false,
        5 if arg(argv, 4).eq_ignore_ascii_case(b"force") => true,
        _ => return Reply::error("ERR Invalid setnodes options"),
    };
    let payload = arg(argv, 2);
    if payload.len() > MAX_PAYLOAD_LEN {
        return Reply::error(format!(
            "ERR Invalid cluster nodes info: {} bytes, more than the {MAX_PAYLOAD_LEN} a map of {MAX_NODES} nodes needs",
            payload.len()
        ));
    }
    let Ok(text) = std::str::from_utf8(payload) else {
        return Reply::error("ERR Invalid cluster nodes info: not UTF-8");
    };
    let map = match SlotMap::parse(version, text) {
        Ok(m) => m,
        Err(e) => return Reply::error(format!("ERR {e}")),
    };
    match cluster::install(map, force) {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::error(e),
    }
}

fn clusterx_version(_: &mut Session, _: &Argv) -> Reply {
    disabled().unwrap_or_else(|| Reply::bulk(cluster::epoch().to_string()))
}

fn clusterx_help(_: &mut Session, _: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    help_reply(&[
        "CLUSTERX <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "SETNODES <nodes-info> <version> [FORCE]",
        "    Install the slot map: one line per node, '<id> <host> <port> master - <slot|start-end> ...'.",
        "    Accepted only with a higher version than the node's (or FORCE); persisted before use.",
        "VERSION",
        "    Return the version (config epoch) of the node's slot map (0: none).",
        "MYID",
        "    Return the node id.",
        "EXPORTKEY <key>",
        "    On the owner of the key's migrating slot: mark the key in flight and return the commands that rebuild it.",
        "EXPORTED <key>",
        "    Once the importing node has the copy: delete the exported key here.",
    ])
}

fn asking(s: &mut Session, _: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    s.asking = true;
    Reply::ok()
}

fn readonly(s: &mut Session, _: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    s.readonly = true;
    Reply::ok()
}

fn readwrite(s: &mut Session, _: &Argv) -> Reply {
    if let Some(e) = disabled() {
        return e;
    }
    s.readonly = false;
    Reply::ok()
}

const fn doc(
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    args: &'static str,
) -> Doc {
    Doc::of("cluster", summary, since, complexity, args)
}

const STALE: &[&str] = &["stale"];
const SLOW: &[&str] = &["@slow"];
const ADMIN: &[&str] = &["@admin", "@slow", "@dangerous"];
const CONNECTION: &[&str] = &["@fast", "@connection"];

const CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "help",
        2,
        &["loading", "stale"],
        SLOW,
        doc(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "O(1)",
            "",
        ),
        Run::Now(cluster_help),
    ),
    CommandSpec::keyless(
        "info",
        2,
        STALE,
        SLOW,
        doc(
            "Returns information about the state of a node.",
            "3.0.0",
            "O(1)",
            "",
        ),
        Run::Now(cluster_info),
    ),
    CommandSpec::keyless(
        "nodes",
        2,
        STALE,
        SLOW,
        doc(
            "Returns the cluster configuration for a node.",
            "3.0.0",
            "O(N) where N is the total number of Cluster nodes",
            "",
        ),
        Run::Now(cluster_nodes),
    ),
    CommandSpec::keyless(
        "slots",
        2,
        STALE,
        SLOW,
        doc(
            "Returns the mapping of cluster slots to nodes.",
            "3.0.0",
            "O(N) where N is the total number of Cluster nodes",
            "",
        ),
        Run::Now(cluster_slots),
    ),
    CommandSpec::keyless(
        "shards",
        2,
        STALE,
        SLOW,
        doc(
            "Returns the mapping of cluster slots to shards.",
            "7.0.0",
            "O(N) where N is the total number of cluster nodes",
            "",
        ),
        Run::Now(cluster_shards),
    ),
    CommandSpec::keyless(
        "myid",
        2,
        STALE,
        SLOW,
        doc("Returns the ID of a node.", "3.0.0", "O(1)", ""),
        Run::Now(cluster_myid),
    ),
    CommandSpec::keyless(
        "keyslot",
        3,
        STALE,
        SLOW,
        doc(
            "Returns the hash slot for a key.",
            "3.0.0",
            "O(N) where N is the number of bytes in the key",
            "key",
        ),
        Run::Now(cluster_keyslot),
    ),
    CommandSpec::keyless(
        "setslot",
        -4,
        &["admin", "stale", "no_async_loading"],
        ADMIN,
        doc(
            "Binds a hash slot to a node.",
            "3.0.0",
            "O(1)",
            "slot IMPORTING node-id|MIGRATING node-id|NODE node-id|STABLE",
        ),
        Run::Now(cluster_setslot),
    ),
    CommandSpec::keyless(
        "countkeysinslot",
        3,
        STALE,
        SLOW,
        doc(
            "Returns the number of keys in a hash slot.",
            "3.0.0",
            "O(N) where N is the number of keys in the slot (a range scan)",
            "slot",
        ),
        Run::Barrier(cluster_countkeysinslot),
    ),
    CommandSpec::keyless(
        "getkeysinslot",
        4,
        STALE,
        SLOW,
        doc(
            "Returns the key names in a hash slot.",
            "3.0.0",
            "O(N) where N is the number of requested keys",
            "slot count",
        ),
        Run::Barrier(cluster_getkeysinslot),
    ),
];

/// The key of CLUSTERX EXPORTKEY / EXPORTED (`CLUSTERX <sub> <key>`):
/// declared so ACL key patterns apply to it, as they do to Redis'
/// MIGRATE, DUMP and RESTORE; the cluster check lets these two through
/// on an open slot (`server::cluster_gate`).
const EXPORT_KEY: KeySpec = KeySpec {
    first: 2,
    last: 2,
    step: 1,
};

const CLUSTERX_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::leaf(
        "exportkey",
        3,
        &["admin", "noscript", "stale"],
        EXPORT_KEY,
        ADMIN,
        doc(
            "Marks a key of a migrating slot in flight and returns the commands that rebuild it on the importing node.",
            "",
            "O(N) where N is the number of elements of the key",
            "key",
        ),
        Run::Barrier(clusterx_exportkey),
    ),
    CommandSpec::leaf(
        "exported",
        3,
        &["admin", "noscript", "stale"],
        EXPORT_KEY,
        ADMIN,
        doc(
            "Deletes a key exported with EXPORTKEY once the importing node has it.",
            "",
            "O(1)",
            "key",
        ),
        Run::Barrier(clusterx_exported),
    ),
    CommandSpec::keyless(
        "setnodes",
        -4,
        &["admin", "noscript", "loading", "stale"],
        ADMIN,
        doc(
            "Installs the cluster's slot map on this node (Kvrocks' CLUSTERX).",
            "",
            "O(N) where N is the size of the map",
            "nodes-info version [FORCE]",
        ),
        Run::Now(clusterx_setnodes),
    ),
    CommandSpec::keyless(
        "version",
        2,
        STALE,
        SLOW,
        doc(
            "Returns the version (config epoch) of the node's slot map.",
            "",
            "O(1)",
            "",
        ),
        Run::Now(clusterx_version),
    ),
    CommandSpec::keyless(
        "myid",
        2,
        STALE,
        SLOW,
        doc("Returns the ID of a node.", "", "O(1)", ""),
        Run::Now(cluster_myid),
    ),
    CommandSpec::keyless(
        "help",
        2,
        &["loading", "stale"],
        SLOW,
        doc(
            "Returns helpful text about the different subcommands.",
            "",
            "O(1)",
            "",
        ),
        Run::Now(clusterx_help),
    ),
];

/// The cluster family.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "cluster",
        arity: -2,
        flags: &[],
        keys: KeySpec::NONE,
        acl: SLOW,
        doc: doc(
            "A container for Redis Cluster commands.",
            "3.0.0",
            "Depends on subcommand.",
            "",
        ),
        run: Run::Now(cluster_help),
        subcommands: CLUSTER_SUBCOMMANDS,
        key_finder: None,
    },
    CommandSpec {
        name: "clusterx",
        arity: -2,
        flags: &[],
        keys: KeySpec::NONE,
        acl: SLOW,
        doc: doc(
            "A container for the commands that push the slot map (Kvrocks' CLUSTERX).",
            "",
            "Depends on subcommand.",
            "",
        ),
        run: Run::Now(clusterx_help),
        subcommands: CLUSTERX_SUBCOMMANDS,
        key_finder: None,
    },
    CommandSpec::keyless(
        "asking",
        1,
        &["fast"],
        CONNECTION,
        doc(
            "Signals that a cluster client is following an -ASK redirect.",
            "3.0.0",
            "O(1)",
            "",
        ),
        Run::Now(asking),
    ),
    CommandSpec::keyless(
        "readonly",
        1,
        &["fast", "loading", "stale"],
        CONNECTION,
        doc(
            "Enables read-only queries for a connection to a Redis Cluster replica node.",
            "3.0.0",
            "O(1)",
            "",
        ),
        Run::Now(readonly),
    ),
    CommandSpec::keyless(
        "readwrite",
        1,
        &["fast", "loading", "stale"],
        CONNECTION,
        doc(
            "Enables read-write queries for a connection to a Redis Cluster replica node.",
            "3.0.0",
            "O(1)",
            "",
        ),
        Run::Now(readwrite),
    ),
];
