//! The core's bump arena.
//!
//! Each core owns one `bumpalo::Bump`, preallocated with the builder's
//! `arena_capacity`. It is **scratch space for synchronous work**: parsing a
//! request, building a reply, sorting a batch — allocations that die before
//! the closure given to [`with`] returns. The borrow checker enforces that:
//! nothing allocated inside `with` can escape it.
//!
//! Reset point: the core resets the arena at the end of every scheduler tick
//! (after a batch of task polls, before it looks at I/O again), so memory
//! is reused tick after tick with no per-allocation free. A single `with`
//! call that allocates a lot grows the arena; after a reset only the largest
//! chunk is kept.
//!
//! Not for: anything that must live across an `.await` or beyond the
//! closure (use `Box`/`Vec`), or long-lived structures such as memtables,
//! which own a `Bump` of their own whose life they control.

use bumpalo::Bump;

use crate::runtime::context;

/// Runs `f` with the current core's arena.
///
/// # Panics
/// Panics outside a frys core.
///
/// # Examples
/// ```no_run
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let sum = frys_runtime::arena::with(|bump| {
///     let v = bumpalo::collections::Vec::from_iter_in(1..=10u32, bump);
///     v.iter().sum::<u32>()
/// });
/// assert_eq!(sum, 55);
/// # });
/// ```
pub fn with<R>(f: impl FnOnce(&Bump) -> R) -> R {
    context::with_current(|ctx| f(&ctx.arena.borrow()))
        .expect("frys::arena::with called outside a frys core")
}

/// Bytes the current core's arena holds (allocated chunks), or `None`
/// outside a frys core.
pub fn allocated_bytes() -> Option<usize> {
    context::with_current(|ctx| ctx.arena.borrow().allocated_bytes())
}
