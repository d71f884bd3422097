//! The rows of an IVFFlat index of format 2: an SQ8 copy of each vector
//! (`crate::sq8`, a quarter of the f32 bytes) with two bounds, so that a list
//! scan reads a quarter of the memory and reports for every row a *lower
//! bound* of the distance the SQL operator computes. The executor then
//! fetches each row it is handed, computes the exact distance and reorders
//! (PostgreSQL's protocol for lossy ORDER BY values, `xs_recheckorderby`):
//! results come out in exact order, as from an index of full vectors.
//!
//! Payload (after the row header): `error: f32`, `scale: f32`, `magnitude:
//! f32`, then the SQ8 record. `error` bounds ‖x − x̂‖ (x the vector the SQL
//! operator measures, prepared as the index prepares it: unit length under
//! cosine; x̂ the decoded copy), `scale` bounds ‖x̂‖ + error ≥ ‖x‖ (both
//! rounded up), `magnitude` is ‖x‖ before preparing. A vector SQ8 cannot
//! copy (a range beyond f32's) has infinite bounds. Where the SQL operator's
//! f32 sums could overflow or lose precision to subnormals (magnitudes
//! beyond about 1e18 or below 1e-15), the bound is −∞: always correct, never
//! tight.
//!
//! Invariant (tested below against the f32 kernels the SQL operators use,
//! on vectors of every scale): `lower_bound(q, row) ≤ sql_distance(q, x)`,
//! including every rounding of either computation, for `<->` (Euclidean),
//! `<#>` (negative inner product) and `<=>` (cosine distance). A bound that
//! is NaN or not provably below is reported as −∞, never above.

#![forbid(unsafe_code)]

use crate::index::kind::Metric;
use crate::kernels::{Sq8Kernels, Sq8Ref};
use crate::sq8::{self, QueryLevels};

/// Bytes before the SQ8 record: `error`, `scale` and `magnitude`.
const BOUNDS: usize = 12;

/// Payload bytes of a `dims`-element row.
pub const fn payload_bytes(dims: usize) -> usize {
    BOUNDS + sq8::record_bytes(dims)
}

/// `x` rounded up to an f32 (infinite stays infinite, NaN becomes +∞).
fn up(x: f64) -> f32 {
    if x.is_nan() {
        return f32::INFINITY;
    }
    let f = x as f32;
    if (f as f64) < x {
        f.next_up()
    } else {
        f
    }
}

/// An f32 at most `x` (NaN becomes −∞): `x` lowered by more than the
/// conversion's rounding (half an f32 ulp, at most 2^-24 of |x|, or 2^-150
/// below f32's normal range) before converting, without a branch on it.
#[inline]
fn down(x: f64) -> f32 {
    let y = x - x.abs() * (1.0 / (1u64 << 22) as f64) - 1e-40;
    if y.is_nan() {
        return f32::NEG_INFINITY;
    }
    y as f32
}

/// How far a vector normalised for cosine and then rounded to f16 (a
/// `halfvec` row or query) may be from the normalised vector: each element
/// moves by at most 2^-11 of itself, or 2^-25 below f16's normal range.
pub fn f16_rounding(dims: usize) -> f64 {
    1.01 * 2f64.powi(-11) + (dims as f64).sqrt() * 2f64.powi(-25)
}

/// The payload of a row whose prepared values are `values` and whose norm
/// before preparing was `magnitude`. `extra` bounds how far `values` may be
/// from the vector the SQL operator measures beyond f32 rounding (a
/// `halfvec` row normalised for cosine and rounded to f16).
pub fn encode(values: &[f32], magnitude: f64, extra: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_bytes(values.len()));
    match sq8::encode(values) {
        Some(record) => {
            let (copy, _) = sq8::parse(&record, values.len());
            let (step, lo) = (copy.step as f64, copy.lo as f64);
            // (eight partial sums each, so the loop runs in vector lanes)
            let (mut errs, mut norms) = ([0.0f64; 8], [0.0f64; 8]);
            for (i, (&x, &c)) in values.iter().zip(copy.codes).enumerate() {
                // the decoded value before the kernels' one rounding to f32
                // (exact in f64: an 8-bit code times an f32, plus an f32)
                let d = c as f64 * step + lo;
                errs[i % 8] += (x as f64 - d) * (x as f64 - d);
                norms[i % 8] += d * d;
            }
            let (err, norm): (f64, f64) = (errs.iter().sum(), norms.iter().sum());
            // the kernels decode with one fused multiply-add, rounded to f32:
            // each element moves by at most half an f32 ulp of the largest
            // decoded magnitude; sums of squares in f64 of f32 values have a
            // relative error far below 1e-9
            let rounding = decode_rounding(&copy, values.len());
            let err = err.sqrt() * (1.0 + 1e-9) + rounding + extra;
            let scale = norm.sqrt() * (1.0 + 1e-9) + rounding + err;
            out.extend_from_slice(&up(err).to_ne_bytes());
            out.extend_from_slice(&up(scale).to_ne_bytes());
            out.extend_from_slice(&(magnitude as f32).to_ne_bytes());
            out.extend_from_slice(&record);
        }
        None => {
            out.extend_from_slice(&f32::INFINITY.to_ne_bytes());
            out.extend_from_slice(&f32::INFINITY.to_ne_bytes());
            out.extend_from_slice(&f32::INFINITY.to_ne_bytes());
            out.resize(payload_bytes(values.len()), 0);
        }
    }
    out
}

/// Whether a row's `payload` is a sound copy of `values` (the row's vector
/// as the index prepares it) whose norm before preparing is `magnitude`:
/// what a scan's bounds rest on. The copy lies within its stated error of
/// the vector (‖x − x̂‖ ≤ error), the stated scale is at least ‖x‖, the
/// stored norm is the vector's, and a copy marked exact decodes to the
/// vector. An infinite error (no copy: a scan's bound is then −∞) is sound
/// for any vector, and an infinite scale (a norm beyond f32's) for any
/// norm; the stored norm is an f32, infinite past f32's range. `values` prepared on another CPU may
/// differ from those the payload was made from by a few units in the last
/// place (the norm under cosine), so each comparison allows 8·√n ulps of
/// the largest value, far below one SQ8 step. `Err` names the first
/// violation. Used by `ruvector_index_check`, against the table's rows.
pub fn check_payload(payload: &[u8], values: &[f32], magnitude: f64) -> Result<(), String> {
    let dims = values.len();
    if payload.len() != payload_bytes(dims) {
        return Err(format!(
            "its payload has {} bytes, a {dims}-element row's has {}",
            payload.len(),
            payload_bytes(dims)
        ));
    }
    let (err, scale, stored_magnitude) = stated(payload);
    if !(err >= 0.0 && scale >= 0.0) {
        return Err(format!("its bounds (error {err:e}, scale {scale:e}) are not non-negative numbers"));
    }
    if err == f64::INFINITY {
        return Ok(());
    }
    let (copy, exact) = sq8::parse(&payload[BOUNDS..], dims);
    let largest = values.iter().fold(0f64, |m, &x| m.max((x as f64).abs()));
    // (subnormal differences are below any step)
    let ulps = 8.0 * f32::EPSILON as f64 * largest.max(f32::MIN_POSITIVE as f64);
    let slack = (dims as f64).sqrt() * ulps;
    let (mut distance, mut norm) = (0f64, 0f64);
    for (i, &x) in values.iter().enumerate() {
        let d = copy.codes[i] as f64 * copy.step as f64 + copy.lo as f64;
        distance += (x as f64 - d) * (x as f64 - d);
        norm += x as f64 * x as f64;
        if exact && exceeds((copy.decode(i) as f64 - x as f64).abs(), ulps) {
            return Err(format!(
                "its copy is marked exact, but element {} decodes to {}, not {x}",
                i + 1,
                copy.decode(i)
            ));
        }
    }
    let (distance, norm) = (distance.sqrt(), norm.sqrt());
    if exceeds(distance, err + slack) {
        return Err(format!("its copy is {distance:e} from the table's vector, beyond its stated error {err:e}"));
    }
    if exceeds(norm, scale * (1.0 + 1e-6) + slack) {
        return Err(format!("the table's vector has norm {norm:e}, above its stated scale {scale:e}"));
    }
    let want = magnitude as f32 as f64;
    if stored_magnitude != want && exceeds((stored_magnitude - want).abs(), 1e-5 * want.abs() + 1e-37) {
        return Err(format!("its stored norm {stored_magnitude:e} is not the table's vector's, {magnitude:e}"));
    }
    Ok(())
}

/// A payload's stated `error`, `scale` and `magnitude` (its first
/// `BOUNDS` bytes, which the caller has checked are there).
#[inline]
fn stated(payload: &[u8]) -> (f64, f64, f64) {
    let f = |at: usize| f32::from_ne_bytes([payload[at], payload[at + 1], payload[at + 2], payload[at + 3]]) as f64;
    (f(0), f(4), f(8))
}

/// Whether `x` is not provably at most `limit` (above it, or NaN).
fn exceeds(x: f64, limit: f64) -> bool {
    !matches!(x.partial_cmp(&limit), Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal))
}

/// Whether a row's payload holds an exact SQ8 copy: one that decodes to the
/// stored values (integers spanning at most 255).
pub fn payload_is_exact(payload: &[u8], dims: usize) -> bool {
    payload.len() >= payload_bytes(dims) && sq8::is_exact(&payload[BOUNDS..], dims)
}

/// A scan's query, ready to bound the distances of format-2 rows.
pub struct BoundQuery {
    metric: Metric,
    /// The query as the index prepares it (unit length under cosine), f32.
    q: Vec<f32>,
    /// ‖q‖, and ‖q‖ before preparing.
    norm: f64,
    magnitude: f64,
    /// A relative bound on the rounding of one f32 dot product or sum of
    /// squares of this length, by any of the kernels (generous: twice
    /// `kernels::summation_depth(n)`·ε, four times γ for that depth; until
    /// the thirty-fourth session the sequential sum's (n + 16), which at
    /// 1,536 dimensions made the bound's rounding allowance a third of its
    /// slack, and the executor recheck 5 more rows per query).
    gamma: f64,
    /// Whether a row whose copy decodes to the stored vector exactly is
    /// ranked by its exact distance (see [`BoundQuery::row_key`]).
    exact_rows: bool,
    /// How far `q` may be from the query the SQL operator measures beyond f32
    /// rounding (a `halfvec` query normalised for cosine and rounded to f16),
    /// including the elements flushed to zero (see `new`).
    extra: f64,
    kernels: &'static Sq8Kernels,
    /// √dims.
    sqrt_dims: f64,
    /// The query in i8 levels, for inner product and cosine (None for an
    /// empty, zero or non-finite query, or one too long for i32 sums).
    levels: Option<QueryLevels>,
}

/// How far the kernels' decoding (one fused multiply-add rounded to f32)
/// may move a copy's `dims` elements in all: half an f32 ulp of the largest
/// decoded magnitude each, √dims · largest · ε₃₂ at most. The encoder adds
/// it to the stored error and scale; the scan subtracts it again.
#[inline]
fn decode_rounding(copy: &Sq8Ref, dims: usize) -> f64 {
    decode_rounding_with(copy, (dims as f64).sqrt())
}

/// [`decode_rounding`] given √dims.
#[inline]
fn decode_rounding_with(copy: &Sq8Ref, sqrt_dims: f64) -> f64 {
    sqrt_dims * copy.largest() * f32::EPSILON as f64
}

/// A lower bound of ‖x̂‖ for a row's copy (decoded exactly), from its
/// payload's `scale` and `error`: the encoder stored scale = ‖x̂‖·(1 + 1e-9)
/// + rounding + error, each rounded up to an f32, where rounding is
///   [`decode_rounding`] (see `encode`).
#[inline]
fn copy_norm_at_least(copy: &Sq8Ref, dims: usize, sqrt_dims: f64, scale: f64, err: f64) -> f64 {
    let rounding = decode_rounding_with(copy, sqrt_dims) * (1.0 + 1e-9);
    let norm = (scale / (1.0 + f32::EPSILON as f64) - rounding - err) / (1.0 + 1e-9);
    (norm * (1.0 - (dims as f64 + 8.0) * 2.0 * f64::EPSILON)).max(0.0)
}

impl BoundQuery {
    /// `q` prepared as the index prepares it; `magnitude` its norm before.
    ///
    /// Elements below 1e-20 of the query's norm are set to zero, and the
    /// bound widened by what they could contribute: their products with
    /// decoded values would be subnormal, and a CPU takes a microcode assist
    /// on each (sentence embeddings have such elements: every MiniLM vector
    /// of the WordNet set has two near 1e-37, which made a scan of those
    /// rows 4× slower).
    pub fn new(metric: Metric, mut q: Vec<f32>, magnitude: f64, extra: f64) -> BoundQuery {
        let norm = crate::kernels::norm(&q);
        let mut flushed = 0.0f64;
        for x in q.iter_mut() {
            if (x.abs() as f64) < 1e-20 * norm {
                flushed += *x as f64 * *x as f64;
                *x = 0.0;
            }
        }
        let gamma = 2.0 * crate::kernels::summation_depth(q.len()) as f64 * f32::EPSILON as f64;
        let extra = extra + flushed.sqrt() * (1.0 + 1e-9);
        let levels = match metric {
            Metric::L2 | Metric::InnerProduct | Metric::Cosine => QueryLevels::new(&q),
            Metric::L1 => None,
        };
        let sqrt_dims = (q.len() as f64).sqrt();
        BoundQuery {
            metric,
            q,
            norm,
            magnitude,
            gamma,
            extra,
            exact_rows: false,
            kernels: Sq8Kernels::active(),
            sqrt_dims,
            levels,
        }
    }

    /// Rank rows whose SQ8 copy is exact by their exact distance. For a
    /// query the SQL operator measures as the index holds it (an f32
    /// `ruvector` query, under `<->` or `<#>`, none of its elements flushed):
    /// an exact copy decodes to the row's stored values, and the SQ8 kernels
    /// then give the f32 kernels' sums to the bit (`Sq8Kernels::match_f32`),
    /// so the distance is the SQL operator's own. Under cosine the index
    /// holds normalised vectors, never the row's values.
    pub fn with_exact_rows(mut self) -> BoundQuery {
        self.exact_rows =
            matches!(self.metric, Metric::L2 | Metric::InnerProduct) && self.extra == 0.0 && Sq8Kernels::match_f32();
        self
    }

    /// How a scan ranks the row with this payload: a key in the scan's units
    /// (the squared distance under `<->`, the distance otherwise, so that
    /// keys of exact rows are the f32 sums themselves, which order them as
    /// the SQL operator's float8 results do), and whether the key is exact
    /// rather than a lower bound. [`BoundQuery::reported`] turns a key into
    /// the value the executor is given.
    #[inline]
    pub fn row_key(&self, payload: &[u8]) -> (f32, bool) {
        self.row_key_within(payload, f32::INFINITY)
    }

    /// [`BoundQuery::row_key`] for a scan that keeps only keys up to `limit`:
    /// an exact row is measured exactly only when its bound is within the
    /// limit; otherwise its bound comes back, a key above the limit and at
    /// most its exact key. So a row left out is left out by either key, and
    /// a row kept has the key `row_key` gives it.
    #[inline]
    pub fn row_key_within(&self, payload: &[u8], limit: f32) -> (f32, bool) {
        self.finish_key(payload, self.bound_key(self.lower_bound(payload)), limit)
    }

    /// [`BoundQuery::row_key_within`] in two steps, for a scan that ranks a
    /// page's rows: `lower_keys` gives each row's key before an exact row is
    /// measured, and [`BoundQuery::finish_key`] then gives what
    /// `row_key_within(payloads[i], limit)` gives. The code sums of up to
    /// [`KEY_BATCH`] rows are taken first and then each row's bound's
    /// arithmetic. `keys` is as long as `payloads`.
    pub fn lower_keys(&self, payloads: &[&[u8]], keys: &mut [f32]) {
        assert_eq!(payloads.len(), keys.len(), "one key per payload");
        let mut read: [Option<RowTerms>; KEY_BATCH] = [None; KEY_BATCH];
        for (rows, keys) in payloads.chunks(KEY_BATCH).zip(keys.chunks_mut(KEY_BATCH)) {
            for (terms, row) in read.iter_mut().zip(rows) {
                *terms = self.read_row(row);
            }
            for (key, &terms) in keys.iter_mut().zip(&read) {
                *key = self.bound_key(self.bound_of(terms));
            }
        }
    }

    /// How many rows a scan should hand [`BoundQuery::lower_keys`] at a time.
    ///
    /// Under `<->` as many as [`KEY_BATCH`]: that bound's arithmetic is a
    /// long chain of dependent f64 operations (two square roots, two
    /// divisions), and rows taken one at a time left the CPU waiting on each
    /// row's chain in turn; with the rows' code sums taken first, their
    /// chains overlap (Fashion-MNIST at probes 2 and 4, in the server: 0.06
    /// of 0.34 ms a query). Under `<#>` and `<=>` the chain is short and a
    /// scan is bound by reading the codes, which goes better with each row's
    /// arithmetic beside the next row's reads: one row at a time (batches
    /// there cost clustered-1,536 about a tenth of its scan).
    pub fn key_batch(&self) -> usize {
        if self.metric == Metric::L2 {
            KEY_BATCH
        } else {
            1
        }
    }

    /// The rest of [`BoundQuery::row_key_within`] for a row whose key from
    /// its bound is `key` ([`BoundQuery::lower_keys`]): an exact row whose
    /// key is within `limit` is measured exactly.
    #[inline]
    pub fn finish_key(&self, payload: &[u8], key: f32, limit: f32) -> (f32, bool) {
        let dims = self.q.len();
        // (a NaN limit measures)
        if key.partial_cmp(&limit) != Some(std::cmp::Ordering::Greater)
            && self.exact_rows
            && payload_is_exact(payload, dims)
        {
            let copy: Sq8Ref = sq8::copy(&payload[BOUNDS..], dims);
            return match self.metric {
                Metric::L2 => ((self.kernels.l2_squared)(&self.q, copy), true),
                _ => (-(self.kernels.dot)(&self.q, copy), true),
            };
        }
        (key, false)
    }

    /// A row's key from its lower bound: squared under L2 (and rounded down:
    /// still at most the squared distance).
    #[inline]
    fn bound_key(&self, bound: f32) -> f32 {
        if self.metric == Metric::L2 && bound > 0.0 {
            down(bound as f64 * bound as f64)
        } else {
            bound
        }
    }

    /// The value reported to the executor for a row with `key`: the SQL
    /// operator's distance for an exact key, a lower bound of it otherwise.
    /// Non-decreasing in the key, so rows handed over in key order carry
    /// non-decreasing values, as the executor's reordering requires.
    #[inline]
    pub fn reported(&self, key: f32) -> f64 {
        if self.metric == Metric::L2 && key > 0.0 {
            (key as f64).sqrt()
        } else {
            key as f64
        }
    }

    /// What a row's bound takes from the row: its stated bounds, its copy's
    /// offset and step, and the sums over its codes (the query levels' two
    /// integer sums where the query has levels, else the f32 SQ8 kernel's
    /// sum: the squared distance under L2, the dot product otherwise).
    /// `None` for a payload too short to hold a copy, and under L1 (no
    /// bound). The only part of the bound that reads the row.
    #[inline]
    fn read_row<'a>(&self, payload: &'a [u8]) -> Option<RowTerms<'a>> {
        let dims = self.q.len();
        if payload.len() < payload_bytes(dims) || self.metric == Metric::L1 {
            return None;
        }
        let copy: Sq8Ref = sq8::copy(&payload[BOUNDS..], dims);
        let sums = match (&self.levels, self.metric) {
            (Some(levels), _) => CodeSums::Levels(levels.sums(&copy)),
            (None, Metric::L2) => CodeSums::Kernel((self.kernels.l2_squared)(&self.q, copy)),
            (None, _) => CodeSums::Kernel((self.kernels.dot)(&self.q, copy)),
        };
        Some(RowTerms { stated: stated(payload), copy, sums })
    }

    /// A lower bound of the SQL operator's distance from the query to the row
    /// with this payload (−∞ when none can be given).
    #[inline]
    pub fn lower_bound(&self, payload: &[u8]) -> f32 {
        self.bound_of(self.read_row(payload))
    }

    /// [`BoundQuery::lower_bound`] from what [`BoundQuery::read_row`] read:
    /// arithmetic only.
    #[inline]
    fn bound_of(&self, row: Option<RowTerms>) -> f32 {
        let Some(RowTerms { stated: (err, scale, xm), copy, sums }) = row else {
            return f32::NEG_INFINITY;
        };
        let dims = self.q.len();
        let (g, qn, qm) = (self.gamma, self.norm, self.magnitude);
        // Every partial sum of either computation is at most (‖q‖ + ‖x‖)² in
        // magnitude, before preparing: below 1e36 neither can overflow. A
        // product below 1e-30 (cosine's sums) may have lost digits to
        // subnormals beyond the relative rounding bounded here. (One branch
        // for all the tests: `&`, not `&&`.)
        let safe = |v: f64| v < 1e36;
        let normal = |v: f64| v >= 1e-30;
        let ok = err.is_finite()
            & safe((qn + scale) * (qn + scale))
            & safe((qm + xm) * (qm + xm))
            & (self.metric != Metric::Cosine || (normal(qm * qm) & normal(xm * xm) & normal(qm * xm)));
        if !ok {
            return f32::NEG_INFINITY;
        }
        // an upper bound of q·x̂ (`scale` bounds ‖x̂‖) from the integer levels
        let dot_at_most = |levels: &QueryLevels, sums| levels.dot_at_most_from(sums, &copy, scale);
        let bound = match (self.metric, sums, &self.levels) {
            (Metric::L2, CodeSums::Levels(sums), Some(levels)) => {
                let norm_low = copy_norm_at_least(&copy, dims, self.sqrt_dims, scale, err);
                self.l2_bound(levels.distance_at_least(sums, &copy, scale, norm_low), err, scale)
            }
            (Metric::L2, CodeSums::Kernel(squared), _) => {
                self.l2_bound((squared as f64).sqrt() * (1.0 - g), err, scale)
            }
            (Metric::InnerProduct, CodeSums::Levels(sums), Some(levels)) => {
                self.ip_bound(dot_at_most(levels, sums), err, scale)
            }
            (Metric::InnerProduct, CodeSums::Kernel(dot), _) => self.ip_bound(dot as f64, err, scale),
            (Metric::Cosine, CodeSums::Levels(sums), Some(levels)) => {
                self.cosine_bound(dot_at_most(levels, sums), err, scale)
            }
            (Metric::Cosine, CodeSums::Kernel(dot), _) => self.cosine_bound(dot as f64, err, scale),
            _ => f64::NEG_INFINITY,
        };
        down(bound)
    }

    /// Under `<->`, from `d` ≤ ‖q − x̂‖: sql = sqrt(Σ(q−x)² computed) ≥
    /// ‖q−x‖·(1−γ) ≥ (‖q−x̂‖ − err)·(1−γ), where ‖q−x̂‖ ≥ sqrt(computed)·(1−γ)
    /// or the levels' bound (and each square that fell to a subnormal lost
    /// < 1e-38).
    #[inline(always)]
    fn l2_bound(&self, d: f64, err: f64, scale: f64) -> f64 {
        let g = self.gamma;
        (d - err - self.extra) * (1.0 - g) - g * (self.norm + scale) - 1e-17
    }

    /// Under `<#>`, from `s` ≥ q·x̂ (or the f32 kernel's q·x̂): sql = −(q·x
    /// computed) ≥ −q·x − γ‖q‖‖x‖; q·x ≤ q·x̂ + ‖q‖·err; q·x̂ ≤ computed +
    /// γ‖q‖‖x̂‖, or at most the levels' bound.
    #[inline(always)]
    fn ip_bound(&self, s: f64, err: f64, scale: f64) -> f64 {
        let (g, qn) = (self.gamma, self.norm);
        -s - qn * err - 2.0 * g * qn * scale - self.extra * scale - 1e-30
    }

    /// Under `<=>`, from `s` ≥ q·x̂ (or the f32 kernel's q·x̂): sql = 1 −
    /// clamp(similarity computed); the similarity of the unit vectors is
    /// within 3γ of the computed one, and the prepared (normalised, rounded)
    /// vectors are within 2γ + ε of unit vectors along the true directions.
    #[inline(always)]
    fn cosine_bound(&self, s: f64, err: f64, scale: f64) -> f64 {
        let (g, qn) = (self.gamma, self.norm);
        1.0 - s - qn * err - 2.0 * g * qn.max(1.0) * scale - 8.0 * g - 2.0 * self.extra * scale.max(1.0)
    }
}

/// Rows whose code sums [`BoundQuery::lower_keys`] takes before their
/// bounds' arithmetic.
pub const KEY_BATCH: usize = 16;

/// The sums over a row's codes its bound takes (`BoundQuery::read_row`).
#[derive(Debug, Clone, Copy)]
enum CodeSums {
    Levels((i32, i32)),
    Kernel(f32),
}

/// What a row's bound takes from the row (`BoundQuery::read_row`): its
/// stated `error`, `scale` and `magnitude`, its copy, the sums over its codes.
#[derive(Debug, Clone, Copy)]
struct RowTerms<'a> {
    stated: (f64, f64, f64),
    copy: Sq8Ref<'a>,
    sums: CodeSums,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels;
    use proptest::prelude::*;

    /// The distance the SQL operators compute (src/types/dense.rs).
    fn sql(metric: Metric, q: &[f32], x: &[f32]) -> f64 {
        match metric {
            Metric::L2 => (kernels::l2_squared(q, x) as f64).sqrt(),
            Metric::InnerProduct => -(kernels::dot(q, x) as f64),
            Metric::Cosine => kernels::cosine_distance(q, x),
            Metric::L1 => kernels::l1(q, x) as f64,
        }
    }

    fn prepared(metric: Metric, v: &[f32]) -> Vec<f32> {
        let mut p = v.to_vec();
        let _ = metric.prepare(&mut p);
        p
    }

    proptest! {
        /// Every payload the encoder writes passes `check_payload` against
        /// its vector (also with the vector a few ulps off, as another CPU's
        /// cosine preparation may leave it), and a payload with any one code
        /// moved by 2 or more, its error shrunk, or its stored norm changed
        /// does not.
        #[test]
        fn check_payload_accepts_encodings_and_rejects_damage(
            x in proptest::collection::vec(-1e3f32..1e3, 2..400),
            at in any::<prop::sample::Index>(),
            by in 2u8..128,
        ) {
            let norm = kernels::norm(&x);
            let payload = encode(&x, norm, 0.0);
            prop_assert_eq!(check_payload(&payload, &x, norm), Ok(()));
            let nudged: Vec<f32> = x.iter().map(|v| v.next_up()).collect();
            prop_assert_eq!(check_payload(&payload, &nudged, norm), Ok(()));
            let (copy, _) = sq8::parse(&payload[BOUNDS..], x.len());
            // a code moved: only damage if the step is not lost in rounding
            if copy.step as f64 > 1e-3 * copy.largest() {
                let i = at.index(x.len());
                let mut damaged = payload.clone();
                let c = &mut damaged[BOUNDS + 8 + i];
                *c = if *c >= 128 { *c - by } else { *c + by };
                prop_assert!(check_payload(&damaged, &x, norm).is_err());
            }
            let mut smaller = payload.clone();
            smaller[0..4].copy_from_slice(&(f32::from_ne_bytes(payload[0..4].try_into().unwrap()) * 0.25).to_ne_bytes());
            // an error shrunk: damage where the copy's own error is not lost in rounding
            let d = x.iter().enumerate().map(|(i, &v)| (v as f64 - copy.decode(i) as f64).powi(2)).sum::<f64>().sqrt();
            if d > 1e-3 * copy.largest() {
                prop_assert!(check_payload(&smaller, &x, norm).is_err());
            }
            prop_assert!(check_payload(&payload, &x, norm * 1.01 + 1e-3).is_err());
            prop_assert!(check_payload(&payload[..payload.len() - 1], &x[..], norm).is_err());
        }
    }

    /// A copy marked exact must decode to the table's vector; garbage over a
    /// whole payload is found; a payload without a copy passes.
    #[test]
    fn check_payload_exact_copies_and_garbage() {
        let x: Vec<f32> = (0..200).map(|i| (i % 200) as f32).collect();
        let payload = encode(&x, kernels::norm(&x), 0.0);
        assert!(payload_is_exact(&payload, x.len()));
        assert_eq!(check_payload(&payload, &x, kernels::norm(&x)), Ok(()));
        let mut off = x.clone();
        off[5] += 1.0;
        let err = check_payload(&payload, &off, kernels::norm(&x)).unwrap_err();
        assert!(err.contains("exact"), "{err}");
        let mut garbage = payload.clone();
        let mut seed = 7u32;
        for b in garbage.iter_mut() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *b = (seed >> 16) as u8;
        }
        assert!(check_payload(&garbage, &x, kernels::norm(&x)).is_err());
        let none = encode(&[f32::MAX, -f32::MAX], 0.0, 0.0);
        assert_eq!(check_payload(&none, &[1.0, 2.0], 3.0), Ok(()));
        // a norm beyond f32's (stored as infinity), and a scale with it
        // (found by the SQL fuzzer, seed 350: 300 elements near 5e37)
        let huge: Vec<f32> = (0..300).map(|i| 5e37 * (1.0 + (i % 7) as f32)).collect();
        let norm = kernels::norm(&huge);
        assert!(norm > f32::MAX as f64);
        assert_eq!(check_payload(&encode(&huge, norm, 0.0), &huge, norm), Ok(()));
        let mut negative = payload.clone();
        negative[0..4].copy_from_slice(&(-1.0f32).to_ne_bytes());
        assert!(check_payload(&negative, &x, kernels::norm(&x)).is_err());
    }

    fn check(metric: Metric, q: &[f32], x: &[f32]) -> Result<(f64, f64), TestCaseError> {
        let payload = encode(&prepared(metric, x), kernels::norm(x), 0.0);
        prop_assert_eq!(payload.len(), payload_bytes(x.len()));
        let bq = BoundQuery::new(metric, prepared(metric, q), kernels::norm(q), 0.0);
        let lb = bq.lower_bound(&payload) as f64;
        let exact = sql(metric, q, x);
        // PostgreSQL orders NaN after every number
        prop_assert!(!lb.is_nan());
        prop_assert!(exact.is_nan() || lb <= exact, "{:?}: bound {} above exact {}", metric, lb, exact);
        // the scan's key, reported: the exact distance for an exact row, a
        // lower bound otherwise
        let ranked = BoundQuery::new(metric, prepared(metric, q), kernels::norm(q), 0.0).with_exact_rows();
        let (key, is_exact) = ranked.row_key(&payload);
        let reported = ranked.reported(key);
        if is_exact {
            prop_assert_eq!(reported.to_bits(), exact.to_bits(), "{:?}: exact key {} for {}", metric, reported, exact);
        } else {
            prop_assert!(!reported.is_nan());
            prop_assert!(exact.is_nan() || reported <= exact, "{:?}: key {} above exact {}", metric, reported, exact);
        }
        // with a limit: the full key, or (the exact row not measured) a
        // bound above the limit and at most the full key; within the limit,
        // always the full key
        let bounded = ranked.row_key_within(&payload, f32::NEG_INFINITY).0;
        for limit in [f32::NEG_INFINITY, bounded, key, f32::NAN, f32::INFINITY, bounded.next_down(), key.next_up()] {
            let (within, within_exact) = ranked.row_key_within(&payload, limit);
            let full = (within.to_bits(), within_exact) == (key.to_bits(), is_exact);
            let left_out = !within_exact && within > limit && within <= key;
            prop_assert!(full || left_out, "{:?}: key {} with limit {}, full key {}", metric, within, limit, key);
            prop_assert!(
                within > limit || full,
                "{:?}: key {} within limit {}, full key {}",
                metric,
                within,
                limit,
                key
            );
        }
        Ok((lb, exact))
    }

    /// Vectors of integers spanning at most 255 (pixels, uint8 or int8
    /// embeddings), whose SQ8 copies are exact, and a query of any floats.
    fn integer_rows() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        (1usize..700, -1000i32..1000, prop_oneof![Just(1e-3f32), Just(1.0), Just(300.0)]).prop_flat_map(
            |(n, base, scale)| {
                let x = proptest::collection::vec(0i32..256, n)
                    .prop_map(move |v| v.iter().map(|c| (base + c) as f32).collect::<Vec<f32>>());
                let q = proptest::collection::vec(-1.0f32..1.0, n)
                    .prop_map(move |v| v.iter().map(|x| x * scale).collect::<Vec<f32>>());
                (q, x)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// `lower_keys` over a page's rows, then `finish_key` against a
        /// limit, gives each row what `row_key_within` gives, bit for bit:
        /// for every metric, rows of integers (exact copies) and of floats,
        /// a row too short to hold a copy and one SQ8 cannot copy, batches
        /// longer than KEY_BATCH, and limits from none to every row.
        #[test]
        fn batched_keys_are_row_keys(
            dims in 1usize..300,
            rows in 1usize..40,
            seed in any::<u64>(),
            limit in prop_oneof![Just(f32::NEG_INFINITY), Just(f32::INFINITY), Just(f32::NAN), -2.0f32..1e5],
        ) {
            let mut s = seed | 1;
            let mut next = || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
            let q: Vec<f32> = (0..dims).map(|_| (next() % 2001) as f32 / 1000.0 - 1.0).collect();
            let vectors: Vec<Vec<f32>> = (0..rows)
                .map(|r| match r % 5 {
                    0 => (0..dims).map(|_| (next() % 256) as f32).collect(),
                    4 if r == 4 => vec![f32::MAX; dims],
                    _ => (0..dims).map(|_| (next() % 2001) as f32 / 1000.0 - 1.0).collect(),
                })
                .collect();
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
                let bq = BoundQuery::new(metric, prepared(metric, &q), kernels::norm(&q), 0.0).with_exact_rows();
                let mut payloads: Vec<Vec<u8>> =
                    vectors.iter().map(|x| encode(&prepared(metric, x), kernels::norm(x), 0.0)).collect();
                if rows > 2 {
                    let half = payloads[2].len() / 2;
                    payloads[2].truncate(half);
                }
                let refs: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
                let mut keys = vec![0f32; rows];
                bq.lower_keys(&refs, &mut keys);
                for (payload, &key) in refs.iter().zip(&keys) {
                    let (a, b) = (bq.finish_key(payload, key, limit), bq.row_key_within(payload, limit));
                    prop_assert_eq!((a.0.to_bits(), a.1), (b.0.to_bits(), b.1), "{:?}", metric);
                }
            }
        }
    }

    fn vectors() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        (
            1usize..700,
            prop_oneof![Just(1e-30f32), Just(1e-17), Just(1e-3), Just(1.0), Just(1e3), Just(1e15), Just(1e19)],
        )
            .prop_flat_map(|(n, scale)| {
                let v =
                    proptest::collection::vec(-1.0f32..1.0, n).prop_map(move |v| v.iter().map(|x| x * scale).collect());
                (v.clone(), v)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// The bound is never above the SQL operator's distance.
        #[test]
        fn bound_is_below_the_sql_distance((q, x) in vectors()) {
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
                check(metric, &q, &x)?;
            }
        }

        /// A query equal to the row, or a row near the query: the worst case
        /// for relative rounding (the distance nearly cancels).
        #[test]
        fn bound_holds_for_near_duplicates((q, _x) in vectors(), jitter in 0.0f32..1e-4) {
            let x: Vec<f32> = q.iter().enumerate().map(|(i, v)| if i % 7 == 0 { v * (1.0 + jitter) } else { *v }).collect();
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
                check(metric, &q, &x)?;
                check(metric, &q, &q)?;
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// An exact copy is ranked by the SQL operator's own distance, to
        /// the bit, under `<->` and `<#>` (checked inside `check`); under
        /// cosine, and for rows that are not exact, by a lower bound.
        #[test]
        fn exact_rows_are_ranked_by_their_sql_distance((q, x) in integer_rows()) {
            let exact_copy = crate::sq8::encode(&x).is_some_and(|r| crate::sq8::is_exact(&r, x.len()));
            prop_assert!(exact_copy);
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
                check(metric, &q, &x)?;
                let payload = encode(&prepared(metric, &x), kernels::norm(&x), 0.0);
                let ranked = BoundQuery::new(metric, prepared(metric, &q), kernels::norm(&q), 0.0).with_exact_rows();
                let flushed = q.iter().any(|v| *v != 0.0 && (v.abs() as f64) < 1e-20 * kernels::norm(&q));
                let expected = metric != Metric::Cosine && Sq8Kernels::match_f32() && !flushed;
                prop_assert_eq!(ranked.row_key(&payload).1, expected);
            }
        }

        /// Keys order rows as their reported values do, for exact and
        /// bounded rows alike (the executor needs non-decreasing values).
        #[test]
        fn reported_values_follow_the_keys((q, x) in integer_rows(), shift in -2.0f32..2.0) {
            for metric in [Metric::L2, Metric::InnerProduct] {
                let ranked = BoundQuery::new(metric, q.clone(), kernels::norm(&q), 0.0).with_exact_rows();
                let other: Vec<f32> = x.iter().map(|v| v + shift * 0.37).collect();
                let mut keys: Vec<f32> = [&x, &other, &q]
                    .iter()
                    .map(|v| ranked.row_key(&encode(v, kernels::norm(v), 0.0)).0)
                    .collect();
                keys.sort_by(f32::total_cmp);
                for pair in keys.windows(2) {
                    prop_assert!(ranked.reported(pair[0]) <= ranked.reported(pair[1]));
                }
            }
        }

        /// Rows and queries with near-zero elements (as sentence embeddings
        /// have): the query's are flushed to zero, and the bound still holds.
        #[test]
        fn bound_holds_with_near_zero_elements((q, x) in vectors(), every in 2usize..9) {
            let tiny = |v: &[f32]| -> Vec<f32> { v.iter().enumerate().map(|(i, x)| if i % every == 0 { x * 1e-37 } else { *x }).collect() };
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
                check(metric, &tiny(&q), &tiny(&x))?;
                check(metric, &tiny(&q), &x)?;
            }
        }
    }

    /// On embedding-like data the bound is tight enough to be useful: within
    /// a few hundredths of the cosine distance.
    #[test]
    fn bound_is_close_on_embedding_like_vectors() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        for dims in [384, 768, 1536] {
            let q: Vec<f32> = (0..dims).map(|_| next()).collect();
            let x: Vec<f32> = q.iter().map(|v| v + 0.3 * next()).collect();
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
                let (lb, exact) = check(metric, &q, &x).unwrap();
                let scale = if metric == Metric::Cosine { 1.0 } else { exact.abs().max(1.0) };
                assert!(exact - lb < 0.03 * scale, "{metric:?} {dims}: {lb} vs {exact}");
            }
        }
    }

    #[test]
    fn uncopyable_rows_are_bounded_by_minus_infinity() {
        let x = [3e38f32, -3e38, 1.0];
        let payload = encode(&x, kernels::norm(&x), 0.0);
        assert_eq!(payload.len(), payload_bytes(3));
        let bq = BoundQuery::new(Metric::L2, vec![0.0, 0.0, 0.0], 0.0, 0.0);
        assert_eq!(bq.lower_bound(&payload), f32::NEG_INFINITY);
        assert_eq!(bq.lower_bound(&payload[..5]), f32::NEG_INFINITY);
    }
}
