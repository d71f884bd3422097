//! Parsing and printing `ruvector` literals (1,536 fractional elements, 784
//! integer ones): ruvector_core's parser next to pgvector's approach (libc
//! `strtof` per element, as `vector_in` does), and the formatter.
//! Run: `cargo bench -p ruvector_core --bench text_parse`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ruvector_core::dense::text;
use std::time::Duration;

/// pgvector's vector_in loop: skip spaces, strtof, expect ',' or ']'.
fn parse_with_strtof(lit: &std::ffi::CStr) -> Vec<f32> {
    let mut out = Vec::new();
    let mut p = lit.as_ptr();
    unsafe {
        while (*p as u8).is_ascii_whitespace() {
            p = p.add(1);
        }
        assert_eq!(*p as u8, b'[');
        p = p.add(1);
        loop {
            let mut end = std::ptr::null_mut();
            let v = libc::strtof(p, &mut end);
            assert!(!std::ptr::eq(end, p));
            assert!(v.is_finite());
            out.push(v);
            p = end;
            while (*p as u8).is_ascii_whitespace() {
                p = p.add(1);
            }
            match *p as u8 {
                b',' => p = p.add(1),
                b']' => break,
                _ => panic!("syntax"),
            }
        }
    }
    out
}

fn literal(dims: usize) -> String {
    // Typical embedding text: what float4out prints for values in (-1, 1).
    let v: Vec<f32> = (0..dims)
        .map(|i| ((i as u32).wrapping_mul(2654435761) >> 8) as f32 / 16777216.0 * 2.0 - 1.0)
        .map(|x| x * 0.1)
        .collect();
    text::format(&v)
}

fn bench(c: &mut Criterion) {
    let lit = literal(1536);
    let clit = std::ffi::CString::new(lit.clone()).unwrap();
    assert_eq!(text::parse::<f32>(lit.as_bytes(), -1).unwrap(), parse_with_strtof(&clit));
    let mut group = c.benchmark_group("parse_1536");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Bytes(lit.len() as u64));
    group.bench_function("strtof-per-element (pgvector)", |b| b.iter(|| parse_with_strtof(black_box(&clit))));
    group.bench_function("ruvector_core::dense::text::parse", |b| {
        b.iter(|| text::parse::<f32>(black_box(lit.as_bytes()), -1).unwrap())
    });
    group.finish();

    let v = text::parse::<f32>(lit.as_bytes(), -1).unwrap();
    let mut group = c.benchmark_group("format_1536");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    group.bench_function("ruvector_core::dense::text::format", |b| b.iter(|| text::format(black_box(&v))));
    group.finish();

    // Integer-valued vectors (pixels, uint8 embeddings): "[0,0,18,255,...]",
    // which both parsers and the formatter take a shorter path for.
    let pixels: Vec<f32> =
        (0..784u32).map(|i| if i % 3 == 0 { 0.0 } else { (i.wrapping_mul(2654435761) >> 24) as f32 }).collect();
    let plit = text::format(&pixels);
    let cplit = std::ffi::CString::new(plit.clone()).unwrap();
    assert_eq!(text::parse::<f32>(plit.as_bytes(), -1).unwrap(), parse_with_strtof(&cplit));
    let mut group = c.benchmark_group("pixels_784");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    group.bench_function("parse: strtof-per-element (pgvector)", |b| b.iter(|| parse_with_strtof(black_box(&cplit))));
    group.bench_function("parse: ruvector_core::dense::text::parse", |b| {
        b.iter(|| text::parse::<f32>(black_box(plit.as_bytes()), -1).unwrap())
    });
    group.bench_function("format: ruvector_core::dense::text::format", |b| b.iter(|| text::format(black_box(&pixels))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
