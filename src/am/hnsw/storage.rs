//! Pages, buffers and WAL of an HNSW index: the only module of the access
//! method that touches the buffer manager or writes WAL.
//!
//! Page layout: block 0 is the meta page (a `Meta` struct in the page
//! contents, pd_lower set past it); blocks 1.. hold element, chunk and
//! TID-list tuples (ruvector_core::hnsw::tuple) as ordinary line pointers.
//! Every page carries a 4-byte special space with a page-kind marker.
//!
//! Locking protocol (see also docs/hnsw.md):
//! - A reader pins and share-locks one page at a time, copies or computes
//!   what it needs from one tuple, then unlocks before touching another page.
//!   No code path holds two page locks at once, so there are no lock-order
//!   deadlocks between readers, inserters and VACUUM.
//! - A writer exclusive-locks one page, changes it inside a Generic WAL
//!   record (GenericXLogStart/RegisterBuffer/Finish), and unlocks. Tuples are
//!   changed in place and never change size, so line pointers stay stable.
//! - The meta page is share-locked to read the entry point and
//!   exclusive-locked (alone) to change it.
//! - Extending the relation takes the relation extension lock.
//! - A build writes pages without WAL and logs them all at the end with
//!   `log_newpage_range` (permanent relations); `ambuildempty` writes the
//!   init fork's meta page and logs it with `log_newpage`.
//!
//! On ERROR while a page lock is held, PostgreSQL's abort releases the lock
//! and pin, and an unfinished Generic WAL record is discarded with its
//! memory context, so a half-made change never reaches the page.

use core::ffi::c_void;

use pgrx::pg_sys;
use ruvector_core::hnsw::tuple::{Meta, PageGeometry, Tid};

/// Page-kind marker in the special space.
const PAGE_ID: u16 = 0x5256; // "RV"
const KIND_META: u16 = 1;
const KIND_DATA: u16 = 2;
const SPECIAL_SIZE: usize = 4;

const BLCKSZ: usize = pg_sys::BLCKSZ as usize;
/// SizeOfPageHeaderData: the header up to the line pointer array.
const PAGE_HEADER: usize = core::mem::offset_of!(pg_sys::PageHeaderData, pd_linp);
const MAXALIGN: usize = 8;

/// Space accounting of a data page, for planning where tuples go.
pub const GEOMETRY: PageGeometry = PageGeometry {
    empty_free: BLCKSZ - PAGE_HEADER - SPECIAL_SIZE.div_ceil(MAXALIGN) * MAXALIGN,
    maxalign: MAXALIGN,
    item_id: core::mem::size_of::<pg_sys::ItemIdData>(),
};

pub const META_BLOCK: u32 = 0;

/// An open index relation (owned by the caller; this only borrows it).
#[derive(Clone, Copy)]
pub struct Index {
    rel: pg_sys::Relation,
}

/// A pinned and locked buffer, released when dropped.
struct Locked {
    buf: pg_sys::Buffer,
}

impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: `buf` is pinned and locked by this guard.
        unsafe { pg_sys::UnlockReleaseBuffer(self.buf) };
    }
}

unsafe fn page_init(page: pg_sys::Page, kind: u16) {
    unsafe {
        pg_sys::PageInit(page, BLCKSZ, SPECIAL_SIZE);
        let special = (page as *mut u8).add((*(page as *mut pg_sys::PageHeaderData)).pd_special as usize);
        (special as *mut u16).write_unaligned(PAGE_ID);
        (special.add(2) as *mut u16).write_unaligned(kind);
    }
}

/// The item at `offset` of `page` as bytes, or `None` if there is none.
unsafe fn item<'p>(page: pg_sys::Page, offset: u16) -> Option<&'p mut [u8]> {
    unsafe {
        if offset == 0 || offset > pg_sys::PageGetMaxOffsetNumber(page) {
            return None;
        }
        let id = pg_sys::PageGetItemId(page, offset);
        if (*id).lp_flags() != pg_sys::LP_NORMAL {
            return None;
        }
        let len = (*id).lp_len() as usize;
        let data = pg_sys::PageGetItem(page, id) as *mut u8;
        Some(core::slice::from_raw_parts_mut(data, len))
    }
}

/// PageGetContents: the page body after the MAXALIGN'd header.
fn page_contents(page: pg_sys::Page) -> *mut u8 {
    (page as *mut u8).wrapping_add(PAGE_HEADER.div_ceil(MAXALIGN) * MAXALIGN)
}

unsafe fn meta_of<'p>(page: pg_sys::Page) -> &'p mut Meta {
    // SAFETY: the meta page's contents start MAXALIGN'd after the header.
    unsafe { &mut *(page_contents(page) as *mut Meta) }
}

impl Index {
    pub fn new(rel: pg_sys::Relation) -> Self {
        Index { rel }
    }

    pub fn relation(&self) -> pg_sys::Relation {
        self.rel
    }

    pub fn nblocks(&self) -> u32 {
        // SAFETY: the relation is open.
        unsafe { pg_sys::RelationGetNumberOfBlocksInFork(self.rel, pg_sys::ForkNumber::MAIN_FORKNUM) }
    }

    fn lock(&self, block: u32, mode: u32) -> Locked {
        // SAFETY: callers only ask for blocks below nblocks(); ReadBuffer raises ERROR otherwise.
        unsafe {
            let buf = pg_sys::ReadBufferExtended(
                self.rel,
                pg_sys::ForkNumber::MAIN_FORKNUM,
                block,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                core::ptr::null_mut(),
            );
            pg_sys::LockBuffer(buf, mode as i32);
            Locked { buf }
        }
    }

    /// Read the meta page.
    pub fn meta(&self) -> Meta {
        let l = self.lock(META_BLOCK, pg_sys::BUFFER_LOCK_SHARE);
        // SAFETY: block 0 is the meta page, locked.
        unsafe { *meta_of(pg_sys::BufferGetPage(l.buf)) }
    }

    /// Change the meta page under an exclusive lock, WAL-logged.
    pub fn update_meta<R>(&self, f: impl FnOnce(&mut Meta) -> R) -> R {
        let l = self.lock(META_BLOCK, pg_sys::BUFFER_LOCK_EXCLUSIVE);
        // SAFETY: the buffer is exclusively locked; the Generic WAL copy is
        // what we change, and Finish applies and logs it.
        unsafe {
            let state = pg_sys::GenericXLogStart(self.rel);
            let page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, 0);
            let r = f(meta_of(page));
            pg_sys::GenericXLogFinish(state);
            r
        }
    }

    /// Call `f` with the bytes of the tuple at `tid` under a share lock.
    ///
    /// A TID past the end of the relation (only a corrupt index has one) makes
    /// ReadBuffer raise an ERROR; checking the size here instead would cost a
    /// system call per tuple on the search path.
    pub fn read<R>(&self, tid: Tid, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if !tid.is_valid() || tid.block == META_BLOCK {
            return None;
        }
        let l = self.lock(tid.block, pg_sys::BUFFER_LOCK_SHARE);
        // SAFETY: the page is share-locked for the duration of `f`.
        unsafe { item(pg_sys::BufferGetPage(l.buf), tid.offset).map(|b| f(b)) }
    }

    /// Change the tuple at `tid` in place under an exclusive lock, WAL-logged.
    /// `f` returns whether it changed anything; if not, no WAL is written.
    pub fn update<R>(&self, tid: Tid, f: impl FnOnce(&mut [u8]) -> (bool, R)) -> Option<R> {
        if !tid.is_valid() || tid.block == META_BLOCK {
            return None;
        }
        let l = self.lock(tid.block, pg_sys::BUFFER_LOCK_EXCLUSIVE);
        // SAFETY: exclusive lock; changes go to the Generic WAL page copy.
        unsafe {
            let state = pg_sys::GenericXLogStart(self.rel);
            let page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, 0);
            match item(page, tid.offset) {
                Some(bytes) => {
                    let (changed, r) = f(bytes);
                    if changed {
                        pg_sys::GenericXLogFinish(state);
                    } else {
                        pg_sys::GenericXLogAbort(state);
                    }
                    Some(r)
                }
                None => {
                    pg_sys::GenericXLogAbort(state);
                    None
                }
            }
        }
    }

    /// Visit every tuple of data page `block` under an exclusive lock;
    /// `f(offset, bytes)` returns whether it changed the tuple. Changes are
    /// WAL-logged as one record for the page.
    pub fn update_page(&self, block: u32, mut f: impl FnMut(u16, &mut [u8]) -> bool) {
        let l = self.lock(block, pg_sys::BUFFER_LOCK_EXCLUSIVE);
        // SAFETY: exclusive lock; changes go to the Generic WAL page copy.
        unsafe {
            let state = pg_sys::GenericXLogStart(self.rel);
            let page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, 0);
            let mut changed = false;
            for off in 1..=pg_sys::PageGetMaxOffsetNumber(page) {
                if let Some(bytes) = item(page, off) {
                    changed |= f(off, bytes);
                }
            }
            if changed {
                pg_sys::GenericXLogFinish(state);
            } else {
                pg_sys::GenericXLogAbort(state);
            }
        }
    }

    /// Append a tuple to the last page with room (or a new page), WAL-logged.
    pub fn append(&self, bytes: &[u8]) -> Tid {
        assert!(GEOMETRY.item_cost(bytes.len()) <= GEOMETRY.empty_free, "tuple fits an empty page");
        let last = self.nblocks() - 1;
        if last > META_BLOCK {
            let l = self.lock(last, pg_sys::BUFFER_LOCK_EXCLUSIVE);
            // SAFETY: exclusive lock; PageAddItem into the Generic WAL copy.
            unsafe {
                let state = pg_sys::GenericXLogStart(self.rel);
                let page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, 0);
                if pg_sys::PageGetFreeSpace(page) >= bytes.len().div_ceil(MAXALIGN) * MAXALIGN {
                    let off = add_item(page, bytes);
                    pg_sys::GenericXLogFinish(state);
                    return Tid { block: last, offset: off };
                }
                pg_sys::GenericXLogAbort(state);
            }
        }
        // SAFETY: new page under the extension lock, initialised and filled in
        // one Generic WAL record (GENERIC_XLOG_FULL_IMAGE: it is all new).
        unsafe {
            pg_sys::LockRelationForExtension(self.rel, pg_sys::ExclusiveLock as i32);
            let buf = pg_sys::ReadBufferExtended(
                self.rel,
                pg_sys::ForkNumber::MAIN_FORKNUM,
                pg_sys::InvalidBlockNumber,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                core::ptr::null_mut(),
            );
            pg_sys::LockBuffer(buf, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
            pg_sys::UnlockRelationForExtension(self.rel, pg_sys::ExclusiveLock as i32);
            let l = Locked { buf };
            let state = pg_sys::GenericXLogStart(self.rel);
            let page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, pg_sys::GENERIC_XLOG_FULL_IMAGE as i32);
            page_init(page, KIND_DATA);
            let off = add_item(page, bytes);
            pg_sys::GenericXLogFinish(state);
            Tid { block: pg_sys::BufferGetBlockNumber(l.buf), offset: off }
        }
    }
}

unsafe fn add_item(page: pg_sys::Page, bytes: &[u8]) -> u16 {
    // SAFETY: the caller checked the free space; PageAddItem copies `bytes`.
    let off = unsafe {
        pg_sys::PageAddItemExtended(
            page,
            bytes.as_ptr() as *mut c_void as pg_sys::Item,
            bytes.len(),
            pg_sys::InvalidOffsetNumber,
            0,
        )
    };
    if off == pg_sys::InvalidOffsetNumber {
        pgrx::error!("ruvector_pg: failed to add a tuple to an hnsw index page");
    }
    off
}

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
            let buf = pg_sys::ReadBufferExtended(
                self.index.rel,
                pg_sys::ForkNumber::MAIN_FORKNUM,
                pg_sys::InvalidBlockNumber,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                core::ptr::null_mut(),
            );
            pg_sys::LockBuffer(buf, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
            page_init(pg_sys::BufferGetPage(buf), kind);
            pg_sys::MarkBufferDirty(buf);
            let block = pg_sys::BufferGetBlockNumber(buf);
            self.page = Some((Locked { buf }, block));
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

    /// Write the meta page and WAL-log the whole relation once.
    pub fn finish(mut self, meta: Meta) {
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

fn write_meta(index: Index, fork: pg_sys::ForkNumber::Type, meta: Meta) {
    // SAFETY: block 0 of `fork` exists (main fork) or is created here (init fork).
    unsafe {
        let nblocks = pg_sys::RelationGetNumberOfBlocksInFork(index.rel, fork);
        let block = if nblocks == 0 { pg_sys::InvalidBlockNumber } else { META_BLOCK };
        let buf = pg_sys::ReadBufferExtended(
            index.rel,
            fork,
            block,
            pg_sys::ReadBufferMode::RBM_NORMAL,
            core::ptr::null_mut(),
        );
        pg_sys::LockBuffer(buf, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
        let l = Locked { buf };
        let page = pg_sys::BufferGetPage(l.buf);
        page_init(page, KIND_META);
        *meta_of(page) = meta;
        let header = page as *mut pg_sys::PageHeaderData;
        (*header).pd_lower = ((page_contents(page) as usize - page as usize) + core::mem::size_of::<Meta>()) as u16;
        pg_sys::MarkBufferDirty(l.buf);
        if fork == pg_sys::ForkNumber::INIT_FORKNUM {
            pg_sys::log_newpage_buffer(l.buf, true);
        }
    }
}

/// `ambuildempty`: the init fork of an unlogged index is an empty meta page.
pub fn write_init_fork(index: Index, meta: Meta) {
    write_meta(index, pg_sys::ForkNumber::INIT_FORKNUM, meta);
}
