//! The graph as stored in index pages, read through `storage::Index`: the
//! `GraphRead` the core's search runs on, plus helpers to read an element's
//! vector and heap TIDs. Safe code; page access is storage.rs's.

use pgrx::pg_sys;
use pgrx::prelude::*;
use rustc_hash::FxHashSet;
use ruvector_core::hnsw::tuple::{parse_chunk, parse_tidlist, ElementRef, Meta, Tid};
use ruvector_core::hnsw::{GraphRead, Metric};

use super::storage::Index;

/// What an index stores and how it measures, from its opclass.
#[derive(Clone, Copy, Debug)]
pub struct IndexKind {
    pub metric: Metric,
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

/// The metric of an index, from its opclass's support functions (1: the
/// distance, 2: present for cosine, as in pgvector's opclasses).
pub fn index_kind(index: pg_sys::Relation) -> IndexKind {
    // SAFETY: the index has one key column.
    let typname = unsafe {
        let att = (*(*index).rd_att).attrs.as_slice(1)[0];
        core::ffi::CStr::from_ptr(pg_sys::format_type_be(att.atttypid)).to_string_lossy().into_owned()
    };
    if typname != "ruvector" {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("hnsw indexes on type {typname} are not supported yet"),
        );
    }
    let metric = match (proc_name(index, 1).as_deref(), proc_name(index, 2).is_some()) {
        (Some("vector_l2_squared_distance"), _) => Metric::L2,
        (Some("vector_negative_inner_product"), true) => Metric::Cosine,
        (Some("vector_negative_inner_product"), false) => Metric::InnerProduct,
        (Some("l1_distance"), _) => Metric::L1,
        (other, _) => crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("unsupported distance function for hnsw: {}", other.unwrap_or("none")),
        ),
    };
    IndexKind { metric }
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
    pub dims: usize,
}

impl DiskGraph {
    pub fn open(index: Index, meta: &Meta, metric: Metric) -> Self {
        DiskGraph { index, metric, dims: meta.dims as usize }
    }

    /// The stored vector of element `tid` (concatenating its chunks).
    pub fn vector(&self, tid: Tid) -> Option<Vec<f32>> {
        let mut out = Vec::with_capacity(self.dims);
        let mut next = self.index.read(tid, |b| {
            let e = ElementRef::parse(b)?;
            out.extend_from_slice(&e.chunk());
            Some(e.next_chunk())
        })??;
        while next.is_valid() {
            next = self.index.read(next, |b| {
                let (floats, n) = parse_chunk(b)?;
                out.extend_from_slice(&floats);
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

    fn neighbors(&self, id: Tid, level: usize, out: &mut Vec<Tid>) {
        self.index.read(id, |b| {
            if let Some(e) = ElementRef::parse(b) {
                out.extend(e.neighbors(level).filter(|t| t.is_valid()));
            }
        });
    }

    /// Distance summed chunk by chunk, each computed under its page's lock
    /// (L2², negative dot and L1 all add up over disjoint ranges).
    fn distance(&self, query: &[f32], id: Tid) -> f32 {
        let metric = self.metric;
        let mut pos = 0;
        let mut acc = 0.0f32;
        let mut add = |floats: &[f32]| {
            let end = (pos + floats.len()).min(query.len());
            acc += metric.distance(&query[pos..end], floats);
            pos = end;
        };
        let first = self.index.read(id, |b| {
            let e = ElementRef::parse(b)?;
            add(&e.chunk());
            Some(e.next_chunk())
        });
        let Some(Some(mut next)) = first else {
            return f32::INFINITY;
        };
        while next.is_valid() {
            match self.index.read(next, |b| {
                let (floats, n) = parse_chunk(b)?;
                add(&floats);
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
