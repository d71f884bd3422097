//! Graph quality of the in-memory hnsw build, without a server: recall@10 at
//! several ef_search values and the build time, on a data set written as raw
//! little-endian f32 (`benches/graph_quality.py` exports the benchmark's sets).
//!
//!   cargo bench -p ruvector_core --bench graph_quality -- FILE DIMS METRIC [M EF_CONSTRUCTION THREADS]
//!
//! METRIC is l2 or cosine. The last 1,000 rows are the queries; ground truth
//! is computed exactly here. With `GQ_DUMP=PREFIX` the built graph is also
//! written as little-endian i32 arrays (`PREFIX.levels`: each node's level;
//! `PREFIX.links`: per level from 0 up, for each node of that level, its
//! level then its node id then its list padded with -1 to 2m at level 0 and
//! m above; the entry point is the first node of the highest level), for
//! `benches/graph_compare.py` to compare with pgvector's graph. Used to compare construction rules
//! (docs/benchmarks.md, "graph quality").
use ruvector_core::hnsw::build::{BuildParams, DenseSpace, InMemoryGraph};
use ruvector_core::hnsw::Metric;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.len() < 3 {
        eprintln!("usage: graph_quality FILE DIMS METRIC [M EF_CONSTRUCTION THREADS]");
        return;
    }
    let dims: usize = args[1].parse().expect("DIMS");
    let metric = match args[2].as_str() {
        "l2" => Metric::L2,
        "cosine" => Metric::Cosine,
        other => panic!("metric {other}"),
    };
    let m: usize = args.get(3).map_or(16, |s| s.parse().expect("M"));
    let efc: usize = args.get(4).map_or(64, |s| s.parse().expect("EF_CONSTRUCTION"));
    let threads: usize = args.get(5).map_or(2, |s| s.parse().expect("THREADS"));
    let bytes = std::fs::read(&args[0]).expect("FILE");
    let mut all: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    for v in all.chunks_exact_mut(dims) {
        metric.prepare(v);
    }
    let nq = 1000;
    let n = all.len() / dims - nq;
    let queries = all.split_off(n * dims);
    let truth: Vec<Vec<u32>> = std::thread::scope(|s| {
        let halves: Vec<_> = (0..threads.max(1))
            .map(|t| {
                let (all, queries) = (&all, &queries);
                s.spawn(move || {
                    let mut out = Vec::new();
                    for q in queries.chunks_exact(dims).skip(t).step_by(threads.max(1)) {
                        let mut d: Vec<(f32, u32)> = all
                            .chunks_exact(dims)
                            .enumerate()
                            .map(|(i, v)| (metric.distance(q, v), i as u32))
                            .collect();
                        d.select_nth_unstable_by(10, |a, b| a.0.total_cmp(&b.0));
                        out.push(d[..10].iter().map(|x| x.1).collect::<Vec<u32>>());
                    }
                    out
                })
            })
            .collect();
        let parts: Vec<Vec<Vec<u32>>> = halves.into_iter().map(|h| h.join().unwrap()).collect();
        (0..nq).map(|i| parts[i % threads.max(1)][i / threads.max(1)].clone()).collect()
    });
    let t = Instant::now();
    let seed: u64 = std::env::var("GQ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let params = BuildParams { m, ef_construction: efc, seed };
    let graph = InMemoryGraph::build(DenseSpace::new(dims, all, metric), params, threads, |_| true).unwrap();
    let build = t.elapsed().as_secs_f64();
    if let Ok(prefix) = std::env::var("GQ_DUMP") {
        dump(&graph, m, &prefix);
    }
    let mut degree = 0usize;
    for i in 0..graph.len() as u32 {
        degree += graph.neighbors_of(i, 0).len();
    }
    print!(
        "{n} x {dims}, m {m}, ef_construction {efc}: build {build:.2} s, mean level-0 degree {:.1}; recall@10",
        degree as f64 / graph.len() as f64
    );
    for ef in [10, 20, 40, 80, 160] {
        let t = Instant::now();
        let mut hits = 0;
        for (q, want) in queries.chunks_exact(dims).zip(&truth) {
            hits += graph.search(q, 10, ef).iter().filter(|x| want.contains(&x.id)).count();
        }
        let us = t.elapsed().as_secs_f64() / nq as f64 * 1e6;
        print!(" | ef {ef}: {:.3} ({us:.0} us)", hits as f64 / (nq * 10) as f64);
    }
    println!();
}

/// The graph as `GQ_DUMP` describes it (module comment).
fn dump(graph: &InMemoryGraph, m: usize, prefix: &str) {
    let n = graph.len() as u32;
    let levels: Vec<i32> = (0..n).map(|i| graph.level(i) as i32).collect();
    let (entry, top) = graph.entry_point().expect("a graph of at least one node");
    let mut links: Vec<i32> = Vec::new();
    for level in 0..=top {
        let width = if level == 0 { 2 * m } else { m };
        // the entry point first on its level, so a reader finds it
        let order = std::iter::once(entry).chain((0..n).filter(|&i| i != entry));
        for i in order.filter(|&i| graph.level(i) >= level) {
            let list = graph.neighbors_of(i, level);
            links.extend([level as i32, i as i32]);
            links.extend((0..width).map(|k| list.get(k).map_or(-1, |&x| x as i32)));
        }
    }
    let bytes = |v: &[i32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(format!("{prefix}.levels"), bytes(&levels)).expect("write levels");
    std::fs::write(format!("{prefix}.links"), bytes(&links)).expect("write links");
}
