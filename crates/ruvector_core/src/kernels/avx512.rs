//! AVX-512F kernels: four independent 16-lane accumulators (64 floats per
//! iteration, enough FMAs in flight to cover their latency on two ports), then
//! 16-wide steps, then one masked load for the tail, so no scalar loop runs.
//!
//! Safety: every `unsafe fn` here requires AVX-512F; [`kernels`] hands them out
//! only after `is_x86_feature_detected!("avx512f")` confirmed it. Masked loads
//! never touch memory outside the mask, so the tail reads stay in bounds.

use super::Kernels;
use std::arch::x86_64::*;

pub fn kernels() -> Option<Kernels> {
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

/// Mask selecting the first `rem` (<= 16) lanes.
#[inline]
fn tail_mask(rem: usize) -> __mmask16 {
    ((1u32 << rem) - 1) as __mmask16
}

/// Sum `term(a_chunk, b_chunk, acc)` over both slices; `term` folds one 16-lane
/// chunk into an accumulator. Shared by the single-accumulator kernels.
#[inline(always)]
unsafe fn fold16(a: &[f32], b: &[f32], term: impl Fn(__m512, __m512, __m512) -> __m512) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: full loads read [i, i+16) with i + 16 <= n; the masked load reads
    // only the `n - i` remaining lanes.
    unsafe {
        while i + 64 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = term(_mm512_loadu_ps(pa.add(i + 16 * k)), _mm512_loadu_ps(pb.add(i + 16 * k)), *acc);
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = term(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc[0]);
            i += 16;
        }
        if i < n {
            let m = tail_mask(n - i);
            // Zero lanes contribute nothing to any of the sums below.
            acc[1] = term(_mm512_maskz_loadu_ps(m, pa.add(i)), _mm512_maskz_loadu_ps(m, pb.add(i)), acc[1]);
        }
        _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    unsafe {
        fold16(a, b, |x, y, acc| {
            let d = _mm512_sub_ps(x, y);
            _mm512_fmadd_ps(d, d, acc)
        })
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    unsafe { fold16(a, b, |x, y, acc| _mm512_fmadd_ps(x, y, acc)) }
}

#[target_feature(enable = "avx512f")]
unsafe fn l1(a: &[f32], b: &[f32]) -> f32 {
    unsafe { fold16(a, b, |x, y, acc| _mm512_add_ps(acc, _mm512_abs_ps(_mm512_sub_ps(x, y)))) }
}

#[target_feature(enable = "avx512f")]
unsafe fn cosine_parts(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // Two sets of three accumulators: six independent FMA chains.
    let (mut ab, mut aa, mut bb) = ([_mm512_setzero_ps(); 2], [_mm512_setzero_ps(); 2], [_mm512_setzero_ps(); 2]);
    let mut i = 0;
    // SAFETY: as in fold16.
    unsafe {
        while i + 32 <= n {
            for k in 0..2 {
                let x = _mm512_loadu_ps(pa.add(i + 16 * k));
                let y = _mm512_loadu_ps(pb.add(i + 16 * k));
                ab[k] = _mm512_fmadd_ps(x, y, ab[k]);
                aa[k] = _mm512_fmadd_ps(x, x, aa[k]);
                bb[k] = _mm512_fmadd_ps(y, y, bb[k]);
            }
            i += 32;
        }
        if i < n {
            // At most two more 16-lane steps, the last one masked.
            while i < n {
                let m = tail_mask((n - i).min(16));
                let x = _mm512_maskz_loadu_ps(m, pa.add(i));
                let y = _mm512_maskz_loadu_ps(m, pb.add(i));
                ab[0] = _mm512_fmadd_ps(x, y, ab[0]);
                aa[0] = _mm512_fmadd_ps(x, x, aa[0]);
                bb[0] = _mm512_fmadd_ps(y, y, bb[0]);
                i += 16;
            }
        }
    }
    (
        _mm512_reduce_add_ps(_mm512_add_ps(ab[0], ab[1])),
        _mm512_reduce_add_ps(_mm512_add_ps(aa[0], aa[1])),
        _mm512_reduce_add_ps(_mm512_add_ps(bb[0], bb[1])),
    )
}
