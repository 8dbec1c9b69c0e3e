//! Access tokens: requested lazily, cached, renewed before they expire, one request at a time.
//!
//! Client credentials (`POST {login}/oauth/token`, HTTP Basic, `grant_type=client_credentials`)
//! or a ready token. Each token carries a generation number: a 401 on generation `g` renews
//! only if `g` is still current, so 32 requests refused together cause one token request.
//! Three fresh tokens refused in a row end the run: something other than expiry is wrong.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Client, Url};
use tokio::time::Instant;

use super::config::Credentials;
use super::http::{self, Failure};
use super::retry;
use super::secret::Secret;

/// Why no token can be had: each ends the run.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "the token request was refused ({status}): {detail}; check the client id and secret and the region ({region})"
    )]
    Rejected {
        status: u16,
        detail: String,
        region: String,
    },
    #[error("the token request failed: {0}")]
    Unavailable(String),
    #[error("the token endpoint answered something that is not a usable token: {0}")]
    BadAnswer(String),
    #[error(
        "GENESYSCLOUD_ACCESS_TOKEN was refused (401) and a ready token cannot be refreshed: set a fresh one, or use client credentials"
    )]
    StaticRefused,
    #[error(
        "{0} freshly issued tokens in a row were refused (401): the OAuth client may lack access to this organisation"
    )]
    FreshRefused(u32),
}

/// A token in use.
#[derive(Clone, Debug)]
pub struct Token {
    pub value: Secret,
    pub generation: u64,
}

#[derive(Debug)]
struct Current {
    token: Token,
    renew_at: Option<Instant>,
    lifetime: Option<Duration>,
    used_ok: bool,
}

#[derive(Debug, Default)]
struct State {
    current: Option<Current>,
    generation: u64,
    fresh_refused: u32,
    /// Once the token endpoint refused, every later caller gets the same answer.
    failed: Option<AuthError>,
}

/// The token source shared by every request.
#[derive(Debug)]
pub struct Auth {
    credentials: Credentials,
    login: Url,
    region: String,
    /// Renew this long before expiry; `None`: 10% of the lifetime, within 1..300 s.
    margin: Option<Duration>,
    state: Mutex<State>,
    refreshing: tokio::sync::Mutex<()>,
    /// Token requests sent (attempts included).
    pub requests: AtomicU64,
    /// Tokens obtained.
    pub issued: AtomicU64,
}

const MAX_FRESH_REFUSED: u32 = 3;
const TOKEN_ATTEMPTS: u32 = 4;

impl Auth {
    pub fn new(credentials: Credentials, login: Url, region: String, margin: Option<Duration>) -> Auth {
        Auth {
            credentials,
            login,
            region,
            margin,
            state: Mutex::new(State::default()),
            refreshing: tokio::sync::Mutex::new(()),
            requests: AtomicU64::new(0),
            issued: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn valid(&self) -> Option<Token> {
        let s = self.lock();
        let c = s.current.as_ref()?;
        c.renew_at
            .is_none_or(|r| Instant::now() < r)
            .then(|| c.token.clone())
    }

    /// A token to send: the cached one, or a new one (one request at a time).
    pub async fn token(&self, client: &Client) -> Result<Token, AuthError> {
        if let Some(t) = self.valid() {
            return Ok(t);
        }
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(t) = self.valid() {
            return Ok(t);
        }
        if let Some(e) = self.lock().failed.clone() {
            return Err(e);
        }
        let (value, lifetime) = match &self.credentials {
            Credentials::Token(t) => (t.clone(), None),
            Credentials::Client { id, secret } => match self.request(client, id, secret).await {
                Ok((v, l)) => (v, Some(l)),
                Err(e) => {
                    self.lock().failed = Some(e.clone());
                    return Err(e);
                }
            },
        };
        if lifetime.is_some() {
            self.issued.fetch_add(1, Ordering::Relaxed);
        }
        let mut s = self.lock();
        s.generation += 1;
        let token = Token {
            value,
            generation: s.generation,
        };
        let renew_at = lifetime.map(|l| Instant::now() + l.saturating_sub(self.margin_for(l)));
        s.current = Some(Current {
            token: token.clone(),
            renew_at,
            lifetime,
            used_ok: false,
        });
        Ok(token)
    }

    fn margin_for(&self, lifetime: Duration) -> Duration {
        let m = self.margin.unwrap_or_else(|| {
            (lifetime / 10).clamp(Duration::from_secs(1), Duration::from_secs(300))
                + Duration::from_millis(fastrand::u64(0..250))
        });
        m.min(lifetime / 2)
    }

    /// How long the current token was issued for (`None` for a ready token).
    pub fn lifetime(&self) -> Option<Duration> {
        self.lock().current.as_ref().and_then(|c| c.lifetime)
    }

    /// A request with `token` succeeded.
    pub fn accepted(&self, token: &Token) {
        let mut s = self.lock();
        if let Some(c) = s
            .current
            .as_mut()
            .filter(|c| c.token.generation == token.generation)
        {
            c.used_ok = true;
        }
        s.fresh_refused = 0;
    }

    /// A request with `token` got a 401: drop it so the next `token()` renews it, unless it
    /// was already replaced.
    pub fn refused(&self, token: &Token) -> Result<(), AuthError> {
        let mut s = self.lock();
        let Some(c) = s
            .current
            .as_ref()
            .filter(|c| c.token.generation == token.generation)
        else {
            return Ok(());
        };
        if matches!(self.credentials, Credentials::Token(_)) {
            return Err(AuthError::StaticRefused);
        }
        if !c.used_ok {
            s.fresh_refused += 1;
            if s.fresh_refused >= MAX_FRESH_REFUSED {
                return Err(AuthError::FreshRefused(s.fresh_refused));
            }
        }
        s.current = None;
        Ok(())
    }

    async fn request(
        &self,
        client: &Client,
        id: &str,
        secret: &Secret,
    ) -> Result<(Secret, Duration), AuthError> {
        let url = self
            .login
            .join("oauth/token")
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let mut last = String::new();
        for attempt in 1..=TOKEN_ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(retry::backoff(
                    attempt - 1,
                    Duration::from_millis(500),
                    fastrand::f64(),
                ))
                .await;
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let answer = match http::post_form(
                client,
                url.clone(),
                id,
                secret.expose(),
                "grant_type=client_credentials",
            )
            .await
            {
                Ok(a) => a,
                Err(Failure::TooLarge(_)) => return Err(AuthError::BadAnswer("answer too large".into())),
                Err(f) => {
                    last = f.message();
                    continue;
                }
            };
            match answer.status {
                200..=299 => return parse_token(&answer.body),
                400 | 401 | 403 => {
                    return Err(AuthError::Rejected {
                        status: answer.status,
                        detail: oauth_error(&answer.body),
                        region: self.region.clone(),
                    });
                }
                429 | 500..=599 => {
                    last = format!("HTTP {}", answer.status);
                    if let Some(ra) = answer.retry_after.filter(|d| *d <= Duration::from_secs(60)) {
                        tokio::time::sleep(ra).await;
                    }
                }
                s => {
                    return Err(AuthError::Unavailable(format!(
                        "HTTP {s}: {}",
                        oauth_error(&answer.body)
                    )));
                }
            }
        }
        Err(AuthError::Unavailable(format!(
            "{TOKEN_ATTEMPTS} attempts: {last}"
        )))
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<f64>,
}

fn parse_token(body: &[u8]) -> Result<(Secret, Duration), AuthError> {
    let t: TokenAnswer =
        serde_json::from_slice(body).map_err(|e| AuthError::BadAnswer(format!("invalid JSON ({e})")))?;
    let value = t
        .access_token
        .filter(|v| !v.is_empty())
        .ok_or(AuthError::BadAnswer("no access_token".into()))?;
    if !t
        .token_type
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case("bearer"))
    {
        return Err(AuthError::BadAnswer("token_type is not bearer".into()));
    }
    let secs = t
        .expires_in
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or(AuthError::BadAnswer("no positive expires_in".into()))?;
    Ok((Secret::new(value), Duration::from_secs_f64(secs.min(1e7))))
}

/// The OAuth error of a refusal, `error: error_description`, without anything else of the body.
fn oauth_error(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct E {
        error: Option<String>,
        error_description: Option<String>,
        description: Option<String>,
    }
    match serde_json::from_slice::<E>(body) {
        Ok(e) => {
            let what = e.error.unwrap_or_else(|| "error".into());
            match e.error_description.or(e.description) {
                Some(d) => format!("{what}: {d}"),
                None => what,
            }
        }
        Err(_) => "no OAuth error in the answer".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_validated() {
        let ok = parse_token(br#"{"access_token":"abc","token_type":"bearer","expires_in":86400}"#).unwrap();
        assert_eq!(ok.0.expose(), "abc");
        assert_eq!(ok.1, Duration::from_secs(86400));
        assert!(parse_token(br#"{"access_token":"abc","token_type":"Bearer","expires_in":5}"#).is_ok());
        assert!(parse_token(br#"{"access_token":"","token_type":"bearer","expires_in":5}"#).is_err());
        assert!(parse_token(br#"{"access_token":"a","token_type":"mac","expires_in":5}"#).is_err());
        assert!(parse_token(br#"{"access_token":"a","token_type":"bearer","expires_in":0}"#).is_err());
        assert!(parse_token(b"<html>").is_err());
    }

    #[test]
    fn refusals_show_only_the_oauth_error() {
        let e = oauth_error(
            br#"{"error":"invalid_client","description":"bad","error_description":"client not found"}"#,
        );
        assert_eq!(e, "invalid_client: client not found");
        assert_eq!(oauth_error(b"secret-ish garbage"), "no OAuth error in the answer");
    }

    fn client_auth() -> Auth {
        let credentials = Credentials::Client {
            id: "i".into(),
            secret: Secret::new("s"),
        };
        Auth::new(
            credentials,
            Url::parse("http://127.0.0.1:1/").unwrap(),
            "test".into(),
            None,
        )
    }

    #[test]
    fn generations_make_one_refresh_for_many_refusals() {
        let auth = client_auth();
        let t1 = Token {
            value: Secret::new("a"),
            generation: 1,
        };
        {
            let mut s = auth.lock();
            s.generation = 1;
            s.current = Some(Current {
                token: t1.clone(),
                renew_at: None,
                lifetime: None,
                used_ok: true,
            });
        }
        assert!(auth.valid().is_some());
        auth.refused(&t1).unwrap();
        assert!(auth.valid().is_none());
        // A second refusal of the same, already dropped token changes nothing.
        auth.refused(&t1).unwrap();
        assert_eq!(auth.lock().fresh_refused, 0);
    }

    #[test]
    fn fresh_tokens_refused_three_times_end_the_run() {
        let auth = client_auth();
        for g in 1..=3u64 {
            let t = Token {
                value: Secret::new("x"),
                generation: g,
            };
            {
                let mut s = auth.lock();
                s.generation = g;
                s.current = Some(Current {
                    token: t.clone(),
                    renew_at: None,
                    lifetime: None,
                    used_ok: false,
                });
            }
            let r = auth.refused(&t);
            assert_eq!(r.is_err(), g == 3, "generation {g}");
        }
    }
}
