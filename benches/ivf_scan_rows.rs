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
//! `_paged`: the same rows as the server's list pages hold them, a page's
//! rows together and the pages scattered over a 50 MB arena (as over shared
//! buffers), 2,000 rows a query, a different run of pages each time, ranked
//! as the server ranks them (`BoundQuery::key_batch` rows at a time by
//! `lower_keys`, then `finish_key`; one at a time by `row_key_within`) into a batch of 32. This is the cost per
//! row the server shows (Fashion-MNIST's 784-d pixel rows: about 100 ns a
//! row either way before `lower_keys`).
//!
//!   cargo bench -p ruvector_core --bench ivf_scan_rows
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ruvector_core::index::kind::Metric;
use ruvector_core::ivf::kmeans::Rng;
use ruvector_core::ivf::sq8_rows::{encode, BoundQuery, KEY_BATCH};
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

/// Rows laid out as a server's list pages are: `per_page` payloads to an
/// 8 kB page, the pages at shuffled places of one arena (shared buffers
/// hold a list's pages wherever they were read into), an index of `pages`
/// pages in all (tens of MB: beyond L2, within L3, as an index in shared
/// buffers is).
struct Paged {
    arena: Vec<u8>,
    /// Each page's place in the arena, in list order.
    slots: Vec<usize>,
    len: usize,
    per_page: usize,
}

impl Paged {
    fn new(payloads: &[Vec<u8>], pages: usize, rng: &mut Rng) -> Paged {
        let len = payloads[0].len();
        let per_page = (8150 / (len + 28)).max(1);
        let mut slots: Vec<usize> = (0..pages).collect();
        for i in (1..pages).rev() {
            slots.swap(i, (rng.next_f64() * (i + 1) as f64) as usize % (i + 1));
        }
        let mut arena = vec![0u8; pages * 8192];
        for (p, &slot) in slots.iter().enumerate() {
            for r in 0..per_page {
                let row = &payloads[(p * per_page + r) % payloads.len()];
                let at = slot * 8192 + r * (len + 28);
                arena[at..at + len].copy_from_slice(row);
            }
        }
        Paged { arena, slots, len, per_page }
    }

    /// A scan of `count` pages from page `first` (wrapping), as the server
    /// scans a page: keys by `lower_keys`, then each row against the
    /// batch's threshold (one row at a time: `row_key_within`).
    fn scan(&self, bq: &BoundQuery, first: usize, count: usize) -> usize {
        let mut top = BoundedTopK::new(32, None);
        let mut keys = [0f32; KEY_BATCH];
        let mut rows = [&[][..]; KEY_BATCH];
        for p in 0..count {
            let slot = self.slots[(first + p) % self.slots.len()];
            for start in (0..self.per_page).step_by(bq.key_batch()) {
                let n = bq.key_batch().min(self.per_page - start);
                for (i, row) in rows[..n].iter_mut().enumerate() {
                    let at = slot * 8192 + (start + i) * (self.len + 28);
                    *row = &self.arena[at..at + self.len];
                }
                if n > 1 {
                    bq.lower_keys(&rows[..n], &mut keys[..n]);
                }
                for i in 0..n {
                    let (distance, _) = match n {
                        1 => bq.row_key_within(rows[i], top.threshold()),
                        _ => bq.finish_key(rows[i], keys[i], top.threshold()),
                    };
                    if distance.partial_cmp(&top.threshold()) != Some(std::cmp::Ordering::Greater) {
                        top.offer(Scored { distance, key: (p * 64 + start + i) as u64 });
                    }
                }
            }
        }
        top.len()
    }
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
        // 2,000 rows a query from an index of about 50 MB, a different run
        // of pages each time
        let paged = Paged::new(&payloads, 50_000_000 / 8192, &mut rng);
        let count = 2000 / paged.per_page;
        let mut first = 0;
        group.throughput(Throughput::Elements((count * paged.per_page) as u64));
        group.bench_function(format!("{name}_paged"), |b| {
            b.iter(|| {
                first = (first + 7919 * count) % paged.slots.len();
                paged.scan(black_box(&bq), first, count)
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
