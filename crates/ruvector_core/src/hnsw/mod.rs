//! HNSW (hierarchical navigable small world) graphs, without PostgreSQL.
//!
//! - [`search`]: the layer search every HNSW operation is built on, generic over
//!   [`GraphRead`] so the same code walks the in-memory build graph and, in the
//!   extension, graphs stored in index pages.
//! - [`build`]: concurrent in-memory construction (worker threads insert nodes
//!   with per-node locks, as hnswlib does) and neighbour selection, over
//!   [`links`] (flat level-0 lists read without locking).
//! - [`Metric`] (defined in `crate::index::kind`, shared with ivfflat): how
//!   distances are computed for each opclass.
//!
//! Invariants of a built graph: every node has a level drawn from the
//! geometric distribution with mL = 1/ln(m); a node at level L has neighbour
//! lists for levels 0..=L holding at most 2m (level 0) or m (above) distinct
//! ids other than itself; the entry point is a node of the highest level.

#![forbid(unsafe_code)]

pub mod build;
pub mod links;
pub mod paged;
pub mod search;
pub mod space;
pub mod tuple;
pub mod vacuum;

pub use build::{BuildParams, InMemoryGraph};
pub use search::{
    covered_by, descend, descend_to_level0, presize, repair_neighbors, search_layer, search_layer_keeping,
    select_neighbors, select_neighbors_filled, Discarded, GraphRead, IterativeSearch, Neighbor, VisitedSet,
};
pub use space::{BitSpace, DenseSpace, HalfSpace, Space, SparseSpace, Sq8Space};

pub use crate::index::kind::Metric;

/// The level of node `index` for a graph with parameter `m`: geometric with
/// mL = 1/ln(m), from a hash of the index and seed so that it does not depend
/// on which thread inserts the node.
pub fn random_level(index: u64, seed: u64, m: usize) -> usize {
    let mut z = index.wrapping_add(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // uniform in (0, 1]
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let ml = 1.0 / (m.max(2) as f64).ln();
    ((-u.ln() * ml) as usize).min(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_geometric() {
        let m = 16;
        let n = 200_000u64;
        let mut counts = [0usize; 6];
        for i in 0..n {
            let l = random_level(i, 42, m);
            if l < counts.len() {
                counts[l] += 1;
            }
        }
        // P(level >= 1) = 1/m
        let above = (n as usize - counts[0]) as f64 / n as f64;
        assert!((above - 1.0 / 16.0).abs() < 0.005, "{above}");
        assert_eq!(random_level(7, 1, m), random_level(7, 1, m));
    }

    #[test]
    fn cosine_prepare_normalises_and_rejects_zero() {
        let mut v = [3.0, 4.0];
        assert!(Metric::Cosine.prepare(&mut v));
        assert_eq!(v, [0.6, 0.8]);
        assert!(!Metric::Cosine.prepare(&mut [0.0, 0.0]));
        assert!(Metric::L2.prepare(&mut [0.0, 0.0]));
    }
}
