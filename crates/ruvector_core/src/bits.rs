//! Distances on bit strings (PostgreSQL's `bit(n)`): Hamming and Jaccard,
//! popcount-based, with runtime dispatch between a portable version, the
//! POPCNT instruction, and an AVX2 nibble-table popcount (Muła's method).
//!
//! Invariant: both inputs have the same length in bytes and the padding bits
//! past the bit length are zero (PostgreSQL keeps them so), so whole bytes can
//! be counted.

use crate::error::{ErrorKind, Result, VectorError};
use std::sync::OnceLock;

/// (popcount(a ^ b), popcount(a & b), popcount(a | b)) in one pass.
pub type CountFn = fn(&[u8], &[u8]) -> (u64, u64, u64);

#[derive(Clone, Copy, Debug)]
pub struct BitKernels {
    pub isa: &'static str,
    pub counts: CountFn,
}

fn counts_portable(a: &[u8], b: &[u8]) -> (u64, u64, u64) {
    let (mut x, mut and, mut or) = (0u64, 0u64, 0u64);
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (p, q) in (&mut ca).zip(&mut cb) {
        let (p, q) = (u64::from_ne_bytes(p.try_into().unwrap()), u64::from_ne_bytes(q.try_into().unwrap()));
        x += (p ^ q).count_ones() as u64;
        and += (p & q).count_ones() as u64;
        or += (p | q).count_ones() as u64;
    }
    for (&p, &q) in ca.remainder().iter().zip(cb.remainder()) {
        x += (p ^ q).count_ones() as u64;
        and += (p & q).count_ones() as u64;
        or += (p | q).count_ones() as u64;
    }
    (x, and, or)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The portable loop compiled with the POPCNT instruction.
    #[target_feature(enable = "popcnt")]
    pub unsafe fn counts_popcnt(a: &[u8], b: &[u8]) -> (u64, u64, u64) {
        super::counts_portable(a, b)
    }

    /// Popcount of each byte of `v` by two 16-entry table lookups (low and high nibble).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn popcount_bytes(v: __m256i) -> __m256i {
        let table = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        );
        let low = _mm256_set1_epi8(0x0f);
        let lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low));
        let hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16::<4>(v), low));
        _mm256_add_epi8(lo, hi)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum_u64(v: __m256i) -> u64 {
        (_mm256_extract_epi64::<0>(v)
            + _mm256_extract_epi64::<1>(v)
            + _mm256_extract_epi64::<2>(v)
            + _mm256_extract_epi64::<3>(v)) as u64
    }

    /// AVX2: 32 bytes per step; byte counts are folded into u64 lanes with
    /// `vpsadbw` every step, so they never overflow.
    #[target_feature(enable = "avx2,popcnt")]
    pub unsafe fn counts_avx2(a: &[u8], b: &[u8]) -> (u64, u64, u64) {
        let n = a.len().min(b.len());
        let zero = _mm256_setzero_si256();
        let (mut x, mut and, mut or) = (zero, zero, zero);
        let mut i = 0;
        // SAFETY: each load reads [i, i+32) with i + 32 <= n.
        unsafe {
            while i + 32 <= n {
                let p = _mm256_loadu_si256(a.as_ptr().add(i).cast());
                let q = _mm256_loadu_si256(b.as_ptr().add(i).cast());
                x = _mm256_add_epi64(x, _mm256_sad_epu8(popcount_bytes(_mm256_xor_si256(p, q)), zero));
                and = _mm256_add_epi64(and, _mm256_sad_epu8(popcount_bytes(_mm256_and_si256(p, q)), zero));
                or = _mm256_add_epi64(or, _mm256_sad_epu8(popcount_bytes(_mm256_or_si256(p, q)), zero));
                i += 32;
            }
        }
        let (tx, ta, to) = unsafe { counts_popcnt(&a[i..n], &b[i..n]) };
        (hsum_u64(x) + tx, hsum_u64(and) + ta, hsum_u64(or) + to)
    }
}

impl BitKernels {
    /// Every implementation this CPU can run, best last.
    pub fn available() -> Vec<BitKernels> {
        let mut all = vec![BitKernels { isa: "portable", counts: counts_portable }];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("popcnt") {
                // SAFETY: POPCNT was detected.
                all.push(BitKernels { isa: "popcnt", counts: |a, b| unsafe { x86::counts_popcnt(a, b) } });
                if is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 and POPCNT were detected.
                    all.push(BitKernels { isa: "avx2", counts: |a, b| unsafe { x86::counts_avx2(a, b) } });
                }
            }
        }
        all
    }

    pub fn active() -> &'static BitKernels {
        static ACTIVE: OnceLock<BitKernels> = OnceLock::new();
        ACTIVE.get_or_init(|| *Self::available().last().expect("portable always exists"))
    }
}

pub fn check_same_lengths(a_bits: usize, b_bits: usize) -> Result<()> {
    if a_bits != b_bits {
        return Err(VectorError::new(ErrorKind::DataException, format!("different bit lengths {a_bits} and {b_bits}")));
    }
    Ok(())
}

/// Number of differing bits.
pub fn hamming(a: &[u8], b: &[u8]) -> u64 {
    (BitKernels::active().counts)(a, b).0
}

/// 1 - |a ∩ b| / |a ∪ b|; 0 when neither has a bit set.
pub fn jaccard(a: &[u8], b: &[u8]) -> f64 {
    let (_, and, or) = (BitKernels::active().counts)(a, b);
    // no bit set in either: pgvector's answer is 1 (nothing in common)
    if or == 0 {
        return 1.0;
    }
    1.0 - and as f64 / or as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_cases() {
        assert_eq!(hamming(&[0b1010_0000], &[0b0110_0000]), 2);
        assert_eq!(jaccard(&[0b1100_0000], &[0b0110_0000]), 1.0 - 1.0 / 3.0);
        assert_eq!(jaccard(&[0], &[0]), 1.0);
        assert_eq!(jaccard(&[], &[]), 1.0);
        assert_eq!(check_same_lengths(3, 5).unwrap_err().message, "different bit lengths 3 and 5");
    }

    proptest! {
        /// Every implementation counts exactly like the bit-by-bit definition.
        #[test]
        fn all_isas_agree(v in (0usize..300).prop_flat_map(|n| (
            proptest::collection::vec(any::<u8>(), n),
            proptest::collection::vec(any::<u8>(), n),
        ))) {
            let (a, b) = v;
            let bit = |s: &[u8], i: usize| (s[i / 8] >> (7 - i % 8)) & 1 == 1;
            let (mut x, mut and, mut or) = (0u64, 0u64, 0u64);
            for i in 0..a.len() * 8 {
                let (p, q) = (bit(&a, i), bit(&b, i));
                x += (p != q) as u64;
                and += (p && q) as u64;
                or += (p || q) as u64;
            }
            for k in BitKernels::available() {
                prop_assert_eq!((k.counts)(&a, &b), (x, and, or), "{}", k.isa);
            }
        }
    }
}
