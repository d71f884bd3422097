//! VACUUM: `ambulkdelete` removes dead heap TIDs from elements and their
//! overflow lists; an element left with no heap TID is marked deleted. A
//! deleted element stays in the graph as a waypoint (its links keep the
//! graph connected) but is never returned by a scan. Every page change is
//! one Generic WAL record, made under that page's exclusive lock alone.
//!
//! Not done yet: repairing the links around deleted elements and reusing
//! their space (the open part of issue #4).

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::hnsw::tuple::{parse_tidlist, set_tidlist, ElementMut, ElementRef, Tid, KIND_TIDLIST};

use crate::am::storage::Index;

fn heap_tid(t: Tid) -> pg_sys::ItemPointerData {
    pg_sys::ItemPointerData {
        ip_blkid: pg_sys::BlockIdData { bi_hi: (t.block >> 16) as u16, bi_lo: t.block as u16 },
        ip_posid: t.offset,
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut core::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: VACUUM passes a valid info, optional stats, and a callback.
    let (index, stats) = unsafe {
        let stats = if stats.is_null() { PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg() } else { stats };
        (Index::new((*info).index), stats)
    };
    let Some(callback) = callback else { return stats };
    let is_dead = |t: Tid| {
        let mut tid = heap_tid(t);
        // SAFETY: the callback only reads the TID.
        unsafe { callback(&mut tid, callback_state) }
    };
    let mut removed = 0f64;
    let mut remaining = 0f64;
    // Elements whose inline TIDs all died: deleted once their overflow lists are empty too.
    let mut emptied: Vec<(Tid, Tid)> = Vec::new();
    for block in 1..index.nblocks() {
        index.update_page(block, |offset, bytes| {
            if let Some(mut e) = ElementMut::parse(bytes) {
                if e.as_ref().is_deleted() {
                    return false;
                }
                let gone = e.retain_heap_tids(|t| !is_dead(t));
                removed += gone as f64;
                let left = e.as_ref().heap_tids().count();
                remaining += left as f64;
                if left == 0 {
                    emptied.push((Tid { block, offset }, e.as_ref().overflow()));
                }
                return gone > 0;
            }
            if bytes.first() == Some(&KIND_TIDLIST) {
                if let Some((tids, _)) = parse_tidlist(bytes) {
                    let kept: Vec<Tid> = tids.iter().copied().filter(|&t| !is_dead(t)).collect();
                    removed += (tids.len() - kept.len()) as f64;
                    remaining += kept.len() as f64;
                    if kept.len() != tids.len() {
                        return set_tidlist(bytes, &kept);
                    }
                }
            }
            false
        });
        pgrx::check_for_interrupts!();
    }
    for (element, mut list) in emptied {
        let mut empty = true;
        while list.is_valid() && empty {
            match index.read(list, parse_tidlist).flatten() {
                Some((tids, next)) => {
                    empty = tids.is_empty();
                    list = next;
                }
                None => break,
            }
        }
        if empty {
            index.update(element, |bytes| match ElementMut::parse(bytes) {
                // A concurrent insert of an identical vector may have added a TID since.
                Some(mut e) if e.as_ref().heap_tids().count() == 0 => {
                    e.set_deleted(true);
                    (true, ())
                }
                _ => (false, ()),
            });
        }
    }
    // SAFETY: stats is ours to fill.
    unsafe {
        (*stats).tuples_removed += removed;
        (*stats).num_index_tuples = remaining;
        (*stats).num_pages = index.nblocks();
    }
    stats
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amvacuumcleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: VACUUM passes a valid info.
    unsafe {
        if (*info).analyze_only {
            return stats;
        }
        if !stats.is_null() {
            return stats;
        }
        // No bulkdelete ran: count what the index holds.
        let index = Index::new((*info).index);
        let stats = PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg();
        let mut live = 0f64;
        for block in 1..index.nblocks() {
            for offset in 1..=u16::MAX {
                match index.read(Tid { block, offset }, |b| {
                    ElementRef::parse(b).map(|e| if e.is_deleted() { 0 } else { e.heap_tids().count() }).unwrap_or(0)
                }) {
                    Some(n) => live += n as f64,
                    None => break,
                }
            }
        }
        (*stats).num_index_tuples = live;
        (*stats).num_pages = index.nblocks();
        stats
    }
}
