//! The `ruvector` type (float4 elements): I/O, typmod, binary wire format and casts.
//! Function names follow pgvector's, with the type's own name where pgvector
//! uses `vector` as a prefix for I/O.

use core::ffi::CStr;

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::dense::{self, binary, text};
use ruvector_core::ErrorKind;

use crate::datum::{
    ArrayArg, ByteaOut, CStringArray, CStringOut, Float4Array, Float8Array, Int4Array, NumericArray,
    RecvBuffer, RuVector, RuVectorArg, numeric_datum_to_f32,
};
use crate::error::{raise_kind, OrRaise};

#[pg_extern(immutable, strict, parallel_safe)]
fn ruvector_in(input: &CStr, _typoid: pg_sys::Oid, typmod: i32) -> RuVector {
    RuVector::from_slice(&text::parse(input.to_bytes(), typmod).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe)]
fn ruvector_out(v: RuVectorArg<'_>) -> CStringOut {
    let mut out = Vec::new();
    text::format_into(&mut out, v.as_slice());
    CStringOut::from_bytes(&out)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn ruvector_typmod_in(list: ArrayArg<'_, CStringArray>) -> i32 {
    dense::typmod_from_list(&list.integer_typmods()).or_raise()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn ruvector_recv(mut buf: RecvBuffer<'_>, _typoid: pg_sys::Oid, typmod: i32) -> RuVector {
    let (data, used) = binary::decode(buf.remaining(), typmod).or_raise();
    buf.advance(used);
    RuVector::from_slice(&data)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn ruvector_send(v: RuVectorArg<'_>) -> ByteaOut {
    let v = v.as_slice();
    let mut out = ByteaOut::new(binary::wire_size(v.len()));
    binary::encode_into(v, out.payload_mut());
    out
}

/// Typmod coercion `ruvector -> ruvector(n)`, used for casts and assignment.
#[pg_extern(immutable, strict, parallel_safe)]
fn ruvector(v: RuVectorArg<'_>, typmod: i32, _explicit: bool) -> RuVector {
    dense::check_expected_dims(typmod, v.as_slice().len()).or_raise();
    RuVector::from_slice(v.as_slice())
}

/// Shared by the `array_to_vector` overloads: pgvector's checks, in its order.
fn array_to_ruvector<M>(arr: &ArrayArg<'_, M>, typmod: i32) -> RuVector {
    if arr.ndim() > 1 {
        raise_kind(ErrorKind::DataException, "array must be 1-D");
    }
    if arr.has_nulls() {
        raise_kind(ErrorKind::NullValueNotAllowed, "array must not contain nulls");
    }
    let datums = arr.datums();
    dense::check_dims(datums.len()).or_raise();
    dense::check_expected_dims(typmod, datums.len()).or_raise();
    let elem = arr.elem_type();
    RuVector::build(datums.len(), |out| {
        for (o, d) in out.iter_mut().zip(&datums) {
            *o = match elem {
                pg_sys::INT4OID => d.value() as i32 as f32,
                pg_sys::FLOAT4OID => f32::from_bits(d.value() as u32),
                pg_sys::FLOAT8OID => f64::from_bits(d.value() as u64) as f32,
                pg_sys::NUMERICOID => numeric_datum_to_f32(*d),
                _ => raise_kind(ErrorKind::DataException, "unsupported array type"),
            };
        }
        dense::check_elements(out)
    })
}

#[pg_extern(immutable, strict, parallel_safe, name = "array_to_vector")]
fn array_to_vector_int4(arr: ArrayArg<'_, Int4Array>, typmod: i32, _explicit: bool) -> RuVector {
    array_to_ruvector(&arr, typmod)
}

#[pg_extern(immutable, strict, parallel_safe, name = "array_to_vector")]
fn array_to_vector_float4(arr: ArrayArg<'_, Float4Array>, typmod: i32, _explicit: bool) -> RuVector {
    array_to_ruvector(&arr, typmod)
}

#[pg_extern(immutable, strict, parallel_safe, name = "array_to_vector")]
fn array_to_vector_float8(arr: ArrayArg<'_, Float8Array>, typmod: i32, _explicit: bool) -> RuVector {
    array_to_ruvector(&arr, typmod)
}

#[pg_extern(immutable, strict, parallel_safe, name = "array_to_vector")]
fn array_to_vector_numeric(arr: ArrayArg<'_, NumericArray>, typmod: i32, _explicit: bool) -> RuVector {
    array_to_ruvector(&arr, typmod)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_to_float4(v: RuVectorArg<'_>, _typmod: i32, _explicit: bool) -> Vec<f32> {
    v.as_slice().to_vec()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn vector_to_float8(v: RuVectorArg<'_>, _typmod: i32, _explicit: bool) -> Vec<f64> {
    v.as_slice().iter().map(|&x| x as f64).collect()
}
