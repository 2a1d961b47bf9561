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
//! The pipeline routed the call by the version it found; a PLUGIN RELOAD
//! later in the same pipeline runs before the queued call does, so the
//! version found here may declare another arity or other keys. Both are
//! checked again, and a call whose new keys are not all on this core goes
//! through the transaction layer from here ([`super::cross::call`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use frys_plugins::{registry, Call, Plugin, Value};

use crate::command::KeyCtx;
use crate::errors;
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

/// The plugin command `argv` names, looked up on this core (a RELOAD in
/// between runs the new version), or the error reply.
pub(super) fn resolve(argv: &Argv) -> Result<(Arc<Plugin>, usize), Reply> {
    let name = argv.get(0).unwrap_or_default();
    let Some((plugin, cmd)) = registry().command(name) else {
        let args: Vec<&[u8]> = argv.iter().skip(1).collect();
        return Err(Reply::Error(errors::unknown_command(name, args).into()));
    };
    if plugin.info.commands.get(cmd).is_none() {
        return Err(Reply::error(
            "ERR internal: plugin command index out of range",
        ));
    }
    Ok((plugin, cmd))
}

/// The declared keys of `argv` for command `cmd` of `plugin`, each once,
/// in declaration order.
pub(super) fn declared_keys(plugin: &Plugin, cmd: usize, argv: &Argv) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let Some(desc) = plugin.info.commands.get(cmd) else {
        return keys;
    };
    for i in desc.keys.positions(argv.len()) {
        let k = argv.get(i).unwrap_or_default().to_vec();
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

/// The refusal of `argv` by command `cmd` of `plugin` as declared: its
/// arity, and in cluster mode its keys' slots (the pipeline checked the
/// version it routed by).
pub(super) fn recheck(plugin: &Plugin, cmd: usize, argv: &Argv) -> Option<Reply> {
    let desc = plugin.info.commands.get(cmd)?;
    if !desc.arity_ok(argv.len()) {
        return Some(Reply::Error(
            errors::wrong_number_of_arguments(&desc.name).into(),
        ));
    }
    let keys = desc
        .keys
        .positions(argv.len())
        .into_iter()
        .filter_map(|i| argv.get(i));
    let refusal = crate::cluster::check_keys(keys).err()?;
    Some(Reply::error(refusal.text()))
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

/// The `KeyFn` of every plugin command whose keys are on one core: looks
/// the command up again on this core (a RELOAD in between runs the new
/// version) and runs it.
pub fn run(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let (plugin, cmd) = match resolve(&argv) {
            Ok(found) => found,
            Err(e) => return e,
        };
        // The version routed may not be the one found here: a PLUGIN
        // RELOAD later in the same pipeline runs before this queued call.
        // The new version's declaration is checked again, and when its
        // keys are not all on this core the call goes through the
        // transaction layer from here (locking only this core's keys
        // would leave the others unlocked and read them from a store
        // that does not own them).
        if let Some(refused) = recheck(&plugin, cmd, &argv) {
            return refused;
        }
        let keys = declared_keys(&plugin, cmd, &argv);
        let (map, here) = (ctx.store.map(), ctx.store.core());
        if !ctx.held && keys.iter().any(|k| map.core_of_slot(key_slot(k)) != here) {
            return super::cross::call(ctx.ns, ctx.resp, plugin, cmd, argv).await;
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
