//! The vector collections a graph is built over ([`Space`]): dense f32
//! vectors, bit strings and sparse vectors. Each knows how to measure the distance from a
//! query to one of its vectors; the build needs nothing else.

#![forbid(unsafe_code)]

use super::Metric;
use crate::bits;
use crate::sparse::{Pair, PairDistance, PairMetric};

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
pub struct SparseSpace {
    /// Row `i` is `pairs[offsets[i]..offsets[i + 1]]`.
    pub offsets: Vec<usize>,
    pub pairs: Vec<Pair>,
    pub metric: PairMetric,
}

impl Space for SparseSpace {
    type Query = [Pair];

    fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    #[inline]
    fn get(&self, i: u32) -> &[Pair] {
        &self.pairs[self.offsets[i as usize]..self.offsets[i as usize + 1]]
    }

    #[inline]
    fn distance(&self, q: &[Pair], i: u32) -> f32 {
        PairDistance::between(q, self.get(i), self.metric)
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
}
