//! The page format both access methods share: block 0 is the meta page (the
//! access method's `Pod` meta struct in the page contents, pd_lower set past
//! it); blocks 1.. hold the access method's tuples as ordinary line
//! pointers. Every page carries an 8-byte special space: a page-id marker, a
//! page kind, and the next block of a page chain (ivfflat lists;
//! InvalidBlockNumber elsewhere). Functions here take a page the caller has
//! pinned and locked (share to read, exclusive to change); none takes a lock.

use core::ffi::c_void;

use bytemuck::Pod;
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use ruvector_core::index::PageGeometry;

/// Page-kind marker in the special space.
pub(super) const PAGE_ID: u16 = 0x5256; // "RV"
pub(super) const KIND_META: u16 = 1;
pub(super) const KIND_DATA: u16 = 2;
/// Page id (u16), kind (u16), next block of the chain (u32). PageInit
/// MAXALIGNs the special size, so 8 costs nothing over the 4 of page id + kind.
pub(super) const SPECIAL_SIZE: usize = 8;

pub(super) const BLCKSZ: usize = pg_sys::BLCKSZ as usize;
/// SizeOfPageHeaderData: the header up to the line pointer array.
pub(super) const PAGE_HEADER: usize = core::mem::offset_of!(pg_sys::PageHeaderData, pd_linp);
pub(super) const MAXALIGN: usize = 8;

/// Space accounting of a data page, for planning where tuples go.
pub const GEOMETRY: PageGeometry = PageGeometry {
    empty_free: BLCKSZ - PAGE_HEADER - SPECIAL_SIZE.div_ceil(MAXALIGN) * MAXALIGN,
    maxalign: MAXALIGN,
    item_id: core::mem::size_of::<pg_sys::ItemIdData>(),
};

pub const META_BLOCK: u32 = 0;

pub(super) unsafe fn page_init(page: pg_sys::Page, kind: u16) {
    unsafe {
        pg_sys::PageInit(page, BLCKSZ, SPECIAL_SIZE);
        let special = (page as *mut u8).add((*(page as *mut pg_sys::PageHeaderData)).pd_special as usize);
        (special as *mut u16).write_unaligned(PAGE_ID);
        (special.add(2) as *mut u16).write_unaligned(kind);
        (special.add(4) as *mut u32).write_unaligned(pg_sys::InvalidBlockNumber);
    }
}

pub(super) fn special_next(page: pg_sys::Page) -> *mut u32 {
    // SAFETY (callers): `page` was initialised by page_init, whose special space holds `next` at byte 4.
    unsafe { (page as *mut u8).add((*(page as *mut pg_sys::PageHeaderData)).pd_special as usize + 4) as *mut u32 }
}

/// The next block of the page chain `page` belongs to, if any. A chain
/// that reaches a new (all-zero) page, or links to the meta page, is
/// corrupt (ERROR): a chain is extended by initialising the new page and
/// linking it in one WAL record, so no chain leads to a page never written,
/// and a reader following a link to the meta page would take it for a data
/// page.
///
/// # Safety
/// `page` is pinned and locked, and passed `verify` when it was locked.
pub(super) unsafe fn next_of(page: pg_sys::Page) -> Option<u32> {
    if unsafe { (*(page as *mut pg_sys::PageHeaderData)).pd_upper } == 0 {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            "an index page chain reaches a page that was never written",
        );
    }
    let next = unsafe { special_next(page).read_unaligned() };
    if next == META_BLOCK {
        crate::error::raise_code(PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED, "an index page chain links to the meta page");
    }
    (next != pg_sys::InvalidBlockNumber).then_some(next)
}

/// Check that block `block`, just locked, is a page of this extension's
/// format, before anything on it is trusted: a header whose pointers are in
/// order (PostgreSQL checks less when it reads a page from disk, and
/// PageAddItem PANICs on what it does not check), the special space
/// `page_init` made (page id, and the kind block `block` must have: the meta
/// page at block 0, data pages after it). A new page (all zero: extended,
/// not yet written) passes, as an empty page. Raises `index_corrupted`
/// (XX002) otherwise.
///
/// # Safety
/// `page` is pinned and locked.
pub(super) unsafe fn verify(page: pg_sys::Page, block: u32) {
    // SAFETY: a pinned, locked page of BLCKSZ bytes; the special space is
    // read only once pd_special is known to be its place.
    let problem = unsafe {
        let h = &*(page as *const pg_sys::PageHeaderData);
        let special = BLCKSZ - SPECIAL_SIZE;
        if h.pd_upper == 0 && h.pd_lower == 0 && h.pd_special == 0 {
            return; // PageIsNew
        }
        let (lower, upper, at) = (h.pd_lower as usize, h.pd_upper as usize, h.pd_special as usize);
        if lower < PAGE_HEADER || lower > upper || upper > at || at != special {
            Some(format!("its header is not ours (lower {lower}, upper {upper}, special {at})"))
        } else {
            let bytes = (page as *const u8).add(special);
            let id = (bytes as *const u16).read_unaligned();
            let kind = (bytes.add(2) as *const u16).read_unaligned();
            let want = if block == META_BLOCK { KIND_META } else { KIND_DATA };
            if id != PAGE_ID {
                Some(format!("its page id is {id:#x}, not {PAGE_ID:#x}"))
            } else if kind != want {
                Some(format!("its page kind is {kind}, not {want}"))
            } else {
                None
            }
        }
    };
    if let Some(problem) = problem {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            format!("index block {block} is not a valid ruvector_pg page: {problem}"),
        );
    }
}

pub(super) unsafe fn set_next(page: pg_sys::Page, next: u32) {
    unsafe { special_next(page).write_unaligned(next) }
}

/// One data page as a reader sees it under a share lock.
pub struct PageView {
    pub(super) page: pg_sys::Page,
}

impl PageView {
    /// The live tuples of the page, in line pointer order.
    pub fn items(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        // SAFETY: the page is share-locked while the view exists.
        let max = unsafe { pg_sys::PageGetMaxOffsetNumber(self.page) };
        (1..=max).filter_map(move |off| unsafe { item(self.page, off).map(|b| (off, &*b)) })
    }

    /// The items in descending offset order: for a page filled by appends
    /// (items are placed from the page's end down), ascending addresses, the
    /// order the CPU's prefetcher follows.
    pub fn items_by_address(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        // SAFETY: the page is share-locked while the view exists.
        let max = unsafe { pg_sys::PageGetMaxOffsetNumber(self.page) };
        (1..=max).rev().filter_map(move |off| unsafe { item(self.page, off).map(|b| (off, &*b)) })
    }

    pub fn next(&self) -> Option<u32> {
        // SAFETY: as above.
        unsafe { next_of(self.page) }
    }
}

/// The item at `offset` of `page` as bytes, or `None` if there is none.
pub(super) unsafe fn item<'p>(page: pg_sys::Page, offset: u16) -> Option<&'p mut [u8]> {
    unsafe {
        if offset == 0 || offset > pg_sys::PageGetMaxOffsetNumber(page) {
            return None;
        }
        let id = pg_sys::PageGetItemId(page, offset);
        if (*id).lp_flags() != pg_sys::LP_NORMAL {
            return None;
        }
        let len = (*id).lp_len() as usize;
        // a line pointer outside the page (a corrupt or foreign page) is no item
        let start = (*id).lp_off() as usize;
        if start < PAGE_HEADER || start + len > BLCKSZ {
            return None;
        }
        let data = pg_sys::PageGetItem(page, id) as *mut u8;
        Some(core::slice::from_raw_parts_mut(data, len))
    }
}

/// PageGetContents: the page body after the MAXALIGN'd header.
pub(super) fn page_contents(page: pg_sys::Page) -> *mut u8 {
    (page as *mut u8).wrapping_add(PAGE_HEADER.div_ceil(MAXALIGN) * MAXALIGN)
}

pub(super) unsafe fn meta_of<'p, M: Pod>(page: pg_sys::Page) -> &'p mut M {
    const { assert!(core::mem::size_of::<M>() <= 1024 && core::mem::align_of::<M>() <= MAXALIGN) };
    // SAFETY: the meta page's contents start MAXALIGN'd after the header and
    // are far larger than M; any bytes are a valid Pod.
    unsafe { &mut *(page_contents(page) as *mut M) }
}

/// PageSetLSN: stamp the page with the LSN of the record that changed it.
///
/// # Safety
/// `page` is a page the caller holds exclusively locked.
pub(super) unsafe fn page_set_lsn(page: pg_sys::Page, lsn: pg_sys::XLogRecPtr) {
    // SAFETY: the caller's lock; pd_lsn is the header's first field.
    unsafe {
        (*(page as *mut pg_sys::PageHeaderData)).pd_lsn =
            pg_sys::PageXLogRecPtr { xlogid: (lsn >> 32) as u32, xrecoff: lsn as u32 };
    }
}

pub(super) unsafe fn add_item(page: pg_sys::Page, bytes: &[u8]) -> u16 {
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
        pgrx::error!("ruvector_pg: failed to add a tuple to an index page");
    }
    off
}
