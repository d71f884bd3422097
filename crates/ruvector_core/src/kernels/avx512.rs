//! AVX-512F kernels: two 16-lane accumulators (32 floats per iteration) and a
//! masked load for the tail, so no scalar loop runs at all.
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

/// Mask selecting the first `rem` (< 16) lanes.
#[inline]
fn tail_mask(rem: usize) -> __mmask16 {
    ((1u32 << rem) - 1) as __mmask16
}

#[target_feature(enable = "avx512f")]
unsafe fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut acc0, mut acc1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // SAFETY: full loads read [i, i+16) with i + 16 <= n; the masked load reads
    // only the `n - i` remaining lanes.
    unsafe {
        while i + 32 <= n {
            let d0 = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
            let d1 = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i + 16)), _mm512_loadu_ps(pb.add(i + 16)));
            acc0 = _mm512_fmadd_ps(d0, d0, acc0);
            acc1 = _mm512_fmadd_ps(d1, d1, acc1);
            i += 32;
        }
        if i + 16 <= n {
            let d = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
            acc0 = _mm512_fmadd_ps(d, d, acc0);
            i += 16;
        }
        if i < n {
            let m = tail_mask(n - i);
            let d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, pa.add(i)), _mm512_maskz_loadu_ps(m, pb.add(i)));
            acc1 = _mm512_fmadd_ps(d, d, acc1);
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
}

#[target_feature(enable = "avx512f")]
unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut acc0, mut acc1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // SAFETY: as in l2_squared.
    unsafe {
        while i + 32 <= n {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i + 16)), _mm512_loadu_ps(pb.add(i + 16)), acc1);
            i += 32;
        }
        if i + 16 <= n {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc0);
            i += 16;
        }
        if i < n {
            let m = tail_mask(n - i);
            acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, pa.add(i)), _mm512_maskz_loadu_ps(m, pb.add(i)), acc1);
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
}

#[target_feature(enable = "avx512f")]
unsafe fn cosine_parts(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut ab, mut aa, mut bb) = (_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // SAFETY: as in l2_squared.
    unsafe {
        while i + 16 <= n {
            let x = _mm512_loadu_ps(pa.add(i));
            let y = _mm512_loadu_ps(pb.add(i));
            ab = _mm512_fmadd_ps(x, y, ab);
            aa = _mm512_fmadd_ps(x, x, aa);
            bb = _mm512_fmadd_ps(y, y, bb);
            i += 16;
        }
        if i < n {
            let m = tail_mask(n - i);
            let x = _mm512_maskz_loadu_ps(m, pa.add(i));
            let y = _mm512_maskz_loadu_ps(m, pb.add(i));
            ab = _mm512_fmadd_ps(x, y, ab);
            aa = _mm512_fmadd_ps(x, x, aa);
            bb = _mm512_fmadd_ps(y, y, bb);
        }
    }
    (_mm512_reduce_add_ps(ab), _mm512_reduce_add_ps(aa), _mm512_reduce_add_ps(bb))
}

#[target_feature(enable = "avx512f")]
unsafe fn l1(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut acc0, mut acc1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // SAFETY: as in l2_squared.
    unsafe {
        while i + 32 <= n {
            let d0 = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
            let d1 = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i + 16)), _mm512_loadu_ps(pb.add(i + 16)));
            acc0 = _mm512_add_ps(acc0, _mm512_abs_ps(d0));
            acc1 = _mm512_add_ps(acc1, _mm512_abs_ps(d1));
            i += 32;
        }
        if i + 16 <= n {
            let d = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
            acc0 = _mm512_add_ps(acc0, _mm512_abs_ps(d));
            i += 16;
        }
        if i < n {
            let m = tail_mask(n - i);
            let d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, pa.add(i)), _mm512_maskz_loadu_ps(m, pb.add(i)));
            acc1 = _mm512_add_ps(acc1, _mm512_abs_ps(d));
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
}
