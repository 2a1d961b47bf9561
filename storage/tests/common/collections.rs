//! Kvrocks-shaped records for compaction-filter tests: the metadata record
//! `m<name>` holds a collection's version (decimal), and its elements
//! `e<name>|<version>|<sub>` live while the metadata holds that version.

use std::ops::Range;
use std::sync::Arc;

use frys_storage::{CompactionFilter, Options};

/// Elements are dead once their metadata is absent or holds another
/// version.
pub struct Versions;

impl CompactionFilter for Versions {
    fn dependency(&self, key: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(rest) = key.strip_prefix(b"e") else {
            return false;
        };
        let name = rest.split(|&b| b == b'|').next().unwrap_or_default();
        out.push(b'm');
        out.extend_from_slice(name);
        true
    }

    fn is_dead(&self, key: &[u8], _value: &[u8], dependency: Option<&[u8]>) -> bool {
        let version = key.split(|&b| b == b'|').nth(1);
        dependency.is_none_or(|current| Some(current) != version)
    }
}

/// `opts` with the [`Versions`] filter installed.
pub fn with_filter(opts: Options) -> Options {
    Options {
        compaction_filter: Some(Arc::new(Versions)),
        ..opts
    }
}

pub fn meta_key(name: &str) -> Vec<u8> {
    format!("m{name}").into_bytes()
}

pub fn version_value(version: u64) -> Vec<u8> {
    version.to_string().into_bytes()
}

pub fn element_key(name: &str, version: u64, sub: &str) -> Vec<u8> {
    format!("e{name}|{version}|{sub}").into_bytes()
}

/// The keys of every element of `name` at `version`.
pub fn elements_of(name: &str, version: u64) -> Range<Vec<u8>> {
    // '}' follows '|': the range holds exactly the keys with the prefix.
    format!("e{name}|{version}|").into_bytes()..format!("e{name}|{version}}}").into_bytes()
}

/// The keys of every element of every collection.
pub fn all_elements() -> Range<Vec<u8>> {
    b"e".to_vec()..b"f".to_vec()
}
