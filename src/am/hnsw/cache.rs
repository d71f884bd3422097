//! A backend-local cache of element vectors for hnsw scans.
//!
//! Reading an element's vector through the buffer manager costs a buffer
//! table lookup, a pin, a content lock and several cache misses on the page;
//! a search computes thousands of distances, and that, not the arithmetic,
//! is most of its time. Scans therefore keep the vectors they have read in
//! one flat, 8-byte-aligned slab per backend, up to `hnsw.vector_cache_size`
//! bytes (filled first come, never evicted: the elements near the top of the
//! graph, which every search visits, are the first to arrive).
//!
//! Validity: an element's vector never changes while its TID names it. A TID
//! can name another element only after VACUUM freed the first, and VACUUM
//! bumps the meta page's `generation` while holding the update lock that
//! excludes searches; a build sets a new `nonce`. The cache belongs to one
//! (index, nonce, generation) and is emptied when a search sees another.
//! Inserts never use it: they need each element's deleted flag, which they
//! read with the vector.
//!
//! Fixed-length types only (`ruvector`, `halfvec`, `bit`); `sparsevec` rows
//! vary in length and are not cached.

use std::cell::RefCell;

use pgrx::pg_sys;
use rustc_hash::FxHashMap;
use ruvector_core::hnsw::tuple::Tid;

/// What a cache is valid for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CacheKey {
    pub index: pg_sys::Oid,
    pub nonce: u32,
    pub generation: u32,
}

#[derive(Default)]
struct VectorCache {
    key: Option<CacheKey>,
    slots: FxHashMap<Tid, u32>,
    slab: Vec<u64>,
    /// Words per vector (the vector's bytes rounded up to 8).
    stride: usize,
    bytes: usize,
    hits: u64,
    misses: u64,
}

thread_local! {
    static CACHE: RefCell<VectorCache> = RefCell::default();
}

/// Make the cache the one for `key` with vectors of `bytes` bytes, emptying
/// it if it belonged to something else. Returns whether caching is on.
pub fn open(key: CacheKey, bytes: Option<usize>) -> bool {
    let limit = super::options::vector_cache_bytes();
    let Some(bytes) = bytes.filter(|&b| b > 0 && limit > 0) else { return false };
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.key != Some(key) || c.bytes != bytes {
            *c = VectorCache { key: Some(key), stride: bytes.div_ceil(8), bytes, ..Default::default() };
        }
    });
    true
}

/// Call `f` with the cached vector of `tid`, if there is one.
#[inline]
pub fn with<R>(tid: Tid, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        match c.slots.get(&tid).copied() {
            Some(slot) => {
                c.hits += 1;
                let at = slot as usize * c.stride;
                Some(f(&bytemuck::cast_slice(&c.slab[at..at + c.stride])[..c.bytes]))
            }
            None => {
                c.misses += 1;
                None
            }
        }
    })
}

/// Ask the CPU to start loading `tid`'s cached vector (its first cache lines;
/// the hardware prefetcher follows the rest once it is read in order).
#[inline]
pub fn prefetch(tid: Tid) {
    CACHE.with(|c| {
        let c = c.borrow();
        if let Some(&slot) = c.slots.get(&tid) {
            let at = slot as usize * c.stride;
            ruvector_core::kernels::prefetch(&c.slab[at..at + c.stride], 4);
        }
    })
}

/// Keep `raw` as `tid`'s vector if there is room.
pub fn put(tid: Tid, raw: &[u8]) {
    let limit = super::options::vector_cache_bytes();
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if raw.len() != c.bytes || c.slots.contains_key(&tid) {
            return;
        }
        let slot = c.slab.len() / c.stride.max(1);
        // the slab, and the map's slot (key, value, control byte) per entry
        if (c.slab.len() + c.stride) * 8 + (slot + 1) * 24 > limit {
            return;
        }
        let at = c.slab.len();
        let stride = c.stride;
        c.slab.resize(at + stride, 0);
        bytemuck::cast_slice_mut::<u64, u8>(&mut c.slab[at..at + stride])[..raw.len()].copy_from_slice(raw);
        c.slots.insert(tid, slot as u32);
    });
}

/// (index, vectors, bytes, hits, misses) of this backend's cache.
pub fn stats() -> Option<(pg_sys::Oid, usize, usize, u64, u64)> {
    CACHE.with(|c| {
        let c = c.borrow();
        c.key.map(|k| (k.index, c.slots.len(), c.slab.capacity() * 8 + c.slots.capacity() * 24, c.hits, c.misses))
    })
}
