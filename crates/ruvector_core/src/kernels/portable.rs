//! Portable kernels: eight independent lanes so the compiler can vectorise the
//! loop for the baseline ISA without reassociating a single float sum. Generic
//! over the stored element (f32, f16 widened to f32 per element, or SQ8 codes
//! decoded per element).

#![forbid(unsafe_code)]

use super::{Scalar, Sq8Kernels, Sq8Ref};

const LANES: usize = 8;

/// Where a kernel reads its elements from: a slice of stored elements, or
/// SQ8 codes decoded one by one.
trait Source {
    fn len(&self) -> usize;
    fn get(&self, i: usize) -> f32;
}

impl<T: Scalar> Source for &[T] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[T]>::len(self)
    }

    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self[i].to_f32()
    }
}

impl Source for Sq8Ref<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.codes.len()
    }

    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self.decode(i)
    }
}

#[inline]
fn fold<A: Source, B: Source>(a: A, b: B, term: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let full = n / LANES * LANES;
    let mut acc = [0.0f32; LANES];
    for i in (0..full).step_by(LANES) {
        for (l, acc) in acc.iter_mut().enumerate() {
            *acc += term(a.get(i + l), b.get(i + l));
        }
    }
    let mut tail = 0.0f32;
    for i in full..n {
        tail += term(a.get(i), b.get(i));
    }
    acc.iter().sum::<f32>() + tail
}

/// The portable SQ8 kernels (f32 query against decoded codes), the same folds
/// as the portable f32 kernels.
pub fn sq8_kernels() -> Sq8Kernels {
    Sq8Kernels {
        isa: "portable",
        l2_squared: |q, v| fold(q, v, |x, y| (x - y) * (x - y)),
        dot: |q, v| fold(q, v, |x, y| x * y),
        l1: |q, v| fold(q, v, |x, y| (x - y).abs()),
        encode: crate::sq8::encode_lanes,
    }
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
