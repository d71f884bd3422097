//! VACUUM's graph repair, in memory, on a snapshot of the stored graph.
//!
//! The extension reads every element of the index once (its level, deleted
//! flag, neighbour lists and vector) into a [`StoredGraph`]; nodes are
//! numbered in the order they were read. [`repair_deleted_links`] then gives
//! every list of a live node that names a deleted node a new list
//! ([`repair_neighbors`]: its live neighbours and the live nodes reached
//! through the deleted ones, thinned by the heuristic), on worker threads
//! that touch nothing but the snapshot. The extension writes each new list
//! only if the stored list is still the one the snapshot holds (else it
//! repairs that list again from the pages), so inserts running meanwhile
//! are never overwritten.
//!
//! Invariants: every list the snapshot holds names nodes of the snapshot
//! (`StoredGraph::new` checks it, as data from pages is not trusted); a
//! repaired list names only live nodes, never its own node, each at most once,
//! and holds at most `2m` (level 0) or `m` ids.
//! Nothing here calls PostgreSQL; the calling thread works too and runs the
//! caller's `tick` between batches (progress, cancellation).

#![forbid(unsafe_code)]

use parking_lot::Mutex;

use super::build::{Cancelled, PooledVisited};
use super::search::{repair_neighbors, GraphRead};
use super::space::Space;

/// The stored graph as VACUUM read it. Only live nodes have a vector (a
/// repair measures live nodes alone; deleted ones are walked through):
/// live node `i`'s is `space.get(rows[i])`.
pub struct StoredGraph<S: Space> {
    space: S,
    levels: Vec<u8>,
    /// Each node's row in `space`, or [`DELETED`].
    rows: Vec<u32>,
    /// Node `i`'s lists are slots `slot0[i]..slot0[i + 1]`, level 0 first.
    slot0: Vec<u32>,
    /// Slot `s` is `ids[starts[s]..starts[s + 1]]`.
    starts: Vec<u32>,
    ids: Vec<u32>,
}

/// `rows[i]` of a deleted node.
pub const DELETED: u32 = u32::MAX;

/// Why a snapshot was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct BadSnapshot(pub &'static str);

impl<S: Space> StoredGraph<S> {
    /// A snapshot of `levels.len()` nodes: node `i` is at level `levels[i]`,
    /// its vector is row `rows[i]` of `space` ([`DELETED`]: a deleted node);
    /// `lens` holds the length of each list, node by node and level 0 first
    /// (`levels[i] + 1` lists per node), and `ids` the lists one after
    /// another. Refused if the parts disagree, a live node's row is not in
    /// `space`, or a list names a node that does not exist.
    pub fn new(space: S, levels: Vec<u8>, rows: Vec<u32>, lens: &[u16], ids: Vec<u32>) -> Result<Self, BadSnapshot> {
        let n = levels.len();
        if rows.len() != n {
            return Err(BadSnapshot("node counts differ"));
        }
        if rows.iter().any(|&r| r != DELETED && r as usize >= space.len()) {
            return Err(BadSnapshot("a node's vector is not in the space"));
        }
        let mut slot0 = Vec::with_capacity(n + 1);
        let mut slots = 0u32;
        for &l in &levels {
            slot0.push(slots);
            slots += l as u32 + 1;
        }
        slot0.push(slots);
        if lens.len() != slots as usize {
            return Err(BadSnapshot("list count differs from the levels"));
        }
        let mut starts = Vec::with_capacity(lens.len() + 1);
        let mut at = 0u32;
        for &len in lens {
            starts.push(at);
            at += len as u32;
        }
        starts.push(at);
        if at as usize != ids.len() {
            return Err(BadSnapshot("list lengths differ from the ids"));
        }
        if ids.iter().any(|&id| id as usize >= n) {
            return Err(BadSnapshot("a list names a node that does not exist"));
        }
        Ok(StoredGraph { space, levels, rows, slot0, starts, ids })
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    pub fn level(&self, i: u32) -> usize {
        self.levels[i as usize] as usize
    }

    pub fn is_deleted(&self, i: u32) -> bool {
        self.rows[i as usize] == DELETED
    }

    /// Node `i`'s list at `level` (empty above its level).
    pub fn list(&self, i: u32, level: usize) -> &[u32] {
        let (first, end) = (self.slot0[i as usize] as usize, self.slot0[i as usize + 1] as usize);
        if first + level >= end {
            return &[];
        }
        let s = first + level;
        &self.ids[self.starts[s] as usize..self.starts[s + 1] as usize]
    }

    /// Distance between nodes `a` and `b` (infinite if either is deleted).
    #[inline]
    pub fn between(&self, a: u32, b: u32) -> f32 {
        match (self.rows[a as usize], self.rows[b as usize]) {
            (DELETED, _) | (_, DELETED) => f32::INFINITY,
            (ra, rb) => self.space.distance(self.space.get(ra), rb),
        }
    }
}

impl<S: Space> GraphRead for StoredGraph<S> {
    type Id = u32;
    type Visited = PooledVisited;
    type Query = S::Query;

    fn neighbors(&self, id: u32, level: usize, out: &mut Vec<u32>) {
        out.extend_from_slice(self.list(id, level));
    }

    #[inline]
    fn distance(&self, query: &S::Query, id: u32) -> f32 {
        match self.rows[id as usize] {
            DELETED => f32::INFINITY,
            row => self.space.distance(query, row),
        }
    }

    fn visited(&self) -> PooledVisited {
        PooledVisited::take(self.len())
    }
}

/// A new list for `node` at `level`.
#[derive(Debug, Clone, PartialEq)]
pub struct RepairedList {
    pub node: u32,
    pub level: usize,
    pub list: Vec<u32>,
}

/// The lists of live nodes that name a deleted node, each repaired with
/// [`repair_neighbors`] (through at most `budget` deleted nodes; `2m` links
/// at level 0, `m` above), on `threads` threads (the caller's included),
/// in node order; the worker threads run at a lower CPU priority than the
/// caller's, so searches meanwhile keep theirs. `tick(done)` runs on the
/// calling thread between batches; returning false cancels.
pub fn repair_deleted_links<S: Space>(
    g: &StoredGraph<S>,
    m: usize,
    budget: usize,
    threads: usize,
    mut tick: impl FnMut(usize) -> bool,
) -> Result<Vec<RepairedList>, Cancelled> {
    let work: Vec<(u32, usize)> = (0..g.len() as u32)
        .filter(|&i| !g.is_deleted(i))
        .flat_map(|i| (0..=g.level(i)).map(move |l| (i, l)))
        .filter(|&(i, l)| g.list(i, l).iter().any(|&n| g.is_deleted(n)))
        .collect();
    let out: Mutex<Vec<RepairedList>> = Mutex::new(Vec::with_capacity(work.len()));
    crate::workers::run_batches(
        work.len(),
        256,
        threads,
        crate::workers::yield_to_foreground,
        |range| {
            let repaired: Vec<RepairedList> = work[range]
                .iter()
                .map(|&(node, level)| {
                    let cap = if level == 0 { 2 * m } else { m };
                    let list = repair_neighbors(
                        g,
                        node,
                        level,
                        g.list(node, level),
                        |n| g.is_deleted(n),
                        budget,
                        cap,
                        |a, b| g.between(a, b),
                    );
                    RepairedList { node, level, list }
                })
                .collect();
            out.lock().extend(repaired);
        },
        &mut tick,
    )?;
    let mut out = out.into_inner();
    out.sort_by_key(|r| (r.node, r.level));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hnsw::build::tests::{brute_force, dataset};
    use crate::hnsw::{BuildParams, DenseSpace, InMemoryGraph, Metric};

    /// The in-memory build's graph as VACUUM would read it, with the nodes
    /// `deleted` names flagged.
    fn snapshot(data: &[f32], dims: usize, m: usize, deleted: impl Fn(u32) -> bool) -> StoredGraph<DenseSpace> {
        let params = BuildParams { m, ef_construction: 40, seed: 7 };
        let g = InMemoryGraph::build(DenseSpace::new(dims, data.to_vec(), Metric::L2), params, 2, |_| true).unwrap();
        let n = g.len() as u32;
        let (mut lens, mut ids) = (Vec::new(), Vec::new());
        for i in 0..n {
            for l in 0..=g.level(i) {
                let list = g.neighbors_of(i, l);
                lens.push(list.len() as u16);
                ids.extend(list);
            }
        }
        let levels = (0..n).map(|i| g.level(i) as u8).collect();
        // the space holds the live nodes' vectors only, in node order
        let mut live = Vec::new();
        let rows = (0..n)
            .map(|i| {
                if deleted(i) {
                    return DELETED;
                }
                live.extend_from_slice(&data[i as usize * dims..(i as usize + 1) * dims]);
                (live.len() / dims - 1) as u32
            })
            .collect();
        StoredGraph::new(DenseSpace::new(dims, live, Metric::L2), levels, rows, &lens, ids).unwrap()
    }

    #[test]
    fn a_snapshot_naming_a_missing_node_is_refused() {
        let space = || DenseSpace::new(2, vec![0.0; 4], Metric::L2);
        let bad = StoredGraph::new(space(), vec![0, 0], vec![0, 1], &[1, 1], vec![1, 2]);
        assert_eq!(bad.err(), Some(BadSnapshot("a list names a node that does not exist")));
        let short = StoredGraph::new(space(), vec![1, 0], vec![0, 1], &[1, 1], vec![1, 0]);
        assert_eq!(short.err(), Some(BadSnapshot("list count differs from the levels")));
        let outside = StoredGraph::new(space(), vec![0, 0], vec![0, 2], &[1, 1], vec![1, 0]);
        assert_eq!(outside.err(), Some(BadSnapshot("a node's vector is not in the space")));
        let ok = StoredGraph::new(space(), vec![0, 0], vec![DELETED, 1], &[1, 1], vec![1, 0]).unwrap();
        assert!(ok.is_deleted(0) && !ok.is_deleted(1));
        assert_eq!(ok.between(0, 1), f32::INFINITY);
    }

    #[test]
    fn repaired_lists_name_only_live_nodes_and_keep_the_graph_searchable() {
        let (n, dims, m) = (3000, 12, 8);
        let data = dataset(n, dims, 3);
        let gone = |i: u32| i % 2 == 1;
        let g = snapshot(&data, dims, m, gone);
        let mut ticks = 0;
        let repaired = repair_deleted_links(&g, m, 32, 2, |_| {
            ticks += 1;
            true
        })
        .unwrap();
        assert!(ticks >= 2, "tick runs between batches and at the end");
        // every live list that named a deleted node, exactly once, in node order
        let expected: Vec<(u32, usize)> = (0..n as u32)
            .filter(|&i| !gone(i))
            .flat_map(|i| (0..=g.level(i)).map(move |l| (i, l)))
            .filter(|&(i, l)| g.list(i, l).iter().any(|&x| gone(x)))
            .collect();
        assert_eq!(repaired.iter().map(|r| (r.node, r.level)).collect::<Vec<_>>(), expected);
        for r in &repaired {
            let cap = if r.level == 0 { 2 * m } else { m };
            assert!(!r.list.is_empty() && r.list.len() <= cap, "{r:?}");
            assert!(r.list.iter().all(|&x| !gone(x) && x != r.node), "{r:?}");
            let mut unique = r.list.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), r.list.len(), "{r:?}");
        }
        // Apply the repairs: every live node reachable at level 0 from a live
        // node of the top level, and searches of the repaired graph find
        // nearly all true neighbours among the live nodes.
        let mut lists: std::collections::HashMap<(u32, usize), Vec<u32>> = Default::default();
        for r in repaired {
            lists.insert((r.node, r.level), r.list);
        }
        let list = |i: u32, l: usize| lists.get(&(i, l)).cloned().unwrap_or_else(|| g.list(i, l).to_vec());
        let top = (0..n as u32).filter(|&i| !gone(i)).max_by_key(|&i| g.level(i)).unwrap();
        let mut seen = vec![false; n];
        let mut stack = vec![top];
        seen[top as usize] = true;
        while let Some(i) = stack.pop() {
            for x in list(i, 0) {
                if !seen[x as usize] {
                    seen[x as usize] = true;
                    stack.push(x);
                }
            }
        }
        let unreached = (0..n as u32).filter(|&i| !gone(i) && !seen[i as usize]).count();
        assert!(unreached <= 3, "{unreached} live nodes unreached after repair");
        let live: Vec<f32> =
            (0..n).filter(|&i| !gone(i as u32)).flat_map(|i| data[i * dims..(i + 1) * dims].to_vec()).collect();
        let live_ids: Vec<u32> = (0..n as u32).filter(|&i| !gone(i)).collect();
        let (mut hits, queries) = (0, 50);
        for q in 0..queries {
            let query = &data[(2 * q) * dims..(2 * q + 1) * dims];
            let truth: Vec<u32> =
                brute_force(&live, dims, query, 10, Metric::L2).iter().map(|&k| live_ids[k as usize]).collect();
            // best-first search over the repaired level-0 lists from `top`
            let dist = |i: u32| Metric::L2.distance(query, &data[i as usize * dims..(i as usize + 1) * dims]);
            let mut visited = std::collections::HashSet::new();
            let mut frontier = vec![(dist(top), top)];
            let mut found: Vec<(f32, u32)> = Vec::new();
            visited.insert(top);
            while let Some(pos) = (0..frontier.len()).min_by(|&a, &b| frontier[a].0.total_cmp(&frontier[b].0)) {
                let (d, i) = frontier.swap_remove(pos);
                if found.len() >= 64 && d > found[63].0 {
                    break;
                }
                found.push((d, i));
                found.sort_by(|a, b| a.0.total_cmp(&b.0));
                for x in list(i, 0) {
                    if visited.insert(x) {
                        frontier.push((dist(x), x));
                    }
                }
            }
            assert!(found.iter().all(|&(_, i)| !gone(i)), "a search reached a deleted node");
            let got: Vec<u32> = found.iter().take(10).map(|&(_, i)| i).collect();
            hits += truth.iter().filter(|t| got.contains(t)).count();
        }
        let recall = hits as f64 / (10 * queries) as f64;
        assert!(recall >= 0.95, "recall@10 after repair {recall}");
    }

    #[test]
    fn a_cancelled_repair_stops() {
        let data = dataset(500, 8, 1);
        let g = snapshot(&data, 8, 4, |i| i % 3 == 0);
        assert_eq!(repair_deleted_links(&g, 4, 32, 2, |_| false), Err(Cancelled));
    }
}
