//! A seeded reservoir sample (Vitter's algorithm R): after `n` offers it holds
//! a uniform random subset of min(n, capacity) of them, in O(capacity) memory.

#![forbid(unsafe_code)]

use super::kmeans::Rng;

pub struct Reservoir<T> {
    capacity: usize,
    seen: u64,
    items: Vec<T>,
    rng: Rng,
}

/// What to do with an offered item.
#[derive(Debug, PartialEq, Eq)]
pub enum Slot {
    /// Append it (the reservoir is not full yet).
    Append,
    /// Replace the item at this position.
    Replace(usize),
    /// Skip it.
    Skip,
}

impl<T> Reservoir<T> {
    pub fn new(capacity: usize, seed: u64) -> Self {
        Reservoir { capacity, seen: 0, items: Vec::new(), rng: Rng::new(seed) }
    }

    /// Decide where the next offered item goes, before making it (so a
    /// skipped row is never copied).
    pub fn slot(&mut self) -> Slot {
        self.seen += 1;
        if self.items.len() < self.capacity {
            Slot::Append
        } else {
            let j = self.rng.below(self.seen) as usize;
            if j < self.capacity {
                Slot::Replace(j)
            } else {
                Slot::Skip
            }
        }
    }

    /// Put `item` where `slot()` said.
    pub fn put(&mut self, slot: Slot, item: T) {
        match slot {
            Slot::Append => self.items.push(item),
            Slot::Replace(j) => self.items[j] = item,
            Slot::Skip => {}
        }
    }

    pub fn seen(&self) -> u64 {
        self.seen
    }

    pub fn items(&self) -> &[T] {
        &self.items
    }

    pub fn into_items(self) -> Vec<T> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_uniform() {
        let mut hits = [0u32; 100];
        for seed in 0..2000 {
            let mut r = Reservoir::new(10, seed);
            for i in 0..100 {
                let s = r.slot();
                r.put(s, i);
            }
            assert_eq!(r.items().len(), 10);
            r.items().iter().for_each(|&i| hits[i] += 1);
        }
        // each item is kept with probability 0.1: 200 expected per item
        assert!(hits.iter().all(|&h| (140..=260).contains(&h)), "{hits:?}");
    }

    #[test]
    fn small_input_kept_whole() {
        let mut r = Reservoir::new(10, 1);
        for i in 0..4 {
            let s = r.slot();
            r.put(s, i);
        }
        assert_eq!(r.into_items(), vec![0, 1, 2, 3]);
    }
}
