//! Distance kernels at 128, 384, 768 and 1536 dimensions: the naive scalar
//! baseline next to every kernel set this CPU can run.
//! Run: `cargo bench -p ruvector_core --bench kernels`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ruvector_core::kernels::{baseline, Kernels};
use std::time::Duration;

fn data(n: usize, seed: u32) -> Vec<f32> {
    (0..n).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / 16777216.0) - 0.5).collect()
}

type Kernel = fn(&[f32], &[f32]) -> f32;

/// The whole cosine distance from the naive loops, so no part of it can be skipped.
fn baseline_cosine(a: &[f32], b: &[f32]) -> f32 {
    let (ab, aa, bb) = baseline::cosine_parts(a, b);
    (1.0 - ab as f64 / (aa as f64 * bb as f64).sqrt()) as f32
}

fn bench(c: &mut Criterion) {
    let sets = Kernels::available();
    let ops: [(&str, Kernel, fn(&Kernels) -> Kernel); 4] = [
        ("l2_squared", baseline::l2_squared, |k| k.l2_squared),
        ("dot", baseline::dot, |k| k.dot),
        ("cosine", baseline_cosine, |_| |a, b| ruvector_core::kernels::cosine_distance(a, b) as f32),
        ("l1", baseline::l1, |k| k.l1),
    ];
    for (name, base, pick) in ops {
        let mut group = c.benchmark_group(name);
        group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(1200));
        for dims in [128usize, 384, 768, 1536] {
            let (a, b) = (data(dims, 1), data(dims, 7));
            group.throughput(Throughput::Elements(dims as u64));
            group.bench_with_input(BenchmarkId::new("scalar-baseline", dims), &dims, |bch, _| {
                bch.iter(|| base(black_box(&a), black_box(&b)))
            });
            if name == "cosine" {
                // cosine_distance always runs the active set; compare it with the baseline's full formula.
                let active = ruvector_core::kernels::active().isa;
                group.bench_with_input(BenchmarkId::new(active, dims), &dims, |bch, _| {
                    bch.iter(|| pick(&sets[0])(black_box(&a), black_box(&b)))
                });
                continue;
            }
            for k in &sets {
                let f = pick(k);
                group.bench_with_input(BenchmarkId::new(k.isa, dims), &dims, |bch, _| {
                    bch.iter(|| f(black_box(&a), black_box(&b)))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
