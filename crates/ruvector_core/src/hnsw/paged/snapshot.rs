//! VACUUM's in-memory repair: read every element of the index once into a
//! `crate::hnsw::vacuum::StoredGraph`, repair the lists that name
//! deleted elements on worker threads (`repair_deleted_links`), and write
//! each new list back only if the stored one is still the one read (else it
//! is repaired again from the pages, as the on-disk path does).
//!
//! The snapshot holds each live element's vector (f32 for `ruvector` and
//! `halfvec`, stored bytes for `bit` and `sparsevec`) and its lists as node
//! numbers; it must fit the VACUUM's memory budget (`autovacuum_work_mem` in
//! autovacuum, else `maintenance_work_mem`), and reading stops as soon as it
//! does not (the caller then repairs from the pages). A list naming an
//! element the snapshot does not hold (inserted meanwhile on a page already
//! read) keeps the rest; the write-back then finds the stored list different
//! and repairs it from the pages.

use rustc_hash::FxHashSet;

use super::vacuum::VacuumSettings;
use super::PagedGraph;
use crate::hnsw::tuple::{chunk_elems, ElementMut, ElementRef, Tid};
use crate::hnsw::vacuum::{repair_deleted_links, StoredGraph, DELETED};
use crate::hnsw::{BitSpace, DenseSpace, Space, SparseSpace, Sq8Space};
use crate::index::kind::{pair_metric, Elem, Measure};
use crate::index::PageStore;
use crate::sq8;

/// The elements as read from the pages, numbered in page order.
struct Read {
    tids: Vec<Tid>,
    levels: Vec<u8>,
    /// Each node's row among the vectors, or `DELETED` (deleted nodes have
    /// none: a repair only measures live ones).
    rows: Vec<u32>,
    /// List lengths, node by node, level 0 first.
    lens: Vec<u16>,
    /// The lists as node numbers, one after another (a link to an element
    /// not read is left out).
    ids: Vec<u32>,
    vectors: Vectors,
}

/// The live nodes' vectors as the spaces want them.
enum Vectors {
    /// `ruvector` and `halfvec` (widened): `dims` f32 per row.
    Dense(Vec<f32>),
    /// The same as SQ8 records (`ruvector_core::sq8`), when the f32 vectors
    /// would not fit the memory budget: a quarter of the bytes.
    Sq8(Vec<u8>),
    /// `bit` and `sparsevec`: stored bytes; node `i`'s are `data[ends[i - 1]..ends[i]]`.
    Bytes { data: Vec<u8>, ends: Vec<usize> },
}

/// Node numbers of the elements, by TID (direct-mapped: index pages hold few tuples).
struct NodeMap {
    per_block: usize,
    slots: Vec<u32>,
}

impl NodeMap {
    fn new(tids: &[Tid]) -> Self {
        let per_block = tids.iter().map(|t| t.offset as usize).max().unwrap_or(0) + 1;
        let blocks = tids.iter().map(|t| t.block as usize).max().unwrap_or(0) + 1;
        let mut slots = vec![u32::MAX; blocks * per_block];
        for (i, t) in tids.iter().enumerate() {
            slots[t.block as usize * per_block + t.offset as usize] = i as u32;
        }
        NodeMap { per_block, slots }
    }

    fn get(&self, t: Tid) -> Option<u32> {
        if t.offset as usize >= self.per_block {
            return None;
        }
        let k = (t.block as usize).checked_mul(self.per_block)? + t.offset as usize;
        self.slots.get(k).copied().filter(|&n| n != u32::MAX)
    }
}

/// The SQ8 record of a stored `ruvector` or `halfvec` vector (`None` if it
/// has no SQ8 copy: a range beyond f32's).
fn sq8_record(elem: Elem, raw: &[u8], scratch: &mut Vec<f32>) -> Option<Vec<u8>> {
    scratch.clear();
    match elem {
        Elem::F32 => scratch.extend_from_slice(&chunk_elems::<f32>(raw)),
        _ => scratch.extend(chunk_elems::<half::f16>(raw).iter().map(|h| h.to_f32())),
    }
    sq8::encode(scratch)
}

/// Read every element in two passes: their TIDs first, so that the second
/// can store lists as node numbers straight away. `None` once the snapshot
/// outgrows `budget` bytes, or if a vector has the wrong length.
fn read_elements<S: PageStore>(
    index: &S,
    graph: &PagedGraph<S>,
    m: usize,
    is_deleted: &dyn Fn(Tid) -> bool,
    budget: usize,
) -> Option<Read> {
    let mut tids = Vec::new();
    let mut live = 0usize;
    for block in 1..index.nblocks() {
        index.read_items(block, |items| {
            for (offset, bytes) in items {
                if let Some(e) = ElementRef::parse(bytes) {
                    let tid = Tid { block, offset };
                    live += usize::from(!e.is_deleted() && !is_deleted(tid));
                    tids.push(tid);
                }
            }
        });
        if tids.len() * 8 > budget / 4 {
            return None;
        }
    }
    let map = NodeMap::new(&tids);
    let (dims, elem) = (graph.dims, graph.kind.elem);
    // What the graph takes besides the vectors: lists (level 0 holds up to
    // 2m links, the levels above about m/(m-1) of m more), the node map, levels and flags.
    let graph_bytes = tids.len() * ((2 * m + 2) * 4 + 16) + map.slots.len() * 4;
    let vectors = if !matches!(elem, Elem::F32 | Elem::F16) {
        Vectors::Bytes { data: Vec::new(), ends: Vec::with_capacity(live) }
    } else if graph_bytes + live * dims * 4 <= budget {
        Vectors::Dense(Vec::with_capacity(live * dims))
    } else if graph_bytes + live * sq8::record_bytes(dims) <= budget {
        Vectors::Sq8(Vec::with_capacity(live * sq8::record_bytes(dims)))
    } else {
        return None;
    };
    let mut r = Read {
        levels: Vec::with_capacity(tids.len()),
        rows: Vec::with_capacity(tids.len()),
        lens: Vec::new(),
        ids: Vec::new(),
        vectors,
        tids: Vec::new(),
    };
    let mut scratch: Vec<f32> = Vec::with_capacity(dims);
    let mut chained: Vec<u32> = Vec::new();
    let mut valid = true;
    let mut rows = 0u32; // the next live node's row
                         // Elements inserted since the first pass are not nodes (the lists naming
                         // them are repaired from the pages); nodes come in the same order.
    for block in 1..index.nblocks() {
        index.read_items(block, |items| {
            for (offset, bytes) in items {
                let tid = Tid { block, offset };
                let (Some(node), Some(e)) = (map.get(tid), ElementRef::parse(bytes)) else { continue };
                if node as usize != r.levels.len() {
                    valid = false;
                    return;
                }
                r.levels.push(e.level() as u8);
                for level in 0..=e.level() {
                    let before = r.ids.len();
                    r.ids.extend(e.neighbors(level).filter_map(|t| map.get(t)));
                    r.lens.push((r.ids.len() - before) as u16);
                }
                if e.is_deleted() || is_deleted(tid) {
                    r.rows.push(DELETED);
                    continue;
                }
                r.rows.push(rows);
                rows += 1;
                let whole = !e.next_chunk().is_valid();
                if !whole {
                    chained.push(node); // the rest is on other pages: read below, with no page locked
                }
                match &mut r.vectors {
                    Vectors::Dense(v) => {
                        let start = v.len();
                        valid &= !whole || e.chunk_bytes().len() == dims * elem.bytes();
                        if whole && elem == Elem::F32 {
                            v.extend_from_slice(&chunk_elems::<f32>(e.chunk_bytes()));
                        } else if whole {
                            v.extend(chunk_elems::<half::f16>(e.chunk_bytes()).iter().map(|h| h.to_f32()));
                        }
                        v.resize(start + dims, 0.0);
                    }
                    Vectors::Sq8(records) => {
                        valid &= !whole || e.chunk_bytes().len() == dims * elem.bytes();
                        match whole.then(|| sq8_record(elem, e.chunk_bytes(), &mut scratch)).flatten() {
                            Some(record) => records.extend_from_slice(&record),
                            None if whole => valid = false, // a vector SQ8 cannot copy: from the pages
                            None => records.resize(records.len() + sq8::record_bytes(dims), 0),
                        }
                    }
                    Vectors::Bytes { data, ends } => {
                        if whole {
                            data.extend_from_slice(e.chunk_bytes());
                        }
                        ends.push(data.len());
                    }
                }
            }
        });
        let vectors = match &r.vectors {
            Vectors::Dense(v) => v.len() * 4,
            Vectors::Sq8(records) => records.len(),
            Vectors::Bytes { data, ends } => data.len() + ends.len() * 8,
        };
        if !valid || vectors + r.ids.len() * 4 + map.slots.len() * 4 + tids.len() * 12 > budget {
            return None;
        }
        index.check_interrupts();
    }
    if r.levels.len() != tids.len() {
        return None; // an element of the first pass is gone: only this VACUUM frees elements
    }
    r.tids = tids;
    for &node in &chained {
        let raw = graph.raw(r.tids[node as usize])?;
        let at = r.rows[node as usize] as usize;
        match &mut r.vectors {
            Vectors::Dense(v) => {
                let row = &mut v[at * dims..(at + 1) * dims];
                match elem {
                    Elem::F32 => row.copy_from_slice(chunk_elems::<f32>(&raw).get(..dims)?),
                    _ => row.iter_mut().zip(chunk_elems::<half::f16>(&raw).iter()).for_each(|(x, h)| *x = h.to_f32()),
                }
            }
            Vectors::Sq8(records) => {
                let n = sq8::record_bytes(dims);
                records[node as usize * n..(node as usize + 1) * n].copy_from_slice(&sq8_record(
                    elem,
                    &raw,
                    &mut scratch,
                )?);
            }
            Vectors::Bytes { .. } => {}
        }
    }
    if let Vectors::Bytes { data, ends } = &mut r.vectors {
        if !chained.is_empty() {
            // rebuild in row order with the chained elements' whole vectors
            // (rows follow node order, so the chained nodes' rows are sorted)
            let (mut whole, mut new_ends, mut start) = (Vec::with_capacity(data.len()), Vec::new(), 0);
            let mut next = chained.iter().map(|&node| (r.rows[node as usize], node)).peekable();
            for (row, &end) in ends.iter().enumerate() {
                if let Some((_, node)) = next.next_if(|&(r, _)| r as usize == row) {
                    whole.extend_from_slice(&graph.raw(r.tids[node as usize])?);
                } else {
                    whole.extend_from_slice(&data[start..end]);
                }
                start = end;
                new_ends.push(whole.len());
            }
            (*data, *ends) = (whole, new_ends);
        }
        let mut start = 0;
        for &end in ends.iter() {
            let ok = match elem.row_bytes(dims) {
                Some(len) => end - start == len,
                None => (end - start).is_multiple_of(8),
            };
            if !ok {
                return None;
            }
            start = end;
        }
    }
    Some(r)
}

/// What the in-memory repair did.
pub struct Repaired {
    /// Lists written.
    pub lists: usize,
    /// Lists changed by an insert since they were read, repaired from the pages.
    pub from_pages: usize,
    /// Of those, the ones that kept changing.
    pub lost_races: Vec<(Tid, usize)>,
    /// A live element of the highest level (for a deleted entry point).
    pub top: Option<(Tid, usize)>,
    /// Seconds spent reading the pages, computing the new lists, writing them.
    pub seconds: [f64; 3],
    /// Whether the repair measured SQ8 copies of the vectors (the f32 ones did not fit).
    pub sq8: bool,
}

/// Step 3 of VACUUM in memory (see the module comment): each list of a live
/// element that names a deleted one repaired, through at most
/// `through_deleted` deleted elements; a list an insert changed since it was
/// read goes to `repair_from_pages(element, level)` (false: it kept
/// changing). `None` when the snapshot does not fit the memory budget or
/// the pages do not form one (a vector of the wrong length): the caller then
/// repairs from the pages.
pub fn repair_in_memory<S: PageStore>(
    graph: &PagedGraph<S>,
    settings: &VacuumSettings,
    through_deleted: usize,
    is_deleted: &dyn Fn(Tid) -> bool,
    repair_from_pages: &mut dyn FnMut(Tid, usize) -> bool,
) -> Option<Repaired> {
    let started = std::time::Instant::now();
    let (index, m) = (&graph.store, settings.m);
    let r = read_elements(index, graph, m, is_deleted, settings.memory_budget)?;
    let (levels, rows, lens, ids) = (r.levels, r.rows, r.lens, r.ids);
    let threads = settings.threads;
    let parts =
        Parts { index, tids: r.tids, levels, rows, lens, ids, m, through_deleted, threads, repair_from_pages, started };
    let dims = graph.dims;
    match (r.vectors, graph.kind.measure) {
        (Vectors::Dense(vectors), Measure::Dense(metric)) => parts.run(DenseSpace::new(dims, vectors, metric)),
        (Vectors::Sq8(records), Measure::Dense(metric)) => {
            parts.run(Sq8Space::new(dims, records, metric)).map(|r| Repaired { sq8: true, ..r })
        }
        (Vectors::Bytes { data, .. }, measure @ (Measure::Hamming | Measure::Jaccard)) => {
            parts.run(BitSpace { bytes: dims.div_ceil(8), data, jaccard: measure == Measure::Jaccard })
        }
        (Vectors::Bytes { data, ends }, Measure::Sparse(metric)) => {
            let space = SparseSpace::new(
                std::iter::once(0).chain(ends.iter().map(|e| e / 8)).collect(),
                chunk_elems::<crate::sparse::Pair>(&data).into_owned(),
                pair_metric(metric),
            );
            drop(data);
            parts.run(space)
        }
        _ => None,
    }
}

/// The snapshot's graph without its vectors, and what the write-back needs.
struct Parts<'a, St> {
    index: &'a St,
    tids: Vec<Tid>,
    levels: Vec<u8>,
    rows: Vec<u32>,
    lens: Vec<u16>,
    ids: Vec<u32>,
    m: usize,
    through_deleted: usize,
    threads: usize,
    repair_from_pages: &'a mut dyn FnMut(Tid, usize) -> bool,
    started: std::time::Instant,
}

impl<St: PageStore> Parts<'_, St> {
    /// Repair on the build's threads, then write each new list if the stored one is unchanged.
    fn run<S: Space>(self, space: S) -> Option<Repaired> {
        let top = (0..self.tids.len())
            .filter(|&i| self.rows[i] != DELETED)
            .max_by_key(|&i| (self.levels[i], std::cmp::Reverse(i)))
            .map(|i| (self.tids[i], self.levels[i] as usize));
        let read = self.started.elapsed().as_secs_f64();
        let g = StoredGraph::new(space, self.levels, self.rows, &self.lens, self.ids).ok()?;
        let repaired = repair_deleted_links(&g, self.m, self.through_deleted, self.threads, |_| {
            self.index.check_interrupts();
            true
        })
        .ok()?;
        let computed = self.started.elapsed().as_secs_f64();
        let mut out = Repaired {
            lists: 0,
            from_pages: 0,
            lost_races: Vec::new(),
            top,
            seconds: [read, computed - read, 0.0],
            sq8: false,
        };
        let tids = |ids: &[u32]| ids.iter().map(|&i| self.tids[i as usize]).collect::<Vec<Tid>>();
        // One WAL record per page: the repaired lists of its elements (sorted
        // by node, so by page) written together, each only if unchanged.
        let mut changed_meanwhile: Vec<(Tid, usize)> = Vec::new();
        for batch in repaired.chunk_by(|a, b| self.tids[a.node as usize].block == self.tids[b.node as usize].block) {
            let block = self.tids[batch[0].node as usize].block;
            self.index.update_page(block, |offset, bytes| {
                let mut mine = batch.iter().filter(|rl| self.tids[rl.node as usize].offset == offset).peekable();
                if mine.peek().is_none() {
                    return false;
                }
                let Some(mut e) = ElementMut::parse(bytes) else { return false };
                let mut changed = false;
                for rl in mine {
                    let current = g.list(rl.node, rl.level).iter().map(|&i| self.tids[i as usize]);
                    if e.as_ref().neighbors(rl.level).filter(|t| t.is_valid()).eq(current) {
                        e.set_neighbors(rl.level, &tids(&rl.list));
                        changed = true;
                        out.lists += 1;
                    } else {
                        changed_meanwhile.push((Tid { block, offset }, rl.level));
                    }
                }
                changed
            });
            self.index.check_interrupts();
        }
        // lists an insert changed since they were read: from the pages, as the on-disk path does
        for (element, level) in changed_meanwhile {
            out.from_pages += 1;
            if !(self.repair_from_pages)(element, level) {
                out.lost_races.push((element, level));
            }
        }
        out.seconds[2] = self.started.elapsed().as_secs_f64() - computed;
        Some(out)
    }
}

/// The live elements a search reaches from `entry` through level-0 links,
/// and (in page order) those it does not, from the pages read one at a
/// time in two passes (element TIDs, then the level-0 lists as node
/// numbers). `None` if the lists do not fit `budget` bytes.
pub fn level0_reach<S: PageStore>(
    index: &S,
    entry: Tid,
    is_deleted: &dyn Fn(Tid) -> bool,
    budget: usize,
) -> Option<(FxHashSet<Tid>, Vec<Tid>)> {
    let mut tids = Vec::new();
    let mut live = Vec::new();
    for block in 1..index.nblocks() {
        index.read_items(block, |items| {
            for (offset, bytes) in items {
                let tid = Tid { block, offset };
                if let Some(e) = ElementRef::parse(bytes) {
                    tids.push(tid);
                    live.push(!e.is_deleted() && !is_deleted(tid));
                }
            }
        });
        if tids.len() * 16 > budget {
            return None;
        }
    }
    let map = NodeMap::new(&tids);
    let mut ends: Vec<usize> = vec![0; tids.len()];
    let mut ids: Vec<u32> = Vec::new();
    let mut next = 0; // nodes come in page order; elements inserted since the first pass are left out
    for block in 1..index.nblocks() {
        index.read_items(block, |items| {
            for (offset, bytes) in items {
                let (Some(node), Some(e)) = (map.get(Tid { block, offset }), ElementRef::parse(bytes)) else {
                    continue;
                };
                while next < node as usize {
                    ends[next] = ids.len(); // gone since the first pass: no links
                    next += 1;
                }
                ids.extend(e.neighbors(0).filter_map(|t| map.get(t)).filter(|&n| live[n as usize]));
                ends[node as usize] = ids.len();
                next = node as usize + 1;
            }
        });
        if ids.len() * 4 + tids.len() * 16 > budget {
            return None;
        }
    }
    while next < tids.len() {
        ends[next] = ids.len();
        next += 1;
    }
    let mut seen = vec![false; tids.len()];
    let mut stack: Vec<u32> = map.get(entry).into_iter().collect();
    stack.iter().for_each(|&n| seen[n as usize] = true);
    while let Some(n) = stack.pop() {
        let start = if n == 0 { 0 } else { ends[n as usize - 1] };
        for &x in &ids[start..ends[n as usize]] {
            if !seen[x as usize] {
                seen[x as usize] = true;
                stack.push(x);
            }
        }
    }
    let reached = (0..tids.len()).filter(|&i| seen[i]).map(|i| tids[i]).collect();
    let unreached = (0..tids.len()).filter(|&i| live[i] && !seen[i]).map(|i| tids[i]).collect();
    Some((reached, unreached))
}
