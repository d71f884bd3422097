//! The process's global allocator: the system allocator, counting what Rust
//! code holds, so that `ruvector_memory_detailed()` can show memory that
//! PostgreSQL's memory contexts never see (the hnsw vector cache, a build's
//! in-memory graph, scan state).
//!
//! Invariants: a byte is counted when an allocation succeeds and uncounted
//! when that allocation is freed, by the size of the layout it was made with
//! (GlobalAlloc's contract gives `dealloc` and `realloc` that layout); a
//! failed allocation changes nothing. Counters are relaxed atomics: build
//! worker threads allocate concurrently, and the counts are statistics,
//! never used to synchronise anything. A backend inherits the postmaster's
//! counts when the library is preloaded (a few kilobytes at most).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

pub struct CountingAllocator;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = LIVE_BYTES.fetch_add(bytes, Relaxed) + bytes;
    PEAK_BYTES.fetch_max(now, Relaxed);
}

fn shrank(bytes: usize) {
    LIVE_BYTES.fetch_sub(bytes, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged and returns its result; the counting around it touches only
// the atomics above.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
            LIVE_ALLOCATIONS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
            LIVE_ALLOCATIONS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
        LIVE_ALLOCATIONS.fetch_sub(1, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// What Rust code in this process holds now.
pub struct HeapUse {
    pub live_bytes: usize,
    pub live_allocations: usize,
    pub peak_bytes: usize,
}

/// Start peak tracking again from what is live now; the peak until now.
pub fn reset_peak() -> usize {
    PEAK_BYTES.swap(LIVE_BYTES.load(Relaxed), Relaxed)
}

pub fn heap_use() -> HeapUse {
    HeapUse {
        live_bytes: LIVE_BYTES.load(Relaxed),
        live_allocations: LIVE_ALLOCATIONS.load(Relaxed),
        peak_bytes: PEAK_BYTES.load(Relaxed),
    }
}
