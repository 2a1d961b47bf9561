//! Running a sorted-set command whose keys may live on several cores
//! (ZUNION/ZINTER/ZDIFF and their STORE forms, ZINTERCARD, ZRANGESTORE;
//! ZMPOP and the blocking pops use `key_hops`, as the list commands do,
//! which works the same way). They are barrier commands: the connection
//! parses them, finds their keys, locks them all, and holds the locks
//! until the reply.
//!
//! - All keys on one core: the whole body runs there, in one hop, with
//!   the keys locked by that core's lock table. No extra cost.
//! - Keys on several cores (or inside EXEC, which holds them): the keys
//!   are locked by a [`Txn`] (core by core in ascending order: no
//!   deadlock), the body runs at the connection, and each step that
//!   touches a key runs on its owner through [`Txn::on`]: inputs are read there, the
//!   result is computed at the connection, the destination is written on
//!   its owner. No other command on those keys runs in between, so the
//!   command is atomic for other clients (not crash-atomic across cores:
//!   each partition has its own WAL, as for RENAME).
//!
//! Either way a step gets a [`KeyCtx`] whose `held` is true, so the
//! single-key functions it calls take no locks of their own.

use std::rc::Rc;

use crate::command::{BarrierCtx, KeyCtx};
use crate::exec::LocalBoxFuture;
use crate::keyspace::key_slot;
use crate::protocol::{parse_i64, Argv, Reply};
use crate::store::{self, CoreStore};
use crate::txn::Txn;

/// How a multi-key body reaches its (locked) keys.
pub enum Reach {
    /// Every key is on this core.
    Here {
        /// This core's store.
        store: Rc<CoreStore>,
        /// The client's namespace.
        ns: u16,
        /// The client's protocol.
        resp: u8,
    },
    /// The keys are on several cores, locked by a transaction (or by
    /// EXEC, which holds them already).
    Owners {
        /// The transaction holding the keys.
        txn: Rc<Txn>,
        /// The client's protocol.
        resp: u8,
    },
}

impl Reach {
    /// The client's protocol (2 or 3).
    pub fn resp(&self) -> u8 {
        match self {
            Reach::Here { resp, .. } | Reach::Owners { resp, .. } => *resp,
        }
    }

    /// Runs `step` on the core owning `key`, with a context that holds the
    /// key's lock.
    pub async fn on<R, F>(&self, key: &[u8], step: F) -> Result<R, Reply>
    where
        R: Send + 'static,
        F: FnOnce(KeyCtx) -> LocalBoxFuture<R> + Send + 'static,
    {
        match self {
            Reach::Here { store, ns, resp } => {
                let mut ctx = KeyCtx::new(store.clone(), *ns);
                ctx.held = true;
                ctx.resp = *resp;
                Ok(step(ctx).await)
            }
            Reach::Owners { txn, .. } => txn.on(key, step).await,
        }
    }
}

/// Locks `keys` of the client's database and runs `body` with them held
/// (see the module docs for where it runs); the locks are released when
/// the body's reply is ready.
pub async fn with_keys<F>(ctx: &BarrierCtx, keys: Vec<Vec<u8>>, body: F) -> Reply
where
    F: FnOnce(Reach) -> LocalBoxFuture<Reply> + Send + 'static,
{
    let map = store::current().map();
    let (ns, resp, asking) = (ctx.ns, ctx.resp, ctx.asking);
    let mut cores = keys.iter().map(|k| map.core_of_slot(key_slot(k)));
    let first = cores.next().unwrap_or(0);
    if !ctx.held && cores.all(|c| c == first) {
        let hop = frys_runtime::spawn_on(first, move || {
            Box::pin(async move {
                let store = store::current();
                let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                let _guards = store.lock_all(ns, &refs).await;
                // Cluster mode: the slot may have opened or moved since
                // the request was admitted (see `Txn::begin_checking`).
                if let Some(text) = crate::cluster::refuse_locked(refs.iter().copied(), asking) {
                    return Reply::error(text);
                }
                body(Reach::Here { store, ns, resp }).await
            }) as LocalBoxFuture<Reply>
        });
        return hop.await.unwrap_or_else(|e| {
            Reply::error(format!("ERR internal: core {first} did not answer: {e}"))
        });
    }
    let txn = match Txn::begin(ctx, keys).await {
        Ok(t) => Rc::new(t),
        Err(e) => return e,
    };
    let reply = body(Reach::Owners {
        txn: txn.clone(),
        resp,
    })
    .await;
    if let Ok(txn) = Rc::try_unwrap(txn) {
        txn.end().await;
    }
    reply
}

/// The input keys of a `numkeys key [key ...]` command whose count is at
/// `argv[at]`, as Redis' key finder sees them: none when the count is not
/// a number from 1 to the arguments left (the command then refuses its
/// arguments without touching a key).
pub fn numkeys_keys(argv: &Argv, at: usize) -> Vec<Vec<u8>> {
    let n = argv.get(at).and_then(parse_i64).unwrap_or(0);
    let left = argv.len().saturating_sub(at + 1);
    if n < 1 || n as u64 > left as u64 {
        return Vec::new();
    }
    argv.iter()
        .skip(at + 1)
        .take(n as usize)
        .map(<[u8]>::to_vec)
        .collect()
}
