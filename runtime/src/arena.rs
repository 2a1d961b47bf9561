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
///     let v: &[u32] = bump.alloc_slice_fill_iter(1..11u32);
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

#[cfg(test)]
mod tests {
    use crate::{Cores, Runtime};

    #[test]
    fn the_arena_is_reset_between_ticks() {
        let rt = Runtime::builder()
            .cores(Cores::Count(1))
            .arena_capacity(4096)
            .build()
            .unwrap();
        rt.block_on(async {
            let first = super::with(|bump| bump.alloc([7u8; 64]).as_ptr() as usize);
            crate::yield_now().await;
            // After a tick the same bytes are handed out again.
            let second = super::with(|bump| bump.alloc([9u8; 64]).as_ptr() as usize);
            assert_eq!(first, second);
            assert!(super::allocated_bytes().unwrap() >= 4096);
        });
        assert_eq!(super::allocated_bytes(), None, "outside a core");
    }
}
