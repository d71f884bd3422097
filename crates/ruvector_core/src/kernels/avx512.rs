//! AVX-512F kernels: four independent 16-lane accumulators (64 elements per
//! iteration, enough FMAs in flight to cover their latency on two ports), then
//! 16-wide steps, then one masked (f32) or zero-padded (f16) load for the tail,
//! so no scalar loop runs. Generic over the stored element through [`Load16`]:
//! f32 loads directly, f16 widens with `vcvtph2ps`.
//!
//! Safety: every `unsafe fn` here requires AVX-512F; [`kernels`] hands them out
//! only after `is_x86_feature_detected!("avx512f")` confirmed it. Masked loads
//! never touch memory outside the mask, so tail reads stay in bounds.

use super::{Kernels, Scalar};
use half::f16;
use std::arch::x86_64::*;

/// Loading sixteen elements of `Self` as sixteen f32 lanes.
pub trait Load16: Scalar {
    /// # Safety
    /// `p` must point to 16 readable elements; the CPU must have AVX-512F.
    unsafe fn load16(p: *const Self) -> __m512;

    /// The `s.len()` (< 16) elements of `s` in the low lanes, zeros above.
    /// # Safety
    /// The CPU must have AVX-512F.
    unsafe fn load16_tail(s: &[Self]) -> __m512;
}

impl Load16 for f32 {
    #[inline(always)]
    unsafe fn load16(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }

    #[inline(always)]
    unsafe fn load16_tail(s: &[f32]) -> __m512 {
        let mask = ((1u32 << s.len()) - 1) as __mmask16;
        unsafe { _mm512_maskz_loadu_ps(mask, s.as_ptr()) }
    }
}

impl Load16 for f16 {
    #[inline(always)]
    unsafe fn load16(p: *const f16) -> __m512 {
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }

    #[inline(always)]
    unsafe fn load16_tail(s: &[f16]) -> __m512 {
        let mut buf = [f16::ZERO; 16];
        buf[..s.len()].copy_from_slice(s);
        unsafe { Self::load16(buf.as_ptr()) }
    }
}

pub fn kernels<T: Load16>() -> Option<Kernels<T>> {
    if !is_x86_feature_detected!("avx512f") {
        return None;
    }
    // SAFETY (all four closures): the feature was detected just above.
    Some(Kernels {
        isa: "avx512f",
        l2_squared: |a, b| unsafe { l2_squared(a, b) },
        dot: |a, b| unsafe { dot(a, b) },
        cosine_parts: |a, b| unsafe { cosine_parts(a, b) },
        l1: |a, b| unsafe { l1(a, b) },
    })
}

/// Fold `term(a_lanes, b_lanes, acc)` over both slices.
#[inline(always)]
unsafe fn fold16<T: Load16>(a: &[T], b: &[T], term: impl Fn(__m512, __m512, __m512) -> __m512) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY: full loads read [i, i+16) with i + 16 <= n; the tail load reads
    // only the `n - i` remaining elements.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = term(T::load16(pa.add(i + 16 * k)), T::load16(pb.add(i + 16 * k)), *acc);
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = term(T::load16(pa.add(i)), T::load16(pb.add(i)), acc[0]);
            i += 16;
        }
        if i < n {
            acc[1] = term(T::load16_tail(&a[i..n]), T::load16_tail(&b[i..n]), acc[1]);
        }
        _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn l2_squared<T: Load16>(a: &[T], b: &[T]) -> f32 {
    unsafe {
        fold16(a, b, |x, y, acc| {
            let d = _mm512_sub_ps(x, y);
            _mm512_fmadd_ps(d, d, acc)
        })
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn dot<T: Load16>(a: &[T], b: &[T]) -> f32 {
    unsafe { fold16(a, b, |x, y, acc| _mm512_fmadd_ps(x, y, acc)) }
}

#[target_feature(enable = "avx512f")]
unsafe fn l1<T: Load16>(a: &[T], b: &[T]) -> f32 {
    unsafe { fold16(a, b, |x, y, acc| _mm512_add_ps(acc, _mm512_abs_ps(_mm512_sub_ps(x, y)))) }
}

#[target_feature(enable = "avx512f")]
unsafe fn cosine_parts<T: Load16>(a: &[T], b: &[T]) -> (f32, f32, f32) {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // Two sets of three accumulators: six independent FMA chains.
    let (mut ab, mut aa, mut bb) = ([_mm512_setzero_ps(); 2], [_mm512_setzero_ps(); 2], [_mm512_setzero_ps(); 2]);
    let mut step = |k: usize, x: __m512, y: __m512| {
        ab[k] = _mm512_fmadd_ps(x, y, ab[k]);
        aa[k] = _mm512_fmadd_ps(x, x, aa[k]);
        bb[k] = _mm512_fmadd_ps(y, y, bb[k]);
    };
    let mut i = 0;
    // SAFETY: as in fold16.
    unsafe {
        while i + 32 <= n {
            step(0, T::load16(pa.add(i)), T::load16(pb.add(i)));
            step(1, T::load16(pa.add(i + 16)), T::load16(pb.add(i + 16)));
            i += 32;
        }
        if i + 16 <= n {
            step(0, T::load16(pa.add(i)), T::load16(pb.add(i)));
            i += 16;
        }
        if i < n {
            step(1, T::load16_tail(&a[i..n]), T::load16_tail(&b[i..n]));
        }
    }
    (
        _mm512_reduce_add_ps(_mm512_add_ps(ab[0], ab[1])),
        _mm512_reduce_add_ps(_mm512_add_ps(aa[0], aa[1])),
        _mm512_reduce_add_ps(_mm512_add_ps(bb[0], bb[1])),
    )
}
