//! The one HTTP client and one request attempt: send, read the whole body (capped), keep the
//! headers the policy needs. This is the only file that talks to reqwest.

use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};
use reqwest::{Client, RequestBuilder, Url};

use super::pace::RateHeaders;
use super::retry;

/// Largest response body accepted.
pub const MAX_BODY: u64 = 16 << 20;
/// Largest token answer accepted.
pub const MAX_TOKEN_BODY: u64 = 64 << 10;

/// Timeouts of one attempt.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    /// Headers and body of one attempt.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(20),
        }
    }
}

/// Builds the client: explicit timeouts, a User-Agent, no redirects, rustls.
pub fn client(t: Timeouts) -> reqwest::Result<Client> {
    Client::builder()
        .user_agent(concat!("gcorr/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(t.connect)
        .timeout(t.request)
        .pool_idle_timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// A complete answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
    /// `ININ-Correlation-Id`, what Genesys support asks for.
    pub correlation_id: Option<String>,
    pub rate: Option<RateHeaders>,
}

/// An attempt that produced no complete answer.
#[derive(Debug)]
pub enum Failure {
    /// Connection refused or reset, DNS, TLS, timeout, a body cut short: worth retrying.
    Transport { message: String, timeout: bool },
    /// The body is over the cap: not retried.
    TooLarge(u64),
}

impl Failure {
    pub fn message(&self) -> String {
        match self {
            Failure::Transport { message, .. } => message.clone(),
            Failure::TooLarge(cap) => format!("response body larger than {} MiB", cap >> 20),
        }
    }
}

/// `GET url` with a bearer token.
pub async fn get(client: &Client, url: Url, token: &str) -> Result<Answer, Failure> {
    send(
        client
            .get(url)
            .bearer_auth(token)
            .header(header::ACCEPT, "application/json"),
        MAX_BODY,
    )
    .await
}

/// `POST url` of a form body with HTTP Basic credentials (the token request).
pub async fn post_form(
    client: &Client,
    url: Url,
    user: &str,
    password: &str,
    form: &'static str,
) -> Result<Answer, Failure> {
    let req = client
        .post(url)
        .basic_auth(user, Some(password))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(form);
    send(req, MAX_TOKEN_BODY).await
}

async fn send(req: RequestBuilder, cap: u64) -> Result<Answer, Failure> {
    let mut resp = req.send().await.map_err(transport)?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(Failure::TooLarge(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(Failure::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        body,
        retry_after: header_str(&headers, "retry-after")
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now())),
        correlation_id: header_str(&headers, "inin-correlation-id").map(str::to_owned),
        rate: rate_headers(&headers),
    })
}

fn transport(e: reqwest::Error) -> Failure {
    // The chain of sources says what really happened (reset, refused, timed out...); the URL
    // is left out: it carries nothing the reader lacks and may carry ids.
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    Failure::Transport { message, timeout }
}

fn header_str<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn rate_headers(h: &HeaderMap) -> Option<RateHeaders> {
    let num = |n: &str| {
        header_str(h, n)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| *v >= 0.0)
    };
    Some(RateHeaders {
        count: num("inin-ratelimit-count")? as u64,
        allowed: num("inin-ratelimit-allowed")? as u64,
        reset: Duration::from_secs_f64(num("inin-ratelimit-reset")?.min(3600.0)),
    })
}
