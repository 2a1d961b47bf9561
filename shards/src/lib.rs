//! # frys-shards
//!
//! The Redis-protocol shard server: keys map to Redis Cluster's 16384 hash
//! slots, slots to partitions (one frys-storage LSM each), partitions to
//! cores. A connection lives on the core that accepted it; commands on
//! keys owned by another core are forwarded over the mesh, batched per
//! read, and their replies put back in pipeline order.
//!
//! Module map: [`protocol`] (sans-IO RESP), [`errors`] (every error text),
//! [`command`] (the command table and families), [`store`] (a core's
//! partitions and key locks), [`keyspace`] (slots, partitions, the data
//! directory), [`server`] (start-up, connections, dispatch, shutdown),
//! [`pubsub`] (subscriptions and message delivery across cores),
//! [`config`] (settings), [`txn`] (cross-core transactions: MULTI/EXEC,
//! WATCH, and every multi-key command), [`plugin`] (plugin commands from
//! frys-plugins), [`cluster`] (cluster mode: the pushed slot map,
//! MOVED / CROSSSLOT), `admin` (/metrics).

pub mod acl;
pub mod admin;
pub mod cluster;
pub mod cluster_cli;
pub mod command;
pub mod config;
pub mod errors;
pub mod exec;
pub mod keyspace;
pub mod plugin;
pub mod plugin_cli;
pub mod protocol;
pub mod pubsub;
pub mod server;
pub mod session;
pub mod store;
pub mod txn;
