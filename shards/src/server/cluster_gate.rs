//! The one place where cluster mode checks a request: after its row,
//! arity, authentication and ACL are checked and before it runs or is
//! queued in MULTI, as Redis' `processCommand` calls `getNodeByQuery`.
//!
//! A refused command inside MULTI dooms the transaction (EXEC answers
//! EXECABORT); a refused EXEC, whose queued commands' keys are checked
//! together, discards the transaction and answers the refusal itself.
//!
//! A request on an open (migrating or importing) slot is decided by its
//! keys, which only the core owning the slot can look at under their
//! locks: a command that runs there (a keyed or one-core fan-out row) is
//! let through and decided there ([`super::open_slot`]); any other (a
//! barrier, a command queued in MULTI, EXEC, a plugin call) answers
//! `TRYAGAIN`, which cluster clients retry until the move is over. Such
//! a request admitted here may wait (behind earlier requests of its
//! pipeline, then for its locks) while its slot opens or moves, so it
//! checks its keys again once it holds their locks
//! ([`crate::cluster::refuse_locked`], from `Txn::begin_checking`,
//! `key_hops::with_keys`, `zset::multi::with_keys` and the cross-core
//! plugin call). Shard channels of a migrating slot are served by its
//! owner, and CLUSTERX EXPORTKEY / EXPORTED (the tool's own key moves)
//! pass on an open slot, as Redis lets MIGRATE through.

use crate::cluster::{self, Admit};
use crate::command::{command_keys, CommandSpec, Run};
use crate::errors;
use crate::protocol::{Argv, Reply};
use crate::session::Session;

/// Whether `argv` (row `spec`) runs here: `Ok` with the client's ASKING
/// flag as this command sees it (the owner core checks the keys again
/// with it), or the reply refusing it.
pub(super) fn refuse(
    session: &mut Session,
    spec: &CommandSpec,
    argv: &Argv,
) -> Result<bool, Reply> {
    if !cluster::enabled() {
        return Ok(false);
    }
    // Redis keeps ASKING for one command, and through MULTI to its EXEC.
    let asking = session.asking;
    let keeps = match spec.name {
        "asking" | "multi" => true,
        "exec" | "discard" => false,
        _ => session.multi.is_some(),
    };
    if !keeps {
        session.asking = false;
    }
    // The key-moving commands work on this node's copy of an open slot,
    // as Redis' getNodeByQuery lets MIGRATE through (they check the slot
    // themselves).
    if moves_keys(spec) {
        return Ok(asking);
    }
    let verdict = if spec.name == "exec" {
        let Some(multi) = session.multi.as_ref() else {
            return Ok(asking);
        };
        let shard_pubsub = multi.queued().iter().any(|q| is_shard_pubsub(q.spec));
        let keys = multi.queued().iter().flat_map(|q| {
            command_keys(q.spec, &q.argv)
                .into_iter()
                .filter_map(|i| q.argv.get(i))
        });
        cluster::admit_keys(keys, shard_pubsub, asking)
    } else {
        cluster::admit_keys(
            command_keys(spec, argv)
                .into_iter()
                .filter_map(|i| argv.get(i)),
            is_shard_pubsub(spec),
            asking,
        )
    };
    let runs_on_owner_core =
        session.multi.is_none() && matches!(spec.run, Run::Key(_) | Run::Fanout { .. });
    let text = match verdict {
        Ok(Admit::Here) => return Ok(asking),
        Ok(Admit::KeysDecide(_)) if runs_on_owner_core => return Ok(asking),
        Ok(Admit::KeysDecide(_)) => errors::TRYAGAIN.to_string(),
        Err(refusal) => refusal.text(),
    };
    if spec.name == "exec" {
        session.discard_transaction();
    } else if let Some(m) = session.multi.as_mut() {
        m.flag();
    }
    Err(Reply::error(text))
}

/// Whether `spec` is CLUSTERX EXPORTKEY or EXPORTED, which the operator
/// tool runs on the migrating node's keys.
fn moves_keys(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exportkey" | "exported")
}

/// Whether `spec` is a shard-channel command, served while the cluster is
/// down (Redis' `cluster-allow-pubsubshard-when-down`, default yes).
pub(super) fn is_shard_pubsub(spec: &CommandSpec) -> bool {
    matches!(spec.name, "ssubscribe" | "sunsubscribe" | "spublish")
}

/// The reply refusing a plugin command on `keys` (positions in `argv`):
/// a plugin call on an open slot answers `TRYAGAIN`.
pub(super) fn refuse_keys(argv: &Argv, keys: impl IntoIterator<Item = usize>) -> Option<Reply> {
    match cluster::admit_keys(keys.into_iter().filter_map(|i| argv.get(i)), false, false) {
        Ok(Admit::Here) => None,
        Ok(Admit::KeysDecide(_)) => Some(Reply::error(errors::TRYAGAIN)),
        Err(refusal) => Some(Reply::error(refusal.text())),
    }
}
