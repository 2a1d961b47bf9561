//! A partition directory has one owner: a second open, from this process
//! or another, is refused while the first lives; a `Db` dropped without
//! `close` keeps the lock until its background work has stopped, so a
//! reopen then finds every acknowledged write and nothing still writing.
//!
//! Child processes are this test binary re-executed with `FRYS_LOCK_CHILD`
//! set (as in `crash_recovery.rs`).

mod common;

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::rc::Rc;

use common::{open_when_unlocked, runtime, TempDir};
use frys_storage::{Db, Error, Options};

const CHILD_MODE: &str = "FRYS_LOCK_CHILD";
const CHILD_DIR: &str = "FRYS_LOCK_DIR";
const CROSS_PROCESS_TEST: &str = "a_second_open_from_another_process_is_refused_both_ways";

fn small_opts() -> Options {
    Options {
        memtable_bytes: 16 << 10,
        target_file_size: 16 << 10,
        level_base_bytes: 64 << 10,
        ..Options::default()
    }
}

fn key(w: u64, i: u64) -> Vec<u8> {
    format!("w{w}-{i:08}").into_bytes()
}

fn value(w: u64, i: u64) -> Vec<u8> {
    format!("value-{w}-{i}-{}", "x".repeat((i % 40) as usize)).into_bytes()
}

#[test]
fn a_second_open_in_this_process_is_refused_and_the_first_keeps_working() {
    let dir = TempDir::new("lock-in-process");
    runtime().block_on(async {
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        db.put(b"before", b"1").await.unwrap();

        match Db::open(dir.path(), small_opts()).await {
            Err(Error::Locked { dir: d, pid }) => {
                assert_eq!(d, dir.path());
                assert_eq!(pid, Some(std::process::id()));
            }
            Err(e) => panic!("expected Locked, got {e}"),
            Ok(_) => panic!("a second open of a live partition succeeded"),
        }
        let msg = Db::open(dir.path(), small_opts())
            .await
            .err()
            .expect("still refused")
            .to_string();
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");

        // The refused opens changed nothing: the first handle still writes,
        // flushes and compacts.
        db.put(b"after", b"2").await.unwrap();
        db.flush().await.unwrap();
        db.compact_range().await.unwrap();
        assert_eq!(db.get(b"before").await.unwrap(), Some(b"1".to_vec()));
        db.close().await.unwrap();

        // `close` releases the lock at once.
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        assert_eq!(db.get(b"after").await.unwrap(), Some(b"2".to_vec()));
        db.close().await.unwrap();
    });
}

/// Child modes: `probe` tries to open and prints the outcome; `hold` opens,
/// writes a key, prints `OPEN`, and closes when its stdin ends.
fn child(mode: &str, dir: &str) {
    runtime().block_on(async move {
        match mode {
            "probe" => match Db::open(dir, small_opts()).await {
                Err(Error::Locked { pid, .. }) => println!("LOCKED {}", pid.unwrap_or(0)),
                Err(e) => println!("ERROR {e}"),
                Ok(_) => println!("OPENED"),
            },
            _ => {
                let db = common::open_when_unlocked(Path::new(dir), small_opts())
                    .await
                    .expect("child open");
                db.put(b"child", b"was here").await.expect("child put");
                println!("OPEN");
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
                db.close().await.expect("child close");
            }
        }
    });
}

fn spawn_child(mode: &str, dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            CROSS_PROCESS_TEST,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .env(CHILD_DIR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The child's first report: from one of `prefixes` to the end of its line
/// (the test harness may print its own text before it on that line).
fn child_line(out: &mut impl BufRead, prefixes: &[&str]) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!("the child ended without printing any of {prefixes:?}");
        }
        if let Some(at) = prefixes.iter().find_map(|p| line.find(p)) {
            return line[at..].trim_end().to_string();
        }
    }
}

/// Reads the child's output to the end (so that it is not killed by a
/// closed pipe) and checks that it exited cleanly.
fn finish_child(mut child: std::process::Child, mut out: impl BufRead) {
    std::io::copy(&mut out, &mut std::io::sink()).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_second_open_from_another_process_is_refused_both_ways() {
    if let (Ok(mode), Ok(dir)) = (std::env::var(CHILD_MODE), std::env::var(CHILD_DIR)) {
        return child(&mode, &dir);
    }
    let dir = TempDir::new("lock-cross-process");
    runtime().block_on(async {
        // We hold it: the child is refused, and told our pid.
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        let mut probe = spawn_child("probe", dir.path());
        let mut out = BufReader::new(probe.stdout.take().unwrap());
        let line = child_line(&mut out, &["LOCKED", "ERROR", "OPENED"]);
        finish_child(probe, out);
        assert_eq!(line, format!("LOCKED {}", std::process::id()));
        db.put(b"parent", b"still works").await.unwrap();
        db.close().await.unwrap();

        // The child holds it: we are refused, and told its pid.
        let mut holder = spawn_child("hold", dir.path());
        let mut out = BufReader::new(holder.stdout.take().unwrap());
        assert_eq!(child_line(&mut out, &["OPEN"]), "OPEN");
        match Db::open(dir.path(), small_opts()).await {
            Err(Error::Locked { pid, .. }) => assert_eq!(pid, Some(holder.id())),
            Err(e) => panic!("expected Locked, got {e}"),
            Ok(_) => panic!("opened a partition another process holds"),
        }
        // End its stdin: it closes and exits.
        drop(holder.stdin.take());
        finish_child(holder, out);
        let db = open_when_unlocked(dir.path(), small_opts()).await.unwrap();
        assert_eq!(db.get(b"child").await.unwrap(), Some(b"was here".to_vec()));
        assert_eq!(
            db.get(b"parent").await.unwrap(),
            Some(b"still works".to_vec())
        );
        db.close().await.unwrap();
    });
}

#[test]
fn a_dropped_db_stops_its_background_work_before_the_directory_reopens() {
    const WRITERS: u64 = 4;
    let dir = TempDir::new("lock-drop");
    let acked: Rc<RefCell<Vec<(u64, u64)>>> = Rc::default();
    runtime().block_on(async {
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let db = db.clone();
            let acked = acked.clone();
            tasks.push(frys_runtime::spawn_local(async move {
                for i in 0.. {
                    db.put(&key(w, i), &value(w, i)).await.unwrap();
                    acked.borrow_mut().push((w, i));
                }
            }));
        }
        let flusher = db.clone();
        tasks.push(frys_runtime::spawn_local(async move {
            loop {
                flusher.flush().await.unwrap();
                // An idle flush returns without waiting: let others run.
                frys_runtime::yield_now().await;
            }
        }));
        let compactor = db.clone();
        tasks.push(frys_runtime::spawn_local(async move {
            loop {
                compactor.compact_range().await.unwrap();
                frys_runtime::yield_now().await;
            }
        }));
        // Run until flushes and compactions have happened, with writes,
        // flushes and a manual compaction all in flight.
        loop {
            // Sleep, not yield: a main future that only yields keeps the
            // core from submitting the tasks' I/O.
            frys_runtime::time::sleep(std::time::Duration::from_millis(1)).await;
            let m = db.metrics();
            if m.flushes >= 4 && m.compactions >= 2 && acked.borrow().len() >= 2000 {
                break;
            }
        }
        for t in &tasks {
            t.abort();
        }
        drop(tasks);

        // The tasks still hold their handles until the core drops them.
        assert!(
            matches!(
                Db::open(dir.path(), small_opts()).await,
                Err(Error::Locked { .. })
            ),
            "a second open while the first is live must be refused"
        );
        drop(db);

        let db = open_when_unlocked(dir.path(), small_opts())
            .await
            .expect("the dropped partition's work stops and its lock goes");
        let acked = acked.borrow().clone();
        for &(w, i) in &acked {
            assert_eq!(
                db.get(&key(w, i)).await.unwrap(),
                Some(value(w, i)),
                "acknowledged key {i} of writer {w} lost"
            );
        }
        // Nothing of the old partition still writes: a full compaction and
        // a clean close work, and a reopen sees the same data.
        db.put(b"later", b"x").await.unwrap();
        db.compact_range().await.unwrap();
        db.close().await.unwrap();
        let db = Db::open(dir.path(), small_opts()).await.unwrap();
        assert_eq!(db.get(b"later").await.unwrap(), Some(b"x".to_vec()));
        let (w, i) = *acked.last().unwrap();
        assert_eq!(db.get(&key(w, i)).await.unwrap(), Some(value(w, i)));
        db.close().await.unwrap();
    });
}
