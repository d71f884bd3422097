//! Dot products of many vectors with many others as one matrix product
//! (`matrixmultiply::sgemm`: packed, cache-blocked, with AVX/FMA kernels
//! chosen at run time), for the ivfflat build's k-means and its assignment
//! of rows to centres, where one distance kernel call per (row, centre)
//! pair spends most of its time outside the arithmetic.
//!
//! Invariant: the only unsafe code is the one `sgemm` call, whose pointers
//! and strides come from slices whose lengths are checked first.

/// `out[i * n + j] = a_i · b_j` for the `m` rows `a_i` of `a` and the `n`
/// rows `b_j` of `b`, each of `dims` values, row-major. Summation order is
/// the blocked product's, so results may differ from `dot`'s in the last
/// bits.
///
/// # Panics
/// If `a`, `b` or `out` is not whole rows of the sizes given.
pub fn dot_products(a: &[f32], b: &[f32], dims: usize, out: &mut [f32]) {
    assert!(dims > 0 && a.len().is_multiple_of(dims) && b.len().is_multiple_of(dims), "whole rows");
    let (m, n) = (a.len() / dims, b.len() / dims);
    assert_eq!(out.len(), m * n, "one output per pair");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: A is m × dims at a (row stride dims, column stride 1), B is
    // dims × n read from b's rows transposed (b[j * dims + k] at row k,
    // column j: row stride 1, column stride dims), C is m × n at out (row
    // stride n, column stride 1); the asserts above keep every index in
    // bounds, and out does not overlap a or b (it is a unique borrow).
    unsafe {
        matrixmultiply::sgemm(
            m,
            dims,
            n,
            1.0,
            a.as_ptr(),
            dims as isize,
            1,
            b.as_ptr(),
            1,
            dims as isize,
            0.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_f64_dot_products(m in 0usize..20, n in 0usize..20, dims in 1usize..70, seed in any::<u64>()) {
            let mut rng = crate::ivf::kmeans::Rng::new(seed);
            let mut vals = |len: usize| -> Vec<f32> { (0..len).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect() };
            let a = vals(m * dims);
            let b = vals(n * dims);
            let mut out = vec![f32::NAN; m * n];
            dot_products(&a, &b, dims, &mut out);
            for i in 0..m {
                for j in 0..n {
                    let exact: f64 = (0..dims).map(|k| a[i * dims + k] as f64 * b[j * dims + k] as f64).sum();
                    let scale: f64 = (0..dims).map(|k| (a[i * dims + k] as f64 * b[j * dims + k] as f64).abs()).sum();
                    prop_assert!((out[i * n + j] as f64 - exact).abs() <= 1e-6 * dims as f64 * scale.max(1e-30) + 1e-30,
                        "{i},{j}: {} vs {exact}", out[i * n + j]);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "one output per pair")]
    fn refuses_a_short_output() {
        dot_products(&[1.0; 6], &[1.0; 9], 3, &mut [0.0; 5]);
    }
}
