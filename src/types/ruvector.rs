//! `ruvector` (float4 elements): pgvector's `vector` under our type name. The
//! function names are pgvector's; I/O functions carry the type's own name.

dense_sql_functions!(rv, f32, {
    in: "ruvector_in", out: "ruvector_out", typmod_in: "ruvector_typmod_in",
    recv: "ruvector_recv", send: "ruvector_send", coerce: "ruvector",
    array_to: "array_to_vector", to_float4: "vector_to_float4",
    l2_squared: "vector_l2_squared_distance", negative_inner_product: "vector_negative_inner_product",
    spherical: "vector_spherical_distance", norm: "vector_norm",
    add: "vector_add", sub: "vector_sub", mul: "vector_mul", concat: "vector_concat",
    lt: "vector_lt", le: "vector_le", eq: "vector_eq", ne: "vector_ne", ge: "vector_ge", gt: "vector_gt",
    cmp: "vector_cmp", accum: "vector_accum", avg: "vector_avg",
});

/// Same as `vector_dims`, under this extension's own name.
#[pg_extern(immutable, strict, parallel_safe)]
fn ruvector_dims(v: A<'_>) -> i32 {
    dense::dims(v)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_to_float8(v: A<'_>, _typmod: i32, _explicit: bool) -> Vec<f64> {
    v.as_slice().iter().map(|&x| x as f64).collect()
}

/// A vector from a bare little-endian float4 buffer (numpy's `tobytes()`),
/// in one copy: for loading from clients that hold raw float arrays.
#[pg_extern(immutable, strict, parallel_safe)]
fn ruvector_from_bytes(bytes: &[u8]) -> DenseOut<f32> {
    use crate::error::OrRaise;
    let dims = ruvector_core::dense::bytes::dims_of(bytes.len()).or_raise();
    DenseOut::build(dims, |out| ruvector_core::dense::bytes::decode(bytes, out))
}

/// The vector's elements as a bare little-endian float4 buffer, in one copy.
#[pg_extern(immutable, strict, parallel_safe)]
fn ruvector_to_bytes(v: A<'_>) -> ByteaOut {
    let v = v.as_slice();
    let mut out = ByteaOut::new(v.len() * 4);
    ruvector_core::dense::bytes::encode(v, out.payload_mut());
    out
}
