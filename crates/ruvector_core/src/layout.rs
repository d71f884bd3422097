//! How vectors are laid out in memory and on disk, and the [`VectorData`] trait
//! that reads them without copying.
//!
//! Dense layout (byte-compatible with pgvector's `vector` and `halfvec`):
//!
//! ```text
//! offset 0  u32  varlena header (written by PostgreSQL's SET_VARSIZE)
//! offset 4  i16  dimensions
//! offset 6  i16  unused, always 0
//! offset 8  dim × element (f32 or binary16), native byte order
//! ```
//!
//! Invariant: the header is exactly 8 bytes, so the elements of a detoasted value
//! (palloc'd, MAXALIGN'd) or of an in-tuple value (type alignment `double`) start
//! on an 8-byte boundary, and `&[f32]` can be borrowed in place.

use crate::error::{ErrorKind, Result, VectorError};

/// Bytes before the first element of a dense vector.
pub const DENSE_HEADER_BYTES: usize = 8;

/// The most dimensions a dense vector may have (pgvector's limit; fits in i16).
pub const MAX_DIM: usize = 16000;

/// Read access to a vector's elements, borrowed from wherever they live:
/// a detoasted datum, an index page, or a Rust `Vec`.
pub trait VectorData {
    type Element: Copy;

    fn elements(&self) -> &[Self::Element];

    fn dims(&self) -> usize {
        self.elements().len()
    }
}

impl VectorData for [f32] {
    type Element = f32;
    fn elements(&self) -> &[f32] {
        self
    }
}

impl VectorData for Vec<f32> {
    type Element = f32;
    fn elements(&self) -> &[f32] {
        self
    }
}

impl VectorData for [half::f16] {
    type Element = half::f16;
    fn elements(&self) -> &[half::f16] {
        self
    }
}

/// A dense vector borrowed from a varlena image (header included); `E` is
/// `f32` for `ruvector` and `half::f16` (raw binary16) for `halfvec`.
#[derive(Debug)]
pub struct DenseRef<'a, E> {
    data: &'a [E],
}

impl<E> Clone for DenseRef<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for DenseRef<'_, E> {}

impl<'a, E: bytemuck::Pod> DenseRef<'a, E> {
    /// Borrow the elements of `image`, a whole varlena (header and data).
    ///
    /// Fails, rather than copying, when the image is shorter than its dimension
    /// field says or the element data is misaligned: both mean a corrupt datum,
    /// which must not be read.
    pub fn from_image(image: &'a [u8]) -> Result<Self> {
        if image.len() < DENSE_HEADER_BYTES {
            return Err(corrupt("vector datum is shorter than its header"));
        }
        let dims = i16::from_ne_bytes([image[4], image[5]]);
        if dims < 0 {
            return Err(corrupt("vector datum has a negative dimension count"));
        }
        let end = dense_size::<E>(dims as usize);
        if image.len() < end {
            return Err(corrupt("vector datum is shorter than its dimensions require"));
        }
        let data = bytemuck::try_cast_slice::<u8, E>(&image[DENSE_HEADER_BYTES..end])
            .map_err(|_| corrupt("vector datum is not aligned"))?;
        Ok(DenseRef { data })
    }

    pub fn as_slice(&self) -> &'a [E] {
        self.data
    }
}

impl<E: Copy> VectorData for DenseRef<'_, E> {
    type Element = E;
    fn elements(&self) -> &[E] {
        self.data
    }
}

/// Total varlena size of a dense vector of `dims` elements of type `E`.
pub const fn dense_size<E>(dims: usize) -> usize {
    DENSE_HEADER_BYTES + dims * std::mem::size_of::<E>()
}

/// Write bytes 4..8 of a varlena image: the dimension count and the zero field.
/// Bytes 0..4 (the varlena header) are left for the caller, since their
/// encoding belongs to PostgreSQL.
pub fn write_dense_header(image: &mut [u8], dims: usize) {
    assert!(dims <= MAX_DIM, "dimension count checked by callers");
    image[4..6].copy_from_slice(&(dims as i16).to_ne_bytes());
    image[6..8].copy_from_slice(&0i16.to_ne_bytes());
}

/// Write a whole image but its varlena header. `image` must be
/// `dense_size::<E>(data.len())` long.
pub fn write_dense<E: bytemuck::Pod>(image: &mut [u8], data: &[E]) {
    assert_eq!(image.len(), dense_size::<E>(data.len()));
    write_dense_header(image, data.len());
    image[DENSE_HEADER_BYTES..].copy_from_slice(bytemuck::cast_slice(data));
}

fn corrupt(msg: &str) -> VectorError {
    VectorError::new(ErrorKind::DataException, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned_image<E: bytemuck::Pod>(data: &[E]) -> Vec<u64> {
        let size = dense_size::<E>(data.len());
        let mut words = vec![0u64; size.div_ceil(8)];
        let bytes: &mut [u8] = &mut bytemuck::cast_slice_mut(&mut words)[..size];
        write_dense(bytes, data);
        words
    }

    #[test]
    fn borrows_without_copying() {
        let data = [1.0f32, -2.5, 3.25];
        let words = aligned_image(&data);
        let bytes: &[u8] = bytemuck::cast_slice(&words);
        let v = DenseRef::<f32>::from_image(&bytes[..dense_size::<f32>(3)]).unwrap();
        assert_eq!(v.as_slice(), &data);
        // The slice points into the image, not at a copy.
        assert_eq!(v.as_slice().as_ptr() as usize, bytes.as_ptr() as usize + DENSE_HEADER_BYTES);

        let halves = [half::f16::ONE, half::f16::from_f32(-0.5)];
        let words = aligned_image(&halves);
        let bytes: &[u8] = bytemuck::cast_slice(&words);
        let h = DenseRef::<half::f16>::from_image(&bytes[..dense_size::<half::f16>(2)]).unwrap();
        assert_eq!(h.as_slice(), &halves);
        assert_eq!(h.as_slice().as_ptr() as usize, bytes.as_ptr() as usize + DENSE_HEADER_BYTES);
    }

    #[test]
    fn rejects_truncated_and_negative() {
        let words = aligned_image(&[1.0f32, 2.0]);
        let bytes: &[u8] = bytemuck::cast_slice(&words);
        assert!(DenseRef::<f32>::from_image(&bytes[..dense_size::<f32>(2) - 1]).is_err());
        assert!(DenseRef::<f32>::from_image(&bytes[..4]).is_err());
        let mut neg = bytes.to_vec();
        neg[4..6].copy_from_slice(&(-1i16).to_ne_bytes());
        assert!(DenseRef::<f32>::from_image(&neg).is_err());
    }
}

/// Fixed-length byte records, each starting 8-byte aligned in one buffer, so
/// that f32 / f16 vectors stored in them are read in place (a plain byte
/// vector would not be aligned for f32). Used for IVF centres and the hnsw
/// search cache.
#[derive(Debug, Default, Clone)]
pub struct AlignedRows {
    words: Vec<u64>,
    /// Words per record (the record's bytes rounded up to 8).
    stride: usize,
    bytes: usize,
}

impl AlignedRows {
    /// An empty set of records of `bytes` bytes each.
    pub fn new(bytes: usize) -> Self {
        AlignedRows { words: Vec::new(), stride: bytes.div_ceil(8).max(1), bytes }
    }

    /// Bytes per record.
    pub fn record_bytes(&self) -> usize {
        self.bytes
    }

    /// Append `record` (exactly `record_bytes` long); returns its index.
    /// Panics (an ERROR in the extension, not an abort) when memory runs out.
    pub fn push(&mut self, record: &[u8]) -> usize {
        self.try_push(record).expect("out of memory for fixed-length records")
    }

    /// As `push`, or None, with nothing changed, when no memory can be had.
    pub fn try_push(&mut self, record: &[u8]) -> Option<usize> {
        assert_eq!(record.len(), self.bytes, "records have a fixed length");
        self.words.try_reserve(self.stride).ok()?;
        let at = self.words.len();
        self.words.resize(at + self.stride, 0);
        bytemuck::cast_slice_mut::<u64, u8>(&mut self.words[at..])[..self.bytes].copy_from_slice(record);
        Some(at / self.stride)
    }

    pub fn get(&self, i: usize) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words[i * self.stride..(i + 1) * self.stride])[..self.bytes]
    }

    pub fn len(&self) -> usize {
        self.words.len().checked_div(self.stride).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Bytes the records take once one more is pushed.
    pub fn bytes_with_one_more(&self) -> usize {
        (self.words.len() + self.stride) * 8
    }

    /// Bytes the records take.
    pub fn used_bytes(&self) -> usize {
        self.words.len() * 8
    }

    /// Bytes allocated for records, taken or not (see `reserve_huge`).
    pub fn reserved_bytes(&self) -> usize {
        self.words.capacity() * 8
    }

    /// Allocate room for `records` records now, and ask the kernel to back
    /// it with 2 MiB pages where it can (Linux `MADV_HUGEPAGE`; transparent
    /// huge pages are commonly on "madvise only"). A search reads records
    /// at random across the whole set; with 4 kB pages nearly every record
    /// read also misses the TLB. The pages are touched only as records are
    /// written (under strict overcommit the whole reservation is charged).
    /// If the allocation fails, nothing is reserved and records are added
    /// as usual.
    pub fn reserve_huge(&mut self, records: usize) {
        let words = records.saturating_mul(self.stride);
        if words > self.words.len() && self.words.try_reserve_exact(words - self.words.len()).is_err() {
            return;
        }
        advise_huge_pages(self.words.as_ptr().cast(), self.words.capacity() * 8);
    }
}

/// `data` moved into a fresh allocation that the kernel may back with 2 MiB
/// pages (see [`AlignedRows::reserve_huge`]): for arrays read at random
/// positions, such as a graph build's vectors. Costs one copy; without
/// memory for it, `data` is returned as it is.
pub fn into_huge_pages<T: Copy>(data: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    if out.try_reserve_exact(data.len()).is_err() {
        return data;
    }
    advise_huge_pages(out.as_ptr().cast(), out.capacity() * std::mem::size_of::<T>());
    out.extend_from_slice(&data);
    out
}

/// `madvise(MADV_HUGEPAGE)` on the whole 2 MiB pages inside `[start, start + len)`.
/// Advice only: failure (or another OS) changes nothing but speed.
pub(crate) fn advise_huge_pages(start: *const u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let first = (start as usize).next_multiple_of(HUGE);
        let end = (start as usize + len) / HUGE * HUGE;
        if end > first {
            // SAFETY: the range lies inside one live allocation of ours;
            // MADV_HUGEPAGE changes how it is backed, never its contents.
            unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, len);
}

#[cfg(test)]
mod aligned_rows_tests {
    use super::AlignedRows;

    #[test]
    fn records_are_aligned_and_kept() {
        let mut rows = AlignedRows::new(6);
        assert!(rows.is_empty());
        assert_eq!(rows.push(&[1, 2, 3, 4, 5, 6]), 0);
        assert_eq!(rows.push(&[7; 6]), 1);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.get(0), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(rows.get(1), &[7; 6]);
        assert_eq!(rows.get(1).as_ptr() as usize % 8, 0);
        assert_eq!(rows.bytes_with_one_more(), 24);
        let mut floats = AlignedRows::new(12);
        floats.push(bytemuck::cast_slice(&[1.0f32, 2.0, 3.0]));
        floats.push(bytemuck::cast_slice(&[4.0f32, 5.0, 6.0]));
        assert_eq!(bytemuck::cast_slice::<u8, f32>(floats.get(1)), &[4.0, 5.0, 6.0]);
    }
}
