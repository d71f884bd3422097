//! Dead-TID set: bytes per TID against a 6-byte TID array, and the cost of a
//! membership test (what VACUUM asks once per index entry), on three deletion
//! patterns.
//! Run: `cargo bench -p ruvector_core --bench tidstore`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ruvector_core::tidstore::TidStore;
use std::time::Duration;

fn patterns() -> Vec<(&'static str, Vec<(u32, u16)>)> {
    vec![
        (
            "dense: 60 rows in each of 20,000 blocks",
            (0..20_000u32).flat_map(|b| (1..=60u16).map(move |o| (b, o))).collect(),
        ),
        ("sparse: 1 row in each of 200,000 blocks", (0..200_000u32).map(|b| (b, 7)).collect()),
        ("scattered: 1 row every 100th block", (0..100_000u32).map(|b| (b * 100, 3)).collect()),
    ]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tidstore_contains");
    for (name, tids) in patterns() {
        let mut store = TidStore::new();
        for &(b, o) in &tids {
            store.push(b, o);
        }
        store.shrink_to_fit();
        println!(
            "{name}: {} TIDs, {:.2} bytes/TID (TID array: 6.00)",
            store.len(),
            store.memory_bytes() as f64 / store.len() as f64
        );
        // probes: half present, half absent neighbours
        let probes: Vec<(u32, u16)> =
            tids.iter().step_by(97).flat_map(|&(b, o)| [(b, o), (b.wrapping_add(1), o + 1)]).collect();
        group.bench_function(name, |bch| {
            bch.iter(|| probes.iter().filter(|&&(b, o)| store.contains(black_box(b), black_box(o))).count())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
