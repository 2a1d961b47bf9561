//! The lock-free hand-off of new rings from senders to the receiver: a
//! Treiber stack that senders push onto and the receiver empties at once.
//!
//! Invariants:
//! - `head` is null or points to a `Node` made by `Box::into_raw` in
//!   `push`, whose `next` chain is the rest of the stack; every node is
//!   owned by the stack from its successful push until the `take_all`
//!   that swaps it out (then by that caller), and freed exactly once.
//! - Nodes are never popped one by one, only taken all together by one
//!   `swap`, so there is no ABA: a push's compare-exchange succeeds only if
//!   `head` still is the pointer it linked to.
//! - A push is published by its compare-exchange; `take_all`'s swap makes
//!   the node's contents (the ring and `next`) visible.
//! - After `close` nothing stays on the stack: `close` sets `closed` and
//!   then empties the stack; a push checks `closed` after it lands and, if
//!   set, empties the stack itself. All four are `SeqCst`, so in their one
//!   total order either the closer's swap sees the push or the pusher's
//!   load sees `closed`.

use std::marker::PhantomData;
use std::ptr;

use crate::loom::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use crate::sync::AtomicWaker;

struct Node<T> {
    item: T,
    next: *mut Node<T>,
}

pub(super) struct Handoff<T> {
    head: AtomicPtr<Node<T>>,
    /// The receiver is gone: items pushed now are dropped at once.
    closed: AtomicBool,
    /// The receiver's waker, woken after every push.
    pub(super) waker: AtomicWaker,
    _owns: PhantomData<T>,
}

// SAFETY: items only move through the stack (pushed by one thread, taken by
// another); no `&T` is ever shared, so `T: Send` suffices for both.
unsafe impl<T: Send> Send for Handoff<T> {}
// SAFETY: as above: `&Handoff` lets a thread push or take items, i.e. move
// them between threads, which `T: Send` allows.
unsafe impl<T: Send> Sync for Handoff<T> {}

impl<T> Handoff<T> {
    pub(super) fn new() -> Self {
        Handoff {
            head: AtomicPtr::new(ptr::null_mut()),
            closed: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            _owns: PhantomData,
        }
    }

    /// Pushes `item` and wakes the receiver.
    pub(super) fn push(&self, item: T) {
        let node = Box::into_raw(Box::new(Node {
            item,
            next: ptr::null_mut(),
        }));
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` is ours until the compare-exchange below
            // succeeds; nobody else can see it yet.
            unsafe { (*node).next = head };
            match self
                .head
                .compare_exchange_weak(head, node, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => head = now,
            }
        }
        if self.closed.load(Ordering::SeqCst) {
            drop(self.take_all());
            return;
        }
        self.waker.wake();
    }

    /// The receiver is gone: drops what waits and everything pushed later.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        drop(self.take_all());
    }

    /// Takes every item pushed so far, oldest first.
    pub(super) fn take_all(&self) -> Vec<T> {
        let mut node = self.head.swap(ptr::null_mut(), Ordering::SeqCst);
        let mut items = Vec::new();
        while !node.is_null() {
            // SAFETY: the swap made us the owner of the whole chain (module
            // invariant); each node came from `Box::into_raw` and is freed
            // here once.
            let boxed = unsafe { Box::from_raw(node) };
            node = boxed.next;
            items.push(boxed.item);
        }
        items.reverse();
        items
    }

    /// Whether nothing waits to be taken (a snapshot).
    pub(super) fn is_empty(&self) -> bool {
        self.head.load(Ordering::Acquire).is_null()
    }
}

impl<T> Drop for Handoff<T> {
    fn drop(&mut self) {
        drop(self.take_all());
    }
}
