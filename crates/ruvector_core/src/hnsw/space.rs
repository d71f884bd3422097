//! The vector collections a graph is built over ([`Space`]): dense f32
//! vectors, bit strings and sparse vectors. Each knows how to measure the distance from a
//! query to one of its vectors; the build needs nothing else.

#![forbid(unsafe_code)]

use super::Metric;
use crate::bits;
use crate::sparse::{gathered_dot, scatter_dims, with_scattered, Pair, PairDistance, PairMetric};

/// The vectors a graph is built over, and how to measure them.
pub trait Space: Sync {
    /// One vector, as stored and as searched for.
    type Query: ?Sized;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Node `i`'s vector.
    fn get(&self, i: u32) -> &Self::Query;
    fn distance(&self, q: &Self::Query, i: u32) -> f32;
    /// Start loading node `i`'s vector into the CPU cache.
    #[inline]
    fn prefetch(&self, _i: u32) {}
    /// Whether searches during construction follow every level-0 link
    /// rather than only each node's diverse links (`build`, "Full level-0
    /// lists" in docs/hnsw.md).
    fn construct_on_full_lists(&self) -> bool {
        false
    }
}

/// Dense f32 vectors in one flat array (`ruvector`, and `halfvec` widened),
/// already prepared for the metric (normalised for cosine).
pub struct DenseSpace {
    pub dims: usize,
    pub vectors: Vec<f32>,
    pub metric: Metric,
}

impl DenseSpace {
    /// Vectors measured exactly.
    pub fn new(dims: usize, vectors: Vec<f32>, metric: Metric) -> Self {
        DenseSpace { dims, vectors, metric }
    }
}

impl Space for DenseSpace {
    type Query = [f32];

    fn len(&self) -> usize {
        self.vectors.len() / self.dims.max(1)
    }

    #[inline]
    fn get(&self, i: u32) -> &[f32] {
        &self.vectors[i as usize * self.dims..(i as usize + 1) * self.dims]
    }

    #[inline]
    fn distance(&self, q: &[f32], i: u32) -> f32 {
        self.metric.distance(q, self.get(i))
    }

    #[inline]
    fn prefetch(&self, i: u32) {
        crate::kernels::prefetch(self.get(i), 4);
    }
}

/// Dense vectors measured on binary16 copies while a graph is built: half
/// the bytes of [`DenseSpace`] to load per distance, and a build spends
/// most of its time waiting on those loads (WordNet-384's build in the
/// server 0.85–0.87× the time for the same recall; docs/benchmarks.md,
/// fortieth session). The f32 vectors stay for what is written to the
/// pages ([`HalfSpace::full`]).
///
/// Every copy is the vector times one power of two, `2^shift`, chosen so
/// that the largest magnitude of all lands near binary16's largest
/// (32,768 ≥ it > 16,384): a power-of-two scale of every vector is exact
/// and keeps the order of L2, L1, inner-product and cosine distances, and
/// this one keeps the most elements in binary16's normal range. The build
/// only compares distances from this space with each other.
pub struct HalfSpace {
    dims: usize,
    vectors: Vec<f32>,
    halves: Vec<half::f16>,
    metric: Metric,
}

impl HalfSpace {
    /// At most this share of the vectors may have their largest element
    /// below `2^-4` once scaled, or the vectors stay f32 (`new` gives them
    /// back): such a vector's elements would keep fewer than 11 bits, or fall
    /// below binary16's normal range (2^-14), so data whose vectors differ in
    /// scale by more than about 2^19 keeps its small ones exact. Elements far
    /// below their own vector's largest (MiniLM embeddings carry a few near
    /// 1e-37) may become zero: their share of a distance is below f32's
    /// rounding anyway.
    pub const MAX_SMALL_VECTOR_SHARE: f64 = 0.001;

    /// The space over `vectors` (prepared for `metric`), or the vectors back
    /// when binary16 copies could not stand for them: no non-zero element,
    /// a non-finite one, or too many vectors whose scale binary16 cannot
    /// keep beside the largest (see [`Self::MAX_SMALL_VECTOR_SHARE`]).
    pub fn new(dims: usize, vectors: Vec<f32>, metric: Metric) -> Result<HalfSpace, Vec<f32>> {
        let largest = vectors.iter().fold(0f32, |m, &x| if x.abs() > m || x.is_nan() { x.abs() } else { m });
        if !(largest > 0.0 && largest.is_finite()) || dims == 0 {
            return Err(vectors);
        }
        // 2^shift · largest in (16,384, 32,768]
        let shift = 15 - (largest as f64).log2().ceil() as i32;
        let scale = 2f64.powi(shift);
        let small = vectors
            .chunks(dims)
            .filter(|v| {
                let top = v.iter().fold(0f32, |m, &x| m.max(x.abs())) as f64 * scale;
                top != 0.0 && top < 0.0625
            })
            .count();
        if small as f64 > (vectors.len() / dims) as f64 * Self::MAX_SMALL_VECTOR_SHARE {
            return Err(vectors);
        }
        // (read at random positions by the build: backed by 2 MiB pages
        // where the kernel can, as `DenseSpace`'s vectors are)
        let mut halves: Vec<half::f16> = Vec::new();
        if halves.try_reserve_exact(vectors.len()).is_err() {
            return Err(vectors);
        }
        crate::layout::advise_huge_pages(halves.as_ptr().cast(), halves.capacity() * 2);
        halves.extend(vectors.iter().map(|&x| half::f16::from_f64(x as f64 * scale)));
        Ok(HalfSpace { dims, vectors, halves, metric })
    }

    /// Node `i`'s vector as given (f32).
    #[inline]
    pub fn full(&self, i: u32) -> &[f32] {
        &self.vectors[i as usize * self.dims..(i as usize + 1) * self.dims]
    }
}

impl Space for HalfSpace {
    type Query = [half::f16];

    fn len(&self) -> usize {
        self.vectors.len() / self.dims
    }

    #[inline]
    fn get(&self, i: u32) -> &[half::f16] {
        &self.halves[i as usize * self.dims..(i as usize + 1) * self.dims]
    }

    #[inline]
    fn distance(&self, q: &[half::f16], i: u32) -> f32 {
        self.metric.distance(q, self.get(i))
    }

    #[inline]
    fn prefetch(&self, i: u32) {
        crate::kernels::prefetch(self.get(i), 4);
    }
}

/// Dense vectors as SQ8 copies ([`crate::sq8`] records, one after another):
/// a quarter of [`DenseSpace`]'s memory, distances approximate (each element
/// within half its vector's step). For VACUUM's repair when the f32 vectors
/// do not fit its memory. A query is a record too; it is decoded to f32 once
/// per thread and reused while the same record is asked for again (a repair
/// measures one node against many). A record of this space is known by the
/// space's serial number and its row; any other query by its bytes.
pub struct Sq8Space {
    dims: usize,
    records: Vec<u8>,
    metric: Metric,
    serial: u64,
}

/// What the decoded query on a thread was.
#[derive(PartialEq)]
enum DecodedKey {
    None,
    /// Row `1` of the space with serial number `0`.
    Row(u64, usize),
    /// A record from elsewhere, by its bytes.
    Bytes(Vec<u8>),
}

thread_local! {
    /// The last query record decoded on this thread, and its values.
    static DECODED: std::cell::RefCell<(DecodedKey, Vec<f32>)> = const { std::cell::RefCell::new((DecodedKey::None, Vec::new())) };
}

impl Sq8Space {
    /// The space of `records` (`crate::sq8::record_bytes(dims)` bytes each).
    pub fn new(dims: usize, records: Vec<u8>, metric: Metric) -> Self {
        static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Sq8Space { dims, records, metric, serial }
    }

    fn record(&self, i: u32) -> &[u8] {
        let n = crate::sq8::record_bytes(self.dims);
        &self.records[i as usize * n..(i as usize + 1) * n]
    }

    /// Row of `q` if it is one of this space's records.
    fn row_of(&self, q: &[u8]) -> Option<usize> {
        let n = crate::sq8::record_bytes(self.dims);
        let at = (q.as_ptr() as usize).checked_sub(self.records.as_ptr() as usize)?;
        (q.len() == n && at.is_multiple_of(n) && at < self.records.len()).then_some(at / n)
    }
}

impl Space for Sq8Space {
    type Query = [u8];

    fn len(&self) -> usize {
        self.records.len() / crate::sq8::record_bytes(self.dims)
    }

    #[inline]
    fn get(&self, i: u32) -> &[u8] {
        self.record(i)
    }

    fn distance(&self, q: &[u8], i: u32) -> f32 {
        let (v, _) = crate::sq8::parse(self.record(i), self.dims);
        DECODED.with(|d| {
            let mut d = d.borrow_mut();
            let d = &mut *d;
            let same = match (&d.0, self.row_of(q)) {
                (DecodedKey::Row(serial, row), Some(r)) => *serial == self.serial && *row == r,
                (DecodedKey::Bytes(bytes), None) => bytes.as_slice() == q,
                _ => false,
            };
            if !same || d.1.len() != self.dims {
                let (qv, _) = crate::sq8::parse(q, self.dims);
                d.1.clear();
                d.1.extend((0..self.dims).map(|k| qv.decode(k)));
                d.0 = match self.row_of(q) {
                    Some(r) => DecodedKey::Row(self.serial, r),
                    None => DecodedKey::Bytes(q.to_vec()),
                };
            }
            self.metric.sq8_distance(&d.1, v)
        })
    }

    #[inline]
    fn prefetch(&self, i: u32) {
        crate::kernels::prefetch(self.record(i), 1);
    }
}

/// Bit strings of equal length (PostgreSQL `bit(n)`), `bytes` per vector, by
/// Hamming distance or, when `jaccard` is set, Jaccard distance.
pub struct BitSpace {
    pub bytes: usize,
    pub data: Vec<u8>,
    pub jaccard: bool,
}

impl Space for BitSpace {
    type Query = [u8];

    fn len(&self) -> usize {
        self.data.len() / self.bytes.max(1)
    }

    #[inline]
    fn get(&self, i: u32) -> &[u8] {
        &self.data[i as usize * self.bytes..(i as usize + 1) * self.bytes]
    }

    #[inline]
    fn distance(&self, q: &[u8], i: u32) -> f32 {
        if self.jaccard {
            bits::jaccard(q, self.get(i)) as f32
        } else {
            bits::hamming(q, self.get(i)) as f32
        }
    }
}

/// Sparse vectors as pair slices (`sparsevec`), one after another.
///
/// Under inner product and cosine (negative dot product) a distance is
/// measured by gathering: the query's values scattered into a dense array
/// kept per thread (`sparse::with_scattered`: an insert measures one node
/// against hundreds), each vector's pairs read their products from it
/// (`sparse::gathered_dot`: the merge-join's sum to the bit; a pair past the
/// query's last index adds nothing). The rule is the page accumulator's
/// (`index::kind::Accumulator`): the query's indices decide
/// (`sparse::scatter_dims`); a query with one past `sparse::SCATTER_MAX_DIMS`,
/// and L2 and L1, merge-join (`PairDistance`).
pub struct SparseSpace {
    /// Row `i` is `pairs[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    pairs: Vec<Pair>,
    metric: PairMetric,
}

impl SparseSpace {
    /// Rows `pairs[offsets[i]..offsets[i + 1]]` (`offsets` starts at 0 and
    /// does not decrease; each row's indices ascend).
    pub fn new(offsets: Vec<usize>, pairs: Vec<Pair>, metric: PairMetric) -> Self {
        SparseSpace { offsets, pairs, metric }
    }
}

impl Space for SparseSpace {
    type Query = [Pair];

    /// Sparse rows share few terms, and a node's diverse links alone leave
    /// construction searches stranded: every level-0 link is followed.
    fn construct_on_full_lists(&self) -> bool {
        true
    }

    fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    #[inline]
    fn get(&self, i: u32) -> &[Pair] {
        &self.pairs[self.offsets[i as usize]..self.offsets[i as usize + 1]]
    }

    #[inline]
    fn distance(&self, q: &[Pair], i: u32) -> f32 {
        let x = self.get(i);
        if self.metric == PairMetric::NegativeDot {
            let gathered = scatter_dims(q)
                .and_then(|dims| with_scattered(q, dims, |dense| gathered_dot(dense, x.iter().copied(), 0.0)));
            if let Some(dot) = gathered {
                return -dot;
            }
        }
        PairDistance::between(q, x, self.metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sq8_distances_are_near_the_f32_ones_for_every_metric() {
        let dims = 48;
        let rows: Vec<Vec<f32>> =
            (0..20).map(|r| (0..dims).map(|k| ((r * 31 + k * 17) % 23) as f32 / 7.0 - 1.3).collect()).collect();
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
            let mut prepared = rows.clone();
            prepared.iter_mut().for_each(|v| {
                metric.prepare(v);
            });
            let dense = DenseSpace::new(dims, prepared.concat(), metric);
            let sq8 =
                Sq8Space::new(dims, prepared.iter().flat_map(|v| crate::sq8::encode(v).unwrap()).collect(), metric);
            assert_eq!(sq8.len(), 20);
            for a in 0..20u32 {
                for b in 0..20u32 {
                    let exact = dense.distance(dense.get(a), b);
                    let approx = sq8.distance(sq8.get(a), b);
                    // both sides quantised: a few hundredths of the distance
                    let scale = 1.0 + exact.abs();
                    assert!((exact - approx).abs() <= 0.05 * scale, "{metric:?} {a} {b}: {exact} vs {approx}");
                    // a query from elsewhere (a copy) gives the same distance
                    let copy: Vec<u8> = sq8.get(a).into();
                    assert_eq!(sq8.distance(&copy, b).to_bits(), approx.to_bits());
                }
            }
        }
    }

    /// Integers up to 255 (pixels) are exact in binary16 after any scale
    /// the space picks, so its distances order every pair of rows as the
    /// f32 ones do, for every metric.
    #[test]
    fn half_space_orders_exact_rows_as_f32_does() {
        let dims = 40;
        let rows: Vec<f32> = (0..30 * dims).map(|k| ((k * 37 + k / 7 * 11) % 256) as f32).collect();
        for metric in [Metric::L2, Metric::InnerProduct, Metric::L1] {
            let dense = DenseSpace::new(dims, rows.clone(), metric);
            let half = HalfSpace::new(dims, rows.clone(), metric).unwrap_or_else(|_| panic!("pixels fit"));
            assert_eq!(half.len(), 30);
            for a in 0..30u32 {
                assert_eq!(half.full(a), dense.get(a));
                for b in 0..30u32 {
                    for c in 0..30u32 {
                        let f32_order = dense.distance(dense.get(a), b).total_cmp(&dense.distance(dense.get(a), c));
                        let f16_order = half.distance(half.get(a), b).total_cmp(&half.distance(half.get(a), c));
                        assert_eq!(f32_order, f16_order, "{metric:?}: {a} to {b} and {c}");
                    }
                }
            }
        }
    }

    /// Small values (all below binary16's normal range as they are) are
    /// scaled into it, so a graph built on the copies still tells rows
    /// apart: every row's own vector finds it.
    #[test]
    fn half_space_scales_small_values_into_range() {
        let dims = 24;
        let mut rng = crate::ivf::kmeans::Rng::new(11);
        let rows: Vec<f32> = (0..600 * dims).map(|_| (rng.next_f64() as f32 - 0.5) * 1e-6).collect();
        let half = HalfSpace::new(dims, rows, Metric::L2).unwrap_or_else(|_| panic!("one scale fits all"));
        let graph = crate::hnsw::InMemoryGraph::build(
            half,
            crate::hnsw::BuildParams { m: 8, ef_construction: 32, seed: 3 },
            1,
            |_| true,
        )
        .unwrap();
        for i in (0..600u32).step_by(7) {
            let found = graph.search(graph.vector(i), 1, 32);
            assert_eq!(found[0].id, i, "row {i}");
        }
    }

    /// The vectors come back where binary16 copies cannot stand for them.
    #[test]
    fn half_space_refuses_what_binary16_cannot_hold() {
        // nothing but zeros
        assert_eq!(HalfSpace::new(4, vec![0.0; 8], Metric::L2).err(), Some(vec![0.0; 8]));
        // magnitudes spanning 2^60: the small ones would fall below the normal range
        let mut mixed = vec![1e-9f32; 4000];
        mixed[0] = 1e9;
        assert_eq!(HalfSpace::new(4, mixed.clone(), Metric::L2).err(), Some(mixed));
        // a few elements far below their vector's largest (MiniLM's near
        // 1e-37) do not stop it
        let embeddings: Vec<f32> =
            (0..400).map(|k| if k % 50 == 7 { 1e-37 } else { ((k % 13) as f32 - 6.0) / 40.0 }).collect();
        assert!(HalfSpace::new(8, embeddings, Metric::Cosine).is_ok());
        // up to f32's largest, evenly: one scale fits
        let wide: Vec<f32> = (0..64).map(|k| 3e38 - k as f32 * 1e36).collect();
        assert!(HalfSpace::new(4, wide, Metric::L2).is_ok());
    }

    /// Random sparse rows: ascending distinct indices below `dims`, values
    /// of either sign (some zero) and a few rows with no pairs.
    fn sparse_rows(count: usize, dims: i32, seed: u64) -> (Vec<usize>, Vec<Pair>) {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let (mut offsets, mut pairs) = (vec![0], Vec::new());
        for _ in 0..count {
            let nnz = next() % 40;
            let mut index = -1i32;
            for _ in 0..nnz {
                index += 1 + (next() % (dims as u32 / 20).max(1)) as i32;
                if index >= dims {
                    break;
                }
                let value = if next() % 17 == 0 { 0.0 } else { (next() % 2001) as f32 / 1000.0 - 1.0 };
                pairs.push(Pair { index, value });
            }
            offsets.push(pairs.len());
        }
        (offsets, pairs)
    }

    /// Under inner product and cosine a sparse space gathers from a
    /// scattered query, and gives `PairDistance`'s merge-join value to the
    /// bit: queries changing, repeated, measured against spaces of other
    /// widths in the same thread, and with indices beyond the space's rows
    /// (which fall back to the merge-join); L2 and L1 merge-join always.
    #[test]
    fn sparse_space_gathers_the_merge_joins_values() {
        for (dims, seed) in [(50, 1u64), (3000, 2), (40, 3), (100_000, 4)] {
            let (offsets, pairs) = sparse_rows(120, dims, seed);
            let queries: Vec<Vec<Pair>> =
                (0..offsets.len() - 1).map(|i| pairs[offsets[i]..offsets[i + 1]].to_vec()).collect();
            let (wide_offsets, wide_pairs) = sparse_rows(10, dims * 3, seed + 10);
            let outside: Vec<Vec<Pair>> = (0..wide_offsets.len() - 1)
                .map(|i| wide_pairs[wide_offsets[i]..wide_offsets[i + 1]].to_vec())
                .collect();
            for metric in [PairMetric::NegativeDot, PairMetric::L2Squared, PairMetric::L1] {
                let space = SparseSpace::new(offsets.clone(), pairs.clone(), metric);
                for q in queries.iter().chain(&outside) {
                    // each query twice in a row (the second from the scattered
                    // array as it stands), then the next one
                    for _ in 0..2 {
                        for i in 0..space.len() as u32 {
                            let want = PairDistance::between(q, space.get(i), metric);
                            assert_eq!(
                                space.distance(q, i).to_bits(),
                                want.to_bits(),
                                "dims {dims} {metric:?} row {i}"
                            );
                        }
                    }
                }
            }
        }
        // a query scattered for a narrower space, then measured in a wider one
        let q = vec![Pair { index: 3, value: 1.5 }];
        let narrow = SparseSpace::new(vec![0, 1], q.clone(), PairMetric::NegativeDot);
        let wide_rows = vec![Pair { index: 3, value: 2.0 }, Pair { index: 5000, value: 1.0 }];
        let wide = SparseSpace::new(vec![0, 2], wide_rows, PairMetric::NegativeDot);
        assert_eq!(narrow.distance(&q, 0), -2.25);
        assert_eq!(wide.distance(&q, 0), -3.0);
        // a query scattered over few dimensions, rows reaching far past them
        let wide_rows = vec![Pair { index: 3, value: 2.0 }, Pair { index: 900_000, value: 1.0 }];
        let wide = SparseSpace::new(vec![0, 2], wide_rows, PairMetric::NegativeDot);
        assert_eq!(wide.distance(&q, 0), -3.0);
        // indices past what a thread scatters over: merge-joined
        let far = vec![Pair { index: crate::sparse::SCATTER_MAX_DIMS as i32 + 5, value: 2.0 }];
        assert_eq!(scatter_dims(&far), None);
        let space = SparseSpace::new(vec![0, 1], far.clone(), PairMetric::NegativeDot);
        assert_eq!(space.distance(&far, 0), -4.0);
    }
}
