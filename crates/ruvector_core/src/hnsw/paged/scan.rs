//! An ordered scan of the stored graph (`ORDER BY col <op> $query LIMIT k`).
//!
//! The first batch runs the HNSW search at `ef` and queues the elements
//! found, nearest first. With an iterative scan, an exhausted queue asks for
//! the next batch of the same search ([`IterativeSearch`]: twice as many
//! elements as the batch before, from the nearest ones measured and not
//! returned yet, none measured twice), queued next: in any order for
//! relaxed order, only those not nearer than the last returned for strict
//! order. A batch after VACUUM freed elements (a new meta-page generation:
//! their TIDs may name other elements now) starts the search again
//! instead, skipping what was returned. Heap TIDs are read only for the
//! elements reached (a LIMIT 10 query at ef 200 reads 10 elements' TIDs).
//!
//! With conditions on the index's filter column (`filter`), the search
//! walks through every element as before, but elements whose key does not
//! match are never returned: their rows are not fetched from the heap, and
//! later batches widen the search until enough matching rows are found.
//! Should the search's budget run out first (a filter few rows pass),
//! [`Scan::sweep_matching`] reads every element and returns the matching
//! ones not returned yet, nearest first: in relaxed order a filtered scan
//! returns every matching row if asked for as many (in strict order, which
//! the caller also asks for when a filtered scan widens without
//! `hnsw.iterative_scan`, those nearer than a row returned are skipped).
//!
//! A batch's elements may come with a lower bound of their distance instead
//! of the distance (the search measured an approximate copy): they are
//! queued by the bound, and the full-precision distance is read only when
//! an element could be the next returned, that is when its bound is below
//! every distance resolved so far ([`Scan::next_heap_tid`]). A LIMIT 10
//! query at ef 40 then reads about a dozen vectors again, not forty, and
//! rows still come in exact order.
//!
//! The caller holds the update lock shared during each batch (VACUUM frees
//! elements only once no search that began before its repairs runs).
//! Distances resolved later are read without it: an element freed and its
//! TID reused since belongs to rows inserted after the scan's snapshot,
//! which the executor's visibility check drops, as for heap TIDs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rustc_hash::FxHashSet;

use super::element_tids;
use crate::hnsw::tuple::{ElementRef, Meta, Tid};
use crate::hnsw::{descend_to_level0, presize, GraphRead, IterativeSearch, Neighbor};
use crate::index::{KeyFilter, PageStore, Query};

/// An iterative search over the stored graph.
type PagedSearch = IterativeSearch<Tid, FxHashSet<Tid>>;

/// How many queued bounds [`Scan::next_heap_tid`] asks to resolve at once.
pub const RESOLVE_BATCH: usize = 8;

/// An element a batch found: its distance if `exact`, else a lower bound of
/// it (see [`Scan::queue_bounded`]).
#[derive(Clone, Copy, Debug)]
pub struct Queued {
    pub key: f32,
    pub exact: bool,
    pub id: Tid,
}

/// The state of one ordered scan between `amgettuple` calls.
pub struct Scan {
    /// Elements found and not returned yet, by distance or lower bound
    /// (`exact` false), smallest first.
    queue: VecDeque<Queued>,
    /// Elements taken from `queue` with their distances resolved, nearest
    /// on top.
    resolved: BinaryHeap<Reverse<Neighbor<Tid>>>,
    /// Whether the queued batch followed another in strict order: its
    /// elements nearer than the farthest returned are skipped.
    strict_batch: bool,
    /// Heap TIDs of the element being returned, and its distance.
    pending: VecDeque<Tid>,
    pending_distance: f32,
    returned: FxHashSet<Tid>,
    /// The search the next batch continues, with the index's (nonce,
    /// generation) it ran under.
    search: Option<(PagedSearch, (u32, u32))>,
    /// The next batch's size.
    pub ef: usize,
    /// Whether a batch ran since the scan (re)started.
    pub started: bool,
    /// Whether no batch can follow.
    pub exhausted: bool,
    /// The farthest distance returned so far.
    last_distance: f32,
    /// The scan's conditions on the filter column.
    pub filter: KeyFilter,
    /// Elements reached whose key did not match the filter.
    pub filtered_out: usize,
}

impl Scan {
    pub fn new(ef: usize) -> Self {
        Scan {
            queue: VecDeque::new(),
            resolved: BinaryHeap::new(),
            strict_batch: false,
            pending: VecDeque::new(),
            pending_distance: 0.0,
            returned: FxHashSet::default(),
            search: None,
            ef: ef.max(1),
            started: false,
            exhausted: false,
            last_distance: f32::NEG_INFINITY,
            filter: KeyFilter::default(),
            filtered_out: 0,
        }
    }

    /// A scan returning only elements whose filter key `filter` accepts.
    pub fn filtered(ef: usize, filter: KeyFilter) -> Self {
        Scan { filter, ..Scan::new(ef) }
    }

    /// An estimate of the memory the scan holds after a search that visited
    /// `visited` elements: the visited and returned sets (a hash-set slot
    /// and control byte per TID at 7/8 load), the measured elements waiting
    /// for a later batch, the search's two ef-sized heaps, and the queue.
    pub fn memory_bytes(&self, visited: usize) -> usize {
        let set_entry = (core::mem::size_of::<Tid>() + 1) * 8 / 7;
        let heap_entry = core::mem::size_of::<(f32, Tid)>();
        let waiting = self.search.as_ref().map_or(0, |(s, _)| s.waiting());
        (visited + self.returned.len()) * set_entry
            + (2 * self.ef + self.queue.len() + self.resolved.len() + waiting) * heap_entry
    }

    /// The next batch of the search (the first: from the entry point of
    /// `meta`): what it found, nearest first, not queued yet (the caller may
    /// measure approximate distances again first, then [`Scan::queue`]s
    /// them), and the elements measured so far. `resumable`: whether
    /// another batch may follow (else the search keeps nothing for one).
    pub fn batch<G>(&mut self, graph: &G, query: &Query, meta: &Meta, resumable: bool) -> (Vec<Neighbor<Tid>>, usize)
    where
        G: GraphRead<Id = Tid, Query = Query, Visited = FxHashSet<Tid>>,
    {
        let Some((ep, top)) = meta.entry() else {
            self.exhausted = true;
            return (Vec::new(), 0);
        };
        let key = (meta.nonce, meta.generation);
        if self.search.as_ref().is_some_and(|(_, k)| *k != key) {
            self.search = None; // elements were freed since: their TIDs may name others now
        }
        let found = match &mut self.search {
            Some((search, _)) => search.next(graph, query, self.ef),
            None => {
                let start = Neighbor { distance: graph.distance(query, ep), id: ep };
                let mut entries = descend_to_level0(graph, query, start, top);
                // Level 0 is walked from where the descent ended (the nearest
                // of its level-1 search) and from the entry point itself:
                // every element is reachable from the entry point through
                // level-0 links (build, VACUUM and the index check keep it
                // so), but not necessarily from the descent's end, since
                // links point one way. So a search whose ef covers the index
                // finds every element, and an iterative scan that goes on
                // long enough returns all.
                if !entries.iter().any(|e| e.id == start.id) {
                    entries.push(start);
                }
                // sized for what a search at this ef visits (GloVe-50 at ef 200, m 16:
                // 3,430 on average, beyond ef × 16), so the set rarely rehashes as it grows
                let visited = FxHashSet::with_capacity_and_hasher(presize(self.ef, 24), Default::default());
                let (search, found) = IterativeSearch::start(graph, query, &entries, self.ef, visited, resumable);
                self.search = Some((search, key));
                found
            }
        };
        let Some((search, _)) = self.search.as_ref() else { unreachable!("set above") };
        if search.waiting() == 0 {
            self.exhausted = true;
        }
        (found, search.measured())
    }

    /// The last batch of a filtered scan whose search stopped at its budget:
    /// every element the filter accepts and the scan has not returned,
    /// read page by page, measured, and the nearest `keep` of them, nearest
    /// first, not queued yet (as [`Scan::batch`]). No batch follows.
    pub fn sweep_matching<G, S>(&mut self, graph: &G, store: &S, query: &Query, keep: usize) -> Vec<Neighbor<Tid>>
    where
        G: GraphRead<Id = Tid, Query = Query>,
        S: PageStore,
    {
        let mut nearest: std::collections::BinaryHeap<Neighbor<Tid>> = Default::default();
        for block in 1..store.nblocks() {
            let mut matching = Vec::new();
            store.read_items(block, |items| {
                for (offset, bytes) in items {
                    let tid = Tid { block, offset };
                    if ElementRef::parse(bytes).is_some_and(|e| !e.is_deleted() && self.filter.matches(e.filter_key()))
                        && !self.returned.contains(&tid)
                    {
                        matching.push(tid);
                    }
                }
            });
            for id in matching {
                nearest.push(Neighbor { distance: graph.distance(query, id), id });
                if nearest.len() > keep.max(1) {
                    nearest.pop();
                }
            }
            store.check_interrupts();
        }
        self.exhausted = true;
        self.search = None;
        nearest.into_sorted_vec()
    }

    /// Queue what a batch found, at its distances, and was not returned yet
    /// (with `strict`, only what is not nearer than the farthest returned).
    pub fn queue(&mut self, found: Vec<Neighbor<Tid>>, strict: bool) {
        self.queue_bounded(
            found.into_iter().map(|n| Queued { key: n.distance, exact: true, id: n.id }).collect(),
            strict,
        );
    }

    /// [`Scan::queue`] for elements some of whose keys are lower bounds of
    /// their distances, resolved by `next_heap_tid` when needed. Called once
    /// the previous batch's elements are all returned.
    pub fn queue_bounded(&mut self, mut found: Vec<Queued>, strict: bool) {
        debug_assert!(self.queue.is_empty() && self.resolved.is_empty());
        found.sort_by(|a, b| a.key.total_cmp(&b.key).then(a.id.cmp(&b.id)));
        self.strict_batch = strict && self.started;
        for q in found {
            if self.returned.insert(q.id) {
                self.queue.push_back(q);
            }
        }
        self.started = true;
    }

    /// A scan without a query (`ORDER BY v <-> NULL`) has no distances to
    /// order by: as in pgvector, it returns every indexed row, here in page
    /// order.
    pub fn queue_every_element<S: PageStore>(&mut self, store: &S) {
        for block in 1..store.nblocks() {
            store.read_items(block, |items| {
                for (offset, bytes) in items {
                    if ElementRef::parse(bytes).is_some_and(|e| !e.is_deleted() && self.filter.matches(e.filter_key()))
                    {
                        self.queue.push_back(Queued { key: 0.0, exact: true, id: Tid { block, offset } });
                    }
                }
            });
            store.check_interrupts();
        }
        self.started = true;
        self.exhausted = true;
    }

    /// The next heap TID to return, with its element's distance; `None`
    /// when the queue is empty (then a batch may follow, unless
    /// `exhausted`). The element's heap TIDs are read as they are now:
    /// should VACUUM have freed it since the search and an insert reused its
    /// TID, the newcomer's rows were inserted after the scan's snapshot was
    /// taken, so the executor's visibility check drops them.
    ///
    /// `resolve` gives elements' full-precision distances, several at a time
    /// (so their reads can overlap): it is asked for the queued lower
    /// bounds that could come before the nearest element resolved so far, up
    /// to [`RESOLVE_BATCH`] at once, or, with none resolved, for the first
    /// few in the queue.
    pub fn next_heap_tid<S: PageStore>(
        &mut self,
        store: &S,
        mut resolve: impl FnMut(&[Tid], &mut Vec<f32>),
    ) -> Option<(Tid, f32)> {
        let (mut ids, mut distances) = (Vec::new(), Vec::new());
        loop {
            if let Some(tid) = self.pending.pop_front() {
                return Some((tid, self.pending_distance));
            }
            // the nearest resolved element goes next once no queued one can
            // come before it: an exact one after it in (distance, TID)
            // order, or one whose bound is above its distance
            ids.clear();
            while let Some(next) = self.queue.front() {
                let before = match self.resolved.peek() {
                    Some(Reverse(n)) if next.exact => Neighbor { distance: next.key, id: next.id } < *n,
                    Some(Reverse(n)) => next.key.total_cmp(&n.distance).is_le(),
                    None => true,
                };
                if !before || ids.len() == RESOLVE_BATCH {
                    break;
                }
                let Some(q) = self.queue.pop_front() else { break };
                if q.exact {
                    self.resolved.push(Reverse(Neighbor { distance: q.key, id: q.id }));
                } else {
                    ids.push(q.id);
                }
            }
            if !ids.is_empty() {
                distances.clear();
                resolve(&ids, &mut distances);
                for (i, &id) in ids.iter().enumerate() {
                    let distance = distances.get(i).copied().unwrap_or(f32::INFINITY);
                    self.resolved.push(Reverse(Neighbor { distance, id }));
                }
                continue;
            }
            let Reverse(Neighbor { distance, id: element }) = self.resolved.pop()?;
            if self.strict_batch && distance < self.last_distance {
                continue;
            }
            self.pending_distance = distance;
            if let Some(e) = element_tids(store, element) {
                if e.deleted {
                    continue;
                }
                if self.filter.matches(e.key) {
                    // strict order compares later batches with what was returned only
                    self.last_distance = self.last_distance.max(distance);
                    self.pending.extend(e.tids);
                } else {
                    self.filtered_out += 1;
                }
            }
        }
    }
}
