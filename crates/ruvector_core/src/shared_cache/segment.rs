//! One index's part of the shared vector cache: a lock-free TID → slot map,
//! the cached records, and level-0 neighbour lists, laid out in the arena's
//! words (see the module above for how a segment is found and kept alive).
//!
//! Layout, in words from the segment's start: the map (`buckets` × 2 words:
//! the TID key + 1, then the slot + 1), `list_of` (one word per record: its
//! list's number + 1, 0 for none), the lists (`3 + capacity` words each:
//! sequence, stamp, count, then one TID per word), then the records
//! (`stride` words each, of which `record_bytes` are used).
//!
//! Invariants:
//! - A record slot is handed out once (`fetch_add` on the descriptor's count)
//!   and written by that one writer before it is published; the map's slot
//!   word is stored with `Release` after the bytes and loaded with `Acquire`
//!   before them, so a reader never sees a half-written record. A record is
//!   never changed once published (an element's vector never changes while its
//!   TID names it; the segment belongs to one index generation).
//! - A map bucket's key goes from 0 to a TID once (CAS); a writer that loses
//!   the CAS to the same TID leaves its record unpublished (a wasted slot).
//! - A list is rewritten in place under a sequence lock: the writer makes the
//!   sequence odd by CAS (or gives up), writes, and makes it even again with
//!   `Release`; a reader keeps what it read only if the sequence was even and
//!   unchanged around its reads. Every word is an atomic: torn reads are
//!   detected, never undefined. A list carries the stamp it was read under
//!   (a WAL position) and the caller's rule says whether that is current
//!   (src/am/hnsw/cache.rs).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use crate::hnsw::tuple::Tid;

/// Words of one list besides its TIDs: sequence, stamp, count.
const LIST_HEAD: usize = 3;

/// Where a segment's parts are, computed once from its descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub buckets: usize,
    pub records: usize,
    pub lists: usize,
    pub list_capacity: usize,
    pub record_bytes: usize,
}

impl Layout {
    /// Room for `records` records of `record_bytes` bytes and lists of up to
    /// `list_capacity` TIDs for half of them (lists are kept only for the
    /// elements searches expand, a part of those they measure), the map at
    /// most three-quarters full.
    pub fn for_records(records: usize, record_bytes: usize, list_capacity: usize) -> Layout {
        let buckets = (records + records / 3 + 1).next_power_of_two();
        Layout { buckets, records, lists: records / 2, list_capacity, record_bytes }
    }

    /// The largest layout for these records that fits `words`, if one of at
    /// least `min_records` does.
    pub fn fit(
        words: usize,
        record_bytes: usize,
        list_capacity: usize,
        want: usize,
        min_records: usize,
    ) -> Option<Layout> {
        let (mut lo, mut hi) = (0usize, want);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if Layout::for_records(mid, record_bytes, list_capacity).words() <= words {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        (lo >= min_records).then(|| Layout::for_records(lo, record_bytes, list_capacity))
    }

    pub fn stride(&self) -> usize {
        self.record_bytes.div_ceil(8)
    }
    pub fn list_words(&self) -> usize {
        LIST_HEAD + self.list_capacity
    }
    fn list_of_at(&self) -> usize {
        2 * self.buckets
    }
    fn lists_at(&self) -> usize {
        self.list_of_at() + self.records
    }
    fn records_at(&self) -> usize {
        self.lists_at() + self.lists * self.list_words()
    }
    /// Words the segment takes.
    pub fn words(&self) -> usize {
        self.records_at() + self.records * self.stride()
    }
    /// Words that must be zero before the segment is used (all but the records).
    pub fn zeroed_words(&self) -> usize {
        self.records_at()
    }
}

/// A map key for `tid`: never 0.
#[inline]
fn key(tid: Tid) -> u64 {
    ((tid.block as u64) << 16 | tid.offset as u64) + 1
}

#[inline]
fn unkey(word: u64) -> Tid {
    let k = word - 1;
    Tid { block: (k >> 16) as u32, offset: k as u16 }
}

/// A segment as one backend sees it while it holds it (see `Arena::open`).
#[derive(Clone, Copy)]
pub struct Segment<'a> {
    /// The segment's words.
    words: &'a [AtomicU64],
    /// The descriptor's counters: records and lists handed out.
    used_records: &'a AtomicU64,
    used_lists: &'a AtomicU64,
    layout: Layout,
    mask: usize,
}

impl<'a> Segment<'a> {
    pub(super) fn new(
        words: &'a [AtomicU64],
        used_records: &'a AtomicU64,
        used_lists: &'a AtomicU64,
        layout: Layout,
    ) -> Self {
        debug_assert!(words.len() >= layout.words());
        Segment { words, used_records, used_lists, layout, mask: layout.buckets - 1 }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    #[inline]
    fn home(&self, k: u64) -> usize {
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    /// The published slot of `tid`, if any.
    #[inline]
    pub fn slot(&self, tid: Tid) -> Option<usize> {
        let k = key(tid);
        let mut b = self.home(k);
        for _ in 0..self.layout.buckets {
            let found = self.words[2 * b].load(Relaxed);
            if found == k {
                let slot = self.words[2 * b + 1].load(Acquire);
                return slot.checked_sub(1).map(|s| s as usize);
            }
            if found == 0 {
                return None;
            }
            b = (b + 1) & self.mask;
        }
        None
    }

    /// Ask the CPU to load `tid`'s home bucket.
    #[inline]
    pub fn prefetch_bucket(&self, tid: Tid) {
        let b = self.home(key(tid));
        crate::kernels::prefetch(&self.words[2 * b..2 * b + 2], 1);
    }

    /// The bytes of a published record.
    #[inline]
    pub fn record(&self, slot: usize) -> &'a [u8] {
        let at = self.layout.records_at() + slot * self.layout.stride();
        let words = &self.words[at..at + self.layout.stride()];
        // SAFETY: `words` is in bounds; AtomicU64 has u64's size and
        // alignment, and its bytes are plain memory. The record was written
        // once, before its slot was published (Release), and its slot was
        // loaded with Acquire by the caller of `slot`; nothing writes to it
        // again while the segment is held.
        unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), self.layout.record_bytes) }
    }

    /// Whether another record may fit.
    #[inline]
    pub fn has_room(&self) -> bool {
        (self.used_records.load(Relaxed) as usize) < self.layout.records
    }

    /// Records handed out so far (some may be unpublished: lost races).
    pub fn used_records(&self) -> usize {
        (self.used_records.load(Relaxed) as usize).min(self.layout.records)
    }

    pub fn used_lists(&self) -> usize {
        (self.used_lists.load(Relaxed) as usize).min(self.layout.lists)
    }

    /// Cache `raw` as `tid`'s record, if it has the record length, `tid` is not
    /// cached (or being cached) yet and there is room. Returns whether it was.
    /// The TID's bucket is claimed first, so writers racing on one TID spend
    /// one record between them.
    pub fn put(&self, tid: Tid, raw: &[u8]) -> bool {
        if raw.len() != self.layout.record_bytes || !self.has_room() {
            return false;
        }
        let k = key(tid);
        let mut b = self.home(k);
        let mut claimed = false;
        for _ in 0..self.layout.buckets {
            match self.words[2 * b].compare_exchange(0, k, AcqRel, Acquire) {
                Ok(_) => {
                    claimed = true;
                    break;
                }
                Err(found) if found == k => return false,
                Err(_) => b = (b + 1) & self.mask,
            }
        }
        // a claimed bucket whose record never comes (the segment filled up
        // meanwhile) stays a miss for good
        let slot = self.used_records.fetch_add(1, Relaxed) as usize;
        if !claimed || slot >= self.layout.records {
            return false;
        }
        let at = self.layout.records_at() + slot * self.layout.stride();
        let words = &self.words[at..at + self.layout.stride()];
        // SAFETY: the slot was handed out to this call alone (fetch_add), so
        // nothing else writes these words, and nothing reads them before the
        // Release store below publishes the slot; AtomicU64 is an UnsafeCell,
        // so writing through a pointer derived from a shared reference is allowed.
        unsafe { std::ptr::copy_nonoverlapping(raw.as_ptr(), words.as_ptr() as *mut u8, raw.len()) };
        self.words[2 * b + 1].store(slot as u64 + 1, Release);
        true
    }

    /// Append `tid`'s cached level-0 neighbours to `out` if `trusted`
    /// accepts the stamp they were read under; returns how many of them
    /// come first as the selection heuristic's (the rest are fill).
    pub fn neighbors(&self, tid: Tid, trusted: impl FnOnce(u64) -> bool, out: &mut Vec<Tid>) -> Option<usize> {
        let slot = self.slot(tid)?;
        let list = self.words[self.layout.list_of_at() + slot].load(Acquire);
        let list = list.checked_sub(1)?;
        let at = self.layout.lists_at() + list as usize * self.layout.list_words();
        let w = &self.words[at..at + self.layout.list_words()];
        let seq = w[0].load(Acquire);
        if seq & 1 == 1 || !trusted(w[1].load(Relaxed)) {
            return None;
        }
        let counts = w[2].load(Relaxed);
        let count = (counts as u32 as usize).min(self.layout.list_capacity);
        let diverse = ((counts >> 32) as usize).min(count);
        let start = out.len();
        for t in &w[LIST_HEAD..LIST_HEAD + count] {
            let k = t.load(Relaxed);
            if k == 0 {
                out.truncate(start);
                return None;
            }
            out.push(unkey(k));
        }
        std::sync::atomic::fence(Acquire);
        if w[0].load(Relaxed) != seq {
            out.truncate(start);
            return None;
        }
        Some(diverse)
    }

    /// Keep `tids` as `tid`'s level-0 neighbours read under `stamp`, the
    /// first `diverse` the heuristic's, if `tid`'s record is cached, they
    /// fit and there is room (or its list exists).
    pub fn put_neighbors(&self, tid: Tid, stamp: u64, tids: &[Tid], diverse: usize) {
        if tids.len() > self.layout.list_capacity {
            return;
        }
        let Some(slot) = self.slot(tid) else { return };
        let list_of = &self.words[self.layout.list_of_at() + slot];
        let list = match list_of.load(Acquire) {
            0 => {
                if self.used_lists.load(Relaxed) as usize >= self.layout.lists {
                    return;
                }
                let new = self.used_lists.fetch_add(1, Relaxed);
                if new as usize >= self.layout.lists {
                    return;
                }
                match list_of.compare_exchange(0, new + 1, AcqRel, Acquire) {
                    Ok(_) => new,
                    Err(other) => other - 1,
                }
            }
            l => l - 1,
        };
        let at = self.layout.lists_at() + list as usize * self.layout.list_words();
        let w = &self.words[at..at + self.layout.list_words()];
        let seq = w[0].load(Relaxed);
        if seq & 1 == 1 || w[0].compare_exchange(seq, seq + 1, Acquire, Relaxed).is_err() {
            return; // another backend is writing it
        }
        w[1].store(stamp, Relaxed);
        w[2].store(tids.len() as u64 | (diverse.min(tids.len()) as u64) << 32, Relaxed);
        for (word, &t) in w[LIST_HEAD..].iter().zip(tids) {
            word.store(key(t), Relaxed);
        }
        w[0].store(seq + 2, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment over leaked words (tests only), so it may be 'static.
    fn fresh(layout: Layout) -> Segment<'static> {
        let words: &'static [AtomicU64] = Box::leak((0..layout.words()).map(|_| AtomicU64::new(0)).collect());
        let counters: &'static [AtomicU64; 2] = Box::leak(Box::new([AtomicU64::new(0), AtomicU64::new(0)]));
        Segment::new(words, &counters[0], &counters[1], layout)
    }

    fn record_of(tid: Tid, bytes: usize) -> Vec<u8> {
        (0..bytes).map(|i| (tid.block as usize * 7 + tid.offset as usize * 13 + i) as u8).collect()
    }

    #[test]
    fn fit_never_exceeds_the_words() {
        for words in [0usize, 100, 10_000, 1 << 20] {
            for bytes in [8usize, 13, 392, 6144] {
                if let Some(l) = Layout::fit(words, bytes, 32, 1 << 30, 1) {
                    assert!(l.words() <= words);
                    assert!(Layout::for_records(l.records + 1, bytes, 32).words() > words);
                }
            }
        }
        assert_eq!(Layout::fit(10_000, 8, 32, 5, 1).map(|l| l.records), Some(5));
        assert_eq!(Layout::fit(10, 8, 32, 1000, 64), None);
    }

    #[test]
    fn records_round_trip_and_fill_up() {
        let layout = Layout::for_records(100, 13, 4);
        let s = fresh(layout);
        let tids: Vec<Tid> = (0..150u32).map(|i| Tid { block: i / 3 + 1, offset: (i % 3 + 1) as u16 }).collect();
        let kept: Vec<bool> = tids.iter().map(|&t| s.put(t, &record_of(t, 13))).collect();
        assert_eq!(kept.iter().filter(|&&k| k).count(), 100);
        assert!(!s.has_room());
        for (t, k) in tids.iter().zip(kept) {
            match s.slot(*t) {
                Some(slot) => {
                    assert!(k);
                    assert_eq!(s.record(slot), &record_of(*t, 13)[..]);
                }
                None => assert!(!k),
            }
        }
        // a second put of the same TID is refused; a wrong length too
        let layout = Layout::for_records(10, 8, 4);
        let s = fresh(layout);
        let t = Tid { block: 3, offset: 2 };
        assert!(s.put(t, &[1; 8]));
        assert!(!s.put(t, &[2; 8]));
        assert!(!s.put(Tid { block: 3, offset: 3 }, &[2; 9]));
        assert_eq!(s.record(s.slot(t).unwrap()), &[1; 8]);
        assert_eq!(s.slot(Tid { block: 3, offset: 3 }), None);
    }

    #[test]
    fn lists_are_trusted_under_their_stamp_only() {
        let s = fresh(Layout::for_records(10, 8, 4));
        let t = Tid { block: 1, offset: 1 };
        let ns = [Tid { block: 2, offset: 1 }, Tid { block: 7, offset: 9 }];
        let mut out = vec![];
        s.put_neighbors(t, 5, &ns, 1); // no record: not kept
        assert_eq!(s.neighbors(t, |st| st == 5, &mut out), None);
        assert!(s.put(t, &[0; 8]));
        s.put_neighbors(t, 5, &ns, 1);
        assert_eq!(s.neighbors(t, |st| st == 5, &mut out), Some(1));
        assert_eq!(out, ns);
        out.clear();
        assert_eq!(s.neighbors(t, |st| st == 6, &mut out), None);
        assert!(out.is_empty());
        // the caller's rule decides, given the stamp the list carries
        assert_eq!(s.neighbors(t, |st| st <= 6, &mut out), Some(1));
        out.clear();
        s.put_neighbors(t, 6, &ns[..1], 3);
        assert_eq!(s.neighbors(t, |st| st == 6, &mut out), Some(1), "diverse is at most the count");
        assert_eq!(out, &ns[..1]);
        // too long for the capacity: not kept
        s.put_neighbors(t, 7, &[ns[0]; 5], 0);
        assert_eq!(s.neighbors(t, |st| st == 7, &mut out), None);
    }

    /// Writers racing on the same TIDs and lists while readers check every
    /// record and list they see: a reader never sees a half-written record,
    /// and a list it accepts is one some writer wrote whole.
    #[test]
    fn concurrent_writers_and_readers_never_see_torn_data() {
        const BYTES: usize = 200;
        let s = fresh(Layout::for_records(3000, BYTES, 8));
        let tids: Vec<Tid> = (0..4000u32).map(|i| Tid { block: i / 5 + 1, offset: (i % 5 + 1) as u16 }).collect();
        let list_for = |t: Tid, round: u32| -> Vec<Tid> {
            (0..(t.offset as u32 + round) % 8)
                .map(|j| Tid { block: t.block + j, offset: (round % 3 + 1) as u16 })
                .collect()
        };
        std::thread::scope(|scope| {
            for w in 0..3u32 {
                let tids = &tids;
                scope.spawn(move || {
                    for round in 0..4 {
                        for (i, &t) in tids.iter().enumerate() {
                            if (i as u32 + w).is_multiple_of(2) {
                                s.put(t, &record_of(t, BYTES));
                                let list = list_for(t, round * 3 + w);
                                s.put_neighbors(t, 1, &list, list.len() / 2);
                            }
                        }
                    }
                });
            }
            for _ in 0..2 {
                let tids = &tids;
                scope.spawn(move || {
                    let mut out = vec![];
                    for _ in 0..6 {
                        for &t in tids {
                            if let Some(slot) = s.slot(t) {
                                assert_eq!(s.record(slot), &record_of(t, BYTES)[..]);
                            }
                            out.clear();
                            if let Some(diverse) = s.neighbors(t, |st| st == 1, &mut out) {
                                assert!((0..12).any(|r| list_for(t, r) == out), "torn list {out:?}");
                                assert_eq!(diverse, out.len() / 2, "torn counts");
                            }
                        }
                    }
                });
            }
        });
        // racing writers spent one record per TID between them
        assert_eq!(s.used_records(), 3000);
        let published = tids.iter().filter(|&&t| s.slot(t).is_some()).count();
        assert_eq!(published, 3000);
    }
}
