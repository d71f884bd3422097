//! VACUUM's algorithm (`ambulkdelete`), in six steps:
//!
//! 1. Remove dead heap TIDs from elements and their overflow lists; an
//!    element left with none is marked deleted. The deleted elements' TIDs go
//!    into a `TidStore` (about 1–3 bytes per TID instead of 6).
//! 2. Take the update lock exclusively for a moment: every insert or search
//!    that started before step 1 finished is done. Later inserts see the
//!    deleted flags (`PagedGraph::seen_deleted`) and never link to a deleted
//!    element; searches still pass through them.
//! 3. Repair: every list of a live element that names a deleted one gets a
//!    new list (`repair_neighbors`: its live neighbours plus the live
//!    elements reached through the deleted ones, thinned by the heuristic).
//!    In memory when the graph fits VACUUM's memory budget (snapshot.rs: one
//!    read of the pages, the repair on the build's threads, one WAL record
//!    per page), else element by element from the pages; either way a list
//!    is written only if it did not change meanwhile (else recomputed from
//!    the pages). A deleted entry point is replaced by a live element of the
//!    top level; live elements no search reaches are relinked.
//! 4. Lists whose repair lost races to inserts are repaired again until none
//!    is left (a repaired list stays clean: inserts never add a deleted
//!    element), the last few, if any keep changing, with the update lock
//!    held exclusively for that moment.
//! 5. The meta page's generation is bumped (searches' vector caches of the
//!    old one are dropped), then the update lock is taken exclusively for a
//!    moment once more: every search or insert that could still hold a
//!    deleted element's TID has finished, and none started since can reach
//!    one (no list names one, the entry point is live).
//! 6. The deleted elements, their vector chunks and overflow TID lists are
//!    removed from their pages while searches and inserts go on; their
//!    space goes to the free space map, where inserts find it
//!    (`PageStore::append`).
//!
//! Every page change is one page-store call (one Generic WAL record in the
//! extension), made under that page's exclusive lock alone.

use rustc_hash::FxHashSet;

use super::insert::{add_backlink, farthest_slot, read_list, write_list_if_unchanged, Must, QueryCache};
use super::{snapshot, PagedGraph};
use crate::hnsw::tuple::{parse_chunk, parse_tidlist, set_tidlist, ElementMut, ElementRef, Meta, Tid, KIND_TIDLIST};
use crate::hnsw::{descend, repair_neighbors, search_layer, GraphRead, Neighbor};
use crate::index::{ChainWalk, MetaPage, PageStore};
use crate::tidstore::TidStore;

/// What VACUUM may use: the graph's m, memory for the in-memory repair and
/// the level-0 walk (`autovacuum_work_mem` or `maintenance_work_mem` in the
/// extension), and threads for the repair.
pub struct VacuumSettings {
    pub m: usize,
    pub memory_budget: usize,
    pub threads: usize,
}

/// What `remove_deleted` did, for the server log.
pub struct VacuumReport {
    pub deleted: usize,
    /// Which repair path ran, in words that do not change from run to run.
    pub path: &'static str,
    pub how: String,
    /// Lists repaired with inserts and searches held off.
    pub stubborn: usize,
    pub relinked: usize,
    /// Seconds repairing, relinking, freeing.
    pub seconds: [f64; 3],
}

/// What step 1 found.
pub struct Stripped {
    /// Heap TIDs removed and left.
    pub removed: f64,
    pub remaining: f64,
    /// Deleted elements: flagged now, or by an earlier VACUUM that did not
    /// get to free them.
    pub deleted: Vec<(u32, u16)>,
}

/// Step 1: remove the heap TIDs `is_dead` names from elements and overflow
/// lists, page by page (one log record per page); flag an element left with
/// none deleted.
pub fn strip_dead_tids<S: PageStore>(index: &S, is_dead: impl Fn(Tid) -> bool) -> Stripped {
    let mut removed = 0f64;
    let mut remaining = 0f64;
    // Elements whose inline TIDs all died: deleted once their overflow lists are empty too.
    let mut emptied: Vec<(Tid, Tid)> = Vec::new();
    // Deleted elements: flagged now, or by an earlier VACUUM that did not get to free them.
    let mut deleted: Vec<(u32, u16)> = Vec::new();
    for block in 1..index.nblocks() {
        index.update_page(block, |offset, bytes| {
            if let Some(mut e) = ElementMut::parse(bytes) {
                if e.as_ref().is_deleted() {
                    deleted.push((block, offset));
                    return false;
                }
                let gone = e.retain_heap_tids(|t| !is_dead(t));
                removed += gone as f64;
                let left = e.as_ref().heap_tids().count();
                remaining += left as f64;
                if left == 0 {
                    emptied.push((Tid { block, offset }, e.as_ref().overflow()));
                }
                return gone > 0;
            }
            if bytes.first() == Some(&KIND_TIDLIST) {
                if let Some((tids, _)) = parse_tidlist(bytes) {
                    let kept: Vec<Tid> = tids.iter().copied().filter(|&t| !is_dead(t)).collect();
                    removed += (tids.len() - kept.len()) as f64;
                    remaining += kept.len() as f64;
                    if kept.len() != tids.len() {
                        return set_tidlist(bytes, &kept);
                    }
                }
            }
            false
        });
        index.check_interrupts();
    }
    for (element, mut list) in emptied {
        let mut empty = true;
        let mut walk = ChainWalk::tuples(index, "TID list");
        while list.is_valid() && empty {
            walk.step();
            match index.read(list, parse_tidlist).flatten() {
                Some((tids, next)) => {
                    empty = tids.is_empty();
                    list = next;
                }
                None => break,
            }
        }
        if empty {
            let flagged = index.update(element, |bytes| match ElementMut::parse(bytes) {
                // A concurrent insert of an identical vector may have added a TID since.
                Some(mut e) if e.as_ref().heap_tids().count() == 0 => {
                    e.set_deleted(true);
                    (true, true)
                }
                _ => (false, false),
            });
            if flagged == Some(true) {
                deleted.push((element.block, element.offset));
            }
        }
    }
    Stripped { removed, remaining, deleted }
}

/// Deleted elements a repair may walk through to find live replacements.
const REPAIR_BUDGET: usize = 32;

/// Steps 2–6 of the module comment, for the deleted elements in `deleted`.
pub fn remove_deleted<S: PageStore + MetaPage<Meta>>(
    graph: &PagedGraph<S>,
    settings: &VacuumSettings,
    deleted: &TidStore,
) -> VacuumReport {
    let index = &graph.store;
    let is_deleted = |t: Tid| deleted.contains(t.block, t.offset);
    // 2. wait for inserts and searches that may not have seen the flags
    drop(index.update_lock(true));

    // 3. repair the lists that link to deleted elements; find a live top element
    let started = std::time::Instant::now();
    let meta: Meta = index.meta();
    let m = settings.m;
    let mut repair_again = |tid: Tid, level: usize| {
        read_list(index, tid, level).is_none_or(|list| repair(graph, tid, level, list, m, &is_deleted))
    };
    let (top, mut lost_races, path, how) =
        match snapshot::repair_in_memory(graph, settings, REPAIR_BUDGET, &is_deleted, &mut repair_again) {
            Some(r) => {
                let [read, compute, write] = r.seconds;
                let how = format!(
                    "{} lists repaired in memory (read {read:.2} s, compute {compute:.2} s, write {write:.2} s), \
                     {} changed meanwhile and repaired again",
                    r.lists, r.from_pages
                );
                (r.top, r.lost_races, if r.sq8 { "in memory (vectors as SQ8 copies)" } else { "in memory" }, how)
            }
            None => {
                let r = repair_from_pages(graph, m, &is_deleted);
                (
                    r.top,
                    r.lost_races,
                    "from the pages (the graph does not fit the memory budget)",
                    format!("{} lists repaired from the pages", r.lists),
                )
            }
        };
    if meta.entry().is_some_and(|(ep, _)| is_deleted(ep)) {
        index.update_meta(|mm: &mut Meta| {
            if mm.entry().is_some_and(|(ep, _)| is_deleted(ep)) {
                match top {
                    Some((t, level)) => {
                        mm.entry_block = t.block;
                        mm.entry_offset = t.offset as u32;
                        mm.entry_level = level as i32;
                    }
                    None => {
                        mm.entry_block = 0;
                        mm.entry_offset = 0;
                        mm.entry_level = -1;
                    }
                }
            }
        });
    }

    let repaired_at = started.elapsed().as_secs_f64();
    let relinked = relink_orphans(graph, settings, &is_deleted);
    let relinked_at = started.elapsed().as_secs_f64();

    // 4. Lists whose repair lost races to inserts, again until none is left:
    // an insert never adds a deleted element to a list, so a repaired list
    // stays clean. Should some keep changing, they are repaired with inserts
    // and searches held off for that moment.
    for _round in 0..10 {
        if lost_races.is_empty() {
            break;
        }
        lost_races.retain(|&(tid, level)| !repair_again(tid, level));
    }
    let stubborn = lost_races.len();
    if !lost_races.is_empty() {
        let _exclusive = index.update_lock(true);
        lost_races.retain(|&(tid, level)| !repair_again(tid, level));
    }

    // 5. Freed TIDs may name other elements from now on: the vector caches of
    // this generation are stale (cache.rs); every search from here on starts
    // a new one, and can reach no deleted element (no list names one).
    index.update_meta(|mm: &mut Meta| mm.generation = mm.generation.wrapping_add(1));
    // 6. Wait out the searches and inserts that may still hold a deleted
    // element's TID (they began before the repairs ended), then free the
    // elements without holding the update lock: searches and inserts go on.
    drop(index.update_lock(true));
    let mut doomed: std::collections::BTreeMap<u32, Vec<u16>> = Default::default();
    let mut freed = 0i64;
    for (block, offset) in deleted.iter() {
        let element = Tid { block, offset };
        let Some((mut chunk, mut list)) =
            index.read(element, |b| ElementRef::parse(b).map(|e| (e.next_chunk(), e.overflow()))).flatten()
        else {
            continue;
        };
        doomed.entry(block).or_default().push(offset);
        freed += 1;
        let mut walk = ChainWalk::tuples(index, "vector chunk or TID list");
        while chunk.is_valid() {
            walk.step();
            doomed.entry(chunk.block).or_default().push(chunk.offset);
            chunk = index.read(chunk, |b| parse_chunk(b).map(|(_, next)| next)).flatten().unwrap_or(Tid::INVALID);
        }
        while list.is_valid() {
            walk.step();
            doomed.entry(list.block).or_default().push(list.offset);
            list = index.read(list, |b| parse_tidlist(b).map(|(_, next)| next)).flatten().unwrap_or(Tid::INVALID);
        }
    }
    for (block, offsets) in doomed {
        index.free_items(block, &offsets);
    }
    index.elements_added(-freed);
    VacuumReport {
        deleted: deleted.len(),
        path,
        how,
        stubborn,
        relinked,
        seconds: [repaired_at, relinked_at - repaired_at, started.elapsed().as_secs_f64() - relinked_at],
    }
}

/// Step 3 from the pages, element by element (when the graph does not fit
/// VACUUM's memory budget).
fn repair_from_pages<S: PageStore>(
    graph: &PagedGraph<S>,
    m: usize,
    is_deleted: &dyn Fn(Tid) -> bool,
) -> snapshot::Repaired {
    let index = &graph.store;
    let mut top: Option<(Tid, usize)> = None;
    let mut lost_races = Vec::new();
    let mut repaired = 0usize;
    for block in 1..index.nblocks() {
        let mut todo: Vec<(Tid, usize, Vec<Tid>)> = Vec::new();
        index.read_items(block, |items| {
            for (offset, bytes) in items {
                let Some(e) = ElementRef::parse(bytes) else { continue };
                let tid = Tid { block, offset };
                if e.is_deleted() || is_deleted(tid) {
                    continue;
                }
                if top.is_none_or(|(_, l)| e.level() > l) {
                    top = Some((tid, e.level()));
                }
                for level in 0..=e.level() {
                    let list: Vec<Tid> = e.neighbors(level).filter(|t| t.is_valid()).collect();
                    if list.iter().any(|&t| is_deleted(t)) {
                        todo.push((tid, level, list));
                    }
                }
            }
        });
        for (tid, level, list) in todo {
            repaired += 1;
            if !repair(graph, tid, level, list, m, is_deleted) {
                lost_races.push((tid, level));
            }
        }
        index.check_interrupts();
    }
    snapshot::Repaired { lists: repaired, from_pages: 0, lost_races, top, seconds: [0.0; 3], sq8: false }
}

/// Live elements that only deleted elements led to would be unreachable once
/// those are freed (a repaired list need not keep them, and a group of such
/// elements may link only to each other). Walk the graph from the entry point
/// over live elements; link each element not reached from its nearest
/// reached neighbour at level 0 — one of its own neighbours, else the nearest
/// a search from the entry point finds — as an insert does for a newcomer
/// nobody accepted; then everything reachable from it counts as reached.
pub fn relink_orphans<S: PageStore + MetaPage<Meta>>(
    graph: &PagedGraph<S>,
    settings: &VacuumSettings,
    is_deleted: &dyn Fn(Tid) -> bool,
) -> usize {
    let (index, m) = (&graph.store, settings.m);
    let meta: Meta = index.meta();
    let Some((entry, top)) = meta.entry() else { return 0 };
    let live_links = |t: Tid| -> Vec<Tid> {
        index
            .read(t, |b| {
                let e = ElementRef::parse(b)?;
                // level 0 only: what a search walks after its descent
                Some(e.neighbors(0).collect::<Vec<_>>())
            })
            .flatten()
            .unwrap_or_default()
            .into_iter()
            .filter(|&n| n.is_valid() && !is_deleted(n))
            .collect()
    };
    let walk = |from: Tid, reached: &mut FxHashSet<Tid>| {
        let mut queue = vec![from];
        reached.insert(from);
        while let Some(t) = queue.pop() {
            for n in live_links(t) {
                if reached.insert(n) {
                    queue.push(n);
                }
            }
        }
    };
    let mut relinked = 0;
    // A forced link may push another element out of a full list; another
    // round from scratch catches that (rarely needed; a round that relinks
    // nothing ends it, and there are at most ten).
    for _round in 0..10 {
        let (mut reached, unreached) = snapshot::level0_reach(index, entry, is_deleted, settings.memory_budget)
            .unwrap_or_else(|| {
                // the lists do not fit the memory budget: walk them element by element
                let mut reached: FxHashSet<Tid> = FxHashSet::default();
                walk(entry, &mut reached);
                let mut unreached = Vec::new();
                for block in 1..index.nblocks() {
                    index.read_items(block, |items| {
                        unreached.extend(items.filter_map(|(offset, bytes)| {
                            let tid = Tid { block, offset };
                            let e = ElementRef::parse(bytes)?;
                            (!e.is_deleted() && !is_deleted(tid) && !reached.contains(&tid)).then_some(tid)
                        }))
                    });
                }
                (reached, unreached)
            });
        let before = relinked;
        if unreached.is_empty() {
            break;
        }
        let unreached_set: FxHashSet<Tid> = unreached.iter().copied().collect();
        for tid in unreached {
            if reached.contains(&tid) {
                continue; // reached through an element relinked before it
            }
            index.check_interrupts();
            let mut cache = QueryCache::default();
            let mut candidates: Vec<Tid> = live_links(tid).into_iter().filter(|n| reached.contains(n)).collect();
            if candidates.is_empty() {
                if let Some(raw) = graph.raw(tid) {
                    let query = graph.kind.elem.query(&raw);
                    let start = Neighbor { distance: graph.distance(&query, entry), id: entry };
                    // from the entry point too: the descent can end on an
                    // element of the unreached group itself (reached through
                    // upper-level links), whose level-0 walk finds only that
                    // group (seeded test `vacuum_during_inserts_and_searches`,
                    // seed 10037)
                    let from = descend(graph, &query, start, top, 0);
                    let entries: &[Neighbor<Tid>] = if from.id == start.id { &[start] } else { &[from, start] };
                    let found =
                        search_layer(graph, &query, entries, meta.ef_construction as usize, 0, &mut graph.visited());
                    candidates = found.into_iter().map(|n| n.id).filter(|n| reached.contains(n) && *n != tid).collect();
                    if candidates.is_empty() {
                        // Every element the search kept is unreached: a group
                        // whose members are all nearer to the orphan than
                        // anything reached, at least ef_construction of them
                        // (on data where distances tie: 1-d bit strings, m =
                        // 2, ef_construction 4). Search again from the entry
                        // point through reached elements only.
                        let mut visited = graph.visited();
                        visited.extend(unreached_set.iter().filter(|t| !reached.contains(t)).copied());
                        let found =
                            search_layer(graph, &query, &[start], meta.ef_construction as usize, 0, &mut visited);
                        candidates =
                            found.into_iter().map(|n| n.id).filter(|n| reached.contains(n) && *n != tid).collect();
                    }
                }
            }
            let mut ranked: Vec<(f32, Tid)> = candidates
                .iter()
                .map(|&n| (cache.distance(graph, tid, n), n))
                .filter(|(_, n)| !graph.seen_deleted(*n))
                .collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
            // A link from the nearest candidate that takes it without
            // pushing anyone out (room, or the heuristic's choice) first;
            // forcing one in can orphan the element it replaces, and two
            // orphans competing for one full list would take turns.
            let linked = ranked
                .iter()
                .take(8)
                .any(|&(distance, n)| add_backlink(graph, n, tid, distance, 0, m, Must::No, &mut cache));
            if linked || ranked.first().is_some_and(|&(_, n)| force_link(graph, n, tid, m, &reached, &mut cache)) {
                relinked += 1;
                walk(tid, &mut reached);
            }
        }
        if relinked == before {
            break;
        }
    }
    relinked
}

/// Link `host` (reached) to `orphan` at level 0 although the heuristic did
/// not choose it and `host`'s list may be full, without stranding anyone:
/// the neighbour `orphan` displaces (the farthest from `host`) gets a link
/// from `orphan`, which takes the place, if `orphan`'s own list is full, of
/// a neighbour that is reached anyway. So every element reached before stays
/// reached, and `orphan` joins them. (Forcing a link without that, on data
/// where distances tie, displaced one orphan for another round after round.)
fn force_link<S: PageStore>(
    graph: &PagedGraph<S>,
    host: Tid,
    orphan: Tid,
    m: usize,
    reached: &FxHashSet<Tid>,
    cache: &mut QueryCache,
) -> bool {
    let index = &graph.store;
    let cap = 2 * m;
    for _attempt in 0..3 {
        let Some(current) = read_list(index, host, 0) else { return false };
        if current.contains(&orphan) {
            return true;
        }
        let mut wanted = current.clone();
        let displaced = if current.len() < cap {
            wanted.push(orphan);
            None
        } else {
            let Some(slot) = farthest_slot(graph, host, &current, cache) else { return false };
            wanted[slot] = orphan;
            Some(current[slot])
        };
        // keep `d` reachable through `orphan` first, so that at every
        // moment it is reachable through `host` or `orphan` (as in insert's
        // `add_backlink`)
        if let Some(d) = displaced {
            for _attempt in 0..3 {
                let Some(own) = read_list(index, orphan, 0) else { break };
                if own.contains(&d) || orphan == d {
                    break;
                }
                let mut want = own.clone();
                if own.len() < cap {
                    want.push(d);
                } else {
                    let slot = own.iter().position(|t| reached.contains(t) && *t != d).unwrap_or(own.len() - 1);
                    want[slot] = d;
                }
                if write_list_if_unchanged(index, orphan, 0, &own, &want) != Some(false) {
                    break;
                }
            }
        }
        match write_list_if_unchanged(index, host, 0, &current, &wanted) {
            Some(true) => return true,
            Some(false) => continue,
            None => return false,
        }
    }
    false
}

/// Replace `node`'s list at `level` (`current` as read) by its repair, if the
/// list is unchanged when written; false if it changed each time.
fn repair<S: PageStore>(
    graph: &PagedGraph<S>,
    node: Tid,
    level: usize,
    mut current: Vec<Tid>,
    m: usize,
    is_deleted: &dyn Fn(Tid) -> bool,
) -> bool {
    let index = &graph.store;
    let cap = if level == 0 { 2 * m } else { m };
    for _attempt in 0..3 {
        if !current.iter().any(|&t| is_deleted(t)) {
            return true;
        }
        let mut cache = QueryCache::default();
        let wanted = repair_neighbors(graph, node, level, &current, is_deleted, REPAIR_BUDGET, cap, |a, b| {
            cache.distance(graph, a, b)
        });
        match write_list_if_unchanged(index, node, level, &current, &wanted) {
            Some(false) => {}
            _ => return true,
        }
        match read_list(index, node, level) {
            Some(list) => current = list,
            None => return true,
        }
    }
    false
}
