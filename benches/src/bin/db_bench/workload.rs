//! Keys, values and operation orders shared by every engine, so that all
//! engines run exactly the same byte sequences.

/// Key length, as in LevelDB's db_bench.
pub const KEY_LEN: usize = 16;

/// The key of index `i`: zero-padded decimal, 16 bytes (LevelDB's `%016d`),
/// so byte order equals numeric order.
pub fn key(i: u64) -> [u8; KEY_LEN] {
    let mut k = [b'0'; KEY_LEN];
    let mut n = i;
    for slot in k.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    k
}

/// Deterministic xorshift64* generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Values like db_bench's `RandomGenerator`: a 1 MiB pool built of pieces
/// that are half random printable bytes, half a copy of them, so lz4 gets
/// them to about 50%. Value `i` is a window of the pool.
pub struct Values {
    pool: Vec<u8>,
    size: usize,
    slots: usize,
}

impl Values {
    pub fn new(size: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let piece = size.max(1);
        let slots = ((1 << 20) / piece).max(1);
        let mut pool = Vec::with_capacity(slots * piece);
        while pool.len() < slots * piece {
            let raw = piece.div_ceil(2);
            let random: Vec<u8> = (0..raw).map(|_| b' ' + (rng.below(95) as u8)).collect();
            let start = pool.len();
            while pool.len() < start + piece {
                let take = (start + piece - pool.len()).min(random.len());
                pool.extend_from_slice(&random[..take]);
            }
        }
        Self { pool, size, slots }
    }

    pub fn get(&self, i: u64) -> &[u8] {
        let at = (i as usize % self.slots) * self.size;
        &self.pool[at..at + self.size]
    }
}

/// The key indexes a benchmark visits, in order.
pub fn order(benchmark: &str, num: u64, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed ^ fnv(benchmark));
    match benchmark {
        "fillseq" => (0..num).collect(),
        // A permutation: every key exactly once, so every engine ends with
        // `num` live keys (db_bench draws with replacement instead).
        "fillrandom" => {
            let mut v: Vec<u64> = (0..num).collect();
            for i in (1..v.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                v.swap(i, j);
            }
            v
        }
        // Uniform with replacement, as db_bench.
        _ => (0..num).map(|_| rng.below(num)).collect(),
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_numbers() {
        assert_eq!(&key(42), b"0000000000000042");
        assert!(key(9) < key(10));
    }

    #[test]
    fn fillrandom_is_a_permutation() {
        let mut v = order("fillrandom", 1000, 7);
        v.sort_unstable();
        assert_eq!(v, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn values_have_the_requested_size() {
        let v = Values::new(100, 1);
        assert_eq!(v.get(123_456).len(), 100);
    }
}
