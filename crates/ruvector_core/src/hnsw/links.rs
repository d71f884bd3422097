//! The neighbour lists of a graph under construction.
//!
//! Level 0 (every node, up to `2m` links) lives in one flat array of fixed
//! slots, `[count, id, id, …]`, `1 + 2m` words per node (the count word
//! also says how many of the first links are the heuristic's; the rest fill
//! the list, `super::build`): a search reads a
//! node's list at a computed address, one or two cache lines, instead of
//! following a lock and two vector pointers (three dependent cache misses,
//! which profiles of the build showed as its largest single cost after the
//! distances). Upper levels (a fraction 1/m of the nodes) are vectors.
//!
//! Concurrency: each node has a mutex that serialises changes to its lists
//! and guards its upper levels. Level 0 is read without it: its words are
//! atomics; a writer (holding the node's mutex) stores the ids, then the count
//! with Release; a reader loads the count with Acquire, then the ids. Every
//! word ever stored is a valid node id (or the initial 0, node 0), so a read
//! that races a rewrite sees a mix of old and new neighbours — valid nodes,
//! which a search tolerates — and never an id out of range. Once the build's
//! threads have joined, reads are exact.

#![forbid(unsafe_code)]

use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct Links {
    /// Level-0 capacity (2m).
    cap0: usize,
    level0: Vec<AtomicU32>,
    /// Per node: its lock, and its lists at levels 1.. (`[l - 1]`).
    upper: Vec<Mutex<Vec<Vec<u32>>>>,
}

impl Links {
    /// Empty lists for nodes of the given levels, `cap0` links at level 0.
    pub fn new(levels: &[u8], cap0: usize) -> Self {
        let words = levels.len() * (cap0 + 1);
        let mut level0: Vec<AtomicU32> = Vec::with_capacity(words);
        crate::layout::advise_huge_pages(level0.as_ptr().cast(), words * 4);
        level0.extend((0..words).map(|_| AtomicU32::new(0)));
        let upper = levels.iter().map(|&l| Mutex::new(vec![Vec::new(); l as usize])).collect();
        Links { cap0, level0, upper }
    }

    /// The count word: the list's length in the low 16 bits, how many of its
    /// first links are the heuristic's (the rest fill it) in the high 16.
    #[inline]
    fn counts(&self, slot: &[AtomicU32]) -> (usize, usize) {
        let w = slot[0].load(Ordering::Acquire);
        let count = ((w & 0xffff) as usize).min(self.cap0);
        (count, ((w >> 16) as usize).min(count))
    }

    /// How many of `node`'s level-0 links (the last ones) fill its list.
    pub fn fill_count(&self, node: u32) -> usize {
        let (count, diverse) = self.counts(self.slot(node));
        count - diverse
    }

    /// Append `node`'s level-0 links the heuristic chose (not the fill).
    #[inline]
    pub fn read_diverse(&self, node: u32, out: &mut Vec<u32>) {
        let slot = self.slot(node);
        let (_, diverse) = self.counts(slot);
        out.extend(slot[1..=diverse].iter().map(|w| w.load(Ordering::Relaxed)));
    }

    fn slot(&self, node: u32) -> &[AtomicU32] {
        let at = node as usize * (self.cap0 + 1);
        &self.level0[at..at + self.cap0 + 1]
    }

    /// Append `node`'s neighbours at `level` to `out` (level 0 without locking).
    #[inline]
    pub fn read(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        if level == 0 {
            let slot = self.slot(node);
            let (count, _) = self.counts(slot);
            out.extend(slot[1..=count].iter().map(|w| w.load(Ordering::Relaxed)));
        } else if let Some(list) = self.upper[node as usize].lock().get(level - 1) {
            out.extend_from_slice(list);
        }
    }

    /// Start loading `node`'s level-0 list into the CPU cache.
    #[inline]
    pub fn prefetch(&self, node: u32) {
        crate::kernels::prefetch(self.slot(node), 2);
    }

    /// Lock `node`'s lists for a change.
    pub fn lock(&self, node: u32) -> NodeLists<'_> {
        NodeLists { links: self, node, upper: self.upper[node as usize].lock() }
    }
}

/// One node's lists, locked.
pub struct NodeLists<'a> {
    links: &'a Links,
    node: u32,
    upper: MutexGuard<'a, Vec<Vec<u32>>>,
}

impl NodeLists<'_> {
    /// A copy of the list at `level` (empty above the node's level).
    pub fn get(&self, level: usize) -> Vec<u32> {
        let mut out = Vec::new();
        if level == 0 {
            self.links.read(self.node, 0, &mut out);
        } else if let Some(list) = self.upper.get(level - 1) {
            out.extend_from_slice(list);
        }
        out
    }

    /// The level-0 list and how many of its first links the heuristic chose.
    pub fn get_split(&self) -> (Vec<u32>, usize) {
        let slot = self.links.slot(self.node);
        let (count, diverse) = self.links.counts(slot);
        (slot[1..=count].iter().map(|w| w.load(Ordering::Relaxed)).collect(), diverse)
    }

    /// Replace the level-0 list: its first `diverse` links the heuristic's,
    /// the rest filling it.
    pub fn set_split(&mut self, ids: &[u32], diverse: usize) {
        let slot = self.links.slot(self.node);
        let count = ids.len().min(self.links.cap0);
        for (w, &id) in slot[1..=count].iter().zip(ids) {
            w.store(id, Ordering::Relaxed);
        }
        slot[0].store(count as u32 | ((diverse.min(count) as u32) << 16), Ordering::Release);
    }

    /// Replace the list at `level` (at most the level's capacity; a level
    /// above the node's own is ignored). At level 0 every link counts as
    /// the heuristic's.
    pub fn set(&mut self, level: usize, ids: &[u32]) {
        if level == 0 {
            self.set_split(ids, ids.len());
        } else if let Some(list) = self.upper.get_mut(level - 1) {
            list.clear();
            list.extend_from_slice(ids);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Links;

    #[test]
    fn lists_are_kept_per_level() {
        let links = Links::new(&[0, 2, 1], 4);
        {
            let mut n1 = links.lock(1);
            n1.set(0, &[0, 2]);
            n1.set(1, &[2]);
            n1.set(2, &[0]);
            // above the node's level: ignored
            n1.set(3, &[2]);
            assert_eq!(n1.get(0), vec![0, 2]);
        }
        links.lock(0).set(0, &[1, 2, 1, 2, 1]);
        let read = |node, level| {
            let mut out = vec![];
            links.read(node, level, &mut out);
            out
        };
        assert_eq!(read(1, 0), vec![0, 2]);
        assert_eq!(read(1, 1), vec![2]);
        assert_eq!(read(1, 2), vec![0]);
        assert_eq!(read(1, 3), Vec::<u32>::new());
        // capped at 2m
        assert_eq!(read(0, 0), vec![1, 2, 1, 2]);
        assert_eq!(read(2, 0), Vec::<u32>::new());
        // shrinking a list
        links.lock(0).set(0, &[2]);
        assert_eq!(read(0, 0), vec![2]);
    }

    #[test]
    fn reads_racing_writes_see_valid_ids() {
        let n = 64u32;
        let links = Links::new(&vec![0u8; n as usize], 8);
        std::thread::scope(|s| {
            s.spawn(|| {
                for round in 0..20_000u32 {
                    let ids: Vec<u32> = (0..(round % 9)).map(|k| (round + k) % n).collect();
                    links.lock(round % n).set(0, &ids);
                }
            });
            let mut out = Vec::new();
            for round in 0..20_000u32 {
                out.clear();
                links.read(round % n, 0, &mut out);
                assert!(out.len() <= 8 && out.iter().all(|&id| id < n), "{out:?}");
            }
        });
    }
}
