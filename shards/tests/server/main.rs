//! The shard-server's integration tests: each module drives the real
//! `shard-server` binary over TCP (`common` starts it on a free port with
//! its own data directory). They are one test binary on purpose: every
//! test binary links the whole server with its TLS, WASM and storage
//! dependencies, and one link instead of one per module keeps the build's
//! time and disk use in bounds.

mod common;

mod acl;
mod backup;
mod cluster;
mod collection_crash;
mod connection;
mod disk_full;
mod driver;
mod expiry;
mod hashes_sets;
mod keys;
mod limits;
mod lists;
mod migration;
mod persistence;
mod plugins;
mod protocol;
mod pubsub;
mod review_regressions;
mod strings;
mod tls;
mod transactions;
mod zset_blocking;
mod zsets;
