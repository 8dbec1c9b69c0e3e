//! When the next request may leave: one gate shared by every worker.
//!
//! Three things hold requests back: the `--max-rpm` pace (requests evenly spaced, one
//! interval apart), a pause after a 429 (`Retry-After`, during which nothing is sent), and the
//! server's own `inin-ratelimit-*` headers (when the allowance is nearly spent, the pace
//! slows so that what is left lasts until the window resets).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

#[derive(Debug)]
struct State {
    /// The earliest moment the next request may leave.
    next: Instant,
    /// No request before this moment (a `Retry-After` in force).
    paused_until: Option<Instant>,
    /// A slower pace asked for by the server's headers, and until when.
    slow: Option<(Duration, Instant)>,
}

/// The shared gate.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    state: Mutex<State>,
}

/// The server's `inin-ratelimit-*` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateHeaders {
    pub count: u64,
    pub allowed: u64,
    pub reset: Duration,
}

impl Pacer {
    /// At most `per_minute` requests a minute.
    pub fn new(per_minute: u32) -> Pacer {
        let interval = Duration::from_secs(60).div_f64(f64::from(per_minute.max(1)));
        Pacer {
            interval,
            state: Mutex::new(State {
                next: Instant::now(),
                paused_until: None,
                slow: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for this request's slot: its place in the pace, and the end of any pause,
    /// including one that starts while it waits.
    pub async fn wait(&self) {
        let slot = {
            let mut s = self.lock();
            let now = Instant::now();
            let interval = match s.slow {
                Some((slow, until)) if until > now => slow.max(self.interval),
                _ => self.interval,
            };
            let slot = s.next.max(now);
            s.next = slot + interval;
            slot
        };
        sleep_until(slot).await;
        loop {
            let paused = self.lock().paused_until.filter(|&p| p > Instant::now());
            match paused {
                Some(p) => sleep_until(p).await,
                None => return,
            }
        }
    }

    /// Nothing leaves before `until` (extends, never shortens, a pause in force).
    pub fn pause_until(&self, until: Instant) {
        let mut s = self.lock();
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
    }

    /// When a pause is in force, its end.
    pub fn paused_until(&self) -> Option<Instant> {
        self.lock().paused_until.filter(|&p| p > Instant::now())
    }

    /// Slows down when less than a fifth of the server's allowance is left.
    pub fn observe(&self, h: RateHeaders) {
        if h.allowed == 0 || h.count * 5 < h.allowed * 4 {
            return;
        }
        let left = h.allowed.saturating_sub(h.count).max(1);
        let spread = h.reset.div_f64(left as f64);
        self.lock().slow = Some((spread, Instant::now() + h.reset));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn paces_requests_evenly() {
        let p = Pacer::new(6000); // 10 ms apart
        let start = Instant::now();
        for _ in 0..5 {
            p.wait().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(40), "{took:?}");
        assert!(took < Duration::from_millis(400), "{took:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_pause_holds_everyone() {
        let p = Pacer::new(60_000);
        p.pause_until(Instant::now() + Duration::from_millis(80));
        p.pause_until(Instant::now() + Duration::from_millis(10));
        let start = Instant::now();
        p.wait().await;
        assert!(start.elapsed() >= Duration::from_millis(75));
    }

    #[test]
    fn headers_slow_the_pace_only_near_the_limit() {
        let p = Pacer::new(300);
        p.observe(RateHeaders {
            count: 100,
            allowed: 300,
            reset: Duration::from_secs(60),
        });
        assert!(p.lock().slow.is_none());
        p.observe(RateHeaders {
            count: 290,
            allowed: 300,
            reset: Duration::from_secs(20),
        });
        let (slow, _) = p.lock().slow.unwrap();
        assert_eq!(slow, Duration::from_secs(2));
    }
}
