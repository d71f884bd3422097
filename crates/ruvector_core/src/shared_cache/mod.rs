//! One hnsw vector cache for every backend: an arena of atomic words in
//! memory shared between processes (PostgreSQL's main shared memory in the
//! extension; leaked words in tests), divided into segments, one per index
//! generation, each filled once by whichever backends search first and read
//! by all without copying.
//!
//! Layout, in 64-bit words: a header line; one line per backend (its hazard:
//! the tag of the segment it holds, 0 for none); `SEGMENTS` descriptors of
//! two lines each; then the data, where each live segment has a range.
//!
//! A descriptor's life: FREE → (allocated under the arena lock: a new tag,
//! key, range and layout written, then) BUILDING → (its creator zeroes the
//! map and lists, without the lock) LIVE → (under the lock: another
//! generation of the same index arrived, its room is needed, or it is full
//! and its index has doubled since it was made) RETIRED →
//! (under the lock, once no backend's hazard names its tag) FREE.
//!
//! Invariants:
//! - A backend uses a segment only while its hazard names the segment's tag:
//!   it stores the tag (SeqCst), then checks again that the descriptor is
//!   LIVE with that tag (SeqCst). Retiring stores RETIRED (SeqCst) before
//!   reading the hazards (SeqCst) to decide whether to free. In the single
//!   order of SeqCst operations one of the two sees the other, so a segment
//!   is never freed (and its range reused) while a backend holds it.
//! - Tags only grow; a descriptor's key, range and layout change only while
//!   it is FREE (under the lock), together with its tag, so a reader that
//!   checked the tag after reading them read one incarnation's.
//! - The arena lock is a spin lock held for a few hundred instructions (no
//!   zeroing, no allocation, no call that can fail under it). A process that
//!   dies holding it dies abnormally, and PostgreSQL then reinitialises
//!   shared memory.
//! - Inside a segment: see `segment`.
//!
//! Statistics (hits, misses) stay in each backend: counting them here would
//! make every lookup write a line all backends read.

#![deny(unsafe_code)]

// the only unsafe code here: a record's bytes inside the atomic words
#[allow(unsafe_code)]
mod segment;
mod stamps;

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

pub use segment::{Layout, Segment};
pub use stamps::BlockStamps;

use crate::spin::SpinGuard;

/// Descriptors: at most this many segments (index generations) at once.
pub const SEGMENTS: usize = 32;

const LINE: usize = 8;
const MAGIC: u64 = 0x7276_5f73_6361_6368; // "rv_scach"

// header words
const H_MAGIC: usize = 0;
const H_LOCK: usize = 1;
const H_CLOCK: usize = 2;
const H_HAZARDS: usize = 3;
const H_DATA_AT: usize = 4;
const H_DATA_WORDS: usize = 5;

// descriptor words
const D_STATE: usize = 0;
const D_TAG: usize = 1;
const D_INDEX: usize = 2; // database << 32 | index
const D_VERSION: usize = 3; // nonce << 32 | generation
const D_START: usize = 4;
const D_WORDS: usize = 5;
const D_RECORDS: usize = 6;
const D_RECORD_BYTES: usize = 7;
const D_LIST_CAPACITY: usize = 8;
const D_LAST_USED: usize = 9;
const D_WANTED: usize = 10; // the records its index was expected to need when made
                            // the counters writers bump
const D_USED_RECORDS: usize = 12;
const D_USED_LISTS: usize = 13;
const DESC_WORDS: usize = 2 * LINE;

const FREE: u64 = 0;
const BUILDING: u64 = 1;
const LIVE: u64 = 2;
const RETIRED: u64 = 3;

/// What a segment caches: one generation of one index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentKey {
    pub database: u32,
    pub index: u32,
    pub nonce: u32,
    pub generation: u32,
}

impl SegmentKey {
    fn index_word(&self) -> u64 {
        (self.database as u64) << 32 | self.index as u64
    }
    fn version_word(&self) -> u64 {
        (self.nonce as u64) << 32 | self.generation as u64
    }
}

/// What a new segment should hold.
#[derive(Clone, Copy, Debug)]
pub struct SegmentSpec {
    pub record_bytes: usize,
    pub list_capacity: usize,
    /// Records wanted (the index's elements, with room to grow).
    pub records: usize,
}

/// What `Arena::open` found.
pub enum Opened<'a> {
    /// The segment, held (this backend's hazard names it) until the next
    /// `open` or `release` by the same backend.
    Held(Segment<'a>),
    /// Another backend is setting the segment up: search without it.
    Busy,
    /// No room, even after retiring segments nobody holds.
    NoRoom,
}

/// One segment's figures, for reporting.
#[derive(Clone, Copy, Debug)]
pub struct SegmentInfo {
    pub key: SegmentKey,
    pub state: &'static str,
    pub bytes: usize,
    pub records: usize,
    pub used_records: usize,
    pub lists: usize,
    pub used_lists: usize,
    pub record_bytes: usize,
    pub list_capacity: usize,
}

/// The arena: see the module comment.
#[derive(Clone, Copy)]
pub struct Arena<'a> {
    words: &'a [AtomicU64],
}

impl<'a> Arena<'a> {
    /// Words an arena with `hazards` backends and `data_bytes` of data takes.
    pub fn words_for(hazards: usize, data_bytes: usize) -> usize {
        LINE + hazards * LINE + SEGMENTS * DESC_WORDS + data_bytes / 8
    }

    /// Set up an arena in `words` for `hazards` backends. Only the header,
    /// hazards and descriptors are zeroed here (a segment zeroes what it needs
    /// when made), so the data's memory is not touched before it is used.
    pub fn format(words: &'a [AtomicU64], hazards: usize) -> Option<Arena<'a>> {
        let data_at = LINE + hazards * LINE + SEGMENTS * DESC_WORDS;
        if words.len() < data_at {
            return None;
        }
        words[..data_at].iter().for_each(|w| w.store(0, Relaxed));
        words[H_HAZARDS].store(hazards as u64, Relaxed);
        words[H_DATA_AT].store(data_at as u64, Relaxed);
        words[H_DATA_WORDS].store((words.len() - data_at) as u64, Relaxed);
        words[H_MAGIC].store(MAGIC, Release);
        Some(Arena { words })
    }

    /// An arena `format` set up in `words` earlier (by another process).
    pub fn attach(words: &'a [AtomicU64]) -> Option<Arena<'a>> {
        (words.len() > LINE && words[H_MAGIC].load(Acquire) == MAGIC).then_some(Arena { words })
    }

    pub fn hazards(&self) -> usize {
        self.words[H_HAZARDS].load(Relaxed) as usize
    }

    /// Bytes of the whole arena: header, hazards, descriptors and data.
    pub fn words_bytes(&self) -> usize {
        self.words.len() * 8
    }

    pub fn data_bytes(&self) -> usize {
        self.words[H_DATA_WORDS].load(Relaxed) as usize * 8
    }

    fn hazard(&self, backend: usize) -> &AtomicU64 {
        &self.words[LINE + backend * LINE]
    }

    fn desc(&self, i: usize) -> &[AtomicU64] {
        let at = LINE + self.hazards() * LINE + i * DESC_WORDS;
        &self.words[at..at + DESC_WORDS]
    }

    fn data_at(&self) -> usize {
        self.words[H_DATA_AT].load(Relaxed) as usize
    }

    fn lock(&self) -> SpinGuard<'_> {
        crate::spin::acquire(&self.words[H_LOCK])
    }

    fn matches(d: &[AtomicU64], key: &SegmentKey) -> bool {
        d[D_INDEX].load(Relaxed) == key.index_word() && d[D_VERSION].load(Relaxed) == key.version_word()
    }

    /// The descriptor holding `key` in one of `states`, with its tag.
    fn find(&self, key: &SegmentKey, states: &[u64]) -> Option<(usize, u64)> {
        (0..SEGMENTS).find_map(|i| {
            let d = self.desc(i);
            let tag = d[D_TAG].load(Acquire);
            let state = d[D_STATE].load(Acquire);
            (states.contains(&state) && Self::matches(d, key)).then_some((i, tag))
        })
    }

    /// Hold descriptor `i` if it is still LIVE under `tag`.
    fn hold(&self, backend: usize, i: usize, tag: u64) -> Option<Segment<'a>> {
        self.hazard(backend).store(tag, SeqCst);
        let d = self.desc(i);
        if d[D_STATE].load(SeqCst) != LIVE || d[D_TAG].load(SeqCst) != tag {
            self.hazard(backend).store(0, SeqCst);
            return None;
        }
        let clock = self.words[H_CLOCK].load(Relaxed);
        if d[D_LAST_USED].load(Relaxed) != clock {
            d[D_LAST_USED].store(clock, Relaxed);
        }
        self.view(i)
    }

    fn layout_of(d: &[AtomicU64]) -> Layout {
        Layout::for_records(
            d[D_RECORDS].load(Relaxed) as usize,
            d[D_RECORD_BYTES].load(Relaxed) as usize,
            d[D_LIST_CAPACITY].load(Relaxed) as usize,
        )
    }

    /// Descriptor `i`'s segment (None if its range is not inside the arena
    /// or too small for its layout, which `create` never writes).
    fn view(&self, i: usize) -> Option<Segment<'a>> {
        let at = LINE + self.hazards() * LINE + i * DESC_WORDS;
        let d: &'a [AtomicU64] = &self.words[at..at + DESC_WORDS];
        let start = self.data_at() + d[D_START].load(Relaxed) as usize;
        let len = d[D_WORDS].load(Relaxed) as usize;
        let layout = Self::layout_of(d);
        let words = self.words.get(start..start.checked_add(len)?)?;
        (layout.words() <= len && layout.buckets > 0)
            .then(|| Segment::new(words, &d[D_USED_RECORDS], &d[D_USED_LISTS], layout))
    }

    /// Let go of what `backend` holds.
    pub fn release(&self, backend: usize) {
        if backend < self.hazards() {
            self.hazard(backend).store(0, SeqCst);
        }
    }

    fn held_by_anyone(&self, tag: u64) -> bool {
        (0..self.hazards()).any(|b| self.hazard(b).load(SeqCst) == tag)
    }

    /// Under the lock: free every retired segment nobody holds.
    fn reclaim(&self, _lock: &SpinGuard) {
        for i in 0..SEGMENTS {
            let d = self.desc(i);
            if d[D_STATE].load(SeqCst) == RETIRED && !self.held_by_anyone(d[D_TAG].load(Relaxed)) {
                d[D_STATE].store(FREE, SeqCst);
            }
        }
    }

    /// Under the lock: the largest free range of the data (start, words), and
    /// a free descriptor, if any.
    fn largest_gap(&self, _lock: &SpinGuard) -> ((usize, usize), Option<usize>) {
        let mut used: Vec<(usize, usize)> = vec![];
        let mut free_desc = None;
        for i in 0..SEGMENTS {
            let d = self.desc(i);
            if d[D_STATE].load(SeqCst) == FREE {
                free_desc.get_or_insert(i);
            } else {
                used.push((d[D_START].load(Relaxed) as usize, d[D_WORDS].load(Relaxed) as usize));
            }
        }
        used.sort_unstable();
        let total = self.words[H_DATA_WORDS].load(Relaxed) as usize;
        let mut best = (0, 0);
        let mut at = 0;
        for (start, len) in used.into_iter().chain([(total, 0)]) {
            if start.saturating_sub(at) > best.1 {
                best = (at, start - at);
            }
            // keep each segment's start on a cache line
            at = at.max((start + len).next_multiple_of(LINE));
        }
        (best, free_desc)
    }

    /// Under the lock: retire the live segment used longest ago that nobody
    /// holds (not of `keep`'s index). Returns whether one was.
    fn evict_one(&self, keep: &SegmentKey, _lock: &SpinGuard) -> bool {
        let victim = (0..SEGMENTS)
            .filter(|&i| {
                let d = self.desc(i);
                d[D_STATE].load(SeqCst) == LIVE
                    && d[D_INDEX].load(Relaxed) != keep.index_word()
                    && !self.held_by_anyone(d[D_TAG].load(Relaxed))
            })
            .min_by_key(|&i| self.desc(i)[D_LAST_USED].load(Relaxed));
        victim.inspect(|&i| self.desc(i)[D_STATE].store(RETIRED, SeqCst)).is_some()
    }

    /// The segment for `key`, held for `backend` (0-based, below `hazards`),
    /// made if there is none (`spec` says its size). What `backend` held
    /// before is let go of first.
    pub fn open(&self, backend: usize, key: SegmentKey, spec: SegmentSpec) -> Opened<'a> {
        if backend >= self.hazards() || spec.record_bytes == 0 {
            return Opened::NoRoom;
        }
        self.release(backend);
        for _ in 0..4 {
            if let Some((i, tag)) = self.find(&key, &[LIVE]) {
                if self.outgrown(i, &spec) {
                    self.retire_if(i, tag);
                    continue; // made again, for the index as it is now
                }
                if let Some(s) = self.hold(backend, i, tag) {
                    return Opened::Held(s);
                }
                continue; // retired meanwhile
            }
            return self.create(backend, key, spec);
        }
        Opened::Busy
    }

    /// Whether descriptor `i`'s segment is full and its index has grown to
    /// twice the records it was made for (an index built small, or empty,
    /// and filled by inserts): then it is made again at the new size (cold,
    /// once per doubling, so a segment the arena had no more room for is
    /// not made again at every search).
    fn outgrown(&self, i: usize, spec: &SegmentSpec) -> bool {
        let d = self.desc(i);
        let full = d[D_USED_RECORDS].load(Relaxed) >= d[D_RECORDS].load(Relaxed);
        full && spec.records as u64 >= 2 * d[D_WANTED].load(Relaxed).max(1)
    }

    /// Retire descriptor `i` if it is still LIVE under `tag`.
    fn retire_if(&self, i: usize, tag: u64) {
        let lock = self.lock();
        let d = self.desc(i);
        if d[D_STATE].load(SeqCst) == LIVE && d[D_TAG].load(SeqCst) == tag {
            d[D_STATE].store(RETIRED, SeqCst);
        }
        self.reclaim(&lock);
    }

    fn create(&self, backend: usize, key: SegmentKey, spec: SegmentSpec) -> Opened<'a> {
        let lock = self.lock();
        if let Some((i, tag)) = self.find(&key, &[LIVE, BUILDING]) {
            drop(lock);
            return match self.hold(backend, i, tag) {
                Some(s) => Opened::Held(s),
                None => Opened::Busy,
            };
        }
        // other generations of this index are of no more use to new searches
        for i in 0..SEGMENTS {
            let d = self.desc(i);
            if d[D_STATE].load(SeqCst) == LIVE && d[D_INDEX].load(Relaxed) == key.index_word() {
                d[D_STATE].store(RETIRED, SeqCst);
            }
        }
        let want = Layout::for_records(spec.records.max(1), spec.record_bytes, spec.list_capacity).words();
        let min_records = 64.min(spec.records.max(1));
        let (layout, start, i) = loop {
            self.reclaim(&lock);
            let ((start, words), free_desc) = self.largest_gap(&lock);
            let fits = words >= want;
            if let (Some(i), true) = (free_desc, fits) {
                if let Some(l) = Layout::fit(words, spec.record_bytes, spec.list_capacity, spec.records.max(1), 1) {
                    break (l, start, i);
                }
            }
            if self.evict_one(&key, &lock) {
                continue;
            }
            // nothing more to evict: take the largest room there is
            match (
                free_desc,
                Layout::fit(words, spec.record_bytes, spec.list_capacity, spec.records.max(1), min_records),
            ) {
                (Some(i), Some(l)) => break (l, start, i),
                _ => return Opened::NoRoom,
            }
        };
        let clock = self.words[H_CLOCK].fetch_add(1, Relaxed) + 1;
        let d = self.desc(i);
        d[D_TAG].store(clock, SeqCst);
        d[D_INDEX].store(key.index_word(), Relaxed);
        d[D_VERSION].store(key.version_word(), Relaxed);
        d[D_START].store(start as u64, Relaxed);
        d[D_WORDS].store(layout.words() as u64, Relaxed);
        d[D_RECORDS].store(layout.records as u64, Relaxed);
        d[D_RECORD_BYTES].store(layout.record_bytes as u64, Relaxed);
        d[D_LIST_CAPACITY].store(layout.list_capacity as u64, Relaxed);
        d[D_LAST_USED].store(clock, Relaxed);
        d[D_WANTED].store(spec.records.max(1) as u64, Relaxed);
        d[D_USED_RECORDS].store(0, Relaxed);
        d[D_USED_LISTS].store(0, Relaxed);
        d[D_STATE].store(BUILDING, SeqCst);
        drop(lock);
        // nobody else touches a BUILDING segment's range
        let at = self.data_at() + start;
        self.words[at..at + layout.zeroed_words()].iter().for_each(|w| w.store(0, Relaxed));
        self.hazard(backend).store(clock, SeqCst);
        d[D_STATE].store(LIVE, SeqCst);
        self.view(i).map_or(Opened::NoRoom, Opened::Held)
    }

    /// Retire every segment of index `index` of `database` (it was dropped);
    /// each is freed now if nobody holds it, else once the last holder lets
    /// go. Returns how many were retired.
    pub fn retire_index(&self, database: u32, index: u32) -> usize {
        let lock = self.lock();
        let word = (database as u64) << 32 | index as u64;
        let mut retired = 0;
        for i in 0..SEGMENTS {
            let d = self.desc(i);
            if d[D_STATE].load(SeqCst) == LIVE && d[D_INDEX].load(Relaxed) == word {
                d[D_STATE].store(RETIRED, SeqCst);
                retired += 1;
            }
        }
        self.reclaim(&lock);
        retired
    }

    /// Every segment not free.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        (0..SEGMENTS)
            .filter_map(|i| {
                let d = self.desc(i);
                let state = match d[D_STATE].load(Acquire) {
                    BUILDING => "building",
                    LIVE => "live",
                    RETIRED => "retired",
                    _ => return None,
                };
                let (index, version) = (d[D_INDEX].load(Relaxed), d[D_VERSION].load(Relaxed));
                let layout = Self::layout_of(d);
                Some(SegmentInfo {
                    key: SegmentKey {
                        database: (index >> 32) as u32,
                        index: index as u32,
                        nonce: (version >> 32) as u32,
                        generation: version as u32,
                    },
                    state,
                    bytes: d[D_WORDS].load(Relaxed) as usize * 8,
                    records: layout.records,
                    used_records: (d[D_USED_RECORDS].load(Relaxed) as usize).min(layout.records),
                    lists: layout.lists,
                    used_lists: (d[D_USED_LISTS].load(Relaxed) as usize).min(layout.lists),
                    record_bytes: layout.record_bytes,
                    list_capacity: layout.list_capacity,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hnsw::tuple::Tid;

    fn arena(hazards: usize, data_bytes: usize) -> Arena<'static> {
        let words: &'static [AtomicU64] =
            Box::leak((0..Arena::words_for(hazards, data_bytes)).map(|_| AtomicU64::new(7)).collect());
        Arena::format(words, hazards).unwrap()
    }

    fn key(index: u32, generation: u32) -> SegmentKey {
        SegmentKey { database: 1, index, nonce: 9, generation }
    }

    fn spec(records: usize) -> SegmentSpec {
        SegmentSpec { record_bytes: 64, list_capacity: 8, records }
    }

    fn held(o: Opened<'static>) -> Segment<'static> {
        match o {
            Opened::Held(s) => s,
            Opened::Busy => panic!("busy"),
            Opened::NoRoom => panic!("no room"),
        }
    }

    const T: Tid = Tid { block: 1, offset: 1 };

    #[test]
    fn backends_share_one_segment_per_generation() {
        let a = arena(4, 1 << 20);
        assert!(Arena::attach(a.words).is_some());
        let s0 = held(a.open(0, key(5, 1), spec(100)));
        assert!(s0.put(T, &[3; 64]));
        let s1 = held(a.open(1, key(5, 1), spec(100)));
        assert_eq!(s1.record(s1.slot(T).unwrap()), &[3; 64]);
        assert_eq!(a.segments().len(), 1);
        // a new generation retires the old; the old is freed once let go of
        let s2 = held(a.open(2, key(5, 2), spec(100)));
        assert_eq!(s2.slot(T), None);
        let states = |a: &Arena| a.segments().iter().map(|s| (s.key.generation, s.state)).collect::<Vec<_>>();
        assert_eq!(states(&a), vec![(1, "retired"), (2, "live")]);
        // still readable by those holding it
        assert_eq!(s0.record(s0.slot(T).unwrap()), &[3; 64]);
        a.release(0);
        held(a.open(3, key(6, 1), spec(10)));
        assert_eq!(states(&a).len(), 3, "backend 1 still holds generation 1");
        a.release(1);
        held(a.open(3, key(7, 1), spec(10)));
        assert!(!states(&a).contains(&(1, "retired")));
        // an unknown backend gets nothing
        assert!(matches!(a.open(4, key(5, 2), spec(10)), Opened::NoRoom));
        // a dropped index's segments go: at once if nobody holds them
        a.release(2);
        assert_eq!(a.retire_index(1, 5), 1);
        assert!(!a.segments().iter().any(|s| s.key.index == 5));
    }

    /// A segment made for a small index (built empty, then filled by
    /// inserts) is made again once it is full and the index has doubled;
    /// not before, and not again until the index doubles once more.
    #[test]
    fn a_full_segment_of_an_index_that_doubled_is_made_again_bigger() {
        let a = arena(2, 1 << 20);
        let fill = |s: &Segment, from: u32, n: u32| {
            for i in from..from + n {
                s.put(Tid { block: i + 1, offset: 1 }, &[1; 64]);
            }
        };
        let small = held(a.open(0, key(5, 1), spec(10)));
        assert_eq!(small.layout().records, 10);
        fill(&small, 0, 10);
        assert_eq!(small.used_records(), 10);
        // grown, but not twice: the same segment
        let again = held(a.open(0, key(5, 1), spec(19)));
        assert_eq!(again.layout().records, 10);
        // twice: a new one of the new size; the old retired
        let bigger = held(a.open(0, key(5, 1), spec(40)));
        assert_eq!(bigger.layout().records, 40);
        assert_eq!(bigger.used_records(), 0);
        assert_eq!(a.segments().iter().filter(|s| s.key.index == 5 && s.state == "live").count(), 1);
        // not full: kept, however much the index grew
        let kept = held(a.open(1, key(5, 1), spec(1000)));
        assert_eq!(kept.layout().records, 40);
        fill(&kept, 0, 40);
        assert_eq!(held(a.open(1, key(5, 1), spec(79))).layout().records, 40);
        assert_eq!(held(a.open(1, key(5, 1), spec(80))).layout().records, 80);
    }

    #[test]
    fn room_is_found_by_evicting_what_nobody_holds() {
        let data = Layout::for_records(100, 64, 8).words() * 8 * 2 + 4096;
        let a = arena(2, data);
        let first = held(a.open(0, key(1, 1), spec(100)));
        assert_eq!(first.layout().records, 100);
        held(a.open(1, key(2, 1), spec(100)));
        // backend 1 now takes a third index: index 1 is held, index 2 is not
        let third = held(a.open(1, key(3, 1), spec(100)));
        assert_eq!(third.layout().records, 100);
        let live: Vec<u32> = a.segments().iter().filter(|s| s.state == "live").map(|s| s.key.index).collect();
        assert_eq!(live, vec![1, 3]);
        // too big for the whole arena: the largest room there is
        a.release(0);
        a.release(1);
        let big = held(a.open(0, key(4, 1), spec(1_000_000)));
        assert!(big.layout().records > 150 && big.layout().words() * 8 <= data);
    }

    /// Backends on threads opening, filling and reading segments of a few
    /// index generations while new generations retire old ones: no record
    /// ever read differs from what was written for its TID in its generation
    /// (a freed range reused while held would show other bytes).
    #[test]
    fn segments_are_never_reused_while_held() {
        let a = arena(6, Layout::for_records(300, 64, 8).words() * 8 * 3);
        std::thread::scope(|scope| {
            for b in 0..6usize {
                scope.spawn(move || {
                    for round in 0..400u32 {
                        let k = key(round % 3, round / 40);
                        let s = match a.open(b, k, spec(300)) {
                            Opened::Held(s) => s,
                            _ => continue,
                        };
                        let fill = (k.index * 31 + k.generation) as u8;
                        for i in 0..300u32 {
                            let t = Tid { block: i + 1, offset: 1 };
                            s.put(t, &[fill.wrapping_add(i as u8); 64]);
                            if let Some(slot) = s.slot(t) {
                                assert_eq!(s.record(slot), &[fill.wrapping_add(i as u8); 64]);
                            }
                        }
                    }
                    a.release(b);
                });
            }
        });
        assert!(a.segments().len() <= SEGMENTS);
    }
}
