//! How far parallel workers may run ahead of the one thread that takes their results in
//! order. Without a bound, a worker held up on item `k` (descheduled on a busy machine) lets
//! the others fill the reordering buffer with everything after it; with one, memory stays at
//! `ahead` items in flight however the threads are scheduled.
//!
//! Items are numbered `(lane, seq)` and taken lane by lane: all of lane 0, then lane 1...
//! (the inputs, read on several threads, each numbering its own batches). The lane being taken
//! may run `ahead` items ahead; the next [`LANES_AHEAD`] lanes half as many each, so that the
//! next inputs are read meanwhile; lanes after those wait, so memory does not grow with the
//! number of inputs, however small.

use std::sync::{Condvar, Mutex, PoisonError};

/// Lanes after the one being taken that may be entered.
pub const LANES_AHEAD: u32 = 2;

pub struct Window {
    ahead: u64,
    state: Mutex<State>,
    moved: Condvar,
}

#[derive(Default)]
struct State {
    /// The lane being taken, and how many of its items were taken.
    lane: u32,
    taken: u64,
    stopped: bool,
}

impl Window {
    pub fn new(ahead: usize) -> Window {
        Window {
            ahead: ahead.max(1) as u64,
            state: Mutex::new(State::default()),
            moved: Condvar::new(),
        }
    }

    /// Waits until item `seq` of `lane` is within the window; false when the taker has
    /// stopped.
    pub fn enter(&self, lane: u32, seq: u64) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let limit = match lane.cmp(&state.lane) {
                std::cmp::Ordering::Greater if lane - state.lane <= LANES_AHEAD => (self.ahead / 2).max(1),
                std::cmp::Ordering::Greater => 0,
                _ => state.taken + self.ahead,
            };
            if seq < limit || state.stopped {
                return !state.stopped;
            }
            state = self.moved.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The taker took the next item of its lane.
    pub fn advance(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).taken += 1;
        self.moved.notify_all();
    }

    /// The taker is done with its lane and goes on to the next.
    pub fn next_lane(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.lane += 1;
        state.taken = 0;
        drop(state);
        self.moved.notify_all();
    }

    /// The taker stops: nobody waits any more.
    pub fn close(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).stopped = true;
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
        assert!(w.enter(0, 0) && w.enter(0, 1));
        std::thread::scope(|s| {
            let late = s.spawn(|| w.enter(0, 3));
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!late.is_finished(), "3 is beyond 0 + 2");
            w.advance();
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!late.is_finished(), "3 is beyond 1 + 2");
            w.advance();
            assert!(late.join().unwrap());
        });
        std::thread::scope(|s| {
            let stuck = s.spawn(|| w.enter(0, 100));
            w.close();
            assert!(!stuck.join().unwrap());
        });
    }

    #[test]
    fn later_lanes_run_half_as_far_ahead_until_their_turn() {
        let w = Window::new(4);
        assert!(w.enter(1, 0) && w.enter(1, 1) && w.enter(2, 1));
        std::thread::scope(|s| {
            let ahead = s.spawn(|| w.enter(1, 2));
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!ahead.is_finished(), "lane 1 waits while lane 0 is taken");
            w.advance();
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!ahead.is_finished(), "items of lane 0 do not count for lane 1");
            w.next_lane();
            assert!(ahead.join().unwrap());
        });
        assert!(w.enter(1, 3), "lane 1 is taken now: 4 ahead");
        std::thread::scope(|s| {
            let far = s.spawn(|| w.enter(1 + LANES_AHEAD + 1, 0));
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(
                !far.is_finished(),
                "a lane too far ahead waits, even for its first item"
            );
            w.next_lane();
            assert!(far.join().unwrap());
        });
    }
}
