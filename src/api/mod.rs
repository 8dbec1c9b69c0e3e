//! Enrichment from the Genesys Cloud REST API: the only code that touches the network.
//!
//! [`enrich`] takes the unique conversation ids that survived dedup and filters and returns an
//! [`Outcome`] for each, in the same order. It runs its own small tokio runtime: everything
//! before and after it is plain synchronous code.

pub mod auth;
pub mod cache;
pub mod check;
pub mod config;
pub mod fetch;
pub mod http;
pub mod model;
pub mod pace;
pub mod retry;
pub mod secret;

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};

pub use fetch::{Outcome, Source, Status};

use crate::ids::parse_uuid;
use crate::progress::Progress;
use crate::report::counted;
use crate::signal::{self, Signal};
use auth::Auth;
use config::{Credentials, Endpoints};

/// Everything enrichment needs.
#[derive(Debug)]
pub struct Settings {
    /// `None`: offline (the cache alone answers, if there is one).
    pub credentials: Option<Credentials>,
    pub endpoints: Endpoints,
    pub cache_dir: Option<std::path::PathBuf>,
    pub options: fetch::Options,
    pub timeouts: http::Timeouts,
    pub token_margin: Option<Duration>,
}

/// The run figures of enrichment.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Figures {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub token_requests: u64,
    /// Tokens renewed after the first one.
    pub token_refreshes: u64,
    pub statuses: std::collections::BTreeMap<&'static str, u64>,
    pub interrupted: bool,
}

/// Enriches every id. Ids that are not Genesys conversation ids (UUIDs) are skipped, never sent.
/// An error means enrichment could not run at all (credentials refused): the run ends.
///
/// SIGINT or SIGTERM stops sending: what was fetched is kept, the rest is `skipped`
/// (`interrupted`), and the signal is returned, acted on, for the exit code.
pub fn enrich(ids: &[String], s: &Settings, quiet: bool) -> Result<(Vec<Outcome>, Figures, Option<Signal>)> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; ids.len()];
    let mut wanted = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if parse_uuid(id).is_some() {
            wanted.push(i);
        } else {
            outcomes[i] = Some(Outcome::skipped(
                "not a Genesys conversation id (a UUID): not sent",
            ));
        }
    }
    let wanted_ids: Vec<String> = wanted.iter().map(|&i| ids[i].clone()).collect();
    let cache = match &s.cache_dir {
        // Offline, the cache is only read: nothing is created.
        Some(d) if s.credentials.is_none() => Some(cache::Cache::existing(d, s.options.source.name())),
        Some(d) => Some(cache::Cache::open(d, s.options.source.name())?),
        None => None,
    };
    if let (Some(_), false) = (&s.credentials, quiet) {
        let to_fetch = wanted_ids
            .iter()
            .filter(|id| !cache.as_ref().is_some_and(|c| c.contains(id)))
            .count();
        if let Some(notice) = slow_notice(to_fetch, &s.options) {
            eprintln!("gcorr: {notice}");
        }
    }
    let client = http::client(s.timeouts).context("cannot set up the HTTP client")?;
    let auth = s.credentials.clone().map(|c| {
        Auth::new(
            c,
            s.endpoints.login.clone(),
            s.endpoints.label.clone(),
            s.token_margin,
        )
    });
    let fetcher = fetch::Fetcher::new(client, s.endpoints.api.clone(), auth, cache, s.options.clone());
    let progress = Progress::items(wanted_ids.len() as u64, quiet);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut interrupted = None;
    runtime.block_on(async {
        let mut done = |k: usize, o: Outcome| {
            outcomes[wanted[k]] = Some(o);
            progress.inc(fetcher.stats.retries.load(Ordering::Relaxed));
        };
        let work = fetcher.run(&wanted_ids, &mut done);
        tokio::pin!(work);
        tokio::select! {
            () = &mut work => {}
            signal = signalled() => {
                interrupted = Some(signal);
                fetcher.interrupt();
                // Let requests in flight finish briefly; the rest are not waited for.
                let _ = tokio::time::timeout(Duration::from_secs(2), &mut work).await;
            }
        }
    });
    progress.finish();
    if let Some(e) = fetcher.take_fatal() {
        return Err(e.into());
    }
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::skipped(fetch::INTERRUPTED)))
        .collect();
    let mut figures = Figures {
        requests: fetcher.stats.requests.load(Ordering::Relaxed),
        retries: fetcher.stats.retries.load(Ordering::Relaxed),
        rate_limited: fetcher.stats.rate_limited.load(Ordering::Relaxed),
        token_requests: fetcher
            .auth
            .as_ref()
            .map_or(0, |a| a.requests.load(Ordering::Relaxed)),
        token_refreshes: fetcher
            .auth
            .as_ref()
            .map_or(0, |a| a.issued.load(Ordering::Relaxed).saturating_sub(1)),
        statuses: Status::ALL.iter().map(|s| (s.name(), 0)).collect(),
        interrupted: interrupted.is_some(),
    };
    for o in &outcomes {
        *figures.statuses.entry(o.status.name()).or_default() += 1;
    }
    Ok((outcomes, figures, interrupted))
}

/// Said once, before fetching, when `--source conversations` (one request per conversation)
/// at the `--max-rpm` pace would take over a minute to fetch `n` conversations.
fn slow_notice(n: usize, o: &fetch::Options) -> Option<String> {
    if o.source != Source::Conversations || n <= o.max_rpm as usize {
        return None;
    }
    let minutes = n as f64 / f64::from(o.max_rpm.max(1));
    Some(format!(
        "{n} conversations at {} a minute take about {minutes:.1} min to fetch; \
         --source analytics fetches up to 100 per request",
        counted(o.max_rpm.into(), "request", "requests")
    ))
}

/// Resolves once SIGINT or SIGTERM has arrived, and takes it.
async fn signalled() -> Signal {
    loop {
        if let Some(s) = signal::take() {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(source: Source, max_rpm: u32) -> fetch::Options {
        fetch::Options {
            source,
            concurrency: 8,
            max_rpm,
            max_retries: 5,
            batch_size: 100,
            backoff_base: Duration::from_secs(1),
            deadline: Duration::from_secs(600),
        }
    }

    #[test]
    fn a_fetch_over_a_minute_suggests_analytics() {
        let slow = slow_notice(900, &options(Source::Conversations, 300)).unwrap();
        assert!(
            slow.contains("about 3.0 min") && slow.contains("--source analytics"),
            "{slow}"
        );
        assert_eq!(slow_notice(300, &options(Source::Conversations, 300)), None);
        assert_eq!(slow_notice(900, &options(Source::Analytics, 300)), None);
    }
}
