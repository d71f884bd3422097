//! Index scans: `ORDER BY col <op> $query LIMIT k`. The scan's algorithm
//! is the core's (`ruvector_core::hnsw::paged::scan::Scan`: batches of an
//! iterative search, heap TIDs read as elements are reached); this supplies
//! the settings (`hnsw.ef_search`, `hnsw.iterative_scan`,
//! `hnsw.max_scan_tuples`, the memory limit), the backend's vector cache,
//! and the update lock around each batch. Scan state lives in the scan's
//! memory context and is dropped with it.

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::hnsw::paged::scan::Scan;
use ruvector_core::hnsw::tuple::Meta;

use super::graph::DiskGraph;
use super::options::{scan_mem_limit, IterativeScan, EF_SEARCH, ITERATIVE_SCAN, MAX_SCAN_TUPLES};
use crate::am::callbacks;
use crate::am::kind::{check_query_dims, index_kind, IndexKind, Query};
use crate::am::storage::Index;

struct ScanState {
    /// The query's length in elements and the query itself.
    query: Option<(usize, Query)>,
    scan: Scan,
    kind: IndexKind,
}

impl ScanState {
    /// The next batch of the search (the core's `Scan::batch`), through this
    /// backend's vector cache, its approximate distances measured again;
    /// the elements measured so far.
    fn search(&mut self, index: Index) -> usize {
        // VACUUM frees deleted elements only once no search that began before
        // its repairs runs, and bumps the generation first
        let _update = index.update_lock(false);
        let Some((dims, query)) = self.query.as_ref() else {
            self.scan.queue_every_element(&index);
            return 0;
        };
        let meta: Meta = super::meta_for_search(index);
        if meta.entry().is_some() {
            check_query_dims(meta.dims as usize, *dims);
        }
        let mut graph = DiskGraph::open_for_search(index, &meta, self.kind);
        graph.prepare_query(query);
        // without iterative_scan no batch follows: keep nothing for one
        let resumable = ITERATIVE_SCAN.get() != IterativeScan::Off;
        let (mut found, measured) = self.scan.batch(&graph, query, &meta, resumable);
        if graph.approximate() {
            graph.exact_distances(query, &mut found);
        }
        crate::shared::publish_cache();
        self.scan.queue(found, ITERATIVE_SCAN.get() == IterativeScan::StrictOrder);
        measured
    }
}

impl callbacks::OrderedScan for ScanState {
    fn kind(&self) -> IndexKind {
        self.kind
    }

    fn restart(&mut self, query: Option<(usize, Query)>) {
        self.scan = Scan::new(EF_SEARCH.get().max(1) as usize);
        self.query = query;
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambeginscan(
    index: pg_sys::Relation,
    nkeys: i32,
    norderbys: i32,
) -> pg_sys::IndexScanDesc {
    // SAFETY: standard scan descriptor; our state is owned by its memory context.
    unsafe {
        let state = ScanState {
            query: None,
            scan: Scan::new(EF_SEARCH.get().max(1) as usize),
            kind: index_kind(index, "hnsw"),
        };
        callbacks::begin_scan(index, nkeys, norderbys, state)
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amrescan(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    // SAFETY: the scan ambeginscan made, and amrescan's arguments.
    unsafe { callbacks::rescan::<ScanState>(scan, keys, nkeys, orderbys, norderbys) }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(scan: pg_sys::IndexScanDesc, _dir: pg_sys::ScanDirection::Type) -> bool {
    // SAFETY: the scan we created.
    let (state, index) = unsafe { (callbacks::scan_state::<ScanState>(scan), Index::new((*scan).indexRelation)) };
    if !state.scan.started {
        state.search(index);
    }
    loop {
        if let Some((tid, _)) = state.scan.next_heap_tid(&index) {
            // SAFETY: the scan being read.
            unsafe { callbacks::return_row(scan, tid) };
            return true;
        }
        if state.scan.exhausted || ITERATIVE_SCAN.get() == IterativeScan::Off || state.query.is_none() {
            return false;
        }
        let max = MAX_SCAN_TUPLES.get().max(1) as usize;
        // Each batch twice the last (docs/benchmarks.md, "Search-path
        // choices": faster than restarting, and than batches of ef_search).
        state.scan.ef = state.scan.ef.saturating_mul(2).min(max);
        let measured = state.search(index);
        // Stop once the tuple or memory budget is spent; what this last
        // batch found is still returned.
        if measured >= max || state.scan.memory_bytes(measured) > scan_mem_limit() {
            state.scan.exhausted = true;
        }
        pgrx::check_for_interrupts!();
    }
}
