//! A client's subscriptions, and the (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE
//! operations on them.
//!
//! The confirmations are appended to the client's mailbox, behind the
//! messages that arrived before them, and the command answers with all
//! of it ([`Reply::Encoded`]): the client sees what Redis would put in its
//! output buffer, in that order. A confirmation whose route change is
//! still on its way to other cores leaves an event in `pending`; the
//! connection writes the reply only once every such event is set.

use std::collections::BTreeSet;
use std::rc::Rc;

use super::registry::{self, Added};
use super::{routes, Kind, Mailbox};
use crate::exec::Event;
use crate::protocol::Reply;
use crate::session::Session;

/// One client's subscriptions (part of its session).
#[derive(Default)]
pub struct Subscriptions {
    /// Names per kind (the order UNSUBSCRIBE without arguments answers in).
    names: [BTreeSet<Vec<u8>>; 3],
    /// Created by the first subscription; kept for the frames still in it.
    mailbox: Option<Rc<Mailbox>>,
    /// Route announcements the next reply must wait for.
    pending: Vec<Event>,
}

impl Subscriptions {
    /// Whether every subscription passes `allowed(kind, name)`.
    pub fn all_allowed(&self, mut allowed: impl FnMut(Kind, &[u8]) -> bool) -> bool {
        [Kind::Channel, Kind::Pattern, Kind::Shard]
            .into_iter()
            .all(|k| self.names[k.index()].iter().all(|n| allowed(k, n)))
    }

    /// How many names of `kind` the client listens to.
    pub fn count(&self, kind: Kind) -> usize {
        self.names[kind.index()].len()
    }

    /// Whether it listens to anything (Redis' `CLIENT_PUBSUB` flag: RESP2
    /// subscribed mode, the pubsub output limit, no idle timeout).
    pub fn is_subscribed(&self) -> bool {
        self.names.iter().any(|n| !n.is_empty())
    }

    /// Its mailbox, once it has subscribed.
    pub fn mailbox(&self) -> Option<Rc<Mailbox>> {
        self.mailbox.clone()
    }

    /// The announcements its pending confirmations wait for.
    pub fn take_pending(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.pending)
    }

    /// The client's protocol changed (HELLO, RESET): later frames use it.
    pub fn set_resp(&self, resp: u8) {
        if let Some(m) = &self.mailbox {
            m.set_resp(resp);
        }
    }

    /// The frames waiting in the mailbox, ahead of `reply` (RESET: the
    /// messages that arrived before it go out before its answer).
    pub fn behind_pending(&self, reply: Reply) -> Reply {
        match &self.mailbox {
            Some(m) if m.pending_bytes() > 0 => {
                m.push_reply(&reply);
                Reply::Encoded(m.take())
            }
            _ => reply,
        }
    }

    /// The count a confirmation of `kind` reports: channels plus patterns,
    /// or shard channels.
    fn confirmed_count(&self, kind: Kind) -> i64 {
        let n = match kind {
            Kind::Shard => self.count(Kind::Shard),
            _ => self.count(Kind::Channel) + self.count(Kind::Pattern),
        };
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

fn subscribe_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Channel => "subscribe",
        Kind::Pattern => "psubscribe",
        Kind::Shard => "ssubscribe",
    }
}

fn unsubscribe_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Channel => "unsubscribe",
        Kind::Pattern => "punsubscribe",
        Kind::Shard => "sunsubscribe",
    }
}

/// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE `names`: one confirmation each,
/// with the client's count after it.
pub fn subscribe<'a>(s: &mut Session, kind: Kind, names: impl Iterator<Item = &'a [u8]>) -> Reply {
    let mailbox = s
        .pubsub
        .mailbox
        .get_or_insert_with(|| Rc::new(Mailbox::new(s.id, s.fd, s.resp)))
        .clone();
    let subs = &mut s.pubsub;
    let announcement = Event::default();
    let mut first_here = Vec::new();
    for name in names {
        if subs.names[kind.index()].insert(name.to_vec()) {
            match registry::add(kind, name, &mailbox, &announcement) {
                Added::First => first_here.push(name.to_vec()),
                Added::Joined(e) if !e.is_set() => subs.pending.push(e),
                Added::Joined(_) => {}
            }
        }
        let count = subs.confirmed_count(kind);
        mailbox.push_reply(&Reply::Push(vec![
            Reply::bulk(subscribe_word(kind)),
            Reply::bulk(name),
            Reply::Integer(count),
        ]));
    }
    if !first_here.is_empty() {
        subs.pending.push(announcement.clone());
        routes::announce(kind, first_here, true, announcement);
    }
    Reply::Encoded(mailbox.take())
}

/// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE `names` (`None`: all, in
/// name order; with none to leave, one confirmation with a null name).
pub fn unsubscribe(s: &mut Session, kind: Kind, names: Option<Vec<Vec<u8>>>) -> Reply {
    let mailbox = s
        .pubsub
        .mailbox
        .get_or_insert_with(|| Rc::new(Mailbox::new(s.id, s.fd, s.resp)))
        .clone();
    let subs = &mut s.pubsub;
    let names = names.unwrap_or_else(|| subs.names[kind.index()].iter().cloned().collect());
    let mut last_here = Vec::new();
    for name in &names {
        if subs.names[kind.index()].remove(name) && registry::remove(kind, name, s.id) {
            last_here.push(name.clone());
        }
        let count = subs.confirmed_count(kind);
        mailbox.push_reply(&Reply::Push(vec![
            Reply::bulk(unsubscribe_word(kind)),
            Reply::bulk(name.clone()),
            Reply::Integer(count),
        ]));
    }
    if names.is_empty() {
        let count = subs.confirmed_count(kind);
        mailbox.push_reply(&Reply::Push(vec![
            Reply::bulk(unsubscribe_word(kind)),
            Reply::Null,
            Reply::Integer(count),
        ]));
    }
    if !last_here.is_empty() {
        let done = Event::default();
        subs.pending.push(done.clone());
        routes::announce(kind, last_here, false, done);
    }
    Reply::Encoded(mailbox.take())
}

/// Leaves every subscription without confirmations (RESET, whose answer
/// then waits for the routes like UNSUBSCRIBE's; and a connection that
/// ends, where no one waits).
pub fn leave_all(s: &mut Session) {
    let id = s.id;
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        let names = std::mem::take(&mut s.pubsub.names[kind.index()]);
        let last_here: Vec<Vec<u8>> = names
            .into_iter()
            .filter(|n| registry::remove(kind, n, id))
            .collect();
        if !last_here.is_empty() {
            let done = Event::default();
            s.pubsub.pending.push(done.clone());
            routes::announce(kind, last_here, false, done);
        }
    }
}
