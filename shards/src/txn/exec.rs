//! EXEC: run a client's queued commands atomically and isolated, even when
//! their keys live on several cores.
//!
//! 1. A queueing error (the MULTI state is aborted) answers EXECABORT.
//! 2. Plan: each queued command's database and namespace (a queued SELECT
//!    or SWAPDB changes them for the commands after it, as it will when it
//!    runs) and its keys: [`command_keys`] of its row, plus the key of
//!    another database that MOVE and COPY ... DB write.
//! 3. Lock the union of those keys and the watched keys ([`Txn`]).
//! 4. WATCH: once all are locked, if a watched key was written, or expired,
//!    since WATCH, answer a null array (nothing ran).
//! 5. Run the commands in order, each to completion before the next, with
//!    `held`: keyed ones on their key's core (consecutive ones for one
//!    core in one hop), fan-outs split over their cores, barriers here
//!    with `BarrierCtx::held`, `Run::Now` ones on the session. A command's
//!    error reply is its element of the array; the rest still run.
//! 6. Release.
//!
//! Isolation is the transaction layer's (see `txn`): no other command on
//! one of the locked keys runs between steps 3 and 6. Keyless commands
//! inside EXEC take no locks, so they cannot deadlock with the held ones:
//! FLUSHDB/FLUSHALL delete core by core and other clients' commands on keys
//! outside the transaction may interleave; KEYS, SCAN, DBSIZE, RANDOMKEY
//! see the transaction's earlier writes, and other clients' writes to keys
//! it does not hold; SWAPDB is applied as at top level.

use std::collections::VecDeque;

use crate::command::{command_keys, parse_i64, BarrierCtx, CommandSpec, KeyCtx, KeyFn, Run};
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::keyspace::key_slot;
use crate::protocol::{Argv, Reply};
use crate::server::stats;
use crate::session::{self, SharedSession};
use crate::store;

use super::fanout;
use super::multi::{MultiState, Queued};
use super::watch::WatchSet;
use super::Txn;

/// EXEC
pub fn exec(ctx: BarrierCtx, _argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let Some(session) = session::local(ctx.client_id) else {
            return Reply::error("ERR internal: the client's session is gone");
        };
        let (multi, mut watch) = {
            let mut s = session.borrow_mut();
            let Some(multi) = s.multi.take() else {
                return Reply::error(errors::EXEC_WITHOUT_MULTI);
            };
            (multi, std::mem::take(&mut s.watch))
        };
        let reply = run(&ctx, &session, multi, &watch).await;
        watch.clear();
        reply
    })
}

/// One queued command, planned.
struct Step {
    spec: &'static CommandSpec,
    argv: Argv,
    db: u16,
    ns: u16,
}

async fn run(
    ctx: &BarrierCtx,
    session: &SharedSession,
    multi: MultiState,
    watch: &WatchSet,
) -> Reply {
    if multi.is_aborted() {
        return Reply::error(errors::EXECABORT);
    }
    let (steps, mut keys) = plan(ctx.db, multi.into_queue());
    // Cluster mode checks the queued commands' keys, not the watched ones.
    let queued_keys = keys.len();
    keys.extend(watch.lock_keys());
    let mut txn = match Txn::begin_checking(ctx, keys, queued_keys).await {
        Ok(t) => t,
        Err(e) => return e,
    };
    // WATCH is judged once every key, watched ones included, is locked.
    // A barrier step (RENAME, LMPOP, SMOVE ...) reaches its keys' cores
    // directly, not through this transaction's holders, so it may run
    // only once every lock is held. Otherwise each step waits for its own
    // core's locks.
    let has_barrier = steps.iter().any(|s| matches!(s.spec.run, Run::Barrier(_)));
    if !watch.is_empty() || has_barrier {
        if let Err(e) = txn.locked().await {
            return e;
        }
    }
    if watch.is_broken() {
        txn.end().await;
        return Reply::NullArray;
    }
    let replies = run_steps(ctx, session, &txn, steps).await;
    txn.end().await;
    Reply::Array(replies)
}

/// The steps of `queue` for a client in database `db`, and every key they
/// touch as `(namespace, key)`.
fn plan(mut db: u16, queue: Vec<Queued>) -> (Vec<Step>, Vec<(u16, Vec<u8>)>) {
    let mut dbs = store::current().db_map();
    let ns_of = |dbs: &[u16], db: u16| dbs.get(usize::from(db)).copied().unwrap_or(db);
    let mut steps = Vec::with_capacity(queue.len());
    let mut keys = Vec::new();
    for Queued { spec, argv } in queue {
        let ns = ns_of(&dbs, db);
        for i in command_keys(spec, &argv) {
            if let Some(k) = argv.get(i) {
                keys.push((ns, k.to_vec()));
            }
        }
        if let Some((other, key)) = other_db_key(spec, &argv) {
            keys.push((ns_of(&dbs, other), key));
        }
        match spec.name {
            "select" => {
                if let Some(n) = db_index(argv.get(1)) {
                    db = n;
                }
            }
            "swapdb" => {
                if let (Some(a), Some(b)) = (db_index(argv.get(1)), db_index(argv.get(2))) {
                    dbs.swap(usize::from(a), usize::from(b));
                }
            }
            _ => {}
        }
        steps.push(Step { spec, argv, db, ns });
    }
    (steps, keys)
}

/// A database index argument, if valid.
fn db_index(arg: Option<&[u8]>) -> Option<u16> {
    let n = parse_i64(arg?)?;
    let dbs = i64::from(crate::config::live(|c| c.databases()));
    (0..dbs).contains(&n).then_some(n as u16)
}

/// The key of another database a command writes: MOVE key db, COPY src
/// dst DB db (the only commands that cross databases).
fn other_db_key(spec: &CommandSpec, argv: &Argv) -> Option<(u16, Vec<u8>)> {
    match spec.name {
        "move" => Some((db_index(argv.get(2))?, argv.get(1)?.to_vec())),
        "copy" => {
            // Parsed as the COPY body parses it: the last DB option wins.
            let (mut db, mut i) = (None, 3);
            while i < argv.len() {
                if argv.get(i).is_some_and(|a| a.eq_ignore_ascii_case(b"DB")) && i + 1 < argv.len()
                {
                    db = Some(argv.get(i + 1)?);
                    i += 1;
                }
                i += 1;
            }
            Some((db_index(db)?, argv.get(2)?.to_vec()))
        }
        _ => None,
    }
}

/// Runs the steps in order and returns their replies.
async fn run_steps(
    ctx: &BarrierCtx,
    session: &SharedSession,
    txn: &Txn,
    steps: Vec<Step>,
) -> Vec<Reply> {
    let map = store::current().map();
    let core_of = |s: &Step| map.core_of_slot(key_slot(s.argv.get(1).unwrap_or_default()));
    let mut todo: VecDeque<Step> = steps.into();
    let mut replies = Vec::with_capacity(todo.len());
    while let Some(step) = todo.pop_front() {
        // Rules may have changed since the command was queued (Redis
        // checks again at EXEC).
        if let Err(text) = still_allowed(session, &step) {
            replies.push(Reply::error(text));
            continue;
        }
        stats::count_call(step.spec.name);
        match step.spec.run {
            Run::Key(run) => {
                // Consecutive keyed commands for one core: one hop.
                let core = core_of(&step);
                let key = step.argv.get(1).unwrap_or_default().to_vec();
                let mut batch = vec![(run, step.ns, step.argv)];
                while let Some(next) = todo.front() {
                    let Run::Key(run) = next.spec.run else { break };
                    if core_of(next) != core || still_allowed(session, next).is_err() {
                        break;
                    }
                    let Some(next) = todo.pop_front() else { break };
                    stats::count_call(next.spec.name);
                    batch.push((run, next.ns, next.argv));
                }
                let resp = session.borrow().resp;
                replies.extend(run_key_batch(txn, step.ns, key, resp, batch).await);
            }
            Run::Fanout { .. } => {
                replies.push(fanout::run(txn, step.ns, step.spec, step.argv).await);
            }
            Run::Barrier(f) => {
                let resp = session.borrow().resp;
                let inner = BarrierCtx {
                    db: step.db,
                    ns: step.ns,
                    client_id: ctx.client_id,
                    resp,
                    held: true,
                    asking: ctx.asking,
                };
                replies.push(f(inner, step.argv).await);
            }
            Run::Now(f) => {
                let mut s = session.borrow_mut();
                replies.push(f(&mut s, &step.argv));
            }
        }
    }
    for r in &replies {
        if let Reply::Error(text) = r {
            stats::count_error(text);
        }
    }
    replies
}

/// Whether the session's user may still run `step`, with Redis' EXEC-time
/// `-NOPERM` text if not.
fn still_allowed(session: &SharedSession, step: &Step) -> Result<(), String> {
    use crate::acl::check::{check, Denied};
    let name = step.argv.get(0).unwrap_or_default();
    let container = (!name.eq_ignore_ascii_case(step.spec.name.as_bytes()))
        .then(|| crate::command::lookup(name).map(|c| c.name))
        .flatten();
    let verdict = session
        .borrow_mut()
        .user
        .with_current(|u| check(u, container, step.spec, &step.argv));
    let reason = match verdict {
        Some(Ok(())) => return Ok(()),
        Some(Err(Denied::Key(_))) => "no permission to touch the specified keys",
        Some(Err(Denied::Channel(_))) => {
            "no permission to access one of the channels used as arguments"
        }
        Some(Err(Denied::Command)) | None => "no permission to execute the command or subcommand",
    };
    Err(format!(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"
    ))
}

/// Runs keyed commands of one core there, one after another, in one hop.
async fn run_key_batch(
    txn: &Txn,
    ns: u16,
    key: Vec<u8>,
    resp: u8,
    batch: Vec<(KeyFn, u16, Argv)>,
) -> Vec<Reply> {
    let n = batch.len();
    let ran = txn
        .on_in(ns, &key, move |kctx| {
            Box::pin(async move {
                let mut out = Vec::with_capacity(batch.len());
                for (run, ns, argv) in batch {
                    let ctx = KeyCtx {
                        store: kctx.store.clone(),
                        ns,
                        held: true,
                        resp,
                    };
                    out.push(run(ctx, argv).await);
                }
                out
            })
        })
        .await;
    ran.unwrap_or_else(|e| (0..n).map(|_| e.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Argv {
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        Argv::from_args(&args)
    }

    #[test]
    fn move_and_copy_name_the_key_they_write_in_another_database() {
        let mv = crate::command::lookup(b"move").unwrap();
        let cp = crate::command::lookup(b"copy").unwrap();
        let get = crate::command::lookup(b"get").unwrap();
        // config::live needs no server: the defaults have 16 databases.
        assert_eq!(
            other_db_key(mv, &argv(&["move", "k", "3"])),
            Some((3, b"k".to_vec()))
        );
        assert_eq!(other_db_key(mv, &argv(&["move", "k", "x"])), None);
        assert_eq!(
            other_db_key(cp, &argv(&["copy", "a", "b", "REPLACE", "db", "2"])),
            Some((2, b"b".to_vec()))
        );
        assert_eq!(other_db_key(cp, &argv(&["copy", "a", "b"])), None);
        assert_eq!(other_db_key(get, &argv(&["get", "k"])), None);
    }
}
