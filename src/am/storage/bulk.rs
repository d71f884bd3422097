//! Writing a freshly built index: pages in order without WAL, then the meta
//! page, and every page logged once at the end (`log_newpage_range`, for
//! permanent relations); the init fork of an unlogged index. Only the
//! building backend can see the relation while this runs, so the locks taken
//! are for the buffer manager's sake, one page at a time.

use bytemuck::Pod;
use pgrx::pg_sys;
use ruvector_core::index::Tid;

use super::page::*;
use super::{Index, Locked};

/// Writes a freshly built index page by page, without WAL; `finish` writes
/// the meta page and logs every page once.
pub struct BulkWriter {
    index: Index,
    page: Option<(Locked, u32)>,
}

impl BulkWriter {
    /// Start a build: the relation must be empty. Block 0 (meta) is created now.
    pub fn new(index: Index) -> Self {
        let mut w = BulkWriter { index, page: None };
        let meta = w.new_page(KIND_META);
        assert_eq!(meta, META_BLOCK, "a build starts on an empty relation");
        w.page = None; // the meta page is written in finish()
        w
    }

    fn new_page(&mut self, kind: u16) -> u32 {
        self.page = None;
        // SAFETY: during a build nobody else can see the relation.
        unsafe {
            let l = Locked::exclusive(self.index.rel, pg_sys::ForkNumber::MAIN_FORKNUM, pg_sys::InvalidBlockNumber);
            page_init(pg_sys::BufferGetPage(l.buf), kind);
            pg_sys::MarkBufferDirty(l.buf);
            let block = pg_sys::BufferGetBlockNumber(l.buf);
            self.page = Some((l, block));
            block
        }
    }

    /// Write the next tuple, which the planner placed at `expected`.
    pub fn add(&mut self, bytes: &[u8], expected: Tid) {
        if self.page.as_ref().map(|p| p.1) != Some(expected.block) {
            let block = self.new_page(KIND_DATA);
            assert_eq!(block, expected.block, "pages are written in order");
        }
        let (l, _) = self.page.as_ref().expect("a page is open");
        // SAFETY: exclusive lock held on a page only this build can see.
        unsafe {
            let page = pg_sys::BufferGetPage(l.buf);
            let off = add_item(page, bytes);
            assert_eq!(off, expected.offset, "tuple placed where the plan said");
            pg_sys::MarkBufferDirty(l.buf);
        }
    }

    /// Write the next tuple wherever it fits: on the current page, or on a
    /// new page (linked after the current one when `chained`).
    pub fn add_next(&mut self, bytes: &[u8], chained: bool) -> Tid {
        if let Some((l, block)) = &self.page {
            // SAFETY: exclusive lock held on a page only this build can see.
            unsafe {
                let page = pg_sys::BufferGetPage(l.buf);
                if pg_sys::PageGetFreeSpace(page) >= bytes.len().div_ceil(MAXALIGN) * MAXALIGN {
                    let off = add_item(page, bytes);
                    pg_sys::MarkBufferDirty(l.buf);
                    return Tid { block: *block, offset: off };
                }
            }
        }
        let previous = self.page.as_ref().map(|p| p.1);
        let block = self.new_page(KIND_DATA);
        if chained {
            if let Some(p) = previous {
                self.link(p, block);
            }
        }
        self.add_next(bytes, false)
    }

    /// Write a tuple on an already written page of this build if it has
    /// room for it; None, with nothing written, if not.
    pub fn add_to(&mut self, block: u32, bytes: &[u8]) -> Option<Tid> {
        let mut offset = None;
        self.with_page(block, |page| {
            // SAFETY: a data page of this build, exclusively locked.
            unsafe {
                if pg_sys::PageGetFreeSpace(page) >= bytes.len().div_ceil(MAXALIGN) * MAXALIGN {
                    offset = Some(add_item(page, bytes));
                }
            }
        });
        offset.map(|offset| Tid { block, offset })
    }

    /// A new, empty data page (closed at once).
    pub fn empty_page(&mut self) -> u32 {
        let block = self.new_page(KIND_DATA);
        self.page = None;
        block
    }

    /// End the current page: the next tuple starts a new page (and chain).
    pub fn close_page(&mut self) {
        self.page = None;
    }

    /// Set the `next` link of an already written page.
    pub fn link(&mut self, from: u32, to: u32) {
        self.with_page(from, |page| {
            // SAFETY: a data page of this build, exclusively locked.
            unsafe { set_next(page, to) }
        });
    }

    /// Change an already written tuple in place.
    pub fn update(&mut self, tid: Tid, f: impl FnOnce(&mut [u8])) {
        self.with_page(tid.block, |page| {
            // SAFETY: as above; the tuple keeps its size.
            if let Some(bytes) = unsafe { item(page, tid.offset) } {
                f(bytes)
            }
        });
    }

    fn with_page(&mut self, block: u32, f: impl FnOnce(pg_sys::Page)) {
        match &self.page {
            Some((l, b)) if *b == block => {
                // SAFETY: the current page, already locked by this writer.
                unsafe {
                    f(pg_sys::BufferGetPage(l.buf));
                    pg_sys::MarkBufferDirty(l.buf);
                }
            }
            _ => {
                let l = self.index.lock(block, pg_sys::BUFFER_LOCK_EXCLUSIVE);
                // SAFETY: a page of this build, exclusively locked.
                unsafe {
                    f(pg_sys::BufferGetPage(l.buf));
                    pg_sys::MarkBufferDirty(l.buf);
                }
            }
        }
    }

    /// Write the meta page and WAL-log the whole relation once.
    pub fn finish<M: Pod>(mut self, meta: M) {
        self.page = None;
        write_meta(self.index, pg_sys::ForkNumber::MAIN_FORKNUM, meta);
        // SAFETY: the relation is open; pages 0..nblocks exist.
        unsafe {
            if (*(*self.index.rel).rd_rel).relpersistence == pg_sys::RELPERSISTENCE_PERMANENT as core::ffi::c_char {
                pg_sys::log_newpage_range(
                    self.index.rel,
                    pg_sys::ForkNumber::MAIN_FORKNUM,
                    0,
                    self.index.nblocks(),
                    true,
                );
            }
        }
    }
}

fn write_meta<M: Pod>(index: Index, fork: pg_sys::ForkNumber::Type, meta: M) {
    // SAFETY: block 0 of `fork` exists (main fork) or is created here (init fork).
    unsafe {
        let nblocks = pg_sys::RelationGetNumberOfBlocksInFork(index.rel, fork);
        let block = if nblocks == 0 { pg_sys::InvalidBlockNumber } else { META_BLOCK };
        let l = Locked::exclusive(index.rel, fork, block);
        let page = pg_sys::BufferGetPage(l.buf);
        page_init(page, KIND_META);
        *meta_of::<M>(page) = meta;
        let header = page as *mut pg_sys::PageHeaderData;
        (*header).pd_lower = ((page_contents(page) as usize - page as usize) + core::mem::size_of::<M>()) as u16;
        pg_sys::MarkBufferDirty(l.buf);
        if fork == pg_sys::ForkNumber::INIT_FORKNUM {
            pg_sys::log_newpage_buffer(l.buf, true);
        }
    }
}

/// `ambuildempty` with data pages: the init fork gets the meta page, then one
/// data page per entry of `pages` holding those tuples, each WAL-logged.
pub fn write_init_fork_pages<M: Pod>(index: Index, meta: M, pages: &[&[&[u8]]]) {
    write_meta(index, pg_sys::ForkNumber::INIT_FORKNUM, meta);
    for items in pages {
        // SAFETY: appending new blocks to the init fork, which nobody else reads during CREATE INDEX.
        unsafe {
            let l = Locked::exclusive(index.rel, pg_sys::ForkNumber::INIT_FORKNUM, pg_sys::InvalidBlockNumber);
            let page = pg_sys::BufferGetPage(l.buf);
            page_init(page, KIND_DATA);
            for bytes in *items {
                add_item(page, bytes);
            }
            pg_sys::MarkBufferDirty(l.buf);
            pg_sys::log_newpage_buffer(l.buf, true);
        }
    }
}

/// `ambuildempty`: the init fork of an unlogged index is an empty meta page.
pub fn write_init_fork<M: Pod>(index: Index, meta: M) {
    write_meta(index, pg_sys::ForkNumber::INIT_FORKNUM, meta);
}
