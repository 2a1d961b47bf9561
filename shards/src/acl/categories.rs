//! Redis' ACL command categories, in Redis' order (ACL CAT, COMMAND INFO
//! and the `+@all`/`-@all` description read them in this order).

/// Every category name, without the `@`.
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The bit of category `name` (any case, without `@`), if it is one.
pub fn bit(name: &[u8]) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// The bits of a command row's categories (`["@read", "@string"]`);
/// names that are not categories are ignored.
pub fn bits_of(acl: &[&str]) -> u32 {
    acl.iter()
        .filter_map(|c| bit(c.trim_start_matches('@').as_bytes()))
        .fold(0, |a, b| a | b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_found_in_any_case() {
        assert_eq!(bit(b"keyspace"), Some(1));
        assert_eq!(bit(b"READ"), Some(2));
        assert_eq!(bit(b"nosuch"), None);
        assert_eq!(bits_of(&["@read", "@fast", "@bogus"]), 2 | (1 << 14));
    }
}
