//! Small helpers every command body uses.

use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};
use crate::store::StoreError;

/// Result of a command body: `Err` is the error reply.
pub(crate) type CmdResult = Result<Reply, Reply>;

/// Argument `i` (empty if absent: arity was checked by the table).
pub(crate) fn arg(argv: &Argv, i: usize) -> &[u8] {
    argv.get(i).unwrap_or_default()
}

/// Boxes a body whose errors are replies.
pub(crate) fn boxed(
    f: impl std::future::Future<Output = CmdResult> + 'static,
) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        match f.await {
            Ok(r) | Err(r) => r,
        }
    })
}

/// A storage failure as an error reply.
pub(crate) fn store_err(e: StoreError) -> Reply {
    Reply::error(e.0)
}

/// A HELP subcommand's reply: one status line per text line.
pub(crate) fn help_reply(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::simple(*l)).collect())
}
