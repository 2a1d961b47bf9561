//! Sorted-set commands.
//!
//! A sorted set is collection metadata plus, per member, a member record
//! (`member -> score`, for point lookups) and a score record (`score |
//! member`, ordered as Redis orders a zset: score, then member bytes), see
//! [`access`]. Single-key commands run on the core owning the key, holding
//! its lock from the first read to the one write batch; the commands over
//! several keys are barriers that lock all their keys ([`multi`]).
//!
//! Costs, N members, M in the answer (Redis' own costs are in the
//! table's COMMAND DOCS):
//!
//! | command | cost here |
//! |---|---|
//! | ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE | one point read per member, two or three record writes per change |
//! | ZCARD | the metadata read |
//! | ZRANGE by score, ZCOUNT, ZREMRANGEBYSCORE | seek + O(M) |
//! | ZRANGE by rank, ZREMRANGEBYRANK | O(start + M) |
//! | ZRANGE by lex, ZLEXCOUNT, ZREMRANGEBYLEX | O(members below min + M) |
//! | REV forms, ZREVRANGE* | the forward range: O(M) (by rank O(N - start)) |
//! | ZRANK, ZREVRANK | O(rank) |
//! | ZPOPMIN / ZPOPMAX | O(count) / O(N) |
//! | ZMPOP, BZPOPMIN, BZPOPMAX, BZMPOP | a metadata read per key up to the first that exists, then as ZPOPMIN / ZPOPMAX |
//! | ZRANDMEMBER, ZSCAN step | O(N) / O(COUNT) |
//! | ZUNION(STORE) | O(sum of sizes) + O(M log M) |
//! | ZINTER(STORE), ZINTERCARD, ZDIFF(STORE) | O(first input) + point reads of candidates |
//!
//! Where this is worse than Redis' skiplist (rank, REV, ZPOPMAX, lex) the
//! module docs of [`select`] and [`members`] say what would fix it.
//!
//! BZPOPMIN, BZPOPMAX and BZMPOP ([`blocking`]) try as ZMPOP does
//! ([`pop::pop_first`]) and block on the shared machinery of
//! `command::blocking`; every write that may leave a key a non-empty
//! sorted set serves the clients blocked on it for a sorted set
//! ([`serve_waiters`]) before its lock is released.

mod access;
mod add;
mod algebra;
mod blocking;
mod members;
mod multi;
mod ops;
mod parse;
mod pop;
mod range;
mod reply;
mod select;

pub(crate) use blocking::{give_back, serve_waiters};

use super::list_blocking::ALL_BUT_LAST;
use crate::command::{numkeys_keys, CommandSpec, Doc, KeySpec};

const W: &[&str] = &["write", "denyoom", "fast"];
const WF: &[&str] = &["write", "fast"];
const WS: &[&str] = &["write"];
const R: &[&str] = &["readonly", "fast"];
const RS: &[&str] = &["readonly"];
const ACL_W: &[&str] = &["@write", "@sortedset", "@fast"];
const ACL_WS: &[&str] = &["@write", "@sortedset", "@slow"];
const ACL_R: &[&str] = &["@read", "@sortedset", "@fast"];
const ACL_RS: &[&str] = &["@read", "@sortedset", "@slow"];
const ACL_B: &[&str] = &["@write", "@sortedset", "@fast", "@blocking"];
const ACL_BS: &[&str] = &["@write", "@sortedset", "@slow", "@blocking"];

const fn doc(
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    args: &'static str,
) -> Doc {
    Doc::of("sorted_set", summary, since, complexity, args)
}

const RANGE_COST: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.";
const BY_COST: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";
const REMRANGE_COST: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";
const POP_COST: &str = "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.";
const UNION_COST: &str = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.";
const INTER_COST: &str = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.";
const DIFF_COST: &str = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.";
const MOVABLE_R: &[&str] = &["readonly", "movablekeys"];
const MOVABLE_W: &[&str] = &["write", "denyoom", "movablekeys"];

/// The sorted-set commands.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::on_key("zadd", -4, W, ACL_W, doc("Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"), add::zadd),
    CommandSpec::on_key("zincrby", 4, W, ACL_W, doc("Increments the score of a member in a sorted set.", "1.2.0", "O(log(N)) where N is the number of elements in the sorted set.", "key increment member"), add::zincrby),
    CommandSpec::on_key("zrem", -3, WF, ACL_W, doc("Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "key member [member ...]"), members::zrem),
    CommandSpec::on_key("zscore", 3, R, ACL_R, doc("Returns the score of a member in a sorted set.", "1.2.0", "O(1)", "key member"), members::zscore),
    CommandSpec::on_key("zmscore", -3, R, ACL_R, doc("Returns the score of one or more members in a sorted set.", "6.2.0", "O(N) where N is the number of members being requested.", "key member [member ...]"), members::zmscore),
    CommandSpec::on_key("zcard", 2, R, ACL_R, doc("Returns the number of members in a sorted set.", "1.2.0", "O(1)", "key"), members::zcard),
    CommandSpec::on_key("zcount", 4, R, ACL_R, doc("Returns the count of members in a sorted set that have scores within a range.", "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key min max"), range::zcount),
    CommandSpec::on_key("zlexcount", 4, R, ACL_R, doc("Returns the number of members in a sorted set within a lexicographical range.", "2.8.9", "O(log(N)) with N being the number of elements in the sorted set.", "key min max"), range::zlexcount),
    CommandSpec::on_key("zrange", -4, RS, ACL_RS, doc("Returns members in a sorted set within a range of indexes.", "1.2.0", RANGE_COST, "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"), range::zrange),
    CommandSpec::barrier("zrangestore", -5, &["write", "denyoom"], KeySpec::TWO, ACL_WS, doc("Stores a range of members from sorted set in a key.", "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]"), range::zrangestore),
    CommandSpec::on_key("zrevrange", -4, RS, ACL_RS, doc("Returns members in a sorted set within a range of indexes in reverse order.", "1.2.0", RANGE_COST, "key start stop [WITHSCORES]"), range::zrevrange),
    CommandSpec::on_key("zrangebyscore", -4, RS, ACL_RS, doc("Returns members in a sorted set within a range of scores.", "1.0.5", BY_COST, "key min max [WITHSCORES] [LIMIT offset count]"), range::zrangebyscore),
    CommandSpec::on_key("zrevrangebyscore", -4, RS, ACL_RS, doc("Returns members in a sorted set within a range of scores in reverse order.", "2.2.0", BY_COST, "key max min [WITHSCORES] [LIMIT offset count]"), range::zrevrangebyscore),
    CommandSpec::on_key("zrangebylex", -4, RS, ACL_RS, doc("Returns members in a sorted set within a lexicographical range.", "2.8.9", BY_COST, "key min max [LIMIT offset count]"), range::zrangebylex),
    CommandSpec::on_key("zrevrangebylex", -4, RS, ACL_RS, doc("Returns members in a sorted set within a lexicographical range in reverse order.", "2.8.9", BY_COST, "key max min [LIMIT offset count]"), range::zrevrangebylex),
    CommandSpec::on_key("zrank", -3, R, ACL_R, doc("Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0", "O(log(N))", "key member [WITHSCORE]"), members::zrank),
    CommandSpec::on_key("zrevrank", -3, R, ACL_R, doc("Returns the index of a member in a sorted set ordered by descending scores.", "2.0.0", "O(log(N))", "key member [WITHSCORE]"), members::zrevrank),
    CommandSpec::on_key("zpopmin", -2, WF, ACL_W, doc("Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", POP_COST, "key [count]"), pop::zpopmin),
    CommandSpec::on_key("zpopmax", -2, WF, ACL_W, doc("Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", POP_COST, "key [count]"), pop::zpopmax),
    CommandSpec::barrier("zmpop", -4, &["write", "movablekeys"], KeySpec::NONE, ACL_WS, doc("Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "numkeys key [key ...] <MIN | MAX> [COUNT count]"), pop::zmpop).with_key_finder(crate::command::numkeys_keys::<1>),
    CommandSpec::barrier("bzpopmin", -3, &["write", "blocking", "fast"], ALL_BUT_LAST, ACL_B, doc("Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key [key ...] timeout"), blocking::bzpopmin),
    CommandSpec::barrier("bzpopmax", -3, &["write", "blocking", "fast"], ALL_BUT_LAST, ACL_B, doc("Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key [key ...] timeout"), blocking::bzpopmax),
    CommandSpec::barrier("bzmpop", -5, &["write", "blocking", "movablekeys"], KeySpec::NONE, ACL_BS, doc("Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "timeout numkeys key [key ...] <MIN | MAX> [COUNT count]"), blocking::bzmpop).with_key_finder(numkeys_keys::<2>),
    CommandSpec::barrier("zunion", -3, MOVABLE_R, KeySpec::NONE, ACL_RS, doc("Returns the union of multiple sorted sets.", "6.2.0", UNION_COST, "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]"), ops::zunion).with_key_finder(crate::command::numkeys_keys::<1>),
    CommandSpec::barrier("zinter", -3, MOVABLE_R, KeySpec::NONE, ACL_RS, doc("Returns the intersect of multiple sorted sets.", "6.2.0", INTER_COST, "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]"), ops::zinter).with_key_finder(crate::command::numkeys_keys::<1>),
    CommandSpec::barrier("zdiff", -3, MOVABLE_R, KeySpec::NONE, ACL_RS, doc("Returns the difference between multiple sorted sets.", "6.2.0", DIFF_COST, "numkeys key [key ...] [WITHSCORES]"), ops::zdiff).with_key_finder(crate::command::numkeys_keys::<1>),
    CommandSpec::barrier("zunionstore", -4, MOVABLE_W, KeySpec::FIRST, ACL_WS, doc("Stores the union of multiple sorted sets in a key.", "2.0.0", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]"), ops::zunionstore).with_key_finder(crate::command::dest_plus_numkeys_keys),
    CommandSpec::barrier("zinterstore", -4, MOVABLE_W, KeySpec::FIRST, ACL_WS, doc("Stores the intersect of multiple sorted sets in a key.", "2.0.0", INTER_COST, "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]"), ops::zinterstore).with_key_finder(crate::command::dest_plus_numkeys_keys),
    CommandSpec::barrier("zdiffstore", -4, MOVABLE_W, KeySpec::FIRST, ACL_WS, doc("Stores the difference of multiple sorted sets in a key.", "6.2.0", DIFF_COST, "destination numkeys key [key ...]"), ops::zdiffstore).with_key_finder(crate::command::dest_plus_numkeys_keys),
    CommandSpec::barrier("zintercard", -3, MOVABLE_R, KeySpec::NONE, ACL_RS, doc("Returns the number of members of the intersect of multiple sorted sets.", "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", "numkeys key [key ...] [LIMIT limit]"), ops::zintercard).with_key_finder(crate::command::numkeys_keys::<1>),
    CommandSpec::on_key("zremrangebyscore", 4, WS, ACL_WS, doc("Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", "1.2.0", REMRANGE_COST, "key min max"), range::zremrangebyscore),
    CommandSpec::on_key("zremrangebyrank", 4, WS, ACL_WS, doc("Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", "2.0.0", REMRANGE_COST, "key start stop"), range::zremrangebyrank),
    CommandSpec::on_key("zremrangebylex", 4, WS, ACL_WS, doc("Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", "2.8.9", REMRANGE_COST, "key min max"), range::zremrangebylex),
    CommandSpec::on_key("zrandmember", -2, RS, ACL_RS, doc("Returns one or more random members from a sorted set.", "6.2.0", "O(N) where N is the number of members returned", "key [count [WITHSCORES]]"), members::zrandmember),
    CommandSpec::on_key("zscan", -3, RS, ACL_RS, doc("Iterates over members and scores of a sorted set.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "key cursor [MATCH pattern] [COUNT count]"), members::zscan),
];
