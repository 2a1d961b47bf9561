//! Reading and setting the CPU affinity of the calling thread.
//!
//! These are thin wrappers over `sched_getaffinity(2)` and
//! `sched_setaffinity(2)` with pid 0, which the kernel reads as "the calling
//! thread" (not the whole process). New threads inherit the mask of the
//! thread that spawned them, so the mask read on the main thread before any
//! pinning is the one the process was started with (`taskset`, a container
//! cpuset, ...).

use std::io;
use std::mem;

use libc::c_ulong;

/// Bits in one word of a kernel CPU mask (the kernel uses `unsigned long`).
const WORD_BITS: usize = c_ulong::BITS as usize;

/// Words in glibc's fixed-size `cpu_set_t` (1024 CPUs).
const CPU_SET_WORDS: usize = mem::size_of::<libc::cpu_set_t>() / mem::size_of::<c_ulong>();

/// The largest mask, in bits, that we try before giving up. Far above any
/// real `CONFIG_NR_CPUS` (8192 today); it only bounds the retry loop.
const MAX_MASK_BITS: usize = 1 << 22;

/// Returns the CPUs the calling thread may run on, sorted.
///
/// Called before the runtime pins any thread, this is the affinity mask the
/// process was started with, which already reflects `taskset` and container
/// cpusets. It works on machines with more than 1024 CPUs: when the kernel's
/// mask does not fit glibc's `cpu_set_t`, the buffer is grown until it fits.
///
/// # Errors
///
/// The error of `sched_getaffinity(2)`.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    let mut words = CPU_SET_WORDS;
    loop {
        let mut mask: Vec<c_ulong> = vec![0; words];
        let size = words * mem::size_of::<c_ulong>();
        // SAFETY: `mask` is a live, exclusively borrowed allocation of exactly
        // `size` bytes, aligned for `c_ulong`, which is the element type and
        // the alignment of `cpu_set_t` (a `#[repr(C)]` array of `c_ulong`).
        // `words >= CPU_SET_WORDS`, so the buffer is at least as large as a
        // `cpu_set_t`. Given `size`, the kernel (and libc's wrapper, which
        // zero-fills the tail) writes at most `size` bytes through the
        // pointer, and every bit pattern is a valid `c_ulong`. The pointer is
        // not retained after the call returns.
        let ret = unsafe {
            libc::sched_getaffinity(0, size, mask.as_mut_ptr().cast::<libc::cpu_set_t>())
        };
        if ret == 0 {
            return Ok(mask_to_cpus(&mask));
        }
        let err = io::Error::last_os_error();
        // EINVAL: the kernel's mask is larger than our buffer. Grow and retry.
        if err.raw_os_error() == Some(libc::EINVAL) && words * WORD_BITS < MAX_MASK_BITS {
            words *= 2;
            continue;
        }
        return Err(err);
    }
}

/// Pins the calling thread to CPU `cpu`.
///
/// Equivalent to `set_current_thread_affinity(&[cpu])`.
///
/// # Errors
///
/// See [`set_current_thread_affinity`].
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    set_current_thread_affinity(&[cpu])
}

/// Restricts the calling thread to the CPUs in `cpus`.
///
/// Only the calling thread is affected; threads it spawns afterwards inherit
/// the new mask.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`] when `cpus` is empty or names an absurdly
/// large CPU number; otherwise the error of `sched_setaffinity(2)`, which is
/// `EINVAL` when none of the CPUs is online and allowed (for instance by the
/// container's cpuset).
pub fn set_current_thread_affinity(cpus: &[usize]) -> io::Result<()> {
    let Some(&max) = cpus.iter().max() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set an empty cpu affinity mask",
        ));
    };
    if max >= MAX_MASK_BITS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cpu {max} is beyond the largest cpu number this machine could have"),
        ));
    }
    let words = (max / WORD_BITS + 1).max(CPU_SET_WORDS);
    let mut mask: Vec<c_ulong> = vec![0; words];
    for &cpu in cpus {
        mask[cpu / WORD_BITS] |= 1 << (cpu % WORD_BITS);
    }
    let size = words * mem::size_of::<c_ulong>();
    // SAFETY: `mask` is a live, initialized allocation of exactly `size`
    // bytes, aligned for `c_ulong`, the element type and alignment of
    // `cpu_set_t`, and at least as large as one `cpu_set_t`. The kernel only
    // reads `size` bytes through the pointer and does not retain it.
    let ret = unsafe { libc::sched_setaffinity(0, size, mask.as_ptr().cast::<libc::cpu_set_t>()) };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The indices of the set bits of a kernel CPU mask, in ascending order.
fn mask_to_cpus(mask: &[c_ulong]) -> Vec<usize> {
    let mut cpus = Vec::new();
    for (i, &word) in mask.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            cpus.push(i * WORD_BITS + bit);
            bits &= bits - 1;
        }
    }
    cpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_bits_to_cpus() {
        let mut mask = vec![0 as c_ulong; 3];
        mask[0] = 0b1011;
        mask[2] = 1 << (WORD_BITS - 1);
        assert_eq!(mask_to_cpus(&mask), vec![0, 1, 3, 3 * WORD_BITS - 1]);
    }

    #[test]
    fn allowed_cpus_is_sorted_and_not_empty() {
        let cpus = allowed_cpus().unwrap();
        assert!(!cpus.is_empty());
        assert!(cpus.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn pin_read_back_and_restore() {
        // In a thread of its own, so that the harness thread keeps its mask
        // even if an assertion fails half-way.
        std::thread::spawn(|| {
            let original = allowed_cpus().unwrap();
            let first = original[0];
            pin_current_thread(first).unwrap();
            assert_eq!(allowed_cpus().unwrap(), vec![first]);
            set_current_thread_affinity(&original).unwrap();
            assert_eq!(allowed_cpus().unwrap(), original);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn invalid_masks_are_errors() {
        std::thread::spawn(|| {
            let original = allowed_cpus().unwrap();
            let err = set_current_thread_affinity(&[]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            let err = pin_current_thread(usize::MAX).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            // A CPU that no machine running this test has: the kernel says
            // EINVAL, and the mask is left alone.
            let err = pin_current_thread(MAX_MASK_BITS - 1).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
            assert_eq!(allowed_cpus().unwrap(), original);
        })
        .join()
        .unwrap();
    }
}
