//! A backend-local cache of element vectors for hnsw scans.
//!
//! Reading an element's vector through the buffer manager costs a buffer
//! table lookup, a pin, a content lock and several cache misses on the page;
//! a search computes thousands of distances, and that, not the arithmetic,
//! is most of its time. Scans therefore keep the vectors they have read in
//! one flat, 8-byte-aligned slab per backend (found through a direct-mapped
//! (block, offset) → slot array), up to `hnsw.vector_cache_size`
//! bytes (filled first come, never evicted: the elements near the top of the
//! graph, which every search visits, are the first to arrive).
//!
//! The level-0 neighbour lists of cached elements are kept too, beside their
//! vectors, because reading a list from its page (pin, lock, three cache
//! misses) cost as much again as the distances on 784-dimensional data; each
//! says how many of its links come first as the heuristic's, so an insert's
//! search for neighbours (which follows only those) reads them here too. A
//! list changes with inserts and VACUUM, so a cached list carries the index's
//! WAL mark (`Index::wal_mark`: the WAL insert position, or the replay
//! position on a standby) taken when the search that read it began. Every
//! change to an index page is WAL-logged before its page lock is released,
//! so:
//! - with the library preloaded, on a primary, a list is current while no
//!   WAL record of a change to *its own page* ends after its mark (the
//!   pages' change positions, `ruvector_core::shared_cache::BlockStamps`,
//!   raised by src/am/storage before each changed page's lock is released;
//!   the argument is in that module). An insert changes the pages of its
//!   own element and of the few dozen it links back from, so the other
//!   cached lists stay in use through a stream of inserts;
//! - otherwise (no preload, a standby, whose replay does not raise the
//!   positions, and a backend's own cache), a list is current only while
//!   the WAL mark is still the one it was read under: a search that finds
//!   the mark moved (any WAL written anywhere) starts a new list epoch,
//!   making every list of a backend's own cache stale at once. On a busy
//!   primary those lists are thus re-read nearly every search.
//!
//! Indexes whose changes are not all WAL-logged (unlogged, temporary, new
//! under wal_level = minimal) never use cached lists.
//!
//! Validity: an element's vector never changes while its TID names it. A TID
//! can name another element only after VACUUM freed the first, and VACUUM
//! bumps the meta page's `generation` before it frees any, then waits out
//! (update lock, exclusively for a moment) every search that began under the
//! old generation; a build sets a new `nonce`. The cache belongs to one
//! (index, nonce, generation) and is emptied when a search sees another.
//! An insert's search for neighbours reads through it too; the candidates it
//! returns are read again from their pages, with their deleted flags.
//!
//! Fixed-length types only (`ruvector`, `halfvec`, `bit`); `sparsevec` rows
//! vary in length and are not cached.
//!
//! **Shared.** With `ruvector_pg` preloaded and `hnsw.shared_cache_size`
//! above 0, the same functions keep the vectors and lists in one segment of
//! shared memory per (database, index, nonce, generation) instead
//! (`ruvector_core::shared_cache`, set up by src/shared.rs), filled by
//! whichever backend reads a vector first and read by all without copying.
//! A backend holds the segment from `open` to the end of its transaction.
//! Lists there carry the WAL mark they were read under instead of an epoch
//! (the rules are above). When the segment is being set up
//! by another backend or the arena has no room, the search runs uncached.

#![forbid(unsafe_code)]

use std::cell::RefCell;

use pgrx::pg_sys;
use ruvector_core::hnsw::tuple::Tid;
use ruvector_core::layout::AlignedRows;
use ruvector_core::shared_cache::{BlockStamps, Layout, Opened, Segment, SegmentKey, SegmentSpec};

/// What a cache is valid for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CacheKey {
    pub index: pg_sys::Oid,
    pub nonce: u32,
    pub generation: u32,
}

/// The shared segment a search holds, and the stamp the lists it reads
/// carry (the index's WAL mark when the search began; None: lists not to be
/// trusted).
#[derive(Clone, Copy)]
struct Shared {
    segment: Segment<'static>,
    stamp: Option<u64>,
    /// With the library preloaded, on a primary: the pages' change
    /// positions, by which a list is trusted until its own page changes
    /// (else only while the WAL mark is the one it was read under).
    pages: Option<(BlockStamps<'static>, u32)>,
}

impl Shared {
    /// Whether a list of element `tid` read under `list_stamp` is current.
    #[inline]
    fn trusts(&self, tid: Tid, list_stamp: u64) -> bool {
        match (self.stamp, self.pages) {
            (None, _) => false,
            // no WAL since the list was read: current under either rule (and
            // read-only work never looks into the page table)
            (Some(stamp), _) if list_stamp == stamp => true,
            // a primary's stamp (bit 0 clear), and no record of a change to
            // the list's page ends after it
            (Some(_), Some((pages, index))) => {
                list_stamp & 1 == 0 && pages.unchanged_since(index, tid.block, list_stamp >> 1)
            }
            (Some(_), None) => false,
        }
    }
}

#[derive(Default)]
struct VectorCache {
    /// Set while a search holds a shared segment: then everything below but
    /// `key` and the counters is unused.
    shared: Option<Shared>,
    /// The shared segment the last search held (for `usage` after the
    /// transaction let go of it).
    last_shared: Option<SegmentKey>,
    key: Option<CacheKey>,
    /// Slot of each cached TID, direct-mapped at `block * per_block + offset`
    /// (index pages hold few tuples, so this is small and needs no hashing);
    /// `EMPTY` where nothing is cached.
    slots: Vec<u32>,
    per_block: usize,
    slab: AlignedRows,
    /// Where each vector slot's level-0 neighbour list is in `lists`
    /// (`EMPTY`: none); lists are kept only for elements a search expanded,
    /// a small part of those it measured.
    list_of: Vec<u32>,
    /// `list_words` words per list: [epoch, count | diverse << 16, (block,
    /// offset) × capacity], the first `diverse` links the heuristic's.
    lists: Vec<u32>,
    list_words: usize,
    /// The epoch current lists carry, and the WAL mark it belongs to.
    epoch: u32,
    wal_mark: Option<(bool, u64)>,
    hits: u64,
    misses: u64,
}

const EMPTY: u32 = u32::MAX;

impl VectorCache {
    #[inline]
    fn slot(&self, tid: Tid) -> Option<u32> {
        if tid.offset as usize >= self.per_block {
            return None;
        }
        self.slots.get(tid.block as usize * self.per_block + tid.offset as usize).copied().filter(|&s| s != EMPTY)
    }

    /// `tid`'s cached record, shared or this backend's.
    #[inline]
    fn record(&self, tid: Tid) -> Option<&[u8]> {
        match &self.shared {
            Some(sh) => sh.segment.slot(tid).map(|s| sh.segment.record(s)),
            None => self.slot(tid).map(|s| self.slab.get(s as usize)),
        }
    }

    /// Ask the CPU to load `tid`'s entry of the slot map.
    #[inline]
    fn prefetch_slot(&self, tid: Tid) {
        if let Some(sh) = &self.shared {
            sh.segment.prefetch_bucket(tid);
            return;
        }
        if (tid.offset as usize) < self.per_block {
            let at = tid.block as usize * self.per_block + tid.offset as usize;
            if let Some(entry) = self.slots.get(at..at + 1) {
                ruvector_core::kernels::prefetch(entry, 1);
            }
        }
    }

    /// Bytes held: vectors, lists and maps.
    fn bytes(&self) -> usize {
        self.slab.used_bytes() + (self.slots.len() + self.list_of.len() + self.lists.len()) * 4
    }

    /// Bytes of the slot map once `tid` is in it.
    fn map_bytes_with(&self, tid: Tid) -> usize {
        let per_block = self.per_block.max((tid.offset as usize + 1).next_power_of_two());
        let blocks = (self.slots.len() / self.per_block.max(1)).max(tid.block as usize + 1);
        blocks * per_block * 4
    }

    fn set_slot(&mut self, tid: Tid, slot: u32) {
        let offset = tid.offset as usize;
        if offset >= self.per_block {
            // re-lay the map out with room for this offset in every block
            let per_block = (offset + 1).next_power_of_two();
            let blocks = self.slots.len() / self.per_block.max(1);
            let mut slots = vec![EMPTY; blocks * per_block];
            for b in 0..blocks {
                for o in 0..self.per_block {
                    slots[b * per_block + o] = self.slots[b * self.per_block + o];
                }
            }
            self.slots = slots;
            self.per_block = per_block;
        }
        let at = tid.block as usize * self.per_block + offset;
        if at >= self.slots.len() {
            self.slots.resize((tid.block as usize + 1) * self.per_block, EMPTY);
        }
        self.slots[at] = slot;
    }
}

thread_local! {
    static CACHE: RefCell<VectorCache> = RefCell::default();
}

/// Make the cache the one for `key` with vectors of `bytes` bytes and level-0
/// lists of up to `list_capacity` TIDs, emptying it if it belonged to
/// something else, and start a new list epoch if the index's WAL mark
/// (`wal_mark`, None: lists not to be trusted) moved. With the shared cache,
/// hold `key`'s segment instead (made for about `records` vectors if there is
/// none). `hnsw.vector_cache_size = 0` turns both off for the session.
/// Returns whether caching is on.
pub fn open(
    key: CacheKey,
    bytes: Option<usize>,
    list_capacity: usize,
    wal_mark: Option<(bool, u64)>,
    records: usize,
) -> bool {
    let limit = super::options::vector_cache_bytes();
    let Some(bytes) = bytes.filter(|&b| b > 0 && limit > 0) else { return false };
    if let Some((arena, backend, database)) = crate::shared::arena_for_search() {
        let skey = SegmentKey {
            database: database.to_u32(),
            index: key.index.to_u32(),
            nonce: key.nonce,
            generation: key.generation,
        };
        let spec = SegmentSpec { record_bytes: bytes, list_capacity, records };
        let opened = arena.open(backend, skey, spec);
        return CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.key != Some(key) {
                (c.hits, c.misses) = (0, 0);
            }
            c.key = Some(key);
            c.last_shared = Some(skey);
            c.shared = match opened {
                Opened::Held(segment) => {
                    // never 0: a list not yet written carries 0
                    let stamp = wal_mark.map(|(standby, lsn)| (lsn << 1 | standby as u64).max(1));
                    let pages = match wal_mark {
                        Some((false, _)) => crate::shared::block_stamps().map(|p| (p, key.index.to_u32())),
                        _ => None,
                    };
                    Some(Shared { segment, stamp, pages })
                }
                Opened::Busy | Opened::NoRoom => None,
            };
            if c.shared.is_none() {
                c.slab = AlignedRows::default();
                c.slots = vec![];
                c.list_of = vec![];
                c.lists = vec![];
            }
            c.shared.is_some()
        });
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let list_words = 2 + 2 * list_capacity;
        if c.key != Some(key) || c.slab.record_bytes() != bytes || c.list_words != list_words {
            let mut slab = AlignedRows::new(bytes);
            slab.reserve_huge(limit / bytes.next_multiple_of(8));
            *c = VectorCache { key: Some(key), slab, list_words, epoch: 1, ..Default::default() };
        } else if wal_mark.is_none() || c.wal_mark != wal_mark {
            c.epoch = c.epoch.wrapping_add(1);
            if c.epoch == 0 {
                c.lists.fill(0);
                c.epoch = 1;
            }
        }
        c.wal_mark = wal_mark;
    });
    true
}

/// Bytes of the shared segment this backend's search holds, if any.
pub fn shared_segment_bytes() -> Option<usize> {
    CACHE.with(|c| c.borrow().shared.map(|sh| sh.segment.layout().words() * 8))
}

/// Stop using the shared segment this backend held (its hazard is let go of
/// by the caller, src/shared.rs, at the end of a transaction).
pub fn forget_shared() {
    CACHE.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c.shared = None;
        }
    })
}

/// Append `tid`'s cached level-0 neighbours to `out`, if they are cached and
/// current; returns how many come first as the heuristic's choice.
#[inline]
pub fn neighbors(tid: Tid, out: &mut Vec<Tid>) -> Option<usize> {
    CACHE.with(|c| {
        let c = c.borrow();
        if let Some(sh) = &c.shared {
            return sh.segment.neighbors(tid, |list_stamp| sh.trusts(tid, list_stamp), out);
        }
        let slot = c.slot(tid).filter(|_| c.wal_mark.is_some())?;
        let list = c.list_of.get(slot as usize).copied().filter(|&l| l != EMPTY)?;
        let at = list as usize * c.list_words;
        let words = c.lists.get(at..at + c.list_words).filter(|w| w[0] == c.epoch)?;
        let count = (words[1] & 0xFFFF) as usize;
        let diverse = (words[1] >> 16) as usize;
        out.extend(words[2..2 + 2 * count].chunks_exact(2).map(|p| Tid { block: p[0], offset: p[1] as u16 }));
        Some(diverse)
    })
}

/// Whether cached lists outlive the WAL the next insert writes: the search
/// holds a shared segment whose lists are trusted by their pages' change
/// positions (preloaded, on a primary). Otherwise an insert's own WAL makes
/// every list stale, and its search gains nothing by keeping them.
pub fn lists_outlive_writes() -> bool {
    CACHE.with(|c| c.borrow().shared.is_some_and(|sh| sh.pages.is_some() && sh.stamp.is_some()))
}

/// Keep `tids` as `tid`'s level-0 neighbours, the first `diverse` the
/// heuristic's, if its vector is cached (a list belongs to a vector slot),
/// they fit and there is room.
pub fn put_neighbors(tid: Tid, tids: &[Tid], diverse: usize) {
    let limit = super::options::vector_cache_bytes();
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(sh) = &c.shared {
            if let Some(stamp) = sh.stamp {
                sh.segment.put_neighbors(tid, stamp, tids, diverse);
            }
            return;
        }
        if c.wal_mark.is_none() || 2 + 2 * tids.len() > c.list_words {
            return;
        }
        let Some(slot) = c.slot(tid) else { return };
        let slot = slot as usize;
        if c.list_of.len() <= slot {
            let more = slot + 1 - c.list_of.len();
            if c.list_of.try_reserve(more).is_err() {
                return;
            }
            c.list_of.resize(slot + 1, EMPTY);
        }
        if c.list_of[slot] == EMPTY {
            let words = c.list_words;
            if c.bytes() + words * 4 > limit || c.lists.try_reserve(words).is_err() {
                return;
            }
            c.list_of[slot] = (c.lists.len() / c.list_words) as u32;
            let words = c.lists.len() + c.list_words;
            c.lists.resize(words, 0);
        }
        let (at, epoch) = (c.list_of[slot] as usize * c.list_words, c.epoch);
        let words = &mut c.lists[at..];
        words[0] = epoch;
        // (list_words bounds the count by 2m, far below 2^16)
        words[1] = tids.len() as u32 | (diverse.min(tids.len()) as u32) << 16;
        for (pair, t) in words[2..].chunks_exact_mut(2).zip(tids) {
            pair[0] = t.block;
            pair[1] = t.offset as u32;
        }
    })
}

/// Call `f` with the cached vector of `tid`, if there is one.
#[inline]
pub fn with<R>(tid: Tid, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let found = c.record(tid).map(f);
        match found {
            Some(_) => c.hits += 1,
            None => c.misses += 1,
        }
        found
    })
}

/// Cache lines of a cached vector `prefetch_all` asks for: all of an SQ8 copy of
/// up to ~1,000 dimensions (Fashion-MNIST's 784: 13 lines). The f32 copies of
/// short vectors are smaller anyway; for longer records the hardware
/// prefetcher follows the rest once it is read in order. Measured:
/// docs/benchmarks.md, "Search-path choices".
const PREFETCH_LINES: usize = 16;

/// For each of `ids` in order: `f` of its cached record pushed to `out`, or,
/// if it is not cached, a placeholder pushed and its position to `missing`
/// (one borrow of the cache for a whole neighbour list).
pub fn measure_all(ids: &[Tid], out: &mut Vec<f32>, missing: &mut Vec<usize>, mut f: impl FnMut(&[u8]) -> f32) {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let (mut hits, mut misses) = (0, 0);
        for (i, &id) in ids.iter().enumerate() {
            match c.record(id) {
                Some(record) => {
                    out.push(f(record));
                    hits += 1;
                }
                None => {
                    out.push(f32::INFINITY);
                    missing.push(i);
                    misses += 1;
                }
            }
        }
        c.hits += hits;
        c.misses += misses;
    })
}

/// Ask the CPU to start loading the cached vector of each of `ids` (up to
/// `PREFETCH_LINES`), with the slot map entries of all asked for
/// first (a map entry is a cache miss of its own, and the vector's address
/// depends on it); `uncached` is called for each id not cached.
pub fn prefetch_all(ids: &[Tid], mut uncached: impl FnMut(Tid)) {
    CACHE.with(|c| {
        let c = c.borrow();
        ids.iter().for_each(|&id| c.prefetch_slot(id));
        for &id in ids {
            match c.record(id) {
                Some(record) => ruvector_core::kernels::prefetch(record, PREFETCH_LINES),
                None => uncached(id),
            }
        }
    })
}

/// `f` of `tid`'s cached record, if there is one (not counted as a hit).
pub fn peek<R>(tid: Tid, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    CACHE.with(|c| c.borrow().record(tid).map(f))
}

/// Whether one more vector may fit (so a miss is worth copying for `put`).
#[inline]
pub fn has_room() -> bool {
    let limit = super::options::vector_cache_bytes();
    CACHE.with(|c| {
        let c = c.borrow();
        match &c.shared {
            Some(sh) => sh.segment.has_room(),
            None => c.bytes() + c.slab.record_bytes() <= limit,
        }
    })
}

/// Keep `raw` as `tid`'s vector if there is room.
pub fn put(tid: Tid, raw: &[u8]) {
    let limit = super::options::vector_cache_bytes();
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(sh) = &c.shared {
            sh.segment.put(tid, raw);
            return;
        }
        if raw.len() != c.slab.record_bytes() || c.slot(tid).is_some() {
            return;
        }
        // the slab and the slot map
        if c.slab.bytes_with_one_more() + (c.lists.len() + c.list_of.len()) * 4 + c.map_bytes_with(tid) > limit {
            return;
        }
        // without memory for it, the vector is simply not cached
        let Some(slot) = c.slab.try_push(raw) else { return };
        c.set_slot(tid, slot as u32);
    });
}

/// What this backend's cache holds, for `ruvector_memory_detailed()`.
pub struct CacheUse {
    pub index: pg_sys::Oid,
    pub vectors: usize,
    /// Bytes of one cached copy.
    pub record_bytes: usize,
    /// Bytes of the copies, of the level-0 lists and of the slot maps.
    pub vector_bytes: usize,
    pub list_bytes: usize,
    pub map_bytes: usize,
    /// Bytes allocated for copies, most of them untouched until used.
    pub reserved_bytes: usize,
    pub hits: u64,
    pub misses: u64,
    /// Whether the figures are of a segment in shared memory (held by every
    /// backend searching the index, not this backend's own).
    pub shared: bool,
}

impl CacheUse {
    /// Bytes held: copies, lists and maps (what the budget counts).
    pub fn held_bytes(&self) -> usize {
        self.vector_bytes + self.list_bytes + self.map_bytes
    }
}

/// What this backend's cache holds, if a search has used it.
pub fn usage() -> Option<CacheUse> {
    CACHE.with(|c| {
        let c = c.borrow();
        // the shared segment's figures: from the segment held (after every
        // search, so no scan of the arena), else as the arena lists it
        if let (Some(k), Some(skey)) = (c.key, c.last_shared) {
            let (layout, vectors, lists) = match &c.shared {
                Some(sh) => (sh.segment.layout(), sh.segment.used_records(), sh.segment.used_lists()),
                None => {
                    let info = crate::shared::arena()?.segments().into_iter().find(|s| s.key == skey)?;
                    let layout = Layout::for_records(info.records, info.record_bytes, info.list_capacity);
                    (layout, info.used_records, info.used_lists)
                }
            };
            return Some(CacheUse {
                index: k.index,
                vectors,
                record_bytes: layout.record_bytes,
                vector_bytes: vectors * layout.stride() * 8,
                list_bytes: lists * layout.list_words() * 8,
                map_bytes: (layout.buckets * 2 + layout.records) * 8,
                reserved_bytes: layout.words() * 8,
                hits: c.hits,
                misses: c.misses,
                shared: true,
            });
        }
        c.key.map(|k| CacheUse {
            index: k.index,
            vectors: c.slab.len(),
            record_bytes: c.slab.record_bytes(),
            vector_bytes: c.slab.used_bytes(),
            list_bytes: c.lists.len() * 4,
            map_bytes: (c.slots.len() + c.list_of.len()) * 4,
            reserved_bytes: c.slab.reserved_bytes(),
            hits: c.hits,
            misses: c.misses,
            shared: false,
        })
    })
}
