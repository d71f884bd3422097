//! The per-row work of an ivfflat scan of SQ8 rows (index format 2), without
//! a server: each row's key from its payload (`BoundQuery::row_key_within`:
//! the integer code sums, the lower bound's arithmetic, and for an exact row
//! within the threshold its f32 distance) offered to the scan's batch
//! (`BoundedTopK`, 128 rows), over 4,000 rows laid one after another, as
//! four probed lists of a 1,000-row list are. Rows are clustered Gaussian
//! vectors (fractional, under cosine and L2) or integers 0..255 (pixels,
//! whose copies are exact); the query is a row plus noise, so the batch's
//! threshold falls as it fills, as in a scan. Reported: time per row.
//!
//!   cargo bench -p ruvector_core --bench ivf_scan_rows
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ruvector_core::index::kind::Metric;
use ruvector_core::ivf::kmeans::Rng;
use ruvector_core::ivf::sq8_rows::{encode, BoundQuery};
use ruvector_core::ivf::{BoundedTopK, Scored};
use std::time::Duration;

const ROWS: usize = 4000;

/// Roughly Gaussian: the sum of four uniforms from the project's seeded
/// generator, centred.
fn normal(rng: &mut Rng) -> f32 {
    (0..4).map(|_| rng.next_f64() as f32).sum::<f32>() - 2.0
}

fn rows(dims: usize, pixels: bool, rng: &mut Rng) -> Vec<Vec<f32>> {
    let centres: Vec<Vec<f32>> = (0..8).map(|_| (0..dims).map(|_| normal(rng)).collect()).collect();
    (0..ROWS)
        .map(|i| {
            let c = &centres[i % centres.len()];
            c.iter()
                .map(|&x| {
                    let v = x + 0.5 * normal(rng);
                    if pixels {
                        ((v + 2.0) * 64.0).clamp(0.0, 255.0).round()
                    } else {
                        v
                    }
                })
                .collect()
        })
        .collect()
}

fn prepared(metric: Metric, v: &[f32]) -> (Vec<f32>, f64) {
    let norm = ruvector_core::kernels::norm(v);
    let mut p = v.to_vec();
    let _ = metric.prepare(&mut p);
    (p, norm)
}

fn scan(bq: &BoundQuery, payloads: &[Vec<u8>]) -> usize {
    let mut top = BoundedTopK::new(128, None);
    for (i, p) in payloads.iter().enumerate() {
        let (distance, _) = bq.row_key_within(p, top.threshold());
        if distance.partial_cmp(&top.threshold()) != Some(std::cmp::Ordering::Greater) {
            top.offer(Scored { distance, key: i as u64 });
        }
    }
    top.len()
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    for (name, dims, metric, pixels) in [
        ("cosine_384", 384, Metric::Cosine, false),
        ("l2_pixels_784", 784, Metric::L2, true),
        ("cosine_1536", 1536, Metric::Cosine, false),
    ] {
        let data = rows(dims, pixels, &mut rng);
        let payloads: Vec<Vec<u8>> = data
            .iter()
            .map(|v| {
                let (p, norm) = prepared(metric, v);
                encode(&p, norm, 0.0)
            })
            .collect();
        let query: Vec<f32> = data[7].iter().map(|&x| x + if pixels { 20.0 } else { 0.3 } * normal(&mut rng)).collect();
        let (q, norm) = prepared(metric, &query);
        let mut bq = BoundQuery::new(metric, q, norm, 0.0);
        if pixels {
            bq = bq.with_exact_rows();
        }
        let mut group = c.benchmark_group("ivf_scan_rows");
        group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
        group.throughput(Throughput::Elements(ROWS as u64));
        group.bench_function(name, |b| b.iter(|| scan(black_box(&bq), black_box(&payloads))));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
