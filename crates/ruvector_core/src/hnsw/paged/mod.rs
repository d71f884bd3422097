//! The HNSW graph as stored in index pages, over any [`PageStore`]: reading
//! it ([`PagedGraph`], the core's [`GraphRead`] on pages), adding a row
//! ([`insert`]), searching it ([`scan`]) and VACUUM's removal of deleted
//! elements ([`vacuum`]). The extension runs these on PostgreSQL's buffer
//! manager (src/am/storage); tests run them on
//! [`crate::index::MemStore`] under the deterministic scheduler
//! (`tests` below and [`crate::index::sim`]).
//!
//! Invariants the algorithms keep (checked after every step of the seeded
//! tests in `tests.rs`, and by `ruvector_index_check()` on real indexes): every list holds
//! distinct elements other than its owner, at most 2m at level 0 and m
//! above; no list names a freed tuple once VACUUM has finished; every live
//! element is reachable from the entry point through level-0 links after a
//! VACUUM (between VACUUMs an insert's pruning may strand one, which the
//! next VACUUM relinks: docs/hnsw.md).

use std::cell::RefCell;

use rustc_hash::FxHashSet;

use super::tuple::{parse_chunk, parse_tidlist, ElementRef, Meta, Tid};
use super::GraphRead;
use crate::index::kind::{Accumulator, IndexKind};
use crate::index::store::{MetaPage, PageStore};
use crate::index::{ChainWalk, FilterKey, Query};

pub mod build;
pub mod insert;
pub mod scan;
pub mod snapshot;
#[cfg(test)]
mod tests;
pub mod vacuum;

/// An element's heap TIDs (inline and overflow), whether it is deleted, and
/// its filter key.
pub struct ElementTids {
    pub deleted: bool,
    pub tids: Vec<Tid>,
    pub key: FilterKey,
}

/// Element `tid`'s heap TIDs (inline and overflow lists) and deleted flag.
pub fn element_tids<S: PageStore>(store: &S, tid: Tid) -> Option<ElementTids> {
    let (deleted, key, mut tids, mut next) = store.read(tid, |b| {
        let e = ElementRef::parse(b)?;
        Some((e.is_deleted(), e.filter_key(), e.heap_tids().collect::<Vec<_>>(), e.overflow()))
    })??;
    let mut walk = ChainWalk::tuples(store, "TID list");
    while next.is_valid() {
        walk.step();
        let (more, n) = store.read(next, parse_tidlist)??;
        tids.extend(more);
        next = n;
    }
    Some(ElementTids { deleted, tids, key })
}

/// The graph stored in a page store.
pub struct PagedGraph<S> {
    pub store: S,
    pub kind: IndexKind,
    pub dims: usize,
    /// Deleted elements met while computing distances: searches pass through
    /// them, but inserts must not link to them (VACUUM is removing them).
    deleted_seen: RefCell<FxHashSet<Tid>>,
}

impl<S: PageStore> PagedGraph<S> {
    pub fn open(store: S, meta: &Meta, kind: IndexKind) -> Self {
        PagedGraph { store, kind, dims: meta.dims as usize, deleted_seen: Default::default() }
    }

    /// Whether `tid` was seen to be a deleted element by a distance.
    pub fn seen_deleted(&self, tid: Tid) -> bool {
        self.deleted_seen.borrow().contains(&tid)
    }

    /// The stored bytes of element `tid`'s vector (concatenating its chunks),
    /// `None` if it is not a whole element's.
    pub fn raw(&self, tid: Tid) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(self.kind.elem.row_bytes(self.dims).unwrap_or(64));
        let mut next = self.store.read(tid, |b| {
            let e = ElementRef::parse(b)?;
            out.extend_from_slice(e.chunk_bytes());
            Some(e.next_chunk())
        })??;
        let mut walk = ChainWalk::tuples(&self.store, "vector chunk");
        while next.is_valid() {
            walk.step();
            next = self.store.read(next, |b| {
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

    /// Element `tid`'s heap TIDs (inline and overflow lists) and deleted flag.
    pub fn tids(&self, tid: Tid) -> Option<ElementTids> {
        element_tids(&self.store, tid)
    }

    /// The distance from the pages, summed chunk by chunk, each computed
    /// under its page's lock, in the index's element type, exactly. With
    /// `whole`, the vector's bytes are collected there too; the number of
    /// pieces it was stored in comes back with the distance.
    pub fn read_distance(&self, query: &Query, id: Tid, mut whole: Option<&mut Vec<u8>>) -> (f32, usize) {
        let mut sum = Accumulator::new(query, self.kind.measure);
        let mut chunks = 0;
        let mut take = |bytes: &[u8]| {
            chunks += 1;
            if let Some(w) = whole.as_deref_mut() {
                w.extend_from_slice(bytes);
            }
            sum.add(bytes);
        };
        let first = self.store.read(id, |b| {
            let e = ElementRef::parse(b)?;
            if e.is_deleted() {
                self.deleted_seen.borrow_mut().insert(id);
            }
            take(e.chunk_bytes());
            Some(e.next_chunk())
        });
        let Some(Some(mut next)) = first else {
            return (f32::INFINITY, 0);
        };
        let mut walk = ChainWalk::tuples(&self.store, "vector chunk");
        while next.is_valid() {
            walk.step();
            match self.store.read(next, |b| {
                let (bytes, n) = parse_chunk(b)?;
                take(bytes);
                Some(n)
            }) {
                Some(Some(n)) => next = n,
                _ => return (f32::INFINITY, 0),
            }
        }
        (sum.finish(), chunks)
    }

    /// The neighbours of `id` at `level` from its page, appended to `out`.
    pub fn read_neighbors(&self, id: Tid, level: usize, out: &mut Vec<Tid>) {
        self.store.read(id, |b| {
            if let Some(e) = ElementRef::parse(b) {
                out.extend(e.neighbors(level).filter(|t| t.is_valid()));
            }
        });
    }

    /// [`Self::read_neighbors`] at level 0, returning how many of the links
    /// it appended come first as the selection heuristic's choice (the rest
    /// are the list's fill).
    pub fn read_level0_split(&self, id: Tid, out: &mut Vec<Tid>) -> usize {
        self.store
            .read(id, |b| {
                let e = ElementRef::parse(b)?;
                // one pass over the list (this is every uncached list read)
                let diverse = e.neighbor_count(0) - e.level0_fill();
                let mut chosen = 0;
                for (i, t) in e.neighbors(0).enumerate().filter(|(_, t)| t.is_valid()) {
                    chosen += usize::from(i < diverse);
                    out.push(t);
                }
                Some(chosen)
            })
            .flatten()
            .unwrap_or(0)
    }

    /// The links a search for a new element's neighbours follows
    /// (`GraphRead::construction_neighbors`): at level 0 the heuristic's
    /// choice, the links before the list's fill, or every link when none of
    /// those is left (a list of fill alone would otherwise be a dead end);
    /// above level 0 every link.
    pub fn read_construction_neighbors(&self, id: Tid, level: usize, out: &mut Vec<Tid>) {
        if level > 0 {
            // (`neighbors` is empty above the element's own level, where its
            // count field would be another field's bytes)
            return self.read_neighbors(id, level, out);
        }
        let start = out.len();
        let diverse = self.read_level0_split(id, out);
        out.truncate(start + construction_links(out.len() - start, diverse));
    }
}

/// How many of a level-0 list's `count` links, of which the first `diverse`
/// are the heuristic's, a construction search follows: those, or all when
/// there are none.
pub fn construction_links(count: usize, diverse: usize) -> usize {
    if diverse == 0 {
        count
    } else {
        diverse.min(count)
    }
}

impl<S: PageStore + MetaPage<Meta>> PagedGraph<S> {
    /// The meta page.
    pub fn meta(&self) -> Meta {
        self.store.meta()
    }
}

impl<S: PageStore> GraphRead for PagedGraph<S> {
    type Id = Tid;
    type Visited = FxHashSet<Tid>;
    type Query = Query;

    fn neighbors(&self, id: Tid, level: usize, out: &mut Vec<Tid>) {
        self.read_neighbors(id, level, out)
    }

    fn construction_neighbors(&self, id: Tid, level: usize, out: &mut Vec<Tid>) {
        self.read_construction_neighbors(id, level, out)
    }

    fn distance(&self, query: &Query, id: Tid) -> f32 {
        self.read_distance(query, id, None).0
    }

    fn visited(&self) -> FxHashSet<Tid> {
        FxHashSet::default()
    }
}
