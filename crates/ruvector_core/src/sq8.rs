//! SQ8: a compact copy of an f32 vector, one byte per element plus the
//! vector's own offset and step (`value ≈ code · step + lo`, with `lo` its
//! smallest element and `step` its range / 255), so that a copy takes a
//! quarter of the f32 bytes and every vector uses all 256 codes of its range.
//! Vectors of integers spanning at most 255 (pixels, counts, int8/uint8
//! embeddings) get step 1 and are copied exactly.
//!
//! A copy is a record: `lo: f32, step: f32, codes: [u8; dims], exact: u8`,
//! native-endian, `exact` being 1 when every element decodes to its original
//! value (then the SQ8 kernels give the f32 kernels' distances to the bit, see
//! `kernels::Sq8Kernels`). Decoding is one fused multiply-add, in the kernels'
//! lanes and in [`Sq8Ref::decode`] alike.

#![forbid(unsafe_code)]

use crate::kernels::code_dots::{self, CodeDots};

/// Bytes before the codes: `lo` and `step`.
const HEADER: usize = 8;

/// An SQ8 copy as the kernels read it.
#[derive(Debug, Clone, Copy)]
pub struct Sq8Ref<'a> {
    pub lo: f32,
    pub step: f32,
    pub codes: &'a [u8],
}

impl Sq8Ref<'_> {
    /// Element `i`'s decoded value.
    #[inline(always)]
    pub fn decode(&self, i: usize) -> f32 {
        (self.codes[i] as f32).mul_add(self.step, self.lo)
    }

    /// The largest magnitude an element decodes to: every element lies in
    /// [lo, lo + 255·step].
    #[inline]
    pub fn largest(&self) -> f64 {
        let (lo, step) = (self.lo as f64, self.step as f64);
        lo.abs().max((lo + 255.0 * step).abs())
    }
}

/// Bytes of the record for a vector of `dims` elements.
pub const fn record_bytes(dims: usize) -> usize {
    HEADER + dims + 1
}

/// Lanes of the encoder's first pass: it keeps one partial result per lane
/// and never exits early, so the compiler turns it into vector instructions
/// (`min` chains and `Iterator::all` over the whole slice stay scalar).
const LANES: usize = 16;

/// 2^23: adding and subtracting it rounds a smaller non-negative f32 to an
/// integer; every f32 from 2^23 up is one.
const INTEGER_ULP_ONE: f32 = 8_388_608.0;

/// The record of `x`'s copy; None when `x` has a non-finite element, a
/// range beyond f32's or a range of subnormals (such a vector is not copied).
/// Runs [`encode_lanes`] compiled for the CPU's widest vector instructions
/// (`kernels::Sq8Kernels::encode`): every operation in it is exact, so each
/// instruction set gives the same record.
pub fn encode(x: &[f32]) -> Option<Vec<u8>> {
    (crate::kernels::Sq8Kernels::active().encode)(x)
}

/// [`encode`]'s arithmetic, inlined into each instruction set's kernel set,
/// whose compilation settings let its two loops use that set's lanes (a
/// 784-d vector: 1.1 µs with SSE2, 0.42 µs with AVX-512, `cargo bench -p
/// ruvector_core --bench kernels -- sq8_encode`).
#[inline(always)]
pub(crate) fn encode_lanes(x: &[f32]) -> Option<Vec<u8>> {
    if x.is_empty() {
        return None;
    }
    // one pass: the range, finiteness, and whether every element is an
    // integer below 2^24
    let (mut lo, mut hi) = ([f32::INFINITY; LANES], [f32::NEG_INFINITY; LANES]);
    let (mut finite, mut whole) = ([true; LANES], [true; LANES]);
    let mut scan = |lane: usize, v: f32| {
        lo[lane] = if v < lo[lane] { v } else { lo[lane] };
        hi[lane] = if v > hi[lane] { v } else { hi[lane] };
        let a = v.abs();
        finite[lane] &= a < f32::INFINITY;
        whole[lane] &=
            (a < 2.0 * INTEGER_ULP_ONE) & ((a >= INTEGER_ULP_ONE) | ((a + INTEGER_ULP_ONE) - INTEGER_ULP_ONE == a));
    };
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in chunk.iter().enumerate() {
            scan(lane, v);
        }
    }
    for (lane, &v) in tail.iter().enumerate() {
        scan(lane, v);
    }
    let lo = lo.iter().fold(f32::INFINITY, |a, &b| a.min(b));
    let hi = hi.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    if !(finite.iter().all(|&f| f) && (hi - lo).is_finite()) {
        return None;
    }
    // integers below 2^24 differ from `lo` by exact multiples of 1
    let integral = hi - lo <= 255.0 && whole.iter().all(|&w| w);
    let step = if integral || hi == lo { 1.0 } else { (hi - lo) / 255.0 };
    if step == 0.0 {
        return None; // a range of subnormals
    }
    let mut record = vec![0u8; record_bytes(x.len())];
    record[0..4].copy_from_slice(&lo.to_ne_bytes());
    record[4..8].copy_from_slice(&step.to_ne_bytes());
    let (codes, flag) = record[HEADER..].split_at_mut(x.len());
    for (code, &v) in codes.iter_mut().zip(x) {
        *code = quantize(v, lo, step);
    }
    // Exact in f64 means the multiply-add rounds to `v` too. Integers within
    // 255 of `lo` are: each code is `v − lo`, exactly. Otherwise the first
    // element that is not usually ends the check.
    let (step64, lo64) = (step as f64, lo as f64);
    let exact = integral || codes.iter().zip(x).all(|(&c, &v)| c as f64 * step64 + lo64 == v as f64);
    flag[0] = exact as u8;
    Some(record)
}

/// The code of `v` (≥ `lo`): `(v − lo) / step` rounded half up, at most
/// 255. Adding a half and truncating is that rounding (below 2^23 the
/// addition is exact), and the truncation is done in float arithmetic: `t`
/// lies in [0.5, 255] (`min` caps a rounding past 255), adding and
/// subtracting 2^23 rounds it to the nearest integer, one less if that is
/// above it, and that integer plus 2^23 carries it in its low mantissa
/// byte. Unlike `t as u8` (a saturating conversion, which the compiler
/// leaves scalar with branches), every step runs in vector lanes: encoding
/// a 784-d vector took 1.9 µs with the conversion (`cargo bench -p
/// ruvector_core --bench kernels -- sq8_encode`).
#[inline(always)]
fn quantize(v: f32, lo: f32, step: f32) -> u8 {
    let t = ((v - lo) / step + 0.5).min(255.0);
    let nearest = (t + INTEGER_ULP_ONE) - INTEGER_ULP_ONE;
    let below = if nearest > t { nearest - 1.0 } else { nearest };
    (below + INTEGER_ULP_ONE).to_bits() as u8
}

/// The copy in a record of a `dims`-element vector, and whether it is exact.
/// Panics if `record` is shorter than `record_bytes(dims)`.
#[inline]
pub fn parse(record: &[u8], dims: usize) -> (Sq8Ref<'_>, bool) {
    (copy(record, dims), record[HEADER + dims] == 1)
}

/// The copy in a record of a `dims`-element vector, its exact flag not read
/// (the record may end before it). Panics if `record` is shorter than
/// `record_bytes(dims) - 1`.
#[inline]
pub fn copy(record: &[u8], dims: usize) -> Sq8Ref<'_> {
    let f = |at: usize| f32::from_ne_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]]);
    Sq8Ref { lo: f(0), step: f(4), codes: &record[HEADER..HEADER + dims] }
}

/// Whether a record says its copy is exact.
#[inline]
pub fn is_exact(record: &[u8], dims: usize) -> bool {
    record.get(HEADER + dims) == Some(&1)
}

/// The query as two levels of i8 codes, q = a·ka + b·kb + r with a and b
/// powers of two (so a·kaᵢ, b·kbᵢ and r are exact in f64), so that q·x̂ for
/// a row's copy x̂ = lo + step·c is lo·Σqᵢ + step·(a·Σkaᵢcᵢ + b·Σkbᵢcᵢ) plus
/// step·Σrᵢcᵢ, with the two sums exact integers (`crate::kernels::code_dots`). The
/// residual's share is bounded by Cauchy-Schwarz: step·Σrᵢcᵢ = Σrᵢx̂ᵢ − lo·Σrᵢ,
/// at most ‖r‖·‖x̂‖ + |lo|·|Σrᵢ| in magnitude. With b about a/127, ‖r‖ is
/// about 2⁻¹⁴ of the query's largest element per √dims: far below the
/// copy's own error.
pub struct QueryLevels {
    ka: Vec<i8>,
    kb: Vec<i8>,
    a: f64,
    b: f64,
    /// Σqᵢ, Σ|qᵢ| and ‖q‖² in f64.
    sum: f64,
    abs_sum: f64,
    norm2: f64,
    /// ‖r‖ and |Σrᵢ|, rounded up.
    residual_norm: f64,
    residual_sum: f64,
    /// A relative bound on the f64 rounding of Σqᵢ and of the row's sum:
    /// (dims + 8)·ε.
    rounding: f64,
    /// √dims, for [`QueryLevels::copy_dot_at_most`].
    sqrt_dims: f64,
    dots: CodeDots,
}

/// The least power of two p with m ≤ 127·p, so that every element of
/// magnitude at most m has a level code within ±127 (m positive, finite).
fn level(m: f64) -> f64 {
    let mut p = 2f64.powi((m / 127.0).log2().floor() as i32);
    while p * 127.0 < m {
        p *= 2.0;
    }
    p
}

/// `t` rounded to a nearest integer (|t| ≤ 127, so every step below is
/// exact): the add of 1.5·2^52 rounds away the fraction, in vector lanes,
/// where `f64::round` is a libm call per element on baseline x86-64.
#[inline(always)]
fn nearest_code(t: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    (t + SHIFT) - SHIFT
}

/// `f(lane, qᵢ, inᵢ, &mut outᵢ)` for every element, lane = i mod LANES, in
/// blocks of LANES so that the compiler keeps each lane's sums apart.
#[inline(always)]
fn for_lanes(q: &[f32], codes_in: &[i8], codes_out: &mut [i8], mut f: impl FnMut(usize, f32, i8, &mut i8)) {
    let (mut qs, mut is) = (q.chunks_exact(LANES), codes_in.chunks_exact(LANES));
    let mut os = codes_out.chunks_exact_mut(LANES);
    for ((qb, ib), ob) in (&mut qs).zip(&mut is).zip(&mut os) {
        for l in 0..LANES {
            f(l, qb[l], ib[l], &mut ob[l]);
        }
    }
    let rest = qs.remainder().iter().zip(is.remainder()).zip(os.into_remainder());
    for (l, ((&x, &c), o)) in rest.enumerate() {
        f(l, x, c, o);
    }
}

impl QueryLevels {
    /// The levels of `q` (None for an empty, zero or non-finite query, or
    /// one longer than the integer sums allow).
    ///
    /// Two passes over `q` in vector lanes, without a libm call or a division
    /// per element (`nearest_code`; scaling by the exact inverse of a power
    /// of two): on a 1,536-d query 6.5–8 µs, where `f64::round` and a
    /// division per element took 24 µs, 7–9 % of an hnsw query's backend
    /// time. Any codes within ±127 would keep the bounds correct (the
    /// residual is computed exactly from the codes chosen); the nearest
    /// ones keep it small.
    pub fn new(q: &[f32]) -> Option<QueryLevels> {
        if q.is_empty() || q.len() > code_dots::MAX_LEN {
            return None;
        }
        // the largest magnitude, exact in f32; NaN and ±∞ make it non-finite
        let max = q.iter().fold(0f32, |m, &x| if x.abs() > m || x.is_nan() { x.abs() } else { m });
        if !max.is_finite() || max == 0.0 {
            return None;
        }
        let a = level(max as f64);
        let n = q.len();
        let (mut ka, mut kb) = (vec![0i8; n], vec![0i8; n]);
        // Σqᵢ, Σ|qᵢ|, ‖q‖² and the first residual's largest magnitude, in
        // LANES partial results each so that the loops run in vector lanes
        // (any order of an f64 sum is within `rounding`)
        let (mut sum, mut abs_sum, mut norm2, mut max1) = ([0f64; LANES], [0f64; LANES], [0f64; LANES], [0f64; LANES]);
        let inv_a = 1.0 / a; // exact: a is a power of two
        for_lanes(q, &kb, &mut ka, |l, x, _, k| {
            let x = x as f64;
            let code = nearest_code(x * inv_a);
            *k = code as i8;
            max1[l] = max1[l].max((x - a * code).abs());
            sum[l] += x;
            abs_sum[l] += x.abs();
            norm2[l] += x * x;
        });
        let max1 = max1.iter().fold(0f64, |m, &x| m.max(x));
        let b = if max1 > 0.0 { level(max1) } else { a };
        let inv_b = 1.0 / b;
        let (mut residual2, mut rsum) = ([0f64; LANES], [0f64; LANES]);
        for_lanes(q, &ka, &mut kb, |l, x, first, k| {
            // exact in f64: an f32 less a power of two times a small integer
            let r = x as f64 - a * first as f64;
            let code = nearest_code(r * inv_b);
            *k = code as i8;
            let residual = r - b * code;
            residual2[l] += residual * residual;
            rsum[l] += residual;
        });
        let total = |v: [f64; LANES]| v.iter().sum::<f64>();
        let rounding = (n as f64 + 8.0) * f64::EPSILON;
        Some(QueryLevels {
            ka,
            kb,
            a,
            b,
            sum: total(sum),
            abs_sum: total(abs_sum),
            norm2: total(norm2),
            residual_norm: total(residual2).sqrt() * (1.0 + 1e-9) + 1e-300,
            residual_sum: total(rsum).abs() * (1.0 + rounding) + 1e-300,
            rounding,
            sqrt_dims: (n as f64).sqrt(),
            dots: code_dots::code_dots(),
        })
    }

    /// An upper bound of q·x̂ for the copy x̂ (decoded exactly, in reals),
    /// given `norm`, an upper bound of ‖x̂‖.
    #[inline]
    pub fn dot_at_most(&self, copy: &Sq8Ref, norm: f64) -> f64 {
        self.dot_at_most_from(self.sums(copy), copy, norm)
    }

    /// The copy's two integer sums Σkaᵢcᵢ and Σkbᵢcᵢ: the only part of
    /// [`QueryLevels::dot_at_most`] that reads the codes.
    #[inline]
    pub fn sums(&self, copy: &Sq8Ref) -> (i32, i32) {
        (self.dots)(copy.codes, &self.ka, &self.kb)
    }

    /// [`QueryLevels::dot_at_most`] from the copy's [`QueryLevels::sums`].
    #[inline]
    pub fn dot_at_most_from(&self, (sa, sb): (i32, i32), copy: &Sq8Ref, norm: f64) -> f64 {
        let (lo, step) = (copy.lo as f64, copy.step as f64);
        let (pa, pb) = (self.a * sa as f64, self.b * sb as f64);
        let value = lo * self.sum + step * (pa + pb);
        let rounding = self.rounding * (lo.abs() * self.abs_sum + step.abs() * (pa.abs() + pb.abs()));
        value + rounding + self.residual_norm * norm + lo.abs() * self.residual_sum
    }

    /// [`QueryLevels::dot_at_most`] with ‖x̂‖ bounded from the copy alone
    /// (every element within [lo, lo + 255·step]), for a copy of the
    /// query's length: what an hnsw search measures.
    #[inline]
    pub fn copy_dot_at_most(&self, copy: &Sq8Ref) -> f64 {
        self.dot_at_most(copy, self.sqrt_dims * copy.largest() * (1.0 + 1e-9))
    }

    /// A lower bound of ‖q − x̂‖ for the copy x̂ (decoded exactly, in reals),
    /// from ‖q‖² − 2·q·x̂ + ‖x̂‖², given the copy's [`QueryLevels::sums`],
    /// `norm` ≥ ‖x̂‖ and `norm_low` ≤ ‖x̂‖.
    #[inline]
    pub fn distance_at_least(&self, sums: (i32, i32), copy: &Sq8Ref, norm: f64, norm_low: f64) -> f64 {
        let dot = self.dot_at_most_from(sums, copy, norm);
        let (q2, x2) = (self.norm2, norm_low * norm_low);
        // each of the three terms and their sum rounded in f64
        let sum = q2 - 2.0 * dot + x2 - 4.0 * self.rounding * (q2 + 2.0 * dot.abs() + x2);
        sum.max(0.0).sqrt() * (1.0 - self.rounding)
    }
}

/// A lower bound of the full-precision distance an index computes from an
/// f32 query `q` (of norm `q_norm`) to a stored f32 vector `x`, given
/// `approx`, the distance the SQ8 kernels gave to `x`'s copy in `record`:
/// squared L2 under L2, the negative dot product under inner product and
/// cosine (on the vectors as the index stores them). −∞ when none can be
/// given (another metric, a non-finite `approx`, magnitudes where f32 sums
/// could overflow).
///
/// Each element of the copy is within half a step of the stored value, plus
/// the encoder's and decoder's f32 roundings (a 2^-10 margin on the half
/// step, 2^-20 of the largest magnitude), so ‖x − x̂‖ ≤ E = √n · that; both
/// sums (the kernels' folds, or a vector read chunk by chunk) are within
/// γ = 2(n + 16)·2^-23 of their terms' absolute sum; subnormal products add
/// at most 2^-126 each.
pub fn distance_lower_bound(
    metric: crate::index::kind::Metric,
    approx: f32,
    record: &[u8],
    dims: usize,
    q_norm: f64,
) -> f32 {
    use crate::index::kind::Metric;
    if record.len() < HEADER || !approx.is_finite() {
        return f32::NEG_INFINITY;
    }
    let header = copy(record, 0);
    let step = header.step as f64;
    let n = dims as f64;
    let largest = header.largest() * (1.0 + 1e-6);
    if !(largest < 1e15 && q_norm < 1e15 && step.is_finite()) {
        return f32::NEG_INFINITY;
    }
    let gamma = 2.0 * (n + 16.0) * f32::EPSILON as f64;
    let err = n.sqrt() * (0.5 * step * (1.0 + 1.0 / 1024.0) + largest / (1u64 << 20) as f64);
    let copy_norm = n.sqrt() * largest;
    let subnormal = n * 2f64.powi(-126) * 4.0;
    let approx = approx as f64;
    let bound = match metric {
        Metric::L2 => {
            let near = ((approx.max(0.0) / (1.0 + gamma)).sqrt() - err).max(0.0);
            near * near * (1.0 - gamma) - subnormal
        }
        Metric::InnerProduct | Metric::Cosine => {
            approx - gamma * q_norm * copy_norm - q_norm * err - gamma * q_norm * (copy_norm + err) - subnormal
        }
        Metric::L1 => return f32::NEG_INFINITY,
    };
    at_most(bound)
}

/// The largest f32 not above `x` (a bound kept a bound when narrowed).
pub fn at_most(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) > x {
        f.next_down()
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The index's full-precision distance (squared L2, negative dot) of
    /// `x` read in chunks of `chunk` elements, as a long vector's pages are.
    fn chunked(metric: crate::index::kind::Metric, q: &[f32], x: &[f32], chunk: usize) -> f32 {
        let mut acc = 0.0f32;
        for (qs, xs) in q.chunks(chunk).zip(x.chunks(chunk)) {
            acc += metric.distance(qs, xs);
        }
        acc
    }

    /// The codes `quantize` gives, as the saturating conversion gave them
    /// before: rounded half up, at most 255.
    fn quantize_by_conversion(v: f32, lo: f32, step: f32) -> u8 {
        ((v - lo) / step + 0.5).min(255.0) as u8
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Codes in float arithmetic equal the conversion's for every value
        /// of a vector's range, at every scale, halves and the range's ends
        /// included.
        #[test]
        fn quantize_rounds_as_the_conversion(
            lo in prop_oneof![-1e30f32..1e30, -1.0f32..1.0, -300.0f32..300.0],
            range in prop_oneof![Just(255.0f32), 1e-30f32..1e-20, 1e-6f32..1.0, 1.0f32..1e6, 1e20f32..1e30],
            at in prop_oneof![0.0f32..1.0, Just(0.0), Just(1.0), (0u32..510).prop_map(|h| h as f32 / 510.0)],
        ) {
            let step = if range == 255.0 { 1.0 } else { range / 255.0 };
            prop_assume!(step > 0.0 && (lo + range).is_finite());
            let v = (lo + at * range).max(lo).min(lo + range);
            prop_assert_eq!(quantize(v, lo, step), quantize_by_conversion(v, lo, step), "v {} lo {} step {}", v, lo, step);
        }
    }

    #[test]
    fn quantize_rounds_every_half_up() {
        for code in 0..=255u32 {
            for frac in [0.0f32, 0.25, 0.5, 0.75, 0.999_999] {
                let v = code as f32 + frac;
                assert_eq!(quantize(v, 0.0, 1.0), quantize_by_conversion(v, 0.0, 1.0), "{v}");
            }
        }
        assert_eq!(quantize(254.5, 0.0, 1.0), 255);
        assert_eq!(quantize(300.0, 0.0, 1.0), 255);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// The bound from a copy's distance is never above the distance the
        /// index computes from the stored vector, whole or in chunks, for
        /// every scale and for near duplicates of the query.
        #[test]
        fn distance_lower_bound_holds(
            (q, x) in (1usize..700, prop_oneof![Just(1e-30f32), Just(1e-6), Just(1.0), Just(1e3), Just(1e12)])
                .prop_flat_map(|(n, scale)| {
                    let v = proptest::collection::vec(-1.0f32..1.0, n).prop_map(move |v| v.iter().map(|x| x * scale).collect::<Vec<f32>>());
                    (v.clone(), v)
                }),
            near in any::<bool>(),
            chunk in 1usize..400,
        ) {
            use crate::index::kind::Metric;
            let x: Vec<f32> = if near { q.iter().enumerate().map(|(i, v)| if i % 5 == 0 { v * 1.001 } else { *v }).collect() } else { x };
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
                let (mut q, mut x) = (q.clone(), x.clone());
                if !(metric.prepare(&mut q) && metric.prepare(&mut x)) {
                    continue;
                }
                let Some(rec) = encode(&x) else { continue };
                let copy = parse(&rec, x.len()).0;
                let approx = metric.sq8_distance(&q, copy);
                // under inner product and cosine, also the integer levels'
                // distance that an hnsw search measures instead
                let levels = QueryLevels::new(&q).filter(|_| metric != Metric::L2);
                let by_levels = levels.map(|l| at_most(-l.copy_dot_at_most(&copy)));
                for approx in [Some(approx), by_levels].into_iter().flatten() {
                    let bound = distance_lower_bound(metric, approx, &rec, x.len(), crate::kernels::norm(&q));
                    prop_assert!(!bound.is_nan());
                    for exact in [metric.distance(&q, &x), chunked(metric, &q, &x, chunk)] {
                        prop_assert!(bound <= exact, "{:?}: bound {} above {} (approx {})", metric, bound, exact, approx);
                    }
                }
                // the levels' distance is at most the copy's, and close to it
                if let Some(by_levels) = by_levels {
                    let decoded: Vec<f64> = (0..x.len()).map(|i| copy.lo as f64 + copy.step as f64 * copy.codes[i] as f64).collect();
                    let dot: f64 = q.iter().zip(&decoded).map(|(&a, &b)| a as f64 * b).sum();
                    let scale: f64 = q.iter().zip(&decoded).map(|(&a, &b)| (a as f64 * b).abs()).sum();
                    prop_assert!(by_levels as f64 <= -dot + 1e-9 * scale + 1e-300, "{} above {}", by_levels, -dot);
                    // (relative to ‖q‖ times the copy's largest element as
                    // well: a zero vector's copy has step 1, and its residual
                    // term is that size, not the products')
                    let reach = crate::kernels::norm(&q) * copy.largest();
                    prop_assert!(by_levels as f64 >= -dot - 1e-3 * (scale + reach + 1e-30), "{} far below {}", by_levels, -dot);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The query's levels: every code the nearest one (within ±127),
        /// q = a·ka + b·kb + r exactly with r within half of b, and the
        /// residual's norm and sum and the query's sums within their stated
        /// bounds, at every scale and length.
        #[test]
        fn query_levels_reconstruct_the_query(
            q in (1usize..700, prop_oneof![Just(1e-30f32), Just(1e-6), Just(1.0), Just(1e3), Just(1e30)])
                .prop_flat_map(|(n, scale)| proptest::collection::vec(prop_oneof![Just(0.0f32), -1.0f32..1.0], n)
                    .prop_map(move |v| v.iter().map(|x| x * scale).collect::<Vec<f32>>())),
        ) {
            let Some(l) = QueryLevels::new(&q) else {
                prop_assert!(q.iter().all(|&x| x == 0.0));
                return Ok(());
            };
            prop_assert!(l.a > 0.0 && l.b > 0.0 && l.b <= l.a);
            let (mut r2, mut rsum) = (0f64, 0f64);
            for (i, &x) in q.iter().enumerate() {
                let (x, ka, kb) = (x as f64, l.ka[i] as f64, l.kb[i] as f64);
                prop_assert!((x / l.a - ka).abs() <= 0.5, "ka {} for {}", ka, x / l.a);
                let first = x - l.a * ka;
                prop_assert!((first / l.b - kb).abs() <= 0.5, "kb {} for {}", kb, first / l.b);
                let r = first - l.b * kb;
                prop_assert!(r.abs() <= 0.5 * l.b);
                r2 += r * r;
                rsum += r;
            }
            prop_assert!(r2.sqrt() <= l.residual_norm && rsum.abs() <= l.residual_sum);
            let exact = |f: &dyn Fn(f64) -> f64| q.iter().map(|&x| f(x as f64)).sum::<f64>();
            let abs_sum = exact(&|x| x.abs());
            prop_assert!((l.sum - exact(&|x| x)).abs() <= 2.0 * l.rounding * abs_sum);
            prop_assert!((l.abs_sum - abs_sum).abs() <= 2.0 * l.rounding * abs_sum);
            let norm2 = exact(&|x| x * x);
            prop_assert!((l.norm2 - norm2).abs() <= 2.0 * l.rounding * norm2);
        }
    }

    #[test]
    fn query_levels_refuse_non_finite_and_zero_queries() {
        assert!(QueryLevels::new(&[]).is_none());
        assert!(QueryLevels::new(&[0.0; 20]).is_none());
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 7, 19] {
                let mut q = vec![0.5f32; 20];
                q[at] = bad;
                assert!(QueryLevels::new(&q).is_none(), "{bad} at {at}");
            }
        }
        assert!(QueryLevels::new(&[0.5f32; 20]).is_some());
    }

    /// On embedding-like vectors the bound is within a few hundredths.
    #[test]
    fn distance_lower_bound_is_close_on_embeddings() {
        use crate::index::kind::Metric;
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || (crate::index::sim::next_random(&mut rng) % 1_000_000) as f32 / 1e6 - 0.5;
        for dims in [384, 768, 1536] {
            let mut q: Vec<f32> = (0..dims).map(|_| next()).collect();
            let mut x: Vec<f32> = q.iter().map(|v| v + 0.5 * next()).collect();
            Metric::Cosine.prepare(&mut q);
            Metric::Cosine.prepare(&mut x);
            let rec = encode(&x).unwrap();
            let approx = Metric::Cosine.sq8_distance(&q, parse(&rec, dims).0);
            let bound = distance_lower_bound(Metric::Cosine, approx, &rec, dims, crate::kernels::norm(&q));
            let exact = Metric::Cosine.distance(&q, &x);
            assert!(bound <= exact && exact - bound < 0.05, "{dims}: {bound} {exact}");
        }
    }

    fn decoded(x: &[f32]) -> (Vec<f32>, bool) {
        let rec = encode(x).unwrap();
        assert_eq!(rec.len(), record_bytes(x.len()));
        let (copy, exact) = parse(&rec, x.len());
        ((0..x.len()).map(|i| copy.decode(i)).collect(), exact)
    }

    /// The encoder before its passes were written lane by lane.
    fn reference(x: &[f32]) -> Option<Vec<u8>> {
        let (lo, hi) = x.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        if x.is_empty() || !(x.iter().all(|v| v.is_finite()) && (hi - lo).is_finite()) {
            return None;
        }
        let integral = hi - lo <= 255.0 && x.iter().all(|&v| v.fract() == 0.0 && v.abs() < (1 << 24) as f32);
        let step = if integral || hi == lo { 1.0 } else { (hi - lo) / 255.0 };
        if step == 0.0 {
            return None;
        }
        let mut record = lo.to_ne_bytes().to_vec();
        record.extend_from_slice(&step.to_ne_bytes());
        record.extend(x.iter().map(|&v| ((v - lo) / step + 0.5) as u8));
        let exact = record[HEADER..].iter().zip(x).all(|(&c, &v)| c as f64 * step as f64 + lo as f64 == v as f64);
        record.push(exact as u8);
        Some(record)
    }

    /// Vectors mixing integers, fractions, huge and subnormal values, zeros
    /// of both signs and the odd non-finite element.
    fn awkward() -> impl Strategy<Value = Vec<f32>> {
        let element = prop_oneof![
            4 => (-300i32..300).prop_map(|i| i as f32),
            3 => -1e3f32..1e3,
            1 => (0u32..=255).prop_map(|c| (16_777_100 + c) as f32),
            1 => Just(-0.0f32),
            1 => Just(f32::MIN_POSITIVE * 0.25),
            1 => prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::MAX), Just(-f32::MAX)],
        ];
        prop_oneof![
            proptest::collection::vec(element, 0..80),
            proptest::collection::vec((-300i32..300).prop_map(|i| i as f32), 1..100),
            proptest::collection::vec(0u8..=255, 1..100).prop_map(|v| v.into_iter().map(f32::from).collect()),
            // integers around 2^24, where f32 no longer holds every integer
            proptest::collection::vec((0u32..=255).prop_map(|c| (16_777_100 + c) as f32), 1..40),
        ]
    }

    #[test]
    fn integers_within_255_are_exact() {
        let pixels: Vec<f32> = (0..784).map(|i| ((i * 37) % 256) as f32).collect();
        assert_eq!(decoded(&pixels), (pixels.clone(), true));
        let int8: Vec<f32> = (0..300).map(|i| ((i * 11) % 256) as f32 - 128.0).collect();
        assert_eq!(decoded(&int8), (int8.clone(), true));
        let constant = vec![0.3f32; 10];
        assert_eq!(decoded(&constant), (constant.clone(), true));
    }

    #[test]
    fn not_copied_when_not_finite() {
        assert!(encode(&[1.0, f32::NAN]).is_none());
        assert!(encode(&[1.0, f32::INFINITY]).is_none());
        assert!(encode(&[-3e38, 3e38]).is_none());
        assert!(encode(&[]).is_none());
    }

    #[test]
    fn wider_integers_are_approximate() {
        let x: Vec<f32> = (0..300).map(|i| (i * 3) as f32).collect();
        let (d, exact) = decoded(&x);
        assert!(!exact);
        assert!(d.iter().zip(&x).all(|(a, b)| (a - b).abs() <= 897.0 / 255.0 / 2.0 + 1e-3));
    }

    proptest! {
        /// The lane-by-lane passes give the reference encoder's record, byte
        /// for byte, or refuse the same vectors.
        #[test]
        fn same_record_as_the_reference(x in awkward()) {
            prop_assert_eq!(encode(&x), reference(&x));
        }

        /// Every element decodes within half a step (plus rounding), and a
        /// copy that says it is exact is.
        #[test]
        fn decoding_error_is_within_half_a_step(x in proptest::collection::vec(-1e6f32..1e6, 1..600)) {
            let (d, exact) = decoded(&x);
            let (lo, hi) = x.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
            let half_step = (hi - lo) as f64 / 255.0 / 2.0;
            for (a, b) in d.iter().zip(&x) {
                prop_assert!(((a - b) as f64).abs() <= half_step * 1.0001 + (hi.abs().max(lo.abs()) as f64) * 1e-6);
            }
            prop_assert!(!exact || d == x);
        }
    }
}
