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
