//! On-page formats of an IVFFlat index (the extension writes them into
//! PostgreSQL pages; see docs/ivfflat.md for the page layout).
//!
//! - `IvfMeta` in the meta page (block 0).
//! - A list tuple per list on the centre pages (a chain from block 1):
//!   start block of the list's page chain, the page inserts start from, then
//!   the centre in the index's element type.
//! - A row tuple per indexed row on the list pages: the heap TID, 2 bytes of
//!   padding so the vector starts 8-byte aligned (pages MAXALIGN items), then
//!   the vector: in format 1 (`IVF_VERSION`) in the index's element type; in
//!   format 2 (`IVF_VERSION_SQ8`: `ruvector` and `halfvec` under L2, inner
//!   product and cosine) an SQ8 copy with error bounds, `ivf::sq8_rows`; in
//!   format 3 (`IVF_VERSION_COPIES`: `ruvector` SQ8 rows of an index built
//!   `WITH (exact_copies = true)`) where the row's full copy is (`COPY_POINTER` bytes), then the SQ8
//!   copy as in format 2.
//! - Format 3: a full copy per row on the copy pages (a chain from
//!   `IvfMeta::copy_start`): the heap TID, 2 bytes of padding, the vector as
//!   the table holds it (f32, not normalised), in a row tuple's layout. A copy
//!   keeps its offset for life (VACUUM frees line pointers without compacting
//!   the page), and a reader checks its heap TID against the row's.

#![forbid(unsafe_code)]

use crate::index::Tid;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct IvfMeta {
    pub magic: u32,
    pub version: u32,
    /// Vector length (elements; bits for `bit`).
    pub dims: u32,
    pub lists: u32,
    /// The metric code (same numbering as hnsw's).
    pub metric: u32,
    /// First centre page (the centre pages form a chain).
    pub centre_block: u32,
    /// Format 3: the first copy page, and the page inserts start from (0 in
    /// formats 1 and 2).
    pub copy_start: u32,
    pub copy_insert: u32,
}

pub const IVF_MAGIC: u32 = 0x7276_6976; // "rviv"
/// Format 1: rows hold the vector in the index's element type.
pub const IVF_VERSION: u32 = 1;
/// Format 2: rows hold an SQ8 copy and bounds (`ivf::sq8_rows`); a scan
/// reports lower bounds and the executor rechecks.
pub const IVF_VERSION_SQ8: u32 = 2;
/// Format 3: format 2's rows, each also pointing at a full copy of its
/// vector on the copy pages; a scan reads the copies of the rows it returns
/// and reports their exact distances, so the executor rechecks nothing
/// (no TOAST fetch per row returned).
pub const IVF_VERSION_COPIES: u32 = 3;

/// Bytes of a format-3 row's pointer to its copy (block, offset, padding).
pub const COPY_POINTER: usize = 8;

pub const LIST_HEADER: usize = 8;
pub const ROW_HEADER: usize = 8;

pub fn encode_list(start: u32, insert: u32, centre: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(LIST_HEADER + centre.len());
    b.extend_from_slice(&start.to_ne_bytes());
    b.extend_from_slice(&insert.to_ne_bytes());
    b.extend_from_slice(centre);
    b
}

/// (start block, insert block, centre bytes) of a list tuple.
pub fn parse_list(b: &[u8]) -> Option<(u32, u32, &[u8])> {
    if b.len() < LIST_HEADER {
        return None;
    }
    let start = u32::from_ne_bytes(b[0..4].try_into().ok()?);
    let insert = u32::from_ne_bytes(b[4..8].try_into().ok()?);
    Some((start, insert, &b[LIST_HEADER..]))
}

/// Change the insert block of a list tuple in place; false (nothing
/// written) if `b` is too short to be one.
pub fn set_list_insert(b: &mut [u8], insert: u32) -> bool {
    match b.get_mut(4..8) {
        Some(slot) => {
            slot.copy_from_slice(&insert.to_ne_bytes());
            true
        }
        None => false,
    }
}

pub fn encode_row(heap: Tid, vector: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(ROW_HEADER + vector.len());
    append_row(&mut b, heap, vector);
    b
}

/// `encode_row`'s bytes appended to `out`.
pub fn append_row(out: &mut Vec<u8>, heap: Tid, vector: &[u8]) {
    let at = out.len();
    out.resize(at + ROW_HEADER, 0);
    heap.write(&mut out[at..at + Tid::BYTES]);
    out.extend_from_slice(vector);
}

/// Where a row's stored vector starts in its tuple, by format.
pub fn row_payload_at(version: u32) -> usize {
    if version == IVF_VERSION_COPIES {
        ROW_HEADER + COPY_POINTER
    } else {
        ROW_HEADER
    }
}

/// The length of a row tuple of format `version` whose vector has `dims`
/// elements, stored in `vector_bytes` bytes in the index's element type
/// (format 1's payload); None for a format this build does not know.
pub fn row_len(version: u32, dims: usize, vector_bytes: usize) -> Option<usize> {
    let sq8 = crate::ivf::sq8_rows::payload_bytes(dims);
    match version {
        IVF_VERSION => Some(ROW_HEADER + vector_bytes),
        IVF_VERSION_SQ8 => Some(ROW_HEADER + sq8),
        IVF_VERSION_COPIES => Some(ROW_HEADER + COPY_POINTER + sq8),
        _ => None,
    }
}

/// The length of a format-3 copy tuple of a vector of `vector_bytes` bytes
/// (its elements as given: 4 bytes each for `ruvector`, 2 for `halfvec`).
pub fn copy_len(vector_bytes: usize) -> usize {
    ROW_HEADER + vector_bytes
}

/// A format-3 row tuple appended to `out`: the heap TID, the pointer to its
/// copy (`Tid::INVALID` for none), then `payload`.
pub fn append_row_with_copy(out: &mut Vec<u8>, heap: Tid, copy: Tid, payload: &[u8]) {
    let mut pointer = [0u8; COPY_POINTER];
    copy.write(&mut pointer[..Tid::BYTES]);
    append_row(out, heap, &pointer);
    out.extend_from_slice(payload);
}

/// The copy a format-3 row tuple points at.
pub fn row_copy(b: &[u8]) -> Option<Tid> {
    b.get(ROW_HEADER..ROW_HEADER + Tid::BYTES).map(Tid::read)
}

/// (heap TID, vector bytes) of a row tuple.
pub fn parse_row(b: &[u8]) -> Option<(Tid, &[u8])> {
    (b.len() >= ROW_HEADER).then(|| (Tid::read(&b[0..Tid::BYTES]), &b[ROW_HEADER..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let l = encode_list(7, 9, &[1, 2, 3, 4]);
        assert_eq!(parse_list(&l), Some((7, 9, &[1u8, 2, 3, 4][..])));
        let mut l = l;
        set_list_insert(&mut l, 11);
        assert_eq!(parse_list(&l).unwrap().1, 11);
        let tid = Tid { block: 70_000, offset: 3 };
        let r = encode_row(tid, &[5, 6]);
        assert_eq!(parse_row(&r), Some((tid, &[5u8, 6][..])));
        assert_eq!(parse_row(&[1, 2]), None);
    }

    #[test]
    fn a_format_3_row_points_at_its_copy() {
        let (heap, copy) = (Tid { block: 5, offset: 2 }, Tid { block: 80_000, offset: 7 });
        let mut row = Vec::new();
        append_row_with_copy(&mut row, heap, copy, &[9, 8, 7]);
        assert_eq!(parse_row(&row).map(|(t, _)| t), Some(heap));
        assert_eq!(row_copy(&row), Some(copy));
        assert_eq!(&row[row_payload_at(IVF_VERSION_COPIES)..], &[9, 8, 7]);
        assert_eq!(row_payload_at(IVF_VERSION_SQ8), ROW_HEADER);
        assert_eq!(row_copy(&row[..ROW_HEADER + 3]), None);
    }

    #[test]
    fn row_len_is_what_each_format_writes() {
        let heap = Tid { block: 3, offset: 9 };
        for dims in [1usize, 7, 256, 384, 1536] {
            let values: Vec<f32> = (0..dims).map(|i| (i as f32 * 0.37).sin()).collect();
            let raw: Vec<u8> = values.iter().flat_map(|x| x.to_ne_bytes()).collect();
            assert_eq!(row_len(IVF_VERSION, dims, raw.len()), Some(encode_row(heap, &raw).len()));
            let payload = crate::ivf::sq8_rows::encode(&values, 1.0, 0.0);
            assert_eq!(row_len(IVF_VERSION_SQ8, dims, raw.len()), Some(encode_row(heap, &payload).len()));
            let mut row = Vec::new();
            append_row_with_copy(&mut row, heap, Tid { block: 1, offset: 1 }, &payload);
            assert_eq!(row_len(IVF_VERSION_COPIES, dims, raw.len()), Some(row.len()));
            assert_eq!(copy_len(raw.len()), encode_row(heap, &raw).len());
        }
        assert_eq!(row_len(4, 8, 32), None);
    }
}
