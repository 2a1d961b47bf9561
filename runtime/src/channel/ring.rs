//! Lock-free bounded single-producer / single-consumer ring buffer.
//!
//! [`ring`] returns a [`Producer`] and a [`Consumer`] sharing one
//! heap-allocated ring. Each half can be moved to (and dropped on) its own
//! thread.
//!
//! # Invariants
//!
//! `head` and `tail` are free-running `usize` counters compared with wrapping
//! arithmetic; index `i` lives in slot `i & mask`. The capacity is a power of
//! two no larger than `usize::MAX / 4 + 1`, so `tail - head` never wraps
//! ambiguously.
//!
//! * **`tail`** (shared) is written only by the producer: by
//!   [`Producer::publish`] and when the producer is dropped, always with
//!   `Release`. It counts the items ever published.
//! * **`head`** (shared) is written only by the consumer: with `Release`, after
//!   it moved a value out of its slot. It counts the items ever popped.
//! * `0 <= tail - head <= capacity` at all times.
//! * Slots for indices in `[head, tail)` hold initialized, published values.
//!   They belong to the consumer: only it reads them (moving the value out).
//! * Slots for indices in `[tail, head + capacity)` belong to the producer.
//!   Its private write position `local_tail` lies in
//!   `[tail, head + capacity]`; slots in `[tail, local_tail)` hold pushed but
//!   unpublished values, invisible to the consumer. Only the producer writes
//!   slots, and only at `local_tail`.
//! * Each side caches the other side's counter (`cached_head <= head`,
//!   `cached_tail <= tail`). Both counters only grow, so a stale cache
//!   underestimates free space (producer) or available items (consumer):
//!   always safe. The shared counter is re-read only when the cache says
//!   full / empty.
//!
//! Ownership of a slot moves by message passing: the producer's write of slot
//! `i` happens-before its `Release` store of a `tail > i`, which the consumer
//! `Acquire`-loads before reading slot `i`. The consumer's read of slot `i`
//! happens-before its `Release` store of a `head > i`, which the producer
//! `Acquire`-loads before it writes index `i + capacity` into the same slot.
//!
//! # Drop
//!
//! Dropping the [`Producer`] publishes its pending items. Dropping the
//! [`Consumer`] drops every published item it can see. The values still in
//! `[head, tail)` when the last half goes away (items the producer published
//! after the consumer was dropped) are dropped by the shared ring. Every value
//! is therefore dropped exactly once, whichever half goes first and on
//! whichever thread.

use core::fmt;
use core::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::AtomicUsize;
use crate::loom::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::loom::sync::Arc;

/// Largest supported capacity (after rounding up to a power of two).
pub const MAX_CAPACITY: usize = 1 << (usize::BITS - 2);

/// Creates a ring holding up to `capacity` items, rounded up to a power of
/// two (and to at least 1).
///
/// # Panics
///
/// If `capacity > MAX_CAPACITY`.
pub fn ring<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    assert!(
        capacity <= MAX_CAPACITY,
        "ring capacity {capacity} exceeds MAX_CAPACITY"
    );
    // Cannot overflow: capacity <= MAX_CAPACITY, itself a power of two.
    let capacity = capacity.max(1).next_power_of_two();
    let slots = (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        slots,
        mask: capacity - 1,
    });
    let producer = Producer {
        shared: shared.clone(),
        local_tail: 0,
        published: 0,
        cached_head: 0,
    };
    let consumer = Consumer {
        shared,
        head: 0,
        cached_tail: 0,
    };
    (producer, consumer)
}

/// State shared by both halves.
struct Shared<T> {
    /// Items ever popped. Written only by the consumer.
    head: CachePadded<AtomicUsize>,
    /// Items ever published. Written only by the producer.
    tail: CachePadded<AtomicUsize>,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// `capacity - 1`.
    mask: usize,
}

impl<T> Shared<T> {
    fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Moves `value` into the slot of `index`.
    ///
    /// # Safety
    ///
    /// The caller must own the slot (it is free: see the module invariants)
    /// and nobody else may access it until ownership is handed over.
    unsafe fn write(&self, index: usize, value: T) {
        self.slots[index & self.mask].with_mut(|slot| {
            // SAFETY: the caller owns the slot exclusively (contract above).
            unsafe { (*slot).write(value) };
        });
    }

    /// Moves the value out of the slot of `index`.
    ///
    /// # Safety
    ///
    /// The slot must hold an initialized value owned exclusively by the
    /// caller, and the caller must treat it as uninitialized afterwards.
    unsafe fn read(&self, index: usize) -> T {
        self.slots[index & self.mask].with_mut(|slot| {
            // SAFETY: initialized and exclusively ours (contract above).
            unsafe { (*slot).assume_init_read() }
        })
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // `&mut self`: both halves are gone, and the last `Arc` drop
        // synchronized with the other one, so both counters are final and
        // all slot writes are visible. Relaxed loads suffice.
        let tail = self.tail.load(Relaxed);
        let mut index = self.head.load(Relaxed);
        while index != tail {
            self.slots[index & self.mask].with_mut(|slot| {
                // SAFETY: `[head, tail)` holds initialized values not yet
                // moved out (invariants), and we have exclusive access. Each
                // index is visited once, so each value is dropped once.
                unsafe { (*slot).assume_init_drop() }
            });
            index = index.wrapping_add(1);
        }
    }
}

/// The writing half of a [`ring`].
///
/// Pushed items become visible to the [`Consumer`] only on
/// [`publish`](Self::publish), so a batch costs one `Release` store.
/// `Send` (if `T: Send`) but neither `Sync` nor `Clone`.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Next index to write. `[published, local_tail)` are pending.
    local_tail: usize,
    /// Last value stored to `shared.tail`.
    published: usize,
    /// Last value read from `shared.head` (never ahead of it).
    cached_head: usize,
}

// SAFETY: a `Producer` only touches the atomic counters (thread-safe) and the
// slots the invariants give to the producer; the `Consumer` only touches its
// own slots, and the Acquire/Release counters hand slots over. So the two
// halves may run on different threads. Because `Producer` is neither `Sync`
// nor `Clone`, at most one thread uses the producer side at a time. Values of
// `T` are moved in here and out (or dropped) on another thread, hence
// `T: Send`. `T: Sync` is not needed: no `&T` is ever shared.
unsafe impl<T: Send> Send for Producer<T> {}

impl<T> Producer<T> {
    /// Writes `value` into the next free slot without making it visible, or
    /// gives it back if the ring is full (counting pending items).
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if !self.has_room() {
            return Err(value);
        }
        // SAFETY: `has_room` saw `local_tail - head < capacity`, so index
        // `local_tail` is in `[tail, head + capacity)`: a free slot that only
        // the producer may touch, and the consumer's last read of it
        // happened-before the Acquire load of `head` that made it free.
        unsafe { self.shared.write(self.local_tail, value) };
        self.local_tail = self.local_tail.wrapping_add(1);
        Ok(())
    }

    /// Makes every pushed item visible to the consumer with one `Release`
    /// store. Does nothing if there are no pending items.
    pub fn publish(&mut self) {
        if self.published != self.local_tail {
            self.shared.tail.store(self.local_tail, Release);
            self.published = self.local_tail;
        }
    }

    /// Number of pushed but unpublished items.
    pub fn pending(&self) -> usize {
        self.local_tail.wrapping_sub(self.published)
    }

    /// Whether a [`push`](Self::push) would succeed now. Reads the shared
    /// `head` only if the cached one says the ring is full.
    pub fn has_room(&mut self) -> bool {
        let capacity = self.shared.capacity();
        if self.local_tail.wrapping_sub(self.cached_head) < capacity {
            return true;
        }
        self.cached_head = self.shared.head.load(Acquire);
        self.local_tail.wrapping_sub(self.cached_head) < capacity
    }

    /// Items in the ring not yet popped, pending ones included. A snapshot:
    /// the consumer may pop concurrently.
    #[cfg(all(test, not(loom)))]
    pub fn len(&self) -> usize {
        self.local_tail.wrapping_sub(self.shared.head.load(Acquire))
    }

    /// Whether [`len`](Self::len) is zero (a snapshot).
    #[cfg(all(test, not(loom)))]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Maximum number of items the ring holds.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Pending items become the shared ring's (and the consumer's).
        self.publish();
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

/// The reading half of a [`ring`].
///
/// `Send` (if `T: Send`) but neither `Sync` nor `Clone`. Dropping it drops
/// every published item still in the ring.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Next index to read; mirrors `shared.head` (the consumer is its only
    /// writer).
    head: usize,
    /// Last value read from `shared.tail` (never ahead of it).
    cached_tail: usize,
}

// SAFETY: see `Producer`'s `Send` impl; the same argument applies with the
// roles swapped (the consumer only reads slots in `[head, tail)`).
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Consumer<T> {
    /// Takes the oldest published item. Reads the shared `tail` (`Acquire`)
    /// only when the cached one is exhausted; frees the slot with a
    /// `Release` store of `head`.
    pub fn pop(&mut self) -> Option<T> {
        if self.head == self.cached_tail {
            self.cached_tail = self.shared.tail.load(Acquire);
            if self.head == self.cached_tail {
                return None;
            }
        }
        // SAFETY: `head < cached_tail <= tail`: the slot holds a published,
        // initialized value owned by the consumer, and the producer's write
        // happened-before the Acquire load that returned `cached_tail`. We
        // advance `head` right after, so it is never read twice.
        let value = unsafe { self.shared.read(self.head) };
        self.head = self.head.wrapping_add(1);
        self.shared.head.store(self.head, Release);
        Some(value)
    }

    /// Published items not yet popped (a snapshot: the producer may publish
    /// concurrently).
    #[cfg(all(test, not(loom)))]
    pub fn len(&self) -> usize {
        self.shared.tail.load(Acquire).wrapping_sub(self.head)
    }

    /// Whether no published item is available now. Reads the shared `tail`
    /// only if the cached one is exhausted.
    pub fn is_empty(&self) -> bool {
        self.head == self.cached_tail && self.shared.tail.load(Acquire) == self.head
    }

    /// Maximum number of items the ring holds.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Drop what is visible now, promptly; anything published later is
        // dropped by `Shared::drop`.
        while self.pop().is_some() {}
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{ring, Consumer, Producer};
    use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use crate::loom::sync::Arc;
    use crate::loom::thread;

    /// Records its drop in a bitmask and panics on a double drop.
    struct Tracked {
        id: usize,
        drops: Arc<AtomicUsize>,
    }
    impl Drop for Tracked {
        fn drop(&mut self) {
            let prev = self.drops.fetch_or(1 << self.id, SeqCst);
            assert_eq!(prev & (1 << self.id), 0, "item {} dropped twice", self.id);
        }
    }

    fn assert_send<T: Send>() {}

    /// Fails to compile if `T: Sync` (the call is ambiguous then).
    fn assert_not_sync<T>() {
        trait AmbiguousIfSync<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfSync<()> for T {}
        impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
        <T as AmbiguousIfSync<_>>::check();
    }

    #[test]
    fn auto_traits() {
        assert_send::<Producer<String>>();
        assert_send::<Consumer<String>>();
        assert_not_sync::<Producer<String>>();
        assert_not_sync::<Consumer<String>>();
    }

    #[test]
    fn capacity_rounds_up() {
        assert_eq!(ring::<u8>(0).0.capacity(), 1);
        assert_eq!(ring::<u8>(1).0.capacity(), 1);
        assert_eq!(ring::<u8>(3).1.capacity(), 4);
        assert_eq!(ring::<u8>(64).0.capacity(), 64);
    }

    #[test]
    fn push_is_invisible_until_publish() {
        let (mut tx, mut rx) = ring(4);
        tx.push(1).unwrap();
        tx.push(2).unwrap();
        assert_eq!(tx.pending(), 2);
        assert_eq!(tx.len(), 2);
        assert!(rx.is_empty());
        assert_eq!(rx.pop(), None);
        tx.publish();
        assert_eq!(tx.pending(), 0);
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.pop(), Some(1));
        assert_eq!(rx.pop(), Some(2));
        assert_eq!(rx.pop(), None);
        assert!(tx.is_empty());
    }

    #[test]
    fn full_gives_value_back_and_wraps() {
        let (mut tx, mut rx) = ring(2);
        for round in 0..10 {
            assert_eq!(tx.push(round * 2), Ok(()));
            assert_eq!(tx.push(round * 2 + 1), Ok(()));
            assert!(!tx.has_room());
            assert_eq!(tx.push(99), Err(99), "full counts pending items");
            tx.publish();
            assert_eq!(rx.pop(), Some(round * 2));
            assert!(tx.has_room());
            assert_eq!(rx.pop(), Some(round * 2 + 1));
            assert_eq!(rx.pop(), None);
        }
    }

    #[test]
    fn zero_sized_items() {
        let (mut tx, mut rx) = ring(2);
        tx.push(()).unwrap();
        tx.push(()).unwrap();
        assert_eq!(tx.push(()), Err(()));
        tx.publish();
        assert_eq!(rx.pop(), Some(()));
        assert_eq!(rx.pop(), Some(()));
        assert_eq!(rx.pop(), None);
    }

    fn drop_scenario(consumer_first: bool) {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = ring(8);
        let item = |id| Tracked {
            id,
            drops: drops.clone(),
        };
        for id in 0..3 {
            assert!(tx.push(item(id)).is_ok());
        }
        tx.publish();
        drop(rx.pop()); // id 0
        assert_eq!(drops.load(SeqCst), 0b1);
        assert!(tx.push(item(3)).is_ok()); // pending at drop time
        if consumer_first {
            drop(rx); // drops 1, 2
            assert_eq!(drops.load(SeqCst), 0b111);
            assert!(tx.push(item(4)).is_ok());
            tx.publish();
            drop(tx); // shared ring drops 3, 4
        } else {
            drop(tx); // publishes 3
            drop(rx); // drops 1, 2, 3
        }
        let all = if consumer_first { 0b11111 } else { 0b1111 };
        assert_eq!(drops.load(SeqCst), all);
    }

    #[test]
    fn drops_every_item_once_consumer_first() {
        drop_scenario(true);
    }

    #[test]
    fn drops_every_item_once_producer_first() {
        drop_scenario(false);
    }

    #[test]
    fn threads_in_order() {
        const N: usize = 200_000;
        let (mut tx, mut rx) = ring::<usize>(64);
        let producer = thread::spawn(move || {
            for i in 0..N {
                let mut v = i;
                while let Err(back) = tx.push(v) {
                    v = back;
                    tx.publish();
                    thread::yield_now();
                }
                if i % 7 == 0 {
                    tx.publish();
                }
            }
        });
        let mut expected = 0;
        while expected < N {
            match rx.pop() {
                Some(v) => {
                    assert_eq!(v, expected);
                    expected += 1;
                }
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(rx.pop(), None);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::ring;
    use crate::loom::sync::atomic::AtomicUsize;
    use crate::loom::sync::atomic::Ordering::Relaxed;
    use crate::loom::sync::Arc;
    use crate::loom::thread;

    /// Records its drop in a bitmask and panics on a double drop.
    struct Tracked {
        id: usize,
        drops: Arc<AtomicUsize>,
    }
    impl Drop for Tracked {
        fn drop(&mut self) {
            let prev = self.drops.fetch_or(1 << self.id, Relaxed);
            assert_eq!(prev & (1 << self.id), 0, "item {} dropped twice", self.id);
        }
    }

    /// Producer pushes `n` items into a capacity-2 ring, publishing every
    /// second push (and when full); consumer pops until it has `n`. Every
    /// item arrives exactly once, in order; loom's `UnsafeCell` tracking
    /// catches any overlapping slot access.
    #[test]
    fn ring_in_order_exactly_once() {
        const N: usize = 4;
        crate::loom::model(|| {
            let (mut tx, mut rx) = ring::<usize>(2);
            let producer = thread::spawn(move || {
                for i in 0..N {
                    let mut v = i;
                    while let Err(back) = tx.push(v) {
                        v = back;
                        tx.publish();
                        thread::yield_now();
                    }
                    if i % 2 == 1 {
                        tx.publish();
                    }
                }
                tx.publish();
            });
            let mut expected = 0;
            while expected < N {
                match rx.pop() {
                    Some(v) => {
                        assert_eq!(v, expected);
                        expected += 1;
                    }
                    None => thread::yield_now(),
                }
            }
            producer.join().unwrap();
        });
    }

    /// Both halves are dropped mid-stream on different threads, in either
    /// order: the producer drops with one item published-but-unread and one
    /// pending; the consumer drops after popping at most one item. All
    /// created items are dropped exactly once.
    #[test]
    fn ring_drop_midway_exactly_once() {
        const N: usize = 3;
        crate::loom::model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let (mut tx, mut rx) = ring(2);
            let d = drops.clone();
            let producer = thread::spawn(move || {
                for id in 0..N {
                    let v = Tracked {
                        id,
                        drops: d.clone(),
                    };
                    // A full ring gives the value back; it is dropped here.
                    let _ = tx.push(v);
                    if id == 0 {
                        tx.publish();
                    }
                }
                // Dropping `tx` publishes the pending items.
            });
            let consumer = thread::spawn(move || {
                if let Some(v) = rx.pop() {
                    assert_eq!(v.id, 0, "first item first");
                }
                // Dropping `rx` drops what it can see.
            });
            producer.join().unwrap();
            consumer.join().unwrap();
            assert_eq!(drops.load(Relaxed), (1 << N) - 1);
        });
    }
}
