//! [`Mutex`]: an async mutex for `!Send` code on one core.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};

use super::semaphore::Semaphore;

/// An async mutual-exclusion lock for tasks of one core (share it with
/// `Rc`). Waiters get the lock in arrival order. Holding the guard across
/// an `.await` is what it is for; it is `!Send`, like the mutex.
///
/// Use it where a `RefCell` borrow would have to live across an `.await`.
///
/// # Examples
/// ```no_run
/// use std::rc::Rc;
/// use frys_runtime::sync::Mutex;
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let log = Rc::new(Mutex::new(Vec::new()));
/// let l = log.clone();
/// let task = frys_runtime::spawn_local(async move {
///     let mut entries = l.lock().await;
///     frys_runtime::time::sleep(std::time::Duration::from_millis(1)).await;
///     entries.push("written while holding the lock");
/// });
/// task.await.unwrap();
/// assert_eq!(log.lock().await.len(), 1);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    sem: Semaphore,
    value: UnsafeCell<T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            sem: Semaphore::new(1),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped `lock` future gives up its place in the queue
    /// (or passes the lock on if it had just been handed to it).
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        // Never closed, so the acquire cannot fail.
        let _ = self.sem.acquire(1).await;
        MutexGuard { mutex: self }
    }

    /// The lock if it is free now and nobody waits for it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.sem
            .try_acquire(1)
            .then_some(MutexGuard { mutex: self })
    }

    /// The value, through a unique borrow of the mutex (no locking).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mutex").finish_non_exhaustive()
    }
}

/// Holds a [`Mutex`] locked; unlocks on drop.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the semaphore's only permit, so no other
        // guard exists; the mutex is !Sync (its semaphore holds Cells), so
        // no other thread can reach the value.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this borrow unique
        // among this guard's borrows.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.sem.release(1);
    }
}
