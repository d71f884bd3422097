//! A compact, read-only-after-building set of tuple identifiers (block,
//! offset), for the dead-TID sets of VACUUM.
//!
//! A plain array spends 6 bytes per TID (PostgreSQL ≤ 16's dead-TID array).
//! Here each TID becomes a key `block << 11 | offset` (offsets stay below
//! 2,048 for any page size PostgreSQL allows) and the sorted keys are stored
//! as LEB128 deltas in chunks of `CHUNK` keys; a chunk index holds each
//! chunk's first key and where its deltas start. Deleting many rows of a
//! block costs about one byte per TID, one row per block about two, one row
//! every hundred blocks about three (the tests check these bounds).
//!
//! Invariants: keys are pushed in strictly increasing order; `chunks[i].0`
//! is the first key of chunk i, and its remaining `CHUNK - 1` keys (fewer in
//! the last chunk) are the deltas in `deltas[chunks[i].1 .. chunks[i + 1].1]`.

#![forbid(unsafe_code)]

/// Keys per chunk: lookup decodes at most this many deltas.
const CHUNK: usize = 128;
const OFFSET_BITS: u32 = 11;

#[derive(Debug, Default, Clone)]
pub struct TidStore {
    chunks: Vec<(u64, u32)>,
    deltas: Vec<u8>,
    last: Option<u64>,
    len: usize,
}

fn key(block: u32, offset: u16) -> u64 {
    (u64::from(block) << OFFSET_BITS) | u64::from(offset)
}

impl TidStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Build from TIDs in any order (duplicates are kept once).
    pub fn from_unsorted(tids: impl IntoIterator<Item = (u32, u16)>) -> Self {
        let mut keys: Vec<u64> =
            tids.into_iter().filter(|&(_, o)| u32::from(o) < 1 << OFFSET_BITS).map(|(b, o)| key(b, o)).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut store = Self::new();
        for k in keys {
            store.push_key(k);
        }
        store
    }

    /// Add a TID greater than every TID added before (VACUUM meets them in
    /// block order). Returns false, adding nothing, if it is out of order,
    /// a repeat, or its offset is out of range.
    pub fn push(&mut self, block: u32, offset: u16) -> bool {
        let k = key(block, offset);
        if u32::from(offset) >= 1 << OFFSET_BITS || self.last.is_some_and(|last| k <= last) {
            return false;
        }
        self.push_key(k);
        true
    }

    fn push_key(&mut self, k: u64) {
        match self.last {
            Some(last) if !self.len.is_multiple_of(CHUNK) => {
                let mut d = k - last;
                while d >= 0x80 {
                    self.deltas.push((d as u8) | 0x80);
                    d >>= 7;
                }
                self.deltas.push(d as u8);
            }
            _ => self.chunks.push((k, self.deltas.len() as u32)),
        }
        self.last = Some(k);
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, block: u32, offset: u16) -> bool {
        if u32::from(offset) >= 1 << OFFSET_BITS {
            return false;
        }
        let k = key(block, offset);
        let i = self.chunks.partition_point(|&(first, _)| first <= k);
        if i == 0 {
            return false;
        }
        let (mut cur, start) = self.chunks[i - 1];
        let end = self.chunks.get(i).map_or(self.deltas.len(), |&(_, s)| s as usize);
        let mut bytes = self.deltas[start as usize..end].iter();
        while cur < k {
            let (mut d, mut shift) = (0u64, 0);
            loop {
                let Some(&b) = bytes.next() else { return false };
                d |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            cur += d;
        }
        cur == k
    }

    /// Every TID, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u16)> + '_ {
        self.chunks
            .iter()
            .enumerate()
            .flat_map(move |(i, &(first, start))| {
                let end = self.chunks.get(i + 1).map_or(self.deltas.len(), |&(_, s)| s as usize);
                let mut bytes = self.deltas[start as usize..end].iter();
                let mut cur = first;
                std::iter::once(first).chain(std::iter::from_fn(move || {
                    let (mut d, mut shift) = (0u64, 0);
                    loop {
                        let &b = bytes.next()?;
                        d |= u64::from(b & 0x7f) << shift;
                        shift += 7;
                        if b & 0x80 == 0 {
                            break;
                        }
                    }
                    cur += d;
                    Some(cur)
                }))
            })
            .map(|k| ((k >> OFFSET_BITS) as u32, (k & ((1 << OFFSET_BITS) - 1)) as u16))
    }

    /// Heap bytes held (capacity, not length: what the allocator gave us).
    pub fn memory_bytes(&self) -> usize {
        self.chunks.capacity() * core::mem::size_of::<(u64, u32)>() + self.deltas.capacity()
    }

    /// Release spare capacity once built.
    pub fn shrink_to_fit(&mut self) {
        self.chunks.shrink_to_fit();
        self.deltas.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn bytes_per_tid(tids: impl Iterator<Item = (u32, u16)>) -> f64 {
        let mut s = TidStore::new();
        for (b, o) in tids {
            assert!(s.push(b, o));
        }
        s.shrink_to_fit();
        s.memory_bytes() as f64 / s.len() as f64
    }

    #[test]
    fn smaller_than_a_tid_array_on_dense_and_sparse_deletions() {
        // 60 of a block's rows dead, 2,000 blocks
        let dense = bytes_per_tid((0..2000u32).flat_map(|b| (1..=60u16).map(move |o| (b, o))));
        // one row in each block
        let one_per_block = bytes_per_tid((0..100_000u32).map(|b| (b, 7)));
        // one row in every hundredth block
        let scattered = bytes_per_tid((0..50_000u32).map(|b| (b * 100, 3)));
        assert!(dense < 1.3, "dense: {dense}");
        assert!(one_per_block < 2.3, "one per block: {one_per_block}");
        assert!(scattered < 3.3, "scattered: {scattered}");
    }

    #[test]
    fn rejects_out_of_order_and_out_of_range() {
        let mut s = TidStore::new();
        assert!(s.push(5, 3));
        assert!(!s.push(5, 3));
        assert!(!s.push(4, 100));
        assert!(!s.push(6, 4096));
        assert!(s.push(6, 1));
        assert_eq!(s.len(), 2);
        assert!(!s.contains(6, 4096));
    }

    proptest! {
        #[test]
        fn same_membership_as_a_set(
            tids in proptest::collection::vec((0u32..5000, 1u16..300), 0..2000),
            probes in proptest::collection::vec((0u32..5000, 0u16..300), 0..500),
        ) {
            let s = TidStore::from_unsorted(tids.iter().copied());
            let set: BTreeSet<(u32, u16)> = tids.iter().copied().collect();
            prop_assert_eq!(s.len(), set.len());
            prop_assert_eq!(s.iter().collect::<Vec<_>>(), set.iter().copied().collect::<Vec<_>>());
            for &(b, o) in tids.iter().chain(probes.iter()) {
                prop_assert_eq!(s.contains(b, o), set.contains(&(b, o)));
            }
        }

        #[test]
        fn extreme_blocks(offsets in proptest::collection::btree_set(1u16..2048, 1..50)) {
            let tids: Vec<(u32, u16)> = [0, 1, u32::MAX - 1, u32::MAX]
                .iter()
                .flat_map(|&b| offsets.iter().map(move |&o| (b, o)))
                .collect();
            let s = TidStore::from_unsorted(tids.iter().copied());
            for &(b, o) in &tids {
                prop_assert!(s.contains(b, o));
            }
            prop_assert!(!s.contains(2, 1));
            prop_assert_eq!(s.iter().collect::<Vec<_>>(), tids);
        }
    }
}
