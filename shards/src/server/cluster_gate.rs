//! The one place where cluster mode checks a request: after its row,
//! arity, authentication and ACL are checked and before it runs or is
//! queued in MULTI, as Redis' `processCommand` calls `getNodeByQuery`.
//!
//! A refused command inside MULTI dooms the transaction (EXEC answers
//! EXECABORT); a refused EXEC, whose queued commands' keys are checked
//! together, discards the transaction and answers the refusal itself.

use crate::cluster;
use crate::command::{command_keys, CommandSpec};
use crate::protocol::{Argv, Reply};
use crate::session::Session;

/// The reply refusing `argv` (row `spec`) on this node, if it is refused.
pub(super) fn refuse(session: &mut Session, spec: &CommandSpec, argv: &Argv) -> Option<Reply> {
    if !cluster::enabled() {
        return None;
    }
    // Redis keeps ASKING for one command (and through MULTI).
    if session.multi.is_none() && spec.name != "asking" {
        session.asking = false;
    }
    let verdict = if spec.name == "exec" {
        let multi = session.multi.as_ref()?;
        let shard_pubsub = multi.queued().iter().any(|q| is_shard_pubsub(q.spec));
        let keys = multi.queued().iter().flat_map(|q| {
            command_keys(q.spec, &q.argv)
                .into_iter()
                .filter_map(|i| q.argv.get(i))
        });
        cluster::check_request_keys(keys, shard_pubsub)
    } else {
        cluster::check_request_keys(
            command_keys(spec, argv)
                .into_iter()
                .filter_map(|i| argv.get(i)),
            is_shard_pubsub(spec),
        )
    };
    let refusal = verdict.err()?;
    if spec.name == "exec" {
        session.discard_transaction();
    } else if let Some(m) = session.multi.as_mut() {
        m.flag();
    }
    Some(Reply::error(refusal.text()))
}

/// Whether `spec` is a shard-channel command, served while the cluster is
/// down (Redis' `cluster-allow-pubsubshard-when-down`, default yes).
fn is_shard_pubsub(spec: &CommandSpec) -> bool {
    matches!(spec.name, "ssubscribe" | "sunsubscribe" | "spublish")
}

/// The reply refusing a plugin command on `keys` (positions in `argv`).
pub(super) fn refuse_keys(argv: &Argv, keys: impl IntoIterator<Item = usize>) -> Option<Reply> {
    let refusal = cluster::check_keys(keys.into_iter().filter_map(|i| argv.get(i))).err()?;
    Some(Reply::error(refusal.text()))
}
