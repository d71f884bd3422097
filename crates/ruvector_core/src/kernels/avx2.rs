//! AVX2 + FMA (+ F16C for half precision) kernels: four 8-lane accumulators (32
//! elements per iteration) to hide FMA latency, 8-wide steps, then one
//! zero-padded load for the tail. Generic over the stored element through
//! [`Load8`]: f32 loads directly, f16 widens with `vcvtph2ps`; SQ8 codes (the
//! f32 query against a quantized copy) widen and decode with one multiply-add.
//!
//! Safety: every `unsafe fn` here requires AVX2, FMA and F16C; [`kernels`] hands
//! them out only after `is_x86_feature_detected!` confirmed all three (every
//! AVX2 CPU has F16C).

use super::{Kernels, Scalar, Sq8Kernels, Sq8Ref};
use half::f16;
use std::arch::x86_64::*;

/// Loading eight elements of `Self` as eight f32 lanes.
pub trait Load8: Scalar {
    /// # Safety
    /// `p` must point to 8 readable elements; the CPU must have AVX2, FMA, F16C.
    unsafe fn load8(p: *const Self) -> __m256;
}

impl Load8 for f32 {
    #[inline(always)]
    unsafe fn load8(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
}

impl Load8 for f16 {
    #[inline(always)]
    unsafe fn load8(p: *const f16) -> __m256 {
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }
}

pub fn kernels<T: Load8>() -> Option<Kernels<T>> {
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")) {
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
#[target_feature(enable = "avx2,fma,f16c")]
fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

/// The last `n % 8` elements, zero-padded to eight lanes (zeros add nothing to
/// any of the sums these kernels compute).
#[inline(always)]
unsafe fn load8_tail<T: Load8>(s: &[T]) -> __m256 {
    let mut buf = [T::ZERO; 8];
    buf[..s.len()].copy_from_slice(s);
    unsafe { T::load8(buf.as_ptr()) }
}

/// Where a kernel reads its eight-lane steps from: a slice of stored
/// elements, or SQ8 codes decoded as they are loaded ([`Sq8Lanes`]).
trait Lanes8 {
    fn len(&self) -> usize;
    /// Lanes `i..i + 8`.
    /// # Safety
    /// `i + 8 <= self.len()`; the CPU must have AVX2, FMA, F16C.
    unsafe fn at(&self, i: usize) -> __m256;
    /// Lanes `i..n` (fewer than 8), zeros above.
    /// # Safety
    /// `i < n <= self.len()`; the CPU must have AVX2, FMA, F16C.
    unsafe fn tail(&self, i: usize, n: usize) -> __m256;
}

impl<T: Load8> Lanes8 for &[T] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[T]>::len(self)
    }

    #[inline(always)]
    unsafe fn at(&self, i: usize) -> __m256 {
        unsafe { T::load8(self.as_ptr().add(i)) }
    }

    #[inline(always)]
    unsafe fn tail(&self, i: usize, n: usize) -> __m256 {
        unsafe { load8_tail(&self[i..n]) }
    }
}

/// SQ8 codes widened and decoded (`code * step + lo`, one fused multiply-add,
/// as `Sq8Ref::decode` does) as they are loaded.
struct Sq8Lanes<'a> {
    codes: &'a [u8],
    lo: __m256,
    step: __m256,
}

impl Sq8Lanes<'_> {
    #[inline(always)]
    unsafe fn decode(&self, p: *const u8) -> __m256 {
        unsafe {
            let c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast())));
            _mm256_fmadd_ps(c, self.step, self.lo)
        }
    }
}

impl Lanes8 for Sq8Lanes<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.codes.len()
    }

    #[inline(always)]
    unsafe fn at(&self, i: usize) -> __m256 {
        unsafe { self.decode(self.codes.as_ptr().add(i)) }
    }

    #[inline(always)]
    unsafe fn tail(&self, i: usize, n: usize) -> __m256 {
        let mut buf = [0u8; 8];
        buf[..n - i].copy_from_slice(&self.codes[i..n]);
        unsafe {
            // lanes past the end decode to `lo`: clear them
            let live = _mm256_cmpgt_epi32(_mm256_set1_epi32((n - i) as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            _mm256_and_ps(self.decode(buf.as_ptr()), _mm256_castsi256_ps(live))
        }
    }
}

/// The SQ8 kernels (f32 query against decoded codes): the same folds as the
/// f32 kernels, so a copy that decodes exactly gives the identical distance.
pub fn sq8_kernels() -> Option<Sq8Kernels> {
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")) {
        return None;
    }
    // SAFETY (all four closures): the features were detected just above.
    Some(Sq8Kernels {
        isa: "avx2+fma",
        l2_squared: |q, v| unsafe { sq8_l2_squared(q, v) },
        dot: |q, v| unsafe { sq8_dot(q, v) },
        l1: |q, v| unsafe { sq8_l1(q, v) },
        encode: |x| unsafe { sq8_encode(x) },
    })
}

/// `sq8::encode` in this instruction set's lanes (exact operations only, so
/// the portable encoder's records, byte for byte).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn sq8_encode(x: &[f32]) -> Option<Vec<u8>> {
    crate::sq8::encode_lanes(x)
}

#[target_feature(enable = "avx2,fma,f16c")]
fn sq8_lanes<'a>(v: Sq8Ref<'a>) -> Sq8Lanes<'a> {
    Sq8Lanes { codes: v.codes, lo: _mm256_set1_ps(v.lo), step: _mm256_set1_ps(v.step) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn sq8_l2_squared(q: &[f32], v: Sq8Ref) -> f32 {
    unsafe { l2_squared(q, sq8_lanes(v)) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn sq8_dot(q: &[f32], v: Sq8Ref) -> f32 {
    unsafe { dot(q, sq8_lanes(v)) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn sq8_l1(q: &[f32], v: Sq8Ref) -> f32 {
    unsafe { l1(q, sq8_lanes(v)) }
}

/// Fold `term(a_lanes, b_lanes, acc)` over both sources.
#[inline(always)]
unsafe fn fold8<A: Lanes8, B: Lanes8>(a: A, b: B, term: impl Fn(__m256, __m256, __m256) -> __m256) -> f32 {
    let n = a.len().min(b.len());
    // SAFETY: every full step reads [i, i+8) with i + 8 <= n; the tail step
    // reads only the remaining elements.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = term(a.at(i + 8 * k), b.at(i + 8 * k), *acc);
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = term(a.at(i), b.at(i), acc[0]);
            i += 8;
        }
        if i < n {
            acc[1] = term(a.tail(i, n), b.tail(i, n), acc[1]);
        }
        hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])))
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l2_squared<A: Lanes8, B: Lanes8>(a: A, b: B) -> f32 {
    unsafe {
        fold8(a, b, |x, y, acc| {
            let d = _mm256_sub_ps(x, y);
            _mm256_fmadd_ps(d, d, acc)
        })
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot<A: Lanes8, B: Lanes8>(a: A, b: B) -> f32 {
    unsafe { fold8(a, b, |x, y, acc| _mm256_fmadd_ps(x, y, acc)) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l1<A: Lanes8, B: Lanes8>(a: A, b: B) -> f32 {
    let sign = _mm256_set1_ps(-0.0);
    unsafe { fold8(a, b, |x, y, acc| _mm256_add_ps(acc, _mm256_andnot_ps(sign, _mm256_sub_ps(x, y)))) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn cosine_parts<T: Load8>(a: &[T], b: &[T]) -> (f32, f32, f32) {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // Two sets of three accumulators: six independent FMA chains.
    let (mut ab, mut aa, mut bb) = ([_mm256_setzero_ps(); 2], [_mm256_setzero_ps(); 2], [_mm256_setzero_ps(); 2]);
    let mut step = |k: usize, x: __m256, y: __m256| {
        ab[k] = _mm256_fmadd_ps(x, y, ab[k]);
        aa[k] = _mm256_fmadd_ps(x, x, aa[k]);
        bb[k] = _mm256_fmadd_ps(y, y, bb[k]);
    };
    let mut i = 0;
    // SAFETY: as in fold8.
    unsafe {
        while i + 16 <= n {
            step(0, T::load8(pa.add(i)), T::load8(pb.add(i)));
            step(1, T::load8(pa.add(i + 8)), T::load8(pb.add(i + 8)));
            i += 16;
        }
        while i + 8 <= n {
            step(0, T::load8(pa.add(i)), T::load8(pb.add(i)));
            i += 8;
        }
        if i < n {
            step(1, load8_tail(&a[i..n]), load8_tail(&b[i..n]));
        }
    }
    (hsum(_mm256_add_ps(ab[0], ab[1])), hsum(_mm256_add_ps(aa[0], aa[1])), hsum(_mm256_add_ps(bb[0], bb[1])))
}
