//! Joining worker threads (hnsw build, k-means, row assignment). All of them
//! run inside `std::thread::scope`, so none outlives the call that started
//! it. A worker that panicked (a bug: workers never call PostgreSQL) is
//! reported on the calling thread with the worker's own message, where the
//! extension's guard turns it into an ERROR; `std::thread::scope`'s own
//! re-raise would only say that "a scoped thread panicked".

#![forbid(unsafe_code)]

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
}
