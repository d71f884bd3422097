//! The arithmetic of an ivfflat build, without a server: k-means on a
//! 10,000-row sample and the assignment of every row to its nearest centre,
//! each row measured against every centre with one kernel call per pair
//! (the build before the twelfth session) and as matrix
//! products (`ivf::assign`, what the build runs now), checking the two
//! assign alike. Data: raw little-endian f32 rows, as
//! `benches/graph_quality.py` exports them.
//!
//!   cargo bench -p ruvector_core --bench ivf_build -- FILE DIMS METRIC [LISTS THREADS MAX_ITERATIONS SEED_POINTS SEED]
//!
//! METRIC is l2, cosine, or cosine-l2 (rows normalised as for cosine, lists
//! trained and probed by Euclidean distance to centres that stay means, as
//! faiss's IndexIVFFlat does with normalised data; a comparison, not what
//! the build does); LISTS defaults to rows / 1000 (the benchmark's);
//! SEED_POINTS is how many sampled points k-means++ seeds from (0: all);
//! the sample is the build's size (lists × 50, at least 10,000) unless the
//! environment's SAMPLES says otherwise.
//! The last 1,000 rows are queries: what the lists are worth is the share
//! of each query's exact 10 nearest rows in its 1, 2, 4 and 16 nearest lists
//! (the recall an ivfflat scan at those probes could reach at most), printed
//! with the k-means objective on the sample.
use ruvector_core::hnsw::Metric;
use ruvector_core::ivf::assign::{CentreMatrix, Form};
use ruvector_core::ivf::{self, KMeansParams};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.len() < 3 {
        eprintln!("usage: ivf_build FILE DIMS METRIC [LISTS THREADS MAX_ITERATIONS SEED_POINTS SEED]");
        return;
    }
    let dims: usize = args[1].parse().expect("DIMS");
    // cosine-l2: rows normalised as for cosine, lists trained and probed by
    // Euclidean distance to centres that are means, not unit vectors
    let (metric, form, normalise) = match args[2].as_str() {
        "l2" => (Metric::L2, Form::L2Squared, false),
        "cosine" => (Metric::Cosine, Form::NegativeDot, true),
        "cosine-l2" => (Metric::L2, Form::L2Squared, true),
        other => panic!("metric {other}"),
    };
    let bytes = std::fs::read(&args[0]).expect("FILE");
    let mut rows: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    rows.chunks_exact_mut(dims).for_each(|v| {
        if normalise {
            Metric::Cosine.prepare(v);
        }
    });
    let queries = rows.split_off(rows.len() - 1000 * dims);
    let n = rows.len() / dims;
    let lists: usize = args.get(3).map_or((n / 1000).max(1), |s| s.parse().expect("LISTS"));
    let threads: usize = args.get(4).map_or(2, |s| s.parse().expect("THREADS"));
    let max_iterations: usize = args.get(5).map_or(50, |s| s.parse().expect("MAX_ITERATIONS"));
    // the build's sample size: lists × 50, at least 10,000
    let samples = std::env::var("SAMPLES").ok().map_or((lists * 50).max(10_000), |s| s.parse().unwrap()).min(n);
    let step = (n / samples).max(1);
    let sample: Vec<f32> =
        (0..n).step_by(step).take(samples).flat_map(|i| rows[i * dims..(i + 1) * dims].to_vec()).collect();
    let seed_points: usize = args.get(6).map_or(0, |s| s.parse().expect("SEED_POINTS"));
    let params = KMeansParams {
        k: lists,
        spherical: metric == Metric::Cosine,
        max_iterations,
        seed_points,
        seed: args.get(7).map_or(1, |s| s.parse().expect("SEED")),
        threads,
    };
    let t = Instant::now();
    let r = ivf::kmeans(&sample, dims, params, |_| true).expect("not cancelled");
    println!(
        "k-means: {} points, {lists} centres, {:.0} ms, {} iterations, {} full searches",
        sample.len() / dims,
        t.elapsed().as_secs_f64() * 1e3,
        r.iterations,
        r.full_searches
    );
    let centres = &r.centres;
    // the objective on the sample (its rows are unit length where k-means is spherical)
    println!("inertia of the sample: {:.3}", ivf::kmeans::inertia(&sample, dims, centres));
    let row = |i: usize| &rows[i * dims..(i + 1) * dims];
    let centre = |j: usize| &centres[j * dims..(j + 1) * dims];
    let t = Instant::now();
    let per_pair =
        ivf::parallel_map(n, threads, |i| ivf::argmin((0..lists).map(|j| metric.distance(row(i), centre(j)))));
    let kernel_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let products = ivf::parallel_ranges(n, threads, |range| {
        let matrix = CentreMatrix::new(centres, dims);
        let mut out = Vec::with_capacity(range.len());
        let start = range.start;
        matrix.nearest(
            &rows[range.start * dims..range.end * dims],
            form,
            |i, j| metric.distance(row(start + i), centre(j)),
            &mut out,
        );
        out
    });
    let products_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(per_pair, products, "both assign every row alike");
    println!("assignment of {n} rows: {kernel_ms:.0} ms one kernel call per pair, {products_ms:.0} ms as matrix products (same lists)");
    let found = ivf::parallel_map(queries.len() / dims, threads, |q| {
        let q = &queries[q * dims..(q + 1) * dims];
        let mut d: Vec<(f32, u32)> = (0..n).map(|i| (metric.distance(q, row(i)), i as u32)).collect();
        d.select_nth_unstable_by(10, |a, b| a.0.total_cmp(&b.0));
        let nearest_lists = ivf::nearest_n(&(0..lists).map(|j| metric.distance(q, centre(j))).collect::<Vec<_>>(), 16);
        [1, 2, 4, 16].map(|probes| {
            let probed: Vec<u32> = nearest_lists.iter().take(probes).map(|l| l.1).collect();
            d[..10].iter().filter(|(_, i)| probed.contains(&products[*i as usize])).count()
        })
    });
    let share = |p: usize| found.iter().map(|f| f[p]).sum::<usize>() as f64 / (found.len() * 10) as f64;
    println!(
        "top 10 in the nearest 1 / 2 / 4 / 16 lists: {:.3} / {:.3} / {:.3} / {:.3}",
        share(0),
        share(1),
        share(2),
        share(3)
    );
}
