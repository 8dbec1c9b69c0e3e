//! The HTTP surface: `POST /events` (one EventBridge event per request, as API destinations
//! send it), `POST /firehose` (a Firehose HTTP-endpoint delivery), `GET /healthz` and
//! `GET /metrics`. Each answer says exactly what happened to the delivery: 2xx only once it
//! is fsync'd; 401, 413, 400 (a copy kept in `DIR/rejected/`), 408, 429 and 503 otherwise, in
//! the shape each sender expects.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde_json::json;

use super::auth::Guard;
use super::metrics::{Metrics, Reason};
use super::record::{self, Inflate, NotJson};
use super::rejected::Rejected;
use super::spool::{Spool, StoreError};

/// Seconds a sender is asked to wait after a write error (the disk may need time).
const RETRY_AFTER_WRITE_ERROR: &str = "10";

/// What the handlers share.
pub struct App {
    pub guard: Guard,
    pub spool: Spool,
    pub metrics: Arc<Metrics>,
    pub rejected: Rejected,
    pub dir: PathBuf,
    pub max_events_body: u64,
    pub max_firehose_body: u64,
    pub body_timeout: Duration,
    /// False once shutting down: /healthz says so.
    pub accepting: AtomicBool,
}

pub fn router(app: Arc<App>) -> Router {
    let guarded = Router::new()
        .route("/events", post(events))
        .route("/firehose", post(firehose))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(app.clone(), authorise));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(guarded)
        .layer(middleware::from_fn_with_state(app.clone(), count))
        .with_state(app)
}

/// Counts every answer by path and status.
async fn count(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let path = match req.extensions().get::<MatchedPath>().map(|p| p.as_str()) {
        Some("/events") => "/events",
        Some("/firehose") => "/firehose",
        Some("/healthz") => "/healthz",
        Some("/metrics") => "/metrics",
        _ => "other",
    };
    let response = next.run(req).await;
    app.metrics.request(path, response.status().as_u16());
    response
}

/// 401, with no detail, unless the request carries the secret.
async fn authorise(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if app.guard.allows(req.headers()) {
        next.run(req).await
    } else {
        app.metrics.rejected(Reason::Unauthorized);
        StatusCode::UNAUTHORIZED.into_response()
    }
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    if app.accepting.load(Relaxed) {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(&app.dir),
    )
        .into_response()
}

/// A refusal: its status, the reason counted, and what the sender is told.
struct Refusal {
    status: StatusCode,
    reason: Reason,
    message: &'static str,
}

impl Refusal {
    fn count(&self, metrics: &Metrics) {
        metrics.rejected(self.reason);
    }

    fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        match self.status {
            StatusCode::TOO_MANY_REQUESTS => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                h.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_WRITE_ERROR),
                );
            }
            // The body was not read to its end: the connection cannot carry another request.
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT => {
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        h
    }
}

fn refusal(status: StatusCode, reason: Reason, message: &'static str) -> Refusal {
    Refusal {
        status,
        reason,
        message,
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        match e {
            StoreError::Overloaded => refusal(
                StatusCode::TOO_MANY_REQUESTS,
                Reason::Overloaded,
                "too many events waiting to be stored",
            ),
            StoreError::Failed(_) => refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                Reason::NotStored,
                "the events could not be stored",
            ),
        }
    }
}

/// The whole body, within the size limit and the time limit.
async fn read_body(app: &App, headers: &HeaderMap, body: Body, limit: u64) -> Result<Bytes, Refusal> {
    let too_large = || refusal(StatusCode::PAYLOAD_TOO_LARGE, Reason::TooLarge, "body too large");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let read = async {
        let mut buf = Vec::with_capacity(declared.unwrap_or(0) as usize);
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| {
                refusal(
                    StatusCode::BAD_REQUEST,
                    Reason::SlowBody,
                    "the body could not be read",
                )
            })?;
            if (buf.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    let body = tokio::time::timeout(app.body_timeout, read)
        .await
        .unwrap_or_else(|_| {
            Err(refusal(
                StatusCode::REQUEST_TIMEOUT,
                Reason::SlowBody,
                "the body was not sent in time",
            ))
        })?;
    let gzipped = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    if !gzipped {
        return Ok(body);
    }
    match record::gunzip(&body, limit) {
        Ok(inflated) => Ok(Bytes::from(inflated)),
        Err(Inflate::TooLarge) => Err(too_large()),
        Err(Inflate::Corrupt) => Err(refusal(
            StatusCode::BAD_REQUEST,
            Reason::NotJson,
            "the body is not valid gzip",
        )),
    }
}

/// Keeps a copy of what was refused as not JSON (off the async threads: it fsyncs).
async fn keep(app: &Arc<App>, bodies: Vec<Vec<u8>>, kind: &'static str) {
    let app = app.clone();
    let _ = tokio::task::spawn_blocking(move || {
        for body in bodies {
            if !app.rejected.keep(&body, kind) {
                app.metrics.rejected_dropped.fetch_add(1, Relaxed);
            }
        }
    })
    .await;
}

async fn events(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    match store_event(&app, &headers, body).await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({"stored": 1}))).into_response(),
        Err(r) => {
            r.count(&app.metrics);
            (r.status, r.headers(), axum::Json(json!({"error": r.message}))).into_response()
        }
    }
}

async fn store_event(app: &Arc<App>, headers: &HeaderMap, body: Body) -> Result<(), Refusal> {
    let body = read_body(app, headers, body, app.max_events_body).await?;
    let mut line = Vec::with_capacity(body.len() + 1);
    if let Err(NotJson) = record::push_event(&body, &mut line) {
        keep(app, vec![body.to_vec()], "events").await;
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            Reason::NotJson,
            "the body is not a JSON event",
        ));
    }
    Ok(app.spool.store(line, 1).await?)
}

async fn firehose(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    // Firehose also names the request in a header: the answer to a body that cannot be read
    // still carries it.
    let header_id = headers
        .get("x-amz-firehose-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (request_id, outcome) = match store_delivery(&app, &headers, body).await {
        Ok(id) => (id, Ok(())),
        Err((id, r)) => (id.unwrap_or(header_id), Err(r)),
    };
    let timestamp = jiff::Timestamp::now().as_millisecond();
    match outcome {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(json!({"requestId": request_id, "timestamp": timestamp})),
        )
            .into_response(),
        Err(r) => {
            r.count(&app.metrics);
            let body = json!({"requestId": request_id, "timestamp": timestamp, "errorMessage": r.message});
            (r.status, r.headers(), axum::Json(body)).into_response()
        }
    }
}

type Failed = (Option<String>, Refusal);

async fn store_delivery(app: &Arc<App>, headers: &HeaderMap, body: Body) -> Result<String, Failed> {
    let body = read_body(app, headers, body, app.max_firehose_body)
        .await
        .map_err(|r| (None, r))?;
    let large = body.len() > 1 << 20;
    let unpack = move || {
        let unpacked = record::unpack_firehose(&body);
        (body, unpacked)
    };
    // A large delivery is parsed off the async threads.
    let (body, unpacked) = if large {
        tokio::task::spawn_blocking(unpack)
            .await
            .expect("unpacking does not panic")
    } else {
        unpack()
    };
    let u = match unpacked {
        Ok(u) => u,
        Err(_) => {
            keep(app, vec![body.to_vec()], "firehose").await;
            let r = refusal(
                StatusCode::BAD_REQUEST,
                Reason::NotJson,
                "the body is not a Firehose delivery request",
            );
            return Err((None, r));
        }
    };
    // Records that are not JSON are kept aside and the delivery still succeeds: refusing it
    // would make Firehose send the same record again and again.
    if !u.bad_records.is_empty() {
        for _ in &u.bad_records {
            app.metrics.rejected(Reason::NotJson);
        }
        keep(app, u.bad_records, "firehose-record").await;
    }
    if u.events > 0 {
        app.spool
            .store(u.lines, u.events)
            .await
            .map_err(|e| (Some(u.request_id.clone()), e.into()))?;
    }
    Ok(u.request_id)
}
