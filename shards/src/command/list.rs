//! List commands on one key, and the list operations every list command
//! (moves, blocking pops) is built from.
//!
//! A list is collection metadata plus one element record per element
//! (`store::collection`); the subkey is the element's index as a
//! big-endian u64, so byte order is list order. The live indices are
//! `head..tail` (`count == tail - head`); a new list starts at
//! `LIST_MIDDLE` and grows both ways: LPUSH writes at `head - 1`, RPUSH
//! at `tail`. Hence:
//! - pushes, pops, LINDEX and LSET touch only the elements they name
//!   (O(1) each); LRANGE is one range scan from `head + start`; LTRIM
//!   moves `head` / `tail` and deletes the elements it drops;
//! - LINSERT and LREM must shift elements to keep the indices dense:
//!   LINSERT rewrites the shorter side of the pivot, LREM every element
//!   after the first one removed (O(N), as in Kvrocks);
//! - LPOS and LREM scan (O(N)); from the tail they read in chunks.
//!
//! Every body runs on the core owning its key and holds the key's lock
//! (`KeyCtx::lock`) from its first read to its write. A command that may
//! make a list non-empty calls [`push`], which serves the clients blocked
//! on the key (`list_blocking::serve_waiters`) before the lock is
//! released.

use super::body::{arg, boxed, store_err};
use super::coll;
use super::list_blocking;
use crate::command::{parse_i64, CommandSpec, Doc, KeyCtx};
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};
use crate::store::{Collection, ValueType};

pub(crate) const LIST: ValueType = ValueType::List;
/// Elements read per step when scanning from the tail.
const CHUNK: u64 = 128;

fn sub(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// `key` as a list (the caller holds its lock): `None` if absent.
pub(crate) async fn open(ctx: &KeyCtx, key: &[u8]) -> Result<Option<Collection>, Reply> {
    coll::open(ctx, key, LIST).await
}

/// Ranges at most this long are read by point reads, longer ones by a
/// scan.
const POINT_READS_UP_TO: u64 = 4;

/// The elements at absolute indices `from..to` of `c`, in order.
pub(crate) async fn range(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
    from: u64,
    to: u64,
) -> Result<Vec<Vec<u8>>, Reply> {
    if from >= to {
        return Ok(Vec::new());
    }
    if to - from <= POINT_READS_UP_TO {
        // A few elements (LPOP, LINDEX-like pops): point reads are one
        // memtable probe each, cheaper than setting up a scan.
        let mut out = Vec::with_capacity((to - from) as usize);
        for i in from..to {
            let v = ctx
                .store
                .element(ctx.ns, key, c.meta.version, &sub(i))
                .await
                .map_err(store_err)?
                .ok_or_else(|| Reply::error("ERR storage: a list element is missing"))?;
            out.push(v);
        }
        return Ok(out);
    }
    let mut scan = ctx
        .store
        .elements(
            ctx.ns,
            key,
            c.meta.version,
            false,
            &sub(from),
            Some(&sub(to)),
        )
        .map_err(store_err)?;
    let mut out = Vec::with_capacity((to - from).min(1 << 16) as usize);
    while let Some((_, v)) = scan.next().await.map_err(store_err)? {
        out.push(v);
    }
    Ok(out)
}

/// Pops up to `n` elements from the front (or back) of `c`, in pop
/// order, and writes the change (deleting the list if it empties).
pub(crate) async fn pop(
    ctx: &KeyCtx,
    key: &[u8],
    c: &mut Collection,
    front: bool,
    n: u64,
) -> Result<Vec<Vec<u8>>, Reply> {
    let n = n.min(c.meta.count);
    let (from, to) = if front {
        (c.meta.head, c.meta.head + n)
    } else {
        (c.meta.tail - n, c.meta.tail)
    };
    let mut items = range(ctx, key, c, from, to).await?;
    let mut w = coll::writer(ctx, key, c);
    for i in from..to {
        w.delete(&sub(i));
    }
    if front {
        c.meta.head = to;
    } else {
        c.meta.tail = from;
        items.reverse();
    }
    c.meta.count -= n;
    coll::commit(ctx, w, c).await?;
    Ok(items)
}

/// Pushes `values` one by one at the front (or back) of `c` and writes
/// the change, without serving blocked clients (see [`push`]).
pub(crate) async fn write_push<'a>(
    ctx: &KeyCtx,
    key: &[u8],
    c: &mut Collection,
    front: bool,
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(), Reply> {
    let mut w = coll::writer(ctx, key, c);
    for v in values {
        if front {
            c.meta.head -= 1;
            w.put(&sub(c.meta.head), v);
        } else {
            w.put(&sub(c.meta.tail), v);
            c.meta.tail += 1;
        }
        c.meta.count += 1;
    }
    coll::commit(ctx, w, c).await
}

/// Pushes `values` onto `key` (a new list if absent) and serves the
/// clients blocked on it; returns the length after the push, before any
/// blocked client took elements (what LPUSH answers).
pub(crate) async fn push<'a>(
    ctx: &KeyCtx,
    key: &[u8],
    c: &mut Collection,
    front: bool,
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<u64, Reply> {
    write_push(ctx, key, c, front, values).await?;
    let len = c.meta.count;
    list_blocking::serve_waiters(ctx, key).await;
    Ok(len)
}

/// LPUSH / RPUSH / LPUSHX / RPUSHX key element [element ...]
async fn push_command(
    ctx: KeyCtx,
    argv: Argv,
    front: bool,
    only_existing: bool,
) -> Result<Reply, Reply> {
    let key = arg(&argv, 1);
    let _g = ctx.lock(key).await;
    let mut c = match open(&ctx, key).await? {
        Some(c) => c,
        None if only_existing => return Ok(Reply::Integer(0)),
        None => Collection::new(LIST),
    };
    let len = push(&ctx, key, &mut c, front, argv.iter().skip(2)).await?;
    Ok(Reply::Integer(len as i64))
}

fn lpush(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(push_command(ctx, argv, true, false))
}

fn rpush(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(push_command(ctx, argv, false, false))
}

fn lpushx(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(push_command(ctx, argv, true, true))
}

fn rpushx(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(push_command(ctx, argv, false, true))
}

/// Parses a non-negative count as `getPositiveLongFromObjectOrReply`
/// (whose message covers a non-integer too).
pub(crate) fn parse_count(a: &[u8]) -> Result<u64, Reply> {
    match parse_i64(a) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(Reply::error(errors::NOT_POSITIVE)),
    }
}

/// LPOP / RPOP key [count]
async fn pop_command(ctx: KeyCtx, argv: Argv, front: bool) -> Result<Reply, Reply> {
    let name = if front { "lpop" } else { "rpop" };
    if argv.len() > 3 {
        return Err(Reply::error(errors::wrong_number_of_arguments(name)));
    }
    let count = argv.get(2).map(parse_count).transpose()?;
    let key = arg(&argv, 1);
    let _g = ctx.lock(key).await;
    let Some(mut c) = open(&ctx, key).await? else {
        return Ok(if count.is_some() {
            Reply::NullArray
        } else {
            Reply::Null
        });
    };
    match count {
        Some(0) => Ok(Reply::Array(Vec::new())),
        Some(n) => {
            let items = pop(&ctx, key, &mut c, front, n).await?;
            Ok(Reply::Array(items.into_iter().map(Reply::Bulk).collect()))
        }
        None => {
            let mut items = pop(&ctx, key, &mut c, front, 1).await?;
            Ok(items.pop().map_or(Reply::Null, Reply::Bulk))
        }
    }
}

fn lpop(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(pop_command(ctx, argv, true))
}

fn rpop(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(pop_command(ctx, argv, false))
}

fn llen(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let c = open(&ctx, key).await?;
        Ok(Reply::Integer(c.map_or(0, |c| c.meta.count as i64)))
    })
}

fn int_arg(argv: &Argv, i: usize) -> Result<i64, Reply> {
    parse_i64(arg(argv, i)).ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))
}

/// Redis' range rule (LRANGE, LTRIM): negative indices count from the
/// end; the offsets `start..=end` clamped to the list, `None` if empty.
fn clamp_range(start: i64, end: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as u64, end as u64))
}

/// The absolute index of offset `index` (negative: from the end), if it
/// is inside `c`.
fn at(c: &Collection, index: i64) -> Option<u64> {
    let len = c.meta.count as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then(|| c.meta.head + i as u64)
}

fn lrange(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let (start, end) = (int_arg(&argv, 2)?, int_arg(&argv, 3)?);
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = open(&ctx, key).await? else {
            return Ok(Reply::Array(Vec::new()));
        };
        let Some((s, e)) = clamp_range(start, end, c.meta.count) else {
            return Ok(Reply::Array(Vec::new()));
        };
        let items = range(&ctx, key, &c, c.meta.head + s, c.meta.head + e + 1).await?;
        Ok(Reply::Array(items.into_iter().map(Reply::Bulk).collect()))
    })
}

fn lindex(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = open(&ctx, key).await? else {
            return Ok(Reply::Null);
        };
        let Some(i) = at(&c, int_arg(&argv, 2)?) else {
            return Ok(Reply::Null);
        };
        let v = ctx
            .store
            .element(ctx.ns, key, c.meta.version, &sub(i))
            .await
            .map_err(store_err)?;
        Ok(v.map_or(Reply::Null, Reply::Bulk))
    })
}

fn lset(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = open(&ctx, key).await? else {
            return Err(Reply::error(errors::NO_SUCH_KEY));
        };
        let Some(i) = at(&c, int_arg(&argv, 2)?) else {
            return Err(Reply::error(errors::INDEX_OUT_OF_RANGE));
        };
        let mut w = coll::writer(&ctx, key, &c);
        w.put(&sub(i), arg(&argv, 3));
        coll::commit(&ctx, w, &c).await?;
        Ok(Reply::ok())
    })
}

/// LINSERT key BEFORE|AFTER pivot element
fn linsert(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let after = match arg(&argv, 2).to_ascii_lowercase().as_slice() {
            b"after" => true,
            b"before" => false,
            _ => return Err(Reply::error(errors::SYNTAX)),
        };
        let (key, pivot, value) = (arg(&argv, 1), arg(&argv, 3), arg(&argv, 4));
        let _g = ctx.lock(key).await;
        let Some(mut c) = open(&ctx, key).await? else {
            return Ok(Reply::Integer(0));
        };
        // The elements up to and including the pivot.
        let mut left = Vec::new();
        let mut scan = ctx
            .store
            .elements(ctx.ns, key, c.meta.version, false, &sub(c.meta.head), None)
            .map_err(store_err)?;
        let mut found = false;
        while let Some((_, v)) = scan.next().await.map_err(store_err)? {
            let hit = v == pivot;
            left.push(v);
            if hit {
                found = true;
                break;
            }
        }
        drop(scan);
        if !found {
            return Ok(Reply::Integer(-1));
        }
        // The new element's offset; everything before it or everything
        // from it moves by one, whichever is fewer.
        let p = left.len() as u64 - 1;
        let offset = if after { p + 1 } else { p };
        let mut w = coll::writer(&ctx, key, &c);
        if offset <= c.meta.count - offset {
            c.meta.head -= 1;
            for (i, v) in left.iter().take(offset as usize).enumerate() {
                w.put(&sub(c.meta.head + i as u64), v);
            }
        } else {
            let from = c.meta.head + offset;
            let right = range(&ctx, key, &c, from, c.meta.tail).await?;
            for (i, v) in right.iter().enumerate() {
                w.put(&sub(from + 1 + i as u64), v);
            }
            c.meta.tail += 1;
        }
        w.put(&sub(c.meta.head + offset), value);
        c.meta.count += 1;
        coll::commit(&ctx, w, &c).await?;
        let len = c.meta.count;
        list_blocking::serve_waiters(&ctx, key).await;
        Ok(Reply::Integer(len as i64))
    })
}

/// `-LONG_MAX..=LONG_MAX`, as `getRangeLongFromObjectOrReply` checks it.
fn symmetric_arg(a: &[u8]) -> Result<i64, Reply> {
    match parse_i64(a) {
        Some(i64::MIN) => Err(Reply::error(errors::value_out_of_range_between(
            -i64::MAX,
            i64::MAX,
        ))),
        Some(n) => Ok(n),
        None => Err(Reply::error(errors::NOT_AN_INTEGER)),
    }
}

/// LREM key count element
fn lrem(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let count = symmetric_arg(arg(&argv, 2))?;
        let (key, target) = (arg(&argv, 1), arg(&argv, 3));
        let _g = ctx.lock(key).await;
        let Some(mut c) = open(&ctx, key).await? else {
            return Ok(Reply::Integer(0));
        };
        let items = range(&ctx, key, &c, c.meta.head, c.meta.tail).await?;
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut gone = vec![false; items.len()];
        let mut removed = 0;
        let order: Box<dyn Iterator<Item = usize>> = if count < 0 {
            Box::new((0..items.len()).rev())
        } else {
            Box::new(0..items.len())
        };
        for i in order {
            if removed == limit {
                break;
            }
            if items[i] == target {
                gone[i] = true;
                removed += 1;
            }
        }
        if removed == 0 {
            return Ok(Reply::Integer(0));
        }
        // Survivors after the first removed element slide towards the head.
        let first = gone.iter().position(|g| *g).unwrap_or(0);
        let mut w = coll::writer(&ctx, key, &c);
        let mut next = c.meta.head + first as u64;
        for (i, v) in items.iter().enumerate().skip(first) {
            if !gone[i] {
                w.put(&sub(next), v);
                next += 1;
            }
        }
        for i in next..c.meta.tail {
            w.delete(&sub(i));
        }
        c.meta.tail = next;
        c.meta.count -= removed as u64;
        coll::commit(&ctx, w, &c).await?;
        Ok(Reply::Integer(removed as i64))
    })
}

/// LTRIM key start stop
fn ltrim(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let (start, end) = (int_arg(&argv, 2)?, int_arg(&argv, 3)?);
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(mut c) = open(&ctx, key).await? else {
            return Ok(Reply::ok());
        };
        let (head, tail) = match clamp_range(start, end, c.meta.count) {
            Some((s, e)) => (c.meta.head + s, c.meta.head + e + 1),
            None => (c.meta.head, c.meta.head),
        };
        if (head, tail) == (c.meta.head, c.meta.tail) {
            return Ok(Reply::ok());
        }
        let mut w = coll::writer(&ctx, key, &c);
        for i in (c.meta.head..head).chain(tail..c.meta.tail) {
            w.delete(&sub(i));
        }
        c.meta.head = head;
        c.meta.tail = tail.max(head);
        c.meta.count = c.meta.tail - c.meta.head;
        coll::commit(&ctx, w, &c).await?;
        Ok(Reply::ok())
    })
}

struct LposArgs {
    rank: i64,
    count: Option<u64>,
    maxlen: u64,
}

fn parse_lpos(argv: &Argv) -> Result<LposArgs, Reply> {
    let mut a = LposArgs {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut j = 3;
    while j < argv.len() {
        let opt = arg(argv, j).to_ascii_uppercase();
        let Some(value) = argv.get(j + 1) else {
            return Err(Reply::error(errors::SYNTAX));
        };
        let non_negative = |msg: &'static str| match parse_i64(value) {
            Some(n) if n >= 0 => Ok(n as u64),
            _ => Err(Reply::error(msg)),
        };
        match opt.as_slice() {
            b"RANK" => {
                a.rank = symmetric_arg(value)?;
                if a.rank == 0 {
                    return Err(Reply::error(errors::LPOS_RANK_ZERO));
                }
            }
            b"COUNT" => a.count = Some(non_negative(errors::LPOS_COUNT_NEGATIVE)?),
            b"MAXLEN" => a.maxlen = non_negative(errors::LPOS_MAXLEN_NEGATIVE)?,
            _ => return Err(Reply::error(errors::SYNTAX)),
        }
        j += 2;
    }
    Ok(a)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let a = parse_lpos(&argv)?;
        let (key, target) = (arg(&argv, 1), arg(&argv, 2));
        let _g = ctx.lock(key).await;
        let Some(c) = open(&ctx, key).await? else {
            return Ok(if a.count.is_some() {
                Reply::Array(Vec::new())
            } else {
                Reply::Null
            });
        };
        let forward = a.rank > 0;
        let rank = a.rank.unsigned_abs();
        let len = c.meta.count;
        let limit = if a.maxlen == 0 {
            len
        } else {
            a.maxlen.min(len)
        };
        let mut matches = 0u64;
        let mut found = Vec::new();
        let mut scanned = 0u64;
        'scan: while scanned < limit {
            // Offsets of the next chunk, in scan order.
            let n = (limit - scanned).min(CHUNK);
            let (from, to) = if forward {
                (scanned, scanned + n)
            } else {
                (len - scanned - n, len - scanned)
            };
            let mut chunk = range(&ctx, key, &c, c.meta.head + from, c.meta.head + to).await?;
            let offsets: Box<dyn Iterator<Item = u64>> = if forward {
                Box::new(from..to)
            } else {
                chunk.reverse();
                Box::new((from..to).rev())
            };
            for (offset, v) in offsets.zip(chunk) {
                if v != target {
                    continue;
                }
                matches += 1;
                if matches < rank {
                    continue;
                }
                found.push(Reply::Integer(offset as i64));
                match a.count {
                    None => break 'scan,
                    Some(k) if k > 0 && matches - rank + 1 >= k => break 'scan,
                    Some(_) => {}
                }
            }
            scanned += n;
        }
        Ok(match a.count {
            Some(_) => Reply::Array(found),
            None => found.pop().unwrap_or(Reply::Null),
        })
    })
}

const W: &[&str] = &["write", "denyoom", "fast"];
const WF: &[&str] = &["write", "fast"];
const WS: &[&str] = &["write"];
const R: &[&str] = &["readonly", "fast"];
const RS: &[&str] = &["readonly"];
const ACL_WF: &[&str] = &["@write", "@list", "@fast"];
const ACL_WS: &[&str] = &["@write", "@list", "@slow"];
const ACL_RF: &[&str] = &["@read", "@list", "@fast"];
const ACL_RS: &[&str] = &["@read", "@list", "@slow"];

pub(crate) const fn doc(
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    args: &'static str,
) -> Doc {
    Doc::of("list", summary, since, complexity, args)
}

/// The single-key list commands.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::on_key("lpush", -3, W, ACL_WF, doc("Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"), lpush),
    CommandSpec::on_key("rpush", -3, W, ACL_WF, doc("Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"), rpush),
    CommandSpec::on_key("lpushx", -3, W, ACL_WF, doc("Prepends one or more elements to a list only when the list exists.", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"), lpushx),
    CommandSpec::on_key("rpushx", -3, W, ACL_WF, doc("Appends an element to a list only when the list exists.", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"), rpushx),
    CommandSpec::on_key("lpop", -2, WF, ACL_WF, doc("Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "1.0.0", "O(N) where N is the number of elements returned", "key [count]"), lpop),
    CommandSpec::on_key("rpop", -2, WF, ACL_WF, doc("Returns and removes the last elements of the list. Deletes the list if the last element was popped.", "1.0.0", "O(N) where N is the number of elements returned", "key [count]"), rpop),
    CommandSpec::on_key("llen", 2, R, ACL_RF, doc("Returns the length of a list.", "1.0.0", "O(1)", "key"), llen),
    CommandSpec::on_key("lrange", 4, RS, ACL_RS, doc("Returns a range of elements from a list.", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", "key start stop"), lrange),
    CommandSpec::on_key("lindex", 3, RS, ACL_RS, doc("Returns an element from a list by its index.", "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", "key index"), lindex),
    CommandSpec::on_key("lset", 4, &["write", "denyoom"], ACL_WS, doc("Sets the value of an element in a list by its index.", "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", "key index element"), lset),
    CommandSpec::on_key("linsert", 5, &["write", "denyoom"], ACL_WS, doc("Inserts an element before or after another element in a list.", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", "key <BEFORE | AFTER> pivot element"), linsert),
    CommandSpec::on_key("lrem", 4, WS, ACL_WS, doc("Removes elements from a list. Deletes the list if the last element was removed.", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.", "key count element"), lrem),
    CommandSpec::on_key("ltrim", 4, WS, ACL_WS, doc("Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "1.0.0", "O(N) where N is the number of elements to be removed by the operation.", "key start stop"), ltrim),
    CommandSpec::on_key("lpos", -3, RS, ACL_RS, doc("Returns the index of matching elements in a list.", "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"), lpos),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis_rules() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(-1, -1, 3), Some((2, 2)));
        assert_eq!(clamp_range(0, -4, 3), None);
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }
}
