//! Executing the requests of one read of a connection: parse where the
//! connection is, execute where the key is.
//!
//! Requests are dispatched in order. A command run at the connection
//! ([`Run::Now`]) answers at once. Keyed and fan-out commands are queued
//! per owning core; the queues of all cores are sent together (one mesh
//! message per core per segment) and awaited together, so a pipeline's
//! commands for different cores are in flight at the same time. A barrier
//! command ([`Run::Barrier`]) first waits for everything before it.
//! Replies are put back in request order.
//!
//! Ordering: the commands of one queue run concurrently on their core but
//! are first polled in queue order, and a writer holds its key's lock from
//! its first poll until acknowledged, so commands on one key take effect
//! in pipeline order.

use crate::command::{self, BarrierCtx, CommandSpec, KeyCtx, KeyFn, Merge, Run};
use crate::errors;
use crate::exec::{join_all, LocalBoxFuture};
use crate::keyspace::key_slot;
use crate::protocol::{Argv, Reply};
use crate::server::stats;
use crate::session::SharedSession;
use crate::store;

/// Reply bytes one call of [`execute`] may hold before it stops and hands
/// the rest of the requests back (the connection writes first), so a
/// client that pipelines large reads without reading bounds the memory.
const REPLY_BUDGET: usize = 8 << 20;
/// Queued keyed commands that first make a segment run (then twice as
/// many each time): large replies are seen before many are in flight.
const FIRST_FLUSH: usize = 16;

/// One command queued for a core.
pub struct BatchItem {
    run: KeyFn,
    /// Namespace resolved at dispatch (see `KeyCtx::ns`).
    ns: u16,
    /// The client's protocol at dispatch.
    resp: u8,
    argv: Argv,
}

enum Target {
    /// The reply of request `idx`.
    Whole(usize),
    /// A part of fan-out `merge`; for [`Merge::PerKey`], the request's key
    /// numbers (0-based, in request order) this part answers.
    Part { merge: usize, keys: Vec<usize> },
}

struct MergeState {
    idx: usize,
    kind: Merge,
    sum: i64,
    error: Option<Reply>,
    per_key: Vec<Option<Reply>>,
}

struct Segment {
    cores: usize,
    batches: Vec<Vec<BatchItem>>,
    targets: Vec<Vec<Target>>,
    merges: Vec<MergeState>,
}

impl Segment {
    fn new(cores: usize) -> Segment {
        Segment {
            cores,
            batches: (0..cores).map(|_| Vec::new()).collect(),
            targets: (0..cores).map(|_| Vec::new()).collect(),
            merges: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.batches.iter().all(|b| b.is_empty())
    }

    fn len(&self) -> usize {
        self.batches.iter().map(Vec::len).sum()
    }

    fn push(&mut self, core: usize, item: BatchItem, target: Target) {
        self.batches[core].push(item);
        self.targets[core].push(target);
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
        let mut order: Vec<Vec<Target>> = Vec::new();
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
        let mut merges = std::mem::take(&mut self.merges);
        for (targets, answers) in order.into_iter().zip(results) {
            for (target, reply) in targets.into_iter().zip(answers) {
                match target {
                    Target::Whole(idx) => replies_set(replies, idx, reply),
                    Target::Part { merge, keys } => {
                        if let Some(m) = merges.get_mut(merge) {
                            m.absorb(reply, &keys);
                        }
                    }
                }
            }
        }
        for m in merges {
            let idx = m.idx;
            replies_set(replies, idx, m.finish());
        }
    }
}

fn replies_set(replies: &mut [Option<Reply>], idx: usize, reply: Reply) {
    if let Some(slot) = replies.get_mut(idx) {
        *slot = Some(reply);
    }
}

impl MergeState {
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

/// Runs the queue of one core, on that core.
async fn run_batch(items: Vec<BatchItem>) -> Vec<Reply> {
    let store = store::current();
    let futures: Vec<_> = items
        .into_iter()
        .map(|item| {
            let mut ctx = KeyCtx::new(store.clone(), item.ns);
            ctx.resp = item.resp;
            (item.run)(ctx, item.argv)
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
    Barrier(&'static CommandSpec, Argv),
}

/// Executes `requests` for `session` and returns one reply per request
/// run, in order, each with the RESP version it is to be encoded in (HELLO
/// changes it mid-pipeline). After QUIT or CLIENT KILL the remaining
/// requests are not run and have no reply. Once the replies exceed
/// [`REPLY_BUDGET`], the requests not yet run are left in `requests` for
/// the caller to execute after writing these replies.
pub async fn execute(session: &SharedSession, requests: &mut Vec<Argv>) -> Vec<(Reply, u8)> {
    let started = std::time::Instant::now();
    let here = frys_runtime::current_core().unwrap_or(0);
    let store = store::current();
    let map = store.map();
    let mut segment = Segment::new(usize::from(map.cores()));
    let mut replies: Vec<Option<Reply>> = (0..requests.len()).map(|_| None).collect();
    let mut resps: Vec<u8> = Vec::with_capacity(requests.len());
    let mut flush_at = FIRST_FLUSH;
    let mut run = 0;
    let mut todo = std::mem::take(requests).into_iter();
    for (idx, argv) in todo.by_ref().enumerate() {
        run = idx + 1;
        let route = {
            let mut s = session.borrow_mut();
            let r = route(&mut s, &mut segment, idx, argv);
            resps.push(s.resp);
            r
        };
        match route {
            Route::Reply(r) => replies[idx] = Some(r),
            Route::NoReply | Route::Queued => {}
            Route::Barrier(spec, argv) => {
                if !segment.is_empty() {
                    segment.run(here, &mut replies).await;
                }
                let ctx = {
                    let s = session.borrow();
                    BarrierCtx {
                        db: s.db,
                        ns: store::current().ns_of(s.db),
                        client_id: s.id,
                        resp: s.resp,
                    }
                };
                let Run::Barrier(f) = spec.run else {
                    unreachable_reply(&mut replies, idx);
                    continue;
                };
                replies[idx] = Some(f(ctx, argv).await);
                if reply_bytes(&replies) > REPLY_BUDGET {
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
            if reply_bytes(&replies) > REPLY_BUDGET {
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
    let out: Vec<(Reply, u8)> = replies.into_iter().map_while(|r| r).zip(resps).collect();
    for (r, _) in &out {
        if let Reply::Error(text) = r {
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

fn unreachable_reply(replies: &mut [Option<Reply>], idx: usize) {
    replies_set(
        replies,
        idx,
        Reply::Error("ERR internal: barrier without a barrier function".into()),
    );
}

/// Looks the request up, checks it, and either answers it, queues it for
/// the owning cores, or asks for a barrier.
fn route(
    session: &mut crate::session::Session,
    segment: &mut Segment,
    idx: usize,
    argv: Argv,
) -> Route {
    let Some(name) = argv.get(0) else {
        return Route::Reply(Reply::Error(errors::unknown_command(b"", []).into()));
    };
    session.last_interaction = std::time::Instant::now();
    let Some(mut spec) = command::lookup(name) else {
        let args: Vec<&[u8]> = argv.iter().skip(1).collect();
        return Route::Reply(Reply::Error(errors::unknown_command(name, args).into()));
    };
    let mut container = None;
    if !command::arity_ok(spec, argv.len()) {
        return Route::Reply(Reply::Error(
            errors::wrong_number_of_arguments(spec.name).into(),
        ));
    }
    if !spec.subcommands.is_empty() {
        let sub_name = argv.get(1).unwrap_or_default();
        let Some(sub) = command::lookup_sub(spec, sub_name) else {
            return Route::Reply(Reply::Error(
                errors::unknown_subcommand(spec.name.as_bytes(), sub_name).into(),
            ));
        };
        if !command::arity_ok(sub, argv.len()) {
            return Route::Reply(Reply::Error(
                errors::wrong_number_of_arguments(&format!("{}|{}", spec.name, sub.name)).into(),
            ));
        }
        container = Some(spec.name);
        spec = sub;
    }
    if !session.authenticated && !spec.flags.contains(&"no_auth") {
        return Route::Reply(Reply::Error(errors::NOAUTH.into()));
    }
    // Redis' RESP2 subscribed mode: only pushes can be told from replies.
    if session.resp == 2 && session.pubsub.is_subscribed() {
        let allowed = container.is_none() && crate::pubsub::allowed_while_subscribed(spec.name);
        if !allowed {
            let full =
                container.map_or_else(|| spec.name.to_string(), |c| format!("{c}|{}", spec.name));
            return Route::Reply(Reply::Error(errors::only_subscribe_allowed(&full).into()));
        }
    }
    session.last_cmd = spec.name;
    stats::count_call(spec.name);
    let store = store::current();
    let map = store.map();
    match spec.run {
        Run::Now(f) => {
            let reply = f(session, &argv);
            if session.close_without_reply {
                Route::NoReply
            } else {
                Route::Reply(reply)
            }
        }
        Run::Barrier(_) => Route::Barrier(spec, argv),
        Run::Key(run) => {
            let slot = argv.get(1).map(key_slot).unwrap_or(0);
            let core = map.core_of_slot(slot);
            let ns = store.ns_of(session.db);
            let resp = session.resp;
            segment.push(
                core,
                BatchItem {
                    run,
                    ns,
                    resp,
                    argv,
                },
                Target::Whole(idx),
            );
            Route::Queued
        }
        Run::Fanout { part, merge } => {
            fanout(
                segment,
                spec,
                part,
                merge,
                store.ns_of(session.db),
                idx,
                argv,
            );
            Route::Queued
        }
    }
}

/// Splits a fan-out command by owning core.
fn fanout(
    segment: &mut Segment,
    spec: &'static CommandSpec,
    part: KeyFn,
    merge: Merge,
    ns: u16,
    idx: usize,
    argv: Argv,
) {
    let store = store::current();
    let map = store.map();
    let cores = usize::from(map.cores());
    let step = spec.keys.step.max(1) as usize;
    let name = argv.get(0).unwrap_or_default();
    // Per core: the part's arguments and the request's key numbers it has.
    type Part<'a> = Option<(Vec<&'a [u8]>, Vec<usize>)>;
    let mut parts: Vec<Part> = (0..cores).map(|_| None).collect();
    let mut nkeys = 0;
    for (k, pos) in spec.keys.positions(argv.len()).enumerate() {
        let Some(key) = argv.get(pos) else { continue };
        let core = map.core_of_slot(key_slot(key));
        let (args, keys) = parts[core].get_or_insert_with(|| (vec![name], Vec::new()));
        for i in pos..pos + step {
            if let Some(a) = argv.get(i) {
                args.push(a);
            }
        }
        keys.push(k);
        nkeys = k + 1;
    }
    let merge_id = segment.merges.len();
    segment.merges.push(MergeState {
        idx,
        kind: merge,
        sum: 0,
        error: None,
        per_key: (0..nkeys).map(|_| None).collect(),
    });
    let mut queued: Vec<(usize, Argv, Vec<usize>)> = Vec::new();
    for (core, p) in parts.into_iter().enumerate() {
        if let Some((args, keys)) = p {
            queued.push((core, Argv::from_args(&args), keys));
        }
    }
    for (core, part_argv, keys) in queued {
        segment.push(
            core,
            BatchItem {
                run: part,
                ns,
                resp: 2,
                argv: part_argv,
            },
            Target::Part {
                merge: merge_id,
                keys,
            },
        );
    }
}
