//! Graph quality of the in-memory hnsw build on sparse vectors, without a
//! server: recall@10 at several ef_search values and the build time.
//!
//!   cargo bench -p ruvector_core --bench sparse_graph_quality -- FILE [M EF_CONSTRUCTION THREADS]
//!
//! FILE holds rows as little-endian `u32 nnz`, then nnz pairs `i32 index,
//! f32 value` with ascending indices (`benches/sparse_export.py` writes the
//! TF-IDF rows of WordNet's glosses). Rows are measured by negative inner
//! product, as an index under `sparsevec_cosine_ops` measures the unit
//! rows it stores (the export writes unit rows). The last 1,000 rows are
//! the queries; ground truth is exact, and a returned row counts as a hit
//! when it is no farther than the true 10th (ties at a distance count).
use ruvector_core::hnsw::build::{BuildParams, InMemoryGraph};
use ruvector_core::hnsw::SparseSpace;
use ruvector_core::sparse::{Pair, PairDistance, PairMetric};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.is_empty() {
        eprintln!("usage: sparse_graph_quality FILE [M EF_CONSTRUCTION THREADS]");
        return;
    }
    let m: usize = args.get(1).map_or(16, |s| s.parse().expect("M"));
    let efc: usize = args.get(2).map_or(64, |s| s.parse().expect("EF_CONSTRUCTION"));
    let threads: usize = args.get(3).map_or(2, |s| s.parse().expect("THREADS"));
    let bytes = std::fs::read(&args[0]).expect("FILE");
    let word = |at: usize| [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
    let (mut offsets, mut pairs) = (vec![0usize], Vec::new());
    let mut at = 0;
    while at < bytes.len() {
        let nnz = u32::from_le_bytes(word(at)) as usize;
        at += 4;
        for _ in 0..nnz {
            pairs.push(Pair { index: i32::from_le_bytes(word(at)), value: f32::from_le_bytes(word(at + 4)) });
            at += 8;
        }
        offsets.push(pairs.len());
    }
    let nq = 1000;
    let n = offsets.len() - 1 - nq;
    let queries: Vec<Vec<Pair>> = (n..n + nq).map(|i| pairs[offsets[i]..offsets[i + 1]].to_vec()).collect();
    pairs.truncate(offsets[n]);
    offsets.truncate(n + 1);
    let metric = PairMetric::NegativeDot;
    // exact: every query against every row
    let tenth: Vec<f32> = queries
        .iter()
        .map(|q| {
            let mut d: Vec<f32> =
                (0..n).map(|i| PairDistance::between(q, &pairs[offsets[i]..offsets[i + 1]], metric)).collect();
            d.select_nth_unstable_by(9, |a, b| a.total_cmp(b));
            d[9]
        })
        .collect();
    let t = Instant::now();
    let seed: u64 = std::env::var("GQ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let params = BuildParams { m, ef_construction: efc, seed };
    let space = SparseSpace::new(offsets, pairs, metric);
    let graph = InMemoryGraph::build(space, params, threads, |_| true).unwrap();
    let build = t.elapsed().as_secs_f64();
    let degree: usize = (0..graph.len() as u32).map(|i| graph.neighbors_of(i, 0).len()).sum();
    print!(
        "{n} rows, m {m}, ef_construction {efc}: build {build:.2} s, mean level-0 degree {:.1}; recall@10",
        degree as f64 / graph.len() as f64
    );
    for ef in [10, 20, 40, 80, 160] {
        let t = Instant::now();
        let mut hits = 0;
        for (q, &limit) in queries.iter().zip(&tenth) {
            hits += graph.search(q, 10, ef).iter().filter(|x| x.distance <= limit).count();
        }
        let us = t.elapsed().as_secs_f64() / nq as f64 * 1e6;
        print!(" | ef {ef}: {:.3} ({us:.0} us)", hits as f64 / (nq * 10) as f64);
    }
    println!();
}
