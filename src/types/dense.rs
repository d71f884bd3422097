//! The dense vector types (`ruvector`, `halfvec`): generic implementations of
//! their SQL functions, and [`dense_sql_functions!`], which declares them for
//! one element type under that type's pgvector names.

use core::ffi::CStr;

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::dense::{self, avg, binary, text, DenseElement};
use ruvector_core::index::kind::Metric;
use ruvector_core::{kernels, ErrorKind};

use crate::datum::{
    numeric_datum_to_f32, ArrayArg, BitOut, ByteaOut, CStringArray, CStringOut, DenseArg, DenseOut, Float8Array,
    RecvBuffer,
};
use crate::error::{raise_kind, OrRaise};

pub fn input<E: DenseElement>(input: &CStr, typmod: i32) -> DenseOut<E> {
    DenseOut::from_slice(&text::parse::<E>(input.to_bytes(), typmod).or_raise()).stored(typmod)
}

pub fn output<E: DenseElement>(v: DenseArg<'_, E>) -> CStringOut {
    let mut out = Vec::new();
    text::format_into(&mut out, v.as_slice());
    CStringOut::from_bytes(&out)
}

pub fn typmod_in<E: DenseElement>(list: ArrayArg<'_, CStringArray>) -> i32 {
    dense::typmod_from_list::<E>(&list.integer_typmods()).or_raise()
}

pub fn recv<E: DenseElement>(mut buf: RecvBuffer<'_>, typmod: i32) -> DenseOut<E> {
    let msg = buf.remaining();
    let (dims, used) = binary::decode_header::<E>(msg, typmod).or_raise();
    let out = DenseOut::build(dims, |out| binary::decode_body(&msg[4..used], out));
    buf.advance(used);
    out.stored(typmod)
}

pub fn send<E: DenseElement>(v: DenseArg<'_, E>) -> ByteaOut {
    let v = v.as_slice();
    let mut out = ByteaOut::new(binary::wire_size::<E>(v.len()));
    binary::encode_into(v, out.payload_mut());
    out
}

/// Typmod coercion (`x::ruvector(3)`, assignment to a `halfvec(3)` column).
pub fn coerce<E: DenseElement>(v: DenseArg<'_, E>, typmod: i32) -> DenseOut<E> {
    dense::check_expected_dims(typmod, v.as_slice().len()).or_raise();
    DenseOut::from_slice(v.as_slice()).stored(typmod)
}

/// Convert between dense types (or to the same one), checking range and typmod.
pub fn convert<S: DenseElement, E: DenseElement>(v: DenseArg<'_, S>, typmod: i32) -> DenseOut<E> {
    let v = v.as_slice();
    dense::check_dims::<E>(v.len()).or_raise();
    dense::check_expected_dims(typmod, v.len()).or_raise();
    DenseOut::build(v.len(), |out| dense::convert_into(v, out)).stored(typmod)
}

/// The elements of an array cast to a vector type, as f32, after pgvector's
/// checks in its order; `check_len(n)` runs between the shape checks and the
/// reading of the elements (each type's dimension checks, with its names).
pub fn array_values<M>(arr: ArrayArg<'_, M>, check_len: impl FnOnce(usize)) -> Vec<f32> {
    if arr.ndim() > 1 {
        raise_kind(ErrorKind::DataException, "array must be 1-D");
    }
    if arr.has_nulls() {
        raise_kind(ErrorKind::NullValueNotAllowed, "array must not contain nulls");
    }
    let datums = arr.datums();
    check_len(datums.len());
    let elem = arr.elem_type();
    datums
        .iter()
        .map(|d| match elem {
            pg_sys::INT4OID => d.value() as i32 as f32,
            pg_sys::FLOAT4OID => f32::from_bits(d.value() as u32),
            pg_sys::FLOAT8OID => f64::from_bits(d.value() as u64) as f32,
            pg_sys::NUMERICOID => numeric_datum_to_f32(*d),
            _ => raise_kind(ErrorKind::DataException, "unsupported array type"),
        })
        .collect()
}

/// `array_to_vector` / `array_to_halfvec`: pgvector's checks, in its order.
pub fn from_array<E: DenseElement, M>(arr: ArrayArg<'_, M>, typmod: i32) -> DenseOut<E> {
    let values = array_values(arr, |n| {
        dense::check_dims::<E>(n).or_raise();
        dense::check_expected_dims(typmod, n).or_raise();
    });
    DenseOut::build(values.len(), |out| dense::convert_into(&values, out)).stored(typmod)
}

pub fn to_float4<E: DenseElement>(v: DenseArg<'_, E>) -> Vec<f32> {
    v.as_slice().iter().map(|&x| kernels::Scalar::to_f32(x)).collect()
}

#[inline]
fn pair<'a, E: DenseElement>(a: DenseArg<'a, E>, b: DenseArg<'a, E>) -> (&'a [E], &'a [E]) {
    let (a, b) = (a.as_slice(), b.as_slice());
    dense::check_same_dims::<E>(a.len(), b.len()).or_raise();
    (a, b)
}

pub fn l2_distance<E: DenseElement>(a: DenseArg<'_, E>, b: DenseArg<'_, E>) -> f64 {
    let (a, b) = pair(a, b);
    Metric::L2.sql_distance(a, b)
}

pub fn l2_squared_distance<E: DenseElement>(a: DenseArg<'_, E>, b: DenseArg<'_, E>) -> f64 {
    let (a, b) = pair(a, b);
    kernels::l2_squared(a, b) as f64
}

pub fn inner_product<E: DenseElement>(a: DenseArg<'_, E>, b: DenseArg<'_, E>) -> f64 {
    let (a, b) = pair(a, b);
    kernels::dot(a, b) as f64
}

pub fn negative_inner_product<E: DenseElement>(a: DenseArg<'_, E>, b: DenseArg<'_, E>) -> f64 {
    let (a, b) = pair(a, b);
    Metric::InnerProduct.sql_distance(a, b)
}

pub fn cosine_distance<E: DenseElement>(a: DenseArg<'_, E>, b: DenseArg<'_, E>) -> f64 {
    let (a, b) = pair(a, b);
    Metric::Cosine.sql_distance(a, b)
}

/// Angular distance for spherical k-means (inputs assumed unit length), as in pgvector.
pub fn spherical_distance<E: DenseElement>(a: DenseArg<'_, E>, b: DenseArg<'_, E>) -> f64 {
    inner_product(a, b).clamp(-1.0, 1.0).acos() / std::f64::consts::PI
}

pub fn l1_distance<E: DenseElement>(a: DenseArg<'_, E>, b: DenseArg<'_, E>) -> f64 {
    let (a, b) = pair(a, b);
    Metric::L1.sql_distance(a, b)
}

pub fn dims<E: DenseElement>(v: DenseArg<'_, E>) -> i32 {
    v.as_slice().len() as i32
}

pub fn norm<E: DenseElement>(v: DenseArg<'_, E>) -> f64 {
    kernels::norm(v.as_slice())
}

pub fn l2_normalize<E: DenseElement>(v: DenseArg<'_, E>) -> DenseOut<E> {
    let v = v.as_slice();
    DenseOut::build(v.len(), |out| dense::l2_normalize_into(v, out))
}

type Elementwise<E> = fn(&[E], &[E], &mut [E]) -> Result<(), ruvector_core::VectorError>;

pub fn elementwise<E: DenseElement>(a: DenseArg<'_, E>, b: DenseArg<'_, E>, op: Elementwise<E>) -> DenseOut<E> {
    let (a, b) = pair(a, b);
    DenseOut::build(a.len(), |out| op(a, b, out))
}

pub fn concat<E: DenseElement>(a: DenseArg<'_, E>, b: DenseArg<'_, E>) -> DenseOut<E> {
    let (a, b) = (a.as_slice(), b.as_slice());
    let dims = dense::concat_dims::<E>(a.len(), b.len()).or_raise();
    DenseOut::build(dims, |out| {
        out[..a.len()].copy_from_slice(a);
        out[a.len()..].copy_from_slice(b);
        Ok(())
    })
}

pub fn subvector<E: DenseElement>(v: DenseArg<'_, E>, start: i32, count: i32) -> DenseOut<E> {
    let v = v.as_slice();
    let range = dense::subvector_range::<E>(v.len(), start, count).or_raise();
    DenseOut::from_slice(&v[range])
}

pub fn binary_quantize<E: DenseElement>(v: DenseArg<'_, E>) -> BitOut {
    let v = v.as_slice();
    let mut out = BitOut::new(v.len());
    dense::binary_quantize_into(v, out.payload_mut());
    out
}

pub fn cmp<E: DenseElement>(a: DenseArg<'_, E>, b: DenseArg<'_, E>) -> std::cmp::Ordering {
    dense::compare(a.as_slice(), b.as_slice())
}

/// An `avg` state array (pgvector's check: one dimension, at least one
/// element, no NULLs, `double precision`).
pub type StateArg<'a> = ArrayArg<'a, Float8Array>;

fn state<'a>(arr: &'a StateArg<'_>, caller: &str) -> &'a [f64] {
    arr.float8_vector()
        .unwrap_or_else(|| raise_kind(ErrorKind::DataException, format!("{caller}: expected state array")))
}

pub fn accum<E: DenseElement>(state_arr: StateArg<'_>, v: DenseArg<'_, E>, caller: &str) -> Vec<f64> {
    avg::accumulate(state(&state_arr, caller), v.as_slice()).or_raise()
}

pub fn average<E: DenseElement>(state_arr: StateArg<'_>, caller: &str) -> Option<DenseOut<E>> {
    avg::finish::<E>(state(&state_arr, caller)).or_raise().map(|v| DenseOut::from_slice(&v))
}

/// Combines `avg` states of either dense type (pgvector shares it too).
#[pg_extern(immutable, strict, parallel_safe)]
fn vector_combine(a: StateArg<'_>, b: StateArg<'_>) -> Vec<f64> {
    avg::combine(state(&a, "vector_combine"), state(&b, "vector_combine")).or_raise()
}

/// Declare the SQL functions of one dense type. `$p` prefixes the Rust names
/// (which become the C symbols); the string literals are the SQL names.
macro_rules! dense_sql_functions {
    ($p:ident, $E:ty, {
        in: $in:tt, out: $out:tt, typmod_in: $typmod_in:tt, recv: $recv:tt, send: $send:tt,
        coerce: $coerce:tt, array_to: $array_to:tt, to_float4: $to_float4:tt,
        l2_squared: $l2sq:tt, negative_inner_product: $nip:tt, spherical: $sph:tt, norm: $norm:tt,
        add: $add:tt, sub: $sub:tt, mul: $mul:tt, concat: $concat:tt,
        lt: $lt:tt, le: $le:tt, eq: $eq:tt, ne: $ne:tt, ge: $ge:tt, gt: $gt:tt, cmp: $cmp:tt,
        accum: $accum:tt, avg: $avg:tt $(,)?
    }) => { paste::paste! {
        use core::ffi::CStr;
        use pgrx::pg_sys;
        use pgrx::prelude::*;
        use ruvector_core::dense as core_dense;
        use $crate::datum::{
            ArrayArg, BitOut, ByteaOut, CStringArray, CStringOut, DenseArg, DenseOut, Float4Array, Float8Array,
            Int4Array, NumericArray, RecvBuffer,
        };
        use $crate::types::dense;

        type A<'a> = DenseArg<'a, $E>;

        #[pg_extern(immutable, strict, parallel_safe, name = $in)]
        fn [<$p _in>](input: &CStr, _typoid: pg_sys::Oid, typmod: i32) -> DenseOut<$E> { dense::input(input, typmod) }
        #[pg_extern(immutable, strict, parallel_safe, name = $out)]
        fn [<$p _out>](v: A<'_>) -> CStringOut { dense::output(v) }
        #[pg_extern(immutable, strict, parallel_safe, name = $typmod_in)]
        fn [<$p _typmod_in>](list: ArrayArg<'_, CStringArray>) -> i32 { dense::typmod_in::<$E>(list) }
        #[pg_extern(immutable, strict, parallel_safe, name = $recv)]
        fn [<$p _recv>](buf: RecvBuffer<'_>, _typoid: pg_sys::Oid, typmod: i32) -> DenseOut<$E> { dense::recv(buf, typmod) }
        #[pg_extern(immutable, strict, parallel_safe, name = $send)]
        fn [<$p _send>](v: A<'_>) -> ByteaOut { dense::send(v) }
        #[pg_extern(immutable, strict, parallel_safe, name = $coerce)]
        fn [<$p _coerce>](v: A<'_>, typmod: i32, _explicit: bool) -> DenseOut<$E> { dense::coerce(v, typmod) }

        #[pg_extern(immutable, strict, parallel_safe, name = $array_to)]
        fn [<$p _from_int4>](a: ArrayArg<'_, Int4Array>, typmod: i32, _explicit: bool) -> DenseOut<$E> { dense::from_array(a, typmod) }
        #[pg_extern(immutable, strict, parallel_safe, name = $array_to)]
        fn [<$p _from_float4>](a: ArrayArg<'_, Float4Array>, typmod: i32, _explicit: bool) -> DenseOut<$E> { dense::from_array(a, typmod) }
        #[pg_extern(immutable, strict, parallel_safe, name = $array_to)]
        fn [<$p _from_float8>](a: ArrayArg<'_, Float8Array>, typmod: i32, _explicit: bool) -> DenseOut<$E> { dense::from_array(a, typmod) }
        #[pg_extern(immutable, strict, parallel_safe, name = $array_to)]
        fn [<$p _from_numeric>](a: ArrayArg<'_, NumericArray>, typmod: i32, _explicit: bool) -> DenseOut<$E> { dense::from_array(a, typmod) }
        #[pg_extern(immutable, strict, parallel_safe, name = $to_float4)]
        fn [<$p _to_float4>](v: A<'_>, _typmod: i32, _explicit: bool) -> Vec<f32> { dense::to_float4(v) }

        #[pg_extern(immutable, strict, parallel_safe, name = "l2_distance")]
        fn [<$p _l2_distance>](a: A<'_>, b: A<'_>) -> f64 { dense::l2_distance(a, b) }
        #[pg_extern(immutable, strict, parallel_safe, name = $l2sq)]
        fn [<$p _l2_squared_distance>](a: A<'_>, b: A<'_>) -> f64 { dense::l2_squared_distance(a, b) }
        #[pg_extern(immutable, strict, parallel_safe, name = "inner_product")]
        fn [<$p _inner_product>](a: A<'_>, b: A<'_>) -> f64 { dense::inner_product(a, b) }
        #[pg_extern(immutable, strict, parallel_safe, name = $nip)]
        fn [<$p _negative_inner_product>](a: A<'_>, b: A<'_>) -> f64 { dense::negative_inner_product(a, b) }
        #[pg_extern(immutable, strict, parallel_safe, name = "cosine_distance")]
        fn [<$p _cosine_distance>](a: A<'_>, b: A<'_>) -> f64 { dense::cosine_distance(a, b) }
        #[pg_extern(immutable, strict, parallel_safe, name = $sph)]
        fn [<$p _spherical_distance>](a: A<'_>, b: A<'_>) -> f64 { dense::spherical_distance(a, b) }
        #[pg_extern(immutable, strict, parallel_safe, name = "l1_distance")]
        fn [<$p _l1_distance>](a: A<'_>, b: A<'_>) -> f64 { dense::l1_distance(a, b) }

        #[pg_extern(immutable, strict, parallel_safe, name = "vector_dims")]
        fn [<$p _dims>](v: A<'_>) -> i32 { dense::dims(v) }
        #[pg_extern(immutable, strict, parallel_safe, name = $norm)]
        fn [<$p _norm>](v: A<'_>) -> f64 { dense::norm(v) }
        #[pg_extern(immutable, strict, parallel_safe, name = "l2_normalize")]
        fn [<$p _l2_normalize>](v: A<'_>) -> DenseOut<$E> { dense::l2_normalize(v) }
        #[pg_extern(immutable, strict, parallel_safe, name = "binary_quantize")]
        fn [<$p _binary_quantize>](v: A<'_>) -> BitOut { dense::binary_quantize(v) }
        #[pg_extern(immutable, strict, parallel_safe, name = "subvector")]
        fn [<$p _subvector>](v: A<'_>, start: i32, count: i32) -> DenseOut<$E> { dense::subvector(v, start, count) }

        #[pg_extern(immutable, strict, parallel_safe, name = $add)]
        fn [<$p _add>](a: A<'_>, b: A<'_>) -> DenseOut<$E> { dense::elementwise(a, b, core_dense::add_into) }
        #[pg_extern(immutable, strict, parallel_safe, name = $sub)]
        fn [<$p _sub>](a: A<'_>, b: A<'_>) -> DenseOut<$E> { dense::elementwise(a, b, core_dense::sub_into) }
        #[pg_extern(immutable, strict, parallel_safe, name = $mul)]
        fn [<$p _mul>](a: A<'_>, b: A<'_>) -> DenseOut<$E> { dense::elementwise(a, b, core_dense::mul_into) }
        #[pg_extern(immutable, strict, parallel_safe, name = $concat)]
        fn [<$p _concat>](a: A<'_>, b: A<'_>) -> DenseOut<$E> { dense::concat(a, b) }

        comparison_functions!($p, A<'_>, dense::cmp, { lt: $lt, le: $le, eq: $eq, ne: $ne, ge: $ge, gt: $gt, cmp: $cmp });

        #[pg_extern(immutable, strict, parallel_safe, name = $accum)]
        fn [<$p _accum>](state: dense::StateArg<'_>, v: A<'_>) -> Vec<f64> { dense::accum(state, v, $accum) }
        #[pg_extern(immutable, strict, parallel_safe, name = $avg)]
        fn [<$p _avg>](state: dense::StateArg<'_>) -> Option<DenseOut<$E>> { dense::average(state, $avg) }
    }};
}
