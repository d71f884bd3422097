//! `aminsert`: add one row to a built index. The algorithm is the core's
//! (`ruvector_core::hnsw::paged::insert`); this reads the row, takes the
//! update lock and reads the meta page (from the index registry when it can).
//! The search for the new element's neighbours reads vectors through the
//! vector cache, as searches do (`DiskGraph`); the core measures the
//! candidates it returns again from the pages, with their deleted flags.

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::hnsw::paged::insert::{self, Search};
use ruvector_core::hnsw::tuple::{Meta, Tid};

use crate::am::kind::{check_row_dims, index_columns, index_kind, row_columns, Row};
use crate::am::storage::tid_of;
use crate::am::storage::Index;
use ruvector_core::index::FilterKey;

/// Insert an already-prepared row (normalised for cosine) for `heap_tid`,
/// with its filter key.
pub fn insert_row(index: Index, row: &Row, heap_tid: Tid, key: FilterKey) {
    // VACUUM waits for this before it frees deleted elements (see vacuum.rs)
    let _update = index.update_lock(false);
    let kind = index_kind(index.relation(), "hnsw");
    let mut meta: Meta = super::meta_for_search(index);
    if meta.dims == 0 {
        meta.dims = index.update_meta(|m: &mut Meta| {
            if m.dims == 0 {
                m.dims = row.dims as u32;
            }
            m.dims
        });
    }
    check_row_dims(meta.dims as usize, row.dims);
    let query = row.query(kind);
    let mut graph = super::graph::DiskGraph::open_for_search(index, &meta, kind);
    graph.prepare_query(&query);
    let search = if graph.uses_cache() { Search::Through(&graph) } else { Search::Pages };
    let new = insert::insert_searching(&graph, search, &meta, &row.raw, &query, heap_tid, key);
    // the next insert's or search's first distance to it needs no page read
    if let Some(tid) = new {
        graph.cache_vector_known(tid, Some(&row.raw));
    }
}

#[pg_guard]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    _index_unchanged: bool,
    _info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: aminsert's arguments: the index's key columns and the heap TID.
    let (Some(value), key) = (unsafe { row_columns(index_columns(index), values, isnull) }) else { return false };
    // SAFETY: as above.
    let tid = unsafe { tid_of(&*heap_tid) };
    let kind = index_kind(index, "hnsw");
    // SAFETY: the indexed column's datum, of the type index_kind() found.
    let Some(row) = (unsafe { super::read_row(kind, value) }).and_then(|r| r.prepared(kind)) else {
        return false;
    };
    insert_row(Index::new(index), &row, tid, key);
    false
}
