//! NEON kernels for aarch64 (NEON is part of the aarch64 baseline, so no
//! detection is needed): four 4-lane accumulators, then a scalar tail.

use super::Kernels;
use std::arch::aarch64::*;

pub fn kernels() -> Kernels<f32> {
    // SAFETY (all four closures): NEON is mandatory on aarch64.
    Kernels {
        isa: "neon",
        l2_squared: |a, b| unsafe { l2_squared(a, b) },
        dot: |a, b| unsafe { dot(a, b) },
        cosine_parts: |a, b| unsafe { (dot(a, b), dot(a, a), dot(b, b)) },
        l1: |a, b| unsafe { l1(a, b) },
    }
}

#[target_feature(enable = "neon")]
unsafe fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY: every load reads [i, i+4) with i + 4 <= n.
    unsafe {
        while i + 16 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                let d = vsubq_f32(vld1q_f32(pa.add(i + 4 * k)), vld1q_f32(pb.add(i + 4 * k)));
                *acc = vfmaq_f32(*acc, d, d);
            }
            i += 16;
        }
    }
    let mut s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
    for j in i..n {
        let d = a[j] - b[j];
        s += d * d;
    }
    s
}

#[target_feature(enable = "neon")]
unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY: every load reads [i, i+4) with i + 4 <= n.
    unsafe {
        while i + 16 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = vfmaq_f32(*acc, vld1q_f32(pa.add(i + 4 * k)), vld1q_f32(pb.add(i + 4 * k)));
            }
            i += 16;
        }
    }
    let mut s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
    for j in i..n {
        s += a[j] * b[j];
    }
    s
}

#[target_feature(enable = "neon")]
unsafe fn l1(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY: every load reads [i, i+4) with i + 4 <= n.
    unsafe {
        while i + 16 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = vaddq_f32(*acc, vabdq_f32(vld1q_f32(pa.add(i + 4 * k)), vld1q_f32(pb.add(i + 4 * k))));
            }
            i += 16;
        }
    }
    let mut s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
    for j in i..n {
        s += (a[j] - b[j]).abs();
    }
    s
}
