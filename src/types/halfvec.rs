//! `halfvec` (IEEE binary16 elements, stored raw and widened to f32 lane by
//! lane inside the kernels): pgvector's `halfvec`, same names and messages.

use half::f16;

dense_sql_functions!(hv, f16, {
    in: "halfvec_in", out: "halfvec_out", typmod_in: "halfvec_typmod_in",
    recv: "halfvec_recv", send: "halfvec_send", coerce: "halfvec",
    array_to: "array_to_halfvec", to_float4: "halfvec_to_float4",
    l2_squared: "halfvec_l2_squared_distance", negative_inner_product: "halfvec_negative_inner_product",
    spherical: "halfvec_spherical_distance", norm: "l2_norm",
    add: "halfvec_add", sub: "halfvec_sub", mul: "halfvec_mul", concat: "halfvec_concat",
    lt: "halfvec_lt", le: "halfvec_le", eq: "halfvec_eq", ne: "halfvec_ne", ge: "halfvec_ge", gt: "halfvec_gt",
    cmp: "halfvec_cmp", accum: "halfvec_accum", avg: "halfvec_avg",
});

/// `ruvector -> halfvec` (implicit cast, as pgvector's `vector -> halfvec`).
#[pg_extern(immutable, strict, parallel_safe)]
fn vector_to_halfvec(v: DenseArg<'_, f32>, typmod: i32, _explicit: bool) -> DenseOut<f16> {
    dense::convert(v, typmod)
}

/// `halfvec -> ruvector` (assignment cast).
#[pg_extern(immutable, strict, parallel_safe)]
fn halfvec_to_vector(v: A<'_>, typmod: i32, _explicit: bool) -> DenseOut<f32> {
    dense::convert(v, typmod)
}
