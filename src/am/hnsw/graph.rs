//! The graph as stored in index pages, read through `am::storage::Index`: the
//! `GraphRead` the core's search runs on, plus helpers to read an element's
//! vector and heap TIDs. Safe code; page access is am::storage's.

use rustc_hash::FxHashSet;
use ruvector_core::hnsw::paged::scan::Queued;
use ruvector_core::hnsw::paged::{construction_links, PagedGraph};
use ruvector_core::hnsw::tuple::{chunk_elems, ElementRef, Meta, Tid};
use ruvector_core::hnsw::{GraphRead, Neighbor};
use ruvector_core::index::kind::{Accumulator, Metric};
use ruvector_core::kernels::Sq8Kernels;
use ruvector_core::sq8;

pub use crate::am::kind::{Elem, IndexKind, Measure, Query};
use crate::am::storage::Index;

/// The graph stored in an index, searched through the vector cache (the
/// core's `PagedGraph` reads it from the pages; VACUUM uses that directly,
/// and inserts measure their candidates again through it, since they need
/// the deleted flags read with each vector).
pub struct DiskGraph {
    paged: PagedGraph<Index>,
    /// Whether distances go through the backend's vector cache.
    cached: bool,
    /// Whether the cache holds this index's vectors as SQ8 copies (see
    /// `SQ8_CACHE_MIN_DIMS`).
    sq8: bool,
    /// A `halfvec` query widened to f32 (exactly), for the SQ8 copies of a
    /// `halfvec` index; empty otherwise.
    query_f32: Vec<f32>,
    /// Scratch for `distances`: positions of ids not in the cache.
    missing: std::cell::RefCell<Vec<usize>>,
    /// An f32 query under inner product or cosine against SQ8 copies, held
    /// as integer levels (`sq8::QueryLevels`): a copy not trusted exact is
    /// measured from exact integer sums of its codes, at an upper bound of
    /// the product, so its distance is at most the copy's and
    /// `sq8::distance_lower_bound` still bounds the full-precision one.
    levels: Option<sq8::QueryLevels>,
    /// Whether an exact copy's SQ8 distance is the f32 kernels' to the bit.
    trust_exact: bool,
    /// The f32 query's norm, for `sq8::distance_lower_bound`.
    q_norm: f64,
    /// Elements measured from a copy the full cache had no room for (see
    /// `read_distance`): the lower bound to queue each at, None if the
    /// distance is exact.
    uncached_bounds: std::cell::RefCell<rustc_hash::FxHashMap<Tid, Option<f32>>>,
    /// Scratch for `read_distance`: a vector's stored bytes.
    whole: std::cell::RefCell<Vec<u8>>,
}

impl std::ops::Deref for DiskGraph {
    type Target = PagedGraph<Index>;
    fn deref(&self) -> &PagedGraph<Index> {
        &self.paged
    }
}

/// From this many dimensions on, the vector cache of a `ruvector` index (of
/// a `halfvec` one: `SQ8_CACHE_MIN_DIMS_HALFVEC`) holds SQ8 copies (`ruvector_core::sq8`: a byte per
/// element and the vector's own offset and step): a quarter (`halfvec`: a
/// half) of the memory per vector, so that many more fit the same
/// `hnsw.vector_cache_size`, and as few bytes streamed per distance, which
/// is what a search on long vectors waits for. The query stays f32 (a
/// `halfvec` query is widened, exactly). Distances during the search are then approximate
/// (each element within half a step, 1/510 of the vector's range) unless the
/// copy is exact, as it is for vectors of integers spanning at most 255
/// (pixels, int8 and uint8 embeddings; each copy carries a byte saying so):
/// the SQ8 kernels decode in the lanes of the same fold the f32 kernels run,
/// so an exact copy gives the full-precision distance to the bit. The
/// elements a search returns whose distance was approximate are queued at
/// a lower bound of their distance (`queued`), and the scan measures one
/// again from its pages only when it could be the next row returned, so
/// rows come back in exact order. Shorter vectors are cached in f32: they
/// are cheap to stream, and their searches stay exact.
pub const SQ8_CACHE_MIN_DIMS: usize = 256;

/// The same for a `halfvec` index, whose binary16 vectors are half the
/// bytes of f32 ones already: in-server ms per query with SQ8 copies against
/// binary16 ones (docs/benchmarks.md, "Forty-first session"), 768 dims
/// within the noise, 1,024 0.81–0.87×, 1,536 0.71–0.79×, at ef_search
/// 10–40, for recall at ef 10 about 0.005 lower and the same from ef 20.
pub const SQ8_CACHE_MIN_DIMS_HALFVEC: usize = 1024;

/// How many of a batch's bounded elements `queued` prefetches: a LIMIT 10
/// query measures about that many again.
const PREFETCH_BOUNDED: usize = 16;

impl DiskGraph {
    pub fn open(index: Index, meta: &Meta, kind: IndexKind) -> Self {
        DiskGraph {
            paged: PagedGraph::open(index, meta, kind),
            cached: false,
            sq8: false,
            query_f32: Vec::new(),
            missing: Default::default(),
            levels: None,
            trust_exact: Sq8Kernels::match_f32(),
            q_norm: 0.0,
            uncached_bounds: Default::default(),
            whole: Default::default(),
        }
    }

    /// As `open`, for a search (or an insert's search for neighbours):
    /// distances read vectors through the vector cache (see cache.rs).
    pub fn open_for_search(index: Index, meta: &Meta, kind: IndexKind) -> Self {
        let mut g = Self::open(index, meta, kind);
        let key = super::cache::CacheKey {
            // SAFETY: the relation is open; rd_id is its OID.
            index: unsafe { (*index.relation()).rd_id },
            nonce: meta.nonce,
            generation: meta.generation,
        };
        let min_dims = match kind.elem {
            Elem::F16 => SQ8_CACHE_MIN_DIMS_HALFVEC,
            _ => SQ8_CACHE_MIN_DIMS,
        };
        g.sq8 = matches!(kind.elem, Elem::F32 | Elem::F16)
            && matches!(kind.measure, Measure::Dense(_))
            && g.dims >= min_dims;
        let bytes = if g.sq8 { Some(sq8::record_bytes(g.dims)) } else { kind.elem.row_bytes(g.dims) };
        g.cached =
            super::cache::open(key, bytes, 2 * meta.m as usize, index.wal_mark(), expected_elements(index, g.dims));
        if let Some(bytes) = super::cache::shared_segment_bytes() {
            index.registry_set_memory::<Meta>(bytes as u64);
        }
        g
    }

    /// Get ready to search for `query` (a query of another element type than
    /// the index's searches without an SQ8 cache).
    pub fn prepare_query(&mut self, query: &Query) {
        let native = matches!((query, self.kind.elem), (Query::F32(_), Elem::F32) | (Query::F16(_), Elem::F16));
        if self.sq8 && !native {
            self.cached = false;
        }
        self.query_f32 = match query {
            Query::F16(h) if self.sq8 && self.cached => h.iter().map(|x| x.to_f32()).collect(),
            _ => Vec::new(),
        };
        self.uncached_bounds.get_mut().clear();
        // only SQ8 copies' bounds need these
        let (q_norm, levels) = match (self.sq8_query(query), self.kind.measure) {
            (Some(q), Measure::Dense(metric)) => (
                ruvector_core::kernels::norm(q),
                matches!(metric, Metric::InnerProduct | Metric::Cosine).then(|| sq8::QueryLevels::new(q)).flatten(),
            ),
            _ => (0.0, None),
        };
        (self.q_norm, self.levels) = (q_norm, levels);
    }

    /// The query as the SQ8 copies are measured against, in f32: an f32
    /// query as given, a `halfvec` one widened; None when the cache does not
    /// hold SQ8 copies for this query.
    #[inline]
    fn sq8_query<'a>(&'a self, query: &'a Query) -> Option<&'a [f32]> {
        if !(self.sq8 && self.cached) {
            return None;
        }
        match query {
            Query::F32(q) => Some(q),
            Query::F16(_) if !self.query_f32.is_empty() => Some(&self.query_f32),
            _ => None,
        }
    }

    /// Whether distances go through the vector cache.
    pub fn uses_cache(&self) -> bool {
        self.cached
    }

    /// Append element `id`'s level-0 links to `out`: its cached list if
    /// current, else read from its page and kept. Returns how many come
    /// first as the heuristic's choice.
    fn level0_cached(&self, id: Tid, out: &mut Vec<Tid>) -> usize {
        if let Some(diverse) = super::cache::neighbors(id, out) {
            return diverse;
        }
        let start = out.len();
        let diverse = self.paged.read_level0_split(id, out);
        super::cache::put_neighbors(id, &out[start..], diverse);
        diverse
    }

    /// Whether distances during a search may be approximate, so that what it
    /// returns may need measuring again (`queued`).
    pub fn approximate(&self) -> bool {
        self.cached && self.sq8
    }

    /// What a search found, for the scan's queue: each element at its
    /// distance where that is exact, else at a lower bound of it from its
    /// copy (`sq8::distance_lower_bound`), to be measured again from the
    /// pages only if it could be among the rows returned. A distance was
    /// approximate if it came from a cached copy (an element in the cache
    /// now was in it when measured: nothing is evicted) that is not exact,
    /// or from any copy if the SQ8 kernels are not the f32 ones. An element
    /// the cache has no copy of was measured from a copy made for the
    /// moment (`read_distance`, when the cache is full), whose bound was
    /// kept then; one this graph did not measure (an earlier batch's) is
    /// measured again from its pages here.
    pub fn queued(&self, query: &Query, found: Vec<Neighbor<Tid>>) -> Vec<Queued> {
        let exact = |n: &Neighbor<Tid>| Queued { key: n.distance, exact: true, id: n.id };
        if !(self.sq8_query(query).is_some() && self.approximate()) {
            return found.iter().map(exact).collect();
        }
        let uncached_bounds = self.uncached_bounds.borrow();
        let mut uncached = Vec::new();
        let mut queued: Vec<Queued> = found
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let bound = super::cache::peek(n.id, |record| self.bound(n.distance, record))
                    .or_else(|| uncached_bounds.get(&n.id).copied());
                match bound {
                    Some(Some(key)) => Queued { key, exact: false, id: n.id },
                    Some(None) => exact(n),
                    None => {
                        uncached.push(i);
                        exact(n)
                    }
                }
            })
            .collect();
        if !uncached.is_empty() {
            let ids: Vec<Tid> = uncached.iter().map(|&i| queued[i].id).collect();
            let mut distances = Vec::with_capacity(ids.len());
            self.exact_distances(query, &ids, &mut distances);
            for (&i, d) in uncached.iter().zip(distances) {
                queued[i].key = d;
            }
        }
        // the bounded elements a LIMIT query is likely to measure again (the
        // lowest bounds), prefetched in two rounds: line pointers, then tuples
        let mut first: Vec<(f32, Tid)> = queued.iter().filter(|q| !q.exact).map(|q| (q.key, q.id)).collect();
        if first.len() > PREFETCH_BOUNDED {
            first.select_nth_unstable_by(PREFETCH_BOUNDED, |a, b| a.0.total_cmp(&b.0));
            first.truncate(PREFETCH_BOUNDED);
        }
        self.prefetch_elements(first.iter().map(|&(_, id)| id));
        queued
    }

    /// The lower bound of the full-precision distance at which an element
    /// measured at `distance` from its copy `record` is queued, None if that
    /// distance is exact.
    fn bound(&self, distance: f32, record: &[u8]) -> Option<f32> {
        let Measure::Dense(metric) = self.kind.measure else { return None };
        (!(self.trust_exact && sq8::is_exact(record, self.dims)))
            .then(|| sq8::distance_lower_bound(metric, distance, record, self.dims, self.q_norm))
    }

    /// Elements' full-precision distances from the pages, appended to `out`
    /// (the scan's `resolve`): all prefetched in two rounds (line pointers,
    /// then tuples), so their reads overlap, then measured.
    pub fn exact_distances(&self, query: &Query, ids: &[Tid], out: &mut Vec<f32>) {
        self.prefetch_elements(ids.iter().copied());
        out.extend(ids.iter().map(|&id| self.read_distance(query, id, false)));
    }

    /// Ask for elements' pages in two rounds: their line pointers (with
    /// buffer descriptors and page headers), then the tuples they point to,
    /// whole up to 4 kB, so that the reads of all overlap.
    fn prefetch_elements(&self, ids: impl Iterator<Item = Tid> + Clone) {
        ids.clone().for_each(|id| self.store.prefetch(id));
        ids.for_each(|id| self.store.prefetch_tuple(id, 4096));
    }

    /// Put element `tid`'s vector into the vector cache as a search would
    /// (an SQ8 or full copy); whether the cache holds it now.
    pub fn cache_vector(&self, tid: Tid) -> bool {
        self.cache_vector_known(tid, None)
    }

    /// `cache_vector`, with the element's stored bytes given when the caller
    /// has them (an insert's new element), so they are not read again.
    pub fn cache_vector_known(&self, tid: Tid, known: Option<&[u8]>) -> bool {
        if !self.cached {
            return false;
        }
        if super::cache::peek(tid, |_| ()).is_some() {
            return true;
        }
        if !super::cache::has_room() {
            return false;
        }
        let Some(chunked) = self.store.read(tid, |b| ElementRef::parse(b).map(|e| e.next_chunk().is_valid())).flatten()
        else {
            return false;
        };
        let owned;
        let raw = match known {
            Some(raw) => raw,
            None => {
                let Some(read) = self.raw(tid) else { return false };
                owned = read;
                &owned
            }
        };
        self.keep(tid, raw, chunked);
        super::cache::peek(tid, |_| ()).is_some()
    }

    /// Put element `id`'s vector (`whole`, its stored bytes) into the cache.
    fn keep(&self, id: Tid, whole: &[u8], chunked: bool) {
        if let Some(record) = self.record(whole, chunked) {
            super::cache::put(id, &record);
        }
    }

    /// The cache's record of a vector (`whole`, its stored bytes): an SQ8
    /// copy or the bytes themselves; none if SQ8 cannot encode it (non-finite
    /// elements, a range beyond f32's). A vector stored in chunks is
    /// measured chunk by chunk from the pages, another fold than the copy's,
    /// so its copy is never marked exact; nor is a `halfvec` vector's (the
    /// copy holds its values widened to f32, exactly, but the `halfvec`
    /// kernels' fold need not be the f32 kernels' to the bit).
    fn record<'a>(&self, whole: &'a [u8], chunked: bool) -> Option<std::borrow::Cow<'a, [u8]>> {
        if !self.sq8 {
            return Some(whole.into());
        }
        let mut record = match self.kind.elem {
            Elem::F16 => sq8::encode(&chunk_elems::<half::f16>(whole).iter().map(|x| x.to_f32()).collect::<Vec<_>>()),
            _ => sq8::encode(&chunk_elems::<f32>(whole)),
        }?;
        if chunked || self.kind.elem == Elem::F16 {
            *record.last_mut().expect("the exact byte") = 0;
        }
        Some(record.into())
    }

    /// The distance to a cached record: an SQ8 copy's (approximate unless the
    /// copy is exact), or a full-precision copy's, as the pages would give.
    #[inline]
    fn cached_distance(&self, query: &Query, record: &[u8]) -> f32 {
        if self.sq8 {
            if let (Some(q), Measure::Dense(metric)) = (self.sq8_query(query), self.kind.measure) {
                let (copy, exact) = sq8::parse(record, self.dims);
                if let Some(levels) = self.levels.as_ref().filter(|_| !(exact && self.trust_exact)) {
                    return sq8::at_most(-levels.copy_dot_at_most(&copy));
                }
                return metric.sq8_distance(q, copy);
            }
        }
        let mut sum = Accumulator::new(query, self.kind.measure);
        sum.add(record);
        sum.finish()
    }

    /// The distance from the pages (the core's `read_distance`): exactly
    /// unless `measure_as_cached`, else as the vector cache measures it, from
    /// the record it keeps (for long vectors an SQ8 copy's approximate
    /// distance), whether or not the cache has room to keep it. So what a
    /// search finds does not depend on which vectors earlier searches had
    /// cached, nor on whether the cache is full: a standby's or a restarted
    /// server's first search returns what the primary's warm one does, and
    /// an index larger than the cache is searched as if all of it were
    /// cached. A vector with no record (one SQ8 cannot encode) is measured
    /// exactly either way.
    fn read_distance(&self, query: &Query, id: Tid, measure_as_cached: bool) -> f32 {
        if !measure_as_cached {
            return self.paged.read_distance(query, id, None).0;
        }
        let mut whole = self.whole.borrow_mut();
        whole.clear();
        let (d, chunks) = self.paged.read_distance(query, id, Some(&mut whole));
        let Some(record) = (chunks > 0).then(|| self.record(&whole, chunks > 1)).flatten() else {
            return d;
        };
        let d = self.cached_distance(query, &record);
        if super::cache::has_room() {
            super::cache::put(id, &record);
        } else if self.approximate() {
            self.uncached_bounds.borrow_mut().insert(id, self.bound(d, &record));
        }
        d
    }
}

/// How many elements a shared cache segment for `index` should have room for:
/// the rows the catalogue last counted (build, VACUUM, ANALYZE) with a fifth
/// more for inserts since, else as many as its pages could hold at one
/// element of `dims` 4-byte values per element.
fn expected_elements(index: Index, dims: usize) -> usize {
    // SAFETY: the relation is open; rd_rel is its pg_class row.
    let counted = unsafe { (*(*index.relation()).rd_rel).reltuples };
    if counted > 0.0 {
        return (counted as f64 * 1.2) as usize + 1000;
    }
    index.nblocks() as usize * (pgrx::pg_sys::BLCKSZ as usize / (4 * dims + 64)).max(1)
}

impl GraphRead for DiskGraph {
    type Id = Tid;
    type Visited = FxHashSet<Tid>;
    type Query = Query;

    fn neighbors(&self, id: Tid, level: usize, out: &mut Vec<Tid>) {
        if self.cached && level == 0 {
            self.level0_cached(id, out);
        } else {
            self.paged.read_neighbors(id, level, out);
        }
    }

    /// At level 0 the heuristic's links before the list's fill (every link
    /// when there are none), through the cached lists as `neighbors` where
    /// they outlive the insert's own WAL (else from the pages, as caching
    /// them would be wasted).
    fn construction_neighbors(&self, id: Tid, level: usize, out: &mut Vec<Tid>) {
        if !(self.cached && level == 0 && super::cache::lists_outlive_writes()) {
            return self.paged.read_construction_neighbors(id, level, out);
        }
        let start = out.len();
        let diverse = self.level0_cached(id, out);
        out.truncate(start + construction_links(out.len() - start, diverse));
    }

    /// From the vector cache when it holds the element (for long vectors an
    /// SQ8 copy, approximate unless exact), else from the pages.
    fn distance(&self, query: &Query, id: Tid) -> f32 {
        if self.cached {
            if let Some(d) = super::cache::with(id, |record| self.cached_distance(query, record)) {
                return d;
            }
        }
        self.read_distance(query, id, self.cached)
    }

    /// As `distance` for each, with the cached ones measured under one
    /// borrow of the cache, then the rest from the pages (docs/benchmarks.md,
    /// "Search-path choices").
    fn distances(&self, query: &Query, ids: &[Tid], out: &mut Vec<f32>) {
        out.clear();
        if !self.cached {
            out.extend(ids.iter().map(|&id| self.read_distance(query, id, false)));
            return;
        }
        let mut missing = self.missing.borrow_mut();
        missing.clear();
        super::cache::measure_all(ids, out, &mut missing, |record| self.cached_distance(query, record));
        for &i in missing.iter() {
            out[i] = self.read_distance(query, ids[i], true);
        }
    }

    fn visited(&self) -> FxHashSet<Tid> {
        FxHashSet::default()
    }

    /// Two rounds for elements not in the vector cache: the line pointers
    /// (with buffer descriptors and page headers) of all, then, once those
    /// had time to arrive, the tuples they point to, whole up to 4 kB
    /// (docs/benchmarks.md, "Search-path choices").
    fn prefetch_all(&self, ids: &[Tid]) {
        // the uncached ones, found by the first round (beyond 64, at once)
        let mut uncached = [Tid::INVALID; 64];
        let mut count = 0;
        let mut first_round = |id: Tid| {
            self.store.prefetch(id);
            match uncached.get_mut(count) {
                Some(slot) => *slot = id,
                None => self.store.prefetch_tuple(id, 4096),
            }
            count += 1;
        };
        if self.cached {
            super::cache::prefetch_all(ids, first_round);
        } else {
            ids.iter().for_each(|&id| first_round(id));
        }
        for &id in &uncached[..count.min(uncached.len())] {
            self.store.prefetch_tuple(id, 4096);
        }
    }
}
