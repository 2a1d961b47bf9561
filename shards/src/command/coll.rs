//! Helpers shared by the collection families (hash, list, set, zset):
//! opening a key as a collection, reading all its elements, the
//! HSCAN/SSCAN/ZSCAN cursor, and random sampling.

use super::body::{arg, store_err};
use super::glob::glob_match;
use super::spec::KeyCtx;
use crate::errors;
use crate::protocol::{parse_i64, Argv, Reply};
use crate::store::collection::{member_subkey, subkey_prefix_len};
use crate::store::{Collection, CollectionWrite, ValueType};

/// The subkey of `member` in a collection of `kind` (hash fields and set
/// members are stored behind their hash; see `store::collection`).
pub(crate) fn subkey(kind: ValueType, member: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if subkey_prefix_len(kind) > 0 {
        std::borrow::Cow::Owned(member_subkey(member))
    } else {
        std::borrow::Cow::Borrowed(member)
    }
}

/// `(subkey, value)` of a collection of `kind` as `(member, value)`.
fn member_of(kind: ValueType, (mut sub, v): (Vec<u8>, Vec<u8>)) -> (Vec<u8>, Vec<u8>) {
    let n = subkey_prefix_len(kind).min(sub.len());
    sub.drain(..n);
    (sub, v)
}

/// `key` as a collection of `kind` (the caller holds its lock): `None` if
/// absent, WRONGTYPE for another type.
pub(crate) async fn open(
    ctx: &KeyCtx,
    key: &[u8],
    kind: ValueType,
) -> Result<Option<Collection>, Reply> {
    ctx.store
        .collection(ctx.ns, key, kind)
        .await
        .map_err(store_err)
}

/// `key` as a collection of `kind`, a new empty one if absent.
pub(crate) async fn open_or_new(
    ctx: &KeyCtx,
    key: &[u8],
    kind: ValueType,
) -> Result<Collection, Reply> {
    Ok(open(ctx, key, kind)
        .await?
        .unwrap_or_else(|| Collection::new(kind)))
}

/// A write to `c`'s elements.
pub(crate) fn writer(ctx: &KeyCtx, key: &[u8], c: &Collection) -> CollectionWrite {
    CollectionWrite::new(ctx.ns, key, c.meta.version)
}

/// Applies `w`, writing `c`'s metadata with it (deleting the key when `c`
/// is empty).
pub(crate) async fn commit(
    ctx: &KeyCtx,
    mut w: CollectionWrite,
    c: &Collection,
) -> Result<(), Reply> {
    w.set_meta(c);
    ctx.store.apply(w).await.map_err(store_err)
}

/// Every `(member, value)` of `c`'s element records (or `(subkey, '')`
/// of its score records), in subkey order (hash order for hashes and
/// sets).
pub(crate) async fn all_elements(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
    score: bool,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Reply> {
    let mut scan = ctx
        .store
        .elements(ctx.ns, key, c.meta.version, score, b"", None)
        .map_err(store_err)?;
    let mut out = Vec::with_capacity(c.meta.count.min(1 << 16) as usize);
    let kind = if score { ValueType::ZSet } else { c.kind };
    while let Some(e) = scan.next().await.map_err(store_err)? {
        out.push(member_of(kind, e));
    }
    Ok(out)
}

/// Bytes of a subkey a scan cursor keeps.
const CURSOR_BYTES: usize = 7;

/// The cursor that resumes a scan at `next` (a subkey): its first seven
/// bytes, under a marker bit so it is never 0. Stateless, so it survives
/// restarts and moves between cores; resuming may return a few elements
/// again (SCAN allows that), never skips one.
fn cursor_for(next: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = next.len().min(CURSOR_BYTES);
    bytes[1..1 + n].copy_from_slice(&next[..n]);
    u64::from_be_bytes(bytes) | (1 << 56)
}

/// Where cursor `c` resumes: the subkey prefix (trailing zero bytes
/// trimmed, so a short subkey padded with zeros is not skipped).
fn cursor_start(c: u64) -> Vec<u8> {
    let bytes = (c & ((1 << 56) - 1)).to_be_bytes();
    let mut start = bytes[1..].to_vec();
    while start.last() == Some(&0) {
        start.pop();
    }
    start
}

/// Options of HSCAN / SSCAN / ZSCAN.
pub(crate) struct ScanArgs {
    /// Cursor 0 = the start.
    pub cursor: u64,
    /// MATCH pattern.
    pub pattern: Option<Vec<u8>>,
    /// COUNT hint.
    pub count: usize,
    /// HSCAN NOVALUES.
    pub no_values: bool,
}

/// Parses `<cmd> key cursor [MATCH p] [COUNT n] [NOVALUES]` as Redis'
/// `scanGenericCommand` does.
pub(crate) fn parse_scan(argv: &Argv, allow_novalues: bool) -> Result<ScanArgs, Reply> {
    let cursor = std::str::from_utf8(arg(argv, 2))
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Reply::error(errors::INVALID_CURSOR))?;
    let mut a = ScanArgs {
        cursor,
        pattern: None,
        count: 10,
        no_values: false,
    };
    let mut i = 3;
    while i < argv.len() {
        let opt = arg(argv, i).to_ascii_uppercase();
        if opt == b"NOVALUES" {
            if !allow_novalues {
                return Err(Reply::error(errors::NOVALUES_OUTSIDE_HSCAN));
            }
            a.no_values = true;
            i += 1;
            continue;
        }
        let Some(value) = argv.get(i + 1) else {
            return Err(Reply::error(errors::SYNTAX));
        };
        match opt.as_slice() {
            b"MATCH" => a.pattern = Some(value.to_vec()),
            b"COUNT" => match parse_i64(value) {
                Some(n) if n >= 1 => a.count = n as usize,
                Some(_) => return Err(Reply::error(errors::SYNTAX)),
                None => return Err(Reply::error(errors::NOT_AN_INTEGER)),
            },
            _ => return Err(Reply::error(errors::SYNTAX)),
        }
        i += 2;
    }
    Ok(a)
}

/// One step of a collection scan: about `args.count` elements from the
/// cursor, as `(next cursor, [(subkey, value)])` with MATCH applied to
/// the subkey.
pub(crate) async fn scan_step(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
    args: &ScanArgs,
) -> Result<(u64, Vec<(Vec<u8>, Vec<u8>)>), Reply> {
    let start = if args.cursor == 0 {
        Vec::new()
    } else {
        cursor_start(args.cursor)
    };
    let start_cursor = args.cursor;
    // Small collections are returned whole, as Redis does for listpacks.
    let want = if c.meta.count <= 128 {
        usize::MAX
    } else {
        args.count
    };
    let mut scan = ctx
        .store
        .elements(ctx.ns, key, c.meta.version, false, &start, None)
        .map_err(store_err)?;
    let mut out = Vec::new();
    let mut seen = 0usize;
    let next = loop {
        let Some((sub, value)) = scan.next().await.map_err(store_err)? else {
            break 0;
        };
        // Stop only where the cursor moves forward, so a scan always makes
        // progress (subkeys sharing their first bytes come in one step).
        if seen >= want && cursor_for(&sub) != start_cursor {
            break cursor_for(&sub);
        }
        seen += 1;
        let (member, value) = member_of(c.kind, (sub, value));
        if args
            .pattern
            .as_deref()
            .is_none_or(|p| glob_match(p, &member))
        {
            out.push((member, value));
        }
    };
    Ok((next, out))
}

/// The reply of a collection scan step.
pub(crate) fn scan_reply(next: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(items)])
}

/// One element of `c` chosen at random without reading them all: the
/// first at or after a random subkey (wrapping to the first). Hash and
/// set subkeys start with the member's hash, so the seek lands evenly;
/// an element after a wider gap is picked a little more often, as Redis'
/// own dictionary sampling favours some buckets. O(log N).
pub(crate) async fn random_element(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
) -> Result<Option<(Vec<u8>, Vec<u8>)>, Reply> {
    let start = (random_u64() as u32).to_be_bytes();
    for from in [&start[..], b""] {
        let mut scan = ctx
            .store
            .elements(ctx.ns, key, c.meta.version, false, from, None)
            .map_err(store_err)?;
        if let Some(e) = scan.next().await.map_err(store_err)? {
            return Ok(Some(member_of(c.kind, e)));
        }
    }
    Ok(None)
}

/// Elements of `c` as `sample` asks: probes for a few, one scan of all
/// when many are asked for.
pub(crate) async fn sample_elements(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
    sample: &Sample,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Reply> {
    let wanted = match *sample {
        Sample::One => 1,
        Sample::Distinct(n) | Sample::Repeating(n) => n,
    };
    let few = (wanted as u64).saturating_mul(8) < c.meta.count;
    match sample {
        Sample::One | Sample::Repeating(_) if few => {
            let mut out = Vec::with_capacity(wanted);
            for _ in 0..wanted {
                if let Some(e) = random_element(ctx, key, c).await? {
                    out.push(e);
                }
            }
            Ok(out)
        }
        Sample::Distinct(n) if few => {
            let mut seen = std::collections::BTreeMap::new();
            // Probes may repeat: bounded retries, then whatever was found
            // is topped up from a scan.
            for _ in 0..n.saturating_mul(4) {
                if seen.len() == *n {
                    break;
                }
                if let Some((k, v)) = random_element(ctx, key, c).await? {
                    seen.entry(k).or_insert(v);
                }
            }
            if seen.len() < *n {
                let all = all_elements(ctx, key, c, false).await?;
                for (k, v) in all {
                    if seen.len() == *n {
                        break;
                    }
                    seen.entry(k).or_insert(v);
                }
            }
            Ok(seen.into_iter().collect())
        }
        _ => {
            let mut all = all_elements(ctx, key, c, false).await?;
            let picked = sample_indices(all.len(), sample);
            if matches!(sample, Sample::Distinct(_) | Sample::One) {
                let keep: std::collections::HashSet<usize> = picked.into_iter().collect();
                let mut i = 0;
                all.retain(|_| {
                    i += 1;
                    keep.contains(&(i - 1))
                });
                Ok(all)
            } else {
                Ok(picked.into_iter().map(|i| all[i].clone()).collect())
            }
        }
    }
}

/// A small, fast PRNG for random members (xorshift64*, seeded per core
/// from the clock): HRANDFIELD / SRANDMEMBER / SPOP / ZRANDMEMBER.
pub(crate) fn random_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
                | 1,
        );
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// A random index below `n` (`n > 0`).
pub(crate) fn random_below(n: usize) -> usize {
    (random_u64() % n as u64) as usize
}

/// What a RANDFIELD/RANDMEMBER count asks for.
pub(crate) enum Sample {
    /// No count: one element or nil.
    One,
    /// `count >= 0`: up to this many distinct elements.
    Distinct(usize),
    /// `count < 0`: exactly this many, repeats allowed.
    Repeating(usize),
}

/// Parses a RANDFIELD/RANDMEMBER count as Redis does: a `long` from
/// `-LONG_MAX` to `LONG_MAX`; `with_values` doubles the reply, so Redis
/// also bounds the magnitude by `LONG_MAX / 2` (a plainer error).
pub(crate) fn parse_sample(arg: &[u8], with_values: bool) -> Result<Sample, Reply> {
    let n = parse_i64(arg).ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))?;
    if n == i64::MIN {
        return Err(Reply::error(errors::value_out_of_range_between(
            -i64::MAX,
            i64::MAX,
        )));
    }
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
        return Err(Reply::error(errors::VALUE_OUT_OF_RANGE));
    }
    if n >= 0 {
        return Ok(Sample::Distinct(n as usize));
    }
    // Redis streams the reply; it is built whole here, so a huge negative
    // count would take the core's memory (or time) with it.
    if n.unsigned_abs() > MAX_REPEATING_SAMPLE {
        return Err(Reply::error(errors::VALUE_OUT_OF_RANGE));
    }
    Ok(Sample::Repeating(n.unsigned_abs() as usize))
}

/// Largest count of a repeating sample (a negative RANDMEMBER count).
const MAX_REPEATING_SAMPLE: u64 = 1 << 24;

/// Picks indices of `len` elements as `sample` asks (distinct ones in
/// element order; repeating ones in random order).
pub(crate) fn sample_indices(len: usize, sample: &Sample) -> Vec<usize> {
    match *sample {
        Sample::One => {
            if len == 0 {
                Vec::new()
            } else {
                vec![random_below(len)]
            }
        }
        Sample::Distinct(n) if n >= len => (0..len).collect(),
        Sample::Distinct(n) => {
            // Floyd's algorithm: n distinct indices without a shuffle.
            let mut chosen = std::collections::BTreeSet::new();
            for j in len - n..len {
                let t = random_below(j + 1);
                if !chosen.insert(t) {
                    chosen.insert(j);
                }
            }
            chosen.into_iter().collect()
        }
        Sample::Repeating(n) => {
            if len == 0 {
                return Vec::new();
            }
            (0..n).map(|_| random_below(len)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_resume_at_or_before_the_subkey() {
        for sub in [&b"a"[..], b"ab", b"a\0\0", b"abcdefghij", b"\0", b"zz\0x"] {
            let c = cursor_for(sub);
            assert_ne!(c, 0);
            assert!(cursor_start(c).as_slice() <= sub, "{sub:?}");
            assert!(c < 1 << 57);
        }
    }

    #[test]
    fn distinct_samples_are_distinct_and_in_range() {
        for _ in 0..100 {
            let idx = sample_indices(10, &Sample::Distinct(4));
            assert_eq!(idx.len(), 4);
            assert!(idx.windows(2).all(|w| w[0] < w[1]) && idx[3] < 10);
        }
        assert_eq!(sample_indices(3, &Sample::Distinct(5)), vec![0, 1, 2]);
        assert_eq!(sample_indices(3, &Sample::Repeating(7)).len(), 7);
        assert!(sample_indices(0, &Sample::Repeating(7)).is_empty());
    }
}
