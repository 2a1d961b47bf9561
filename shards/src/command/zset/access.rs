//! A sorted set on the core that owns it: opening it, reading a member's
//! score, walking the score index forward, and writing members so that
//! both of a member's records change together.
//!
//! Records (see `store::collection`):
//!
//! ```text
//! member  'e' | .. | version | member                -> score (8 bytes)
//! score   'z' | .. | version | encode_score | member -> ''
//! ```
//!
//! Invariants, kept by [`ZWrite`] alone:
//! - every member has exactly one member record and one score record, with
//!   the same score, written in the same batch as the metadata `count`;
//! - the score index is in Redis' zset order: score, then member bytes;
//! - -0 is stored as 0 (`encode_score` folds it), as Redis' listpack
//!   does (it stores integral scores as integers), so a stored -0 reads
//!   back as 0; replies computed by a command (ZINCRBY's, ZUNION's) keep
//!   the sign as Redis' do.
//!
//! Every function expects the caller to hold the key's lock.

use super::super::body::store_err;
use super::super::coll;
use super::super::spec::KeyCtx;
use crate::protocol::Reply;
use crate::store::collection::{decode_score, encode_score, prefix_end};
use crate::store::{Collection, CollectionWrite, ElementScan, ValueType};

/// The type this family works on.
pub const ZSET: ValueType = ValueType::ZSet;

/// A member and its score.
pub type Scored = (Vec<u8>, f64);

/// `key` as a sorted set: `None` if absent, WRONGTYPE for another type.
pub async fn open(ctx: &KeyCtx, key: &[u8]) -> Result<Option<Collection>, Reply> {
    coll::open(ctx, key, ZSET).await
}

/// The score of `member`, if it is one.
pub async fn score(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
    member: &[u8],
) -> Result<Option<f64>, Reply> {
    let value = ctx
        .store
        .element(ctx.ns, key, c.meta.version, member)
        .await
        .map_err(store_err)?;
    Ok(value.as_deref().and_then(decode_score))
}

/// Where a walk of the score index starts: its first score record at or
/// after this position (8 score bytes, then member bytes).
pub fn index_position(score: f64, after: bool) -> Vec<u8> {
    let at = encode_score(score);
    if after {
        prefix_end(&at)
    } else {
        at.to_vec()
    }
}

/// A forward walk of a sorted set's score index.
pub struct ScoreWalk {
    scan: ElementScan,
}

impl ScoreWalk {
    /// Walks from index position `from` up to `to` (exclusive; `None` = to
    /// the end); see [`index_position`].
    pub fn new(
        ctx: &KeyCtx,
        key: &[u8],
        c: &Collection,
        from: &[u8],
        to: Option<&[u8]>,
    ) -> Result<ScoreWalk, Reply> {
        // Nothing sorts below the floor: start there (past the tombstones
        // of popped members).
        let floor = c.meta.floor.to_be_bytes();
        let from = if c.meta.floor != 0 && from < &floor[..] {
            &floor[..]
        } else {
            from
        };
        let scan = ctx
            .store
            .elements(ctx.ns, key, c.meta.version, true, from, to)
            .map_err(store_err)?;
        Ok(ScoreWalk { scan })
    }

    /// Walks the whole index, lowest score first.
    pub fn all(ctx: &KeyCtx, key: &[u8], c: &Collection) -> Result<ScoreWalk, Reply> {
        ScoreWalk::new(ctx, key, c, b"", None)
    }

    /// The next member and score, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Scored>, Reply> {
        let Some((mut sub, _)) = self.scan.next().await.map_err(store_err)? else {
            return Ok(None);
        };
        let Some(score) = decode_score(&sub) else {
            return Err(Reply::error(
                "ERR storage: a sorted-set score record is damaged",
            ));
        };
        sub.drain(..8);
        Ok(Some((sub, score)))
    }
}

/// One command's change to a sorted set: member and score records in one
/// batch with the metadata.
pub struct ZWrite {
    w: CollectionWrite,
    /// The lowest score inserted (encoded), to lower the set's floor.
    lowest: Option<[u8; 8]>,
}

impl ZWrite {
    /// A change to `c`, the sorted set at `key`.
    pub fn new(ctx: &KeyCtx, key: &[u8], c: &Collection) -> ZWrite {
        ZWrite {
            w: coll::writer(ctx, key, c),
            lowest: None,
        }
    }

    /// Adds `member` (not a member yet) at `score`.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let encoded = encode_score(score);
        if self.lowest.is_none_or(|l| encoded < l) {
            self.lowest = Some(encoded);
        }
        self.w.put(member, &encoded);
        self.w.put_score(score, member);
    }

    /// Removes `member`, whose score is `score`.
    pub fn remove(&mut self, member: &[u8], score: f64) {
        self.w.delete(member);
        self.w.delete_score(score, member);
    }

    /// Moves `member` from score `old` to `new`.
    pub fn rescore(&mut self, member: &[u8], old: f64, new: f64) {
        self.w.delete_score(old, member);
        self.insert(member, new);
    }

    /// Writes the change with `c`'s metadata (deleting the key when `c` is
    /// left empty).
    pub async fn commit(self, ctx: &KeyCtx, c: &Collection) -> Result<(), Reply> {
        let mut c = *c;
        if let Some(l) = self.lowest {
            c.meta.floor = c.meta.floor.min(u64::from_be_bytes(l));
        }
        coll::commit(ctx, self.w, &c).await
    }
}

/// Replaces whatever `key` holds with a new sorted set of `members`
/// (distinct), or deletes `key` when `members` is empty: the destination
/// of the STORE commands. The old value's records are left to compaction
/// (the new set has a new version). A new set serves the clients blocked
/// on the key for a sorted set.
pub async fn store_new(ctx: &KeyCtx, key: &[u8], members: &[Scored]) -> Result<(), Reply> {
    if members.is_empty() {
        return ctx.store.delete(ctx.ns, key).await.map_err(store_err);
    }
    let mut c = Collection::new(ZSET);
    c.meta.count = members.len() as u64;
    let mut w = ZWrite::new(ctx, key, &c);
    for (m, s) in members {
        w.insert(m, *s);
    }
    w.commit(ctx, &c).await?;
    super::serve_waiters(ctx, key).await;
    Ok(())
}
