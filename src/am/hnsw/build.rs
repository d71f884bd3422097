//! `ambuild` / `ambuildempty`.
//!
//! The backend thread reads the heap (table_index_build_scan), copying each
//! vector into one flat array and merging identical vectors (with equal
//! filter keys, for an index with a filter column) into one graph node with
//! several heap TIDs. Worker threads (max_parallel_maintenance_workers
//! of them, plus the backend) then build the graph in memory with
//! ruvector_core; they never call PostgreSQL. The backend reports progress and
//! checks for cancellation between batches, then plans where every tuple goes,
//! writes the pages in order without WAL and logs them once at the end.
//!
//! If the vectors and graph outgrow maintenance_work_mem, the graph built so
//! far is written out (with a NOTICE) and the remaining rows are inserted one
//! by one through the insert path.

use std::collections::HashMap;

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::hnsw::tuple::{Meta, Tid, META_MAGIC, META_VERSION};
use ruvector_core::hnsw::{BitSpace, BuildParams, DenseSpace, HalfSpace, InMemoryGraph, Space, SparseSpace};

use super::{insert, options};
use crate::am::callbacks::{
    self, progress, RowMemory, PROGRESS_CREATE_IDX_SUBPHASE, PROGRESS_CREATE_IDX_TUPLES_DONE,
    PROGRESS_CREATE_IDX_TUPLES_TOTAL,
};
use crate::am::kind::{
    check_row_dims, index_columns, index_kind, key_column, metric_code, row_columns, Elem, IndexColumns, IndexKind,
    Measure, Row,
};
use crate::am::storage::{self, tid_of, BulkWriter, Index, GEOMETRY};
use ruvector_core::hnsw::paged::build::emit_tuples;
use ruvector_core::index::FilterKey;

// Our build phases for pg_stat_progress_create_index.
pub const PHASE_LOAD: i64 = 2;
pub const PHASE_GRAPH: i64 = 3;
pub const PHASE_WRITE: i64 = 4;

/// A number that differs between builds (time and process), for `Meta::nonce`.
fn build_nonce() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    (nanos as u32) ^ std::process::id().rotate_left(16)
}

/// Rows collected from the heap: unique vectors and their heap TIDs.
struct Collected {
    /// Vector length in elements (bits for `bit`).
    dims: usize,
    kind: IndexKind,
    /// Dense vectors (f32, prepared for the metric), one row after another;
    /// or, for `bit` and `sparsevec`, stored bytes with row `i` at
    /// `bytes[offsets[i]..offsets[i + 1]]`.
    vectors: Vec<f32>,
    bytes: Vec<u8>,
    offsets: Vec<usize>,
    tids: Vec<Vec<Tid>>,
    /// Each node's filter key (empty without a filter column).
    keys: Vec<FilterKey>,
    /// Where the vector and filter columns are.
    columns: IndexColumns,
    by_bits: HashMap<u64, Vec<u32>>,
    heap_tuples: f64,
    /// Rows that went into the index (not NULL, not a zero vector under cosine).
    indexed: f64,
    memory_limit: usize,
    m: usize,
    /// Set once the in-memory graph has been written and rows go to disk one by one.
    on_disk: Option<OnDisk>,
    memory: RowMemory,
}

struct OnDisk {
    index: Index,
}

fn hash_bytes(v: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    v.hash(&mut h);
    h.finish()
}

impl Collected {
    fn dense(&self) -> bool {
        matches!(self.kind.elem, Elem::F32 | Elem::F16)
    }

    /// About what `nodes` nodes cost beside their vectors: links, TID list
    /// and bookkeeping.
    fn node_bytes(&self, nodes: usize) -> usize {
        nodes * ((2 * self.m + 2) * 4 + 96)
    }

    /// Whether binary16 copies of `elements` collected f32 values (2 bytes
    /// each) fit the memory budget beside everything `fits_one_more` counts.
    fn fits_halves(&self, elements: usize) -> bool {
        elements * 6 + self.node_bytes(self.tids.len()) <= self.memory_limit
    }

    fn fits_one_more(&self, row: &Row) -> bool {
        // vectors (f32 in memory for the dense types) + the nodes
        let vectors = if self.dense() { (self.vectors.len() + row.dims) * 4 } else { self.bytes.len() + row.raw.len() };
        vectors + self.node_bytes(self.tids.len() + 1) <= self.memory_limit
    }

    /// Add one row (`raw`: its stored bytes; `v`: the f32 form for the dense
    /// types; `key`: its filter key). Identical vectors with equal keys share
    /// a node.
    fn add(&mut self, raw: &[u8], v: &[f32], tid: Tid, key: FilterKey) {
        let h = hash_bytes(raw);
        if let Some(nodes) = self.by_bits.get(&h) {
            for &n in nodes {
                if self.keys.get(n as usize).is_none_or(|&k| k == key) && self.row(n) == raw {
                    self.tids[n as usize].push(tid);
                    return;
                }
            }
        }
        let n = self.tids.len() as u32;
        if self.dense() {
            self.vectors.extend_from_slice(v);
        } else {
            if self.offsets.is_empty() {
                self.offsets.push(0);
            }
            self.bytes.extend_from_slice(raw);
            self.offsets.push(self.bytes.len());
        }
        self.tids.push(vec![tid]);
        if self.columns.filter.is_some() {
            self.keys.push(key);
        }
        self.by_bits.entry(h).or_default().push(n);
    }

    /// Stored bytes of row `n`.
    fn row(&self, n: u32) -> std::borrow::Cow<'_, [u8]> {
        if self.dense() {
            let d = self.dims;
            std::borrow::Cow::Owned(self.kind.elem.encode(&self.vectors[n as usize * d..(n as usize + 1) * d]))
        } else {
            std::borrow::Cow::Borrowed(&self.bytes[self.offsets[n as usize]..self.offsets[n as usize + 1]])
        }
    }
}

/// A heap-scan callback: guarded, so an ERROR or panic in it becomes an ERROR
/// raised from `ambuild`'s frame instead of unwinding through the C scan.
#[pg_guard]
unsafe extern "C-unwind" fn build_callback(
    index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut core::ffi::c_void,
) {
    // SAFETY: PostgreSQL passes the state pointer we gave it and the index's
    // key columns.
    let (state, tid) = unsafe { (&mut *(state as *mut Collected), tid_of(&*tid)) };
    // SAFETY: as above.
    let (Some(value), key) = (unsafe { row_columns(state.columns, values, isnull) }) else { return };
    let kind = state.kind;
    // SAFETY: the indexed column's datum, of the type index_kind() found.
    let Some(row) = state.memory.read(|| unsafe { super::read_row(kind, value) }) else { return };
    if state.dims == 0 {
        state.dims = row.dims;
    } else {
        check_row_dims(state.dims, row.dims);
    }
    let Some(row) = row.prepared(state.kind) else {
        return; // zero vector under cosine: not indexed
    };
    if let Some(d) = &state.on_disk {
        state.indexed += 1.0;
        insert::insert_row(d.index, &row, tid, key);
        return;
    }
    if !state.fits_one_more(&row) {
        // SAFETY: `index` is the index being built.
        let index = Index::new(index);
        pgrx::notice!("hnsw graph no longer fits into maintenance_work_mem after {} tuples", state.tids.len());
        write_graph(index, state);
        state.on_disk = Some(OnDisk { index });
        state.indexed += 1.0;
        insert::insert_row(index, &row, tid, key);
        return;
    }
    state.indexed += 1.0;
    state.add(&row.raw, &row.dense, tid, key);
}

/// The fewest dimensions at which a build measures binary16 copies of the
/// vectors (`HalfSpace`) rather than the f32 vectors. A short vector is a
/// few cache lines either way, and widening binary16 costs more than the
/// loads it saves: in the server (forty-first session, two rounds each)
/// GloVe-50's build took 36.6–38.3 s on binary16 copies against 24.3–24.6 s
/// on f32, while WordNet-384's first 128 dimensions took 5.8–6.5 s against
/// 7.0, its first 256 7.7–7.9 against 8.9, and the whole 384 0.85–0.87× the
/// time (fortieth session).
const HALF_SPACE_MIN_DIMS: usize = 128;

/// Build the graph of everything collected and write it as the index's pages.
fn write_graph(index: Index, c: &mut Collected) {
    let n = c.tids.len();
    progress(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_GRAPH);
    progress(PROGRESS_CREATE_IDX_TUPLES_TOTAL, n as i64);
    let (m, efc) = options::of_index(index.relation());
    let threads = callbacks::maintenance_threads();
    // fixed seed: the same rows give the same graph
    let params = BuildParams { m, ef_construction: efc, seed: 0x5275_7665_6374 };
    match c.kind.measure {
        Measure::Dense(metric) => {
            let (dims, elem) = (c.dims.max(1), c.kind.elem);
            let vectors = std::mem::take(&mut c.vectors);
            // measured on binary16 copies where they fit the memory budget
            // beside the f32 vectors and can stand for them (`HalfSpace`),
            // from HALF_SPACE_MIN_DIMS on
            let half = if dims >= HALF_SPACE_MIN_DIMS && c.fits_halves(vectors.len()) {
                HalfSpace::new(dims, vectors, metric)
            } else {
                Err(vectors)
            };
            match half {
                Ok(space) => {
                    let graph = (n > 0).then(|| build(space, params, threads));
                    write_pages(index, c, graph.as_ref(), m, efc, &|g, i| elem.encode(g.space().full(i)));
                }
                Err(vectors) => {
                    let vectors = ruvector_core::layout::into_huge_pages(vectors);
                    let space = DenseSpace { dims, vectors, metric };
                    let graph = (n > 0).then(|| build(space, params, threads));
                    write_pages(index, c, graph.as_ref(), m, efc, &|g, i| elem.encode(g.vector(i)));
                }
            }
        }
        Measure::Hamming | Measure::Jaccard => {
            let space = BitSpace {
                bytes: c.dims.div_ceil(8).max(1),
                data: std::mem::take(&mut c.bytes),
                jaccard: c.kind.measure == Measure::Jaccard,
            };
            let graph = (n > 0).then(|| build(space, params, threads));
            write_pages(index, c, graph.as_ref(), m, efc, &|g, i| g.vector(i).to_vec());
        }
        Measure::Sparse(metric) => {
            let space = SparseSpace::new(
                std::mem::take(&mut c.offsets).into_iter().map(|o| o / 8).collect(),
                ruvector_core::hnsw::tuple::chunk_elems::<ruvector_core::sparse::Pair>(&std::mem::take(&mut c.bytes))
                    .into_owned(),
                crate::am::kind::pair_metric(metric),
            );
            let graph = (n > 0).then(|| build(space, params, threads));
            write_pages(index, c, graph.as_ref(), m, efc, &|g, i| bytemuck::cast_slice(g.vector(i)).to_vec());
        }
    }
}

fn build<S: Space>(space: S, params: BuildParams, threads: usize) -> InMemoryGraph<S> {
    InMemoryGraph::build(space, params, threads, |done| {
        progress(PROGRESS_CREATE_IDX_TUPLES_DONE, done as i64);
        pgrx::check_for_interrupts!();
        true
    })
    .unwrap_or_else(|_| error!("hnsw build cancelled"))
}

/// Plan where every tuple goes (so neighbour TIDs are known when encoding),
/// then write the pages in order and the meta page; `raw(graph, i)` is node
/// i's vector in stored form.
fn write_pages<S: Space>(
    index: Index,
    c: &Collected,
    graph: Option<&InMemoryGraph<S>>,
    m: usize,
    efc: usize,
    raw: &dyn Fn(&InMemoryGraph<S>, u32) -> Vec<u8>,
) {
    progress(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_WRITE);
    let mut meta = Meta {
        magic: META_MAGIC,
        version: META_VERSION,
        dims: c.dims as u32,
        m: m as u32,
        ef_construction: efc as u32,
        metric: metric_code(c.kind.measure),
        entry_block: 0,
        entry_offset: 0,
        entry_level: -1,
        generation: 0,
        nonce: build_nonce(),
    };
    let mut writer = BulkWriter::new(index);
    let mut elements = 0;
    if let Some(graph) = graph {
        elements = graph.len() as u64;
        let eb = c.kind.elem.bytes();
        let entry = emit_tuples(
            graph,
            &c.tids,
            &c.keys,
            m,
            eb,
            GEOMETRY,
            raw,
            |bytes, tid| writer.add(bytes, tid),
            || {
                pgrx::check_for_interrupts!();
            },
        );
        if let Some((t, level)) = entry {
            meta.entry_block = t.block;
            meta.entry_offset = t.offset as u32;
            meta.entry_level = level as i32;
        }
    }
    writer.finish(meta);
    index.register_build::<Meta>(elements);
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    let kind = index_kind(index, "hnsw");
    let (m, _) = options::of_index(index);
    let typmod = key_column(index).1;
    // SAFETY: reading this backend's maintenance_work_mem.
    let mem_kb = unsafe { pg_sys::maintenance_work_mem };
    let mut state = Collected {
        dims: if typmod > 0 { typmod as usize } else { 0 },
        kind,
        vectors: Vec::new(),
        bytes: Vec::new(),
        offsets: Vec::new(),
        tids: Vec::new(),
        keys: Vec::new(),
        columns: index_columns(index),
        by_bits: HashMap::new(),
        heap_tuples: 0.0,
        indexed: 0.0,
        memory_limit: mem_kb as usize * 1024,
        m,
        on_disk: None,
        memory: RowMemory::new(),
    };
    progress(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_LOAD);
    // SAFETY: a standard index build scan with our callback and state.
    unsafe {
        state.heap_tuples = callbacks::scan_heap(heap, index, info, Some(build_callback), &mut state);
    }
    if state.on_disk.is_none() {
        write_graph(Index::new(index), &mut state);
    }
    let mut result = unsafe { PgBox::<pg_sys::IndexBuildResult>::alloc0() };
    result.heap_tuples = state.heap_tuples;
    result.index_tuples = state.indexed;
    result.into_pg()
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    let kind = index_kind(index, "hnsw");
    let (m, efc) = options::of_index(index);
    let typmod = key_column(index).1;
    storage::write_init_fork(
        Index::new(index),
        Meta {
            magic: META_MAGIC,
            version: META_VERSION,
            dims: typmod.max(0) as u32,
            m: m as u32,
            ef_construction: efc as u32,
            metric: metric_code(kind.measure),
            entry_block: 0,
            entry_offset: 0,
            entry_level: -1,
            generation: 0,
            nonce: build_nonce(),
        },
    );
}

/// Names of our build subphases for pg_stat_progress_create_index.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut core::ffi::c_char {
    let name: &core::ffi::CStr = match phase {
        1 => c"initializing",
        PHASE_LOAD => c"loading tuples",
        PHASE_GRAPH => c"building graph",
        PHASE_WRITE => c"writing pages",
        _ => return core::ptr::null_mut(),
    };
    name.as_ptr() as *mut core::ffi::c_char
}
