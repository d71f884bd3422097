//! Portable kernels: eight independent lanes so the compiler can vectorise the
//! loop for the baseline ISA without reassociating a single float sum.

const LANES: usize = 8;

#[inline]
fn fold<F: Fn(f32, f32) -> f32>(a: &[f32], b: &[f32], term: F) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (xa, xb) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            acc[l] += term(xa[l], xb[l]);
        }
    }
    let mut tail = 0.0f32;
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += term(x, y);
    }
    acc.iter().sum::<f32>() + tail
}

pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    fold(a, b, |x, y| (x - y) * (x - y))
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    fold(a, b, |x, y| x * y)
}

pub fn l1(a: &[f32], b: &[f32]) -> f32 {
    fold(a, b, |x, y| (x - y).abs())
}

pub fn cosine_parts(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    (dot(a, b), dot(a, a), dot(b, b))
}
