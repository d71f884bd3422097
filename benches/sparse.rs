//! Sparse distances: two 10,000-dim vectors with 5 % non-zeros (500 each),
//! by merge-join on the stored arrays, next to densifying them first and
//! running the dense f32 kernel. Also the galloping dot (20 vs 500 non-zeros)
//! and a dot with a dense vector.
//! Run: `cargo bench -p ruvector_core --bench sparse`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ruvector_core::kernels;
use ruvector_core::sparse::{self, SparseVec};
use std::time::Duration;

fn sparse_vec(dim: i32, nnz: usize, seed: u64) -> SparseVec {
    let mut s = seed | 1;
    let mut idx: Vec<i32> = Vec::new();
    while idx.len() < nnz {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let i = (s % dim as u64) as i32;
        if !idx.contains(&i) {
            idx.push(i);
        }
    }
    idx.sort();
    let values = idx.iter().map(|&i| (i as f32 * 0.37).sin() + 1.5).collect();
    SparseVec { dim, indices: idx, values }
}

fn densify(v: &SparseVec) -> Vec<f32> {
    let mut d = vec![0.0; v.dim as usize];
    for (&i, &x) in v.indices.iter().zip(&v.values) {
        d[i as usize] = x;
    }
    d
}

fn bench(c: &mut Criterion) {
    let (a, b) = (sparse_vec(10_000, 500, 3), sparse_vec(10_000, 500, 5));
    let short = sparse_vec(10_000, 20, 7);
    let dense_b = densify(&b);
    let mut g = c.benchmark_group("sparse_10000d_5pct");
    g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    g.bench_function("l2_squared merge-join", |x| {
        x.iter(|| sparse::l2_squared(black_box(a.as_ref()), black_box(b.as_ref())))
    });
    g.bench_function("dot merge-join", |x| x.iter(|| sparse::dot(black_box(a.as_ref()), black_box(b.as_ref()))));
    g.bench_function("dot galloping 20 vs 500", |x| {
        x.iter(|| sparse::dot(black_box(short.as_ref()), black_box(b.as_ref())))
    });
    g.bench_function("dot with dense vector", |x| {
        x.iter(|| sparse::dot_dense(black_box(a.as_ref()), black_box(&dense_b)))
    });
    g.bench_function("densify both + dense l2 kernel", |x| {
        x.iter(|| {
            let (da, db) = (densify(black_box(&a)), densify(black_box(&b)));
            kernels::l2_squared(&da, &db)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sparse_text_500_nonzeros");
    g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    let text = sparse::text::format(a.as_ref());
    g.bench_function("format", |x| x.iter(|| sparse::text::format(black_box(a.as_ref()))));
    g.bench_function("parse", |x| x.iter(|| sparse::text::parse(black_box(text.as_bytes()), -1).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
