//! The graph as stored in index pages, read through `storage::Index`: the
//! `GraphRead` the core's search runs on, plus helpers to read an element's
//! vector and heap TIDs. Safe code; page access is storage.rs's.

use half::f16;
use pgrx::pg_sys;
use pgrx::prelude::*;
use rustc_hash::FxHashSet;
use ruvector_core::hnsw::tuple::{chunk_elems, parse_chunk, parse_tidlist, ElementRef, Meta, Tid};
use ruvector_core::hnsw::{GraphRead, Metric};

use super::storage::Index;

/// The element type an index stores vectors in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    /// `ruvector`: f32.
    F32,
    /// `halfvec`: IEEE binary16, stored raw.
    F16,
}

impl Elem {
    pub fn bytes(self) -> usize {
        match self {
            Elem::F32 => 4,
            Elem::F16 => 2,
        }
    }

    /// `v` (f32, already prepared for the metric) in this element type's bytes.
    pub fn encode(self, v: &[f32]) -> Vec<u8> {
        match self {
            Elem::F32 => bytemuck::cast_slice(v).to_vec(),
            Elem::F16 => v.iter().flat_map(|&x| f16::from_f32(x).to_bits().to_ne_bytes()).collect(),
        }
    }

    /// A search query in this element type.
    pub fn query(self, v: &[f32]) -> Query {
        match self {
            Elem::F32 => Query::F32(v.to_vec()),
            Elem::F16 => Query::F16(v.iter().map(|&x| f16::from_f32(x)).collect()),
        }
    }
}

/// A query vector in the index's element type, so distances are computed
/// exactly as the SQL operator computes them.
pub enum Query {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

impl Query {
    pub fn len(&self) -> usize {
        match self {
            Query::F32(v) => v.len(),
            Query::F16(v) => v.len(),
        }
    }
}

/// What an index stores and how it measures, from its column type and opclass.
#[derive(Clone, Copy, Debug)]
pub struct IndexKind {
    pub metric: Metric,
    pub elem: Elem,
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
        other => crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("hnsw indexes on type {other} are not supported yet"),
        ),
    };
    let name = proc_name(index, 1).unwrap_or_default();
    let cosine = proc_name(index, 2).is_some();
    let metric = match name.strip_prefix(prefix).unwrap_or(&name) {
        "_l2_squared_distance" => Metric::L2,
        "_negative_inner_product" if cosine => Metric::Cosine,
        "_negative_inner_product" => Metric::InnerProduct,
        _ if name == "l1_distance" => Metric::L1,
        _ => crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("unsupported distance function for hnsw: {name}"),
        ),
    };
    IndexKind { metric, elem }
}

pub fn metric_code(m: Metric) -> u32 {
    match m {
        Metric::L2 => 1,
        Metric::InnerProduct => 2,
        Metric::Cosine => 3,
        Metric::L1 => 4,
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
    pub metric: Metric,
    pub elem: Elem,
    pub dims: usize,
}

/// Append the elements in `bytes` (of type `elem`) to `out` as f32.
fn widen(elem: Elem, bytes: &[u8], out: &mut Vec<f32>) {
    match elem {
        Elem::F32 => out.extend_from_slice(&chunk_elems::<f32>(bytes)),
        Elem::F16 => out.extend(chunk_elems::<f16>(bytes).iter().map(|x| x.to_f32())),
    }
}

impl DiskGraph {
    pub fn open(index: Index, meta: &Meta, kind: IndexKind) -> Self {
        DiskGraph { index, metric: kind.metric, elem: kind.elem, dims: meta.dims as usize }
    }

    /// The stored vector of element `tid` as f32 (concatenating its chunks).
    pub fn vector(&self, tid: Tid) -> Option<Vec<f32>> {
        let mut out = Vec::with_capacity(self.dims);
        let elem = self.elem;
        let mut next = self.index.read(tid, |b| {
            let e = ElementRef::parse(b)?;
            widen(elem, e.chunk_bytes(), &mut out);
            Some(e.next_chunk())
        })??;
        while next.is_valid() {
            next = self.index.read(next, |b| {
                let (bytes, n) = parse_chunk(b)?;
                widen(elem, bytes, &mut out);
                Some(n)
            })??;
        }
        (out.len() == self.dims).then_some(out)
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
    /// (L2², negative dot and L1 all add up over disjoint ranges), in the
    /// index's element type.
    fn distance(&self, query: &Query, id: Tid) -> f32 {
        let metric = self.metric;
        let mut pos = 0;
        let mut acc = 0.0f32;
        let mut add = |bytes: &[u8]| match query {
            Query::F32(q) => {
                let c = chunk_elems::<f32>(bytes);
                let end = (pos + c.len()).min(q.len());
                acc += metric.distance(&q[pos..end], &c);
                pos = end;
            }
            Query::F16(q) => {
                let c = chunk_elems::<f16>(bytes);
                let end = (pos + c.len()).min(q.len());
                acc += metric.distance(&q[pos..end], &c);
                pos = end;
            }
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
        acc
    }

    fn visited(&self) -> FxHashSet<Tid> {
        FxHashSet::default()
    }
}
