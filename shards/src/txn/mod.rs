//! The transaction layer: every command whose keys may live on several
//! cores (MSETNX, RENAME, COPY, MOVE, LCS, MSET/MGET/DEL/EXISTS over
//! several cores, the collections' multi-key commands) and EXEC run
//! through a [`Txn`]:
//!
//! ```text
//! let txn = Txn::begin(&ctx, keys).await?;   // lock every key, cores ascending
//! txn.on(key, |kctx| ...).await?;            // run on the key's core, kctx.held
//! txn.end().await;                           // release everything
//! ```
//!
//! A body inside `on` reads and writes through its [`KeyCtx`] (`ctx.get`,
//! `ctx.store.put` ...) and must touch only locked keys.
//!
//! # Design: ordered locks, not VLL
//!
//! The issue suggests Dragonfly's VLL: a global sequence number per
//! transaction, an intent queue per shard in that order, a transaction
//! runs when it heads the queue of every shard it touches. We instead take
//! the existing per-key FIFO locks (`store::KeyLocks`) of every key the
//! transaction touches, core by core in ascending core order and sorted
//! within a core ([`LockSet`]), and release them together when the
//! transaction ends (strict two-phase locking).
//!
//! Why: every single-key command already takes these locks (writers) or
//! waits behind them (readers), so a transaction is isolated from them
//! with no new code on their path and no global counter that every core
//! would contend on; a core's own commands keep their lock-free fast path.
//! The acquisition order is global, so transactions cannot deadlock.
//! Conflicts are per key, as with VLL's intent locks: transactions on
//! disjoint keys run concurrently.
//!
//! How: keys all on the connection's core are locked inline and every
//! [`Txn::on`] runs inline: no hop, no task (the fast path); the same for
//! the connection core's share when no lower core has keys. Every other
//! core gets a holder task that takes that core's locks, the lowest core
//! first, each passing the turn to the next once it holds its keys;
//! `begin` returns without waiting for them, and work sent with
//! [`Txn::on`] runs on the holder once its core's keys (hence every lower
//! core's) are locked. So a transaction
//! on one other core pays no round trip for locking (the lock request
//! travels just ahead of its first piece of work), one on `k` cores pays
//! `k` one-way hops before its last core runs, and each `on` is one round
//! trip. MSET, MGET, DEL, EXISTS, TOUCH and UNLINK whose keys are all on
//! one core do not use this layer at all (the pipeline sends them to that
//! core as before).
//!
//! Costs against VLL: locking is sequential over the cores (VLL enqueues
//! on all shards in one parallel hop), a transaction's keys stay blocked
//! while it runs, including the hops of its `on` calls, and each locked
//! key is a lock-table entry; a transaction on several cores also costs a
//! task and two small channels per core. In exchange nothing is added to
//! the single-key path and no counter is shared by the cores.
//!
//! # Isolation
//!
//! While a [`Txn`] holds its locks, no other command that writes one of
//! its keys runs (writers take the key's lock), and no other command reads
//! one (readers wait behind lock holders), on any core. A key is locked
//! before the transaction first reads or writes it, and no lock is
//! released before its last read or write (strict two-phase locking). So
//! every transaction is serialisable against every keyed command and every
//! other transaction, and no client observes part of one. Not covered: commands without keys that walk a
//! whole database (KEYS, SCAN, DBSIZE, RANDOMKEY, INFO keyspace) read
//! without locks and may see a multi-core transaction half applied;
//! FLUSHDB, FLUSHALL and SWAPDB apply core by core and are not serialised
//! with transactions running at the same time. Crash atomicity across
//! cores is not provided: each partition has its own WAL.
//!
//! Inside EXEC ([`exec`]) the union of the keys of every queued command
//! (and the watched keys) is locked once; each queued command then runs
//! with `held` set (`KeyCtx::held`, `BarrierCtx::held`), so it neither
//! locks nor waits for a key, and a barrier body's own `Txn::begin` locks
//! nothing.

pub mod exec;
pub mod fanout;
mod lock_set;
pub mod multi;
pub mod watch;

use frys_runtime::channel;

use crate::command::{BarrierCtx, KeyCtx};
use crate::exec::LocalBoxFuture;
use crate::keyspace::key_slot;
use crate::protocol::Reply;
use crate::store;

pub use lock_set::LockSet;

/// A set of keys locked on their owning cores, and the way to run work on
/// those cores with the locks held.
///
/// `Txn` is `!Send`: it lives in the connection's task, where the command
/// runs.
pub struct Txn {
    locks: LockSet,
    ns: u16,
    /// The client's protocol, for the bodies' `KeyCtx::resp`.
    resp: u8,
}

impl Txn {
    /// Locks `keys` of `ctx.ns` on their owning cores; nothing when
    /// `ctx.held` (the caller, EXEC, already holds them).
    ///
    /// # Errors
    /// An error reply when a core could not take the locks.
    pub async fn begin(ctx: &BarrierCtx, keys: Vec<Vec<u8>>) -> Result<Txn, Reply> {
        let ns = ctx.ns;
        Txn::begin_in(ctx, keys.into_iter().map(|k| (ns, k)).collect()).await
    }

    /// [`Txn::begin`] for keys of several namespaces (`(ns, key)`): COPY
    /// ... DB and MOVE touch a key of another database.
    pub async fn begin_in(ctx: &BarrierCtx, keys: Vec<(u16, Vec<u8>)>) -> Result<Txn, Reply> {
        let request = keys.len();
        Txn::begin_checking(ctx, keys, request).await
    }

    /// [`Txn::begin_in`] where only the first `request` keys are the
    /// request's own (EXEC adds the watched keys after its queue's). In
    /// cluster mode, once every key is locked, those keys are checked
    /// again against the node's current view
    /// ([`crate::cluster::refuse_locked`]): the slot may have been opened
    /// or given away since the dispatcher admitted the request, and then
    /// nothing runs and the refusal (`TRYAGAIN`, `ASK`, `MOVED` ...) is
    /// the error.
    ///
    /// # Errors
    /// The refusal, or an error reply when a core could not take the
    /// locks.
    pub(crate) async fn begin_checking(
        ctx: &BarrierCtx,
        keys: Vec<(u16, Vec<u8>)>,
        request: usize,
    ) -> Result<Txn, Reply> {
        if ctx.held {
            return Ok(Txn {
                locks: LockSet::none(),
                ns: ctx.ns,
                resp: ctx.resp,
            });
        }
        if !crate::cluster::enabled() {
            return Ok(Txn::lock(ctx.ns, ctx.resp, keys).await);
        }
        let checked: Vec<Vec<u8>> = keys.iter().take(request).map(|(_, k)| k.clone()).collect();
        let mut txn = Txn::lock(ctx.ns, ctx.resp, keys).await;
        txn.locked().await?;
        let refs = checked.iter().map(Vec::as_slice);
        if let Some(text) = crate::cluster::refuse_locked(refs, ctx.asking) {
            txn.end().await;
            return Err(Reply::error(text));
        }
        Ok(txn)
    }

    /// Locks `keys` (`(ns, key)`) for a client of namespace `ns` speaking
    /// RESP `resp`, from any core: a keyed command that finds it needs
    /// keys of other cores (a plugin call whose new version, after a
    /// RELOAD, declares other keys) starts its transaction here. The
    /// caller must hold no key lock (the global order would not hold).
    pub async fn lock(ns: u16, resp: u8, keys: Vec<(u16, Vec<u8>)>) -> Txn {
        Txn {
            locks: LockSet::acquire(keys).await,
            ns,
            resp,
        }
    }

    /// Begins a transaction over `keys` of `ctx.ns`, runs `body` in it and
    /// ends it: the whole life of a multi-key command.
    ///
    /// # Errors
    /// `body`'s error, or an error reply when the keys could not be locked.
    pub async fn run<T, F>(ctx: &BarrierCtx, keys: Vec<Vec<u8>>, body: F) -> Result<T, Reply>
    where
        F: AsyncFnOnce(&Txn) -> Result<T, Reply>,
    {
        let ns = ctx.ns;
        Txn::run_in(ctx, keys.into_iter().map(|k| (ns, k)).collect(), body).await
    }

    /// [`Txn::run`] for keys of several namespaces.
    pub async fn run_in<T, F>(
        ctx: &BarrierCtx,
        keys: Vec<(u16, Vec<u8>)>,
        body: F,
    ) -> Result<T, Reply>
    where
        F: AsyncFnOnce(&Txn) -> Result<T, Reply>,
    {
        let txn = Txn::begin_in(ctx, keys).await?;
        let result = body(&txn).await;
        txn.end().await;
        result
    }

    /// The namespace of [`Txn::begin`]'s keys.
    pub fn ns(&self) -> u16 {
        self.ns
    }

    /// Waits until every key is locked. [`Txn::on`] needs no such wait
    /// (its work runs once its core's keys are locked); a caller that
    /// decides from something other than the keys' values (EXEC checking
    /// WATCH) does.
    ///
    /// # Errors
    /// An error reply when a core could not take its locks.
    pub async fn locked(&mut self) -> Result<(), Reply> {
        self.locks.locked().await
    }

    /// Runs `f` on the core owning `key` with a [`KeyCtx`] for the
    /// transaction's namespace whose `held` is true, once that core holds
    /// the transaction's keys; inline (no hop) when the key is on this
    /// core and was locked inline (or by the caller). `key` must be one
    /// of the locked keys.
    ///
    /// # Errors
    /// An error reply when the owning core did not answer.
    pub async fn on<R, F>(&self, key: &[u8], f: F) -> Result<R, Reply>
    where
        R: Send + 'static,
        F: FnOnce(KeyCtx) -> LocalBoxFuture<R> + Send + 'static,
    {
        self.on_in(self.ns, key, f).await
    }

    /// [`Txn::on`] for a key of namespace `ns`.
    pub async fn on_in<R, F>(&self, ns: u16, key: &[u8], f: F) -> Result<R, Reply>
    where
        R: Send + 'static,
        F: FnOnce(KeyCtx) -> LocalBoxFuture<R> + Send + 'static,
    {
        let store = store::current();
        let core = store.map().core_of_slot(key_slot(key));
        let resp = self.resp;
        let no_answer = || Reply::error(format!("ERR internal: core {core} did not answer"));
        if self.locks.holds_on(core) {
            // To the core's holder, which runs it with the keys locked.
            let (mut tx, mut rx) = channel::bounded::<R>(1);
            let job: lock_set::Job = Box::new(move |store| {
                Box::pin(async move {
                    let r = f(held_ctx(store, ns, resp)).await;
                    let _ = tx.send(r).await;
                })
            });
            self.locks.send(core, job).await?;
            return rx.recv().await.ok_or_else(no_answer);
        }
        // The keys are locked here, or by the caller (EXEC).
        if core == store.core() {
            return Ok(f(held_ctx(store, ns, resp)).await);
        }
        frys_runtime::spawn_on(core, move || f(held_ctx(store::current(), ns, resp)))
            .await
            .map_err(|_| no_answer())
    }

    /// Releases every lock.
    pub async fn end(self) {
        self.locks.release();
    }
}

fn held_ctx(store: std::rc::Rc<store::CoreStore>, ns: u16, resp: u8) -> KeyCtx {
    KeyCtx {
        store,
        ns,
        held: true,
        resp,
    }
}
