//! `statx(2)` for the file-operation pool, with an `fstatat` fallback for
//! kernels (before 4.11) and sandboxes that lack it.
//!
//! The fallback fills the fields `fs::Metadata` reads (size, mode,
//! modification time) and the other basic ones `stat` has, and says so in
//! `stx_mask`.

use std::os::fd::RawFd;

/// Runs `statx(dirfd, path, flags, mask, out)`; returns 0 or `-errno`.
///
/// # Safety
///
/// `path` is a NUL-terminated string and `out` points at a writable
/// `statx`, both alive for the call.
pub(crate) unsafe fn statx(
    dirfd: RawFd,
    path: *const libc::c_char,
    flags: libc::c_int,
    mask: libc::c_uint,
    out: *mut libc::statx,
) -> i32 {
    // SAFETY: the caller guarantees the pointers; the kernel writes one
    // `statx` to `out`.
    let ret = unsafe { libc::syscall(libc::SYS_statx, dirfd, path, flags, mask, out) };
    if ret == 0 {
        return 0;
    }
    let err = errno();
    if err != libc::ENOSYS {
        return -err;
    }
    // SAFETY: forwarded from our caller.
    unsafe { fstatat_as_statx(dirfd, path, flags, out) }
}

/// # Safety
///
/// As for [`statx`].
unsafe fn fstatat_as_statx(
    dirfd: RawFd,
    path: *const libc::c_char,
    flags: libc::c_int,
    out: *mut libc::statx,
) -> i32 {
    // SAFETY: `stat` is plain old data; all zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let flags = flags & (libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH);
    // SAFETY: `path` per our caller; `st` is a live local the kernel fills.
    if unsafe { libc::fstatat(dirfd, path, &mut st, flags) } < 0 {
        return -errno();
    }
    // SAFETY: `statx` is plain old data; all zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    stx.stx_mask = libc::STATX_BASIC_STATS;
    stx.stx_blksize = st.st_blksize as u32;
    stx.stx_nlink = st.st_nlink as u32;
    stx.stx_uid = st.st_uid;
    stx.stx_gid = st.st_gid;
    stx.stx_mode = st.st_mode as u16;
    stx.stx_ino = st.st_ino;
    stx.stx_size = st.st_size as u64;
    stx.stx_blocks = st.st_blocks as u64;
    stx.stx_atime.tv_sec = st.st_atime;
    stx.stx_atime.tv_nsec = st.st_atime_nsec as u32;
    stx.stx_mtime.tv_sec = st.st_mtime;
    stx.stx_mtime.tv_nsec = st.st_mtime_nsec as u32;
    stx.stx_ctime.tv_sec = st.st_ctime;
    stx.stx_ctime.tv_nsec = st.st_ctime_nsec as u32;
    // SAFETY: the caller guarantees `out` is writable.
    unsafe { out.write(stx) };
    0
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}
