//! Distance functions behind the `<->`, `<#>`, `<=>` and `<+>` operators.
//! Elements are borrowed in place and handed to the dispatched SIMD kernels.

use pgrx::prelude::*;
use ruvector_core::{dense, kernels};

use crate::datum::RuVectorArg;
use crate::error::OrRaise;

#[inline]
fn pair<'a>(a: &RuVectorArg<'a>, b: &RuVectorArg<'a>) -> (&'a [f32], &'a [f32]) {
    let (a, b) = (a.as_slice(), b.as_slice());
    dense::check_same_dims(a.len(), b.len()).or_raise();
    (a, b)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn l2_distance(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> f64 {
    let (a, b) = pair(&a, &b);
    (kernels::l2_squared(a, b) as f64).sqrt()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_l2_squared_distance(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> f64 {
    let (a, b) = pair(&a, &b);
    kernels::l2_squared(a, b) as f64
}

#[pg_extern(immutable, strict, parallel_safe)]
fn inner_product(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> f64 {
    let (a, b) = pair(&a, &b);
    kernels::dot(a, b) as f64
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_negative_inner_product(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> f64 {
    let (a, b) = pair(&a, &b);
    -(kernels::dot(a, b) as f64)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn cosine_distance(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> f64 {
    let (a, b) = pair(&a, &b);
    kernels::cosine_distance(a, b)
}

/// Angular distance for spherical k-means (inputs assumed unit length), as in pgvector.
#[pg_extern(immutable, strict, parallel_safe)]
fn vector_spherical_distance(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> f64 {
    let (a, b) = pair(&a, &b);
    ((kernels::dot(a, b) as f64).clamp(-1.0, 1.0)).acos() / std::f64::consts::PI
}

#[pg_extern(immutable, strict, parallel_safe)]
fn l1_distance(a: RuVectorArg<'_>, b: RuVectorArg<'_>) -> f64 {
    let (a, b) = pair(&a, &b);
    kernels::l1(a, b) as f64
}
