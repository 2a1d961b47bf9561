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

/// The key indexes a benchmark visits, in order: `num` of them for the
/// fills and overwrite, `reads` for the read benchmarks, `sync_num` for
/// `fillsync16` (a prefix of a permutation: distinct keys).
pub fn order(benchmark: &str, num: u64, reads: u64, sync_num: u64, seed: u64) -> Vec<u64> {
    match benchmark {
        "fillsync16" => {
            let mut v = order("fillrandom", num, reads, sync_num, seed);
            v.truncate(sync_num as usize);
            v
        }
        "readzipf" => zipf_order(num, reads, ZIPF_THETA, seed ^ fnv(benchmark)),
        "readrandom" | "seekrandom" | "readwhilewriting" => {
            let mut rng = Rng::new(seed ^ fnv(benchmark));
            (0..reads).map(|_| rng.below(num)).collect()
        }
        _ => write_order(benchmark, num, seed),
    }
}

fn write_order(benchmark: &str, num: u64, seed: u64) -> Vec<u64> {
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

/// YCSB's zipfian constant: with 10M keys, the hottest 1% get ~70% of
/// the reads.
pub const ZIPF_THETA: f64 = 0.99;

/// `count` draws of a zipfian (YCSB's generator, Gray et al.) over `num`
/// ranks, each rank mapped to a key by a fixed bijection so that the hot
/// keys are spread over the key space (YCSB's "scrambled" zipfian) rather
/// than packed into the first blocks.
pub fn zipf_order(num: u64, count: u64, theta: f64, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    let n = num as f64;
    let zeta = |k: u64| (1..=k).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
    let zeta_n = zeta(num);
    let zeta_2 = zeta(2.min(num));
    let alpha = 1.0 / (1.0 - theta);
    let eta = (1.0 - (2.0 / n).powf(1.0 - theta)) / (1.0 - zeta_2 / zeta_n);
    (0..count)
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let uz = u * zeta_n;
            let rank = if uz < 1.0 {
                0
            } else if uz < 1.0 + 0.5f64.powf(theta) {
                1
            } else {
                ((n * (eta * u - eta + 1.0).powf(alpha)) as u64).min(num - 1)
            };
            scatter(rank, num)
        })
        .collect()
}

/// A bijection of `0..num`: multiplication by a prime that does not divide
/// `num` (then it is invertible modulo `num`).
fn scatter(rank: u64, num: u64) -> u64 {
    const PRIMES: [u64; 2] = [2_654_435_761, 2_246_822_519];
    let p = PRIMES
        .into_iter()
        .find(|p| !num.is_multiple_of(*p))
        .unwrap_or(1);
    ((u128::from(rank) * u128::from(p)) % u128::from(num)) as u64
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
        let mut v = order("fillrandom", 1000, 0, 0, 7);
        v.sort_unstable();
        assert_eq!(v, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn fillsync16_writes_distinct_keys() {
        let mut v = order("fillsync16", 1000, 0, 100, 7);
        assert_eq!(v.len(), 100);
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 100);
    }

    #[test]
    fn scatter_is_a_bijection() {
        let mut v: Vec<u64> = (0..997).map(|r| scatter(r, 997)).collect();
        v.sort_unstable();
        assert_eq!(v, (0..997).collect::<Vec<_>>());
    }

    #[test]
    fn zipf_reads_concentrate_on_a_hot_set() {
        let num = 100_000;
        let v = zipf_order(num, 200_000, ZIPF_THETA, 3);
        assert!(v.iter().all(|&k| k < num));
        let mut counts = std::collections::HashMap::new();
        for k in &v {
            *counts.entry(*k).or_insert(0u64) += 1;
        }
        let mut by_heat: Vec<u64> = counts.into_values().collect();
        by_heat.sort_unstable_by(|a, b| b.cmp(a));
        let hot: u64 = by_heat.iter().take((num / 100) as usize).sum();
        // Uniform reads would give the top 1% of keys about 1-2% of reads.
        assert!(hot * 2 > v.len() as u64, "top 1% got {hot} of {}", v.len());
    }

    #[test]
    fn values_have_the_requested_size() {
        let v = Values::new(100, 1);
        assert_eq!(v.get(123_456).len(), 100);
    }
}
