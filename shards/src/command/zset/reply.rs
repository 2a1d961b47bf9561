//! The shapes of sorted-set replies, which differ between RESP2 and RESP3
//! beyond what the encoder maps: with scores, RESP2 gets one flat array
//! `member score member score ...` and RESP3 an array of `[member,
//! score]` pairs (not a map: order matters), scores as doubles.

use super::access::Scored;
use crate::protocol::Reply;

/// ZRANGE & co., ZUNION/ZINTER/ZDIFF, ZRANDMEMBER with a count: members,
/// with their scores if asked.
pub fn members(items: Vec<Scored>, with_scores: bool, resp: u8) -> Reply {
    if !with_scores {
        return Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect());
    }
    if resp >= 3 {
        return pairs(items);
    }
    flat(items)
}

/// `member score member score ...` (ZPOPMIN without a count, RESP2).
pub fn flat(items: Vec<Scored>) -> Reply {
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        out.push(Reply::Bulk(m));
        out.push(Reply::Double(s));
    }
    Reply::Array(out)
}

/// `[[member, score], ...]` (ZMPOP; ZPOPMIN with a count in RESP3).
pub fn pairs(items: Vec<Scored>) -> Reply {
    Reply::Array(
        items
            .into_iter()
            .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
            .collect(),
    )
}
