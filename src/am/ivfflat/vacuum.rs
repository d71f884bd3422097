//! VACUUM: `ambulkdelete` walks every list's page chain and deletes the row
//! tuples whose heap TIDs are dead (one Generic WAL record per page changed,
//! under that page's exclusive lock alone). The list's insert page is moved
//! back to the first page that gained room, so inserts refill freed space
//! before the chain grows. In format 3 the copy pages' chain is walked the
//! same way after the lists, but a dead copy's line pointer is freed without
//! compacting the page (`Index::free_items`), so every other copy keeps the
//! offset its row points at.

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::ivf::tuple::{parse_row, set_list_insert, IvfMeta, IVF_VERSION_COPIES};

use super::lists::Lists;
use crate::am::callbacks;
use crate::am::storage::{item_pointer, ChainWalk, Index};

#[pg_guard]
pub unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut core::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: VACUUM passes a valid info, optional stats, and a callback.
    let (rel, stats) = unsafe {
        let stats = callbacks::stats_or_new(stats);
        ((*info).index, stats)
    };
    let Some(callback) = callback else { return stats };
    let index = Index::new(rel);
    let lists = Lists::read(index);
    let (mut removed, mut remaining) = (0f64, 0f64);
    for entry in &lists.entries {
        let mut block = Some(entry.start);
        let mut first_with_room = None;
        let mut walk = ChainWalk::pages(&index, "list page");
        while let Some(b) = block {
            walk.step();
            let (deleted, live, next) = index.delete_items(b, |bytes| {
                parse_row(bytes).is_some_and(|(tid, _)| {
                    let mut ptr = item_pointer(tid);
                    // SAFETY: the callback only reads the TID.
                    unsafe { callback(&mut ptr, callback_state) }
                })
            });
            removed += deleted as f64;
            remaining += live as f64;
            if deleted > 0 && first_with_room.is_none() {
                first_with_room = Some(b);
            }
            block = next;
            pgrx::check_for_interrupts!();
        }
        if let Some(b) = first_with_room {
            if b != entry.insert {
                index.update(entry.tuple, |bytes| (set_list_insert(bytes, b), ()));
            }
        }
    }
    if lists.meta.version == IVF_VERSION_COPIES {
        // SAFETY: the callback only reads the TID.
        free_dead_copies(index, lists.meta, |tid| unsafe {
            let mut ptr = item_pointer(tid);
            callback(&mut ptr, callback_state)
        });
    }
    index.registry_add::<IvfMeta>(-(removed as i64));
    // SAFETY: stats is valid (passed in or allocated above).
    unsafe { callbacks::record_stats(stats, removed, remaining, index.nblocks()) };
    stats
}

/// Free the copies of dead heap rows on the copy pages' chain (the rows
/// pointing at them are gone from the lists already), and move the meta
/// page's copy insert page back to the first page that gained room.
fn free_dead_copies(index: Index, meta: IvfMeta, mut dead: impl FnMut(ruvector_core::index::Tid) -> bool) {
    let mut block = (meta.copy_start != 0).then_some(meta.copy_start);
    let mut first_with_room = None;
    let mut walk = ChainWalk::pages(&index, "copy page");
    while let Some(b) = block {
        walk.step();
        let (doomed, next) = index.read_page(b, |page| {
            let doomed: Vec<u16> = page
                .items()
                .filter(|(_, bytes)| parse_row(bytes).is_some_and(|(tid, _)| dead(tid)))
                .map(|(o, _)| o)
                .collect();
            (doomed, page.next())
        });
        if !doomed.is_empty() {
            index.free_items(b, &doomed);
            first_with_room.get_or_insert(b);
        }
        block = next;
        pgrx::check_for_interrupts!();
    }
    if let Some(b) = first_with_room.filter(|&b| b != meta.copy_insert) {
        index.update_meta(|m: &mut IvfMeta| m.copy_insert = b);
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amvacuumcleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: amvacuumcleanup's arguments.
    unsafe {
        callbacks::vacuum_cleanup(info, stats, |index| {
            let lists = Lists::read(index);
            lists.entries.iter().map(|e| super::lists::chain_tuples(index, e.start, "list page") as f64).sum()
        })
    }
}
