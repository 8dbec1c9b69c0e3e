//! Archives where they live: `s3://` inputs against moto's S3 server on 127.0.0.1 (behind a
//! small proxy that logs requests and injects faults), key-time pruning of S3 prefixes and
//! local trees, and the wrappers of the other places EventBridge delivers to (SQS, SNS,
//! CloudWatch Logs).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use super::*;

// ---------------------------------------------------------------------------------------------
// moto, a proxy in front of it, and a tiny HTTP client to fill buckets
// ---------------------------------------------------------------------------------------------

/// The moto server's port, started once for the whole test binary. It stops when the tests
/// do: a shell watches this process.
fn moto() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let port = free_port();
        let script = format!(
            "python3 -m moto.server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
             while kill -0 {} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
            std::process::id()
        );
        let mut watcher = std::process::Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("sh runs");
        std::thread::spawn(move || watcher.wait());
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start: install it with pip install 'moto[server]' (scripts/test does)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        port
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh bucket name.
fn bucket(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "gcorr-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One HTTP/1.1 exchange (objects and buckets public-read); returns (status, body).
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nx-amz-acl: public-read\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let (status, body) = split_response(&out);
    (status, body.to_vec())
}

fn split_response(resp: &[u8]) -> (u16, &[u8]) {
    let end = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let status = std::str::from_utf8(&resp[9..12]).unwrap().parse().unwrap();
    (status, &resp[end..])
}

/// A key as a URL path: every byte but unreserved ones and `/` percent-encoded.
fn encode(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Creates `bucket` holding `objects` (key, bytes).
fn fill(bucket: &str, objects: &[(String, Vec<u8>)]) {
    let port = moto();
    assert_eq!(http(port, "PUT", &format!("/{bucket}"), b"").0, 200);
    for (key, data) in objects {
        let (status, body) = http(port, "PUT", &format!("/{bucket}/{}", encode(key)), data);
        assert_eq!(status, 200, "PUT {key}: {}", String::from_utf8_lossy(&body));
    }
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
}

/// What the proxy does to GETs of an object (by the end of its path).
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// 503 SlowDown, this many times.
    SlowDown(u32),
    /// Sends half the body, then closes the connection, this many times.
    Cut(u32),
    /// 403 AccessDenied, always.
    Deny,
    /// Holds the answer back for this long.
    Stall(Duration),
}

/// A proxy in front of moto, one request per connection, logging every request.
#[derive(Clone)]
struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    faults: Arc<Mutex<HashMap<String, Fault>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = Proxy {
            port: listener.local_addr().unwrap().port(),
            seen: Arc::default(),
            faults: Arc::default(),
        };
        let p = proxy.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let p = p.clone();
                std::thread::spawn(move || p.serve(conn));
            }
        });
        proxy
    }

    fn fault(&self, key_end: &str, fault: Fault) {
        self.faults.lock().unwrap().insert(encode(key_end), fault);
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Object GETs (not listings), by path.
    fn gets(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == "GET" && !s.path.contains('?'))
            .map(|s| s.path.clone())
            .collect()
    }

    fn serve(&self, mut client: TcpStream) {
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut head = Vec::new();
        let mut length = 0usize;
        let mut authorization = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("authorization:") {
                authorization = Some(line["authorization:".len()..].trim().to_owned());
            }
            if lower.starts_with("connection:") {
                continue;
            }
            if line == "\r\n" {
                head.extend_from_slice(b"Connection: close\r\n\r\n");
                break;
            }
            head.extend_from_slice(line.as_bytes());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let first =
            String::from_utf8_lossy(&head[..head.iter().position(|b| *b == b'\r').unwrap()]).into_owned();
        let mut parts = first.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        self.seen.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            authorization,
        });
        let fault = if method == "GET" && !path.contains('?') {
            let mut faults = self.faults.lock().unwrap();
            let hit = faults
                .iter_mut()
                .find(|(k, _)| path.ends_with(k.as_str()))
                .map(|(_, f)| f);
            match hit {
                Some(Fault::SlowDown(n) | Fault::Cut(n)) if *n == 0 => None,
                Some(f) => {
                    let now = *f;
                    if let Fault::SlowDown(n) | Fault::Cut(n) = f {
                        *n -= 1;
                    }
                    Some(now)
                }
                None => None,
            }
        } else {
            None
        };
        match fault {
            Some(Fault::SlowDown(_)) => {
                let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                let _ = write!(
                    client,
                    "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                    xml.len()
                );
                return;
            }
            Some(Fault::Deny) => {
                let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
                let _ = write!(
                    client,
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                    xml.len()
                );
                return;
            }
            Some(Fault::Stall(d)) => std::thread::sleep(d),
            _ => {}
        }
        let mut upstream = TcpStream::connect(("127.0.0.1", moto())).unwrap();
        upstream.write_all(&head).unwrap();
        upstream.write_all(&body).unwrap();
        let mut resp = Vec::new();
        upstream.read_to_end(&mut resp).unwrap();
        if let Some(Fault::Cut(_)) = fault {
            let end = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let half = end + (resp.len() - end) / 2;
            let _ = client.write_all(&resp[..half]);
            let _ = client.flush();
            let _ = client.shutdown(std::net::Shutdown::Both);
            return;
        }
        let _ = client.write_all(&resp);
    }
}

/// AWS configuration gcorr could find on the host: never inherited.
const AWS_ENV: [&str; 14] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
];

/// `gcorr ARGS` in `dir` against `proxy`, with no AWS configuration but `env` (and never the
/// instance metadata service).
fn s3_command(dir: &Path, proxy: &Proxy, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = command(dir, args);
    for k in AWS_ENV {
        cmd.env_remove(k);
    }
    cmd.env("HOME", dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_S3", proxy.endpoint());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

const KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKIDTESTENV"),
    ("AWS_SECRET_ACCESS_KEY", "not-a-secret"),
];

fn run_s3(dir: &Path, proxy: &Proxy, args: &[&str]) -> Run {
    finish(&mut s3_command(dir, proxy, &KEYS, args))
}

/// Writes `objects` under `dir` as files (the same tree, copied to disk).
fn copy_to_disk(dir: &Path, objects: &[(String, Vec<u8>)]) {
    for (key, data) in objects {
        write(&dir.join(key), data);
    }
}

/// Output with `from` in every source replaced by `to`.
fn renamed(out: &[u8], from: &str, to: &str) -> String {
    String::from_utf8(out.to_vec()).unwrap().replace(from, to)
}

// ---------------------------------------------------------------------------------------------
// s3:// inputs
// ---------------------------------------------------------------------------------------------

/// A tree of `n` small objects: nested prefixes, gzip and plain, concatenated and lines, keys
/// with spaces and non-ASCII; conversations spread over objects, with re-deliveries.
fn tree(n: usize) -> Vec<(String, Vec<u8>)> {
    let records = many_records(n * 2);
    let mut out: Vec<(String, Vec<u8>)> = records
        .chunks(2)
        .enumerate()
        .map(|(i, chunk)| {
            let key = match i % 4 {
                0 => format!("fh/2026/03/02/{:02}/part {i:04}.json", i % 24),
                1 => format!("fh/2026/03/02/{:02}/ü-{i:04}.gz", i % 24),
                2 => format!("fh/other/{i:04}"),
                _ => format!("fh/{i:04}.ndjson"),
            };
            let data = match i % 4 {
                0 => concatenated(chunk),
                1 => gzip(&concatenated(chunk)),
                _ => ndjson(chunk),
            };
            (key, data)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn an_s3_prefix_reads_like_the_same_tree_on_disk() {
    let proxy = Proxy::start();
    let b = bucket("tree");
    let objects = tree(1_100);
    fill(&b, &objects);
    let dir = tempdir();
    copy_to_disk(&dir.path().join("copy"), &objects);
    let local = run_in(dir.path(), &["correlate", "copy/fh"]).ok();
    let url = format!("s3://{b}/fh/");
    let remote = run_s3(dir.path(), &proxy, &["correlate", &url, "--report", "r.json"]).ok();
    assert_eq!(
        String::from_utf8(remote.stdout.clone()).unwrap(),
        renamed(&local.stdout, "copy/fh/", &url),
        "the same bytes but for `source`"
    );
    // The same summary rows (the harness's parser reads no grouped input count: 1,210).
    let rows = |r: &Run| -> Vec<String> {
        r.stderr
            .lines()
            .filter(|l| l.starts_with("  "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(rows(&remote), rows(&local));
    assert!(!rows(&remote).is_empty());
    let inputs = format!(
        "gcorr: {},{:03} inputs, ",
        objects.len() / 1000,
        objects.len() % 1000
    );
    assert!(remote.stderr.contains(&inputs), "{inputs}: {}", remote.stderr);
    // Every object read once; more than 1,000 keys means the listing paged.
    assert!(objects.len() > 1_000);
    assert_eq!(proxy.gets().len(), objects.len());
    let ts = remote.timelines();
    let sources: Vec<&str> = ts.iter().flat_map(sources).collect();
    assert!(
        sources
            .iter()
            .any(|s| s.starts_with(&format!("s3://{b}/fh/2026/03/02/01/ü-")) && s.contains('@'))
    );
    assert!(sources.iter().any(|s| s.contains("/part ") && s.contains('@')));
    assert!(
        sources
            .iter()
            .any(|s| s.starts_with(&format!("{url}other/")) && s.ends_with(":1"))
    );
    // Without the trailing slash, the same; one object by its key reads that object alone.
    let bare = run_s3(dir.path(), &proxy, &["correlate", &format!("s3://{b}/fh")]).ok();
    assert_eq!(bare.stdout, remote.stdout);
    let key = &objects[3].0;
    let one = run_s3(dir.path(), &proxy, &["correlate", &format!("s3://{b}/{key}")]).ok();
    let alone = run_in(dir.path(), &["correlate", &format!("copy/{key}")]).ok();
    assert_eq!(
        String::from_utf8(one.stdout).unwrap(),
        renamed(&alone.stdout, "copy/", &format!("s3://{b}/"))
    );
    // S3 inputs mix with local files and stdin.
    let mixed = finish(
        s3_command(
            dir.path(),
            &proxy,
            &KEYS,
            &["correlate", &format!("s3://{b}/{key}"), "-"],
        )
        .write_stdin(ndjson(&[envelope(
            &uuid(0xee, 1),
            &uuid(0xc0, 9),
            "acd.start",
            T0,
            Some("VOICE"),
        )])),
    )
    .ok();
    assert_eq!(mixed.summary().inputs, 2);
}

#[test]
fn credentials_from_the_environment_a_profile_or_none() {
    let proxy = Proxy::start();
    let b = bucket("creds");
    let records: Vec<Value> = many_records(16);
    fill(&b, &[("events.ndjson".into(), ndjson(&records))]);
    let dir = tempdir();
    let url = format!("s3://{b}/");
    let signed_by = |proxy: &Proxy| -> Vec<Option<String>> {
        let seen = proxy.seen.lock().unwrap();
        seen.iter()
            .map(|s| {
                s.authorization.as_ref().map(|a| {
                    let cred = a.split("Credential=").nth(1).expect("SigV4");
                    cred.split('/').next().unwrap().to_owned()
                })
            })
            .collect()
    };
    let env = run_s3(dir.path(), &proxy, &["correlate", &url]).ok();
    assert_eq!(env.timelines().len(), 2);
    assert!(
        signed_by(&proxy)
            .iter()
            .all(|k| k.as_deref() == Some("AKIDTESTENV"))
    );

    write(
        &dir.path().join("creds"),
        "[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = also-not-a-secret\n",
    );
    write(&dir.path().join("config"), "[profile ops]\nregion = eu-west-1\n");
    let files = [
        ("AWS_SHARED_CREDENTIALS_FILE", "creds"),
        ("AWS_CONFIG_FILE", "config"),
        ("AWS_PROFILE", "ops"),
    ];
    let proxy = Proxy::start();
    let profile = finish(&mut s3_command(dir.path(), &proxy, &files, &["correlate", &url])).ok();
    assert_eq!(profile.stdout, env.stdout);
    let keys = signed_by(&proxy);
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k.as_deref() == Some("AKIDPROFILE")),
        "{keys:?}"
    );

    let proxy = Proxy::start();
    let anonymous = finish(&mut s3_command(
        dir.path(),
        &proxy,
        &[],
        &["correlate", &url, "--no-sign-request"],
    ))
    .ok();
    assert_eq!(anonymous.stdout, env.stdout);
    assert!(signed_by(&proxy).iter().all(Option::is_none));

    // No credentials anywhere, and no instance metadata: one clear line, before any output.
    let none = finish(&mut s3_command(dir.path(), &proxy, &[], &["correlate", &url])).code(1);
    assert!(none.stdout.is_empty());
    assert!(none.stderr.contains("no AWS credentials"), "{}", none.stderr);
    assert!(!env.stderr.contains("not-a-secret") && !profile.stderr.contains("also-not-a-secret"));
}

#[test]
fn a_missing_bucket_or_object_ends_the_run_before_any_output() {
    let proxy = Proxy::start();
    let dir = tempdir();
    let missing = bucket("missing");
    let run = run_s3(
        dir.path(),
        &proxy,
        &["correlate", &format!("s3://{missing}/fh/"), "-o", "out.ndjson"],
    )
    .code(1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains(&format!("s3://{missing}")) && lines[0].contains("no such bucket"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("credentials from the environment (AWS_ACCESS_KEY_ID)"),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("not-a-secret"));
    assert!(!dir.path().join("out.ndjson").exists());

    let b = bucket("present");
    fill(&b, &[("a.ndjson".into(), ndjson(&many_records(8)))]);
    let run = run_s3(
        dir.path(),
        &proxy,
        &["correlate", &format!("s3://{b}/nothing.ndjson")],
    )
    .code(1);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains(&format!("s3://{b}/nothing.ndjson: no such object or prefix")),
        "{}",
        run.stderr
    );
}

#[test]
fn throttling_and_cut_connections_are_retried_without_double_counting() {
    let b = bucket("faults");
    let objects: Vec<(String, Vec<u8>)> = many_records(400)
        .chunks(100)
        .enumerate()
        .map(|(i, c)| {
            (
                format!("p/{i}.json"),
                if i % 2 == 0 {
                    concatenated(c)
                } else {
                    gzip(&ndjson(c))
                },
            )
        })
        .collect();
    fill(&b, &objects);
    let dir = tempdir();
    let url = format!("s3://{b}/p/");
    let clean_proxy = Proxy::start();
    let clean = run_s3(dir.path(), &clean_proxy, &["correlate", &url]).ok();
    let proxy = Proxy::start();
    proxy.fault("p/0.json", Fault::SlowDown(2));
    proxy.fault("p/1.json", Fault::Cut(1));
    proxy.fault("p/2.json", Fault::Cut(2));
    let faulty = run_s3(dir.path(), &proxy, &["correlate", &url]).ok();
    assert_eq!(faulty.stdout, clean.stdout);
    assert_eq!(faulty.summary(), clean.summary());
    let gets = proxy.gets();
    let count = |k: &str| gets.iter().filter(|g| g.ends_with(k)).count();
    assert_eq!(
        (
            count("p/0.json"),
            count("p/1.json"),
            count("p/2.json"),
            count("p/3.json")
        ),
        (3, 2, 3, 1)
    );

    // An object that still fails is named, the rest goes on: exit 3; --strict makes it fatal.
    let proxy = Proxy::start();
    proxy.fault("p/1.json", Fault::Deny);
    let partial = run_s3(dir.path(), &proxy, &["correlate", &url, "--report", "r.json"]).code(3);
    let report: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["failed_inputs"], json!([format!("{url}1.json")]));
    let named: Vec<&str> = partial.diagnostics();
    assert_eq!(named.len(), 1, "{}", partial.stderr);
    assert!(
        named[0].starts_with(&format!("{url}1.json@0: ")) && named[0].contains("access denied"),
        "{}",
        named[0]
    );
    assert!(partial.timelines().len() > 10);
    assert_eq!(partial.summary().invalid, 1);
    let strict = run_s3(dir.path(), &proxy, &["correlate", &url, "--strict"]).code(1);
    assert!(strict.stdout.is_empty());
    assert!(
        strict.stderr.contains(&format!("{url}1.json@0")),
        "{}",
        strict.stderr
    );
}

#[test]
fn ctrl_c_while_fetching_writes_what_is_known() {
    let b = bucket("sigint");
    let objects: Vec<(String, Vec<u8>)> = many_records(64)
        .chunks(16)
        .enumerate()
        .map(|(i, c)| (format!("{i}.ndjson"), ndjson(c)))
        .collect();
    fill(&b, &objects);
    let dir = tempdir();
    let proxy = Proxy::start();
    proxy.fault("2.ndjson", Fault::Stall(Duration::from_secs(30)));
    let url = format!("s3://{b}/");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("gcorr"));
    for k in AWS_ENV.iter().chain(&GENESYS_ENV) {
        child.env_remove(k);
    }
    let mut child = child
        .current_dir(dir.path())
        .args(["correlate", &url, "--s3-concurrency", "1"])
        .envs(KEYS)
        .env("HOME", dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_S3", proxy.endpoint())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !proxy.gets().iter().any(|g| g.ends_with("2.ndjson")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gcorr did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {stderr}");
    let read: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: BTreeSet<String> = read.iter().flat_map(event_ids).map(str::to_owned).collect();
    let first_two: BTreeSet<String> = objects[..2]
        .iter()
        .flat_map(|(_, d)| lines_of(d))
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, first_two, "the objects read before Ctrl-C, and only those");
}

fn lines_of(data: &[u8]) -> Vec<Value> {
    String::from_utf8(data.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Key-time pruning
// ---------------------------------------------------------------------------------------------

const HOUR: i64 = 3_600_000;

/// A day of hourly Firehose objects from 2026-03-02T00:00Z: object `h` is named at `h:00:30`
/// and holds conversations that start in that hour and one that runs on 50 minutes.
fn day_of_objects() -> Vec<(String, Vec<u8>)> {
    let day = T0 - 10 * HOUR;
    (0..24)
        .map(|h| {
            let at = day + h * HOUR;
            let records: Vec<Value> = (0..4)
                .map(|k| {
                    let conv = uuid(0xd0, (h * 2 + k / 2) as u64);
                    let ms = at + 60_000 + k * 50 * 60_000 / 3;
                    envelope(
                        &uuid(0xe0, (h * 10 + k) as u64),
                        &conv,
                        "acd.start",
                        ms,
                        Some("VOICE"),
                    )
                })
                .collect();
            let key = format!(
                "fh/2026/03/02/{h:02}/gc-events-1-2026-03-02-{h:02}-00-30-0b6f8a1e-3c2d-4e5f-8a9b-{h:012}.gz"
            );
            (key, gzip(&concatenated(&records)))
        })
        .collect()
}

#[test]
fn a_time_window_reads_only_the_objects_that_can_hold_it() {
    let b = bucket("prune");
    let objects = day_of_objects();
    fill(&b, &objects);
    let dir = tempdir();
    let url = format!("s3://{b}/fh/");
    let window = [
        "--since",
        "2026-03-02T10:00:00Z",
        "--until",
        "2026-03-02T11:00:00Z",
    ];
    let proxy = Proxy::start();
    let all = run_s3(
        dir.path(),
        &proxy,
        &[&["correlate", &url, "--no-prune"][..], &window].concat(),
    )
    .ok();
    assert_eq!(proxy.gets().len(), 24);
    let proxy = Proxy::start();
    let args = [&["correlate", &url, "--report", "r.json"][..], &window].concat();
    let pruned = run_s3(dir.path(), &proxy, &args).ok();
    assert_eq!(pruned.stdout, all.stdout, "the same result as reading everything");
    assert!(!pruned.timelines().is_empty());
    // since − 1 h − 15 min = 08:45 … until + 1 h + 1 h = 13:00: the objects of 09 to 12 only;
    // the other hour prefixes are not even listed.
    let mut read: Vec<String> = proxy
        .gets()
        .iter()
        .map(|g| g[g.len() - 3 - 12..g.len() - 3].to_owned())
        .collect();
    read.sort();
    assert_eq!(read, (9..=12).map(|h| format!("{h:012}")).collect::<Vec<_>>());
    let mut listed: Vec<String> = proxy
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| {
            s.path
                .replace("%2F", "/")
                .split("prefix=fh/2026/03/02/")
                .nth(1)
                .and_then(|p| p.get(..2).map(str::to_owned))
        })
        .filter(|h| h.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    listed.sort();
    // 08 (its objects may reach 08:45) to 13 (named up to 13:00).
    assert_eq!(
        listed,
        ["08", "09", "10", "11", "12", "13"],
        "only these hour prefixes are listed"
    );
    let report: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["pruned"]["prefixes"], 18);
    assert_eq!(report["pruned"]["objects"], 2);
    assert!(pruned.stderr.contains("pruned inputs"), "{}", pruned.stderr);

    // A local copy of the tree prunes the same files, and says how many bytes it left.
    copy_to_disk(&dir.path().join("copy"), &objects);
    let args = [&["correlate", "copy/fh", "--report", "local.json"][..], &window].concat();
    let local = run_in(dir.path(), &args).ok();
    assert_eq!(
        renamed(&local.stdout, "copy/fh/", &url),
        String::from_utf8(pruned.stdout).unwrap()
    );
    let report: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("local.json")).unwrap()).unwrap();
    let skipped: u64 = objects
        .iter()
        .filter(|(k, _)| !(9..=12).any(|h| k.contains(&format!("/{h:02}/"))))
        .map(|(_, d)| d.len() as u64)
        .sum();
    assert_eq!(report["pruned"]["objects"], 20);
    assert_eq!(report["pruned"]["bytes"], skipped);
    assert_eq!(local.summary().inputs, 4);
    // Narrower margins read fewer objects; --key-timezone shifts them.
    let proxy = Proxy::start();
    let args = [
        &["correlate", &url, "--context", "0s", "--late", "0s"][..],
        &window,
    ]
    .concat();
    run_s3(dir.path(), &proxy, &args).ok();
    let gets = proxy.gets();
    assert!(
        gets.len() == 1 && gets[0].contains("/10/"),
        "10:00:30 only: {gets:?}"
    );
    let proxy = Proxy::start();
    let args = [
        &[
            "correlate",
            &url,
            "--context",
            "0s",
            "--late",
            "0s",
            "--key-timezone",
            "Asia/Kolkata",
        ][..],
        &window,
    ]
    .concat();
    run_s3(dir.path(), &proxy, &args).ok();
    let gets = proxy.gets();
    assert!(
        gets.len() == 1 && gets[0].contains("/16/"),
        "16:00:30 IST is 10:30:30Z: {gets:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The other places EventBridge events land
// ---------------------------------------------------------------------------------------------

fn string(v: &Value) -> Value {
    Value::String(compact(v))
}

#[test]
fn sqs_sns_and_cloudwatch_logs_wrappers_are_read_event_by_event() {
    let records = many_records(24);
    let dir = tempdir();
    write(&dir.path().join("plain.ndjson"), ndjson(&records));
    let plain = run_in(dir.path(), &["correlate", "plain.ndjson"]).ok();
    let plain_ts = without_sources(&plain.timelines());

    // SQS receive-message output, one body an SNS notification; pretty-printed as the CLI does.
    let messages: Vec<Value> = records[..12]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let body = if i % 3 == 0 {
                string(&json!({"Type": "Notification", "MessageId": "x", "Message": compact(r)}))
            } else {
                string(r)
            };
            json!({"MessageId": format!("m{i}"), "ReceiptHandle": "h", "MD5OfBody": "x", "Body": body})
        })
        .collect();
    write(
        &dir.path().join("sqs.json"),
        serde_json::to_string_pretty(&json!({"Messages": messages})).unwrap(),
    );
    // CloudWatch Logs filter-log-events output.
    let events: Vec<Value> = records[12..18]
        .iter()
        .map(|r| json!({"logStreamName": "s", "timestamp": 1, "message": compact(r), "ingestionTime": 2, "eventId": "e"}))
        .collect();
    write(
        &dir.path().join("logs.json"),
        serde_json::to_string_pretty(&json!({"events": events})).unwrap(),
    );
    // An export to S3: gzip, `<timestamp> <event>` lines.
    let export: String = records[18..21]
        .iter()
        .map(|r| format!("2026-03-02T10:00:00.000Z {}\n", compact(r)))
        .collect();
    write(&dir.path().join("export/000000.gz"), gzip(export.as_bytes()));
    // A subscription filter through Firehose: gzip, concatenated, with a control message.
    let data = |rs: &[Value]| {
        json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s",
               "subscriptionFilters": ["f"],
               "logEvents": rs.iter().map(|r| json!({"id": "1", "timestamp": 1, "message": compact(r)})).collect::<Vec<_>>()})
    };
    let control = json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
        "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]});
    let firehose = concatenated(&[data(&records[21..23]), control, data(&records[23..])]);
    write(
        &dir.path()
            .join("sub/2026/03/02/10/cwl-1-2026-03-02-10-00-00-x.gz"),
        gzip(&firehose),
    );

    let wrapped = run_in(
        dir.path(),
        &["correlate", "sqs.json", "logs.json", "export", "sub"],
    )
    .ok();
    assert_eq!(without_sources(&wrapped.timelines()), plain_ts);
    let s = wrapped.summary();
    // Every event once, and the control message, which is no error.
    assert_eq!(
        (s.records, s.invalid, s.not_conversation),
        (records.len() as u64 + 1, 0, 1)
    );
    // Each event names the wrapper record it came from.
    let ts = wrapped.timelines();
    let all: Vec<&str> = ts.iter().flat_map(sources).collect();
    let names: BTreeSet<&str> = all.iter().map(|s| s.rsplit_once(['@', ':']).unwrap().0).collect();
    let expected = [
        "export/000000.gz",
        "logs.json",
        "sqs.json",
        "sub/2026/03/02/10/cwl-1-2026-03-02-10-00-00-x.gz",
    ];
    assert_eq!(names.into_iter().collect::<Vec<_>>(), expected);
    let lines: BTreeSet<&&str> = all.iter().filter(|s| s.starts_with("export/")).collect();
    assert_eq!(lines.len(), 3, "one line each: {lines:?}");

    // An inner string that is not JSON is one invalid record, with its position and element.
    write(
        &dir.path().join("bad.json"),
        compact(&json!({"Messages": [{"Body": "not json"}, {"Body": compact(&records[0])}]})) + "\n",
    );
    let bad = run_in(dir.path(), &["correlate", "bad.json"]).code(3);
    let d = bad.diagnostics();
    assert_eq!(d.len(), 1);
    assert!(
        d[0].starts_with("bad.json:1: Messages[0].Body: invalid JSON"),
        "{}",
        d[0]
    );
    assert_eq!(bad.summary().unique, 1);
}
