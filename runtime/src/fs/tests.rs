//! Behaviour of files and directory operations on a one-core runtime.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{
    create_dir_all, metadata, read, read_dir, read_to_string, remove_dir, remove_file, rename,
    symlink_metadata, sync_dir, write, File, OpenOptions,
};
use crate::buf::AlignedBuf;
use crate::runtime::Runtime;
use crate::Cores;

fn block_on<F: Future>(future: F) -> F::Output {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async move {
        crate::time::timeout(Duration::from_secs(20), future)
            .await
            .expect("test hung")
    })
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("frys-fs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn file_write_read_sync_rename_remove() {
    let tmp = TempDir::new("file");
    let root = tmp.path().to_path_buf();
    block_on(async move {
        let dir = root.join("a/b/c");
        create_dir_all(&dir).await.unwrap();
        create_dir_all(&dir).await.unwrap();
        assert!(metadata(&dir).await.unwrap().is_dir());

        let path = dir.join("data");
        let file = File::create(&path).await.unwrap();
        let (res, _) = file.write_all_at(b"hello world".to_vec(), 0).await;
        res.unwrap();
        let (n, _) = file.write_at("frys!", 6).await;
        assert_eq!(n.unwrap(), 5);
        file.sync_data().await.unwrap();
        file.sync_all().await.unwrap();
        let meta = file.metadata().await.unwrap();
        assert_eq!(meta.len(), 11);
        assert!(meta.is_file() && !meta.is_dir());
        assert!(meta.modified().is_some());
        drop(file);

        let file = File::open(&path).await.unwrap();
        let (n, buf) = file.read_at(Vec::with_capacity(64), 0).await;
        assert_eq!(&buf[..n.unwrap()], b"hello frys!");
        let (n, buf) = file.read_at(vec![0u8; 4], 6).await;
        assert_eq!(n.unwrap(), 4);
        assert_eq!(buf, b"frys");
        let (n, _) = file.read_at(Vec::with_capacity(8), 100).await;
        assert_eq!(n.unwrap(), 0, "end of file");
        let (res, buf) = file.read_exact_at(Vec::with_capacity(5), 6).await;
        res.unwrap();
        assert_eq!(buf, b"frys!");
        let (res, _) = file.read_exact_at(Vec::with_capacity(8), 6).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        let (res, _) = file.write_at(&b"x"[..], 0).await;
        assert!(res.is_err(), "opened read-only");

        let moved = root.join("a/moved");
        rename(&path, &moved).await.unwrap();
        sync_dir(root.join("a")).await.unwrap();
        let err = metadata(&path).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(metadata(&moved).await.unwrap().len(), 11);
        assert_eq!(std::fs::read(&moved).unwrap(), b"hello frys!");

        let file = OpenOptions::new().write(true).open(&moved).await.unwrap();
        file.set_len(5).unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 5);
        drop(file);

        std::os::unix::fs::symlink(&moved, root.join("link")).unwrap();
        assert!(symlink_metadata(root.join("link"))
            .await
            .unwrap()
            .is_symlink());
        assert!(metadata(root.join("link")).await.unwrap().is_file());
        remove_file(root.join("link")).await.unwrap();

        remove_file(&moved).await.unwrap();
        assert_eq!(
            remove_file(&moved).await.unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        remove_dir(&dir).await.unwrap();
        assert!(!dir.exists());
    });
}

#[test]
fn open_options_create_new_and_append() {
    let tmp = TempDir::new("options");
    let root = tmp.path().to_path_buf();
    block_on(async move {
        create_dir_all(&root).await.unwrap();
        let path = root.join("log");
        let log = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .await
            .unwrap();
        let (res, _) = log.write_all_at("one,", 0).await;
        res.unwrap();
        let (res, _) = log.write_all_at("two", 0).await;
        res.unwrap();
        drop(log);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"one,two",
            "O_APPEND ignores the offset"
        );
        let err = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        let err = File::open(root.join("missing")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    });
}

#[test]
fn paths_with_nul_are_invalid_input() {
    block_on(async {
        let bad = "bad\0name";
        let kinds = [
            File::open(bad).await.map(drop).unwrap_err().kind(),
            metadata(bad).await.map(drop).unwrap_err().kind(),
            create_dir_all(bad).await.unwrap_err().kind(),
            rename(bad, "x").await.unwrap_err().kind(),
            rename("x", bad).await.unwrap_err().kind(),
            remove_file(bad).await.unwrap_err().kind(),
            remove_dir(bad).await.unwrap_err().kind(),
            sync_dir(bad).await.unwrap_err().kind(),
        ];
        assert!(
            kinds.iter().all(|k| *k == io::ErrorKind::InvalidInput),
            "{kinds:?}"
        );
    });
}

#[test]
fn direct_io_round_trip_with_aligned_buf() {
    let tmp = TempDir::new("direct");
    let root = tmp.path().to_path_buf();
    block_on(async move {
        create_dir_all(&root).await.unwrap();
        let path = root.join("direct");
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .direct(true)
            .open(&path)
            .await;
        let file = match opened {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                println!(
                    "note: {} refuses O_DIRECT; direct I/O round trip skipped",
                    root.display()
                );
                return;
            }
            Err(e) => panic!("open with O_DIRECT: {e}"),
        };
        assert!(file.is_direct());
        let mut buf = AlignedBuf::new(8192);
        buf.set_len(8192);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i % 253) as u8;
        }
        let expected = buf.to_vec();
        let (res, _) = file.write_all_at(buf, 4096).await;
        res.unwrap();
        file.sync_data().await.unwrap();
        let (res, back) = file.read_exact_at(AlignedBuf::new(8192), 4096).await;
        res.unwrap();
        assert_eq!(&back[..], &expected[..]);
        let (n, head) = file.read_at(AlignedBuf::new(4096), 0).await;
        assert_eq!(n.unwrap(), 4096);
        assert!(
            head.iter().all(|&b| b == 0),
            "the hole before the write reads as zeros"
        );
    });
}

/// The check happens before any syscall, so it is tested on any
/// filesystem with a file marked direct.
#[test]
fn unaligned_direct_io_is_invalid_input() {
    let tmp = TempDir::new("unaligned");
    std::fs::create_dir_all(tmp.path()).unwrap();
    let std_file = std::fs::File::create(tmp.path().join("f")).unwrap();
    block_on(async move {
        let file = File::from_parts(Arc::new(OwnedFd::from(std_file)), true);
        let aligned = || {
            let mut buf = AlignedBuf::new(4096);
            buf.set_len(4096);
            buf
        };
        // An address one past a 512 boundary, with an aligned length.
        let backing: &'static [u8] = Box::leak(vec![0u8; 8192].into_boxed_slice());
        let skip = (513 - backing.as_ptr() as usize % 512) % 512;
        let misaligned_ptr = &backing[skip..skip + 4096];
        assert_eq!(misaligned_ptr.as_ptr() as usize % 512, 1);
        let (res, _) = file.write_at(misaligned_ptr, 0).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let mut short = aligned();
        short.set_len(100);
        let (res, back) = file.write_at(short, 0).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(back.len(), 100, "the buffer comes back");
        let (res, _) = file.write_all_at(aligned(), 10).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let (res, _) = file.read_at(AlignedBuf::new(1000), 0).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let (res, _) = file.read_exact_at(AlignedBuf::new(4096), 7).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let (n, _) = file.write_at(aligned(), 0).await;
        assert_eq!(n.unwrap(), 4096, "aligned I/O passes the check");
    });
}

#[test]
fn whole_file_write_read_and_list() {
    let dir = TempDir::new("whole");
    block_on(async {
        create_dir_all(dir.path()).await.unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        write(dir.path().join("big"), big.clone()).await.unwrap();
        assert_eq!(read(dir.path().join("big")).await.unwrap(), big);
        write(dir.path().join("small"), "héllo").await.unwrap();
        assert_eq!(
            read_to_string(dir.path().join("small")).await.unwrap(),
            "héllo"
        );
        // write truncates what was there.
        write(dir.path().join("big"), Vec::new()).await.unwrap();
        assert!(read(dir.path().join("big")).await.unwrap().is_empty());
        write(dir.path().join("bad"), vec![0xff, 0xfe])
            .await
            .unwrap();
        let e = read_to_string(dir.path().join("bad")).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let mut names: Vec<_> = read_dir(dir.path())
            .await
            .unwrap()
            .iter()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["bad", "big", "small"]);
        let e = read_dir(dir.path().join("missing")).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    });
}

#[test]
fn read_sees_all_of_a_file_whose_size_is_reported_as_zero() {
    block_on(async {
        let status = read_to_string("/proc/self/status").await.unwrap();
        assert!(status.starts_with("Name:"), "{status}");
        assert!(status.contains("VmRSS:"));
    });
}
