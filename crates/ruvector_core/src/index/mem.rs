//! An in-memory [`PageStore`]: the index algorithms' test double for the
//! buffer manager. Pages hold tuples at line-pointer offsets as PostgreSQL's
//! do (offsets from 1; a freed offset is reused by a later append, as
//! `PageAddItem` reuses unused line pointers), with the same space
//! accounting ([`PageGeometry`]), so a freed TID naming a new tuple, and
//! free space found again, happen here as on disk.
//!
//! Every operation is a switch point of the deterministic scheduler
//! ([`super::sim::switch`], taken before any lock), and the update lock
//! parks a task under [`super::sim::wait`] while it cannot be had, so a
//! seeded run interleaves tasks at exactly the points where backends
//! interleave. Each page sits behind its own mutex, so plain threads may use
//! the store too; no operation holds two of them.

use parking_lot::Mutex;

use super::sim;
use super::store::{MetaPage, PageStore};
use crate::hnsw::tuple::{PageGeometry, Tid};

struct MemPage {
    /// Tuples by offset − 1; `None`: an unused line pointer.
    items: Vec<Option<Vec<u8>>>,
}

impl MemPage {
    /// Free bytes as `PageGetFreeSpace` counts them (unused line pointers
    /// keep their slot).
    fn free(&self, g: &PageGeometry) -> usize {
        let used: usize = self.items.iter().map(|i| i.as_ref().map_or(g.item_id, |b| g.item_cost(b.len()))).sum();
        g.empty_free.saturating_sub(used)
    }

    /// Add `bytes` if the page has room, at the first unused offset.
    fn add(&mut self, g: &PageGeometry, bytes: &[u8]) -> Option<u16> {
        let reuse = self.items.iter().position(|i| i.is_none());
        let cost = g.item_cost(bytes.len()) - if reuse.is_some() { g.item_id } else { 0 };
        if cost > self.free(g) {
            return None;
        }
        let slot = match reuse {
            Some(k) => k,
            None => {
                self.items.push(None);
                self.items.len() - 1
            }
        };
        self.items[slot] = Some(bytes.to_vec());
        Some(slot as u16 + 1)
    }
}

/// Readers and writers of the update lock.
#[derive(Default)]
struct UpdateLockState {
    shared: usize,
    exclusive: bool,
}

/// Pages in memory, and a meta page of type `M`.
pub struct MemStore<M> {
    geometry: PageGeometry,
    /// Data pages; block b is `pages[b - 1]` (block 0 is `meta`).
    pages: Mutex<Vec<std::sync::Arc<Mutex<MemPage>>>>,
    meta: Mutex<M>,
    update: Mutex<UpdateLockState>,
}

/// The update lock of a [`MemStore`], released when dropped.
pub struct MemUpdateLock<'a> {
    state: &'a Mutex<UpdateLockState>,
    exclusive: bool,
}

impl Drop for MemUpdateLock<'_> {
    fn drop(&mut self) {
        let mut s = self.state.lock();
        if self.exclusive {
            s.exclusive = false;
        } else {
            s.shared -= 1;
        }
        drop(s);
        sim::wake_all();
    }
}

impl<M: Copy> MemStore<M> {
    pub fn new(geometry: PageGeometry, meta: M) -> Self {
        MemStore {
            geometry,
            pages: Mutex::new(Vec::new()),
            meta: Mutex::new(meta),
            update: Mutex::new(UpdateLockState::default()),
        }
    }

    /// PostgreSQL's 8 kB page geometry (24-byte header, 8-byte special,
    /// 4-byte line pointers, 8-byte alignment).
    pub fn postgres_geometry() -> PageGeometry {
        PageGeometry { empty_free: 8192 - 24 - 8, maxalign: 8, item_id: 4 }
    }

    fn page(&self, block: u32) -> Option<std::sync::Arc<Mutex<MemPage>>> {
        let pages = self.pages.lock();
        block.checked_sub(1).and_then(|b| pages.get(b as usize).cloned())
    }

    /// Every tuple of the store, in block and offset order (for checkers;
    /// not a switch point).
    pub fn snapshot(&self) -> Vec<(Tid, Vec<u8>)> {
        let pages: Vec<_> = self.pages.lock().clone();
        let mut out = Vec::new();
        for (b, page) in pages.iter().enumerate() {
            for (k, item) in page.lock().items.iter().enumerate() {
                if let Some(bytes) = item {
                    out.push((Tid { block: b as u32 + 1, offset: k as u16 + 1 }, bytes.clone()));
                }
            }
        }
        out
    }

    /// The tuple at `tid` (for checkers; not a switch point).
    pub fn peek(&self, tid: Tid) -> Option<Vec<u8>> {
        let page = self.page(tid.block)?;
        let p = page.lock();
        p.items.get((tid.offset as usize).checked_sub(1)?)?.clone()
    }

    /// Write a tuple at `tid`, as a build's bulk writer does (pages in
    /// order: `tid` is on the last page or the next new one, at the next
    /// offset). Panics if that is not where it would go or it does not fit.
    pub fn put_at(&self, tid: Tid, bytes: &[u8]) {
        let mut pages = self.pages.lock();
        if tid.block as usize == pages.len() + 1 {
            pages.push(std::sync::Arc::new(Mutex::new(MemPage { items: Vec::new() })));
        }
        assert_eq!(tid.block as usize, pages.len(), "a bulk write goes to the last page or a new one");
        let mut page = pages[tid.block as usize - 1].lock();
        assert_eq!(tid.offset as usize, page.items.len() + 1, "a bulk write takes the next offset");
        assert!(self.geometry.item_cost(bytes.len()) <= page.free(&self.geometry), "the tuple fits its page");
        page.items.push(Some(bytes.to_vec()));
    }

    /// The meta page (for checkers; not a switch point).
    pub fn peek_meta(&self) -> M {
        *self.meta.lock()
    }
}

impl<M: Copy> PageStore for MemStore<M> {
    type UpdateLock<'a>
        = MemUpdateLock<'a>
    where
        Self: 'a;

    fn geometry(&self) -> PageGeometry {
        self.geometry
    }

    fn nblocks(&self) -> u32 {
        self.pages.lock().len() as u32 + 1
    }

    fn read<R>(&self, tid: Tid, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        sim::switch();
        if !tid.is_valid() {
            return None;
        }
        let page = self.page(tid.block)?;
        let p = page.lock();
        p.items.get(tid.offset as usize - 1)?.as_deref().map(f)
    }

    fn update<R>(&self, tid: Tid, f: impl FnOnce(&mut [u8]) -> (bool, R)) -> Option<R> {
        sim::switch();
        if !tid.is_valid() {
            return None;
        }
        let page = self.page(tid.block)?;
        let mut p = page.lock();
        let item = p.items.get_mut(tid.offset as usize - 1)?.as_mut()?;
        // changes go to a copy that replaces the tuple only if `f` says so
        let mut copy = item.clone();
        let (changed, r) = f(&mut copy);
        if changed {
            *item = copy;
        }
        Some(r)
    }

    fn update_page(&self, block: u32, mut f: impl FnMut(u16, &mut [u8]) -> bool) {
        sim::switch();
        let Some(page) = self.page(block) else { return };
        let mut p = page.lock();
        for (k, item) in p.items.iter_mut().enumerate() {
            if let Some(bytes) = item {
                f(k as u16 + 1, bytes);
            }
        }
    }

    fn read_items<R>(&self, block: u32, f: impl FnOnce(&mut dyn Iterator<Item = (u16, &[u8])>) -> R) -> R {
        sim::switch();
        let Some(page) = self.page(block) else { return f(&mut std::iter::empty()) };
        let p = page.lock();
        let mut items = p.items.iter().enumerate().filter_map(|(k, i)| Some((k as u16 + 1, i.as_deref()?)));
        f(&mut items)
    }

    fn append(&self, bytes: &[u8]) -> Tid {
        sim::switch();
        assert!(self.geometry.item_cost(bytes.len()) <= self.geometry.empty_free, "tuple fits an empty page");
        let mut pages = self.pages.lock();
        // a page with room, as the free space map (and then the last page) offers
        for (b, page) in pages.iter().enumerate() {
            if let Some(offset) = page.lock().add(&self.geometry, bytes) {
                return Tid { block: b as u32 + 1, offset };
            }
        }
        let mut page = MemPage { items: Vec::new() };
        let offset = page.add(&self.geometry, bytes).expect("fits an empty page");
        pages.push(std::sync::Arc::new(Mutex::new(page)));
        Tid { block: pages.len() as u32, offset }
    }

    fn free_items(&self, block: u32, offsets: &[u16]) {
        sim::switch();
        let Some(page) = self.page(block) else { return };
        let mut p = page.lock();
        for &off in offsets {
            if let Some(slot) = (off as usize).checked_sub(1).and_then(|k| p.items.get_mut(k)) {
                *slot = None;
            }
        }
        // the last unused line pointers go, as PageIndexTupleDeleteNoCompact does
        while p.items.last().is_some_and(|i| i.is_none()) {
            p.items.pop();
        }
    }

    fn update_lock(&self, exclusive: bool) -> MemUpdateLock<'_> {
        sim::switch();
        loop {
            let mut s = self.update.lock();
            let free = if exclusive { !s.exclusive && s.shared == 0 } else { !s.exclusive };
            if free {
                if exclusive {
                    s.exclusive = true;
                } else {
                    s.shared += 1;
                }
                return MemUpdateLock { state: &self.update, exclusive };
            }
            drop(s);
            sim::wait();
        }
    }

    fn corrupt(&self, what: &str) -> ! {
        panic!("corrupt index: {what}")
    }
}

impl<M: Copy> MetaPage<M> for MemStore<M> {
    fn meta(&self) -> M {
        sim::switch();
        *self.meta.lock()
    }

    fn update_meta<R>(&self, f: impl FnOnce(&mut M) -> R) -> R {
        sim::switch();
        f(&mut self.meta.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_offsets_are_reused_and_space_is_counted() {
        let g = PageGeometry { empty_free: 200, maxalign: 8, item_id: 4 };
        let s = MemStore::new(g, 0u32);
        let a = s.append(&[1; 60]);
        let b = s.append(&[2; 60]);
        let c = s.append(&[3; 60]);
        assert_eq!((a, b), (Tid { block: 1, offset: 1 }, Tid { block: 1, offset: 2 }));
        // 3 × 68 > 200: the third went to a new page
        assert_eq!(c, Tid { block: 2, offset: 1 });
        s.free_items(1, &[1]);
        assert_eq!(s.read(a, |x| x.to_vec()), None);
        let d = s.append(&[4; 60]);
        assert_eq!(d, a, "the freed line pointer is reused");
        assert_eq!(s.read(d, |x| x[0]), Some(4));
        assert_eq!(s.update(b, |x| (false, x[0] = 9)), Some(()));
        assert_eq!(s.read(b, |x| x[0]), Some(2), "an update that says it changed nothing writes nothing");
        assert_eq!(s.update(b, |x| (true, x[0] = 9)), Some(()));
        assert_eq!(s.read(b, |x| x[0]), Some(9));
        assert_eq!(s.snapshot().len(), 3);
    }

    #[test]
    fn the_update_lock_excludes_writers_from_readers() {
        let s = MemStore::new(MemStore::<u32>::postgres_geometry(), 0u32);
        let order = Mutex::new(Vec::new());
        for seed in 0..20 {
            order.lock().clear();
            sim::run(
                seed,
                10_000,
                vec![
                    Box::new(|| {
                        let _l = s.update_lock(false);
                        order.lock().push("r+");
                        s.meta();
                        order.lock().push("r-");
                    }),
                    Box::new(|| {
                        let _l = s.update_lock(true);
                        order.lock().push("w+");
                        s.meta();
                        order.lock().push("w-");
                    }),
                ],
                || {},
            )
            .unwrap();
            let o = order.lock().clone();
            let w = o.iter().position(|&x| x == "w+").unwrap();
            assert_eq!(o[w + 1], "w-", "seed {seed}: {o:?}");
        }
    }
}
