//! Shared memory, the only module that sets it up:
//! - one cache-line-aligned slot per backend saying what its hnsw vector
//!   cache holds and how it hit, so that one query shows every backend's
//!   cache (`ruvector_backend_caches()`, and the "all backends" row of
//!   `ruvector_memory_detailed()`);
//! - the index registry (`ruvector_core::registry`,
//!   `ruvector.shared_index_entries` slots): each index's meta page copied
//!   to shared memory, kept by src/am/storage under the meta page's lock;
//! - the arena of the hnsw vector cache all backends share
//!   (`ruvector_core::shared_cache`, `hnsw.shared_cache_size` bytes), with
//!   each backend's hazard (the segment it holds) let go of at the end of
//!   every transaction and at exit;
//! - the index pages' change positions (`ruvector_core::shared_cache::
//!   BlockStamps`, `STAMP_WORDS` words, zeroed at start), raised by
//!   src/am/storage with every WAL-logged page change, so cached hnsw lists
//!   stay trusted until their own page changes.
//!
//! PostgreSQL hands out its main shared memory only at server start, so all
//! four live there only when `ruvector_pg` is in `shared_preload_libraries`.
//! Otherwise the slots and the registry do not exist (readers say so), and
//! the arena is made on demand in a dynamic shared memory segment instead
//! (`dynamic`, with its own invariants).
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
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use ruvector_core::registry::{Registry, Slot};
use ruvector_core::shared_cache::{Arena, BlockStamps};

mod dynamic;

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

/// Words of the page change table: 512 kB, so that a page's word is shared
/// with others rarely while the index pages searches touch number in the
/// hundreds of thousands.
const STAMP_WORDS: usize = 1 << 16;
/// The page change table (null without preloading).
static mut STAMPS: *const AtomicU64 = std::ptr::null();

/// The slots, once the shmem startup hook set them up (null without preloading).
static mut SLOTS: *const BackendSlot = std::ptr::null();
/// The shared cache's arena words (null without preloading or with
/// `hnsw.shared_cache_size = 0`) and how many.
static mut ARENA: *const AtomicU64 = std::ptr::null();
static mut ARENA_WORDS: usize = 0;
static mut XACT_CALLBACK_SET: bool = false;
/// The index registry's slots (null without preloading) and how many.
static mut REGISTRY: *const Slot = std::ptr::null();
static mut REGISTRY_SLOTS: usize = 0;

/// Indexes the registry holds at most; read once at server start.
pub static SHARED_INDEX_ENTRIES: GucSetting<i32> = GucSetting::<i32>::new(1024);

fn registry_bytes() -> usize {
    match SHARED_INDEX_ENTRIES.get() {
        n if n <= 0 => 0,
        n => Registry::slots_for(n as usize) * std::mem::size_of::<Slot>(),
    }
}

/// kB; read at server start when preloaded, else when the first search
/// makes the dynamic segment (`dynamic`).
pub static SHARED_CACHE_SIZE: GucSetting<i32> = GucSetting::<i32>::new(256 * 1024);

/// Bytes of the shared cache's arena (0: none).
fn arena_bytes() -> usize {
    let data = SHARED_CACHE_SIZE.get().max(0) as usize * 1024;
    if data == 0 {
        0
    } else {
        Arena::words_for(BACKEND_SLOTS, data) * 8
    }
}
#[cfg(not(any(feature = "pg13", feature = "pg14")))]
static mut PREV_REQUEST_HOOK: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP_HOOK: pg_sys::shmem_startup_hook_type = None;
static mut PREV_OBJECT_ACCESS_HOOK: pg_sys::object_access_hook_type = None;
static mut EXIT_CALLBACK_SET: bool = false;

const BYTES: usize = std::mem::size_of::<BackendSlot>() * BACKEND_SLOTS;

/// From `_PG_init`: ask for the slots when loaded at server start; in every
/// case define `hnsw.shared_cache_size` and watch for dropped indexes.
pub fn init() {
    // SAFETY: _PG_init runs once per process (the postmaster when preloaded,
    // else the backend loading the library), single-threaded, before any
    // hook can be called; hooks are chained as PostgreSQL expects.
    unsafe {
        let preloading = pg_sys::process_shared_preload_libraries_in_progress;
        // a server-start setting may only be defined while preloading; without
        // the preload the size is read when the first search makes the
        // segment, and only superusers may change it (it is shared memory)
        GucRegistry::define_int_guc(
            c"hnsw.shared_cache_size",
            c"Sets the shared memory all backends' hnsw searches cache element vectors in",
            c"0 keeps a cache per backend (hnsw.vector_cache_size). Read at server start when \
              ruvector_pg is preloaded, else when the first search makes the cache. Not a pgvector setting.",
            &SHARED_CACHE_SIZE,
            0,
            i32::MAX / 2,
            if preloading { GucContext::Postmaster } else { GucContext::Suset },
            GucFlags::UNIT_KB,
        );
        PREV_OBJECT_ACCESS_HOOK = pg_sys::object_access_hook;
        pg_sys::object_access_hook = Some(forget_dropped_index);
        if !preloading {
            return;
        }
        GucRegistry::define_int_guc(
            c"ruvector.shared_index_entries",
            c"Sets how many indexes' metadata shared memory holds",
            c"Needs ruvector_pg in shared_preload_libraries; searches of other indexes read their meta page; 0: none.",
            &SHARED_INDEX_ENTRIES,
            0,
            1 << 20,
            GucContext::Postmaster,
            GucFlags::default(),
        );
        #[cfg(any(feature = "pg13", feature = "pg14"))]
        pg_sys::RequestAddinShmemSpace(BYTES + arena_bytes() + registry_bytes() + STAMP_WORDS * 8);
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
        pg_sys::RequestAddinShmemSpace(arena_bytes());
        pg_sys::RequestAddinShmemSpace(registry_bytes());
        pg_sys::RequestAddinShmemSpace(STAMP_WORDS * 8);
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
        let bytes = arena_bytes();
        if bytes > 0 {
            let mut found = false;
            let p = pg_sys::ShmemInitStruct(c"ruvector_pg shared vector cache".as_ptr(), bytes, &mut found)
                .cast::<AtomicU64>();
            if (p as usize).is_multiple_of(64) {
                let words = std::slice::from_raw_parts(p, bytes / 8);
                // the postmaster formats it once; backends inherit it
                if found || Arena::format(words, BACKEND_SLOTS).is_some() {
                    ARENA = p;
                    ARENA_WORDS = bytes / 8;
                }
            }
        }
        let mut found = false;
        let p = pg_sys::ShmemInitStruct(c"ruvector_pg page changes".as_ptr(), STAMP_WORDS * 8, &mut found).cast::<u8>();
        if (p as usize).is_multiple_of(8) {
            // zeroed words: no page changed yet
            if !found {
                std::ptr::write_bytes(p, 0, STAMP_WORDS * 8);
            }
            STAMPS = p.cast();
        }
        let bytes = registry_bytes();
        let mut found = false;
        let p = if bytes > 0 {
            pg_sys::ShmemInitStruct(c"ruvector_pg index registry".as_ptr(), bytes, &mut found).cast::<u8>()
        } else {
            std::ptr::null_mut()
        };
        if !p.is_null() && (p as usize).is_multiple_of(std::mem::align_of::<Slot>()) {
            // zeroed slots are an empty registry (Slot is atomics only)
            if !found {
                std::ptr::write_bytes(p, 0, bytes);
            }
            REGISTRY = p.cast();
            REGISTRY_SLOTS = bytes / std::mem::size_of::<Slot>();
        }
        pg_sys::LWLockRelease(lock);
    }
}

/// On DROP of an hnsw or ivfflat index (alone or with its table): forget its
/// registry entry and retire its shared vector cache segments, so their
/// memory is free for others at once. (A DROP rolled back later costs only
/// a meta-page read and a cache refill.)
#[pg_guard]
unsafe extern "C-unwind" fn forget_dropped_index(
    access: pg_sys::ObjectAccessType::Type,
    class_id: pg_sys::Oid,
    object_id: pg_sys::Oid,
    sub_id: i32,
    arg: *mut core::ffi::c_void,
) {
    // SAFETY: called by PostgreSQL with a live catalogue; the pg_class row is
    // read through the syscache and released before returning.
    unsafe {
        if let Some(prev) = PREV_OBJECT_ACCESS_HOOK {
            prev(access, class_id, object_id, sub_id, arg);
        }
        if access != pg_sys::ObjectAccessType::OAT_DROP || class_id != pg_sys::RelationRelationId || sub_id != 0 {
            return;
        }
        let tuple = pg_sys::SearchSysCache1(pg_sys::SysCacheIdentifier::RELOID as i32, object_id.into());
        if tuple.is_null() {
            return;
        }
        let form = &*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_class>(tuple);
        let (kind, relam, node, space) = (form.relkind as u8, form.relam, form.relfilenode, form.reltablespace);
        pg_sys::ReleaseSysCache(tuple);
        if kind != pg_sys::RELKIND_INDEX {
            return;
        }
        let hnsw = pg_sys::get_am_oid(c"hnsw".as_ptr(), true);
        let ivfflat = pg_sys::get_am_oid(c"ivfflat".as_ptr(), true);
        let registry_kind = if relam == hnsw && hnsw != pg_sys::InvalidOid {
            ruvector_core::registry::KIND_HNSW
        } else if relam == ivfflat && ivfflat != pg_sys::InvalidOid {
            ruvector_core::registry::KIND_IVFFLAT
        } else {
            return;
        };
        let db = pg_sys::MyDatabaseId;
        let space = if space == pg_sys::InvalidOid { pg_sys::MyDatabaseTableSpace } else { space };
        if let Some(registry) = registry() {
            let key = ruvector_core::registry::RegistryKey {
                tablespace: space.to_u32(),
                database: db.to_u32(),
                relfilenode: node.to_u32(),
                kind: registry_kind,
            };
            registry.invalidate(&key);
        }
        if let Some(arena) = arena() {
            arena.retire_index(db.to_u32(), object_id.to_u32());
        }
    }
}

/// The index registry, if there is one (preloaded).
pub fn registry() -> Option<Registry<'static>> {
    // SAFETY: REGISTRY is null or points at REGISTRY_SLOTS zero-initialised
    // slots of shared memory that live as long as the server, set before
    // any backend forked.
    unsafe {
        if REGISTRY.is_null() {
            return None;
        }
        Registry::new(std::slice::from_raw_parts(REGISTRY, REGISTRY_SLOTS))
    }
}

/// The index pages' change positions, if the library was preloaded (then
/// every backend's page changes raise them, from the server's start).
pub fn block_stamps() -> Option<BlockStamps<'static>> {
    // SAFETY: STAMPS is null or points at STAMP_WORDS zero-initialised words
    // of shared memory that live as long as the server, set before any
    // backend forked.
    unsafe {
        if STAMPS.is_null() {
            return None;
        }
        BlockStamps::new(std::slice::from_raw_parts(STAMPS, STAMP_WORDS))
    }
}

/// This backend's number from 0, if below `BACKEND_SLOTS`.
fn backend_number() -> Option<usize> {
    // SAFETY: reading this process's own global.
    unsafe {
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16"))]
        let at = pg_sys::MyBackendId as i64 - 1;
        #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16")))]
        let at = pg_sys::MyProcNumber as i64;
        (0..BACKEND_SLOTS as i64).contains(&at).then_some(at as usize)
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
        backend_number().map(|at| &*SLOTS.add(at))
    }
}

/// The shared cache's arena this backend already has: in the main shared
/// memory (preloaded) or a dynamic segment it attached to. No I/O.
fn attached_arena() -> Option<Arena<'static>> {
    // SAFETY: ARENA is null or points at ARENA_WORDS words of shared memory
    // that live as long as the server, set once before any backend forked.
    unsafe {
        if !ARENA.is_null() {
            return Arena::attach(std::slice::from_raw_parts(ARENA, ARENA_WORDS));
        }
    }
    dynamic::attached().and_then(Arena::attach)
}

/// Whether the shared cache's arena is a dynamic segment (not preloaded).
pub fn arena_is_dynamic() -> bool {
    // SAFETY: reading a pointer set once at server start (before forking).
    unsafe { ARENA.is_null() }
}

/// The shared cache's arena, if there is one: preloaded, or made without
/// the preload by a search of any backend since the server started.
pub fn arena() -> Option<Arena<'static>> {
    attached_arena().or_else(|| dynamic_arena(false))
}

/// The arena, this backend's hazard number and its database, for a search
/// about to hold a segment (without the preload, the first such search in
/// the server makes the arena); makes sure what it holds is let go of at
/// the end of the transaction (and at exit).
pub fn arena_for_search() -> Option<(Arena<'static>, usize, pg_sys::Oid)> {
    // SAFETY: reading a pointer set once at server start (before forking).
    let preloaded_arena = unsafe { !ARENA.is_null() };
    let arena = if preloaded_arena {
        attached_arena()?
    } else if SHARED_CACHE_SIZE.get() > 0 {
        // without the preload a superuser's session may opt out (size 0)
        attached_arena().or_else(|| dynamic_arena(true))?
    } else {
        return None;
    };
    let backend = backend_number()?;
    // SAFETY: registering callbacks is allowed in a backend at any time;
    // the flags and the database are this process's own.
    unsafe {
        if !XACT_CALLBACK_SET {
            pg_sys::RegisterXactCallback(Some(release_at_transaction_end), std::ptr::null_mut());
            pg_sys::before_shmem_exit(Some(release_on_exit), pg_sys::Datum::from(0));
            XACT_CALLBACK_SET = true;
        }
        Some((arena, backend, pg_sys::MyDatabaseId))
    }
}

fn release_shared_segment() {
    crate::am::hnsw::cache::forget_shared();
    if let (Some(arena), Some(backend)) = (attached_arena(), backend_number()) {
        arena.release(backend);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn release_at_transaction_end(_event: pg_sys::XactEvent::Type, _arg: *mut core::ffi::c_void) {
    release_shared_segment();
}

#[pg_guard]
unsafe extern "C-unwind" fn release_on_exit(_code: i32, _arg: pg_sys::Datum) {
    release_shared_segment();
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
    // a shared segment is counted once, by the arena, not by every backend
    slot.bytes.store(if c.shared { 0 } else { c.held_bytes() as u64 }, Relaxed);
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

/// The arena in a dynamic shared memory segment (without the preload):
/// attached to if some backend made it since the server started, else made
/// now if `make`. None when there is none and it was not (or could not be)
/// made; then searches keep a cache per backend.
fn dynamic_arena(make: bool) -> Option<Arena<'static>> {
    let want = if make { Some(arena_bytes()).filter(|&b| b > 0) } else { None };
    let words = dynamic::attach_or_make(want, |words| Arena::format(words, BACKEND_SLOTS).is_some())?;
    Arena::attach(words)
}
