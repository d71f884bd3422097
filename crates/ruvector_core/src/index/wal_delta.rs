//! The change to one tuple, in the form PostgreSQL's Generic WAL replays.
//!
//! A Generic WAL record's data for a page is a run of fragments, each a
//! native-endian `u16` page offset, a `u16` length and that many bytes, which
//! replay (`generic_redo`) copies onto the page in order. `GenericXLogFinish`
//! finds the fragments by comparing the whole page before and after, a byte
//! at a time (about 8 kB per record, a tenth of a single-row hnsw INSERT's
//! time on 784-d data in the twenty-eighth session's profile). An in-place
//! change to one tuple only needs that tuple compared: [`tuple_delta`] does
//! so a word at a time, and the extension's storage module writes the record
//! itself (src/am/storage/mod.rs, `Index::update`).
//!
//! Invariant: applying the fragments to a page holding `old` at `at` leaves
//! `new` there and every other byte as it was ([`apply`], proptested).

/// Bytes of a fragment's header (offset and length).
pub const FRAGMENT_HEADER: usize = 4;

/// Unchanged bytes shorter than this between two changed runs stay inside
/// one fragment: a new fragment would cost its header and more.
const MERGE_GAP: usize = 2 * FRAGMENT_HEADER;

/// Fragments that turn `old`, a tuple at byte `at` of its page, into `new`
/// (the same length), appended to `out` (cleared first). Empty when the two
/// are equal. Panics if the tuple does not lie within a page addressable by
/// `u16` offsets.
pub fn tuple_delta(at: usize, old: &[u8], new: &[u8], out: &mut Vec<u8>) {
    assert_eq!(old.len(), new.len(), "a tuple changed in place keeps its length");
    assert!(at + old.len() <= u16::MAX as usize, "tuple within a page");
    out.clear();
    const WORD: usize = 8;
    // changed runs, found a word at a time, merged across short gaps
    let mut run: Option<(usize, usize)> = None;
    let mut start = 0;
    while start < old.len() {
        let end = (start + WORD).min(old.len());
        if old[start..end] != new[start..end] {
            // (narrowed to the bytes that differ at the run's two ends below)
            run = match run {
                Some((s, e)) if start - e < MERGE_GAP => Some((s, end)),
                Some((s, e)) => {
                    push_fragment(at, s, e, old, new, out);
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        start = end;
    }
    if let Some((s, e)) = run {
        push_fragment(at, s, e, old, new, out);
    }
}

/// The fragment for `new[s..e]`, trimmed to its first and last changed byte.
fn push_fragment(at: usize, mut s: usize, mut e: usize, old: &[u8], new: &[u8], out: &mut Vec<u8>) {
    while s < e && old[s] == new[s] {
        s += 1;
    }
    while e > s && old[e - 1] == new[e - 1] {
        e -= 1;
    }
    if s == e {
        return;
    }
    out.extend_from_slice(&((at + s) as u16).to_ne_bytes());
    out.extend_from_slice(&((e - s) as u16).to_ne_bytes());
    out.extend_from_slice(&new[s..e]);
}

/// Replay `delta` onto `page` as `generic_redo` does (for tests and checks).
/// Returns false, leaving the rest undone, at a fragment that is cut short
/// or reaches past the page.
pub fn apply(page: &mut [u8], delta: &[u8]) -> bool {
    let mut rest = delta;
    while !rest.is_empty() {
        if rest.len() < FRAGMENT_HEADER {
            return false;
        }
        let offset = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let len = u16::from_ne_bytes([rest[2], rest[3]]) as usize;
        rest = &rest[FRAGMENT_HEADER..];
        if rest.len() < len || offset + len > page.len() {
            return false;
        }
        page[offset..offset + len].copy_from_slice(&rest[..len]);
        rest = &rest[len..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn page_with(at: usize, tuple: &[u8], fill: u8) -> Vec<u8> {
        let mut page = vec![fill; 8192];
        page[at..at + tuple.len()].copy_from_slice(tuple);
        page
    }

    #[test]
    fn equal_tuples_need_no_fragment() {
        let t = vec![7u8; 100];
        let mut out = vec![1, 2, 3];
        tuple_delta(40, &t, &t, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn one_changed_byte_is_one_byte_fragment() {
        let old = vec![0u8; 300];
        let mut new = old.clone();
        new[123] = 9;
        let mut out = Vec::new();
        tuple_delta(1000, &old, &new, &mut out);
        assert_eq!(out.len(), FRAGMENT_HEADER + 1);
        assert_eq!(u16::from_ne_bytes([out[0], out[1]]), 1123);
        assert_eq!(u16::from_ne_bytes([out[2], out[3]]), 1);
        assert_eq!(out[4], 9);
    }

    #[test]
    fn far_apart_changes_are_separate_fragments_and_near_ones_merge() {
        let old = vec![0u8; 400];
        let mut new = old.clone();
        new[10] = 1;
        new[300] = 2;
        let mut out = Vec::new();
        tuple_delta(0, &old, &new, &mut out);
        assert_eq!(out.len(), 2 * (FRAGMENT_HEADER + 1));
        new[12] = 3;
        tuple_delta(0, &old, &new, &mut out);
        // bytes 10..=12 in one fragment, 300 in another
        assert_eq!(out.len(), (FRAGMENT_HEADER + 3) + (FRAGMENT_HEADER + 1));
    }

    #[test]
    fn a_fragment_past_the_page_is_refused() {
        let mut page = vec![0u8; 64];
        let mut delta = Vec::new();
        delta.extend_from_slice(&60u16.to_ne_bytes());
        delta.extend_from_slice(&8u16.to_ne_bytes());
        delta.extend_from_slice(&[1; 8]);
        assert!(!apply(&mut page, &delta));
        assert!(!apply(&mut page, &delta[..3]));
    }

    proptest! {
        /// Replaying the delta turns the old page into the new one, whatever
        /// changed (sparse bytes, runs, the ends) and whatever surrounds it.
        #[test]
        fn replay_reproduces_the_new_tuple(
            at in 24usize..4000,
            old in proptest::collection::vec(any::<u8>(), 1..3000),
            changes in proptest::collection::vec((any::<prop::sample::Index>(), 1usize..40, any::<u8>()), 0..12),
            fill in any::<u8>(),
        ) {
            let mut new = old.clone();
            for (i, len, v) in changes {
                let s = i.index(new.len());
                let e = (s + len).min(new.len());
                new[s..e].iter_mut().enumerate().for_each(|(k, b)| *b = v.wrapping_add(k as u8));
            }
            let mut delta = Vec::new();
            tuple_delta(at, &old, &new, &mut delta);
            let mut page = page_with(at, &old, fill);
            prop_assert!(apply(&mut page, &delta));
            prop_assert_eq!(&page, &page_with(at, &new, fill));
            // never more than the changed bytes plus a header per fragment,
            // and no fragment at all when nothing changed
            let changed = old.iter().zip(&new).filter(|(a, b)| a != b).count();
            prop_assert_eq!(delta.is_empty(), changed == 0);
            prop_assert!(delta.len() <= new.len() + FRAGMENT_HEADER * (1 + new.len() / MERGE_GAP));
        }
    }
}
