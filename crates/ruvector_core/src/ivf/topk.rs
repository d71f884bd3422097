//! The best `k` scored rows seen so far, in O(k) memory.
//!
//! A list scan offers every row to a `BoundedTopK`; once full, a row is kept
//! only if it beats the worst kept, so most rows cost one comparison. Rows are
//! ordered by (distance, key) with the key (a heap TID) breaking ties, which
//! makes the order total: a later pass over the same rows can resume strictly
//! after the last row returned (`after`) and neither repeat nor skip one.

#![forbid(unsafe_code)]

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A row's distance and its key (a heap TID as a number).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    pub distance: f32,
    pub key: u64,
}

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        // NaN (an overflowed inner product) sorts after every number, as
        // PostgreSQL orders float8 NaN, whatever its sign bit
        let key = |d: f32| if d.is_nan() { f32::NAN } else { d };
        key(self.distance).total_cmp(&key(other.distance)).then(self.key.cmp(&other.key))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the `k` smallest rows strictly after `after`.
pub struct BoundedTopK {
    k: usize,
    after: Option<Scored>,
    heap: BinaryHeap<Scored>,
}

impl BoundedTopK {
    pub fn new(k: usize, after: Option<Scored>) -> Self {
        BoundedTopK { k: k.max(1), after, heap: BinaryHeap::with_capacity(k.clamp(1, 1 << 16) + 1) }
    }

    /// The distance a row must not exceed to be kept (infinite until full).
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::INFINITY
        } else {
            self.heap.peek().map_or(f32::INFINITY, |w| w.distance)
        }
    }

    #[inline]
    pub fn offer(&mut self, row: Scored) {
        if self.is_full() && self.heap.peek().is_some_and(|w| row >= *w) || self.after.is_some_and(|a| row <= a) {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(row);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if row < *worst {
                *worst = row;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Whether as many rows as asked for were kept (more may exist beyond).
    pub fn is_full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// The kept rows, nearest first.
    pub fn into_sorted(self) -> Vec<Scored> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Passes of `k` resuming after the last row return exactly the rows
        /// in sorted order, each once, whatever the ties.
        #[test]
        fn passes_enumerate_all_rows_in_order(distances in proptest::collection::vec(0u8..8, 0..200), k in 1usize..20) {
            let rows: Vec<Scored> = distances.iter().enumerate()
                .map(|(i, &d)| Scored { distance: d as f32, key: (i as u64 * 7919) % 1000 + i as u64 * 1000 })
                .collect();
            let mut expected = rows.clone();
            expected.sort();
            let mut got = Vec::new();
            let mut after = None;
            loop {
                let mut top = BoundedTopK::new(k, after);
                rows.iter().for_each(|&r| top.offer(r));
                let full = top.is_full();
                let batch = top.into_sorted();
                after = batch.last().copied().or(after);
                got.extend(batch);
                if !full { break; }
            }
            prop_assert_eq!(got, expected);
        }
    }
}
