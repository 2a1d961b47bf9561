//! # frys
//!
//! A thread-per-core, shared-nothing runtime on io_uring. This crate is the
//! facade: it re-exports [`frys_runtime`] and the `#[frys::main]` /
//! `#[frys::test]` attribute macros. With the `hyper` feature, `frys::hyper`
//! runs hyper 1.x on frys (`HyperStream`, `LocalExec`, `FrysTimer`; see
//! `examples/http.rs`).
//!
//! ```no_run
//! #[frys::main]
//! async fn main() {
//!     let h = frys::spawn_local(async { 1 + 1 });
//!     assert_eq!(h.await.unwrap(), 2);
//! }
//! ```

pub use frys_macros::{main, test};
pub use frys_runtime::*;
