//! Running one plugin call on the core that owns its keys.
//!
//! The call's keys are locked for its whole length and read: a string as
//! is, a collection loaded whole for an ABI v2 plugin ([`super::snapshot`];
//! refused before any plugin code runs when it has more than
//! `plugin-max-collection-elements` elements, or when the call's
//! collections hold more than `plugin-max-snapshot-bytes`). They are
//! handed to the plugin in a `frys_plugins::Call`, and the writes it leaves are applied ([`super::apply`]) in one batch
//! per partition only when it succeeded; the lock is held until they are
//! written (and the clients blocked on a list or sorted set it filled are
//! served), so no other command sees a half-applied call.
//!
//! The version that runs is the one the pipeline routed the call by and
//! checked it against (arity, the user's ACL key patterns, cluster
//! slots): the queued item carries it. A PLUGIN RELOAD (or UNLOAD) that
//! runs between routing and running, from this pipeline or another
//! connection, changes only the calls routed after it, so a call never
//! touches keys its user's ACL was not checked on, and its keys are the
//! ones it was queued (and ordered in the pipeline) by.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use frys_plugins::{Call, Plugin, Value};

use crate::command::KeyCtx;
use crate::exec::LocalBoxFuture;
use crate::keyspace::key_slot;
use crate::protocol::{Argv, Reply};
use crate::store;

use super::snapshot::Refused;

/// `plugin-max-collection-elements`: most elements of a collection a call
/// may see.
static MAX_COLLECTION_ELEMENTS: AtomicU64 = AtomicU64::new(100_000);
/// `plugin-max-snapshot-bytes`: most bytes of collections a call may load.
static MAX_SNAPSHOT_BYTES: AtomicU64 = AtomicU64::new(super::snapshot::DEFAULT_MAX_BYTES);
/// `plugin-max-write-bytes`: most bytes one call may write.
static MAX_WRITE_BYTES: AtomicU64 = AtomicU64::new(frys_plugins::call::DEFAULT_MAX_WRITE_BYTES);

/// Sets the per-call limits (from the settings, at start).
pub fn set_limits(max_collection_elements: u64, max_snapshot_bytes: u64, max_write_bytes: u64) {
    MAX_COLLECTION_ELEMENTS.store(max_collection_elements, Ordering::Relaxed);
    MAX_SNAPSHOT_BYTES.store(max_snapshot_bytes, Ordering::Relaxed);
    MAX_WRITE_BYTES.store(max_write_bytes, Ordering::Relaxed);
}

/// The call's limits, read once per call.
#[derive(Clone, Copy)]
pub(super) struct Limits {
    /// `plugin-max-collection-elements`.
    pub elements: u64,
    /// `plugin-max-snapshot-bytes`.
    pub snapshot_bytes: u64,
    /// `plugin-max-write-bytes`.
    pub write_bytes: u64,
}

impl Limits {
    pub(super) fn now() -> Limits {
        Limits {
            elements: MAX_COLLECTION_ELEMENTS.load(Ordering::Relaxed),
            snapshot_bytes: MAX_SNAPSHOT_BYTES.load(Ordering::Relaxed),
            write_bytes: MAX_WRITE_BYTES.load(Ordering::Relaxed),
        }
    }
}

/// The declared keys of `argv` for command `cmd` of `plugin`, each once,
/// in declaration order.
pub(super) fn declared_keys(plugin: &Plugin, cmd: usize, argv: &Argv) -> Vec<Vec<u8>> {
    let Some(desc) = plugin.info.commands.get(cmd) else {
        return Vec::new();
    };
    let positions = desc.keys.positions(argv.len());
    // A set of the keys seen: linear in the key count, not quadratic.
    let mut seen: HashSet<&[u8], foldhash::fast::RandomState> =
        HashSet::with_capacity_and_hasher(positions.len(), Default::default());
    positions
        .into_iter()
        .map(|i| argv.get(i).unwrap_or_default())
        .filter(|k| seen.insert(k))
        .map(<[u8]>::to_vec)
        .collect()
}

/// The error reply for a call refused before it ran.
pub(super) fn refusal(plugin: &Plugin, limits: Limits, refused: Refused) -> Reply {
    match refused {
        Refused::OverCap { key, kind, count } => Reply::Error(
            format!(
                "ERR plugin '{}': key '{}' is a {kind} of {count} elements, more than \
                 plugin-max-collection-elements ({})",
                plugin.info.name,
                String::from_utf8_lossy(&key),
                limits.elements,
            )
            .into(),
        ),
        Refused::OverBytes { key } => Reply::Error(
            format!(
                "ERR plugin '{}': the collections of the call's keys hold more than \
                 {} bytes (plugin-max-snapshot-bytes), passed at key '{}'",
                plugin.info.name,
                limits.snapshot_bytes,
                String::from_utf8_lossy(&key)
            )
            .into(),
        ),
        Refused::Store(e) => Reply::Error(e.into()),
    }
}

/// The call of command `argv` on `values` (the declared keys' snapshot),
/// with the limits.
pub(super) fn new_call(argv: &Argv, values: Vec<(Vec<u8>, Value)>, limits: Limits) -> Call {
    let args = argv.iter().map(<[u8]>::to_vec).collect();
    Call::new(args, values, store::now_ms())
        .with_max_write_bytes(limits.write_bytes)
        .with_max_collection_elements(limits.elements)
}

/// Runs command `cmd` of `plugin` (the version the call was routed by)
/// on the core that owns all its keys.
pub fn run(ctx: KeyCtx, plugin: Arc<Plugin>, cmd: usize, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let keys = declared_keys(&plugin, cmd, &argv);
        let (map, here) = (ctx.store.map(), ctx.store.core());
        if keys.iter().any(|k| map.core_of_slot(key_slot(k)) != here) {
            // Routing put the call on the core of these very keys.
            return Reply::error(
                "ERR internal: a plugin call queued on a core that does not own its keys",
            );
        }
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let _guards = ctx.lock_all(&refs).await;
        let limits = Limits::now();
        let elements = plugin.info.abi_version >= 2;
        let snapshot = match super::snapshot::read(
            &ctx,
            keys,
            elements,
            limits.elements,
            limits.snapshot_bytes,
        )
        .await
        {
            Ok(s) => s,
            Err(refused) => return refusal(&plugin, limits, refused),
        };
        let outcome = plugin.run(cmd, new_call(&argv, snapshot.values, limits));
        if !outcome.writes.is_empty() {
            if let Err(e) = super::apply::apply(&ctx, &snapshot.stored, outcome.writes).await {
                return Reply::Error(e.into());
            }
        }
        super::to_reply(outcome.reply)
    })
}
