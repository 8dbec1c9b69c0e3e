//! Enrichment from the Genesys Cloud API, end to end: the real `gcorr` binary against the fake
//! Genesys of fake.rs on 127.0.0.1. Behaviour the server can see (requests, tokens, pauses,
//! concurrency, pacing) is asserted from the server's log; the timelines are parsed back from
//! stdout and checked field by field. Every test starts its own server, writes its own events
//! (events.rs) into a temporary directory, and runs gcorr with a clean environment: the
//! credential, region and proxy variables of the host never reach the child.
//!
//! Waits are scaled down with gcorr's hidden knobs (`--backoff-base-ms`,
//! `--request-timeout-ms`, `--token-margin-ms`) and a high `--max-rpm`, so the whole suite takes
//! seconds, not minutes.

pub(crate) mod events;
pub(crate) mod fake;
mod resume;
mod soak;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::GENESYS_ENV;
use events::Ev;
use fake::{
    CLIENT_ID, CLIENT_SECRET, DEFAULT_SEED, Fake, FakeConfig, Fault, Faults, IdSet, Kind, Known, Latency,
    Model, Oversize, QUEUE_ID, RetryAfter, Revoke,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// A proxy from the host would sit between gcorr and the fake.
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

const STATUSES: [&str; 6] = ["ok", "cached", "not_found", "forbidden", "failed", "skipped"];

/// Conversation ids for a test: stable v4-shaped UUIDs, distinct per tag.
fn ids(tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| fake::derive_uuid(&["conversation", tag, &i.to_string()]))
        .collect()
}

fn model(id: &str) -> Model {
    fake::model(DEFAULT_SEED, id)
}

/// A temporary directory with the events of some conversations and an empty HOME.
struct Case {
    dir: TempDir,
    home: PathBuf,
    input: PathBuf,
}

impl Case {
    fn new(ids: &[String]) -> Case {
        Case::with_extra(ids, &[])
    }

    /// Events of the generated conversations `ids`, plus hand-made ones.
    fn with_extra(ids: &[String], extra: &[Ev]) -> Case {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("home");
        fs::create_dir(&home).expect("home");
        let input = events::write(dir.path(), DEFAULT_SEED, ids, extra);
        Case { dir, home, input }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A `gcorr correlate` command being put together.
struct Gcorr {
    cmd: Command,
}

impl Gcorr {
    /// `gcorr correlate INPUT` with a clean environment and nowhere to connect to.
    fn bare(case: &Case) -> Gcorr {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gcorr"));
        cmd.current_dir(case.dir.path()).arg("correlate").arg(&case.input);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.to_ascii_uppercase().starts_with("GENESYS") {
                cmd.env_remove(&k);
            }
        }
        for k in GENESYS_ENV.iter().chain(PROXY_VARS.iter()) {
            cmd.env_remove(k);
        }
        cmd.env("HOME", &case.home);
        Gcorr { cmd }
    }

    /// Pointed at the fake, with the fake's client credentials and test-sized waits.
    fn against(fake: &Fake, case: &Case) -> Gcorr {
        Gcorr::bare(case)
            .args(["--api-base", &fake.url, "--login-base", &fake.url])
            .args(["--max-rpm", "60000"])
            .args(["--backoff-base-ms", "20", "--request-timeout-ms", "5000"])
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID)
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET)
    }

    fn arg(mut self, a: impl AsRef<OsStr>) -> Gcorr {
        self.cmd.arg(a);
        self
    }

    fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, a: I) -> Gcorr {
        self.cmd.args(a);
        self
    }

    fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Gcorr {
        self.cmd.env(k, v);
        self
    }

    fn without_credentials(mut self) -> Gcorr {
        for k in GENESYS_ENV {
            self.cmd.env_remove(k);
        }
        self
    }

    fn run(self) -> Out {
        self.run_for(Duration::from_secs(90))
    }

    /// Runs to the end, killed after `limit`.
    fn run_for(self, limit: Duration) -> Out {
        let started = Instant::now();
        let mut cmd = assert_cmd::Command::from_std(self.cmd);
        cmd.timeout(limit);
        let out = cmd.output().expect("gcorr runs");
        Out::new(out, started.elapsed())
    }

    fn spawn(mut self) -> std::process::Child {
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gcorr starts")
    }
}

/// A finished run, stdout parsed as JSON Lines.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    timelines: Vec<Value>,
    elapsed: Duration,
}

impl Out {
    fn new(out: std::process::Output, elapsed: Duration) -> Out {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let timelines = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}\nstderr:\n{stderr}"))
            })
            .collect();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout,
            stderr,
            timelines,
            elapsed,
        }
    }

    /// For assertion messages: the code, the statuses and the end of stderr.
    fn context(&self) -> String {
        let tail: String = {
            let s = &self.stderr;
            let cut = s.len().saturating_sub(3000);
            let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
            s[cut..].to_string()
        };
        format!(
            "exit {} after {:?}; statuses {:?}\n--- stderr (end) ---\n{tail}",
            self.code,
            self.elapsed,
            self.status_counts()
        )
    }

    /// The exit code is `code` and every timeline carries a well-formed `enrichment`.
    fn expect(&self, code: i32) -> &Out {
        assert_eq!(self.code, code, "unexpected exit code: {}", self.context());
        for t in &self.timelines {
            check_enrichment_contract(t);
        }
        self
    }

    fn timeline(&self, id: &str) -> &Value {
        let found: Vec<&Value> = self
            .timelines
            .iter()
            .filter(|t| t["conversation_id"] == id)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "exactly one timeline for {id}: {}",
            self.context()
        );
        found[0]
    }

    fn enrichment(&self, id: &str) -> &Value {
        &self.timeline(id)["enrichment"]
    }

    fn status(&self, id: &str) -> &str {
        self.enrichment(id)["status"].as_str().unwrap_or("<none>")
    }

    fn status_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for t in &self.timelines {
            let s = t["enrichment"]["status"].as_str().unwrap_or("<none>").to_string();
            *m.entry(s).or_insert(0) += 1;
        }
        m
    }

    /// One timeline per id, each with this status.
    fn expect_all(&self, ids: &[String], status: &str) {
        assert_eq!(
            self.timelines.len(),
            ids.len(),
            "one timeline per conversation: {}",
            self.context()
        );
        for id in ids {
            assert_eq!(self.status(id), status, "{id}: {}", self.context());
        }
    }
}

/// A fake with these faults and defaults otherwise.
fn with_faults(faults: Faults) -> Fake {
    Fake::start(FakeConfig {
        faults,
        ..FakeConfig::default()
    })
}

/// `enrichment` is `{status, error, http_status, attempts, correlation_id}` with those types.
fn check_enrichment_contract(t: &Value) {
    let e = &t["enrichment"];
    let status = e["status"]
        .as_str()
        .unwrap_or_else(|| panic!("enrichment.status in {e}"));
    assert!(STATUSES.contains(&status), "unknown status {status}");
    assert!(e["error"].is_null() || e["error"].is_string(), "error: {e}");
    assert!(
        e["http_status"].is_null() || e["http_status"].is_u64(),
        "http_status: {e}"
    );
    assert!(e["attempts"].is_u64(), "attempts: {e}");
    assert!(
        e["correlation_id"].is_null() || e["correlation_id"].is_string(),
        "correlation_id: {e}"
    );
    for k in ["status", "error", "http_status", "attempts", "correlation_id"] {
        assert!(e.get(k).is_some(), "enrichment lacks {k}: {e}");
    }
    assert!(t["participants"].is_array(), "participants: {t}");
}

/// The participant of this id in a timeline.
fn participant<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .find(|p| p["participant_id"] == id)
        .unwrap_or_else(|| panic!("no participant {id} in {}", t["participants"]))
}

fn session<'a>(p: &'a Value, id: &str) -> &'a Value {
    p["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("sessions of {p}"))
        .iter()
        .find(|s| s["session_id"] == id)
        .unwrap_or_else(|| panic!("no session {id} in {p}"))
}

fn has_media(p: &Value, media: &str) -> bool {
    p["media_types"]
        .as_array()
        .is_some_and(|m| m.iter().any(|x| x == media))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Conversations,
    Analytics,
}

/// The timeline carries the API's view of a generated conversation.
fn assert_like_model(t: &Value, m: &Model, source: Source) {
    for mp in &m.participants {
        let p = participant(t, &mp.id);
        assert_eq!(p["purpose"], mp.purpose, "{p}");
        assert_eq!(p["name"], mp.name.as_str(), "{p}");
        assert_eq!(p["user_id"], json!(mp.user_id), "{p}");
        if source == Source::Conversations {
            assert_eq!(p["queue_id"], json!(mp.queue_id), "{p}");
        }
        assert!(has_media(p, m.media), "media {} in {p}", m.media);
        for ms in &mp.sessions {
            let s = session(p, &ms.id);
            assert_eq!(s["media_type"], ms.media, "{s}");
            assert_eq!(s["direction"], ms.direction, "{s}");
            if source == Source::Conversations {
                assert_eq!(s["state"], "disconnected", "{s}");
                assert_eq!(s["connected"], fake::iso(ms.connected_ms), "{s}");
                assert_eq!(s["disconnected"], fake::iso(ms.disconnected_ms), "{s}");
                assert_eq!(s["disconnect_type"], ms.disconnect.snake(), "{s}");
            }
            let segs = s["segments"].as_array().expect("segments");
            assert_eq!(segs.len(), ms.segments.len(), "{s}");
            for (g, mg) in segs.iter().zip(&ms.segments) {
                let kind = g["type"].as_str().unwrap_or("");
                assert!(kind.eq_ignore_ascii_case(mg.kind), "segment type: {g}");
                assert_eq!(g["start"], fake::iso(mg.start_ms), "{g}");
                assert_eq!(g["end"], fake::iso(mg.end_ms), "{g}");
                assert_eq!(
                    g["disconnect_type"],
                    json!(mg.disconnect.map(|d| d.snake())),
                    "{g}"
                );
                if source == Source::Analytics {
                    assert_eq!(g["queue_id"], json!(mg.queue_id), "{g}");
                    assert_eq!(g["wrapup_code"], json!(mg.wrapup_code), "{g}");
                }
            }
        }
    }
}

/// No id got more than one 200, and each of `ids` exactly one.
fn assert_each_answered_once(fake: &Fake, ids: &[String]) {
    let counts = fake.log.ok_counts();
    for id in ids {
        assert_eq!(
            counts.get(id).copied().unwrap_or(0),
            1,
            "{id} answered 200 exactly once"
        );
    }
    assert!(
        counts.values().all(|&n| n == 1),
        "no id fetched twice: {counts:?}"
    );
}

/// A number anywhere in a JSON document under one of these keys (compared lower case, letters
/// and digits only, so `token_requests`, `tokenRequests` and `Token requests` are one key).
fn find_number(v: &Value, names: &[&str]) -> Option<f64> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let wanted: Vec<String> = names.iter().map(|n| norm(n)).collect();
    let mut queue = std::collections::VecDeque::from([v]);
    while let Some(v) = queue.pop_front() {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if wanted.contains(&norm(k)) {
                        if let Some(n) = x.as_f64() {
                            return Some(n);
                        }
                    }
                }
                queue.extend(m.values());
            }
            Value::Array(a) => queue.extend(a),
            _ => {}
        }
    }
    None
}

/// Every file under a directory, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP client, to check the fake itself without gcorr
// ---------------------------------------------------------------------------------------------

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// One request on its own connection (`Connection: close`), the answer read to the end.
fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    })
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn get_token(fake: &Fake) -> String {
    let r = http(
        fake.addr,
        "POST",
        "/oauth/token",
        &[
            ("authorization", &basic(CLIENT_ID, CLIENT_SECRET)),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        "grant_type=client_credentials",
    )
    .expect("token request");
    assert_eq!(r.status, 200);
    r.json()["access_token"].as_str().expect("token").to_string()
}

fn get(fake: &Fake, target: &str, token: &str) -> std::io::Result<Resp> {
    let auth = format!("Bearer {token}");
    http(fake.addr, "GET", target, &[("authorization", &auth)], "")
}

// ---------------------------------------------------------------------------------------------
// The fake itself (these pass without gcorr's enrichment)
// ---------------------------------------------------------------------------------------------

#[test]
fn fake_login_follows_oauth_client_credentials() {
    let fake = Fake::start(FakeConfig {
        expires_in: 1234,
        ..FakeConfig::default()
    });
    let form = ("content-type", "application/x-www-form-urlencoded");
    let ok = http(
        fake.addr,
        "POST",
        "/oauth/token",
        &[("authorization", &basic(CLIENT_ID, CLIENT_SECRET)), form],
        "grant_type=client_credentials",
    )
    .unwrap();
    assert_eq!(ok.status, 200);
    let body = ok.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1234);
    let token = body["access_token"].as_str().unwrap();
    assert!(token.len() > 20);
    assert!(ok.header("ININ-Correlation-Id").is_some());

    let wrong = http(
        fake.addr,
        "POST",
        "/oauth/token",
        &[("authorization", &basic(CLIENT_ID, "nope")), form],
        "grant_type=client_credentials",
    )
    .unwrap();
    assert_eq!(wrong.status, 401);
    let e = wrong.json();
    assert_eq!(e["error"], "invalid_client");
    assert!(e["description"].is_string() && e["error_description"].is_string());

    let grant = http(
        fake.addr,
        "POST",
        "/oauth/token",
        &[("authorization", &basic(CLIENT_ID, CLIENT_SECRET)), form],
        "grant_type=password",
    )
    .unwrap();
    assert_eq!(grant.status, 400);
    assert_eq!(grant.json()["error"], "unsupported_grant_type");

    let second = get_token(&fake);
    assert_ne!(second, token, "a new token per issue");
    assert_eq!(fake.log.token_requests(), 4);
    assert_eq!(fake.log.issued_tokens(), vec![token.to_string(), second]);
    assert_eq!(fake.log.api_requests().len(), 0);
}

#[test]
fn fake_conversations_api_answers_in_the_real_shape() {
    let ids = ids("fake-conv", 3);
    let gone = ids[2].clone();
    let fake = Fake::start(FakeConfig {
        known: Known::AllExcept(HashSet::from([gone.clone()])),
        ..FakeConfig::default()
    });
    let token = get_token(&fake);

    let r = get(&fake, &format!("/api/v2/conversations/{}", ids[0]), &token).unwrap();
    assert_eq!(r.status, 200);
    for h in [
        "ININ-Correlation-Id",
        "inin-ratelimit-count",
        "inin-ratelimit-allowed",
        "inin-ratelimit-reset",
    ] {
        assert!(r.header(h).is_some(), "{h}");
    }
    let c = r.json();
    let m = model(&ids[0]);
    assert_eq!(c["id"], ids[0].as_str());
    assert_eq!(c["startTime"], fake::iso(m.start_ms));
    let parts = c["participants"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    let agent = &parts[2];
    assert_eq!(agent["purpose"], "agent");
    assert!(agent["userId"].is_string() && agent["queueId"] == QUEUE_ID);
    let comm = &agent[fake::media_array(m.media)][0];
    assert_eq!(comm["disconnectType"], "transfer.consult");
    assert_eq!(comm["state"], "disconnected");
    assert!(comm["segments"].as_array().unwrap().len() == 3);
    assert_eq!(c, fake::conversation_json(&m), "the generator is deterministic");

    let nf = get(&fake, &format!("/api/v2/conversations/{gone}"), &token).unwrap();
    assert_eq!(nf.status, 404);
    let e = nf.json();
    assert_eq!(e["code"], "not.found");
    assert_eq!(e["status"], 404);
    assert_eq!(e["details"], json!([]));
    assert_eq!(e["errors"], json!([]));
    assert_eq!(
        e["contextId"].as_str(),
        nf.header("ININ-Correlation-Id"),
        "contextId is the correlation id"
    );

    let anon = http(
        fake.addr,
        "GET",
        &format!("/api/v2/conversations/{}", ids[1]),
        &[],
        "",
    )
    .unwrap();
    assert_eq!(anon.status, 401);
    let bogus = get(&fake, &format!("/api/v2/conversations/{}", ids[1]), "bogus").unwrap();
    assert_eq!(bogus.status, 401);

    let log = fake.log.api_requests();
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].token.as_deref(), Some(token.as_str()));
    assert_eq!(log[0].ids, vec![ids[0].clone()]);
    assert_eq!(
        log.iter().map(|e| e.status).collect::<Vec<_>>(),
        [200, 404, 401, 401]
    );
    assert_eq!(log[1].correlation_id.as_deref(), nf.header("ININ-Correlation-Id"));
    assert_eq!(fake.log.ok_counts().get(&ids[0]), Some(&1));
    assert_eq!(fake.log.max_in_flight(), 1);
}

#[test]
fn fake_analytics_api_batches_and_refuses_big_batches() {
    let ids = ids("fake-analytics", 5);
    let fake = Fake::start(FakeConfig {
        known: Known::AllExcept(HashSet::from([ids[4].clone()])),
        max_batch: 4,
        ..FakeConfig::default()
    });
    let token = get_token(&fake);
    let target = |ids: &[String]| format!("/api/v2/analytics/conversations/details?id={}", ids.join(","));
    let r = get(&fake, &target(&ids[2..5]), &token).unwrap();
    assert_eq!(r.status, 200);
    let convs = r.json()["conversations"].as_array().unwrap().clone();
    assert_eq!(convs.len(), 2, "the unknown id is left out");
    assert_eq!(convs[0], fake::analytics_json(&model(&ids[2])));
    let p = &convs[0]["participants"][2];
    assert_eq!(p["purpose"], "agent");
    let seg = &p["sessions"][0]["segments"][1];
    assert_eq!(seg["segmentType"], "interact");
    assert_eq!(seg["disconnectType"], "consultTransfer");
    assert_eq!(seg["queueId"], QUEUE_ID);
    assert!(p["sessions"][0]["segments"][2]["wrapUpCode"].is_string());

    let encoded = format!(
        "/api/v2/analytics/conversations/details?id={}%2C{}",
        ids[0], ids[1]
    );
    assert_eq!(
        get(&fake, &encoded, &token).unwrap().json()["conversations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let big = get(&fake, &target(&ids), &token).unwrap();
    assert_eq!(big.status, 400);
    let log = fake.log.api_requests();
    assert_eq!(log[0].ids, ids[2..5].to_vec());
    assert_eq!(log[0].answered, ids[2..4].to_vec());
    assert_eq!(log[2].status, 400);
    assert!(log.iter().all(|e| e.kind == Kind::Analytics));
}

#[test]
fn fake_faults_are_reproducible_and_windows_recorded() {
    let ids = ids("fake-faults", 30);
    let faults = Faults {
        p503: 0.3,
        p429: 0.1,
        retry_after: RetryAfter::Seconds(1),
        faulty_attempts: 2,
        ..Faults::default()
    };
    let statuses = |seed: u64| -> Vec<u16> {
        let fake = Fake::start(FakeConfig {
            seed,
            faults: faults.clone(),
            ..FakeConfig::default()
        });
        let token = get_token(&fake);
        let mut out = Vec::new();
        for _attempt in 0..3 {
            for id in &ids {
                out.push(
                    get(&fake, &format!("/api/v2/conversations/{id}"), &token)
                        .unwrap()
                        .status,
                );
            }
        }
        out
    };
    let a = statuses(1);
    assert_eq!(a, statuses(1), "same seed, same faults");
    assert_ne!(a, statuses(2), "another seed, other faults");
    assert!(a[..60].contains(&503) && a[..60].contains(&429));
    assert!(a[60..].iter().all(|&s| s == 200), "attempt 3 is never faulted");

    // A scripted 429 opens a window; a request inside it is reported.
    let fake = with_faults(Faults {
        script: vec![
            (1, Fault::TooMany(RetryAfter::Seconds(2))),
            (3, Fault::TooMany(RetryAfter::HttpDate(2))),
        ],
        ..Faults::default()
    });
    let token = get_token(&fake);
    let one = format!("/api/v2/conversations/{}", ids[0]);
    let r = get(&fake, &one, &token).unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("2"));
    assert_eq!(r.json()["code"], "too.many.requests.retry.after");
    assert_eq!(get(&fake, &one, &token).unwrap().status, 200);
    let dated = get(&fake, &one, &token).unwrap();
    assert_eq!(dated.status, 429);
    let date = dated.header("Retry-After").unwrap();
    assert!(date.ends_with(" GMT") && date.len() == 29, "IMF-fixdate: {date}");
    let w = fake.log.windows();
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].until - w[0].from, Duration::from_secs(2));
    assert!(w[1].until - w[1].from <= Duration::from_secs(2));
    let v = fake.log.window_violations(Duration::from_millis(100));
    assert!(
        !v.is_empty(),
        "the retry of the same id inside the window is caught"
    );
    assert!(v.iter().all(|(_, e)| e.ids == vec![ids[0].clone()]));
}

#[test]
fn fake_transport_faults_misbehave_on_the_wire() {
    let ids = ids("fake-transport", 2);
    let fake = with_faults(Faults {
        script: vec![
            (1, Fault::Drop),
            (2, Fault::Truncate),
            (3, Fault::Oversize(Oversize::Declared)),
            (4, Fault::Oversize(Oversize::Streamed)),
        ],
        ..Faults::default()
    });
    assert!(fake.raw, "transport faults pick the raw server");
    let token = get_token(&fake);
    let path = format!("/api/v2/conversations/{}", ids[0]);

    match get(&fake, &path, &token) {
        Err(_) => {}
        Ok(r) => panic!("a dropped connection answered {}", r.status),
    }
    let t = get(&fake, &path, &token).unwrap();
    let declared: usize = t.header("content-length").unwrap().parse().unwrap();
    assert_eq!(t.status, 200);
    assert!(
        t.body.len() < declared,
        "truncated: {} of {declared}",
        t.body.len()
    );

    let big = get(&fake, &path, &token).unwrap();
    let declared: usize = big.header("content-length").unwrap().parse().unwrap();
    assert!(declared > fake::BODY_CAP && big.body.len() == declared);
    let v: Value = serde_json::from_slice(&big.body).unwrap();
    assert_eq!(
        v["id"],
        ids[0].as_str(),
        "an oversized body is still the right answer"
    );

    let streamed = get(&fake, &path, &token).unwrap();
    assert_eq!(streamed.header("transfer-encoding"), Some("chunked"));
    assert!(streamed.body.len() > fake::BODY_CAP);

    let fine = get(&fake, &path, &token).unwrap();
    assert_eq!(fine.status, 200);
    assert_eq!(fine.json()["id"], ids[0].as_str());

    let log = fake.log.api_requests();
    assert_eq!(
        log.iter().map(|e| e.status).collect::<Vec<_>>(),
        [0, 200, 200, 200, 200]
    );
    assert_eq!(log[0].fault.as_deref(), Some("drop"));
    assert_eq!(log[1].fault.as_deref(), Some("truncate"));
    assert_eq!(
        fake.log.ok_counts().get(&ids[0]),
        Some(&1),
        "only the clean 200 counts"
    );
    assert_eq!(log[4].attempt, 5);
}

#[test]
fn fake_tokens_expire_and_get_revoked() {
    let ids = ids("fake-tokens", 1);
    let path = format!("/api/v2/conversations/{}", ids[0]);
    let fake = Fake::start(FakeConfig {
        expires_in: 1,
        revoke: Revoke::FirstTokenAtUse(2),
        ..FakeConfig::default()
    });
    let first = get_token(&fake);
    assert_eq!(get(&fake, &path, &first).unwrap().status, 200);
    assert_eq!(get(&fake, &path, &first).unwrap().status, 401, "revoked at use 2");
    let second = get_token(&fake);
    assert_eq!(get(&fake, &path, &second).unwrap().status, 200);
    assert_eq!(get(&fake, &path, &second).unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(get(&fake, &path, &second).unwrap().status, 401, "expired");

    let ready = Fake::start(FakeConfig {
        ready_tokens: vec!["ready-made".into()],
        ..FakeConfig::default()
    });
    assert_eq!(get(&ready, &path, "ready-made").unwrap().status, 200);
    assert_eq!(ready.log.token_requests(), 0);
}

#[test]
fn fake_measures_concurrency() {
    let ids = ids("fake-concurrency", 5);
    let fake = with_faults(Faults {
        latency: Latency::Fixed(Duration::from_millis(300)),
        ..Faults::default()
    });
    let token = get_token(&fake);
    std::thread::scope(|s| {
        for id in &ids {
            let (fake, token) = (&fake, &token);
            s.spawn(move || {
                let r = get(fake, &format!("/api/v2/conversations/{id}"), token).unwrap();
                assert_eq!(r.status, 200);
            });
        }
    });
    assert_eq!(fake.log.max_in_flight(), 5);
    assert_eq!(fake.log.in_flight(), 0);
}

// ---------------------------------------------------------------------------------------------
// Credentials and where to connect
// ---------------------------------------------------------------------------------------------

#[test]
fn no_credentials_runs_offline_with_a_hint() {
    let fake = Fake::start(FakeConfig::default());
    let ids = ids("hint", 3);
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).without_credentials().run();
    out.expect(0).expect_all(&ids, "skipped");
    assert_eq!(fake.log.total_requests(), 0, "nothing sent");
    assert!(
        out.stderr.lines().any(|l| {
            l.to_ascii_lowercase().contains("offline") && l.contains("GENESYSCLOUD_OAUTHCLIENT_ID")
        }),
        "one line saying it runs offline and how to configure credentials: {}",
        out.context()
    );
}

#[test]
fn offline_flag_sends_nothing() {
    let fake = Fake::start(FakeConfig::default());
    let ids = ids("offline", 4);
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).arg("--offline").run();
    out.expect(0).expect_all(&ids, "skipped");
    assert_eq!(fake.log.total_requests(), 0);
    for id in &ids {
        assert_eq!(out.enrichment(id)["attempts"], 0);
    }
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let ids = ids("plain-http", 1);
    let case = Case::new(&ids);
    let out = Gcorr::bare(&case)
        .args([
            "--api-base",
            "http://api.example.com",
            "--login-base",
            "http://login.example.com",
        ])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET)
        .run();
    assert_eq!(out.code, 2, "usage error: {}", out.context());
    assert!(out.stderr.contains("https"), "{}", out.context());
}

#[test]
fn profile_from_the_gc_config_file() {
    let fake = Fake::start(FakeConfig {
        client_id: "profile-client-id".into(),
        client_secret: "profile-secret-0c2d".into(),
        ..FakeConfig::default()
    });
    let ids = ids("profile", 3);
    let case = Case::new(&ids);
    fs::create_dir(case.home.join(".gc")).unwrap();
    fs::write(
        case.home.join(".gc/config.toml"),
        "[DEFAULT]\nenvironment = \"mypurecloud.com\"\nclient_credentials = \"wrong-id\"\nclient_secret = \"wrong\"\n\n\
         [itest]\nenvironment = \"mypurecloud.com\"\nclient_credentials = \"profile-client-id\"\nclient_secret = \"profile-secret-0c2d\"\n",
    )
    .unwrap();
    let out = Gcorr::against(&fake, &case)
        .without_credentials()
        .args(["--profile", "itest"])
        .run();
    out.expect(0).expect_all(&ids, "ok");
    let tokens = fake.log.token_entries();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        tokens[0].authorization.as_deref(),
        Some(basic("profile-client-id", "profile-secret-0c2d").as_str())
    );
}

#[test]
fn alternative_environment_variables() {
    let fake = Fake::start(FakeConfig::default());
    let ids = ids("alt-env", 2);
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case)
        .without_credentials()
        .env("GENESYS_CLIENT_ID", CLIENT_ID)
        .env("GENESYS_CLIENT_SECRET", CLIENT_SECRET)
        .run();
    out.expect(0).expect_all(&ids, "ok");

    // The API base from GENESYSCLOUD_API_REGION instead of --api-base.
    let fake = Fake::start(FakeConfig::default());
    let out = Gcorr::bare(&case)
        .args(["--login-base", &fake.url, "--max-rpm", "60000"])
        .env("GENESYSCLOUD_API_REGION", &fake.url)
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET)
        .run();
    out.expect(0).expect_all(&ids, "ok");
    assert_eq!(fake.log.api_requests().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// The conversations API
// ---------------------------------------------------------------------------------------------

const G_CUSTOMER: &str = "0b8a3f7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
const G_ACD: &str = "1c9b4a8f-2d3e-4f60-9b0c-1d2e3f4a5b6c";
const G_AGENT1: &str = "2dac5b90-3e4f-4071-8c1d-2e3f4a5b6c7d";
const G_AGENT2: &str = "3ebd6ca1-4f50-4182-9d2e-3f4a5b6c7d8e";
const G_USER1: &str = "4fce7db2-5061-4293-8e3f-4a5b6c7d8e9f";
const G_USER2: &str = "50df8ec3-6172-43a4-9f40-5b6c7d8e9fa0";
const G_S_CUSTOMER: &str = "61e09fd4-7283-44b5-8051-6c7d8e9fa0b1";
const G_S_ACD: &str = "72f1a0e5-8394-45c6-9162-7d8e9fa0b1c2";
const G_S_AGENT1: &str = "8302b1f6-94a5-46d7-8273-8e9fa0b1c2d3";
const G_S_AGENT1_CB: &str = "9413c207-a5b6-47e8-9384-9fa0b1c2d3e4";
const G_S_AGENT2: &str = "a524d318-b6c7-48f9-84a5-a0b1c2d3e4f5";

/// A hand-written conversations-API answer: a customer, two agents (the first consult-transfers
/// and also has a callback), fields no client knows, a time without milliseconds; the queue
/// participant of the events is missing from it.
fn given_conversation(id: &str) -> Value {
    json!({
        "id": id,
        "startTime": "2026-03-02T11:00:00.000Z",
        "endTime": "2026-03-02T11:10:00.000Z",
        "recordingState": "NONE",
        "brandNewTopLevelField": {"x": [1, 2]},
        "participants": [
            {
                "id": G_CUSTOMER, "purpose": "customer", "name": "Dana Customer",
                "startTime": "2026-03-02T11:00:00.000Z", "participantType": "External",
                "attributes": {"crm": "42"}, "unknownParticipantField": true,
                "calls": [{
                    "id": G_S_CUSTOMER, "state": "disconnected", "initialState": "offering",
                    "direction": "inbound", "held": false, "disconnectType": "endpoint",
                    "connectedTime": "2026-03-02T11:00:00.000Z",
                    "disconnectedTime": "2026-03-02T11:10:00Z",
                    "provider": "Edge", "recordingId": "rec-1",
                    "segments": [{"startTime": "2026-03-02T11:00:00.000Z", "endTime": "2026-03-02T11:10:00.000Z",
                                  "type": "Interact", "howEnded": "Disconnect", "disconnectType": "endpoint"}]
                }]
            },
            {
                "id": G_AGENT1, "purpose": "agent", "name": "Ada Agent", "userId": G_USER1,
                "queueId": QUEUE_ID, "queueName": "Support", "wrapupRequired": true,
                "calls": [{
                    "id": G_S_AGENT1, "state": "disconnected", "direction": "inbound",
                    "disconnectType": "transfer.consult",
                    "connectedTime": "2026-03-02T11:01:00.000Z",
                    "disconnectedTime": "2026-03-02T11:05:00.000Z",
                    "segments": [
                        {"startTime": "2026-03-02T11:00:55.000Z", "endTime": "2026-03-02T11:01:00.000Z", "type": "Alert"},
                        {"startTime": "2026-03-02T11:01:00.000Z", "endTime": "2026-03-02T11:05:00.000Z",
                         "type": "Interact", "howEnded": "Transfer", "disconnectType": "transfer.consult"}
                    ]
                }],
                "callbacks": [{
                    "id": G_S_AGENT1_CB, "state": "disconnected", "direction": "outbound",
                    "disconnectType": "client",
                    "connectedTime": "2026-03-02T11:20:00.000Z",
                    "disconnectedTime": "2026-03-02T11:25:00.000Z",
                    "callbackNumbers": ["+13125550187"],
                    "segments": [{"startTime": "2026-03-02T11:20:00.000Z", "endTime": "2026-03-02T11:25:00.000Z",
                                  "type": "Interact", "disconnectType": "client"}]
                }]
            },
            {
                "id": G_AGENT2, "purpose": "agent", "name": "Bo Agent", "userId": G_USER2,
                "queueId": QUEUE_ID, "queueName": "Support",
                "calls": [{
                    "id": G_S_AGENT2, "state": "disconnected", "direction": "inbound",
                    "disconnectType": "peer",
                    "connectedTime": "2026-03-02T11:05:10.000Z",
                    "disconnectedTime": "2026-03-02T11:10:00.000Z",
                    "segments": [{"startTime": "2026-03-02T11:05:10.000Z", "endTime": "2026-03-02T11:10:00.000Z",
                                  "type": "Interact", "disconnectType": "peer"}]
                }]
            }
        ]
    })
}

/// The detail events of the hand-written conversation (with the queue participant it lacks).
fn given_events(id: &str) -> Vec<Ev> {
    let t = 1_772_449_200_000; // 2026-03-02T11:00:00Z
    let ev = |kind, dt: i64, p: &str, s: &str, user: Option<&str>, queue: bool, disc: Option<&str>| Ev {
        conversation: id.to_string(),
        kind,
        time_ms: t + dt,
        participant: p.into(),
        session: s.into(),
        media: "VOICE".into(),
        user: user.map(Into::into),
        queue: queue.then(|| QUEUE_ID.to_string()),
        disconnect: disc.map(Into::into),
    };
    vec![
        ev("customer.start", 0, G_CUSTOMER, G_S_CUSTOMER, None, false, None),
        ev("acd.start", 1_000, G_ACD, G_S_ACD, None, true, None),
        ev("acd.end", 55_000, G_ACD, G_S_ACD, None, true, Some("TRANSFER")),
        ev(
            "user.start",
            60_000,
            G_AGENT1,
            G_S_AGENT1,
            Some(G_USER1),
            true,
            None,
        ),
        ev(
            "user.end",
            300_000,
            G_AGENT1,
            G_S_AGENT1,
            Some(G_USER1),
            true,
            Some("CONSULT_TRANSFER"),
        ),
        ev(
            "customer.end",
            600_000,
            G_CUSTOMER,
            G_S_CUSTOMER,
            None,
            false,
            Some("ENDPOINT"),
        ),
    ]
}

#[test]
fn conversations_enrich_and_merge_participants() {
    let generated = ids("happy", 6);
    let given = fake::derive_uuid(&["conversation", "happy-given"]);
    let fake = Fake::start(FakeConfig {
        bodies: HashMap::from([(given.clone(), given_conversation(&given))]),
        ..FakeConfig::default()
    });
    let case = Case::with_extra(&generated, &given_events(&given));
    let out = Gcorr::against(&fake, &case).run();
    let mut all = generated.clone();
    all.push(given.clone());
    out.expect(0).expect_all(&all, "ok");

    // Server side: one token, one request per id, each with that token.
    assert_eq!(fake.log.token_requests(), 1);
    let token = fake.log.issued_tokens().remove(0);
    let api = fake.log.api_requests();
    assert_eq!(api.len(), all.len());
    assert!(api.iter().all(|e| e.kind == Kind::Conversation));
    assert!(api.iter().all(|e| e.token.as_deref() == Some(token.as_str())));
    assert_each_answered_once(&fake, &all);

    for id in &all {
        let e = out.enrichment(id);
        assert_eq!(e["http_status"], 200);
        assert_eq!(e["attempts"], 1);
        assert!(e["error"].is_null());
        let sent = fake.log.requests_for(id)[0].correlation_id.clone();
        assert_eq!(
            e["correlation_id"],
            json!(sent),
            "the ININ-Correlation-Id of the answer"
        );
    }
    for id in &generated {
        assert_like_model(out.timeline(id), &model(id), Source::Conversations);
    }

    // The hand-written one: API participants merged with the events' ones.
    let t = out.timeline(&given);
    let got: BTreeSet<&str> = t["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["participant_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, BTreeSet::from([G_CUSTOMER, G_ACD, G_AGENT1, G_AGENT2]));
    let customer = participant(t, G_CUSTOMER);
    assert_eq!(customer["purpose"], "customer");
    assert_eq!(customer["name"], "Dana Customer");
    assert_eq!(customer["user_id"], Value::Null);
    let s = session(customer, G_S_CUSTOMER);
    assert_eq!(s["media_type"], "voice");
    assert_eq!(s["disconnect_type"], "endpoint");
    assert_eq!(s["connected"], "2026-03-02T11:00:00.000Z");
    assert_eq!(
        s["disconnected"], "2026-03-02T11:10:00.000Z",
        "times get milliseconds"
    );

    let ada = participant(t, G_AGENT1);
    assert_eq!(ada["purpose"], "agent");
    assert_eq!(ada["name"], "Ada Agent");
    assert_eq!(ada["user_id"], G_USER1);
    assert_eq!(ada["queue_id"], QUEUE_ID);
    assert!(has_media(ada, "voice") && has_media(ada, "callback"), "{ada}");
    let call = session(ada, G_S_AGENT1);
    assert_eq!(call["media_type"], "voice");
    assert_eq!(call["state"], "disconnected");
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["disconnect_type"], "consult_transfer");
    let segs = call["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 2);
    assert!(segs[0]["type"].as_str().unwrap().eq_ignore_ascii_case("alert"));
    assert_eq!(segs[0]["disconnect_type"], Value::Null);
    assert_eq!(segs[1]["start"], "2026-03-02T11:01:00.000Z");
    assert_eq!(segs[1]["end"], "2026-03-02T11:05:00.000Z");
    assert_eq!(segs[1]["disconnect_type"], "consult_transfer");
    let cb = session(ada, G_S_AGENT1_CB);
    assert_eq!(cb["media_type"], "callback");
    assert_eq!(cb["direction"], "outbound");
    assert_eq!(cb["disconnect_type"], "client");

    let bo = participant(t, G_AGENT2);
    assert_eq!(bo["user_id"], G_USER2);
    assert_eq!(session(bo, G_S_AGENT2)["disconnect_type"], "peer");

    let acd = participant(t, G_ACD);
    assert_eq!(acd["purpose"], "acd", "an events-only participant is kept");
    assert_eq!(acd["queue_id"], QUEUE_ID);

    // The events themselves are untouched.
    assert_eq!(t["event_count"], 6);
}

#[test]
fn non_uuid_ids_are_skipped_without_a_request() {
    let good = ids("non-uuid", 3);
    let bad = [
        "conv-42",
        "12345",
        "..%2F..%2Foauth%2Ftoken",
        "bc0b3813d9d648b48aa863af5c1c841a0",
    ];
    let extra: Vec<Ev> = bad
        .iter()
        .map(|b| {
            let mut ev = events::model_events(&model(b)).remove(0);
            ev.conversation = b.to_string();
            ev
        })
        .collect();
    let fake = Fake::start(FakeConfig::default());
    let case = Case::with_extra(&good, &extra);
    let out = Gcorr::against(&fake, &case).run();
    out.expect(0);
    assert_eq!(out.timelines.len(), good.len() + bad.len());
    for id in &good {
        assert_eq!(out.status(id), "ok");
    }
    for b in bad {
        let e = out.enrichment(b);
        assert_eq!(e["status"], "skipped", "{b}: {e}");
        assert!(e["error"].is_string(), "{b} says why: {e}");
        assert_eq!(e["attempts"], 0);
    }
    let api = fake.log.api_requests();
    assert_eq!(api.len(), good.len());
    for e in fake.log.entries() {
        assert!(
            bad.iter().all(|b| !e.path.contains(b) && !e.query.contains(b)),
            "a request for a non-UUID id: {} {}",
            e.path,
            e.query
        );
    }
}

#[test]
fn no_token_is_requested_when_nothing_is_fetched() {
    let bad = ["conv-1", "conv-2"];
    let extra: Vec<Ev> = bad
        .iter()
        .map(|b| {
            let mut ev = events::model_events(&model(b)).remove(0);
            ev.conversation = b.to_string();
            ev
        })
        .collect();
    let fake = Fake::start(FakeConfig::default());
    let case = Case::with_extra(&[], &extra);
    let out = Gcorr::against(&fake, &case).run();
    out.expect(0);
    assert_eq!(out.status_counts(), BTreeMap::from([("skipped".to_string(), 2)]));
    assert_eq!(fake.log.total_requests(), 0, "not even a token");
}

#[test]
fn unknown_conversations_are_not_found_and_exit_3() {
    let ids = ids("not-found", 8);
    let gone: HashSet<String> = [ids[1].clone(), ids[6].clone()].into();
    let fake = Fake::start(FakeConfig {
        known: Known::AllExcept(gone.clone()),
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).run();
    out.expect(3);
    for id in &ids {
        let e = out.enrichment(id);
        if gone.contains(id) {
            assert_eq!(e["status"], "not_found", "{e}");
            assert_eq!(e["http_status"], 404);
            assert_eq!(e["attempts"], 1, "a 404 is not retried");
            let reqs = fake.log.requests_for(id);
            assert_eq!(reqs.len(), 1);
            assert_eq!(e["correlation_id"], json!(reqs[0].correlation_id));
            // The timeline is still there, from the events.
            assert_eq!(out.timeline(id)["event_count"], 6);
        } else {
            assert_eq!(e["status"], "ok");
        }
    }
}

#[test]
fn forbidden_names_the_permission_and_stops_after_a_run() {
    let ids = ids("forbidden", 60);
    let fake = with_faults(Faults {
        forbidden: IdSet::All,
        ..Faults::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).args(["--concurrency", "4"]).run();
    out.expect(3);
    assert_eq!(out.timelines.len(), ids.len());
    let mut forbidden = 0;
    for id in &ids {
        let e = out.enrichment(id);
        let status = e["status"].as_str().unwrap();
        assert!(matches!(status, "forbidden" | "failed"), "{e}");
        if !fake.log.requests_for(id).is_empty() {
            forbidden += 1;
            assert_eq!(status, "forbidden", "{e}");
            assert_eq!(e["http_status"], 403);
            let msg = e["error"].as_str().unwrap_or("");
            assert!(msg.contains("conversation:communication:view"), "hint: {e}");
        }
    }
    assert!(forbidden >= 1);
    let sent = fake.log.api_requests().len();
    assert!(sent <= 30, "stops fetching after a run of 403s, sent {sent}");
}

#[test]
fn one_forbidden_conversation_does_not_stop_the_others() {
    let ids = ids("forbidden-one", 10);
    let fake = with_faults(Faults {
        forbidden: IdSet::of([ids[4].clone()]),
        ..Faults::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).run();
    out.expect(3);
    for id in &ids {
        let want = if *id == ids[4] { "forbidden" } else { "ok" };
        assert_eq!(out.status(id), want);
    }
    assert_eq!(fake.log.requests_for(&ids[4]).len(), 1, "a 403 is not retried");
}

// ---------------------------------------------------------------------------------------------
// The analytics API
// ---------------------------------------------------------------------------------------------

#[test]
fn analytics_fetches_in_batches() {
    let ids = ids("analytics", 250);
    let case = Case::new(&ids);

    let fake = Fake::start(FakeConfig::default());
    let out = Gcorr::against(&fake, &case).args(["--source", "analytics"]).run();
    out.expect(0).expect_all(&ids, "ok");
    let api = fake.log.api_requests();
    assert!(api.iter().all(|e| e.kind == Kind::Analytics));
    assert_eq!(api.len(), 3, "250 ids in batches of 100 (the default)");
    assert!(api.iter().all(|e| e.ids.len() <= 100));
    let asked: HashSet<&String> = api.iter().flat_map(|e| &e.ids).collect();
    assert_eq!(asked.len(), ids.len());
    assert_each_answered_once(&fake, &ids);
    for id in &ids[..10] {
        assert_like_model(out.timeline(id), &model(id), Source::Analytics);
    }

    let fake = Fake::start(FakeConfig::default());
    let out = Gcorr::against(&fake, &case)
        .args(["--source", "analytics", "--batch-size", "40"])
        .run();
    out.expect(0).expect_all(&ids, "ok");
    let api = fake.log.api_requests();
    assert_eq!(api.len(), 7, "ceil(250 / 40)");
    assert!(api.iter().all(|e| e.ids.len() <= 40));
}

#[test]
fn analytics_halves_the_batch_on_400() {
    let ids = ids("analytics-400", 100);
    let fake = Fake::start(FakeConfig {
        max_batch: 30,
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case)
        .args(["--source", "analytics", "--batch-size", "100"])
        .run();
    out.expect(0).expect_all(&ids, "ok");
    let api = fake.log.api_requests();
    assert!(
        api.iter().filter(|e| e.status == 200).all(|e| e.ids.len() <= 30),
        "only batches the server accepts succeed"
    );
    let refused = fake.log.count_status(400);
    assert!((1..=8).contains(&refused), "{refused} batches refused");
    assert!(api.len() <= 16, "{} requests", api.len());
    assert_each_answered_once(&fake, &ids);
}

#[test]
fn analytics_missing_ids_are_not_found() {
    let ids = ids("analytics-missing", 10);
    let gone: HashSet<String> = [ids[0].clone(), ids[7].clone()].into();
    let fake = Fake::start(FakeConfig {
        known: Known::AllExcept(gone.clone()),
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).args(["--source", "analytics"]).run();
    out.expect(3);
    for id in &ids {
        let want = if gone.contains(id) { "not_found" } else { "ok" };
        assert_eq!(out.status(id), want);
    }
    assert_eq!(fake.log.api_requests().len(), 1);
}

#[test]
fn analytics_forbidden_names_its_permission() {
    let ids = ids("analytics-403", 5);
    let fake = with_faults(Faults {
        forbidden: IdSet::All,
        ..Faults::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).args(["--source", "analytics"]).run();
    out.expect(3).expect_all(&ids, "forbidden");
    for id in &ids {
        let e = out.enrichment(id);
        assert!(
            e["error"]
                .as_str()
                .unwrap_or("")
                .contains("analytics:conversationDetail:view"),
            "{e}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Rate limits and retries
// ---------------------------------------------------------------------------------------------

/// Faults for 429 tests: requests take a while, so a client that did not pause would send
/// plenty inside the window.
fn paced_faults(script: Vec<(u64, Fault)>) -> Faults {
    Faults {
        latency: Latency::Fixed(Duration::from_millis(50)),
        script,
        ..Faults::default()
    }
}

const GRACE: Duration = Duration::from_millis(100);

#[test]
fn retry_after_seconds_pauses_every_worker() {
    let ids = ids("retry-after", 30);
    let fake = Fake::start(FakeConfig {
        faults: paced_faults(vec![(5, Fault::TooMany(RetryAfter::Seconds(1)))]),
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).args(["--concurrency", "4"]).run();
    out.expect(0).expect_all(&ids, "ok");
    let windows = fake.log.windows();
    assert_eq!(windows.len(), 1);
    let v = fake.log.window_violations(GRACE);
    assert!(v.is_empty(), "requests inside the Retry-After window: {v:#?}");
    let w = &windows[0];
    let again = fake.log.requests_for(&w.ids[0]);
    assert_eq!(again.len(), 2, "the throttled id is sent again");
    assert!(again[1].at >= w.until);
    assert_eq!(fake.log.api_requests().len(), 31);
    assert_each_answered_once(&fake, &ids);
}

#[test]
fn retry_after_http_date_is_honoured() {
    let ids = ids("retry-after-date", 20);
    let fake = Fake::start(FakeConfig {
        faults: paced_faults(vec![(3, Fault::TooMany(RetryAfter::HttpDate(2)))]),
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).args(["--concurrency", "4"]).run();
    out.expect(0).expect_all(&ids, "ok");
    assert_eq!(fake.log.windows().len(), 1);
    let v = fake.log.window_violations(GRACE);
    assert!(v.is_empty(), "requests inside the Retry-After window: {v:#?}");
    assert_each_answered_once(&fake, &ids);
}

#[test]
fn quota_breach_fails_the_rest_quickly() {
    let ids = ids("quota", 40);
    let fake = with_faults(Faults {
        latency: Latency::Fixed(Duration::from_millis(20)),
        quota_after: Some(6),
        ..Faults::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).args(["--concurrency", "4"]).run();
    out.expect(3);
    assert!(
        out.elapsed < Duration::from_secs(15),
        "gave up quickly: {:?}",
        out.elapsed
    );
    let fetched = fake.log.ok_counts();
    assert_eq!(fetched.len(), 6);
    for id in &ids {
        let e = out.enrichment(id);
        if fetched.contains_key(id) {
            assert_eq!(e["status"], "ok");
        } else {
            assert_eq!(e["status"], "failed", "{e}");
            let why = e["error"].as_str().unwrap_or("").to_ascii_lowercase();
            assert!(
                why.contains("3600") || why.contains("retry-after") || why.contains("quota"),
                "the reason is given: {e}"
            );
        }
    }
    let v = fake.log.window_violations(GRACE);
    assert!(v.is_empty(), "requests after the quota breach: {}", v.len());
    assert!(fake.log.api_requests().len() <= 6 + 4 + 2);
}

#[test]
fn server_errors_are_retried_then_ok() {
    let ids = ids("5xx", 40);
    let fake = with_faults(Faults {
        p500: 0.15,
        p502: 0.15,
        p503: 0.15,
        p504: 0.15,
        faulty_attempts: 2,
        ..Faults::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).run();
    out.expect(0).expect_all(&ids, "ok");
    let errors: usize = [500, 502, 503, 504]
        .iter()
        .map(|&s| fake.log.count_status(s))
        .sum();
    assert!(errors >= 10, "the faults happened: {:?}", fake.log.statuses());
    assert_each_answered_once(&fake, &ids);
    for id in &ids {
        let sent = fake.log.requests_for(id).len();
        assert!(sent <= 3);
        assert_eq!(out.enrichment(id)["attempts"], sent, "attempts of {id}");
    }
}

#[test]
fn total_outage_is_bounded() {
    let ids = ids("outage", 1000);
    let fake = with_faults(Faults {
        outage: true,
        ..Faults::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).args(["--concurrency", "8"]).run();
    out.expect(3).expect_all(&ids, "failed");
    let sent = fake.log.api_requests().len();
    eprintln!(
        "outage: {} conversations, {sent} requests, {:?}",
        ids.len(),
        out.elapsed
    );
    assert!(sent < 200, "{sent} requests into a total outage");
    assert!(out.elapsed < Duration::from_secs(30), "{:?}", out.elapsed);
    for id in &ids {
        assert!(out.enrichment(id)["error"].is_string());
    }
}

#[test]
fn dropped_connections_and_truncated_bodies_are_retried() {
    let ids = ids("transport", 40);
    let fake = with_faults(Faults {
        p_drop: 0.25,
        p_truncate: 0.25,
        faulty_attempts: 2,
        ..Faults::default()
    });
    assert!(fake.raw);
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).run();
    out.expect(0).expect_all(&ids, "ok");
    let api = fake.log.api_requests();
    let faulted = |name: &str| api.iter().filter(|e| e.fault.as_deref() == Some(name)).count();
    assert!(faulted("drop") >= 3 && faulted("truncate") >= 3);
    assert_each_answered_once(&fake, &ids);
}

#[test]
fn stalled_answers_time_out_and_are_retried() {
    let ids = ids("stall", 12);
    let fake = with_faults(Faults {
        p_stall: 0.4,
        stall: Duration::from_secs(4),
        faulty_attempts: 1,
        ..Faults::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case)
        .args(["--request-timeout-ms", "300"])
        .run();
    out.expect(0).expect_all(&ids, "ok");
    assert!(out.elapsed < Duration::from_secs(4), "{:?}", out.elapsed);
    let stalled: Vec<String> = fake
        .log
        .api_requests()
        .into_iter()
        .filter(|e| e.fault.as_deref() == Some("stall"))
        .flat_map(|e| e.ids)
        .collect();
    assert!(!stalled.is_empty());
    for id in &stalled {
        assert_eq!(fake.log.requests_for(id).len(), 2);
    }
}

#[test]
fn deadline_bounds_the_time_spent_on_one_conversation() {
    let ids = ids("deadline", 6);
    // Every answer takes 3 s: each conversation is abandoned after its 1 s deadline.
    let fake = with_faults(Faults {
        latency: Latency::Fixed(Duration::from_secs(3)),
        ..Faults::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case)
        .args(["--deadline", "1", "--concurrency", "6"])
        .run();
    out.expect(3).expect_all(&ids, "failed");
    for id in &ids {
        let error = out.enrichment(id)["error"].as_str().unwrap_or_default();
        assert!(error.contains("gave up after 1 s"), "{id}: {error}");
    }
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
}

#[test]
fn oversized_bodies_fail_without_retry() {
    let ids = ids("oversize", 6);
    let fake = with_faults(Faults {
        oversized: HashMap::from([
            (ids[1].clone(), Oversize::Declared),
            (ids[4].clone(), Oversize::Streamed),
        ]),
        ..Faults::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).run();
    out.expect(3);
    for (i, id) in ids.iter().enumerate() {
        if i == 1 || i == 4 {
            let e = out.enrichment(id);
            assert_eq!(e["status"], "failed", "{e}");
            assert!(e["error"].is_string());
            assert_eq!(fake.log.requests_for(id).len(), 1, "not retried");
        } else {
            assert_eq!(out.status(id), "ok");
        }
    }
}

#[test]
fn concurrency_never_exceeds_the_limit() {
    let ids = ids("concurrency", 40);
    let slow = || FakeConfig {
        faults: Faults {
            latency: Latency::Fixed(Duration::from_millis(150)),
            ..Faults::default()
        },
        ..FakeConfig::default()
    };
    let case = Case::new(&ids);
    let fake = Fake::start(slow());
    let out = Gcorr::against(&fake, &case).args(["--concurrency", "5"]).run();
    out.expect(0).expect_all(&ids, "ok");
    assert_eq!(fake.log.max_in_flight(), 5, "the limit, reached and never passed");

    let few = &ids[..6];
    let case = Case::new(few);
    let fake = Fake::start(slow());
    let out = Gcorr::against(&fake, &case).args(["--concurrency", "1"]).run();
    out.expect(0).expect_all(few, "ok");
    assert_eq!(fake.log.max_in_flight(), 1);
}

#[test]
fn max_rpm_paces_requests_evenly() {
    let ids = ids("pacing", 20);
    let fake = Fake::start(FakeConfig::default());
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).args(["--max-rpm", "600"]).run();
    out.expect(0).expect_all(&ids, "ok");
    let at: Vec<Instant> = fake.log.api_requests().iter().map(|e| e.at).collect();
    assert_eq!(at.len(), 20);
    let span = at[19] - at[0];
    assert!(
        span >= Duration::from_millis(1700),
        "20 requests at 10/s took {span:?}"
    );
    for (i, a) in at.iter().enumerate() {
        let in_a_second = at[i..]
            .iter()
            .take_while(|b| **b - *a < Duration::from_secs(1))
            .count();
        assert!(in_a_second <= 12, "{in_a_second} requests within one second");
    }
    let longest = at.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        longest <= Duration::from_millis(450),
        "evenly spaced, longest gap {longest:?}"
    );
}

#[test]
fn chaos_each_id_answered_once_all_ok() {
    let ids = ids("chaos", 80);
    let fake = Fake::start(FakeConfig {
        seed: DEFAULT_SEED,
        faults: Faults {
            latency: Latency::Range(Duration::ZERO, Duration::from_millis(20)),
            p500: 0.05,
            p503: 0.05,
            p504: 0.05,
            p_drop: 0.05,
            p_truncate: 0.05,
            faulty_attempts: 2,
            ..Faults::default()
        },
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).args(["--concurrency", "8"]).run();
    out.expect(0).expect_all(&ids, "ok");
    assert_each_answered_once(&fake, &ids);
    // Nothing is asked again once it has been answered.
    let api = fake.log.api_requests();
    for id in &ids {
        let reqs: Vec<_> = api.iter().filter(|e| e.ids.contains(id)).collect();
        let last = reqs.last().unwrap();
        assert!(last.answered.contains(id), "{id}: the 200 is the last request");
    }
    assert!(fake.log.max_in_flight() <= 8);
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[test]
fn tokens_expiring_mid_run_are_renewed() {
    let ids = ids("token-expiry", 60);
    let lifetime = 2.0;
    let fake = Fake::start(FakeConfig {
        expires_in: 2,
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case)
        // One worker: a token taken just before waiting for a pacing slot is still valid.
        .args([
            "--max-rpm",
            "600",
            "--token-margin-ms",
            "200",
            "--concurrency",
            "1",
        ])
        .run();
    out.expect(0).expect_all(&ids, "ok");
    assert_eq!(fake.log.count_status(401), 0, "renewed before expiry");
    let span = fake.log.api_span().as_secs_f64();
    assert!(span > 4.5, "the run lasted several lifetimes: {span}");
    let tokens = fake.log.issued().len() as f64;
    assert!(
        (tokens - span / lifetime).abs() <= 1.5,
        "{tokens} tokens over {span:.1} s with a {lifetime} s lifetime"
    );
    assert_eq!(fake.log.token_requests() as f64, tokens);
}

#[test]
fn concurrent_401s_make_exactly_one_token_request() {
    let ids = ids("token-401", 96);
    let fake = Fake::start(FakeConfig {
        revoke: Revoke::FirstTokenAtUse(33),
        faults: Faults {
            latency: Latency::Fixed(Duration::from_millis(300)),
            ..Faults::default()
        },
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).args(["--concurrency", "32"]).run();
    out.expect(0).expect_all(&ids, "ok");
    let refused = fake.log.count_status(401);
    assert!(
        refused >= 16,
        "the scenario: many requests refused at once ({refused})"
    );
    assert_eq!(fake.log.token_requests(), 2, "one renewal for all of them");
    assert_each_answered_once(&fake, &ids);
    assert!(fake.log.max_in_flight() <= 32);
}

#[test]
fn token_endpoint_401_is_fatal_before_any_fetch() {
    let ids = ids("token-refused", 5);
    let fake = Fake::start(FakeConfig::default());
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "not-the-secret")
        .run();
    assert_eq!(out.code, 1, "{}", out.context());
    assert_eq!(fake.log.api_requests().len(), 0);
    assert_eq!(fake.log.token_requests(), 1, "a 401 from login is not retried");
    assert!(out.stderr.contains("invalid_client"), "{}", out.context());
}

#[test]
fn token_endpoint_503_is_retried() {
    let ids = ids("token-503", 3);
    let fake = Fake::start(FakeConfig {
        token_failures: vec![(1, 503)],
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).run();
    out.expect(0).expect_all(&ids, "ok");
    assert_eq!(fake.log.token_requests(), 2);
}

#[test]
fn ready_token_is_used_as_is() {
    let ids = ids("ready-token", 4);
    let fake = Fake::start(FakeConfig {
        ready_tokens: vec!["ready-made-token-1f2e".into()],
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case)
        .without_credentials()
        .env("GENESYSCLOUD_ACCESS_TOKEN", "ready-made-token-1f2e")
        .run();
    out.expect(0).expect_all(&ids, "ok");
    assert_eq!(fake.log.token_requests(), 0);
    assert!(
        fake.log
            .api_requests()
            .iter()
            .all(|e| e.token.as_deref() == Some("ready-made-token-1f2e"))
    );
}

#[test]
fn ready_token_refused_is_fatal() {
    let ids = ids("ready-token-refused", 4);
    let fake = Fake::start(FakeConfig::default());
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case)
        .without_credentials()
        .env("GENESYSCLOUD_ACCESS_TOKEN", "stale-token-9a8b")
        .run();
    assert_eq!(out.code, 1, "{}", out.context());
    assert_eq!(fake.log.token_requests(), 0);
    assert!(fake.log.api_requests().len() <= 8, "stops at once");
    assert!(
        out.stderr.to_ascii_lowercase().contains("refresh"),
        "says it cannot be refreshed: {}",
        out.context()
    );
}

#[test]
fn three_refused_fresh_tokens_abort() {
    let ids = ids("tokens-always-refused", 10);
    let fake = Fake::start(FakeConfig {
        revoke: Revoke::Always,
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let out = Gcorr::against(&fake, &case).run();
    assert_eq!(out.code, 1, "{}", out.context());
    assert_eq!(fake.log.token_requests(), 3);
    assert!(fake.log.api_requests().len() <= 3 * 8 + 8, "bounded");
    assert!(
        out.stderr.to_ascii_lowercase().contains("token"),
        "a clear message: {}",
        out.context()
    );
}

// ---------------------------------------------------------------------------------------------
// Cache
// ---------------------------------------------------------------------------------------------

/// The cache files naming this id.
fn cache_files_of(dir: &Path, id: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(id)))
        .collect()
}

#[test]
fn cache_is_private_and_reused() {
    let ids = ids("cache", 8);
    let fake = Fake::start(FakeConfig::default());
    let case = Case::new(&ids);
    let cache = case.path("cache");
    let first = Gcorr::against(&fake, &case).arg("--cache-dir").arg(&cache).run();
    first.expect(0).expect_all(&ids, "ok");
    assert_eq!(mode(&cache), 0o700, "cache directory mode");
    let files = files_under(&cache);
    assert!(!files.is_empty());
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    for id in &ids {
        let mine = cache_files_of(&cache, id);
        assert_eq!(mine.len(), 1, "one file for {id}: {files:?}");
        let v: Value = serde_json::from_slice(&fs::read(&mine[0]).unwrap()).expect("JSON");
        assert!(v.to_string().contains(id.as_str()));
    }

    let before = fake.log.total_requests();
    let second = Gcorr::against(&fake, &case).arg("--cache-dir").arg(&cache).run();
    second.expect(0).expect_all(&ids, "cached");
    assert_eq!(
        fake.log.total_requests(),
        before,
        "zero requests, not even a token"
    );
    for id in &ids {
        assert_eq!(
            second.timeline(id)["participants"],
            first.timeline(id)["participants"],
            "the cache gives the same enrichment"
        );
    }
}

#[test]
fn offline_with_a_cache_enriches_from_it() {
    let cached = ids("offline-cache", 5);
    let fake = Fake::start(FakeConfig::default());
    let case = Case::new(&cached);
    let cache = case.path("cache");
    Gcorr::against(&fake, &case)
        .arg("--cache-dir")
        .arg(&cache)
        .run()
        .expect(0);
    let before = fake.log.total_requests();

    let mut more = cached.clone();
    more.push(fake::derive_uuid(&[
        "conversation",
        "offline-cache",
        "not-cached",
    ]));
    let case2 = Case::new(&more);
    let out = Gcorr::against(&fake, &case2)
        .without_credentials()
        .arg("--offline")
        .arg("--cache-dir")
        .arg(&cache)
        .run();
    out.expect(0);
    for id in &cached {
        assert_eq!(out.status(id), "cached");
        assert_like_model(out.timeline(id), &model(id), Source::Conversations);
    }
    assert_eq!(out.status(&more[5]), "skipped");
    assert_eq!(fake.log.total_requests(), before);
}

#[test]
fn corrupt_cache_entries_are_refetched() {
    let ids = ids("cache-corrupt", 6);
    let fake = Fake::start(FakeConfig::default());
    let case = Case::new(&ids);
    let cache = case.path("cache");
    Gcorr::against(&fake, &case)
        .arg("--cache-dir")
        .arg(&cache)
        .run()
        .expect(0);
    let broken = cache_files_of(&cache, &ids[0]).remove(0);
    fs::write(&broken, "{\"id\": \"trunc").unwrap();
    let emptied = cache_files_of(&cache, &ids[3]).remove(0);
    fs::write(&emptied, "").unwrap();

    let out = Gcorr::against(&fake, &case).arg("--cache-dir").arg(&cache).run();
    out.expect(0);
    for (i, id) in ids.iter().enumerate() {
        let (status, sent) = if i == 0 || i == 3 {
            ("ok", 2)
        } else {
            ("cached", 1)
        };
        assert_eq!(out.status(id), status, "{id}");
        assert_eq!(fake.log.requests_for(id).len(), sent, "{id}");
    }
    for f in [&broken, &emptied] {
        let repaired = cache_files_of(&cache, &ids[if f == &broken { 0 } else { 3 }]);
        assert_eq!(repaired.len(), 1);
        serde_json::from_slice::<Value>(&fs::read(&repaired[0]).unwrap())
            .expect("the refetched entry is written again");
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets, report, interruption
// ---------------------------------------------------------------------------------------------

#[test]
fn secrets_and_tokens_never_leak() {
    let secret = "gcorr-canary-SECRET-73be1d";
    let ids = ids("secrets", 24);
    let fake = Fake::start(FakeConfig {
        client_secret: secret.into(),
        expires_in: 2,
        revoke: Revoke::FirstTokenAtUse(3),
        known: Known::AllExcept(HashSet::from([ids[7].clone()])),
        faults: Faults {
            script: vec![
                (6, Fault::TooMany(RetryAfter::Seconds(1))),
                (9, Fault::Status(503)),
            ],
            ..Faults::default()
        },
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let report = case.path("report.json");
    let cache = case.path("cache");
    let out = Gcorr::against(&fake, &case)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", secret)
        .arg("-vv")
        .args([
            "--max-rpm",
            "600",
            "--token-margin-ms",
            "300",
            "--concurrency",
            "2",
        ])
        .arg("--report")
        .arg(&report)
        .arg("--cache-dir")
        .arg(&cache)
        .run();
    out.expect(3);
    let tokens = fake.log.issued_tokens();
    assert!(tokens.len() >= 2, "the run renewed its token: {tokens:?}");

    let mut haystacks: Vec<(String, String)> = vec![
        ("stdout".into(), out.stdout.clone()),
        ("stderr".into(), out.stderr.clone()),
        (
            "report".into(),
            fs::read_to_string(&report).expect("report written"),
        ),
    ];
    let cached = files_under(&cache);
    assert!(!cached.is_empty());
    for f in cached {
        haystacks.push((
            f.display().to_string(),
            String::from_utf8_lossy(&fs::read(&f).unwrap()).into_owned(),
        ));
    }
    let basic_b64 = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{secret}"));
    let mut needles = vec![secret.to_string(), basic_b64];
    needles.extend(tokens);
    for (name, hay) in &haystacks {
        for n in &needles {
            assert!(
                !hay.contains(n.as_str()),
                "{name} contains a secret or token ({n})"
            );
        }
    }
}

#[test]
fn report_has_the_counters() {
    let ids = ids("report", 20);
    let fake = Fake::start(FakeConfig {
        known: Known::AllExcept(HashSet::from([ids[19].clone()])),
        faults: Faults {
            script: vec![
                (2, Fault::Status(500)),
                (4, Fault::TooMany(RetryAfter::Seconds(1))),
            ],
            ..Faults::default()
        },
        ..FakeConfig::default()
    });
    let case = Case::new(&ids);
    let path = case.path("report.json");
    let out = Gcorr::against(&fake, &case).arg("--report").arg(&path).run();
    out.expect(3);
    let report: Value = serde_json::from_slice(&fs::read(&path).expect("report")).expect("JSON");
    let num =
        |names: &[&str]| find_number(&report, names).unwrap_or_else(|| panic!("no {names:?} in {report:#}"));
    let api = fake.log.api_requests().len() as f64;
    let tokens = fake.log.token_requests() as f64;
    assert_eq!(api, 22.0);
    let requests = num(&["requests", "http_requests", "api_requests"]);
    assert!(
        requests == api || requests == api + tokens,
        "requests {requests}: {report:#}"
    );
    let retries = num(&["retries"]);
    assert!((1.0..=2.0).contains(&retries), "retries {retries}: {report:#}");
    assert_eq!(
        num(&["429s", "429", "rate_limited", "throttled", "too_many_requests"]),
        1.0
    );
    assert_eq!(num(&["token_requests"]), tokens);
    assert_eq!(num(&["ok"]), 19.0);
    assert_eq!(num(&["not_found"]), 1.0);
    let lower = out.stderr.to_ascii_lowercase();
    for word in ["requests", "retries", "429", "token"] {
        assert!(
            lower.contains(word),
            "the summary mentions {word}: {}",
            out.context()
        );
    }
}

#[test]
fn sigint_writes_what_is_known_and_exits_130() {
    let ids = ids("sigint", 30);
    let fake = with_faults(Faults {
        latency: Latency::Fixed(Duration::from_millis(400)),
        ..Faults::default()
    });
    let case = Case::new(&ids);
    let mut child = Gcorr::against(&fake, &case).args(["--concurrency", "2"]).spawn();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    // Interrupt once a few conversations are fetched (or at once if gcorr already stopped).
    while fake.log.ok_counts().len() < 3
        && Instant::now() < deadline
        && child.try_wait().expect("try_wait").is_none()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Ctrl-C, to gcorr alone (a process that already ended just makes `kill` fail).
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    // Waits on the child in every path: it never outlives the test.
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = status.expect("gcorr stops after SIGINT");
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    let timelines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("whole JSON lines"))
        .collect();
    assert_eq!(timelines.len(), ids.len(), "every conversation is written");
    let ok = timelines
        .iter()
        .filter(|t| t["enrichment"]["status"] == "ok")
        .count();
    assert!(ok >= 3, "what was fetched is kept: {ok}");
    assert!(fake.log.api_requests().len() < ids.len(), "it stopped fetching");
}

// ---------------------------------------------------------------------------------------------
// gcorr auth check
// ---------------------------------------------------------------------------------------------

/// `gcorr auth check` against `fake` (or nothing), with a clean environment plus `env`.
fn auth_check(fake: Option<&Fake>, env: &[(&str, &str)]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gcorr"));
    cmd.args(["auth", "check"]).env("HOME", home.path());
    for k in GENESYS_ENV.iter().chain(PROXY_VARS.iter()) {
        cmd.env_remove(k);
    }
    if let Some(f) = fake {
        cmd.args(["--api-base", &f.url, "--login-base", &f.url]);
    }
    cmd.envs(env.iter().copied());
    let out = assert_cmd::Command::from_std(cmd)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// `correlate INPUT --api-base FAKE --login-base FAKE ARGS`.
pub(crate) fn api_args<'a>(fake: &'a fake::Fake, input: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "correlate",
        input,
        "--api-base",
        &fake.url,
        "--login-base",
        &fake.url,
        "--backoff-base-ms",
        "20",
    ];
    v.extend(args);
    v
}

pub(crate) const CREDENTIALS: [(&str, &str); 2] = [
    ("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID),
    ("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET),
];

#[test]
fn auth_check_reports_region_token_and_both_sources() {
    let fake = Fake::start(FakeConfig::default());
    let (code, out, err) = auth_check(Some(&fake), &CREDENTIALS);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("API:           {}", fake.url)), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("token:") && l.contains("ok, valid for")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("conversations:") && l.contains("ok")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("analytics:") && l.contains("ok")),
        "{out}"
    );
    assert!(!out.contains(CLIENT_SECRET) && !err.contains(CLIENT_SECRET));
    for t in fake.log.issued_tokens() {
        assert!(!out.contains(&t) && !err.contains(&t), "a token was printed");
    }
    assert_eq!(fake.log.token_requests(), 1);
}

#[test]
fn auth_check_names_the_missing_permission() {
    let fake = with_faults(Faults {
        forbidden: IdSet::All,
        ..Faults::default()
    });
    let (code, out, _) = auth_check(Some(&fake), &CREDENTIALS);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("MISSING the conversation:communication:view permission"),
        "{out}"
    );
    assert!(
        out.contains("MISSING the analytics:conversationDetail:view permission"),
        "{out}"
    );
}

#[test]
fn auth_check_fails_without_credentials_or_with_a_refused_secret() {
    let (code, out, _) = auth_check(None, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("credentials:   none") && out.contains("GENESYSCLOUD_OAUTHCLIENT_ID"),
        "{out}"
    );
    let fake = Fake::start(FakeConfig::default());
    let wrong = [
        ("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "not-it"),
    ];
    let (code, out, _) = auth_check(Some(&fake), &wrong);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED") && out.contains("invalid_client"), "{out}");
    assert!(fake.log.api_requests().is_empty(), "no API call without a token");
}
