//! Adding one row to a stored graph (`aminsert`'s algorithm).
//!
//! Search from the entry point as a build would; if the nearest element holds
//! an identical vector, add the heap TID to it; otherwise append a new element
//! with its neighbour lists (level 0 filled up to 2m as a build fills it:
//! docs/hnsw.md, "Full level-0 lists"), then add a back-link to each chosen
//! neighbour, re-choosing that neighbour's list with the heuristic when it
//! is full; the nearest the heuristic passed over link back into their fill
//! where the new element is nearer than a fill link they share with it
//! (`add_fill_backlink`). Each neighbour update re-reads the list under the page's exclusive lock and
//! merges, so concurrent inserts never lose each other's links. A new element
//! above the current top level becomes the entry point (meta page, exclusive).
//! The caller holds the update lock shared for the whole insert (VACUUM
//! waits for it before it frees deleted elements: vacuum.rs).

use super::PagedGraph;
use crate::hnsw::search::{fill_passed_over, Constructing};
use crate::hnsw::tuple::{
    encode_chunk, encode_element, encode_tidlist, parse_tidlist, set_tidlist, set_tidlist_next, ElementMut, ElementRef,
    Meta, NewElement, Tid,
};
use crate::hnsw::{covered_by, descend, random_level, search_layer, select_neighbors, GraphRead, Neighbor};
use crate::index::kind::Accumulator;
use crate::index::{ChainWalk, Elem, FilterKey, MetaPage, PageStore, Query};

/// TIDs per overflow list tuple made by inserts.
const OVERFLOW_LIST_CAPACITY: usize = 64;

/// Insert the row `raw` (stored element bytes, already prepared for the
/// metric; `query` is the same vector as a query) for `heap_tid`, with the
/// filter column's value `key`, into a graph whose meta page read `meta`
/// (with its dimensions set). The caller holds the update lock shared.
pub fn insert<S: PageStore + MetaPage<Meta>>(
    graph: &PagedGraph<S>,
    meta: &Meta,
    raw: &[u8],
    query: &Query,
    heap_tid: Tid,
    key: FilterKey,
) {
    insert_searching(graph, Search::<PagedGraph<S>>::Pages, meta, raw, query, heap_tid, key);
}

/// Where an insert's search for neighbours measures distances.
pub enum Search<'a, G> {
    /// Exactly, from the pages (which also reads each element's deleted flag).
    Pages,
    /// Through `G` (the same graph read through a cache of vector copies,
    /// possibly approximate, whose deleted flags are not read). The
    /// candidates each level's search returns are then measured again
    /// exactly from the pages, deleted flags with them, before any is
    /// chosen: a page read per candidate instead of one per distance.
    Through(&'a G),
}

/// [`insert`], with the search for neighbours run as `search` says.
/// Returns the new element, if one was made (not when the row joined an
/// element holding the same vector and key).
pub fn insert_searching<
    S: PageStore + MetaPage<Meta>,
    G: GraphRead<Id = Tid, Query = Query, Visited = rustc_hash::FxHashSet<Tid>>,
>(
    graph: &PagedGraph<S>,
    search: Search<'_, G>,
    meta: &Meta,
    raw: &[u8],
    query: &Query,
    heap_tid: Tid,
    key: FilterKey,
) -> Option<Tid> {
    let index = &graph.store;
    let m = meta.m as usize;
    let elem = graph.kind.elem;
    // A level from the heap TID, so a given row always gets the same level.
    let level = random_level(((heap_tid.block as u64) << 16) | heap_tid.offset as u64, 0x7275_7665, m);
    let mut cache = QueryCache::default();
    let ef_construction = meta.ef_construction as usize;

    let Some((ep, top)) = meta.entry() else {
        let tid = append_element(index, elem, raw, level, m, (heap_tid, key), &[], 0);
        // Another insert may have set an entry point meanwhile: then link to it.
        let first = index.update_meta(|mm: &mut Meta| match mm.entry() {
            None => {
                set_entry(mm, tid, level);
                true
            }
            Some(_) => false,
        });
        if !first {
            let (ep, top) = index.meta().entry().expect("set by the other insert");
            let at = Placement { level, ep, top, m, ef_construction };
            let (layers, _) = find_neighbors(graph, &search, query, &at, &mut cache);
            set_own_lists(index, tid, &layers);
            cache.own = Some((tid, own_lists(&layers, level)));
            add_backlinks(graph, tid, &layers, m, &mut cache);
            maybe_promote(graph, tid, level, m, &mut cache);
        }
        return Some(tid);
    };

    let at = Placement { level, ep, top, m, ef_construction };
    let (layers, level0) = find_neighbors(graph, &search, query, &at, &mut cache);
    // An identical vector with the same key already indexed just gains this heap TID.
    if let Some((_, nearest)) = layers.iter().find(|(l, _)| *l == 0) {
        let best = nearest.first().map_or(f32::INFINITY, |n| n.distance);
        for n in nearest.iter().take_while(|n| n.distance <= best) {
            if graph.raw(n.id).as_deref() == Some(raw) && add_heap_tid(index, n.id, heap_tid, key) {
                return None;
            }
        }
    }
    // The level-0 list: the heuristic's choice, then the fill links the
    // chosen neighbours' full lists will push out for the back-links,
    // handed over before the element is reachable, so that a search
    // meanwhile cannot miss them between the two lists; then, as a build
    // fills its lists, the nearest candidates the heuristic passed over,
    // up to 2m. All but the heuristic's choice are the list's fill: a later
    // back-link takes the place of the last of them (`add_backlink`).
    let mut lists = own_lists(&layers, level);
    let chosen = lists[0].len();
    for d in to_be_pushed_out(index, &layers) {
        if lists[0].len() < 2 * m && !lists[0].contains(&d) {
            lists[0].push(d);
        }
    }
    let handed = lists[0].len();
    for n in &level0 {
        if lists[0].len() >= 2 * m {
            break;
        }
        if !lists[0].contains(&n.id) {
            lists[0].push(n.id);
        }
    }
    let tid = append_element(index, elem, raw, level, m, (heap_tid, key), &lists, lists[0].len() - chosen);
    cache.handed.extend(lists[0][chosen..handed].iter().map(|&d| (tid, d)));
    let passed_over: Vec<Neighbor<Tid>> =
        level0.iter().filter(|n| lists[0][handed..].contains(&n.id)).copied().collect();
    cache.own = Some((tid, lists));
    add_backlinks(graph, tid, &layers, m, &mut cache);
    // The nearest the heuristic passed over link back too, as fill, as a
    // build's do (pgvector's back-links go to all 2m).
    // (the new element's list as the back-links left it, read once)
    if let Some(own) = (!passed_over.is_empty()).then(|| read_list(index, tid, 0)).flatten() {
        for n in &passed_over {
            add_fill_backlink(graph, n.id, tid, &own, n.distance, &level0, m, &mut cache);
        }
    }
    maybe_promote(graph, tid, level, m, &mut cache);
    Some(tid)
}

/// A neighbour the new element's heuristic passed over (one of its fill)
/// links back as a build's do (`crate::hnsw::build`): `new` joins `node`'s
/// level-0 fill in its place, nearest first, when the list has room, or
/// when `new` is nearer than the farthest fill link of `node` that `new`
/// links to as well, which then makes room. That link stays reachable
/// through `new`, so nothing is handed over and no list but `node`'s is
/// written; `new` keeps it for the rest of the insert. (Handing `node`'s
/// farthest fill link to `new` instead, as other back-links do, gave about
/// the same recall, Fashion-MNIST 0.977 against 0.979 at ef 10 and GloVe-50
/// 0.848 against 0.845, for a second list written per link; making room
/// with the shared link without the distance test spent the fill on links
/// inside clusters, the regression test's reinserted rows 0.998 → 0.978.)
/// A `new` too far for the fill joins `node`'s diverse links instead, the
/// same fill link making room, when none of them is as near to `new` as
/// `node` is: the heuristic would keep it (a build's rule,
/// `InMemoryGraph::add_fill_link`). `measured` is what `new`'s search
/// found, nearest first, so that test reads no vector.
/// `own` is `new`'s level-0 list. Returns whether `node` now links to `new`.
#[allow(clippy::too_many_arguments)]
fn add_fill_backlink<S: PageStore>(
    graph: &PagedGraph<S>,
    node: Tid,
    new: Tid,
    own: &[Tid],
    distance: f32,
    measured: &[Neighbor<Tid>],
    m: usize,
    cache: &mut QueryCache,
) -> bool {
    let index = &graph.store;
    let cap = 2 * m;
    for _attempt in 0..3 {
        let Some((current, fill)) = read_list_and_fill(index, node, 0) else { return false };
        if current.contains(&new) {
            return true;
        }
        let start = current.len() - fill;
        let mut wanted = current.clone();
        let mut fill_after = fill + 1;
        let mut diverse = false;
        if current.len() >= cap {
            // The farthest fill link `new` also links to makes room: it stays
            // reachable through `new`, so nothing is handed over.
            let Some(k) = current[start..].iter().rposition(|t| own.contains(t)) else { return false };
            if distance >= cache.distance(graph, node, current[start + k]) {
                // too far for the fill: a diverse link, unless one covers it
                if covered_by(&current[..start], measured, distance) {
                    return false;
                }
                diverse = true;
            }
            wanted.remove(start + k);
            // (kept by `new` for the rest of this insert)
            cache.handed.push((new, current[start + k]));
            fill_after = fill;
        }
        // a diverse link goes after the others; the fill is nearest first,
        // its place by bisection
        let place = if diverse {
            fill_after -= 1;
            0
        } else {
            wanted[start..].partition_point(|&t| cache.distance(graph, node, t) <= distance)
        };
        wanted.insert(start + place, new);
        match write_level0_if_unchanged(index, node, &current, &wanted, fill_after) {
            Some(false) => continue,
            written => return written == Some(true),
        }
    }
    false
}

/// What one insert (or one VACUUM relink) keeps between its list changes:
/// elements' vectors, as queries, read so far, and the elements it handed
/// to another's list because it took their place (`keep_reachable_through`):
/// that link may be their only one, so it is never given up again in the
/// same operation; and the new element's own choice of neighbours.
#[derive(Default)]
pub struct QueryCache {
    queries: rustc_hash::FxHashMap<Tid, Query>,
    /// Element vectors (stored bytes) read as the far side of the
    /// heuristic's pairs, or with the candidates just measured again from
    /// their pages ([`Self::keep_vector`]), kept for one choice (see
    /// [`Self::pair_distance`]).
    vectors: rustc_hash::FxHashMap<Tid, Vec<u8>>,
    handed: Vec<(Tid, Tid)>,
    /// The element being inserted and the lists it chose, by level.
    own: Option<(Tid, Vec<Vec<Tid>>)>,
}

impl QueryCache {
    /// Distance between elements `a` and `b` (reads `b` from its page).
    pub fn distance<S: PageStore>(&mut self, graph: &PagedGraph<S>, a: Tid, b: Tid) -> f32 {
        match query_of(&mut self.queries, &self.vectors, graph, a) {
            Some(query) => graph.distance(query, b),
            None => f32::INFINITY,
        }
    }

    /// The selection heuristic's distances between elements, for one
    /// choice: it measures each kept neighbour against every later
    /// candidate, so `b`'s vector is read from its pages once and kept until
    /// [`Self::forget_vectors`], which each caller calls when its choice is
    /// made (a decision whether a link may go must see the pages as they are
    /// then: keeping vectors for a whole insert once stranded an element in
    /// the seeded test `vacuum_during_inserts_and_searches`).
    pub fn pair_distance<S: PageStore>(&mut self, graph: &PagedGraph<S>, a: Tid, b: Tid) -> f32 {
        let Some(query) = query_of(&mut self.queries, &self.vectors, graph, a) else { return f32::INFINITY };
        if let Some(raw) = self.vectors.get(&b) {
            let mut sum = Accumulator::new(query, graph.kind.measure);
            sum.add(raw);
            return sum.finish();
        }
        let mut whole = Vec::new();
        let (d, chunks) = graph.read_distance(query, b, Some(&mut whole));
        if chunks > 0 {
            self.vectors.insert(b, whole);
        }
        d
    }

    /// Keep `raw`, element `tid`'s vector as just read from its pages, for
    /// the choice about to be made (as if [`Self::pair_distance`] had read
    /// it): a candidate measured again from its pages is then not read a
    /// second time as the far side of a pair.
    pub fn keep_vector(&mut self, tid: Tid, raw: Vec<u8>) {
        self.vectors.insert(tid, raw);
    }

    /// Drop the vectors [`Self::pair_distance`] kept.
    pub fn forget_vectors(&mut self) {
        self.vectors.clear();
    }
}

/// Element `a`'s vector as a query, made once per operation: from the
/// vector kept for the current choice if there is one, else read.
fn query_of<'q, S: PageStore>(
    queries: &'q mut rustc_hash::FxHashMap<Tid, Query>,
    kept: &rustc_hash::FxHashMap<Tid, Vec<u8>>,
    graph: &PagedGraph<S>,
    a: Tid,
) -> Option<&'q Query> {
    use std::collections::hash_map::Entry;
    match queries.entry(a) {
        Entry::Occupied(e) => Some(e.into_mut()),
        Entry::Vacant(v) => {
            let query = match kept.get(&a) {
                Some(raw) => graph.kind.elem.query(raw),
                None => graph.kind.elem.query(&graph.raw(a)?),
            };
            Some(&*v.insert(query))
        }
    }
}

fn set_entry(m: &mut Meta, tid: Tid, level: usize) {
    m.entry_block = tid.block;
    m.entry_offset = tid.offset as u32;
    m.entry_level = level as i32;
}

/// Make `tid` (just inserted, at `level`) the entry point if its level is
/// above the current entry point's. Every element is reachable through
/// level-0 links from the entry point (searches and iterative scans walk
/// level 0 from it); the new element is reachable from the old entry point
/// but not necessarily the other way round (its few level-0 links may all
/// lead into one part of the graph), so it first links to the old entry
/// point at level 0. Written before the meta page, so a crash between the
/// two leaves the old entry point, from which everything is reachable.
/// (Seeded test `a_crash_between_two_writes_strands_no_committed_row`,
/// seed 20252: with m = 2 a promotion cut nine elements off.)
fn maybe_promote<S: PageStore + MetaPage<Meta>>(
    graph: &PagedGraph<S>,
    tid: Tid,
    level: usize,
    m: usize,
    cache: &mut QueryCache,
) {
    let index = &graph.store;
    let Some((old, old_level)) = index.meta().entry() else { return };
    if old_level >= level || old == tid {
        return;
    }
    keep_reachable_through(graph, tid, old, 0, 2 * m, true, cache);
    index.update_meta(|m: &mut Meta| {
        if m.entry_level < level as i32 {
            set_entry(m, tid, level);
        }
    });
}

/// Where a new element goes: its level, the entry point and top level it
/// starts from, and the index's m and ef_construction.
#[derive(Clone, Copy)]
struct Placement {
    level: usize,
    ep: Tid,
    top: usize,
    m: usize,
    ef_construction: usize,
}

/// For each level from min(level, top) down to 0: the neighbours the
/// heuristic selects among the ef_construction nearest found; and the live
/// ones found at level 0, nearest first.
type Found = (Vec<(usize, Vec<Neighbor<Tid>>)>, Vec<Neighbor<Tid>>);

/// What [`Found`] says, searching as `search` says.
fn find_neighbors<S: PageStore, G: GraphRead<Id = Tid, Query = Query, Visited = rustc_hash::FxHashSet<Tid>>>(
    graph: &PagedGraph<S>,
    search: &Search<'_, G>,
    v: &Query,
    at: &Placement,
    cache: &mut QueryCache,
) -> Found {
    match search {
        Search::Pages => find_neighbors_in(graph, graph, false, v, at, cache),
        Search::Through(g) => find_neighbors_in(graph, *g, true, v, at, cache),
    }
}

/// `find_neighbors` searching `search`; with `remeasure`, each level's
/// candidates measured again from the pages.
fn find_neighbors_in<S: PageStore, G: GraphRead<Id = Tid, Query = Query, Visited = rustc_hash::FxHashSet<Tid>>>(
    graph: &PagedGraph<S>,
    search: &G,
    remeasure: bool,
    v: &Query,
    at: &Placement,
    cache: &mut QueryCache,
) -> Found {
    let Placement { level, ep, top, m, ef_construction } = *at;
    // following the heuristic's links only, as a build's searches do
    let search = &Constructing(search);
    let start = Neighbor { distance: search.distance(v, ep), id: ep };
    let mut entries = vec![if top > level { descend(search, v, start, top, level) } else { start }];
    let (mut layers, mut level0) = (Vec::new(), Vec::new());
    for l in (0..=level.min(top)).rev() {
        // sized for about ef_construction × m visits, so it does not rehash
        let mut visited = rustc_hash::FxHashSet::with_capacity_and_hasher(
            crate::hnsw::presize(ef_construction, 16),
            Default::default(),
        );
        let mut candidates = search_layer(search, v, &entries, ef_construction, l, &mut visited);
        if remeasure {
            // the vectors read here are the pairs' far sides below
            for c in candidates.iter_mut() {
                let mut whole = Vec::new();
                let (distance, chunks) = graph.read_distance(v, c.id, Some(&mut whole));
                c.distance = distance;
                if chunks > 0 {
                    cache.keep_vector(c.id, whole);
                }
            }
            candidates.sort();
        }
        // deleted elements guide the search but are not linked to
        let mut live: Vec<Neighbor<Tid>> = candidates.iter().copied().filter(|n| !graph.seen_deleted(n.id)).collect();
        if live.is_empty() && l == 0 {
            live = live_beyond(graph, v, &candidates, ef_construction);
        }
        let selected = select_neighbors(&live, m, |a, b| cache.pair_distance(graph, a, b));
        cache.forget_vectors();
        layers.push((l, selected));
        if l == 0 {
            level0 = live;
        }
        entries = candidates;
    }
    (layers, level0)
}

/// Live elements found through the level-0 links of `deleted` (a search's
/// candidates, every one of them deleted), breadth-first through at most
/// `4 * want` deleted elements, until `want` are found; nearest first. An
/// insert whose search met only elements VACUUM is removing would
/// otherwise link to nothing and nothing to it, and its row could never be
/// found (seen in the seeded test `vacuum_during_inserts_and_searches`,
/// seed 10261, under a schedule with fewer page reads; test
/// `an_insert_among_deleted_elements_links_to_live_ones`).
fn live_beyond<S: PageStore>(
    graph: &PagedGraph<S>,
    v: &Query,
    deleted: &[Neighbor<Tid>],
    want: usize,
) -> Vec<Neighbor<Tid>> {
    let mut seen: rustc_hash::FxHashSet<Tid> = deleted.iter().map(|n| n.id).collect();
    let mut queue: std::collections::VecDeque<Tid> = deleted.iter().map(|n| n.id).collect();
    let (mut live, mut budget, mut links) = (Vec::new(), 4 * want.max(1), Vec::new());
    while let Some(d) = queue.pop_front() {
        if live.len() >= want || budget == 0 {
            break;
        }
        budget -= 1;
        links.clear();
        graph.read_neighbors(d, 0, &mut links);
        for &n in &links {
            if !seen.insert(n) {
                continue;
            }
            let (distance, chunks) = graph.read_distance(v, n, None);
            if graph.seen_deleted(n) {
                queue.push_back(n);
            } else if chunks > 0 {
                live.push(Neighbor { distance, id: n });
            }
        }
    }
    live.sort();
    live
}

/// The fill links the level-0 back-links to a new element with these
/// `layers` will push out: the last of each chosen neighbour whose list is
/// full and holds fill (see [`add_backlink`]), unless deleted.
fn to_be_pushed_out<S: PageStore>(index: &S, layers: &[(usize, Vec<Neighbor<Tid>>)]) -> Vec<Tid> {
    let Some((_, selected)) = layers.iter().find(|(l, _)| *l == 0) else { return Vec::new() };
    let mut out = Vec::new();
    for s in selected {
        let last = index.read(s.id, |b| {
            let e = ElementRef::parse(b)?;
            let full = e.neighbor_count(0) >= e.layout().capacity(0);
            (e.level0_fill() > 0 && full).then(|| e.neighbors(0).last()).flatten()
        });
        if let Some(d) = last.flatten() {
            if !out.contains(&d) && !is_deleted(index, d) {
                out.push(d);
            }
        }
    }
    out
}

fn own_lists(layers: &[(usize, Vec<Neighbor<Tid>>)], level: usize) -> Vec<Vec<Tid>> {
    let mut lists = vec![Vec::new(); level + 1];
    for (l, selected) in layers {
        lists[*l] = selected.iter().map(|n| n.id).collect();
    }
    lists
}

fn set_own_lists<S: PageStore>(index: &S, tid: Tid, layers: &[(usize, Vec<Neighbor<Tid>>)]) {
    index.update(tid, |bytes| match ElementMut::parse(bytes) {
        Some(mut e) => {
            for (l, selected) in layers {
                e.set_neighbors(*l, &selected.iter().map(|n| n.id).collect::<Vec<_>>());
            }
            (true, ())
        }
        None => (false, ()),
    });
}

fn add_backlinks<S: PageStore>(
    graph: &PagedGraph<S>,
    tid: Tid,
    layers: &[(usize, Vec<Neighbor<Tid>>)],
    m: usize,
    cache: &mut QueryCache,
) {
    for (l, selected) in layers {
        let mut linked = false;
        for s in selected {
            linked |= add_backlink(graph, s.id, tid, s.distance, *l, m, Must::No, cache);
        }
        // Nobody took the new element in at the bottom level: one of its
        // neighbours must, or it could never be found; the nearest that can
        // without stranding an element, else the nearest.
        if !linked && *l == 0 {
            let safely = selected.iter().any(|s| add_backlink(graph, s.id, tid, s.distance, 0, m, Must::Safely, cache));
            if let (false, Some(s)) = (safely, selected.first()) {
                add_backlink(graph, s.id, tid, s.distance, 0, m, Must::Always, cache);
            }
        }
    }
}

/// Write a new element (and its vector chunks) with the given neighbour
/// lists, the last `fill` links at level 0 its fill; `v` is the vector as
/// element bytes.
#[allow(clippy::too_many_arguments)]
fn append_element<S: PageStore + MetaPage<Meta>>(
    index: &S,
    elem: Elem,
    v: &[u8],
    level: usize,
    m: usize,
    (heap_tid, key): (Tid, FilterKey),
    neighbors: &[Vec<Tid>],
    fill: usize,
) -> Tid {
    let eb = elem.bytes();
    let dims = v.len() / eb;
    let first = dims.min(index.geometry().max_first_chunk_bytes(level, m) / eb);
    // Chunks first, last to first, so each points at the next and the element at the first.
    let mut bounds = Vec::new();
    let mut pos = first;
    while pos < dims {
        let len = (dims - pos).min(index.geometry().max_chunk_bytes() / eb);
        bounds.push((pos, len));
        pos += len;
    }
    let mut next = Tid::INVALID;
    for &(pos, len) in bounds.iter().rev() {
        next = index.append(&encode_chunk(&v[pos * eb..(pos + len) * eb], eb, next));
    }
    let mut bytes = encode_element(&NewElement {
        level,
        m,
        heap_tids: &[heap_tid],
        overflow: Tid::INVALID,
        next_chunk: next,
        neighbors,
        chunk: &v[..first * eb],
        elem_bytes: eb,
        key,
    });
    if let (Some(mut e), Some(list)) = (ElementMut::parse(&mut bytes), neighbors.first()) {
        e.set_level0(list, fill);
    }
    let tid = index.append(&bytes);
    index.elements_added(1);
    tid
}

/// Whether a back-link must be made when `node`'s list is full and the
/// heuristic does not choose the newcomer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Must {
    /// No: the heuristic decides.
    No,
    /// Yes, if the link it takes the place of stays reachable.
    Safely,
    /// Yes (the newcomer's last chance of an in-link).
    Always,
}

/// Add `new` to `node`'s list at `level`; when full, keep the heuristic's
/// choice unless `must` says otherwise. Returns whether `node` now links
/// to `new`.
#[allow(clippy::too_many_arguments)]
pub fn add_backlink<S: PageStore>(
    graph: &PagedGraph<S>,
    node: Tid,
    new: Tid,
    distance: f32,
    level: usize,
    m: usize,
    must: Must,
    cache: &mut QueryCache,
) -> bool {
    let index = &graph.store;
    let cap = if level == 0 { 2 * m } else { m };
    // Read the current list, choose outside any lock, then write if unchanged.
    for _attempt in 0..3 {
        let Some((current, fill)) = read_list_and_fill(index, node, level) else { return false };
        if current.contains(&new) {
            return true;
        }
        if fill > 0 {
            // A level-0 list the build filled beyond the heuristic's choice
            // (`crate::hnsw::build`): `new` joins the heuristic's links and,
            // if the list is full, its farthest fill link makes room, handed
            // to `new` first so that it stays reachable (a deleted one, which
            // VACUUM is removing, is let go). Nothing is measured.
            let mut wanted = current.clone();
            wanted.insert(current.len() - fill, new);
            let (dropped, fill) = if wanted.len() > cap { (wanted.pop(), fill - 1) } else { (None, fill) };
            if let Some(d) = dropped.filter(|&d| !is_deleted(index, d)) {
                if !keep_reachable_through(graph, new, d, level, cap, false, cache) {
                    match forced_in(graph, node, new, level, &current, fill, must) {
                        Forced::Retry => continue,
                        Forced::Done(linked) => return linked,
                        Forced::Anyway => {}
                    }
                }
            }
            match write_level0_if_unchanged(index, node, &current, &wanted, fill) {
                Some(false) => continue,
                written => return written == Some(true),
            }
        }
        let mut wanted = current.clone();
        let (mut dropped, mut level0_fill) = (None, None);
        if current.len() < cap {
            wanted.push(new);
        } else {
            // Full: the heuristic decides whether `new` earns a place; if it
            // does, it takes the place of one neighbour only (the farthest the
            // heuristic let go), so one write never strips several links.
            let mut cands: Vec<Neighbor<Tid>> =
                current.iter().map(|&t| Neighbor { distance: cache.distance(graph, node, t), id: t }).collect();
            // distance() noted which are deleted: such a neighbour (VACUUM is
            // removing it) gives up its place first
            if let Some(slot) = current.iter().position(|&t| graph.seen_deleted(t)) {
                wanted[slot] = new;
                match write_list_if_unchanged(index, node, level, &current, &wanted) {
                    Some(false) => continue,
                    written => return written == Some(true),
                }
            }
            cands.push(Neighbor { distance, id: new });
            cands.sort();
            let selected = select_neighbors(&cands, cap, |a, b| cache.pair_distance(graph, a, b));
            cache.forget_vectors();
            let chosen: Vec<Tid> = selected.iter().map(|n| n.id).collect();
            if level == 0 {
                // As a build re-chooses a full level-0 list: the heuristic's
                // links, then the nearest it passed over as the fill, so that
                // the next back-links take the place of fill links without
                // measuring; of the 2m + 1 candidates one is let go.
                let kept = fill_passed_over(selected, &cands, cap);
                if kept.iter().any(|k| k.id == new) {
                    let out = cands.iter().find(|c| !kept.iter().any(|k| k.id == c.id));
                    if let Some(out) = out {
                        wanted = kept.iter().map(|k| k.id).collect();
                        level0_fill = Some(kept.len() - chosen.len());
                        dropped = Some(out.id);
                    }
                }
            }
            if level0_fill.is_none() && !chosen.contains(&new) && must == Must::No {
                return false;
            }
            let let_go = cands.iter().rev().find(|c| c.id != new && !chosen.contains(&c.id));
            let farthest = || cands.iter().rev().find(|c| c.id != new);
            if level0_fill.is_none() {
                let Some(out) = let_go.or_else(|| if must != Must::No { farthest() } else { None }) else {
                    return false;
                };
                let Some(slot) = current.iter().position(|&t| t == out.id) else { return false };
                wanted[slot] = new;
                dropped = Some(out.id);
            }
        }
        if let Some(d) = dropped.filter(|&d| !graph.seen_deleted(d)) {
            // `node` is to link to `new` instead of `d`, so a link from `new`
            // keeps `d` reachable along the path it was reached by (this may
            // be its last in-link). Written first: at every moment, for a
            // search running meanwhile or after a crash, `d` is reachable
            // through `node` or through `new` (seeded test
            // `concurrent_inserts_and_searches`, seed 562: a scan between
            // the two writes, made the other way round, missed `d`).
            if !keep_reachable_through(graph, new, d, level, cap, false, cache) {
                // `d` could lose its last in-link: `new` does without this
                // one, unless it must have it
                match forced_in(graph, node, new, level, &current, 0, must) {
                    Forced::Retry => continue,
                    Forced::Done(linked) => return linked,
                    Forced::Anyway => {}
                }
            }
        }
        // (a list written whole by set_neighbors has no fill: the same as 0)
        let written = write_keeping_fill(index, node, level, &current, &wanted, level0_fill.unwrap_or(0));
        if written != Some(false) {
            return written == Some(true);
        }
    }
    false
}

/// What [`forced_in`] did.
enum Forced {
    /// `node`'s list changed meanwhile: start again.
    Retry,
    /// Written (true) or not (false): the back-link's result.
    Done(bool),
    /// `node` must take `new`, and no link may make room without being
    /// handed over: the planned write goes ahead (its dropped element may
    /// be stranded until a VACUUM relinks it).
    Anyway,
}

/// A back-link whose dropped element could not be handed to `new` (no
/// place in `new`'s full list may be given up). Unless `must`, `new` does
/// without it. If `node` must take `new` (nobody else did), `new` takes
/// the place of a link of `node` that `new` already links to, which so
/// stays reachable through `new`; failing that, with `Must::Always`, the
/// planned write goes ahead (seeded test
/// `tie_heavy_inner_product_keeps_every_row_reachable`, seed 30222: with
/// m = 2 an element was dropped, not handed over, and stranded, where
/// another neighbour could have taken the newcomer safely).
fn forced_in<S: PageStore>(
    graph: &PagedGraph<S>,
    node: Tid,
    new: Tid,
    level: usize,
    current: &[Tid],
    fill: usize,
    must: Must,
) -> Forced {
    if must == Must::No {
        return Forced::Done(false);
    }
    let index = &graph.store;
    let Some(own) = read_list(index, new, level) else { return Forced::Done(false) };
    let Some(slot) = current.iter().rposition(|t| own.contains(t)) else {
        return if must == Must::Always { Forced::Anyway } else { Forced::Done(false) };
    };
    let mut wanted = current.to_vec();
    wanted[slot] = new;
    // (a link replaced in place: as many links as before are fill)
    match write_keeping_fill(index, node, level, current, &wanted, fill) {
        Some(false) => Forced::Retry,
        written => Forced::Done(written == Some(true)),
    }
}

pub fn read_list<S: PageStore>(index: &S, node: Tid, level: usize) -> Option<Vec<Tid>> {
    index.read(node, |b| ElementRef::parse(b).map(|e| e.neighbors(level).collect())).flatten()
}

/// `node`'s list at `level` and how many of its last links fill it beyond
/// the heuristic's choice (0 above level 0).
fn read_list_and_fill<S: PageStore>(index: &S, node: Tid, level: usize) -> Option<(Vec<Tid>, usize)> {
    index
        .read(node, |b| {
            ElementRef::parse(b).map(|e| (e.neighbors(level).collect(), if level == 0 { e.level0_fill() } else { 0 }))
        })
        .flatten()
}

/// Whether element `tid` is flagged deleted (or is no element).
fn is_deleted<S: PageStore>(index: &S, tid: Tid) -> bool {
    index.read(tid, |b| ElementRef::parse(b).map(|e| e.is_deleted())).flatten().unwrap_or(true)
}

/// [`write_list_if_unchanged`] at level 0, the last `fill` links of
/// `wanted` filling the list.
fn write_level0_if_unchanged<S: PageStore>(
    index: &S,
    node: Tid,
    current: &[Tid],
    wanted: &[Tid],
    fill: usize,
) -> Option<bool> {
    index
        .update(node, |bytes| {
            let Some(mut e) = ElementMut::parse(bytes) else { return (false, None) };
            if !e.as_ref().neighbors(0).eq(current.iter().copied()) {
                return (false, Some(false));
            }
            e.set_level0(wanted, fill);
            (true, Some(true))
        })
        .flatten()
}

/// [`write_list_if_unchanged`], the last `fill` links of a level-0 list
/// its fill (ignored above level 0).
fn write_keeping_fill<S: PageStore>(
    index: &S,
    node: Tid,
    level: usize,
    current: &[Tid],
    wanted: &[Tid],
    fill: usize,
) -> Option<bool> {
    if level == 0 {
        write_level0_if_unchanged(index, node, current, wanted, fill)
    } else {
        write_list_if_unchanged(index, node, level, current, wanted)
    }
}

/// Set `node`'s list at `level` to `wanted` if it still is `current`:
/// `Some(true)` written, `Some(false)` changed under us (retry), `None` gone.
pub fn write_list_if_unchanged<S: PageStore>(
    index: &S,
    node: Tid,
    level: usize,
    current: &[Tid],
    wanted: &[Tid],
) -> Option<bool> {
    index
        .update(node, |bytes| {
            let Some(mut e) = ElementMut::parse(bytes) else { return (false, None) };
            if !e.as_ref().neighbors(level).eq(current.iter().copied()) {
                return (false, Some(false));
            }
            e.set_neighbors(level, wanted);
            (true, Some(true))
        })
        .flatten()
}

/// The position in `list` (a neighbour list of `node`) of the neighbour
/// farthest from `node`.
pub fn farthest_slot<S: PageStore>(
    graph: &PagedGraph<S>,
    node: Tid,
    list: &[Tid],
    cache: &mut QueryCache,
) -> Option<usize> {
    list.iter()
        .enumerate()
        .map(|(k, &t)| (k, cache.distance(graph, node, t)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, _)| k)
}

/// Give `node` (the element just linked in) a link to `target` (the
/// neighbour it displaced), so that `target` stays reachable along the path
/// it was reached by: this may have been its last in-link. When `node`'s
/// list is full, `target` takes the place of `node`'s farthest neighbour,
/// which a search found moments ago and so has in-links of its own. (Only
/// appending when there was room left far elements, the first a full list
/// lets go, unreachable on tie-heavy or widely spread data.)
fn keep_reachable_through<S: PageStore>(
    graph: &PagedGraph<S>,
    node: Tid,
    target: Tid,
    level: usize,
    cap: usize,
    must: bool,
    cache: &mut QueryCache,
) -> bool {
    let index = &graph.store;
    for _attempt in 0..3 {
        let Some((current, fill)) = read_list_and_fill(index, node, level) else { return false };
        if node == target {
            return true;
        }
        if current.contains(&target) {
            // already linked: that link is now the one `target` relies on
            // (seeded test `tie_heavy_inner_product_keeps_every_row_reachable`,
            // seed 30482: it was given up for a later hand-over)
            cache.handed.push((node, target));
            return true;
        }
        let mut wanted = current.clone();
        // (at level 0, a list with fill keeps it: `target` joins the fill)
        let mut fill_after = fill;
        if current.len() < cap {
            wanted.push(target);
            fill_after += usize::from(fill > 0);
        } else {
            // Only a neighbour that has in-links of its own may give up its
            // place: not one handed to `node` earlier in this operation
            // (seeded test `concurrent_inserts_and_searches`, seed 184: an
            // insert handed a displaced element to the new one, then took it
            // back for the next one), and, in the new element's list, only
            // one it chose itself: one that another insert linked in
            // meanwhile may have no other in-link (seed 30814).
            // With `must` (a new entry point's link to the old one), when no
            // neighbour may go, one handed over or linked in meanwhile does.
            let own = cache.own.as_ref().filter(|(t, _)| *t == node).and_then(|(_, lists)| lists.get(level));
            let mut free: Vec<Tid> = current
                .iter()
                .copied()
                .filter(|&t| !cache.handed.contains(&(node, t)) && own.is_none_or(|o| o.contains(&t)))
                .collect();
            let any = free.is_empty() && must;
            if any {
                free = current.clone();
            }
            // The fill is nearest first: its last free link is the farthest
            // of it, found without measuring. (When any link may go, the
            // farthest measured goes, as before lists had fill: the last
            // fill link may be one just handed over, seed 40938 of
            // `concurrent_inserts_into_a_built_graph_and_searches`.)
            let fill_start = current.len() - fill;
            let last_fill = free.iter().rposition(|t| current[fill_start..].contains(t)).filter(|_| !any);
            let Some(k) = last_fill.or_else(|| farthest_slot(graph, node, &free, cache)) else { return false };
            let Some(slot) = current.iter().position(|&t| t == free[k]) else { return false };
            wanted[slot] = target;
        }
        match write_keeping_fill(index, node, level, &current, &wanted, fill_after) {
            Some(false) => {}
            Some(true) => {
                cache.handed.push((node, target));
                return true;
            }
            None => return false,
        }
    }
    false
}

/// Add a heap TID to an existing element (inline, else its overflow lists).
fn add_heap_tid<S: PageStore>(index: &S, element: Tid, heap_tid: Tid, key: FilterKey) -> bool {
    // Ok: the TID went into the element's inline slots; Err(first overflow
    // list, INVALID if none yet): they are full.
    let inline = index.update(element, |bytes| match ElementMut::parse(bytes) {
        Some(mut e) if !e.as_ref().is_deleted() && e.as_ref().filter_key() == key => {
            if e.push_heap_tid(heap_tid) {
                (true, Some(Ok(())))
            } else {
                (false, Some(Err(e.as_ref().overflow())))
            }
        }
        _ => (false, None),
    });
    let mut list = match inline.flatten() {
        None => return false,
        Some(Ok(())) => return true,
        Some(Err(list)) => list,
    };
    // Walk the overflow lists for one with room.
    let mut last = Tid::INVALID;
    let mut walk = ChainWalk::tuples(index, "TID list");
    while list.is_valid() {
        walk.step();
        let added = index.update(list, |bytes| {
            let Some((mut tids, next)) = parse_tidlist(bytes) else { return (false, (false, Tid::INVALID)) };
            tids.push(heap_tid);
            if set_tidlist(bytes, &tids) {
                (true, (true, next))
            } else {
                (false, (false, next))
            }
        });
        match added {
            Some((true, _)) => return true,
            Some((false, next)) => {
                last = list;
                list = next;
            }
            None => return false,
        }
    }
    // All full (or none yet): a new list, linked from the element or the last list.
    let new_list = index.append(&encode_tidlist(&[heap_tid], OVERFLOW_LIST_CAPACITY, Tid::INVALID));
    if last.is_valid() {
        index.update(last, |bytes| (set_tidlist_next(bytes, new_list), ()));
    } else {
        index.update(element, |bytes| match ElementMut::parse(bytes) {
            Some(mut e) => {
                e.set_overflow(new_list);
                (true, ())
            }
            None => (false, ()),
        });
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::tests::{kind, new_store_dims};
    use super::*;
    use crate::hnsw::tuple::Meta;

    /// A passed-over neighbour's back-link too far for its fill joins its
    /// diverse links when none of them is as near to the newcomer as the
    /// neighbour (the build's rule, `far_back_links_join_the_diverse_links_
    /// only_where_none_leads`), the farthest fill link the newcomer shares
    /// making room; a newcomer a diverse link covers is left out.
    #[test]
    fn far_fill_backlinks_join_the_diverse_links_only_where_none_leads() {
        let points = crate::hnsw::build::tests::FAR_BACKLINK_POINTS;
        let store = new_store_dims(2, 8, 2);
        let meta: Meta = store.meta();
        let row = |i: usize| (Tid { block: 1, offset: i as u16 + 1 }, FilterKey::Absent);
        let tids: Vec<Tid> = points
            .iter()
            .enumerate()
            .map(|(i, p)| append_element(&store, Elem::F32, bytemuck::cast_slice(p), 0, 2, row(i), &[Vec::new()], 0))
            .collect();
        let ids: Vec<Tid> = [1, 2, 3, 4].iter().map(|&i| tids[i]).collect();
        assert_eq!(write_level0_if_unchanged(&store, tids[0], &[], &ids, 3), Some(true));
        let graph = PagedGraph::open(&store, &meta, kind(&meta));
        let measured = |from: usize| {
            let q = Query::F32(points[from].to_vec());
            let mut all: Vec<Neighbor<Tid>> = (0..7)
                .filter(|&i| i != from)
                .map(|i| Neighbor { distance: graph.distance(&q, tids[i]), id: tids[i] })
                .collect();
            all.sort();
            all
        };
        let to_origin = |from: usize| graph.distance(&Query::F32(points[from].to_vec()), tids[0]);
        let mut cache = QueryCache::default();
        // each newcomer links to 0's farthest fill link (4), which may make room
        let own = |from: usize| vec![tids[0], tids[4], tids[from]];
        // 6: farther than the fill, and diverse link 1 is nearer to it than 0 is
        assert!(!add_fill_backlink(&graph, tids[0], tids[6], &own(6), to_origin(6), &measured(6), 2, &mut cache));
        assert_eq!(read_list_and_fill(&store, tids[0], 0), Some((ids.clone(), 3)));
        // 5: as far, but nothing of 0's leads north: a diverse link now
        assert!(add_fill_backlink(&graph, tids[0], tids[5], &own(5), to_origin(5), &measured(5), 2, &mut cache));
        assert_eq!(read_list_and_fill(&store, tids[0], 0), Some((vec![tids[1], tids[5], tids[2], tids[3]], 2)));
    }
}
