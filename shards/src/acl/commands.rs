//! The ACL view of the command table: every command and subcommand gets a
//! dense id (its bit in a user's command bitmap), its full name
//! (`config|get`) and its category bits, in table order. Built once from
//! `command::all()`; the table is fixed while the server runs.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::categories;
use crate::command::{self, CommandSpec};

/// One command or subcommand.
pub struct AclCommand {
    /// Its container's name, for a subcommand.
    pub container: Option<&'static str>,
    /// The row.
    pub spec: &'static CommandSpec,
    /// `get`, or `config|get` for a subcommand.
    pub full_name: String,
    /// Ids of its subcommands (empty for a leaf).
    pub subcommands: std::ops::Range<usize>,
    /// Category bits.
    pub categories: u32,
}

/// Every command and subcommand, indexed by id.
pub struct CommandIds {
    /// By id: a command is followed by its subcommands.
    pub entries: Vec<AclCommand>,
    by_pair: HashMap<(&'static str, &'static str), usize>,
    by_name: HashMap<String, usize>,
}

impl CommandIds {
    /// The id of command `spec`, a subcommand of `container` if given.
    pub fn id_of(&self, container: Option<&str>, spec: &CommandSpec) -> Option<usize> {
        let key = match container {
            Some(c) => (c, spec.name),
            None => (spec.name, ""),
        };
        self.by_pair.get(&key).copied()
    }

    /// The id of `name` (`get`, `config|get`, any case).
    pub fn id_by_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// How many ids there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none (never, with the built-in table).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The table (built on first use).
pub fn ids() -> &'static CommandIds {
    static IDS: OnceLock<CommandIds> = OnceLock::new();
    IDS.get_or_init(|| {
        let mut entries = Vec::new();
        for spec in command::all() {
            let me = entries.len();
            entries.push(AclCommand {
                container: None,
                spec,
                full_name: spec.name.to_string(),
                subcommands: 0..0,
                categories: categories::bits_of(spec.acl),
            });
            for sub in spec.subcommands {
                entries.push(AclCommand {
                    container: Some(spec.name),
                    spec: sub,
                    full_name: format!("{}|{}", spec.name, sub.name),
                    subcommands: 0..0,
                    categories: categories::bits_of(sub.acl),
                });
            }
            let end = entries.len();
            entries[me].subcommands = me + 1..end;
        }
        let by_pair = entries
            .iter()
            .enumerate()
            .map(|(i, e)| match e.container {
                Some(c) => ((c, e.spec.name), i),
                None => ((e.spec.name, ""), i),
            })
            .collect();
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.full_name.clone(), i))
            .collect();
        CommandIds {
            entries,
            by_pair,
            by_name,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_follow_their_command() {
        let ids = ids();
        let config = ids.id_by_name("CONFIG").unwrap();
        let get = ids.id_by_name("config|get").unwrap();
        assert!(ids.entries[config].subcommands.contains(&get));
        assert_eq!(ids.id_of(Some("config"), ids.entries[get].spec), Some(get));
        assert_eq!(ids.id_of(None, ids.entries[config].spec), Some(config));
        assert!(ids.id_by_name("nosuch").is_none());
    }

    /// Every built-in command Redis 7.0 also has carries Redis' categories
    /// (its JSON `acl_categories` plus the flag-implied ones), as
    /// `scripts/gen_acl_tables.py` extracted them.
    #[test]
    fn categories_match_redis_7() {
        let redis: HashMap<&str, Vec<&str>> = include_str!("redis7_categories.txt")
            .lines()
            .filter_map(|l| {
                let mut words = l.split(' ');
                Some((words.next()?, words.collect()))
            })
            .collect();
        let mut checked = 0;
        for e in &ids().entries {
            let Some(want) = redis.get(e.full_name.as_str()) else {
                continue;
            };
            let mut ours: Vec<&str> = e.spec.acl.to_vec();
            let mut want = want.clone();
            ours.sort_unstable();
            want.sort_unstable();
            assert_eq!(ours, want, "categories of {}", e.full_name);
            checked += 1;
        }
        assert!(checked > 150, "only {checked} commands compared");
    }
}
