//! Joining worker threads (hnsw build, k-means, row assignment). All of them
//! run inside `std::thread::scope`, so none outlives the call that started
//! it. A worker that panicked (a bug: workers never call PostgreSQL) is
//! reported on the calling thread with the worker's own message, where the
//! extension's guard turns it into an ERROR; `std::thread::scope`'s own
//! re-raise would only say that "a scoped thread panicked".
//!
//! The one unsafe call here, `setpriority` on the calling thread, touches no
//! memory.

#![deny(unsafe_code)]

/// The result of a joined worker, or a panic on the calling thread naming
/// what the worker's panic said.
pub fn joined<T>(result: std::thread::Result<T>) -> T {
    result.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        panic!("a worker thread of the index build failed: {what}")
    })
}

/// The caller's `tick` asked a batch run to stop.
#[derive(Debug, PartialEq, Eq)]
pub struct Cancelled;

/// Run `batch(start..end)` over `0..n` in batches of `size`, claimed from a
/// shared counter by `threads` threads: `threads - 1` workers (each first
/// running `setup`) and the calling thread, which runs `tick(done)` before
/// each of its batches (returning false cancels: workers stop after their
/// current batch) and once at the end with `n`. A worker's panic reaches the
/// caller ([`joined`]); workers also stop if `tick` unwinds (an ERROR in the
/// backend), and none outlives the call.
pub fn run_batches(
    n: usize,
    size: usize,
    threads: usize,
    setup: impl Fn() + Sync,
    batch: impl Fn(std::ops::Range<usize>) + Sync,
    mut tick: impl FnMut(usize) -> bool,
) -> Result<(), Cancelled> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    // the next batch; false once every index has been taken
    let run_batch = || {
        let start = next.fetch_add(size, Ordering::Relaxed);
        if start >= n {
            return false;
        }
        let end = (start + size).min(n);
        batch(start..end);
        done.fetch_add(end - start, Ordering::Relaxed);
        true
    };
    let cancelled = std::thread::scope(|s| {
        let stop_workers = StopOnDrop(&stop);
        let workers: Vec<_> = (1..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    setup();
                    while !stop.load(Ordering::Relaxed) {
                        if !run_batch() {
                            break;
                        }
                    }
                })
            })
            .collect();
        let cancelled = loop {
            if !tick(done.load(Ordering::Relaxed)) {
                break true;
            }
            if !run_batch() {
                break false;
            }
        };
        drop(stop_workers);
        workers.into_iter().for_each(|w| joined(w.join()));
        cancelled
    });
    if cancelled {
        return Err(Cancelled);
    }
    tick(n);
    Ok(())
}

/// Lower the calling worker thread's CPU priority (nice 10) so that
/// searches running meanwhile keep their share of the CPU: VACUUM's repair
/// threads take what is idle. Linux schedules threads, so this affects this
/// thread alone; raising a thread's nice value needs no privilege. Errors
/// are ignored (the work is the same, only scheduled as before).
pub fn yield_to_foreground() {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: plain system calls on the calling thread's own id; no memory is passed.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_panic_reaches_the_caller_with_its_message() {
        let caught = std::panic::catch_unwind(|| {
            std::thread::scope(|s| {
                let h = s.spawn(|| -> u32 { panic!("boom {}", 42) });
                joined(h.join())
            })
        });
        let payload = caught.expect_err("the caller panics");
        let msg = payload.downcast_ref::<String>().expect("a formatted message");
        assert_eq!(msg, "a worker thread of the index build failed: boom 42");
        assert_eq!(std::thread::scope(|s| joined(s.spawn(|| 7).join())), 7);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_worker_lowers_its_own_priority_only() {
        #[allow(unsafe_code)]
        // SAFETY: reading the calling thread's nice value.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let before = nice();
        let worker = std::thread::spawn(move || {
            yield_to_foreground();
            nice()
        })
        .join()
        .unwrap();
        assert_eq!(worker, (before + 10).min(19));
        assert_eq!(nice(), before, "the calling thread keeps its priority");
    }
}
