//! Files and directories on the core's io_uring.
//!
//! [`File`] does positional I/O with owned buffers ([`crate::buf`]); the
//! free functions cover the directory operations a storage engine needs
//! (create, rename, remove, `sync_dir`). Every call is an io_uring operation
//! of the current core, so the futures must run on a frys core.
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

pub use dir::{create_dir, create_dir_all, remove_dir, remove_file, rename, sync_dir};
pub use file::{File, DIRECT_IO_ALIGNMENT};
pub use metadata::{metadata, symlink_metadata, Metadata};
pub use open_options::OpenOptions;

#[cfg(test)]
mod tests;
