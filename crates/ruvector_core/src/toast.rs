//! How a vector value should be stored (PostgreSQL's TOAST): by its size and
//! by how well it would compress, judged from its elements without
//! compressing it.
//!
//! - `Inline`: under 512 bytes, stored as is in the row.
//! - `Compressed`: 512 bytes to 2 kB whose compressibility exceeds 0.3
//!   (mostly-zero, quantized): compressed, still in the row. PostgreSQL's
//!   toaster compresses only rows over 2 kB, so the extension compresses
//!   these itself when they are stored into a column.
//! - `External`: over 2 kB and not compressible enough: out of line,
//!   uncompressed (dense embeddings: compressing them gains nothing and
//!   costs every read).
//! - `ExtendedCompressed`: over 8 kB with compressibility above 0.15:
//!   compressed, then out of line if still large.
//!
//! Values of 512 bytes to 8 kB that are not compressible enough are stored
//! as is (`Inline` under 2 kB, `External` above).

#![forbid(unsafe_code)]

/// Where and how a value is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToastStrategy {
    Inline,
    Compressed,
    External,
    ExtendedCompressed,
}

impl ToastStrategy {
    pub fn name(self) -> &'static str {
        match self {
            ToastStrategy::Inline => "inline",
            ToastStrategy::Compressed => "compressed",
            ToastStrategy::External => "external",
            ToastStrategy::ExtendedCompressed => "extended_compressed",
        }
    }

    /// Whether values of this strategy are compressed.
    pub fn compresses(self) -> bool {
        matches!(self, ToastStrategy::Compressed | ToastStrategy::ExtendedCompressed)
    }
}

pub const INLINE_LIMIT: usize = 512;
pub const COMPRESSED_LIMIT: usize = 2048;
pub const EXTENDED_FROM: usize = 8192;
pub const COMPRESSED_MIN_RATIO: f32 = 0.3;
pub const EXTENDED_MIN_RATIO: f32 = 0.15;

/// The share of a vector's elements that a compressor would find again:
/// zeros, and values equal to one seen before (a quantized vector repeats
/// its few levels). 0 for distinct values (a dense embedding), near 1 for
/// a mostly-zero or few-level vector. Compares bit patterns (any element
/// type of up to 8 bytes: f32, binary16, sparse values); looks at up to
/// 4,096 elements spread over the vector and remembers up to 4,096
/// distinct values (beyond, a new value counts as unseen).
pub fn estimate_compressibility<T: bytemuck::Pod>(v: &[T]) -> f32 {
    const SAMPLE: usize = 4096;
    if v.is_empty() || std::mem::size_of::<T>() > 8 {
        return 0.0;
    }
    // every element, or SAMPLE spread by a multiplicative hash (a stride
    // would alias with periodic data)
    let n = v.len();
    let at =
        |k: usize| if n <= SAMPLE { k } else { ((k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize % n };
    let mut seen = rustc_hash::FxHashSet::with_capacity_and_hasher(n.min(SAMPLE), Default::default());
    let (mut looked, mut repeated) = (0usize, 0usize);
    for x in (0..n.min(SAMPLE)).map(|k| &v[at(k)]) {
        let mut key = [0u8; 8];
        key[..std::mem::size_of::<T>()].copy_from_slice(bytemuck::bytes_of(x));
        let key = u64::from_ne_bytes(key);
        looked += 1;
        if key == 0 || seen.contains(&key) {
            repeated += 1;
        } else if seen.len() < SAMPLE {
            seen.insert(key);
        }
    }
    repeated as f32 / looked as f32
}

/// A value's storage: its strategy, from its size and compressibility.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VectorStorage {
    pub strategy: ToastStrategy,
    pub bytes: usize,
    pub compressibility: f32,
}

impl VectorStorage {
    pub fn choose(bytes: usize, compressibility: f32) -> VectorStorage {
        Self::decide(bytes, || compressibility)
    }

    /// As `choose`, estimating the compressibility only where it decides
    /// something (512 bytes to 2 kB, and over 8 kB); elsewhere it is
    /// reported as NaN.
    pub fn decide(bytes: usize, compressibility: impl FnOnce() -> f32) -> VectorStorage {
        let needed = (INLINE_LIMIT..=COMPRESSED_LIMIT).contains(&bytes) || bytes > EXTENDED_FROM;
        let c = if needed { compressibility() } else { f32::NAN };
        let strategy = if bytes < INLINE_LIMIT {
            ToastStrategy::Inline
        } else if bytes > EXTENDED_FROM && c > EXTENDED_MIN_RATIO {
            ToastStrategy::ExtendedCompressed
        } else if bytes > COMPRESSED_LIMIT {
            ToastStrategy::External
        } else if c > COMPRESSED_MIN_RATIO {
            ToastStrategy::Compressed
        } else {
            ToastStrategy::Inline
        };
        VectorStorage { strategy, bytes, compressibility: c }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressibility_counts_zeros_and_repeats() {
        assert_eq!(estimate_compressibility::<f32>(&[]), 0.0);
        assert_eq!(estimate_compressibility(&[1.0f32, 2.0, 3.0, 4.0]), 0.0);
        assert_eq!(estimate_compressibility(&[0.0f32, 0.0, 7.0, 5.0]), 0.5);
        assert_eq!(estimate_compressibility(&[1.0f32, 2.0, 1.0, 2.0]), 0.5);
        let half: Vec<half::f16> = [0.0f32, 0.5, 0.5, 0.25].iter().map(|&x| half::f16::from_f32(x)).collect();
        assert_eq!(estimate_compressibility(&half), 0.5);
        // sampled beyond 4,096 elements: still the share of zeros
        let sparse: Vec<f32> = (0..100_000).map(|i| if i % 10 == 0 { i as f32 } else { 0.0 }).collect();
        assert!((estimate_compressibility(&sparse) - 0.9).abs() < 0.02);
        let quantized: Vec<f32> = (0..2048).map(|i| ((i * 7919) % 16) as f32 / 15.0).collect();
        assert!(estimate_compressibility(&quantized) > 0.99);
        let dense: Vec<f32> =
            (0..1536).map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * (i as f32 + 1.0).sqrt()).collect();
        assert!(estimate_compressibility(&dense) < 0.01);
    }

    #[test]
    fn strategies_by_size_and_compressibility() {
        use ToastStrategy::*;
        let s = |bytes, c| VectorStorage::choose(bytes, c).strategy;
        assert_eq!(s(100, 1.0), Inline);
        assert_eq!(s(511, 0.9), Inline);
        assert_eq!(s(1024, 0.31), Compressed);
        assert_eq!(s(1024, 0.3), Inline);
        assert_eq!(s(2048, 0.5), Compressed);
        assert_eq!(s(2049, 0.5), External);
        assert_eq!(s(6144, 0.0), External);
        assert_eq!(s(8192, 0.9), External);
        assert_eq!(s(8193, 0.16), ExtendedCompressed);
        assert_eq!(s(40_000, 0.15), External);
        assert_eq!(s(40_000, 0.99), ExtendedCompressed);
        assert!(Compressed.compresses() && ExtendedCompressed.compresses() && !External.compresses());
        // between 2 and 8 kB the estimate decides nothing and is not made
        assert!(VectorStorage::decide(6144, || panic!("not needed")).compressibility.is_nan());
    }
}
