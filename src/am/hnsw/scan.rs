//! Index scans: `ORDER BY col <op> $query LIMIT k`.
//!
//! The first `amgettuple` runs the HNSW search with `hnsw.ef_search` and
//! queues the heap TIDs of the elements found, nearest first. With
//! `hnsw.iterative_scan` on, an exhausted queue triggers the next batch of
//! the same search (`ruvector_core::hnsw::IterativeSearch`: twice as many
//! elements as the batch before, from the nearest ones measured and not
//! returned yet, none measured twice), queued next — in any order for `relaxed_order`,
//! only those not nearer than the last returned for `strict_order` — until
//! `hnsw.max_scan_tuples` elements were measured. A batch after VACUUM freed
//! elements (a new meta-page generation: their TIDs may name other elements
//! now) starts the search again instead, skipping what was returned.
//! Scan state lives in the scan's memory context and is dropped with it.

use std::collections::VecDeque;

use pgrx::pg_sys;
use pgrx::prelude::*;
use rustc_hash::FxHashSet;
use ruvector_core::hnsw::tuple::{ElementRef, Meta, Tid};
use ruvector_core::hnsw::{descend, presize, GraphRead, IterativeSearch, Neighbor};

use super::graph::DiskGraph;
use super::options::{scan_mem_limit, IterativeScan, EF_SEARCH, ITERATIVE_SCAN, MAX_SCAN_TUPLES};
use crate::am::callbacks;
use crate::am::kind::{check_query_dims, index_kind, IndexKind, Query};
use crate::am::storage::Index;

/// An iterative search over the stored graph.
type DiskSearch = IterativeSearch<Tid, FxHashSet<Tid>>;

struct ScanState {
    /// The query's length in elements and the query itself.
    query: Option<(usize, Query)>,
    /// Elements found and not returned yet, nearest first; their heap TIDs
    /// are read only when they are reached (a LIMIT 10 query at ef_search
    /// 200 reads 10 elements' TIDs, not 200).
    queue: VecDeque<(f32, Tid)>,
    /// Heap TIDs of the element being returned.
    pending: VecDeque<Tid>,
    returned: FxHashSet<Tid>,
    /// The search the next batch continues, with the index's (nonce,
    /// generation) it ran under.
    search: Option<(DiskSearch, (u32, u32))>,
    ef: usize,
    started: bool,
    exhausted: bool,
    last_distance: f32,
    kind: IndexKind,
}

impl ScanState {
    fn reset(&mut self) {
        self.query = None;
        self.queue.clear();
        self.pending.clear();
        self.returned.clear();
        self.search = None;
        self.ef = EF_SEARCH.get().max(1) as usize;
        self.started = false;
        self.exhausted = false;
        self.last_distance = f32::NEG_INFINITY;
    }

    /// An estimate of the memory the scan holds after a search that visited
    /// `visited` elements: the visited and returned sets (a hash-set slot and
    /// control byte per TID at 7/8 load), the measured elements waiting for
    /// a later batch, the search's two ef-sized heaps, and the queue of TIDs
    /// not yet returned.
    fn memory_bytes(&self, visited: usize) -> usize {
        let set_entry = (core::mem::size_of::<Tid>() + 1) * 8 / 7;
        let heap_entry = core::mem::size_of::<(f32, Tid)>();
        let waiting = self.search.as_ref().map_or(0, |(s, _)| s.waiting());
        (visited + self.returned.len()) * set_entry + (2 * self.ef + self.queue.len() + waiting) * heap_entry
    }

    /// The next batch of the search (the first: from the entry point) and
    /// queue what was not returned yet; the elements measured so far. A
    /// batch that leaves nothing to continue from marks the scan exhausted.
    fn search(&mut self, index: Index) -> usize {
        let Some((dims, query)) = self.query.as_ref() else {
            self.queue_every_element(index);
            return 0;
        };
        // VACUUM frees deleted elements only once no search that began before
        // its repairs runs, and bumps the generation first
        let _update = index.update_lock(false);
        let meta: Meta = super::meta_for_search(index);
        let Some((ep, top)) = meta.entry() else {
            self.exhausted = true;
            return 0;
        };
        check_query_dims(meta.dims as usize, *dims);
        let mut graph = DiskGraph::open_for_search(index, &meta, self.kind);
        graph.prepare_query(query);
        let key = (meta.nonce, meta.generation);
        if self.search.as_ref().is_some_and(|(_, k)| *k != key) {
            self.search = None; // elements were freed since: their TIDs may name others now
        }
        let mut found = match &mut self.search {
            Some((search, _)) => search.next(&graph, query, self.ef),
            None => {
                let start = Neighbor { distance: graph.distance(query, ep), id: ep };
                let entry = descend(&graph, query, start, top, 0);
                // Level 0 is walked from where the descent ended and from the
                // entry point itself: every element is reachable from the entry
                // point through level-0 links (build, VACUUM and
                // ruvector_index_check keep it so), but not necessarily from the
                // descent's end, since links point one way. So a search whose ef
                // covers the index finds every element, and an iterative scan
                // that goes on long enough returns all.
                let entries: &[Neighbor<Tid>] = if entry.id == start.id { &[start] } else { &[entry, start] };
                // sized for what a search at this ef visits (GloVe-50 at ef 200, m 16:
                // 3,430 on average, beyond ef × 16), so the set rarely rehashes as it grows
                let visited = FxHashSet::with_capacity_and_hasher(presize(self.ef, 24), Default::default());
                // without iterative_scan no batch follows: keep nothing for one
                let resumable = ITERATIVE_SCAN.get() != IterativeScan::Off;
                let (search, found) = IterativeSearch::start(&graph, query, entries, self.ef, visited, resumable);
                self.search = Some((search, key));
                found
            }
        };
        let Some((search, _)) = self.search.as_ref() else { unreachable!("set above") };
        let measured = search.measured();
        if search.waiting() == 0 {
            self.exhausted = true;
        }
        if graph.approximate() {
            graph.exact_distances(query, &mut found);
        }
        crate::shared::publish_cache();
        let strict = ITERATIVE_SCAN.get() == IterativeScan::StrictOrder;
        for n in found {
            if self.returned.contains(&n.id) || (strict && self.started && n.distance < self.last_distance) {
                continue;
            }
            self.returned.insert(n.id);
            self.queue.push_back((n.distance, n.id));
        }
        self.started = true;
        measured
    }
}

impl ScanState {
    /// A NULL query (`ORDER BY v <-> NULL`) has no distances to order by: as
    /// in pgvector, the scan returns every indexed row, here in page order.
    fn queue_every_element(&mut self, index: Index) {
        let _update = index.update_lock(false);
        for block in 1..index.nblocks() {
            index.read_page(block, |page| {
                for (offset, bytes) in page.items() {
                    if ElementRef::parse(bytes).is_some_and(|e| !e.is_deleted()) {
                        self.queue.push_back((0.0, Tid { block, offset }));
                    }
                }
            });
            pgrx::check_for_interrupts!();
        }
        self.started = true;
        self.exhausted = true;
    }
}

impl callbacks::OrderedScan for ScanState {
    fn kind(&self) -> IndexKind {
        self.kind
    }

    fn restart(&mut self, query: Option<(usize, Query)>) {
        self.reset();
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
        let mut state = ScanState {
            query: None,
            queue: VecDeque::new(),
            pending: VecDeque::new(),
            returned: FxHashSet::default(),
            search: None,
            ef: 0,
            started: false,
            exhausted: false,
            last_distance: f32::NEG_INFINITY,
            kind: index_kind(index, "hnsw"),
        };
        state.reset();
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
    if !state.started {
        state.search(index);
    }
    loop {
        if let Some(tid) = state.pending.pop_front() {
            // SAFETY: the scan being read.
            unsafe { callbacks::return_row(scan, tid) };
            return true;
        }
        if let Some((distance, element)) = state.queue.pop_front() {
            // The element's heap TIDs as they are now. Should VACUUM have
            // freed it since the search and an insert reused its TID, the
            // newcomer's rows were inserted after this scan's snapshot was
            // taken, so the executor's visibility check drops them.
            state.last_distance = state.last_distance.max(distance);
            if let Some(e) = super::graph::element_tids(index, element) {
                if !e.deleted {
                    state.pending.extend(e.tids);
                }
            }
            continue;
        }
        if state.exhausted || ITERATIVE_SCAN.get() == IterativeScan::Off || state.query.is_none() {
            return false;
        }
        let max = MAX_SCAN_TUPLES.get().max(1) as usize;
        // Each batch twice the last (docs/benchmarks.md, "Search-path
        // choices": faster than restarting, and than batches of ef_search).
        state.ef = state.ef.saturating_mul(2).min(max);
        let measured = state.search(index);
        // Stop once the tuple or memory budget is spent; what this last
        // batch found is still returned.
        if measured >= max || state.memory_bytes(measured) > scan_mem_limit() {
            state.exhausted = true;
        }
        pgrx::check_for_interrupts!();
    }
}
