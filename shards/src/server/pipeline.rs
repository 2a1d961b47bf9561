//! Executing the requests of one read of a connection: parse where the
//! connection is, execute where the key is.
//!
//! Requests are dispatched in order. A command run at the connection
//! ([`Run::Now`]) answers at once. Keyed commands, and fan-out commands
//! whose keys all live on one core, are queued per owning core; the queues
//! of all cores are sent together (one mesh message per core per segment)
//! and awaited together, so a pipeline's commands for different cores are
//! in flight at the same time. A barrier command ([`Run::Barrier`]) first
//! waits for everything before it; so does a fan-out whose keys span
//! cores, which then runs atomically through the transaction layer
//! (`txn::fanout`). Replies are put back in request order.
//!
//! Inside MULTI a command is checked (existence, arity, authentication,
//! `no_multi`) and queued in the session instead of run (`txn::multi`);
//! a refused one flags the transaction. EXEC is a barrier: it runs the
//! queue after every earlier request of the pipeline has its reply.
//!
//! Ordering: the commands of one queue run concurrently on their core but
//! are first polled in queue order, and a writer holds its key's lock from
//! its first poll until acknowledged, so commands on one key take effect
//! in pipeline order.

use std::sync::Arc;

use frys_plugins::Plugin;

use crate::acl;
use crate::command::{self, BarrierCtx, BarrierFn, CommandSpec, KeyCtx, KeyFn, Run};
use crate::errors;
use crate::exec::{join_all, LocalBoxFuture};
use crate::keyspace::key_slot;
use crate::protocol::{Argv, Reply};
use crate::server::stats;
use crate::session::{Session, SharedSession};
use crate::store;
use crate::txn::{fanout, multi};

/// Reply bytes one call of [`execute`] may hold before it stops and hands
/// the rest of the requests back (the connection writes first), so a
/// client that pipelines large reads without reading bounds the memory.
const REPLY_BUDGET: usize = 8 << 20;
/// Queued keyed commands that first make a segment run (then twice as
/// many each time): large replies are seen before many are in flight.
const FIRST_FLUSH: usize = 16;

/// What runs a queued command.
enum Runner {
    /// A built-in command's key function.
    Key(KeyFn),
    /// A plugin command, in the version it was routed and ACL-checked by
    /// (a PLUGIN RELOAD in between does not change what it touches).
    Plugin(Arc<Plugin>, usize),
}

/// One command queued for a core.
pub struct BatchItem {
    run: Runner,
    /// The command's name (its time is counted under it).
    name: &'static str,
    /// Namespace resolved at dispatch (see `KeyCtx::ns`).
    ns: u16,
    /// The client's protocol at dispatch.
    resp: u8,
    argv: Argv,
    /// Cluster mode: the check the owning core makes again.
    owner_check: Option<super::open_slot::OwnerCheck>,
}

struct Segment {
    cores: usize,
    batches: Vec<Vec<BatchItem>>,
    /// Per core, the request index each queued command answers.
    targets: Vec<Vec<usize>>,
}

impl Segment {
    fn new(cores: usize) -> Segment {
        Segment {
            cores,
            batches: (0..cores).map(|_| Vec::new()).collect(),
            targets: (0..cores).map(|_| Vec::new()).collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.batches.iter().all(|b| b.is_empty())
    }

    fn len(&self) -> usize {
        self.batches.iter().map(Vec::len).sum()
    }

    fn push(&mut self, core: usize, item: BatchItem, idx: usize) {
        if let (Some(b), Some(t)) = (self.batches.get_mut(core), self.targets.get_mut(core)) {
            b.push(item);
            t.push(idx);
        }
    }

    /// Sends every queue, waits for all replies, and stores them.
    async fn run(&mut self, here: usize, replies: &mut [Option<Reply>]) {
        let batches = std::mem::replace(
            &mut self.batches,
            (0..self.cores).map(|_| Vec::new()).collect(),
        );
        let targets = std::mem::replace(
            &mut self.targets,
            (0..self.cores).map(|_| Vec::new()).collect(),
        );
        let mut futures: Vec<LocalBoxFuture<Vec<Reply>>> = Vec::new();
        let mut order: Vec<Vec<usize>> = Vec::new();
        for (core, (batch, targets)) in batches.into_iter().zip(targets).enumerate() {
            if batch.is_empty() {
                continue;
            }
            let n = batch.len();
            if core == here {
                futures.push(Box::pin(run_batch(batch)));
            } else {
                stats::count_forwarded(core, n);
                futures.push(Box::pin(async move {
                    match frys_runtime::spawn_on(core, move || run_batch(batch)).await {
                        Ok(replies) => replies,
                        Err(e) => {
                            let text = format!("ERR internal: core {core} did not answer: {e}");
                            (0..n).map(|_| Reply::Error(text.clone().into())).collect()
                        }
                    }
                }));
            }
            order.push(targets);
        }
        let results = join_all(futures).await;
        for (targets, answers) in order.into_iter().zip(results) {
            for (idx, reply) in targets.into_iter().zip(answers) {
                replies_set(replies, idx, reply);
            }
        }
    }
}

fn replies_set(replies: &mut [Option<Reply>], idx: usize, reply: Reply) {
    if let Some(slot) = replies.get_mut(idx) {
        *slot = Some(reply);
    }
}

/// Runs the queue of one core, on that core.
async fn run_batch(items: Vec<BatchItem>) -> Vec<Reply> {
    let store = store::current();
    let futures: Vec<_> = items
        .into_iter()
        .map(|item| {
            let mut ctx = KeyCtx::new(store.clone(), item.ns);
            ctx.resp = item.resp;
            let runner = item.run;
            let run = move |ctx: KeyCtx, argv: Argv| match runner {
                Runner::Key(run) => run(ctx, argv),
                Runner::Plugin(plugin, cmd) => crate::plugin::call::run(ctx, plugin, cmd, argv),
            };
            let reply = super::open_slot::run(run, ctx, item.argv, item.owner_check);
            stats::Timed::new(item.name, reply)
        })
        .collect();
    join_all(futures).await
}

/// What the dispatcher decided for one request.
enum Route {
    Reply(Reply),
    /// The connection closes without answering (SHUTDOWN).
    NoReply,
    Queued,
    /// Runs at the connection after every earlier request has its reply.
    /// With the client's ASKING flag as the cluster check saw it.
    Barrier(BarrierFn, &'static str, Argv, bool),
    /// A fan-out whose keys span cores: a barrier, atomic across them.
    AtomicFanout(&'static CommandSpec, Argv, bool),
    /// A plugin call whose keys span cores, in the version it was routed
    /// and ACL-checked by: a barrier, atomic across them.
    PluginBarrier(Arc<Plugin>, usize, Argv),
}

/// One request's reply, with what its encoding and output limit depend
/// on at the moment its command ran.
pub struct Answer {
    pub reply: Reply,
    /// The RESP version it is encoded in (HELLO changes it mid-pipeline).
    pub resp: u8,
    /// Whether the client was subscribed: its output limit class (see
    /// `output_limit::Class`; a (P|S)SUBSCRIBE's own confirmations count
    /// under the class from before it, as Redis sets `CLIENT_PUBSUB`
    /// after adding them).
    pub subscribed: bool,
}

/// Executes `requests` for `session` and returns one [`Answer`] per
/// request run, in order. After QUIT or CLIENT KILL the remaining
/// requests are not run and have no reply. Once the replies exceed
/// `REPLY_BUDGET`, the requests not yet run are left in `requests` for
/// the caller to execute after writing these replies.
pub async fn execute(session: &SharedSession, requests: &mut Vec<Argv>) -> Vec<Answer> {
    let started = std::time::Instant::now();
    let here = frys_runtime::current_core().unwrap_or(0);
    let store = store::current();
    let map = store.map();
    let mut segment = Segment::new(usize::from(map.cores()));
    let mut replies: Vec<Option<Reply>> = (0..requests.len()).map(|_| None).collect();
    let mut states: Vec<(u8, bool)> = Vec::with_capacity(requests.len());
    let mut flush_at = FIRST_FLUSH;
    // A client whose batch would break its output hard limit is cut at
    // the limit, not after the whole budget was built.
    let class = super::output_limit::Class::of(session.borrow().pubsub.is_subscribed());
    let budget = super::output_limit::reply_budget(class, REPLY_BUDGET);
    let mut run = 0;
    let mut todo = std::mem::take(requests).into_iter();
    for (idx, argv) in todo.by_ref().enumerate() {
        run = idx + 1;
        let route = {
            let mut s = session.borrow_mut();
            let subscribed = s.pubsub.is_subscribed();
            let r = route(&mut s, &mut segment, idx, argv);
            states.push((s.resp, subscribed));
            r
        };
        match route {
            Route::Reply(r) => replies[idx] = Some(r),
            Route::NoReply | Route::Queued => {}
            Route::Barrier(..) | Route::AtomicFanout(..) | Route::PluginBarrier(..) => {
                if !segment.is_empty() {
                    segment.run(here, &mut replies).await;
                }
                let asking = match route {
                    Route::Barrier(.., asking) | Route::AtomicFanout(.., asking) => asking,
                    _ => false,
                };
                let ctx = {
                    let s = session.borrow();
                    BarrierCtx {
                        db: s.db,
                        ns: store::current().ns_of(s.db),
                        client_id: s.id,
                        resp: s.resp,
                        held: false,
                        asking,
                    }
                };
                let reply = match route {
                    Route::Barrier(f, name, argv, _) => stats::Timed::new(name, f(ctx, argv)).await,
                    Route::AtomicFanout(spec, argv, _) => {
                        stats::Timed::new(spec.name, fanout::run_atomic(ctx, spec, argv)).await
                    }
                    Route::PluginBarrier(plugin, cmd, argv) => {
                        let call = crate::plugin::cross::run(ctx, plugin, cmd, argv);
                        stats::Timed::new(PLUGIN_CALL, call).await
                    }
                    _ => Reply::error("ERR internal: not a barrier"),
                };
                replies[idx] = Some(reply);
                if reply_bytes(&replies) > budget {
                    break;
                }
            }
        }
        if session.borrow().closing {
            break;
        }
        if segment.len() >= flush_at {
            segment.run(here, &mut replies).await;
            flush_at = flush_at.saturating_mul(2);
            if reply_bytes(&replies) > budget {
                break;
            }
        }
    }
    if !session.borrow().closing {
        *requests = todo.collect();
    }
    replies.truncate(run);
    if !segment.is_empty() {
        segment.run(here, &mut replies).await;
    }
    let out: Vec<Answer> = replies
        .into_iter()
        .map_while(|r| r)
        .zip(states)
        .map(|(reply, (resp, subscribed))| Answer {
            reply,
            resp,
            subscribed,
        })
        .collect();
    for a in &out {
        if let Reply::Error(text) = &a.reply {
            stats::count_error(text);
        }
    }
    stats::record_latency(started.elapsed().as_micros() as u64, out.len());
    out
}

/// About how many bytes `replies` take encoded.
fn reply_bytes(replies: &[Option<Reply>]) -> usize {
    fn size(r: &Reply) -> usize {
        match r {
            Reply::Simple(t) | Reply::Error(t) => t.len(),
            Reply::Bulk(b) | Reply::Verbatim { text: b, .. } | Reply::Encoded(b) => b.len(),
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                items.iter().map(size).sum()
            }
            Reply::Map(pairs) => pairs.iter().map(|(k, v)| size(k) + size(v)).sum(),
            _ => 0,
        }
    }
    replies.iter().flatten().map(size).sum()
}

/// Looks the request up, checks it, and either answers it, queues it for
/// the owning cores or the MULTI queue, or asks for a barrier.
fn route(session: &mut Session, segment: &mut Segment, idx: usize, argv: Argv) -> Route {
    let Some(name) = argv.get(0) else {
        return reject(session, None, errors::unknown_command(b"", []));
    };
    session.last_interaction = std::time::Instant::now();
    let Some(top) = command::lookup(name) else {
        if let Some((plugin, cmd)) = crate::plugin::lookup(name) {
            return route_plugin(session, segment, idx, argv, plugin, cmd);
        }
        let args: Vec<&[u8]> = argv.iter().skip(1).collect();
        return reject(session, None, errors::unknown_command(name, args));
    };
    let mut container = None;
    if !command::arity_ok(top, argv.len()) {
        return reject(
            session,
            Some(top),
            errors::wrong_number_of_arguments(top.name),
        );
    }
    let mut spec = top;
    // A container whose arity allows no subcommand (COMMAND) runs its own body.
    if !top.subcommands.is_empty() && argv.len() > 1 {
        let sub_name = argv.get(1).unwrap_or_default();
        let Some(sub) = command::lookup_sub(top, sub_name) else {
            let text = errors::unknown_subcommand(top.name.as_bytes(), sub_name);
            return reject(session, Some(top), text);
        };
        if !command::arity_ok(sub, argv.len()) {
            let text = errors::wrong_number_of_arguments(&format!("{}|{}", top.name, sub.name));
            return reject(session, Some(top), text);
        }
        container = Some(spec.name);
        spec = sub;
    }
    if !session.authenticated && !spec.flags.contains(&"no_auth") && !acl::default_admits_anyone() {
        return reject(session, Some(top), errors::NOAUTH.to_string());
    }
    if session.multi.is_some() && multi::refused_inside_multi(spec) {
        return reject(session, Some(top), errors::NOT_ALLOWED_IN_MULTI.to_string());
    }
    if let Err(denied) = crate::acl::check::check_session(session, container, spec, &argv) {
        return match denied {
            Some(text) => reject(session, Some(top), text),
            None => {
                // Its user was deleted: the client is disconnected.
                session.closing = true;
                session.close_without_reply = true;
                Route::NoReply
            }
        };
    }
    let asking = match super::cluster_gate::refuse(session, spec, &argv) {
        Ok(asking) => asking,
        Err(refused) => return Route::Reply(refused),
    };
    let owner_check = || {
        crate::cluster::enabled().then(|| super::open_slot::OwnerCheck {
            keys: command::command_keys(spec, &argv),
            asking,
            shard_pubsub: super::cluster_gate::is_shard_pubsub(spec),
        })
    };
    // Redis' RESP2 subscribed mode: only pushes can be told from replies.
    if session.resp == 2 && session.pubsub.is_subscribed() {
        let allowed = container.is_none() && crate::pubsub::allowed_while_subscribed(spec.name);
        if !allowed {
            let full =
                container.map_or_else(|| spec.name.to_string(), |c| format!("{c}|{}", spec.name));
            return reject(session, Some(top), errors::only_subscribe_allowed(&full));
        }
    }
    session.last_cmd = spec.name;
    if session.multi.is_some() && !multi::runs_at_once(top) {
        if let Some(m) = session.multi.as_mut() {
            m.queue(spec, argv);
        }
        return Route::Reply(Reply::queued());
    }
    stats::count_call(spec.name);
    let store = store::current();
    let map = store.map();
    match spec.run {
        Run::Now(f) => {
            let started = std::time::Instant::now();
            let reply = f(session, &argv);
            stats::record_usec(spec.name, started.elapsed().as_micros() as u64);
            if session.close_without_reply {
                Route::NoReply
            } else {
                Route::Reply(reply)
            }
        }
        Run::Barrier(f) => Route::Barrier(f, spec.name, argv, asking),
        Run::Key(run) => {
            let slot = argv.get(1).map(key_slot).unwrap_or(0);
            let core = map.core_of_slot(slot);
            let ns = store.ns_of(session.db);
            let resp = session.resp;
            let owner_check = owner_check();
            segment.push(
                core,
                BatchItem {
                    run: Runner::Key(run),
                    name: spec.name,
                    ns,
                    resp,
                    argv,
                    owner_check,
                },
                idx,
            );
            Route::Queued
        }
        Run::Fanout { part, .. } => match fanout::single_core(spec, &argv, map) {
            // One core: the part is the whole request and its reply.
            Some(core) => {
                let ns = store.ns_of(session.db);
                let resp = session.resp;
                let owner_check = owner_check();
                segment.push(
                    core,
                    BatchItem {
                        run: Runner::Key(part),
                        name: spec.name,
                        ns,
                        resp,
                        argv,
                        owner_check,
                    },
                    idx,
                );
                Route::Queued
            }
            None => Route::AtomicFanout(spec, argv, asking),
        },
    }
}

/// Name under which plugin calls are timed (never counted as calls, so
/// INFO commandstats does not list it; plugins keep their own counters).
const PLUGIN_CALL: &str = "plugin|call";

/// Routes a plugin command: checked from its declaration like a built-in
/// row, then queued for the core owning its keys, or run as a barrier
/// when they are on several cores.
fn route_plugin(
    session: &mut Session,
    segment: &mut Segment,
    idx: usize,
    argv: Argv,
    plugin: Arc<Plugin>,
    cmd: usize,
) -> Route {
    let Some(desc) = crate::plugin::desc(&plugin, cmd) else {
        return reject(session, None, "ERR internal: plugin command index".into());
    };
    if !desc.arity_ok(argv.len()) {
        return reject(session, None, errors::wrong_number_of_arguments(&desc.name));
    }
    if !session.authenticated {
        return reject(session, None, errors::NOAUTH.to_string());
    }
    if session.multi.is_some() {
        return reject(session, None, errors::NOT_ALLOWED_IN_MULTI.to_string());
    }
    let keys = desc.keys.positions(argv.len()).into_iter();
    if let Err(denied) = crate::acl::check::check_plugin_session(session, &desc.name, keys, &argv) {
        return match denied {
            Some(text) => reject(session, None, text),
            None => {
                // Its user was deleted: the client is disconnected.
                session.closing = true;
                session.close_without_reply = true;
                Route::NoReply
            }
        };
    }
    if let Some(refused) = super::cluster_gate::refuse_keys(&argv, desc.keys.positions(argv.len()))
    {
        return Route::Reply(refused);
    }
    if session.resp == 2 && session.pubsub.is_subscribed() {
        return reject(session, None, errors::only_subscribe_allowed(&desc.name));
    }
    let store = store::current();
    let here = frys_runtime::current_core().unwrap_or(0);
    let Some(core) = crate::plugin::route(desc, &argv, store.map(), here) else {
        // Keys on several cores: through the transaction layer.
        return Route::PluginBarrier(plugin, cmd, argv);
    };
    let owner_check = crate::cluster::enabled().then(|| super::open_slot::OwnerCheck {
        keys: desc.keys.positions(argv.len()),
        asking: false,
        shard_pubsub: false,
    });
    let item = BatchItem {
        run: Runner::Plugin(plugin, cmd),
        name: PLUGIN_CALL,
        ns: store.ns_of(session.db),
        resp: session.resp,
        owner_check,
        argv,
    };
    segment.push(core, item, idx);
    Route::Queued
}

/// A request refused before it could run or be queued: inside MULTI it
/// dooms the transaction; a refused EXEC ends it (Redis'
/// `rejectCommand`, `execCommandAbort`).
fn reject(session: &mut Session, top: Option<&CommandSpec>, text: String) -> Route {
    if let Some(m) = session.multi.as_mut() {
        m.flag();
    }
    // A refused command ends ASKING as a run one does (Redis'
    // `resetClient`): only ASKING itself and MULTI keep it.
    if session.multi.is_none() && top.is_none_or(|t| t.name != "asking") {
        session.asking = false;
    }
    if top.is_some_and(|t| t.name == "exec") {
        session.discard_transaction();
        return Route::Reply(Reply::error(errors::exec_abort_because(&text)));
    }
    Route::Reply(Reply::Error(text.into()))
}
