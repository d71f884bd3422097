//! The `hnsw` index access method for `ruvector` (pgvector's SQL surface).
//!
//! One file per concern: `build` (CREATE INDEX), `insert`, `scan`, `vacuum`,
//! `options` (reloptions and `hnsw.*` settings), `graph` (the stored graph as
//! the core's `GraphRead`). Pages, buffers and WAL are `am::storage`'s, whose
//! header states the page layout and locking protocol.

mod build;
pub mod cache;
mod check;
mod graph;
mod insert;
pub mod options;
mod scan;
mod vacuum;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::am::callbacks;

pub(crate) use crate::am::kind::read_row;

/// The access method handler: what PostgreSQL calls to learn the callbacks.
#[pg_extern(sql = "
CREATE FUNCTION hnswhandler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME', '@FUNCTION_NAME@' LANGUAGE C;
")]
fn hnswhandler(_fcinfo: pg_sys::FunctionCallInfo) -> PgBox<pg_sys::IndexAmRoutine> {
    let mut am = callbacks::am_routine!(3);
    // a second key column may hold a filter (docs/filtered-search.md), whose
    // conditions, `= ANY(array)` included, the scan evaluates on the index
    am.amcanmulticol = true;
    am.amsearcharray = true;
    am
}

callbacks::am_costestimate!(|rel, tuples| {
    // the first search: about (entry level + 2) × m elements' pages; every
    // row returned: about 4·m visits (see callbacks::ordered_cost)
    let (m, _) = options::reloptions(rel);
    let entry_level = (tuples.max(1.0).ln() / (m as f64).ln()).floor();
    (((entry_level + 2.0) * m as f64).min(tuples.max(1.0)), 4.0 * m as f64)
});

/// The meta page as searches and inserts read it: from the index registry
/// (src/shared.rs, with the library preloaded), without pinning the meta
/// page, when its entry belongs to the build whose meta page this backend
/// read for this relcache entry (the nonce kept in `rd_amcache` beside the
/// index's kind, am::kind, which
/// PostgreSQL frees on REINDEX, TRUNCATE or a new tablespace: an entry left
/// by a dropped relation whose relfilenode was reused is never taken);
/// otherwise from the page, which corrects the entry.
pub fn meta_for_search(index: crate::am::storage::Index) -> ruvector_core::hnsw::tuple::Meta {
    use ruvector_core::hnsw::tuple::{Meta, META_MAGIC, META_VERSION};
    use ruvector_core::registry::HnswSharedMem;
    if let Some(nonce) = crate::am::kind::cached_nonce(index.relation()) {
        if let Some(e) = index.registry_entry::<Meta, HnswSharedMem>() {
            if e.meta.nonce == nonce && e.meta.magic == META_MAGIC && e.meta.version == META_VERSION {
                return e.meta;
            }
        }
    }
    let meta: Meta = index.meta();
    crate::am::kind::set_cached_nonce(index.relation(), meta.nonce);
    meta
}

/// Fill the shared vector cache with every element of `index` (with the
/// library preloaded; `ruvector_prewarm`), as searches would fill it, so a
/// server's first searches find it warm. Returns the vectors it holds.
pub fn fill_shared_cache(index: crate::am::storage::Index) -> usize {
    use ruvector_core::hnsw::tuple::{ElementRef, Tid};
    if crate::shared::arena_for_search().is_none() {
        return 0;
    }
    let _update = index.update_lock(false);
    let meta = meta_for_search(index);
    if meta.dims == 0 {
        return 0;
    }
    let graph = graph::DiskGraph::open_for_search(index, &meta, crate::am::kind::index_kind(index.relation(), "hnsw"));
    let mut cached = 0;
    for block in 1..index.nblocks() {
        let elements: Vec<Tid> = index.read_page(block, |page| {
            page.items()
                .filter(|(_, b)| ElementRef::parse(b).is_some())
                .map(|(offset, _)| Tid { block, offset })
                .collect()
        });
        for tid in elements {
            if !graph.cache_vector(tid) {
                return cached;
            }
            cached += 1;
        }
        pgrx::check_for_interrupts!();
    }
    cached
}
