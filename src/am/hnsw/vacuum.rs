//! VACUUM (`ambulkdelete`, `amvacuumcleanup`): the callbacks around the
//! core's algorithm (`ruvector_core::hnsw::paged::vacuum`, whose module
//! comment gives its six steps and why searches keep running meanwhile):
//! the dead-TID callback, the memory budget and threads, the log lines and
//! the statistics.

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::hnsw::paged::vacuum::{self as core_vacuum, strip_dead_tids, Stripped, VacuumSettings};
use ruvector_core::hnsw::paged::PagedGraph;
use ruvector_core::hnsw::tuple::{ElementRef, Meta, Tid};
use ruvector_core::tidstore::TidStore;

use crate::am::callbacks;
use crate::am::kind::index_kind;
use crate::am::storage::{item_pointer, Index};

fn settings(meta: &Meta) -> VacuumSettings {
    VacuumSettings {
        m: meta.m as usize,
        memory_budget: callbacks::vacuum_memory_budget(),
        threads: callbacks::maintenance_threads(),
    }
}

/// Steps 2–6 (the core's `remove_deleted`) for the deleted elements in
/// `deleted`, and their log lines.
fn remove_deleted(index: Index, deleted: &TidStore) {
    let meta: Meta = index.meta();
    let graph = PagedGraph::open(index, &meta, index_kind(index.relation(), "hnsw"));
    let r = core_vacuum::remove_deleted(&graph, &settings(&meta), deleted);
    index.vacuum_free_space_map();
    // which path ran, in words that do not change from run to run (tests/regress/sql/hnsw_vacuum.sql)
    pgrx::debug1!("hnsw vacuum of \"{}\": {} deleted elements, lists repaired {}", index.name(), r.deleted, r.path);
    let [repair, relink, free] = r.seconds;
    pgrx::debug2!(
        "hnsw vacuum: {}, {} repaired with searches held off, {} elements relinked; \
         repair {repair:.2} s, relink {relink:.2} s, free {free:.2} s",
        r.how,
        r.stubborn,
        r.relinked
    );
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
        let stats = callbacks::stats_or_new(stats);
        (Index::new((*info).index), stats)
    };
    let Some(callback) = callback else { return stats };
    let is_dead = |t: Tid| {
        let mut tid = item_pointer(t);
        // SAFETY: the callback only reads the TID.
        unsafe { callback(&mut tid, callback_state) }
    };
    let Stripped { removed, remaining, deleted } = strip_dead_tids(&index, is_dead);
    if !deleted.is_empty() {
        let deleted = TidStore::from_unsorted(deleted);
        remove_deleted(index, &deleted); // relinks as its last step
    } else {
        relink_stranded(index);
    }
    // SAFETY: stats is valid (passed in or allocated above).
    unsafe { callbacks::record_stats(stats, removed, remaining, index.nblocks()) };
    stats
}

/// An insert that prunes a full neighbour list can take away an element's
/// last level-0 in-link (HNSW's heuristic; pgvector's graphs do the same),
/// and searches never reach such an element again. Every VACUUM (autovacuum
/// runs one after enough inserts too) therefore walks level 0 from the entry
/// point and relinks what it does not reach, also when no row was deleted:
/// in `ambulkdelete` (after freeing, or alone) or, when VACUUM found no dead
/// row and skipped it, in `amvacuumcleanup`.
fn relink_stranded(index: Index) {
    if index.nblocks() <= 1 {
        return;
    }
    let meta: Meta = index.meta();
    let graph = PagedGraph::open(index, &meta, index_kind(index.relation(), "hnsw"));
    let relinked = core_vacuum::relink_orphans(&graph, &settings(&meta), &|_| false);
    pgrx::debug1!("hnsw vacuum cleanup: {relinked} stranded elements relinked");
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amvacuumcleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: amvacuumcleanup's arguments.
    unsafe {
        // a VACUUM that found nothing to delete did not call ambulkdelete
        if !(*info).analyze_only && stats.is_null() {
            relink_stranded(Index::new((*info).index));
        }
        callbacks::vacuum_cleanup(info, stats, |index| {
            (1..index.nblocks())
                .map(|block| {
                    index.read_page(block, |page| {
                        page.items()
                            .filter_map(|(_, b)| ElementRef::parse(b))
                            .map(|e| if e.is_deleted() { 0 } else { e.heap_tids().count() })
                            .sum::<usize>()
                    }) as f64
                })
                .sum()
        })
    }
}
