//! Frys plugins: commands added to the shard server by sandboxed WASM
//! modules or trusted native libraries.
//!
//! This crate knows nothing of the server: a plugin declares its commands
//! ([`contract`]); a call gets its arguments and the values of its
//! declared keys, already read by the server, in a [`call::Call`], and
//! leaves a reply and buffered writes ([`call::Outcome`]) that the server
//! applies only when the call succeeded. The server routes each call to
//! the core that owns its keys before any plugin code runs.

pub mod call;
pub mod collection;
pub mod contract;
pub mod reply;
pub mod wasm;

pub use call::{Call, Ending, Outcome, OutcomeKind, Value, Write};
pub use collection::{Change, Collection, Kind};
pub use contract::{CommandDesc, Flag, KeyRange, PluginInfo};
pub use reply::Reply;
pub mod native;
pub mod registry;
pub mod sign;

pub use registry::{registry, LoadOptions, Plugin};
