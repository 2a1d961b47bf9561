//! Running a multi-key command with all its keys locked, wherever they
//! live: LMOVE, RPOPLPUSH, LMPOP and the blocking list commands.
//!
//! [`with_keys`] locks every key, runs the body, then unlocks:
//! - keys all on one core: the body runs *on* that core, which takes the
//!   locks itself (one hop, no lock tasks: the fast path);
//! - keys on several cores: [`LockSet::acquire`] locks them in the global
//!   order (ascending core, sorted keys), and the body runs at the
//!   connection, visiting each key's core with [`Hops::on`].
//!
//! In both cases [`Hops::on`] hands the step a [`KeyCtx`] with `held`
//! set: every key of the command is locked for the whole body, so no
//! other command on them runs in between (the command is atomic), and a
//! step never takes or waits for a lock itself. This is the shape of the
//! transaction layer (`Txn::begin / on / end`): `Hops::Cores` becomes a
//! `Txn` by a rename.

use super::cross_core::{on_owner, LockSet};
use super::spec::KeyCtx;
use crate::exec::LocalBoxFuture;
use crate::keyspace::key_slot;
use crate::protocol::Reply;
use crate::store::{self, CoreStore};

/// Where a locked multi-key body runs its steps.
pub(crate) enum Hops {
    /// On the one core owning every key, which holds their locks.
    Here {
        /// That core's store.
        store: std::rc::Rc<CoreStore>,
        /// Namespace.
        ns: u16,
        /// Client protocol.
        resp: u8,
    },
    /// At the connection; the keys' cores hold the locks (a [`LockSet`]).
    Cores {
        /// Namespace.
        ns: u16,
        /// Client protocol.
        resp: u8,
    },
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
            Hops::Cores { ns, resp } => {
                let resp = *resp;
                on_owner(*ns, key, move |mut ctx| {
                    ctx.held = true;
                    ctx.resp = resp;
                    step(ctx)
                })
                .await
            }
        }
    }
}

fn held_ctx(store: std::rc::Rc<CoreStore>, ns: u16, resp: u8) -> KeyCtx {
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

/// Runs `body` with every key of `keys` (namespace `ns`) locked; see the
/// module docs.
pub(crate) async fn with_keys<R, B>(
    ns: u16,
    resp: u8,
    keys: Vec<Vec<u8>>,
    body: B,
) -> Result<R, Reply>
where
    R: Send + 'static,
    B: FnOnce(Hops) -> LocalBoxFuture<Result<R, Reply>> + Send + 'static,
{
    if let Some(first) = keys.first().cloned() {
        if single_core(&keys).is_some() {
            return on_owner(ns, &first, move |ctx| {
                Box::pin(async move {
                    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                    let _guards = ctx.store.lock_all(ctx.ns, &refs).await;
                    body(Hops::Here {
                        store: ctx.store.clone(),
                        ns: ctx.ns,
                        resp,
                    })
                    .await
                })
            })
            .await?;
        }
    }
    let locks = LockSet::acquire(keys.into_iter().map(|k| (ns, k)).collect()).await?;
    let result = body(Hops::Cores { ns, resp }).await;
    locks.release().await;
    result
}
