//! Nearest centres of many points at once, for the ivfflat build's k-means
//! and its assignment of rows to lists. Per block of points, the dot
//! products with every centre are one matrix product
//! (`kernels::dot_products`), and each distance follows from them and the
//! squared norms: |x − c|² = |x|² + |c|² − 2 x·c. One kernel call per
//! (point, centre) pair spent most of its time outside the arithmetic
//! (docs/benchmarks.md, "ivfflat: where the time goes").
//!
//! That form rounds differently from the distance kernels, by at most about
//! dims · ε · (|x| + |c|)². K-means does not mind, but the build's assignment
//! must agree with the distances a scan computes, so that a row is in the
//! list a query equal to it probes first. [`CentreMatrix::nearest`]
//! therefore measures again, with the caller's exact distance, every
//! centre whose product-form distance is within that bound of the smallest,
//! and picks among those by the exact distance, the lower position winning
//! ties (as `ivf::argmin` over every centre would). Usually one centre is
//! within the bound and nothing is measured again.

#![forbid(unsafe_code)]

use crate::kernels;

/// Points per matrix product at most: 256 ran at 1.5 times the rate of 64
/// (60 against 39 GFLOPS for 115 centres of 384 dimensions, where one
/// kernel call per pair gave 24).
pub const BLOCK: usize = 256;

/// Floats of products a block may hold (1 MiB), so that many centres make
/// for smaller blocks rather than large buffers.
const PRODUCTS: usize = 1 << 18;

/// What the build's distance is, in terms of the products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Squared Euclidean distance.
    L2Squared,
    /// Negative inner product (inner product, and cosine on unit vectors).
    NegativeDot,
}

/// The centres, row-major, with their squared norms.
pub struct CentreMatrix<'a> {
    centres: &'a [f32],
    dims: usize,
    norms2: Vec<f32>,
    max_norm: f32,
}

impl<'a> CentreMatrix<'a> {
    pub fn new(centres: &'a [f32], dims: usize) -> Self {
        assert!(dims > 0 && centres.len().is_multiple_of(dims), "whole centres");
        let norms2: Vec<f32> = centres.chunks_exact(dims).map(|c| kernels::dot(c, c)).collect();
        let max_norm = norms2.iter().fold(0f32, |m, &n| m.max(n)).sqrt();
        CentreMatrix { centres, dims, norms2, max_norm }
    }

    pub fn len(&self) -> usize {
        self.norms2.len()
    }

    pub fn is_empty(&self) -> bool {
        self.norms2.is_empty()
    }

    /// Points per matrix product for these centres.
    pub fn block(&self) -> usize {
        (PRODUCTS / self.len().max(1)).clamp(8, BLOCK)
    }

    fn centre(&self, j: usize) -> &[f32] {
        &self.centres[j * self.dims..(j + 1) * self.dims]
    }

    /// The products of up to `BLOCK` points with every centre, point by point.
    fn products(&self, points: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.resize(points.len() / self.dims * self.len(), 0.0);
        kernels::dot_products(points, self.centres, self.dims, out);
    }

    /// How far a product-form distance of `x` (squared norm `x2`) may be
    /// from the kernel's, beyond which two centres' order is certain.
    fn slack(&self, x2: f32) -> f32 {
        let reach = match x2.sqrt() + self.max_norm {
            r if r.is_finite() => r,
            _ => f32::INFINITY,
        };
        4.0 * self.dims as f32 * f32::EPSILON * reach * reach
    }

    /// For each point of `points` (whole points of `dims` values): its
    /// nearest centre, the Euclidean distance to it (measured by the kernel)
    /// and a lower bound on the distance to any other centre, appended to `out`.
    pub fn nearest_two(&self, points: &[f32], out: &mut Vec<(u32, f32, f32)>) {
        let k = self.len();
        let mut products = Vec::new();
        for block in points.chunks(self.block() * self.dims) {
            self.products(block, &mut products);
            for (x, row) in block.chunks_exact(self.dims).zip(products.chunks_exact(k)) {
                let x2 = kernels::dot(x, x);
                let (best, _, d2) = nearest_two_of(row, &self.norms2, x2);
                let exact = kernels::l2_squared(x, self.centre(best as usize)).max(0.0).sqrt();
                let lower = (d2 - self.slack(x2)).max(0.0).sqrt();
                out.push((best, exact, lower));
            }
        }
    }

    /// For each point of `points`: the position of its nearest centre by
    /// `exact(point, centre)` (the point's position within `points`), the
    /// lower position among equals, appended to `out`. `form` says what
    /// `exact` computes, so the products can rule most centres out.
    pub fn nearest(&self, points: &[f32], form: Form, exact: impl Fn(usize, usize) -> f32, out: &mut Vec<u32>) {
        let k = self.len();
        if k == 0 {
            out.extend(std::iter::repeat_n(0, points.len() / self.dims));
            return;
        }
        let mut products = Vec::new();
        let mut proxy = vec![0f32; k];
        for (b, block) in points.chunks(self.block() * self.dims).enumerate() {
            self.products(block, &mut products);
            for (i, (x, row)) in block.chunks_exact(self.dims).zip(products.chunks_exact(k)).enumerate() {
                let point = b * self.block() + i;
                // the distance up to a term the same for every centre
                match form {
                    Form::L2Squared => {
                        proxy.iter_mut().zip(row).zip(&self.norms2).for_each(|((d, &p), &c2)| *d = c2 - 2.0 * p)
                    }
                    Form::NegativeDot => proxy.iter_mut().zip(row).for_each(|(d, &p)| *d = -p),
                }
                let (least, nan) = least_of(&proxy);
                let within = least + self.slack(kernels::dot(x, x));
                let mut best = (f32::INFINITY, u32::MAX);
                if within.is_finite() && !nan {
                    for (c, chunk) in proxy.chunks(LANES).enumerate() {
                        if !chunk.iter().fold(false, |hit, &d| hit | (d <= within)) {
                            continue;
                        }
                        for (l, &d) in chunk.iter().enumerate() {
                            let j = c * LANES + l;
                            if d <= within {
                                let e = exact(point, j);
                                if e < best.0 {
                                    best = (e, j as u32);
                                }
                            }
                        }
                    }
                }
                // products out of range (infinite or NaN where values near
                // f32::MAX overflow), or no candidate nearer than infinity:
                // every centre, as argmin would
                if best.1 == u32::MAX {
                    best.1 = super::argmin((0..k).map(|j| exact(point, j)));
                }
                out.push(best.1);
            }
        }
    }
}

/// Lanes of the per-centre passes below: written lane by lane so that the
/// compiler turns them into vector instructions (a branch per centre, in
/// order, took as long as the matrix product at 50 dimensions).
const LANES: usize = 8;

/// The smallest of `values`, NaN ignored (infinity if none), and whether
/// any is NaN.
fn least_of(values: &[f32]) -> (f32, bool) {
    let (mut least, mut nan) = ([f32::INFINITY; LANES], [false; LANES]);
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for l in 0..LANES {
            least[l] = if chunk[l] < least[l] { chunk[l] } else { least[l] };
            nan[l] |= chunk[l].is_nan();
        }
    }
    for (l, &v) in rest.iter().enumerate() {
        least[l] = if v < least[l] { v } else { least[l] };
        nan[l] |= v.is_nan();
    }
    (least.iter().fold(f32::INFINITY, |m, &v| m.min(v)), nan.iter().any(|&n| n))
}

/// Over centres j, with products `row[j]` and squared norms `norms2[j]`, of
/// a point of squared norm `x2`, the product-form squared distances
/// d_j = x2 + norms2[j] − 2·row[j]: the first j with the least d_j, that
/// d_j, and the second least of the d_j (counting an equal least twice); NaN
/// distances are passed over (position 0 and infinities if all are).
fn nearest_two_of(row: &[f32], norms2: &[f32], x2: f32) -> (u32, f32, f32) {
    let (mut d1, mut d2, mut at) = ([f32::INFINITY; LANES], [f32::INFINITY; LANES], [0u32; LANES]);
    let mut step = |l: usize, j: usize, p: f32, c2: f32| {
        let d = x2 + c2 - 2.0 * p;
        let closer = d < d1[l];
        d2[l] = if closer {
            d1[l]
        } else if d < d2[l] {
            d
        } else {
            d2[l]
        };
        at[l] = if closer { j as u32 } else { at[l] };
        d1[l] = if closer { d } else { d1[l] };
    };
    let whole = row.len() / LANES * LANES;
    for (c, (p, n)) in row[..whole].chunks_exact(LANES).zip(norms2[..whole].chunks_exact(LANES)).enumerate() {
        for l in 0..LANES {
            step(l, c * LANES + l, p[l], n[l]);
        }
    }
    for j in whole..row.len() {
        step(j - whole, j, row[j], norms2[j]);
    }
    // each lane's first least, in order of position; lanes hold positions
    // l, l + LANES, ..., so the least d with the lowest position wins
    let mut best = 0;
    for l in 1..LANES {
        if d1[l] < d1[best] || (d1[l] == d1[best] && at[l] < at[best]) {
            best = l;
        }
    }
    let second = (0..LANES).map(|l| if l == best { d2[l] } else { d1[l].min(d2[l]) }).fold(f32::INFINITY, f32::min);
    (at[best], d1[best], second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ivf::kmeans::Rng;
    use proptest::prelude::*;

    fn values(rng: &mut Rng, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| (rng.next_f64() as f32 - 0.5) * scale).collect()
    }

    fn exact_nearest(x: &[f32], centres: &[f32], dims: usize, form: Form) -> u32 {
        super::super::argmin(centres.chunks_exact(dims).map(|c| match form {
            Form::L2Squared => kernels::l2_squared(x, c),
            Form::NegativeDot => -kernels::dot(x, c),
        }))
    }

    /// The scalar reference for `nearest_two_of`: centres in order.
    fn nearest_two_in_order(row: &[f32], norms2: &[f32], x2: f32) -> (u32, f32, f32) {
        let (mut best, mut d1, mut d2) = (0u32, f32::INFINITY, f32::INFINITY);
        for (j, (&p, &c2)) in row.iter().zip(norms2).enumerate() {
            let d = x2 + c2 - 2.0 * p;
            if d < d1 {
                (d2, d1, best) = (d1, d, j as u32);
            } else if d < d2 {
                d2 = d;
            }
        }
        (best, d1, d2)
    }

    proptest! {
        /// The lane-wise passes give what one pass in order gives, with
        /// ties, repeats, infinities and NaN among the values.
        #[test]
        fn lane_passes_match_the_passes_in_order(
            picks in proptest::collection::vec(0usize..6, 0..70),
            norms in proptest::collection::vec(0usize..6, 70),
            x2 in prop_oneof![Just(0.0f32), Just(1.5), Just(f32::INFINITY)],
        ) {
            let pool = [0.0f32, 1.0, -1.0, 2.5, f32::INFINITY, f32::NAN];
            let row: Vec<f32> = picks.iter().map(|&i| pool[i]).collect();
            let norms2: Vec<f32> = norms[..row.len()].iter().map(|&i| pool[i].abs()).collect();
            let got = nearest_two_of(&row, &norms2, x2);
            let want = nearest_two_in_order(&row, &norms2, x2);
            prop_assert_eq!(got.0, want.0);
            prop_assert_eq!(got.1.to_bits(), want.1.to_bits());
            prop_assert_eq!(got.2.to_bits(), want.2.to_bits());
            let least = row.iter().fold(f32::INFINITY, |m, &v| m.min(v));
            prop_assert_eq!(least_of(&row), (least, row.iter().any(|v| v.is_nan())));
        }

        /// The assignment is the one every kernel distance would give, ties
        /// included: points equal to a centre, centres repeated, points
        /// halfway between two centres.
        #[test]
        fn nearest_matches_the_kernels(seed in any::<u64>(), dims in 1usize..300, k in 1usize..40, n in 0usize..150, dot in any::<bool>()) {
            let mut rng = Rng::new(seed);
            let mut centres = values(&mut rng, k * dims, 4.0);
            if k > 2 {
                let (first, rest) = centres.split_at_mut(dims);
                rest[dims..2 * dims].copy_from_slice(first); // centre 2 repeats centre 0
            }
            let mut points = values(&mut rng, n * dims, 4.0);
            for (i, p) in points.chunks_exact_mut(dims).enumerate() {
                let c = i % k;
                match i % 3 {
                    0 => p.copy_from_slice(&centres[c * dims..(c + 1) * dims]),
                    1 if k > 1 => {
                        for (d, x) in p.iter_mut().enumerate() {
                            *x = (centres[d] + centres[dims + d]) / 2.0;
                        }
                    }
                    _ => {}
                }
            }
            let form = if dot { Form::NegativeDot } else { Form::L2Squared };
            let m = CentreMatrix::new(&centres, dims);
            let mut got = Vec::new();
            m.nearest(&points, form, |i, j| match form {
                Form::L2Squared => kernels::l2_squared(&points[i * dims..(i + 1) * dims], &centres[j * dims..(j + 1) * dims]),
                Form::NegativeDot => -kernels::dot(&points[i * dims..(i + 1) * dims], &centres[j * dims..(j + 1) * dims]),
            }, &mut got);
            prop_assert_eq!(got.len(), n);
            for (i, x) in points.chunks_exact(dims).enumerate() {
                prop_assert_eq!(got[i], exact_nearest(x, &centres, dims, form), "point {}", i);
            }
        }

        /// nearest_two: the kernel's nearest centre (or one as near within
        /// rounding), its distance, and a true lower bound on every other.
        #[test]
        fn nearest_two_bounds_hold(seed in any::<u64>(), dims in 1usize..200, k in 2usize..30, n in 1usize..100) {
            let mut rng = Rng::new(seed);
            let centres = values(&mut rng, k * dims, 10.0);
            let points = values(&mut rng, n * dims, 10.0);
            let m = CentreMatrix::new(&centres, dims);
            let mut got = Vec::new();
            m.nearest_two(&points, &mut got);
            for (x, &(best, d1, lower)) in points.chunks_exact(dims).zip(&got) {
                let d: Vec<f32> = centres.chunks_exact(dims).map(|c| kernels::l2_squared(x, c).max(0.0).sqrt()).collect();
                let least = d.iter().fold(f32::INFINITY, |a, &b| a.min(b));
                prop_assert!(d1 <= least * (1.0 + 1e-4) + 1e-4, "nearest {} at {} vs {}", best, d1, least);
                prop_assert_eq!(d1, d[best as usize]);
                for (j, &dj) in d.iter().enumerate() {
                    if j != best as usize {
                        prop_assert!(lower <= dj * (1.0 + 1e-5) + 1e-5, "lower {} above centre {} at {}", lower, j, dj);
                    }
                }
            }
        }
    }

    #[test]
    fn infinite_and_nan_products_still_pick_by_the_exact_distance() {
        let dims = 2;
        // the last centre's product with the first point overflows both ways
        // (MAX² − MAX²); whichever centre the products rule in or out, the
        // answer is the exact distance's
        let centres = [0.0, 0.0, f32::MAX, f32::MAX, 1.0, 1.0, f32::MAX, -f32::MAX];
        let points = [f32::MAX, f32::MAX, 0.9, 0.9, 1.0, -1.0];
        let m = CentreMatrix::new(&centres, dims);
        for form in [Form::L2Squared, Form::NegativeDot] {
            let exact = |i: usize, j: usize| {
                let (x, c) = (&points[i * 2..i * 2 + 2], &centres[j * 2..j * 2 + 2]);
                match form {
                    Form::L2Squared => kernels::l2_squared(x, c),
                    Form::NegativeDot => -kernels::dot(x, c),
                }
            };
            let mut got = Vec::new();
            m.nearest(&points, form, exact, &mut got);
            let want: Vec<u32> = (0..3).map(|i| super::super::argmin((0..4).map(|j| exact(i, j)))).collect();
            assert_eq!(got, want, "{form:?}");
        }
    }
}
