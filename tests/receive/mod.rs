//! `gcorr receive`: the real binary on a loopback port, real HTTP(S) clients, and the spool
//! read back from disk (and through `gcorr correlate`). What a sender sees (status, headers,
//! body) and what is on disk are both checked.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::{GENESYS_ENV, T0, compact, envelope, gunzip, run_in, tempdir, uuid, without_sources, write};

const SECRET: &str = "receive-test-secret-7f3a";

/// A running `gcorr receive`.
struct Receiver {
    child: Child,
    /// The process to signal (gcorr itself, also when started through a wrapper).
    pid: u32,
    base: String,
    stderr: Arc<Mutex<String>>,
}

/// The command line of a receiver on a free loopback port spooling to `out`.
fn receive_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["receive", "--listen", "127.0.0.1:0", "--out"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(out.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

impl Receiver {
    fn start(out: &Path, extra: &[&str]) -> Receiver {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gcorr"));
        cmd.args(receive_args(out, extra))
            .env("GCORR_RECEIVE_SECRET", SECRET);
        Receiver::spawn(cmd, None)
    }

    /// Spawns `cmd`, whose stderr carries gcorr's; `pid_file`, when given, is where the
    /// wrapper writes gcorr's pid.
    fn spawn(mut cmd: Command, pid_file: Option<&Path>) -> Receiver {
        cmd.envs(GENESYS_ENV.map(|k| (k, "")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("gcorr starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stderr.take().unwrap());
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.lines() {
                let line = line.unwrap_or_default();
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.split(' ').next().unwrap().to_owned());
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("gcorr receive starts; stderr: {}", stderr.lock().unwrap()));
        let pid = match pid_file {
            None => child.id(),
            Some(f) => {
                // Written by the wrapper as it starts gcorr: there before gcorr listens, but
                // perhaps not yet complete.
                let until = Instant::now() + Duration::from_secs(10);
                loop {
                    if let Some(pid) = fs::read_to_string(f).ok().and_then(|s| s.trim().parse().ok()) {
                        break pid;
                    }
                    assert!(Instant::now() < until, "no pid in {}", f.display());
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        Receiver {
            child,
            pid,
            base,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn signal(&self, sig: i32) {
        // SAFETY: signalling a child process of this test.
        assert_eq!(unsafe { libc::kill(self.pid as i32, sig) }, 0);
    }

    /// SIGTERM, then the exit code (within 30 s).
    fn stop(mut self) -> (i32, String) {
        self.signal(libc::SIGTERM);
        let code = self.wait(Duration::from_secs(30));
        (code, self.stderr())
    }

    fn wait(&mut self, limit: Duration) -> i32 {
        let until = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread has the last lines once the pipe is closed.
                std::thread::sleep(Duration::from_millis(100));
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < until,
                "gcorr receive did not exit; stderr: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill9(mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// What a sender sees.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("a JSON answer ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

async fn post(
    c: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut req = c.post(url).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.send().await.expect("an answer")).await
}

async fn answer(r: reqwest::Response) -> Answer {
    Answer {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().await.unwrap().to_vec(),
    }
}

const KEY: (&str, &str) = ("x-api-key", SECRET);

/// The `n`th generated event (10 conversations, ids unique per `n`).
fn event(n: u64) -> Value {
    envelope(
        &uuid(0x5ec, n),
        &uuid(0xc0c, n % 10),
        ["acd.start", "user.start", "user.end", "acd.end"][n as usize % 4],
        T0 + n as i64 * 1000,
        Some("VOICE"),
    )
}

fn id(e: &Value) -> String {
    e["id"].as_str().unwrap().to_owned()
}

/// Every event in the spool (plain and gzip'd segments, hidden and rejected files skipped),
/// each line checked to be one complete JSON object.
fn spooled(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for path in segments(dir) {
        let raw = fs::read(&path).unwrap();
        let data = if raw.starts_with(&[0x1f, 0x8b]) {
            gunzip(&raw)
        } else {
            raw
        };
        let text = String::from_utf8(data).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{}: ends with a complete line",
            path.display()
        );
        for line in text.lines() {
            out.push(
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("{}: not one JSON event per line ({e}): {line}", path.display())
                }),
            );
        }
    }
    out
}

/// The spool's segment files, sorted.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "rejected" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn ids(events: &[Value]) -> BTreeSet<String> {
    events.iter().map(id).collect()
}

/// Timelines of `gcorr correlate ARGS`, without event positions.
fn correlated(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut argv = vec!["correlate", "-q"];
    argv.extend(args);
    without_sources(&run_in(dir, &argv).ok().timelines())
}

fn rejected(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = fs::read_dir(dir.join("rejected"))
        .map(|entries| {
            entries
                .map(|e| {
                    let p = e.unwrap().path();
                    (
                        p.file_name().unwrap().to_string_lossy().into_owned(),
                        fs::read(&p).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn receive_accepts_each_form_of_the_secret_and_refuses_the_rest() {
    let dir = tempdir();
    let out = dir.path().join("spool");
    let r = Receiver::start(&out, &[]);
    let c = client();
    let basic_ok = basic("eventbridge", SECRET);
    let basic_bad = basic(SECRET, "wrong");
    runtime().block_on(async {
        let url = r.url("/events");
        let accepted: [&[(&str, &str)]; 3] = [
            &[KEY],
            &[("authorization", &basic_ok)],
            &[("x-amz-firehose-access-key", SECRET)],
        ];
        for (n, headers) in accepted.iter().enumerate() {
            let a = post(&c, &url, headers, compact(&event(n as u64))).await;
            assert_eq!((a.status, a.json()), (200, json!({"stored": 1})), "{headers:?}");
        }
        let refused: [&[(&str, &str)]; 5] = [
            &[],
            &[("x-api-key", "receive-test-secret-7f3b")],
            &[("x-api-key", &SECRET[..SECRET.len() - 1])],
            &[("authorization", &basic_bad)],
            &[("authorization", &format!("Bearer {SECRET}"))],
        ];
        for headers in refused {
            let a = post(&c, &url, headers, compact(&event(99))).await;
            assert_eq!(a.status, 401, "{headers:?}");
            assert!(a.body.is_empty(), "no detail");
        }
        let a = c.get(r.url("/healthz")).send().await.unwrap();
        assert_eq!(a.status(), 200);
        let m = answer(
            c.get(r.url("/metrics"))
                .header(KEY.0, KEY.1)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let text = String::from_utf8(m.body).unwrap();
        for line in [
            "gcorr_receive_requests_total{path=\"/events\",status=\"200\"} 3",
            "gcorr_receive_requests_total{path=\"/events\",status=\"401\"} 5",
            "gcorr_receive_events_total 3",
            "gcorr_receive_rejected_total{reason=\"unauthorized\"} 5",
            "gcorr_receive_open_segments 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let m = c.get(r.url("/metrics")).send().await.unwrap();
        assert_eq!(m.status(), 401, "the metrics need the secret too");
    });

    // The open segment is read while the receiver runs.
    let expected: Vec<Value> = (0..3).map(event).collect();
    write(&dir.path().join("sent.ndjson"), super::ndjson(&expected));
    assert_eq!(
        correlated(dir.path(), &["spool"]),
        correlated(dir.path(), &["sent.ndjson"])
    );
    let (code, stderr) = r.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains(SECRET), "the secret is never printed: {stderr}");
    assert_eq!(ids(&spooled(&out)), ids(&expected));
    assert!(
        segments(&out)
            .iter()
            .all(|p| p.to_string_lossy().ends_with(".ndjson.gz")),
        "closed segments are compressed: {:?}",
        segments(&out)
    );
    assert_eq!(
        correlated(dir.path(), &["spool"]),
        correlated(dir.path(), &["sent.ndjson"])
    );
}

#[test]
fn receive_refuses_to_start_without_a_secret_or_tls_off_loopback() {
    let dir = tempdir();
    let gcorr = |args: Vec<String>, secret: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gcorr"));
        cmd.args(args)
            .current_dir(dir.path())
            .env_remove("GCORR_RECEIVE_SECRET");
        if let Some(s) = secret {
            cmd.env("GCORR_RECEIVE_SECRET", s);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let out = Path::new("spool");
    let (code, stderr) = gcorr(receive_args(out, &[]), None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("GCORR_RECEIVE_SECRET is not set"), "{stderr}");
    let mut args = receive_args(out, &["--no-auth"]);
    args[2] = "0.0.0.0:0".into();
    let (code, stderr) = gcorr(args, None);
    assert_eq!(code, Some(2), "--no-auth only on loopback: {stderr}");
    let mut args = receive_args(out, &[]);
    args[2] = "0.0.0.0:0".into();
    let (code, stderr) = gcorr(args, Some(SECRET));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--tls-cert"), "{stderr}");
    assert!(!stderr.contains(SECRET));
    assert!(!dir.path().join("spool").exists(), "nothing started");
}

/// A self-signed certificate for 127.0.0.1, made with openssl.
fn certificate(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "1", "-subj", "/CN=127.0.0.1"])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    made.then_some((cert, key))
}

#[test]
fn receive_over_tls() {
    let dir = tempdir();
    let Some((cert, key)) = certificate(dir.path()) else {
        eprintln!("openssl is not installed: TLS case not run");
        return;
    };
    let out = dir.path().join("spool");
    let r = Receiver::start(
        &out,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(r.base.starts_with("https://127.0.0.1:"), "{}", r.base);
    let pem = fs::read(&cert).unwrap();
    let c = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap();
    runtime().block_on(async {
        let a = post(&c, &r.url("/events"), &[KEY], compact(&event(1))).await;
        assert_eq!((a.status, a.json()), (200, json!({"stored": 1})));
        let a = post(&c, &r.url("/events"), &[], compact(&event(2))).await;
        assert_eq!(a.status, 401);
        // Plain HTTP on the TLS port gets no answer.
        let plain = client()
            .post(r.url("/events").replace("https", "http"))
            .header(KEY.0, KEY.1)
            .body(compact(&event(3)))
            .send()
            .await;
        assert!(plain.is_err(), "{plain:?}");
    });
    let (code, stderr) = r.stop();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(ids(&spooled(&out)), ids(&[event(1)]));
}

#[test]
fn receive_413_for_a_large_body_and_400_with_a_copy_for_one_that_is_not_json() {
    let dir = tempdir();
    let out = dir.path().join("spool");
    let r = Receiver::start(&out, &["--max-body", "2K"]);
    let c = client();
    let mut big = event(1);
    big["detail"]["eventBody"]["padding"] = json!("x".repeat(3000));
    let pretty = serde_json::to_string_pretty(&event(2)).unwrap();
    runtime().block_on(async {
        let a = post(&c, &r.url("/events"), &[KEY], compact(&big)).await;
        assert_eq!(a.status, 413);
        // Chunked, with no length: cut off once over the limit all the same.
        let addr = r.base.trim_start_matches("http://").to_owned();
        let text = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let head = format!(
                "POST /events HTTP/1.1\r\nHost: x\r\nx-api-key: {SECRET}\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            s.write_all(head.as_bytes()).unwrap();
            for _ in 0..3 {
                s.write_all(format!("400\r\n{}\r\n", "x".repeat(1024)).as_bytes()).unwrap();
            }
            // The rest never comes: the answer must not wait for it.
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut got = [0; 12];
            s.read_exact(&mut got).map(|()| String::from_utf8_lossy(&got).into_owned())
        })
        .await
        .unwrap();
        assert_eq!(text.unwrap(), "HTTP/1.1 413");
        let a = post(&c, &r.url("/events"), &[KEY], "not json at all").await;
        assert_eq!(a.status, 400);
        assert_eq!(a.json(), json!({"error": "the body is not a JSON event"}));
        let a = post(&c, &r.url("/events"), &[KEY], "[1,2]").await;
        assert_eq!(a.status, 400);
        let a = post(&c, &r.url("/events"), &[KEY], pretty.clone()).await;
        assert_eq!(a.status, 200, "a pretty-printed event is an event");
        let m = answer(c.get(r.url("/metrics")).header(KEY.0, KEY.1).send().await.unwrap()).await;
        let text = String::from_utf8(m.body).unwrap();
        assert!(text.contains("gcorr_receive_rejected_total{reason=\"too_large\"} 2\n"), "{text}");
        assert!(text.contains("gcorr_receive_rejected_total{reason=\"not_json\"} 2\n"), "{text}");
    });
    let (code, stderr) = r.stop();
    assert_eq!(code, 0, "{stderr}");
    let kept: Vec<Vec<u8>> = rejected(&out).into_iter().map(|(_, b)| b).collect();
    assert_eq!(kept.len(), 2);
    assert!(kept.contains(&b"not json at all".to_vec()) && kept.contains(&b"[1,2]".to_vec()));
    // The pretty event is stored as one line.
    assert_eq!(spooled(&out), [event(2)]);
}

fn firehose_body(request_id: &str, records: &[Vec<u8>]) -> String {
    let records: Vec<Value> = records
        .iter()
        .map(|r| json!({"data": base64::engine::general_purpose::STANDARD.encode(r)}))
        .collect();
    compact(&json!({"requestId": request_id, "timestamp": T0, "records": records}))
}

#[test]
fn receive_firehose_round_trip() {
    let dir = tempdir();
    let out = dir.path().join("spool");
    let r = Receiver::start(&out, &["--no-compress"]);
    let c = client();
    let e: Vec<Value> = (0..9).map(event).collect();
    let records = vec![
        compact(&e[0]).into_bytes(),
        format!("{}{}", compact(&e[1]), compact(&e[2])).into_bytes(),
        format!("{}\n{}\n", compact(&e[3]), compact(&e[4])).into_bytes(),
        serde_json::to_vec_pretty(&e[5]).unwrap(),
        b"this record is not JSON".to_vec(),
        compact(&e[6]).into_bytes(),
    ];
    let fh = ("x-amz-firehose-access-key", SECRET);
    runtime().block_on(async {
        let before = jiff::Timestamp::now().as_millisecond();
        let a = post(
            &c,
            &r.url("/firehose"),
            &[fh],
            firehose_body("5f1c-req", &records),
        )
        .await;
        assert_eq!(a.status, 200, "{:?}", String::from_utf8_lossy(&a.body));
        let v = a.json();
        assert_eq!(v["requestId"], "5f1c-req");
        let ts = v["timestamp"].as_i64().expect("a timestamp in ms");
        assert!(ts >= before && ts <= jiff::Timestamp::now().as_millisecond());
        assert_eq!(v.as_object().unwrap().len(), 2, "no errorMessage: {v}");

        // Firehose's GZIP content encoding.
        let gz = super::gzip(
            firehose_body(
                "gz-req",
                &[compact(&e[7]).into_bytes(), compact(&e[8]).into_bytes()],
            )
            .as_bytes(),
        );
        let a = post(&c, &r.url("/firehose"), &[fh, ("content-encoding", "gzip")], gz).await;
        assert_eq!((a.status, a.json()["requestId"].clone()), (200, json!("gz-req")));

        let a = post(
            &c,
            &r.url("/firehose"),
            &[fh, ("x-amz-firehose-request-id", "bad-1")],
            "{\"no\":1}",
        )
        .await;
        assert_eq!(a.status, 400);
        let v = a.json();
        assert_eq!(v["requestId"], "bad-1");
        assert!(v["errorMessage"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert!(v["timestamp"].is_i64());

        let a = post(&c, &r.url("/firehose"), &[], firehose_body("x", &records)).await;
        assert_eq!(a.status, 401);
    });
    let (code, stderr) = r.stop();
    assert_eq!(code, 0, "{stderr}");
    let stored = spooled(&out);
    assert_eq!(stored, e, "every event, one per line, in order");
    let segs = segments(&out);
    assert!(
        segs.iter().all(|p| p.to_string_lossy().ends_with(".ndjson")),
        "--no-compress: {segs:?}"
    );
    let kept: Vec<Vec<u8>> = rejected(&out).into_iter().map(|(_, b)| b).collect();
    assert!(kept.contains(&b"this record is not JSON".to_vec()), "{kept:?}");
    assert!(kept.contains(&b"{\"no\":1}".to_vec()));
    write(&dir.path().join("sent.ndjson"), super::ndjson(&e));
    let seg = segs[0].to_string_lossy().into_owned();
    assert_eq!(
        correlated(dir.path(), &[&seg]),
        correlated(dir.path(), &["sent.ndjson"])
    );
}

#[test]
fn receive_kill_9_under_load_loses_no_acknowledged_event() {
    let dir = tempdir();
    let out = dir.path().join("spool");
    let r = Receiver::start(&out, &["--segment-bytes", "64K"]);
    let url = r.url("/events");
    let acked = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let rt = runtime();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (url, acked, next) = (url.clone(), acked.clone(), next.clone());
            rt.spawn(async move {
                let c = client();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Ok(resp) = c
                        .post(&url)
                        .header(KEY.0, KEY.1)
                        .body(compact(&event(n)))
                        .send()
                        .await
                    else {
                        return;
                    };
                    if resp.status() == 200 {
                        acked.lock().unwrap().push(n);
                    }
                }
            })
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 1500 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    r.kill9();
    rt.block_on(async {
        for w in workers {
            let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
        }
    });
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().map(|&n| id(&event(n))).collect();
    let sent = next.load(std::sync::atomic::Ordering::Relaxed);
    assert!(acked.len() >= 1500, "load was applied: {}", acked.len());

    // The restart puts the spool right (a torn last line would be cut and reported) and
    // closes the killed run's segments.
    let again = Receiver::start(&out, &[]);
    let (code, stderr) = again.stop();
    assert_eq!(code, 0, "{stderr}");
    let stored = spooled(&out);
    let stored_ids = ids(&stored);
    let lost: Vec<_> = acked.difference(&stored_ids).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost: {lost:?}",
        lost.len()
    );
    assert_eq!(stored_ids.len(), stored.len(), "no event stored twice");
    // What is stored beyond the acknowledged events was sent (its answer was cut short):
    // correlating the spool equals correlating those sent events, exactly.
    let sent: Vec<Value> = (0..sent)
        .map(event)
        .filter(|e| stored_ids.contains(&id(e)))
        .collect();
    assert_eq!(sent.len(), stored.len(), "nothing in the spool that was not sent");
    write(&dir.path().join("sent.ndjson"), super::ndjson(&sent));
    assert_eq!(
        correlated(dir.path(), &["spool"]),
        correlated(dir.path(), &["sent.ndjson"])
    );
}

#[test]
fn receive_restart_cuts_a_torn_line_never_glues_it() {
    let dir = tempdir();
    let out = dir.path().join("spool");
    let torn = out.join("2026/03/02/10/gcorr-2026-03-02-10-00-00-00000000000000aa.ndjson");
    let whole = compact(&event(1)) + "\n";
    let cut = &compact(&event(2))[..200];
    write(&torn, format!("{whole}{cut}"));
    let r = Receiver::start(&out, &["--no-compress"]);
    let c = client();
    runtime().block_on(async {
        let a = post(&c, &r.url("/events"), &[KEY], compact(&event(3))).await;
        assert_eq!(a.status, 200);
    });
    let (code, stderr) = r.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: cut off a torn last line (200 bytes",
            torn.display()
        )),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(&torn).unwrap(), whole);
    assert_eq!(ids(&spooled(&out)), ids(&[event(1), event(3)]));
}

#[test]
fn receive_a_slow_client_is_cut_off() {
    let dir = tempdir();
    let r = Receiver::start(
        &dir.path().join("spool"),
        &["--header-timeout", "500ms", "--body-timeout", "800ms"],
    );
    let addr = r.base.trim_start_matches("http://").to_owned();
    let closed_within = |s: &mut TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        (started.elapsed(), String::from_utf8_lossy(&got).into_owned())
    };
    // Headers that never end.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"POST /events HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (took, _) = closed_within(&mut s);
    assert!(took < Duration::from_secs(5), "cut off after {took:?}");
    // A body that never ends.
    let mut s = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /events HTTP/1.1\r\nHost: x\r\nx-api-key: {SECRET}\r\nContent-Length: 1000\r\n\r\n{{\"id\":"
    );
    s.write_all(head.as_bytes()).unwrap();
    let (took, text) = closed_within(&mut s);
    assert!(took < Duration::from_secs(5), "cut off after {took:?}");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let (code, stderr) = r.stop();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn receive_sigterm_finishes_requests_in_flight_and_exits_0() {
    let dir = tempdir();
    let out = dir.path().join("spool");
    let r = Receiver::start(&out, &[]);
    let addr = r.base.trim_start_matches("http://").to_owned();
    let body = compact(&event(7));
    let mut s = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /events HTTP/1.1\r\nHost: x\r\nx-api-key: {SECRET}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body.as_bytes()[..100]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    r.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    // New connections are no longer taken...
    let refused = TcpStream::connect(&addr);
    assert!(refused.is_err(), "the listener is closed");
    // ...but the request in flight is finished and acknowledged.
    s.write_all(&body.as_bytes()[100..]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let mut r = r;
    let code = r.wait(Duration::from_secs(30));
    assert_eq!(code, 0, "{}", r.stderr());
    let segs = segments(&out);
    assert!(
        segs.iter().all(|p| p.to_string_lossy().ends_with(".gz")),
        "{segs:?}"
    );
    assert_eq!(spooled(&out), [event(7)]);
    assert!(r.stderr().contains("1 events stored"), "{}", r.stderr());
}

/// The spool on a 256 KiB tmpfs in a private mount namespace, half of it taken by a ballast
/// file that is deleted on demand: writes fail with ENOSPC, then space returns.
#[test]
fn receive_a_full_disk_gives_503_and_never_a_2xx_then_recovers() {
    if !Command::new("unshare")
        .args(["-rm", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("cannot create a mount namespace here (unshare -rm): disk-full case not run");
        return;
    }
    let dir = tempdir();
    fs::create_dir(dir.path().join("small")).unwrap();
    fs::create_dir(dir.path().join("copy")).unwrap();
    let script = r#"
        mount -t tmpfs -o size=256k tmpfs small || exit 99
        head -c 180000 /dev/zero > small/.ballast
        "$0" receive --listen 127.0.0.1:0 --out small --no-compress &
        echo $! > pid
        while [ ! -e release ]; do sleep 0.05; done
        rm small/.ballast
        wait $!
        code=$?
        cp -r small/. copy/
        exit $code
    "#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-rm", "sh", "-c", script, env!("CARGO_BIN_EXE_gcorr")])
        .current_dir(dir.path())
        .env("GCORR_RECEIVE_SECRET", SECRET);
    let r = Receiver::spawn(cmd, Some(&dir.path().join("pid")));
    let c = client();
    let mut acked = BTreeSet::new();
    let (mut unavailable, mut other) = (0, 0);
    runtime().block_on(async {
        let mut n = 0;
        while unavailable < 20 {
            let a = post(&c, &r.url("/events"), &[KEY], compact(&event(n))).await;
            match a.status {
                200 => {
                    acked.insert(id(&event(n)));
                }
                503 => {
                    unavailable += 1;
                    assert_eq!(a.headers["retry-after"], "10");
                }
                s => {
                    other += 1;
                    panic!("unexpected status {s}: {:?}", String::from_utf8_lossy(&a.body));
                }
            }
            n += 1;
            assert!(n < 10_000, "the disk never filled");
        }
        fs::write(dir.path().join("release"), b"").unwrap();
        // Space is back: the next deliveries are stored again.
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let a = post(&c, &r.url("/events"), &[KEY], compact(&event(n))).await;
            if a.status == 200 {
                acked.insert(id(&event(n)));
                break;
            }
            assert_eq!(a.status, 503);
            assert!(Instant::now() < until, "service did not resume");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert_eq!(other, 0);
    let (code, stderr) = r.stop();
    assert_eq!(code, 0, "{stderr}");
    let stored = ids(&spooled(&dir.path().join("copy")));
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    assert!(
        acked.len() > 10,
        "some were stored before the disk filled: {}",
        acked.len()
    );
}

#[test]
fn receive_429_when_too_many_events_wait() {
    let dir = tempdir();
    let out = dir.path().join("spool");
    let r = Receiver::start(&out, &["--max-inflight", "1"]);
    let url = r.url("/events");
    let answers = runtime().block_on(async {
        let c = client();
        let posts = (0..64).map(|n| {
            let (c, url) = (c.clone(), url.clone());
            async move { (n, post(&c, &url, &[KEY], compact(&event(n))).await) }
        });
        futures::future::join_all(posts).await
    });
    let (code, stderr) = r.stop();
    assert_eq!(code, 0, "{stderr}");
    let mut acked = BTreeSet::new();
    let mut busy = 0;
    for (n, a) in &answers {
        match a.status {
            200 => {
                acked.insert(id(&event(*n)));
            }
            429 => {
                busy += 1;
                assert_eq!(a.headers["retry-after"], "1");
            }
            s => panic!("unexpected {s}"),
        }
    }
    assert!(
        busy > 0 && !acked.is_empty(),
        "{busy} refused, {} stored",
        acked.len()
    );
    assert_eq!(
        ids(&spooled(&out)),
        acked,
        "exactly the acknowledged events are stored"
    );
}

#[test]
fn receive_holds_connections_beyond_max_connections_until_one_closes() {
    let dir = tempdir();
    let out = dir.path().join("spool");
    let r = Receiver::start(&out, &["--max-connections", "1"]);
    let addr = r.base.trim_start_matches("http://").to_owned();
    let request = |n: u64| {
        let body = compact(&event(n));
        format!(
            "POST /events HTTP/1.1\r\nHost: x\r\nx-api-key: {SECRET}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let status = |s: &mut TcpStream| {
        let mut got = [0; 12];
        s.read_exact(&mut got)
            .map(|()| String::from_utf8_lossy(&got).into_owned())
    };
    // The one slot, held by a keep-alive connection.
    let mut first = TcpStream::connect(&addr).unwrap();
    first.write_all(request(1).as_bytes()).unwrap();
    assert_eq!(status(&mut first).unwrap(), "HTTP/1.1 200");
    // A second connection is queued, not served...
    let mut second = TcpStream::connect(&addr).unwrap();
    second.write_all(request(2).as_bytes()).unwrap();
    second.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    assert!(status(&mut second).is_err(), "served beyond --max-connections");
    // ...until the first goes away.
    drop(first);
    second.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(status(&mut second).unwrap(), "HTTP/1.1 200");
    drop(second);
    let (code, stderr) = r.stop();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(ids(&spooled(&out)), ids(&[event(1), event(2)]));
}

/// `gcorr correlate DIR` while the receiver runs reads the segment being appended to up to its
/// last complete line: a line in the middle of its write is neither an event nor an invalid
/// record. Once the receiver has closed the segment, the same bytes are a truncated record.
#[test]
fn correlate_reads_an_open_segment_up_to_its_last_complete_line() {
    let dir = tempdir();
    let out = dir.path().join("spool");
    let r = Receiver::start(&out, &["--no-compress"]);
    let c = client();
    runtime().block_on(async {
        for n in 0..3 {
            let a = post(&c, &r.url("/events"), &[KEY], compact(&event(n))).await;
            assert_eq!(a.status, 200);
        }
    });
    let open = segments(&out);
    assert_eq!(open.len(), 1, "{open:?}");
    // The start of a line whose write is under way.
    let mut file = fs::OpenOptions::new().append(true).open(&open[0]).unwrap();
    file.write_all(&compact(&event(3)).as_bytes()[..120]).unwrap();
    let while_open = run_in(&out, &["correlate", "."]).ok();
    let got: BTreeSet<String> = while_open
        .timelines()
        .iter()
        .flat_map(|t| t["events"].as_array().unwrap().clone())
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids(&[event(0), event(1), event(2)]));
    assert_eq!(while_open.summary().invalid, 0, "{}", while_open.stderr);

    let (code, stderr) = r.stop();
    assert_eq!(code, 0, "{stderr}");
    let closed = run_in(&out, &["correlate", "."]).code(3);
    assert_eq!(closed.summary().invalid, 1, "{}", closed.stderr);
}
