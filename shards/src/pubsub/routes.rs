//! Each core's replica of which cores have subscribers of each name.
//!
//! Invariants: only the owning thread touches its [`Routes`]; core `c`'s
//! membership in a name's [`CoreSet`] is changed by core `c` itself
//! (synchronously, for its own replica) or by a message core `c` sent
//! (for the others). Messages from one core arrive over one mesh ring
//! and run in the order sent, so every replica ends with what the owner
//! last announced. Announcements carry names only when a name gains its
//! first or loses its last subscriber on a core, batched per command.

use std::cell::RefCell;
use std::collections::HashMap;

use super::Kind;
use crate::command::glob_match;
use crate::exec::{join_all, Event};

/// A small sorted set of core indices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreSet(Vec<usize>);

impl CoreSet {
    fn insert(&mut self, core: usize) {
        if let Err(at) = self.0.binary_search(&core) {
            self.0.insert(at, core);
        }
    }

    fn remove(&mut self, core: usize) {
        if let Ok(at) = self.0.binary_search(&core) {
            self.0.remove(at);
        }
    }

    fn union(&mut self, other: &CoreSet) {
        for &c in &other.0 {
            self.insert(c);
        }
    }

    /// Whether no core is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for CoreSet {
    type Item = usize;
    type IntoIter = std::vec::IntoIter<usize>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

type Names = HashMap<Vec<u8>, CoreSet, foldhash::fast::RandomState>;

/// One core's replica: per kind, name → cores with a subscriber.
#[derive(Default)]
pub struct Routes {
    names: [Names; 3],
}

impl Routes {
    /// Records that `core` has (`present`) or no longer has subscribers of
    /// `names` of `kind`.
    pub fn apply(&mut self, kind: Kind, core: usize, names: &[Vec<u8>], present: bool) {
        let map = &mut self.names[kind.index()];
        for name in names {
            if present {
                map.entry(name.clone()).or_default().insert(core);
            } else if let Some(set) = map.get_mut(name.as_slice()) {
                set.remove(core);
                if set.is_empty() {
                    map.remove(name.as_slice());
                }
            }
        }
    }

    /// Cores a message on `channel` must visit: those with subscribers of
    /// the channel and, unless `shard`, of a pattern matching it.
    pub fn targets(&self, channel: &[u8], shard: bool) -> CoreSet {
        if shard {
            return self.names[Kind::Shard.index()]
                .get(channel)
                .cloned()
                .unwrap_or_default();
        }
        let mut cores = self.names[Kind::Channel.index()]
            .get(channel)
            .cloned()
            .unwrap_or_default();
        for (pattern, set) in &self.names[Kind::Pattern.index()] {
            if glob_match(pattern, channel) {
                cores.union(set);
            }
        }
        cores
    }

    /// Cores with a subscriber of any of `names`.
    pub fn cores_of(&self, kind: Kind, names: &[Vec<u8>]) -> CoreSet {
        let map = &self.names[kind.index()];
        let mut cores = CoreSet::default();
        for set in names.iter().filter_map(|n| map.get(n.as_slice())) {
            cores.union(set);
        }
        cores
    }

    /// Names of `kind` with a subscriber somewhere, matching `pattern`,
    /// sorted.
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        let mut names: Vec<Vec<u8>> = self.names[kind.index()]
            .keys()
            .filter(|n| pattern.is_none_or(|p| glob_match(p, n)))
            .cloned()
            .collect();
        names.sort_unstable();
        names
    }

    /// How many names of `kind` have a subscriber somewhere.
    pub fn count(&self, kind: Kind) -> usize {
        self.names[kind.index()].len()
    }
}

thread_local! {
    static ROUTES: RefCell<Routes> = RefCell::new(Routes::default());
}

fn with<R>(f: impl FnOnce(&mut Routes) -> R) -> R {
    ROUTES.with(|r| f(&mut r.borrow_mut()))
}

/// See [`Routes::targets`], on this core's replica.
pub fn targets(channel: &[u8], shard: bool) -> CoreSet {
    with(|r| r.targets(channel, shard))
}

/// See [`Routes::cores_of`], on this core's replica.
pub fn cores_of(kind: Kind, names: &[Vec<u8>]) -> CoreSet {
    with(|r| r.cores_of(kind, names))
}

/// See [`Routes::names`], on this core's replica.
pub fn names(kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
    with(|r| r.names(kind, pattern))
}

/// See [`Routes::count`], on this core's replica.
pub fn count(kind: Kind) -> usize {
    with(|r| r.count(kind))
}

/// Records on this core's replica, and sends to every other core, that
/// this core has (`present`) or no longer has subscribers of `names`;
/// `done` is set once every core has applied it.
pub fn announce(kind: Kind, names: Vec<Vec<u8>>, present: bool, done: Event) {
    let here = frys_runtime::current_core().unwrap_or(0);
    with(|r| r.apply(kind, here, &names, present));
    let cores = usize::from(crate::store::current().map().cores());
    if cores <= 1 {
        done.set();
        return;
    }
    let names = std::sync::Arc::new(names);
    // Sent now, in call order: the mesh keeps one core's messages to
    // another in order, which is what keeps replicas in step.
    let acks: Vec<_> = (0..cores)
        .filter(|&c| c != here)
        .map(|c| {
            let names = names.clone();
            frys_runtime::spawn_on(c, move || {
                with(|r| r.apply(kind, here, &names, present));
                std::future::ready(())
            })
        })
        .collect();
    // A core that is gone (shutdown) cancels its part: done either way.
    frys_runtime::spawn_local(async move {
        join_all(acks).await;
        done.set();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|n| n.as_bytes().to_vec()).collect()
    }

    fn cores(set: CoreSet) -> Vec<usize> {
        set.into_iter().collect()
    }

    #[test]
    fn a_name_lists_the_cores_that_announced_it_until_they_retract() {
        let mut r = Routes::default();
        r.apply(Kind::Channel, 3, &names(&["news"]), true);
        r.apply(Kind::Channel, 1, &names(&["news", "sport"]), true);
        r.apply(Kind::Channel, 1, &names(&["news"]), true);
        assert_eq!(cores(r.targets(b"news", false)), vec![1, 3]);
        r.apply(Kind::Channel, 3, &names(&["news"]), false);
        assert_eq!(cores(r.targets(b"news", false)), vec![1]);
        r.apply(Kind::Channel, 1, &names(&["news", "sport"]), false);
        assert!(r.targets(b"news", false).is_empty());
        assert_eq!(r.count(Kind::Channel), 0, "empty names are dropped");
        // Retracting what was never announced changes nothing.
        r.apply(Kind::Channel, 2, &names(&["none"]), false);
        assert_eq!(r.count(Kind::Channel), 0);
    }

    #[test]
    fn patterns_add_their_cores_to_plain_messages_only() {
        let mut r = Routes::default();
        r.apply(Kind::Channel, 0, &names(&["news.eu"]), true);
        r.apply(Kind::Pattern, 2, &names(&["news.*"]), true);
        r.apply(Kind::Pattern, 1, &names(&["sport.*"]), true);
        r.apply(Kind::Shard, 4, &names(&["news.eu"]), true);
        assert_eq!(cores(r.targets(b"news.eu", false)), vec![0, 2]);
        assert_eq!(cores(r.targets(b"news.us", false)), vec![2]);
        assert_eq!(cores(r.targets(b"news.eu", true)), vec![4]);
        assert!(r.targets(b"weather", false).is_empty());
        assert_eq!(
            cores(r.cores_of(Kind::Pattern, &names(&["news.*", "x"]))),
            vec![2]
        );
    }

    #[test]
    fn names_are_sorted_and_filtered_by_glob() {
        let mut r = Routes::default();
        r.apply(Kind::Channel, 0, &names(&["b", "a", "ab"]), true);
        assert_eq!(r.names(Kind::Channel, None), names(&["a", "ab", "b"]));
        assert_eq!(r.names(Kind::Channel, Some(b"a*")), names(&["a", "ab"]));
        assert!(r.names(Kind::Shard, None).is_empty());
    }
}
