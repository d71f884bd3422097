//! `ruvector_index_check(regclass)`: verify an hnsw index's pages and graph —
//! every tuple parses, every neighbour pointer names an element, the entry
//! point is an element of its recorded level (the top level, unless a crash
//! came between an insert and its promotion), and every live element is
//! reachable from the entry point, and every table row a build would index
//! now is some live element's, whose vector is the row's (`am::heap_rows`,
//! `Elem::stored_matches`) and, in an index with a filter column, whose
//! key is the row's value (the table is locked in SHARE mode meanwhile). Raises an ERROR naming the first violation; returns a
//! one-line summary otherwise. An ivfflat index is checked by
//! `am::ivfflat::check`.

use std::collections::{HashMap, VecDeque};

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::hnsw::paged::PagedGraph;
use ruvector_core::hnsw::tuple::{parse_chunk, parse_tidlist, ElementRef, Meta, Tid, KIND_CHUNK, KIND_TIDLIST};

use crate::am::storage::Index;
use crate::datum::RegClass;

struct Node {
    level: usize,
    deleted: bool,
    links: Vec<Vec<Tid>>,
    /// The heap TIDs in the element itself, and whether more wait in an
    /// overflow TID list.
    heap: Vec<Tid>,
    overflow: bool,
    /// The filter column's value it was indexed under (`Absent` without one).
    key: ruvector_core::index::FilterKey,
}

fn violation(msg: String) -> ! {
    crate::error::raise_code(PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED, msg)
}

#[pg_extern(volatile, strict)]
fn ruvector_index_check(index: RegClass) -> String {
    let index = index.0;
    let target = crate::am::access::readable_index(index, "ruvector_index_check");
    if target.am != "hnsw" && target.am != "ivfflat" {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            "ruvector_index_check works on hnsw and ivfflat indexes",
        );
    }
    if target.partitioned {
        // a partitioned index has no pages: check each partition's index
        let leaves: Vec<(String, pg_sys::Oid)> = Spi::connect(|client| {
            client
                .select(
                    "SELECT relid::regclass::text, relid FROM pg_partition_tree($1::regclass) WHERE isleaf ORDER BY 1",
                    None,
                    &[pg_sys::Oid::from(index.to_u32()).into()],
                )
                .map(|rows| {
                    rows.filter_map(|r| Some((r.get::<String>(1).ok()??, r.get::<pg_sys::Oid>(2).ok()??))).collect()
                })
                .unwrap_or_default()
        });
        return leaves
            .into_iter()
            .map(|(name, oid)| format!("{name}: {}", ruvector_index_check(RegClass(oid))))
            .collect::<Vec<_>>()
            .join("; ");
    }
    if target.am == "ivfflat" {
        return crate::am::ivfflat::check::check(index);
    }
    // SAFETY: open with AccessShareLock for the duration of the check, and
    // its table in SHARE mode (before the update lock: inserters take their
    // table lock first too), so no insert is half done while the index and
    // the table are compared (on a standby ACCESS SHARE, and the table is
    // not compared: `am::heap_rows`).
    let (rel, heap) = unsafe {
        let rel = pg_sys::index_open(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let heap = pg_sys::table_open((*(*rel).rd_index).indrelid, crate::am::heap_rows::table_lock());
        (rel, heap)
    };
    let idx = Index::new(rel);
    // A consistent view: the update lock in exclusive mode waits for inserts
    // and searches in flight and keeps new ones out until the check ends
    // (otherwise a back-link written after its page was read names an
    // element this check has not seen).
    let _no_inserts = idx.update_lock(true);
    // the element type and metric, from the catalogue and meta page (raises on a foreign index)
    let kind = crate::am::kind::index_kind(rel, "hnsw");
    let meta: Meta = idx.meta();
    if meta.magic != ruvector_core::hnsw::tuple::META_MAGIC {
        violation("meta page: bad magic number".into());
    }
    let mut nodes: HashMap<Tid, Node> = HashMap::new();
    let (mut chunks, mut lists) = (0usize, 0usize);
    for block in 1..idx.nblocks() {
        // freed tuples leave unused line pointers: visit the live ones
        let malformed = idx.read_page(block, |page| {
            for (offset, b) in page.items() {
                let tid = Tid { block, offset };
                let ok = if let Some(e) = ElementRef::parse(b) {
                    let links = (0..=e.level()).map(|l| e.neighbors(l).collect()).collect();
                    let (heap, overflow) = (e.heap_tids().collect(), e.overflow().is_valid());
                    let key = e.filter_key();
                    nodes.insert(tid, Node { level: e.level(), deleted: e.is_deleted(), links, heap, overflow, key });
                    true
                } else if b.first() == Some(&KIND_CHUNK) {
                    chunks += 1;
                    parse_chunk(b).is_some()
                } else if b.first() == Some(&KIND_TIDLIST) {
                    lists += 1;
                    parse_tidlist(b).is_some()
                } else {
                    false
                };
                if !ok {
                    return Some(tid);
                }
            }
            None
        });
        if let Some(tid) = malformed {
            violation(format!("tuple {tid:?} is malformed"));
        }
    }
    let top = nodes.values().map(|n| n.level).max();
    match (meta.entry(), top) {
        (None, None) => {}
        (None, Some(_)) => violation("elements exist but the meta page has no entry point".into()),
        (Some((ep, _)), None) => violation(format!("entry point {ep:?} but no elements")),
        (Some((ep, level)), Some(top)) => {
            let Some(n) = nodes.get(&ep) else { violation(format!("entry point {ep:?} is not an element")) };
            // Below the top level is no fault: an insert appends its element
            // before it promotes it, so a crash in between leaves a higher
            // element under a lower entry point; searches still reach every
            // element through level 0, and the next insert of that level
            // promotes. (The core's seeded tests check that promotion happens
            // when no crash intervenes.)
            if n.level != level || level > top {
                violation(format!("entry point {ep:?} has level {} (meta says {level}, top level is {top})", n.level));
            }
        }
    }
    for (tid, n) in &nodes {
        for (l, list) in n.links.iter().enumerate() {
            for t in list {
                match nodes.get(t) {
                    None => violation(format!("element {tid:?} level {l}: neighbour {t:?} is not an element")),
                    Some(m) if m.level < l => {
                        violation(format!("element {tid:?} level {l}: neighbour {t:?} has only level {}", m.level))
                    }
                    _ => {}
                }
            }
        }
    }
    // Reachability through level-0 links from the entry point: a search
    // descends the upper levels to one element and then walks level 0 only,
    // so an element that only upper-level links lead to is one searches miss.
    let mut seen: HashMap<Tid, ()> = HashMap::new();
    if let Some((ep, _)) = meta.entry() {
        let mut queue = VecDeque::from([ep]);
        seen.insert(ep, ());
        while let Some(t) = queue.pop_front() {
            if let Some(list) = nodes[&t].links.first() {
                for &x in list {
                    if seen.insert(x, ()).is_none() {
                        queue.push_back(x);
                    }
                }
            }
        }
    }
    let live = nodes.values().filter(|n| !n.deleted).count();
    // An element can be unreachable for a moment while its insert is linking it
    // in, or for good if a crash cut that insert short; either way its heap
    // rows are not visible (the insert's transaction had not committed), and
    // VACUUM deletes it later. Only an unreachable element with a visible row
    // is a violation.
    let unreachable: Vec<(Tid, Vec<Tid>)> = nodes
        .iter()
        .filter(|(t, n)| !n.deleted && !seen.contains_key(t))
        .map(|(t, _)| (*t, ruvector_core::hnsw::paged::element_tids(&idx, *t).map(|e| e.tids).unwrap_or_default()))
        .collect();
    if !unreachable.is_empty() {
        let heap = Spi::get_one::<String>(&format!(
            "SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = {}",
            index.to_u32()
        ))
        .ok()
        .flatten()
        .unwrap_or_default();
        for (tid, heap_tids) in &unreachable {
            let list =
                heap_tids.iter().map(|t| format!("\"({},{})\"", t.block, t.offset)).collect::<Vec<_>>().join(",");
            let visible =
                Spi::get_one::<i64>(&format!("SELECT count(*) FROM {heap} WHERE ctid = ANY('{{{list}}}'::tid[])"))
                    .ok()
                    .flatten()
                    .unwrap_or(0);
            if visible > 0 {
                violation(format!(
                    "element {tid:?} is not reachable from the entry point ({} of {live} live elements are)",
                    seen.len()
                ));
            }
        }
    }
    // The table: every row a build would index is some live element's, as
    // its vector. (heap row → its element)
    let mut held: HashMap<u64, Tid> = HashMap::new();
    for (tid, n) in nodes.iter().filter(|(_, n)| !n.deleted) {
        // the element's own TIDs were read with it; only duplicates that
        // overflowed into TID lists are read again
        let tids = if n.overflow {
            ruvector_core::hnsw::paged::element_tids(&idx, *tid).map(|e| e.tids).unwrap_or_default()
        } else {
            n.heap.clone()
        };
        held.extend(tids.into_iter().map(|t| (crate::am::storage::tid_key(t), *tid)));
    }
    let columns = crate::am::kind::index_columns(rel);
    let graph = PagedGraph::open(idx, &meta, kind);
    let mut rule = |heap_tid: Tid, values: *const pg_sys::Datum, isnull: *const bool| {
        // SAFETY: the scan's key columns, as aminsert gets them; the vector
        // a datum of the type index_kind() found.
        let (value, key) = unsafe { crate::am::kind::row_columns(columns, values, isnull) };
        // aminsert's own rule: a zero vector under cosine is not indexed
        let Some(row) = value.and_then(|v| unsafe { super::read_row(kind, v) }).and_then(|r| r.prepared(kind)) else {
            return false;
        };
        if let Some(&element) = held.get(&crate::am::storage::tid_key(heap_tid)) {
            let differs = match graph.raw(element) {
                Some(stored) => kind.elem.stored_matches(kind.measure, &stored, &row.raw).err(),
                None => Some("its vector's chunks do not make a whole vector".into()),
            };
            if let Some(problem) = differs {
                violation(format!("element {element:?} does not hold heap row {heap_tid:?}'s vector: {problem}"));
            }
            // a filtered search trusts the key stored with the element
            let stored = nodes.get(&element).map_or(key, |n| n.key);
            if stored != key {
                let show = |k: ruvector_core::index::FilterKey| match k {
                    ruvector_core::index::FilterKey::Absent => "none".to_string(),
                    ruvector_core::index::FilterKey::Null => "NULL".to_string(),
                    ruvector_core::index::FilterKey::Value(v) => v.to_string(),
                };
                violation(format!(
                    "element {element:?} holds filter key {} for heap row {heap_tid:?}, whose key is {}",
                    show(stored),
                    show(key)
                ));
            }
        }
        true
    };
    // SAFETY: the relations opened above, the table in SHARE mode.
    let compared = crate::am::heap_rows::compares_table();
    let table_rows =
        if compared { unsafe { crate::am::heap_rows::indexed_rows(heap, rel, &mut rule) } } else { vec![] };
    if let Some((first, count)) = crate::am::heap_rows::first_missing(&table_rows, &held) {
        violation(format!("heap row {first:?} is in no element ({count} of {} rows are missing)", table_rows.len()));
    }
    // SAFETY: opened above with these lock modes.
    unsafe {
        pg_sys::table_close(heap, crate::am::heap_rows::table_lock());
        pg_sys::index_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    }
    format!(
        "ok: {} elements ({} deleted, {} unreachable without visible rows), {} vector chunks, {} TID lists, top level {}, {} pages",
        nodes.len(),
        nodes.len() - live,
        unreachable.len(),
        chunks,
        lists,
        top.map_or(-1, |t| t as i64),
        idx.nblocks()
    ) + if compared { "" } else { ", table not compared (recovery)" }
}
