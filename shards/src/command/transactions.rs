//! Transaction commands: MULTI, EXEC, DISCARD, WATCH, UNWATCH. The
//! queueing rules are the pipeline's (`txn::multi`); EXEC and WATCH visit
//! cores and are in `txn::exec` and `txn::watch`.

use super::spec::{CommandSpec, Doc, KeySpec, Run};
use crate::errors;
use crate::protocol::{Argv, Reply};
use crate::session::Session;
use crate::txn::{exec, multi::MultiState, watch};

fn multi(s: &mut Session, _: &Argv) -> Reply {
    if s.multi.is_some() {
        return Reply::error(errors::MULTI_NESTED);
    }
    s.multi = Some(MultiState::default());
    Reply::ok()
}

fn discard(s: &mut Session, _: &Argv) -> Reply {
    if s.multi.is_none() {
        return Reply::error(errors::DISCARD_WITHOUT_MULTI);
    }
    s.discard_transaction();
    Reply::ok()
}

fn unwatch(s: &mut Session, _: &Argv) -> Reply {
    s.watch.clear();
    Reply::ok()
}

/// Documentation of a command of this family.
const fn doc(
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    args: &'static str,
) -> Doc {
    Doc::of("transactions", summary, since, complexity, args)
}

const FLAGS: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];
const ACL_FAST: &[&str] = &["@fast", "@transaction"];

/// The transactions family.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "multi",
        1,
        FLAGS,
        ACL_FAST,
        doc("Starts a transaction.", "1.2.0", "O(1)", ""),
        Run::Now(multi),
    ),
    CommandSpec::keyless(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        &["@slow", "@transaction"],
        doc(
            "Executes all commands in a transaction.",
            "1.2.0",
            "Depends on commands in the transaction",
            "",
        ),
        Run::Barrier(exec::exec),
    ),
    CommandSpec::keyless(
        "discard",
        1,
        FLAGS,
        ACL_FAST,
        doc(
            "Discards a transaction.",
            "2.0.0",
            "O(N), when N is the number of queued commands",
            "",
        ),
        Run::Now(discard),
    ),
    CommandSpec::leaf(
        "watch",
        -2,
        FLAGS,
        KeySpec::ALL,
        ACL_FAST,
        doc(
            "Monitors changes to keys to determine the execution of a transaction.",
            "2.2.0",
            "O(1) for every key.",
            "key [key ...]",
        ),
        Run::Barrier(watch::watch),
    ),
    CommandSpec::keyless(
        "unwatch",
        1,
        FLAGS,
        ACL_FAST,
        doc(
            "Forgets about watched keys of a transaction.",
            "2.2.0",
            "O(1)",
            "",
        ),
        Run::Now(unwatch),
    ),
];
