//! Where this backend last found each block of the index it used last, so a
//! read can pin that buffer with `ReadRecentBuffer` (a check of the buffer's
//! tag) instead of a buffer-table lookup, which profiles showed costing a
//! tenth of a search. A stale entry just fails the check and falls back to
//! ReadBuffer; the buffer's tag, not this map, decides what page it holds.

use std::cell::RefCell;

use pgrx::pg_sys;

/// Blocks remembered at most (4 bytes each).
const MAX_BLOCKS: usize = 1 << 20;

#[derive(Default)]
struct Recent {
    relation: pg_sys::Oid,
    buffers: Vec<pg_sys::Buffer>,
}

thread_local! {
    static RECENT: RefCell<Recent> = RefCell::default();
}

/// The buffer `block` of `rel` was last found in, pinned, if it still holds it.
///
/// # Safety
/// `rel` is an open relation.
#[allow(unused_variables)]
pub unsafe fn pin(rel: pg_sys::Relation, block: u32) -> Option<pg_sys::Buffer> {
    #[cfg(any(feature = "pg14", feature = "pg15", feature = "pg16", feature = "pg17"))]
    {
        let oid = unsafe { (*rel).rd_id };
        let buf = RECENT.with(|r| {
            let r = r.borrow();
            (r.relation == oid).then(|| r.buffers.get(block as usize).copied()).flatten()
        })?;
        if buf == pg_sys::InvalidBuffer as pg_sys::Buffer {
            return None;
        }
        #[cfg(any(feature = "pg14", feature = "pg15"))]
        let node = unsafe { (*rel).rd_node };
        #[cfg(any(feature = "pg16", feature = "pg17"))]
        let node = unsafe { (*rel).rd_locator };
        // SAFETY: ReadRecentBuffer pins `buf` only if its tag is this block.
        let hit = unsafe { pg_sys::ReadRecentBuffer(node, pg_sys::ForkNumber::MAIN_FORKNUM, block, buf) };
        return hit.then_some(buf);
    }
    #[allow(unreachable_code)]
    None
}

/// Hint the CPU to load what reading tuple `offset` of `block` touches
/// first: the buffer's descriptor (pin and lock), the page header and the
/// line pointer, if the block's buffer is known. No pin is taken: the
/// buffer may hold another page by the time it is read, which costs
/// nothing but the wasted hint (prefetches never fault).
///
/// # Safety
/// `rel` is an open relation.
pub unsafe fn prefetch(rel: pg_sys::Relation, block: u32, offset: u16) {
    let Some(index) = (unsafe { buffer_index(rel, block) }) else { return };
    // SAFETY: shared buffers and their descriptors are mapped for the
    // life of the backend and `index` was a valid shared buffer;
    // only addresses are computed here, nothing is dereferenced.
    unsafe {
        let desc = pg_sys::BufferDescriptors.add(index).cast::<i8>();
        let page = pg_sys::BufferBlocks.add(index * pg_sys::BLCKSZ as usize).cast::<i8>();
        for p in [desc, page, line_pointer(page, offset)] {
            prefetch_line::<L1>(p);
        }
    }
}

/// Hint the CPU to load the first `bytes` of tuple `offset` of `block`,
/// whose line pointer `prefetch` asked for earlier. The line pointer is
/// read without a pin or lock: the word may be changing, so it is only
/// used, after a bounds check, as an address to prefetch, never to read.
///
/// # Safety
/// `rel` is an open relation.
pub unsafe fn prefetch_tuple(rel: pg_sys::Relation, block: u32, offset: u16, bytes: usize) {
    let Some(index) = (unsafe { buffer_index(rel, block) }) else { return };
    // SAFETY: as in `prefetch`; the line pointer lies inside the mapped
    // buffer block and is read as one aligned word (volatile: another
    // process may write it).
    unsafe {
        let page = pg_sys::BufferBlocks.add(index * pg_sys::BLCKSZ as usize).cast::<i8>();
        let word = core::ptr::read_volatile(line_pointer(page, offset).cast::<u32>());
        // ItemIdData: lp_off:15, lp_flags:2, lp_len:15
        let (off, flags, len) = ((word & 0x7fff) as usize, (word >> 15) & 3, (word >> 17) as usize);
        if flags != pg_sys::LP_NORMAL || off + len > pg_sys::BLCKSZ as usize {
            return;
        }
        for at in (off..off + len.min(bytes)).step_by(64) {
            prefetch_line::<L1>(page.add(at));
        }
    }
}

/// Hints for all of page `block` of `rel` (header, line pointers, items),
/// if there is one and its buffer is known, spread over the time a reader
/// spends on another page: `PagePrefetch::keep_pace` asks for as many lines
/// as the reader has just read. An ivfflat scan reads a list's pages one
/// after another, each page's items in ascending addresses; the CPU's own
/// prefetcher follows a page but starts again at every page boundary
/// (shared buffers are scattered), so without hints each page began with a
/// run of misses. The hints go to L2: a whole page asked for at once filled
/// the miss buffers and stalled the current page's loads, and hints into L1
/// were about 8 % slower on 1,536-d rows (docs/benchmarks.md, "Twentieth
/// session"). No pin and nothing read: as in `prefetch`, a buffer that
/// holds another page by then costs only the wasted hints.
///
/// # Safety
/// `rel` is an open relation.
pub unsafe fn page_prefetch(rel: pg_sys::Relation, block: Option<u32>) -> PagePrefetch {
    let page = match block.and_then(|b| unsafe { buffer_index(rel, b) }) {
        // SAFETY: the start of a mapped buffer block (`index` was a valid
        // shared buffer); the address is only hinted, never dereferenced.
        Some(index) => unsafe { pg_sys::BufferBlocks.add(index * pg_sys::BLCKSZ as usize).cast::<i8>() },
        None => core::ptr::null(),
    };
    PagePrefetch { page, at: 0 }
}

/// The lines of one buffer block still to hint (see `page_prefetch`).
pub struct PagePrefetch {
    /// The block's first byte, or null when there is nothing to hint.
    page: *const i8,
    /// Offset of the next line to hint.
    at: usize,
}

impl PagePrefetch {
    /// After the reader read an item of `len` bytes on its page: hint as
    /// many lines of this page (at least one, none past its end), so it is
    /// hinted as fast as the other is read.
    pub fn keep_pace(&mut self, len: usize) {
        if self.page.is_null() {
            return;
        }
        let end = self.at.saturating_add((len / 64 + 1) * 64).min(pg_sys::BLCKSZ as usize);
        while self.at < end {
            // SAFETY: `at` < BLCKSZ, inside the mapped block; only hinted.
            prefetch_line::<L2>(unsafe { self.page.add(self.at) });
            self.at += 64;
        }
    }
}

/// Index into the shared buffer arrays of the buffer `block` of `rel`
/// was last found in, if known.
///
/// # Safety
/// `rel` is an open relation.
unsafe fn buffer_index(rel: pg_sys::Relation, block: u32) -> Option<usize> {
    let oid = unsafe { (*rel).rd_id };
    let buf = RECENT.with(|r| {
        let r = r.borrow();
        (r.relation == oid).then(|| r.buffers.get(block as usize).copied()).flatten()
    });
    buf.filter(|&b| b > 0).map(|b| b as usize - 1)
}

/// The address of line pointer `offset` (1-based) on `page`.
///
/// # Safety
/// `page` is a mapped page; the result stays inside it.
unsafe fn line_pointer(page: *mut i8, offset: u16) -> *mut i8 {
    let at = core::mem::size_of::<pg_sys::PageHeaderData>() + 4 * (offset.max(1) as usize - 1);
    unsafe { page.add(at.min(pg_sys::BLCKSZ as usize - 4)) }
}

/// Where a hint asks a line to go.
const L1: bool = false;
const L2: bool = true;

/// Hint the CPU to load the cache line at `p` into L1 or (`TO_L2`) into L2 only.
fn prefetch_line<const TO_L2: bool>(p: *const i8) {
    // SAFETY: prefetching never faults, whatever the address.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0, _MM_HINT_T1};
        if TO_L2 {
            _mm_prefetch::<_MM_HINT_T1>(p)
        } else {
            _mm_prefetch::<_MM_HINT_T0>(p)
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Remember that `block` of `rel` is in `buf`.
///
/// # Safety
/// `rel` is an open relation.
pub unsafe fn remember(rel: pg_sys::Relation, block: u32, buf: pg_sys::Buffer) {
    if block as usize >= MAX_BLOCKS {
        return;
    }
    let oid = unsafe { (*rel).rd_id };
    RECENT.with(|r| {
        let mut r = r.borrow_mut();
        if r.relation != oid {
            r.relation = oid;
            r.buffers.clear();
        }
        if r.buffers.len() <= block as usize {
            r.buffers.resize(block as usize + 1, pg_sys::InvalidBuffer as pg_sys::Buffer);
        }
        r.buffers[block as usize] = buf;
    });
}
