// In-server tests (`cargo pgrx test`): behaviour that needs a live backend,
// such as datum round trips through SPI, TOASTed values and error SQLSTATEs.
// The full SQL surface is covered by the regression suite in tests/regress.

use pgrx::prelude::*;

#[pg_test]
fn text_round_trip_through_the_server() {
    let out = Spi::get_one::<String>("SELECT '[1, 2.5, -3e-05]'::ruvector::text").unwrap().unwrap();
    assert_eq!(out, "[1,2.5,-3e-05]");
}

#[pg_test]
fn distances_use_borrowed_elements() {
    let d = Spi::get_one::<f64>("SELECT '[0,0]'::ruvector <-> '[3,4]'::ruvector").unwrap().unwrap();
    assert_eq!(d, 5.0);
}

#[pg_test]
fn toasted_values_are_detoasted() {
    // 2,000 dims = 8 kB, past the TOAST threshold, so the value is stored out of line.
    Spi::run("CREATE TABLE big (v ruvector(2000))").unwrap();
    Spi::run("INSERT INTO big SELECT array_fill(1.5::real, ARRAY[2000])::ruvector").unwrap();
    let toast_bytes = Spi::get_one::<i64>(
        "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'big'",
    )
    .unwrap()
    .unwrap();
    assert!(toast_bytes > 0, "the value should live in the TOAST table");
    let norm = Spi::get_one::<f64>("SELECT vector_norm(v) FROM big").unwrap().unwrap();
    assert!((norm - 1.5 * 2000f64.sqrt()).abs() < 1e-9);
    let dims = Spi::get_one::<i32>("SELECT vector_dims(v || v) FROM big").unwrap().unwrap();
    assert_eq!(dims, 4000);
}

#[pg_test(error = "different vector dimensions 2 and 3")]
fn dimension_mismatch_is_an_error() {
    Spi::get_one::<f64>("SELECT '[1,2]'::ruvector <-> '[1,2,3]'::ruvector").unwrap();
}

#[pg_test]
fn simd_dispatch_is_reported() {
    let isa = Spi::get_one::<String>("SELECT ruvector_simd_info()").unwrap().unwrap();
    assert_eq!(isa, ruvector_core::kernels::active().isa);
}
