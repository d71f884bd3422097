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

/// Where this backend's memory is, one row per component (the table behind
/// `ruvector_memory_detailed()`'s figures): the hnsw vector
/// cache (copies, level-0 lists and slot maps held, against its budget),
/// the Rust heap (everything the extension's Rust code holds, which
/// PostgreSQL's memory contexts never see: the cache's reservation, a
/// build's graph, scan state), PostgreSQL's memory contexts (all of them,
/// not only ours; per context see `pg_backend_memory_contexts`), and, with
/// the library preloaded, every backend's vector cache summed (shared.rs).
///
/// The Rust name (and so the C symbol, `ruvector_memory_detailed_wrapper`)
/// is the one 0.1.0's `ruvector_memory_detailed()` table function calls, so
/// a 0.1.0 catalogue running this library before `ALTER EXTENSION ... UPDATE`
/// still gets the table it declares.
#[pg_extern(volatile, parallel_restricted, name = "ruvector_memory_components")]
fn ruvector_memory_detailed(
) -> TableIterator<'static, (name!(component, &'static str), name!(bytes, i64), name!(detail, String))> {
    TableIterator::new(components())
}

/// Bytes of shared memory the shared vector cache holds and a description,
/// or None without the shared cache. In the server's shared memory
/// (preloaded) pages are taken as they are first touched: every segment's
/// map and lists, zeroed when it was made, and the vectors written since.
/// A dynamic segment (not preloaded) is allocated whole when it is made
/// (PostgreSQL fills a new /dev/shm segment at once): all of it.
fn shared_cache_use() -> Option<(i64, String)> {
    let arena = crate::shared::arena()?;
    let dynamic = crate::shared::arena_is_dynamic();
    let segments = arena.segments();
    let touched: usize = segments
        .iter()
        .map(|s| {
            let l = ruvector_core::shared_cache::Layout::for_records(s.records, s.record_bytes, s.list_capacity);
            l.zeroed_words() * 8 + s.used_records * l.stride() * 8
        })
        .sum();
    let reserved: usize = segments.iter().map(|s| s.bytes).sum();
    let vectors: usize = segments.iter().map(|s| s.used_records).sum();
    let detail = format!(
        "{} segments (one per index generation searched), {} vectors; {} reserved of {} \
         (hnsw.shared_cache_size){}; per segment: ruvector_shared_cache()",
        segments.len(),
        vectors,
        megabytes(reserved),
        megabytes(arena.data_bytes()),
        if dynamic { ", all of it allocated in /dev/shm (not preloaded)" } else { "" }
    );
    let bytes = if dynamic { arena.words_bytes() } else { touched };
    Some((bytes as i64, detail))
}

/// The rows of `ruvector_memory_components()`.
fn components() -> [(&'static str, i64, String); 5] {
    let budget = crate::am::hnsw::options::vector_cache_bytes();
    let cache = match crate::am::hnsw::cache::usage() {
        Some(c) if c.shared => (
            "hnsw vector cache",
            0,
            format!(
                "shared: searches of index {} use the shared vector cache ({} vectors); {} hits, {} misses",
                index_name(c.index),
                c.vectors,
                c.hits,
                c.misses
            ),
        ),
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
    let shared = match shared_cache_use() {
        Some((bytes, detail)) => ("hnsw shared vector cache", bytes, detail),
        None => (
            "hnsw shared vector cache",
            0,
            "none yet: the first hnsw search makes it (not with hnsw.shared_cache_size = 0, or without room in /dev/shm)".to_string(),
        ),
    };
    [cache, rust, postgres, all, shared]
}

/// This backend's memory as `jsonb` (serde_json): `current_mb` (the Rust
/// heap and PostgreSQL's memory contexts now), `peak_mb` (the Rust heap's
/// peak since start or `ruvector_reset_peak_memory()`, plus the contexts
/// now), `cache_mb` and `vector_count` (this backend's hnsw vector cache),
/// `shared_cache_mb` (the shared vector cache's touched bytes), `total_mb`
/// (every backend's caches and the shared one with the library preloaded,
/// else this backend's), `components` (the rows of `ruvector_memory_components()`),
/// and `indexes`: one object per hnsw or ivfflat index of this database with
/// its on-disk bytes (`pg_relation_size`), the bytes of its pages in shared
/// buffers now, and its entry in the index registry (`shared_memory_entry`;
/// null without the preload or before the index was built or searched since
/// the server started); `source` says where the figures came from.
#[pg_extern(volatile, parallel_restricted, name = "ruvector_memory_detailed")]
fn ruvector_memory_detailed_jsonb() -> pgrx::JsonB {
    use serde_json::json;
    const MB: f64 = 1024.0 * 1024.0;
    let rows = components();
    let bytes = |name: &str| rows.iter().find(|r| r.0 == name).map_or(0, |r| r.1);
    let heap = crate::alloc::heap_use();
    let cache = crate::am::hnsw::cache::usage();
    let contexts = bytes("postgres memory contexts");
    let preloaded = crate::shared::backend_caches().is_some();
    let this_cache = bytes("hnsw vector cache");
    let shared = bytes("hnsw shared vector cache");
    // the shared cache (preloaded, or made in dynamic shared memory by a
    // search) is counted once, beside the backends' own caches
    let all_caches = if preloaded { bytes("hnsw vector caches, all backends") } else { this_cache } + shared;
    let indexes: Vec<serde_json::Value> = Spi::connect(|client| {
        client
            .select(
                "SELECT c.oid::regclass::text, a.amname::text, pg_relation_size(c.oid), \
                        pg_relation_filenode(c.oid), c.reltablespace, c.relpersistence::text \
                 FROM pg_class c JOIN pg_am a ON a.oid = c.relam \
                 WHERE a.amname IN ('hnsw', 'ivfflat') AND c.relkind = 'i' ORDER BY 1",
                None,
                &[],
            )
            .map(|rows| {
                rows.filter_map(|r| {
                    let name = r.get::<String>(1).ok()??;
                    let am = r.get::<String>(2).ok()??;
                    let size = r.get::<i64>(3).ok()??;
                    let filenode = r.get::<pgrx::pg_sys::Oid>(4).ok()?;
                    let space = r.get::<pgrx::pg_sys::Oid>(5).ok()??;
                    let temporary = r.get::<String>(6).ok()?? == "t";
                    // temporary indexes live in local buffers, not shared ones
                    let resident = match filenode {
                        Some(rel) if !temporary => {
                            // SAFETY: this backend's database and its default tablespace, set at connection.
                            let (db, default_space) =
                                unsafe { (pgrx::pg_sys::MyDatabaseId, pgrx::pg_sys::MyDatabaseTableSpace) };
                            let spc = if space == pgrx::pg_sys::InvalidOid { default_space } else { space };
                            let node = pgrx::pg_sys::RelFileNode { spcNode: spc, dbNode: db, relNode: rel };
                            crate::am::storage::resident_pages(node) * pgrx::pg_sys::BLCKSZ as u64
                        }
                        _ => 0,
                    };
                    let entry = match (filenode, temporary) {
                        (Some(rel), false) => shared_entry(&am, space, rel),
                        _ => serde_json::Value::Null,
                    };
                    Some(json!({
                        "name": name,
                        "access_method": am,
                        "size_bytes": size,
                        "shared_buffers_bytes": resident,
                        "source": if entry.is_null() { "catalogue and buffer descriptors" } else { "catalogue, buffer descriptors and shared memory" },
                        "shared_memory_entry": entry,
                    }))
                })
                .collect()
            })
            .unwrap_or_default()
    });
    pgrx::JsonB(json!({
        "current_mb": (heap.live_bytes as i64 + contexts) as f64 / MB,
        "peak_mb": (heap.peak_bytes as i64 + contexts) as f64 / MB,
        "cache_mb": this_cache as f64 / MB,
        "shared_cache_mb": shared as f64 / MB,
        "total_mb": all_caches as f64 / MB,
        "total_source": if preloaded { "all backends (shared memory)" } else { "this backend and the shared cache (library not preloaded)" },
        "vector_count": cache.map_or(0, |c| c.vectors),
        "components": rows.iter().map(|(c, b, d)| json!({"component": c, "bytes": b, "detail": d})).collect::<Vec<_>>(),
        "indexes": indexes,
    }))
}

/// An index's entry in the index registry as jsonb (null: none, or not preloaded).
fn shared_entry(am: &str, space: pgrx::pg_sys::Oid, relfilenode: pgrx::pg_sys::Oid) -> serde_json::Value {
    use ruvector_core::registry::{HnswSharedMem, IvfFlatSharedMem, RegistryKey, KIND_HNSW, KIND_IVFFLAT};
    let Some(registry) = crate::shared::registry() else { return serde_json::Value::Null };
    // SAFETY: this backend's database and its default tablespace, set at connection.
    let (db, default_space) = unsafe { (pgrx::pg_sys::MyDatabaseId, pgrx::pg_sys::MyDatabaseTableSpace) };
    let spc = if space == pgrx::pg_sys::InvalidOid { default_space } else { space };
    let key =
        |kind| RegistryKey { tablespace: spc.to_u32(), database: db.to_u32(), relfilenode: relfilenode.to_u32(), kind };
    let entry = match am {
        "hnsw" => registry.read::<HnswSharedMem>(&key(KIND_HNSW)).map(|e| super::stats::hnsw_entry_json(&e)),
        _ => registry.read::<IvfFlatSharedMem>(&key(KIND_IVFFLAT)).map(|e| super::stats::ivfflat_entry_json(&e)),
    };
    entry.unwrap_or(serde_json::Value::Null)
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

/// The shared vector cache's segments (`hnsw.shared_cache_size`; needs
/// `ruvector_pg` in `shared_preload_libraries`): one per index generation
/// searched, with its state (`live`; `retired`: freed once no backend holds
/// it; `building`), bytes reserved, vectors held and room for, and level-0
/// lists held and room for. Segments of other databases show their OIDs.
// pgrx reads the column names from the return type, so it is spelt out here
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_restricted)]
fn ruvector_shared_cache() -> TableIterator<
    'static,
    (
        name!(database, pgrx::pg_sys::Oid),
        name!(index, pgrx::pg_sys::Oid),
        name!(generation, i64),
        name!(state, &'static str),
        name!(bytes, i64),
        name!(vectors, i64),
        name!(vector_capacity, i64),
        name!(lists, i64),
        name!(list_capacity, i64),
    ),
> {
    let Some(arena) = crate::shared::arena() else {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "no shared vector cache yet: the first hnsw search makes it (not with hnsw.shared_cache_size = 0, or without room in /dev/shm)",
        );
    };
    TableIterator::new(arena.segments().into_iter().map(|s| {
        (
            pgrx::pg_sys::Oid::from(s.key.database),
            pgrx::pg_sys::Oid::from(s.key.index),
            s.key.generation as i64,
            s.state,
            s.bytes as i64,
            s.used_records as i64,
            s.records as i64,
            s.used_lists as i64,
            s.lists as i64,
        )
    }))
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
