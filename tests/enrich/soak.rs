//! The fault soak (ignored by default; `scripts/soak.sh` runs it): 20,000 conversations
//! against the fake Genesys with rate limiting, server errors, dropped connections, latency
//! and short-lived tokens all at once. Everything must end `ok`, each conversation answered
//! exactly once, tokens renewed only when they expire (at most run time / lifetime + 1),
//! never a request inside a Retry-After window, never more in flight than `--concurrency`.

use super::fake::Mode;
use super::*;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "a soak of about 20 minutes: scripts/soak.sh"]
fn soak_faults_under_load() {
    let n: usize = env_or("GCORR_SOAK_CONVERSATIONS", 20_000);
    let concurrency: usize = env_or("GCORR_SOAK_CONCURRENCY", 16);
    let lifetime: u64 = env_or("GCORR_SOAK_TOKEN_LIFETIME_S", 10);
    let ids = ids("soak", n);
    let fake = Fake::start(FakeConfig {
        expires_in: lifetime,
        faults: Faults {
            latency: Latency::Range(Duration::from_millis(20), Duration::from_millis(80)),
            p429: 0.05,
            retry_after: RetryAfter::Seconds(1),
            p503: 0.03,
            p_drop: 0.01,
            ..Faults::default()
        },
        mode: Mode::Raw,
        // An allowance the run never nears: gcorr would rightly slow down near it.
        ratelimit_allowed: 10_000_000,
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case)
        .args(["--concurrency", &concurrency.to_string()])
        // Production waits, but for the token: renewed 100 ms before it expires, so that the
        // tokens requested match the run time over the lifetime.
        .args(["--backoff-base-ms", "1000", "--request-timeout-ms", "20000"])
        .args(["--token-margin-ms", "100", "--max-rpm", "100000"])
        .run_for(Duration::from_secs(3600));
    out.expect(0).expect_all(&ids, "ok");
    assert_each_answered_once(&fake, &ids);

    let span = fake.log.api_span().as_secs_f64();
    let tokens = fake.log.token_requests();
    let expected = span / lifetime as f64;
    let violations = fake.log.window_violations(GRACE);
    let max_in_flight = fake.log.max_in_flight();
    let statuses = fake.log.statuses();
    let api = fake.log.api_requests().len();
    let faults = fake
        .log
        .api_requests()
        .iter()
        .filter(|e| e.fault.is_some())
        .count();
    println!(
        "soak: {n} conversations, concurrency {concurrency}: {:.1} s; {api} API requests \
         ({faults} faulted, statuses {statuses:?}); {} Retry-After windows, {} requests inside \
         one; {tokens} token requests for {span:.1} s of {lifetime} s tokens ({expected:.1} \
         expected); max in flight {max_in_flight}",
        out.elapsed.as_secs_f64(),
        fake.log.windows().len(),
        violations.len(),
    );
    assert!(
        violations.is_empty(),
        "requests inside a Retry-After window: {}",
        violations.len()
    );
    assert!(max_in_flight <= concurrency, "{max_in_flight} in flight");
    // Tokens are requested when needed, not on a timer: one that expires during a Retry-After
    // pause is renewed when the pause ends, so a run that pauses often needs a few fewer than
    // run time / lifetime. Never more than that plus one, never one renewed long before the
    // previous expired, never a request with an expired token.
    assert!(
        tokens as f64 <= expected + 1.0,
        "{tokens} token requests over {span:.1} s with {lifetime} s tokens"
    );
    let issued = fake.log.issued();
    for pair in issued.windows(2) {
        let used = pair[1].at.duration_since(pair[0].at).as_secs_f64();
        assert!(
            used >= lifetime as f64 - 0.5,
            "a token renewed after {used:.2} s of its {lifetime} s"
        );
    }
    assert_eq!(fake.log.count_status(401), 0, "no request with an expired token");
}
