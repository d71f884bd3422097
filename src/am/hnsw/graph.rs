//! The graph as stored in index pages, read through `storage::Index`: the
//! `GraphRead` the core's search runs on, plus helpers to read an element's
//! vector and heap TIDs. Safe code; page access is storage.rs's.

use half::f16;
use pgrx::pg_sys;
use pgrx::prelude::*;
use rustc_hash::FxHashSet;
use ruvector_core::bits;
use ruvector_core::hnsw::tuple::{chunk_elems, parse_chunk, parse_tidlist, ElementRef, Meta, Tid};
use ruvector_core::hnsw::{GraphRead, Metric};
use ruvector_core::sparse::{Pair, PairDistance, PairMetric};

use super::storage::Index;

/// The element type an index stores vectors in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    /// `ruvector`: f32.
    F32,
    /// `halfvec`: IEEE binary16, stored raw.
    F16,
    /// `bit(n)`: bytes of bits, most significant first.
    Bit,
    /// `sparsevec`: (index, value) pairs, 8 bytes each.
    Sparse,
}

impl Elem {
    /// Bytes per stored element (a byte of 8 bits for `bit`).
    pub fn bytes(self) -> usize {
        match self {
            Elem::F32 => 4,
            Elem::F16 => 2,
            Elem::Bit => 1,
            Elem::Sparse => 8,
        }
    }

    /// Stored bytes of a vector of `dims` elements (bits for `bit`), or
    /// `None` where it varies by row (`sparsevec`).
    pub fn row_bytes(self, dims: usize) -> Option<usize> {
        match self {
            Elem::Bit => Some(dims.div_ceil(8)),
            Elem::Sparse => None,
            _ => Some(dims * self.bytes()),
        }
    }

    /// A dense vector `v` (f32, already prepared for the metric) in this
    /// element type's bytes (`bit` rows are stored as read, not through here).
    pub fn encode(self, v: &[f32]) -> Vec<u8> {
        match self {
            Elem::F32 => bytemuck::cast_slice(v).to_vec(),
            Elem::F16 => v.iter().flat_map(|&x| f16::from_f32(x).to_bits().to_ne_bytes()).collect(),
            Elem::Bit | Elem::Sparse => unreachable!("bit and sparse rows are stored as read"),
        }
    }

    /// A search query in this element type from stored bytes.
    pub fn query(self, raw: &[u8]) -> Query {
        match self {
            Elem::F32 => Query::F32(chunk_elems::<f32>(raw).into_owned()),
            Elem::F16 => Query::F16(chunk_elems::<f16>(raw).into_owned()),
            Elem::Bit => Query::Bit(raw.to_vec()),
            Elem::Sparse => Query::Sparse(chunk_elems::<Pair>(raw).into_owned()),
        }
    }
}

/// How an index measures distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// The dense metrics of `ruvector` and `halfvec`.
    Dense(Metric),
    /// Hamming distance on `bit`.
    Hamming,
    /// Jaccard distance on `bit`.
    Jaccard,
    /// The metrics of `sparsevec` (cosine: stored normalised, measured by dot).
    Sparse(Metric),
}

/// A query vector in the index's element type, so distances are computed
/// exactly as the SQL operator computes them.
pub enum Query {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bit(Vec<u8>),
    Sparse(Vec<Pair>),
}

/// What an index stores and how it measures, from its column type and opclass.
#[derive(Clone, Copy, Debug)]
pub struct IndexKind {
    pub measure: Measure,
    pub elem: Elem,
}

/// One row's vector as read from a datum: its length, the stored bytes, and
/// (dense types) the f32 values.
pub struct Row {
    /// Elements (bits for `bit`).
    pub dims: usize,
    pub raw: Vec<u8>,
    pub dense: Vec<f32>,
}

impl Row {
    /// The row as the index stores it (unit length under cosine), or `None`
    /// for a vector the index skips (the zero vector under cosine).
    pub fn prepared(mut self, kind: IndexKind) -> Option<Row> {
        match kind.measure {
            Measure::Dense(Metric::Cosine) => {
                if !Metric::Cosine.prepare(&mut self.dense) {
                    return None;
                }
                self.raw = kind.elem.encode(&self.dense);
            }
            Measure::Sparse(Metric::Cosine) => {
                let pairs: &mut [Pair] = bytemuck::cast_slice_mut(&mut self.raw);
                let norm = pairs.iter().map(|p| p.value as f64 * p.value as f64).sum::<f64>().sqrt();
                if norm == 0.0 || !norm.is_finite() {
                    return None;
                }
                pairs.iter_mut().for_each(|p| p.value = (p.value as f64 / norm) as f32);
            }
            _ => {}
        }
        Some(self)
    }

    pub fn query(&self, kind: IndexKind) -> Query {
        kind.elem.query(&self.raw)
    }
}

fn proc_name(index: pg_sys::Relation, procnum: u16) -> Option<String> {
    // SAFETY: reading the index's opclass support procedures from the relcache.
    unsafe {
        let oid = pg_sys::index_getprocid(index, 1, procnum);
        if oid == pg_sys::InvalidOid {
            return None;
        }
        let name = pg_sys::get_func_name(oid);
        (!name.is_null()).then(|| core::ffi::CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

/// The element type and metric of an index: the column type says the former,
/// the opclass's support functions the latter (1: the distance, 2: present for
/// cosine, as in pgvector's opclasses).
pub fn index_kind(index: pg_sys::Relation) -> IndexKind {
    // SAFETY: the index has one key column.
    let typname = unsafe {
        let att = (*(*index).rd_att).attrs.as_slice(1)[0];
        core::ffi::CStr::from_ptr(pg_sys::format_type_be(att.atttypid)).to_string_lossy().into_owned()
    };
    let (elem, prefix) = match typname.split('(').next().unwrap_or("") {
        "ruvector" => (Elem::F32, "vector"),
        "halfvec" => (Elem::F16, "halfvec"),
        "bit" => (Elem::Bit, ""),
        "sparsevec" => (Elem::Sparse, "sparsevec"),
        other => crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("hnsw indexes on type {other} are not supported yet"),
        ),
    };
    let name = proc_name(index, 1).unwrap_or_default();
    let cosine = proc_name(index, 2).is_some();
    let measure = match (elem, name.strip_prefix(prefix).unwrap_or(&name)) {
        (Elem::Bit, "hamming_distance") => Measure::Hamming,
        (Elem::Bit, "jaccard_distance") => Measure::Jaccard,
        (Elem::F32 | Elem::F16, "_l2_squared_distance") => Measure::Dense(Metric::L2),
        (Elem::F32 | Elem::F16, "_negative_inner_product") if cosine => Measure::Dense(Metric::Cosine),
        (Elem::F32 | Elem::F16, "_negative_inner_product") => Measure::Dense(Metric::InnerProduct),
        (Elem::F32 | Elem::F16, _) if name == "l1_distance" => Measure::Dense(Metric::L1),
        (Elem::Sparse, "_l2_squared_distance") => Measure::Sparse(Metric::L2),
        (Elem::Sparse, "_negative_inner_product") if cosine => Measure::Sparse(Metric::Cosine),
        (Elem::Sparse, "_negative_inner_product") => Measure::Sparse(Metric::InnerProduct),
        (Elem::Sparse, _) if name == "l1_distance" => Measure::Sparse(Metric::L1),
        _ => crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("unsupported distance function for hnsw: {name}"),
        ),
    };
    IndexKind { measure, elem }
}

pub fn metric_code(m: Measure) -> u32 {
    match m {
        Measure::Dense(Metric::L2) => 1,
        Measure::Dense(Metric::InnerProduct) => 2,
        Measure::Dense(Metric::Cosine) => 3,
        Measure::Dense(Metric::L1) => 4,
        Measure::Hamming => 5,
        Measure::Jaccard => 6,
        Measure::Sparse(Metric::L2) => 7,
        Measure::Sparse(Metric::InnerProduct) => 8,
        Measure::Sparse(Metric::Cosine) => 9,
        Measure::Sparse(Metric::L1) => 10,
    }
}

/// The pair distance a sparse metric is computed with.
pub fn pair_metric(m: Metric) -> PairMetric {
    match m {
        Metric::L2 => PairMetric::L2Squared,
        Metric::InnerProduct | Metric::Cosine => PairMetric::NegativeDot,
        Metric::L1 => PairMetric::L1,
    }
}

/// An element's heap TIDs (inline and overflow) and whether it is deleted.
pub struct ElementTids {
    pub deleted: bool,
    pub tids: Vec<Tid>,
}

/// The graph stored in an index.
pub struct DiskGraph {
    pub index: Index,
    pub kind: IndexKind,
    pub dims: usize,
}

impl DiskGraph {
    pub fn open(index: Index, meta: &Meta, kind: IndexKind) -> Self {
        DiskGraph { index, kind, dims: meta.dims as usize }
    }

    /// The stored bytes of element `tid`'s vector (concatenating its chunks).
    pub fn raw(&self, tid: Tid) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(self.kind.elem.row_bytes(self.dims).unwrap_or(64));
        let mut next = self.index.read(tid, |b| {
            let e = ElementRef::parse(b)?;
            out.extend_from_slice(e.chunk_bytes());
            Some(e.next_chunk())
        })??;
        while next.is_valid() {
            next = self.index.read(next, |b| {
                let (bytes, n) = parse_chunk(b)?;
                out.extend_from_slice(bytes);
                Some(n)
            })??;
        }
        let whole = match self.kind.elem.row_bytes(self.dims) {
            Some(n) => out.len() == n,
            None => out.len() % self.kind.elem.bytes() == 0,
        };
        whole.then_some(out)
    }

    pub fn tids(&self, tid: Tid) -> Option<ElementTids> {
        let (deleted, mut tids, mut next) = self.index.read(tid, |b| {
            let e = ElementRef::parse(b)?;
            Some((e.is_deleted(), e.heap_tids().collect::<Vec<_>>(), e.overflow()))
        })??;
        while next.is_valid() {
            let (more, n) = self.index.read(next, parse_tidlist)??;
            tids.extend(more);
            next = n;
        }
        Some(ElementTids { deleted, tids })
    }
}

impl GraphRead for DiskGraph {
    type Id = Tid;
    type Visited = FxHashSet<Tid>;
    type Query = Query;

    fn neighbors(&self, id: Tid, level: usize, out: &mut Vec<Tid>) {
        self.index.read(id, |b| {
            if let Some(e) = ElementRef::parse(b) {
                out.extend(e.neighbors(level).filter(|t| t.is_valid()));
            }
        });
    }

    /// Distance summed chunk by chunk, each computed under its page's lock
    /// (L2², negative dot, L1 and the bit counts all add up over disjoint
    /// ranges), in the index's element type.
    fn distance(&self, query: &Query, id: Tid) -> f32 {
        let measure = self.kind.measure;
        let mut pos = 0;
        let mut acc = 0.0f32;
        let (mut and, mut or) = (0u64, 0u64);
        let mut sparse = PairDistance::default();
        let mut add = |bytes: &[u8]| match (query, measure) {
            (Query::Sparse(q), Measure::Sparse(_)) => sparse.feed(q, &chunk_elems::<Pair>(bytes)),
            (Query::F32(q), Measure::Dense(metric)) => {
                let c = chunk_elems::<f32>(bytes);
                let end = (pos + c.len()).min(q.len());
                acc += metric.distance(&q[pos..end], &c);
                pos = end;
            }
            (Query::F16(q), Measure::Dense(metric)) => {
                let c = chunk_elems::<f16>(bytes);
                let end = (pos + c.len()).min(q.len());
                acc += metric.distance(&q[pos..end], &c);
                pos = end;
            }
            (Query::Bit(q), _) => {
                let end = (pos + bytes.len()).min(q.len());
                let (x, a, o) = (bits::BitKernels::active().counts)(&q[pos..end], bytes);
                acc += x as f32;
                and += a;
                or += o;
                pos = end;
            }
            _ => acc = f32::INFINITY,
        };
        let first = self.index.read(id, |b| {
            let e = ElementRef::parse(b)?;
            add(e.chunk_bytes());
            Some(e.next_chunk())
        });
        let Some(Some(mut next)) = first else {
            return f32::INFINITY;
        };
        while next.is_valid() {
            match self.index.read(next, |b| {
                let (bytes, n) = parse_chunk(b)?;
                add(bytes);
                Some(n)
            }) {
                Some(Some(n)) => next = n,
                _ => return f32::INFINITY,
            }
        }
        match (measure, query) {
            (Measure::Jaccard, _) => {
                if or == 0 {
                    0.0
                } else {
                    1.0 - and as f32 / or as f32
                }
            }
            (Measure::Sparse(metric), Query::Sparse(q)) => sparse.finish(q, pair_metric(metric)),
            _ => acc,
        }
    }

    fn visited(&self) -> FxHashSet<Tid> {
        FxHashSet::default()
    }
}
