//! Synchronisation primitives shared by the scheduler and the channels.
mod atomic_waker;
mod park;

pub use atomic_waker::AtomicWaker;
pub use park::ParkFlag;
