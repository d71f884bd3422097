//! Index scans: `ORDER BY col <op> $query LIMIT k`.
//!
//! The first `amgettuple` reads the centres, orders the lists by their
//! centre's distance to the query and scans the nearest `ivfflat.probes`
//! lists page by page, offering every row to a bounded top-k (`batch` rows):
//! memory stays O(batch) however long the lists are, and rows that cannot
//! make the batch cost one comparison. Rows are returned in exact (distance,
//! heap TID) order. If the batch runs out while more rows may remain, the
//! same lists are scanned again for the next rows strictly after the last
//! one returned, with the batch doubled. The first batch is sized from what
//! this backend's recent scans of the index took (`ivf::batch::RoundNeeds`;
//! 128 rows for the first scan).
//!
//! An index of format 2 (`ruvector_core::ivf::sq8_rows`) holds SQ8 copies:
//! the batch is ordered by a lower bound of each row's distance, which is
//! what the scan reports, and the executor computes the exact distance on
//! the heap row and reorders (`callbacks::return_row_with_distance`), so
//! results still come in exact order while the scan reads a quarter of the
//! bytes. A row whose copy is exact (integers spanning at most 255: pixels,
//! uint8 and int8 embeddings) is reported with its exact distance under
//! `<->` and `<#>` (`BoundQuery::row_key`), and the executor takes it
//! without fetching the vector: for a value stored out of line (from about
//! 510 dimensions) that fetch is a TOAST lookup per row returned. Such rows
//! carry `EXACT_ROW` in their batch key.
//!
//! An index of format 3 (`ruvector` or `halfvec`, `WITH (exact_copies = true)`) keeps, beside
//! each row's SQ8 copy, a pointer to a full copy of the vector on the copy
//! pages. The scan then reorders itself, as the executor would: it takes
//! rows in bound order, reads each one's copy (`Index::read`, one share
//! lock), measures it with the SQL operator's own function
//! (`Metric::sql_distance`, on the query and the row as given) and hands a
//! row over once its distance is at most the next row's bound. Every row
//! comes with its exact distance, and the executor fetches no vector (for a
//! value stored out of line, no TOAST lookup). A copy that is missing or
//! holds another heap TID (the row was vacuumed away meanwhile) leaves the
//! row with its bound, for the executor to recheck.
//!
//! With `ivfflat.iterative_scan = relaxed_order`, once the probed lists are
//! exhausted the next `probes` lists are scanned the same way, until
//! `ivfflat.max_probes` lists have been probed; rows of a later round may be
//! nearer than rows already returned (hence "relaxed").

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use half::f16;
use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::hnsw::tuple::chunk_elems;
use ruvector_core::index::kind::{Elem, Measure, Metric};
use ruvector_core::index::Tid;
use ruvector_core::ivf::batch::{RoundNeeds, DEFAULT_FIRST_BATCH};
use ruvector_core::ivf::sq8_rows::{BoundQuery, KEY_BATCH};
use ruvector_core::ivf::tuple::{parse_row, row_copy, row_payload_at, IVF_VERSION_COPIES, IVF_VERSION_SQ8, ROW_HEADER};
use ruvector_core::ivf::{nearest_n, BoundedTopK, Scored};
use ruvector_core::kernels::KernelElement;

use super::lists::ListEntry;
use super::options::{IterativeScan, ITERATIVE_SCAN, MAX_PROBES, PROBES};
use crate::am::callbacks;
use crate::am::kind::{check_query_dims, index_kind, IndexKind, Query};
use crate::am::storage::{tid_from_key, tid_key, ChainWalk, Index};

/// A page's rows are ranked up to `BoundQuery::key_batch` rows or this many
/// bytes at a time, so that the hints for the next page keep pace with the
/// rows read.
const KEY_BATCH_BYTES: usize = 2048;

thread_local! {
    /// Rows recent scans of each index took from a round, this backend's.
    static ROUND_NEEDS: RefCell<RoundNeeds> = RefCell::default();
}

/// The first batch this backend's next scan of the index `oid` would keep
/// (`ruvector_index_stats`).
pub fn next_first_batch(oid: u32) -> usize {
    ROUND_NEEDS.with(|n| n.borrow().next_batch(oid))
}

/// Set in a batch key (a heap TID as a number, 48 bits) for a row whose
/// distance is exact rather than a lower bound.
const EXACT_ROW: u64 = 1 << 63;

/// A format-3 row measured on its copy (or, without one, its bound): the
/// value handed to the executor, ordered with NaN last as PostgreSQL orders
/// float8, ties by heap TID.
#[derive(Clone, Copy, Debug)]
struct Measured {
    value: f64,
    key: u64,
    exact: bool,
}

fn nan_last(v: f64) -> f64 {
    if v.is_nan() {
        f64::NAN
    } else {
        v
    }
}

impl PartialEq for Measured {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Measured {}
impl PartialOrd for Measured {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Measured {
    fn cmp(&self, other: &Self) -> Ordering {
        nan_last(self.value).total_cmp(&nan_last(other.value)).then(self.key.cmp(&other.key))
    }
}

/// Format 3: the query as given, and the rows read from the bound order but
/// not yet handed over, with where the copies of this round's rows are.
#[derive(Default)]
struct Copies {
    metric: Option<Metric>,
    given: Given,
    /// The copy of each row offered to this round's batch, by batch key.
    of: rustc_hash::FxHashMap<u64, Tid>,
    measured: BinaryHeap<Reverse<Measured>>,
}

struct ScanState {
    kind: IndexKind,
    query: Option<(usize, Query)>,
    /// The query's norm before preparing (dense types).
    magnitude: f64,
    /// The query as given (dense types).
    given: Vec<u8>,
    /// Format 2 and 3: the query, ready to bound rows' distances (set by `start`).
    bounds: Option<BoundQuery>,
    /// Where a row's stored vector starts in its tuple.
    payload_at: usize,
    /// Format 3 (`copies.metric` set by `start`).
    copies: Copies,
    /// Lists nearest first, once read.
    order: Vec<ListEntry>,
    /// The lists of the current round: `order[round]`.
    round: std::ops::Range<usize>,
    batch: usize,
    /// The batch each round starts with.
    first_batch: usize,
    /// The last row of the previous batch of this round.
    after: Option<Scored>,
    /// Whether the previous batch was full (more rows may follow).
    more: bool,
    results: VecDeque<Scored>,
    started: bool,
    /// The index's OID, the rows taken from this round's batches, and the
    /// most the backend's record of the index says a round took.
    index: u32,
    taken: u32,
    recorded: u32,
}

impl ScanState {
    fn reset(&mut self) {
        self.query = None;
        self.bounds = None;
        self.payload_at = ROW_HEADER;
        self.copies.metric = None;
        self.copies.of.clear();
        self.copies.measured.clear();
        self.order.clear();
        self.round = 0..0;
        self.batch = DEFAULT_FIRST_BATCH;
        self.first_batch = DEFAULT_FIRST_BATCH;
        self.after = None;
        self.more = false;
        self.results.clear();
        self.started = false;
        self.taken = 0;
    }

    fn start(&mut self, index: Index) {
        self.started = true;
        self.index = index.oid();
        (self.first_batch, self.recorded) = ROUND_NEEDS.with(|n| n.borrow_mut().start(self.index));
        self.batch = self.first_batch;
        let meta = super::lists::meta(index);
        if meta.version == IVF_VERSION_SQ8 || meta.version == IVF_VERSION_COPIES {
            self.bounds = self.query.as_ref().map(|(_, q)| bound_query(self.kind, q, self.magnitude));
        }
        self.payload_at = row_payload_at(meta.version);
        if meta.version == IVF_VERSION_COPIES && self.query.is_some() {
            if let Measure::Dense(metric) = self.kind.measure {
                self.copies.metric = Some(metric);
                self.copies.given = match self.kind.elem {
                    Elem::F16 => Given::F16(chunk_elems::<f16>(&self.given).into_owned()),
                    _ => Given::F32(chunk_elems::<f32>(&self.given).into_owned()),
                };
            }
        }
        // A NULL query (`ORDER BY v <-> NULL`) measures every distance as 0,
        // as pgvector does: the first `probes` lists, all their rows.
        if let Some((dims, _)) = &self.query {
            if meta.dims != 0 {
                check_query_dims(meta.dims as usize, *dims);
            }
        }
        let measured = super::lists::measure_all(index, &meta, self.kind, self.query.as_ref().map(|(_, q)| q));
        let n = measured.len();
        let distances: Vec<f32> = measured.iter().map(|&(d, _)| d).collect();
        self.order = nearest_n(&distances, n).into_iter().map(|(_, l)| measured[l as usize].1).collect();
        let probes = (PROBES.get().max(1) as usize).min(n);
        self.round = 0..probes;
        self.scan_round(index);
    }

    /// Score the rows of this round's lists into a batch after `after`.
    fn scan_round(&mut self, index: Index) {
        // format 1: the kernel chosen once for the round, not per row
        let query = self.query.as_ref().map(|(_, q)| q.row_measure(self.kind.measure));
        let bounds = self.bounds.as_ref();
        let (payload_at, copies) = (self.payload_at, self.copies.metric.is_some());
        self.copies.of.clear();
        let mut top = BoundedTopK::new(self.batch, self.after);
        let lists = &self.order[self.round.clone()];
        for (i, entry) in lists.iter().enumerate() {
            let mut block = Some(entry.start);
            let mut walk = ChainWalk::pages(&index, "list page");
            while let Some(b) = block {
                walk.step();
                block = index.read_page(b, |page| {
                    // the page read after this one (the chain's next, else the
                    // next list's first) is hinted as fast as this one is read
                    let mut ahead = index.page_prefetch(page.next().or_else(|| lists.get(i + 1).map(|l| l.start)));
                    let mut of = copies.then_some(&mut self.copies.of);
                    // in ascending addresses (a page's items are laid out from
                    // its end down): the CPU's prefetcher follows, and a scan
                    // of cold pages took 70 ns per 384-d SQ8 row instead of 250
                    let mut items = page.items_by_address();
                    let Some((b, per)) = bounds.map(|b| (b, b.key_batch())).filter(|&(_, per)| per > 1) else {
                        for (_, bytes) in items {
                            ahead.keep_pace(bytes.len());
                            // (a row too short for its payload is no row)
                            let Some(raw) = bytes.get(payload_at..) else { continue };
                            let (distance, exact) = match (bounds, &query) {
                                // an exact row measured exactly only if its bound can enter
                                (Some(b), _) => b.row_key_within(raw, top.threshold()),
                                (None, Some(q)) => (q.distance(raw), true),
                                (None, None) => (0.0, true),
                            };
                            offer(&mut top, bytes, distance, exact, of.as_deref_mut());
                        }
                        return page.next();
                    };
                    // up to `key_batch` rows (and KEY_BATCH_BYTES) at a time:
                    // their keys first, then each against the batch's threshold
                    let (mut rows, mut payloads) = ([&[][..]; KEY_BATCH], [&[][..]; KEY_BATCH]);
                    let mut keys = [0f32; KEY_BATCH];
                    loop {
                        let (mut n, mut read) = (0, 0);
                        for (_, bytes) in items.by_ref() {
                            ahead.keep_pace(bytes.len());
                            if let Some(raw) = bytes.get(payload_at..) {
                                (rows[n], payloads[n]) = (bytes, raw);
                                n += 1;
                                read += bytes.len();
                                if n == per || read >= KEY_BATCH_BYTES {
                                    break;
                                }
                            }
                        }
                        if n == 0 {
                            break;
                        }
                        b.lower_keys(&payloads[..n], &mut keys[..n]);
                        for i in 0..n {
                            let (distance, exact) = b.finish_key(payloads[i], keys[i], top.threshold());
                            offer(&mut top, rows[i], distance, exact, of.as_deref_mut());
                        }
                    }
                    page.next()
                });
            }
            pgrx::check_for_interrupts!();
        }
        self.more = top.is_full();
        let rows = top.into_sorted();
        if let Some(&last) = rows.last() {
            self.after = Some(last);
        }
        self.results.extend(rows);
    }

    /// The next row in bound order, left in place, scanning further batches
    /// and rounds as needed.
    fn peek(&mut self, index: Index) -> Option<Scored> {
        loop {
            if let Some(&r) = self.results.front() {
                return Some(r);
            }
            if self.more {
                self.batch = self.batch.saturating_mul(2);
                self.scan_round(index);
                continue;
            }
            let limit = self.order.len().min(MAX_PROBES.get().max(1) as usize);
            if ITERATIVE_SCAN.get() == IterativeScan::Off || self.round.end >= limit {
                return None;
            }
            let probes = PROBES.get().max(1) as usize;
            self.round = self.round.end..(self.round.end + probes).min(limit);
            self.after = None;
            self.batch = self.first_batch;
            self.taken = 0;
            self.scan_round(index);
        }
    }
}

impl ScanState {
    /// The next row in bound order (formats 1 and 2).
    fn next(&mut self, index: Index) -> Option<Scored> {
        self.peek(index)?;
        self.take_result()
    }

    /// The front row of the batch, taken, and counted for this backend's
    /// record of how many rows a round takes.
    fn take_result(&mut self) -> Option<Scored> {
        let row = self.results.pop_front()?;
        self.taken += 1;
        if self.taken > self.recorded {
            self.recorded = self.taken;
            ROUND_NEEDS.with(|n| n.borrow_mut().took(self.index, self.taken));
        }
        Some(row)
    }

    /// Format 3: the next row in exact order. Rows are taken in bound order
    /// and measured on their copies; the nearest measured row is handed over
    /// once no row still to come can be nearer (its distance is at most the
    /// next row's bound, and every later bound is at least that one).
    fn next_measured(&mut self, index: Index) -> Option<Measured> {
        loop {
            let next = self.peek(index);
            let bounds = self.bounds.as_ref()?;
            if let Some(Reverse(top)) = self.copies.measured.peek() {
                let ready = match next {
                    None => true,
                    Some(r) => {
                        nan_last(top.value).total_cmp(&nan_last(bounds.reported(r.distance))) != Ordering::Greater
                    }
                };
                if ready {
                    return self.copies.measured.pop().map(|Reverse(m)| m);
                }
            }
            let row = next?;
            let value = bounds.reported(row.distance);
            self.take_result();
            let bound = Measured { value, key: row.key & !EXACT_ROW, exact: false };
            let measured = if row.key & EXACT_ROW != 0 {
                Measured { exact: true, ..bound }
            } else {
                self.measure_copy(index, row.key).map_or(bound, |value| Measured { value, exact: true, ..bound })
            };
            self.copies.measured.push(Reverse(measured));
        }
    }

    /// The SQL operator's distance from the query to the row with this batch
    /// key, measured on its copy; None if the copy is not there (or not the
    /// row's: another heap TID, another length).
    fn measure_copy(&self, index: Index, key: u64) -> Option<f64> {
        let (metric, copy) = (self.copies.metric?, *self.copies.of.get(&key)?);
        let tid = tid_from_key(key);
        index.read(copy, |bytes| {
            let (copy_of, values) = parse_row(bytes)?;
            if copy_of != tid {
                return None;
            }
            match &self.copies.given {
                Given::F32(given) => measure_as_given(metric, given, values),
                Given::F16(given) => measure_as_given(metric, given, values),
            }
        })?
    }
}

/// Offer a row to the batch with its key (not `<=`: a NaN distance is kept
/// and sorts last). The TID is decoded only for a row that can enter; a
/// format-3 row (`copies`) not measured exactly has its copy noted.
#[inline(always)]
fn offer(
    top: &mut BoundedTopK,
    bytes: &[u8],
    distance: f32,
    exact: bool,
    copies: Option<&mut rustc_hash::FxHashMap<u64, Tid>>,
) {
    if distance.partial_cmp(&top.threshold()) != Some(std::cmp::Ordering::Greater) {
        if let Some((tid, _)) = parse_row(bytes) {
            let key = tid_key(tid) | if exact { EXACT_ROW } else { 0 };
            if let Some(of) = copies.filter(|_| !exact) {
                if let Some(copy) = row_copy(bytes).filter(|c| c.is_valid()) {
                    of.insert(key, copy);
                }
            }
            top.offer(Scored { distance, key });
        }
    }
}

/// The query of a format-3 scan as given, in the index's element type.
enum Given {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

impl Default for Given {
    fn default() -> Self {
        Given::F32(Vec::new())
    }
}

/// The SQL operator's distance from `given` to the copy's `values` (bytes of
/// the same element type); None if the copy is not as long as the query.
fn measure_as_given<T: KernelElement + bytemuck::Pod>(metric: Metric, given: &[T], values: &[u8]) -> Option<f64> {
    if values.len() != std::mem::size_of_val(given) {
        return None;
    }
    // (borrowed: a page's items are MAXALIGNed, and the vector 8 bytes in)
    Some(metric.sql_distance(given, &chunk_elems::<T>(values)))
}

impl callbacks::OrderedScan for ScanState {
    fn kind(&self) -> IndexKind {
        self.kind
    }

    fn restart(&mut self, query: Option<callbacks::ScanQuery>) {
        self.reset();
        let Some(q) = query else {
            self.magnitude = 0.0;
            self.given.clear();
            return;
        };
        self.magnitude = q.magnitude;
        self.given = q.given;
        self.query = Some((q.dims, q.query));
    }
}

/// A format-2 scan's query: the prepared query as f32 values (a halfvec
/// query normalised for cosine was rounded to f16 after).
fn bound_query(kind: IndexKind, query: &Query, magnitude: f64) -> BoundQuery {
    let (values, rounded): (Vec<f32>, bool) = match query {
        Query::F32(v) => (v.clone(), false),
        Query::F16(v) => (v.iter().map(|x| x.to_f32()).collect(), true),
        _ => unreachable!("format 2 is only built for ruvector and halfvec"),
    };
    let Measure::Dense(metric) = kind.measure else { unreachable!("format 2 is only built for dense metrics") };
    let extra = if rounded && metric == Metric::Cosine {
        ruvector_core::ivf::sq8_rows::f16_rounding(values.len())
    } else {
        0.0
    };
    let bounds = BoundQuery::new(metric, values, magnitude, extra);
    // a halfvec row's copy holds widened binary16 values, measured by the
    // f16 kernels: only `ruvector` rows are ranked exactly
    if rounded {
        bounds
    } else {
        bounds.with_exact_rows()
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
            kind: index_kind(index, "ivfflat"),
            query: None,
            magnitude: 0.0,
            given: Vec::new(),
            bounds: None,
            payload_at: ROW_HEADER,
            copies: Copies::default(),
            order: Vec::new(),
            round: 0..0,
            batch: DEFAULT_FIRST_BATCH,
            first_batch: DEFAULT_FIRST_BATCH,
            after: None,
            more: false,
            results: VecDeque::new(),
            started: false,
            index: 0,
            taken: 0,
            recorded: 0,
        };
        state.reset();
        let scan = callbacks::begin_scan(index, nkeys, norderbys, state);
        callbacks::alloc_order_by_values(scan);
        scan
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
        // SAFETY: the scan being read.
        unsafe { callbacks::count_index_scan(scan) };
        state.start(index);
    }
    if state.copies.metric.is_some() {
        return match state.next_measured(index) {
            Some(row) => {
                // SAFETY: the scan being read; ambeginscan made room for the value.
                unsafe { callbacks::return_row_with_distance(scan, tid_from_key(row.key), row.value, row.exact) };
                true
            }
            None => false,
        };
    }
    match state.next(index) {
        Some(row) => {
            let tid = tid_from_key(row.key & !EXACT_ROW);
            // SAFETY: the scan being read; ambeginscan made room for the value.
            unsafe {
                match &state.bounds {
                    Some(b) => callbacks::return_row_with_distance(
                        scan,
                        tid,
                        b.reported(row.distance),
                        row.key & EXACT_ROW != 0,
                    ),
                    None => callbacks::return_row(scan, tid),
                }
            }
            true
        }
        None => false,
    }
}
