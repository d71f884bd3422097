//! Introspection: which SIMD kernels this backend runs, what this backend's
//! hnsw vector cache holds, and where this backend's memory is.

use pgrx::prelude::*;

/// The instruction set the distance kernels were dispatched to, e.g. `avx512f`.
#[pg_extern(immutable, parallel_safe)]
fn ruvector_simd_info() -> &'static str {
    ruvector_core::kernels::active().isa
}

/// This backend's hnsw vector cache (`hnsw.vector_cache_size`): the index it
/// serves, vectors held, bytes allocated, and lookups that hit or missed.
/// No row until an hnsw search has used the cache.
#[pg_extern(volatile, parallel_restricted)]
fn ruvector_hnsw_cache_info() -> TableIterator<
    'static,
    (name!(index, pgrx::pg_sys::Oid), name!(vectors, i64), name!(bytes, i64), name!(hits, i64), name!(misses, i64)),
> {
    let row = crate::am::hnsw::cache::usage()
        .map(|c| (c.index, c.vectors as i64, c.held_bytes() as i64, c.hits as i64, c.misses as i64));
    TableIterator::new(row)
}

/// Where this backend's memory is, one row per component: the hnsw vector
/// cache (copies, level-0 lists and slot maps held, against its budget),
/// the Rust heap (everything the extension's Rust code holds, which
/// PostgreSQL's memory contexts never see: the cache's reservation, a
/// build's graph, scan state), PostgreSQL's memory contexts (all of them,
/// not only ours; per context see `pg_backend_memory_contexts`), and, with
/// the library preloaded, every backend's vector cache summed (shared.rs).
#[pg_extern(volatile, parallel_restricted)]
fn ruvector_memory_detailed(
) -> TableIterator<'static, (name!(component, &'static str), name!(bytes, i64), name!(detail, String))> {
    let budget = crate::am::hnsw::options::vector_cache_bytes();
    let cache = match crate::am::hnsw::cache::usage() {
        Some(c) => {
            let detail = format!(
                "index {}: {} vectors of {} bytes ({}), level-0 lists {}, slot maps {}; budget {} \
                 (hnsw.vector_cache_size), {} allocated for vectors; {} hits, {} misses",
                index_name(c.index),
                c.vectors,
                c.record_bytes,
                megabytes(c.vector_bytes),
                megabytes(c.list_bytes),
                megabytes(c.map_bytes),
                megabytes(budget),
                megabytes(c.reserved_bytes),
                c.hits,
                c.misses
            );
            ("hnsw vector cache", c.held_bytes() as i64, detail)
        }
        None => (
            "hnsw vector cache",
            0,
            format!(
                "empty: no hnsw search in this backend has used it; budget {} (hnsw.vector_cache_size)",
                megabytes(budget)
            ),
        ),
    };
    let heap = crate::alloc::heap_use();
    let rust = (
        "rust heap",
        heap.live_bytes as i64,
        format!(
            "{} allocations live, peak {}; includes memory allocated but not yet touched (the vector cache's)",
            heap.live_allocations,
            megabytes(heap.peak_bytes)
        ),
    );
    // SAFETY: TopMemoryContext exists for the life of a backend, and
    // MemoryContextMemAllocated only reads the context tree.
    let contexts = unsafe { pgrx::pg_sys::MemoryContextMemAllocated(pgrx::pg_sys::TopMemoryContext, true) };
    let postgres = (
        "postgres memory contexts",
        contexts as i64,
        "all of this backend's memory contexts; per context: pg_backend_memory_contexts".to_string(),
    );
    let all = match crate::shared::backend_caches() {
        Some(caches) => {
            let total: u64 = caches.iter().map(|c| c.bytes).sum();
            let largest = caches.iter().max_by_key(|c| c.bytes);
            let detail = match largest {
                Some(l) => format!(
                    "{} backends hold a cache; largest: pid {} ({}); per backend: ruvector_backend_caches()",
                    caches.len(),
                    l.pid,
                    megabytes(l.bytes as usize)
                ),
                None => "no backend holds a cache".to_string(),
            };
            ("hnsw vector caches, all backends", total as i64, detail)
        }
        None => ("hnsw vector caches, all backends", 0, NOT_PRELOADED.to_string()),
    };
    TableIterator::new([cache, rust, postgres, all])
}

const NOT_PRELOADED: &str = "not shared: add ruvector_pg to shared_preload_libraries to see every backend's cache";

/// Every backend's hnsw vector cache as it last published it (after each of
/// its searches): process id, database, index, vectors, bytes held, hits and
/// misses. Needs `ruvector_pg` in `shared_preload_libraries`.
#[pg_extern(volatile, parallel_restricted)]
fn ruvector_backend_caches() -> TableIterator<
    'static,
    (
        name!(pid, i32),
        name!(database, pgrx::pg_sys::Oid),
        name!(index, pgrx::pg_sys::Oid),
        name!(vectors, i64),
        name!(bytes, i64),
        name!(hits, i64),
        name!(misses, i64),
    ),
> {
    let Some(caches) = crate::shared::backend_caches() else {
        crate::error::raise_code(PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, NOT_PRELOADED);
    };
    TableIterator::new(
        caches
            .into_iter()
            .map(|c| (c.pid, c.database, c.index, c.vectors as i64, c.bytes as i64, c.hits as i64, c.misses as i64)),
    )
}

fn megabytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// The relation's name, or its OID if it is gone.
fn index_name(oid: pgrx::pg_sys::Oid) -> String {
    Spi::get_one_with_args::<String>("SELECT $1::regclass::text", &[oid.into()])
        .ok()
        .flatten()
        .unwrap_or_else(|| oid.to_u32().to_string())
}
