//! Crash and resume: gcorr killed with SIGKILL halfway through a fetch with `--cache-dir`
//! loses nothing that was fetched; the rerun asks only for what is missing, and its output
//! equals an uninterrupted run's, conversations read back from the cache saying `cached`.

use super::*;

/// A timeline with its enrichment reduced to what a cached read and a fetch share: the
/// status (`cached` counted as `ok`). A cached conversation made no request, so it has no
/// HTTP status, attempts or correlation id.
fn comparable(t: &Value) -> Value {
    let mut t = t.clone();
    let status = match t["enrichment"]["status"].as_str() {
        Some("cached") => "ok".to_owned(),
        Some(s) => s.to_owned(),
        None => "<none>".to_owned(),
    };
    t["enrichment"] = json!({ "status": status });
    t
}

#[test]
fn killed_mid_fetch_resumes_from_the_cache() {
    let ids = ids("resume", 2000);
    let fake = Fake::start(FakeConfig {
        faults: Faults {
            latency: Latency::Fixed(Duration::from_millis(5)),
            ..Faults::default()
        },
        // An allowance the run never nears: gcorr would rightly slow down near it.
        ratelimit_allowed: 1_000_000,
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let cache = case.path("cache");
    let args = ["--concurrency", "8"];

    let mut child = Gcorr::against(&fake, &case)
        .args(args)
        .arg("--cache-dir")
        .arg(&cache)
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.log.ok_counts().len() < ids.len() / 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL"); // kill -9
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), None, "killed by the signal, not finished");
    let answered = fake.log.ok_counts().len();
    assert!(
        answered >= ids.len() / 2 && answered < ids.len(),
        "killed halfway: {answered} of {} answered",
        ids.len()
    );

    // Every cache file is a whole answer: no temporary or torn file is taken for one.
    let cached: BTreeSet<String> = files_under(&cache)
        .iter()
        .filter_map(|f| f.file_name()?.to_str()?.strip_suffix(".json").map(str::to_owned))
        .filter(|name| ids.contains(name))
        .collect();
    assert!(
        cached.len() + 16 >= answered && cached.len() <= answered,
        "{} cached of {answered} answered",
        cached.len()
    );

    let before = fake.log.api_requests().len();
    let rerun = Gcorr::against(&fake, &case)
        .args(args)
        .arg("--cache-dir")
        .arg(&cache)
        .run();
    rerun.expect(0);
    let asked: BTreeSet<String> = fake.log.api_requests()[before..]
        .iter()
        .flat_map(|e| e.ids.clone())
        .collect();
    let missing: BTreeSet<String> = ids.iter().filter(|id| !cached.contains(*id)).cloned().collect();
    assert_eq!(asked, missing, "the rerun fetches exactly what is missing");
    eprintln!(
        "resume: killed with {answered} of {} answered and {} cached; the rerun fetched {} in {:?}",
        ids.len(),
        cached.len(),
        asked.len(),
        rerun.elapsed
    );
    for id in &ids {
        let want = if cached.contains(id) { "cached" } else { "ok" };
        assert_eq!(rerun.status(id), want, "{id}");
    }

    // The same input read again, fetching everything afresh.
    let whole = Gcorr::against(&fake, &case).args(args).run();
    whole.expect(0).expect_all(&ids, "ok");
    assert_eq!(rerun.timelines.len(), whole.timelines.len());
    for (a, b) in rerun.timelines.iter().zip(&whole.timelines) {
        assert_eq!(
            comparable(a),
            comparable(b),
            "resumed and uninterrupted runs agree"
        );
    }
}
