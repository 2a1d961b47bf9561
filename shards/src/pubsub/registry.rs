//! Each core's index of its own subscribers: per kind, name → the
//! mailboxes of this core's clients subscribed to it.
//!
//! Invariants: only the owning core touches it; an entry exists exactly
//! while it has a subscriber (so this core is in the name's routes); its
//! `announced` event is set once every core's routes know this core has
//! the name. A client is in an entry exactly while the name is in its
//! [`Subscriptions`](super::Subscriptions).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{Kind, Mailbox, Message};
use crate::command::glob_match;
use crate::exec::Event;
use crate::protocol::{encode, ProtocolVersion, Reply};

type Fast = foldhash::fast::RandomState;

struct Entry {
    subscribers: HashMap<u64, Rc<Mailbox>, Fast>,
    announced: Event,
}

#[derive(Default)]
struct Registry {
    names: [HashMap<Vec<u8>, Entry, Fast>; 3],
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

fn with<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    REGISTRY.with(|r| f(&mut r.borrow_mut()))
}

/// What adding a subscriber did.
pub enum Added {
    /// The name is new on this core: the caller announces it and sets the
    /// event it passed.
    First,
    /// Others here listen already; the confirmation must wait for this
    /// event (the name's announcement) if it is not set yet.
    Joined(Event),
}

/// Adds `mailbox` as a subscriber of `name`; a new entry takes
/// `announcement` as its event.
pub fn add(kind: Kind, name: &[u8], mailbox: &Rc<Mailbox>, announcement: &Event) -> Added {
    with(|r| {
        let map = &mut r.names[kind.index()];
        let client = mailbox.client();
        if let Some(entry) = map.get_mut(name) {
            entry.subscribers.insert(client, mailbox.clone());
            return Added::Joined(entry.announced.clone());
        }
        let mut subscribers = HashMap::with_hasher(Fast::default());
        subscribers.insert(client, mailbox.clone());
        map.insert(
            name.to_vec(),
            Entry {
                subscribers,
                announced: announcement.clone(),
            },
        );
        Added::First
    })
}

/// Removes client `client` from `name`; true if that left nobody here
/// (the caller announces it).
pub fn remove(kind: Kind, name: &[u8], client: u64) -> bool {
    with(|r| {
        let map = &mut r.names[kind.index()];
        let Some(entry) = map.get_mut(name) else {
            return false;
        };
        entry.subscribers.remove(&client);
        if entry.subscribers.is_empty() {
            map.remove(name);
            true
        } else {
            false
        }
    })
}

/// This core's subscribers of each of `names`.
pub fn counts(kind: Kind, names: &[Vec<u8>]) -> Vec<usize> {
    with(|r| {
        let map = &r.names[kind.index()];
        names
            .iter()
            .map(|n| map.get(n.as_slice()).map_or(0, |e| e.subscribers.len()))
            .collect()
    })
}

/// Appends `message` to the mailbox of every subscriber here: channel
/// subscribers (`message` / `smessage`), then, unless `shard`, one
/// `pmessage` per matching pattern a client has. Returns how many.
pub fn deliver(message: &Message, shard: bool) -> usize {
    with(|r| {
        let mut receivers = 0;
        let (kind, word) = if shard {
            (Kind::Shard, "smessage")
        } else {
            (Kind::Channel, "message")
        };
        if let Some(entry) = r.names[kind.index()].get(message.channel.as_slice()) {
            let frame = Frame::new(Reply::Push(vec![
                Reply::bulk(word),
                Reply::bulk(message.channel.clone()),
                Reply::bulk(message.payload.clone()),
            ]));
            receivers += frame.send(entry);
        }
        if shard {
            return receivers;
        }
        for (pattern, entry) in &r.names[Kind::Pattern.index()] {
            if !glob_match(pattern, &message.channel) {
                continue;
            }
            let frame = Frame::new(Reply::Push(vec![
                Reply::bulk("pmessage"),
                Reply::bulk(pattern.clone()),
                Reply::bulk(message.channel.clone()),
                Reply::bulk(message.payload.clone()),
            ]));
            receivers += frame.send(entry);
        }
        receivers
    })
}

/// One push, encoded at most once per protocol version.
struct Frame {
    reply: Reply,
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl Frame {
    fn new(reply: Reply) -> Frame {
        Frame {
            reply,
            resp2: None,
            resp3: None,
        }
    }

    fn send(mut self, entry: &Entry) -> usize {
        for mailbox in entry.subscribers.values() {
            let version = mailbox.version();
            let slot = match version {
                ProtocolVersion::Resp2 => &mut self.resp2,
                ProtocolVersion::Resp3 => &mut self.resp3,
            };
            let bytes = slot.get_or_insert_with(|| {
                let mut out = Vec::new();
                encode(&self.reply, version, &mut out);
                out
            });
            mailbox.push_encoded(bytes);
        }
        entry.subscribers.len()
    }
}
