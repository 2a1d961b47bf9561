//! Commands whose keys may live on several cores: MSETNX, RENAME,
//! RENAMENX, COPY, MOVE, LCS. They run as barriers at the connection,
//! through the transaction layer (`crate::txn`): every key is locked on
//! its owning core first (nothing when EXEC already holds them), each read
//! and write runs on the key's core with the locks held, then all are
//! released together. While locked no other command on those keys runs,
//! so each command is atomic and isolated with respect to other clients.
//! Crash atomicity across cores is not provided: each partition has its
//! own WAL.

use std::collections::BTreeMap;

use super::body::store_err;
use super::spec::BarrierCtx;
use crate::errors;
use crate::exec::{join_all, LocalBoxFuture};
use crate::keyspace::key_slot;
use crate::protocol::{Argv, Reply};
use crate::store::{self, Entry, KeyValue, ValueType};
use crate::txn::Txn;

/// Reads `key` of namespace `ns` (any type) on its core, under `txn`.
async fn read_locked(txn: &Txn, ns: u16, key: Vec<u8>) -> Result<Option<Entry>, Reply> {
    let k = key.clone();
    txn.on_in(ns, &k, move |ctx| {
        Box::pin(async move { ctx.get(&key).await.map_err(store_err) })
    })
    .await?
}

/// Writes (`Some`) or deletes (`None`) `key` of namespace `ns` on its
/// core, under `txn`.
async fn write_locked(txn: &Txn, ns: u16, key: Vec<u8>, entry: Option<Entry>) -> Result<(), Reply> {
    let k = key.clone();
    txn.on_in(ns, &k, move |ctx| {
        Box::pin(async move {
            match entry {
                Some(e) => ctx.store.put(ctx.ns, &key, &e).await,
                None => ctx.store.delete(ctx.ns, &key).await,
            }
            .map_err(store_err)
        })
    })
    .await?
}

/// Reads the whole value of `key` (a string, or a collection with all its
/// elements) on its core, under `txn`: what RENAME, COPY and MOVE carry.
async fn read_value_locked(txn: &Txn, ns: u16, key: Vec<u8>) -> Result<Option<KeyValue>, Reply> {
    let k = key.clone();
    txn.on_in(ns, &k, move |ctx| {
        Box::pin(async move { ctx.store.read_value(ctx.ns, &key).await.map_err(store_err) })
    })
    .await?
}

/// Writes `value` as `key`'s whole value on its core, under `txn`; the
/// clients blocked on the key for its new type (a list or a sorted set)
/// are served.
async fn write_value_locked(
    txn: &Txn,
    ns: u16,
    key: Vec<u8>,
    value: KeyValue,
) -> Result<(), Reply> {
    let k = key.clone();
    txn.on_in(ns, &k, move |ctx| {
        Box::pin(async move {
            ctx.store
                .write_value(ctx.ns, &key, &value)
                .await
                .map_err(store_err)?;
            match value.entry.kind {
                ValueType::List => super::list_blocking::serve_waiters(&ctx, &key).await,
                ValueType::ZSet => super::zset::serve_waiters(&ctx, &key).await,
                _ => {}
            }
            Ok(())
        })
    })
    .await?
}

fn arg(argv: &Argv, i: usize) -> Vec<u8> {
    super::body::arg(argv, i).to_vec()
}

fn flatten(r: Result<Reply, Reply>) -> Reply {
    match r {
        Ok(r) | Err(r) => r,
    }
}

/// Key, value pairs.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// MSETNX key value [key value ...]
pub fn msetnx(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if argv.len().is_multiple_of(2) {
            return Reply::error(errors::wrong_number_of_arguments("msetnx"));
        }
        // Pairs by owning core: one hop per core to check, one to write.
        let map = store::current().map();
        let mut by_core: BTreeMap<usize, Pairs> = BTreeMap::new();
        for i in (1..argv.len()).step_by(2) {
            let key = arg(&argv, i);
            by_core
                .entry(map.core_of_slot(key_slot(&key)))
                .or_default()
                .push((key, arg(&argv, i + 1)));
        }
        let keys = by_core
            .values()
            .flatten()
            .map(|(k, _)| (ctx.ns, k.clone()))
            .collect();
        flatten(
            Txn::run_in(&ctx, keys, async |txn| {
                let checks = by_core.values().map(|pairs| {
                    let keys: Vec<Vec<u8>> = pairs.iter().map(|(k, _)| k.clone()).collect();
                    let first = keys[0].clone();
                    async move {
                        txn.on(&first, move |c| {
                            Box::pin(async move {
                                for k in &keys {
                                    if c.get(k).await.map_err(store_err)?.is_some() {
                                        return Ok(true);
                                    }
                                }
                                Ok::<bool, Reply>(false)
                            })
                        })
                        .await?
                    }
                });
                for exists in join_all(checks.collect()).await {
                    if exists? {
                        return Ok(Reply::Integer(0));
                    }
                }
                let writes = by_core.into_values().map(|pairs| {
                    let first = pairs[0].0.clone();
                    async move {
                        txn.on(&first, move |c| {
                            Box::pin(async move {
                                let entries: Vec<(Vec<u8>, Entry)> = pairs
                                    .into_iter()
                                    .map(|(k, v)| (k, Entry::string(v)))
                                    .collect();
                                // The last value of a repeated key wins, as in Redis.
                                let ops: Vec<(&[u8], Option<&Entry>)> = entries
                                    .iter()
                                    .map(|(k, e)| (k.as_slice(), Some(e)))
                                    .collect();
                                c.store.write_many(c.ns, &ops).await.map_err(store_err)
                            })
                        })
                        .await?
                    }
                });
                for written in join_all(writes.collect()).await {
                    written?;
                }
                Ok(Reply::Integer(1))
            })
            .await,
        )
    })
}

async fn rename_generic(ctx: BarrierCtx, argv: Argv, nx: bool) -> Reply {
    let (src, dst) = (arg(&argv, 1), arg(&argv, 2));
    let ns = ctx.ns;
    let keys = vec![(ns, src.clone()), (ns, dst.clone())];
    flatten(
        Txn::run_in(&ctx, keys, async |txn| {
            if src == dst {
                if read_locked(txn, ns, src.clone()).await?.is_none() {
                    return Err(Reply::error(errors::NO_SUCH_KEY));
                }
                return Ok(if nx { Reply::Integer(0) } else { Reply::ok() });
            }
            let Some(value) = read_value_locked(txn, ns, src.clone()).await? else {
                return Err(Reply::error(errors::NO_SUCH_KEY));
            };
            if nx && read_locked(txn, ns, dst.clone()).await?.is_some() {
                return Ok(Reply::Integer(0));
            }
            write_value_locked(txn, ns, dst, value).await?;
            write_locked(txn, ns, src, None).await?;
            Ok(if nx { Reply::Integer(1) } else { Reply::ok() })
        })
        .await,
    )
}

/// RENAME key newkey
pub fn rename(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(rename_generic(ctx, argv, false))
}

/// RENAMENX key newkey
pub fn renamenx(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(rename_generic(ctx, argv, true))
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let (src, dst) = (arg(&argv, 1), arg(&argv, 2));
        let mut dst_db = ctx.db;
        let mut replace = false;
        let mut i = 3;
        while i < argv.len() {
            let opt = arg(&argv, i).to_ascii_uppercase();
            match opt.as_slice() {
                b"REPLACE" => replace = true,
                b"DB" if i + 1 < argv.len() => {
                    let Some(n) = super::parse_i64(&arg(&argv, i + 1)) else {
                        return Reply::error(errors::NOT_AN_INTEGER);
                    };
                    if n < 0 || n >= i64::from(crate::config::live(|c| c.databases())) {
                        return Reply::error(errors::DB_INDEX_OUT_OF_RANGE);
                    }
                    dst_db = n as u16;
                    i += 1;
                }
                _ => return Reply::error(errors::SYNTAX),
            }
            i += 1;
        }
        if crate::cluster::enabled() && (ctx.db != 0 || dst_db != 0) {
            return Reply::error(errors::COPY_DB_IN_CLUSTER);
        }
        if src == dst && dst_db == ctx.db {
            return Reply::error(errors::SAME_OBJECT);
        }
        let (ns, dst_ns) = (ctx.ns, store::current().ns_of(dst_db));
        let keys = vec![(ns, src.clone()), (dst_ns, dst.clone())];
        flatten(
            Txn::run_in(&ctx, keys, async |txn| {
                let Some(value) = read_value_locked(txn, ns, src).await? else {
                    return Ok(Reply::Integer(0));
                };
                if !replace && read_locked(txn, dst_ns, dst.clone()).await?.is_some() {
                    return Ok(Reply::Integer(0));
                }
                write_value_locked(txn, dst_ns, dst, value).await?;
                Ok(Reply::Integer(1))
            })
            .await,
        )
    })
}

/// MOVE key db
pub fn move_key(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if crate::cluster::enabled() {
            return Reply::error(errors::MOVE_IN_CLUSTER);
        }
        let key = arg(&argv, 1);
        let Some(n) = super::parse_i64(&arg(&argv, 2)) else {
            return Reply::error(errors::NOT_AN_INTEGER);
        };
        if n < 0 || n >= i64::from(crate::config::live(|c| c.databases())) {
            return Reply::error(errors::DB_INDEX_OUT_OF_RANGE);
        }
        let dst_db = n as u16;
        if dst_db == ctx.db {
            return Reply::error(errors::SAME_OBJECT);
        }
        let (ns, dst_ns) = (ctx.ns, store::current().ns_of(dst_db));
        let keys = vec![(ns, key.clone()), (dst_ns, key.clone())];
        flatten(
            Txn::run_in(&ctx, keys, async |txn| {
                let Some(value) = read_value_locked(txn, ns, key.clone()).await? else {
                    return Ok(Reply::Integer(0));
                };
                if read_locked(txn, dst_ns, key.clone()).await?.is_some() {
                    return Ok(Reply::Integer(0));
                }
                write_value_locked(txn, dst_ns, key.clone(), value).await?;
                write_locked(txn, ns, key, None).await?;
                Ok(Reply::Integer(1))
            })
            .await,
        )
    })
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub fn lcs(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let (mut get_len, mut get_idx, mut with_match_len, mut min_match_len) =
            (false, false, false, 0u64);
        let mut i = 3;
        while i < argv.len() {
            let opt = arg(&argv, i).to_ascii_uppercase();
            match opt.as_slice() {
                b"IDX" => get_idx = true,
                b"LEN" => get_len = true,
                b"WITHMATCHLEN" => with_match_len = true,
                b"MINMATCHLEN" if i + 1 < argv.len() => {
                    let Some(n) = super::parse_i64(&arg(&argv, i + 1)) else {
                        return Reply::error(errors::NOT_AN_INTEGER);
                    };
                    min_match_len = n.max(0) as u64;
                    i += 1;
                }
                _ => return Reply::error(errors::SYNTAX),
            }
            i += 1;
        }
        let (a, b) = (arg(&argv, 1), arg(&argv, 2));
        let ns = ctx.ns;
        // Both keys read under their locks: one consistent pair of values.
        let keys = vec![(ns, a.clone()), (ns, b.clone())];
        flatten(
            Txn::run_in(&ctx, keys, async |txn| {
                let mut values = Vec::new();
                for k in [a, b] {
                    match read_locked(txn, ns, k).await? {
                        Some(e) if e.kind != ValueType::String => {
                            return Err(Reply::error(errors::LCS_NOT_STRINGS))
                        }
                        e => values.push(e.map(|e| e.payload).unwrap_or_default()),
                    }
                }
                if get_idx && get_len {
                    return Err(Reply::error(errors::LCS_LEN_AND_IDX));
                }
                let (a, b) = (&values[0], &values[1]);
                let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
                let max = crate::config::live(|c| c.limits().max_bulk_len) as u64;
                if cells.saturating_mul(4) > max {
                    return Err(Reply::error(errors::LCS_MEMORY_LIMIT));
                }
                Ok(lcs_reply(
                    a,
                    b,
                    get_len,
                    get_idx,
                    with_match_len,
                    min_match_len,
                ))
            })
            .await,
        )
    })
}

/// Redis' lcsCommand algorithm (dynamic programming, then a walk back).
fn lcs_reply(
    a: &[u8],
    b: &[u8],
    get_len: bool,
    get_idx: bool,
    with_len: bool,
    min_len: u64,
) -> Reply {
    let (alen, blen) = (a.len(), b.len());
    let w = blen + 1;
    let mut dp = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen];
    if get_len && !get_idx {
        return Reply::Integer(i64::from(total));
    }
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    let mut matches = Vec::new();
    let (mut ar_start, mut ar_end, mut br_start, mut br_end) = (alen, 0usize, 0usize, 0usize);
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if ar_start == alen {
                ar_start = i - 1;
                ar_end = i - 1;
                br_start = j - 1;
                br_end = j - 1;
            } else if ar_start == i && br_start == j {
                ar_start -= 1;
                br_start -= 1;
            } else {
                emit = true;
            }
            if ar_start == 0 || br_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if ar_start != alen {
                emit = true;
            }
        }
        if emit {
            // Only a range being tracked is emitted: `ar_start` is valid here.
            let match_len = (ar_end - ar_start + 1) as u64;
            if min_len == 0 || match_len >= min_len {
                let mut m = vec![
                    Reply::Array(vec![
                        Reply::Integer(ar_start as i64),
                        Reply::Integer(ar_end as i64),
                    ]),
                    Reply::Array(vec![
                        Reply::Integer(br_start as i64),
                        Reply::Integer(br_end as i64),
                    ]),
                ];
                if with_len {
                    m.push(Reply::Integer(match_len as i64));
                }
                matches.push(Reply::Array(m));
            }
            ar_start = alen;
        }
    }
    if get_idx {
        return Reply::Map(vec![
            (Reply::bulk("matches"), Reply::Array(matches)),
            (Reply::bulk("len"), Reply::Integer(i64::from(total))),
        ]);
    }
    Reply::Bulk(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcs_matches_redis_examples() {
        // From the LCS documentation.
        let (a, b) = (b"ohmytext", b"mynewtext");
        assert_eq!(
            lcs_reply(a, b, false, false, false, 0),
            Reply::bulk("mytext")
        );
        assert_eq!(lcs_reply(a, b, true, false, false, 0), Reply::Integer(6));
        let Reply::Map(m) = lcs_reply(a, b, false, true, true, 4) else {
            panic!()
        };
        let want = Reply::Array(vec![Reply::Array(vec![
            Reply::Array(vec![Reply::Integer(4), Reply::Integer(7)]),
            Reply::Array(vec![Reply::Integer(5), Reply::Integer(8)]),
            Reply::Integer(4),
        ])]);
        assert_eq!(m[0].1, want);
    }
}
