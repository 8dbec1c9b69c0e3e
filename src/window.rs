//! How far parallel workers may run ahead of the one thread that takes their results in
//! order. Without a bound, a worker held up on item `k` (descheduled on a busy machine) lets
//! the others fill the reordering buffer with everything after it; with one, memory stays at
//! `ahead` items in flight however the threads are scheduled.

use std::sync::{Condvar, Mutex, PoisonError};

pub struct Window {
    ahead: u64,
    /// Items taken in order so far, and whether the taker stopped.
    state: Mutex<(u64, bool)>,
    moved: Condvar,
}

impl Window {
    pub fn new(ahead: usize) -> Window {
        Window {
            ahead: ahead.max(1) as u64,
            state: Mutex::new((0, false)),
            moved: Condvar::new(),
        }
    }

    /// Waits until item `seq` is within the window; false when the taker has stopped.
    pub fn enter(&self, seq: u64) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while seq >= state.0 + self.ahead && !state.1 {
            state = self.moved.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        !state.1
    }

    /// The taker took the next item in order.
    pub fn advance(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0 += 1;
        self.moved.notify_all();
    }

    /// The taker stops: nobody waits any more.
    pub fn close(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.moved.notify_all();
    }
}

/// Closes the window when dropped, however the taker leaves (an error, a panic).
pub struct Closing<'a>(pub &'a Window);

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_wait_for_the_taker_and_are_released_when_it_stops() {
        let w = Window::new(2);
        assert!(w.enter(0) && w.enter(1));
        std::thread::scope(|s| {
            let late = s.spawn(|| w.enter(3));
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!late.is_finished(), "3 is beyond 0 + 2");
            w.advance();
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!late.is_finished(), "3 is beyond 1 + 2");
            w.advance();
            assert!(late.join().unwrap());
        });
        std::thread::scope(|s| {
            let stuck = s.spawn(|| w.enter(100));
            w.close();
            assert!(!stuck.join().unwrap());
        });
    }
}
