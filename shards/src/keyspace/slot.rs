//! Key → hash slot, exactly as Redis Cluster computes it: CRC16/XMODEM of
//! the key, or of its `{hash tag}` when the key has a non-empty one, modulo
//! 16384.

/// Number of hash slots (Redis Cluster's).
pub const SLOTS: u16 = 16384;

/// The hash slot of `key`.
///
/// ```
/// use frys_shards::keyspace::key_slot;
/// assert_eq!(key_slot(b"foo"), 12182);
/// assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
/// assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
/// ```
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS - 1)
}

/// The part of `key` that is hashed: the bytes between the first `{` and
/// the first `}` after it, if that is non-empty; otherwise the whole key.
fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    let rest = &key[open + 1..];
    match rest.iter().position(|&b| b == b'}') {
        Some(0) | None => key,
        Some(close) => &rest[..close],
    }
}

/// CRC16/XMODEM (polynomial 0x1021, initial value 0), as in Redis' crc16.c.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_xmodem_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn slots_match_redis_cluster() {
        // Values from `CLUSTER KEYSLOT` on a real Redis.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"hello"), 866);
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn hash_tags_follow_redis_rules() {
        assert_eq!(key_slot(b"{user}a"), key_slot(b"user"));
        assert_eq!(key_slot(b"x{user}y"), key_slot(b"user"));
        // An empty tag hashes the whole key.
        assert_eq!(key_slot(b"{}user"), crc16(b"{}user") & 16383);
        // Only the first `{` counts; the tag ends at the first `}` after it.
        assert_eq!(key_slot(b"{a{b}c}"), key_slot(b"a{b"));
        // No closing brace: whole key.
        assert_eq!(key_slot(b"{abc"), crc16(b"{abc") & 16383);
    }
}
