//! The cluster files of a data directory.
//!
//! ```text
//! <dir>/NODEID    "<40 hex>\n": made once, at the first start in cluster mode
//! <dir>/SLOTMAP   "frys-shards slot map\nepoch <N>\n" + the SETNODES payload
//! <dir>/SLOTSTATE "frys-shards open slots\n" + one line per open slot:
//!                 "migrating <slot> <node-id>" or "importing <slot> <node-id>"
//! ```
//!
//! SLOTSTATE keeps CLUSTER SETSLOT's MIGRATING / IMPORTING states (Redis
//! keeps them in nodes.conf), so a node restarted in the middle of a move
//! still sends clients to the importing node for the keys already moved
//! instead of serving them as new keys. It is written after SLOTMAP, and
//! the states are filtered against the map when loaded (as
//! [`super::install`] does), so a crash between the two files leaves no
//! state the map contradicts.
//!
//! All are replaced atomically (temp file, fsync, rename, fsync of the
//! directory: `DataDir::write_file`). A damaged file is refused at start
//! with the file's name and why, never silently replaced.

use std::collections::BTreeMap;

use super::slot_map::{valid_node_id, SlotMap, NODE_ID_LEN};
use crate::keyspace::DataDir;
use crate::keyspace::SLOTS;

const NODE_ID_FILE: &str = "NODEID";
const MAP_FILE: &str = "SLOTMAP";
const MAP_HEADER: &str = "frys-shards slot map";
const STATE_FILE: &str = "SLOTSTATE";
const STATE_HEADER: &str = "frys-shards open slots";

/// Open slots: slot -> the other node's id.
pub type OpenSlots = BTreeMap<u16, String>;

/// The node id kept in `dir`, made (and persisted) if there is none.
pub fn load_or_create_node_id(dir: &DataDir) -> Result<String, String> {
    match dir.read_file(NODE_ID_FILE).map_err(|e| e.to_string())? {
        Some(text) => {
            let id = text.trim();
            if !valid_node_id(id) {
                return Err(format!(
                    "{}: {NODE_ID_FILE} is damaged (not {NODE_ID_LEN} lower-case hex characters)",
                    dir.root().display()
                ));
            }
            Ok(id.to_string())
        }
        None => {
            let id = random_node_id();
            dir.write_file(NODE_ID_FILE, format!("{id}\n").as_bytes())
                .map_err(|e| e.to_string())?;
            tracing::info!(id, "cluster: new node id");
            Ok(id)
        }
    }
}

/// The map kept in `dir` (`None` if none was pushed yet).
pub fn load_map(dir: &DataDir) -> Result<Option<SlotMap>, String> {
    let Some(text) = dir.read_file(MAP_FILE).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let damaged = |why: String| format!("{}: {MAP_FILE} is damaged: {why}", dir.root().display());
    let mut lines = text.splitn(3, '\n');
    if lines.next() != Some(MAP_HEADER) {
        return Err(damaged("no header".to_string()));
    }
    let epoch = lines
        .next()
        .and_then(|l| l.strip_prefix("epoch "))
        .and_then(|e| e.parse::<u64>().ok())
        .ok_or_else(|| damaged("no epoch line".to_string()))?;
    SlotMap::parse(epoch, lines.next().unwrap_or(""))
        .map(Some)
        .map_err(damaged)
}

/// Persists `map` in `dir` (atomically).
pub fn save_map(dir: &DataDir, map: &SlotMap) -> Result<(), String> {
    let text = format!("{MAP_HEADER}\nepoch {}\n{}", map.epoch(), map.to_text());
    dir.write_file(MAP_FILE, text.as_bytes())
        .map_err(|e| e.to_string())
}

/// The open slots kept in `dir`: (migrating, importing), both empty if
/// none were ever opened.
pub fn load_open_slots(dir: &DataDir) -> Result<(OpenSlots, OpenSlots), String> {
    let (mut migrating, mut importing) = (OpenSlots::new(), OpenSlots::new());
    let Some(text) = dir.read_file(STATE_FILE).map_err(|e| e.to_string())? else {
        return Ok((migrating, importing));
    };
    let damaged = |why: String| format!("{}: {STATE_FILE} is damaged: {why}", dir.root().display());
    let mut lines = text.lines();
    if lines.next() != Some(STATE_HEADER) {
        return Err(damaged("no header".to_string()));
    }
    for line in lines {
        let parts: Vec<&str> = line.split(' ').collect();
        let [state, slot, id] = parts[..] else {
            return Err(damaged(format!("bad line {line:?}")));
        };
        let slot = slot
            .parse::<u16>()
            .ok()
            .filter(|s| *s < SLOTS)
            .ok_or_else(|| damaged(format!("bad slot in {line:?}")))?;
        if !valid_node_id(id) {
            return Err(damaged(format!("bad node id in {line:?}")));
        }
        let into = match state {
            "migrating" => &mut migrating,
            "importing" => &mut importing,
            _ => return Err(damaged(format!("bad state in {line:?}"))),
        };
        into.insert(slot, id.to_string());
    }
    Ok((migrating, importing))
}

/// Persists the open slots in `dir` (atomically).
pub fn save_open_slots(
    dir: &DataDir,
    migrating: &OpenSlots,
    importing: &OpenSlots,
) -> Result<(), String> {
    let mut text = format!("{STATE_HEADER}\n");
    for (state, slots) in [("migrating", migrating), ("importing", importing)] {
        for (slot, id) in slots {
            text.push_str(&format!("{state} {slot} {id}\n"));
        }
    }
    dir.write_file(STATE_FILE, text.as_bytes())
        .map_err(|e| e.to_string())
}

/// 40 random lower-case hex characters.
fn random_node_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut id = String::with_capacity(NODE_ID_LEN + 16);
    let mut round = 0u64;
    while id.len() < NODE_ID_LEN {
        // RandomState is seeded from the OS's randomness once per process
        // and per thread, then varied; time and pid separate processes.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(crate::store::now_ms());
        h.write_u32(std::process::id());
        h.write_u64(round);
        round += 1;
        id.push_str(&format!("{:016x}", h.finish()));
    }
    id.truncate(NODE_ID_LEN);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> (tempfile::TempDir, DataDir) {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("frys-cluster-{name}"))
            .tempdir()
            .unwrap();
        let d = DataDir::open_or_create(tmp.path(), 1).unwrap();
        (tmp, d)
    }

    #[test]
    fn the_node_id_is_made_once_and_kept() {
        let (_tmp, d) = dir("id");
        let id = load_or_create_node_id(&d).unwrap();
        assert!(valid_node_id(&id), "{id}");
        assert_eq!(load_or_create_node_id(&d).unwrap(), id);
        d.write_file(NODE_ID_FILE, b"xyz\n").unwrap();
        let e = load_or_create_node_id(&d).unwrap_err();
        assert!(e.contains("NODEID is damaged"), "{e}");
    }

    #[test]
    fn a_saved_map_loads_back_and_a_damaged_one_is_refused() {
        let (_tmp, d) = dir("map");
        assert_eq!(load_map(&d).unwrap(), None);
        let a = "a".repeat(40);
        let map = SlotMap::parse(7, &format!("{a} 127.0.0.1 7000 master - 0-16383")).unwrap();
        save_map(&d, &map).unwrap();
        assert_eq!(load_map(&d).unwrap(), Some(map));
        d.write_file(MAP_FILE, b"frys-shards slot map\nepoch x\n")
            .unwrap();
        assert!(load_map(&d).unwrap_err().contains("no epoch line"));
        d.write_file(MAP_FILE, b"frys-shards slot map\nepoch 1\nbad line\n")
            .unwrap();
        assert!(load_map(&d).unwrap_err().contains("SLOTMAP is damaged"));
    }

    #[test]
    fn open_slots_load_back_and_damaged_states_are_refused() {
        let (_tmp, d) = dir("state");
        let none = (OpenSlots::new(), OpenSlots::new());
        assert_eq!(load_open_slots(&d).unwrap(), none);
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        let migrating = OpenSlots::from([(7, b.clone()), (16383, b.clone())]);
        let importing = OpenSlots::from([(9, a.clone())]);
        save_open_slots(&d, &migrating, &importing).unwrap();
        assert_eq!(
            load_open_slots(&d).unwrap(),
            (migrating.clone(), importing.clone())
        );
        save_open_slots(&d, &OpenSlots::new(), &OpenSlots::new()).unwrap();
        assert_eq!(load_open_slots(&d).unwrap(), none);
        for bad in [
            "nope\n".to_string(),
            format!("{STATE_HEADER}\nmigrating 16384 {b}\n"),
            format!("{STATE_HEADER}\nmigrating 7 xyz\n"),
            format!("{STATE_HEADER}\nleaving 7 {b}\n"),
            format!("{STATE_HEADER}\nmigrating 7\n"),
        ] {
            d.write_file(STATE_FILE, bad.as_bytes()).unwrap();
            let e = load_open_slots(&d).unwrap_err();
            assert!(e.contains("SLOTSTATE is damaged"), "{bad:?}: {e}");
        }
    }
}
