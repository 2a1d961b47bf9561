//! Small synchronization primitives shared by the runtime's cross-core parts.

pub mod atomic_waker;
pub mod park;

pub use atomic_waker::AtomicWaker;
pub use park::ParkFlag;
