//! Index metadata in shared memory: a fixed-capacity table of cache-line
//! aligned slots, one per index (keyed by tablespace, database, relfilenode
//! and access method), each holding a copy of the index's meta page and a
//! count the meta page does not keep (hnsw elements, ivfflat rows), so that
//! scans read the entry point and parameters without pinning and locking
//! the meta page. The meta page stays the source of truth: an entry is
//! (re)made from it when missing and is changed only by the code that
//! changes the meta page, under the meta page's lock.
//!
//! Invariants:
//! - A slot's key and image are written only under its sequence lock (the
//!   version word odd while a writer holds it, taken by CAS); readers take
//!   no lock: they read the version (Acquire), the words (Relaxed), then the
//!   version again after an Acquire fence, and keep the snapshot only if
//!   the version was even and unchanged. Every word is an atomic, so a torn
//!   read is detected, never undefined. After 64 such tries against busy
//!   writers a reader takes the slot's lock to read it, so a probe never
//!   skips a slot (a skipped slot would hide its entry: a lost count, or a
//!   second entry for one key).
//! - A key is in at most one slot: new keys are placed (and slots evicted)
//!   only under the table's insert lock, after probing the key's whole
//!   window. A slot once used is never empty again (a dropped index leaves
//!   a tombstone), so a probe may stop at the first never-used slot.
//! - The count word is changed by `add` under the sequence lock too, and
//!   `publish` keeps it, so counts are never lost to a concurrent publish.
//! - Locks are held for a few dozen instructions, with no other lock taken
//!   inside; a process that dies holding one dies abnormally, and
//!   PostgreSQL then reinitialises shared memory.

#![forbid(unsafe_code)]

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicU32, AtomicU64};

use crate::hnsw::tuple::Meta;
use crate::ivf::tuple::IvfMeta;

/// Slots probed from a key's home slot.
const WINDOW: usize = 16;
/// A count the entry does not know (made from a meta page).
pub const UNKNOWN: u64 = u64::MAX;

pub const KIND_HNSW: u32 = 1;
pub const KIND_IVFFLAT: u32 = 2;
/// A slot whose index was dropped.
const KIND_DEAD: u32 = u32::MAX;

/// An hnsw index's entry: the meta page (entry point, top level, m,
/// ef_construction, dimensions, metric, VACUUM generation, build nonce),
/// flags, the elements in the index (live and awaiting VACUUM), and the
/// shared memory its searches hold beyond the entry (its shared vector
/// cache segment).
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct HnswSharedMem {
    pub meta: Meta,
    pub flags: u32,
    pub elements: u64,
    pub memory_bytes: u64,
}

/// An ivfflat index's entry: the meta page (dimensions, lists, metric,
/// first centre page), flags, the rows in its lists, and the shared memory
/// it holds beyond the entry (none today: ivfflat has no shared cache).
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct IvfFlatSharedMem {
    pub meta: IvfMeta,
    pub reserved_words: [u32; 3],
    pub flags: u32,
    pub vectors: u64,
    pub memory_bytes: u64,
}

// The layouts the slots' words carry: the meta image in words 0-5 (bytes
// 0-47, flags last), the count in word 6, the memory in word 7.
const COUNT_WORD: usize = 6;
const MEMORY_WORD: usize = 7;
const IMAGE_BYTES: usize = 48;
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<HnswSharedMem>() == 64 && size_of::<IvfFlatSharedMem>() == 64);
    assert!(size_of::<Meta>() <= offset_of!(HnswSharedMem, flags));
    assert!(offset_of!(HnswSharedMem, flags) == 44 && offset_of!(IvfFlatSharedMem, flags) == 44);
    assert!(offset_of!(HnswSharedMem, elements) == 8 * COUNT_WORD);
    assert!(offset_of!(IvfFlatSharedMem, vectors) == 8 * COUNT_WORD);
    assert!(offset_of!(HnswSharedMem, memory_bytes) == 8 * MEMORY_WORD);
    assert!(offset_of!(IvfFlatSharedMem, memory_bytes) == 8 * MEMORY_WORD);
    assert!(size_of::<IvfMeta>() <= offset_of!(IvfFlatSharedMem, reserved_words) + 12);
    assert!(size_of::<Slot>() == 128 && std::mem::align_of::<Slot>() == 64);
};

/// A meta page type with entries in the registry.
pub trait RegisteredMeta: bytemuck::Pod {
    const KIND: u32;
}

impl RegisteredMeta for Meta {
    const KIND: u32 = KIND_HNSW;
}

impl RegisteredMeta for IvfMeta {
    const KIND: u32 = KIND_IVFFLAT;
}

/// An entry's flag: made from a meta page read (not by a build), so its
/// count is unknown until the next build.
pub const FLAG_FROM_META_PAGE: u32 = 1;

/// What identifies an index's storage: tablespace, database, relfilenode,
/// and the access method (`KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegistryKey {
    pub tablespace: u32,
    pub database: u32,
    pub relfilenode: u32,
    pub kind: u32,
}

#[repr(C, align(64))]
#[derive(Default)]
pub struct Slot {
    version: AtomicU64,
    key: [AtomicU32; 4],
    last_used: AtomicU64,
    _pad: [u64; 4],
    words: [AtomicU64; 8],
}

/// The table: `slots` (a power of two of them), slot 0's spare words used
/// as the insert lock and clock.
pub struct Registry<'a> {
    slots: &'a [Slot],
    insert_lock: &'a AtomicU64,
    clock: &'a AtomicU64,
}

impl Slot {
    /// Take the slot's sequence lock; returns the version to release with.
    fn lock(&self) -> u64 {
        let mut spins = 0u32;
        loop {
            let v = self.version.load(Relaxed);
            if v & 1 == 0 && self.version.compare_exchange_weak(v, v + 1, Acquire, Relaxed).is_ok() {
                return v + 1;
            }
            crate::spin::back_off(&mut spins);
        }
    }

    fn unlock(&self, locked: u64) {
        self.version.store(locked + 1, Release);
    }

    fn key_now(&self) -> RegistryKey {
        let k = |i: usize| self.key[i].load(Relaxed);
        RegistryKey { tablespace: k(0), database: k(1), relfilenode: k(2), kind: k(3) }
    }

    fn set_key(&self, key: &RegistryKey) {
        for (w, v) in self.key.iter().zip([key.tablespace, key.database, key.relfilenode, key.kind]) {
            w.store(v, Relaxed);
        }
    }

    /// A consistent snapshot of key and words: read optimistically, and
    /// after a few tries against busy writers under the slot's lock, so a
    /// reader never misses an entry that is there.
    fn snapshot(&self) -> (RegistryKey, [u64; 8]) {
        let read = || (self.key_now(), std::array::from_fn(|i| self.words[i].load(Relaxed)));
        for _ in 0..64 {
            let v = self.version.load(Acquire);
            if v & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let snapshot = read();
            fence(Acquire);
            if self.version.load(Relaxed) == v {
                return snapshot;
            }
        }
        let v = self.lock();
        let snapshot = read();
        self.unlock(v);
        snapshot
    }
}

impl<'a> Registry<'a> {
    /// A registry over `slots` (zeroed memory is an empty registry; their
    /// number a power of two, at least 2).
    pub fn new(slots: &'a [Slot]) -> Option<Self> {
        if slots.len() < 2 || !slots.len().is_power_of_two() {
            return None;
        }
        // slot 0's spare words serve the whole table
        let spare = &slots[0];
        Some(Registry { slots: &slots[1..], insert_lock: &spare.last_used, clock: &spare.version })
    }

    /// Slots for a registry of `capacity` indexes.
    pub fn slots_for(capacity: usize) -> usize {
        (capacity + 1).next_power_of_two().max(2)
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn window(&self, key: &RegistryKey) -> impl Iterator<Item = &Slot> {
        let h = (key.tablespace as u64) << 32
            ^ (key.database as u64) << 16
            ^ key.relfilenode as u64
            ^ (key.kind as u64) << 48;
        let home = (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) as usize;
        let n = self.slots.len();
        (0..WINDOW.min(n)).map(move |i| &self.slots[(home + i) % n])
    }

    /// `key`'s slot and its snapshot, if it has one.
    fn find(&self, key: &RegistryKey) -> Option<(&Slot, [u64; 8])> {
        for slot in self.window(key) {
            let (k, words) = slot.snapshot();
            if k == *key {
                return Some((slot, words));
            }
            if k.kind == 0 {
                return None; // never used: the key is not further on
            }
        }
        None
    }

    /// `key`'s entry as `T` (`HnswSharedMem` or `IvfFlatSharedMem`).
    pub fn read<T: bytemuck::Pod>(&self, key: &RegistryKey) -> Option<T> {
        let (_, words) = self.find(key)?;
        bytemuck::try_pod_read_unaligned(bytemuck::cast_slice::<u64, u8>(&words)).ok()
    }

    /// Make `key`'s entry hold `image` (a meta page's bytes, up to 44, then
    /// `flags`), keeping its count, or setting it to `count` if given (a
    /// build, which knows it). A new entry's count is `count` or `UNKNOWN`.
    /// Evicts the entry used longest ago in the key's window if it is full.
    pub fn publish(&self, key: &RegistryKey, image: &[u8], flags: u32, count: Option<u64>) {
        let mut bytes = [0u8; IMAGE_BYTES];
        let n = image.len().min(44);
        bytes[..n].copy_from_slice(&image[..n]);
        bytes[44..48].copy_from_slice(&flags.to_ne_bytes());
        let write = |slot: &Slot, new: bool| {
            for (i, chunk) in bytes.chunks_exact(8).enumerate() {
                slot.words[i].store(u64::from_ne_bytes(chunk.try_into().expect("8 bytes")), Relaxed);
            }
            match count {
                Some(c) => slot.words[COUNT_WORD].store(c, Relaxed),
                None if new => slot.words[COUNT_WORD].store(UNKNOWN, Relaxed),
                None => {}
            }
            if new {
                slot.words[MEMORY_WORD].store(0, Relaxed);
            }
            slot.last_used.store(self.clock.fetch_add(1, Relaxed), Relaxed);
        };
        // an existing entry: its own lock suffices
        if let Some((slot, _)) = self.find(key) {
            let v = slot.lock();
            if slot.key_now() == *key {
                write(slot, false);
                slot.unlock(v);
                return;
            }
            slot.unlock(v);
        }
        let insert_lock = crate::spin::acquire(self.insert_lock);
        // the key's slot if it has one, else the first free one, else the
        // one used longest ago
        let mut chosen: Option<(&Slot, bool)> = None;
        for slot in self.window(key) {
            let (k, _) = slot.snapshot();
            if k == *key {
                chosen = Some((slot, false));
                break;
            }
            let free = k.kind == 0 || k.kind == KIND_DEAD;
            let better = match chosen {
                None => true,
                Some((c, c_free)) => !c_free && (free || slot.last_used.load(Relaxed) < c.last_used.load(Relaxed)),
            };
            if better {
                chosen = Some((slot, free));
            }
            if k.kind == 0 {
                break;
            }
        }
        if let Some((slot, _)) = chosen {
            let v = slot.lock();
            let same = slot.key_now() == *key;
            slot.set_key(key);
            write(slot, !same);
            slot.unlock(v);
        }
        drop(insert_lock);
    }

    /// Make `key`'s entry hold the meta page `image` just read or written
    /// (under the page's lock), if it does not already: a read-only check
    /// when it does. A new entry is flagged `FLAG_FROM_META_PAGE` with an
    /// unknown count; an existing one keeps its flags and count.
    pub fn sync(&self, key: &RegistryKey, image: &[u8]) {
        let n = image.len().min(44);
        let flags = match self.find(key) {
            Some((_, words)) => {
                let bytes = bytemuck::cast_slice::<u64, u8>(&words);
                if bytes[..n] == image[..n] {
                    return;
                }
                u32::from_ne_bytes(bytes[44..48].try_into().expect("4 bytes"))
            }
            None => FLAG_FROM_META_PAGE,
        };
        self.publish(key, image, flags, None);
    }

    /// Add `delta` to `key`'s count, if it has an entry with a known count.
    pub fn add(&self, key: &RegistryKey, delta: i64) {
        let Some((slot, _)) = self.find(key) else { return };
        let v = slot.lock();
        let c = slot.words[COUNT_WORD].load(Relaxed);
        if slot.key_now() == *key && c != UNKNOWN {
            slot.words[COUNT_WORD].store(c.saturating_add_signed(delta), Relaxed);
        }
        slot.unlock(v);
    }

    /// Set `key`'s memory figure, if it has an entry and the figure differs
    /// (a read only, when it does not).
    pub fn set_memory(&self, key: &RegistryKey, bytes: u64) {
        let Some((slot, words)) = self.find(key) else { return };
        if words[MEMORY_WORD] == bytes {
            return;
        }
        let v = slot.lock();
        if slot.key_now() == *key {
            slot.words[MEMORY_WORD].store(bytes, Relaxed);
        }
        slot.unlock(v);
    }

    /// Forget `key`'s entry (its index was dropped).
    pub fn invalidate(&self, key: &RegistryKey) {
        let Some((slot, _)) = self.find(key) else { return };
        let v = slot.lock();
        if slot.key_now() == *key {
            slot.set_key(&RegistryKey { kind: KIND_DEAD, ..*key });
        }
        slot.unlock(v);
    }

    /// Every live entry: its key and its 64 bytes.
    pub fn entries(&self) -> Vec<(RegistryKey, [u64; 8])> {
        self.slots.iter().map(|s| s.snapshot()).filter(|(k, _)| k.kind != 0 && k.kind != KIND_DEAD).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(slots: usize) -> Registry<'static> {
        let slots: &'static [Slot] = Box::leak((0..slots).map(|_| Slot::default()).collect());
        Registry::new(slots).unwrap()
    }

    fn key(relfilenode: u32) -> RegistryKey {
        RegistryKey { tablespace: 1663, database: 5, relfilenode, kind: KIND_HNSW }
    }

    fn meta(generation: u32) -> Meta {
        Meta {
            magic: 1,
            version: 2,
            dims: 3,
            m: 16,
            ef_construction: 64,
            metric: 1,
            entry_block: generation + 1,
            entry_offset: 2,
            entry_level: 3,
            generation,
            nonce: 77,
        }
    }

    #[test]
    fn entries_round_trip_keep_counts_and_tombstones_keep_chains() {
        let r = registry(64);
        assert_eq!(r.read::<HnswSharedMem>(&key(1)), None);
        r.publish(&key(1), bytemuck::bytes_of(&meta(0)), FLAG_FROM_META_PAGE, None);
        let e: HnswSharedMem = r.read(&key(1)).unwrap();
        assert_eq!((e.meta, e.flags, e.elements), (meta(0), FLAG_FROM_META_PAGE, UNKNOWN));
        r.add(&key(1), 5); // unknown stays unknown
        assert_eq!(r.read::<HnswSharedMem>(&key(1)).unwrap().elements, UNKNOWN);
        r.publish(&key(1), bytemuck::bytes_of(&meta(1)), 0, Some(10));
        r.add(&key(1), 5);
        r.add(&key(1), -2);
        r.set_memory(&key(1), 4096);
        r.publish(&key(1), bytemuck::bytes_of(&meta(2)), 0, None);
        let e: HnswSharedMem = r.read(&key(1)).unwrap();
        assert_eq!((e.meta, e.elements, e.memory_bytes), (meta(2), 13, 4096));
        // many keys: all found; dropping one leaves the others reachable
        for f in 2..40 {
            r.publish(&key(f), bytemuck::bytes_of(&meta(f)), 0, Some(f as u64));
        }
        r.invalidate(&key(5));
        assert_eq!(r.read::<HnswSharedMem>(&key(5)), None);
        for f in (2..40).filter(|&f| f != 5) {
            assert_eq!(r.read::<HnswSharedMem>(&key(f)).map(|e| e.elements), Some(f as u64), "{f}");
        }
        assert_eq!(r.entries().len(), 38);
        // an ivfflat key is another entry
        let ivf = RegistryKey { kind: KIND_IVFFLAT, ..key(1) };
        let m = IvfMeta {
            magic: 9,
            version: 3,
            dims: 8,
            lists: 4,
            metric: 2,
            centre_block: 1,
            copy_start: 6,
            copy_insert: 7,
        };
        r.publish(&ivf, bytemuck::bytes_of(&m), 0, Some(100));
        let e: IvfFlatSharedMem = r.read(&ivf).unwrap();
        assert_eq!((e.meta, e.vectors), (m, 100));
        assert_eq!(r.read::<HnswSharedMem>(&key(1)).unwrap().meta, meta(2));
    }

    #[test]
    fn a_full_window_evicts_the_entry_used_longest_ago() {
        let r = registry(8); // 7 slots: every key shares one window
        for f in 1..=7 {
            r.publish(&key(f), bytemuck::bytes_of(&meta(f)), 0, Some(1));
        }
        r.publish(&key(1), bytemuck::bytes_of(&meta(1)), 0, None); // 1 is used again
        r.publish(&key(8), bytemuck::bytes_of(&meta(8)), 0, Some(1));
        assert!(r.read::<HnswSharedMem>(&key(2)).is_none(), "2 was used longest ago");
        for f in [1, 3, 4, 5, 6, 7, 8] {
            assert_eq!(r.read::<HnswSharedMem>(&key(f)).map(|e| e.meta), Some(meta(f)));
        }
    }

    /// Writers publishing new meta images and counting while readers read:
    /// every snapshot a reader gets is one some writer published whole (the
    /// generation and the entry block it implies agree), and no count is lost.
    #[test]
    fn readers_never_see_torn_entries_and_counts_add_up() {
        let r = registry(16);
        r.publish(&key(1), bytemuck::bytes_of(&meta(0)), 0, Some(0));
        std::thread::scope(|s| {
            for w in 0..2u32 {
                let r = &r;
                s.spawn(move || {
                    for g in 0..20_000u32 {
                        r.publish(&key(1), bytemuck::bytes_of(&meta(g * 2 + w)), 0, None);
                        r.add(&key(1), 1);
                    }
                });
            }
            for _ in 0..2 {
                let r = &r;
                s.spawn(move || {
                    for _ in 0..40_000 {
                        let e: HnswSharedMem = r.read(&key(1)).unwrap();
                        assert_eq!(e.meta.entry_block, e.meta.generation + 1);
                        assert_eq!(e.meta.nonce, 77);
                    }
                });
            }
        });
        assert_eq!(r.read::<HnswSharedMem>(&key(1)).unwrap().elements, 40_000);
    }
}
