//! A spin lock on one word of shared memory, for the few places that guard
//! a handful of instructions across processes (the shared cache's arena,
//! the index registry's inserts): PostgreSQL's own locks are not reachable
//! from the pgrx-free core, and a futex-based lock would not work between
//! processes that map the memory at different addresses.

#![forbid(unsafe_code)]

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// Held while alive; `acquire` waits for it.
pub struct SpinGuard<'a>(&'a AtomicU64);

/// Take `lock` (0: free, 1: held), spinning briefly, then yielding.
pub fn acquire(lock: &AtomicU64) -> SpinGuard<'_> {
    let mut spins = 0u32;
    while lock.compare_exchange_weak(0, 1, Acquire, Relaxed).is_err() {
        back_off(&mut spins);
    }
    SpinGuard(lock)
}

/// One step of waiting for another process: spin at first, then yield.
pub fn back_off(spins: &mut u32) {
    *spins += 1;
    if *spins < 100 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

impl Drop for SpinGuard<'_> {
    fn drop(&mut self) {
        self.0.store(0, Release);
    }
}
