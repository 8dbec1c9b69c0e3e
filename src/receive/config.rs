//! `gcorr receive`'s flags and the validated [`Config`] built once from them: the secret read
//! from the environment, the rules about plain HTTP and running without a secret, sizes and
//! durations parsed. Nothing past this file sees an unchecked argument.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::api::secret::Secret;

/// The environment variable holding the shared secret (never a flag: argv is world-readable).
pub const SECRET_ENV: &str = "GCORR_RECEIVE_SECRET";

#[derive(Args, Debug)]
pub struct ReceiveArgs {
    /// Address and port to listen on (`0.0.0.0:8443` for every interface).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The spool directory: events land in DIR/YYYY/MM/DD/HH/, as Firehose lays out S3.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Header carrying the secret as an API key (an EventBridge connection with API-key auth).
    #[arg(long, value_name = "NAME", default_value = "x-api-key")]
    pub auth_header: String,
    /// Accept requests without a secret (only on a loopback address, when GCORR_RECEIVE_SECRET
    /// is unset).
    #[arg(long)]
    pub no_auth: bool,
    /// Certificate chain (PEM) to serve HTTPS with.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address: a TLS-terminating load balancer is in front.
    #[arg(long, conflicts_with = "tls_cert")]
    pub allow_plain_http: bool,
    /// Largest request body, in bytes (K, M, G suffixes: KiB, MiB, GiB) [default: 1M on
    /// /events, 64M on /firehose].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body: Option<u64>,
    /// Connections open at once; more wait to be accepted.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Events waiting to be stored at once; beyond that requests get 429 with Retry-After: 1.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_inflight: u32,
    /// Longest an acknowledgement waits for a shared fsync (group commit).
    #[arg(long, value_name = "DURATION", default_value = "10ms", value_parser = parse_duration)]
    pub sync_interval: Duration,
    /// Close a segment (and start the next) once it holds this many bytes.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    pub segment_bytes: u64,
    /// Close a segment this long after it was opened.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub segment_age: Duration,
    /// Keep closed segments as plain NDJSON instead of gzip-compressing them.
    #[arg(long)]
    pub no_compress: bool,
    /// Total size of the copies of rejected bodies kept in DIR/rejected/; beyond it they are
    /// counted but not kept.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    pub max_rejected: u64,
    /// On SIGTERM or SIGINT, longest wait for requests in flight before exiting.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// Time a client has to send a request's headers.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, hide = true)]
    pub header_timeout: Duration,
    /// Time a client has to send a request's body.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, hide = true)]
    pub body_timeout: Duration,
    /// Interval of the counts line on stderr.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, hide = true)]
    pub stats_interval: Duration,
}

/// Default body limits, per path.
const EVENTS_BODY: u64 = 1 << 20;
const FIREHOSE_BODY: u64 = 64 << 20;

/// Where the key and certificate are.
#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything `receive` needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub out: PathBuf,
    /// `None` only with `--no-auth` on loopback.
    pub secret: Option<Secret>,
    pub auth_header: axum::http::HeaderName,
    pub tls: Option<Tls>,
    pub max_events_body: u64,
    pub max_firehose_body: u64,
    pub max_connections: usize,
    pub max_inflight: usize,
    pub sync_interval: Duration,
    pub segment_bytes: u64,
    pub segment_age: Duration,
    pub compress: bool,
    pub max_rejected: u64,
    pub shutdown_timeout: Duration,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub stats_interval: Duration,
    pub quiet: bool,
}

impl Config {
    /// Validates `args`, reading the secret from `secret` (the value of [`SECRET_ENV`]).
    pub fn new(args: ReceiveArgs, secret: Option<String>, quiet: bool) -> Result<Config> {
        let loopback = args.listen.ip().is_loopback();
        let secret = secret.filter(|s| !s.is_empty()).map(Secret::new);
        if secret.is_none() && !(args.no_auth && loopback) {
            bail!(
                "{SECRET_ENV} is not set: set it to the shared secret the senders present \
                 (or, on a loopback address only, pass --no-auth)"
            );
        }
        if secret.is_some() && args.no_auth {
            bail!("--no-auth with {SECRET_ENV} set: unset one of them");
        }
        if args.tls_cert.is_none() && !loopback && !args.allow_plain_http {
            bail!(
                "{} is not a loopback address: serve HTTPS with --tls-cert and --tls-key, or pass \
                 --allow-plain-http when a TLS-terminating load balancer is in front",
                args.listen
            );
        }
        let auth_header = axum::http::HeaderName::try_from(args.auth_header.as_str())
            .with_context(|| format!("--auth-header {}: not a header name", args.auth_header))?;
        let tls = args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| Tls { cert, key });
        Ok(Config {
            listen: args.listen,
            out: args.out,
            secret,
            auth_header,
            tls,
            max_events_body: args.max_body.unwrap_or(EVENTS_BODY),
            max_firehose_body: args.max_body.unwrap_or(FIREHOSE_BODY),
            max_connections: args.max_connections as usize,
            max_inflight: args.max_inflight as usize,
            sync_interval: args.sync_interval,
            segment_bytes: args.segment_bytes.max(1),
            segment_age: args.segment_age.max(Duration::from_millis(1)),
            compress: !args.no_compress,
            max_rejected: args.max_rejected,
            shutdown_timeout: args.shutdown_timeout,
            header_timeout: args.header_timeout.max(Duration::from_millis(1)),
            body_timeout: args.body_timeout.max(Duration::from_millis(1)),
            stats_interval: args.stats_interval.max(Duration::from_millis(1)),
            quiet,
        })
    }
}

/// A size in bytes: a number, optionally followed by K, M or G (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{s:?}: not a size (bytes, or a number followed by K, M or G)"))
}

/// A duration: `10ms`, `30s`, `5m`, `1h` (any form jiff's friendly format reads).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: not a duration (such as 10ms, 30s, 5m)"))?;
    Duration::try_from(d).map_err(|_| format!("{s:?}: a duration cannot be negative"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ReceiveArgs,
    }

    fn config(args: &[&str], secret: Option<&str>) -> Result<Config> {
        let mut argv = vec!["receive", "--out", "spool"];
        argv.extend(args);
        let w = Wrap::try_parse_from(argv)?;
        Config::new(w.args, secret.map(str::to_owned), false)
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("99999999999G").is_err());
        assert_eq!(parse_duration("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn a_secret_or_loopback_no_auth() {
        assert!(config(&["--listen", "127.0.0.1:1"], None).is_err());
        assert!(config(&["--listen", "127.0.0.1:1"], Some("")).is_err());
        let c = config(&["--listen", "127.0.0.1:1", "--no-auth"], None).unwrap();
        assert!(c.secret.is_none());
        assert!(
            config(
                &["--listen", "0.0.0.0:1", "--no-auth", "--allow-plain-http"],
                None
            )
            .is_err()
        );
        assert!(config(&["--listen", "127.0.0.1:1", "--no-auth"], Some("s")).is_err());
        let c = config(&["--listen", "127.0.0.1:1"], Some("s")).unwrap();
        assert_eq!(c.secret.unwrap().expose(), "s");
    }

    #[test]
    fn plain_http_only_on_loopback_or_behind_a_proxy() {
        assert!(config(&["--listen", "0.0.0.0:1"], Some("s")).is_err());
        assert!(config(&["--listen", "[::1]:1"], Some("s")).is_ok());
        assert!(config(&["--listen", "0.0.0.0:1", "--allow-plain-http"], Some("s")).is_ok());
        let c = config(
            &[
                "--listen",
                "0.0.0.0:1",
                "--tls-cert",
                "c.pem",
                "--tls-key",
                "k.pem",
            ],
            Some("s"),
        )
        .unwrap();
        assert!(c.tls.is_some());
        assert!(config(&["--listen", "0.0.0.0:1", "--tls-cert", "c.pem"], Some("s")).is_err());
    }

    #[test]
    fn body_limits_per_path_unless_given() {
        let c = config(&["--listen", "127.0.0.1:1"], Some("s")).unwrap();
        assert_eq!((c.max_events_body, c.max_firehose_body), (1 << 20, 64 << 20));
        let c = config(&["--listen", "127.0.0.1:1", "--max-body", "2K"], Some("s")).unwrap();
        assert_eq!((c.max_events_body, c.max_firehose_body), (2048, 2048));
    }
}
