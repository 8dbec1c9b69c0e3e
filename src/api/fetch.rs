//! The fetch pipeline: every unique conversation id, fetched at most once, concurrently.
//!
//! One flat `stream::iter(items).map(fetch).buffer_unordered(concurrency)` with a single
//! consumer. Each item's future does everything for its conversation(s): cache lookup, the
//! request loop (pace, token, send, classify, back off), parsing, and the cache write before
//! it counts as done. A failure is an [`Outcome`], never an early exit: one bad conversation
//! never costs the others.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use reqwest::{Client, Url};
use tokio::time::Instant;

use super::auth::{Auth, AuthError, Token};
use super::cache::Cache;
use super::http::{self, Answer, Failure};
use super::model::{self, Enriched};
use super::pace::Pacer;
use super::retry::{self, Budget, Verdict};
use crate::report::counted;

/// How a conversation's enrichment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Cached,
    NotFound,
    Forbidden,
    Failed,
    Skipped,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Ok,
        Status::Cached,
        Status::NotFound,
        Status::Forbidden,
        Status::Failed,
        Status::Skipped,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Cached => "cached",
            Status::NotFound => "not_found",
            Status::Forbidden => "forbidden",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }

    /// Whether this outcome makes the run partial (exit 3).
    pub fn is_problem(self) -> bool {
        matches!(self, Status::NotFound | Status::Forbidden | Status::Failed)
    }
}

/// One conversation's enrichment, as written in its timeline.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    pub status: Status,
    pub error: Option<String>,
    pub http_status: Option<u16>,
    pub attempts: u32,
    pub correlation_id: Option<String>,
    #[serde(skip)]
    pub data: Option<Enriched>,
}

impl Outcome {
    pub fn skipped(reason: impl Into<String>) -> Outcome {
        Outcome::plain(Status::Skipped, Some(reason.into()))
    }

    fn plain(status: Status, error: Option<String>) -> Outcome {
        Outcome {
            status,
            error,
            http_status: None,
            attempts: 0,
            correlation_id: None,
            data: None,
        }
    }
}

/// Which API answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// `GET /api/v2/conversations/{id}`, one request per conversation.
    Conversations,
    /// `GET /api/v2/analytics/conversations/details?id=...`, up to --batch-size per request.
    Analytics,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Conversations => "conversations",
            Source::Analytics => "analytics",
        }
    }

    fn permission(self) -> &'static str {
        match self {
            Source::Conversations => "conversation:communication:view",
            Source::Analytics => "analytics:conversationDetail:view",
        }
    }

    fn parse(self, body: &[u8], id: &str) -> Result<Enriched, String> {
        match self {
            Source::Conversations => model::from_conversation(body, id),
            Source::Analytics => model::from_analytics(body),
        }
    }
}

/// Knobs of the fetch.
#[derive(Clone, Debug)]
pub struct Options {
    pub source: Source,
    pub concurrency: usize,
    pub max_rpm: u32,
    pub max_retries: u32,
    pub batch_size: usize,
    pub backoff_base: Duration,
    pub deadline: Duration,
}

/// Counters of the run, for the summary and `--report`.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
}

/// The reason of a conversation not fetched because the run was interrupted.
pub const INTERRUPTED: &str = "interrupted";

/// Consecutive 403s after which fetching stops: every other id would fail the same way.
const FORBIDDEN_RUN: u32 = 5;
/// 429s one conversation may meet (they do not use up its retries).
const MAX_RATE_LIMITED: u32 = 20;
/// Token renewals one request may cause.
const MAX_REAUTH: u32 = 2;

/// Everything the item futures share.
pub struct Fetcher {
    pub client: Client,
    pub api: Url,
    /// `None`: offline, the cache alone answers.
    pub auth: Option<Auth>,
    pub cache: Option<Cache>,
    pub opts: Options,
    pub pacer: Pacer,
    pub budget: Budget,
    pub stats: Stats,
    /// Why dispatching stopped, and what the conversations not done then end as.
    stop: Mutex<Option<(Status, String)>>,
    fatal: Mutex<Option<AuthError>>,
    forbidden_run: AtomicU32,
}

#[derive(Default)]
struct Tally {
    attempts: u32,
    status: Option<u16>,
    correlation: Option<String>,
    /// The last transport error, when the last attempt got no answer.
    transport: Option<String>,
}

impl Tally {
    fn outcome(&self, status: Status, error: Option<String>) -> Outcome {
        Outcome {
            status,
            error,
            http_status: self.status,
            attempts: self.attempts,
            correlation_id: self.correlation.clone(),
            data: None,
        }
    }
}

impl Fetcher {
    pub fn new(client: Client, api: Url, auth: Option<Auth>, cache: Option<Cache>, opts: Options) -> Fetcher {
        Fetcher {
            client,
            api,
            auth,
            cache,
            pacer: Pacer::new(opts.max_rpm),
            opts,
            budget: Budget::default(),
            stats: Stats::default(),
            stop: Mutex::new(None),
            fatal: Mutex::new(None),
            forbidden_run: AtomicU32::new(0),
        }
    }

    /// Stops dispatching: every conversation not yet done ends `failed` with `reason`.
    pub fn stop(&self, reason: String) {
        self.stop_as(Status::Failed, reason);
    }

    /// Stops dispatching on a signal: every conversation not yet done is `skipped`, as
    /// `interrupted` (nothing went wrong with it).
    pub fn interrupt(&self) {
        self.stop_as(Status::Skipped, INTERRUPTED.into());
    }

    fn stop_as(&self, status: Status, reason: String) {
        let mut s = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        s.get_or_insert((status, reason));
    }

    fn stopped(&self) -> Option<(Status, String)> {
        self.stop.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// An error that ends the whole run (token refused), if one happened.
    pub fn take_fatal(&self) -> Option<AuthError> {
        self.fatal.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn fail_run(&self, e: AuthError) {
        self.stop("stopped: authentication failed".into());
        self.fatal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
    }

    /// Fetches every id; `done` is called once per id (index into `ids`) as outcomes arrive.
    pub async fn run(&self, ids: &[String], done: &mut dyn FnMut(usize, Outcome)) {
        let mut pending = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            match self.cached(id) {
                Some(o) => done(i, o),
                None if self.auth.is_none() => done(i, Outcome::skipped("offline: not in the cache")),
                None => pending.push(i),
            }
        }
        let items: Vec<Vec<usize>> = match self.opts.source {
            Source::Conversations => pending.into_iter().map(|i| vec![i]).collect(),
            Source::Analytics => pending
                .chunks(self.opts.batch_size.max(1))
                .map(<[usize]>::to_vec)
                .collect(),
        };
        let mut stream = futures::stream::iter(items)
            .map(|batch| async move {
                let deadline = self.opts.deadline;
                let ids_of: Vec<&str> = batch.iter().map(|&i| ids[i].as_str()).collect();
                match tokio::time::timeout(deadline, self.fetch_batch(&ids_of)).await {
                    Ok(outcomes) => batch.into_iter().zip(outcomes).collect::<Vec<_>>(),
                    Err(_) => {
                        let why = format!("gave up after {} s", deadline.as_secs());
                        batch
                            .into_iter()
                            .map(|i| (i, Outcome::plain(Status::Failed, Some(why.clone()))))
                            .collect()
                    }
                }
            })
            .buffer_unordered(self.opts.concurrency.max(1));
        while let Some(results) = stream.next().await {
            for (i, o) in results {
                done(i, o);
            }
        }
    }

    fn cached(&self, id: &str) -> Option<Outcome> {
        let body = self.cache.as_ref()?.read(id)?;
        // A corrupt entry is fetched again.
        let data = self.opts.source.parse(&body, id).ok()?;
        Some(Outcome {
            data: Some(data),
            ..Outcome::plain(Status::Cached, None)
        })
    }

    /// One request's worth of ids (one, or a batch for analytics), in order.
    async fn fetch_batch(&self, ids: &[&str]) -> Vec<Outcome> {
        match self.opts.source {
            Source::Conversations => vec![self.fetch_conversation(ids[0]).await],
            Source::Analytics => Box::pin(self.fetch_analytics(ids)).await,
        }
    }

    async fn fetch_conversation(&self, id: &str) -> Outcome {
        let url = match self.api.join(&format!("api/v2/conversations/{id}")) {
            Ok(u) => u,
            Err(e) => return Outcome::plain(Status::Failed, Some(e.to_string())),
        };
        let mut tally = Tally::default();
        // A 2xx that does not parse (or is for another id) is fetched once more.
        for parse_try in 0..2 {
            let answer = match self.request(&url, &mut tally).await {
                Ok(a) => a,
                Err(o) => return o,
            };
            match self.opts.source.parse(&answer.body, id) {
                Ok(data) => return self.success(id, &answer.body, data, &tally),
                Err(e) if parse_try == 1 => return tally.outcome(Status::Failed, Some(e)),
                Err(_) => continue,
            }
        }
        unreachable!("the loop returns on its second try")
    }

    async fn fetch_analytics(&self, ids: &[&str]) -> Vec<Outcome> {
        let mut url = match self.api.join("api/v2/analytics/conversations/details") {
            Ok(u) => u,
            Err(e) => {
                return ids
                    .iter()
                    .map(|_| Outcome::plain(Status::Failed, Some(e.to_string())))
                    .collect();
            }
        };
        url.query_pairs_mut().append_pair("id", &ids.join(","));
        let mut tally = Tally::default();
        let answer = match self.request(&url, &mut tally).await {
            Ok(a) => a,
            Err(o) if o.http_status == Some(400) && ids.len() > 1 => {
                // Refused as too large: halve it.
                let (a, b) = ids.split_at(ids.len() / 2);
                let mut out = Box::pin(self.fetch_analytics(a)).await;
                out.extend(Box::pin(self.fetch_analytics(b)).await);
                return out;
            }
            Err(o) => return ids.iter().map(|_| o.clone()).collect(),
        };
        let parsed: model::AnalyticsAnswer = match serde_json::from_slice(&answer.body) {
            Ok(p) => p,
            Err(e) => {
                let o = tally.outcome(Status::Failed, Some(format!("invalid analytics JSON: {e}")));
                return ids.iter().map(|_| o.clone()).collect();
            }
        };
        ids.iter()
            .map(|id| {
                let found = parsed
                    .conversations
                    .iter()
                    .find(|c| model::analytics_id(c) == Some(id));
                match found {
                    None => tally.outcome(Status::NotFound, Some("not in the analytics answer".into())),
                    Some(c) => {
                        let body = serde_json::to_vec(c).unwrap_or_default();
                        match model::from_analytics(&body) {
                            Ok(data) => self.success(id, &body, data, &tally),
                            Err(e) => tally.outcome(Status::Failed, Some(e)),
                        }
                    }
                }
            })
            .collect()
    }

    fn success(&self, id: &str, body: &[u8], data: Enriched, tally: &Tally) -> Outcome {
        if let Some(cache) = &self.cache {
            if let Err(e) = cache.write(id, body) {
                return tally.outcome(Status::Failed, Some(format!("fetched, but {e:#}")));
            }
        }
        Outcome {
            data: Some(data),
            ..tally.outcome(Status::Ok, None)
        }
    }

    /// The request loop: returns a 2xx answer, or the outcome it ended with otherwise.
    async fn request(&self, url: &Url, tally: &mut Tally) -> Result<Answer, Outcome> {
        let auth = self
            .auth
            .as_ref()
            .expect("requests are only made with credentials");
        let (mut retries, mut rate_limited, mut reauths) = (0u32, 0u32, 0u32);
        loop {
            if let Some((status, reason)) = self.stopped() {
                let why = if tally.attempts == 0 && status == Status::Failed {
                    format!("not attempted: {reason}")
                } else {
                    reason
                };
                return Err(tally.outcome(status, Some(why)));
            }
            self.pacer.wait().await;
            let token: Token = match auth.token(&self.client).await {
                Ok(t) => t,
                Err(e) => {
                    let msg = e.to_string();
                    self.fail_run(e);
                    return Err(tally.outcome(Status::Failed, Some(msg)));
                }
            };
            if self.stopped().is_some() {
                continue;
            }
            tally.attempts += 1;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let result = http::get(&self.client, url.clone(), token.value.expose()).await;
            let (verdict, answer, timeout) = match result {
                Ok(a) => {
                    tally.status = Some(a.status);
                    tally.transport = None;
                    tally.correlation = a.correlation_id.clone().or_else(|| context_id(&a.body));
                    if let Some(r) = a.rate {
                        self.pacer.observe(r);
                    }
                    (retry::classify(a.status, a.retry_after.is_some()), Some(a), false)
                }
                Err(Failure::TooLarge(cap)) => {
                    let o = tally.outcome(Status::Failed, Some(Failure::TooLarge(cap).message()));
                    return Err(o);
                }
                Err(Failure::Transport { message, timeout }) => {
                    tally.status = None;
                    tally.correlation = None;
                    tally.transport = Some(message);
                    (Verdict::Retry, None, timeout)
                }
            };
            match verdict {
                Verdict::Success => {
                    auth.accepted(&token);
                    self.budget.refund();
                    self.forbidden_run.store(0, Ordering::Relaxed);
                    return Ok(answer.expect("an answer"));
                }
                Verdict::NotFound => {
                    auth.accepted(&token);
                    self.forbidden_run.store(0, Ordering::Relaxed);
                    return Err(tally.outcome(Status::NotFound, Some("no such conversation".into())));
                }
                Verdict::Forbidden => {
                    auth.accepted(&token);
                    let hint = format!(
                        "forbidden: the OAuth client needs the {} permission",
                        self.opts.source.permission()
                    );
                    if self.forbidden_run.fetch_add(1, Ordering::Relaxed) + 1 >= FORBIDDEN_RUN {
                        self.stop(format!(
                            "stopped after {FORBIDDEN_RUN} forbidden answers in a row ({hint})"
                        ));
                    }
                    return Err(tally.outcome(Status::Forbidden, Some(hint)));
                }
                Verdict::Unauthorized => {
                    if let Err(e) = auth.refused(&token) {
                        let msg = e.to_string();
                        self.fail_run(e);
                        return Err(tally.outcome(Status::Failed, Some(msg)));
                    }
                    reauths += 1;
                    if reauths > MAX_REAUTH {
                        let o = tally.outcome(
                            Status::Failed,
                            Some("the API refused renewed tokens (401)".into()),
                        );
                        return Err(o);
                    }
                }
                Verdict::RateLimited => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    rate_limited += 1;
                    let wait = answer
                        .as_ref()
                        .and_then(|a| a.retry_after)
                        .unwrap_or_else(|| retry::default_rate_pause(rate_limited));
                    if wait > retry::QUOTA_RETRY_AFTER {
                        let reason = format!(
                            "quota exhausted: the API asked to wait {} s (Retry-After)",
                            wait.as_secs()
                        );
                        self.stop(reason.clone());
                        return Err(tally.outcome(Status::Failed, Some(reason)));
                    }
                    if rate_limited > MAX_RATE_LIMITED {
                        let o =
                            tally.outcome(Status::Failed, Some(format!("rate limited {rate_limited} times")));
                        return Err(o);
                    }
                    let jitter = Duration::from_millis(fastrand::u64(0..1000));
                    self.pacer.pause_until(Instant::now() + wait + jitter);
                }
                Verdict::Retry => {
                    retries += 1;
                    let what = match (tally.status, &tally.transport) {
                        (Some(s), _) => format!("HTTP {s}"),
                        (None, Some(t)) => t.clone(),
                        (None, None) => "no answer".to_owned(),
                    };
                    if retries > self.opts.max_retries {
                        let o = tally.outcome(
                            Status::Failed,
                            Some(format!(
                                "{what} after {}",
                                counted(tally.attempts.into(), "attempt", "attempts")
                            )),
                        );
                        return Err(o);
                    }
                    let cost = if timeout {
                        retry::TIMEOUT_COST
                    } else {
                        retry::RETRY_COST
                    };
                    if !self.budget.spend(cost) {
                        let reason =
                            "retry budget exhausted: the API keeps failing (circuit open)".to_owned();
                        self.stop(reason.clone());
                        return Err(tally.outcome(Status::Failed, Some(format!("{what}; {reason}"))));
                    }
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(retry::backoff(retries, self.opts.backoff_base, fastrand::f64()))
                        .await;
                }
                Verdict::Fail => {
                    let body = answer.map(|a| error_message(&a.body)).unwrap_or_default();
                    let o = tally.outcome(
                        Status::Failed,
                        Some(format!("HTTP {}{body}", tally.status.unwrap_or(0))),
                    );
                    return Err(o);
                }
            }
        }
    }
}

/// The `contextId` of a Genesys error body.
fn context_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct E {
        context_id: Option<String>,
    }
    serde_json::from_slice::<E>(body).ok()?.context_id
}

/// `: <message>` of a Genesys error body, if it has one.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct E {
        message: Option<String>,
    }
    match serde_json::from_slice::<E>(body).ok().and_then(|e| e.message) {
        Some(m) => format!(": {}", m.chars().take(200).collect::<String>()),
        None => String::new(),
    }
}
