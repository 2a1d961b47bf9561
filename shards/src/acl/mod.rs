//! Users and permissions: Redis 7's ACL.
//!
//! The users live in one process-wide registry ([`registry`]), changed by
//! ACL SETUSER / DELUSER / LOAD and by `requirepass` (the `default`
//! user's password follows it, as Redis' `ACLUpdateDefaultUserPassword`).
//! Every change bumps a generation number; a session keeps the user it
//! authenticated as ([`SessionUser`]) and re-reads it only when the
//! generation moved, so the check on the hot path costs two atomic loads
//! and, for an unrestricted user, one flag test.
//!
//! Commands are checked where they are parsed, before they are routed
//! ([`check`]); a refusal is answered with Redis' `-NOPERM` text and
//! recorded in the ACL LOG ([`log`]). Key permissions use the command
//! table's key positions with the read / write access of Redis' key specs
//! ([`key_access`]); channel permissions apply to (P|S)SUBSCRIBE and
//! (S)PUBLISH.
//!
//! A user holds a root selector and any number of `(...)` selectors
//! ([`selector`]); a request is allowed when one selector allows its
//! command, every key and every channel.

pub mod categories;
pub mod check;
pub mod commands;
pub mod describe;
pub mod file;
mod file_quoting;
mod key_access;
pub mod log;
pub mod registry;
pub mod selector;
pub mod user;

use std::sync::Arc;

pub use registry::{authenticate, default_admits_anyone, generation, AuthError};
pub use user::{hash_password, RuleError, User};

/// What a key spec asks of a key: read access, write access, both or
/// neither (Redis' ACCESS vs INSERT / DELETE / UPDATE flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAccess {
    /// Needs a pattern granting reads.
    pub read: bool,
    /// Needs a pattern granting writes.
    pub write: bool,
}

/// No access asked (EXISTS, TYPE...): any pattern that matches will do.
pub const NONE: KeyAccess = KeyAccess {
    read: false,
    write: false,
};
/// Reads.
pub const R: KeyAccess = KeyAccess {
    read: true,
    write: false,
};
/// Writes.
pub const W: KeyAccess = KeyAccess {
    read: false,
    write: true,
};
/// Reads and writes.
pub const RW: KeyAccess = KeyAccess {
    read: true,
    write: true,
};

/// The user a session is authenticated as, with a cached copy that is
/// re-read when the registry changed.
#[derive(Debug, Clone)]
pub struct SessionUser {
    name: String,
    cached: Option<(u64, Arc<User>)>,
}

impl Default for SessionUser {
    fn default() -> Self {
        SessionUser::named("default")
    }
}

impl SessionUser {
    /// The session of user `name`.
    pub fn named(name: &str) -> SessionUser {
        SessionUser {
            name: name.to_string(),
            cached: None,
        }
    }

    /// The session of `user`, just authenticated.
    pub fn of(user: Arc<User>) -> SessionUser {
        // Not cached: the generation read now may already be newer than
        // the user fetched (a change on another core in between), and the
        // first check would then trust stale rules.
        SessionUser {
            name: user.name.clone(),
            cached: None,
        }
    }

    /// The user's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The user as it is now; `None` once it was deleted.
    pub fn current(&mut self) -> Option<Arc<User>> {
        self.with_current(|u| u.clone())
    }

    /// Runs `f` on the user as it is now (without touching its reference
    /// count, which every core would share); `None` once it was deleted.
    pub fn with_current<T>(&mut self, f: impl FnOnce(&Arc<User>) -> T) -> Option<T> {
        let now = generation();
        if !matches!(&self.cached, Some((g, _)) if *g == now) {
            self.cached = Some((now, registry::user(&self.name)?));
        }
        self.cached.as_ref().map(|(_, u)| f(u))
    }
}
