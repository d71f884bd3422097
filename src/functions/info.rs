//! Introspection: which SIMD kernels this backend runs, and what this
//! backend's hnsw vector cache holds.

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
    let row = crate::am::hnsw::cache::stats()
        .map(|(index, vectors, bytes, hits, misses)| (index, vectors as i64, bytes as i64, hits as i64, misses as i64));
    TableIterator::new(row)
}
