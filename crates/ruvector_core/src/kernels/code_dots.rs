//! Integer dot products of SQ8 codes (u8) with a query quantized to two
//! levels of i8 (`ivf::sq8_rows`): Σ aᵢ·cᵢ and Σ bᵢ·cᵢ in one pass over the
//! codes. The sums are exact integers, so a bound built on them carries no
//! rounding of the kernel's own, and on AVX-512 VNNI one `vpdpbusd` does 64
//! products where the f32 kernels widen, convert and decode 16 codes per
//! step.
//!
//! Invariants:
//! - Every implementation reads `min` of the three lengths and returns the
//!   same exact sums (property test below against the portable loop).
//! - No sum overflows: |Σ| ≤ len · 127 · 255 < 2³¹ for len ≤ [`MAX_LEN`];
//!   callers use these kernels only up to it.
//! - The VNNI kernel is handed out only after `is_x86_feature_detected!`
//!   confirmed AVX-512F, BW and VNNI; its masked loads read nothing beyond
//!   the slices.

/// Both sums over the codes: (Σ aᵢ·cᵢ, Σ bᵢ·cᵢ).
pub type CodeDots = fn(codes: &[u8], a: &[i8], b: &[i8]) -> (i32, i32);

/// The longest slices whose sums cannot overflow an i32.
pub const MAX_LEN: usize = (i32::MAX as usize) / (127 * 255);

/// The fastest implementation this CPU runs (chosen on first use).
pub fn code_dots() -> CodeDots {
    use std::sync::OnceLock;
    static CHOSEN: OnceLock<CodeDots> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if let Some(f) = vnni::code_dots() {
            return f;
        }
        portable
    })
}

/// The reference loop (the compiler vectorises it to the baseline ISA).
pub fn portable(codes: &[u8], a: &[i8], b: &[i8]) -> (i32, i32) {
    let (mut sa, mut sb) = (0i32, 0i32);
    for ((&c, &x), &y) in codes.iter().zip(a).zip(b) {
        sa += c as i32 * x as i32;
        sb += c as i32 * y as i32;
    }
    (sa, sb)
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::CodeDots;
    use std::arch::x86_64::*;

    pub fn code_dots() -> Option<CodeDots> {
        let ok = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni");
        // SAFETY: the features were detected just above.
        ok.then_some((|c, a, b| unsafe { dots(c, a, b) }) as CodeDots)
    }

    /// # Safety
    /// The CPU must have AVX-512F, AVX-512BW and AVX-512 VNNI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn dots(codes: &[u8], a: &[i8], b: &[i8]) -> (i32, i32) {
        let n = codes.len().min(a.len()).min(b.len());
        let (c, a, b) = (codes.as_ptr(), a.as_ptr(), b.as_ptr());
        // SAFETY: full steps read [i, i + 64) with i + 64 <= n; the tail's
        // masked loads read only the n - i bytes left.
        unsafe {
            let step = |acc: __m512i, codes: __m512i, levels: *const i8| {
                _mm512_dpbusd_epi32(acc, codes, _mm512_loadu_si512(levels.cast()))
            };
            let zero = _mm512_setzero_si512();
            // two accumulators per sum, so consecutive products do not wait
            // on each other
            let (mut sa0, mut sa1, mut sb0, mut sb1) = (zero, zero, zero, zero);
            let mut i = 0;
            while i + 128 <= n {
                let (c0, c1) = (_mm512_loadu_si512(c.add(i).cast()), _mm512_loadu_si512(c.add(i + 64).cast()));
                sa0 = step(sa0, c0, a.add(i));
                sb0 = step(sb0, c0, b.add(i));
                sa1 = step(sa1, c1, a.add(i + 64));
                sb1 = step(sb1, c1, b.add(i + 64));
                i += 128;
            }
            if i + 64 <= n {
                let c0 = _mm512_loadu_si512(c.add(i).cast());
                sa0 = step(sa0, c0, a.add(i));
                sb0 = step(sb0, c0, b.add(i));
                i += 64;
            }
            if i < n {
                let mask: __mmask64 = (1u64 << (n - i)) - 1;
                let codes = _mm512_maskz_loadu_epi8(mask, c.add(i).cast());
                sa1 = _mm512_dpbusd_epi32(sa1, codes, _mm512_maskz_loadu_epi8(mask, a.add(i).cast()));
                sb1 = _mm512_dpbusd_epi32(sb1, codes, _mm512_maskz_loadu_epi8(mask, b.add(i).cast()));
            }
            (_mm512_reduce_add_epi32(_mm512_add_epi32(sa0, sa1)), _mm512_reduce_add_epi32(_mm512_add_epi32(sb0, sb1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The chosen kernel's sums are the reference loop's, for every
        /// length (tails included) and the extreme codes and levels.
        #[test]
        fn chosen_kernel_matches_the_reference(
            codes in proptest::collection::vec(prop_oneof![Just(0u8), Just(255u8), any::<u8>()], 0..700),
            seed in any::<u64>(),
        ) {
            let mut s = seed | 1;
            let mut level = || {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s % 255) as i32 - 127) as i8
            };
            let a: Vec<i8> = codes.iter().map(|_| level()).collect();
            let b: Vec<i8> = codes.iter().map(|_| level()).collect();
            let expected: (i64, i64) = codes.iter().zip(&a).zip(&b).fold((0, 0), |(x, y), ((&c, &p), &q)| {
                (x + c as i64 * p as i64, y + c as i64 * q as i64)
            });
            prop_assert_eq!(portable(&codes, &a, &b), (expected.0 as i32, expected.1 as i32));
            prop_assert_eq!(code_dots()(&codes, &a, &b), (expected.0 as i32, expected.1 as i32));
            // shorter level slices bound the length read
            let cut = codes.len() / 2;
            prop_assert_eq!(code_dots()(&codes, &a[..cut], &b), portable(&codes[..cut], &a[..cut], &b[..cut]));
        }
    }

    #[test]
    fn longest_slices_do_not_overflow() {
        let codes = vec![255u8; MAX_LEN];
        let (lo, hi) = (vec![-127i8; MAX_LEN], vec![127i8; MAX_LEN]);
        assert_eq!(code_dots()(&codes, &lo, &hi), (-(MAX_LEN as i32) * 127 * 255, MAX_LEN as i32 * 127 * 255));
    }
}
