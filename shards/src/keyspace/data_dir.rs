//! The layout of a data directory.
//!
//! ```text
//! <dir>/FRYS        "frys-shards data directory\nformat 1\npartitions P\n"
//! <dir>/LOCK        held (flock) by the one server using the directory
//! <dir>/DBMAP       logical database -> namespace id, after a SWAPDB
//! <dir>/NODEID      this node's cluster id (cluster mode, `crate::cluster`)
//! <dir>/SLOTMAP     the last slot map pushed to it (cluster mode)
//! <dir>/p00000/ ..  one frys-storage partition each, P of them
//! ```
//!
//! Invariants: `FRYS` is written (temp file, fsync, rename, fsync dir)
//! only after every partition directory exists, so a directory with a
//! `FRYS` file always has all its partitions; a directory whose `FRYS`
//! names an unknown format, or whose partition directories disagree with
//! the recorded count, is refused before anything is opened.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const HEADER: &str = "frys-shards data directory";
const FORMAT_FILE: &str = "FRYS";
const DBMAP_FILE: &str = "DBMAP";

/// An opened (validated) data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
    partitions: u16,
}

/// Why a data directory cannot be used.
#[derive(Debug)]
pub enum DataDirError {
    /// A filesystem call failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The directory's contents are not what this build understands.
    Invalid {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for DataDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataDirError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            DataDirError::Invalid { path, reason } => {
                write!(f, "data directory {}: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for DataDirError {}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl DataDir {
    /// Opens `root`, creating it with `new_partitions` partitions if it holds
    /// no data directory yet.
    pub fn open_or_create(root: &Path, new_partitions: u16) -> Result<DataDir, DataDirError> {
        create_dir_all_durably(root).map_err(io_err(root))?;
        let format_path = root.join(FORMAT_FILE);
        match fs::read_to_string(&format_path) {
            Ok(text) => Self::open_existing(root, &text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Self::create(root, new_partitions),
            Err(e) => Err(io_err(&format_path)(e)),
        }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Number of partitions recorded at creation.
    pub fn partitions(&self) -> u16 {
        self.partitions
    }

    /// The directory of partition `p`.
    pub fn partition_dir(&self, p: u16) -> PathBuf {
        partition_dir(&self.root, p)
    }

    /// The namespace id of each logical database (identity unless SWAPDB
    /// ran), extended to at least `databases` entries. Entries past
    /// `databases` are kept (a restart with fewer databases must not lose
    /// the mapping of the others).
    pub fn load_db_map(&self, databases: u16) -> Result<Vec<u16>, DataDirError> {
        let path = self.root.join(DBMAP_FILE);
        let mut map: Vec<u16> = match fs::read_to_string(&path) {
            Ok(text) => text
                .split_whitespace()
                .map(|w| w.parse::<u16>())
                .collect::<Result<_, _>>()
                .map_err(|e| self.invalid(format!("{DBMAP_FILE} is damaged: {e}")))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let mut seen = std::collections::HashSet::new();
        if !map.iter().all(|ns| seen.insert(*ns)) {
            return Err(self.invalid(format!("{DBMAP_FILE} names a namespace twice")));
        }
        // Databases past the recorded map keep their own id unless a
        // recorded database already uses it; then they take a free one.
        for db in map.len() as u32..u32::from(databases) {
            let mut ns = db as u16;
            while seen.contains(&ns) {
                ns = ns.wrapping_add(1);
            }
            seen.insert(ns);
            map.push(ns);
        }
        Ok(map)
    }

    /// Persists the database → namespace map atomically.
    pub fn save_db_map(&self, map: &[u16]) -> Result<(), DataDirError> {
        let text: Vec<String> = map.iter().map(|n| n.to_string()).collect();
        write_atomically(&self.root, DBMAP_FILE, text.join(" ").as_bytes())
    }

    /// The text of the small file `name` in the directory (`None` if it
    /// does not exist).
    pub fn read_file(&self, name: &str) -> Result<Option<String>, DataDirError> {
        let path = self.root.join(name);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Replaces the small file `name` atomically (temp file, fsync,
    /// rename, fsync of the directory).
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<(), DataDirError> {
        write_atomically(&self.root, name, bytes)
    }

    fn open_existing(root: &Path, text: &str) -> Result<DataDir, DataDirError> {
        let invalid = |reason: String| DataDirError::Invalid {
            path: root.to_path_buf(),
            reason,
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(invalid(format!(
                "{FORMAT_FILE} is not a frys-shards format file"
            )));
        }
        let mut format = None;
        let mut partitions = None;
        for line in lines {
            match line.split_once(' ') {
                Some(("format", v)) => format = v.trim().parse::<u32>().ok(),
                Some(("partitions", v)) => partitions = v.trim().parse::<u16>().ok(),
                _ => {}
            }
        }
        let format = format.ok_or_else(|| invalid(format!("{FORMAT_FILE} has no format line")))?;
        if format != FORMAT_VERSION {
            return Err(invalid(format!(
                "format version {format} is not supported by this build (it reads version {FORMAT_VERSION})"
            )));
        }
        let partitions = partitions
            .filter(|p| (1..=super::SLOTS).contains(p))
            .ok_or_else(|| invalid(format!("{FORMAT_FILE} has no valid partitions line")))?;
        let found = list_partition_dirs(root)?;
        let expected: Vec<u16> = (0..partitions).collect();
        if found != expected {
            return Err(invalid(format!(
                "{FORMAT_FILE} records {partitions} partitions but the directory holds {} partition directories ({})",
                found.len(),
                describe_mismatch(&found, partitions)
            )));
        }
        Ok(DataDir {
            root: root.to_path_buf(),
            partitions,
        })
    }

    fn create(root: &Path, partitions: u16) -> Result<DataDir, DataDirError> {
        let partitions = partitions.clamp(1, super::SLOTS);
        let invalid = |reason: String| DataDirError::Invalid {
            path: root.to_path_buf(),
            reason,
        };
        // Partition directories without a FRYS file are the leftovers of an
        // interrupted creation only if none of them holds a partition yet.
        for p in list_partition_dirs(root)? {
            let dir = partition_dir(root, p);
            let used = fs::read_dir(&dir).map_err(io_err(&dir))?.next().is_some();
            if used {
                return Err(invalid(format!(
                    "it has partition data ({}) but no {FORMAT_FILE} file; refusing to guess its layout",
                    dir.display()
                )));
            }
            fs::remove_dir(&dir).map_err(io_err(&dir))?;
        }
        for p in 0..partitions {
            let dir = partition_dir(root, p);
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        let text = format!("{HEADER}\nformat {FORMAT_VERSION}\npartitions {partitions}\n");
        write_atomically(root, FORMAT_FILE, text.as_bytes())?;
        Ok(DataDir {
            root: root.to_path_buf(),
            partitions,
        })
    }

    fn invalid(&self, reason: String) -> DataDirError {
        DataDirError::Invalid {
            path: self.root.clone(),
            reason,
        }
    }
}

fn partition_dir(root: &Path, p: u16) -> PathBuf {
    root.join(format!("p{p:05}"))
}

/// Indices of the `pNNNNN` directories in `root`, sorted.
fn list_partition_dirs(root: &Path) -> Result<Vec<u16>, DataDirError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(root).map_err(io_err(root))? {
        let entry = entry.map_err(io_err(root))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name.strip_prefix('p') {
            if n.len() == 5 && n.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(p) = n.parse::<u16>() {
                    found.push(p);
                }
            }
        }
    }
    found.sort_unstable();
    Ok(found)
}

fn describe_mismatch(found: &[u16], partitions: u16) -> String {
    let missing: Vec<String> = (0..partitions)
        .filter(|p| found.binary_search(p).is_err())
        .take(3)
        .map(|p| format!("p{p:05}"))
        .collect();
    let extra: Vec<String> = found
        .iter()
        .filter(|&&p| p >= partitions)
        .take(3)
        .map(|p| format!("p{p:05}"))
        .collect();
    match (missing.is_empty(), extra.is_empty()) {
        (false, _) => format!("missing {}", missing.join(", ")),
        (true, false) => format!("unexpected {}", extra.join(", ")),
        (true, true) => "duplicates".to_string(),
    }
}

/// Creates `dir` and its missing parents, then syncs the parent of every
/// directory on the path (existing ones too: one may be left by an earlier
/// attempt that failed before syncing its parent), so the entries survive
/// a power loss. An ancestor we may not read (not one we created) is
/// skipped. Blocking (start-up and backups only).
pub(crate) fn create_dir_all_durably(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut next = Some(dir);
    while let Some(d) = next.filter(|d| !d.as_os_str().is_empty()) {
        match sync_parent(d) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
            other => other?,
        }
        next = d.parent();
    }
    Ok(())
}

/// Syncs the directory holding `path`'s entry (`.` for a relative name
/// with no parent; the root is its own parent).
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => path,
    };
    fs::File::open(parent)?.sync_all()
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DataDirError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("frys-datadir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn directories_are_created_durably_whether_new_or_left_over() {
        let root = tempdir("durable");
        let nested = root.join("a").join("b");
        create_dir_all_durably(&nested).unwrap();
        assert!(nested.is_dir());
        // Again, now that every directory exists (as after a failed try).
        create_dir_all_durably(&nested).unwrap();
        // A relative name with no parent: its entry is in `.`.
        sync_parent(Path::new("no-parent")).unwrap();
        // A file in the way is an error, not a silent success.
        let file = root.join("file");
        fs::write(&file, b"x").unwrap();
        assert!(create_dir_all_durably(&file.join("c")).is_err());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_new_directory_records_its_partitions_and_reopens_with_them() {
        let dir = tempdir("new");
        let d = DataDir::open_or_create(&dir, 8).unwrap();
        assert_eq!(d.partitions(), 8);
        // A different default is ignored once the directory exists.
        let d = DataDir::open_or_create(&dir, 32).unwrap();
        assert_eq!(d.partitions(), 8);
        assert!(d.partition_dir(7).is_dir());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unknown_format_version_is_refused() {
        let dir = tempdir("version");
        DataDir::open_or_create(&dir, 2).unwrap();
        fs::write(
            dir.join(FORMAT_FILE),
            format!("{HEADER}\nformat 99\npartitions 2\n"),
        )
        .unwrap();
        let err = DataDir::open_or_create(&dir, 2).unwrap_err().to_string();
        assert!(err.contains("format version 99 is not supported"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_partition_count_that_disagrees_with_the_directories_is_refused() {
        let dir = tempdir("count");
        DataDir::open_or_create(&dir, 4).unwrap();
        fs::remove_dir(dir.join("p00003")).unwrap();
        let err = DataDir::open_or_create(&dir, 4).unwrap_err().to_string();
        assert!(
            err.contains("records 4 partitions") && err.contains("missing p00003"),
            "{err}"
        );
        fs::create_dir(dir.join("p00003")).unwrap();
        fs::create_dir(dir.join("p00009")).unwrap();
        let err = DataDir::open_or_create(&dir, 4).unwrap_err().to_string();
        assert!(err.contains("unexpected p00009"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn partition_data_without_a_format_file_is_refused() {
        let dir = tempdir("orphan");
        fs::create_dir_all(dir.join("p00000")).unwrap();
        fs::write(dir.join("p00000").join("CURRENT"), b"x").unwrap();
        let err = DataDir::open_or_create(&dir, 4).unwrap_err().to_string();
        assert!(err.contains("no FRYS file"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_db_map_survives_a_reopen_and_grows_without_collisions() {
        let dir = tempdir("dbmap");
        let d = DataDir::open_or_create(&dir, 1).unwrap();
        assert_eq!(d.load_db_map(4).unwrap(), vec![0, 1, 2, 3]);
        d.save_db_map(&[1, 0]).unwrap();
        assert_eq!(d.load_db_map(4).unwrap(), vec![1, 0, 2, 3]);
        d.save_db_map(&[2]).unwrap();
        assert_eq!(d.load_db_map(3).unwrap(), vec![2, 1, 3]);
        // Fewer databases than recorded: the map is kept whole.
        d.save_db_map(&[5, 4, 3, 2, 1, 0]).unwrap();
        assert_eq!(d.load_db_map(2).unwrap(), vec![5, 4, 3, 2, 1, 0]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
