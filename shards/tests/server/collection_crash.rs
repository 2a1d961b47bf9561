//! Collections under `appendfsync always`, SIGKILLed at random moments:
//! every acknowledged write is there after the restart, every
//! collection's count matches its elements, and no element of a deleted
//! collection comes back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;

/// What clients were told: per hash, the fields acknowledged (and the
/// generation the hash was recreated at, after a DEL).
#[derive(Default, Clone)]
struct Acked {
    hashes: BTreeMap<String, BTreeSet<String>>,
    sets: BTreeMap<String, BTreeSet<String>>,
    lists: BTreeMap<String, u64>,
    /// Acknowledged commands so far.
    ops: usize,
    /// Keys of a DEL sent but not acknowledged: gone or not after a kill.
    maybe_deleted: BTreeSet<String>,
}

/// One writer: HSET/SADD/RPUSH and now and then a DEL, recording what was
/// acknowledged; stops at the first error (the server was killed).
fn writer(url: String, id: usize, round: usize, acked: Arc<Mutex<Acked>>, stop: Arc<AtomicBool>) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut c) = client.get_connection() else {
        return;
    };
    let mut rng = (id as u64 + 1) * 0x9e37_79b9 + round as u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let h = format!("h{id}-{}", next() % 4);
        let s = format!("s{id}-{}", next() % 4);
        let l = format!("l{id}-{}", next() % 4);
        let f = format!("f{round}-{i}");
        match next() % 10 {
            0 => {
                // DEL: acknowledged means gone (with everything in it).
                acked
                    .lock()
                    .unwrap()
                    .maybe_deleted
                    .extend([h.clone(), s.clone(), l.clone()]);
                let r: redis::RedisResult<i64> =
                    redis::cmd("DEL").arg(&h).arg(&s).arg(&l).query(&mut c);
                if r.is_err() {
                    return;
                }
                let mut a = acked.lock().unwrap();
                for k in [&h, &s, &l] {
                    a.maybe_deleted.remove(k);
                }
                a.ops += 1;
                a.hashes.remove(&h);
                a.sets.remove(&s);
                a.lists.remove(&l);
            }
            _ => {
                let r: redis::RedisResult<(i64, i64, i64)> = redis::pipe()
                    .cmd("HSET")
                    .arg(&h)
                    .arg(&f)
                    .arg("v")
                    .cmd("SADD")
                    .arg(&s)
                    .arg(&f)
                    .cmd("RPUSH")
                    .arg(&l)
                    .arg(&f)
                    .query(&mut c);
                let Ok((_, _, len)) = r else { return };
                let mut a = acked.lock().unwrap();
                a.ops += 1;
                a.hashes.entry(h).or_default().insert(f.clone());
                a.sets.entry(s).or_default().insert(f);
                a.lists.insert(l, len as u64);
            }
        }
    }
}

#[test]
fn acknowledged_collection_writes_survive_sigkill() {
    let mut s = Server::start_with(2, &["--appendfsync", "always"]);
    let acked = Arc::new(Mutex::new(Acked::default()));
    for round in 0..20 {
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..3)
            .map(|id| {
                let (url, acked, stop) = (s.url(), acked.clone(), stop.clone());
                std::thread::spawn(move || writer(url, id, round, acked, stop))
            })
            .collect();
        // A varying moment: after some acknowledged writes.
        let want = 10 + (round * 37) % 90;
        for _ in 0..2000 {
            if acked.lock().unwrap().ops >= want {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        s.kill();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.join();
        }
        s.start_again(2);
        let mut c = s.conn();
        let a = acked.lock().unwrap().clone();
        // Every collection on the server: its count equals its elements,
        // and it holds at least what was acknowledged (a write cut off by
        // the kill may or may not be there; a DEL in flight likewise).
        for id in 0..3 {
            for k in 0..4 {
                let h = format!("h{id}-{k}");
                let fields: BTreeSet<String> = qa(&mut c, &["HKEYS", &h]);
                assert_eq!(qa::<usize>(&mut c, &["HLEN", &h]), fields.len(), "{h}");
                let gone = |k: &str, n: usize| n == 0 && a.maybe_deleted.contains(k);
                if let Some(want) = a.hashes.get(&h).filter(|_| !gone(&h, fields.len())) {
                    let missing: Vec<_> = want.difference(&fields).collect();
                    assert!(missing.is_empty(), "round {round}: {h} lost {missing:?}");
                }
                let st = format!("s{id}-{k}");
                let members: BTreeSet<String> = qa(&mut c, &["SMEMBERS", &st]);
                assert_eq!(qa::<usize>(&mut c, &["SCARD", &st]), members.len(), "{st}");
                if let Some(want) = a.sets.get(&st).filter(|_| !gone(&st, members.len())) {
                    assert!(want.is_subset(&members), "round {round}: {st} lost members");
                }
                // Elements of a collection deleted earlier never return:
                // every field is from a write after the last acknowledged
                // DEL, which the model keeps as "only what came after".
                let l = format!("l{id}-{k}");
                let items: Vec<String> = qa(&mut c, &["LRANGE", &l, "0", "-1"]);
                assert_eq!(qa::<usize>(&mut c, &["LLEN", &l]), items.len(), "{l}");
                if let Some(&len) = a.lists.get(&l).filter(|_| !gone(&l, items.len())) {
                    assert!(
                        items.len() as u64 >= len,
                        "round {round}: {l} lost elements"
                    );
                }
                if !a.hashes.contains_key(&h) {
                    // Deleted last (or never written): only fields written
                    // after that DEL's acknowledgement may be present, and
                    // those are from writes the kill cut off.
                    assert!(
                        fields.len() <= 1,
                        "round {round}: {h} resurrected {fields:?}"
                    );
                }
            }
        }
        // The server's view is the truth for the next round.
        let mut next = Acked::default();
        for id in 0..3 {
            for k in 0..4 {
                let h = format!("h{id}-{k}");
                let fields: BTreeSet<String> = qa(&mut c, &["HKEYS", &h]);
                if !fields.is_empty() {
                    next.hashes.insert(h, fields);
                }
                let st = format!("s{id}-{k}");
                let members: BTreeSet<String> = qa(&mut c, &["SMEMBERS", &st]);
                if !members.is_empty() {
                    next.sets.insert(st, members);
                }
                let l = format!("l{id}-{k}");
                let len: u64 = qa(&mut c, &["LLEN", &l]);
                if len > 0 {
                    next.lists.insert(l, len);
                }
            }
        }
        *acked.lock().unwrap() = next;
    }
}
