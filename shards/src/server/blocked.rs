//! The clients of this core that are blocked now (BLPOP, BZPOPMIN & co.),
//! so they can be counted (INFO `blocked_clients`) and their waits
//! cancelled from outside: CLIENT KILL, and server shutdown (a client
//! blocked forever must not hold the drain up).
//!
//! Core-local: a client blocks on the core serving its connection, and
//! only that core's tasks read or change its entry. An entry lives exactly
//! as long as its [`Blocked`] guard.

use std::cell::RefCell;
use std::collections::HashMap;

use super::stats;
use crate::exec::{Event, EventWait};

thread_local! {
    static BLOCKED: RefCell<HashMap<u64, Event>> = RefCell::new(HashMap::new());
    /// Clients cancelled while not blocked (their connection is ending):
    /// a wait they start later ends at once. Cleared by [`forget`].
    static GONE: RefCell<std::collections::HashSet<u64>> = RefCell::new(Default::default());
}

/// A client's blocked state; dropping it unblocks the client.
pub struct Blocked {
    client: u64,
    cancel: Event,
}

impl Blocked {
    /// Marks `client` blocked.
    pub fn enter(client: u64) -> Blocked {
        let cancel = Event::default();
        if GONE.with(|g| g.borrow().contains(&client)) {
            cancel.set();
        }
        BLOCKED.with(|b| b.borrow_mut().insert(client, cancel.clone()));
        stats::count_blocked(true);
        Blocked { client, cancel }
    }

    /// Completes when the wait is cancelled from outside.
    pub fn cancelled(&self) -> EventWait {
        self.cancel.wait()
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        BLOCKED.with(|b| b.borrow_mut().remove(&self.client));
        stats::count_blocked(false);
    }
}

/// Cancels the wait of `client` (of this core), now or when it next
/// blocks, until [`forget`]: the client gets its timeout reply.
pub fn cancel(client: u64) {
    GONE.with(|g| g.borrow_mut().insert(client));
    let event = BLOCKED.with(|b| b.borrow().get(&client).cloned());
    if let Some(e) = event {
        e.set();
    }
}

/// Drops what [`cancel`] remembered of `client` (its connection ended).
pub fn forget(client: u64) {
    GONE.with(|g| g.borrow_mut().remove(&client));
}

/// Cancels every wait on this core (shutdown).
pub fn cancel_all() {
    let events: Vec<Event> = BLOCKED.with(|b| b.borrow().values().cloned().collect());
    for e in events {
        e.set();
    }
}
