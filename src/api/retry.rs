//! The retry policy, pure: what an answer means, how long to wait, when to give up.
//!
//! The numbers follow what has worked for the AWS SDKs and the Genesys SDKs (minus their
//! bugs): full-jitter exponential backoff capped at 20 s,
//! `Retry-After` in seconds or as an HTTP-date, an AWS-style retry budget that stops a total
//! outage from turning into a flood of retries.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// What to do with one answer's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Success,
    NotFound,
    Forbidden,
    /// The token was refused: renew it and resend.
    Unauthorized,
    /// 429 (or a 503 carrying `Retry-After`): pause everyone, then resend.
    RateLimited,
    /// A transient failure: back off and resend.
    Retry,
    /// Anything else: resending would not help.
    Fail,
}

/// Classifies an HTTP status; `has_retry_after` turns a 503 into a rate limit.
pub fn classify(status: u16, has_retry_after: bool) -> Verdict {
    match status {
        200..=299 => Verdict::Success,
        404 => Verdict::NotFound,
        403 => Verdict::Forbidden,
        401 => Verdict::Unauthorized,
        429 => Verdict::RateLimited,
        503 if has_retry_after => Verdict::RateLimited,
        408 | 500 | 502 | 503 | 504 => Verdict::Retry,
        _ => Verdict::Fail,
    }
}

/// Longest backoff between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(20);
/// A `Retry-After` longer than this means a quota is exhausted, not a burst (the SDKs' ceiling).
pub const QUOTA_RETRY_AFTER: Duration = Duration::from_secs(180);
/// Pause after a 429 without `Retry-After`: 3 s doubling per consecutive 429, capped.
pub fn default_rate_pause(consecutive: u32) -> Duration {
    Duration::from_secs(3u64.saturating_mul(1 << consecutive.saturating_sub(1).min(5)))
        .min(Duration::from_secs(60))
}

/// Full jitter: uniform in `[0, min(MAX_BACKOFF, base·2^(retry-1)))`; `unit` is uniform in [0, 1).
pub fn backoff(retry: u32, base: Duration, unit: f64) -> Duration {
    let cap = base
        .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
        .min(MAX_BACKOFF);
    cap.mul_f64(unit.clamp(0.0, 1.0))
}

/// Parses `Retry-After`: delta seconds, or an HTTP-date (IMF-fixdate, RFC 850, asctime).
/// Garbage gives `None`; a date in the past gives zero.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = parse_http_date(v)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn parse_http_date(v: &str) -> Option<SystemTime> {
    const FORMATS: [&str; 3] = [
        "%a, %d %b %Y %H:%M:%S GMT", // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        "%A, %d-%b-%y %H:%M:%S GMT", // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        "%a %b %e %H:%M:%S %Y",      // asctime: Sun Nov  6 08:49:37 1994
    ];
    for f in FORMATS {
        if let Ok(dt) = jiff::civil::DateTime::strptime(f, v) {
            let mut dt = dt;
            // RFC 850's two-digit years: RFC 9110 reads those over 50 years ahead as the past.
            if f.contains("%y") && dt.year() < 1970 {
                dt = dt.checked_add(jiff::Span::new().years(100)).ok()?;
            }
            let ts = jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()?;
            return SystemTime::try_from(ts).ok();
        }
    }
    None
}

/// The AWS SDKs' retry quota: retries spend tokens, successes refund one. In a total outage
/// the bucket empties after about a hundred retries and the run stops hammering.
#[derive(Debug)]
pub struct Budget {
    tokens: Mutex<u32>,
    capacity: u32,
}

pub const RETRY_COST: u32 = 5;
pub const TIMEOUT_COST: u32 = 10;

impl Budget {
    pub fn new(capacity: u32) -> Budget {
        Budget {
            tokens: Mutex::new(capacity),
            capacity,
        }
    }

    /// Takes `cost` tokens if there are that many.
    pub fn spend(&self, cost: u32) -> bool {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if *t >= cost {
            *t -= cost;
            true
        } else {
            false
        }
    }

    pub fn refund(&self) {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        *t = (*t + 1).min(self.capacity);
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_status_family() {
        assert_eq!(classify(200, false), Verdict::Success);
        assert_eq!(classify(404, false), Verdict::NotFound);
        assert_eq!(classify(403, false), Verdict::Forbidden);
        assert_eq!(classify(401, false), Verdict::Unauthorized);
        assert_eq!(classify(429, false), Verdict::RateLimited);
        assert_eq!(classify(503, true), Verdict::RateLimited);
        for s in [408, 500, 502, 503, 504] {
            assert_eq!(classify(s, false), Verdict::Retry, "{s}");
        }
        for s in [400, 405, 409, 410, 413, 422, 501, 505] {
            assert_eq!(classify(s, false), Verdict::Fail, "{s}");
        }
    }

    #[test]
    fn full_jitter_stays_under_the_cap() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(1, base, 0.0), Duration::ZERO);
        assert_eq!(backoff(1, base, 0.5), Duration::from_millis(500));
        assert_eq!(backoff(3, base, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(30, base, 0.999_999).as_secs(), 19);
        assert!(backoff(40, Duration::from_secs(3600), 1.0) <= MAX_BACKOFF);
    }

    #[test]
    fn rate_pause_without_retry_after_doubles_to_a_cap() {
        assert_eq!(default_rate_pause(1), Duration::from_secs(3));
        assert_eq!(default_rate_pause(2), Duration::from_secs(6));
        assert_eq!(default_rate_pause(9), Duration::from_secs(60));
    }

    #[test]
    fn retry_after_in_all_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_767); // Sun, 06 Nov 1994 08:49:27 GMT
        assert_eq!(parse_retry_after("42", now), Some(Duration::from_secs(42)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:37 1994", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn budget_spends_and_refunds() {
        let b = Budget::new(12);
        assert!(b.spend(RETRY_COST));
        assert!(b.spend(RETRY_COST));
        assert!(!b.spend(RETRY_COST));
        b.refund();
        b.refund();
        b.refund();
        assert!(b.spend(RETRY_COST));
        for _ in 0..100 {
            b.refund();
        }
        assert!(b.spend(TIMEOUT_COST));
        assert!(!b.spend(TIMEOUT_COST));
    }
}
