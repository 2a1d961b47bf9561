//! Files and directories on the core's driver.
//!
//! [`File`] does positional I/O with owned buffers ([`crate::buf`]); the
//! free functions cover the directory operations a storage engine needs
//! (create, rename, remove, `sync_dir`). Every call is an operation of the
//! current core's driver, so the futures must run on a frys core. On
//! io_uring it is an SQE; on epoll, which cannot wait for files, the same
//! system call (`pread`, `pwrite`, `fdatasync`, `openat`...) runs on a
//! small per-process thread pool and its result comes back to the core:
//! `O_DIRECT` and `fdatasync` mean exactly what they mean on io_uring.
//!
//! Cancel safety is the same on both drivers: a dropped future's buffer is
//! kept until the kernel (io_uring) or the pool's system call (epoll) is
//! done with it. The one difference: on epoll a call already queued on the
//! pool is not cancelled but runs to completion.
//!
//! Invariants:
//! - paths become `CString`s owned by the operation (an interior NUL is an
//!   `InvalidInput` error); the kernel reads them from the operation's box;
//! - a file's fd is an `Arc<OwnedFd>` shared with its in-flight operations,
//!   closed by the last holder; an open that completes after its future was
//!   dropped closes the new fd;
//! - a file opened with `O_DIRECT` remembers it and rejects unaligned I/O up
//!   front (see [`OpenOptions::direct`]).

mod dir;
mod file;
mod metadata;
mod open_options;
mod ops;
mod path;
mod whole;

pub use dir::{create_dir, create_dir_all, remove_dir, remove_file, rename, sync_dir};
pub use file::{File, DIRECT_IO_ALIGNMENT};
pub use metadata::{metadata, symlink_metadata, Metadata};
pub use open_options::OpenOptions;
pub use whole::{read, read_dir, read_to_string, write};

#[cfg(test)]
mod tests;
