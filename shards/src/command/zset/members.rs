//! Commands on named members or the whole set, each on the core owning
//! its key under the key's lock: ZREM, ZSCORE, ZMSCORE, ZCARD, ZRANK,
//! ZREVRANK, ZRANDMEMBER, ZSCAN.
//!
//! Costs: ZSCORE, ZMSCORE and ZREM are one point read per member (ZREM
//! two record deletes per member, one batch); ZCARD reads the metadata.
//! ZRANK is O(rank): it counts the score records before the member's
//! (Redis' skiplist spans make it O(log N); an order-statistic index, or
//! blocks of the score index that carry their record counts, would do the
//! same here). ZREVRANK is `count - 1 - rank`, so O(rank) too.
//! ZRANDMEMBER reads every member (O(N)), then samples. ZSCAN answers a
//! set of at most 128 members whole, in score order, as Redis answers a
//! listpack; a larger one is scanned by member with a cursor.

use std::collections::HashSet;

use super::super::body::{arg, boxed};
use super::super::coll::{self, Sample};
use super::super::glob::glob_match;
use super::access::{self, ScoreWalk, ZWrite};
use super::reply;
use super::select;
use crate::command::KeyCtx;
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{format_double, format_double_g17, Argv, Reply};
use crate::store::collection::{decode_score, encode_score};

/// ZREM key member [member ...]
pub fn zrem(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(mut c) = access::open(&ctx, key).await? else {
            return Ok(Reply::Integer(0));
        };
        let mut w = ZWrite::new(&ctx, key, &c);
        let mut gone = HashSet::new();
        for m in argv.iter().skip(2) {
            if gone.contains(m) {
                continue;
            }
            if let Some(s) = access::score(&ctx, key, &c, m).await? {
                w.remove(m, s);
                gone.insert(m);
            }
        }
        if !gone.is_empty() {
            c.meta.count = c.meta.count.saturating_sub(gone.len() as u64);
            w.commit(&ctx, &c).await?;
        }
        Ok(Reply::Integer(gone.len() as i64))
    })
}

/// ZSCORE key member
pub fn zscore(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = access::open(&ctx, key).await? else {
            return Ok(Reply::Null);
        };
        let s = access::score(&ctx, key, &c, arg(&argv, 2)).await?;
        Ok(s.map_or(Reply::Null, Reply::Double))
    })
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let c = access::open(&ctx, key).await?;
        let mut out = Vec::with_capacity(argv.len() - 2);
        for m in argv.iter().skip(2) {
            let s = match &c {
                Some(c) => access::score(&ctx, key, c, m).await?,
                None => None,
            };
            out.push(s.map_or(Reply::Null, Reply::Double));
        }
        Ok(Reply::Array(out))
    })
}

/// ZCARD key
pub fn zcard(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let c = access::open(&ctx, key).await?;
        Ok(Reply::Integer(c.map_or(0, |c| c.meta.count as i64)))
    })
}

/// ZRANK key member [WITHSCORE]
pub fn zrank(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { rank(&ctx, &argv, false).await })
}

/// ZREVRANK key member [WITHSCORE]
pub fn zrevrank(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { rank(&ctx, &argv, true).await })
}

async fn rank(ctx: &KeyCtx, argv: &Argv, rev: bool) -> Result<Reply, Reply> {
    if argv.len() > 4 {
        let name = if rev { "zrevrank" } else { "zrank" };
        return Err(Reply::error(errors::wrong_number_of_arguments(name)));
    }
    let with_score = argv.len() == 4;
    if with_score && !arg(argv, 3).eq_ignore_ascii_case(b"withscore") {
        return Err(Reply::error(errors::SYNTAX));
    }
    let missing = if with_score {
        Reply::NullArray
    } else {
        Reply::Null
    };
    let (key, member) = (arg(argv, 1), arg(argv, 2));
    let _g = ctx.lock(key).await;
    let Some(c) = access::open(ctx, key).await? else {
        return Ok(missing);
    };
    let Some(score) = access::score(ctx, key, &c, member).await? else {
        return Ok(missing);
    };
    // Records before (score, member) in the index: O(rank).
    let mut until = encode_score(score).to_vec();
    until.extend_from_slice(member);
    let mut walk = ScoreWalk::new(ctx, key, &c, b"", Some(&until))?;
    let mut below = 0u64;
    while walk.next().await?.is_some() {
        below += 1;
    }
    let r = if rev {
        c.meta.count.saturating_sub(below + 1)
    } else {
        below
    };
    let r = Reply::Integer(r as i64);
    Ok(if with_score {
        Reply::Array(vec![r, Reply::Double(score)])
    } else {
        r
    })
}

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let sample = match argv.get(2) {
            Some(n) => {
                let sample = coll::parse_sample(n, false)?;
                let with_scores = match argv.len() {
                    3 => false,
                    4 if arg(&argv, 3).eq_ignore_ascii_case(b"withscores") => true,
                    _ => return Err(Reply::error(errors::SYNTAX)),
                };
                if with_scores {
                    coll::parse_sample(n, true)?;
                }
                Some((sample, with_scores))
            }
            None => None,
        };
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = access::open(&ctx, key).await? else {
            return Ok(match sample {
                Some(_) => Reply::empty_array(),
                None => Reply::Null,
            });
        };
        let Some((sample, with_scores)) = sample else {
            let members = select::whole(&ctx, key, &c).await?;
            let i = coll::sample_indices(members.len(), &Sample::One);
            return Ok(i
                .first()
                .map_or(Reply::Null, |&i| Reply::Bulk(members[i].0.clone())));
        };
        if matches!(sample, Sample::Distinct(0) | Sample::Repeating(0)) {
            return Ok(Reply::empty_array());
        }
        let mut members = select::whole(&ctx, key, &c).await?;
        if matches!(sample, Sample::Distinct(n) if n >= members.len()) {
            // The whole set, as Redis' iterator gives it: highest first.
            members.reverse();
        }
        let picked = coll::sample_indices(members.len(), &sample)
            .into_iter()
            .map(|i| members[i].clone())
            .collect();
        Ok(reply::members(picked, with_scores, ctx.resp))
    })
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub fn zscan(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        // Redis checks the cursor, then the key, then the options.
        let args = coll::parse_scan(&argv, false);
        if let Err(e) = &args {
            if *e == Reply::error(errors::INVALID_CURSOR) {
                return Err(e.clone());
            }
        }
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = access::open(&ctx, key).await? else {
            return Ok(coll::scan_reply(0, Vec::new()));
        };
        let args = args?;
        if c.meta.count <= select::SMALL {
            // Redis answers a listpack whole, in score order, scores as
            // the listpack stores them (d2string).
            let mut out = Vec::new();
            for (m, s) in select::whole(&ctx, key, &c).await? {
                if args.pattern.as_deref().is_none_or(|p| glob_match(p, &m)) {
                    out.push(Reply::Bulk(m));
                    out.push(Reply::Bulk(format_double(s).into_bytes()));
                }
            }
            return Ok(coll::scan_reply(0, out));
        }
        // A skiplist's ZSCAN walks its hash table and prints with %.17g;
        // this walks the member records.
        let (next, items) = coll::scan_step(&ctx, key, &c, &args).await?;
        let mut out = Vec::with_capacity(items.len() * 2);
        for (m, v) in items {
            let s = decode_score(&v).unwrap_or(0.0);
            out.push(Reply::Bulk(m));
            out.push(Reply::Bulk(format_double_g17(s).into_bytes()));
        }
        Ok(coll::scan_reply(next, out))
    })
}
