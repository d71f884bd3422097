//! State functions of `avg(ruvector)` (a `double precision[]` state of
//! `[count, sums…]`, like pgvector's, so it is parallel-safe with a combine
//! function and needs no serialisation). `sum(ruvector)` reuses `vector_add`.

use pgrx::prelude::*;
use ruvector_core::dense::avg;
use ruvector_core::ErrorKind;

use crate::datum::{RuVector, RuVectorArg};
use crate::error::{raise_kind, OrRaise};

fn state<'a>(arr: &'a Array<'_, f64>, caller: &str) -> &'a [f64] {
    match arr.as_slice() {
        Ok(s) if !s.is_empty() && !arr.contains_nulls() => s,
        _ => raise_kind(ErrorKind::DataException, format!("{caller}: expected state array")),
    }
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_accum(state_arr: Array<'_, f64>, v: RuVectorArg<'_>) -> Vec<f64> {
    avg::accumulate(state(&state_arr, "vector_accum"), v.as_slice()).or_raise()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_combine(a: Array<'_, f64>, b: Array<'_, f64>) -> Vec<f64> {
    avg::combine(state(&a, "vector_combine"), state(&b, "vector_combine")).or_raise()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_avg(state_arr: Array<'_, f64>) -> Option<RuVector> {
    avg::finish(state(&state_arr, "vector_avg")).or_raise().map(|v| RuVector::from_slice(&v))
}
