//! Inverted-file (IVF) indexing without PostgreSQL: the pieces the `ivfflat`
//! access method is built from.
//!
//! - [`assign`]: nearest centres of many points at once, as matrix
//!   products (k-means, and the build's assignment of rows to lists).
//! - [`kmeans`]: k-means++ seeding and Hamerly's accelerated k-means on worker
//!   threads, with a spherical variant for inner product and cosine.
//! - [`topk`]: the bounded best-k structure a list scan scores rows into, so
//!   scan memory does not grow with list length.
//! - [`batch`]: how many rows a scan's first batch keeps, from what recent
//!   scans of the index took.
//! - [`sample`]: a seeded reservoir sampler, for the build's row sample.
//! - [`parallel_map`]: split an index range over threads (assignment of rows
//!   to lists at build time).

#![forbid(unsafe_code)]

pub mod assign;
pub mod batch;
pub mod kmeans;
pub mod sample;
pub mod sq8_rows;
pub mod topk;
pub mod tuple;

pub use kmeans::{kmeans, KMeans, KMeansParams};
pub use sample::Reservoir;
pub use topk::{BoundedTopK, Scored};

/// `f(i)` for every `i` in `0..n`, computed on up to `threads` threads in
/// contiguous ranges; results in index order.
pub fn parallel_map<T: Send, F: Fn(usize) -> T + Sync>(n: usize, threads: usize, f: F) -> Vec<T> {
    parallel_ranges(n, threads, |r| r.map(&f).collect())
}

/// `f(range)` for contiguous ranges covering `0..n`, one per thread (up to
/// `threads`), each returning one result per index; results in index order.
pub fn parallel_ranges<T: Send, F: Fn(std::ops::Range<usize>) -> Vec<T> + Sync>(
    n: usize,
    threads: usize,
    f: F,
) -> Vec<T> {
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        return f(0..n);
    }
    let per = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..threads).map(|t| s.spawn(move || f((t * per).min(n)..((t + 1) * per).min(n)))).collect();
        handles.into_iter().flat_map(|h| crate::workers::joined(h.join())).collect()
    })
}

/// The `n` smallest of `distances` as (distance, position), nearest first;
/// ties go to the lower position, so build-time assignment and scan-time
/// probing agree on which of two equally near centres is "nearest".
pub fn nearest_n(distances: &[f32], n: usize) -> Vec<(f32, u32)> {
    let mut order: Vec<(f32, u32)> = distances.iter().enumerate().map(|(i, &d)| (d, i as u32)).collect();
    let key = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    let n = n.min(order.len());
    if n > 0 && n < order.len() {
        order.select_nth_unstable_by(n - 1, key);
        order.truncate(n);
    }
    order.sort_unstable_by(key);
    order
}

/// Position of the smallest distance (the lowest position among equals).
pub fn argmin(distances: impl IntoIterator<Item = f32>) -> u32 {
    let mut best = (f32::INFINITY, 0u32);
    for (i, d) in distances.into_iter().enumerate() {
        if d < best.0 {
            best = (d, i as u32);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_map_keeps_order() {
        for threads in 1..5 {
            let v = parallel_map(1003, threads, |i| i * 2);
            assert_eq!(v, (0..1003).map(|i| i * 2).collect::<Vec<_>>());
        }
        assert!(parallel_map(0, 4, |i| i).is_empty());
    }

    #[test]
    fn nearest_n_breaks_ties_by_position() {
        let d = [3.0, 1.0, 2.0, 1.0, 0.5];
        assert_eq!(nearest_n(&d, 3), vec![(0.5, 4), (1.0, 1), (1.0, 3)]);
        assert_eq!(nearest_n(&d, 10).len(), 5);
        assert_eq!(argmin(d), 4);
        assert_eq!(argmin([2.0, 2.0]), 0);
    }
}
