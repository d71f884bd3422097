//! How many rows the first batch of an ivfflat list scan keeps.
//!
//! A scan scores every row of its probed lists into a bounded top-k of
//! `batch` rows and hands them out in order; if the executor takes them all,
//! the same lists are scanned again for the rows after the last one, with
//! the batch doubled. A batch much larger than what is taken costs on every
//! row that enters it: a heap operation, and for a row whose SQ8 copy is
//! exact, its exact distance (a top-128 of 2,000 rows takes about 500 rows
//! in, a top-32 about 170). A batch too small costs a second scan of the
//! lists. What a query takes depends on its LIMIT, its filters and how
//! often the executor rechecks, which the access method is not told; it is
//! usually the same from one scan of an index to the next.
//!
//! [`RoundNeeds`] remembers, per index, the most rows a round of a recent
//! scan took (decaying by an eighth at each scan, so one large scan does
//! not set the size for good), and sizes a first batch at one and a half
//! times that plus 4, as a power of two within [`MIN_FIRST_BATCH`,
//! `MAX_FIRST_BATCH`]. An index no scan has taken rows from yet gets
//! [`DEFAULT_FIRST_BATCH`].

#![forbid(unsafe_code)]

use rustc_hash::FxHashMap;

/// The first batch of an index without a record.
pub const DEFAULT_FIRST_BATCH: usize = 128;
/// The least first batch: a LIMIT 10 with its rows measured exactly takes 10.
pub const MIN_FIRST_BATCH: usize = 16;
/// The largest first batch (16 bytes a row).
pub const MAX_FIRST_BATCH: usize = 4096;
/// Indexes remembered before the record starts again.
const MAX_INDEXES: usize = 1024;

/// A first batch for a scan expected to take `needed` rows from a round.
pub fn first_batch_for(needed: u32) -> usize {
    let n = needed as usize;
    (n + n / 2 + 4).next_power_of_two().clamp(MIN_FIRST_BATCH, MAX_FIRST_BATCH)
}

/// Per index (by OID), the most rows a round of a recent scan took.
#[derive(Debug, Default)]
pub struct RoundNeeds {
    taken: FxHashMap<u32, u32>,
}

impl RoundNeeds {
    /// The first batch for a new scan of `index`, and the record the scan
    /// should raise with [`RoundNeeds::took`] once it takes more rows from a
    /// round. The record decays by an eighth.
    pub fn start(&mut self, index: u32) -> (usize, u32) {
        match self.taken.get_mut(&index) {
            None => (DEFAULT_FIRST_BATCH, 0),
            Some(n) => {
                let batch = first_batch_for(*n);
                *n -= *n / 8;
                (batch, *n)
            }
        }
    }

    /// The first batch the next scan of `index` would start with (the
    /// record left as it is).
    pub fn next_batch(&self, index: u32) -> usize {
        self.taken.get(&index).map_or(DEFAULT_FIRST_BATCH, |&n| first_batch_for(n))
    }

    /// A round of a scan of `index` has taken `rows` rows.
    pub fn took(&mut self, index: u32, rows: u32) {
        if self.taken.len() >= MAX_INDEXES && !self.taken.contains_key(&index) {
            self.taken.clear();
        }
        let n = self.taken.entry(index).or_insert(0);
        *n = (*n).max(rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_powers_of_two_with_room_beyond_what_was_taken() {
        assert_eq!(first_batch_for(0), MIN_FIRST_BATCH);
        assert_eq!(first_batch_for(10), 32); // 19 → 32
        assert_eq!(first_batch_for(8), 16); // 16
        assert_eq!(first_batch_for(20), 64); // 34 → 64
        assert_eq!(first_batch_for(1_000_000), MAX_FIRST_BATCH);
        for n in 0..5000u32 {
            let b = first_batch_for(n);
            assert!(b.is_power_of_two());
            assert!(b >= (n as usize).min(MAX_FIRST_BATCH), "{n} → {b}");
        }
    }

    #[test]
    fn the_record_follows_the_largest_recent_scan_and_decays() {
        let mut needs = RoundNeeds::default();
        assert_eq!(needs.start(7), (DEFAULT_FIRST_BATCH, 0));
        needs.took(7, 10);
        needs.took(7, 11);
        needs.took(7, 9);
        assert_eq!(needs.next_batch(7), 32);
        let (batch, record) = needs.start(7);
        // 11 → 32, and the record decays to 11 − 1
        assert_eq!((batch, record), (32, 10));
        // another index is apart
        assert_eq!(needs.start(8).0, DEFAULT_FIRST_BATCH);
        // one large scan raises the batch, then it decays back
        needs.took(7, 600);
        assert_eq!(needs.start(7).0, 1024);
        let mut batches = Vec::new();
        for _ in 0..40 {
            let (b, _) = needs.start(7);
            needs.took(7, 10);
            batches.push(b);
        }
        assert!(batches.windows(2).all(|w| w[1] <= w[0]), "{batches:?}");
        assert_eq!(*batches.last().unwrap(), 32);
    }

    #[test]
    fn the_record_starts_again_past_its_size() {
        let mut needs = RoundNeeds::default();
        for i in 0..MAX_INDEXES as u32 {
            needs.took(i, 200);
        }
        assert_eq!(needs.start(3).0, 512); // 304 → 512
        needs.took(MAX_INDEXES as u32, 200);
        assert_eq!(needs.start(3).0, DEFAULT_FIRST_BATCH);
        assert_eq!(needs.start(MAX_INDEXES as u32).0, 512);
    }
}
