//! The page store the index algorithms run on: tuples addressed by [`Tid`]
//! on numbered pages, read and changed one tuple (or one page) at a time.
//!
//! Two implementations: the extension's `am::storage::Index` (PostgreSQL's
//! buffer manager, page locks and Generic WAL; the only code that touches
//! them) and [`super::mem::MemStore`] (pages in memory, for tests without a
//! server, under the deterministic scheduler of [`super::sim`]).
//!
//! The contract every implementation keeps, and the algorithms rely on:
//! - Each call is atomic: `read` and `update` see and change one tuple under
//!   its page's lock (share, exclusive), `update_page`/`read_items`/
//!   `free_items` one page. No call holds a page lock when it returns, so no
//!   algorithm holds two page locks and there is no lock order to keep
//!   between pages.
//! - Tuples never change size and never move: a `Tid` names the same tuple
//!   until `free_items` removes it; after that its line pointer may be
//!   reused by a later `append`.
//! - `update` writes (and WAL-logs) only when `f` says it changed something.
//! - The update lock is a heavyweight lock, taken before any page lock and
//!   never while one is held; it is held until its guard is dropped.
//! - Block 0 is the meta page ([`MetaPage`]); tuples live on blocks 1.. .

use crate::hnsw::tuple::{PageGeometry, Tid};

/// Tuples on pages (see the module comment for the contract).
pub trait PageStore {
    /// The update lock's guard: held until dropped.
    type UpdateLock<'a>
    where
        Self: 'a;

    /// Space accounting of a data page.
    fn geometry(&self) -> PageGeometry;
    /// Pages in the store, the meta page included.
    fn nblocks(&self) -> u32;
    /// Call `f` with the tuple at `tid` under a share lock; `None` if there
    /// is no tuple there.
    fn read<R>(&self, tid: Tid, f: impl FnOnce(&[u8]) -> R) -> Option<R>;
    /// Change the tuple at `tid` in place under an exclusive lock. `f`
    /// returns whether it changed anything (only then is the change logged).
    fn update<R>(&self, tid: Tid, f: impl FnOnce(&mut [u8]) -> (bool, R)) -> Option<R>;
    /// Visit every tuple of data page `block` under an exclusive lock; `f`
    /// returns whether it changed the tuple. One log record for the page.
    fn update_page(&self, block: u32, f: impl FnMut(u16, &mut [u8]) -> bool);
    /// Call `f` with the tuples of data page `block` (offset, bytes), in
    /// offset order, under a share lock.
    fn read_items<R>(&self, block: u32, f: impl FnOnce(&mut dyn Iterator<Item = (u16, &[u8])>) -> R) -> R;
    /// Add a tuple on a page with room (freed space first), logged.
    fn append(&self, bytes: &[u8]) -> Tid;
    /// Remove the tuples at `offsets` of page `block`; other tuples keep
    /// their offsets; the freed line pointers may be reused.
    fn free_items(&self, block: u32, offsets: &[u16]);
    /// The index-wide update lock: shared for inserts and searches,
    /// exclusive for VACUUM's waits.
    fn update_lock(&self, exclusive: bool) -> Self::UpdateLock<'_>;
    /// Report a corrupt structure (a chain that loops) and stop: an ERROR in
    /// the extension, a panic in tests.
    fn corrupt(&self, what: &str) -> !;
    /// A point where a long operation may be cancelled.
    fn check_interrupts(&self) {}
}

/// The access method's meta page (block 0).
pub trait MetaPage<M> {
    /// A copy of the meta page, read under a share lock.
    fn meta(&self) -> M;
    /// Change the meta page under an exclusive lock, logged.
    fn update_meta<R>(&self, f: impl FnOnce(&mut M) -> R) -> R;
    /// The number of elements changed by `delta` (the shared registry's
    /// figure in the extension).
    fn elements_added(&self, _delta: i64) {}
}

/// Bounds a walk along a chain of pages or of tuples (ivfflat lists, vector
/// chunks, overflow TID lists): a chain in a valid index visits each page
/// (tuple) once, so more steps than the index has pages (line pointers)
/// mean a corrupt chain that loops, reported through
/// [`PageStore::corrupt`] instead of looping forever. Checks for interrupts
/// every 64 steps. The store's size is asked only once a walk gets long, so
/// short walks on the search path cost nothing extra.
pub struct ChainWalk<'a, S: PageStore> {
    store: &'a S,
    steps: u64,
    limit: Option<u64>,
    per_page: u64,
    what: &'static str,
}

impl<'a, S: PageStore> ChainWalk<'a, S> {
    /// A walk over pages (at most one step per page).
    pub fn pages(store: &'a S, what: &'static str) -> Self {
        ChainWalk { store, steps: 0, limit: None, per_page: 1, what }
    }

    /// A walk over tuples (at most one step per line pointer).
    pub fn tuples(store: &'a S, what: &'static str) -> Self {
        let g = store.geometry();
        ChainWalk { store, steps: 0, limit: None, per_page: (g.empty_free / g.item_id) as u64 + 1, what }
    }

    /// Count one step of the walk.
    pub fn step(&mut self) {
        self.steps += 1;
        if !self.steps.is_multiple_of(64) {
            return;
        }
        self.store.check_interrupts();
        let limit = *self.limit.get_or_insert_with(|| (self.store.nblocks() as u64 + 1) * self.per_page);
        if self.steps > limit {
            self.store.corrupt(&format!("a {} chain loops (more than {limit} steps)", self.what));
        }
    }
}

/// A store by reference is a store.
impl<S: PageStore> PageStore for &S {
    type UpdateLock<'a>
        = S::UpdateLock<'a>
    where
        Self: 'a;

    fn geometry(&self) -> PageGeometry {
        (**self).geometry()
    }
    fn nblocks(&self) -> u32 {
        (**self).nblocks()
    }
    fn read<R>(&self, tid: Tid, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        (**self).read(tid, f)
    }
    fn update<R>(&self, tid: Tid, f: impl FnOnce(&mut [u8]) -> (bool, R)) -> Option<R> {
        (**self).update(tid, f)
    }
    fn update_page(&self, block: u32, f: impl FnMut(u16, &mut [u8]) -> bool) {
        (**self).update_page(block, f)
    }
    fn read_items<R>(&self, block: u32, f: impl FnOnce(&mut dyn Iterator<Item = (u16, &[u8])>) -> R) -> R {
        (**self).read_items(block, f)
    }
    fn append(&self, bytes: &[u8]) -> Tid {
        (**self).append(bytes)
    }
    fn free_items(&self, block: u32, offsets: &[u16]) {
        (**self).free_items(block, offsets)
    }
    fn update_lock(&self, exclusive: bool) -> Self::UpdateLock<'_> {
        (**self).update_lock(exclusive)
    }
    fn corrupt(&self, what: &str) -> ! {
        (**self).corrupt(what)
    }
    fn check_interrupts(&self) {
        (**self).check_interrupts()
    }
}

impl<M, S: MetaPage<M>> MetaPage<M> for &S {
    fn meta(&self) -> M {
        (**self).meta()
    }
    fn update_meta<R>(&self, f: impl FnOnce(&mut M) -> R) -> R {
        (**self).update_meta(f)
    }
    fn elements_added(&self, delta: i64) {
        (**self).elements_added(delta)
    }
}
