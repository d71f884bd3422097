//! Element-wise arithmetic, norms, slicing, quantisation and the btree comparison
//! functions of `ruvector`.

use pgrx::prelude::*;
use ruvector_core::{dense, kernels};

use crate::datum::{BitOut, RuVector, RuVectorArg};
use crate::error::OrRaise;

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_dims(v: RuVectorArg<'_>) -> i32 {
    v.as_slice().len() as i32
}

/// Same as `vector_dims`, under this extension's own name.
#[pg_extern(immutable, strict, parallel_safe)]
fn ruvector_dims(v: RuVectorArg<'_>) -> i32 {
    v.as_slice().len() as i32
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_norm(v: RuVectorArg<'_>) -> f64 {
    kernels::norm(v.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe)]
fn l2_normalize(v: RuVectorArg<'_>) -> RuVector {
    let v = v.as_slice();
    RuVector::build(v.len(), |out| dense::l2_normalize_into(v, out))
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_add(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> RuVector {
    let (a, b) = (a.as_slice(), b.as_slice());
    dense::check_same_dims(a.len(), b.len()).or_raise();
    RuVector::build(a.len(), |out| dense::add_into(a, b, out))
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_sub(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> RuVector {
    let (a, b) = (a.as_slice(), b.as_slice());
    dense::check_same_dims(a.len(), b.len()).or_raise();
    RuVector::build(a.len(), |out| dense::sub_into(a, b, out))
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_mul(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> RuVector {
    let (a, b) = (a.as_slice(), b.as_slice());
    dense::check_same_dims(a.len(), b.len()).or_raise();
    RuVector::build(a.len(), |out| dense::mul_into(a, b, out))
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_concat(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> RuVector {
    let (a, b) = (a.as_slice(), b.as_slice());
    let dims = dense::concat_dims(a.len(), b.len()).or_raise();
    RuVector::build(dims, |out| {
        out[..a.len()].copy_from_slice(a);
        out[a.len()..].copy_from_slice(b);
        Ok(())
    })
}

#[pg_extern(immutable, strict, parallel_safe)]
fn subvector(v: RuVectorArg<'_>, start: i32, count: i32) -> RuVector {
    let v = v.as_slice();
    let range = dense::subvector_range(v.len(), start, count).or_raise();
    RuVector::from_slice(&v[range])
}

#[pg_extern(immutable, strict, parallel_safe)]
fn binary_quantize(v: RuVectorArg<'_>) -> BitOut {
    let v = v.as_slice();
    let mut out = BitOut::new(v.len());
    dense::binary_quantize_into(v, out.payload_mut());
    out
}

fn cmp(a: &RuVectorArg<'_>, b: &RuVectorArg<'_>) -> std::cmp::Ordering {
    dense::compare(a.as_slice(), b.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_lt(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> bool {
    cmp(&a, &b).is_lt()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_le(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> bool {
    cmp(&a, &b).is_le()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_eq(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> bool {
    cmp(&a, &b).is_eq()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_ne(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> bool {
    cmp(&a, &b).is_ne()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_ge(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> bool {
    cmp(&a, &b).is_ge()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_gt(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> bool {
    cmp(&a, &b).is_gt()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_cmp(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> i32 {
    cmp(&a, &b) as i32
}
