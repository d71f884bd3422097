//! AVX-512F kernels: four independent 16-lane accumulators (64 elements per
//! iteration, enough FMAs in flight to cover their latency on two ports), then
//! 16-wide steps, then one masked (f32) or zero-padded (f16) load for the tail,
//! so no scalar loop runs. Generic over the stored element through [`Load16`]:
//! f32 loads directly, f16 widens with `vcvtph2ps`; SQ8 codes (the f32 query
//! against a quantized copy) widen and decode with one multiply-add.
//!
//! Safety: every `unsafe fn` here requires AVX-512F; [`kernels`] hands them out
//! only after `is_x86_feature_detected!("avx512f")` confirmed it. Masked loads
//! never touch memory outside the mask, so tail reads stay in bounds.

use super::{Kernels, Scalar, Sq8Kernels, Sq8Ref};
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

/// Where a kernel reads its sixteen-lane steps from: a slice of stored
/// elements, or SQ8 codes decoded as they are loaded ([`Sq8Lanes`]).
trait Lanes16 {
    fn len(&self) -> usize;
    /// Lanes `i..i + 16`.
    /// # Safety
    /// `i + 16 <= self.len()`; the CPU must have AVX-512F.
    unsafe fn at(&self, i: usize) -> __m512;
    /// Lanes `i..n` (fewer than 16), zeros above.
    /// # Safety
    /// `i < n <= self.len()`; the CPU must have AVX-512F.
    unsafe fn tail(&self, i: usize, n: usize) -> __m512;
}

impl<T: Load16> Lanes16 for &[T] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[T]>::len(self)
    }

    #[inline(always)]
    unsafe fn at(&self, i: usize) -> __m512 {
        unsafe { T::load16(self.as_ptr().add(i)) }
    }

    #[inline(always)]
    unsafe fn tail(&self, i: usize, n: usize) -> __m512 {
        unsafe { T::load16_tail(&self[i..n]) }
    }
}

/// SQ8 codes widened and decoded (`code * step + lo`, one fused multiply-add,
/// as `Sq8::decode` does) as they are loaded.
struct Sq8Lanes<'a> {
    codes: &'a [u8],
    lo: __m512,
    step: __m512,
}

impl Lanes16 for Sq8Lanes<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.codes.len()
    }

    #[inline(always)]
    unsafe fn at(&self, i: usize) -> __m512 {
        unsafe {
            let c = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(self.codes.as_ptr().add(i).cast())));
            _mm512_fmadd_ps(c, self.step, self.lo)
        }
    }

    #[inline(always)]
    unsafe fn tail(&self, i: usize, n: usize) -> __m512 {
        let k = n - i;
        let mask = ((1u32 << k) - 1) as __mmask16;
        // SAFETY: reads codes[n - 16..n] (n >= 16) or a stack copy.
        unsafe {
            let widened = if n >= 16 {
                // the 16 codes ending at `n`, moved down so the tail starts at
                // lane 0: no copy through the stack, whose narrow stores a
                // 16-byte load cannot forward from (a stall per call)
                let last = _mm512_cvtepu8_epi32(_mm_loadu_si128(self.codes.as_ptr().add(n - 16).cast()));
                let from = _mm512_add_epi32(
                    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                    _mm512_set1_epi32((16 - k) as i32),
                );
                _mm512_maskz_permutexvar_epi32(mask, from, last)
            } else {
                let mut buf = [0u8; 16];
                buf[..k].copy_from_slice(&self.codes[i..n]);
                _mm512_cvtepu8_epi32(_mm_loadu_si128(buf.as_ptr().cast()))
            };
            _mm512_maskz_fmadd_ps(mask, _mm512_cvtepi32_ps(widened), self.step, self.lo)
        }
    }
}

/// The SQ8 kernels (f32 query against decoded codes): the same folds as the
/// f32 kernels, so a copy that decodes exactly gives the identical distance.
pub fn sq8_kernels() -> Option<Sq8Kernels> {
    if !is_x86_feature_detected!("avx512f") {
        return None;
    }
    // SAFETY (all four closures): the feature was detected just above.
    Some(Sq8Kernels {
        isa: "avx512f",
        l2_squared: |q, v| unsafe { sq8_l2_squared(q, v) },
        dot: |q, v| unsafe { sq8_dot(q, v) },
        l1: |q, v| unsafe { sq8_l1(q, v) },
        encode: |x| unsafe { sq8_encode(x) },
    })
}

/// `sq8::encode` in this instruction set's lanes (exact operations only, so
/// the portable encoder's records, byte for byte).
#[target_feature(enable = "avx512f")]
unsafe fn sq8_encode(x: &[f32]) -> Option<Vec<u8>> {
    crate::sq8::encode_lanes(x)
}

#[target_feature(enable = "avx512f")]
fn sq8_lanes<'a>(v: Sq8Ref<'a>) -> Sq8Lanes<'a> {
    Sq8Lanes { codes: v.codes, lo: _mm512_set1_ps(v.lo), step: _mm512_set1_ps(v.step) }
}

#[target_feature(enable = "avx512f")]
unsafe fn sq8_l2_squared(q: &[f32], v: Sq8Ref) -> f32 {
    unsafe { l2_squared(q, sq8_lanes(v)) }
}

#[target_feature(enable = "avx512f")]
unsafe fn sq8_dot(q: &[f32], v: Sq8Ref) -> f32 {
    unsafe { dot(q, sq8_lanes(v)) }
}

#[target_feature(enable = "avx512f")]
unsafe fn sq8_l1(q: &[f32], v: Sq8Ref) -> f32 {
    unsafe { l1(q, sq8_lanes(v)) }
}

/// Fold `term(a_lanes, b_lanes, acc)` over both sources.
#[inline(always)]
unsafe fn fold16<A: Lanes16, B: Lanes16>(a: A, b: B, term: impl Fn(__m512, __m512, __m512) -> __m512) -> f32 {
    let n = a.len().min(b.len());
    // SAFETY: full steps read [i, i+16) with i + 16 <= n; the tail step reads
    // only the `n - i` remaining elements.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = term(a.at(i + 16 * k), b.at(i + 16 * k), *acc);
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = term(a.at(i), b.at(i), acc[0]);
            i += 16;
        }
        if i < n {
            acc[1] = term(a.tail(i, n), b.tail(i, n), acc[1]);
        }
        _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn l2_squared<A: Lanes16, B: Lanes16>(a: A, b: B) -> f32 {
    unsafe {
        fold16(a, b, |x, y, acc| {
            let d = _mm512_sub_ps(x, y);
            _mm512_fmadd_ps(d, d, acc)
        })
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn dot<A: Lanes16, B: Lanes16>(a: A, b: B) -> f32 {
    unsafe { fold16(a, b, |x, y, acc| _mm512_fmadd_ps(x, y, acc)) }
}

#[target_feature(enable = "avx512f")]
unsafe fn l1<A: Lanes16, B: Lanes16>(a: A, b: B) -> f32 {
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
