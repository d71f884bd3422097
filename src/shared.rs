//! Shared memory: one cache-line-aligned slot per backend saying what its
//! hnsw vector cache holds, so that one query shows every backend's cache
//! (`ruvector_backend_caches()`, and the "all backends" row of
//! `ruvector_memory_detailed()`). Per-backend caches multiply with
//! connections; this is where that becomes visible. The only module that
//! touches shared memory.
//!
//! PostgreSQL hands out shared memory only at server start, so the slots
//! exist only when `ruvector_pg` is in `shared_preload_libraries`; otherwise
//! nothing is published and readers say so.
//!
//! Invariants, no locks: the slot array is set up once, zeroed, under
//! `AddinShmemInitLock` by the postmaster's shmem startup hook, and
//! inherited by every backend. Each backend writes only its own slot (at
//! `MyBackendId`, or `MyProcNumber`), with relaxed atomic stores after its
//! searches; `pid` is stored last and cleared first (at backend exit), and
//! readers skip slots whose pid is 0. Readers load fields with relaxed
//! atomics and may see a slot mid-update: these are statistics, never used
//! to decide anything. One slot per 64-byte line, so backends never write
//! the same cache line.

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::Relaxed};

use pgrx::pg_sys;
use pgrx::prelude::*;

/// Backends with a slot (the rest, beyond it, are not published).
pub const BACKEND_SLOTS: usize = 1024;

#[repr(C, align(64))]
struct BackendSlot {
    pid: AtomicI32,
    database: AtomicU32,
    index: AtomicU32,
    vectors: AtomicU64,
    bytes: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

const _: () = assert!(std::mem::size_of::<BackendSlot>() == 64);

/// What one backend's cache held when it last searched.
pub struct BackendCache {
    pub pid: i32,
    pub database: pg_sys::Oid,
    pub index: pg_sys::Oid,
    pub vectors: u64,
    pub bytes: u64,
    pub hits: u64,
    pub misses: u64,
}

/// The slots, once the shmem startup hook set them up (null without preloading).
static mut SLOTS: *const BackendSlot = std::ptr::null();
#[cfg(not(any(feature = "pg13", feature = "pg14")))]
static mut PREV_REQUEST_HOOK: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP_HOOK: pg_sys::shmem_startup_hook_type = None;
static mut EXIT_CALLBACK_SET: bool = false;

const BYTES: usize = std::mem::size_of::<BackendSlot>() * BACKEND_SLOTS;

/// From `_PG_init`: ask for the slots when loaded at server start.
pub fn init() {
    // SAFETY: _PG_init runs in the postmaster (when preloaded), single-threaded,
    // before any hook can be called; hooks are chained as PostgreSQL expects.
    unsafe {
        if !pg_sys::process_shared_preload_libraries_in_progress {
            return;
        }
        #[cfg(any(feature = "pg13", feature = "pg14"))]
        pg_sys::RequestAddinShmemSpace(BYTES);
        #[cfg(not(any(feature = "pg13", feature = "pg14")))]
        {
            PREV_REQUEST_HOOK = pg_sys::shmem_request_hook;
            pg_sys::shmem_request_hook = Some(request_shmem);
        }
        PREV_STARTUP_HOOK = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(startup_shmem);
    }
}

#[cfg(not(any(feature = "pg13", feature = "pg14")))]
#[pg_guard]
unsafe extern "C-unwind" fn request_shmem() {
    // SAFETY: called by PostgreSQL at shmem request time, in the postmaster.
    unsafe {
        if let Some(prev) = PREV_REQUEST_HOOK {
            prev();
        }
        pg_sys::RequestAddinShmemSpace(BYTES);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn startup_shmem() {
    // SAFETY: called by PostgreSQL once shared memory exists; the
    // AddinShmemInitLock (MainLWLockArray[21]) serialises ShmemInitStruct
    // users; zeroed bytes are valid atomics.
    unsafe {
        if let Some(prev) = PREV_STARTUP_HOOK {
            prev();
        }
        let lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock;
        pg_sys::LWLockAcquire(lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let mut found = false;
        let p = pg_sys::ShmemInitStruct(c"ruvector_pg backend caches".as_ptr(), BYTES, &mut found).cast::<u8>();
        if !found {
            std::ptr::write_bytes(p, 0, BYTES);
        }
        // ShmemInitStruct aligns to a cache line; use the slots only if so
        if (p as usize).is_multiple_of(std::mem::align_of::<BackendSlot>()) {
            SLOTS = p.cast();
        }
        pg_sys::LWLockRelease(lock);
    }
}

/// This backend's slot, if there are slots and it has one.
fn own_slot() -> Option<&'static BackendSlot> {
    // SAFETY: SLOTS is null or points at BACKEND_SLOTS slots that live as long
    // as the server; the backend number is this process's own.
    unsafe {
        if SLOTS.is_null() {
            return None;
        }
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16"))]
        let at = pg_sys::MyBackendId as i64 - 1;
        #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16")))]
        let at = pg_sys::MyProcNumber as i64;
        (0..BACKEND_SLOTS as i64).contains(&at).then(|| &*SLOTS.add(at as usize))
    }
}

/// Publish what this backend's vector cache holds (after a search).
pub fn publish_cache() {
    let Some(slot) = own_slot() else { return };
    let Some(c) = crate::am::hnsw::cache::usage() else { return };
    // SAFETY: reading this process's own globals; registering an exit
    // callback is allowed in a backend at any time.
    let (pid, database) = unsafe {
        if !EXIT_CALLBACK_SET {
            pg_sys::before_shmem_exit(Some(clear_on_exit), pg_sys::Datum::from(0));
            EXIT_CALLBACK_SET = true;
        }
        (pg_sys::MyProcPid, pg_sys::MyDatabaseId)
    };
    slot.database.store(database.to_u32(), Relaxed);
    slot.index.store(c.index.to_u32(), Relaxed);
    slot.vectors.store(c.vectors as u64, Relaxed);
    slot.bytes.store(c.held_bytes() as u64, Relaxed);
    slot.hits.store(c.hits, Relaxed);
    slot.misses.store(c.misses, Relaxed);
    slot.pid.store(pid, Relaxed);
}

#[pg_guard]
unsafe extern "C-unwind" fn clear_on_exit(_code: i32, _arg: pg_sys::Datum) {
    if let Some(slot) = own_slot() {
        slot.pid.store(0, Relaxed);
    }
}

/// Every backend's published cache, or None when the slots do not exist
/// (the library was not preloaded).
pub fn backend_caches() -> Option<Vec<BackendCache>> {
    // SAFETY: as in own_slot.
    let slots = unsafe {
        if SLOTS.is_null() {
            return None;
        }
        std::slice::from_raw_parts(SLOTS, BACKEND_SLOTS)
    };
    let caches = slots
        .iter()
        .filter_map(|s| {
            let pid = s.pid.load(Relaxed);
            (pid != 0).then(|| BackendCache {
                pid,
                database: pg_sys::Oid::from(s.database.load(Relaxed)),
                index: pg_sys::Oid::from(s.index.load(Relaxed)),
                vectors: s.vectors.load(Relaxed),
                bytes: s.bytes.load(Relaxed),
                hits: s.hits.load(Relaxed),
                misses: s.misses.load(Relaxed),
            })
        })
        .collect();
    Some(caches)
}
