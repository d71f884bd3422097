//! Pages, buffers and WAL of the `hnsw` and `ivfflat` indexes: the only
//! module of the access methods that touches the buffer manager or writes WAL.
//!
//! - `page`: the page format (meta page, data pages, special space).
//! - `recent`: where this backend last found each block (buffer hints).
//! - this module: `Index`, the index operations (read, update, append, free,
//!   the update lock), each one page lock at a time.
//! - `bulk`: writing a freshly built index.
//!
//! Locking protocol (see also docs/hnsw.md and docs/ivfflat.md):
//! - A reader pins and share-locks one page at a time, copies or computes
//!   what it needs from one tuple, then unlocks before touching another page.
//!   No code path holds two page locks at once, so there are no lock-order
//!   deadlocks between readers, inserters and VACUUM.
//! - A writer exclusive-locks one page, changes it inside a Generic WAL
//!   record (GenericXLogStart/RegisterBuffer/Finish), notes the page's
//!   change position (`note_changed`: the record's end, with the library
//!   preloaded) and unlocks. Tuples are
//!   changed in place and never change size, so line pointers stay stable.
//!   The one-tuple change (`Index::update`, every neighbour-list change of an
//!   hnsw insert) writes its Generic WAL record itself (`write_tuple`): the
//!   caller's closure changes a copy of the tuple, then, in a critical
//!   section under the same lock, the copy goes in place, the buffer is
//!   marked dirty, a record of the changed bytes (`ruvector_core::index::
//!   wal_delta`, the fragment format `generic_redo` replays) is inserted and
//!   the page stamped with its LSN, so replay makes the same page
//!   (tests/recovery/replica.sh runs with wal_consistency_checking = generic).
//! - The meta page is share-locked to read the entry point and
//!   exclusive-locked (alone) to change it. With the library preloaded, its
//!   copy in the index registry (`ruvector_core::registry`, src/shared.rs)
//!   is made or corrected while the page is share-locked for a read, and
//!   changed while it is exclusive-locked for a change, so the copy is never
//!   older than the page it was taken from; the registry's own sequence
//!   locks are taken inside the page lock, never the other way round. Not
//!   during recovery (replay changes meta pages without us) and not for
//!   temporary indexes (their relfilenodes are per backend).
//! - Extending the relation takes the relation extension lock.
//! - hnsw's update lock (`Index::update_lock`, a heavyweight lock, taken
//!   before any buffer lock and never while one is held): inserts and
//!   searches hold it shared; VACUUM takes it exclusively only for a
//!   moment, to wait for those that began before a point (flags set, lists
//!   repaired), and frees deleted elements without it (hnsw/vacuum.rs).
//! - The one place two page locks are held: extending a page chain
//!   (`append_to_chain`) holds the chain's full last page while it locks the
//!   brand-new page, which no other backend can reach until the link is set,
//!   so no other lock order exists for that pair.
//! - A build writes pages without WAL and logs them all at the end with
//!   `log_newpage_range` (permanent relations); `ambuildempty` writes the
//!   init fork's meta page and logs it with `log_newpage`.
//!
//! Every page is checked as it is locked (`page::verify`): header pointers
//! in order, the special space where `page_init` put it, our page id, the
//! kind its block must have. Nothing on a page that fails is read.
//!
//! On ERROR while a page lock is held, PostgreSQL's abort releases the lock
//! and pin, and an unfinished Generic WAL record is discarded with its
//! memory context, so a half-made change never reaches the page.

mod bulk;
mod page;
mod recent;

pub use recent::PagePrefetch;

use bytemuck::Pod;
use pgrx::pg_sys;
use ruvector_core::index::Tid;
use ruvector_core::index::{MetaPage, PageGeometry, PageStore};
use ruvector_core::registry::{RegisteredMeta, Registry, RegistryKey};

pub use bulk::{write_init_fork, write_init_fork_pages, BulkWriter};
use page::*;
pub use page::{PageView, GEOMETRY, META_BLOCK};

/// Bounds a walk along a chain (see the core's `ChainWalk`).
pub type ChainWalk<'a> = ruvector_core::index::ChainWalk<'a, Index>;

/// An open index relation (owned by the caller; this only borrows it).
#[derive(Clone, Copy)]
pub struct Index {
    pub(super) rel: pg_sys::Relation,
}

/// Page number of the update lock's heavyweight lock (not a real block).
const UPDATE_LOCK_PAGE: u32 = 0xFFFF_FFF0;

/// The update lock, held until dropped.
pub struct UpdateLock {
    rel: pg_sys::Relation,
    mode: pg_sys::LOCKMODE,
}

impl Drop for UpdateLock {
    fn drop(&mut self) {
        // SAFETY: taken by Index::update_lock with this mode.
        unsafe { pg_sys::UnlockPage(self.rel, UPDATE_LOCK_PAGE, self.mode) };
    }
}

/// A pinned and locked buffer, released when dropped.
pub(super) struct Locked {
    pub(super) buf: pg_sys::Buffer,
}

impl Locked {
    /// Pin `block` of `fork` (`InvalidBlockNumber`: a new block at its end)
    /// and lock it exclusively.
    ///
    /// # Safety
    /// `rel` is open; a new block is added only by a build or under the
    /// relation extension lock, and an existing one is below the fork's size.
    pub(super) unsafe fn exclusive(rel: pg_sys::Relation, fork: pg_sys::ForkNumber::Type, block: u32) -> Locked {
        // SAFETY: the caller's promises; the guard unlocks and unpins it.
        unsafe {
            let buf =
                pg_sys::ReadBufferExtended(rel, fork, block, pg_sys::ReadBufferMode::RBM_NORMAL, core::ptr::null_mut());
            pg_sys::LockBuffer(buf, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
            Locked { buf }
        }
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: `buf` is pinned and locked by this guard.
        unsafe { pg_sys::UnlockReleaseBuffer(self.buf) };
    }
}

impl Index {
    pub fn new(rel: pg_sys::Relation) -> Self {
        Index { rel }
    }

    pub fn relation(&self) -> pg_sys::Relation {
        self.rel
    }

    /// The index's name, for messages.
    pub fn name(&self) -> String {
        // SAFETY: the relation is open; rd_rel->relname is a NUL-terminated NameData.
        unsafe { core::ffi::CStr::from_ptr((*(*self.rel).rd_rel).relname.data.as_ptr()).to_string_lossy().into_owned() }
    }

    pub fn nblocks(&self) -> u32 {
        // SAFETY: the relation is open.
        unsafe { pg_sys::RelationGetNumberOfBlocksInFork(self.rel, pg_sys::ForkNumber::MAIN_FORKNUM) }
    }

    fn lock(&self, block: u32, mode: u32) -> Locked {
        // SAFETY: callers only ask for blocks below nblocks(); ReadBuffer raises ERROR otherwise.
        unsafe {
            let buf = match recent::pin(self.rel, block) {
                Some(buf) => buf,
                None => {
                    let buf = self.read_buffer(block);
                    recent::remember(self.rel, block, buf);
                    buf
                }
            };
            pg_sys::LockBuffer(buf, mode as i32);
            let l = Locked { buf };
            // (an ERROR here unlocks and unpins through the guard)
            verify(pg_sys::BufferGetPage(l.buf), block);
            l
        }
    }

    /// Where the WAL stands — the insert position, or on a standby the
    /// replay position, with which of the two it is — when every change to
    /// this index is WAL-logged; None when some are not (unlogged and
    /// temporary indexes, and under wal_level = minimal one created in this
    /// transaction). A change to one of the index's pages happens under the
    /// page's exclusive lock and its WAL record is inserted (or replayed)
    /// before the lock is released, so while the mark stays the same, no page
    /// has changed since a reader last saw it: what a backend copied from the
    /// pages is still current (see hnsw/cache.rs).
    pub fn wal_mark(&self) -> Option<(bool, u64)> {
        if !self.needs_wal() {
            return None;
        }
        // SAFETY: the WAL functions read shared state under their own spinlocks.
        unsafe {
            Some(if pg_sys::RecoveryInProgress() {
                (true, pg_sys::GetXLogReplayRecPtr(core::ptr::null_mut()))
            } else {
                (false, pg_sys::GetXLogInsertRecPtr())
            })
        }
    }

    /// A hint that `read(tid)` follows soon (see `recent::prefetch`).
    pub fn prefetch(&self, tid: Tid) {
        if tid.is_valid() {
            // SAFETY: the relation is open.
            unsafe { recent::prefetch(self.rel, tid.block, tid.offset) }
        }
    }

    /// The index's OID.
    pub fn oid(&self) -> u32 {
        // SAFETY: the relation is open; rd_id is its OID.
        unsafe { (*self.rel).rd_id }.to_u32()
    }

    /// Hints for page `block` (none for `None`), given as fast as another
    /// page is read (see `recent::page_prefetch`).
    pub fn page_prefetch(&self, block: Option<u32>) -> PagePrefetch {
        // SAFETY: the relation is open.
        unsafe { recent::page_prefetch(self.rel, block) }
    }

    /// A second hint, some time after `prefetch(tid)`: the tuple's first
    /// `bytes` (see `recent::prefetch_tuple`).
    pub fn prefetch_tuple(&self, tid: Tid, bytes: usize) {
        if tid.is_valid() {
            // SAFETY: the relation is open.
            unsafe { recent::prefetch_tuple(self.rel, tid.block, tid.offset, bytes) }
        }
    }

    /// Read the meta page (and correct its registry entry, if any is kept).
    pub fn meta<M: RegisteredMeta>(&self) -> M {
        let l = self.lock(META_BLOCK, pg_sys::BUFFER_LOCK_SHARE);
        // SAFETY: block 0 is the meta page, locked.
        let m: M = unsafe { *meta_of(pg_sys::BufferGetPage(l.buf)) };
        if let Some((registry, key)) = self.registry_key::<M>() {
            registry.sync(&key, bytemuck::bytes_of(&m));
        }
        m
    }

    /// The meta page and, read while it is locked, its registry entry (for
    /// checks that the two agree).
    pub fn meta_and_entry<M: RegisteredMeta, E: Pod>(&self) -> (M, Option<E>) {
        let l = self.lock(META_BLOCK, pg_sys::BUFFER_LOCK_SHARE);
        // SAFETY: block 0 is the meta page, locked.
        let m: M = unsafe { *meta_of(pg_sys::BufferGetPage(l.buf)) };
        let entry = self.registry_key::<M>().and_then(|(r, key)| r.read::<E>(&key));
        drop(l);
        (m, entry)
    }

    /// The index's registry entry, if the registry exists and this index's
    /// entries may be used (not a temporary index, not during recovery).
    pub fn registry_entry<M: RegisteredMeta, E: Pod>(&self) -> Option<E> {
        let (registry, key) = self.registry_key::<M>()?;
        registry.read::<E>(&key)
    }

    /// Set the count of the index's registry entry after a build (the meta
    /// page share-locked meanwhile, so the entry holds the page as written).
    pub fn register_build<M: RegisteredMeta>(&self, count: u64) {
        let Some((registry, key)) = self.registry_key::<M>() else { return };
        let l = self.lock(META_BLOCK, pg_sys::BUFFER_LOCK_SHARE);
        // SAFETY: block 0 is the meta page, locked.
        let m: M = unsafe { *meta_of(pg_sys::BufferGetPage(l.buf)) };
        registry.publish(&key, bytemuck::bytes_of(&m), 0, Some(count));
    }

    /// Add `delta` to the count of the index's registry entry (elements or rows).
    pub fn registry_add<M: RegisteredMeta>(&self, delta: i64) {
        if let Some((registry, key)) = self.registry_key::<M>() {
            registry.add(&key, delta);
        }
    }

    /// Set the memory figure of the index's registry entry (its shared vector
    /// cache segment's bytes).
    pub fn registry_set_memory<M: RegisteredMeta>(&self, bytes: u64) {
        if let Some((registry, key)) = self.registry_key::<M>() {
            registry.set_memory(&key, bytes);
        }
    }

    fn registry_key<M: RegisteredMeta>(&self) -> Option<(Registry<'static>, RegistryKey)> {
        let registry = crate::shared::registry()?;
        // SAFETY: the relation is open; reading its relcache fields and the
        // recovery state (shared memory under its own spinlock).
        unsafe {
            let rel = &*self.rel;
            if (*rel.rd_rel).relpersistence == pg_sys::RELPERSISTENCE_TEMP as core::ffi::c_char
                || pg_sys::RecoveryInProgress()
            {
                return None;
            }
            #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
            let (spc, db, node) = (rel.rd_node.spcNode, rel.rd_node.dbNode, rel.rd_node.relNode);
            #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
            let (spc, db, node) = (rel.rd_locator.spcOid, rel.rd_locator.dbOid, rel.rd_locator.relNumber);
            let key = RegistryKey {
                tablespace: spc.to_u32(),
                database: db.to_u32(),
                relfilenode: node.to_u32(),
                kind: M::KIND,
            };
            Some((registry, key))
        }
    }

    /// Change the meta page under an exclusive lock, WAL-logged (and its
    /// registry entry, before the lock is let go of).
    pub fn update_meta<M: RegisteredMeta, R>(&self, f: impl FnOnce(&mut M) -> R) -> R {
        let l = self.lock(META_BLOCK, pg_sys::BUFFER_LOCK_EXCLUSIVE);
        // SAFETY: the buffer is exclusively locked; the Generic WAL copy is
        // what we change, and Finish applies and logs it.
        let (r, m) = unsafe {
            let state = pg_sys::GenericXLogStart(self.rel);
            let page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, 0);
            let r = f(meta_of(page));
            self.finish(state, &[&l]);
            (r, *meta_of::<M>(pg_sys::BufferGetPage(l.buf)))
        };
        if let Some((registry, key)) = self.registry_key::<M>() {
            registry.sync(&key, bytemuck::bytes_of(&m));
        }
        drop(l);
        r
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
    ///
    /// `f` changes a copy of the tuple; `write_tuple` then puts the copy in
    /// place and logs only the bytes that differ, as a Generic WAL record
    /// (`ruvector_core::index::wal_delta`), instead of GenericXLogFinish's
    /// comparison of the whole page.
    pub fn update<R>(&self, tid: Tid, f: impl FnOnce(&mut [u8]) -> (bool, R)) -> Option<R> {
        if !tid.is_valid() || tid.block == META_BLOCK {
            return None;
        }
        let l = self.lock(tid.block, pg_sys::BUFFER_LOCK_EXCLUSIVE);
        // SAFETY: exclusive lock, held until `l` drops; `bytes` is the tuple
        // on that page; an ERROR or panic in `f` leaves the page untouched.
        unsafe {
            let page = pg_sys::BufferGetPage(l.buf);
            let bytes = item(page, tid.offset)?;
            let mut copy = bytes.to_vec();
            let (changed, r) = f(&mut copy);
            if changed {
                self.write_tuple(&l, page, bytes, &copy);
            }
            Some(r)
        }
    }

    /// Put `new` in place of the tuple `old` on the exclusively locked page
    /// `page` of `l`, and log the change as a Generic WAL record holding
    /// only the bytes that differ (replayed by PostgreSQL's `generic_redo`,
    /// which copies the fragments onto the page). The page's header and the
    /// hole between pd_lower and pd_upper are untouched, so the page is the
    /// one replay produces. As GenericXLogFinish does: the record is
    /// assembled outside the critical section; inside it the page is
    /// changed, marked dirty, logged and stamped with the record's LSN.
    ///
    /// # Safety
    /// `l` holds `page` exclusively locked and `old` is a tuple on it.
    unsafe fn write_tuple(&self, l: &Locked, page: pg_sys::Page, old: &mut [u8], new: &[u8]) {
        let at = old.as_ptr() as usize - page as usize;
        let logged = self.needs_wal();
        let mut delta = Vec::new();
        if logged {
            ruvector_core::index::wal_delta::tuple_delta(at, old, new, &mut delta);
            if delta.is_empty() {
                return;
            }
        }
        // SAFETY: the caller's lock; XLogBeginInsert before the critical
        // section (it may raise an ERROR), nothing allocated inside it.
        unsafe {
            if logged {
                pg_sys::XLogBeginInsert();
            }
            pg_sys::CritSectionCount += 1;
            old.copy_from_slice(new);
            pg_sys::MarkBufferDirty(l.buf);
            if logged {
                pg_sys::XLogRegisterBuffer(0, l.buf, pg_sys::REGBUF_STANDARD as u8);
                pg_sys::XLogRegisterBufData(0, delta.as_ptr() as *mut core::ffi::c_char, delta.len() as _);
                let lsn = pg_sys::XLogInsert(pg_sys::RmgrIds::RM_GENERIC_ID as u8, 0);
                page_set_lsn(page, lsn);
                self.note_changed(pg_sys::BufferGetBlockNumber(l.buf), lsn);
            }
            pg_sys::CritSectionCount -= 1;
        }
    }

    /// GenericXLogFinish for a record of the pages `locked` hold, then
    /// [`Self::note_changed`] for each, before their locks are released.
    ///
    /// # Safety
    /// `state` was started on this relation with exactly these buffers
    /// registered, each exclusively locked by its guard.
    unsafe fn finish(&self, state: *mut pg_sys::GenericXLogState, locked: &[&Locked]) {
        // SAFETY: the caller's promise.
        unsafe {
            let lsn = pg_sys::GenericXLogFinish(state);
            for l in locked {
                self.note_changed(pg_sys::BufferGetBlockNumber(l.buf), lsn);
            }
        }
    }

    /// Page `block` changed in a WAL record ending at `lsn`, its exclusive
    /// lock still held: raise its change position (`crate::shared::
    /// block_stamps`, with the library preloaded), so that level-0 lists
    /// cached from it before are trusted no more (hnsw/cache.rs). No
    /// record (0): the index is not WAL-logged, and its lists are never
    /// trusted. Atomics only; nothing here can fail, so it is called inside
    /// critical sections too.
    fn note_changed(&self, block: u32, lsn: pg_sys::XLogRecPtr) {
        if lsn == 0 {
            return;
        }
        if let Some(stamps) = crate::shared::block_stamps() {
            stamps.changed(self.oid(), block, lsn);
        }
    }

    /// RelationNeedsWAL: changes to this index are WAL-logged (permanent,
    /// and not created in this transaction under wal_level = minimal).
    fn needs_wal(&self) -> bool {
        // SAFETY: the relation is open; reading its relcache fields and a GUC.
        unsafe {
            let rel = &*self.rel;
            let permanent = (*rel.rd_rel).relpersistence == pg_sys::RELPERSISTENCE_PERMANENT as core::ffi::c_char;
            let wal_needed = pg_sys::wal_level >= pg_sys::WalLevel::WAL_LEVEL_REPLICA as core::ffi::c_int;
            #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
            let first_file_sub = rel.rd_firstRelfilenodeSubid;
            #[cfg(any(feature = "pg16", feature = "pg17"))]
            let first_file_sub = rel.rd_firstRelfilelocatorSubid;
            // InvalidSubTransactionId
            let new_here = rel.rd_createSubid != 0 || first_file_sub != 0;
            permanent && (wal_needed || !new_here)
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
                self.finish(state, &[&l]);
            } else {
                pg_sys::GenericXLogAbort(state);
            }
        }
    }

    /// Append a tuple to a page with room, WAL-logged: one the free space map
    /// offers (space VACUUM freed), else the last page, else a new page.
    pub fn append(&self, bytes: &[u8]) -> Tid {
        assert!(GEOMETRY.item_cost(bytes.len()) <= GEOMETRY.empty_free, "tuple fits an empty page");
        let needed = GEOMETRY.item_cost(bytes.len());
        // SAFETY: FSM lookups take their own locks; the page is then locked and its real space checked.
        unsafe {
            for _ in 0..4 {
                let block = pg_sys::GetPageWithFreeSpace(self.rel, needed);
                if block == pg_sys::InvalidBlockNumber || block == META_BLOCK || block >= self.nblocks() {
                    break;
                }
                let l = self.lock(block, pg_sys::BUFFER_LOCK_EXCLUSIVE);
                let added = self.add_if_room(&l, bytes);
                let left = pg_sys::PageGetFreeSpace(pg_sys::BufferGetPage(l.buf));
                pg_sys::RecordPageWithFreeSpace(self.rel, block, left);
                if let Some(off) = added {
                    return Tid { block, offset: off };
                }
            }
        }
        let last = self.nblocks() - 1;
        if last > META_BLOCK {
            let l = self.lock(last, pg_sys::BUFFER_LOCK_EXCLUSIVE);
            // SAFETY: exclusive lock; PageAddItem into the Generic WAL copy.
            unsafe {
                if let Some(off) = self.add_if_room(&l, bytes) {
                    return Tid { block: last, offset: off };
                }
            }
        }
        let l = self.extend();
        // SAFETY: a new page only this backend can reach, filled in one Generic
        // WAL record (GENERIC_XLOG_FULL_IMAGE: it is all new).
        unsafe {
            let state = pg_sys::GenericXLogStart(self.rel);
            let page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, pg_sys::GENERIC_XLOG_FULL_IMAGE as i32);
            page_init(page, KIND_DATA);
            let off = add_item(page, bytes);
            self.finish(state, &[&l]);
            Tid { block: pg_sys::BufferGetBlockNumber(l.buf), offset: off }
        }
    }

    /// Add `bytes` to the locked page if it has room, in one Generic WAL record.
    unsafe fn add_if_room(&self, l: &Locked, bytes: &[u8]) -> Option<u16> {
        unsafe {
            if pg_sys::PageGetFreeSpace(pg_sys::BufferGetPage(l.buf)) < bytes.len().div_ceil(MAXALIGN) * MAXALIGN {
                return None;
            }
            let state = pg_sys::GenericXLogStart(self.rel);
            let page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, 0);
            let off = add_item(page, bytes);
            self.finish(state, &[l]);
            Some(off)
        }
    }

    /// A new block at the end of the relation, exclusively locked.
    fn extend(&self) -> Locked {
        // SAFETY: ReadBuffer(P_NEW) under the extension lock, as PostgreSQL's own AMs do.
        unsafe {
            pg_sys::LockRelationForExtension(self.rel, pg_sys::ExclusiveLock as i32);
            let l = Locked::exclusive(self.rel, pg_sys::ForkNumber::MAIN_FORKNUM, pg_sys::InvalidBlockNumber);
            pg_sys::UnlockRelationForExtension(self.rel, pg_sys::ExclusiveLock as i32);
            l
        }
    }

    /// Pin block `block` of the main fork (ReadBufferExtended raises ERROR
    /// for a block past the end).
    ///
    /// # Safety
    /// The caller releases the pin.
    unsafe fn read_buffer(&self, block: u32) -> pg_sys::Buffer {
        // SAFETY: the relation is open; see above for the pin.
        unsafe {
            pg_sys::ReadBufferExtended(
                self.rel,
                pg_sys::ForkNumber::MAIN_FORKNUM,
                block,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                core::ptr::null_mut(),
            )
        }
    }

    /// Read every block of the index into shared buffers (pinned and released
    /// at once, no lock kept); the number of blocks read.
    pub fn prewarm(&self) -> u32 {
        let n = self.nblocks();
        for block in 0..n {
            // SAFETY: block < nblocks; the pin is released before the next read.
            unsafe { pg_sys::ReleaseBuffer(self.read_buffer(block)) };
            if block % 256 == 0 {
                pgrx::check_for_interrupts!();
            }
        }
        n
    }

    /// Call `f` with data page `block` under a share lock.
    pub fn read_page<R>(&self, block: u32, f: impl FnOnce(&PageView) -> R) -> R {
        let l = self.lock(block, pg_sys::BUFFER_LOCK_SHARE);
        // SAFETY: the view does not outlive the lock.
        f(&PageView { page: unsafe { pg_sys::BufferGetPage(l.buf) } })
    }

    /// Append a tuple to a page chain, starting at `block` (a page of the
    /// chain with room, or any page before the last) and following `next`
    /// links until a page has room; a full last page gets a new page linked
    /// after it. Returns where the tuple went.
    pub fn append_to_chain(&self, mut block: u32, bytes: &[u8]) -> Tid {
        assert!(GEOMETRY.item_cost(bytes.len()) <= GEOMETRY.empty_free, "tuple fits an empty page");
        let mut walk = ChainWalk::pages(self, "list page");
        loop {
            walk.step();
            let l = self.lock(block, pg_sys::BUFFER_LOCK_EXCLUSIVE);
            // SAFETY: exclusive lock on a chain page; changes through Generic WAL.
            unsafe {
                if let Some(off) = self.add_if_room(&l, bytes) {
                    return Tid { block, offset: off };
                }
                if let Some(next) = next_of(pg_sys::BufferGetPage(l.buf)) {
                    block = next;
                    continue;
                }
                // The last page is full: link a new one. Both pages change in
                // one WAL record, so a crash leaves the chain whole either way.
                let new = self.extend();
                let new_block = pg_sys::BufferGetBlockNumber(new.buf);
                let state = pg_sys::GenericXLogStart(self.rel);
                let old_page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, 0);
                let new_page =
                    pg_sys::GenericXLogRegisterBuffer(state, new.buf, pg_sys::GENERIC_XLOG_FULL_IMAGE as i32);
                page_init(new_page, KIND_DATA);
                let off = add_item(new_page, bytes);
                set_next(old_page, new_block);
                self.finish(state, &[&l, &new]);
                return Tid { block: new_block, offset: off };
            }
        }
    }

    /// Remove the tuples at `offsets` of data page `block` (one Generic WAL
    /// record), keeping every other tuple's offset: the line pointers become
    /// unused and may be reused by later tuples. The page's free space goes
    /// to the free space map.
    pub fn free_items(&self, block: u32, offsets: &[u16]) {
        let l = self.lock(block, pg_sys::BUFFER_LOCK_EXCLUSIVE);
        // SAFETY: exclusive lock; deletions on the Generic WAL copy.
        unsafe {
            let state = pg_sys::GenericXLogStart(self.rel);
            let page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, 0);
            let mut sorted = offsets.to_vec();
            // highest first: deleting the last line pointer shrinks the array
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            sorted.dedup();
            let mut any = false;
            for off in sorted {
                if item(page, off).is_some() {
                    pg_sys::PageIndexTupleDeleteNoCompact(page, off);
                    any = true;
                }
            }
            if any {
                (*(page as *mut pg_sys::PageHeaderData)).pd_flags |= pg_sys::PD_HAS_FREE_LINES as u16;
                self.finish(state, &[&l]);
            } else {
                pg_sys::GenericXLogAbort(state);
            }
            let free = pg_sys::PageGetFreeSpace(pg_sys::BufferGetPage(l.buf));
            pg_sys::RecordPageWithFreeSpace(self.rel, block, free);
        }
    }

    /// Bring the free space map's upper levels up to date after VACUUM.
    pub fn vacuum_free_space_map(&self) {
        // SAFETY: the relation is open.
        unsafe { pg_sys::IndexFreeSpaceMapVacuum(self.rel) }
    }

    /// The index-wide update lock (a heavyweight lock on a page number no
    /// buffer uses): inserts and searches hold it shared; VACUUM takes it
    /// exclusively to wait until no insert or search that may still hold an
    /// element it is about to remove is running. Released when dropped.
    pub fn update_lock(&self, exclusive: bool) -> UpdateLock {
        let mode = if exclusive { pg_sys::ExclusiveLock } else { pg_sys::ShareLock } as pg_sys::LOCKMODE;
        // SAFETY: a heavyweight lock, released by the guard or at transaction end.
        unsafe { pg_sys::LockPage(self.rel, UPDATE_LOCK_PAGE, mode) };
        UpdateLock { rel: self.rel, mode }
    }

    /// Delete the tuples of data page `block` for which `dead(bytes)` holds,
    /// in one Generic WAL record. Returns (tuples deleted, tuples left, next
    /// block of the chain).
    pub fn delete_items(&self, block: u32, mut dead: impl FnMut(&[u8]) -> bool) -> (usize, usize, Option<u32>) {
        let l = self.lock(block, pg_sys::BUFFER_LOCK_EXCLUSIVE);
        // SAFETY: exclusive lock; PageIndexMultiDelete on the Generic WAL copy.
        unsafe {
            let page = pg_sys::BufferGetPage(l.buf);
            let max = pg_sys::PageGetMaxOffsetNumber(page);
            let mut doomed: Vec<u16> = Vec::new();
            let mut live = 0;
            for off in 1..=max {
                if let Some(bytes) = item(page, off) {
                    if dead(bytes) {
                        doomed.push(off);
                    } else {
                        live += 1;
                    }
                }
            }
            let next = next_of(page);
            if !doomed.is_empty() {
                let state = pg_sys::GenericXLogStart(self.rel);
                let page = pg_sys::GenericXLogRegisterBuffer(state, l.buf, 0);
                pg_sys::PageIndexMultiDelete(page, doomed.as_mut_ptr(), doomed.len() as i32);
                self.finish(state, &[&l]);
            }
            (doomed.len(), live, next)
        }
    }
}

/// The core's page store on PostgreSQL's buffer manager: each method is the
/// `Index` operation of the same name above (one page lock at a time, Generic
/// WAL), so the core's algorithms (hnsw insert, VACUUM, scans) run on the
/// pages exactly as the code here would.
impl PageStore for Index {
    type UpdateLock<'a> = UpdateLock;

    fn geometry(&self) -> PageGeometry {
        GEOMETRY
    }
    fn nblocks(&self) -> u32 {
        Index::nblocks(self)
    }
    fn read<R>(&self, tid: Tid, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        Index::read(self, tid, f)
    }
    fn update<R>(&self, tid: Tid, f: impl FnOnce(&mut [u8]) -> (bool, R)) -> Option<R> {
        Index::update(self, tid, f)
    }
    fn update_page(&self, block: u32, f: impl FnMut(u16, &mut [u8]) -> bool) {
        Index::update_page(self, block, f)
    }
    fn read_items<R>(&self, block: u32, f: impl FnOnce(&mut dyn Iterator<Item = (u16, &[u8])>) -> R) -> R {
        self.read_page(block, |page| f(&mut page.items()))
    }
    fn append(&self, bytes: &[u8]) -> Tid {
        Index::append(self, bytes)
    }
    fn free_items(&self, block: u32, offsets: &[u16]) {
        Index::free_items(self, block, offsets)
    }
    fn update_lock(&self, exclusive: bool) -> UpdateLock {
        Index::update_lock(self, exclusive)
    }
    fn corrupt(&self, what: &str) -> ! {
        crate::error::raise_code(
            pgrx::PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            format!("index \"{}\": {what}", self.name()),
        )
    }
    fn check_interrupts(&self) {
        pgrx::check_for_interrupts!();
    }
}

impl<M: RegisteredMeta> MetaPage<M> for Index {
    fn meta(&self) -> M {
        Index::meta(self)
    }
    fn update_meta<R>(&self, f: impl FnOnce(&mut M) -> R) -> R {
        Index::update_meta(self, f)
    }
    fn elements_added(&self, delta: i64) {
        self.registry_add::<M>(delta)
    }
}

/// A heap TID as PostgreSQL's ItemPointerData.
pub fn item_pointer(t: Tid) -> pg_sys::ItemPointerData {
    pg_sys::ItemPointerData {
        ip_blkid: pg_sys::BlockIdData { bi_hi: (t.block >> 16) as u16, bi_lo: t.block as u16 },
        ip_posid: t.offset,
    }
}

/// An ItemPointerData as a Tid.
pub fn tid_of(p: &pg_sys::ItemPointerData) -> Tid {
    Tid { block: (p.ip_blkid.bi_hi as u32) << 16 | p.ip_blkid.bi_lo as u32, offset: p.ip_posid }
}

/// A heap TID as one ordered number (block, then offset).
pub fn tid_key(t: Tid) -> u64 {
    (t.block as u64) << 16 | t.offset as u64
}

pub fn tid_from_key(k: u64) -> Tid {
    Tid { block: (k >> 16) as u32, offset: k as u16 }
}

/// Pages of the main fork of relation file `node` that are in shared buffers
/// now: a pass over the buffer descriptors reading each one's state and tag
/// without its header lock (a figure for a report: a buffer being replaced
/// meanwhile counts as either its old or its new page, as a pg_buffercache
/// snapshot taken a moment earlier or later would).
pub fn resident_pages(node: pg_sys::RelFileNode) -> u64 {
    let mut pages = 0;
    // SAFETY: BufferDescriptors holds NBuffers descriptors for the life of
    // the server; fields are only read (volatile: other backends write them).
    unsafe {
        for i in 0..pg_sys::NBuffers.max(0) as usize {
            let d = core::ptr::addr_of!((*pg_sys::BufferDescriptors.add(i)).bufferdesc);
            let state = core::ptr::read_volatile(core::ptr::addr_of!((*d).state.value));
            let valid = pg_sys::BM_VALID | pg_sys::BM_TAG_VALID;
            if state & valid != valid {
                continue;
            }
            let tag = core::ptr::read_volatile(core::ptr::addr_of!((*d).tag));
            if tag.forkNum == pg_sys::ForkNumber::MAIN_FORKNUM
                && tag.rnode.relNode == node.relNode
                && tag.rnode.dbNode == node.dbNode
                && tag.rnode.spcNode == node.spcNode
            {
                pages += 1;
            }
        }
    }
    pages
}
