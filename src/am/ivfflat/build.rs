//! `ambuild` / `ambuildempty` for IVFFlat.
//!
//! 1. Sample rows as ANALYZE does: a block sample (PostgreSQL's BlockSampler)
//!    with a reservoir over the rows of the sampled blocks; `lists` × 50 rows,
//!    at least 10,000 (pgvector's sample size). A value stored out of line
//!    is kept as its TOAST pointer and read after the scan, so only the rows
//!    that end in the sample are fetched from TOAST.
//! 2. k-means on the sample (ruvector_core::ivf, worker threads that never call
//!    PostgreSQL; max_parallel_maintenance_workers + 1 of them, at most one
//!    per core), k-means++ seeding from a random part of it. Bit indexes
//!    cluster the bits as 0/1 floats and round the centres back to bits.
//! 3. While k-means runs, scan the whole table (`load`): rows are read in
//!    batches, and once the centres are known (their pages are written then,
//!    after the meta page) each batch is assigned to lists on the worker
//!    threads while the next is read, then written list by list as page
//!    chains. Every page is WAL-logged once at the end.
//!
//! Rows are read in a per-row memory context (`callbacks::RowMemory`), so
//! the detoasted copy of each value is freed as soon as the row is read.

use half::f16;
use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::hnsw::tuple::chunk_elems;
use ruvector_core::index::kind::Metric;
use ruvector_core::ivf::assign::Form;
use ruvector_core::ivf::tuple::{
    encode_list, set_list_insert, IvfMeta, IVF_MAGIC, IVF_VERSION, IVF_VERSION_COPIES, IVF_VERSION_SQ8,
};
use ruvector_core::ivf::{self, KMeansParams, Reservoir};
use std::sync::atomic::{AtomicBool, Ordering};

use super::load::{self, LoadSettings};
use super::options;
use crate::am::callbacks::{self, progress, RowMemory, PROGRESS_CREATE_IDX_TUPLES_TOTAL};
use crate::am::kind::{check_row_dims, index_kind, key_column, metric_code, read_row, Elem, IndexKind, Measure, Row};
use crate::am::storage::{self, BulkWriter, Index};
use crate::datum::DenseArg;
use pgrx::datum::FromDatum;

// Our build phases for pg_stat_progress_create_index.
pub(super) const PHASE_KMEANS: i64 = 2;
pub(super) const PHASE_ASSIGN: i64 = 3;
pub(super) const PHASE_LOAD: i64 = 4;

/// Most dimensions a centre may have so that it fits on one page (pgvector's limits).
pub fn max_dims(elem: Elem) -> usize {
    match elem {
        Elem::F32 => 2000,
        Elem::F16 => 4000,
        Elem::Bit => 64000,
        Elem::Sparse => 0,
    }
}

/// Check the index's kind and dimensions can be indexed by ivfflat.
pub fn check_dims(kind: IndexKind, dims: usize) {
    if matches!(kind.measure, Measure::Dense(Metric::L1) | Measure::Jaccard) || kind.elem == Elem::Sparse {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "ivfflat supports L2, inner product and cosine distance on ruvector and halfvec, and Hamming distance on bit",
        );
    }
    if dims > max_dims(kind.elem) {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("column cannot have more than {} dimensions for ivfflat index", max_dims(kind.elem)),
        );
    }
}

/// The row as k-means sees it: f32 values (0/1 per bit for `bit`).
fn kmeans_form(kind: IndexKind, row: &Row) -> Vec<f32> {
    match kind.elem {
        Elem::Bit => (0..row.dims).map(|i| ((row.raw[i / 8] >> (7 - i % 8)) & 1) as f32).collect(),
        _ => row.dense.clone(),
    }
}

/// A centre from k-means in the index's element type (bits: rounded).
pub(super) fn centre_bytes(kind: IndexKind, c: &[f32]) -> Vec<u8> {
    match kind.elem {
        Elem::Bit => {
            let mut b = vec![0u8; c.len().div_ceil(8)];
            for (i, &x) in c.iter().enumerate() {
                if x > 0.5 {
                    b[i / 8] |= 0x80 >> (i % 8);
                }
            }
            b
        }
        elem => elem.encode(c),
    }
}

/// How the index's distance follows from dot products and norms, if it does
/// (`ruvector` and `halfvec` under L2, inner product and cosine: their rows
/// are assigned to lists as matrix products, `ivf::assign`).
pub(super) fn product_form(kind: IndexKind) -> Option<Form> {
    match (kind.elem, kind.measure) {
        (Elem::F32 | Elem::F16, Measure::Dense(Metric::L2)) => Some(Form::L2Squared),
        (Elem::F32 | Elem::F16, Measure::Dense(Metric::InnerProduct | Metric::Cosine)) => Some(Form::NegativeDot),
        _ => None,
    }
}

/// Whether an index of this kind may store its rows as SQ8 copies with
/// error bounds (format 2, `ivf::sq8_rows`): `ruvector` and `halfvec` under
/// L2, inner product and cosine, the kinds whose distances are products.
pub fn sq8_rows(kind: IndexKind) -> bool {
    product_form(kind).is_some()
}

/// The fewest dimensions an index is built with SQ8 rows for. Below, the
/// f32 rows are small enough that reading them costs less than bounding an
/// SQ8 copy and rechecking: probes 16, one client, ms per query, format 1
/// against format 2 in the same cluster (2026-12-02): WordNet-384 2.5-3.2
/// against 1.6; its first 128 dimensions 0.86-0.91 against 1.30-1.37;
/// GloVe-50 (probes 32) 1.2-1.5 against 3.0.
const SQ8_MIN_DIMS: usize = 256;

/// Whether an index of this kind may keep a full copy of each row beside
/// its SQ8 copy (format 3): `ruvector` and `halfvec` under L2, inner product
/// and cosine, whose copies hold the values the SQL operators measure (a
/// `halfvec` copy its binary16 values, half a `ruvector` copy's bytes).
pub fn full_copies(kind: IndexKind) -> bool {
    sq8_rows(kind) && matches!(kind.elem, Elem::F32 | Elem::F16)
}

/// Whether a format-3 row with this SQ8 payload gets a full copy: all rows,
/// except, of `ruvector` under L2 and inner product, those whose SQ8 copy is
/// exact (a scan ranks them by their exact distance already,
/// `BoundQuery::with_exact_rows`; in the rare query it cannot, the executor
/// rechecks them). Such a row points at `Tid::INVALID`. A `halfvec` row is
/// never ranked exactly from its SQ8 copy, so every one gets a copy.
pub fn needs_copy(kind: IndexKind, payload: &[u8], dims: usize) -> bool {
    !(kind.elem == Elem::F32
        && matches!(kind.measure, Measure::Dense(Metric::L2 | Metric::InnerProduct))
        && ivf::sq8_rows::payload_is_exact(payload, dims))
}

/// The format version an index of this kind and length is built with (a
/// column without a typmod: the sample's length, or format 1 without one).
/// Full copies beside the SQ8 rows (format 3) only when the index asks for
/// them (`exact_copies`): they spare the executor's recheck, a TOAST lookup
/// per row for vectors of about 500 dimensions and more, but make the index
/// about six times larger at 1,536 dimensions and its build I/O-bound
/// (docs/ivfflat.md, "Format 3").
fn format_version(index: pg_sys::Relation, kind: IndexKind, dims: usize) -> u32 {
    let sq8 = sq8_rows(kind) && dims >= SQ8_MIN_DIMS;
    if sq8 && full_copies(kind) && options::exact_copies_of(index) {
        IVF_VERSION_COPIES
    } else if sq8 {
        IVF_VERSION_SQ8
    } else {
        IVF_VERSION
    }
}

/// The format-2 payload of a prepared row stored as `raw` (in the index's
/// element type) whose norm before preparing was `magnitude`.
pub fn sq8_payload(kind: IndexKind, raw: &[u8], magnitude: f64) -> Vec<u8> {
    let mut values = Vec::new();
    dense_values(kind.elem, raw, &mut values);
    // a halfvec row normalised for cosine was rounded to f16 after
    let extra = if kind.elem == Elem::F16 && kind.measure == Measure::Dense(Metric::Cosine) {
        ivf::sq8_rows::f16_rounding(values.len())
    } else {
        0.0
    };
    ivf::sq8_rows::encode(&values, magnitude, extra)
}

/// Append the f32 values of a stored `ruvector` or `halfvec` vector to `out`.
pub(super) fn dense_values(elem: Elem, raw: &[u8], out: &mut Vec<f32>) {
    match elem {
        Elem::F16 => out.extend(chunk_elems::<f16>(raw).iter().map(|x| x.to_f32())),
        _ => out.extend_from_slice(&chunk_elems::<f32>(raw)),
    }
}

pub(super) struct Dims {
    pub dims: usize,
    pub kind: IndexKind,
}

impl Dims {
    /// Read and prepare a row, checking its length, with its norm before
    /// preparing (0 for `bit`); None for a row not indexed.
    pub(super) fn row(&mut self, value: pg_sys::Datum) -> Option<(Row, f64)> {
        self.row_and_given(value, false).map(|(row, magnitude, _)| (row, magnitude))
    }

    /// As `row`, with the row as given (before preparing) if `keep_given`.
    fn row_and_given(&mut self, value: pg_sys::Datum, keep_given: bool) -> Option<(Row, f64, Option<Vec<u8>>)> {
        // SAFETY: the indexed column's datum, of the type index_kind() found.
        let row = unsafe { read_row(self.kind, value) }?;
        self.check(row.dims);
        let given = keep_given.then(|| row.raw.clone());
        let (magnitude, row) = row.prepared_with_magnitude(self.kind);
        row.map(|row| (row, magnitude, given))
    }

    /// As `row`, for the load: the prepared row's stored bytes appended to
    /// `out`, and its norm before preparing; None, with nothing appended,
    /// for a row not indexed. A `ruvector` value is copied once, from the
    /// datum into `out`, and prepared there; with `given` (format 3), also
    /// appended there as it is.
    pub(super) fn row_into(
        &mut self,
        value: pg_sys::Datum,
        out: &mut Vec<u8>,
        given: Option<&mut Vec<u8>>,
    ) -> Option<f64> {
        let Measure::Dense(metric) = self.kind.measure else { return self.row_copied(value, out, given) };
        if self.kind.elem != Elem::F32 {
            return self.row_copied(value, out, given);
        }
        // SAFETY: the indexed column's datum, a `ruvector` (index_kind() found f32).
        let arg = unsafe { DenseArg::<f32>::from_polymorphic_datum(value, false, pg_sys::InvalidOid) }?;
        let v = arg.as_slice();
        self.check(v.len());
        let magnitude = ruvector_core::kernels::norm(v);
        let start = out.len();
        out.extend_from_slice(bytemuck::cast_slice(v));
        // as Row::prepared: unit length under cosine, the values as they are otherwise
        let kept = match bytemuck::try_cast_slice_mut::<u8, f32>(&mut out[start..]) {
            Ok(values) => metric.prepare_with_norm(values, magnitude),
            Err(_) => {
                let mut values = v.to_vec();
                let kept = metric.prepare_with_norm(&mut values, magnitude);
                out[start..].copy_from_slice(bytemuck::cast_slice(&values));
                kept
            }
        };
        if !kept {
            out.truncate(start);
            return None;
        }
        if let Some(given) = given {
            given.extend_from_slice(bytemuck::cast_slice(v));
        }
        Some(magnitude)
    }

    /// `row_into` for every type but `ruvector` (the row read, then
    /// prepared in a copy); with `given` (format 3 of `halfvec`), the row as
    /// given appended there too.
    fn row_copied(&mut self, value: pg_sys::Datum, out: &mut Vec<u8>, given: Option<&mut Vec<u8>>) -> Option<f64> {
        let (row, magnitude, as_given) = self.row_and_given(value, given.is_some())?;
        out.extend_from_slice(&row.raw);
        if let (Some(given), Some(as_given)) = (given, as_given) {
            given.extend_from_slice(&as_given);
        }
        Some(magnitude)
    }

    /// A row of `got` elements: the first sets the dimensions if the column
    /// has none; every other must have them.
    fn check(&mut self, got: usize) {
        if self.dims == 0 {
            check_dims(self.kind, got);
            self.dims = got;
        } else {
            check_row_dims(self.dims, got);
        }
    }
}

/// A sampled row as k-means sees it, or, for a value stored out of line,
/// where it is: the value is read after the scan, so the rows the reservoir
/// replaces later (most of those it takes, on a large table) are never
/// fetched from TOAST.
enum Sampled {
    Read(Vec<f32>),
    Toasted(crate::datum::ExternalPointer),
}

struct SampleState {
    dims: Dims,
    reservoir: Reservoir<Sampled>,
    memory: RowMemory,
    /// Whether values stored out of line are read after the scan.
    defer: bool,
}

impl SampleState {
    /// The sample as k-means sees it, reading the values left out of line,
    /// and how many of those turned out not indexable (zero vectors under
    /// cosine), which are left out.
    fn into_rows(self) -> (Dims, Vec<Vec<f32>>, usize) {
        let SampleState { mut dims, reservoir, mut memory, .. } = self;
        let mut items = reservoir.into_items();
        // values left out of line in the order they are stored in the TOAST
        // table (a cold table is then read forward, not at random)
        items.sort_by_key(|item| match item {
            Sampled::Read(_) => (0, 0),
            Sampled::Toasted(pointer) => (1, pointer.value_id()),
        });
        let mut rows = Vec::with_capacity(items.len());
        let mut dropped = 0;
        for item in items {
            match item {
                Sampled::Read(v) => rows.push(v),
                Sampled::Toasted(pointer) => {
                    let kind = dims.kind;
                    match memory.read(|| dims.row(pointer.datum()).map(|(row, _)| kmeans_form(kind, &row))) {
                        Some(v) => rows.push(v),
                        None => dropped += 1,
                    }
                }
            }
            pgrx::check_for_interrupts!();
        }
        (dims, rows, dropped)
    }
}

/// A heap-scan callback: guarded, so an ERROR or panic in it becomes an ERROR
/// raised from `ambuild`'s frame instead of unwinding through the C scan.
#[pg_guard]
unsafe extern "C-unwind" fn sample_callback(
    _index: pg_sys::Relation,
    _tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut core::ffi::c_void,
) {
    // SAFETY: PostgreSQL passes our state and one column.
    let (state, value, null) = unsafe { (&mut *(state as *mut SampleState), *values, *isnull) };
    if null {
        return;
    }
    // Decide first, read after: most rows of a large table are skipped, and
    // reading one detoasts it (a 1,536-d vector is a TOAST fetch), so a value
    // stored out of line is read only if it is still in the sample at the
    // end. A row read here that turns out not indexable (a zero vector under
    // cosine) takes no place; it only counted as seen.
    let slot = state.reservoir.slot();
    if slot == ivf::sample::Slot::Skip {
        return;
    }
    if let Some(pointer) = state.defer.then(|| crate::datum::toast_pointer(value)).flatten() {
        state.reservoir.put(slot, Sampled::Toasted(pointer));
        return;
    }
    let kind = state.dims.kind;
    let dims = &mut state.dims;
    let Some(v) = state.memory.read(|| dims.row(value).map(|(row, _)| kmeans_form(kind, &row))) else { return };
    state.reservoir.put(slot, Sampled::Read(v));
}

/// A sample of up to `samples` rows as ANALYZE takes one: PostgreSQL's
/// BlockSampler picks blocks, a reservoir the rows in them. Returns the
/// rows as k-means sees them and how many deferred reads found rows not
/// indexable (`SampleState::into_rows`).
///
/// # Safety
/// `heap`, `index`, `info` are ambuild's.
unsafe fn sample(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    info: *mut pg_sys::IndexInfo,
    dims: Dims,
    samples: usize,
    defer: bool,
) -> (Dims, Vec<Vec<f32>>, usize) {
    let mut sample =
        SampleState { dims, reservoir: Reservoir::new(samples, 0x7276_6976), memory: RowMemory::new(), defer };
    // SAFETY: block sampling as ANALYZE does, scanning each sampled block with our callback.
    unsafe {
        let nblocks = pg_sys::RelationGetNumberOfBlocksInFork(heap, pg_sys::ForkNumber::MAIN_FORKNUM);
        let mut bs: pg_sys::BlockSamplerData = core::mem::zeroed();
        pg_sys::BlockSampler_Init(&mut bs, nblocks, samples as i32, 0x7276);
        while pg_sys::BlockSampler_HasMore(&mut bs) {
            let block = pg_sys::BlockSampler_Next(&mut bs);
            pg_sys::table_index_build_range_scan(
                heap,
                index,
                info,
                false,
                false,
                false,
                block,
                1,
                Some(sample_callback),
                &mut sample as *mut SampleState as *mut core::ffi::c_void,
                core::ptr::null_mut(),
            );
            pgrx::check_for_interrupts!();
        }
    }
    sample.into_rows()
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    let kind = index_kind(index, "ivfflat");
    let lists = options::lists_of(index);
    let typmod = key_column(index).1;
    // SAFETY: reading this backend's settings.
    let mem_kb = unsafe { pg_sys::maintenance_work_mem as usize };
    let mut dims = Dims { dims: if typmod > 0 { typmod as usize } else { 0 }, kind };
    if dims.dims > 0 {
        check_dims(kind, dims.dims);
    }
    let threads = callbacks::maintenance_threads();
    let memory = mem_kb * 1024;

    // 1. sample
    let samples = (lists * 50).max(10_000);
    // SAFETY: ambuild's relations and IndexInfo.
    let (sample_dims, mut sampled, dropped) = unsafe { sample(heap, index, info, dims, samples, true) };
    // Values read after the scan took their places in the sample before it
    // was known whether they can be indexed. If most could not be (a table
    // of mostly zero vectors under cosine), sample again reading each row as
    // it is taken, so the sample is as large as the rows allow.
    dims = sample_dims;
    if dropped > sampled.len() {
        // SAFETY: as above.
        (dims, sampled, _) = unsafe { sample(heap, index, info, dims, samples, false) };
    }
    let d = dims.dims.max(1);
    if sampled.len() < lists {
        pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            "ivfflat index created with little data",
            "ambuild",
        )
        .set_detail("This will cause low recall.")
        .set_hint("Drop the index until the table has more data.")
        .report(PgLogLevel::NOTICE);
    }
    // pgvector's rule, so that the same builds are accepted and refused: the
    // centres and the sample, each vector at its stored size (with its
    // 8-byte header, MAXALIGN'd), must fit maintenance_work_mem. The sample
    // counted is pgvector's: lists × 50, at least 10,000, at most the rows
    // the table's pages can hold.
    let item = (kind.elem.row_bytes(d).unwrap_or(0) + 8).next_multiple_of(8);
    // SAFETY: the heap is open.
    let heap_blocks = unsafe { pg_sys::RelationGetNumberOfBlocksInFork(heap, pg_sys::ForkNumber::MAIN_FORKNUM) };
    // MaxHeapTuplesPerPage for 8 kB pages: (8192 - 24) / (MAXALIGN(23) + 4)
    let max_tuples = heap_blocks as usize * 291;
    let counted_samples = samples.min(max_tuples).max(1);
    let needed = (lists + counted_samples) * item;
    if needed / 1024 > mem_kb {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!(
                "memory required is {} MB, maintenance_work_mem is {} MB",
                needed / (1024 * 1024) + 1,
                mem_kb / 1024
            ),
        );
    }

    // 2. k-means, and 3. the meta page, the centre pages, then the rows list
    // by list, the table read while k-means runs (`load`)
    let flat: Vec<f32> = sampled.into_iter().flatten().collect();
    let spherical = matches!(kind.measure, Measure::Dense(Metric::InnerProduct | Metric::Cosine));
    // at most 10 iterations, as faiss trains an IVF index's lists: on
    // WordNet-384, GloVe-50, Fashion-MNIST and clustered-1,536 the share of
    // each query's 10 nearest rows in its nearest 1 / 4 / 16 lists moved by
    // at most 0.006 from 20 iterations to 10 (less than between two seeds),
    // while k-means ran 25-50 % shorter on the three sets of 384 dimensions
    // and more (benches/ivf_build.rs; docs/benchmarks.md, twentieth session)
    let params = KMeansParams {
        k: lists,
        spherical,
        max_iterations: 10,
        // k-means++ is O(k · points · dims) and serial in k: seeding from
        // ten points per centre (at least 4,096) gave lists as good as from
        // the whole sample on GloVe-50, WordNet-384 and Fashion-MNIST
        // (benches/ivf_build.rs, three seeds each)
        seed_points: (lists * 10).max(4096),
        seed: 0x6b6d_6561_6e73,
        threads,
    };
    let kmeans = move |flat: &[f32], stop: &AtomicBool| ivf::kmeans(flat, d, params, |_| !stop.load(Ordering::Relaxed));
    let row_bytes = kind.elem.row_bytes(d).unwrap_or(0);
    let idx = Index::new(index);
    let meta_version = format_version(index, kind, dims.dims);
    // SAFETY: reading the heap relation's pg_class row that the relcache holds.
    let expected = unsafe { (*(*heap).rd_rel).reltuples.max(0.0) as i64 };
    progress(PROGRESS_CREATE_IDX_TUPLES_TOTAL, expected);
    let settings = LoadSettings {
        dims,
        centre_dims: d,
        row_bytes,
        sq8: meta_version == IVF_VERSION_SQ8 || meta_version == IVF_VERSION_COPIES,
        copies: meta_version == IVF_VERSION_COPIES,
        threads,
        lists,
        budget: memory.saturating_sub(needed).max(1 << 20),
    };
    let scan = |callback, state: *mut core::ffi::c_void| {
        // SAFETY: ambuild's relations; the callback is load's, its state load's.
        unsafe { callbacks::scan_heap(heap, index, info, callback, &mut *state) }
    };
    let mut load = load::load(settings, BulkWriter::new(idx), flat, kmeans, scan);
    // format 3 always has a copy page, so inserts have one to start from
    let (copy_start, copy_insert) = match load.copy_chain {
        Some(chain) => chain,
        None if meta_version == IVF_VERSION_COPIES => {
            let b = load.writer.empty_page();
            (b, b)
        }
        None => (0, 0),
    };
    let meta = IvfMeta {
        magic: IVF_MAGIC,
        version: meta_version,
        dims: load.dims.dims as u32,
        lists: lists as u32,
        metric: metric_code(kind.measure),
        centre_block: load.list_tuples.first().map_or(1, |t| t.block),
        copy_start,
        copy_insert,
    };
    // every list gets a page, so inserts always have one to start from
    for (l, &list_tuple) in load.list_tuples.iter().enumerate() {
        let (start, tail) = match load.chains[l] {
            Some(c) => c,
            None => {
                let b = load.writer.empty_page();
                (b, b)
            }
        };
        load.writer.update(list_tuple, |bytes| {
            bytes[0..4].copy_from_slice(&start.to_ne_bytes());
            let written = set_list_insert(bytes, tail);
            debug_assert!(written, "list tuples are written by this build");
        });
    }
    let (heap_tuples, indexed) = (load.heap_tuples, load.indexed);
    load.writer.finish(meta);
    idx.register_build::<IvfMeta>(indexed as u64);
    let mut result = unsafe { PgBox::<pg_sys::IndexBuildResult>::alloc0() };
    result.heap_tuples = heap_tuples;
    result.index_tuples = indexed;
    result.into_pg()
}

/// `ambuildempty`: an unlogged index's init fork. Its one list has a zero
/// centre, so rows inserted after a crash reset all land in list 0 … which
/// is the only list there is.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    let kind = index_kind(index, "ivfflat");
    let dims = key_column(index).1.max(0) as usize;
    let centre = vec![0u8; kind.elem.row_bytes(dims).unwrap_or(0)];
    let version = format_version(index, kind, dims);
    // blocks 1 (centre), 2 (the list's page) and, format 3, 3 (copies)
    let copy_block = if version == IVF_VERSION_COPIES { 3 } else { 0 };
    let list = encode_list(2, 2, &centre);
    let pages: &[&[&[u8]]] = if copy_block != 0 { &[&[&list], &[], &[]] } else { &[&[&list], &[]] };
    storage::write_init_fork_pages(
        Index::new(index),
        IvfMeta {
            magic: IVF_MAGIC,
            version,
            dims: dims as u32,
            lists: 1,
            metric: metric_code(kind.measure),
            centre_block: 1,
            copy_start: copy_block,
            copy_insert: copy_block,
        },
        pages,
    );
}

/// Names of the build phases for pg_stat_progress_create_index (pgvector's).
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut core::ffi::c_char {
    let name: &core::ffi::CStr = match phase {
        1 => c"initializing",
        PHASE_KMEANS => c"performing k-means",
        PHASE_ASSIGN => c"assigning tuples",
        PHASE_LOAD => c"loading tuples",
        _ => return core::ptr::null_mut(),
    };
    name.as_ptr() as *mut core::ffi::c_char
}
