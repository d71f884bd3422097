//! `sparsevec`: a vector stored as sorted (index, value) pairs — distances by
//! merge-join over the two index arrays, never by densifying.
//!
//! Layout (byte-compatible with pgvector's `sparsevec`):
//!
//! ```text
//! offset 0        u32  varlena header (PostgreSQL's SET_VARSIZE)
//! offset 4        i32  dimensions
//! offset 8        i32  nnz, the number of stored (non-zero) elements
//! offset 12       i32  unused, always 0
//! offset 16       nnz × i32  0-based indices, strictly ascending
//! offset 16+4nnz  nnz × f32  values, finite and non-zero
//! ```
//!
//! Invariants of every value: 1 ≤ dim ≤ MAX_DIM, 0 ≤ nnz ≤ min(dim, MAX_NNZ),
//! indices strictly ascending in 0..dim, values finite and non-zero.

#![forbid(unsafe_code)]

pub mod binary;
pub mod text;

use crate::dense::DenseElement;
use crate::error::{ErrorKind, Result, VectorError};
use crate::kernels::Scalar;
use std::cmp::Ordering;

/// Most dimensions a sparse vector may have (pgvector's limit).
pub const MAX_DIM: i64 = 1_000_000_000;
/// Most stored elements (pgvector's limit).
pub const MAX_NNZ: usize = 16_000;
/// Bytes before the index array.
pub const HEADER_BYTES: usize = 16;

/// Total varlena size of a sparse vector with `nnz` stored elements.
pub const fn sparse_size(nnz: usize) -> usize {
    HEADER_BYTES + 8 * nnz
}

/// A sparse vector borrowed from wherever it lives (a datum image, a Vec).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SparseRef<'a> {
    pub dim: i32,
    pub indices: &'a [i32],
    pub values: &'a [f32],
}

/// An owned sparse vector (parsed input, conversion results).
#[derive(Clone, Debug, PartialEq)]
pub struct SparseVec {
    pub dim: i32,
    pub indices: Vec<i32>,
    pub values: Vec<f32>,
}

impl SparseVec {
    pub fn as_ref(&self) -> SparseRef<'_> {
        SparseRef { dim: self.dim, indices: &self.indices, values: &self.values }
    }
}

impl<'a> SparseRef<'a> {
    /// Borrow a sparse vector from a whole varlena image (header included),
    /// checking only what memory safety needs (sizes, alignment). Values are
    /// validated when they are made (input, recv, conversions).
    pub fn from_image(image: &'a [u8]) -> Result<Self> {
        let field = |at: usize| image.get(at..at + 4).map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        let (Some(dim), Some(nnz)) = (field(4), field(8)) else {
            return Err(corrupt("sparsevec datum is shorter than its header"));
        };
        if nnz < 0 || image.len() < sparse_size(nnz as usize) {
            return Err(corrupt("sparsevec datum is shorter than its element count requires"));
        }
        let nnz = nnz as usize;
        let indices = bytemuck::try_cast_slice::<u8, i32>(&image[HEADER_BYTES..HEADER_BYTES + 4 * nnz])
            .map_err(|_| corrupt("sparsevec datum is not aligned"))?;
        let values = bytemuck::try_cast_slice::<u8, f32>(&image[HEADER_BYTES + 4 * nnz..sparse_size(nnz)])
            .map_err(|_| corrupt("sparsevec datum is not aligned"))?;
        Ok(SparseRef { dim, indices, values })
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    pub fn to_owned(&self) -> SparseVec {
        SparseVec { dim: self.dim, indices: self.indices.to_vec(), values: self.values.to_vec() }
    }
}

/// One stored element of a sparse vector, as an index keeps it: 0-based index
/// and value side by side, so a vector is a plain slice of pairs.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Pair {
    pub index: i32,
    pub value: f32,
}

pub fn pairs_of(v: SparseRef<'_>) -> Vec<Pair> {
    v.indices.iter().zip(v.values).map(|(&index, &value)| Pair { index, value }).collect()
}

/// Which distance a [`PairDistance`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairMetric {
    L2Squared,
    NegativeDot,
    L1,
}

/// A merge-join distance between a query and a stored vector whose pairs
/// arrive in ascending chunks (an index stores long vectors across tuples):
/// `feed` each chunk in order, then `finish`.
#[derive(Default)]
pub struct PairDistance {
    pos: usize,
    l2: f32,
    dot: f32,
    l1: f32,
}

impl PairDistance {
    fn query_only(&mut self, q: Pair) {
        self.l2 += q.value * q.value;
        self.l1 += q.value.abs();
    }

    pub fn feed(&mut self, query: &[Pair], chunk: &[Pair]) {
        for &p in chunk {
            while self.pos < query.len() && query[self.pos].index < p.index {
                self.query_only(query[self.pos]);
                self.pos += 1;
            }
            if self.pos < query.len() && query[self.pos].index == p.index {
                let q = query[self.pos].value;
                self.l2 += (q - p.value) * (q - p.value);
                self.dot += q * p.value;
                self.l1 += (q - p.value).abs();
                self.pos += 1;
            } else {
                self.l2 += p.value * p.value;
                self.l1 += p.value.abs();
            }
        }
    }

    pub fn finish(mut self, query: &[Pair], metric: PairMetric) -> f32 {
        while self.pos < query.len() {
            self.query_only(query[self.pos]);
            self.pos += 1;
        }
        match metric {
            PairMetric::L2Squared => self.l2,
            PairMetric::NegativeDot => -self.dot,
            PairMetric::L1 => self.l1,
        }
    }

    /// The whole distance between two vectors held in one piece each.
    pub fn between(query: &[Pair], stored: &[Pair], metric: PairMetric) -> f32 {
        let mut d = PairDistance::default();
        d.feed(query, stored);
        d.finish(query, metric)
    }
}

/// The most dimensions a query is scattered over ([`with_scattered`]): 4 MiB
/// per thread (vocabularies of lexical and SPLADE-style models are 30,000
/// to a few hundred thousand terms).
pub const SCATTER_MAX_DIMS: usize = 1 << 20;

/// A thread's scattered query: its pairs, and its values at their indices
/// of an otherwise zero array.
#[derive(Default)]
struct Scattered {
    query: Vec<Pair>,
    dense: Vec<f32>,
}

thread_local! {
    static SCATTERED: std::cell::RefCell<Scattered> = std::cell::RefCell::new(Scattered::default());
}

/// `f` of `q` scattered over `dims` dimensions (`dense[i]` is q's value at
/// index i, else 0), in an array kept per thread and scattered again only
/// when the query changes (an hnsw insert or search measures one query
/// against hundreds of vectors). None, without calling `f`, when `dims`
/// exceeds [`SCATTER_MAX_DIMS`] or an index of `q` lies outside it. `f`
/// must not call this function itself.
pub fn with_scattered<R>(q: &[Pair], dims: usize, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    if dims > SCATTER_MAX_DIMS {
        return None;
    }
    SCATTERED.with_borrow_mut(|s| {
        if bytemuck::cast_slice::<Pair, u8>(&s.query) != bytemuck::cast_slice::<Pair, u8>(q) {
            if q.iter().any(|p| p.index < 0 || p.index as usize >= dims) {
                return None;
            }
            for p in &s.query {
                if let Some(v) = s.dense.get_mut(p.index as usize) {
                    *v = 0.0;
                }
            }
            if s.dense.len() < dims {
                s.dense.resize(dims, 0.0);
            }
            for p in q {
                s.dense[p.index as usize] = p.value;
            }
            s.query.clear();
            s.query.extend_from_slice(q);
        } else if s.dense.len() < dims {
            // scattered for fewer dimensions: the rest is zero
            s.dense.resize(dims, 0.0);
        }
        Some(f(&s.dense[..dims]))
    })
}

/// The dot product of a query scattered into `dense` and a vector of `x`'s
/// pairs, summed on from `dot` (the sum over the vector's earlier chunks):
/// dot + Σ dense[index]·value in `x`'s order, which is [`PairDistance`]'s
/// merge-join sum to the bit (the same products added in the same order; a
/// pair the query lacks adds an exact zero), without the merge's
/// unpredictable branches. An index outside `dense` (past the query's last,
/// or a damaged page's) adds nothing: it matches no pair of the query.
#[inline]
pub fn gathered_dot(dense: &[f32], x: impl IntoIterator<Item = Pair>, dot: f32) -> f32 {
    x.into_iter().fold(dot, |dot, p| dot + dense.get(p.index as usize).map_or(0.0, |&q| q * p.value))
}

/// The dimensions a query is scattered over for [`gathered_dot`]: one past
/// its last index (its indices ascend), if every index fits
/// [`SCATTER_MAX_DIMS`].
#[inline]
pub fn scatter_dims(q: &[Pair]) -> Option<usize> {
    match (q.first(), q.last()) {
        (Some(first), Some(last)) if first.index >= 0 && (last.index as usize) < SCATTER_MAX_DIMS => {
            Some(last.index as usize + 1)
        }
        _ => None,
    }
}

/// Write everything but the varlena header: dim, nnz, 0, indices, values.
/// `image` must be `sparse_size(v.nnz())` long.
pub fn write_image(image: &mut [u8], v: SparseRef<'_>) {
    let nnz = v.nnz();
    assert_eq!(image.len(), sparse_size(nnz), "caller sizes the image");
    image[4..8].copy_from_slice(&v.dim.to_ne_bytes());
    image[8..12].copy_from_slice(&(nnz as i32).to_ne_bytes());
    image[12..16].copy_from_slice(&0i32.to_ne_bytes());
    image[HEADER_BYTES..HEADER_BYTES + 4 * nnz].copy_from_slice(bytemuck::cast_slice(v.indices));
    image[HEADER_BYTES + 4 * nnz..].copy_from_slice(bytemuck::cast_slice(v.values));
}

fn corrupt(msg: &str) -> VectorError {
    VectorError::new(ErrorKind::DataException, msg)
}

fn data_error(msg: impl Into<String>) -> VectorError {
    VectorError::new(ErrorKind::DataException, msg)
}

pub fn check_dim(dim: i64) -> Result<()> {
    if dim < 1 {
        return Err(data_error("sparsevec must have at least 1 dimension"));
    }
    if dim > MAX_DIM {
        return Err(VectorError::new(
            ErrorKind::ProgramLimitExceeded,
            format!("sparsevec cannot have more than {MAX_DIM} dimensions"),
        ));
    }
    Ok(())
}

pub fn check_nnz(nnz: i64, dim: i64) -> Result<()> {
    if nnz < 0 {
        return Err(data_error("sparsevec cannot have negative number of elements"));
    }
    if nnz > MAX_NNZ as i64 {
        return Err(VectorError::new(
            ErrorKind::ProgramLimitExceeded,
            format!("sparsevec cannot have more than {MAX_NNZ} non-zero elements"),
        ));
    }
    if nnz > dim {
        return Err(VectorError::new(
            ErrorKind::ProgramLimitExceeded,
            "sparsevec cannot have more elements than dimensions",
        ));
    }
    Ok(())
}

/// Indices must be in 0..dim, strictly ascending.
pub fn check_indices(indices: &[i32], dim: i32) -> Result<()> {
    for (i, &index) in indices.iter().enumerate() {
        if index < 0 || index >= dim {
            return Err(data_error("sparsevec index out of bounds"));
        }
        if i > 0 && index < indices[i - 1] {
            return Err(data_error("sparsevec indices must be in ascending order"));
        }
        if i > 0 && index == indices[i - 1] {
            return Err(data_error("sparsevec indices must not contain duplicates"));
        }
    }
    Ok(())
}

pub fn check_element(x: f32) -> Result<()> {
    crate::error::check_finite(x, "sparsevec")
}

pub fn check_same_dims(a: SparseRef<'_>, b: SparseRef<'_>) -> Result<()> {
    if a.dim != b.dim {
        return Err(data_error(format!("different sparsevec dimensions {} and {}", a.dim, b.dim)));
    }
    Ok(())
}

pub fn typmod_from_list(mods: &[i32]) -> Result<i32> {
    crate::error::typmod_from_list(mods, "sparsevec", MAX_DIM)
}

/// Visit the union of both index sets in ascending order with each side's
/// value (0 where a side has no element). This is the merge-join every
/// distance below is built on.
#[inline]
fn merge(a: SparseRef<'_>, b: SparseRef<'_>, mut visit: impl FnMut(f32, f32)) {
    let (mut i, mut j) = (0, 0);
    while i < a.nnz() && j < b.nnz() {
        match a.indices[i].cmp(&b.indices[j]) {
            Ordering::Less => {
                visit(a.values[i], 0.0);
                i += 1;
            }
            Ordering::Greater => {
                visit(0.0, b.values[j]);
                j += 1;
            }
            Ordering::Equal => {
                visit(a.values[i], b.values[j]);
                i += 1;
                j += 1;
            }
        }
    }
    a.values[i..].iter().for_each(|&x| visit(x, 0.0));
    b.values[j..].iter().for_each(|&y| visit(0.0, y));
}

pub fn l2_squared(a: SparseRef<'_>, b: SparseRef<'_>) -> f32 {
    let mut s = 0.0f32;
    merge(a, b, |x, y| s += (x - y) * (x - y));
    s
}

pub fn l1(a: SparseRef<'_>, b: SparseRef<'_>) -> f32 {
    let mut s = 0.0f32;
    merge(a, b, |x, y| s += (x - y).abs());
    s
}

/// Inner product over the common indices only. When one side is much
/// shorter, each of its indices is found in the other by galloping search.
pub fn dot(a: SparseRef<'_>, b: SparseRef<'_>) -> f32 {
    let (small, large) = if a.nnz() <= b.nnz() { (a, b) } else { (b, a) };
    let mut s = 0.0f32;
    if small.nnz() * 16 < large.nnz() {
        let mut lo = 0;
        for (&idx, &x) in small.indices.iter().zip(small.values) {
            // Gallop: double a bound until it passes idx, then binary-search below it.
            let rest = &large.indices[lo..];
            let mut bound = 1;
            while bound < rest.len() && rest[bound] < idx {
                bound *= 2;
            }
            let pos = lo + rest[..(bound + 1).min(rest.len())].partition_point(|&y| y < idx);
            if pos < large.nnz() && large.indices[pos] == idx {
                s += x * large.values[pos];
                lo = pos + 1;
            } else {
                lo = pos;
            }
            if lo >= large.nnz() {
                break;
            }
        }
        return s;
    }
    let (mut i, mut j) = (0, 0);
    while i < a.nnz() && j < b.nnz() {
        match a.indices[i].cmp(&b.indices[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                s += a.values[i] * b.values[j];
                i += 1;
                j += 1;
            }
        }
    }
    s
}

/// Inner product with a dense vector: a gather over the sparse indices.
pub fn dot_dense<E: Scalar>(a: SparseRef<'_>, dense: &[E]) -> f32 {
    a.indices.iter().zip(a.values).filter_map(|(&i, &x)| dense.get(i as usize).map(|d| x * d.to_f32())).sum()
}

pub fn norm(a: SparseRef<'_>) -> f64 {
    // a fold from +0 (an empty `sum` is -0, and `l2_norm('{}/2')` is 0)
    a.values.iter().fold(0.0, |s, &x| s + x as f64 * x as f64).sqrt()
}

pub fn cosine_distance(a: SparseRef<'_>, b: SparseRef<'_>) -> f64 {
    let ab = dot(a, b) as f64;
    let aa: f32 = a.values.iter().map(|x| x * x).sum();
    let bb: f32 = b.values.iter().map(|x| x * x).sum();
    let similarity = ab / (aa as f64 * bb as f64).sqrt();
    if similarity.is_nan() {
        return f64::NAN;
    }
    1.0 - similarity.clamp(-1.0, 1.0)
}

/// Divide by the norm, dropping elements that underflow to zero.
pub fn l2_normalize(a: SparseRef<'_>) -> Result<SparseVec> {
    let norm = norm(a);
    let mut out = SparseVec { dim: a.dim, indices: Vec::with_capacity(a.nnz()), values: Vec::with_capacity(a.nnz()) };
    if norm > 0.0 {
        for (&i, &x) in a.indices.iter().zip(a.values) {
            let v = (x as f64 / norm) as f32;
            if v.is_infinite() {
                return Err(VectorError::new(ErrorKind::NumericValueOutOfRange, "value out of range: overflow"));
            }
            if v != 0.0 {
                out.indices.push(i);
                out.values.push(v);
            }
        }
    }
    Ok(out)
}

/// The btree order: as if both were dense — element by element up to the
/// shorter dimension, then by dimensions.
pub fn compare(a: SparseRef<'_>, b: SparseRef<'_>) -> Ordering {
    let limit = a.dim.min(b.dim);
    let (mut i, mut j) = (0, 0);
    loop {
        let ai = a.indices.get(i).copied().filter(|&x| x < limit);
        let bj = b.indices.get(j).copied().filter(|&x| x < limit);
        let (x, y) = match (ai, bj) {
            (None, None) => break,
            (Some(p), Some(q)) if p == q => {
                i += 1;
                j += 1;
                (a.values[i - 1], b.values[j - 1])
            }
            (Some(p), Some(q)) if p < q => {
                i += 1;
                (a.values[i - 1], 0.0)
            }
            (Some(_), None) => {
                i += 1;
                (a.values[i - 1], 0.0)
            }
            _ => {
                j += 1;
                (0.0, b.values[j - 1])
            }
        };
        match x.partial_cmp(&y) {
            Some(Ordering::Equal) | None => {}
            Some(o) => return o,
        }
    }
    a.dim.cmp(&b.dim)
}

/// Sparse form of a dense vector (zeros dropped).
pub fn from_dense<E: DenseElement>(v: &[E]) -> Result<SparseVec> {
    check_dim(v.len() as i64)?;
    let mut out = SparseVec { dim: v.len() as i32, indices: Vec::new(), values: Vec::new() };
    for (i, &x) in v.iter().enumerate() {
        let x = x.to_f32();
        if x != 0.0 {
            out.indices.push(i as i32);
            out.values.push(x);
        }
    }
    check_nnz(out.indices.len() as i64, out.dim as i64)?;
    Ok(out)
}

/// Dense form, written into `out` (already zeroed, `a.dim` long), rounding to
/// the dense element type with its range check.
pub fn to_dense_into<E: DenseElement>(a: SparseRef<'_>, out: &mut [E]) -> Result<()> {
    crate::dense::check_dims::<E>(a.dim.max(0) as usize)?;
    assert_eq!(out.len(), a.dim as usize, "caller sizes the output");
    for (&i, &x) in a.indices.iter().zip(a.values) {
        out[i as usize] = E::from_f32(x)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sv(dim: i32, pairs: &[(i32, f32)]) -> SparseVec {
        SparseVec { dim, indices: pairs.iter().map(|p| p.0).collect(), values: pairs.iter().map(|p| p.1).collect() }
    }

    fn densify(a: SparseRef<'_>) -> Vec<f32> {
        let mut d = vec![0.0; a.dim as usize];
        for (&i, &x) in a.indices.iter().zip(a.values) {
            d[i as usize] = x;
        }
        d
    }

    fn arb_sparse(dim: i32) -> impl Strategy<Value = SparseVec> {
        proptest::collection::btree_map(0..dim, -10.0f32..10.0, 0..(dim as usize).min(60)).prop_map(move |m| {
            let m: Vec<_> = m.into_iter().filter(|p| p.1 != 0.0).collect();
            sv(dim, &m)
        })
    }

    proptest! {
        /// Merge-join distances equal the dense computation.
        #[test]
        fn distances_match_dense((a, b) in (1i32..400).prop_flat_map(|d| (arb_sparse(d), arb_sparse(d)))) {
            let (da, db) = (densify(a.as_ref()), densify(b.as_ref()));
            let l2: f64 = da.iter().zip(&db).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
            let ip: f64 = da.iter().zip(&db).map(|(x, y)| *x as f64 * *y as f64).sum();
            let manhattan: f64 = da.iter().zip(&db).map(|(x, y)| ((x - y) as f64).abs()).sum();
            prop_assert!((l2_squared(a.as_ref(), b.as_ref()) as f64 - l2).abs() <= 1e-4 * (1.0 + l2));
            prop_assert!((dot(a.as_ref(), b.as_ref()) as f64 - ip).abs() <= 1e-4 * (1.0 + ip.abs() + l2));
            prop_assert!((l1(a.as_ref(), b.as_ref()) as f64 - manhattan).abs() <= 1e-4 * (1.0 + manhattan));
            prop_assert!((dot_dense(a.as_ref(), &db) as f64 - ip).abs() <= 1e-4 * (1.0 + ip.abs() + l2));
            prop_assert_eq!(compare(a.as_ref(), b.as_ref()), crate::dense::compare(&da, &db));
        }

        /// Galloping (one side 16x longer) finds the same products as merging.
        #[test]
        fn galloping_dot_matches_merge(a in arb_sparse(5000), k in 1usize..4) {
            let small = SparseVec {
                dim: a.dim,
                indices: a.indices.iter().step_by(17 * k).copied().collect(),
                values: a.values.iter().step_by(17 * k).map(|x| x * 2.0).collect(),
            };
            let (ds, dl) = (densify(small.as_ref()), densify(a.as_ref()));
            let want: f64 = ds.iter().zip(&dl).map(|(x, y)| *x as f64 * *y as f64).sum();
            let got = dot(small.as_ref(), a.as_ref()) as f64;
            prop_assert!((got - want).abs() <= 1e-3 * (1.0 + want.abs()), "{} vs {}", got, want);
        }
    }

    proptest! {
        /// Chunked merge-join over pairs equals the whole-vector distances.
        #[test]
        fn pair_distance_in_chunks((a, b) in (1i32..300).prop_flat_map(|d| (arb_sparse(d), arb_sparse(d))), cut in 0usize..60) {
            let (pa, pb) = (pairs_of(a.as_ref()), pairs_of(b.as_ref()));
            let cut = cut.min(pb.len());
            for (metric, want) in [
                (PairMetric::L2Squared, l2_squared(a.as_ref(), b.as_ref())),
                (PairMetric::NegativeDot, -dot(a.as_ref(), b.as_ref())),
                (PairMetric::L1, l1(a.as_ref(), b.as_ref())),
            ] {
                let mut d = PairDistance::default();
                d.feed(&pa, &pb[..cut]);
                d.feed(&pa, &pb[cut..]);
                let got = d.finish(&pa, metric);
                prop_assert!((got - want).abs() <= 1e-3 * (1.0 + want.abs()), "{:?}: {} vs {}", metric, got, want);
            }
        }
    }

    #[test]
    fn dense_round_trip_and_normalize() {
        let s = from_dense(&[0.0f32, 1.5, 0.0, -2.0]).unwrap();
        assert_eq!(s, sv(4, &[(1, 1.5), (3, -2.0)]));
        let mut d = vec![0.0f32; 4];
        to_dense_into(s.as_ref(), &mut d).unwrap();
        assert_eq!(d, [0.0, 1.5, 0.0, -2.0]);
        let n = l2_normalize(sv(3, &[(0, 3.0), (2, 4.0)]).as_ref()).unwrap();
        assert_eq!(n, sv(3, &[(0, 0.6), (2, 0.8)]));
        assert!(cosine_distance(sv(3, &[]).as_ref(), sv(3, &[(0, 1.0)]).as_ref()).is_nan());
    }

    #[test]
    fn checks() {
        assert_eq!(check_indices(&[0, 2, 2], 5).unwrap_err().message, "sparsevec indices must not contain duplicates");
        assert_eq!(check_indices(&[0, 3, 2], 5).unwrap_err().message, "sparsevec indices must be in ascending order");
        assert_eq!(check_indices(&[5], 5).unwrap_err().message, "sparsevec index out of bounds");
        assert_eq!(check_indices(&[-1], 5).unwrap_err().message, "sparsevec index out of bounds");
        assert_eq!(check_nnz(3, 2).unwrap_err().message, "sparsevec cannot have more elements than dimensions");
        assert_eq!(check_dim(0).unwrap_err().message, "sparsevec must have at least 1 dimension");
        assert_eq!(check_dim(MAX_DIM + 1).unwrap_err().kind, ErrorKind::ProgramLimitExceeded);
    }
}
