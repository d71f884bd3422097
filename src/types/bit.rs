//! Distances on PostgreSQL's `bit(n)`: `hamming_distance` (`<~>`) and
//! `jaccard_distance` (`<%>`), as in pgvector, popcount-based
//! (ruvector_core::bits dispatches POPCNT / AVX2).

use pgrx::prelude::*;
use ruvector_core::bits;

use crate::datum::BitArg;
use crate::error::OrRaise;

fn pair<'a>(a: BitArg<'a>, b: BitArg<'a>) -> (&'a [u8], &'a [u8]) {
    bits::check_same_lengths(a.bits, b.bits).or_raise();
    (a.bytes, b.bytes)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn hamming_distance(a: BitArg<'_>, b: BitArg<'_>) -> f64 {
    let (a, b) = pair(a, b);
    bits::hamming(a, b) as f64
}

#[pg_extern(immutable, strict, parallel_safe)]
fn jaccard_distance(a: BitArg<'_>, b: BitArg<'_>) -> f64 {
    let (a, b) = pair(a, b);
    bits::jaccard(a, b)
}
