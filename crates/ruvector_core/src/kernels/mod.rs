//! Distance kernels over f32 and f16 (halfvec) slices with runtime CPU dispatch.
//!
//! Four operations — squared L2, dot product, cosine parts (dot, |a|², |b|²) and
//! L1 — each in a portable version (auto-vectorised by the compiler to the
//! baseline ISA: SSE2 on x86_64, NEON on aarch64) and in hand-written
//! AVX2+FMA(+F16C), AVX-512F and NEON versions. One generic implementation per
//! operation and ISA serves both element types: f16 is widened to f32 lanes
//! as it is loaded, never converted as a whole vector first.
//!
//! Invariants:
//! - The implementation is chosen once per element type, on first use, from
//!   the CPU's features, and never changes for the life of the process.
//! - Every implementation reads `min(a.len(), b.len())` elements; callers check
//!   that the lengths agree (a dimension mismatch is a user error, reported
//!   before a kernel runs), so a mismatch can never read out of bounds.
//! - All implementations agree with an f64 reference within float tolerance
//!   (property tests in this module, for every length 1..=2048).

pub mod code_dots;
mod gemm;
mod portable;

pub use gemm::dot_products;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

use half::f16;
use std::sync::OnceLock;

pub use crate::sq8::Sq8Ref;

/// A stored element the kernels read: widened to f32 for arithmetic.
pub trait Scalar: Copy + Send + Sync + 'static {
    const ZERO: Self;
    fn to_f32(self) -> f32;
}

impl Scalar for f32 {
    const ZERO: f32 = 0.0;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}

impl Scalar for f16 {
    const ZERO: f16 = f16::ZERO;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

/// (a·b, a·a, b·b) of two vectors in one pass.
pub type CosineParts<T> = fn(&[T], &[T]) -> (f32, f32, f32);

/// One complete set of kernels for one instruction set and element type.
#[derive(Debug)]
pub struct Kernels<T: 'static> {
    /// Short name of the instruction set, as shown by `ruvector_simd_info()`.
    pub isa: &'static str,
    pub l2_squared: fn(&[T], &[T]) -> f32,
    pub dot: fn(&[T], &[T]) -> f32,
    /// (a·b, a·a, b·b) in one pass, for cosine distance.
    pub cosine_parts: CosineParts<T>,
    pub l1: fn(&[T], &[T]) -> f32,
}

impl<T> Clone for Kernels<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Kernels<T> {}

/// An element type with dispatched kernels.
pub trait KernelElement: Scalar {
    /// Every kernel set this CPU can run for this type, best last. Used by tests
    /// and benches to compare implementations; production code calls [`active`].
    fn available() -> Vec<Kernels<Self>>;

    /// The dispatched set, detected on first call.
    fn active() -> &'static Kernels<Self>;
}

fn portable_kernels<T: Scalar>() -> Kernels<T> {
    Kernels {
        isa: "portable",
        l2_squared: portable::l2_squared::<T>,
        dot: portable::dot::<T>,
        cosine_parts: portable::cosine_parts::<T>,
        l1: portable::l1::<T>,
    }
}

impl KernelElement for f32 {
    fn available() -> Vec<Kernels<f32>> {
        let mut all = vec![portable_kernels()];
        #[cfg(target_arch = "x86_64")]
        all.extend(avx2::kernels().into_iter().chain(avx512::kernels()));
        #[cfg(target_arch = "aarch64")]
        all.push(neon::kernels());
        all
    }

    fn active() -> &'static Kernels<f32> {
        static ACTIVE: OnceLock<Kernels<f32>> = OnceLock::new();
        ACTIVE.get_or_init(|| *Self::available().last().expect("portable kernels always exist"))
    }
}

impl KernelElement for f16 {
    /// On aarch64 the portable kernels serve f16 (NEON f16 arithmetic is not used yet).
    fn available() -> Vec<Kernels<f16>> {
        let mut all = vec![portable_kernels()];
        #[cfg(target_arch = "x86_64")]
        all.extend(avx2::kernels().into_iter().chain(avx512::kernels()));
        all
    }

    fn active() -> &'static Kernels<f16> {
        static ACTIVE: OnceLock<Kernels<f16>> = OnceLock::new();
        ACTIVE.get_or_init(|| *Self::available().last().expect("portable kernels always exist"))
    }
}

/// Distances from an f32 query to an SQ8 copy ([`Sq8Ref`]), for one
/// instruction set. Each runs the same fold as the f32 kernel of that set,
/// with the codes decoded as they are loaded, so a copy that decodes to the
/// original values exactly gives a distance identical to the f32 kernel's.
#[derive(Debug, Clone, Copy)]
pub struct Sq8Kernels {
    pub isa: &'static str,
    pub l2_squared: fn(&[f32], Sq8Ref) -> f32,
    pub dot: fn(&[f32], Sq8Ref) -> f32,
    pub l1: fn(&[f32], Sq8Ref) -> f32,
    /// `sq8::encode` compiled for this instruction set.
    pub encode: fn(&[f32]) -> Option<Vec<u8>>,
}

impl Sq8Kernels {
    /// Every SQ8 kernel set this CPU can run, best last.
    pub fn available() -> Vec<Sq8Kernels> {
        let mut all = vec![portable::sq8_kernels()];
        #[cfg(target_arch = "x86_64")]
        all.extend(avx2::sq8_kernels().into_iter().chain(avx512::sq8_kernels()));
        all
    }

    /// The dispatched set, detected on first call.
    pub fn active() -> &'static Sq8Kernels {
        static ACTIVE: OnceLock<Sq8Kernels> = OnceLock::new();
        ACTIVE.get_or_init(|| *Self::available().last().expect("portable kernels always exist"))
    }

    /// Whether the active SQ8 kernels run the same folds as the active f32
    /// kernels (on aarch64 the f32 ones are NEON, the SQ8 ones portable), so
    /// that exactly decoded copies give the f32 kernels' distances to the bit.
    pub fn match_f32() -> bool {
        Self::active().isa == active().isa
    }
}

/// Hint the CPU to load the first `lines` 64-byte cache lines of `data` (no
/// effect where there is no prefetch instruction). Graph searches call it for
/// the vectors they will measure next, so memory latency overlaps arithmetic.
#[inline]
pub fn prefetch<T>(data: &[T], lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = core::mem::size_of_val(data);
        let base = data.as_ptr() as *const i8;
        for off in (0..bytes).step_by(64).take(lines) {
            // SAFETY: the address is inside `data`; prefetch never faults.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(base.add(off));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, lines);
}

/// The f32 kernels for this CPU (what `ruvector_simd_info()` reports).
#[inline]
pub fn active() -> &'static Kernels<f32> {
    f32::active()
}

#[inline]
pub fn l2_squared<T: KernelElement>(a: &[T], b: &[T]) -> f32 {
    (T::active().l2_squared)(a, b)
}

#[inline]
pub fn dot<T: KernelElement>(a: &[T], b: &[T]) -> f32 {
    (T::active().dot)(a, b)
}

#[inline]
pub fn cosine_parts<T: KernelElement>(a: &[T], b: &[T]) -> (f32, f32, f32) {
    (T::active().cosine_parts)(a, b)
}

#[inline]
pub fn l1<T: KernelElement>(a: &[T], b: &[T]) -> f32 {
    (T::active().l1)(a, b)
}

/// The most roundings any term of an `n`-term sum (a dot product, a sum of
/// squares or of squared differences) meets on its way into the result,
/// for every kernel of this crate (f32 and f16 sets, the SQ8 sets whose
/// decoding is bounded apart): the computed sum is within γ_k·Σ|terms| of
/// the exact one, γ_k = k·u/(1 − k·u), u = 2⁻²⁴. Each kernel keeps P
/// partial sums, so a term meets its own rounding or two (a product, a
/// difference), at most ⌈n/P⌉ plus a few accumulations in its partial sum,
/// then the reduction of the P partial sums:
/// - portable: P = 8, a scalar tail of up to 7 terms added last:
///   2 + ⌈n/8⌉ + 7 + 1;
/// - AVX2: four accumulators of 8 lanes (P = 32; up to three more blocks
///   and the tail into two of them), two adds, a 3-level horizontal sum:
///   2 + n/32 + 4 + 2 + 3; cosine's parts, P = 16: n/16 + 6;
/// - AVX-512: four of 16 lanes (P = 64), two adds, a 4-level reduction:
///   2 + n/64 + 4 + 2 + 4; cosine's parts, P = 32: n/32 + 7;
/// - NEON: four of 4 lanes (P = 16), two adds, a lane sum of at most 3,
///   then a scalar tail of up to 15 terms: 2 + n/16 + 2 + 3 + 15.
///
/// All are at most ⌈n/8⌉ + 24, and none more than a sequential sum's n + 16,
/// which bounds any order. (Tested against f64 sums for every kernel set of
/// this CPU: `summation_depth_bounds_every_kernel`.)
pub fn summation_depth(n: usize) -> usize {
    (n.div_ceil(8) + 24).min(n + 16)
}

/// Cosine distance `1 - a·b / sqrt(|a|²|b|²)`, clamped to [0, 2] like pgvector.
/// NaN when either vector is all zeros (pgvector's behaviour).
#[inline]
pub fn cosine_distance<T: KernelElement>(a: &[T], b: &[T]) -> f64 {
    let (ab, aa, bb) = cosine_parts(a, b);
    let similarity = ab as f64 / ((aa as f64) * (bb as f64)).sqrt();
    if similarity.is_nan() {
        return f64::NAN;
    }
    1.0 - similarity.clamp(-1.0, 1.0)
}

/// Euclidean norm, accumulated in f64 like pgvector's `vector_norm`.
pub fn norm<T: Scalar>(a: &[T]) -> f64 {
    a.iter().map(|&x| x.to_f32() as f64 * x.to_f32() as f64).sum::<f64>().sqrt()
}

/// Naive sequential loops: the "scalar baseline" the benchmarks compare against.
/// Not used on any query path.
pub mod baseline {
    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        let mut s = 0.0f32;
        for i in 0..a.len().min(b.len()) {
            let d = a[i] - b[i];
            s += d * d;
        }
        s
    }
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut s = 0.0f32;
        for i in 0..a.len().min(b.len()) {
            s += a[i] * b[i];
        }
        s
    }
    pub fn cosine_parts(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
        let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..a.len().min(b.len()) {
            ab += a[i] * b[i];
            aa += a[i] * a[i];
            bb += b[i] * b[i];
        }
        (ab, aa, bb)
    }
    pub fn l1(a: &[f32], b: &[f32]) -> f32 {
        let mut s = 0.0f32;
        for i in 0..a.len().min(b.len()) {
            s += (a[i] - b[i]).abs();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference<T: Scalar>(a: &[T], b: &[T]) -> (f64, f64, f64, f64, f64) {
        let (mut l2, mut ab, mut aa, mut bb, mut l1) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in a.iter().zip(b) {
            let (x, y) = (x.to_f32() as f64, y.to_f32() as f64);
            l2 += (x - y) * (x - y);
            ab += x * y;
            aa += x * x;
            bb += y * y;
            l1 += (x - y).abs();
        }
        (l2, ab, aa, bb, l1)
    }

    /// Tolerance for an f32 sum of `n` terms whose absolute values add to `mag`.
    fn close(got: f32, want: f64, mag: f64, n: usize) -> bool {
        let tol = 1e-6 * mag * (n as f64).sqrt().max(1.0) + 1e-30;
        ((got as f64) - want).abs() <= tol
    }

    fn check_all<T: KernelElement>(a: &[T], b: &[T]) -> std::result::Result<(), TestCaseError> {
        let n = a.len();
        let (l2, ab, aa, bb, l1) = reference(a, b);
        let abs_ab: f64 = a.iter().zip(b).map(|(&x, &y)| (x.to_f32() as f64 * y.to_f32() as f64).abs()).sum();
        for k in T::available() {
            prop_assert!(close((k.l2_squared)(a, b), l2, l2, n), "{} l2 n={n}", k.isa);
            prop_assert!(close((k.dot)(a, b), ab, abs_ab, n), "{} dot n={n}", k.isa);
            let (g_ab, g_aa, g_bb) = (k.cosine_parts)(a, b);
            prop_assert!(close(g_ab, ab, abs_ab, n), "{} cos.ab n={n}", k.isa);
            prop_assert!(close(g_aa, aa, aa, n), "{} cos.aa n={n}", k.isa);
            prop_assert!(close(g_bb, bb, bb, n), "{} cos.bb n={n}", k.isa);
            prop_assert!(close((k.l1)(a, b), l1, l1, n), "{} l1 n={n}", k.isa);
        }
        Ok(())
    }

    fn pair(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        // xorshift: deterministic, covers signs and magnitudes.
        let mut s = seed | 1;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        let a = (0..n).map(|_| next() * 3.0).collect();
        let b = (0..n).map(|_| next()).collect();
        (a, b)
    }

    fn halves(v: &[f32]) -> Vec<f16> {
        v.iter().map(|&x| f16::from_f32(x)).collect()
    }

    #[test]
    fn every_length_up_to_2048_matches_reference() {
        for n in 1..=2048 {
            let (a, b) = pair(n, n as u64 * 7919);
            check_all(&a, &b).unwrap();
            check_all(&halves(&a), &halves(&b)).unwrap();
        }
    }

    #[test]
    fn every_isa_is_offered_for_both_element_types() {
        let f32_isas: Vec<_> = f32::available().iter().map(|k| k.isa).collect();
        let f16_isas: Vec<_> = f16::available().iter().map(|k| k.isa).collect();
        #[cfg(target_arch = "x86_64")]
        assert_eq!(f32_isas, f16_isas);
        assert_eq!(f16::active().isa, *f16_isas.last().unwrap());
    }

    #[test]
    fn the_active_set_is_the_best_available() {
        let best = *f32::available().last().unwrap();
        assert_eq!(active().isa, best.isa);
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            assert_eq!(active().isa, "avx512f");
        } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            assert_eq!(active().isa, "avx2+fma");
        }
    }

    /// SQ8 kernels: within the decoding error of the f32 kernels on any
    /// data, and identical to them on data that decodes exactly.
    #[test]
    fn sq8_kernels_match_f32_kernels() {
        let f32_sets = f32::available();
        for n in (1..=300).chain([783, 784, 785, 1536, 3072]) {
            let (q, v) = pair(n, n as u64 * 31);
            let ints: Vec<f32> = v.iter().map(|&x| (x * 100.0).round() + 7.0).collect();
            for (data, exact) in [(&v, false), (&ints, true)] {
                let rec = crate::sq8::encode(data).unwrap();
                let (copy, is_exact) = crate::sq8::parse(&rec, n);
                assert!(!exact || is_exact, "n={n}: integers within 255 of each other decode exactly");
                let decoded: Vec<f32> = (0..n).map(|i| copy.decode(i)).collect();
                for k in Sq8Kernels::available() {
                    let f = f32_sets.iter().find(|f| f.isa == k.isa).expect("an f32 set per SQ8 set");
                    let pairs = [
                        ((k.l2_squared)(&q, copy), (f.l2_squared)(&q, &decoded), (f.l2_squared)(&q, data)),
                        ((k.dot)(&q, copy), (f.dot)(&q, &decoded), (f.dot)(&q, data)),
                        ((k.l1)(&q, copy), (f.l1)(&q, &decoded), (f.l1)(&q, data)),
                    ];
                    for (got, on_decoded, on_original) in pairs {
                        assert_eq!(got.to_bits(), on_decoded.to_bits(), "{} n={n}: same fold as f32", k.isa);
                        if is_exact {
                            assert_eq!(got.to_bits(), on_original.to_bits(), "{} n={n}: exact copy", k.isa);
                        }
                    }
                }
            }
        }
        assert_eq!(Sq8Kernels::active().isa, Sq8Kernels::available().last().unwrap().isa);
        #[cfg(target_arch = "x86_64")]
        assert!(Sq8Kernels::match_f32());
    }

    /// Every instruction set's encoder makes the portable encoder's records,
    /// byte for byte: fractional, integral, constant and huge-range vectors
    /// of every length up to 300 and the common embedding lengths.
    #[test]
    fn sq8_encoders_agree() {
        let portable = portable::sq8_kernels();
        for n in (1..=300).chain([383, 384, 767, 768, 783, 784, 1535, 1536]) {
            let (_, v) = pair(n, n as u64 * 17 + 3);
            let ints: Vec<f32> = v.iter().map(|&x| (x * 100.0).round() - 40.0).collect();
            let huge: Vec<f32> = v.iter().map(|&x| x * 1e37).collect();
            let constant = vec![0.25f32; n];
            let mut halves: Vec<f32> = (0..n).map(|i| (i % 511) as f32 * 0.5).collect();
            halves[0] = 0.0;
            for data in [&v, &ints, &huge, &constant, &halves] {
                let want = (portable.encode)(data);
                for k in Sq8Kernels::available() {
                    assert_eq!((k.encode)(data), want, "{} n={n}", k.isa);
                }
            }
        }
        let mut bad = vec![1.0f32; 40];
        bad[33] = f32::NAN;
        assert!(Sq8Kernels::available().iter().all(|k| (k.encode)(&bad).is_none()));
    }

    #[test]
    fn cosine_distance_edges() {
        assert!(cosine_distance(&[0.0, 0.0], &[1.0, 1.0]).is_nan());
        assert!((cosine_distance(&[1.0, 0.0], &[1.0, 0.0])).abs() < 1e-12);
        assert!((cosine_distance(&[1.0, 0.0], &[-1.0, 0.0]) - 2.0).abs() < 1e-12);
        assert!((cosine_distance(&[1.0, 0.0], &[0.0, 3.0]) - 1.0).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn random_vectors_match_reference(
            v in (1usize..=2048).prop_flat_map(|n| (
                proptest::collection::vec(-1e3f32..1e3, n),
                proptest::collection::vec(-1e3f32..1e3, n),
            ))
        ) {
            check_all(&v.0, &v.1)?;
            check_all(&halves(&v.0), &halves(&v.1))?;
        }
    }
    /// `summation_depth` against every kernel set of this CPU: the computed
    /// sums of `n` terms stay within γ_k·Σ|terms| of f64 sums (exact for
    /// these products up to 1e-12), k = `summation_depth(n)`, on random
    /// vectors with cancellation and on the input that drives one partial
    /// sum's rounding error up by 0.375 ulp per term (a 1 then n − 1 terms
    /// of 0.75·2⁻²⁴). A sequential sum breaks the bound on that input from
    /// about 40 terms, so the test tells a lane-split sum from one that is
    /// not.
    #[test]
    fn summation_depth_bounds_every_kernel() {
        let u = 2f64.powi(-24);
        let gamma = |n: usize| {
            let k = summation_depth(n) as f64;
            k * u / (1.0 - k * u)
        };
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut lengths: Vec<usize> = (1..=130).collect();
        lengths.extend([200, 255, 256, 257, 384, 511, 768, 784, 1000, 1536, 2000, 3072, 4096]);
        let within = |what: &str, isa: &str, got: f32, exact: f64, abs: f64, n: usize| {
            assert!(
                (got as f64 - exact).abs() <= gamma(n) * abs + 1e-30,
                "{isa} {what}, n = {n}: {got} against {exact} (Σ|t| {abs}, bound {})",
                gamma(n) * abs
            );
        };
        for &n in &lengths {
            let tiny = 0.75 * 2f32.powi(-24);
            let mut inputs: Vec<(Vec<f32>, Vec<f32>)> =
                vec![((0..n).map(|i| if i == 0 { 1.0 } else { tiny }).collect(), vec![1.0; n])];
            for _ in 0..3 {
                let a: Vec<f32> =
                    (0..n).map(|_| ((next() - 0.5) * 2f64.powi((next() * 20.0) as i32 - 10)) as f32).collect();
                let b: Vec<f32> =
                    (0..n).map(|_| ((next() - 0.5) * 2f64.powi((next() * 20.0) as i32 - 10)) as f32).collect();
                inputs.push((a, b));
            }
            for (a, b) in &inputs {
                let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
                let dot_abs: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64 * y as f64).abs()).sum();
                let l2: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
                let aa: f64 = a.iter().map(|&x| x as f64 * x as f64).sum();
                let bb: f64 = b.iter().map(|&x| x as f64 * x as f64).sum();
                for k in <f32 as KernelElement>::available() {
                    within("dot", k.isa, (k.dot)(a, b), dot, dot_abs, n);
                    // a difference rounds once more before it is squared
                    within("l2", k.isa, (k.l2_squared)(a, b), l2, l2 * (1.0 + 4.0 * u), n);
                    let (ab, a2, b2) = (k.cosine_parts)(a, b);
                    within("cosine a·b", k.isa, ab, dot, dot_abs, n);
                    within("cosine a·a", k.isa, a2, aa, aa, n);
                    within("cosine b·b", k.isa, b2, bb, bb, n);
                }
            }
            if n >= 64 {
                let (a, b) = &inputs[0];
                let exact: f64 = a.iter().map(|&x| x as f64).sum();
                let sequential = baseline::dot(a, b) as f64;
                assert!(
                    (sequential - exact).abs() > gamma(n) * exact,
                    "n = {n}: the sequential sum is within the bound"
                );
            }
        }
    }
}
