//! Portable kernels: eight independent lanes so the compiler can vectorise the
//! loop for the baseline ISA without reassociating a single float sum. Generic
//! over the stored element (f32, or f16 widened to f32 per element).

use super::Scalar;

const LANES: usize = 8;

#[inline]
fn fold<T: Scalar>(a: &[T], b: &[T], term: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (xa, xb) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            acc[l] += term(xa[l].to_f32(), xb[l].to_f32());
        }
    }
    let mut tail = 0.0f32;
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += term(x.to_f32(), y.to_f32());
    }
    acc.iter().sum::<f32>() + tail
}

pub fn l2_squared<T: Scalar>(a: &[T], b: &[T]) -> f32 {
    fold(a, b, |x, y| (x - y) * (x - y))
}

pub fn dot<T: Scalar>(a: &[T], b: &[T]) -> f32 {
    fold(a, b, |x, y| x * y)
}

pub fn l1<T: Scalar>(a: &[T], b: &[T]) -> f32 {
    fold(a, b, |x, y| (x - y).abs())
}

pub fn cosine_parts<T: Scalar>(a: &[T], b: &[T]) -> (f32, f32, f32) {
    (dot(a, b), dot(a, a), dot(b, b))
}
