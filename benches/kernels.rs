//! Distance kernels at 128, 384, 768 and 1536 dimensions: the naive scalar
//! baseline next to every kernel set this CPU can run, for f32 (`ruvector`)
//! and f16 (`halfvec`, widened lane by lane inside the kernels).
//! Also the SQ8 encoder and a query's integer levels. Run: `cargo bench -p
//! ruvector_core --bench kernels` (`-- sq8_encode` for the encoder alone,
//! `-- query_levels` for the levels)

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use half::f16;
use ruvector_core::kernels::{self, baseline, KernelElement, Kernels};
use std::time::Duration;

fn data(n: usize, seed: u32) -> Vec<f32> {
    (0..n).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / 16777216.0) - 0.5).collect()
}

/// The whole cosine distance from the naive loops, so no part of it can be skipped.
fn baseline_cosine(a: &[f32], b: &[f32]) -> f32 {
    let (ab, aa, bb) = baseline::cosine_parts(a, b);
    (1.0 - ab as f64 / (aa as f64 * bb as f64).sqrt()) as f32
}

type Op<T> = fn(&Kernels<T>) -> fn(&[T], &[T]) -> f32;

fn ops<T: KernelElement>() -> [(&'static str, Op<T>); 3] {
    [("l2_squared", |k| k.l2_squared), ("dot", |k| k.dot), ("l1", |k| k.l1)]
}

fn bench_type<T: KernelElement>(c: &mut Criterion, suffix: &str, convert: fn(&[f32]) -> Vec<T>) {
    #[allow(clippy::type_complexity)]
    let baselines: [fn(&[f32], &[f32]) -> f32; 3] = [baseline::l2_squared, baseline::dot, baseline::l1];
    for ((name, pick), base) in ops::<T>().into_iter().zip(baselines) {
        let mut group = c.benchmark_group(format!("{name}{suffix}"));
        group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(1200));
        for dims in [128usize, 384, 768, 1536] {
            let (a, b) = (data(dims, 1), data(dims, 7));
            let (ta, tb) = (convert(&a), convert(&b));
            group.throughput(Throughput::Elements(dims as u64));
            group.bench_with_input(BenchmarkId::new("scalar-baseline", dims), &dims, |bch, _| {
                bch.iter(|| base(black_box(&a), black_box(&b)))
            });
            for k in T::available() {
                let f = pick(&k);
                group.bench_with_input(BenchmarkId::new(k.isa, dims), &dims, |bch, _| {
                    bch.iter(|| f(black_box(&ta), black_box(&tb)))
                });
            }
        }
        group.finish();
    }
    // Cosine: the whole distance through the dispatched kernel.
    let mut group = c.benchmark_group(format!("cosine{suffix}"));
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(1200));
    for dims in [128usize, 384, 768, 1536] {
        let (a, b) = (data(dims, 1), data(dims, 7));
        let (ta, tb) = (convert(&a), convert(&b));
        group.bench_with_input(BenchmarkId::new("scalar-baseline", dims), &dims, |bch, _| {
            bch.iter(|| baseline_cosine(black_box(&a), black_box(&b)))
        });
        group.bench_with_input(BenchmarkId::new(T::active().isa, dims), &dims, |bch, _| {
            bch.iter(|| kernels::cosine_distance(black_box(&ta), black_box(&tb)))
        });
    }
    group.finish();
}

/// Making a vector's SQ8 copy (`sq8::encode`): every hnsw and ivfflat row
/// pays it at build and insert. Fractional values, and integers (pixels).
fn bench_sq8_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("sq8_encode");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(1200));
    for dims in [128usize, 384, 784, 1536] {
        let fractional = data(dims, 3);
        let integral: Vec<f32> = fractional.iter().map(|x| ((x + 0.5) * 255.0).round()).collect();
        group.throughput(Throughput::Elements(dims as u64));
        for (name, x) in [("fractional", &fractional), ("integral", &integral)] {
            group.bench_with_input(BenchmarkId::new(name, dims), &dims, |bch, _| {
                bch.iter(|| ruvector_core::sq8::encode(black_box(x)))
            });
        }
    }
    group.finish();
}

/// A query's two levels of i8 codes (`sq8::QueryLevels::new`): every hnsw
/// scan and insert over SQ8 copies under inner product and cosine, and
/// every ivfflat scan of format 2, makes them once.
fn bench_query_levels(c: &mut Criterion) {
    let mut group = c.benchmark_group("query_levels");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(1200));
    for dims in [384usize, 784, 1536] {
        let q: Vec<f32> = data(dims, 5).iter().map(|x| x * 0.1).collect();
        group.throughput(Throughput::Elements(dims as u64));
        group.bench_with_input(BenchmarkId::from_parameter(dims), &dims, |bch, _| {
            bch.iter(|| ruvector_core::sq8::QueryLevels::new(black_box(&q)))
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    bench_sq8_encode(c);
    bench_query_levels(c);
    bench_type::<f32>(c, "", |v| v.to_vec());
    bench_type::<f16>(c, "_f16", |v| v.iter().map(|&x| f16::from_f32(x)).collect());
}

criterion_group!(benches, bench);
criterion_main!(benches);
