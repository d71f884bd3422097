//! Figures a DBA can check: one index's size and contents as `jsonb`
//! (`ruvector_index_stats`), reading an index into shared buffers
//! (`ruvector_prewarm`), and restarting the Rust heap's peak tracking
//! (`ruvector_reset_peak_memory`). Index figures come from a walk over the
//! index's pages and its meta page; with the library preloaded, also from
//! its entry in the index registry (`shared_memory`, read while the meta
//! page is locked, so `shared_entry_matches_meta_page` must be true), and
//! `source` says which the parameters came from.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::JsonB;
use ruvector_core::hnsw::tuple::{parse_tidlist, ElementRef, Meta, KIND_CHUNK, KIND_TIDLIST};
use ruvector_core::ivf::tuple::{IvfMeta, IVF_VERSION_COPIES};
use ruvector_core::registry::{HnswSharedMem, IvfFlatSharedMem, FLAG_FROM_META_PAGE, UNKNOWN};
use serde_json::{json, Value};

use crate::am::storage::Index;
use crate::datum::RegClass;

/// An index opened for reading, closed when dropped.
struct Opened(pg_sys::Relation);

impl Opened {
    fn new(index: pg_sys::Oid) -> Self {
        // SAFETY: an existing index (checked by readable_index), AccessShareLock.
        Opened(unsafe { pg_sys::index_open(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE) })
    }
}

/// Check that `index` is an hnsw or ivfflat index (not a partitioned one)
/// the current role may look into, and open it.
fn open_vector_index(index: pg_sys::Oid, caller: &str) -> (Opened, String) {
    let target = crate::am::access::readable_index(index, caller);
    if target.partitioned || !matches!(target.am.as_str(), "hnsw" | "ivfflat") {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("{caller} works on hnsw and ivfflat indexes (of a partition, for a partitioned table)"),
        );
    }
    (Opened::new(index), target.am)
}

impl Drop for Opened {
    fn drop(&mut self) {
        // SAFETY: opened by Opened::new with this lock mode.
        unsafe { pg_sys::index_close(self.0, pg_sys::AccessShareLock as pg_sys::LOCKMODE) }
    }
}

/// One hnsw or ivfflat index's figures: pages and bytes on disk, and what it
/// holds (elements, deleted elements, heap TIDs; lists and rows), with the
/// build parameters from its meta page.
#[pg_extern(volatile, strict)]
fn ruvector_index_stats(index: RegClass) -> JsonB {
    let (rel, am) = open_vector_index(index.0, "ruvector_index_stats");
    let idx = Index::new(rel.0);
    let pages = idx.nblocks();
    let mut stats = json!({
        "index": idx.name(),
        "access_method": am,
        "source": "meta_page",
        "pages": pages,
        "bytes": pages as u64 * pg_sys::BLCKSZ as u64,
    });
    let extra = if pages == 0 {
        json!({ "node_count": 0 })
    } else if am == "hnsw" {
        crate::am::kind::index_kind(rel.0, "hnsw");
        let (meta, entry): (Meta, Option<HnswSharedMem>) = idx.meta_and_entry();
        add_entry(&mut stats, entry.map(|e| (hnsw_entry_json(&e), e.meta == meta)));
        let (mut live, mut deleted, mut tids, mut chunks) = (0u64, 0u64, 0u64, 0u64);
        let mut level0_links = 0u64;
        for block in 1..pages {
            idx.read_page(block, |page| {
                for (_, bytes) in page.items() {
                    if let Some(e) = ElementRef::parse(bytes) {
                        if e.is_deleted() {
                            deleted += 1;
                        } else {
                            live += 1;
                            tids += e.heap_tids().count() as u64;
                            level0_links += e.neighbor_count(0) as u64;
                        }
                    } else if bytes.first() == Some(&KIND_TIDLIST) {
                        tids += parse_tidlist(bytes).map_or(0, |(t, _)| t.len() as u64);
                    } else if bytes.first() == Some(&KIND_CHUNK) {
                        chunks += 1;
                    }
                }
            });
            pgrx::check_for_interrupts!();
        }
        json!({
            "node_count": live,
            "elements": live + deleted,
            "deleted_nodes": deleted,
            "heap_tids": tids,
            "vector_chunks": chunks,
            "mean_level0_links": if live == 0 { 0.0 } else { level0_links as f64 / live as f64 },
            "dimensions": meta.dims,
            "m": meta.m,
            "ef_construction": meta.ef_construction,
            "entry_level": meta.entry_level,
            "vacuum_generation": meta.generation,
        })
    } else {
        crate::am::kind::index_kind(rel.0, "ivfflat");
        let (meta, entry): (IvfMeta, Option<IvfFlatSharedMem>) = idx.meta_and_entry();
        add_entry(&mut stats, entry.map(|e| (ivfflat_entry_json(&e), e.meta == meta)));
        let lists = crate::am::ivfflat::lists::Lists::read(idx);
        let chain = |start, what| crate::am::ivfflat::lists::chain_tuples(idx, start, what);
        let rows: u64 = lists.entries.iter().map(|e| chain(e.start, "list page")).sum();
        // format 3: the full copies on the copy pages (one per row that
        // needs one, once VACUUM has freed the dead ones)
        let copies = (lists.meta.version == IVF_VERSION_COPIES).then(|| chain(lists.meta.copy_start, "copy page"));
        json!({
            "node_count": rows,
            "lists": lists.meta.lists,
            "dimensions": lists.meta.dims,
            "row_format": lists.meta.version,
            "copies": copies,
            "scan_first_batch": crate::am::ivfflat::next_first_batch(idx.oid()),
        })
    };
    if let (Some(s), Some(e)) = (stats.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    JsonB(stats)
}

/// Put an index's registry entry (and whether it equals the meta page read
/// at the same moment) into its figures; `source` says where the
/// parameters came from.
fn add_entry(stats: &mut Value, entry: Option<(Value, bool)>) {
    let (shared, matches) = match entry {
        Some((e, m)) => (e, json!(m)),
        None => (Value::Null, Value::Null),
    };
    stats["source"] = json!(if shared.is_null() { "meta_page" } else { "shared_memory" });
    stats["shared_memory"] = shared;
    stats["shared_entry_matches_meta_page"] = matches;
}

fn count(c: u64) -> Value {
    if c == UNKNOWN {
        Value::Null
    } else {
        json!(c)
    }
}

/// An hnsw index's registry entry as jsonb (`elements` null when the entry
/// was made from a meta page read, not by a build, and so does not know it).
pub(crate) fn hnsw_entry_json(e: &HnswSharedMem) -> Value {
    json!({
        "entry_point": format!("({},{})", e.meta.entry_block, e.meta.entry_offset),
        "max_layer": e.meta.entry_level,
        "m": e.meta.m,
        "ef_construction": e.meta.ef_construction,
        "dimensions": e.meta.dims,
        "vacuum_generation": e.meta.generation,
        "elements": count(e.elements),
        "made_from_meta_page": e.flags & FLAG_FROM_META_PAGE != 0,
        "bytes": std::mem::size_of::<HnswSharedMem>(),
        "shared_cache_bytes": e.memory_bytes,
    })
}

/// An ivfflat index's registry entry as jsonb.
pub(crate) fn ivfflat_entry_json(e: &IvfFlatSharedMem) -> Value {
    json!({
        "lists": e.meta.lists,
        "dimensions": e.meta.dims,
        "vectors": count(e.vectors),
        "made_from_meta_page": e.flags & FLAG_FROM_META_PAGE != 0,
        "bytes": std::mem::size_of::<IvfFlatSharedMem>(),
        "shared_cache_bytes": e.memory_bytes,
    })
}

/// Read every page of an hnsw or ivfflat index into shared buffers (like
/// pg_prewarm's "buffer" mode) and, for hnsw with the library preloaded,
/// every element's vector into the shared vector cache; the number of pages
/// read.
#[pg_extern(volatile, strict)]
fn ruvector_prewarm(index: RegClass) -> i64 {
    let (rel, am) = open_vector_index(index.0, "ruvector_prewarm");
    let idx = Index::new(rel.0);
    let pages = idx.prewarm() as i64;
    if am == "hnsw" && pages > 1 {
        crate::am::kind::index_kind(rel.0, "hnsw");
        crate::am::hnsw::fill_shared_cache(idx);
    }
    pages
}

/// Restart the peak tracking of this backend's Rust heap (the "rust heap"
/// row of `ruvector_memory_detailed()`) from what is live now; returns the
/// peak until now, in bytes.
#[pg_extern(volatile)]
fn ruvector_reset_peak_memory() -> i64 {
    crate::alloc::reset_peak() as i64
}
