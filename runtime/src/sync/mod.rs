//! Small synchronization primitives shared by the runtime's cross-core parts.

pub(crate) mod atomic_waker;
pub(crate) mod park;

pub(crate) use atomic_waker::AtomicWaker;
pub(crate) use park::ParkFlag;
