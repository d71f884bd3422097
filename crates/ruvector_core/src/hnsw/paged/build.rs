//! Writing a graph built in memory (`crate::hnsw::InMemoryGraph`) as
//! tuples: where each element, vector chunk and overflow TID list goes
//! (`PagePacker`: filling pages in order, as `PageAddItem` would, so every
//! neighbour's TID is known before its element is written) and the bytes
//! of each, handed to `emit` in write order. The extension's bulk writer
//! writes them to new pages without WAL; tests append them to a
//! `MemStore`, which places them at the same TIDs.

use super::super::build::InMemoryGraph;
use crate::hnsw::tuple::{
    chunk_size, encode_chunk, encode_element, encode_tidlist, tidlist_size, ElementLayout, ElementMut, NewElement,
    PagePacker, INLINE_TIDS,
};
use crate::hnsw::Space;
use crate::index::{FilterKey, PageGeometry, Tid};

/// Emit the tuples of `graph` (element `i` holding the rows `heap_tids[i]`,
/// the vector `raw(graph, i)`, `elem_bytes` bytes per element, and the
/// filter key `keys[i]`, or none when `keys` is empty) placed
/// from block 1 on; `tick` is called every 1,024 elements. Returns the
/// entry point's TID and level.
#[allow(clippy::too_many_arguments)]
pub fn emit_tuples<S: Space>(
    graph: &InMemoryGraph<S>,
    heap_tids: &[Vec<Tid>],
    keys: &[FilterKey],
    m: usize,
    elem_bytes: usize,
    geometry: PageGeometry,
    raw: &dyn Fn(&InMemoryGraph<S>, u32) -> Vec<u8>,
    mut emit: impl FnMut(&[u8], Tid),
    mut tick: impl FnMut(),
) -> Option<(Tid, usize)> {
    let n = graph.len();
    let eb = elem_bytes;
    let mut packer = PagePacker::new(geometry, 1);
    struct Plan {
        element: Tid,
        chunks: Vec<(Tid, usize, usize)>,
        lists: Vec<(Tid, usize, usize)>,
        first: usize,
    }
    let mut plans = Vec::with_capacity(n);
    for i in 0..n as u32 {
        let level = graph.level(i);
        let row_elems = raw(graph, i).len() / eb;
        let first = row_elems.min(geometry.max_first_chunk_bytes(level, m) / eb);
        let key = keys.get(i as usize).is_some_and(|&k| k != FilterKey::Absent);
        let element = packer.place(ElementLayout { level, m, chunk_len: first, elem_bytes: eb, key }.size());
        let mut chunks = Vec::new();
        let mut pos = first;
        while pos < row_elems {
            let len = (row_elems - pos).min(geometry.max_chunk_bytes() / eb);
            chunks.push((packer.place(chunk_size(len * eb)), pos, len));
            pos += len;
        }
        let mut lists = Vec::new();
        let extra = heap_tids[i as usize].len().saturating_sub(INLINE_TIDS);
        let per_list = (geometry.empty_free - geometry.item_id - tidlist_size(0)) / Tid::BYTES - 1;
        let mut pos = INLINE_TIDS;
        while pos < INLINE_TIDS + extra {
            let len = (INLINE_TIDS + extra - pos).min(per_list);
            lists.push((packer.place(tidlist_size(len)), pos, len));
            pos += len;
        }
        plans.push(Plan { element, chunks, lists, first });
    }
    for i in 0..n as u32 {
        let p = &plans[i as usize];
        let level = graph.level(i);
        let neighbors: Vec<Vec<Tid>> = (0..=level)
            .map(|l| graph.neighbors_of(i, l).iter().map(|&j| plans[j as usize].element).collect())
            .collect();
        let v = raw(graph, i);
        let tids = &heap_tids[i as usize];
        let mut bytes = encode_element(&NewElement {
            level,
            m,
            heap_tids: &tids[..tids.len().min(INLINE_TIDS)],
            overflow: p.lists.first().map_or(Tid::INVALID, |l| l.0),
            next_chunk: p.chunks.first().map_or(Tid::INVALID, |ch| ch.0),
            neighbors: &neighbors,
            chunk: &v[..p.first * eb],
            elem_bytes: eb,
            key: keys.get(i as usize).copied().unwrap_or_default(),
        });
        if let Some(mut e) = ElementMut::parse(&mut bytes) {
            e.set_level0(&neighbors[0], graph.fill_count(i));
        }
        emit(&bytes, p.element);
        for (k, &(tid, pos, len)) in p.chunks.iter().enumerate() {
            let next = p.chunks.get(k + 1).map_or(Tid::INVALID, |ch| ch.0);
            emit(&encode_chunk(&v[pos * eb..(pos + len) * eb], eb, next), tid);
        }
        for (k, &(tid, pos, len)) in p.lists.iter().enumerate() {
            let next = p.lists.get(k + 1).map_or(Tid::INVALID, |l| l.0);
            emit(&encode_tidlist(&tids[pos..pos + len], len, next), tid);
        }
        if (i as usize).is_multiple_of(1024) {
            tick();
        }
    }
    graph.entry_point().map(|(ep, level)| (plans[ep as usize].element, level))
}
