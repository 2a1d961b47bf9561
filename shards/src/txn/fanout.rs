//! Fan-out commands (MGET, MSET, DEL, EXISTS, TOUCH, UNLINK): split by
//! owning core, parts run there, replies merged.
//!
//! The pipeline sends a fan-out whose keys are all on one core to that
//! core as one command (no split, no merge, no transaction). One whose
//! keys span cores runs here, as a barrier, through a [`Txn`]: every key
//! is locked first, then the parts run on their cores at the same time
//! (each with `held`), then the locks are released; so no client sees an
//! MSET half applied or an MGET read half before a concurrent transaction.

use crate::command::{BarrierCtx, CommandSpec, KeyFn, Merge, Run};
use crate::exec::{join_all, LocalBoxFuture};
use crate::keyspace::{key_slot, PartitionMap};
use crate::protocol::{Argv, Reply};

use super::Txn;

/// One core's part of a fan-out.
pub struct Part {
    /// Its arguments: the command name, then its keys (and values).
    pub argv: Argv,
    /// The request's key numbers (0-based, request order) it answers.
    pub keys: Vec<usize>,
}

/// The core owning every key of `argv`, or `None` when they span cores.
pub fn single_core(spec: &CommandSpec, argv: &Argv, map: PartitionMap) -> Option<usize> {
    let mut core = None;
    for pos in spec.keys.positions(argv.len()) {
        let c = map.core_of_slot(key_slot(argv.get(pos)?));
        if *core.get_or_insert(c) != c {
            return None;
        }
    }
    core
}

/// Splits a fan-out request by owning core (cores ascending); also returns
/// how many keys it has.
pub fn split(spec: &CommandSpec, argv: &Argv, map: PartitionMap) -> (Vec<Part>, usize) {
    let step = spec.keys.step.max(1) as usize;
    let name = argv.get(0).unwrap_or_default();
    // Per core: the part's arguments and the request's key numbers.
    type Building<'a> = Option<(Vec<&'a [u8]>, Vec<usize>)>;
    let mut parts: Vec<Building> = (0..usize::from(map.cores())).map(|_| None).collect();
    let mut nkeys = 0;
    for (k, pos) in spec.keys.positions(argv.len()).enumerate() {
        let Some(key) = argv.get(pos) else { continue };
        let core = map.core_of_slot(key_slot(key));
        let Some(slot) = parts.get_mut(core) else {
            continue;
        };
        let (args, keys) = slot.get_or_insert_with(|| (vec![name], Vec::new()));
        args.extend((pos..pos + step).filter_map(|i| argv.get(i)));
        keys.push(k);
        nkeys = k + 1;
    }
    let parts = parts
        .into_iter()
        .flatten()
        .map(|(args, keys)| Part {
            argv: Argv::from_args(&args),
            keys,
        })
        .collect();
    (parts, nkeys)
}

/// Runs fan-out `argv` of namespace `ns` through `txn` (which holds, or
/// whose caller holds, every key): all parts at once, then merged.
pub async fn run(txn: &Txn, ns: u16, spec: &CommandSpec, argv: Argv) -> Reply {
    let Run::Fanout { part, merge } = spec.run else {
        return Reply::error("ERR internal: not a fan-out command");
    };
    let map = crate::store::current().map();
    let (parts, nkeys) = split(spec, &argv, map);
    let mut keys_of_parts = Vec::with_capacity(parts.len());
    let mut runs = Vec::with_capacity(parts.len());
    for p in parts {
        let first = p.argv.get(1).unwrap_or_default().to_vec();
        keys_of_parts.push(p.keys);
        runs.push(run_part(txn, ns, first, part, p.argv));
    }
    let mut merger = Merger::new(merge, nkeys);
    for (reply, keys) in join_all(runs).await.into_iter().zip(keys_of_parts) {
        merger.absorb(reply, &keys);
    }
    merger.finish()
}

async fn run_part(txn: &Txn, ns: u16, key: Vec<u8>, part: KeyFn, argv: Argv) -> Reply {
    match txn.on_in(ns, &key, move |kctx| part(kctx, argv)).await {
        Ok(r) | Err(r) => r,
    }
}

/// A fan-out over several cores, as a barrier: lock, run, release.
pub fn run_atomic(
    ctx: BarrierCtx,
    spec: &'static CommandSpec,
    argv: Argv,
) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let keys = spec
            .keys
            .positions(argv.len())
            .filter_map(|i| argv.get(i))
            .map(<[u8]>::to_vec)
            .collect();
        let txn = match Txn::begin(&ctx, keys).await {
            Ok(t) => t,
            Err(e) => return e,
        };
        let reply = run(&txn, ctx.ns, spec, argv).await;
        txn.end().await;
        reply
    })
}

/// Combines the parts' replies.
struct Merger {
    kind: Merge,
    sum: i64,
    error: Option<Reply>,
    per_key: Vec<Option<Reply>>,
}

impl Merger {
    fn new(kind: Merge, nkeys: usize) -> Merger {
        Merger {
            kind,
            sum: 0,
            error: None,
            per_key: (0..nkeys).map(|_| None).collect(),
        }
    }

    fn absorb(&mut self, reply: Reply, keys: &[usize]) {
        if self.error.is_some() {
            return;
        }
        match (self.kind, reply) {
            (_, e @ Reply::Error(_)) => self.error = Some(e),
            (Merge::Sum, Reply::Integer(n)) => self.sum += n,
            (Merge::Ok, _) => {}
            (Merge::PerKey, Reply::Array(items)) => {
                for (k, item) in keys.iter().zip(items) {
                    if let Some(slot) = self.per_key.get_mut(*k) {
                        *slot = Some(item);
                    }
                }
            }
            (_, other) => {
                self.error = Some(Reply::Error(
                    format!("ERR internal: unexpected part reply {other:?}").into(),
                ))
            }
        }
    }

    fn finish(self) -> Reply {
        if let Some(e) = self.error {
            return e;
        }
        match self.kind {
            Merge::Sum => Reply::Integer(self.sum),
            Merge::Ok => Reply::ok(),
            Merge::PerKey => Reply::Array(
                self.per_key
                    .into_iter()
                    .map(|r| r.unwrap_or(Reply::Null))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keep_pairs_together_and_merging_restores_key_order() {
        let spec = crate::command::lookup(b"mset").unwrap();
        let map = PartitionMap::new(16, 2);
        let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        let mut args: Vec<&[u8]> = vec![b"mset"];
        for k in &keys {
            args.push(k.as_bytes());
            args.push(b"v");
        }
        let (parts, nkeys) = split(spec, &Argv::from_args(&args), map);
        assert_eq!(nkeys, 40);
        assert_eq!(parts.len(), 2, "40 keys hit both cores");
        let total: usize = parts.iter().map(|p| p.keys.len()).sum();
        assert_eq!(total, 40);
        for p in &parts {
            assert_eq!(p.argv.len(), 1 + 2 * p.keys.len());
        }
        let mut m = Merger::new(Merge::PerKey, 3);
        m.absorb(Reply::Array(vec![Reply::Integer(2)]), &[2]);
        m.absorb(
            Reply::Array(vec![Reply::Integer(0), Reply::Integer(1)]),
            &[0, 1],
        );
        assert_eq!(
            m.finish(),
            Reply::Array(vec![
                Reply::Integer(0),
                Reply::Integer(1),
                Reply::Integer(2)
            ])
        );
    }
}
