//! `sparsevec`: sorted (index, value) pairs, pgvector's `sparsevec` surface.
//! Distances run on the stored arrays by merge-join (ruvector_core::sparse).

use core::ffi::CStr;

use half::f16;
use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::dense::{self as core_dense, DenseElement};
use ruvector_core::sparse::{self, binary, text, SparseRef};

use crate::datum::{
    ArrayArg, ByteaOut, CStringArray, CStringOut, DenseArg, DenseOut, Float4Array, Float8Array, Int4Array,
    NumericArray, RecvBuffer, SparseArg, SparseOut,
};
use crate::error::OrRaise;
use crate::types::dense;

#[pg_extern(immutable, strict, parallel_safe)]
fn sparsevec_in(input: &CStr, _typoid: pg_sys::Oid, typmod: i32) -> SparseOut {
    SparseOut::new(text::parse(input.to_bytes(), typmod).or_raise().as_ref()).stored(typmod)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn sparsevec_out(v: SparseArg<'_>) -> CStringOut {
    let mut out = Vec::new();
    text::format_into(&mut out, v.get());
    CStringOut::from_bytes(&out)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn sparsevec_typmod_in(list: ArrayArg<'_, CStringArray>) -> i32 {
    sparse::typmod_from_list(&list.integer_typmods()).or_raise()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn sparsevec_recv(mut buf: RecvBuffer<'_>, _typoid: pg_sys::Oid, typmod: i32) -> SparseOut {
    let (v, used) = binary::decode(buf.remaining(), typmod).or_raise();
    buf.advance(used);
    SparseOut::new(v.as_ref()).stored(typmod)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn sparsevec_send(v: SparseArg<'_>) -> ByteaOut {
    let v = v.get();
    let mut out = ByteaOut::new(binary::wire_size(v.nnz()));
    binary::encode_into(v, out.payload_mut());
    out
}

/// Typmod coercion.
#[pg_extern(immutable, strict, parallel_safe)]
fn sparsevec(v: SparseArg<'_>, typmod: i32, _explicit: bool) -> SparseOut {
    core_dense::check_expected_dims(typmod, v.get().dim as usize).or_raise();
    SparseOut::new(v.get()).stored(typmod)
}

fn from_dense<E: DenseElement>(v: DenseArg<'_, E>, typmod: i32) -> SparseOut {
    core_dense::check_expected_dims(typmod, v.as_slice().len()).or_raise();
    SparseOut::new(sparse::from_dense(v.as_slice()).or_raise().as_ref()).stored(typmod)
}

fn to_dense<E: DenseElement>(v: SparseArg<'_>, typmod: i32) -> DenseOut<E> {
    let v = v.get();
    core_dense::check_dims::<E>(v.dim.max(0) as usize).or_raise();
    core_dense::check_expected_dims(typmod, v.dim as usize).or_raise();
    DenseOut::build(v.dim as usize, |out| sparse::to_dense_into(v, out)).stored(typmod)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_to_sparsevec(v: DenseArg<'_, f32>, typmod: i32, _explicit: bool) -> SparseOut {
    from_dense(v, typmod)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn halfvec_to_sparsevec(v: DenseArg<'_, f16>, typmod: i32, _explicit: bool) -> SparseOut {
    from_dense(v, typmod)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn sparsevec_to_vector(v: SparseArg<'_>, typmod: i32, _explicit: bool) -> DenseOut<f32> {
    to_dense(v, typmod)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn sparsevec_to_halfvec(v: SparseArg<'_>, typmod: i32, _explicit: bool) -> DenseOut<f16> {
    to_dense(v, typmod)
}

/// `array_to_sparsevec`: pgvector's checks in its order, with sparsevec's
/// limits and messages (up to 1,000,000,000 dimensions, 16,000 non-zeros).
fn from_array<M>(arr: ArrayArg<'_, M>, typmod: i32) -> SparseOut {
    let values = dense::array_values(arr, |n| {
        sparse::check_dim(n as i64).or_raise();
        core_dense::check_expected_dims(typmod, n).or_raise();
    });
    let sparse_vector = sparse::from_dense(&values).or_raise();
    sparse_vector.values.iter().try_for_each(|&x| sparse::check_element(x)).or_raise();
    SparseOut::new(sparse_vector.as_ref())
}

#[pg_extern(immutable, strict, parallel_safe, name = "array_to_sparsevec")]
fn sv_from_int4(a: ArrayArg<'_, Int4Array>, typmod: i32, _explicit: bool) -> SparseOut {
    from_array(a, typmod)
}

#[pg_extern(immutable, strict, parallel_safe, name = "array_to_sparsevec")]
fn sv_from_float4(a: ArrayArg<'_, Float4Array>, typmod: i32, _explicit: bool) -> SparseOut {
    from_array(a, typmod)
}

#[pg_extern(immutable, strict, parallel_safe, name = "array_to_sparsevec")]
fn sv_from_float8(a: ArrayArg<'_, Float8Array>, typmod: i32, _explicit: bool) -> SparseOut {
    from_array(a, typmod)
}

#[pg_extern(immutable, strict, parallel_safe, name = "array_to_sparsevec")]
fn sv_from_numeric(a: ArrayArg<'_, NumericArray>, typmod: i32, _explicit: bool) -> SparseOut {
    from_array(a, typmod)
}

fn pair<'a>(a: SparseArg<'a>, b: SparseArg<'a>) -> (SparseRef<'a>, SparseRef<'a>) {
    sparse::check_same_dims(a.get(), b.get()).or_raise();
    (a.get(), b.get())
}

#[pg_extern(immutable, strict, parallel_safe, name = "l2_distance")]
fn sv_l2_distance(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    let (a, b) = pair(a, b);
    (sparse::l2_squared(a, b) as f64).sqrt()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn sparsevec_l2_squared_distance(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    let (a, b) = pair(a, b);
    sparse::l2_squared(a, b) as f64
}

#[pg_extern(immutable, strict, parallel_safe, name = "inner_product")]
fn sv_inner_product(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    let (a, b) = pair(a, b);
    sparse::dot(a, b) as f64
}

#[pg_extern(immutable, strict, parallel_safe)]
fn sparsevec_negative_inner_product(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    -sv_inner_product(a, b)
}

#[pg_extern(immutable, strict, parallel_safe, name = "cosine_distance")]
fn sv_cosine_distance(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    let (a, b) = pair(a, b);
    sparse::cosine_distance(a, b)
}

#[pg_extern(immutable, strict, parallel_safe, name = "l1_distance")]
fn sv_l1_distance(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    let (a, b) = pair(a, b);
    sparse::l1(a, b) as f64
}

#[pg_extern(immutable, strict, parallel_safe, name = "l2_norm")]
fn sv_l2_norm(v: SparseArg<'_>) -> f64 {
    sparse::norm(v.get())
}

#[pg_extern(immutable, strict, parallel_safe, name = "l2_normalize")]
fn sv_l2_normalize(v: SparseArg<'_>) -> SparseOut {
    SparseOut::new(sparse::l2_normalize(v.get()).or_raise().as_ref())
}

fn cmp(a: SparseArg<'_>, b: SparseArg<'_>) -> std::cmp::Ordering {
    sparse::compare(a.get(), b.get())
}

comparison_functions!(sparsevec, SparseArg<'_>, cmp, {
    lt: "sparsevec_lt", le: "sparsevec_le", eq: "sparsevec_eq", ne: "sparsevec_ne",
    ge: "sparsevec_ge", gt: "sparsevec_gt", cmp: "sparsevec_cmp",
});
