//! `s3://bucket/prefix` inputs: listing objects, and streaming them to the reader.
//!
//! Listing happens before any reading, so a missing bucket or refused credentials end the run
//! before any output. Objects then stream in key order, like the files of a directory: a
//! [`Fetcher`] per URL GETs up to `--s3-concurrency` objects at once, each into a small
//! bounded channel that the (synchronous) reader drains when it reaches that object, so memory
//! stays bounded by the concurrency, never by object or prefix size. Throttling, 5xx and cut
//! connections are retried by the S3 client (object_store), which resumes a cut object with a
//! ranged GET; an object that still fails ends its stream with the error, which the reader
//! reports as an unreadable input.

pub mod credentials;

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt, RetryConfig};
use tokio::sync::mpsc;

use self::credentials::Credentials;
use super::Source;
use super::prune::{Pruned, Window};

/// Chunks (of the size the connection delivers, some KiB) buffered per object in flight.
const CHANNEL: usize = 64;

/// How to reach S3, from the command line and the environment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--s3-endpoint`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`: an S3-compatible store.
    pub endpoint: Option<String>,
    pub allow_http: bool,
    pub anonymous: bool,
    pub profile: Option<String>,
    pub concurrency: usize,
}

impl Settings {
    /// Checks the endpoint: `https://`, or `http://` to a loopback host (any host with
    /// `--allow-http`).
    pub fn new(
        endpoint: Option<String>,
        allow_http: bool,
        anonymous: bool,
        profile: Option<String>,
        concurrency: usize,
    ) -> Result<Settings> {
        let env = |k| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoint = endpoint
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        if let Some(e) = &endpoint {
            let url = url::Url::parse(e).with_context(|| format!("S3 endpoint {e}: not a URL"))?;
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            match url.scheme() {
                "https" => {}
                "http" if loopback || allow_http => {}
                "http" => {
                    bail!("S3 endpoint {e}: plain http only to a loopback host, unless --allow-http is given")
                }
                other => bail!("S3 endpoint {e}: {other}: is not http(s)"),
            }
        }
        Ok(Settings {
            endpoint,
            allow_http,
            anonymous,
            profile,
            concurrency,
        })
    }
}

/// An `s3://bucket/key` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub bucket: String,
    /// The key or prefix, as given (not percent-decoded, like the AWS CLI's).
    pub key: String,
}

impl Url {
    /// `None` when `arg` is no `s3://` URL; an error when it is one without a bucket.
    pub fn parse(arg: &std::path::Path) -> Option<Result<Url>> {
        let rest = arg.to_str()?.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        Some(if bucket.is_empty() {
            Err(anyhow::anyhow!("{}: no bucket in this S3 URL", arg.display()))
        } else {
            Ok(Url {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            })
        })
    }
}

/// One bucket's client, and where its credentials came from.
struct Bucket {
    name: String,
    store: AmazonS3,
    from: String,
}

/// The S3 side of a run: one runtime for every request, one client per bucket.
pub struct Remote {
    settings: Settings,
    runtime: Arc<tokio::runtime::Runtime>,
    buckets: HashMap<String, Arc<Bucket>>,
    outcome: Arc<Outcome>,
}

/// What went wrong while fetching, for the report.
#[derive(Default)]
struct Outcome {
    /// URLs of the objects that could not be read whole, retries done.
    failed: Mutex<Vec<String>>,
}

impl Remote {
    pub fn new(settings: &Settings) -> Result<Remote> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("gcorr-s3")
            .enable_all()
            .build()
            .context("cannot start the S3 client")?;
        Ok(Remote {
            settings: settings.clone(),
            runtime: Arc::new(runtime),
            buckets: HashMap::new(),
            outcome: Arc::default(),
        })
    }

    /// The URLs of the objects that could not be read, in key order.
    pub fn failed(&self) -> Vec<String> {
        let mut failed = self.outcome.failed.lock().map(|f| f.clone()).unwrap_or_default();
        failed.sort();
        failed
    }

    /// The objects `url` names, in key order, less those `window` prunes (counted in
    /// `pruned`), ready to be read.
    pub fn sources(
        &mut self,
        url: &Url,
        window: Option<&Window>,
        pruned: &mut Pruned,
    ) -> Result<Vec<Source>> {
        let bucket = self.bucket(&url.bucket)?;
        let listed = self.runtime.block_on(list(&bucket, &url.key, window));
        let (mut objects, prefixes) = listed.map_err(|e| {
            let cause = explain(&e);
            anyhow::anyhow!("s3://{}: {cause} (credentials from {})", bucket.name, bucket.from)
        })?;
        pruned.prefixes += prefixes;
        // Byte order of each level, as a directory walk reads.
        objects.sort_by(|a, b| a.location.as_ref().split('/').cmp(b.location.as_ref().split('/')));
        if objects.is_empty() && !url.key.is_empty() && !url.key.ends_with('/') {
            bail!("s3://{}/{}: no such object or prefix", url.bucket, url.key);
        }
        if let Some(w) = window {
            objects.retain(|o| pruned.keep(w, o.location.as_ref(), o.size));
        }
        let fetcher = Arc::new(Fetcher {
            keys: objects.iter().map(|o| o.location.clone()).collect(),
            concurrency: self.settings.concurrency,
            runtime: self.runtime.clone(),
            outcome: self.outcome.clone(),
            slots: Mutex::new(None),
            bucket: bucket.clone(),
        });
        let source = |(index, o): (usize, &ObjectMeta)| Source {
            name: format!("s3://{}/{}", bucket.name, o.location),
            path: None,
            size: Some(o.size),
            file: None,
            identity: None,
            remote: Some(Object {
                fetcher: fetcher.clone(),
                index,
            }),
        };
        Ok(objects.iter().enumerate().map(source).collect())
    }

    fn bucket(&mut self, name: &str) -> Result<Arc<Bucket>> {
        if let Some(b) = self.buckets.get(name) {
            return Ok(b.clone());
        }
        let env: HashMap<String, String> = std::env::vars().collect();
        let s = &self.settings;
        let resolved = credentials::resolve(&env, s.profile.as_deref(), s.anonymous)?;
        let options = ClientOptions::new()
            .with_allow_http(s.allow_http || s.endpoint.as_deref().is_some_and(|e| e.starts_with("http://")))
            .with_connect_timeout(Duration::from_secs(10))
            .with_timeout(Duration::from_secs(120))
            .with_user_agent(reqwest::header::HeaderValue::from_static(concat!(
                "gcorr/",
                env!("CARGO_PKG_VERSION")
            )));
        let region = match (&resolved.region, &s.endpoint) {
            (Some(r), _) => r.clone(),
            (None, Some(_)) => "us-east-1".to_owned(),
            (None, None) => {
                let found = self
                    .runtime
                    .block_on(object_store::aws::resolve_bucket_region(name, &options));
                found.map_err(|e| {
                    anyhow::anyhow!("s3://{name}: cannot find the bucket's region: {}", explain(&e))
                })?
            }
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(name)
            .with_region(region)
            .with_client_options(options)
            .with_retry(RetryConfig {
                max_retries: 8,
                retry_timeout: Duration::from_secs(180),
                ..RetryConfig::default()
            });
        if let Some(e) = &s.endpoint {
            builder = builder.with_endpoint(e).with_virtual_hosted_style_request(false);
        }
        builder = match resolved.credentials {
            Credentials::Anonymous => builder.with_skip_signature(true),
            Credentials::Static {
                key_id,
                secret,
                token,
            } => {
                let b = builder.with_access_key_id(key_id).with_secret_access_key(secret);
                match token {
                    Some(t) => b.with_token(t),
                    None => b,
                }
            }
            Credentials::Provider(settings) => settings.into_iter().fold(builder, |b, (k, v)| {
                // The keys are object_store's own names: parsing cannot fail.
                match k.parse::<AmazonS3ConfigKey>() {
                    Ok(key) => b.with_config(key, v),
                    Err(_) => b,
                }
            }),
        };
        let store = builder
            .build()
            .with_context(|| format!("s3://{name}: cannot set up the S3 client"))?;
        let bucket = Arc::new(Bucket {
            name: name.to_owned(),
            store,
            from: resolved.from,
        });
        self.buckets.insert(name.to_owned(), bucket.clone());
        Ok(bucket)
    }
}

/// Lists `key`: the object of that name, else everything under it as a prefix. With a window,
/// walks one level at a time and skips the prefixes whose date cannot match (their count is
/// returned).
async fn list(
    b: &Bucket,
    key: &str,
    window: Option<&Window>,
) -> object_store::Result<(Vec<ObjectMeta>, u64)> {
    let prefix = Path::parse(key.trim_end_matches('/')).unwrap_or_else(|_| Path::from(key));
    if !key.is_empty() && !key.ends_with('/') {
        match b.store.head(&prefix).await {
            Ok(meta) => return Ok((vec![meta], 0)),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let prefix = (!key.is_empty()).then_some(prefix);
    let Some(window) = window else {
        let all = b.store.list(prefix.as_ref()).try_collect().await?;
        return Ok((all, 0));
    };
    let (mut objects, mut pruned, mut todo) = (Vec::new(), 0, vec![prefix]);
    while let Some(p) = todo.pop() {
        let level = b.store.list_with_delimiter(p.as_ref()).await?;
        objects.extend(level.objects);
        for dir in level.common_prefixes {
            if window.keeps(&format!("{dir}/")) {
                todo.push(Some(dir));
            } else {
                pruned += 1;
            }
        }
    }
    Ok((objects, pruned))
}

/// One line for an S3 error: its code when S3 gave one, else the client's first line.
fn explain(e: &object_store::Error) -> String {
    let text = format!("{e}");
    let known = [
        ("NoSuchBucket", "no such bucket"),
        ("AccessDenied", "access denied"),
        (
            "InvalidAccessKeyId",
            "the access key is not known (InvalidAccessKeyId)",
        ),
        (
            "SignatureDoesNotMatch",
            "the credentials were refused (SignatureDoesNotMatch)",
        ),
        ("ExpiredToken", "the credentials have expired (ExpiredToken)"),
        (
            "TokenRefreshRequired",
            "the credentials have expired (TokenRefreshRequired)",
        ),
        (
            "PermanentRedirect",
            "the bucket is in another region (PermanentRedirect): set AWS_REGION",
        ),
        (
            "AuthorizationHeaderMalformed",
            "wrong region (AuthorizationHeaderMalformed): set AWS_REGION",
        ),
        (
            "IllegalLocationConstraintException",
            "wrong region: set AWS_REGION",
        ),
    ];
    if let Some((_, said)) = known.iter().find(|(code, _)| text.contains(code)) {
        return (*said).to_owned();
    }
    match e {
        object_store::Error::NotFound { .. } => "not found".to_owned(),
        object_store::Error::PermissionDenied { .. } => "access denied".to_owned(),
        object_store::Error::Unauthenticated { .. } => "the credentials were refused".to_owned(),
        _ => {
            let line = text.lines().next().unwrap_or_default();
            line.chars().take(300).collect()
        }
    }
}

/// One object of a [`Fetcher`], as a [`Source`] holds it.
#[derive(Clone)]
pub struct Object {
    fetcher: Arc<Fetcher>,
    index: usize,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Object({})", self.index)
    }
}

impl Object {
    /// The object's bytes. The first call starts fetching every object of its URL.
    pub fn open(&self) -> Box<dyn Read + Send> {
        let rx = self.fetcher.take(self.index);
        Box::new(Body {
            rx,
            chunk: Bytes::new(),
        })
    }
}

/// The receiving end of one object's bytes.
type Chunks = mpsc::Receiver<io::Result<Bytes>>;

/// Streams the objects of one URL, in order, `concurrency` at a time.
struct Fetcher {
    bucket: Arc<Bucket>,
    keys: Vec<Path>,
    concurrency: usize,
    runtime: Arc<tokio::runtime::Runtime>,
    outcome: Arc<Outcome>,
    /// Each object's receiving end, until its reader takes it; `None` before the start.
    slots: Mutex<Option<Vec<Option<Chunks>>>>,
}

impl Fetcher {
    fn take(&self, index: usize) -> Option<Chunks> {
        let mut slots = self.slots.lock().ok()?;
        let slots = slots.get_or_insert_with(|| self.start());
        slots.get_mut(index)?.take()
    }

    fn start(&self) -> Vec<Option<Chunks>> {
        let (senders, receivers): (Vec<_>, Vec<_>) = self.keys.iter().map(|_| mpsc::channel(CHANNEL)).unzip();
        let jobs: Vec<_> = self.keys.iter().cloned().zip(senders).collect();
        let bucket = self.bucket.clone();
        let concurrency = self.concurrency;
        let outcome = self.outcome.clone();
        self.runtime.spawn(async move {
            let all = futures::stream::iter(jobs)
                .map(|(key, tx)| fetch(&bucket, key, tx, &outcome))
                .buffered(concurrency)
                .for_each(|()| async {});
            // Ctrl-C (or SIGTERM) stops the fetches: dropping them ends every object's stream,
            // so a reader waiting on a stalled object sees its input end, as for a local file.
            let interrupt = async {
                while crate::signal::pending().is_none() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            tokio::select! {
                () = all => {}
                () = interrupt => {}
            }
        });
        receivers.into_iter().map(Some).collect()
    }
}

/// GETs one object into its channel; an error ends the stream, and is recorded before the
/// reader can see it.
async fn fetch(bucket: &Bucket, key: Path, tx: mpsc::Sender<io::Result<Bytes>>, outcome: &Outcome) {
    let failed = |e: &object_store::Error| {
        if let Ok(mut failed) = outcome.failed.lock() {
            failed.push(format!("s3://{}/{key}", bucket.name));
        }
        io::Error::other(explain(e))
    };
    let mut body = match bucket.store.get(&key).await {
        Ok(r) => r.into_stream(),
        Err(e) => {
            let _ = tx.send(Err(failed(&e))).await;
            return;
        }
    };
    while let Some(chunk) = body.next().await {
        let end = chunk.is_err();
        if tx.send(chunk.map_err(|e| failed(&e))).await.is_err() || end {
            return;
        }
    }
}

/// The reading end of one object.
struct Body {
    rx: Option<Chunks>,
    chunk: Bytes,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            let Some(rx) = self.rx.as_mut() else {
                return Ok(0);
            };
            match rx.blocking_recv() {
                Some(chunk) => self.chunk = chunk?,
                // Interrupted (Ctrl-C) or complete: the input ends here.
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let p = |s: &str| Url::parse(std::path::Path::new(s)).map(|r| r.ok());
        let url = |b: &str, k: &str| {
            Some(Some(Url {
                bucket: b.into(),
                key: k.into(),
            }))
        };
        assert_eq!(p("s3://b/a b/ü.json"), url("b", "a b/ü.json"));
        assert_eq!(p("s3://b/p/"), url("b", "p/"));
        assert_eq!(p("s3://b"), url("b", ""));
        assert_eq!(p("s3:///k"), Some(None));
        assert_eq!(p("dump/s3://x"), None);
    }

    #[test]
    fn endpoints() {
        let s = |e: &str, allow| Settings::new(Some(e.into()), allow, false, None, 16).map(|_| ());
        assert!(s("http://127.0.0.1:9000", false).is_ok());
        assert!(s("http://localhost:9000", false).is_ok());
        assert!(s("http://[::1]:9000", false).is_ok());
        assert!(s("https://minio.example", false).is_ok());
        assert!(s("http://minio.example", false).is_err());
        assert!(s("http://minio.example", true).is_ok());
        assert!(s("ftp://x", true).is_err());
    }
}
