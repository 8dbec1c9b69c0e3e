//! A fake Genesys Cloud on loopback: the OAuth login (`POST /oauth/token`), the conversations
//! API (`GET /api/v2/conversations/{id}`) and the analytics batch API
//! (`GET /api/v2/analytics/conversations/details?id=a,b,c`), answering in the real shapes
//! Genesys documents (and its SDKs model), with faults decided by a seeded hash of
//! (id, attempt number for that id) so a run is reproducible.
//!
//! Two front ends share one request handler ([`handle`]): axum (the default) and a small
//! hand-written HTTP/1.1 server over a raw `tokio::net::TcpListener`, chosen automatically when
//! a transport fault is configured (a reset connection, a truncated body, a streamed oversized
//! body), since those cannot be expressed through a well-behaved HTTP stack. Both run on a tokio
//! runtime in a background thread, so tests stay plain `#[test]` functions that run the real
//! binary. Everything the server sees is recorded in a [`Log`] that tests assert on.
//!
//! Not every knob is used by every test binary that includes this file.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The client the fake knows by default.
pub const CLIENT_ID: &str = "gcorr-it-client";
pub const CLIENT_SECRET: &str = "gcorr-it-secret-2f9c61";

/// The seed of [`FakeConfig::default`].
pub const DEFAULT_SEED: u64 = 7;

/// 2026-03-02T10:00:00Z: generated conversations start on that day.
pub const T0_MS: i64 = 1_772_445_600_000;

/// The queue every generated conversation goes through.
pub const QUEUE_ID: &str = "b0c56f5f-f45a-4da8-82e4-7853d3781dfa";
pub const QUEUE_NAME: &str = "Support";
pub const DIVISION_ID: &str = "945c2669-eb20-4041-bc10-a162191bd7a1";

/// 16 MiB: the body cap of the client; oversized bodies are a little over it.
pub const BODY_CAP: usize = 16 * 1024 * 1024;
const OVERSIZE: usize = BODY_CAP + 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Which conversation ids exist.
#[derive(Clone, Debug, Default)]
pub enum Known {
    /// Every id exists (its content comes from the seeded generator).
    #[default]
    All,
    /// Only these (plus the ids of [`FakeConfig::bodies`]).
    Only(HashSet<String>),
    /// All but these.
    AllExcept(HashSet<String>),
}

/// A set of conversation ids a rule applies to.
#[derive(Clone, Debug, Default)]
pub enum IdSet {
    #[default]
    None,
    All,
    Only(HashSet<String>),
}

impl IdSet {
    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> IdSet {
        IdSet::Only(ids.into_iter().map(Into::into).collect())
    }

    pub fn contains(&self, id: &str) -> bool {
        match self {
            IdSet::None => false,
            IdSet::All => true,
            IdSet::Only(s) => s.contains(id),
        }
    }
}

/// Time taken before answering an API request.
#[derive(Clone, Copy, Debug, Default)]
pub enum Latency {
    #[default]
    None,
    Fixed(Duration),
    /// Uniform in [lo, hi], drawn from the seeded hash of (id, attempt).
    Range(Duration, Duration),
}

/// The `Retry-After` of a 429.
#[derive(Clone, Copy, Debug)]
pub enum RetryAfter {
    /// `Retry-After: S`.
    Seconds(u64),
    /// `Retry-After: <IMF-fixdate>` about S seconds ahead (whole seconds, so the pause is
    /// between S-1 and S seconds long; the window recorded is the exact one).
    HttpDate(u64),
    /// No header.
    Absent,
}

impl Default for RetryAfter {
    fn default() -> Self {
        RetryAfter::Seconds(1)
    }
}

/// How an oversized body is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oversize {
    /// `Content-Length` over 16 MiB, and the bytes really sent.
    Declared,
    /// `Transfer-Encoding: chunked`, more than 16 MiB streamed (raw mode).
    Streamed,
}

/// One injected fault.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// An error status with a Genesys error body (500, 502, 503, 504, 408, ...).
    Status(u16),
    /// 429 with this Retry-After.
    TooMany(RetryAfter),
    /// Read the request, then close the connection with a reset (SO_LINGER 0). Raw mode.
    Drop,
    /// A 200 whose `Content-Length` is larger than what is sent, then close. Raw mode.
    Truncate,
    /// Wait this long, then answer normally (meant to outlast the client's request timeout).
    Stall(Duration),
    /// A valid 200 body padded beyond 16 MiB.
    Oversize(Oversize),
}

impl Fault {
    fn needs_raw(self) -> bool {
        matches!(
            self,
            Fault::Drop | Fault::Truncate | Fault::Oversize(Oversize::Streamed)
        )
    }

    fn name(self) -> String {
        match self {
            Fault::Status(s) => format!("status-{s}"),
            Fault::TooMany(_) => "429".into(),
            Fault::Drop => "drop".into(),
            Fault::Truncate => "truncate".into(),
            Fault::Stall(_) => "stall".into(),
            Fault::Oversize(Oversize::Declared) => "oversize-declared".into(),
            Fault::Oversize(Oversize::Streamed) => "oversize-streamed".into(),
        }
    }
}

/// Faults on the API endpoints. Fractions are probabilities per request, drawn from the seeded
/// hash of (fault key, attempt), where the key is the conversation id (the joined id list of an
/// analytics request) and the attempt counts the requests for that key so far, from 1.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub latency: Latency,
    pub p429: f64,
    pub retry_after: RetryAfter,
    pub p500: f64,
    pub p502: f64,
    pub p503: f64,
    pub p504: f64,
    /// Reset connections (raw mode).
    pub p_drop: f64,
    /// Truncated bodies (raw mode).
    pub p_truncate: f64,
    /// Stalled answers, each waiting `stall`.
    pub p_stall: f64,
    pub stall: Duration,
    /// The fractions apply to attempts 1..=N only (0: to every attempt), so a client that
    /// retries enough always gets through.
    pub faulty_attempts: u32,
    /// The N-th API request of the run (from 1, all ids together) gets this fault, whatever
    /// the fractions say.
    pub script: Vec<(u64, Fault)>,
    /// 403 for these ids.
    pub forbidden: IdSet,
    /// These ids always answer with an oversized body.
    pub oversized: HashMap<String, Oversize>,
    /// Every API request answers 503 (no Retry-After).
    pub outage: bool,
    /// After this many API requests, every further one answers 429 with Retry-After 3600.
    pub quota_after: Option<u64>,
}

/// When bearer tokens stop being accepted (besides expiry).
#[derive(Clone, Copy, Debug, Default)]
pub enum Revoke {
    #[default]
    Never,
    /// The first token issued is refused from its N-th use on (uses count API requests that
    /// present it, from 1).
    FirstTokenAtUse(u64),
    /// Every token is refused from its N-th use on.
    EveryTokenAtUse(u64),
    /// Every issued token is refused at once.
    Always,
}

/// Which front end serves the requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// axum, or raw when a configured fault needs it.
    #[default]
    Auto,
    Axum,
    Raw,
}

#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// Seeds the conversation generator, the fault draws and the correlation ids.
    pub seed: u64,
    pub client_id: String,
    pub client_secret: String,
    /// `expires_in` of issued tokens, in seconds.
    pub expires_in: u64,
    pub revoke: Revoke,
    /// Bearer tokens accepted as they are, never expiring (for `GENESYSCLOUD_ACCESS_TOKEN`).
    pub ready_tokens: Vec<String>,
    /// The N-th token request (from 1) answers this status instead of a token (e.g. 503).
    pub token_failures: Vec<(u64, u16)>,
    pub token_latency: Duration,
    pub known: Known,
    /// Conversations-API answers given as they are (they also make the id known).
    pub bodies: HashMap<String, Value>,
    /// Analytics conversations given as they are (they also make the id known).
    pub analytics_bodies: HashMap<String, Value>,
    /// Most ids accepted in one analytics request; more answers 400.
    pub max_batch: usize,
    /// `inin-ratelimit-allowed`; `inin-ratelimit-count` counts the API requests of the current
    /// minute against it (a client may slow down as it nears the allowance).
    pub ratelimit_allowed: u64,
    pub faults: Faults,
    pub mode: Mode,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            seed: DEFAULT_SEED,
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            expires_in: 86_400,
            revoke: Revoke::Never,
            ready_tokens: Vec::new(),
            token_failures: Vec::new(),
            token_latency: Duration::ZERO,
            known: Known::All,
            bodies: HashMap::new(),
            analytics_bodies: HashMap::new(),
            max_batch: 100,
            ratelimit_allowed: 300,
            faults: Faults::default(),
            mode: Mode::Auto,
        }
    }
}

impl FakeConfig {
    fn raw(&self) -> bool {
        match self.mode {
            Mode::Raw => true,
            Mode::Axum => false,
            Mode::Auto => self.needs_raw(),
        }
    }

    /// A configured fault that only the raw server can produce.
    fn needs_raw(&self) -> bool {
        let f = &self.faults;
        f.p_drop > 0.0
            || f.p_truncate > 0.0
            || f.oversized.values().any(|o| *o == Oversize::Streamed)
            || f.script.iter().any(|(_, fault)| fault.needs_raw())
    }

    fn is_known(&self, id: &str) -> bool {
        if self.bodies.contains_key(id) || self.analytics_bodies.contains_key(id) {
            return true;
        }
        match &self.known {
            Known::All => true,
            Known::Only(s) => s.contains(id),
            Known::AllExcept(s) => !s.contains(id),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The log
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Token,
    Conversation,
    Analytics,
    Other,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Order of arrival, from 0.
    pub seq: u64,
    pub at: Instant,
    /// When the answer (or the fault) was produced; `None` while in flight.
    pub finished: Option<Instant>,
    pub kind: Kind,
    pub method: String,
    pub path: String,
    pub query: String,
    /// The conversation id(s) asked for (percent-decoded).
    pub ids: Vec<String>,
    /// The bearer token presented.
    pub token: Option<String>,
    /// The whole `Authorization` header.
    pub authorization: Option<String>,
    /// The status sent; 0 when the connection was dropped without an answer.
    pub status: u16,
    /// The injected fault, if any (a name such as "status-503", "429", "drop").
    pub fault: Option<String>,
    /// Requests for the same fault key so far, this one included.
    pub attempt: u32,
    /// The `ININ-Correlation-Id` sent (also the `contextId` of an error body).
    pub correlation_id: Option<String>,
    /// Ids whose conversation was delivered in full in a 200.
    pub answered: Vec<String>,
}

/// A `Retry-After` in force: from sending the 429 until it expires.
#[derive(Clone, Debug)]
pub struct Window {
    /// The request that got the 429.
    pub seq: u64,
    pub ids: Vec<String>,
    pub from: Instant,
    pub until: Instant,
    /// The header value sent.
    pub retry_after: String,
}

/// A token handed out.
#[derive(Clone, Debug)]
pub struct Issued {
    pub token: String,
    pub at: Instant,
    pub expires_in: u64,
}

/// Everything the server saw. Shared with the server thread; read it after the run.
#[derive(Debug)]
pub struct Log {
    pub started: Instant,
    entries: Mutex<Vec<Entry>>,
    windows: Mutex<Vec<Window>>,
    issued: Mutex<Vec<Issued>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Log {
    fn new() -> Log {
        Log {
            started: Instant::now(),
            entries: Mutex::new(Vec::new()),
            windows: Mutex::new(Vec::new()),
            issued: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    pub fn entries(&self) -> Vec<Entry> {
        lock(&self.entries).clone()
    }

    /// Conversation and analytics requests, in order of arrival.
    pub fn api_requests(&self) -> Vec<Entry> {
        self.entries()
            .into_iter()
            .filter(|e| matches!(e.kind, Kind::Conversation | Kind::Analytics))
            .collect()
    }

    /// Every request, of any kind (token, API, unknown paths).
    pub fn total_requests(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Requests to the token endpoint, successful or not.
    pub fn token_requests(&self) -> usize {
        lock(&self.entries)
            .iter()
            .filter(|e| e.kind == Kind::Token)
            .count()
    }

    pub fn token_entries(&self) -> Vec<Entry> {
        self.entries()
            .into_iter()
            .filter(|e| e.kind == Kind::Token)
            .collect()
    }

    pub fn issued(&self) -> Vec<Issued> {
        lock(&self.issued).clone()
    }

    pub fn issued_tokens(&self) -> Vec<String> {
        self.issued().into_iter().map(|i| i.token).collect()
    }

    /// API requests being answered right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The most API requests ever being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Per conversation id, how many 200s delivered it in full.
    pub fn ok_counts(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for e in lock(&self.entries).iter() {
            for id in &e.answered {
                *m.entry(id.clone()).or_insert(0) += 1;
            }
        }
        m
    }

    /// API requests naming this id.
    pub fn requests_for(&self, id: &str) -> Vec<Entry> {
        self.api_requests()
            .into_iter()
            .filter(|e| e.ids.iter().any(|i| i == id))
            .collect()
    }

    /// API answers by status (0: dropped).
    pub fn statuses(&self) -> BTreeMap<u16, usize> {
        let mut m = BTreeMap::new();
        for e in self.api_requests() {
            *m.entry(e.status).or_insert(0) += 1;
        }
        m
    }

    pub fn count_status(&self, status: u16) -> usize {
        self.statuses().get(&status).copied().unwrap_or(0)
    }

    pub fn windows(&self) -> Vec<Window> {
        lock(&self.windows).clone()
    }

    /// API requests that arrived while a Retry-After was in force. A request for the same ids
    /// as the 429 is a violation anywhere inside the window (the client knew); any other
    /// request only after `grace`, which covers requests already on their way when the 429
    /// left the server.
    pub fn window_violations(&self, grace: Duration) -> Vec<(Window, Entry)> {
        let windows = self.windows();
        let api = self.api_requests();
        let mut out = Vec::new();
        for w in &windows {
            for e in &api {
                if e.seq == w.seq || e.at <= w.from || e.at >= w.until {
                    continue;
                }
                if e.ids == w.ids || e.at > w.from + grace {
                    out.push((w.clone(), e.clone()));
                }
            }
        }
        out
    }

    /// From the first API request's arrival to the last one's.
    pub fn api_span(&self) -> Duration {
        let api = self.api_requests();
        match (api.first(), api.last()) {
            (Some(a), Some(b)) => b.at.duration_since(a.at),
            _ => Duration::ZERO,
        }
    }

    fn push(&self, e: Entry) -> usize {
        let mut v = lock(&self.entries);
        v.push(e);
        v.len() - 1
    }

    fn next_seq(&self) -> u64 {
        lock(&self.entries).len() as u64
    }

    fn update(&self, idx: usize, f: impl FnOnce(&mut Entry)) {
        f(&mut lock(&self.entries)[idx]);
    }

    fn finish(&self, idx: usize, f: impl FnOnce(&mut Entry)) {
        let mut v = lock(&self.entries);
        let e = &mut v[idx];
        f(e);
        e.finished = Some(Instant::now());
    }
}

/// Counts an API request in flight for as long as it lives.
struct InFlight<'a>(&'a Log);

impl<'a> InFlight<'a> {
    fn enter(log: &'a Log) -> InFlight<'a> {
        let now = log.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        log.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(log)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------
// The server handle
// ---------------------------------------------------------------------------------------------

/// A running fake. Stopped when dropped.
pub struct Fake {
    pub url: String,
    pub addr: SocketAddr,
    pub log: Arc<Log>,
    pub raw: bool,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    pub fn start(config: FakeConfig) -> Fake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let log = Arc::new(Log::new());
        let raw = config.raw();
        assert!(
            raw || config.mode != Mode::Axum || !config.needs_raw(),
            "transport faults need Mode::Raw (or Mode::Auto)"
        );
        let shared = Arc::new(Shared {
            nonce: AtomicU64::new(mix(config.seed ^ now_nanos())),
            config,
            log: Arc::clone(&log),
            inner: Mutex::new(Inner::default()),
        });
        let (tx, rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("fake-genesys-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("tokio listener");
                    if raw {
                        serve_raw(listener, shared, rx).await;
                    } else {
                        let app = axum::Router::new().fallback(axum_handler).with_state(shared);
                        tokio::select! {
                            _ = async { axum::serve(listener, app).await } => {}
                            _ = rx => {}
                        }
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .expect("server thread");
        Fake {
            url: format!("http://{addr}"),
            addr,
            log,
            raw,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn log(&self) -> &Log {
        &self.log
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The handler, shared by both front ends
// ---------------------------------------------------------------------------------------------

struct Shared {
    config: FakeConfig,
    log: Arc<Log>,
    inner: Mutex<Inner>,
    nonce: AtomicU64,
}

#[derive(Default)]
struct Inner {
    api_requests: u64,
    token_requests: u64,
    issued: u64,
    correlations: u64,
    attempts: HashMap<String, u32>,
    tokens: HashMap<String, Token>,
    /// Start of the current rate-limit minute and the requests in it.
    minute: Option<(Instant, u64)>,
}

struct Token {
    index: u64,
    expires: Instant,
    uses: u64,
    revoked: bool,
}

/// A request, whichever front end read it.
#[derive(Debug)]
struct Req {
    method: String,
    path: String,
    query: String,
    /// Names lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

enum Action {
    Reply(Reply),
    /// Reset the connection without an answer.
    Drop,
    /// Send the head with the full `Content-Length`, half of the body, then close.
    Truncate(Reply),
    /// Send the whole (oversized) body, with `Content-Length` or chunked.
    Oversize(Reply, Oversize),
}

impl Shared {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    fn correlation_id(&self) -> String {
        let n = {
            let mut i = self.inner();
            i.correlations += 1;
            i.correlations
        };
        uuid_from(mix(self.config.seed ^ 0xC0FF_EE00), n)
    }

    fn new_token(&self) -> String {
        let a = mix(self.nonce.fetch_add(0x9E37_79B9, Ordering::SeqCst) ^ now_nanos());
        let b = mix(a ^ self.config.seed);
        let c = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode([a.to_le_bytes(), b.to_le_bytes()].concat());
        format!("fk-{c}")
    }

    /// Headers on every answer: the correlation id and the rate-limit figures.
    fn common_headers(&self, correlation: &str) -> Vec<(String, String)> {
        let (count, reset) = {
            let mut i = self.inner();
            let now = Instant::now();
            let (start, n) = match i.minute {
                Some((s, n)) if now.duration_since(s) < Duration::from_secs(60) => (s, n + 1),
                _ => (now, 1),
            };
            i.minute = Some((start, n));
            (n, 60 - now.duration_since(start).as_secs())
        };
        vec![
            ("content-type".into(), "application/json".into()),
            ("ININ-Correlation-Id".into(), correlation.into()),
            ("inin-ratelimit-count".into(), count.to_string()),
            (
                "inin-ratelimit-allowed".into(),
                self.config.ratelimit_allowed.to_string(),
            ),
            ("inin-ratelimit-reset".into(), reset.to_string()),
        ]
    }

    fn json_reply(&self, status: u16, body: &Value, correlation: &str) -> Reply {
        Reply {
            status,
            headers: self.common_headers(correlation),
            body: serde_json::to_vec(body).expect("json"),
        }
    }

    /// A Genesys error body: `{message, code, status, contextId, details, errors}`.
    fn error_reply(&self, status: u16, code: &str, message: &str, correlation: &str) -> Reply {
        self.json_reply(
            status,
            &json!({
                "message": message,
                "code": code,
                "status": status,
                "contextId": correlation,
                "details": [],
                "errors": [],
            }),
            correlation,
        )
    }
}

async fn handle(state: &Arc<Shared>, req: Req) -> Action {
    const CONVERSATIONS: &str = "/api/v2/conversations/";
    const ANALYTICS: &str = "/api/v2/analytics/conversations/details";
    if req.path == "/oauth/token" {
        return token(state, req).await;
    }
    if let Some(raw_id) = req.path.strip_prefix(CONVERSATIONS) {
        let id = percent_decode(raw_id);
        return api(state, req, Kind::Conversation, vec![id]).await;
    }
    if req.path == ANALYTICS {
        let ids = query_ids(&req.query);
        return api(state, req, Kind::Analytics, ids).await;
    }
    let correlation = state.correlation_id();
    let idx = state.log.push(entry(state, &req, Kind::Other, Vec::new()));
    let reply = state.error_reply(404, "not.found", "No such resource", &correlation);
    state.log.finish(idx, |e| {
        e.status = 404;
        e.correlation_id = Some(correlation);
    });
    Action::Reply(reply)
}

fn entry(state: &Shared, req: &Req, kind: Kind, ids: Vec<String>) -> Entry {
    Entry {
        seq: state.log.next_seq(),
        at: Instant::now(),
        finished: None,
        kind,
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        ids,
        token: req
            .header("authorization")
            .and_then(|h| strip_prefix_ci(h, "bearer "))
            .map(|t| t.trim().to_string()),
        authorization: req.header("authorization").map(str::to_string),
        status: 0,
        fault: None,
        attempt: 0,
        correlation_id: None,
        answered: Vec::new(),
    }
}

async fn token(state: &Arc<Shared>, req: Req) -> Action {
    let idx = state.log.push(entry(state, &req, Kind::Token, Vec::new()));
    let nth = {
        let mut i = state.inner();
        i.token_requests += 1;
        i.token_requests
    };
    if !state.config.token_latency.is_zero() {
        tokio::time::sleep(state.config.token_latency).await;
    }
    let correlation = state.correlation_id();
    let oauth_error = |status: u16, error: &str, description: &str| {
        state.json_reply(
            status,
            &json!({"error": error, "description": description, "error_description": description}),
            &correlation,
        )
    };
    let reply = if req.method != "POST" {
        oauth_error(405, "invalid_request", "POST only")
    } else if let Some(&(_, status)) = state.config.token_failures.iter().find(|(n, _)| *n == nth) {
        oauth_error(
            status,
            "temporarily_unavailable",
            "injected token endpoint failure",
        )
    } else if !basic_auth_ok(&req, &state.config.client_id, &state.config.client_secret) {
        oauth_error(401, "invalid_client", "client authentication failed")
    } else if form_value(&req.body, "grant_type").as_deref() != Some("client_credentials") {
        oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        )
    } else {
        let tok = state.new_token();
        let now = Instant::now();
        {
            let mut i = state.inner();
            i.issued += 1;
            let index = i.issued;
            i.tokens.insert(
                tok.clone(),
                Token {
                    index,
                    expires: now + Duration::from_secs(state.config.expires_in),
                    uses: 0,
                    revoked: false,
                },
            );
        }
        lock(&state.log.issued).push(Issued {
            token: tok.clone(),
            at: now,
            expires_in: state.config.expires_in,
        });
        state.json_reply(
            200,
            &json!({"access_token": tok, "token_type": "bearer", "expires_in": state.config.expires_in}),
            &correlation,
        )
    };
    let status = reply.status;
    state.log.finish(idx, |e| {
        e.status = status;
        e.correlation_id = Some(correlation.clone());
    });
    Action::Reply(reply)
}

fn basic_auth_ok(req: &Req, id: &str, secret: &str) -> bool {
    let Some(b64) = req
        .header("authorization")
        .and_then(|h| strip_prefix_ci(h, "basic "))
    else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(raw) else {
        return false;
    };
    text.split_once(':') == Some((id, secret))
}

/// Why a bearer token is refused, if it is.
fn check_token(state: &Shared, token: Option<&str>) -> Option<&'static str> {
    let token = token?;
    if state.config.ready_tokens.iter().any(|t| t == token) {
        return None;
    }
    let mut inner = state.inner();
    let Some(t) = inner.tokens.get_mut(token) else {
        return Some("unknown token");
    };
    if Instant::now() >= t.expires {
        return Some("expired token");
    }
    t.uses += 1;
    match state.config.revoke {
        Revoke::Never => {}
        Revoke::Always => t.revoked = true,
        Revoke::FirstTokenAtUse(n) => t.revoked |= t.index == 1 && t.uses >= n,
        Revoke::EveryTokenAtUse(n) => t.revoked |= t.uses >= n,
    }
    t.revoked.then_some("revoked token")
}

/// Both API endpoints: decide, wait, answer, record.
async fn api(state: &Arc<Shared>, req: Req, kind: Kind, ids: Vec<String>) -> Action {
    let log = &state.log;
    let _in_flight = InFlight::enter(log);
    let key = ids.join(",");
    let mut e = entry(state, &req, kind, ids.clone());
    let (nth, attempt) = {
        let mut i = state.inner();
        i.api_requests += 1;
        let nth = i.api_requests;
        let a = i.attempts.entry(key.clone()).or_insert(0);
        *a += 1;
        (nth, *a)
    };
    e.attempt = attempt;
    let idx = log.push(e);
    let cfg = &state.config;
    let f = &cfg.faults;

    // What happens to this request, decided at arrival.
    enum Plan {
        Fault(Fault),
        Unauthorized(&'static str),
        Forbidden,
        BadBatch,
        Serve,
    }
    let token = req
        .header("authorization")
        .and_then(|h| strip_prefix_ci(h, "bearer "))
        .map(str::trim);
    let plan = if f.outage {
        Plan::Fault(Fault::Status(503))
    } else if f.quota_after.is_some_and(|q| nth > q) {
        Plan::Fault(Fault::TooMany(RetryAfter::Seconds(3600)))
    } else if let Some(why) = match token {
        None => Some("no bearer token"),
        Some(t) => check_token(state, Some(t)),
    } {
        Plan::Unauthorized(why)
    } else if kind == Kind::Analytics && (ids.is_empty() || ids.len() > cfg.max_batch) {
        Plan::BadBatch
    } else if let Some(&(_, fault)) = f.script.iter().find(|(n, _)| *n == nth) {
        Plan::Fault(fault)
    } else if let Some(fault) = drawn_fault(cfg, &key, attempt) {
        Plan::Fault(fault)
    } else if ids.iter().any(|id| f.forbidden.contains(id)) {
        Plan::Forbidden
    } else if let Some(&o) = ids.iter().find_map(|id| f.oversized.get(id)) {
        Plan::Fault(Fault::Oversize(o))
    } else {
        Plan::Serve
    };
    // Recorded now: a client that gives up (a timeout) cancels the rest of this function.
    if let Plan::Fault(fault) = &plan {
        let name = fault.name();
        log.update(idx, |e| e.fault = Some(name));
    }

    let delay = match f.latency {
        Latency::None => Duration::ZERO,
        Latency::Fixed(d) => d,
        Latency::Range(lo, hi) => {
            let u = unit(cfg.seed ^ 0x1A7E, &key, attempt);
            lo + (hi.saturating_sub(lo)).mul_f64(u)
        }
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let correlation = state.correlation_id();
    let mut answered = Vec::new();
    let action = match plan {
        Plan::Unauthorized(why) => Action::Reply(state.error_reply(
            401,
            "authentication.required",
            &format!("Authentication required: {why}"),
            &correlation,
        )),
        Plan::BadBatch => Action::Reply(state.error_reply(
            400,
            "bad.request",
            &format!(
                "Between 1 and {} conversation ids may be requested at once",
                cfg.max_batch
            ),
            &correlation,
        )),
        Plan::Forbidden => Action::Reply(state.error_reply(
            403,
            "missing.permissions",
            match kind {
                Kind::Analytics => "Missing permission analytics:conversationDetail:view",
                _ => "Missing permission conversation:communication:view",
            },
            &correlation,
        )),
        Plan::Serve => {
            let (reply, ok) = serve(state, kind, &ids, &correlation);
            answered = ok;
            Action::Reply(reply)
        }
        Plan::Fault(fault) => match fault {
            Fault::Status(s) => Action::Reply(state.error_reply(
                s,
                match s {
                    408 => "request.timeout",
                    502 => "bad.gateway",
                    503 => "service.unavailable",
                    504 => "gateway.timeout",
                    _ => "internal.server.error",
                },
                "Injected failure",
                &correlation,
            )),
            Fault::TooMany(ra) => {
                let mut reply = state.error_reply(
                    429,
                    "too.many.requests.retry.after",
                    "Rate limit exceeded the maximum. Retry the request later",
                    &correlation,
                );
                let from = Instant::now();
                let window = match ra {
                    RetryAfter::Seconds(s) => Some((s.to_string(), from + Duration::from_secs(s))),
                    RetryAfter::HttpDate(s) => {
                        let target = (jiff::Timestamp::now().as_second() + s as i64).max(0);
                        let ts = jiff::Timestamp::from_second(target).expect("timestamp");
                        let ahead = (ts.as_millisecond() - jiff::Timestamp::now().as_millisecond()).max(0);
                        let text = jiff::fmt::rfc2822::DateTimePrinter::new()
                            .timestamp_to_rfc9110_string(&ts)
                            .expect("http-date");
                        Some((text, from + Duration::from_millis(ahead as u64)))
                    }
                    RetryAfter::Absent => None,
                };
                if let Some((text, until)) = window {
                    reply.headers.push(("Retry-After".into(), text.clone()));
                    lock(&log.windows).push(Window {
                        seq: idx as u64,
                        ids: ids.clone(),
                        from,
                        until,
                        retry_after: text,
                    });
                }
                Action::Reply(reply)
            }
            Fault::Drop => Action::Drop,
            Fault::Truncate => {
                let (reply, _) = serve(state, kind, &ids, &correlation);
                Action::Truncate(reply)
            }
            Fault::Stall(d) => {
                tokio::time::sleep(d).await;
                let (reply, _) = serve(state, kind, &ids, &correlation);
                Action::Reply(reply)
            }
            Fault::Oversize(o) => {
                let (mut reply, _) = serve(state, kind, &ids, &correlation);
                pad(&mut reply.body, OVERSIZE);
                Action::Oversize(reply, o)
            }
        },
    };
    let status = match &action {
        Action::Reply(r) | Action::Truncate(r) | Action::Oversize(r, _) => r.status,
        Action::Drop => 0,
    };
    log.finish(idx, |e| {
        e.status = status;
        e.correlation_id = (status != 0).then_some(correlation);
        e.answered = answered;
    });
    action
}

/// The fault drawn for this (key, attempt), if any.
fn drawn_fault(cfg: &FakeConfig, key: &str, attempt: u32) -> Option<Fault> {
    let f = &cfg.faults;
    if f.faulty_attempts != 0 && attempt > f.faulty_attempts {
        return None;
    }
    let u = unit(cfg.seed, key, attempt);
    let table = [
        (f.p429, Fault::TooMany(f.retry_after)),
        (f.p500, Fault::Status(500)),
        (f.p502, Fault::Status(502)),
        (f.p503, Fault::Status(503)),
        (f.p504, Fault::Status(504)),
        (f.p_drop, Fault::Drop),
        (f.p_truncate, Fault::Truncate),
        (f.p_stall, Fault::Stall(f.stall)),
    ];
    let mut acc = 0.0;
    for (p, fault) in table {
        acc += p;
        if u < acc {
            return Some(fault);
        }
    }
    None
}

/// A 200 with the known conversations (404 for an unknown id on the conversations API).
fn serve(state: &Shared, kind: Kind, ids: &[String], correlation: &str) -> (Reply, Vec<String>) {
    let cfg = &state.config;
    match kind {
        Kind::Analytics => {
            let known: Vec<&String> = ids.iter().filter(|id| cfg.is_known(id)).collect();
            let conversations: Vec<Value> = known
                .iter()
                .map(|id| {
                    cfg.analytics_bodies
                        .get(id.as_str())
                        .cloned()
                        .unwrap_or_else(|| analytics_json(&model(cfg.seed, id)))
                })
                .collect();
            (
                state.json_reply(200, &json!({ "conversations": conversations }), correlation),
                known.into_iter().cloned().collect(),
            )
        }
        _ => {
            let id = &ids[0];
            if !cfg.is_known(id) {
                let reply = state.error_reply(
                    404,
                    "not.found",
                    &format!("Conversation {id} not found"),
                    correlation,
                );
                return (reply, Vec::new());
            }
            let body = cfg
                .bodies
                .get(id)
                .cloned()
                .unwrap_or_else(|| conversation_json(&model(cfg.seed, id)));
            (state.json_reply(200, &body, correlation), vec![id.clone()])
        }
    }
}

/// Grow a JSON object body to `size` bytes with an extra string field: still valid JSON, just
/// too big.
fn pad(body: &mut Vec<u8>, size: usize) {
    assert_eq!(body.pop(), Some(b'}'));
    body.extend_from_slice(b",\"padding\":\"");
    let n = size.saturating_sub(body.len() + 2);
    body.resize(body.len() + n, b'x');
    body.extend_from_slice(b"\"}");
}

// ---------------------------------------------------------------------------------------------
// Front end 1: axum
// ---------------------------------------------------------------------------------------------

async fn axum_handler(
    axum::extract::State(state): axum::extract::State<Arc<Shared>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let req = Req {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let reply = match handle(&state, req).await {
        Action::Reply(r) | Action::Oversize(r, Oversize::Declared) => r,
        // Unreachable: Fake::start refuses Mode::Axum with transport faults.
        Action::Drop | Action::Truncate(_) | Action::Oversize(_, Oversize::Streamed) => Reply {
            status: 500,
            headers: vec![("x-fake-error".into(), "transport fault needs Mode::Raw".into())],
            body: Vec::new(),
        },
    };
    let mut b = axum::http::Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(axum::body::Body::from(reply.body)).expect("response")
}

// ---------------------------------------------------------------------------------------------
// Front end 2: raw HTTP/1.1 over TCP, for transport faults
// ---------------------------------------------------------------------------------------------

async fn serve_raw(listener: TcpListener, state: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(raw_connection(stream, Arc::clone(&state)));
                }
            }
            _ = &mut stop => return,
        }
    }
}

async fn raw_connection(mut s: TcpStream, state: Arc<Shared>) {
    let mut buf = Vec::new();
    loop {
        let req = match read_request(&mut s, &mut buf).await {
            Ok(Some(r)) => r,
            _ => return,
        };
        let close = req
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        match handle(&state, req).await {
            Action::Reply(r) => {
                let mut out = head(&r, Some(r.body.len()), close);
                out.extend_from_slice(&r.body);
                if s.write_all(&out).await.is_err() || close {
                    return;
                }
            }
            Action::Drop => {
                let _ = s.set_zero_linger();
                return;
            }
            Action::Truncate(r) => {
                let mut out = head(&r, Some(r.body.len()), true);
                out.extend_from_slice(&r.body[..r.body.len() / 2]);
                let _ = s.write_all(&out).await;
                let _ = s.flush().await;
                let _ = s.shutdown().await;
                return;
            }
            Action::Oversize(r, how) => {
                let chunked = how == Oversize::Streamed;
                let declared = (!chunked).then_some(r.body.len());
                if s.write_all(&head(&r, declared, close)).await.is_err() {
                    return;
                }
                for piece in r.body.chunks(64 * 1024) {
                    let ok = if chunked {
                        let mut c = format!("{:x}\r\n", piece.len()).into_bytes();
                        c.extend_from_slice(piece);
                        c.extend_from_slice(b"\r\n");
                        s.write_all(&c).await.is_ok()
                    } else {
                        s.write_all(piece).await.is_ok()
                    };
                    if !ok {
                        return;
                    }
                }
                if chunked && s.write_all(b"0\r\n\r\n").await.is_err() || close {
                    return;
                }
            }
        }
    }
}

fn head(r: &Reply, content_length: Option<usize>, close: bool) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (k, v) in &r.headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    match content_length {
        Some(n) => h.push_str(&format!("content-length: {n}\r\n")),
        None => h.push_str("transfer-encoding: chunked\r\n"),
    }
    if close {
        h.push_str("connection: close\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// One request off a keep-alive connection; `None` when the peer closed it.
async fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Req>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = text.split("\r\n");
            let mut first = lines.next().unwrap_or("").split(' ');
            let method = first.next().unwrap_or("").to_string();
            let target = first.next().unwrap_or("").to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                if !read_more(s, buf).await? {
                    return Ok(None);
                }
            }
            let body = buf[end + 4..total].to_vec();
            buf.drain(..total);
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p.to_string(), q.to_string()),
                None => (target, String::new()),
            };
            return Ok(Some(Req {
                method,
                path,
                query,
                headers,
                body,
            }));
        }
        if buf.len() > 64 * 1024 || !read_more(s, buf).await? {
            return Ok(None);
        }
    }
}

async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = s.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

// ---------------------------------------------------------------------------------------------
// Small pure helpers
// ---------------------------------------------------------------------------------------------

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)).then(|| &s[prefix.len()..])
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The ids of an analytics query: `id=a,b,c` (commas possibly encoded), or `id` repeated.
fn query_ids(query: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == "id")
        .flat_map(|(_, v)| {
            percent_decode(v)
                .split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn form_value(body: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(&v.replace('+', " ")))
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// SplitMix64's finaliser.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded hash of some strings.
pub fn hash(seed: u64, parts: &[&str]) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325_u64 ^ mix(seed);
    for p in parts {
        for &b in p.as_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01B3);
        }
        h = mix(h ^ 0xFF);
    }
    mix(h)
}

/// Uniform in [0, 1), from (seed, key, attempt).
fn unit(seed: u64, key: &str, attempt: u32) -> f64 {
    (hash(seed, &[key, &attempt.to_string()]) >> 11) as f64 / (1u64 << 53) as f64
}

/// A lower-case v4-shaped UUID from two numbers.
pub fn uuid_from(a: u64, b: u64) -> String {
    let x = mix(a ^ mix(b));
    let y = mix(x ^ b.rotate_left(17));
    let hi = (x & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000;
    let lo = (y & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// A stable UUID named by some strings.
pub fn derive_uuid(parts: &[&str]) -> String {
    uuid_from(hash(0x5EED, parts), hash(0xD1CE, parts))
}

/// RFC 3339 UTC with milliseconds, as the API writes times.
pub fn iso(ms: i64) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).expect("time in range");
    format!("{ts:.3}")
}

// ---------------------------------------------------------------------------------------------
// The conversation generator
// ---------------------------------------------------------------------------------------------

/// One concept, four spellings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disc {
    Endpoint,
    Client,
    Peer,
    Transfer,
    ConsultTransfer,
    ForwardTransfer,
    TransportFailure,
    Timeout,
}

impl Disc {
    /// What gcorr writes.
    pub fn snake(self) -> &'static str {
        match self {
            Disc::Endpoint => "endpoint",
            Disc::Client => "client",
            Disc::Peer => "peer",
            Disc::Transfer => "transfer",
            Disc::ConsultTransfer => "consult_transfer",
            Disc::ForwardTransfer => "forward_transfer",
            Disc::TransportFailure => "transport_failure",
            Disc::Timeout => "timeout",
        }
    }

    /// The conversations API.
    pub fn dotted(self) -> &'static str {
        match self {
            Disc::ConsultTransfer => "transfer.consult",
            Disc::ForwardTransfer => "transfer.forward",
            Disc::TransportFailure => "transport.failure",
            d => d.snake(),
        }
    }

    /// The analytics API.
    pub fn camel(self) -> &'static str {
        match self {
            Disc::ConsultTransfer => "consultTransfer",
            Disc::ForwardTransfer => "forwardTransfer",
            Disc::TransportFailure => "transportFailure",
            d => d.snake(),
        }
    }

    /// Detail events.
    pub fn upper(self) -> String {
        self.snake().to_ascii_uppercase()
    }
}

#[derive(Clone, Debug)]
pub struct Model {
    pub id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Lower case: voice, chat, email, callback, message.
    pub media: &'static str,
    pub participants: Vec<MParticipant>,
}

#[derive(Clone, Debug)]
pub struct MParticipant {
    pub id: String,
    /// customer, acd, agent.
    pub purpose: &'static str,
    pub name: String,
    pub user_id: Option<String>,
    pub queue_id: Option<String>,
    pub sessions: Vec<MSession>,
}

#[derive(Clone, Debug)]
pub struct MSession {
    pub id: String,
    pub media: &'static str,
    pub direction: &'static str,
    pub connected_ms: i64,
    pub disconnected_ms: i64,
    pub disconnect: Disc,
    pub segments: Vec<MSegment>,
}

#[derive(Clone, Debug)]
pub struct MSegment {
    /// Lower case: alert, interact, wrapup.
    pub kind: &'static str,
    pub start_ms: i64,
    pub end_ms: i64,
    pub queue_id: Option<String>,
    pub disconnect: Option<Disc>,
    pub wrapup_code: Option<String>,
}

pub const MEDIA: [&str; 5] = ["voice", "chat", "email", "callback", "message"];

/// The participant ids of a generated conversation: 0 customer, 1 acd, 2 and 3 agents.
pub fn participant_id(conversation: &str, index: usize) -> String {
    derive_uuid(&["participant", conversation, &index.to_string()])
}

pub fn session_id(conversation: &str, index: usize) -> String {
    derive_uuid(&["session", conversation, &index.to_string()])
}

/// A conversation: a customer queued, answered by an agent who consult-transfers to a second
/// agent, who wraps up. Media, times, names and agents vary with (seed, id).
pub fn model(seed: u64, id: &str) -> Model {
    let h = hash(seed, &[id]);
    let media = MEDIA[(h % 5) as usize];
    let start = T0_MS + ((h >> 8) % 36_000_000) as i64;
    let talk1 = 30_000 + ((h >> 32) % 300_000) as i64;
    let talk2 = 30_000 + ((h >> 44) % 300_000) as i64;
    let acd_end = start + 15_000;
    let a1_answer = acd_end + 3_000;
    let a1_end = a1_answer + talk1;
    let a2_answer = a1_end + 2_000;
    let end = a2_answer + talk2;
    let q = Some(QUEUE_ID.to_string());
    let agent = |n: u64| derive_uuid(&["user", &n.to_string()]);
    let wrapup = derive_uuid(&["wrapup", &((h >> 20) % 3).to_string()]);
    let seg = |kind, s, e, queue: &Option<String>, d: Option<Disc>, w: Option<String>| MSegment {
        kind,
        start_ms: s,
        end_ms: e,
        queue_id: queue.clone(),
        disconnect: d,
        wrapup_code: w,
    };
    let session = |i: usize, c: i64, d: i64, disc: Disc, segments: Vec<MSegment>| MSession {
        id: session_id(id, i),
        media,
        direction: "inbound",
        connected_ms: c,
        disconnected_ms: d,
        disconnect: disc,
        segments,
    };
    let participants = vec![
        MParticipant {
            id: participant_id(id, 0),
            purpose: "customer",
            name: format!("Customer {}", h % 1000),
            user_id: None,
            queue_id: None,
            sessions: vec![session(
                0,
                start,
                end,
                Disc::Endpoint,
                vec![seg("interact", start, end, &None, Some(Disc::Endpoint), None)],
            )],
        },
        MParticipant {
            id: participant_id(id, 1),
            purpose: "acd",
            name: QUEUE_NAME.into(),
            user_id: None,
            queue_id: q.clone(),
            sessions: vec![session(
                1,
                start + 500,
                acd_end,
                Disc::Transfer,
                vec![seg(
                    "interact",
                    start + 500,
                    acd_end,
                    &q,
                    Some(Disc::Transfer),
                    None,
                )],
            )],
        },
        MParticipant {
            id: participant_id(id, 2),
            purpose: "agent",
            name: format!("Agent {}", (h >> 16) % 5),
            user_id: Some(agent((h >> 16) % 5)),
            queue_id: q.clone(),
            sessions: vec![session(
                2,
                a1_answer,
                a1_end,
                Disc::ConsultTransfer,
                vec![
                    seg("alert", acd_end, a1_answer, &q, None, None),
                    seg(
                        "interact",
                        a1_answer,
                        a1_end,
                        &q,
                        Some(Disc::ConsultTransfer),
                        None,
                    ),
                    seg("wrapup", a1_end, a1_end + 10_000, &q, None, Some(wrapup.clone())),
                ],
            )],
        },
        MParticipant {
            id: participant_id(id, 3),
            purpose: "agent",
            name: format!("Agent {}", 5 + (h >> 24) % 5),
            user_id: Some(agent(5 + (h >> 24) % 5)),
            queue_id: q.clone(),
            sessions: vec![session(
                3,
                a2_answer,
                end,
                Disc::Peer,
                vec![
                    seg("alert", a1_end, a2_answer, &q, None, None),
                    seg("interact", a2_answer, end, &q, Some(Disc::Peer), None),
                    seg("wrapup", end, end + 20_000, &q, None, Some(wrapup)),
                ],
            )],
        },
    ];
    Model {
        id: id.to_string(),
        start_ms: start,
        end_ms: end,
        media,
        participants,
    }
}

/// The per-media array of the conversations API holding this media.
pub fn media_array(media: &str) -> &'static str {
    match media {
        "voice" => "calls",
        "chat" => "chats",
        "email" => "emails",
        "callback" => "callbacks",
        "message" => "messages",
        _ => "videos",
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// `GET /api/v2/conversations/{id}` (section 2), with a few fields no client knows yet.
pub fn conversation_json(m: &Model) -> Value {
    let participants: Vec<Value> = m
        .participants
        .iter()
        .map(|p| {
            let s0 = &p.sessions[0];
            let mut o = json!({
                "id": p.id,
                "startTime": iso(s0.connected_ms - 200),
                "endTime": iso(s0.disconnected_ms),
                "connectedTime": iso(s0.connected_ms),
                "name": p.name,
                "purpose": p.purpose,
                "participantType": if p.purpose == "customer" { "External" } else { "Internal" },
                "address": "tel:+13125550187",
                "wrapupRequired": p.purpose == "agent",
                "attributes": {},
                "screenRecordingState": "none",
            });
            if let Some(u) = &p.user_id {
                o["userId"] = json!(u);
                o["userUri"] = json!(format!("/api/v2/users/{u}"));
            }
            if let Some(q) = &p.queue_id {
                o["queueId"] = json!(q);
                o["queueName"] = json!(QUEUE_NAME);
            }
            let comms: Vec<Value> = p
                .sessions
                .iter()
                .map(|s| {
                    json!({
                        "id": s.id,
                        "state": "disconnected",
                        "initialState": "alerting",
                        "direction": s.direction,
                        "held": false,
                        "disconnectType": s.disconnect.dotted(),
                        "startAlertingTime": iso(s.connected_ms - 200),
                        "connectedTime": iso(s.connected_ms),
                        "disconnectedTime": iso(s.disconnected_ms),
                        "provider": "Edge",
                        "afterCallWorkRequired": false,
                        "segments": s.segments.iter().map(|g| {
                            let mut seg = json!({
                                "startTime": iso(g.start_ms),
                                "endTime": iso(g.end_ms),
                                "type": capitalised(g.kind),
                                "howEnded": "Disconnect",
                            });
                            if let Some(d) = g.disconnect {
                                seg["disconnectType"] = json!(d.dotted());
                            }
                            seg
                        }).collect::<Vec<_>>(),
                    })
                })
                .collect();
            o[media_array(s0.media)] = json!(comms);
            o
        })
        .collect();
    json!({
        "id": m.id,
        "startTime": iso(m.start_ms),
        "endTime": iso(m.end_ms),
        "address": "tel:+18005550199",
        "participants": participants,
        "conversationIds": [],
        "maxParticipants": 10,
        "recordingState": "NONE",
        "divisions": [{"division": {"id": DIVISION_ID, "selfUri": format!("/api/v2/authorization/divisions/{DIVISION_ID}")}, "entities": []}],
        "recentTransfers": [],
        "securePause": false,
        "selfUri": format!("/api/v2/conversations/{}", m.id),
        "someFutureField": {"nested": [1, 2, 3]},
    })
}

/// One element of `/api/v2/analytics/conversations/details` (section 3).
pub fn analytics_json(m: &Model) -> Value {
    let participants: Vec<Value> = m
        .participants
        .iter()
        .map(|p| {
            let mut o = json!({
                "participantId": p.id,
                "participantName": p.name,
                "purpose": p.purpose,
                "sessions": p.sessions.iter().map(|s| json!({
                    "sessionId": s.id,
                    "mediaType": s.media,
                    "direction": s.direction,
                    "provider": "Edge",
                    "segments": s.segments.iter().map(|g| {
                        let mut seg = json!({
                            "segmentStart": iso(g.start_ms),
                            "segmentEnd": iso(g.end_ms),
                            "segmentType": g.kind,
                            "conference": false,
                        });
                        if let Some(q) = &g.queue_id { seg["queueId"] = json!(q); }
                        if let Some(d) = g.disconnect { seg["disconnectType"] = json!(d.camel()); }
                        if let Some(w) = &g.wrapup_code { seg["wrapUpCode"] = json!(w); }
                        seg
                    }).collect::<Vec<_>>(),
                    "metrics": [{"name": "tConnected", "value": s.disconnected_ms - s.connected_ms, "emitDate": iso(s.disconnected_ms)}],
                })).collect::<Vec<_>>(),
            });
            if let Some(u) = &p.user_id {
                o["userId"] = json!(u);
            }
            o
        })
        .collect();
    json!({
        "conversationId": m.id,
        "conversationStart": iso(m.start_ms),
        "conversationEnd": iso(m.end_ms),
        "originatingDirection": "inbound",
        "divisionIds": [DIVISION_ID],
        "participants": participants,
    })
}
