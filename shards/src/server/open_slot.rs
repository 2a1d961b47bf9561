//! Cluster mode on the core owning a keyed command's slot: the request is
//! checked again against this core's view of the map when it starts (a
//! map or slot state installed since the dispatcher's check wins), and a
//! request on an open slot is decided by its keys while their locks are
//! held, so no move of those keys runs between the decision and the
//! command ([`crate::cluster::migration`]).

use crate::cluster::{self, redirect, Admit};
use crate::command::KeyCtx;
use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};

/// What the owner core needs to check a request again.
pub(super) struct OwnerCheck {
    /// The request's key positions.
    pub keys: Vec<usize>,
    /// The client's ASKING flag as the command saw it.
    pub asking: bool,
    /// A shard-channel command (served while the cluster is down).
    pub shard_pubsub: bool,
}

/// Runs `run` on this (the owning) core, or answers the redirect the
/// keys call for.
pub(super) fn run(
    run: impl FnOnce(KeyCtx, Argv) -> LocalBoxFuture<Reply> + 'static,
    mut ctx: KeyCtx,
    argv: Argv,
    check: Option<OwnerCheck>,
) -> LocalBoxFuture<Reply> {
    let Some(check) = check else {
        return run(ctx, argv);
    };
    let keys = check.keys.iter().filter_map(|&i| argv.get(i));
    let open = match cluster::admit_keys(keys, check.shard_pubsub, check.asking) {
        Ok(Admit::Here) => return run(ctx, argv),
        Err(refusal) => return Box::pin(std::future::ready(Reply::error(refusal.text()))),
        Ok(Admit::KeysDecide(open)) => open,
    };
    Box::pin(async move {
        let mut keys: Vec<Vec<u8>> = check
            .keys
            .iter()
            .filter_map(|&i| argv.get(i).map(<[u8]>::to_vec))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let _guards = ctx.lock_all(&refs).await;
        let (mut existing, mut missing, mut in_flight) = (0, 0, false);
        for key in &refs {
            in_flight |= cluster::migration::is_in_flight(key);
            match ctx.store.get_unlocked(ctx.ns, key).await {
                Ok(Some(_)) => existing += 1,
                Ok(None) => missing += 1,
                Err(e) => return Reply::error(e.0),
            }
        }
        if let Err(refusal) = redirect::decide_open(&open, existing, missing, in_flight) {
            return Reply::error(refusal.text());
        }
        // The locks taken above are the command's: it runs holding them.
        ctx.held = true;
        run(ctx, argv).await
    })
}
