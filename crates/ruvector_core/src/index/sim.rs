//! A deterministic scheduler for concurrency tests: several tasks (inserts,
//! deletes, VACUUM, searches) run on threads of their own, but only one at a
//! time, switching at every page-store operation and every lock request
//! ([`switch`], called by [`super::mem::MemStore`]). Which task runs next is
//! drawn from a seeded generator, so a seed names one interleaving exactly
//! and a failing seed reproduces it. Between two steps every task is parked
//! at a switch point, before it takes a page lock, so a checker run after
//! each step ([`run`]'s `after_step`) sees every page in a consistent state.
//!
//! Outside a [`run`] (plain threads, or the checker itself) [`switch`] does
//! nothing and [`wait`] yields the thread.
//!
//! Invariants: exactly one of the scheduler and the tasks holds the turn
//! (`State::running`); a task parked in [`wait`] is not picked until
//! [`wake_all`] (a lock was released); if every unfinished task waits, the
//! run is a deadlock and ends with an error naming the seed.

use std::cell::RefCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct State {
    /// The task whose turn it is; `None` before the first pick.
    running: Option<usize>,
    finished: Vec<bool>,
    waiting: Vec<bool>,
    /// Set when the run is given up (a failure, a deadlock, the step
    /// limit): tasks unwind at their next switch.
    abort: bool,
    failure: Option<String>,
    rng: u64,
    /// How often (in quarters) the running task keeps the turn.
    stay: u64,
    steps: u64,
    max_steps: u64,
    seed: u64,
}

struct Shared {
    state: Mutex<State>,
    /// One condition variable per task (its turn came) and one for `run`
    /// (every task finished), so a switch wakes only the thread it concerns.
    turns: Vec<Condvar>,
    done: Condvar,
    /// The checker, run by the task that ends a step, every other task parked.
    after_step: Box<dyn Fn() + Send + Sync>,
}

/// Raised in a task when the run is given up, and caught by [`run`].
struct Aborted;

thread_local! {
    static TASK: RefCell<Option<(Arc<Shared>, usize)>> = const { RefCell::new(None) };
}

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Choose who runs next (under the state lock); `None` when every task
    /// finished. Gives the run up on a failure, the step limit or a deadlock.
    fn pick(&self, s: &mut State) -> Option<usize> {
        let unfinished: Vec<usize> = (0..s.finished.len()).filter(|&i| !s.finished[i]).collect();
        if unfinished.is_empty() {
            return None;
        }
        if !s.abort {
            let ready: Vec<usize> = unfinished.iter().copied().filter(|&i| !s.waiting[i]).collect();
            let why = if s.failure.is_some() {
                Some(String::new())
            } else if s.steps >= s.max_steps {
                Some(format!("more than {} steps", s.max_steps))
            } else if ready.is_empty() {
                Some(format!("deadlock: tasks {unfinished:?} all wait"))
            } else {
                None
            };
            match why {
                None => {
                    s.steps += 1;
                    let me = s.running.filter(|r| ready.contains(r));
                    return Some(match me {
                        Some(r) if next_random(&mut s.rng) % 4 < s.stay => r,
                        _ => ready[(next_random(&mut s.rng) % ready.len() as u64) as usize],
                    });
                }
                Some(why) => {
                    if s.failure.is_none() {
                        s.failure = Some(format!("seed {}: {why}", s.seed));
                    }
                    s.abort = true;
                }
            }
        }
        Some(unfinished[0])
    }

    /// Hand the turn to `next` (perhaps `me` itself) and wait for it to come back.
    fn hand_over(&self, mut s: MutexGuard<'_, State>, me: usize, next: usize) {
        s.running = Some(next);
        if next != me {
            self.turns[next].notify_one();
            while s.running != Some(me) {
                s = self.turns[me].wait(s).unwrap_or_else(|e| e.into_inner());
            }
        }
        if s.abort {
            drop(s);
            resume_unwind(Box::new(Aborted));
        }
    }

    /// End of a step of task `me`: check, then let the seed choose who goes on.
    fn yield_turn(&self, me: usize, waiting: bool) {
        if !self.lock().abort {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.after_step)())) {
                let mut s = self.lock();
                let at = s.steps;
                let seed = s.seed;
                s.failure.get_or_insert(format!("seed {seed}: check after step {at}: {}", message(&*payload)));
            }
        }
        let mut s = self.lock();
        s.waiting[me] = waiting;
        let next = self.pick(&mut s).expect("this task has not finished");
        self.hand_over(s, me, next);
    }

    /// Task `me` ended (`failure`: with a panic): the next one runs.
    fn finish(&self, me: usize, failure: Option<String>) {
        if failure.is_none() && !self.lock().abort {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.after_step)())) {
                let mut s = self.lock();
                let seed = s.seed;
                s.failure.get_or_insert(format!("seed {seed}: check after task {me} ended: {}", message(&*payload)));
            }
        }
        let mut s = self.lock();
        if let Some(f) = failure {
            s.failure.get_or_insert(f);
        }
        s.finished[me] = true;
        match self.pick(&mut s) {
            Some(next) => {
                s.running = Some(next);
                self.turns[next].notify_one();
            }
            None => self.done.notify_all(),
        }
    }
}

fn current() -> Option<(Arc<Shared>, usize)> {
    TASK.with(|t| t.borrow().clone())
}

/// A switch point: in a task under [`run`], let the scheduler pick who runs
/// next (perhaps this task again).
pub fn switch() {
    if let Some((shared, me)) = current() {
        shared.yield_turn(me, false);
    }
}

/// The task cannot go on until another releases something: park it until
/// [`wake_all`]. Callers re-check their condition after it returns.
pub fn wait() {
    match current() {
        Some((shared, me)) => shared.yield_turn(me, true),
        None => std::thread::yield_now(),
    }
}

/// Something was released: every parked task may run again.
pub fn wake_all() {
    if let Some((shared, _)) = current() {
        shared.lock().waiting.iter_mut().for_each(|w| *w = false);
    }
}

/// splitmix64: the scheduler's generator.
pub fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Run `tasks` interleaved as `seed` chooses, calling `after_step` between
/// every two steps (all tasks parked; it runs on the thread of the task
/// that ended the step, so it owns what it reads: an `Arc` of the store). Returns the number of steps, or a description of
/// the first failure: a task's or the checker's panic, a deadlock, or more
/// than `max_steps` steps.
pub fn run<'env>(
    seed: u64,
    max_steps: u64,
    tasks: Vec<Box<dyn FnOnce() + Send + 'env>>,
    after_step: impl Fn() + Send + Sync + 'static,
) -> Result<u64, String> {
    let n = tasks.len();
    let mut rng = seed ^ 0x5EED_0F5C_4ED0_1E00;
    // how often the running task keeps the turn: varies with the seed, so
    // some runs switch at nearly every step and others rarely
    let stay = next_random(&mut rng) % 4;
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            running: None,
            finished: vec![false; n],
            waiting: vec![false; n],
            abort: false,
            failure: None,
            rng,
            stay,
            steps: 0,
            max_steps,
            seed,
        }),
        turns: (0..n).map(|_| Condvar::new()).collect(),
        done: Condvar::new(),
        after_step: Box::new(after_step),
    });
    std::thread::scope(|scope| {
        for (i, task) in tasks.into_iter().enumerate() {
            let shared = shared.clone();
            scope.spawn(move || {
                TASK.with(|t| *t.borrow_mut() = Some((shared.clone(), i)));
                let started = {
                    let mut s = shared.lock();
                    while s.running != Some(i) {
                        s = shared.turns[i].wait(s).unwrap_or_else(|e| e.into_inner());
                    }
                    !s.abort
                };
                let failure = match started.then(|| catch_unwind(AssertUnwindSafe(task))) {
                    Some(Err(payload)) if !payload.is::<Aborted>() => {
                        Some(format!("seed {seed}: task {i} panicked: {}", message(&*payload)))
                    }
                    _ => None,
                };
                shared.finish(i, failure);
                TASK.with(|t| *t.borrow_mut() = None);
            });
        }
        let mut s = shared.lock();
        if let Some(first) = shared.pick(&mut s) {
            s.running = Some(first);
            shared.turns[first].notify_one();
        }
        while s.finished.iter().any(|f| !f) {
            s = shared.done.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    });
    let s = shared.lock();
    match &s.failure {
        Some(f) => Err(f.clone()),
        None => Ok(s.steps),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Two tasks incrementing a counter with a read, a switch, and a write:
    /// some seeds lose an update, and a seed always gives the same result.
    #[test]
    fn interleavings_depend_on_the_seed_only() {
        let outcome = |seed: u64| {
            let counter = AtomicUsize::new(0);
            let bump = || {
                for _ in 0..3 {
                    let v = counter.load(Ordering::SeqCst);
                    switch();
                    counter.store(v + 1, Ordering::SeqCst);
                    switch();
                }
            };
            run(seed, 1000, vec![Box::new(bump), Box::new(bump)], || {}).expect("no failure");
            counter.load(Ordering::SeqCst)
        };
        let results: Vec<usize> = (0..40).map(outcome).collect();
        assert!(results.contains(&6), "{results:?}");
        assert!(results.iter().any(|&r| r < 6), "no seed lost an update: {results:?}");
        assert_eq!(results, (0..40).map(outcome).collect::<Vec<_>>());
    }

    #[test]
    fn a_panic_and_a_deadlock_are_reported_with_the_seed() {
        let err = run(7, 100, vec![Box::new(|| panic!("boom")), Box::new(switch)], || {}).unwrap_err();
        assert!(err.contains("seed 7") && err.contains("boom"), "{err}");
        let err = run(
            8,
            100,
            vec![Box::new(|| loop {
                wait()
            })],
            || {},
        )
        .unwrap_err();
        assert!(err.contains("deadlock"), "{err}");
        let err = run(
            9,
            100,
            vec![Box::new(|| loop {
                switch()
            })],
            || {},
        )
        .unwrap_err();
        assert!(err.contains("more than 100 steps"), "{err}");
    }

    #[test]
    fn the_checker_runs_between_steps() {
        let checks = Arc::new(AtomicUsize::new(0));
        let counted = checks.clone();
        let steps = run(3, 1000, vec![Box::new(|| (0..5).for_each(|_| switch()))], move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        // the first pick starts the task; each of its 5 switches and its
        // end is a step the checker follows
        assert_eq!(steps, 6);
        assert_eq!(checks.load(Ordering::SeqCst), 6);
    }
}
