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

use std::sync::atomic::{AtomicU64, Ordering};

use frys_plugins::registry;

use crate::command::KeyCtx;
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};
use crate::store;

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

/// The `KeyFn` of every plugin command: looks the command up again on
/// this core (a RELOAD in between runs the new version) and runs it.
pub fn run(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let name = argv.get(0).unwrap_or_default();
        let Some((plugin, cmd)) = registry().command(name) else {
            let args: Vec<&[u8]> = argv.iter().skip(1).collect();
            return Reply::Error(errors::unknown_command(name, args).into());
        };
        let Some(desc) = plugin.info.commands.get(cmd) else {
            return Reply::error("ERR internal: plugin command index out of range");
        };
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for i in desc.keys.positions(argv.len()) {
            let k = argv.get(i).unwrap_or_default().to_vec();
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let _guards = ctx.lock_all(&refs).await;
        let cap = MAX_COLLECTION_ELEMENTS.load(Ordering::Relaxed);
        let max_bytes = MAX_SNAPSHOT_BYTES.load(Ordering::Relaxed);
        let elements = plugin.info.abi_version >= 2;
        let snapshot = match super::snapshot::read(&ctx, keys, elements, cap, max_bytes).await {
            Ok(s) => s,
            Err(super::snapshot::Refused::OverCap { key, kind, count }) => {
                return Reply::Error(
                    format!(
                        "ERR plugin '{}': key '{}' is a {kind} of {count} elements, more than \
                         plugin-max-collection-elements ({cap})",
                        plugin.info.name,
                        String::from_utf8_lossy(&key)
                    )
                    .into(),
                )
            }
            Err(super::snapshot::Refused::OverBytes { key }) => {
                return Reply::Error(
                    format!(
                        "ERR plugin '{}': the collections of the call's keys hold more than \
                         {max_bytes} bytes (plugin-max-snapshot-bytes), passed at key '{}'",
                        plugin.info.name,
                        String::from_utf8_lossy(&key)
                    )
                    .into(),
                )
            }
            Err(super::snapshot::Refused::Store(e)) => return Reply::Error(e.into()),
        };
        let args = argv.iter().map(<[u8]>::to_vec).collect();
        let call = frys_plugins::Call::new(args, snapshot.values, store::now_ms())
            .with_max_write_bytes(MAX_WRITE_BYTES.load(Ordering::Relaxed))
            .with_max_collection_elements(cap);
        let outcome = plugin.run(cmd, call);
        if !outcome.writes.is_empty() {
            if let Err(e) = super::apply::apply(&ctx, &snapshot.stored, outcome.writes).await {
                return Reply::Error(e.into());
            }
        }
        super::to_reply(outcome.reply)
    })
}
