//! Index scans: `ORDER BY col <op> $query LIMIT k`. The scan's algorithm
//! is the core's (`ruvector_core::hnsw::paged::scan::Scan`: batches of an
//! iterative search, heap TIDs read as elements are reached); this supplies
//! the settings (`hnsw.ef_search`, `hnsw.iterative_scan`,
//! `hnsw.max_scan_tuples`, the memory limit), the backend's vector cache,
//! and the update lock around each batch, and turns the scan keys on an
//! index's filter column into the core's `KeyFilter`. Scan state lives in
//! the scan's memory context and is dropped with it.

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::hnsw::paged::scan::Scan;
use ruvector_core::hnsw::paged::PagedGraph;
use ruvector_core::hnsw::tuple::{Meta, Tid};

use super::graph::DiskGraph;
use super::options::{scan_mem_limit, IterativeScan, EF_SEARCH, ITERATIVE_SCAN, MAX_SCAN_TUPLES};
use crate::am::callbacks;
use crate::am::kind::{check_query_dims, filter_column, filter_value, index_kind, IndexKind, Query};
use crate::am::storage::Index;
use ruvector_core::index::{Condition, KeyFilter};

struct ScanState {
    /// The query's length in elements and the query itself.
    query: Option<(usize, Query)>,
    scan: Scan,
    kind: IndexKind,
    /// Whether the search stopped at `hnsw.max_scan_tuples` or the memory
    /// limit (then a filtered scan sweeps for the matching rows left).
    budget_spent: bool,
    /// The meta page the last batch ran under: the pages that batch's
    /// bounded elements are measured again from.
    meta: Option<Meta>,
}

impl ScanState {
    /// The next batch of the search (the core's `Scan::batch`), through this
    /// backend's vector cache, queued at their distances or (approximate
    /// ones) at lower bounds of them; the elements measured so far.
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
        let resumable = self.widens();
        let (found, measured) = self.scan.batch(&graph, query, &meta, resumable);
        let queued = graph.queued(query, found);
        crate::shared::publish_cache();
        self.scan.queue_bounded(queued, self.strict_order());
        self.meta = Some(meta);
        measured
    }

    /// The next heap TID, elements queued at a bound measured again from
    /// the pages as the core's scan asks.
    fn next_heap_tid(&mut self, index: Index) -> Option<Tid> {
        let mut reader: Option<DiskGraph> = None;
        let (query, meta, kind) = (&self.query, self.meta, self.kind);
        let resolve = |ids: &[Tid], out: &mut Vec<f32>| match (query, meta) {
            (Some((_, q)), Some(meta)) => {
                reader.get_or_insert_with(|| DiskGraph::open(index, &meta, kind)).exact_distances(q, ids, out)
            }
            // (queries without a vector queue nothing bounded)
            _ => out.extend(ids.iter().map(|_| f32::INFINITY)),
        };
        self.scan.next_heap_tid(&index, resolve).map(|(tid, _)| tid)
    }

    /// A filtered scan's last batch once its search ran out of budget
    /// (the core's `Scan::sweep_matching`): every matching element not
    /// returned yet, as many as the scan's memory limit holds, nearest first.
    fn sweep(&mut self, index: Index) {
        let _update = index.update_lock(false);
        let Some((_, query)) = self.query.as_ref() else { return };
        let meta: Meta = super::meta_for_search(index);
        // exact distances, read from the pages
        let graph = PagedGraph::open(index, &meta, self.kind);
        let keep = (scan_mem_limit() / core::mem::size_of::<(f32, ruvector_core::hnsw::tuple::Tid)>()).max(1);
        let found = self.scan.sweep_matching(&graph, &index, query, keep);
        self.scan.queue(found, self.strict_order());
    }

    /// Whether batches follow the first: with `hnsw.iterative_scan`, and
    /// always for a scan with conditions on the filter column (the index
    /// knows which rows will pass, so it widens until LIMIT rows are found
    /// or `hnsw.max_scan_tuples` is reached).
    fn widens(&self) -> bool {
        ITERATIVE_SCAN.get() != IterativeScan::Off || !self.scan.filter.is_empty()
    }

    /// Whether a later batch's elements nearer than a row already returned
    /// are skipped, so that rows come in exact distance order: with
    /// `strict_order`, and for a filtered scan that widens while
    /// `hnsw.iterative_scan` is off. The executor trusts an ordered index
    /// scan's order (no Sort follows it), and a user who did not ask for
    /// `relaxed_order` expects what pgvector's default gives: rows in order.
    fn strict_order(&self) -> bool {
        match ITERATIVE_SCAN.get() {
            IterativeScan::StrictOrder => true,
            IterativeScan::Off => !self.scan.filter.is_empty(),
            IterativeScan::RelaxedOrder => false,
        }
    }
}

/// The scan keys of `scan` (conditions on the filter column: btree
/// strategies 1 to 5, or `= ANY(array)`) as the core's filter.
///
/// # Safety
/// `scan` is an hnsw scan whose keys amrescan copied in.
unsafe fn key_filter(scan: pg_sys::IndexScanDesc) -> KeyFilter {
    unsafe {
        let n = (*scan).numberOfKeys.max(0) as usize;
        if n == 0 || (*scan).keyData.is_null() {
            return KeyFilter::default();
        }
        let Some(typid) = filter_column((*scan).indexRelation) else { return KeyFilter::default() };
        let keys = core::slice::from_raw_parts((*scan).keyData, n);
        let conditions = keys
            .iter()
            .map(|key| {
                if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
                    Condition::Never
                } else if key.sk_flags & pg_sys::SK_SEARCHARRAY as i32 != 0 {
                    Condition::any_of(array_values(key.sk_argument))
                } else {
                    // the right-hand type of a cross-type operator (`bigint_col = 5`)
                    let arg_type = if key.sk_subtype == pg_sys::InvalidOid { typid } else { key.sk_subtype };
                    Condition::from_strategy(key.sk_strategy, filter_value(arg_type, key.sk_argument)).unwrap_or_else(
                        || error!("hnsw scan key on column {} has strategy {}", key.sk_attno, key.sk_strategy),
                    )
                }
            })
            .collect();
        KeyFilter::new(conditions)
    }
}

/// The non-NULL elements of an array datum of a type the filter column's
/// operator family compares with.
///
/// # Safety
/// `array` is a non-NULL array datum.
unsafe fn array_values(array: pg_sys::Datum) -> Vec<i64> {
    unsafe {
        let arr = pg_sys::pg_detoast_datum(array.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        let typid = (*arr).elemtype;
        let (mut len, mut byval, mut align) = (0i16, false, 0 as core::ffi::c_char);
        pg_sys::get_typlenbyvalalign(typid, &mut len, &mut byval, &mut align);
        let mut elems: *mut pg_sys::Datum = core::ptr::null_mut();
        let mut nulls: *mut bool = core::ptr::null_mut();
        let mut count = 0i32;
        pg_sys::deconstruct_array(arr, typid, len as i32, byval, align, &mut elems, &mut nulls, &mut count);
        let count = count.max(0) as usize;
        if count == 0 {
            return Vec::new();
        }
        let elems = core::slice::from_raw_parts(elems, count);
        let nulls = core::slice::from_raw_parts(nulls, count);
        elems.iter().zip(nulls).filter(|(_, &null)| !null).map(|(&d, _)| filter_value(typid, d)).collect()
    }
}

impl callbacks::OrderedScan for ScanState {
    fn kind(&self) -> IndexKind {
        self.kind
    }

    fn restart(&mut self, query: Option<callbacks::ScanQuery>) {
        self.scan = Scan::new(EF_SEARCH.get().max(1) as usize);
        self.query = query.map(|q| (q.dims, q.query));
        self.budget_spent = false;
        self.meta = None;
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
            budget_spent: false,
            meta: None,
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
    unsafe {
        callbacks::rescan::<ScanState>(scan, keys, nkeys, orderbys, norderbys);
        callbacks::scan_state::<ScanState>(scan).scan.filter = key_filter(scan);
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(scan: pg_sys::IndexScanDesc, _dir: pg_sys::ScanDirection::Type) -> bool {
    // SAFETY: the scan we created.
    let (state, index) = unsafe { (callbacks::scan_state::<ScanState>(scan), Index::new((*scan).indexRelation)) };
    if !state.scan.started {
        // SAFETY: the scan being read.
        unsafe { callbacks::count_index_scan(scan) };
        state.search(index);
    }
    loop {
        if let Some(tid) = state.next_heap_tid(index) {
            // SAFETY: the scan being read.
            unsafe { callbacks::return_row(scan, tid) };
            return true;
        }
        if state.budget_spent && !state.scan.filter.is_empty() && state.query.is_some() {
            // a filter few rows pass: the rows the search did not reach
            state.budget_spent = false;
            state.sweep(index);
            continue;
        }
        if state.scan.exhausted || !state.widens() || state.query.is_none() {
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
            state.budget_spent = true;
        }
        pgrx::check_for_interrupts!();
    }
}
