//! The ivfflat build's one pass over the table: rows are read while k-means
//! on the sample is still running, assigned to lists on worker threads, and
//! written as page chains.
//!
//! Three kinds of work overlap, so that two cores stay busy:
//! - the backend's thread scans the heap, reading rows into batches of
//!   `batch_bytes`;
//! - one scoped thread runs k-means on the sample, started before the scan;
//! - once the centres are known, one scoped thread at a time assigns a batch
//!   to lists and makes its rows' SQ8 copies (itself on `threads` threads).
//!
//! The backend writes a batch's rows while the next batch is assigned. A
//! list's rows wait in memory until they fill a run of pages (32 pages, less
//! when many lists would hold too much), so each list's chain is a few long
//! runs of consecutive blocks rather than a short run per batch: a cold
//! index is then read in file order, which the kernel reads ahead. (With the
//! index in shared buffers, in-backend A/B rounds on clustered1536 showed no
//! consistent difference between the two layouts. Holding every batch and
//! writing all at the end cost 1-2 s of a 3-4 s build of that table.)
//!
//! Invariants:
//! - Worker threads never call PostgreSQL: only the backend's thread reads
//!   rows, touches pages, reports progress and checks for interrupts, which
//!   it also does while it waits for a worker.
//! - A list's rows are written in the order they were read; each run goes
//!   first onto the room left on the list's last page, then onto new pages
//!   linked after it, so the pages are as full as one batch would leave them.
//! - The rows held (read, waiting, being assigned, pending in runs) stay
//!   within the budget the build allows: when one more batch would not fit,
//!   the scan waits for the workers and every pending run is written. An
//!   assigned batch keeps only what will be written (format 2: the SQ8
//!   payloads, a quarter of the rows' bytes), and the buffer its rows were
//!   read into is read into again: fresh memory costs a page fault per 4
//!   kB, which is slow on this machine class.
//! - If the backend's thread unwinds (an ERROR), `StopOnDrop` tells k-means
//!   to stop; an assignment finishes its batch. `std::thread::scope` joins
//!   every worker before the ERROR goes on, and none outlives the build.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::index::Tid;
use ruvector_core::ivf::assign::CentreMatrix;
use ruvector_core::ivf::kmeans::Cancelled;
use ruvector_core::ivf::tuple::{append_row, append_row_with_copy, encode_list, COPY_POINTER, ROW_HEADER};
use ruvector_core::ivf::{self, KMeans};

use super::build::{
    centre_bytes, dense_values, needs_copy, product_form, sq8_payload, Dims, PHASE_ASSIGN, PHASE_KMEANS, PHASE_LOAD,
};
use super::lists::Centres;
use crate::am::callbacks::{progress, RowMemory, PROGRESS_CREATE_IDX_SUBPHASE, PROGRESS_CREATE_IDX_TUPLES_DONE};
use crate::am::kind::Elem;
use crate::am::storage::{tid_of, BulkWriter};

/// Rows read and not yet written: their stored bytes, heap TIDs, (formats
/// 2 and 3) norms before preparing and (format 3) the rows as given.
#[derive(Default)]
struct Batch {
    rows: Vec<u8>,
    tids: Vec<Tid>,
    magnitudes: Vec<f64>,
    given: Vec<u8>,
}

impl Batch {
    fn clear(&mut self) {
        self.rows.clear();
        self.tids.clear();
        self.magnitudes.clear();
        self.given.clear();
    }

    fn bytes(&self) -> usize {
        self.rows.len() + self.given.len()
    }
}

/// An assigned batch as it will be written: each row's list, heap TID and
/// stored bytes (`stored` each: the SQ8 payload in formats 2 and 3, the row
/// as read in format 1). (Format 3's rows as given stay in the batch.)
struct Assigned {
    lists: Vec<u32>,
    tids: Vec<Tid>,
    rows: Vec<u8>,
    stored: usize,
}

/// What assigning rows to lists needs: shared by the worker threads, with
/// nothing of PostgreSQL's in it.
struct Assigner {
    kind: crate::am::kind::IndexKind,
    dims: usize,
    row_bytes: usize,
    sq8: bool,
    threads: usize,
    /// The stored centres (left empty for an f32 index with `centre_values`,
    /// which hold the same values).
    centres: Centres,
    /// The centres as f32 values, for matrix products; None where the
    /// distance is not a product form.
    centre_values: Option<Vec<f32>>,
}

impl Assigner {
    /// Bytes a row stores after its TID: its SQ8 payload, or the row itself.
    fn stored_bytes(&self) -> usize {
        if self.sq8 {
            ivf::sq8_rows::payload_bytes(self.dims)
        } else {
            self.row_bytes
        }
    }

    /// Assign `batch` (taking its TIDs, and in format 1 its rows).
    fn assign(&self, batch: &mut Batch) -> Assigned {
        let (kind, rb, d, rows) = (self.kind, self.row_bytes, self.dims, &batch.rows);
        let n = batch.tids.len();
        // the distance a scan measures from a query equal to row i to centre
        // c (an f32 index keeps its centres only as `centre_values`: the same
        // values, measured by the same call on their bytes)
        let centre = |c: usize| match self.centre_values.as_deref() {
            Some(values) if kind.elem == Elem::F32 => bytemuck::cast_slice(&values[c * d..(c + 1) * d]),
            _ => self.centres.get(c),
        };
        let exact = |i: usize, c: usize| kind.elem.query(&rows[i * rb..(i + 1) * rb]).distance(kind.measure, centre(c));
        let lists = match (product_form(kind), self.centre_values.as_deref()) {
            (Some(form), Some(values)) => ivf::parallel_ranges(n, self.threads, |range| {
                let matrix = CentreMatrix::new(values, d);
                let (mut points, mut out) = (Vec::new(), Vec::with_capacity(range.len()));
                for start in range.clone().step_by(matrix.block()) {
                    let end = (start + matrix.block()).min(range.end);
                    points.clear();
                    (start..end).for_each(|i| dense_values(kind.elem, &rows[i * rb..(i + 1) * rb], &mut points));
                    matrix.nearest(&points, form, |i, c| exact(start + i, c), &mut out);
                }
                out
            }),
            _ => ivf::parallel_map(n, self.threads, |i| {
                let q = kind.elem.query(&rows[i * rb..(i + 1) * rb]);
                ivf::argmin((0..self.centres.len()).map(|c| q.distance(kind.measure, self.centres.get(c))))
            }),
        };
        let tids = std::mem::take(&mut batch.tids);
        if !self.sq8 {
            let rows = std::mem::take(&mut batch.rows);
            return Assigned { lists, tids, rows, stored: rb };
        }
        // format 2: the SQ8 payloads, one after another, made on the worker
        // threads; the rows as read are no longer needed (their buffer is
        // read into again)
        let stored = self.stored_bytes();
        let mut payloads = vec![0u8; n * stored];
        let per = n.div_ceil(self.threads.max(1)).max(1);
        let magnitudes = &batch.magnitudes;
        std::thread::scope(|s| {
            let handles: Vec<_> = payloads
                .chunks_mut(per * stored)
                .enumerate()
                .map(|(t, chunk)| {
                    s.spawn(move || {
                        for (j, out) in chunk.chunks_exact_mut(stored).enumerate() {
                            let i = t * per + j;
                            out.copy_from_slice(&sq8_payload(kind, &rows[i * rb..(i + 1) * rb], magnitudes[i]));
                        }
                    })
                })
                .collect();
            handles.into_iter().for_each(|h| ruvector_core::workers::joined(h.join()));
        });
        Assigned { lists, tids, rows: payloads, stored }
    }
}

/// Sets the flag when dropped: on the way out of the build, normal or not,
/// k-means stops at its next iteration.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the build needs once the table is loaded.
pub struct Loaded {
    pub writer: BulkWriter,
    pub dims: Dims,
    /// Per list: its list tuple, and (first page, last page) of its chain.
    pub list_tuples: Vec<Tid>,
    pub chains: Vec<Option<(u32, u32)>>,
    /// Format 3: (first page, last page) of the copy pages' chain.
    pub copy_chain: Option<(u32, u32)>,
    pub heap_tuples: f64,
    pub indexed: f64,
}

/// How the load is set up (ambuild's decisions).
pub struct LoadSettings {
    pub dims: Dims,
    /// Dimensions of the centres (the sample's; 1 if it had none).
    pub centre_dims: usize,
    pub row_bytes: usize,
    /// Rows as SQ8 payloads (formats 2 and 3).
    pub sq8: bool,
    /// Format 3: each row also as given, on the copy pages.
    pub copies: bool,
    pub threads: usize,
    pub lists: usize,
    /// Bytes of rows the load may hold at once.
    pub budget: usize,
}

type Running<'scope, T> = ScopedJoinHandle<'scope, T>;

/// The scan's state, handed to the heap-scan callback.
struct LoadState<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    settings: LoadSettings,
    memory: RowMemory,
    batch_bytes: usize,
    writer: BulkWriter,
    kmeans: Option<Running<'scope, Result<KMeans, Cancelled>>>,
    /// Set once k-means has finished and the centre pages are written.
    assigner: Option<Arc<Assigner>>,
    list_tuples: Vec<Tid>,
    chains: Vec<Option<(u32, u32)>>,
    copy_chain: Option<(u32, u32)>,
    reading: Batch,
    waiting: VecDeque<Batch>,
    assigning: Option<Running<'scope, (Batch, Assigned)>>,
    /// Per list, its assigned rows not yet written, as tuples one after
    /// another: a list's rows are written once they fill `run_bytes` (or the
    /// rows held reach the budget, or the scan ends), so its chain is made
    /// of runs of at least that many bytes of pages.
    pending: Vec<Vec<u8>>,
    run_bytes: usize,
    /// Buffers of written batches, filled again.
    spare: Vec<Batch>,
    heap_tuples: f64,
    indexed: f64,
}

/// Scan the table once (`scan` runs the heap scan with the callback it is
/// given), k-means on `sample` running meanwhile, and write every row.
pub fn load(
    settings: LoadSettings,
    writer: BulkWriter,
    sample: Vec<f32>,
    kmeans: impl FnOnce(&[f32], &AtomicBool) -> Result<KMeans, Cancelled> + Send,
    scan: impl FnOnce(pg_sys::IndexBuildCallback, *mut core::ffi::c_void) -> f64,
) -> Loaded {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let _stop = StopOnDrop(&stop);
        let stop = &stop;
        progress(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_KMEANS);
        let running = scope.spawn(move || kmeans(&sample, stop));
        // Batches small enough that the assignment keeps pace with the scan
        // and the last one, which nothing overlaps, is short; large enough
        // that a list's rows of a batch fill pages.
        let batch_bytes = (settings.budget / 4).clamp(1 << 20, 32 << 20);
        let (lists, settings_budget) = (settings.lists, settings.budget);
        let mut state = LoadState {
            scope,
            settings,
            memory: RowMemory::new(),
            batch_bytes,
            writer,
            kmeans: Some(running),
            assigner: None,
            list_tuples: Vec::new(),
            chains: vec![None; lists],
            copy_chain: None,
            reading: Batch::default(),
            waiting: VecDeque::new(),
            assigning: None,
            pending: vec![Vec::new(); lists],
            // runs of 32 pages, less where many lists would hold too much
            run_bytes: (settings_budget / (4 * lists.max(1))).clamp(8 << 10, 256 << 10),
            spare: Vec::new(),
            heap_tuples: 0.0,
            indexed: 0.0,
        };
        progress(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_ASSIGN);
        state.heap_tuples = scan(Some(load_callback), &mut state as *mut LoadState as *mut core::ffi::c_void);
        let last = std::mem::take(&mut state.reading);
        if !last.tids.is_empty() {
            state.waiting.push_back(last);
        }
        state.advance(true);
        let LoadState { writer, settings, list_tuples, chains, copy_chain, heap_tuples, indexed, .. } = state;
        Loaded { writer, dims: settings.dims, list_tuples, chains, copy_chain, heap_tuples, indexed }
    })
}

/// Wait for a worker, checking for interrupts meanwhile (an ERROR here
/// unwinds, and the scope joins the worker).
fn wait<T>(handle: Running<'_, T>) -> T {
    while !handle.is_finished() {
        pgrx::check_for_interrupts!();
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    ruvector_core::workers::joined(handle.join())
}

impl LoadState<'_, '_> {
    fn held_bytes(&self) -> usize {
        let in_flight = if self.assigning.is_some() { self.batch_bytes } else { 0 };
        let pending: usize = self.pending.iter().map(Vec::len).sum();
        self.reading.bytes() + self.waiting.iter().map(Batch::bytes).sum::<usize>() + in_flight + pending
    }

    /// Move the load on: take k-means' centres once they are there, write a
    /// finished batch, start assigning the next. Without `drain` it waits
    /// for a worker only while the rows held exceed the budget; with it,
    /// until every batch is written.
    fn advance(&mut self, drain: bool) {
        loop {
            let must = drain || self.held_bytes() > self.settings.budget;
            if self.assigner.is_none() {
                let Some(running) = self.kmeans.take() else { return };
                if !must && !running.is_finished() {
                    self.kmeans = Some(running);
                    return;
                }
                progress(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_KMEANS);
                let result = wait(running).unwrap_or_else(|_| error!("ivfflat build cancelled"));
                self.centres_ready(result);
                progress(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_ASSIGN);
                continue;
            }
            if let Some(running) = self.assigning.take() {
                if !must && !running.is_finished() {
                    self.assigning = Some(running);
                    return;
                }
                let (mut batch, assigned) = wait(running);
                // the next batch is assigned while this one's rows are written
                self.start_next();
                self.take_rows(&assigned, &batch.given);
                batch.clear();
                if batch.rows.capacity() > 0 {
                    self.spare.push(batch);
                }
                let flush = self.held_bytes() > self.settings.budget;
                self.write_runs(if flush { 1 } else { self.run_bytes });
                continue;
            }
            if !self.start_next() {
                if drain {
                    self.write_runs(1);
                }
                return;
            }
            if !drain {
                return;
            }
        }
    }

    /// Start assigning the oldest waiting batch, if there is one (and none
    /// is being assigned).
    fn start_next(&mut self) -> bool {
        if self.assigning.is_some() {
            return false;
        }
        let Some(batch) = self.waiting.pop_front() else { return false };
        let assigner = Arc::clone(self.assigner.as_ref().expect("centres are known"));
        self.assigning = Some(self.scope.spawn(move || {
            let mut batch = batch;
            let assigned = assigner.assign(&mut batch);
            (batch, assigned)
        }));
        true
    }

    /// k-means is done: store the centres, write their pages, and set up
    /// the assignment.
    fn centres_ready(&mut self, result: KMeans) {
        let s = &self.settings;
        let (kind, d) = (s.dims.kind, s.centre_dims);
        let mut centres = Centres::new(s.row_bytes);
        for c in result.centres.chunks_exact(d) {
            centres.push(&centre_bytes(kind, c));
        }
        self.list_tuples =
            (0..s.lists).map(|l| self.writer.add_next(&encode_list(0, 0, centres.get(l)), true)).collect();
        self.writer.close_page();
        // (only once the sample told the dimensions: a column without them
        // whose sample had no row gets placeholder centres, measured the old
        // way)
        let centre_values = product_form(kind).filter(|_| s.dims.dims == d).map(|_| {
            let mut values = Vec::with_capacity(centres.len() * d);
            (0..centres.len()).for_each(|c| dense_values(kind.elem, centres.get(c), &mut values));
            values
        });
        let values_only = kind.elem == Elem::F32 && centre_values.is_some();
        self.assigner = Some(Arc::new(Assigner {
            kind,
            dims: d,
            row_bytes: s.row_bytes,
            sq8: s.sq8,
            threads: s.threads,
            centres: if values_only { Centres::new(s.row_bytes) } else { centres },
            centre_values,
        }));
    }

    /// Move an assigned batch's rows to their lists' pending runs, as tuples
    /// (format 3: each row's copy, made from `given`, the batch's rows as
    /// given, written first, and the row pointing at it).
    fn take_rows(&mut self, assigned: &Assigned, given: &[u8]) {
        // (a row as given is as long as the row as stored: same type, same length)
        let given_bytes = if self.settings.copies { self.settings.row_bytes } else { 0 };
        let (kind, dims) = (self.settings.dims.kind, self.settings.dims.dims);
        let mut tuple = Vec::new();
        for (i, &l) in assigned.lists.iter().enumerate() {
            let stored = &assigned.rows[i * assigned.stored..(i + 1) * assigned.stored];
            if given_bytes == 0 {
                append_row(&mut self.pending[l as usize], assigned.tids[i], stored);
                continue;
            }
            let copy = if needs_copy(kind, stored, dims) {
                tuple.clear();
                append_row(&mut tuple, assigned.tids[i], &given[i * given_bytes..(i + 1) * given_bytes]);
                self.write_copy(&tuple)
            } else {
                Tid::INVALID
            };
            append_row_with_copy(&mut self.pending[l as usize], assigned.tids[i], copy, stored);
        }
        if given_bytes != 0 {
            self.writer.close_page();
        }
    }

    /// Write a row's copy at the end of the copy pages' chain.
    fn write_copy(&mut self, tuple: &[u8]) -> Tid {
        if let Some((_, tail)) = self.copy_chain {
            if let Some(t) = self.writer.add_to(tail, tuple) {
                return t;
            }
        }
        self.writer.close_page();
        let t = self.writer.add_next(tuple, false);
        self.copy_chain = Some(match self.copy_chain {
            Some((start, tail)) => {
                self.writer.link(tail, t.block);
                (start, t.block)
            }
            None => (t.block, t.block),
        });
        t
    }

    /// Write every list's pending rows that reach `min_bytes`: onto the room
    /// left on the list's last page, then onto new pages chained after it.
    fn write_runs(&mut self, min_bytes: usize) {
        let header = if self.settings.copies { ROW_HEADER + COPY_POINTER } else { ROW_HEADER };
        let Some(tuple_bytes) = self.assigner.as_ref().map(|a| header + a.stored_bytes()) else { return };
        progress(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_LOAD);
        for l in 0..self.pending.len() {
            if self.pending[l].is_empty() || self.pending[l].len() < min_bytes {
                continue;
            }
            let mut run = std::mem::take(&mut self.pending[l]);
            let mut tuples = run.chunks_exact(tuple_bytes).peekable();
            if let Some((_, tail)) = self.chains[l] {
                while let Some(&tuple) = tuples.peek() {
                    if self.writer.add_to(tail, tuple).is_none() {
                        break;
                    }
                    tuples.next();
                }
            }
            if tuples.peek().is_some() {
                self.writer.close_page();
                let (mut first, mut last) = (None, 0);
                for tuple in tuples {
                    let t = self.writer.add_next(tuple, true);
                    first.get_or_insert(t.block);
                    last = t.block;
                }
                let first = first.expect("the run has rows");
                self.chains[l] = Some(match self.chains[l] {
                    Some((start, tail)) => {
                        self.writer.link(tail, first);
                        (start, last)
                    }
                    None => (first, last),
                });
            }
            // the buffer is filled again
            run.clear();
            self.pending[l] = run;
            pgrx::check_for_interrupts!();
        }
        progress(PROGRESS_CREATE_IDX_TUPLES_DONE, self.indexed as i64);
        progress(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_ASSIGN);
    }
}

/// The heap-scan callback: guarded, so an ERROR or panic in it becomes an
/// ERROR raised from `ambuild`'s frame instead of unwinding through the C
/// scan.
#[pg_guard]
unsafe extern "C-unwind" fn load_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut core::ffi::c_void,
) {
    // SAFETY: PostgreSQL passes our state (a LoadState that `load` keeps
    // alive through the scan), a valid TID and one column.
    let (state, value, null, tid) = unsafe { (&mut *(state as *mut LoadState), *values, *isnull, tid_of(&*tid)) };
    if null {
        return;
    }
    if state.reading.tids.is_empty() && state.reading.rows.capacity() == 0 {
        // a new batch: a written one's buffers, or room for a whole batch
        // (so that it is not copied as it grows)
        state.reading = state.spare.pop().unwrap_or_default();
        let _ = state.reading.rows.try_reserve_exact(state.batch_bytes + state.settings.row_bytes);
    }
    let (dims, batch) = (&mut state.settings.dims, &mut state.reading);
    let start = batch.rows.len();
    let given = state.settings.copies.then_some(&mut batch.given);
    let Some(magnitude) = state.memory.read(|| dims.row_into(value, &mut batch.rows, given)) else { return };
    if batch.rows.len() - start != state.settings.row_bytes {
        // a column without dimensions whose sample had no row (the centres
        // are placeholders) met rows added since: the lists cannot hold them
        error!("ivfflat build found rows that its sample did not see on a column without dimensions; build the index again");
    }
    state.indexed += 1.0;
    batch.tids.push(tid);
    if state.settings.sq8 {
        batch.magnitudes.push(magnitude);
    }
    if batch.rows.len() >= state.batch_bytes {
        let full = std::mem::take(&mut state.reading);
        state.waiting.push_back(full);
        state.advance(false);
    }
}
