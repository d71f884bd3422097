//! "Access a 1536-dim value and compute a distance": borrowing `&[f32]` from the
//! datum image (what every distance function does) next to copying it into a
//! `Vec<f32>` first (what a generic `FromDatum for Vec<f32>` conversion does).
//! Run: `cargo bench -p ruvector_core --bench zero_copy`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ruvector_core::kernels;
use ruvector_core::layout::{dense_size, write_dense, DenseRef, DENSE_HEADER_BYTES};
use std::time::Duration;

/// A varlena image in 8-byte-aligned memory, as palloc would give it.
fn image(v: &[f32]) -> Vec<u64> {
    let size = dense_size::<f32>(v.len());
    let mut words = vec![0u64; size.div_ceil(8)];
    write_dense(&mut bytemuck::cast_slice_mut(&mut words)[..size], v);
    words
}

fn copy_out(bytes: &[u8]) -> Vec<f32> {
    let dims = i16::from_ne_bytes([bytes[4], bytes[5]]) as usize;
    bytes[DENSE_HEADER_BYTES..DENSE_HEADER_BYTES + dims * 4]
        .chunks_exact(4)
        .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn bench(c: &mut Criterion) {
    let dims = 1536;
    let a: Vec<f32> = (0..dims).map(|i| (i as f32 * 0.37).sin()).collect();
    let b: Vec<f32> = (0..dims).map(|i| (i as f32 * 0.11).cos()).collect();
    let (ia, ib) = (image(&a), image(&b));
    let size = dense_size::<f32>(dims);
    let (ba, bb): (&[u8], &[u8]) = (&bytemuck::cast_slice(&ia)[..size], &bytemuck::cast_slice(&ib)[..size]);

    let mut group = c.benchmark_group("access_and_l2_1536");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    group.bench_function("zero-copy borrow", |bch| {
        bch.iter(|| {
            let x = DenseRef::<f32>::from_image(black_box(ba)).unwrap();
            let y = DenseRef::<f32>::from_image(black_box(bb)).unwrap();
            kernels::l2_squared(x.as_slice(), y.as_slice())
        })
    });
    group.bench_function("copy into Vec<f32>", |bch| {
        bch.iter(|| {
            let x = copy_out(black_box(ba));
            let y = copy_out(black_box(bb));
            kernels::l2_squared(&x, &y)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
