//! Byte layout of an HNSW index: the meta page contents and the three tuple
//! kinds stored on data pages. Pure byte manipulation, no PostgreSQL: the
//! extension's storage module copies these bytes into and out of buffers.
//!
//! ```text
//! element tuple                         offset
//!   u8  kind = 1                          0
//!   u8  level                             1
//!   u8  flags (bit 0: deleted; bit 1: a filter key follows the chunk;
//!       bit 2: that key is NULL)          2
//!   u8  inline heap TID count             3
//!   u16 m                                 4
//!   u16 elements in this tuple's chunk    6
//!   Tid first overflow TID-list tuple     8
//!   Tid next vector chunk tuple          14
//!   u8  bytes per vector element (4: f32, 2: binary16, 1: bits, 8: sparse pair)   20
//!   u8  level-0 fill: how many of the last level-0 neighbours fill
//!       the list beyond the heuristic's choice (0 in indexes built
//!       before fills were kept: every link the heuristic's)   21
//!   u8 ×2 reserved, 0                    22
//!   INLINE_TIDS × Tid heap TIDs          24
//!   (level+1) × u16 neighbour counts     84
//!   2m Tids (level 0), m Tids per level above: neighbour lists
//!   pad to 4, then the vector's first chunk (native-endian elements)
//!   with flag bit 1: i64 filter key (native-endian, unaligned)
//!
//! chunk tuple:    u8 kind = 2, u8 element bytes, u16 elements, Tid next, u16 0, elements…
//! TID-list tuple: u8 kind = 3, u8 0, u16 count, Tid next, u16 capacity, Tids…
//! ```
//!
//! Invariants: neighbour and TID counts never exceed their capacities;
//! unused slots hold `Tid::INVALID`; a vector's chunks, in chain order,
//! concatenate to the stored vector (normalised for cosine).

#![forbid(unsafe_code)]

pub use crate::index::filter::FilterKey;
pub use crate::index::page::{PageGeometry, Tid};

pub const KIND_ELEMENT: u8 = 1;
pub const KIND_CHUNK: u8 = 2;
pub const KIND_TIDLIST: u8 = 3;

/// Heap TIDs stored in the element itself; more go to TID-list tuples.
pub const INLINE_TIDS: usize = 10;

const FLAG_DELETED: u8 = 1;
const FLAG_HAS_KEY: u8 = 2;
const FLAG_KEY_NULL: u8 = 4;
/// Bytes of a filter key after the vector's first chunk.
const KEY_BYTES: usize = 8;

const ELEMENT_FIXED: usize = 24 + INLINE_TIDS * Tid::BYTES; // 84
const CHUNK_HEADER: usize = 12;
const TIDLIST_HEADER: usize = 12;

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Where each part of an element tuple of a given shape lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElementLayout {
    pub level: usize,
    pub m: usize,
    /// Vector elements in this tuple's chunk.
    pub chunk_len: usize,
    /// Bytes per vector element: 4 (f32), 2 (binary16), 1 (a byte of bits)
    /// or 8 (a sparse (index, value) pair).
    pub elem_bytes: usize,
    /// Whether a filter key follows the chunk.
    pub key: bool,
}

impl ElementLayout {
    pub fn capacity(&self, level: usize) -> usize {
        if level == 0 {
            2 * self.m
        } else {
            self.m
        }
    }

    fn counts_at(&self) -> usize {
        ELEMENT_FIXED
    }

    fn neighbors_at(&self, level: usize) -> usize {
        let start = ELEMENT_FIXED + 2 * (self.level + 1);
        if level == 0 {
            start
        } else {
            start + (2 * self.m + (level - 1) * self.m) * Tid::BYTES
        }
    }

    fn vector_at(&self) -> usize {
        align4(ELEMENT_FIXED + 2 * (self.level + 1) + (2 * self.m + self.level * self.m) * Tid::BYTES)
    }

    fn key_at(&self) -> usize {
        self.vector_at() + self.elem_bytes * self.chunk_len
    }

    pub fn size(&self) -> usize {
        self.key_at() + if self.key { KEY_BYTES } else { 0 }
    }

    /// Bytes an element needs besides its vector's first chunk (what limits
    /// that chunk), with room for a filter key whether it has one or not.
    pub fn overhead(level: usize, m: usize) -> usize {
        ElementLayout { level, m, chunk_len: 0, elem_bytes: 4, key: true }.size()
    }
}

/// A read-only view of an element tuple.
#[derive(Clone, Copy)]
pub struct ElementRef<'a> {
    bytes: &'a [u8],
    layout: ElementLayout,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

impl<'a> ElementRef<'a> {
    /// Interpret `bytes` as an element tuple; `None` if it is not one or is malformed.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() < ELEMENT_FIXED || bytes[0] != KIND_ELEMENT {
            return None;
        }
        let layout = ElementLayout {
            level: bytes[1] as usize,
            m: u16_at(bytes, 4) as usize,
            chunk_len: u16_at(bytes, 6) as usize,
            elem_bytes: bytes[20] as usize,
            key: bytes[2] & FLAG_HAS_KEY != 0,
        };
        if !matches!(layout.elem_bytes, 1 | 2 | 4 | 8) || layout.size() > bytes.len() || bytes[3] as usize > INLINE_TIDS
        {
            return None;
        }
        Some(ElementRef { bytes, layout })
    }

    pub fn layout(&self) -> ElementLayout {
        self.layout
    }

    pub fn level(&self) -> usize {
        self.layout.level
    }

    pub fn is_deleted(&self) -> bool {
        self.bytes[2] & FLAG_DELETED != 0
    }

    pub fn filter_key(&self) -> FilterKey {
        let flags = self.bytes[2];
        if flags & FLAG_HAS_KEY == 0 {
            FilterKey::Absent
        } else if flags & FLAG_KEY_NULL != 0 {
            FilterKey::Null
        } else {
            let at = self.layout.key_at();
            let mut b = [0u8; KEY_BYTES];
            b.copy_from_slice(&self.bytes[at..at + KEY_BYTES]);
            FilterKey::Value(i64::from_ne_bytes(b))
        }
    }

    pub fn heap_tids(&self) -> impl Iterator<Item = Tid> + 'a {
        let b = self.bytes;
        (0..b[3] as usize).map(move |i| Tid::read(&b[24 + i * Tid::BYTES..]))
    }

    pub fn overflow(&self) -> Tid {
        Tid::read(&self.bytes[8..])
    }

    pub fn next_chunk(&self) -> Tid {
        Tid::read(&self.bytes[14..])
    }

    pub fn neighbor_count(&self, level: usize) -> usize {
        (u16_at(self.bytes, self.layout.counts_at() + 2 * level) as usize).min(self.layout.capacity(level))
    }

    /// How many of the last level-0 neighbours fill the list beyond the
    /// heuristic's choice (never more than the list holds).
    pub fn level0_fill(&self) -> usize {
        (self.bytes[21] as usize).min(self.neighbor_count(0))
    }

    /// Neighbours at `level` (empty above the element's level).
    pub fn neighbors(&self, level: usize) -> impl Iterator<Item = Tid> + 'a {
        let (b, at, n) = if level <= self.layout.level {
            (self.bytes, self.layout.neighbors_at(level), self.neighbor_count(level))
        } else {
            (self.bytes, 0, 0)
        };
        (0..n).map(move |i| Tid::read(&b[at + i * Tid::BYTES..]))
    }

    /// The first chunk of the vector as raw native-endian element bytes.
    pub fn chunk_bytes(&self) -> &'a [u8] {
        let at = self.layout.vector_at();
        &self.bytes[at..at + self.layout.elem_bytes * self.layout.chunk_len]
    }

    /// The first chunk as elements of type `T` (f32 or half::f16), borrowed in
    /// place when aligned (always, for tuples on a page).
    pub fn chunk<T: bytemuck::Pod>(&self) -> std::borrow::Cow<'a, [T]> {
        cast_elems(self.chunk_bytes())
    }
}

/// A mutable view of an element tuple, for in-place updates on a page.
pub struct ElementMut<'a> {
    bytes: &'a mut [u8],
    layout: ElementLayout,
}

impl<'a> ElementMut<'a> {
    pub fn parse(bytes: &'a mut [u8]) -> Option<Self> {
        let layout = ElementRef::parse(bytes)?.layout;
        Some(ElementMut { bytes, layout })
    }

    pub fn as_ref(&self) -> ElementRef<'_> {
        ElementRef { bytes: self.bytes, layout: self.layout }
    }

    pub fn set_deleted(&mut self, deleted: bool) {
        if deleted {
            self.bytes[2] |= FLAG_DELETED;
        } else {
            self.bytes[2] &= !FLAG_DELETED;
        }
    }

    pub fn set_overflow(&mut self, t: Tid) {
        t.write(&mut self.bytes[8..14]);
    }

    /// Replace the level-0 list, its last `fill` links filling it beyond
    /// the heuristic's choice.
    pub fn set_level0(&mut self, list: &[Tid], fill: usize) {
        self.set_neighbors(0, list);
        self.bytes[21] = fill.min(self.as_ref().neighbor_count(0)).min(u8::MAX as usize) as u8;
    }

    /// Replace the neighbour list at `level` (truncated to its capacity); at
    /// level 0, every link counts as the heuristic's choice.
    pub fn set_neighbors(&mut self, level: usize, list: &[Tid]) {
        if level == 0 {
            self.bytes[21] = 0;
        }
        let cap = self.layout.capacity(level);
        let n = list.len().min(cap);
        let at = self.layout.neighbors_at(level);
        let slots = self.bytes[at..at + cap * Tid::BYTES].chunks_exact_mut(Tid::BYTES);
        for (i, slot) in slots.enumerate() {
            list.get(i).copied().unwrap_or(Tid::INVALID).write(slot);
        }
        let c = self.layout.counts_at() + 2 * level;
        self.bytes[c..c + 2].copy_from_slice(&(n as u16).to_ne_bytes());
    }

    /// Add a heap TID inline; false if the inline slots are full.
    pub fn push_heap_tid(&mut self, t: Tid) -> bool {
        let n = self.bytes[3] as usize;
        if n >= INLINE_TIDS {
            return false;
        }
        t.write(&mut self.bytes[24 + n * Tid::BYTES..24 + (n + 1) * Tid::BYTES]);
        self.bytes[3] = n as u8 + 1;
        true
    }

    /// Keep only the inline heap TIDs `keep` accepts; returns how many were removed.
    pub fn retain_heap_tids(&mut self, mut keep: impl FnMut(Tid) -> bool) -> usize {
        let kept: Vec<Tid> = self.as_ref().heap_tids().filter(|&t| keep(t)).collect();
        let removed = self.bytes[3] as usize - kept.len();
        for i in 0..INLINE_TIDS {
            let t = kept.get(i).copied().unwrap_or(Tid::INVALID);
            t.write(&mut self.bytes[24 + i * Tid::BYTES..24 + (i + 1) * Tid::BYTES]);
        }
        self.bytes[3] = kept.len() as u8;
        removed
    }
}

/// `bytes` as elements of `T`, borrowed when aligned, else copied.
fn cast_elems<T: bytemuck::Pod>(bytes: &[u8]) -> std::borrow::Cow<'_, [T]> {
    match bytemuck::try_cast_slice::<u8, T>(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => {
            let n = bytes.len() / std::mem::size_of::<T>();
            let mut v = vec![T::zeroed(); n];
            bytemuck::cast_slice_mut::<T, u8>(&mut v).copy_from_slice(&bytes[..n * std::mem::size_of::<T>()]);
            std::borrow::Cow::Owned(v)
        }
    }
}

/// Everything needed to encode one element tuple.
pub struct NewElement<'a> {
    pub level: usize,
    pub m: usize,
    pub heap_tids: &'a [Tid],
    pub overflow: Tid,
    pub next_chunk: Tid,
    pub neighbors: &'a [Vec<Tid>],
    /// The first chunk of the vector as native-endian element bytes.
    pub chunk: &'a [u8],
    pub elem_bytes: usize,
    pub key: FilterKey,
}

pub fn encode_element(e: &NewElement<'_>) -> Vec<u8> {
    assert!(e.heap_tids.len() <= INLINE_TIDS, "overflow TIDs go to TID-list tuples");
    assert!(matches!(e.elem_bytes, 1 | 2 | 4 | 8) && e.chunk.len().is_multiple_of(e.elem_bytes));
    let chunk_len = e.chunk.len() / e.elem_bytes;
    let key = e.key != FilterKey::Absent;
    let layout = ElementLayout { level: e.level, m: e.m, chunk_len, elem_bytes: e.elem_bytes, key };
    let mut b = vec![0u8; layout.size()];
    b[0] = KIND_ELEMENT;
    b[1] = e.level as u8;
    match e.key {
        FilterKey::Absent => {}
        FilterKey::Null => b[2] = FLAG_HAS_KEY | FLAG_KEY_NULL,
        FilterKey::Value(v) => {
            b[2] = FLAG_HAS_KEY;
            let at = layout.key_at();
            b[at..at + KEY_BYTES].copy_from_slice(&v.to_ne_bytes());
        }
    }
    b[4..6].copy_from_slice(&(e.m as u16).to_ne_bytes());
    b[6..8].copy_from_slice(&(chunk_len as u16).to_ne_bytes());
    e.overflow.write(&mut b[8..14]);
    e.next_chunk.write(&mut b[14..20]);
    b[20] = e.elem_bytes as u8;
    let vat = layout.vector_at();
    b[vat..vat + e.chunk.len()].copy_from_slice(e.chunk);
    let mut m = ElementMut { bytes: &mut b, layout };
    for i in 0..INLINE_TIDS {
        Tid::INVALID.write(&mut m.bytes[24 + i * Tid::BYTES..24 + (i + 1) * Tid::BYTES]);
    }
    for &t in e.heap_tids {
        m.push_heap_tid(t);
    }
    for level in 0..=e.level {
        m.set_neighbors(level, e.neighbors.get(level).map_or(&[][..], |v| &v[..]));
    }
    b
}

/// A continuation of a vector too long for its element tuple; `data` holds
/// native-endian elements of `elem_bytes` bytes each.
pub fn encode_chunk(data: &[u8], elem_bytes: usize, next: Tid) -> Vec<u8> {
    let mut b = vec![0u8; CHUNK_HEADER + data.len()];
    b[0] = KIND_CHUNK;
    b[1] = elem_bytes as u8;
    b[2..4].copy_from_slice(&((data.len() / elem_bytes) as u16).to_ne_bytes());
    next.write(&mut b[4..10]);
    b[CHUNK_HEADER..].copy_from_slice(data);
    b
}

/// (element bytes, next) of a chunk tuple, or `None` if `bytes` is not one.
pub fn parse_chunk(bytes: &[u8]) -> Option<(&[u8], Tid)> {
    if bytes.len() < CHUNK_HEADER || bytes[0] != KIND_CHUNK || !matches!(bytes[1], 1 | 2 | 4 | 8) {
        return None;
    }
    let n = u16_at(bytes, 2) as usize * bytes[1] as usize;
    Some((bytes.get(CHUNK_HEADER..CHUNK_HEADER + n)?, Tid::read(&bytes[4..10])))
}

/// Elements of type `T` from chunk bytes (borrowed when aligned).
pub fn chunk_elems<T: bytemuck::Pod>(data: &[u8]) -> std::borrow::Cow<'_, [T]> {
    cast_elems(data)
}

pub fn chunk_size(data_bytes: usize) -> usize {
    CHUNK_HEADER + data_bytes
}

/// A TID-list tuple with room for `capacity` heap TIDs.
pub fn encode_tidlist(tids: &[Tid], capacity: usize, next: Tid) -> Vec<u8> {
    assert!(tids.len() <= capacity);
    let mut b = vec![0u8; tidlist_size(capacity)];
    b[0] = KIND_TIDLIST;
    b[2..4].copy_from_slice(&(tids.len() as u16).to_ne_bytes());
    next.write(&mut b[4..10]);
    b[10..12].copy_from_slice(&(capacity as u16).to_ne_bytes());
    for i in 0..capacity {
        tids.get(i).copied().unwrap_or(Tid::INVALID).write(&mut b[TIDLIST_HEADER + i * Tid::BYTES..]);
    }
    b
}

/// Point a TID-list tuple at the next list in its chain.
pub fn set_tidlist_next(bytes: &mut [u8], next: Tid) -> bool {
    if bytes.len() < TIDLIST_HEADER || bytes[0] != KIND_TIDLIST {
        return false;
    }
    next.write(&mut bytes[4..10]);
    true
}

pub fn tidlist_size(capacity: usize) -> usize {
    TIDLIST_HEADER + capacity * Tid::BYTES
}

/// (tids, next) of a TID-list tuple, or `None` if `bytes` is not one.
pub fn parse_tidlist(bytes: &[u8]) -> Option<(Vec<Tid>, Tid)> {
    if bytes.len() < TIDLIST_HEADER || bytes[0] != KIND_TIDLIST {
        return None;
    }
    let n = (u16_at(bytes, 2) as usize).min(u16_at(bytes, 10) as usize);
    if bytes.len() < tidlist_size(n) {
        return None;
    }
    Some(((0..n).map(|i| Tid::read(&bytes[TIDLIST_HEADER + i * Tid::BYTES..])).collect(), Tid::read(&bytes[4..10])))
}

/// Rewrite the TIDs of a TID-list tuple in place (count ≤ capacity).
pub fn set_tidlist(bytes: &mut [u8], tids: &[Tid]) -> bool {
    if bytes.len() < TIDLIST_HEADER || bytes[0] != KIND_TIDLIST {
        return false;
    }
    let cap = u16_at(bytes, 10) as usize;
    if tids.len() > cap || bytes.len() < tidlist_size(cap) {
        return false;
    }
    bytes[2..4].copy_from_slice(&(tids.len() as u16).to_ne_bytes());
    for i in 0..cap {
        tids.get(i).copied().unwrap_or(Tid::INVALID).write(&mut bytes[TIDLIST_HEADER + i * Tid::BYTES..]);
    }
    true
}

/// Contents of the meta page (block 0).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Meta {
    pub magic: u32,
    pub version: u32,
    pub dims: u32,
    pub m: u32,
    pub ef_construction: u32,
    /// `Metric` as a number (see `metric_code`).
    pub metric: u32,
    pub entry_block: u32,
    pub entry_offset: u32,
    pub entry_level: i32,
    /// Bumped each time VACUUM frees elements (so their TIDs may be reused):
    /// backends' vector caches (src/am/hnsw/cache.rs) are valid for one
    /// (nonce, generation).
    pub generation: u32,
    /// Set at build: tells this index from an earlier one with the same file.
    pub nonce: u32,
}

pub const META_MAGIC: u32 = 0x7276_686e; // "rvhn"
pub const META_VERSION: u32 = 2;

impl Meta {
    pub fn entry(&self) -> Option<(Tid, usize)> {
        (self.entry_offset != 0 && self.entry_level >= 0)
            .then_some((Tid { block: self.entry_block, offset: self.entry_offset as u16 }, self.entry_level as usize))
    }
}

/// What hnsw tuples of a given shape may hold on a page of this geometry.
impl PageGeometry {
    /// The most vector bytes an element of this shape can hold in one tuple
    /// on an empty page (a multiple of 4, so any element size divides it).
    pub fn max_first_chunk_bytes(&self, level: usize, m: usize) -> usize {
        let room = self.empty_free - self.item_id - ElementLayout::overhead(level, m) - self.maxalign;
        room & !3
    }

    pub fn max_chunk_bytes(&self) -> usize {
        (self.empty_free - self.item_id - CHUNK_HEADER - self.maxalign) & !3
    }
}

/// Assigns tuples to (block, offset) in write order, filling pages like
/// PageAddItem does. Block numbering starts at `first_block`.
pub struct PagePacker {
    geometry: PageGeometry,
    block: u32,
    next_offset: u16,
    free: usize,
    pages: u32,
}

impl PagePacker {
    pub fn new(geometry: PageGeometry, first_block: u32) -> Self {
        PagePacker { geometry, block: first_block, next_offset: 1, free: geometry.empty_free, pages: 0 }
    }

    /// The address the next tuple of `len` bytes will get.
    pub fn place(&mut self, len: usize) -> Tid {
        let cost = self.geometry.item_cost(len);
        assert!(cost <= self.geometry.empty_free, "tuple larger than a page");
        if self.pages == 0 {
            self.pages = 1;
        } else if cost > self.free {
            self.block += 1;
            self.pages += 1;
            self.next_offset = 1;
            self.free = self.geometry.empty_free;
        }
        self.free -= cost;
        let t = Tid { block: self.block, offset: self.next_offset };
        self.next_offset += 1;
        t
    }

    pub fn pages(&self) -> u32 {
        self.pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(block: u32, offset: u16) -> Tid {
        Tid { block, offset }
    }

    #[test]
    fn element_round_trip_and_updates() {
        let neighbors = vec![vec![t(1, 2), t(3, 4)], vec![t(5, 6)]];
        let chunk = [1.0f32, -2.0, 3.5];
        let bytes = encode_element(&NewElement {
            level: 1,
            m: 4,
            heap_tids: &[t(10, 1), t(10, 2)],
            overflow: Tid::INVALID,
            next_chunk: t(7, 7),
            neighbors: &neighbors,
            chunk: bytemuck::cast_slice(&chunk),
            elem_bytes: 4,
            key: FilterKey::Absent,
        });
        // copy into 8-aligned memory as a page would hold it
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        let buf = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()];
        buf.copy_from_slice(&bytes);
        let e = ElementRef::parse(buf).unwrap();
        assert_eq!(e.level(), 1);
        assert_eq!(e.heap_tids().collect::<Vec<_>>(), [t(10, 1), t(10, 2)]);
        assert_eq!(e.neighbors(0).collect::<Vec<_>>(), [t(1, 2), t(3, 4)]);
        assert_eq!(e.neighbors(1).collect::<Vec<_>>(), [t(5, 6)]);
        assert_eq!(e.neighbors(2).count(), 0);
        assert_eq!(&*e.chunk::<f32>(), &chunk);
        assert!(matches!(e.chunk::<f32>(), std::borrow::Cow::Borrowed(_)));
        assert_eq!(e.next_chunk(), t(7, 7));
        assert!(!e.overflow().is_valid());

        let mut m = ElementMut::parse(buf).unwrap();
        m.set_neighbors(0, &[t(9, 9)]);
        m.set_deleted(true);
        assert!(m.push_heap_tid(t(10, 3)));
        assert_eq!(m.retain_heap_tids(|x| x.offset != 2), 1);
        let e = ElementRef::parse(buf).unwrap();
        assert_eq!(e.neighbors(0).collect::<Vec<_>>(), [t(9, 9)]);
        assert!(e.is_deleted());
        assert_eq!(e.heap_tids().collect::<Vec<_>>(), [t(10, 1), t(10, 3)]);
        assert_eq!(&*e.chunk::<f32>(), &chunk, "updates leave the vector alone");
    }

    #[test]
    fn filter_keys_round_trip_beside_every_vector_size() {
        for (elem_bytes, len) in [(4usize, 3usize), (2, 5), (1, 7), (8, 2)] {
            for key in [FilterKey::Absent, FilterKey::Null, FilterKey::Value(i64::MIN), FilterKey::Value(-7)] {
                let chunk: Vec<u8> = (0..elem_bytes * len).map(|i| i as u8).collect();
                let neighbors = vec![vec![t(1, 2)]];
                let mut bytes = encode_element(&NewElement {
                    level: 0,
                    m: 2,
                    heap_tids: &[t(4, 4)],
                    overflow: Tid::INVALID,
                    next_chunk: Tid::INVALID,
                    neighbors: &neighbors,
                    chunk: &chunk,
                    elem_bytes,
                    key,
                });
                let plain = ElementLayout { level: 0, m: 2, chunk_len: len, elem_bytes, key: false }.size();
                assert_eq!(bytes.len(), plain + if key == FilterKey::Absent { 0 } else { 8 });
                let mut m = ElementMut::parse(&mut bytes).unwrap();
                m.set_neighbors(0, &[t(3, 3), t(5, 5)]);
                m.set_deleted(true);
                m.set_deleted(false);
                assert!(m.push_heap_tid(t(4, 5)));
                let e = ElementRef::parse(&bytes).unwrap();
                assert_eq!(e.filter_key(), key, "{elem_bytes} × {len}");
                assert_eq!(e.chunk_bytes(), &chunk[..]);
                assert!(!e.is_deleted());
                assert_eq!(e.neighbors(0).collect::<Vec<_>>(), [t(3, 3), t(5, 5)]);
                // a key flag on a tuple too short for the key does not parse
                let mut cut = bytes.clone();
                cut[2] |= FLAG_HAS_KEY;
                cut.truncate(plain + 7);
                assert!(ElementRef::parse(&cut).is_none());
            }
        }
    }

    #[test]
    fn heap_tid_layout_matches_item_pointer_data() {
        // ItemPointerData: bi_hi, bi_lo, ip_posid, each a native-endian u16.
        let mut b = [0u8; 6];
        t(0x0001_0002, 3).write(&mut b);
        assert_eq!(b.to_vec(), [1u16.to_ne_bytes(), 2u16.to_ne_bytes(), 3u16.to_ne_bytes()].concat());
        assert_eq!(Tid::read(&b), t(0x0001_0002, 3));
    }

    #[test]
    fn chunks_and_tidlists() {
        let c = encode_chunk(bytemuck::cast_slice(&[1.0f32, 2.0]), 4, t(4, 1));
        let (f, next) = parse_chunk(&c).unwrap();
        assert_eq!((&*chunk_elems::<f32>(f), next), (&[1.0f32, 2.0][..], t(4, 1)));
        let h = [half::f16::ONE, half::f16::from_f32(-0.5), half::f16::from_f32(3.0)];
        let c = encode_chunk(bytemuck::cast_slice(&h), 2, Tid::INVALID);
        assert_eq!(&*chunk_elems::<half::f16>(parse_chunk(&c).unwrap().0), &h);
        let mut l = encode_tidlist(&[t(1, 1)], 4, Tid::INVALID);
        assert_eq!(parse_tidlist(&l).unwrap(), (vec![t(1, 1)], Tid::INVALID));
        assert!(set_tidlist(&mut l, &[t(2, 2), t(3, 3)]));
        assert_eq!(parse_tidlist(&l).unwrap().0, vec![t(2, 2), t(3, 3)]);
        assert!(!set_tidlist(&mut l, &[t(1, 1); 5]));
        assert!(ElementRef::parse(&c).is_none());
    }

    #[test]
    fn packer_fills_pages_like_page_add_item() {
        let g = PageGeometry { empty_free: 8192 - 24 - 8, maxalign: 8, item_id: 4 };
        let mut p = PagePacker::new(g, 1);
        // 3 items of 2700 bytes fit (3 × 2704) = 8112 ≤ 8160; the 4th starts block 2.
        assert_eq!(p.place(2700), t(1, 1));
        assert_eq!(p.place(2700), t(1, 2));
        assert_eq!(p.place(2700), t(1, 3));
        assert_eq!(p.place(2700), t(2, 1));
        assert_eq!(p.pages(), 2);
        let max = g.max_first_chunk_bytes(0, 16);
        let e = ElementLayout { level: 0, m: 16, chunk_len: max / 4, elem_bytes: 4, key: true };
        assert!(g.item_cost(e.size()) <= g.empty_free);
        assert!(g.item_cost(ElementLayout { chunk_len: max / 4 + 4, ..e }.size()) > g.empty_free);
        assert!(g.item_cost(chunk_size(g.max_chunk_bytes())) <= g.empty_free);
    }
}

/// Arbitrary bytes (a corrupt or foreign page's items) given to every parser
/// and setter of the on-disk formats: each answers `None`/`false` or works
/// within the bytes it was given, and never panics.
#[cfg(test)]
mod arbitrary_bytes {
    use super::*;
    use crate::ivf::tuple::{parse_list, parse_row, set_list_insert};
    use proptest::prelude::*;

    fn tids() -> impl Strategy<Value = Vec<Tid>> {
        proptest::collection::vec((any::<u32>(), any::<u16>()).prop_map(|(block, offset)| Tid { block, offset }), 0..40)
    }

    /// Bytes that often look like our tuples: a kind byte, element sizes
    /// and small counts, then noise.
    fn tuple_bytes() -> impl Strategy<Value = Vec<u8>> {
        (
            prop_oneof![Just(KIND_ELEMENT), Just(KIND_CHUNK), Just(KIND_TIDLIST), any::<u8>()],
            0u8..4,
            prop_oneof![Just(1u8), Just(2), Just(4), Just(8), any::<u8>()],
            proptest::collection::vec(any::<u8>(), 0..600),
        )
            .prop_map(|(kind, level, elem, mut rest)| {
                rest.insert(0, kind);
                if rest.len() > 1 {
                    rest[1] = if kind == KIND_CHUNK { elem } else { level };
                }
                if rest.len() > 20 {
                    rest[20] = elem;
                }
                rest
            })
    }

    /// Real tuples (an element, a chunk, a TID list) with some bytes
    /// overwritten: the headers parse, and their counts and sizes lie.
    fn damaged_tuples() -> impl Strategy<Value = Vec<u8>> {
        (0usize..3, 0usize..3, 1usize..6, tids(), proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6))
            .prop_map(|(kind, level, m, tids, damage)| {
                let neighbors: Vec<Vec<Tid>> =
                    (0..=level).map(|l| tids.iter().copied().take(m * 2 - l.min(1) * m).collect()).collect();
                let chunk = [7u8; 12];
                let mut b = match kind {
                    0 => encode_element(&NewElement {
                        level,
                        m,
                        heap_tids: &tids[..tids.len().min(INLINE_TIDS)],
                        overflow: Tid::INVALID,
                        next_chunk: Tid::INVALID,
                        neighbors: &neighbors,
                        chunk: &chunk,
                        elem_bytes: 4,
                        key: [FilterKey::Absent, FilterKey::Null, FilterKey::Value(-3)][level % 3],
                    }),
                    1 => encode_chunk(&chunk, 4, Tid::INVALID),
                    _ => encode_tidlist(&tids[..tids.len().min(8)], 8, Tid::INVALID),
                };
                for (at, byte) in damage {
                    let n = b.len();
                    b[at % n] = byte;
                }
                b
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]
        #[test]
        fn readers_and_setters_never_panic(
            mut bytes in prop_oneof![tuple_bytes(), damaged_tuples()],
            list in tids(),
            t in any::<(u32, u16)>(),
        ) {
            let tid = Tid { block: t.0, offset: t.1 };
            if let Some(e) = ElementRef::parse(&bytes) {
                let _ = (e.is_deleted(), e.overflow(), e.next_chunk(), e.chunk_bytes().len(), e.chunk::<f32>().len());
                let _ = e.filter_key();
                let _ = e.heap_tids().count();
                for level in 0..=e.level() + 1 {
                    let _ = (e.neighbor_count(level), e.neighbors(level).count());
                }
            }
            if let Some(mut e) = ElementMut::parse(&mut bytes) {
                e.set_deleted(true);
                e.set_overflow(tid);
                let level = e.as_ref().level();
                for l in 0..=level {
                    e.set_neighbors(l, &list);
                    prop_assert!(e.as_ref().neighbors(l).count() <= list.len());
                }
                let _ = e.push_heap_tid(tid);
                let _ = e.retain_heap_tids(|x| x.block % 2 == 0);
                prop_assert!(ElementRef::parse(&bytes).is_some(), "a setter broke the element");
            }
            let _ = parse_chunk(&bytes).map(|(data, next)| (data.len(), next));
            if parse_tidlist(&bytes).is_some() {
                let _ = set_tidlist(&mut bytes, &list);
                let _ = set_tidlist_next(&mut bytes, tid);
                prop_assert!(parse_tidlist(&bytes).is_some());
            } else {
                let _ = set_tidlist(&mut bytes, &list);
                let _ = set_tidlist_next(&mut bytes, tid);
            }
            let _ = parse_list(&bytes).map(|(s, i, c)| (s, i, c.len()));
            let _ = set_list_insert(&mut bytes, t.0);
            let _ = parse_row(&bytes).map(|(h, v)| (h, v.len()));
            let _ = chunk_elems::<f32>(&bytes).len();
            let _ = chunk_elems::<half::f16>(&bytes).len();
            let _ = chunk_elems::<crate::sparse::Pair>(&bytes).len();
        }
    }
}
