//! [`RwLock`]: an async reader-writer lock for `!Send` code on one core.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};

use super::semaphore::Semaphore;

/// Permits of an `RwLock`: a reader takes one, a writer all of them.
const ALL: usize = usize::MAX >> 3;

/// An async reader-writer lock for tasks of one core (share it with `Rc`).
/// Many readers or one writer; requests are served in arrival order, so a
/// waiting writer is not starved by later readers.
///
/// # Examples
/// ```no_run
/// use frys_runtime::sync::RwLock;
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let config = RwLock::new(String::from("v1"));
/// {
///     let a = config.read().await;
///     let b = config.read().await;
///     assert_eq!(*a, *b);
/// }
/// *config.write().await = String::from("v2");
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    sem: Semaphore,
    value: UnsafeCell<T>,
}

impl<T> RwLock<T> {
    /// A new, unlocked lock.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            sem: Semaphore::new(ALL),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared access.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped future gives up its place in the queue.
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        let _ = self.sem.acquire(1).await;
        RwLockReadGuard { lock: self }
    }

    /// Waits for exclusive access.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped future gives up its place in the queue.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        let _ = self.sem.acquire(ALL).await;
        RwLockWriteGuard { lock: self }
    }

    /// The value, through a unique borrow of the lock (no locking).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: ?Sized> std::fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwLock").finish_non_exhaustive()
    }
}

/// Shared access to an [`RwLock`]'s value; released on drop.
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a reader holds one permit, so no writer (which needs all
        // of them) holds the lock; only shared borrows exist. The lock is
        // !Sync, so no other thread can reach the value.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

/// Exclusive access to an [`RwLock`]'s value; released on drop.
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the writer holds every permit: no other guard exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(ALL);
    }
}
