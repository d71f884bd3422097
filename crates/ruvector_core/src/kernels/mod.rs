//! f32 distance kernels with runtime CPU dispatch.
//!
//! Four operations — squared L2, dot product, cosine parts (dot, |a|², |b|²) and
//! L1 — each in a portable version (auto-vectorised by the compiler to the
//! baseline ISA: SSE2 on x86_64, NEON on aarch64) and in hand-written
//! AVX2+FMA, AVX-512F and NEON versions.
//!
//! Invariants:
//! - The implementation is chosen once, on first use, from the CPU's features,
//!   and never changes for the life of the process ([`active`]).
//! - Every implementation reads `min(a.len(), b.len())` elements; callers check
//!   that the lengths agree (a dimension mismatch is a user error, reported
//!   before a kernel runs), so a mismatch can never read out of bounds.
//! - All implementations agree with an f64 reference within float tolerance
//!   (property tests in this module, for every length 1..=2048).

mod portable;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

use std::sync::OnceLock;

/// One complete set of kernels for one instruction set.
#[derive(Clone, Copy, Debug)]
pub struct Kernels {
    /// Short name of the instruction set, as shown by `ruvector_simd_info()`.
    pub isa: &'static str,
    pub l2_squared: fn(&[f32], &[f32]) -> f32,
    pub dot: fn(&[f32], &[f32]) -> f32,
    /// (a·b, a·a, b·b) in one pass, for cosine distance.
    pub cosine_parts: fn(&[f32], &[f32]) -> (f32, f32, f32),
    pub l1: fn(&[f32], &[f32]) -> f32,
}

impl Kernels {
    /// The portable kernels; always available.
    pub const PORTABLE: Kernels = Kernels {
        isa: "portable",
        l2_squared: portable::l2_squared,
        dot: portable::dot,
        cosine_parts: portable::cosine_parts,
        l1: portable::l1,
    };

    /// Every kernel set this CPU can run, best last. Used by tests and benches to
    /// compare implementations; production code calls [`active`].
    pub fn available() -> Vec<Kernels> {
        let mut all = vec![Kernels::PORTABLE];
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(k) = avx2::kernels() {
                all.push(k);
            }
            if let Some(k) = avx512::kernels() {
                all.push(k);
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            all.push(neon::kernels());
        }
        all
    }
}

static ACTIVE: OnceLock<Kernels> = OnceLock::new();

/// The kernels for this CPU, detected on first call.
#[inline]
pub fn active() -> &'static Kernels {
    ACTIVE.get_or_init(|| *Kernels::available().last().expect("portable kernels always exist"))
}

#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    (active().l2_squared)(a, b)
}

#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    (active().dot)(a, b)
}

#[inline]
pub fn cosine_parts(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    (active().cosine_parts)(a, b)
}

#[inline]
pub fn l1(a: &[f32], b: &[f32]) -> f32 {
    (active().l1)(a, b)
}

/// Cosine distance `1 - a·b / sqrt(|a|²|b|²)`, clamped to [0, 2] like pgvector.
/// NaN when either vector is all zeros (pgvector's behaviour).
#[inline]
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let (ab, aa, bb) = cosine_parts(a, b);
    let similarity = ab as f64 / ((aa as f64) * (bb as f64)).sqrt();
    if similarity.is_nan() {
        return f64::NAN;
    }
    1.0 - similarity.clamp(-1.0, 1.0)
}

/// Euclidean norm, accumulated in f64 like pgvector's `vector_norm`.
pub fn norm(a: &[f32]) -> f64 {
    a.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt()
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

    fn reference(a: &[f32], b: &[f32]) -> (f64, f64, f64, f64, f64) {
        let (mut l2, mut ab, mut aa, mut bb, mut l1) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in a.iter().zip(b) {
            let (x, y) = (x as f64, y as f64);
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

    fn check_all(a: &[f32], b: &[f32]) -> std::result::Result<(), TestCaseError> {
        let n = a.len();
        let (l2, ab, aa, bb, l1) = reference(a, b);
        let abs_ab: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64 * y as f64).abs()).sum();
        for k in Kernels::available() {
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

    #[test]
    fn every_length_up_to_2048_matches_reference() {
        for n in 1..=2048 {
            let (a, b) = pair(n, n as u64 * 7919);
            check_all(&a, &b).unwrap();
        }
    }

    #[test]
    fn the_active_set_is_the_best_available() {
        let best = *Kernels::available().last().unwrap();
        assert_eq!(active().isa, best.isa);
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            assert_eq!(active().isa, "avx512f");
        } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            assert_eq!(active().isa, "avx2+fma");
        }
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
        }
    }
}
