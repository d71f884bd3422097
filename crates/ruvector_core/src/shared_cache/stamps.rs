//! Where each index page last changed, as a WAL position, so that a cached
//! level-0 list is trusted until *its own* page changes rather than until
//! any WAL is written anywhere.
//!
//! A table of atomic words in shared memory; a page's word is found by
//! hashing (index, block), so pages share words and a change to one makes
//! the others' lists look changed too (never the other way round).
//!
//! Protocol (the extension's storage module and hnsw cache keep it):
//! - A writer changes a page under its exclusive lock, inserts the WAL
//!   record (ending at `lsn`), calls [`BlockStamps::changed`] and only then
//!   releases the lock. The page's word only grows (`fetch_max`).
//! - A reader notes the WAL insert position `since` *before* it reads any
//!   page (at the start of its search) and keeps the lists it reads under
//!   that stamp. A list is current while [`BlockStamps::unchanged_since`]:
//!   the page's word is at most `since`. A change whose record ended at or
//!   before `since` was on the page before the reader read it (the change
//!   is made before its record is inserted, and the reader's share lock
//!   waits for the writer's exclusive one); a later change ends after
//!   `since` and, once its writer released the lock, shows in the word.
//!   A change whose word is not yet raised is one the reader may order
//!   before its read, as with any page it read a moment ago.
//! - Only where every change to the index is WAL-logged and made by this
//!   server (not on a standby, whose replay does not go through here), and
//!   only while the table lives as long as the shared memory the lists are
//!   kept in (both reset together at a server or crash restart).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Release};

/// The change positions of index pages, over words shared by all backends.
#[derive(Clone, Copy)]
pub struct BlockStamps<'a> {
    words: &'a [AtomicU64],
}

impl<'a> BlockStamps<'a> {
    /// Over `words` (zeroed: nothing changed yet); None if there are none.
    pub fn new(words: &'a [AtomicU64]) -> Option<Self> {
        (!words.is_empty()).then_some(BlockStamps { words })
    }

    fn word(&self, index: u32, block: u32) -> &AtomicU64 {
        let key = (u64::from(index) << 32 | u64::from(block)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.words[((key >> 32) as usize) % self.words.len()]
    }

    /// Page `block` of `index` changed in a WAL record ending at `lsn`
    /// (called before the page's exclusive lock is released).
    pub fn changed(&self, index: u32, block: u32, lsn: u64) {
        self.word(index, block).fetch_max(lsn, Release);
    }

    /// Whether page `block` of `index` is unchanged by any record ending
    /// after `since`.
    pub fn unchanged_since(&self, index: u32, block: u32, since: u64) -> bool {
        self.word(index, block).load(Acquire) <= since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Vec<AtomicU64> {
        (0..n).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn a_change_after_the_stamp_shows_and_others_do_not() {
        let words = table(4096);
        let s = BlockStamps::new(&words).unwrap();
        assert!(s.unchanged_since(7, 3, 0));
        s.changed(7, 3, 100);
        assert!(s.unchanged_since(7, 3, 100), "a change ending at the stamp was read");
        assert!(!s.unchanged_since(7, 3, 99));
        // the word never goes back
        s.changed(7, 3, 50);
        assert!(!s.unchanged_since(7, 3, 99));
        // most other pages keep their lists (some share the word)
        let kept = (0..1000u32).filter(|&b| b != 3 && s.unchanged_since(7, b, 0)).count();
        assert!(kept >= 990, "{kept} of 999 other pages unchanged");
        assert!(s.unchanged_since(8, 3, 0) || std::ptr::eq(s.word(8, 3), s.word(7, 3)));
    }

    #[test]
    fn an_empty_table_is_none() {
        assert!(BlockStamps::new(&[]).is_none());
    }

    /// Every page written since a stamp reads as changed, whatever words
    /// the pages share.
    #[test]
    fn no_change_is_missed_with_one_word() {
        let words = table(1);
        let s = BlockStamps::new(&words).unwrap();
        for b in 0..50 {
            s.changed(1, b, 10 + u64::from(b));
        }
        for b in 0..50 {
            assert!(!s.unchanged_since(1, b, 10 + u64::from(b) - 1));
        }
    }
}
