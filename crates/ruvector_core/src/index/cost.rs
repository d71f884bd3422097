//! What the planner should know about an ordered hnsw/ivfflat scan that
//! PostgreSQL's own model leaves out (src/am/callbacks.rs, `ordered_cost`,
//! where these decide between the ANN scan and the exact plan — an index on
//! the filter, then a sort: docs/filtered-search.md).
//!
//! - [`distance_weight`]: one distance against a 16-dimensional one (the
//!   element count ÷ 16, 1 to 128, for vectors stored in the row): an ANN
//!   scan measures dozens of distances per row it returns, the exact plan
//!   one per matching row.
//! - [`out_of_line_factor`]: a vector over about 2 kB is stored out of line,
//!   and the exact plan then reads every matching row's vector from the
//!   TOAST table in ~2 kB chunks (an index probe and a heap page each),
//!   which PostgreSQL does not cost, while the index reads its own copy. So
//!   past the in-row limit a distance stops weighing more (divided by the
//!   chunks instead), and the ANN scan's whole estimate is divided by this
//!   factor, two page reads per chunk. The constants come from one
//!   measurement (100,000 × 1,536 embeddings, four chunks: the ANN scan is
//!   the faster plan from about 1 % of rows matching, where the planner
//!   without them chose the exact plan up to 10 %, 37 times slower there);
//!   in-row vectors (384-d) plan as before.

#![forbid(unsafe_code)]

/// Bytes of a vector stored in the row at most (PostgreSQL moves a row's
/// values out of line once the row passes about 2 kB).
pub const IN_ROW_BYTES: usize = 2000;
/// Bytes per TOAST chunk (TOAST_MAX_CHUNK_SIZE for 8 kB pages).
pub const TOAST_CHUNK_BYTES: usize = 1996;

/// The weight of one distance between vectors of `dims` elements of
/// `elem_bytes` bytes: the element count ÷ 16 up to what a row holds; a
/// longer vector weighs as much as the longest in-row one divided by its
/// TOAST chunks (the exact plan pays for every chunk of every matching row
/// what PostgreSQL charges it for the row alone).
pub fn distance_weight(dims: usize, elem_bytes: usize) -> f64 {
    let bytes = dims * elem_bytes.max(1);
    let weight = if bytes <= IN_ROW_BYTES {
        dims as f64 / 16.0
    } else {
        (IN_ROW_BYTES / elem_bytes.max(1)) as f64 / 16.0 / bytes.div_ceil(TOAST_CHUNK_BYTES) as f64
    };
    weight.clamp(1.0, 128.0)
}

/// How much costlier, per matching row, the exact plan is than PostgreSQL
/// estimates for vectors of `dims` elements of `elem_bytes` bytes: 1 for a
/// vector stored in the row, two page reads per TOAST chunk otherwise.
pub fn out_of_line_factor(dims: usize, elem_bytes: usize) -> f64 {
    let bytes = dims * elem_bytes;
    if bytes <= IN_ROW_BYTES {
        1.0
    } else {
        2.0 * bytes.div_ceil(TOAST_CHUNK_BYTES) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_weigh_their_length_in_the_row() {
        assert_eq!(distance_weight(16, 4), 1.0);
        assert_eq!(distance_weight(384, 4), 24.0);
        assert_eq!(distance_weight(8, 4), 1.0, "at least one operator");
        assert_eq!(distance_weight(768, 2), 48.0, "a halfvec(768) stays in the row");
        // out of line: the longest in-row vector's weight per chunk
        assert_eq!(distance_weight(1536, 4), 31.25 / 4.0);
        assert_eq!(distance_weight(1536, 2), 62.5 / 2.0);
        assert!(distance_weight(16_000, 4) >= 1.0);
    }

    #[test]
    fn out_of_line_vectors_count_their_chunks() {
        assert_eq!(out_of_line_factor(384, 4), 1.0);
        assert_eq!(out_of_line_factor(500, 4), 1.0, "2,000 bytes stay in the row");
        assert_eq!(out_of_line_factor(768, 2), 1.0, "a halfvec(768) too");
        // 768 f32: two chunks; 1,536: four; 3,072: seven; halfvec(1536): two
        assert_eq!(out_of_line_factor(768, 4), 4.0);
        assert_eq!(out_of_line_factor(1536, 4), 8.0);
        assert_eq!(out_of_line_factor(3072, 4), 14.0);
        assert_eq!(out_of_line_factor(1536, 2), 4.0);
    }
}
