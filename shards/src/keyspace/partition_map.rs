//! Slots → partitions → cores.
//!
//! The 16384 slots are split into `P` contiguous ranges, one per partition;
//! `P` is fixed when a data directory is created. Partitions are spread
//! over the cores in contiguous runs, as evenly as `P` allows, so every
//! core owns `P / cores` or `P / cores + 1` partitions (none when there are
//! more cores than partitions).

use super::slot::SLOTS;

/// The fixed map of one running server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionMap {
    partitions: u16,
    cores: u16,
}

impl PartitionMap {
    /// A map of `partitions` partitions over `cores` cores (both at least 1,
    /// partitions at most 16384).
    pub fn new(partitions: u16, cores: u16) -> Self {
        Self {
            partitions: partitions.clamp(1, SLOTS),
            cores: cores.max(1),
        }
    }

    /// Number of partitions.
    pub fn partitions(&self) -> u16 {
        self.partitions
    }

    /// Number of cores.
    pub fn cores(&self) -> u16 {
        self.cores
    }

    /// The partition holding `slot`.
    pub fn partition_of_slot(&self, slot: u16) -> u16 {
        ((u32::from(slot) * u32::from(self.partitions)) / u32::from(SLOTS)) as u16
    }

    /// The core that owns `partition`.
    pub fn core_of_partition(&self, partition: u16) -> usize {
        ((u32::from(partition) * u32::from(self.cores)) / u32::from(self.partitions)) as usize
    }

    /// The core that owns `slot`.
    pub fn core_of_slot(&self, slot: u16) -> usize {
        self.core_of_partition(self.partition_of_slot(slot))
    }

    /// The slots of `partition`, as a half-open range.
    pub fn slots_of_partition(&self, partition: u16) -> std::ops::Range<u16> {
        let first = |p: u32| {
            // Smallest slot s with s * P / 16384 >= p.
            ((p * u32::from(SLOTS)).div_ceil(u32::from(self.partitions))) as u16
        };
        let p = u32::from(partition);
        let end = if p + 1 >= u32::from(self.partitions) {
            SLOTS
        } else {
            first(p + 1)
        };
        first(p)..end
    }

    /// The partitions owned by `core`, in order.
    pub fn partitions_of_core(&self, core: usize) -> impl Iterator<Item = u16> + '_ {
        (0..self.partitions).filter(move |&p| self.core_of_partition(p) == core)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_belongs_to_exactly_the_partition_whose_range_holds_it() {
        for partitions in [1u16, 2, 3, 7, 16, 100, 16384] {
            let map = PartitionMap::new(partitions, 2);
            let mut next = 0u32;
            for p in 0..partitions {
                let range = map.slots_of_partition(p);
                assert_eq!(u32::from(range.start), next, "P={partitions} p={p}");
                for s in range.clone() {
                    assert_eq!(map.partition_of_slot(s), p);
                }
                next = u32::from(range.end);
            }
            assert_eq!(next, u32::from(SLOTS));
        }
    }

    #[test]
    fn partitions_spread_evenly_over_cores() {
        for (partitions, cores) in [(16u16, 2u16), (16, 3), (5, 4), (2, 8), (16, 1)] {
            let map = PartitionMap::new(partitions, cores);
            let counts: Vec<usize> = (0..usize::from(cores))
                .map(|c| map.partitions_of_core(c).count())
                .collect();
            let min = *counts.iter().min().unwrap();
            let max = *counts.iter().max().unwrap();
            assert!(max - min <= 1, "{partitions} over {cores}: {counts:?}");
            assert_eq!(counts.iter().sum::<usize>(), usize::from(partitions));
        }
    }
}
