//! # frys-shards
//!
//! The Redis-protocol shard server: keys map to Redis Cluster's 16384 hash
//! slots, slots to partitions, partitions to cores. A connection lives on
//! the core that accepted it; commands on keys owned by another core are
//! forwarded over the mesh.

pub mod errors;
pub mod protocol;
