//! # frys-runtime
//!
//! A thread-per-core, shared-nothing async runtime on io_uring, with an
//! epoll driver behind the same API where io_uring is unavailable
//! ([`Builder::driver`], [`DriverKind`]).
//!
//! Each core is an executor pinned to one CPU with its own io_uring ring
//! (or epoll instance), timers, bump arena and task queues. Tasks are `!Send` by default
//! ([`spawn_local`]) and never leave their core; `Send` tasks ([`spawn`])
//! wait in a stealable queue from which an idle core may take them before
//! they start. Cores talk through a mesh of lock-free SPSC channels
//! ([`spawn_on`], [`submit_to`], [`channel`]). I/O futures own their buffers
//! (`(io::Result<usize>, B)`), so dropping one while the kernel still holds
//! the buffer is safe.
//!
//! ```no_run
//! use frys_runtime::{Cores, Runtime};
//! let rt = Runtime::builder().cores(Cores::Count(2)).build()?;
//! let cores = rt.run_on_all(|core| async move { core * 10 });
//! assert_eq!(cores, vec![0, 10]);
//! # Ok::<(), frys_runtime::BuildError>(())
//! ```

#![warn(missing_docs)]

pub mod arena;
mod blocking;
pub mod buf;
pub mod channel;
mod driver;
pub mod fs;
#[cfg(feature = "hyper")]
pub mod hyper;
mod loom;
pub mod net;
mod raw_fd;
mod runtime;
pub mod signal;
pub mod sync;
mod task;
pub mod time;
pub mod topology;

pub use blocking::{spawn_blocking, BlockingHandle};
pub use driver::{DriverKind, ParseDriverKindError, RingSetupError, DRIVER_ENV};
pub use runtime::{
    current_core, spawn, spawn_local, spawn_on, submit_to, yield_now, BuildError, Builder,
    CoreStats, QueueStats, Runtime, TaskQueue, TaskQueueError, DEFAULT_SHARES, MAX_SHARES,
};
pub use task::{JoinError, JoinHandle};
pub use topology::{Cores, MemoryBinding, Placement};
