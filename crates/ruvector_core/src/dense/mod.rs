//! The dense vector types — `ruvector` (f32) and `halfvec` (f16) — generic
//! over their element: validation, arithmetic and aggregates.
//!
//! Functions that build a vector write into an output slice the caller
//! allocated (in the extension: palloc'd datum memory), so no intermediate
//! `Vec` is made on those paths. Arithmetic runs in f32 and rounds once to the
//! element type. Checks and messages follow pgvector's, per type.

pub mod binary;
pub mod bytes;
mod element;
pub mod text;

pub use element::DenseElement;

use crate::error::{ErrorKind, Result, VectorError};
use crate::kernels::Scalar;
use crate::layout::MAX_DIM;
use std::cmp::Ordering;

/// A vector must have 1..=MAX_DIM elements.
pub fn check_dims<E: DenseElement>(dims: usize) -> Result<()> {
    if dims < 1 {
        return Err(VectorError::new(ErrorKind::DataException, format!("{} must have at least 1 dimension", E::NOUN)));
    }
    if dims > MAX_DIM {
        return Err(VectorError::new(
            ErrorKind::ProgramLimitExceeded,
            format!("{} cannot have more than {MAX_DIM} dimensions", E::NOUN),
        ));
    }
    Ok(())
}

/// `typmod` is -1 (unconstrained) or the required dimension count.
pub fn check_expected_dims(typmod: i32, dims: usize) -> Result<()> {
    if typmod != -1 && typmod as i64 != dims as i64 {
        return Err(VectorError::new(ErrorKind::DataException, format!("expected {typmod} dimensions, not {dims}")));
    }
    Ok(())
}

pub fn check_same_dims<E: DenseElement>(a: usize, b: usize) -> Result<()> {
    if a != b {
        return Err(VectorError::new(
            ErrorKind::DataException,
            format!("different {} dimensions {a} and {b}", E::NOUN),
        ));
    }
    Ok(())
}

pub fn check_element<E: DenseElement>(x: E) -> Result<()> {
    if x.is_nan() || x.is_infinite() {
        return crate::error::check_finite(x.to_f32(), E::NOUN);
    }
    Ok(())
}

pub fn check_elements<E: DenseElement>(xs: &[E]) -> Result<()> {
    xs.iter().try_for_each(|&x| check_element(x))
}

/// Validate a type modifier list, as `ruvector(n)` in a column type gives it.
pub fn typmod_from_list<E: DenseElement>(mods: &[i32]) -> Result<i32> {
    crate::error::typmod_from_list(mods, E::SQL_NAME, MAX_DIM as i64)
}

fn overflow() -> VectorError {
    VectorError::new(ErrorKind::NumericValueOutOfRange, "value out of range: overflow")
}

fn underflow() -> VectorError {
    VectorError::new(ErrorKind::NumericValueOutOfRange, "value out of range: underflow")
}

/// Convert every element (f32 values, or another dense type) into `out`,
/// with the range error of [`DenseElement::from_f32`] and the finiteness check.
pub fn convert_into<S: Scalar, E: DenseElement>(src: &[S], out: &mut [E]) -> Result<()> {
    assert_eq!(out.len(), src.len(), "caller sizes the output");
    for (o, &x) in out.iter_mut().zip(src) {
        let x = x.to_f32();
        if !x.is_finite() {
            check_element(E::from_f32_unchecked(x))?; // NaN or infinity: say which
        }
        *o = E::from_f32(x)?;
    }
    Ok(())
}

fn elementwise<E: DenseElement>(a: &[E], b: &[E], out: &mut [E], op: impl Fn(f32, f32) -> f32) -> Result<()> {
    check_same_dims::<E>(a.len(), b.len())?;
    assert_eq!(out.len(), a.len(), "caller sizes the output");
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = E::from_f32_unchecked(op(x.to_f32(), y.to_f32()));
    }
    if out.iter().any(|x| x.is_infinite()) {
        return Err(overflow());
    }
    Ok(())
}

pub fn add_into<E: DenseElement>(a: &[E], b: &[E], out: &mut [E]) -> Result<()> {
    elementwise(a, b, out, |x, y| x + y)
}

pub fn sub_into<E: DenseElement>(a: &[E], b: &[E], out: &mut [E]) -> Result<()> {
    elementwise(a, b, out, |x, y| x - y)
}

/// Element-wise product; a non-zero product that rounds to zero is an underflow error.
pub fn mul_into<E: DenseElement>(a: &[E], b: &[E], out: &mut [E]) -> Result<()> {
    elementwise(a, b, out, |x, y| x * y)?;
    for ((&o, &x), &y) in out.iter().zip(a).zip(b) {
        if o.to_f32() == 0.0 && x.to_f32() != 0.0 && y.to_f32() != 0.0 {
            return Err(underflow());
        }
    }
    Ok(())
}

/// Divide by the Euclidean norm; the zero vector stays zero (pgvector's behaviour).
pub fn l2_normalize_into<E: DenseElement>(a: &[E], out: &mut [E]) -> Result<()> {
    assert_eq!(out.len(), a.len(), "caller sizes the output");
    let norm = crate::kernels::norm(a);
    if norm > 0.0 {
        for (o, &x) in out.iter_mut().zip(a) {
            *o = E::from_f32_unchecked((x.to_f32() as f64 / norm) as f32);
        }
        if out.iter().any(|x| x.is_infinite()) {
            return Err(overflow());
        }
    } else {
        out.fill(E::ZERO);
    }
    Ok(())
}

/// Total order used by the btree opclass: element by element, then by length
/// (consistent with PostgreSQL arrays).
pub fn compare<E: DenseElement>(a: &[E], b: &[E]) -> Ordering {
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x.to_f32(), y.to_f32());
        if x < y {
            return Ordering::Less;
        }
        if x > y {
            return Ordering::Greater;
        }
    }
    a.len().cmp(&b.len())
}

/// Sign bits, most significant bit first, as PostgreSQL's `bit(n)` stores them.
pub fn binary_quantize_into<E: DenseElement>(a: &[E], out: &mut [u8]) {
    assert_eq!(out.len(), a.len().div_ceil(8), "caller sizes the output");
    out.fill(0);
    for (i, &x) in a.iter().enumerate() {
        if x.to_f32() > 0.0 {
            out[i / 8] |= 0x80 >> (i % 8);
        }
    }
}

/// The element range `subvector(a, start, count)` selects: 1-based like
/// `substring`, clipped to the vector, at least one element.
pub fn subvector_range<E: DenseElement>(dims: usize, start: i32, count: i32) -> Result<std::ops::Range<usize>> {
    let end = start as i64 + count as i64; // exclusive, 1-based; i64 so it cannot overflow
    let start = (start as i64).max(1);
    let end = end.min(dims as i64 + 1);
    let len = end - start;
    if len < 1 {
        check_dims::<E>(0)?;
    }
    check_dims::<E>(len as usize)?;
    Ok((start - 1) as usize..(end - 1) as usize)
}

/// Dimensions of `a || b`, checked against the limit.
pub fn concat_dims<E: DenseElement>(a: usize, b: usize) -> Result<usize> {
    check_dims::<E>(a + b)?;
    Ok(a + b)
}

/// Running state of `avg(ruvector)` / `avg(halfvec)`: `[count, sum_0, ..]` in
/// f64, exactly the `double precision[]` state pgvector's aggregates use.
pub mod avg {
    use super::*;

    /// Add one vector to `state` (a state of length 1 is the empty initial state).
    pub fn accumulate<E: DenseElement>(state: &[f64], v: &[E]) -> Result<Vec<f64>> {
        let dims = state.len().saturating_sub(1);
        let mut out = Vec::with_capacity(v.len() + 1);
        out.push(state.first().copied().unwrap_or(0.0) + 1.0);
        if dims == 0 {
            out.extend(v.iter().map(|&x| x.to_f32() as f64));
        } else {
            check_expected_dims(dims as i32, v.len())?;
            for (s, &x) in state[1..].iter().zip(v) {
                let sum = s + x.to_f32() as f64;
                if sum.is_infinite() {
                    return Err(overflow());
                }
                out.push(sum);
            }
        }
        Ok(out)
    }

    /// Merge two partial states (parallel aggregation), as pgvector does: by
    /// their dimensions (an empty state has none), checking the limit, with
    /// the counts added.
    pub fn combine(a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
        let (na, nb) = (a.first().copied().unwrap_or(0.0), b.first().copied().unwrap_or(0.0));
        let (da, db) = (a.len().saturating_sub(1), b.len().saturating_sub(1));
        let mut out = if da == 0 && db == 0 {
            vec![0.0]
        } else if da == 0 {
            check_dims::<f32>(db)?;
            b.to_vec()
        } else if db == 0 {
            check_dims::<f32>(da)?;
            a.to_vec()
        } else {
            check_dims::<f32>(da)?;
            check_expected_dims(da as i32, db)?;
            let mut out = Vec::with_capacity(a.len());
            out.push(0.0);
            for (x, y) in a[1..].iter().zip(&b[1..]) {
                let sum = x + y;
                if sum.is_infinite() {
                    return Err(overflow());
                }
                out.push(sum);
            }
            out
        };
        out[0] = na + nb;
        Ok(out)
    }

    /// The mean, or `None` when no rows were aggregated (SQL's AVG of nothing is NULL).
    pub fn finish<E: DenseElement>(state: &[f64]) -> Result<Option<Vec<E>>> {
        let n = state.first().copied().unwrap_or(0.0);
        if n == 0.0 {
            return Ok(None);
        }
        check_dims::<E>(state.len() - 1)?;
        let means: Vec<f32> = state[1..].iter().map(|s| (s / n) as f32).collect();
        let mut out = vec![E::ZERO; means.len()];
        convert_into(&means, &mut out)?;
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    fn h(v: &[f32]) -> Vec<f16> {
        v.iter().map(|&x| f16::from_f32(x)).collect()
    }

    #[test]
    fn arithmetic_and_overflow() {
        let mut out = [0.0f32; 2];
        add_into(&[1.0, 2.0], &[3.0, 4.0], &mut out).unwrap();
        assert_eq!(out, [4.0, 6.0]);
        sub_into(&[1.0, 2.0], &[3.0, 4.0], &mut out).unwrap();
        assert_eq!(out, [-2.0, -2.0]);
        mul_into(&[1.5, 2.0], &[3.0, -4.0], &mut out).unwrap();
        assert_eq!(out, [4.5, -8.0]);
        let e = add_into(&[f32::MAX, 0.0], &[f32::MAX, 0.0], &mut out).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NumericValueOutOfRange);
        assert_eq!(e.message, "value out of range: overflow");
        let e = mul_into(&[1e-30, 1.0], &[1e-30, 1.0], &mut out).unwrap_err();
        assert_eq!(e.message, "value out of range: underflow");
        let e = add_into(&[1.0], &[1.0, 2.0], &mut out[..1]).unwrap_err();
        assert_eq!(e.message, "different vector dimensions 1 and 2");
    }

    #[test]
    fn halfvec_arithmetic_rounds_once_and_overflows_at_65504() {
        let mut out = [f16::ZERO; 2];
        add_into(&h(&[1.0, 2.5]), &h(&[0.5, 0.25]), &mut out).unwrap();
        assert_eq!(out, [f16::from_f32(1.5), f16::from_f32(2.75)]);
        let e = add_into(&h(&[60000.0, 0.0]), &h(&[10000.0, 0.0]), &mut out).unwrap_err();
        assert_eq!(e.message, "value out of range: overflow");
        let e = mul_into(&h(&[1e-4, 1.0]), &h(&[1e-4, 1.0]), &mut out).unwrap_err();
        assert_eq!(e.message, "value out of range: underflow");
        let e = add_into(&h(&[1.0]), &h(&[1.0, 2.0]), &mut out[..1]).unwrap_err();
        assert_eq!(e.message, "different halfvec dimensions 1 and 2");
    }

    #[test]
    fn conversion_to_halfvec() {
        let mut out = [f16::ZERO; 2];
        convert_into(&[1.0f32, 65504.0], &mut out).unwrap();
        assert_eq!(out[1].to_f32(), 65504.0);
        let e = convert_into(&[1.0f32, 70000.0], &mut out).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::NumericValueOutOfRange, "\"70000\" is out of range for type halfvec")
        );
        let e = convert_into(&[f32::NAN, 1.0], &mut out).unwrap_err();
        assert_eq!(e.message, "NaN not allowed in halfvec");
        let e = convert_into(&[f32::INFINITY, 1.0], &mut out).unwrap_err();
        assert_eq!(e.message, "infinite value not allowed in halfvec");
    }

    #[test]
    fn normalize() {
        let mut out = [0.0f32; 2];
        l2_normalize_into(&[3.0, 4.0], &mut out).unwrap();
        assert_eq!(out, [0.6, 0.8]);
        l2_normalize_into(&[0.0, 0.0], &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0]);
        let mut hout = [f16::ZERO; 2];
        l2_normalize_into(&h(&[3.0, 4.0]), &mut hout).unwrap();
        assert_eq!(hout, [f16::from_f32(0.6), f16::from_f32(0.8)]);
    }

    #[test]
    fn ordering_is_elementwise_then_length() {
        assert_eq!(compare::<f32>(&[1.0, 2.0], &[1.0, 3.0]), Ordering::Less);
        assert_eq!(compare::<f32>(&[1.0, 2.0], &[1.0, 2.0]), Ordering::Equal);
        assert_eq!(compare::<f32>(&[1.0, 2.0], &[1.0, 2.0, 0.0]), Ordering::Less);
        assert_eq!(compare::<f32>(&[2.0], &[1.0, 2.0, 0.0]), Ordering::Greater);
        assert_eq!(compare(&h(&[-1.0]), &h(&[-2.0])), Ordering::Greater);
    }

    #[test]
    fn quantize_msb_first() {
        let mut out = [0u8; 2];
        binary_quantize_into::<f32>(&[1.0, -1.0, 0.0, 2.0, 0.5, -3.0, 1.0, 1.0, 7.0], &mut out);
        assert_eq!(out, [0b1001_1011, 0b1000_0000]);
    }

    #[test]
    fn subvector_clips_like_substring() {
        assert_eq!(subvector_range::<f32>(5, 2, 3).unwrap(), 1..4);
        assert_eq!(subvector_range::<f32>(5, -1, 4).unwrap(), 0..2);
        assert_eq!(subvector_range::<f32>(5, 4, 100).unwrap(), 3..5);
        assert!(subvector_range::<f32>(5, 6, 1).is_err());
        assert!(subvector_range::<f32>(5, 1, 0).is_err());
        assert!(subvector_range::<f32>(5, i32::MAX, i32::MAX).is_err());
        assert_eq!(
            subvector_range::<f16>(5, i32::MIN, i32::MAX).unwrap_err().message,
            "halfvec must have at least 1 dimension"
        );
    }

    #[test]
    fn typmods() {
        assert_eq!(typmod_from_list::<f32>(&[3]).unwrap(), 3);
        assert_eq!(typmod_from_list::<f32>(&[16000]).unwrap(), 16000);
        assert_eq!(
            typmod_from_list::<f32>(&[0]).unwrap_err().message,
            "dimensions for type ruvector must be at least 1"
        );
        assert_eq!(
            typmod_from_list::<f16>(&[16001]).unwrap_err().message,
            "dimensions for type halfvec cannot exceed 16000"
        );
        assert_eq!(typmod_from_list::<f32>(&[1, 2]).unwrap_err().kind, ErrorKind::InvalidParameterValue);
    }

    #[test]
    fn average_state_round_trip() {
        let s = avg::accumulate::<f32>(&[0.0], &[1.0, 2.0]).unwrap();
        let s = avg::accumulate::<f32>(&s, &[3.0, 6.0]).unwrap();
        assert_eq!(s, vec![2.0, 4.0, 8.0]);
        let t = avg::accumulate::<f32>(&[0.0], &[5.0, 1.0]).unwrap();
        let c = avg::combine(&s, &t).unwrap();
        assert_eq!(avg::finish::<f32>(&c).unwrap().unwrap(), vec![3.0, 3.0]);
        assert_eq!(avg::finish::<f16>(&c).unwrap().unwrap(), h(&[3.0, 3.0]));
        assert_eq!(avg::finish::<f32>(&[0.0]).unwrap(), None);
        assert_eq!(avg::combine(&[0.0], &t).unwrap(), t);
        assert!(avg::accumulate::<f32>(&s, &[1.0]).is_err());
    }
}
