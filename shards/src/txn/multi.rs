//! A client's MULTI state: the queued commands and whether a queueing
//! error already doomed the transaction (Redis' `CLIENT_DIRTY_EXEC`).
//!
//! The rules follow Redis 7's `processCommand`: inside MULTI every command
//! is queued and answered `+QUEUED`, except EXEC, DISCARD, MULTI, WATCH,
//! QUIT and RESET, which run at once ([`runs_at_once`]). A command refused
//! before it could be queued (unknown, wrong arity, NOAUTH, `no_multi`)
//! flags the transaction ([`MultiState::flag`]) and EXEC then answers
//! EXECABORT; errors of the commands' own bodies at EXEC time do not.
//! The state lives in the session (core-local) and is only touched by the
//! connection's own task.

use crate::command::CommandSpec;
use crate::protocol::Argv;

/// One queued command: its (sub)command row and arguments.
pub struct Queued {
    /// The row it was looked up as (a subcommand's own row).
    pub spec: &'static CommandSpec,
    /// Its arguments, name included.
    pub argv: Argv,
}

/// The MULTI state of a client (present while in MULTI).
#[derive(Default)]
pub struct MultiState {
    queue: Vec<Queued>,
    aborted: bool,
}

impl MultiState {
    /// Queues a command (kept only while the transaction can still run:
    /// Redis does not waste memory on a doomed one).
    pub fn queue(&mut self, spec: &'static CommandSpec, argv: Argv) {
        if !self.aborted {
            self.queue.push(Queued { spec, argv });
        }
    }

    /// A command could not be queued: EXEC will answer EXECABORT.
    pub fn flag(&mut self) {
        self.aborted = true;
        self.queue.clear();
    }

    /// Whether a queueing error doomed the transaction.
    pub fn is_aborted(&self) -> bool {
        self.aborted
    }

    /// Commands queued (CLIENT LIST `multi=`).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The queued commands, in order (cluster mode checks their keys at
    /// EXEC).
    pub fn queued(&self) -> &[Queued] {
        &self.queue
    }

    /// The queued commands, in order.
    pub fn into_queue(self) -> Vec<Queued> {
        self.queue
    }
}

/// Whether the top-level command `spec` runs at once inside MULTI rather
/// than being queued.
pub fn runs_at_once(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Whether `spec` may not be used inside MULTI (Redis' `CMD_NO_MULTI`).
pub fn refused_inside_multi(spec: &CommandSpec) -> bool {
    spec.flags.contains(&"no_multi")
}
