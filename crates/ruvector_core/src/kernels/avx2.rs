//! AVX2 + FMA kernels: four 8-lane accumulators (32 floats per iteration) to
//! hide FMA latency, then 8-wide steps, then a scalar tail.
//!
//! Safety: every `unsafe fn` here requires AVX2 and FMA; [`kernels`] hands them
//! out only after `is_x86_feature_detected!` confirmed both.

use super::Kernels;
use std::arch::x86_64::*;

pub fn kernels() -> Option<Kernels> {
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return None;
    }
    // SAFETY (all four closures): the features were detected just above.
    Some(Kernels {
        isa: "avx2+fma",
        l2_squared: |a, b| unsafe { l2_squared(a, b) },
        dot: |a, b| unsafe { dot(a, b) },
        cosine_parts: |a, b| unsafe { cosine_parts(a, b) },
        l1: |a, b| unsafe { l1(a, b) },
    })
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads [i, i+8) with i + 8 <= n.
    unsafe {
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i + 8 * k)), _mm256_loadu_ps(pb.add(i + 8 * k)));
                *acc = _mm256_fmadd_ps(d, d, *acc);
            }
            i += 32;
        }
        while i + 8 <= n {
            let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
            i += 8;
        }
    }
    let mut s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for j in i..n {
        let d = a[j] - b[j];
        s += d * d;
    }
    s
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads [i, i+8) with i + 8 <= n.
    unsafe {
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8 * k)), _mm256_loadu_ps(pb.add(i + 8 * k)), *acc);
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc[0]);
            i += 8;
        }
    }
    let mut s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for j in i..n {
        s += a[j] * b[j];
    }
    s
}

#[target_feature(enable = "avx2,fma")]
unsafe fn cosine_parts(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut ab, mut aa, mut bb) = ([_mm256_setzero_ps(); 2], [_mm256_setzero_ps(); 2], [_mm256_setzero_ps(); 2]);
    let mut i = 0;
    // SAFETY: every load reads [i, i+8) with i + 8 <= n.
    unsafe {
        while i + 16 <= n {
            for k in 0..2 {
                let x = _mm256_loadu_ps(pa.add(i + 8 * k));
                let y = _mm256_loadu_ps(pb.add(i + 8 * k));
                ab[k] = _mm256_fmadd_ps(x, y, ab[k]);
                aa[k] = _mm256_fmadd_ps(x, x, aa[k]);
                bb[k] = _mm256_fmadd_ps(y, y, bb[k]);
            }
            i += 16;
        }
        while i + 8 <= n {
            let x = _mm256_loadu_ps(pa.add(i));
            let y = _mm256_loadu_ps(pb.add(i));
            ab[0] = _mm256_fmadd_ps(x, y, ab[0]);
            aa[0] = _mm256_fmadd_ps(x, x, aa[0]);
            bb[0] = _mm256_fmadd_ps(y, y, bb[0]);
            i += 8;
        }
    }
    let (mut sab, mut saa, mut sbb) =
        (hsum(_mm256_add_ps(ab[0], ab[1])), hsum(_mm256_add_ps(aa[0], aa[1])), hsum(_mm256_add_ps(bb[0], bb[1])));
    for j in i..n {
        sab += a[j] * b[j];
        saa += a[j] * a[j];
        sbb += b[j] * b[j];
    }
    (sab, saa, sbb)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn l1(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let sign = _mm256_set1_ps(-0.0);
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads [i, i+8) with i + 8 <= n.
    unsafe {
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i + 8 * k)), _mm256_loadu_ps(pb.add(i + 8 * k)));
                *acc = _mm256_add_ps(*acc, _mm256_andnot_ps(sign, d));
            }
            i += 32;
        }
        while i + 8 <= n {
            let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc[0] = _mm256_add_ps(acc[0], _mm256_andnot_ps(sign, d));
            i += 8;
        }
    }
    let mut s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for j in i..n {
        s += (a[j] - b[j]).abs();
    }
    s
}
