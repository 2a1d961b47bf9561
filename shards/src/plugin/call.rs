//! Running one plugin call on the core that owns its keys.
//!
//! The call's keys are locked for its whole length, read, handed to the
//! plugin in a `frys_plugins::Call`, and the writes it leaves are applied
//! in one batch per partition only when it succeeded; the lock is held
//! until they are written, so no other command sees a half-applied call.

use frys_plugins::{registry, Value, Write};

use crate::command::KeyCtx;
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};
use crate::store::{self, Entry, ValueType};

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
        let mut snapshot = Vec::with_capacity(keys.len());
        for key in keys {
            let value = match ctx.store.get_unlocked(ctx.ns, &key).await {
                Ok(None) => Value::Missing,
                Ok(Some(e)) if e.kind == ValueType::String => Value::String {
                    bytes: e.payload,
                    expires_at_ms: e.expires_at,
                },
                Ok(Some(_)) => Value::OtherType,
                Err(e) => return Reply::Error(e.0.into()),
            };
            snapshot.push((key, value));
        }
        let args = argv.iter().map(<[u8]>::to_vec).collect();
        let call = frys_plugins::Call::new(args, snapshot, store::now_ms());
        let outcome = plugin.run(cmd, call);
        if !outcome.writes.is_empty() {
            if let Err(e) = apply(&ctx, &outcome.writes).await {
                return Reply::Error(e.into());
            }
        }
        super::to_reply(outcome.reply)
    })
}

async fn apply(ctx: &KeyCtx, writes: &[Write]) -> Result<(), String> {
    let entries: Vec<(&[u8], Option<Entry>)> = writes
        .iter()
        .map(|w| match w {
            Write::Set {
                key,
                bytes,
                expires_at_ms,
            } => (
                key.as_slice(),
                Some(Entry {
                    kind: ValueType::String,
                    expires_at: *expires_at_ms,
                    payload: bytes.clone(),
                }),
            ),
            Write::Delete { key } => (key.as_slice(), None),
        })
        .collect();
    let ops: Vec<(&[u8], Option<&Entry>)> = entries.iter().map(|(k, e)| (*k, e.as_ref())).collect();
    ctx.store.write_many(ctx.ns, &ops).await.map_err(|e| e.0)
}
