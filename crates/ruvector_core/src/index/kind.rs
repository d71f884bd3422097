//! What an index stores and how it measures, shared by `hnsw` and `ivfflat`:
//! the element type (from the column type), the metric (from the opclass),
//! rows prepared for the metric, queries in the index's element type, and
//! distances summed over a vector stored in pieces. Reading these from the
//! catalogue and from datums is the extension's (src/am/kind.rs).

use std::cmp::Ordering;

use half::f16;

use crate::bits;
use crate::hnsw::tuple::chunk_elems;
use crate::kernels;
use crate::sparse::{Pair, PairDistance, PairMetric};

/// The distance an index orders by. Smaller is closer for every metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Squared Euclidean distance (ordering-equivalent to `<->`).
    L2,
    /// Negative inner product (`<#>`).
    InnerProduct,
    /// Cosine distance; vectors are normalised when stored and queried, so it
    /// is computed as negative inner product (`<=>`).
    Cosine,
    /// Manhattan distance (`<+>`).
    L1,
}

impl Metric {
    #[inline]
    pub fn distance<T: kernels::KernelElement>(self, a: &[T], b: &[T]) -> f32 {
        match self {
            Metric::L2 => kernels::l2_squared(a, b),
            Metric::InnerProduct | Metric::Cosine => -kernels::dot(a, b),
            Metric::L1 => kernels::l1(a, b),
        }
    }

    /// The SQL operator's distance (`<->`, `<#>`, `<=>`, `<+>`) between two
    /// vectors as the table holds them, not prepared: the operators compute
    /// exactly this, so an index that reports it for a row needs no recheck.
    #[inline]
    pub fn sql_distance<T: kernels::KernelElement>(self, a: &[T], b: &[T]) -> f64 {
        match self {
            Metric::L2 => (kernels::l2_squared(a, b) as f64).sqrt(),
            Metric::InnerProduct => -(kernels::dot(a, b) as f64),
            Metric::Cosine => kernels::cosine_distance(a, b),
            Metric::L1 => kernels::l1(a, b) as f64,
        }
    }

    /// The same distance from an f32 query to an SQ8 copy (see `crate::sq8`).
    #[inline]
    pub fn sq8_distance(self, q: &[f32], v: kernels::Sq8Ref) -> f32 {
        let k = kernels::Sq8Kernels::active();
        match self {
            Metric::L2 => (k.l2_squared)(q, v),
            Metric::InnerProduct | Metric::Cosine => -(k.dot)(q, v),
            Metric::L1 => (k.l1)(q, v),
        }
    }

    /// Bring a vector into the form the index stores and compares (unit length
    /// for cosine). Returns false for a vector the metric cannot index (the
    /// zero vector under cosine).
    pub fn prepare(self, v: &mut [f32]) -> bool {
        if self != Metric::Cosine {
            return true;
        }
        self.prepare_with_norm(v, kernels::norm(v))
    }

    /// As [`Metric::prepare`], given `norm`, which must be
    /// `kernels::norm(v)`: callers that need the norm anyway compute it once
    /// (a sequential f64 sum, most of what preparing a 384-d row costs).
    pub fn prepare_with_norm(self, v: &mut [f32], norm: f64) -> bool {
        if self != Metric::Cosine {
            return true;
        }
        if norm == 0.0 || !norm.is_finite() {
            return false;
        }
        v.iter_mut().for_each(|x| *x = (*x as f64 / norm) as f32);
        true
    }
}

/// The element type an index stores vectors in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    /// `ruvector`: f32.
    F32,
    /// `halfvec`: IEEE binary16, stored raw.
    F16,
    /// `bit(n)`: bytes of bits, most significant first.
    Bit,
    /// `sparsevec`: (index, value) pairs, 8 bytes each.
    Sparse,
}

impl Elem {
    /// Bytes per stored element (a byte of 8 bits for `bit`).
    pub fn bytes(self) -> usize {
        match self {
            Elem::F32 => 4,
            Elem::F16 => 2,
            Elem::Bit => 1,
            Elem::Sparse => 8,
        }
    }

    /// Stored bytes of a vector of `dims` elements (bits for `bit`), or
    /// `None` where it varies by row (`sparsevec`).
    pub fn row_bytes(self, dims: usize) -> Option<usize> {
        match self {
            Elem::Bit => Some(dims.div_ceil(8)),
            Elem::Sparse => None,
            _ => Some(dims * self.bytes()),
        }
    }

    /// A dense vector `v` (f32, already prepared for the metric) in this
    /// element type's bytes (`bit` rows are stored as read, not through here).
    pub fn encode(self, v: &[f32]) -> Vec<u8> {
        match self {
            Elem::F32 => bytemuck::cast_slice(v).to_vec(),
            Elem::F16 => v.iter().flat_map(|&x| f16::from_f32(x).to_bits().to_ne_bytes()).collect(),
            Elem::Bit | Elem::Sparse => unreachable!("bit and sparse rows are stored as read"),
        }
    }

    /// Whether `stored` (an index's copy of a row, as this element type
    /// stores it) is the vector `expected` (the same row's value as the
    /// index would store it now, prepared for the metric): `Err` says how
    /// it differs. Byte for byte, except under cosine, where the stored
    /// values were divided by a norm that another CPU's kernels may have
    /// summed in another order: there each value may differ by a few units
    /// in its last place (f32: 2^-20 of the vector's largest value or of
    /// itself; binary16, rounded after: 2^-9), far below what damage does.
    /// Used by `ruvector_index_check` to compare an index with its table.
    pub fn stored_matches(self, measure: Measure, stored: &[u8], expected: &[u8]) -> Result<(), String> {
        let cosine = matches!(measure, Measure::Dense(Metric::Cosine) | Measure::Sparse(Metric::Cosine));
        if stored == expected {
            return Ok(());
        }
        if stored.len() != expected.len() {
            return Err(format!("it holds {} bytes of vector, the table's row {}", stored.len(), expected.len()));
        }
        let close = |a: &[f32], b: &[f32], rel: f32| -> Result<(), String> {
            let largest = b.iter().fold(0f32, |m, x| m.max(x.abs()));
            match a.iter().zip(b).position(|(x, y)| {
                !matches!(
                    (x - y).abs().partial_cmp(&(rel * (x.abs().max(y.abs()) + largest))),
                    Some(Ordering::Less | Ordering::Equal)
                )
            }) {
                None => Ok(()),
                Some(i) => Err(format!("its element {} is {}, the table's row has {}", i + 1, a[i], b[i])),
            }
        };
        match self {
            Elem::F32 if cosine => close(&chunk_elems::<f32>(stored), &chunk_elems::<f32>(expected), 2f32.powi(-20)),
            Elem::F16 if cosine => {
                let widen = |raw: &[u8]| chunk_elems::<f16>(raw).iter().map(|x| x.to_f32()).collect::<Vec<f32>>();
                close(&widen(stored), &widen(expected), 2f32.powi(-9))
            }
            Elem::Sparse if cosine => {
                let (a, b) = (chunk_elems::<Pair>(stored), chunk_elems::<Pair>(expected));
                if let Some(i) = a.iter().zip(b.iter()).position(|(x, y)| x.index != y.index) {
                    return Err(format!("its pair {} has index {}, the table's row {}", i + 1, a[i].index, b[i].index));
                }
                let values = |p: &[Pair]| p.iter().map(|p| p.value).collect::<Vec<f32>>();
                close(&values(&a), &values(&b), 2f32.powi(-20))
            }
            _ => {
                let at = stored.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(0);
                Err(format!("its bytes differ from the table's row from byte {at}"))
            }
        }
    }

    /// A search query in this element type from stored bytes.
    pub fn query(self, raw: &[u8]) -> Query {
        match self {
            Elem::F32 => Query::F32(chunk_elems::<f32>(raw).into_owned()),
            Elem::F16 => Query::F16(chunk_elems::<f16>(raw).into_owned()),
            Elem::Bit => Query::Bit(raw.to_vec()),
            Elem::Sparse => Query::Sparse(chunk_elems::<Pair>(raw).into_owned()),
        }
    }
}

/// How an index measures distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// The dense metrics of `ruvector` and `halfvec`.
    Dense(Metric),
    /// Hamming distance on `bit`.
    Hamming,
    /// Jaccard distance on `bit`.
    Jaccard,
    /// The metrics of `sparsevec` (cosine: stored normalised, measured by dot).
    Sparse(Metric),
}

/// A query vector in the index's element type, so distances are computed
/// exactly as the SQL operator computes them.
pub enum Query {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bit(Vec<u8>),
    Sparse(Vec<Pair>),
}

/// What an index stores and how it measures, from its column type and opclass.
#[derive(Clone, Copy, Debug)]
pub struct IndexKind {
    pub measure: Measure,
    pub elem: Elem,
}

/// One row's vector as read from a datum: its length, the stored bytes, and
/// (dense types) the f32 values.
pub struct Row {
    /// Elements (bits for `bit`).
    pub dims: usize,
    pub raw: Vec<u8>,
    pub dense: Vec<f32>,
}

impl Row {
    /// The row as the index stores it (unit length under cosine), or `None`
    /// for a vector the index skips (the zero vector under cosine).
    pub fn prepared(self, kind: IndexKind) -> Option<Row> {
        self.prepared_given(kind, None)
    }

    /// The row's norm before preparing (its magnitude, 0 for `bit` and
    /// `sparsevec`) and [`Row::prepared`], the norm summed once for both.
    pub fn prepared_with_magnitude(self, kind: IndexKind) -> (f64, Option<Row>) {
        let magnitude = kernels::norm(&self.dense);
        (magnitude, self.prepared_given(kind, Some(magnitude)))
    }

    /// [`Row::prepared`], given `kernels::norm(&self.dense)` if known.
    fn prepared_given(mut self, kind: IndexKind, norm: Option<f64>) -> Option<Row> {
        match kind.measure {
            Measure::Dense(Metric::Cosine) => {
                let norm = norm.unwrap_or_else(|| kernels::norm(&self.dense));
                if !Metric::Cosine.prepare_with_norm(&mut self.dense, norm) {
                    return None;
                }
                self.raw = kind.elem.encode(&self.dense);
            }
            Measure::Sparse(Metric::Cosine) => {
                // an owned, correctly aligned copy: `raw` may be empty (`{}/n`)
                let mut pairs: Vec<Pair> = chunk_elems::<Pair>(&self.raw).into_owned();
                let norm = pairs.iter().map(|p| p.value as f64 * p.value as f64).sum::<f64>().sqrt();
                if norm == 0.0 || !norm.is_finite() {
                    return None;
                }
                pairs.iter_mut().for_each(|p| p.value = (p.value as f64 / norm) as f32);
                self.raw = bytemuck::cast_slice(&pairs).to_vec();
            }
            _ => {}
        }
        Some(self)
    }

    pub fn query(&self, kind: IndexKind) -> Query {
        kind.elem.query(&self.raw)
    }
}

pub fn metric_code(m: Measure) -> u32 {
    match m {
        Measure::Dense(Metric::L2) => 1,
        Measure::Dense(Metric::InnerProduct) => 2,
        Measure::Dense(Metric::Cosine) => 3,
        Measure::Dense(Metric::L1) => 4,
        Measure::Hamming => 5,
        Measure::Jaccard => 6,
        Measure::Sparse(Metric::L2) => 7,
        Measure::Sparse(Metric::InnerProduct) => 8,
        Measure::Sparse(Metric::Cosine) => 9,
        Measure::Sparse(Metric::L1) => 10,
    }
}

/// The pair distance a sparse metric is computed with.
pub fn pair_metric(m: Metric) -> PairMetric {
    match m {
        Metric::L2 => PairMetric::L2Squared,
        Metric::InnerProduct | Metric::Cosine => PairMetric::NegativeDot,
        Metric::L1 => PairMetric::L1,
    }
}

impl Query {
    /// Distance from this query to a whole stored vector `raw` (one tuple,
    /// not chunked), as the opclass's operator orders.
    #[inline]
    pub fn distance(&self, measure: Measure, raw: &[u8]) -> f32 {
        match (self, measure) {
            (Query::F32(q), Measure::Dense(metric)) => metric.distance(q, &chunk_elems::<f32>(raw)),
            (Query::F16(q), Measure::Dense(metric)) => metric.distance(q, &chunk_elems::<f16>(raw)),
            (Query::Bit(q), Measure::Hamming) => bits::hamming(q, raw) as f32,
            (Query::Bit(q), Measure::Jaccard) => bits::jaccard(q, raw) as f32,
            _ => f32::INFINITY,
        }
    }
}

/// [`Query::distance`] with the kernel chosen once, for a scan that
/// measures many stored rows: an f32 query under a dense metric calls its
/// kernel straight on the row's bytes (borrowed when aligned, as an index
/// page's rows are), with no dispatch per row; the same kernel, so the same
/// distances to the bit.
pub enum RowMeasure<'q> {
    Dense32 { q: &'q [f32], kernel: fn(&[f32], &[f32]) -> f32, negate: bool },
    Other { query: &'q Query, measure: Measure },
}

impl Query {
    pub fn row_measure(&self, measure: Measure) -> RowMeasure<'_> {
        let k = kernels::active();
        match (self, measure) {
            (Query::F32(q), Measure::Dense(metric)) => {
                let (kernel, negate) = match metric {
                    Metric::L2 => (k.l2_squared, false),
                    Metric::InnerProduct | Metric::Cosine => (k.dot, true),
                    Metric::L1 => (k.l1, false),
                };
                RowMeasure::Dense32 { q, kernel, negate }
            }
            _ => RowMeasure::Other { query: self, measure },
        }
    }
}

impl RowMeasure<'_> {
    #[inline]
    pub fn distance(&self, raw: &[u8]) -> f32 {
        match self {
            RowMeasure::Dense32 { q, kernel, negate } => {
                let d = match bytemuck::try_cast_slice::<u8, f32>(raw) {
                    Ok(row) => kernel(q, row),
                    Err(_) => kernel(q, &chunk_elems::<f32>(raw)),
                };
                if *negate {
                    -d
                } else {
                    d
                }
            }
            RowMeasure::Other { query, measure } => query.distance(*measure, raw),
        }
    }
}

/// A distance summed over a vector's pieces (its chunks, or a cached copy
/// in one piece): L2², negative dot, L1 and the bit counts all add up over
/// disjoint ranges of the query.
pub struct Accumulator<'q> {
    query: &'q Query,
    measure: Measure,
    pos: usize,
    acc: f32,
    and: u64,
    or: u64,
    sparse: PairDistance,
    /// A sparse query under inner product or cosine: the dimensions it is
    /// scattered over, each chunk's pairs gathering their products from it
    /// into `acc` (`sparse::gathered_dot`, the merge-join's sum to the bit);
    /// 0 to merge-join (`sparse`).
    gather_dims: usize,
}

impl<'q> Accumulator<'q> {
    pub fn new(query: &'q Query, measure: Measure) -> Self {
        let gather_dims = match (query, measure) {
            (Query::Sparse(q), Measure::Sparse(m)) if pair_metric(m) == PairMetric::NegativeDot => {
                crate::sparse::scatter_dims(q).unwrap_or(0)
            }
            _ => 0,
        };
        Accumulator { query, measure, pos: 0, acc: 0.0, and: 0, or: 0, sparse: PairDistance::default(), gather_dims }
    }

    /// The next piece of the vector, as stored element bytes.
    #[inline]
    pub fn add(&mut self, bytes: &[u8]) {
        let pos = self.pos;
        match (self.query, self.measure) {
            (Query::Sparse(q), Measure::Sparse(_)) => {
                let chunk = chunk_elems::<Pair>(bytes);
                // scatter_dims() held for q, so with_scattered answers
                let (dims, dot) = (self.gather_dims, self.acc);
                let gathered = (dims > 0)
                    .then(|| {
                        crate::sparse::with_scattered(q, dims, |d| {
                            crate::sparse::gathered_dot(d, chunk.iter().copied(), dot)
                        })
                    })
                    .flatten();
                match gathered {
                    Some(dot) => self.acc = dot,
                    None => self.sparse.feed(q, &chunk),
                }
            }
            (Query::F32(q), Measure::Dense(metric)) => {
                let c = chunk_elems::<f32>(bytes);
                let end = (pos + c.len()).min(q.len());
                self.acc += metric.distance(&q[pos..end], &c);
                self.pos = end;
            }
            (Query::F16(q), Measure::Dense(metric)) => {
                let c = chunk_elems::<f16>(bytes);
                let end = (pos + c.len()).min(q.len());
                self.acc += metric.distance(&q[pos..end], &c);
                self.pos = end;
            }
            (Query::Bit(q), _) => {
                let end = (pos + bytes.len()).min(q.len());
                let (x, a, o) = (bits::BitKernels::active().counts)(&q[pos..end], bytes);
                self.acc += x as f32;
                self.and += a;
                self.or += o;
                self.pos = end;
            }
            _ => self.acc = f32::INFINITY,
        }
    }

    pub fn finish(self) -> f32 {
        match (self.measure, self.query) {
            (Measure::Jaccard, _) => {
                if self.or == 0 {
                    0.0
                } else {
                    1.0 - self.and as f32 / self.or as f32
                }
            }
            (Measure::Sparse(_), Query::Sparse(_)) if self.gather_dims > 0 => -self.acc,
            (Measure::Sparse(metric), Query::Sparse(q)) => self.sparse.finish(q, pair_metric(metric)),
            _ => self.acc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Ascending distinct indices below `dims` with values in [-4, 4].
    fn sparse_pairs(dims: i32) -> impl Strategy<Value = Vec<Pair>> {
        proptest::collection::btree_map(0..dims, -4.0f32..4.0, 0..60)
            .prop_map(|m| m.into_iter().map(|(index, value)| Pair { index, value }).collect())
    }

    proptest! {
        /// A sparse vector fed chunk by chunk (as an index's pages hold a
        /// long one) measures to `PairDistance`'s merge-join value to the
        /// bit under every sparse metric: under inner product and cosine
        /// by gathering from the scattered query, also when one query is
        /// measured against many vectors and queries alternate.
        #[test]
        fn sparse_accumulator_matches_the_merge_join(
            queries in proptest::collection::vec(sparse_pairs(3000), 1..4),
            rows in proptest::collection::vec(sparse_pairs(3000), 1..6),
            chunk in 1usize..9,
        ) {
            for metric in [Metric::InnerProduct, Metric::Cosine, Metric::L2, Metric::L1] {
                for q in &queries {
                    let query = Query::Sparse(q.clone());
                    for x in &rows {
                        let mut sum = Accumulator::new(&query, Measure::Sparse(metric));
                        for part in x.chunks(chunk) {
                            sum.add(bytemuck::cast_slice(part));
                        }
                        let want = PairDistance::between(q, x, pair_metric(metric));
                        prop_assert_eq!(sum.finish().to_bits(), want.to_bits(), "{:?}", metric);
                    }
                }
            }
        }
    }

    /// A stored copy equals the table's row as the index prepares it; under
    /// cosine a few units in the last place (another CPU's norm) pass, and
    /// damage of one element, or a different length, never does.
    #[test]
    fn stored_matches_accepts_roundings_and_rejects_damage() {
        const COSINE: Measure = Measure::Dense(Metric::Cosine);
        const L2: Measure = Measure::Dense(Metric::L2);
        const SPARSE_COSINE: Measure = Measure::Sparse(Metric::Cosine);
        let v: Vec<f32> = (0..300).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
        let mut unit = v.clone();
        assert!(Metric::Cosine.prepare_with_norm(&mut unit, kernels::norm(&v)));
        for (elem, values) in [(Elem::F32, &v), (Elem::F32, &unit), (Elem::F16, &unit)] {
            let measure = Measure::Dense(if std::ptr::eq(values, &unit) { Metric::Cosine } else { Metric::L2 });
            let expected = elem.encode(values);
            assert_eq!(elem.stored_matches(measure, &expected, &expected), Ok(()));
            // one element damaged: always found
            let mut damaged = values.clone();
            damaged[17] += 0.01 * (1.0 + damaged[17].abs());
            let err = elem.stored_matches(measure, &elem.encode(&damaged), &expected).unwrap_err();
            assert!(err.contains("18") || err.contains("byte"), "{err}");
            // shorter: found
            assert!(elem.stored_matches(measure, &expected[..expected.len() - elem.bytes()], &expected).is_err());
        }
        // under cosine, values a few ulps off (a norm summed in another order) pass
        let nudged: Vec<f32> = unit.iter().map(|x| x.next_up().next_up()).collect();
        assert_eq!(Elem::F32.stored_matches(COSINE, &Elem::F32.encode(&nudged), &Elem::F32.encode(&unit)), Ok(()));
        let nudged16: Vec<u8> = Elem::F16
            .encode(&unit)
            .chunks_exact(2)
            .flat_map(|b| (u16::from_ne_bytes([b[0], b[1]]) ^ 1).to_ne_bytes())
            .collect();
        assert_eq!(Elem::F16.stored_matches(COSINE, &nudged16, &Elem::F16.encode(&unit)), Ok(()));
        // but not without cosine: those values are stored as given
        assert!(Elem::F32.stored_matches(L2, &Elem::F32.encode(&nudged), &Elem::F32.encode(&unit)).is_err());
        // sparse pairs: an index moved is found, a value nudged under cosine is not
        let pairs = |p: &[(i32, f32)]| -> Vec<u8> {
            p.iter().flat_map(|&(i, x)| bytemuck::bytes_of(&Pair { index: i, value: x }).to_vec()).collect()
        };
        let want = pairs(&[(3, 0.6), (9, 0.8)]);
        assert_eq!(
            Elem::Sparse.stored_matches(SPARSE_COSINE, &pairs(&[(3, 0.6f32.next_up()), (9, 0.8)]), &want),
            Ok(())
        );
        assert!(Elem::Sparse.stored_matches(SPARSE_COSINE, &pairs(&[(4, 0.6), (9, 0.8)]), &want).is_err());
        assert!(Elem::Sparse.stored_matches(SPARSE_COSINE, &pairs(&[(3, 0.7), (9, 0.8)]), &want).is_err());
        // bits: byte for byte
        assert!(Elem::Bit.stored_matches(L2, &[0b1010_0000], &[0b1010_0001]).is_err());
    }

    proptest! {
        /// A row measured with the kernel chosen once gives `Query::distance`'s
        /// value to the bit, for every dense metric, from aligned and
        /// unaligned row bytes alike.
        #[test]
        fn row_measure_matches_query_distance(
            (q, x) in (1usize..300).prop_flat_map(|n| (proptest::collection::vec(-1e3f32..1e3, n), proptest::collection::vec(-1e3f32..1e3, n))),
            shift in 0usize..4,
        ) {
            let query = Query::F32(q);
            let bytes: Vec<u8> = bytemuck::cast_slice(&x).to_vec();
            let mut unaligned = vec![0u8; shift];
            unaligned.extend_from_slice(&bytes);
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
                let measure = Measure::Dense(metric);
                let m = query.row_measure(measure);
                let dense = matches!(m, RowMeasure::Dense32 { .. });
                prop_assert!(dense);
                let want = query.distance(measure, &bytes).to_bits();
                prop_assert_eq!(m.distance(&bytes).to_bits(), want);
                prop_assert_eq!(m.distance(&unaligned[shift..]).to_bits(), want);
            }
        }
    }

    #[test]
    fn other_queries_keep_their_own_distance() {
        let query = Query::F16(vec![f16::from_f32(1.0), f16::from_f32(-2.0)]);
        let measure = Measure::Dense(Metric::L2);
        let row: Vec<u8> = bytemuck::cast_slice(&[f16::from_f32(0.5), f16::from_f32(4.0)]).to_vec();
        let m = query.row_measure(measure);
        assert!(matches!(m, RowMeasure::Other { .. }));
        assert_eq!(m.distance(&row), query.distance(measure, &row));
    }
}
