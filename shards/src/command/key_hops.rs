//! Running a multi-key command with all its keys locked, wherever they
//! live: LMOVE, RPOPLPUSH, LMPOP, ZMPOP and the blocking pops (lists and
//! sorted sets).
//!
//! [`with_keys`] locks every key, runs the body, then unlocks:
//! - keys all on one core: the body runs *on* that core, which takes the
//!   locks itself (one hop, no lock tasks: the fast path);
//! - keys on several cores: a [`Txn`] locks them in the global order
//!   (ascending core, sorted keys), and the body runs at the connection,
//!   visiting each key's core with [`Hops::on`];
//! - inside EXEC (`BarrierCtx::held`) the keys are locked already: the
//!   body runs at the connection and locks nothing.
//!
//! In both cases [`Hops::on`] hands the step a [`KeyCtx`] with `held`
//! set: every key of the command is locked for the whole body, so no
//! other command on them runs in between (the command is atomic), and a
//! step never takes or waits for a lock itself.

use std::rc::Rc;

use super::spec::{BarrierCtx, KeyCtx};
use crate::exec::LocalBoxFuture;
use crate::keyspace::key_slot;
use crate::protocol::Reply;
use crate::store::{self, CoreStore};
use crate::txn::Txn;

/// Where a locked multi-key body runs its steps.
pub(crate) enum Hops {
    /// On the one core owning every key, which holds their locks.
    Here {
        /// That core's store.
        store: Rc<CoreStore>,
        /// Namespace.
        ns: u16,
        /// Client protocol.
        resp: u8,
    },
    /// At the connection, in a transaction holding the keys (or inside
    /// EXEC, which holds them already).
    Cores(Rc<Txn>),
}

/// A step of a locked body: runs on a key's owning core.
pub(crate) type Step<R> = Box<dyn FnOnce(KeyCtx) -> LocalBoxFuture<R> + Send>;

impl Hops {
    /// Runs `step` on the core owning `key`, with the locks held.
    pub(crate) async fn on<R: Send + 'static>(
        &self,
        key: &[u8],
        step: Step<R>,
    ) -> Result<R, Reply> {
        match self {
            Hops::Here { store, ns, resp } => Ok(step(held_ctx(store.clone(), *ns, *resp)).await),
            Hops::Cores(txn) => txn.on(key, step).await,
        }
    }
}

fn held_ctx(store: Rc<CoreStore>, ns: u16, resp: u8) -> KeyCtx {
    let mut ctx = KeyCtx::new(store, ns);
    ctx.held = true;
    ctx.resp = resp;
    ctx
}

/// The core owning every key of `keys`, if they share one.
pub(crate) fn single_core(keys: &[Vec<u8>]) -> Option<usize> {
    let map = store::current().map();
    let first = map.core_of_slot(key_slot(keys.first()?));
    keys.iter()
        .all(|k| map.core_of_slot(key_slot(k)) == first)
        .then_some(first)
}

/// Runs `body` with every key of `keys` (the client's database) locked;
/// see the module docs. Inside EXEC (`ctx.held`) nothing is locked again.
pub(crate) async fn with_keys<R, B>(
    ctx: &BarrierCtx,
    keys: Vec<Vec<u8>>,
    body: B,
) -> Result<R, Reply>
where
    R: Send + 'static,
    B: FnOnce(Hops) -> LocalBoxFuture<Result<R, Reply>> + Send + 'static,
{
    let (ns, resp, asking) = (ctx.ns, ctx.resp, ctx.asking);
    if !ctx.held {
        if let Some(core) = single_core(&keys) {
            return frys_runtime::spawn_on(core, move || {
                Box::pin(async move {
                    let store = store::current();
                    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                    let _guards = store.lock_all(ns, &refs).await;
                    // Cluster mode: the slot may have opened or moved since
                    // the request was admitted (see `Txn::begin_checking`).
                    if let Some(text) = crate::cluster::refuse_locked(refs.iter().copied(), asking)
                    {
                        return Err(Reply::error(text));
                    }
                    body(Hops::Here { store, ns, resp }).await
                }) as LocalBoxFuture<Result<R, Reply>>
            })
            .await
            .map_err(|e| Reply::error(format!("ERR internal: core {core} did not answer: {e}")))?;
        }
    }
    let txn = Rc::new(Txn::begin(ctx, keys).await?);
    let result = body(Hops::Cores(txn.clone())).await;
    if let Ok(txn) = Rc::try_unwrap(txn) {
        txn.end().await;
    }
    result
}
