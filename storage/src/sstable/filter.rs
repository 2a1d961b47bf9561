//! The table's bloom filter over user keys, and the 64-bit hash it uses.

use super::TableError;

/// Most probes a filter may ask for (more would only cost time).
const MAX_PROBES: u8 = 30;

/// A decoded bloom filter: answers "may this table hold `user_key`?" with
/// no false negatives.
#[derive(Debug, Clone)]
pub struct BloomFilter {
    bits: Vec<u8>,
    probes: u8,
}

impl BloomFilter {
    /// Parses a filter block payload (`bits | k: u8`). `offset` is the
    /// block's file offset, used only in errors.
    pub fn decode(mut payload: Vec<u8>, offset: u64) -> Result<BloomFilter, TableError> {
        let corrupt = |what| TableError::Corrupt { what, offset };
        let probes = payload.pop().ok_or(corrupt("empty bloom filter"))?;
        if probes > MAX_PROBES {
            return Err(corrupt("bloom filter probe count"));
        }
        if probes > 0 && payload.is_empty() {
            return Err(corrupt("bloom filter without bits"));
        }
        Ok(BloomFilter {
            bits: payload,
            probes,
        })
    }

    /// `false` only if no key with this user key was added.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        if self.probes == 0 || self.bits.is_empty() {
            return true;
        }
        let m = self.bits.len() as u64 * 8;
        Probes::new(user_key, self.probes).all(|p| {
            let bit = p % m;
            self.bits[(bit / 8) as usize] & (1 << (bit % 8)) != 0
        })
    }

    /// Bytes held in memory.
    pub fn len_bytes(&self) -> usize {
        self.bits.len()
    }
}

/// Collects the user keys of a table and encodes its filter block.
#[derive(Debug)]
pub struct BloomFilterBuilder {
    bits_per_key: usize,
    hashes: Vec<u64>,
    last_user_key: Option<Vec<u8>>,
}

impl BloomFilterBuilder {
    /// A builder giving about `bits_per_key` bits to each distinct user
    /// key; 0 builds a filter that always answers "may contain".
    pub fn new(bits_per_key: usize) -> BloomFilterBuilder {
        BloomFilterBuilder {
            bits_per_key,
            hashes: Vec::new(),
            last_user_key: None,
        }
    }

    /// Adds a user key; a repeat of the previous key is skipped (versions
    /// of one user key are adjacent in a table).
    pub fn add(&mut self, user_key: &[u8]) {
        if self.last_user_key.as_deref() == Some(user_key) {
            return;
        }
        self.hashes.push(xxh64(user_key, 0));
        let last = self.last_user_key.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(user_key);
    }

    /// Distinct user keys added so far.
    pub fn keys(&self) -> usize {
        self.hashes.len()
    }

    /// Bytes the encoded filter will take.
    pub fn size_estimate(&self) -> usize {
        self.hashes.len() * self.bits_per_key / 8 + 9
    }

    /// Encodes the filter block payload.
    pub fn finish(&self) -> Vec<u8> {
        if self.bits_per_key == 0 {
            return vec![0];
        }
        // k = round(ln 2 * bits_per_key), the count that minimizes false positives.
        let probes = ((self.bits_per_key * 69 + 50) / 100).clamp(1, MAX_PROBES as usize) as u8;
        let m_bits = self
            .hashes
            .len()
            .saturating_mul(self.bits_per_key)
            .max(64)
            .div_ceil(8)
            * 8;
        let mut out = vec![0u8; m_bits / 8];
        let m = m_bits as u64;
        for &h in &self.hashes {
            for p in Probes::from_hash(h, probes) {
                let bit = p % m;
                out[(bit / 8) as usize] |= 1 << (bit % 8);
            }
        }
        out.push(probes);
        out
    }
}

/// Bit positions (before `mod m`) probed for a key: double hashing.
struct Probes {
    h: u64,
    delta: u64,
    left: u8,
}

impl Probes {
    fn new(user_key: &[u8], probes: u8) -> Probes {
        Probes::from_hash(xxh64(user_key, 0), probes)
    }

    fn from_hash(h: u64, probes: u8) -> Probes {
        Probes {
            h,
            delta: h.rotate_left(32) | 1,
            left: probes,
        }
    }
}

impl Iterator for Probes {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        self.left = self.left.checked_sub(1)?;
        let p = self.h;
        self.h = self.h.wrapping_add(self.delta);
        Some(p)
    }
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

/// XXH64 of `data` (the reference algorithm; the filter format depends on
/// its exact output, so it is pinned by test vectors).
pub(crate) fn xxh64(data: &[u8], seed: u64) -> u64 {
    fn round(acc: u64, input: u64) -> u64 {
        acc.wrapping_add(input.wrapping_mul(P2))
            .rotate_left(31)
            .wrapping_mul(P1)
    }
    fn merge(acc: u64, v: u64) -> u64 {
        (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4)
    }
    fn u64_at(b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        u64::from_le_bytes(a)
    }

    let mut rest = data;
    let mut h = if data.len() >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        let mut stripes = data.chunks_exact(32);
        for stripe in &mut stripes {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = round(*lane, u64_at(&stripe[i * 8..]));
            }
        }
        rest = stripes.remainder();
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane in v {
            h = merge(h, lane);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u64);

    let mut words = rest.chunks_exact(8);
    for w in &mut words {
        h ^= round(0, u64_at(w));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    }
    let mut rest = words.remainder();
    if rest.len() >= 4 {
        let w = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        h ^= u64::from(w).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= u64::from(b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh64_matches_reference_vectors() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        assert_eq!(
            xxh64(b"Nobody inspects the spammish repetition", 0),
            0xFBCE_A83C_8A37_8BF1
        );
    }

    fn key(i: u64) -> Vec<u8> {
        format!("user-key-{i:08}").into_bytes()
    }

    #[test]
    fn bloom_has_no_false_negatives_and_under_two_percent_false_positives() {
        let n = 100_000;
        let mut b = BloomFilterBuilder::new(10);
        for i in 0..n {
            b.add(&key(i));
            b.add(&key(i)); // a second version of the same user key
        }
        assert_eq!(b.keys(), n as usize);
        let payload = b.finish();
        assert_eq!(*payload.last().unwrap(), 7, "k = 7 at 10 bits per key");
        let f = BloomFilter::decode(payload, 0).unwrap();
        assert!((0..n).all(|i| f.may_contain(&key(i))));
        let fp = (n..2 * n).filter(|&i| f.may_contain(&key(i))).count();
        let rate = fp as f64 / n as f64;
        assert!(rate < 0.02, "false positive rate {rate}");
    }

    #[test]
    fn disabled_and_empty_filters() {
        let f = BloomFilter::decode(BloomFilterBuilder::new(0).finish(), 0).unwrap();
        assert!(f.may_contain(b"anything"));
        let f = BloomFilter::decode(BloomFilterBuilder::new(10).finish(), 0).unwrap();
        assert!(!f.may_contain(b"anything"));
    }

    #[test]
    fn malformed_filters_are_rejected() {
        assert!(BloomFilter::decode(vec![], 4).is_err());
        assert!(BloomFilter::decode(vec![7], 4).is_err());
        assert!(BloomFilter::decode(vec![0xff, 31], 4).is_err());
    }
}
