//! Introspection: which SIMD kernels this backend runs.

use pgrx::prelude::*;

/// The instruction set the distance kernels were dispatched to, e.g. `avx512f`.
#[pg_extern(immutable, parallel_safe)]
fn ruvector_simd_info() -> &'static str {
    ruvector_core::kernels::active().isa
}
