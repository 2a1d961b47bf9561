//! What a plugin declares: its name, version and commands, each with the
//! arity, flags and key positions the server routes and checks with
//! before any plugin code runs (Redis' legacy key specs).

/// A command flag, as COMMAND shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// The command may write its keys.
    Write,
    /// The command only reads.
    Readonly,
    /// Refused when the server is out of memory (Redis' `denyoom`).
    DenyOom,
    /// Constant time, no blocking (Redis' `fast`).
    Fast,
}

impl Flag {
    /// Every flag with its bit in the ABIs' flag masks.
    pub const ALL: [(Flag, u32); 4] = [
        (Flag::Write, 1),
        (Flag::Readonly, 2),
        (Flag::DenyOom, 4),
        (Flag::Fast, 8),
    ];

    /// The name COMMAND prints.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Write => "write",
            Flag::Readonly => "readonly",
            Flag::DenyOom => "denyoom",
            Flag::Fast => "fast",
        }
    }

    /// The flags of an ABI mask; unknown bits are refused.
    pub fn from_mask(mask: u32) -> Result<Vec<Flag>, String> {
        let known: u32 = Flag::ALL.iter().map(|(_, b)| b).sum();
        if mask & !known != 0 {
            return Err(format!("unknown command flag bits {:#x}", mask & !known));
        }
        Ok(Flag::ALL
            .iter()
            .filter(|(_, b)| mask & b != 0)
            .map(|(f, _)| *f)
            .collect())
    }
}

/// Where the keys are: arguments `first`, `first + step`, ... up to `last`
/// (negative counts from the end, -1 the last argument). `first == 0`:
/// no keys. The command name is argument 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    /// Index of the first key, 0 for none.
    pub first: i32,
    /// Index of the last key (negative: from the end).
    pub last: i32,
    /// Distance between keys (at least 1 when there are keys).
    pub step: i32,
}

impl KeyRange {
    /// Indices of the keys in a request of `argc` arguments.
    pub fn positions(&self, argc: usize) -> Vec<usize> {
        if self.first <= 0 {
            return Vec::new();
        }
        let first = self.first as usize;
        let step = self.step.max(1) as usize;
        let last = if self.last < 0 {
            argc as i64 + i64::from(self.last)
        } else {
            i64::from(self.last)
        };
        if last < first as i64 {
            return Vec::new();
        }
        let end = (last as usize + 1).min(argc);
        (first..end).step_by(step).collect()
    }
}

/// One command of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandDesc {
    /// Lower-case name.
    pub name: String,
    /// Redis arity: `n > 0` exactly n arguments with the name, `n < 0` at
    /// least `-n`.
    pub arity: i32,
    /// Flags.
    pub flags: Vec<Flag>,
    /// Key positions.
    pub keys: KeyRange,
}

/// Longest command or plugin name.
pub const MAX_NAME_LEN: usize = 32;
/// Most commands one plugin may declare.
pub const MAX_COMMANDS: usize = 64;

impl CommandDesc {
    /// Checks what a plugin declared: a name of `[a-z0-9_.-]` (lower-cased
    /// here), an arity that counts the name, keys inside the arity.
    pub fn new(name: &[u8], arity: i32, flag_mask: u32, keys: KeyRange) -> Result<Self, String> {
        let name = checked_name(name, "command")?;
        if arity == 0 || arity == i32::MIN {
            return Err(format!("command '{name}': arity {arity} is not valid"));
        }
        let flags = Flag::from_mask(flag_mask).map_err(|e| format!("command '{name}': {e}"))?;
        if flags.contains(&Flag::Write) && flags.contains(&Flag::Readonly) {
            return Err(format!("command '{name}' is both write and readonly"));
        }
        let valid_keys = (keys.first == 0 && keys.last == 0 && keys.step == 0)
            || (keys.first > 0
                && keys.step > 0
                && (keys.last < 0 || keys.last >= keys.first)
                && (arity < 0 || keys.last < arity));
        if !valid_keys {
            return Err(format!(
                "command '{name}': key range first={} last={} step={} is not valid",
                keys.first, keys.last, keys.step
            ));
        }
        Ok(CommandDesc {
            name,
            arity,
            flags,
            keys,
        })
    }

    /// Whether `argc` arguments (the name included) fit the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity > 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }
}

/// A plugin's name, lower-cased, checked to be `[a-z0-9_.-]{1,32}`.
pub fn checked_name(name: &[u8], what: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !ok {
        return Err(format!(
            "{what} name '{}' must be 1 to {MAX_NAME_LEN} of [A-Za-z0-9_.-]",
            String::from_utf8_lossy(name)
        ));
    }
    Ok(String::from_utf8_lossy(name).to_ascii_lowercase())
}

/// What a plugin says about itself when loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Lower-case name (PLUGIN UNLOAD / RELOAD take it).
    pub name: String,
    /// The plugin's own version number (MODULE LIST's `ver`).
    pub version: u32,
    /// The ABI version it declared (1 up to ours). A version-1 plugin has
    /// no collection functions, so its calls never load a collection's
    /// elements ([`crate::Value::Unloaded`]).
    pub abi_version: u32,
    /// Its commands.
    pub commands: Vec<CommandDesc>,
}

impl PluginInfo {
    /// Checks the whole declaration: at least one command, no duplicates.
    pub fn validate(&self) -> Result<(), String> {
        if self.commands.is_empty() {
            return Err(format!("plugin '{}' declares no command", self.name));
        }
        if self.commands.len() > MAX_COMMANDS {
            return Err(format!(
                "plugin '{}' declares more than {MAX_COMMANDS} commands",
                self.name
            ));
        }
        for (i, c) in self.commands.iter().enumerate() {
            if self.commands[..i].iter().any(|d| d.name == c.name) {
                return Err(format!(
                    "plugin '{}' declares '{}' twice",
                    self.name, c.name
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ranges_find_positions_like_redis() {
        let one = KeyRange {
            first: 1,
            last: 1,
            step: 1,
        };
        assert_eq!(one.positions(4), vec![1]);
        let pairs = KeyRange {
            first: 1,
            last: -1,
            step: 2,
        };
        assert_eq!(pairs.positions(5), vec![1, 3]);
        let none = KeyRange {
            first: 0,
            last: 0,
            step: 0,
        };
        assert!(none.positions(3).is_empty());
        let two = KeyRange {
            first: 1,
            last: 2,
            step: 1,
        };
        assert_eq!(two.positions(2), vec![1]);
    }

    #[test]
    fn bad_declarations_are_refused() {
        let k = KeyRange {
            first: 1,
            last: 1,
            step: 1,
        };
        assert!(CommandDesc::new(b"CAS", 4, 1 | 4, k).is_ok());
        assert_eq!(CommandDesc::new(b"CAS", 4, 1, k).unwrap().name, "cas");
        assert!(CommandDesc::new(b"", 4, 1, k).is_err());
        assert!(CommandDesc::new(b"a b", 4, 1, k).is_err());
        assert!(CommandDesc::new(b"x", 0, 1, k).is_err());
        assert!(CommandDesc::new(b"x", 2, 1 | 2, k).is_err());
        assert!(CommandDesc::new(b"x", 2, 64, k).is_err());
        let beyond = KeyRange {
            first: 3,
            last: 3,
            step: 1,
        };
        assert!(CommandDesc::new(b"x", 2, 1, beyond).is_err());
        let no_step = KeyRange {
            first: 1,
            last: 1,
            step: 0,
        };
        assert!(CommandDesc::new(b"x", 2, 1, no_step).is_err());
    }
}
