//! Layer search (Malkov & Yashunin, algorithm 2), generic over where the graph
//! lives. A candidate queue ordered nearest-first and a result queue of at most
//! `ef` entries ordered farthest-first; the search stops when the nearest
//! unexpanded candidate is farther than the farthest result.

#![forbid(unsafe_code)]

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A capacity to reserve for `ef × per` entries, bounded: an iterative scan
/// doubles ef without a natural limit, and a reservation is only a hint (the
/// collection grows past it), so an absurd ef must not become an allocation.
pub fn presize(ef: usize, per: usize) -> usize {
    ef.saturating_mul(per).min(1 << 16)
}

/// A node id with its distance to the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbor<Id> {
    pub distance: f32,
    pub id: Id,
}

impl<Id: Ord> Eq for Neighbor<Id> {}

impl<Id: Ord> PartialOrd for Neighbor<Id> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<Id: Ord> Ord for Neighbor<Id> {
    /// By distance (total order on floats), then id, so heaps are deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance.total_cmp(&other.distance).then_with(|| self.id.cmp(&other.id))
    }
}

/// Read access to a graph: its neighbour lists and distances to its nodes.
pub trait GraphRead {
    type Id: Copy + Ord + std::hash::Hash + std::fmt::Debug;
    type Visited: VisitedSet<Self::Id>;
    /// What a search is for: a vector in the graph's element type.
    type Query: ?Sized;

    /// Append the neighbours of `id` at `level` to `out` (cleared by the caller).
    fn neighbors(&self, id: Self::Id, level: usize, out: &mut Vec<Self::Id>);

    /// Distance from `query` to node `id`.
    fn distance(&self, query: &Self::Query, id: Self::Id) -> f32;

    /// A fresh visited set for one search.
    fn visited(&self) -> Self::Visited;

    /// `distance` to each of `ids`, in order, into `out` (cleared first):
    /// one call per neighbour list, so a graph can look its data up in one
    /// go. Default: `distance` for each.
    #[inline]
    fn distances(&self, query: &Self::Query, ids: &[Self::Id], out: &mut Vec<f32>) {
        out.clear();
        out.extend(ids.iter().map(|&id| self.distance(query, id)));
    }

    /// A hint that `distance(_, id)` follows soon, so the node's data can be
    /// fetched into the CPU cache meanwhile. Default: nothing.
    #[inline]
    fn prefetch(&self, _id: Self::Id) {}

    /// `prefetch` for nodes to be measured in this order. Default: each.
    #[inline]
    fn prefetch_all(&self, ids: &[Self::Id]) {
        ids.iter().for_each(|&id| self.prefetch(id));
    }

    /// A hint that `neighbors(id, level)` may follow: the node is a new
    /// candidate. Default: nothing.
    #[inline]
    fn prefetch_neighbors(&self, _id: Self::Id, _level: usize) {}

    /// The links a search for a new element's neighbours follows (see
    /// [`Constructing`]): for a graph whose level-0 lists end with fill
    /// links, the heuristic's choice before them. Default: all of them.
    #[inline]
    fn construction_neighbors(&self, id: Self::Id, level: usize, out: &mut Vec<Self::Id>) {
        self.neighbors(id, level, out)
    }
}

/// `G` as a search for a new element's neighbours sees it: following each
/// list's [`GraphRead::construction_neighbors`] only. A level-0 list holds
/// the selection heuristic's choice (its diverse links) and then fill links,
/// the nearest candidates the heuristic passed over (docs/hnsw.md, "Full
/// level-0 lists"); queries follow them all, but a search that only picks
/// candidates for the heuristic finds as good ones through the diverse links
/// at about half the distances (the in-memory build has always searched so;
/// inserts since the twenty-eighth session, docs/benchmarks.md).
pub struct Constructing<'a, G>(pub &'a G);

impl<G: GraphRead> GraphRead for Constructing<'_, G> {
    type Id = G::Id;
    type Visited = G::Visited;
    type Query = G::Query;

    #[inline]
    fn neighbors(&self, id: Self::Id, level: usize, out: &mut Vec<Self::Id>) {
        self.0.construction_neighbors(id, level, out)
    }

    #[inline]
    fn distance(&self, query: &Self::Query, id: Self::Id) -> f32 {
        self.0.distance(query, id)
    }

    #[inline]
    fn visited(&self) -> Self::Visited {
        self.0.visited()
    }

    #[inline]
    fn distances(&self, query: &Self::Query, ids: &[Self::Id], out: &mut Vec<f32>) {
        self.0.distances(query, ids, out)
    }

    #[inline]
    fn prefetch(&self, id: Self::Id) {
        self.0.prefetch(id)
    }

    #[inline]
    fn prefetch_all(&self, ids: &[Self::Id]) {
        self.0.prefetch_all(ids)
    }

    #[inline]
    fn prefetch_neighbors(&self, id: Self::Id, level: usize) {
        self.0.prefetch_neighbors(id, level)
    }
}

/// Nodes seen during one search.
pub trait VisitedSet<Id> {
    /// Mark `id`; false if it was already marked.
    fn insert(&mut self, id: Id) -> bool;

    /// A hint that `insert(id)` follows soon. Default: nothing.
    #[inline]
    fn prefetch(&self, _id: Id) {}
}

impl<Id: std::hash::Hash + Eq, S: std::hash::BuildHasher> VisitedSet<Id> for std::collections::HashSet<Id, S> {
    fn insert(&mut self, id: Id) -> bool {
        std::collections::HashSet::insert(self, id)
    }
}

/// The neighbour-selection heuristic (algorithm 4): walk `candidates`
/// (sorted nearest first by their distance to the base node) and keep one
/// only if no kept one is strictly closer to it than the base is, so the
/// kept set spans different directions. A tie keeps the candidate (as
/// hnswlib does): on equidistant data (one-hot vectors) rejecting ties left
/// every list one link long and most of the graph unreachable.
/// `between(a, b)` is the distance between two candidates.
pub fn select_neighbors<Id: Copy>(
    candidates: &[Neighbor<Id>],
    m: usize,
    mut between: impl FnMut(Id, Id) -> f32,
) -> Vec<Neighbor<Id>> {
    if candidates.len() <= m {
        return candidates.to_vec();
    }
    let mut kept: Vec<Neighbor<Id>> = Vec::with_capacity(m);
    for &c in candidates {
        if kept.len() >= m {
            break;
        }
        if kept.iter().all(|k| between(c.id, k.id) >= c.distance) {
            kept.push(c);
        }
    }
    kept
}

/// [`select_neighbors`], then the nearest candidates it passed over until
/// `m` are kept (pgvector's "keep pruned connections"): the diverse links
/// first, and the list full. A full list gives searches more ways out of
/// each node, which raises recall at a given ef more than it costs per hop.
pub fn select_neighbors_filled<Id: Copy + PartialEq>(
    candidates: &[Neighbor<Id>],
    m: usize,
    between: impl FnMut(Id, Id) -> f32,
) -> Vec<Neighbor<Id>> {
    fill_passed_over(select_neighbors(candidates, m, between), candidates, m)
}

/// `kept` (the heuristic's choice from `candidates`), then the nearest
/// candidates it passed over, until `m` are kept.
pub fn fill_passed_over<Id: Copy + PartialEq>(
    mut kept: Vec<Neighbor<Id>>,
    candidates: &[Neighbor<Id>],
    m: usize,
) -> Vec<Neighbor<Id>> {
    for c in candidates {
        if kept.len() >= m {
            break;
        }
        if !kept.iter().any(|k| k.id == c.id) {
            kept.push(*c);
        }
    }
    kept
}

/// Whether one of `links` (a node's diverse links) is at least as near to a
/// newcomer as the node itself, `distance` from it, so that a link to the
/// newcomer would lead nowhere new. `measured` is the newcomer's own search
/// result, nearest first: it holds every link that near, so nothing is
/// measured here.
pub fn covered_by<Id: Copy + PartialEq>(links: &[Id], measured: &[Neighbor<Id>], distance: f32) -> bool {
    measured.iter().take_while(|c| c.distance <= distance).any(|c| links.contains(&c.id))
}

/// A new neighbour list for `node` at `level` once the nodes `is_deleted`
/// names are gone (VACUUM's graph repair). Candidates are the node's live
/// neighbours and the live nodes reachable through deleted ones, breadth-first
/// through at most `budget` deleted nodes, so a node whose neighbours were
/// all deleted still finds the nodes they led to. They are ranked by
/// distance to `node` (`between(node, x)`), thinned with the heuristic, and
/// the remaining places up to `cap` are filled with the nearest candidates
/// the heuristic passed over (more links keep more paths open). Choosing the
/// whole list afresh matters when whole regions were deleted: the nodes
/// beyond them come in through the deleted ones, and the heuristic keeps
/// them as the new long links. (Adding the results of a search for the
/// node's own vector made recall worse on clustered data: near candidates
/// crowded out those long links.)
#[allow(clippy::too_many_arguments)]
pub fn repair_neighbors<G: GraphRead>(
    graph: &G,
    node: G::Id,
    level: usize,
    current: &[G::Id],
    is_deleted: impl Fn(G::Id) -> bool,
    budget: usize,
    cap: usize,
    mut between: impl FnMut(G::Id, G::Id) -> f32,
) -> Vec<G::Id> {
    let mut seen = graph.visited();
    seen.insert(node);
    let mut live = Vec::new();
    let mut queue = std::collections::VecDeque::new();
    for &n in current {
        if seen.insert(n) {
            if is_deleted(n) {
                queue.push_back(n);
            } else {
                live.push(n);
            }
        }
    }
    let mut expanded = 0;
    let mut links = Vec::new();
    // Widening stops once three times the list's capacity are found: enough
    // for the heuristic to choose from (GloVe-50, half the rows deleted: recall
    // after VACUUM as with 32 deleted nodes walked, in half the time), while a
    // node in a deleted region, with few live nodes near, still walks far.
    let enough = 3 * cap;
    while let Some(d) = queue.pop_front() {
        if expanded >= budget || live.len() >= enough {
            break;
        }
        expanded += 1;
        links.clear();
        graph.neighbors(d, level, &mut links);
        for &n in &links {
            if seen.insert(n) {
                if is_deleted(n) {
                    queue.push_back(n);
                } else {
                    live.push(n);
                }
            }
        }
    }
    let mut ranked: Vec<Neighbor<G::Id>> =
        live.into_iter().map(|id| Neighbor { distance: between(node, id), id }).collect();
    ranked.sort();
    select_neighbors_filled(&ranked, cap, &mut between).into_iter().map(|n| n.id).collect()
}

/// Search one layer from `entry` (already marked visited by the caller or
/// not; entries are marked here). Returns up to `ef` nearest, nearest first.
pub fn search_layer<G: GraphRead>(
    graph: &G,
    query: &G::Query,
    entry: &[Neighbor<G::Id>],
    ef: usize,
    level: usize,
    visited: &mut G::Visited,
) -> Vec<Neighbor<G::Id>> {
    search_layer_keeping(graph, query, entry, ef, level, visited, None)
}

/// Elements a search measured but did not return, in no order: where an
/// iterative scan's next batch starts ([`IterativeSearch`]). (A plain
/// vector: a heap's ordered pushes cost the first batch, which is often the
/// only one, about a tenth of its time on 384-d data.)
pub type Discarded<Id> = Vec<Neighbor<Id>>;

/// [`search_layer`], putting every element it measured and does not return
/// (not near enough when met, or pushed out of the ef nearest later) into
/// `discarded` when given.
pub fn search_layer_keeping<G: GraphRead>(
    graph: &G,
    query: &G::Query,
    entry: &[Neighbor<G::Id>],
    ef: usize,
    level: usize,
    visited: &mut G::Visited,
    mut discarded: Option<&mut Discarded<G::Id>>,
) -> Vec<Neighbor<G::Id>> {
    let mut candidates: BinaryHeap<Reverse<Neighbor<G::Id>>> = BinaryHeap::with_capacity(presize(ef, 2));
    let mut results: BinaryHeap<Neighbor<G::Id>> = BinaryHeap::with_capacity(presize(ef, 1));
    let mut discard = |n: Neighbor<G::Id>| {
        if let Some(d) = discarded.as_deref_mut() {
            d.push(n);
        }
    };
    for &e in entry {
        visited.insert(e.id);
        candidates.push(Reverse(e));
        results.push(e);
        if results.len() > ef {
            discard(results.pop().expect("over ef"));
        }
    }
    let mut links = Vec::new();
    let mut distances = Vec::new();
    while let Some(Reverse(c)) = candidates.pop() {
        if let Some(far) = results.peek() {
            if results.len() >= ef && c.distance > far.distance {
                break;
            }
        }
        links.clear();
        graph.neighbors(c.id, level, &mut links);
        // keep the unvisited ones and let their data load while the first are measured
        links.iter().for_each(|&n| visited.prefetch(n));
        links.retain(|&n| visited.insert(n));
        graph.prefetch_all(&links);
        graph.distances(query, &links, &mut distances);
        for (&n, &d) in links.iter().zip(&distances) {
            let nb = Neighbor { distance: d, id: n };
            if results.len() < ef || d < results.peek().map_or(f32::INFINITY, |f| f.distance) {
                graph.prefetch_neighbors(n, level);
                candidates.push(Reverse(nb));
                results.push(nb);
                if results.len() > ef {
                    discard(results.pop().expect("over ef"));
                }
            } else {
                discard(nb);
            }
        }
    }
    results.into_sorted_vec()
}

/// A level-0 search that an iterative scan continues batch by batch, as
/// pgvector's does: each batch is a layer search (at most `ef` results, the
/// caller's `ef` for that batch) started from the `ef` nearest elements the
/// earlier batches measured and did not return, with the visited set kept,
/// so no element is measured twice and none is returned twice. (Restarting
/// with a doubled ef instead measured the first batch's elements again in
/// every later one.)
pub struct IterativeSearch<Id, V> {
    visited: V,
    /// `None` for a search that will not go on (a scan without
    /// `iterative_scan`): then nothing is collected for later batches.
    discarded: Option<Discarded<Id>>,
    /// Elements the batches so far returned.
    returned: usize,
}

impl<Id: Copy + Ord, V: VisitedSet<Id>> IterativeSearch<Id, V> {
    /// The first batch, from `entry` (the descent's end, and the entry
    /// point), with an empty `visited` set (sized by the caller). Unless
    /// `resumable`, the elements not returned are not kept and `next`
    /// returns nothing.
    pub fn start<G: GraphRead<Id = Id, Visited = V>>(
        graph: &G,
        query: &G::Query,
        entry: &[Neighbor<Id>],
        ef: usize,
        visited: V,
        resumable: bool,
    ) -> (Self, Vec<Neighbor<Id>>) {
        let mut s = IterativeSearch { visited, discarded: resumable.then(Vec::new), returned: 0 };
        let found = s.batch(graph, query, entry, ef);
        (s, found)
    }

    /// The next batch; empty once every element reachable was returned.
    pub fn next<G: GraphRead<Id = Id, Visited = V>>(
        &mut self,
        graph: &G,
        query: &G::Query,
        ef: usize,
    ) -> Vec<Neighbor<Id>> {
        let ef = ef.max(1);
        let Some(discarded) = self.discarded.as_mut() else { return Vec::new() };
        if discarded.len() > ef {
            discarded.select_nth_unstable(ef - 1);
        }
        let entry: Vec<Neighbor<Id>> = discarded.drain(..ef.min(discarded.len())).collect();
        self.batch(graph, query, &entry, ef)
    }

    fn batch<G: GraphRead<Id = Id, Visited = V>>(
        &mut self,
        graph: &G,
        query: &G::Query,
        entry: &[Neighbor<Id>],
        ef: usize,
    ) -> Vec<Neighbor<Id>> {
        let found = search_layer_keeping(graph, query, entry, ef, 0, &mut self.visited, self.discarded.as_mut());
        self.returned += found.len();
        found
    }

    /// Elements measured so far (each was returned by a batch or waits for
    /// a later one): the scan's `max_scan_tuples` budget.
    pub fn measured(&self) -> usize {
        self.returned + self.waiting()
    }

    /// Elements measured and not returned, waiting for a later batch.
    pub fn waiting(&self) -> usize {
        self.discarded.as_ref().map_or(0, Vec::len)
    }
}

/// How many level-1 elements a query's search keeps as its entries to
/// level 0 ([`descend_to_level0`]). 8 rather than the 4 of the
/// twenty-fourth session (forty-first, in memory, the graph unchanged):
/// recall at ef 10 on SPLADE-shaped sparse rows 0.426 → 0.442, WordNet-384
/// 0.891 → 0.894, clustered 1,536-d 0.936 → 0.942, GloVe-50 0.566–0.567 →
/// 0.570–0.571 (for 10–15 % more time at ef 10 there; at 384 dimensions and
/// more within the noise), Fashion-MNIST unchanged.
pub const LEVEL1_WIDTH: usize = 8;

/// A query's way down to level 0: greedy descent (ef = 1) to level 1, then
/// a search of level 1 keeping the [`LEVEL1_WIDTH`] nearest, which are the
/// level-0 search's entries, nearest first. A greedy descent that ends in
/// the wrong cluster leaves a small ef at level 0 there; four entries reach
/// the right one far more often, for a few more distances (in memory,
/// clustered 1,536-d embeddings at ef 10: recall 0.906 → 0.928 for 314 →
/// 319 distances per query; GloVe-50 0.533 → 0.546 for 459 → 484, what
/// those distances buy by raising ef; docs/benchmarks.md, "Twenty-fourth
/// session").
pub fn descend_to_level0<G: GraphRead>(
    graph: &G,
    query: &G::Query,
    entry: Neighbor<G::Id>,
    top: usize,
) -> Vec<Neighbor<G::Id>> {
    if top == 0 {
        return vec![entry];
    }
    let at1 = descend(graph, query, entry, top, 1);
    search_layer(graph, query, &[at1], LEVEL1_WIDTH, 1, &mut graph.visited())
}

/// Greedy descent from `entry` at `top` down to `bottom + 1` (ef = 1 per
/// layer), returning the entry point for `bottom`. Each list is measured as
/// a layer search measures one (`prefetch_all`, then `distances`), so the
/// neighbours' data loads in parallel rather than one miss after another.
pub fn descend<G: GraphRead>(
    graph: &G,
    query: &G::Query,
    mut entry: Neighbor<G::Id>,
    top: usize,
    bottom: usize,
) -> Neighbor<G::Id> {
    let (mut links, mut distances) = (Vec::new(), Vec::new());
    for level in (bottom + 1..=top).rev() {
        loop {
            let mut improved = false;
            links.clear();
            graph.neighbors(entry.id, level, &mut links);
            graph.prefetch_all(&links);
            graph.distances(query, &links, &mut distances);
            for (&n, &d) in links.iter().zip(&distances) {
                if d < entry.distance {
                    entry = Neighbor { distance: d, id: n };
                    improved = true;
                }
            }
            if !improved {
                break;
            }
        }
    }
    entry
}
