//! k-means for IVF lists: k-means++ seeding, then Hamerly's algorithm, which
//! keeps for every point an upper bound on the distance to its centre and a
//! lower bound on the distance to any other centre, and skips the O(k·d)
//! search for a point whenever the bounds prove its assignment cannot change.
//! After a few iterations most points are skipped, so an iteration costs about
//! O(n + k²·d) instead of O(n·k·d).
//!
//! Spherical k-means (inner product and cosine) runs the same algorithm on
//! unit-length copies of the points and renormalises centres after each
//! update: on the unit sphere Euclidean order is cosine order, so Hamerly's
//! Euclidean bounds stay valid.
//!
//! Work is split over `threads` scoped threads by contiguous point ranges.
//! Every random choice comes from the seed, so a run is reproducible; other
//! thread counts differ only by the rounding of the f64 cluster sums.

#![forbid(unsafe_code)]

use super::assign::CentreMatrix;
use crate::kernels;

#[derive(Clone, Copy, Debug)]
pub struct KMeansParams {
    /// Number of centres.
    pub k: usize,
    /// Normalise points and centres (inner product, cosine).
    pub spherical: bool,
    pub max_iterations: usize,
    /// Points k-means++ draws the first centres from, drawn at random
    /// (0, or as many as there are points: all of them).
    pub seed_points: usize,
    pub seed: u64,
    pub threads: usize,
}

/// The result: `k` centres of `dims` values each, one after another.
#[derive(Clone, Debug)]
pub struct KMeans {
    pub centres: Vec<f32>,
    pub dims: usize,
    pub iterations: usize,
    /// Points whose nearest centre was computed exactly, over all iterations
    /// (the work Hamerly's bounds did not save); for benchmarks.
    pub full_searches: u64,
}

/// The build was cancelled through the progress callback.
#[derive(Debug, PartialEq, Eq)]
pub struct Cancelled;

/// SplitMix64: small, seedable, good enough for sampling choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

fn normalise(v: &mut [f32]) {
    let norm = kernels::norm(v);
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x = (*x as f64 / norm) as f32);
    }
}

fn dist(a: &[f32], b: &[f32]) -> f32 {
    kernels::l2_squared(a, b).max(0.0).sqrt()
}

/// Cluster `data` (`dims` values per point) into `params.k` centres.
/// `keep_going(iteration)` is called between iterations (progress reporting
/// and cancellation); returning false stops with `Cancelled`.
pub fn kmeans(
    data: &[f32],
    dims: usize,
    params: KMeansParams,
    mut keep_going: impl FnMut(usize) -> bool,
) -> Result<KMeans, Cancelled> {
    assert!(dims > 0 && data.len().is_multiple_of(dims), "data is whole points");
    let k = params.k.max(1);
    let n = data.len() / dims;
    let threads = params.threads.max(1);
    let owned;
    let points: &[f32] = if params.spherical {
        let mut copy = data.to_vec();
        copy.chunks_exact_mut(dims).for_each(normalise);
        owned = copy;
        &owned
    } else {
        data
    };
    let mut rng = Rng::new(params.seed);
    if n == 0 {
        return Ok(KMeans { centres: vec![0.0; k * dims], dims, iterations: 0, full_searches: 0 });
    }
    // k-means++ over a uniform draw of `seed_points` of the points (a
    // partial Fisher-Yates shuffle), or over all of them
    let centres = match params.seed_points {
        s if s > k && s < n => {
            let mut order: Vec<u32> = (0..n as u32).collect();
            for i in 0..s {
                let j = i + rng.below((n - i) as u64) as usize;
                order.swap(i, j);
            }
            order.truncate(s);
            order.sort_unstable();
            let drawn: Vec<f32> = order
                .iter()
                .flat_map(|&i| points[i as usize * dims..(i as usize + 1) * dims].iter().copied())
                .collect();
            seed(&drawn, dims, k, threads, &mut rng, &mut keep_going)?
        }
        _ => seed(points, dims, k, threads, &mut rng, &mut keep_going)?,
    };
    if n <= k {
        return Ok(KMeans { centres, dims, iterations: 0, full_searches: n as u64 });
    }
    hamerly(points, dims, centres, params, &mut keep_going)
}

/// k-means++: each next centre is a point drawn with probability
/// proportional to its squared distance from the nearest centre so far.
fn seed(
    points: &[f32],
    dims: usize,
    k: usize,
    threads: usize,
    rng: &mut Rng,
    keep_going: &mut impl FnMut(usize) -> bool,
) -> Result<Vec<f32>, Cancelled> {
    let n = points.len() / dims;
    let point = |i: usize| &points[i * dims..(i + 1) * dims];
    let mut centres = Vec::with_capacity(k * dims);
    centres.extend_from_slice(point(rng.below(n as u64) as usize));
    let mut d2: Vec<f32> = super::parallel_map(n, threads, |i| kernels::l2_squared(point(i), &centres[..dims]));
    for c in 1..k {
        let total: f64 = d2.iter().map(|&x| x as f64).sum();
        let chosen = if total > 0.0 {
            let mut target = rng.next_f64() * total;
            let mut pick = n - 1;
            for (i, &x) in d2.iter().enumerate() {
                target -= x as f64;
                if target < 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            // every point coincides with a centre already: repeat one
            rng.below(n as u64) as usize
        };
        centres.extend_from_slice(point(chosen));
        let newest = &centres[c * dims..(c + 1) * dims];
        let updated = super::parallel_map(n, threads, |i| d2[i].min(kernels::l2_squared(point(i), newest)));
        d2 = updated;
        if c % 64 == 0 && !keep_going(0) {
            return Err(Cancelled);
        }
    }
    Ok(centres)
}

/// Hamerly's algorithm from `centres`.
fn hamerly(
    points: &[f32],
    dims: usize,
    mut centres: Vec<f32>,
    params: KMeansParams,
    keep_going: &mut impl FnMut(usize) -> bool,
) -> Result<KMeans, Cancelled> {
    let n = points.len() / dims;
    let k = centres.len() / dims;
    let threads = params.threads.max(1);
    let point = |i: usize| &points[i * dims..(i + 1) * dims];
    struct PointState {
        assigned: u32,
        upper: f32,
        lower: f32,
    }
    let ranges: Vec<std::ops::Range<usize>> = {
        let per = n.div_ceil(threads);
        (0..threads).map(|t| t * per..((t + 1) * per).min(n)).filter(|r| !r.is_empty()).collect()
    };
    // the nearest two centres of every point, block by block as matrix products
    let mut state: Vec<PointState> = std::thread::scope(|s| {
        let handles: Vec<_> = ranges
            .iter()
            .map(|r| {
                let (centres, points) = (&centres, &points[r.start * dims..r.end * dims]);
                s.spawn(move || {
                    let mut found = Vec::with_capacity(points.len() / dims);
                    CentreMatrix::new(centres, dims).nearest_two(points, &mut found);
                    found
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| crate::workers::joined(h.join()))
            .map(|(assigned, upper, lower)| PointState { assigned, upper, lower })
            .collect()
    });
    let mut full_searches = n as u64;
    let mut iterations = 0;
    for iteration in 1..=params.max_iterations {
        iterations = iteration;
        // new centres: the mean of each cluster (sums per thread range, added in order)
        let partial: Vec<(Vec<f64>, Vec<u64>)> = std::thread::scope(|s| {
            let handles: Vec<_> = ranges
                .iter()
                .map(|r| {
                    let state = &state;
                    let r = r.clone();
                    s.spawn(move || {
                        let mut sums = vec![0f64; k * dims];
                        let mut counts = vec![0u64; k];
                        for i in r {
                            let a = state[i].assigned as usize;
                            counts[a] += 1;
                            for (s, &x) in sums[a * dims..(a + 1) * dims].iter_mut().zip(point(i)) {
                                *s += x as f64;
                            }
                        }
                        (sums, counts)
                    })
                })
                .collect();
            handles.into_iter().map(|h| crate::workers::joined(h.join())).collect()
        });
        let mut sums = vec![0f64; k * dims];
        let mut counts = vec![0u64; k];
        for (s, c) in &partial {
            sums.iter_mut().zip(s).for_each(|(a, b)| *a += b);
            counts.iter_mut().zip(c).for_each(|(a, b)| *a += b);
        }
        let old = centres.clone();
        for j in 0..k {
            // an empty cluster keeps its centre
            if counts[j] == 0 {
                continue;
            }
            let c = &mut centres[j * dims..(j + 1) * dims];
            for (x, &s) in c.iter_mut().zip(&sums[j * dims..(j + 1) * dims]) {
                *x = (s / counts[j] as f64) as f32;
            }
            if params.spherical {
                normalise(c);
            }
        }
        let moved: Vec<f32> =
            (0..k).map(|j| dist(&old[j * dims..(j + 1) * dims], &centres[j * dims..(j + 1) * dims])).collect();
        // the two largest movements, so a point's lower bound drops by the
        // largest movement of any centre other than its own
        let (mut m1, mut m1_at, mut m2) = (0f32, usize::MAX, 0f32);
        for (j, &m) in moved.iter().enumerate() {
            if m > m1 {
                m2 = m1;
                m1 = m;
                m1_at = j;
            } else if m > m2 {
                m2 = m;
            }
        }
        // half the distance from each centre to its nearest other centre
        let centres_ref = &centres;
        let half_gap: Vec<f32> = super::parallel_map(k, threads, |j| {
            let c = &centres_ref[j * dims..(j + 1) * dims];
            let mut best = f32::INFINITY;
            for (o, other) in centres_ref.chunks_exact(dims).enumerate() {
                if o != j {
                    best = best.min(dist(c, other));
                }
            }
            best / 2.0
        });
        let (changed, searched): (Vec<u64>, Vec<u64>) = std::thread::scope(|s| {
            let mut rest: &mut [PointState] = &mut state;
            let mut handles = Vec::new();
            for r in &ranges {
                let (mine, tail) = rest.split_at_mut(r.len());
                rest = tail;
                let (moved, half_gap, start) = (&moved, &half_gap, r.start);
                handles.push(s.spawn(move || {
                    // points whose bounds no longer prove their centre, searched
                    // in blocks (the first pass moves the bounds of all)
                    let mut search = Vec::new();
                    for (o, p) in mine.iter_mut().enumerate() {
                        let a = p.assigned as usize;
                        p.upper += moved[a];
                        p.lower -= if a == m1_at { m2 } else { m1 };
                        let bound = p.lower.max(half_gap[a]);
                        if p.upper <= bound {
                            continue;
                        }
                        p.upper = dist(point(start + o), &centres_ref[a * dims..(a + 1) * dims]);
                        if p.upper > bound {
                            search.push(o);
                        }
                    }
                    let matrix = CentreMatrix::new(centres_ref, dims);
                    let (mut block, mut found) = (Vec::new(), Vec::new());
                    let mut changed = 0u64;
                    for chunk in search.chunks(matrix.block()) {
                        block.clear();
                        chunk.iter().for_each(|&o| block.extend_from_slice(point(start + o)));
                        found.clear();
                        matrix.nearest_two(&block, &mut found);
                        for (&o, &(best, d1, d2)) in chunk.iter().zip(&found) {
                            if best != mine[o].assigned {
                                changed += 1;
                            }
                            mine[o] = PointState { assigned: best, upper: d1, lower: d2 };
                        }
                    }
                    (changed, search.len() as u64)
                }));
            }
            handles.into_iter().map(|h| crate::workers::joined(h.join())).unzip()
        });
        full_searches += searched.iter().sum::<u64>();
        let changed: u64 = changed.iter().sum();
        if !keep_going(iteration) {
            return Err(Cancelled);
        }
        // converged, or fewer than 0.1 % of points still moving
        if changed == 0 || changed * 1000 < n as u64 {
            break;
        }
    }
    Ok(KMeans { centres, dims, iterations, full_searches })
}

/// Sum over points of the squared distance to the nearest centre (the
/// k-means objective), for tests and benchmarks.
pub fn inertia(data: &[f32], dims: usize, centres: &[f32]) -> f64 {
    data.chunks_exact(dims)
        .map(|x| centres.chunks_exact(dims).map(|c| kernels::l2_squared(x, c)).fold(f32::INFINITY, f32::min) as f64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(centres: usize, per: usize, dims: usize, spread: f32, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        let means: Vec<f32> = (0..centres * dims).map(|_| (rng.next_f64() as f32 - 0.5) * 100.0).collect();
        let mut out = Vec::new();
        for i in 0..centres * per {
            let c = i % centres;
            for d in 0..dims {
                out.push(means[c * dims + d] + (rng.next_f64() as f32 - 0.5) * spread);
            }
        }
        out
    }

    fn params(k: usize, threads: usize) -> KMeansParams {
        KMeansParams { k, spherical: false, max_iterations: 50, seed_points: 0, seed: 7, threads }
    }

    /// Lloyd's algorithm from the same seeding, as the reference Hamerly must match.
    fn lloyd(data: &[f32], dims: usize, mut centres: Vec<f32>, iterations: usize) -> Vec<f32> {
        let k = centres.len() / dims;
        for _ in 0..iterations {
            let mut sums = vec![0f64; k * dims];
            let mut counts = vec![0u64; k];
            for x in data.chunks_exact(dims) {
                let a = super::super::argmin(centres.chunks_exact(dims).map(|c| dist(x, c))) as usize;
                counts[a] += 1;
                sums[a * dims..(a + 1) * dims].iter_mut().zip(x).for_each(|(s, &v)| *s += v as f64);
            }
            for j in 0..k {
                if counts[j] > 0 {
                    for d in 0..dims {
                        centres[j * dims + d] = (sums[j * dims + d] / counts[j] as f64) as f32;
                    }
                }
            }
        }
        centres
    }

    #[test]
    fn finds_separated_clusters() {
        let dims = 8;
        let data = blobs(10, 200, dims, 1.0, 1);
        let r = kmeans(&data, dims, params(10, 2), |_| true).unwrap();
        // every true cluster's points end up with one centre each
        let mean_sq = inertia(&data, dims, &r.centres) / (data.len() / dims) as f64;
        assert!(mean_sq < 1.0, "points stay near their own blob's centre: {mean_sq}");
        assert!(r.full_searches < (r.iterations as u64 + 1) * 2000, "bounds skipped work");
    }

    #[test]
    fn seeding_from_part_of_the_points_finds_separated_clusters() {
        let dims = 8;
        let data = blobs(10, 200, dims, 1.0, 1);
        // (the build seeds from ten points per centre at least)
        for seed_points in [100, 300, 1999] {
            let p = KMeansParams { seed_points, ..params(10, 2) };
            let r = kmeans(&data, dims, p, |_| true).unwrap();
            let mean_sq = inertia(&data, dims, &r.centres) / (data.len() / dims) as f64;
            assert!(mean_sq < 1.0, "seeded from {seed_points} points: {mean_sq}");
        }
    }

    #[test]
    fn hamerly_matches_lloyd() {
        let dims = 4;
        let data = blobs(6, 100, dims, 40.0, 3); // overlapping blobs: assignments keep moving
        let mut p = params(6, 1);
        p.max_iterations = 1000;
        let r = kmeans(&data, dims, p, |_| true).unwrap();
        // Lloyd from the result is a fixed point (within float noise) when Hamerly converged
        let again = lloyd(&data, dims, r.centres.clone(), 1);
        let drift: f32 = r.centres.iter().zip(&again).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(drift < 1e-2, "converged to a Lloyd fixed point, drift {drift}");
    }

    #[test]
    fn thread_count_does_not_change_the_result() {
        let dims = 5;
        let data = blobs(7, 150, dims, 20.0, 9);
        let one = kmeans(&data, dims, params(12, 1), |_| true).unwrap();
        let three = kmeans(&data, dims, params(12, 3), |_| true).unwrap();
        let diff = one.centres.iter().zip(&three.centres).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff < 1e-3, "{diff}");
    }

    #[test]
    fn spherical_centres_are_unit_length() {
        let dims = 6;
        let data = blobs(5, 100, dims, 5.0, 4);
        let mut p = params(5, 2);
        p.spherical = true;
        let r = kmeans(&data, dims, p, |_| true).unwrap();
        for c in r.centres.chunks_exact(dims) {
            assert!((kernels::norm(c) - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn degenerate_inputs() {
        let dims = 3;
        // fewer points than centres: every point is a centre
        let data = [1.0, 0.0, 0.0, 0.0, 2.0, 0.0];
        let r = kmeans(&data, dims, params(5, 2), |_| true).unwrap();
        assert_eq!(r.centres.len(), 15);
        for x in data.chunks_exact(dims) {
            assert!(r.centres.chunks_exact(dims).any(|c| c == x));
        }
        // all-equal points
        let same = [0.5f32; 300];
        let r = kmeans(&same, dims, params(4, 2), |_| true).unwrap();
        assert!(r.centres.iter().all(|&x| x == 0.5));
        // no points
        assert_eq!(kmeans(&[], dims, params(4, 1), |_| true).unwrap().centres, vec![0.0; 12]);
        // cancellation
        let data = blobs(4, 100, dims, 50.0, 2);
        assert_eq!(kmeans(&data, dims, params(4, 1), |i| i < 1).unwrap_err(), Cancelled);
    }
}
