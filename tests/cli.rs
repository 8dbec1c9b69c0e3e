//! End-to-end tests of the `gcorr` binary: the committed fixtures (see fixtures/README.md) and
//! inputs generated in temporary directories. Every output is parsed back — JSON, CSV and the
//! stderr summary — and checked field by field, never grepped.

#[path = "durable/mod.rs"]
mod durable;
#[path = "enrich/mod.rs"]
mod enrich;
#[path = "findings/mod.rs"]
mod findings;
#[path = "hardening/mod.rs"]
mod hardening;
#[path = "htmldata/mod.rs"]
mod htmldata;
#[path = "lifecycle/mod.rs"]
mod lifecycle;
#[path = "reading/mod.rs"]
mod reading;
#[path = "receive/mod.rs"]
mod receive;
#[path = "s3/mod.rs"]
mod s3;
#[path = "ux/mod.rs"]
mod ux;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Conversations of fixtures/events.ndjson, in output order.
const C: &str = "bc0b3813-d9d6-48b4-8aa8-63af5c1c841a";
const B: &str = "efb445af-a681-4f89-8cdb-3b29bc33cb93";
const D: &str = "f5de42bf-c349-42d7-938d-7bd08e28f532";
const A: &str = "f72dca24-b1f9-4775-b9a5-d10e99ff2a66";
const E: &str = "b7afc9d6-a14f-4e4f-917d-a4cde105b2b0";

const Q_SUPPORT: &str = "b0c56f5f-f45a-4da8-82e4-7853d3781dfa";
const Q_CALLBACK: &str = "e8bedf34-f2af-4cde-8866-ed4b4063d490";
const AGENT_1: &str = "1102d4b6-6728-4a3a-8be1-93eef6a36920";
const AGENT_3: &str = "456972f6-0156-48ff-b726-ac8e91caa023";

/// 2026-03-02T10:00:00Z, the base time of generated events.
const T0: i64 = 1_772_445_600_000;

const EVENT_KEYS: [&str; 14] = [
    "event_id",
    "time",
    "delivered",
    "lag_ms",
    "event_type",
    "media_type",
    "participant_id",
    "session_id",
    "direction",
    "queue_id",
    "user_id",
    "disconnect_type",
    "wrapup_code",
    "source",
];

const CSV_EVENT_COLUMNS: [&str; 22] = [
    "conversation_id",
    "conversation_start",
    "conversation_media_types",
    "flags",
    "event_id",
    "time",
    "delivered",
    "lag_ms",
    "event_type",
    "media_type",
    "participant_id",
    "participant_purpose",
    "participant_name",
    "session_id",
    "direction",
    "queue_id",
    "user_id",
    "disconnect_type",
    "wrapup_code",
    "wrapup_name",
    "source",
    "enrichment_status",
];

const CSV_CONVERSATION_COLUMNS: [&str; 11] = [
    "conversation_id",
    "start",
    "end",
    "duration_ms",
    "media_types",
    "handoffs",
    "event_count",
    "duplicates_dropped",
    "flags",
    "participants",
    "enrichment_status",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn messy() -> PathBuf {
    fixtures().join("messy")
}

/// A finished run of the binary.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

/// What the end-of-run summary on stderr says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Summary {
    inputs: u64,
    records: u64,
    invalid: u64,
    not_conversation: u64,
    filtered: u64,
    duplicates: u64,
    unique: u64,
    conversations: u64,
}

/// Configuration gcorr reads from the environment: never inherited from the host.
const GENESYS_ENV: [&str; 8] = [
    "GENESYSCLOUD_OAUTHCLIENT_ID",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET",
    "GENESYS_CLIENT_ID",
    "GENESYS_CLIENT_SECRET",
    "GENESYSCLOUD_ACCESS_TOKEN",
    "GENESYSCLOUD_REGION",
    "GENESYS_ORG_DOMAIN",
    "GENESYSCLOUD_API_REGION",
];

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("gcorr").expect("the gcorr binary is built");
    cmd.current_dir(dir).args(args).timeout(Duration::from_secs(60));
    for k in GENESYS_ENV {
        cmd.env_remove(k);
    }
    cmd
}

fn finish(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("gcorr runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `gcorr ARGS` in `dir`, stdin empty.
fn run_in(dir: &Path, args: &[&str]) -> Run {
    finish(&mut command(dir, args))
}

/// Runs `gcorr ARGS` in `dir` with `stdin`.
fn run_stdin(dir: &Path, args: &[&str], stdin: impl Into<Vec<u8>>) -> Run {
    finish(command(dir, args).write_stdin(stdin.into()))
}

/// Runs `gcorr ARGS` in fixtures/.
fn run(args: &[&str]) -> Run {
    run_in(&fixtures(), args)
}

impl Run {
    #[track_caller]
    fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.code,
            expected,
            "exit code; stderr:\n{}\nstdout (start):\n{}",
            self.stderr,
            String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(2000)])
        );
        self
    }

    #[track_caller]
    fn ok(self) -> Run {
        self.code(0)
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.stdout).expect("stdout is UTF-8")
    }

    /// stdout as JSON Lines: one JSON object per line, every line terminated.
    #[track_caller]
    fn timelines(&self) -> Vec<Value> {
        let text = self.text();
        if !text.is_empty() {
            assert!(text.ends_with('\n'), "the last line is terminated");
        }
        text.lines()
            .map(|line| {
                let v: Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                assert!(v.is_object(), "a timeline is an object: {line}");
                v
            })
            .collect()
    }

    /// stdout as one JSON document.
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).expect("stdout is one JSON document")
    }

    /// stdout as CSV: the header and the rows as column → value maps.
    #[track_caller]
    fn csv(&self) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
        parse_csv(&self.stdout)
    }

    /// The end-of-run summary; also checks that its counts add up.
    #[track_caller]
    fn summary(&self) -> Summary {
        let lines: Vec<&str> = self.stderr.lines().collect();
        let head = lines
            .iter()
            .position(|l| l.starts_with("gcorr: ") && l.contains(" MB in "))
            .unwrap_or_else(|| panic!("no summary on stderr:\n{}", self.stderr));
        let inputs = lines[head]["gcorr: ".len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("the summary starts with the number of inputs");
        let mut rows = HashMap::new();
        for line in &lines[head + 1..] {
            if !line.starts_with("  ") {
                break;
            }
            let (name, number) = line.trim().rsplit_once(' ').expect("`name   number`");
            let n: u64 = number.replace(',', "").parse().expect("a count");
            rows.insert(name.trim().to_owned(), n);
        }
        let get = |name: &str| {
            *rows
                .get(name)
                .unwrap_or_else(|| panic!("no `{name}` in the summary:\n{}", self.stderr))
        };
        let s = Summary {
            inputs,
            records: get("records read"),
            invalid: get("invalid"),
            not_conversation: get("not conversation"),
            filtered: get("filtered out"),
            duplicates: get("duplicates dropped"),
            unique: get("unique events"),
            conversations: get("conversations"),
        };
        assert_eq!(
            s.records,
            s.unique + s.duplicates + s.invalid + s.not_conversation + s.filtered,
            "records = unique + duplicates + invalid + not conversation + filtered: {s:?}"
        );
        s
    }

    /// The invalid-record lines on stderr (`name:line: message`, `name@offset: message`).
    /// Checks that every other line is gcorr's own (`gcorr: ...`) or a summary row: one
    /// invalid record, one line.
    #[track_caller]
    fn diagnostics(&self) -> Vec<&str> {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.starts_with("gcorr:") && !l.starts_with("  "))
            .collect();
        for line in &lines {
            assert!(
                is_diagnostic(line),
                "stderr line {line:?} is neither `gcorr: ...`, a summary row nor `NAME:LINE: message` / \
                 `NAME@OFFSET: message` (an invalid record's message must fit on one line); stderr:\n{}",
                self.stderr
            );
        }
        lines
    }
}

/// `name:12: message` or `name@4096: message`.
fn is_diagnostic(line: &str) -> bool {
    line.match_indices(": ").any(|(at, _)| {
        let head = &line[..at];
        let digits = head.trim_end_matches(|c: char| c.is_ascii_digit());
        digits.len() < head.len() && (digits.ends_with(':') || digits.ends_with('@')) && digits.len() > 1
    })
}

fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header: Vec<String> = r
        .headers()
        .expect("a CSV header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.expect("a CSV row");
            assert_eq!(rec.len(), header.len(), "every row has every column");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, rows)
}

// --- timelines --------------------------------------------------------------------------------

fn events(t: &Value) -> &Vec<Value> {
    t["events"].as_array().expect("events is an array")
}

fn id_of(t: &Value) -> &str {
    t["conversation_id"]
        .as_str()
        .expect("conversation_id is a string")
}

fn event_ids(t: &Value) -> Vec<&str> {
    events(t)
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect()
}

fn sources(t: &Value) -> Vec<&str> {
    events(t).iter().map(|e| e["source"].as_str().unwrap()).collect()
}

#[track_caller]
fn find<'a>(ts: &'a [Value], conversation: &str) -> &'a Value {
    ts.iter()
        .find(|t| id_of(t) == conversation)
        .unwrap_or_else(|| panic!("no timeline for {conversation}"))
}

fn find_event(t: &Value, pred: impl Fn(&Value) -> bool) -> &Value {
    events(t).iter().find(|e| pred(e)).expect("such an event")
}

/// The timelines with every event's `source` removed.
fn without_sources(ts: &[Value]) -> Vec<Value> {
    ts.iter()
        .map(|t| {
            let mut t = t.clone();
            if let Some(evs) = t["events"].as_array_mut() {
                for e in evs {
                    e.as_object_mut().unwrap().remove("source");
                }
            }
            t
        })
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string"))
        .collect()
}

/// Epoch milliseconds of an RFC 3339 time printed by gcorr.
#[track_caller]
fn millis(v: &Value) -> i64 {
    let s = v.as_str().expect("a time string");
    assert_eq!(s.len(), 24, "YYYY-MM-DDTHH:MM:SS.mmmZ: {s}");
    assert!(s.ends_with('Z'), "UTC: {s}");
    s.parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .as_millisecond()
}

fn iso(ms: i64) -> String {
    format!("{:.3}", jiff::Timestamp::from_millisecond(ms).unwrap())
}

/// Checks one timeline against the output contract (ndjson/json, with or without events).
#[track_caller]
fn check_contract(t: &Value) {
    let o = t.as_object().expect("a timeline is an object");
    for key in [
        "conversation_id",
        "start",
        "end",
        "duration_ms",
        "media_types",
        "handoffs",
        "event_count",
        "duplicates_dropped",
        "flags",
        "participants",
        "enrichment",
    ] {
        assert!(o.contains_key(key), "timeline has `{key}`: {t}");
    }
    assert!(!id_of(t).is_empty());
    let (start, end) = (millis(&t["start"]), millis(&t["end"]));
    assert!(start <= end);
    assert_eq!(t["duration_ms"].as_i64(), Some(end - start));
    assert!(t["event_count"].as_u64().unwrap() >= 1);
    assert!(t["duplicates_dropped"].is_u64());
    let flags = strings(&t["flags"]);
    assert!(
        flags.windows(2).all(|w| w[0] < w[1]),
        "flags are sorted and distinct: {flags:?}"
    );
    assert_eq!(t["enrichment"]["status"], "skipped");
    assert_eq!(t["enrichment"]["attempts"], 0);
    let media = strings(&t["media_types"]);
    for m in &media {
        assert_eq!(*m, m.to_lowercase(), "media types are lower case");
    }
    assert_eq!(
        media.iter().collect::<BTreeSet<_>>().len(),
        media.len(),
        "media types are distinct"
    );
    for h in t["handoffs"].as_array().expect("handoffs is an array") {
        let (from, to) = (h["from"].as_str().unwrap(), h["to"].as_str().unwrap());
        assert_ne!(from, to);
        assert!(media.contains(&from) && media.contains(&to));
        let at = millis(&h["at"]);
        assert!(start <= at && at <= end);
    }
    for p in t["participants"].as_array().expect("participants is an array") {
        assert!(p["participant_id"].is_string());
        assert!(p["purpose"].is_string() || p["purpose"].is_null());
        for m in strings(&p["media_types"]) {
            assert!(media.contains(&m), "a participant's media is the conversation's");
        }
        assert!(p["user_id"].is_string() || p["user_id"].is_null());
        assert!(p["queue_id"].is_string() || p["queue_id"].is_null());
    }
    let Some(evs) = t.get("events") else {
        return;
    };
    let evs = evs.as_array().expect("events is an array");
    assert_eq!(evs.len() as u64, t["event_count"].as_u64().unwrap());
    assert_eq!(millis(&evs[0]["time"]), start);
    assert_eq!(millis(&evs[evs.len() - 1]["time"]), end);
    let mut last = i64::MIN;
    let mut current: Option<&str> = None;
    let mut handoffs = vec![];
    let mut seen_media: Vec<&str> = vec![];
    for e in evs {
        let o = e.as_object().expect("an event is an object");
        for key in EVENT_KEYS {
            assert!(o.contains_key(key), "event has `{key}`: {e}");
        }
        for key in EVENT_KEYS
            .iter()
            .filter(|k| !["time", "lag_ms", "event_id", "event_type", "source"].contains(k))
        {
            assert!(e[key].is_string() || e[key].is_null(), "{key}: {e}");
        }
        assert!(e["event_id"].is_string() && e["event_type"].is_string() && e["source"].is_string());
        assert!(e["lag_ms"].is_i64() || e["lag_ms"].is_null(), "{e}");
        let time = millis(&e["time"]);
        assert!(time >= last, "events are in time order");
        last = time;
        if let Some(m) = e["media_type"].as_str() {
            if !seen_media.contains(&m) {
                seen_media.push(m);
            }
            if let Some(from) = current.filter(|c| *c != m) {
                handoffs.push(json!({"from": from, "to": m, "at": e["time"]}));
            }
            current = Some(m);
        }
        if let Some(d) = e["direction"].as_str() {
            assert!(d == "inbound" || d == "outbound", "{d}");
        }
        if let Some(d) = e["disconnect_type"].as_str() {
            assert!(
                d.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "disconnect types are lower snake case: {d}"
            );
        }
    }
    assert_eq!(seen_media, media, "media_types in order of first appearance");
    assert_eq!(
        t["handoffs"],
        Value::Array(handoffs),
        "handoffs follow the media changes"
    );
    let ids: BTreeSet<&str> = evs.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), evs.len(), "no event twice");
}

// --- inputs -----------------------------------------------------------------------------------

/// The records of fixtures/events.ndjson.
fn fixture_records() -> Vec<Value> {
    fs::read_to_string(fixtures().join("events.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

fn ndjson(records: &[Value]) -> Vec<u8> {
    records
        .iter()
        .map(|r| compact(r) + "\n")
        .collect::<String>()
        .into_bytes()
}

fn concatenated(records: &[Value]) -> Vec<u8> {
    records.iter().map(compact).collect::<String>().into_bytes()
}

fn pretty_values(records: &[Value]) -> Vec<u8> {
    records
        .iter()
        .map(|r| serde_json::to_string_pretty(r).unwrap() + "\n")
        .collect::<String>()
        .into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn write(path: &Path, data: impl AsRef<[u8]>) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, data).unwrap();
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// A canonical lower-case UUID made from two numbers.
fn uuid(tag: u32, n: u64) -> String {
    format!("{tag:08x}-0000-4000-8000-{n:012x}")
}

/// A detail event envelope like EventBridge delivers them.
fn envelope(id: &str, conversation: &str, kind: &str, ms: i64, media: Option<&str>) -> Value {
    let mut body = json!({
        "eventTime": ms,
        "conversationId": conversation,
        "participantId": uuid(0xba, ms as u64 % 7),
        "sessionId": uuid(0x5e, ms as u64 % 11),
        "direction": "INBOUND",
    });
    if let Some(m) = media {
        body["mediaType"] = json!(m);
    }
    json!({
        "version": "0",
        "id": id,
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{kind}"),
        "source": "aws.partner/genesys.com/cloud/d23b5987-504c-4b3d-a484-bf2e47c76f75/tests",
        "account": "418295710364",
        "time": iso(ms - ms % 1000).replace(".000", ""),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{conversation}.{kind}"),
            "version": "2",
            "eventBody": body,
            "metadata": {"CorrelationId": uuid(0xc0, ms as u64)},
            "timestamp": iso(ms + 37),
        }
    })
}

/// `n` records over `n / 8` conversations (8 events each), delivered in round-robin: within
/// a conversation later deliveries have earlier times and come in tied pairs; many
/// conversations start at the same millisecond; media change along the way; every tenth
/// record is followed by a re-delivery of the one five before it.
fn many_records(n: usize) -> Vec<Value> {
    let conversations = (n / 8).max(1);
    let mut out: Vec<Value> = Vec::with_capacity(n + n / 10);
    for i in 0..n {
        let conv = uuid(0xc0a, (i % conversations) as u64);
        let round = i / conversations;
        let ms = T0 + (7 - round.min(7) as i64) / 2 * 1000 + (i % conversations % 5) as i64;
        let media = ["VOICE", "CALLBACK", "CHAT", "EMAIL"][round % 4];
        let kind = ["acd.start", "user.start", "user.end", "acd.end"][i % 4];
        out.push(envelope(&uuid(0xe7, i as u64), &conv, kind, ms, Some(media)));
        if i % 10 == 9 {
            let again = out[out.len() - 6].clone();
            out.push(again);
        }
    }
    out
}

/// The record a `source` names, read back from the input's (decompressed) bytes. Offsets
/// count a UTF-8 BOM; line 1 starts after it.
#[track_caller]
fn record_at(bytes: &[u8], source: &str) -> Value {
    if let Some((_, offset)) = source.rsplit_once('@') {
        let offset: usize = offset.parse().expect("@offset");
        assert_eq!(bytes[offset], b'{', "{source} points at the start of a record");
        serde_json::Deserializer::from_slice(&bytes[offset..])
            .into_iter::<Value>()
            .next()
            .expect("a record there")
            .expect("valid JSON there")
    } else {
        let (_, line) = source.rsplit_once(':').expect("name:line");
        let line: usize = line.parse().expect(":line");
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(bytes);
        let text = bytes
            .split(|b| *b == b'\n')
            .nth(line - 1)
            .expect("that line exists");
        serde_json::from_slice(text.strip_suffix(b"\r").unwrap_or(text)).expect("valid JSON there")
    }
}

/// Checks that every event's `source` names the record it came from in `bytes`.
#[track_caller]
fn check_sources(ts: &[Value], name: &str, bytes: &[u8]) {
    for t in ts {
        for e in events(t) {
            let source = e["source"].as_str().unwrap();
            assert!(source.starts_with(name), "{source} names {name}");
            let rec = record_at(bytes, source);
            let id = rec.get("id").or_else(|| rec.get("event_id")).unwrap();
            assert_eq!(id, &e["event_id"], "{source} holds this event");
        }
    }
}

/// The `gcorr correlate events.ndjson` timelines, with and without sources.
fn baseline() -> Vec<Value> {
    run(&["correlate", "events.ndjson"]).ok().timelines()
}

fn baseline_of(conversation: &str) -> Value {
    find(&baseline(), conversation).clone()
}

// ---------------------------------------------------------------------------------------------
// The fixture and every framing
// ---------------------------------------------------------------------------------------------

#[test]
fn fixture_events_correlate_cleanly() {
    let r = run(&["correlate", "events.ndjson"]).ok();
    assert!(r.diagnostics().is_empty(), "{}", r.stderr);
    assert_eq!(
        r.summary(),
        Summary {
            inputs: 1,
            records: 54,
            invalid: 0,
            not_conversation: 2,
            filtered: 0,
            duplicates: 3,
            unique: 49,
            conversations: 5,
        }
    );
    let ts = r.timelines();
    let order: Vec<&str> = ts.iter().map(id_of).collect();
    assert_eq!(order, [C, B, D, A, E]);
    let counts: Vec<(u64, u64)> = ts
        .iter()
        .map(|t| {
            (
                t["event_count"].as_u64().unwrap(),
                t["duplicates_dropped"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [(11, 1), (11, 0), (10, 1), (11, 1), (6, 0)]);
    for t in &ts {
        check_contract(t);
    }
    check_sources(
        &ts,
        "events.ndjson:",
        &fs::read(fixtures().join("events.ndjson")).unwrap(),
    );
}

#[test]
fn every_messy_fixture_honours_the_output_contract() {
    for file in [
        "concatenated.json",
        "pretty.json",
        "array.json",
        "flat.ndjson",
        "firehose-gzip",
        "tree",
        "bad-lines.ndjson",
    ] {
        let r = run_in(&messy(), &["correlate", file]);
        assert!(r.code == 0 || r.code == 3, "{file}: {}", r.stderr);
        r.summary();
        let ts = r.timelines();
        assert_eq!(ts.len(), 1, "{file}");
        for t in &ts {
            check_contract(t);
        }
    }
}

/// Checks that `file` in fixtures/messy/ gives `conversation`'s timeline of events.ndjson.
#[track_caller]
fn same_as_fixture(file: &str, conversation: &str, position: &str) -> Vec<Value> {
    let r = run_in(&messy(), &["correlate", file]).ok();
    assert!(r.diagnostics().is_empty(), "{}", r.stderr);
    let ts = r.timelines();
    assert_eq!(
        without_sources(&ts),
        without_sources(&[baseline_of(conversation)]),
        "{file}"
    );
    for s in sources(&ts[0]) {
        assert!(s.starts_with(&format!("{file}{position}")), "{s}");
    }
    ts
}

#[test]
fn concatenated_firehose_records() {
    let ts = same_as_fixture("concatenated.json", B, "@");
    let bytes = fs::read(messy().join("concatenated.json")).unwrap();
    assert!(!bytes.contains(&b'\n'), "the fixture has no separator at all");
    check_sources(&ts, "concatenated.json@", &bytes);
    assert_eq!(sources(&ts[0])[0], "concatenated.json@0");
}

#[test]
fn pretty_printed_values() {
    let ts = same_as_fixture("pretty.json", C, "@");
    check_sources(
        &ts,
        "pretty.json@",
        &fs::read(messy().join("pretty.json")).unwrap(),
    );
}

#[test]
fn top_level_array() {
    let ts = same_as_fixture("array.json", D, "@");
    check_sources(&ts, "array.json@", &fs::read(messy().join("array.json")).unwrap());
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let raw = fs::read(messy().join("firehose-gzip")).unwrap();
    assert_eq!(&raw[..2], [0x1f, 0x8b], "the fixture is gzip");
    let ts = same_as_fixture("firehose-gzip", E, "@");
    // Offsets are in the decompressed stream.
    check_sources(&ts, "firehose-gzip@", &gunzip(&raw));
}

#[test]
fn flat_shape() {
    let r = run_in(&messy(), &["correlate", "flat.ndjson"]).ok();
    assert!(r.diagnostics().is_empty(), "{}", r.stderr);
    let ts = r.timelines();
    // The flat shape has no envelope: no delivery time, no lag.
    let mut baseline = without_sources(&[baseline_of(D)]);
    for e in baseline[0]["events"].as_array_mut().unwrap() {
        e["delivered"] = Value::Null;
        e["lag_ms"] = Value::Null;
    }
    assert_eq!(without_sources(&ts), baseline);
    check_sources(
        &ts,
        "flat.ndjson:",
        &fs::read(messy().join("flat.ndjson")).unwrap(),
    );
}

#[test]
fn conversation_object_topics() {
    let c = baseline_of(C);
    let e = find_event(&c, |e| e["event_type"] == "queue.conversations.calls");
    assert_eq!(e["queue_id"], Q_SUPPORT, "the queue comes from the topic");
    assert_eq!(
        e["time"], "2026-03-02T08:05:52.864Z",
        "no eventTime: detail.timestamp"
    );
    assert_eq!(e["media_type"], Value::Null);
    assert_eq!(e["participant_id"], Value::Null);
    assert_eq!(e["source"], "events.ndjson:6");

    // A user's conversation topic: the conversation is eventBody.id, the user the topic's id.
    let dir = tempdir();
    let user = uuid(0x05e7, 1);
    let conv = uuid(0xc0, 77);
    let record = json!({
        "version": "0", "id": uuid(0xe, 1),
        "detail-type": "v2.users.{id}.conversations.emails",
        "source": "aws.partner/genesys.com/cloud/x/y", "account": "418295710364",
        "time": "2026-03-02T10:00:01Z", "region": "us-east-1", "resources": [],
        "detail": {
            "topicName": format!("v2.users.{user}.conversations.emails"),
            "version": "2",
            "eventBody": {"id": conv, "participants": [{"id": uuid(0xba, 1), "emails": [{"state": "alerting"}]}]},
            "metadata": {"CorrelationId": uuid(0xc0, 1)},
            "timestamp": "2026-03-02T10:00:00.250Z"
        }
    });
    write(&dir.path().join("objects.ndjson"), ndjson(&[record]));
    let ts = run_in(dir.path(), &["correlate", "objects.ndjson"])
        .ok()
        .timelines();
    assert_eq!(ts.len(), 1);
    assert_eq!(id_of(&ts[0]), conv);
    let e = &events(&ts[0])[0];
    assert_eq!(e["event_type"], "user.conversations.emails");
    assert_eq!(e["user_id"], user.as_str());
    assert_eq!(e["time"], "2026-03-02T10:00:00.250Z");
}

#[test]
fn stdin_without_arguments_and_with_dash() {
    let input = fs::read(fixtures().join("events.ndjson")).unwrap();
    let from_file = run(&["correlate", "events.ndjson"]).ok();
    for args in [&["correlate"][..], &["correlate", "-"][..]] {
        let r = run_stdin(&fixtures(), args, input.clone()).ok();
        assert_eq!(r.summary(), from_file.summary(), "{args:?}");
        // Same output, the input named `-`.
        let renamed = String::from_utf8(r.stdout.clone())
            .unwrap()
            .replace("\"-:", "\"events.ndjson:");
        assert_eq!(renamed, from_file.text(), "{args:?}");
    }
}

#[test]
fn gzip_and_other_framings_on_stdin() {
    let records = fixture_records();
    let expected = without_sources(&baseline());
    for (what, input) in [
        ("gzip", gzip(&ndjson(&records))),
        ("concatenated", concatenated(&records)),
        ("pretty", pretty_values(&records)),
    ] {
        let r = run_stdin(&fixtures(), &["correlate", "-"], input).ok();
        let ts = r.timelines();
        assert_eq!(without_sources(&ts), expected, "{what}");
        assert!(sources(&ts[0]).iter().all(|s| s.starts_with('-')), "{what}");
    }
}

#[test]
fn directory_tree_is_read_recursively_in_sorted_order() {
    let r = run_in(&messy(), &["-v", "correlate", "tree"]).ok();
    let s = r.summary();
    assert_eq!((s.inputs, s.records, s.duplicates, s.unique), (3, 12, 1, 11));
    assert!(
        r.diagnostics().is_empty(),
        "the hidden in-flight file is not read:\n{}",
        r.stderr
    );
    let ts = r.timelines();
    assert_eq!(without_sources(&ts), without_sources(&[baseline_of(A)]));
    // Hour 08 before hour 09: the first customer.start (08, concatenated) is the one kept, not
    // its re-delivery in 09.
    let first = &events(&ts[0])[0];
    assert_eq!(first["event_type"], "customer.start");
    assert!(
        first["source"]
            .as_str()
            .unwrap()
            .starts_with("tree/2026/03/02/08/"),
        "{first}"
    );
    assert!(first["source"].as_str().unwrap().ends_with("@0"));
    let names: Vec<&str> = per_input_counts(&r).into_iter().map(|(name, _)| name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "inputs in sorted order");
    assert_eq!(names.len(), 3);
    assert!(names[2].starts_with("tree/2026/03/02/09/gcorr-stream-"));
}

#[test]
fn walked_directories_are_sorted_and_skip_hidden_entries() {
    let dir = tempdir();
    let root = dir.path().join("dump");
    let conv = uuid(0xc0, 1);
    // Every file holds one event at the same millisecond: their order in the timeline is the
    // order the files were read in.
    let names = [
        "b.json",
        "a10/x.json",
        "a9.json",
        "a/z/y.json",
        "a/b.json",
        "B.json",
    ];
    for (i, name) in names.iter().enumerate() {
        let rec = envelope(&uuid(0xe, i as u64), &conv, "acd.start", T0, Some("VOICE"));
        write(&root.join(name), ndjson(&[rec]));
    }
    write(&root.join(".hidden.json"), b"not json at all\n");
    write(&root.join(".git/objects/x.json"), b"not json at all\n");
    write(&root.join("a/.tmp/part.json"), b"{\"truncated\":");
    let r = run_in(dir.path(), &["correlate", "dump"]).ok();
    assert_eq!(r.summary().inputs, names.len() as u64);
    let ts = r.timelines();
    let got: Vec<&str> = sources(&ts[0])
        .iter()
        .map(|s| s.split_once(':').unwrap().0)
        .collect();
    let mut expected: Vec<PathBuf> = names.iter().map(|n| Path::new("dump").join(n)).collect();
    expected.sort();
    let expected: Vec<String> = expected.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(got, expected);

    // A hidden file named on the command line is read.
    let hidden = root.join(".hidden-but-named.json");
    write(
        &hidden,
        ndjson(&[envelope(&uuid(0xe, 99), &conv, "acd.end", T0 + 1, Some("VOICE"))]),
    );
    let r = run_in(dir.path(), &["correlate", "dump/.hidden-but-named.json"]).ok();
    assert_eq!(r.summary().unique, 1);
}

#[cfg(unix)]
#[test]
fn symlinked_directories_are_not_followed_but_symlinked_files_are_read() {
    let dir = tempdir();
    let conv = uuid(0xc0, 2);
    write(
        &dir.path().join("elsewhere/e.json"),
        ndjson(&[envelope(&uuid(0xe, 1), &conv, "acd.start", T0, Some("VOICE"))]),
    );
    write(
        &dir.path().join("other/f.json"),
        ndjson(&[envelope(&uuid(0xe, 2), &conv, "acd.end", T0 + 5, Some("VOICE"))]),
    );
    fs::create_dir_all(dir.path().join("dump")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("dump/linked-dir")).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("other/f.json"),
        dir.path().join("dump/linked.json"),
    )
    .unwrap();
    let r = run_in(dir.path(), &["correlate", "dump"]).ok();
    let ts = r.timelines();
    assert_eq!(event_ids(&ts[0]), [uuid(0xe, 2)]);
    assert_eq!(sources(&ts[0]), ["dump/linked.json:1"]);
}

#[test]
fn several_inputs_at_once() {
    let r = run_in(
        &messy(),
        &[
            "correlate",
            "concatenated.json",
            "pretty.json",
            "array.json",
            "firehose-gzip",
            "tree",
        ],
    )
    .ok();
    let s = r.summary();
    assert_eq!(s.inputs, 7, "4 files and the 3 of the tree");
    assert_eq!(
        (s.duplicates, s.unique, s.conversations, s.invalid),
        (3, 49, 5, 0)
    );
    assert_eq!(without_sources(&r.timelines()), without_sources(&baseline()));
}

#[test]
fn utf8_bom_is_ignored() {
    let dir = tempdir();
    let records = fixture_records();
    let expected = without_sources(&baseline());
    for (name, body) in [
        ("bom.ndjson", ndjson(&records)),
        ("bom.json", concatenated(&records)),
        ("bom-array.json", serde_json::to_vec_pretty(&records).unwrap()),
    ] {
        let bytes = [b"\xEF\xBB\xBF".as_slice(), &body].concat();
        write(&dir.path().join(name), &bytes);
        let r = run_in(dir.path(), &["correlate", name]).ok();
        assert!(r.diagnostics().is_empty(), "{name}: {}", r.stderr);
        let ts = r.timelines();
        assert_eq!(without_sources(&ts), expected, "{name}");
        check_sources(&ts, name, &bytes);
    }
    // Through gzip too.
    let bytes = gzip(&[b"\xEF\xBB\xBF".as_slice(), &ndjson(&records)].concat());
    let r = run_stdin(dir.path(), &["correlate"], bytes).ok();
    assert_eq!(without_sources(&r.timelines()), expected);
}

#[test]
fn same_events_in_every_framing_give_the_same_timelines() {
    let dir = tempdir();
    let records = fixture_records();
    let base = run(&["correlate", "events.ndjson"]).ok();
    let expected = without_sources(&base.timelines());
    let lines = ndjson(&records);
    let half = records.len() / 2;
    let framings: Vec<(&str, Vec<u8>)> = vec![
        (
            "crlf.ndjson",
            String::from_utf8(lines.clone())
                .unwrap()
                .replace('\n', "\r\n")
                .into_bytes(),
        ),
        (
            "blank-lines.ndjson",
            [
                b"\n\n".as_slice(),
                &String::from_utf8(lines.clone())
                    .unwrap()
                    .replace('\n', "\n  \n")
                    .into_bytes(),
            ]
            .concat(),
        ),
        ("no-final-newline.ndjson", lines[..lines.len() - 1].to_vec()),
        ("concatenated", concatenated(&records)),
        (
            "concatenated-spaced",
            records
                .iter()
                .map(|r| compact(r) + " \t")
                .collect::<String>()
                .into_bytes(),
        ),
        ("pretty", pretty_values(&records)),
        (
            "pretty-no-newline",
            records
                .iter()
                .map(|r| serde_json::to_string_pretty(r).unwrap())
                .collect::<String>()
                .into_bytes(),
        ),
        ("array-pretty", serde_json::to_vec_pretty(&records).unwrap()),
        ("array-one-line", serde_json::to_vec(&records).unwrap()),
        (
            "two-arrays",
            [
                serde_json::to_vec(&records[..half]).unwrap(),
                serde_json::to_vec(&records[half..]).unwrap(),
            ]
            .concat(),
        ),
        ("gzip-ndjson", gzip(&lines)),
        ("gzip-concatenated", gzip(&concatenated(&records))),
        ("gzip-array", gzip(&serde_json::to_vec_pretty(&records).unwrap())),
        (
            "gzip-two-members",
            [gzip(&ndjson(&records[..half])), gzip(&ndjson(&records[half..]))].concat(),
        ),
    ];
    for (name, bytes) in &framings {
        write(&dir.path().join(name), bytes);
        let r = run_in(dir.path(), &["correlate", name]).ok();
        assert!(r.diagnostics().is_empty(), "{name}: {}", r.stderr);
        let s = r.summary();
        assert_eq!(s.records, 54, "{name}");
        assert_eq!((s.unique, s.duplicates, s.not_conversation), (49, 3, 2), "{name}");
        let ts = r.timelines();
        assert_eq!(without_sources(&ts), expected, "{name}");
        let plain = if name.starts_with("gzip") {
            gunzip(bytes)
        } else {
            bytes.clone()
        };
        check_sources(&ts, name, &plain);
    }
}

#[test]
fn empty_inputs() {
    let dir = tempdir();
    write(&dir.path().join("empty.ndjson"), b"");
    write(&dir.path().join("blank.ndjson"), b"\n \r\n\t\n");
    write(&dir.path().join("empty.gz"), gzip(b""));
    for name in ["empty.ndjson", "blank.ndjson", "empty.gz"] {
        let r = run_in(dir.path(), &["correlate", name]).ok();
        assert!(r.stdout.is_empty(), "{name}");
        assert_eq!(r.summary().records, 0, "{name}");
        let r = run_in(dir.path(), &["correlate", name, "-f", "json"]).ok();
        assert_eq!(r.json(), json!([]));
    }
    let r = run_stdin(dir.path(), &["correlate"], "").ok();
    assert!(r.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Duplicates
// ---------------------------------------------------------------------------------------------

/// The conversation of a fixture record: `eventBody.conversationId` on detail topics,
/// `eventBody.id` on conversation-object topics, none otherwise.
fn conversation_of(r: &Value) -> Option<&str> {
    let body = &r["detail"]["eventBody"];
    let topic = r["detail"]["topicName"].as_str().unwrap_or_default();
    if topic.starts_with("v2.detail.events.conversation.") {
        body["conversationId"].as_str()
    } else if topic.contains(".conversations") {
        body["id"].as_str()
    } else {
        None
    }
}

/// Where each event id first appears in line-framed `files` (`name:line`), and how many times
/// each conversation's records appear beyond their first.
fn first_positions(files: &[(&str, &[Value])]) -> (HashMap<String, String>, HashMap<String, u64>) {
    let mut first = HashMap::new();
    let mut extra = HashMap::new();
    for (name, records) in files {
        for (i, r) in records.iter().enumerate() {
            let Some(conv) = conversation_of(r) else {
                continue;
            };
            let id = r["id"].as_str().unwrap().to_owned();
            match first.entry(id) {
                Entry::Occupied(_) => *extra.entry(conv.to_owned()).or_default() += 1,
                Entry::Vacant(v) => {
                    v.insert(format!("{name}:{}", i + 1));
                }
            }
        }
    }
    (first, extra)
}

#[test]
fn duplicates_near_and_far_keep_the_first_occurrence() {
    let ts = baseline();
    let records = fixture_records();
    let (first, extra) = first_positions(&[("events.ndjson", &records)]);
    for t in &ts {
        for e in events(t) {
            assert_eq!(e["source"], first[e["event_id"].as_str().unwrap()].as_str());
        }
        assert_eq!(
            t["duplicates_dropped"].as_u64().unwrap(),
            extra.get(id_of(t)).copied().unwrap_or(0),
            "{}",
            id_of(t)
        );
    }
    // The three re-deliveries of the README: adjacent (line 4 of line 3), far (44 of 30, 51 of 31).
    let c = find(&ts, C);
    assert_eq!(
        find_event(c, |e| e["event_type"] == "acd.end")["source"],
        "events.ndjson:3"
    );
    let d = find(&ts, D);
    assert_eq!(
        find_event(d, |e| e["event_type"] == "user.start")["source"],
        "events.ndjson:30"
    );
    let a = find(&ts, A);
    assert_eq!(
        find_event(a, |e| e["event_type"] == "customer.start")["source"],
        "events.ndjson:31"
    );
}

#[test]
fn duplicates_across_files_keep_the_first_file() {
    let dir = tempdir();
    let records = fixture_records();
    let (part1, part2) = (&records[..30], &records[19..]);
    write(&dir.path().join("part1.ndjson"), ndjson(part1));
    write(&dir.path().join("part2.ndjson"), ndjson(part2));
    let r = run_in(dir.path(), &["correlate", "part1.ndjson", "part2.ndjson"]).ok();
    let s = r.summary();
    assert_eq!(s.records, 30 + 35);
    assert_eq!(s.unique, 49);
    let ts = r.timelines();
    assert_eq!(
        without_sources(&ts)
            .iter()
            .map(|t| {
                let mut t = t.clone();
                t.as_object_mut().unwrap().remove("duplicates_dropped");
                t.as_object_mut().unwrap().remove("flags");
                t
            })
            .collect::<Vec<_>>(),
        without_sources(&baseline())
            .iter()
            .map(|t| {
                let mut t = t.clone();
                t.as_object_mut().unwrap().remove("duplicates_dropped");
                t.as_object_mut().unwrap().remove("flags");
                t
            })
            .collect::<Vec<_>>()
    );
    let (first, extra) = first_positions(&[("part1.ndjson", part1), ("part2.ndjson", part2)]);
    let mut total = 0;
    for t in &ts {
        for e in events(t) {
            assert_eq!(e["source"], first[e["event_id"].as_str().unwrap()].as_str());
        }
        let dups = extra.get(id_of(t)).copied().unwrap_or(0);
        assert_eq!(t["duplicates_dropped"].as_u64().unwrap(), dups);
        total += dups;
    }
    assert_eq!(s.duplicates, total);

    // A copy of a file: everything in it is a duplicate.
    fs::copy(dir.path().join("part1.ndjson"), dir.path().join("copy.ndjson")).unwrap();
    let r = run_in(dir.path(), &["correlate", "part1.ndjson", "copy.ndjson"]).ok();
    let once = run_in(dir.path(), &["correlate", "part1.ndjson"]).ok();
    let (s2, s1) = (r.summary(), once.summary());
    assert_eq!(s2.unique, s1.unique);
    assert_eq!(s2.duplicates, s1.duplicates + s1.unique + s1.duplicates);
    for (t2, t1) in r.timelines().iter().zip(&once.timelines()) {
        assert_eq!(events(t2), events(t1), "same events, sources in the first copy");
        assert_eq!(
            t2["duplicates_dropped"].as_u64().unwrap(),
            2 * t1["duplicates_dropped"].as_u64().unwrap() + t1["event_count"].as_u64().unwrap()
        );
    }
}

#[test]
fn dedup_content_drops_a_resend_under_a_new_id() {
    let dir = tempdir();
    let conv = uuid(0xc0, 5);
    let original = envelope(&uuid(0xe, 1), &conv, "acd.start", T0, Some("VOICE"));
    let other = envelope(&uuid(0xe, 2), &conv, "acd.end", T0 + 10, Some("VOICE"));
    // Genesys re-sends after an outage: a new envelope (id, time) around the same detail.
    let mut resend = original.clone();
    resend["id"] = json!(uuid(0xe, 3));
    resend["time"] = json!("2026-03-05T11:00:00Z");
    // A different detail under a new id is a different event.
    let mut changed = original.clone();
    changed["id"] = json!(uuid(0xe, 4));
    changed["detail"]["eventBody"]["eventTime"] = json!(T0 + 1);
    let records = [original, other, resend, changed.clone(), changed];
    write(&dir.path().join("resend.ndjson"), ndjson(&records));

    let by_id = run_in(dir.path(), &["correlate", "resend.ndjson"]).ok();
    let t = &by_id.timelines()[0];
    // The re-send ties with the original (same eventTime): input order.
    assert_eq!(
        event_ids(t),
        [uuid(0xe, 1), uuid(0xe, 3), uuid(0xe, 4), uuid(0xe, 2)]
    );
    assert_eq!(t["duplicates_dropped"], 1);

    for args in [
        &["correlate", "resend.ndjson", "--dedup", "content"][..],
        &["correlate", "--dedup=content", "resend.ndjson", "--threads", "1"][..],
    ] {
        let r = run_in(dir.path(), args).ok();
        let s = r.summary();
        assert_eq!((s.unique, s.duplicates), (3, 2));
        let t = &r.timelines()[0];
        assert_eq!(event_ids(t), [uuid(0xe, 1), uuid(0xe, 4), uuid(0xe, 2)]);
        assert_eq!(t["duplicates_dropped"], 2);
        assert_eq!(
            sources(t),
            ["resend.ndjson:1", "resend.ndjson:4", "resend.ndjson:2"]
        );
    }
    // On the fixture, content dedup finds nothing more than the ids did.
    let r = run(&["correlate", "events.ndjson", "--dedup", "content"]).ok();
    assert_eq!(r.stdout, run(&["correlate", "events.ndjson"]).stdout);
}

// ---------------------------------------------------------------------------------------------
// Ordering and determinism
// ---------------------------------------------------------------------------------------------

#[test]
fn events_are_sorted_by_time_and_ties_keep_input_order() {
    let ts = baseline();
    for t in &ts {
        let evs = events(t);
        for w in evs.windows(2) {
            let (t0, t1) = (millis(&w[0]["time"]), millis(&w[1]["time"]));
            assert!(t0 <= t1);
            if t0 == t1 {
                let line = |e: &Value| -> u64 {
                    e["source"]
                        .as_str()
                        .unwrap()
                        .rsplit_once(':')
                        .unwrap()
                        .1
                        .parse()
                        .unwrap()
                };
                assert!(
                    line(&w[0]) < line(&w[1]),
                    "a tie keeps input order: {} {}",
                    w[0],
                    w[1]
                );
            }
        }
    }
    // The README's ties.
    let a = find(&ts, A);
    let kinds: Vec<&str> = events(a)
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "customer.start",
            "flow.start",
            "flow.end",
            "acd.start",
            "acd.end",
            "customer.end",
            "acd.start",
            "acd.end",
            "user.start",
            "user.end",
            "acw"
        ]
    );
    let d = find(&ts, D);
    let tied: Vec<&str> = events(d)
        .iter()
        .filter(|e| e["time"] == "2026-03-02T08:59:15.004Z")
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(tied, ["user.end", "customer.end"]);
}

#[test]
fn ties_across_files_follow_command_line_order() {
    let dir = tempdir();
    let conv = uuid(0xc0, 9);
    let x = envelope(&uuid(0xe, 1), &conv, "acd.end", T0, Some("VOICE"));
    let y = envelope(&uuid(0xe, 2), &conv, "user.start", T0, Some("VOICE"));
    let z = envelope(&uuid(0xe, 3), &conv, "user.end", T0, Some("VOICE"));
    write(&dir.path().join("x.ndjson"), ndjson(&[x]));
    write(&dir.path().join("yz.json"), concatenated(&[z, y]));
    let order = |args: &[&str]| -> Vec<String> {
        let ts = run_in(dir.path(), args).ok().timelines();
        event_ids(&ts[0]).into_iter().map(str::to_owned).collect()
    };
    assert_eq!(
        order(&["correlate", "x.ndjson", "yz.json"]),
        [uuid(0xe, 1), uuid(0xe, 3), uuid(0xe, 2)]
    );
    assert_eq!(
        order(&["correlate", "yz.json", "x.ndjson"]),
        [uuid(0xe, 3), uuid(0xe, 2), uuid(0xe, 1)]
    );
}

#[test]
fn timelines_are_ordered_by_start_then_conversation_id() {
    let dir = tempdir();
    let ids = [
        "00000000-0000-4000-8000-000000000002",
        "conv-b",
        "00000000-0000-4000-8000-000000000001",
        "Conv-Z",
        "conv-a",
        "ffffffff-0000-4000-8000-000000000000",
    ];
    let mut records = vec![];
    for (i, id) in ids.iter().enumerate() {
        // All start at T0 except the last, which starts earlier despite the largest id.
        let start = if i == ids.len() - 1 { T0 - 1 } else { T0 };
        records.push(envelope(
            &uuid(0xe, i as u64),
            id,
            "acd.start",
            start + 5,
            Some("CHAT"),
        ));
        records.push(envelope(
            &uuid(0xf, i as u64),
            id,
            "customer.start",
            start,
            Some("CHAT"),
        ));
    }
    write(&dir.path().join("same-start.ndjson"), ndjson(&records));
    let ts = run_in(dir.path(), &["correlate", "same-start.ndjson"])
        .ok()
        .timelines();
    let got: Vec<&str> = ts.iter().map(id_of).collect();
    let mut rest: Vec<&str> = ids[..ids.len() - 1].to_vec();
    rest.sort();
    let mut expected = vec![ids[ids.len() - 1]];
    expected.extend(rest);
    assert_eq!(got, expected);
}

#[test]
fn output_is_deterministic_and_independent_of_threads() {
    let dir = tempdir();
    // Over 1 MiB, so the input is read in several batches that parser threads can reorder.
    let records = many_records(3000);
    let bytes = ndjson(&records);
    assert!(bytes.len() > 2 << 20, "{} bytes", bytes.len());
    write(&dir.path().join("many.ndjson"), &bytes);
    write(&dir.path().join("many.json"), concatenated(&records[..1500]));
    let inputs = ["many.ndjson", "many.json"];
    let go = |extra: &[&str]| -> Vec<u8> {
        let mut args = vec!["correlate"];
        args.extend(inputs);
        args.extend(extra);
        run_in(dir.path(), &args).ok().stdout
    };
    let first = go(&[]);
    assert_eq!(go(&[]), first, "two runs, same bytes");
    assert_eq!(go(&["--threads", "1"]), first, "--threads 1");
    assert_eq!(go(&["--threads", "2"]), first, "--threads 2");
    assert_eq!(
        go(&["--threads", "7", "-f", "csv"]),
        go(&["--threads", "1", "-f", "csv"])
    );
    let r = run_in(
        dir.path(),
        &["correlate", "many.ndjson", "many.json", "--threads", "3"],
    )
    .ok();
    let ts = r.timelines();
    assert_eq!(ts.len(), 375);
    for t in &ts {
        check_contract(t);
    }
    let (firsts, _) = first_positions(&[("many.ndjson", &records)]);
    for t in &ts {
        for e in events(t) {
            assert_eq!(e["source"], firsts[e["event_id"].as_str().unwrap()].as_str());
        }
    }
    for w in ts.windows(2) {
        let a = (millis(&w[0]["start"]), id_of(&w[0]));
        let b = (millis(&w[1]["start"]), id_of(&w[1]));
        assert!(a < b, "timelines by start, then id");
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_lines_are_reported_with_file_and_line() {
    let r = run_in(&messy(), &["correlate", "bad-lines.ndjson"]).code(3);
    let diags = r.diagnostics();
    let expected = [
        ("bad-lines.ndjson:3: ", "JSON"),
        ("bad-lines.ndjson:5: ", "truncated"),
        ("bad-lines.ndjson:7: ", "conversation id"),
        ("bad-lines.ndjson:9: ", "event id"),
        ("bad-lines.ndjson:11: ", "eventTime"),
        ("bad-lines.ndjson:12: ", "JSON"),
    ];
    assert_eq!(diags.len(), expected.len(), "{}", r.stderr);
    for (line, (prefix, says)) in diags.iter().zip(expected) {
        assert!(line.starts_with(prefix), "{line} starts with {prefix}");
        assert!(line.contains(says), "{line} says {says}");
    }
    assert_eq!(
        r.summary(),
        Summary {
            inputs: 1,
            records: 12,
            invalid: 6,
            not_conversation: 0,
            filtered: 0,
            duplicates: 0,
            unique: 6,
            conversations: 1,
        }
    );
    let ts = r.timelines();
    assert_eq!(without_sources(&ts), without_sources(&[baseline_of(E)]));
    let lines: Vec<&str> = sources(&ts[0])
        .iter()
        .map(|s| s.rsplit_once(':').unwrap().1)
        .collect();
    // customer.end (line 13) comes 6 ms before voicemail.end (line 10).
    assert_eq!(lines, ["1", "2", "4", "6", "13", "10"]);

    // Invalid records and filters together: the counts still add up.
    let r = run_in(
        &messy(),
        &[
            "correlate",
            "bad-lines.ndjson",
            "../events.ndjson",
            "--since",
            "2026-03-02T09:00:00Z",
        ],
    )
    .code(3);
    let s = r.summary();
    assert_eq!((s.records, s.invalid, s.not_conversation), (66, 6, 2));
    assert!(s.filtered > 0 && s.duplicates > 0);
}

#[test]
fn non_line_framings_report_byte_offsets() {
    let dir = tempdir();
    let conv = uuid(0xc0, 3);
    let good: Vec<String> = (0..3)
        .map(|i| {
            compact(&envelope(
                &uuid(0xe, i),
                &conv,
                "acd.start",
                T0 + i as i64,
                Some("EMAIL"),
            ))
        })
        .collect();
    let garbage = "<html>503 Service Unavailable</html>";
    let cut = &good[1][..good[1].len() / 2];
    // good0 garbage good1 good2 cut(end of file)
    let text = format!("{}{garbage}{}{}{cut}", good[0], good[1], good[2]);
    write(&dir.path().join("firehose.json"), &text);
    let r = run_in(dir.path(), &["correlate", "firehose.json"]).code(3);
    let diags = r.diagnostics();
    assert_eq!(diags.len(), 2, "{}", r.stderr);
    let garbage_at = good[0].len();
    let cut_at = good[0].len() + garbage.len() + good[1].len() + good[2].len();
    assert!(
        diags[0].starts_with(&format!("firehose.json@{garbage_at}: ")),
        "{}",
        diags[0]
    );
    assert!(
        diags[1].starts_with(&format!("firehose.json@{cut_at}: ")),
        "{}",
        diags[1]
    );
    assert!(diags[1].contains("truncated"), "{}", diags[1]);
    let ts = r.timelines();
    assert_eq!(event_ids(&ts[0]), [uuid(0xe, 0), uuid(0xe, 1), uuid(0xe, 2)]);
    check_sources(&ts, "firehose.json@", text.as_bytes());
    let s = r.summary();
    assert_eq!((s.records, s.invalid, s.unique), (5, 2, 3));
}

#[test]
fn at_most_twenty_invalid_records_are_shown() {
    let dir = tempdir();
    let conv = uuid(0xc0, 4);
    let mut text = compact(&envelope(&uuid(0xe, 1), &conv, "acd.start", T0, Some("VOICE"))) + "\n";
    for i in 0..30 {
        text += &format!("not json #{i}\n");
    }
    text += &(compact(&envelope(&uuid(0xe, 2), &conv, "acd.end", T0 + 1, Some("VOICE"))) + "\n");
    write(&dir.path().join("many-bad.ndjson"), &text);
    let r = run_in(dir.path(), &["correlate", "many-bad.ndjson"]).code(3);
    let diags = r.diagnostics();
    assert_eq!(diags.len(), 20, "{}", r.stderr);
    for (i, d) in diags.iter().enumerate() {
        assert!(d.starts_with(&format!("many-bad.ndjson:{}: ", i + 2)), "{d}");
    }
    let more: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("more invalid records not shown"))
        .collect();
    assert_eq!(more, ["gcorr: 10 more invalid records not shown"]);
    let s = r.summary();
    assert_eq!((s.records, s.invalid, s.unique), (32, 30, 2));
    assert_eq!(r.timelines()[0]["event_count"], 2);

    // -q: no invalid-record lines at all, still exit 3.
    let r = run_in(dir.path(), &["-q", "correlate", "many-bad.ndjson"]).code(3);
    assert_eq!(r.stderr, "");
    assert_eq!(r.timelines()[0]["event_count"], 2);
}

#[test]
fn strict_fails_and_writes_nothing() {
    let r = run_in(&messy(), &["correlate", "--strict", "bad-lines.ndjson"]).code(1);
    assert!(r.stdout.is_empty(), "nothing on stdout");
    assert!(r.stderr.contains("bad-lines.ndjson:3"), "{}", r.stderr);

    let dir = tempdir();
    let bad = messy().join("bad-lines.ndjson");
    let out = dir.path().join("out.ndjson");
    let r = run_in(
        dir.path(),
        &["correlate", "--strict", bad.to_str().unwrap(), "-o", "out.ndjson"],
    )
    .code(1);
    assert!(r.stdout.is_empty());
    assert!(!out.exists(), "no -o file");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file left"
    );

    // An existing output file is left as it was.
    write(&out, "previous run\n");
    run_in(
        dir.path(),
        &["correlate", "--strict", bad.to_str().unwrap(), "-o", "out.ndjson"],
    )
    .code(1);
    assert_eq!(fs::read_to_string(&out).unwrap(), "previous run\n");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

    // --strict on a clean input changes nothing.
    let r = run(&["correlate", "--strict", "events.ndjson"]).ok();
    assert_eq!(r.stdout, run(&["correlate", "events.ndjson"]).stdout);
}

#[test]
fn strict_stops_early_on_a_large_input() {
    // Many batches in flight when the invalid record is met: the reader and the parser
    // threads must be stopped, not left waiting for a consumer that has gone.
    let dir = tempdir();
    let records = many_records(20_000);
    let mut bytes = ndjson(&records[..1]);
    bytes.extend_from_slice(b"not json\n");
    bytes.extend(ndjson(&records[1..]));
    write(&dir.path().join("big.ndjson"), &bytes);
    let r = finish(
        command(dir.path(), &["correlate", "--strict", "big.ndjson"]).timeout(Duration::from_secs(20)),
    )
    .code(1);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("big.ndjson:2"), "{}", r.stderr);
}

#[test]
fn a_record_over_16_mib_is_skipped() {
    let dir = tempdir();
    let conv = uuid(0xc0, 6);
    let small: Vec<String> = (0..3)
        .map(|i| {
            compact(&envelope(
                &uuid(0xe, i),
                &conv,
                "acd.start",
                T0 + i as i64,
                Some("VOICE"),
            ))
        })
        .collect();
    let mut huge = envelope(&uuid(0xe, 99), &conv, "acd.end", T0 + 50, Some("VOICE"));
    huge["detail"]["eventBody"]["transcript"] = json!("x".repeat((16 << 20) + 100));
    let huge = compact(&huge);

    let lines = format!("{}\n{huge}\n{}\n{}\n", small[0], small[1], small[2]);
    write(&dir.path().join("huge.ndjson"), &lines);
    let r = run_in(dir.path(), &["correlate", "huge.ndjson"]).code(3);
    let diags = r.diagnostics();
    assert_eq!(diags.len(), 1, "{}", r.stderr);
    assert!(diags[0].starts_with("huge.ndjson:2: "), "{}", diags[0]);
    assert!(diags[0].contains("16 MiB"), "{}", diags[0]);
    let ts = r.timelines();
    assert_eq!(event_ids(&ts[0]), [uuid(0xe, 0), uuid(0xe, 1), uuid(0xe, 2)]);
    assert_eq!(
        sources(&ts[0]),
        ["huge.ndjson:1", "huge.ndjson:3", "huge.ndjson:4"]
    );

    let values = format!("{}{huge}{}{}", small[0], small[1], small[2]);
    write(&dir.path().join("huge.json"), &values);
    let r = run_in(dir.path(), &["correlate", "huge.json"]).code(3);
    let diags = r.diagnostics();
    assert_eq!(diags.len(), 1, "{}", r.stderr);
    assert!(
        diags[0].starts_with(&format!("huge.json@{}: ", small[0].len())),
        "{}",
        diags[0]
    );
    let ts = r.timelines();
    assert_eq!(event_ids(&ts[0]), [uuid(0xe, 0), uuid(0xe, 1), uuid(0xe, 2)]);
    check_sources(&ts, "huge.json@", values.as_bytes());
    let s = r.summary();
    assert_eq!((s.records, s.invalid, s.unique), (4, 1, 3));
}

#[test]
fn a_truncated_gzip_keeps_the_records_before_the_cut() {
    let dir = tempdir();
    let records = many_records(300);
    let full = gzip(&ndjson(&records));
    let cut = &full[..full.len() / 2];
    write(&dir.path().join("cut.ndjson"), cut);
    // What a decoder can still get out of the cut file.
    let mut prefix = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(cut);
    let mut buf = [0u8; 8192];
    loop {
        match dec.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => prefix.extend_from_slice(&buf[..n]),
        }
    }
    let complete = prefix.iter().filter(|b| **b == b'\n').count();
    assert!(complete > 10 && complete < records.len(), "{complete}");

    let r = run_in(dir.path(), &["correlate", "cut.ndjson"]).code(3);
    let diags = r.diagnostics();
    assert!((1..=2).contains(&diags.len()), "{}", r.stderr);
    assert!(
        diags.iter().any(|d| d.starts_with("cut.ndjson@")),
        "the read error, at an offset: {}",
        r.stderr
    );
    let s = r.summary();
    assert_eq!(
        s.records - s.invalid,
        complete as u64,
        "every complete record is read"
    );
    let kept: BTreeSet<String> = r
        .timelines()
        .iter()
        .flat_map(|t| event_ids(t).into_iter().map(str::to_owned))
        .collect();
    let expected: BTreeSet<String> = records[..complete]
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kept, expected);
}

#[test]
fn a_broken_first_line_does_not_lose_the_valid_lines_after_it() {
    // A dump whose first record was cut (a partial copy, a failed upload) is still line
    // framed: every following line is its own record.
    let dir = tempdir();
    let records = fixture_records();
    let first = compact(&records[0]);
    let text = format!(
        "{}\n{}",
        &first[..first.len() / 2],
        String::from_utf8(ndjson(&records[1..6])).unwrap()
    );
    write(&dir.path().join("cut-first.ndjson"), &text);
    let r = run_in(dir.path(), &["correlate", "cut-first.ndjson"]).code(3);
    let diags = r.diagnostics();
    assert_eq!(diags.len(), 1, "{}", r.stderr);
    assert!(diags[0].starts_with("cut-first.ndjson:1: "), "{}", diags[0]);
    let s = r.summary();
    assert_eq!((s.records, s.invalid, s.unique, s.duplicates), (6, 1, 4, 1));
    let ts = r.timelines();
    assert_eq!(
        sources(&ts[0]),
        [
            "cut-first.ndjson:2",
            "cut-first.ndjson:3",
            "cut-first.ndjson:5",
            "cut-first.ndjson:6"
        ]
    );
}

#[test]
fn a_non_json_first_line_keeps_line_numbers() {
    let dir = tempdir();
    let records = fixture_records();
    let text = format!(
        "ERROR firehose delivery retry 3/5\n{}",
        String::from_utf8(ndjson(&records[..3])).unwrap()
    );
    write(&dir.path().join("log-first.ndjson"), &text);
    let r = run_in(dir.path(), &["correlate", "log-first.ndjson"]).code(3);
    let diags = r.diagnostics();
    assert_eq!(diags.len(), 1, "{}", r.stderr);
    assert!(diags[0].starts_with("log-first.ndjson:1: "), "{}", diags[0]);
    let ts = r.timelines();
    assert_eq!(
        sources(&ts[0]),
        ["log-first.ndjson:2", "log-first.ndjson:3", "log-first.ndjson:4"]
    );
}

#[test]
fn a_record_cut_inside_a_string_does_not_swallow_the_next_objects() {
    // Two Firehose objects piped in one stream (`cat part-1 part-2 | gcorr correlate`); the
    // first object's last record was cut in the middle of a string.
    let records = fixture_records();
    let (part1, part2) = (&records[..5], &records[5..16]);
    let mut first = concatenated(part1);
    let last = compact(&records[4]);
    let within = last.find("v2.detail.events").unwrap() + 10;
    first.truncate(first.len() - last.len() + within);
    let input = [first, concatenated(part2)].concat();
    let r = run_stdin(&fixtures(), &["correlate"], input).code(3);
    let s = r.summary();
    assert!(s.invalid >= 1, "the cut record is reported: {}", r.stderr);
    let kept: BTreeSet<String> = r
        .timelines()
        .iter()
        .flat_map(|t| event_ids(t).into_iter().map(str::to_owned))
        .collect();
    let expected: BTreeSet<String> = records[..4]
        .iter()
        .chain(part2)
        .filter(|r| conversation_of(r).is_some())
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kept, expected,
        "every record before the cut and every record of part 2: {s:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

/// The baseline's event ids per conversation (in order) that `keep` keeps.
fn expected_ids(keep: impl Fn(&Value) -> bool) -> Vec<(String, Vec<String>)> {
    baseline()
        .iter()
        .map(|t| {
            let ids = events(t)
                .iter()
                .filter(|e| keep(e))
                .map(|e| e["event_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>();
            (id_of(t).to_owned(), ids)
        })
        .filter(|(_, ids)| !ids.is_empty())
        .collect()
}

fn got_ids(r: &Run) -> Vec<(String, Vec<String>)> {
    let mut got: Vec<(String, Vec<String>)> = r
        .timelines()
        .iter()
        .map(|t| {
            (
                id_of(t).to_owned(),
                event_ids(t).into_iter().map(str::to_owned).collect(),
            )
        })
        .collect();
    // Compare as sets of conversations: a filter can change which one starts first.
    got.sort();
    got
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn clip_keeps_only_the_events_in_a_time_window() {
    let since = millis(&json!("2026-03-02T08:31:00.000Z"));
    let until = millis(&json!("2026-03-02T09:05:37.016Z")); // A's tied acd.end/user.start
    let r = run(&[
        "correlate",
        "events.ndjson",
        "--since",
        "2026-03-02T08:31:00Z",
        "--until",
        "2026-03-02T09:05:37.016Z",
        "--clip",
    ])
    .ok();
    let expected = expected_ids(|e| {
        let t = millis(&e["time"]);
        since <= t && t < until
    });
    assert_eq!(got_ids(&r), sorted(expected.clone()));
    let s = r.summary();
    let kept: usize = expected.iter().map(|(_, ids)| ids.len()).sum();
    assert_eq!(s.unique as usize, kept);
    assert!(s.filtered > 0);
    for t in r.timelines() {
        check_contract(&t);
        assert!(millis(&t["start"]) >= since && millis(&t["end"]) < until);
    }
    // --until is exclusive, --since inclusive.
    let a = r.timelines().into_iter().find(|t| id_of(t) == A).unwrap();
    assert_eq!(events(&a).last().unwrap()["event_type"], "acd.start");
    let r = run(&[
        "correlate",
        "events.ndjson",
        "--since",
        "2026-03-02T09:05:37.016Z",
        "--clip",
    ])
    .ok();
    let a = r.timelines().into_iter().find(|t| id_of(t) == A).unwrap();
    assert_eq!(a["start"], "2026-03-02T09:05:37.016Z");
    assert_eq!(a["event_count"], 4);
}

#[test]
fn plain_dates_and_offsets_in_time_filters() {
    let all = run(&["correlate", "events.ndjson"]).ok().stdout;
    let r = run(&[
        "correlate",
        "events.ndjson",
        "--since",
        "2026-03-02",
        "--until",
        "2026-03-03",
    ])
    .ok();
    assert_eq!(r.stdout, all);
    let r = run(&["correlate", "events.ndjson", "--until", "2026-03-02"]).ok();
    assert!(r.stdout.is_empty());
    let s = r.summary();
    assert_eq!((s.filtered, s.unique, s.not_conversation), (52, 0, 2));
    let r = run(&["correlate", "events.ndjson", "--since", "2026-03-03"]).ok();
    assert!(r.stdout.is_empty());
    // 10:00+01:00 is 09:00Z.
    let with_offset = run(&[
        "correlate",
        "events.ndjson",
        "--since",
        "2026-03-02T10:00:00+01:00",
        "--clip",
    ])
    .ok();
    let utc = run(&[
        "correlate",
        "events.ndjson",
        "--since",
        "2026-03-02T09:00:00Z",
        "--clip",
    ])
    .ok();
    assert_eq!(with_offset.stdout, utc.stdout);
    let nine = millis(&json!("2026-03-02T09:00:00.000Z"));
    assert_eq!(
        got_ids(&utc),
        sorted(expected_ids(|e| millis(&e["time"]) >= nine))
    );
    // The form the --help examples use.
    let short = run(&[
        "correlate",
        "events.ndjson",
        "--since",
        "2026-03-02T09:00Z",
        "--clip",
    ])
    .ok();
    assert_eq!(short.stdout, utc.stdout);
}

#[test]
fn conversation_filter_is_repeatable() {
    let r = run(&[
        "correlate",
        "events.ndjson",
        "--conversation",
        A,
        "--conversation",
        E,
    ])
    .ok();
    let ts = r.timelines();
    let base = baseline();
    assert_eq!(ts, vec![find(&base, A).clone(), find(&base, E).clone()]);
    assert_eq!(r.summary().filtered, 52 - 18);
    let r = run(&[
        "correlate",
        "events.ndjson",
        "--conversation",
        "no-such-conversation",
    ])
    .ok();
    assert!(r.stdout.is_empty());
}

#[test]
fn media_filter() {
    let base = baseline();
    let r = run(&["correlate", "events.ndjson", "--media", "voice,callback"]).ok();
    let ts = r.timelines();
    assert_eq!(sorted(ts.iter().map(id_of).collect()), sorted(vec![A, C, E]));
    for t in &ts {
        assert_eq!(t, find(&base, id_of(t)), "whole timelines");
    }
    assert_eq!(strings(&find(&ts, A)["media_types"]), ["voice", "callback"]);
    // Repeatable, any case.
    let again = run(&[
        "correlate",
        "events.ndjson",
        "--media",
        "VOICE",
        "--media",
        "Callback",
    ])
    .ok();
    assert_eq!(again.stdout, r.stdout);
    let r = run(&["correlate", "events.ndjson", "--media", "message"]).ok();
    let ts = r.timelines();
    assert_eq!(ts.len(), 1);
    assert_eq!(id_of(&ts[0]), D);
    assert_eq!(
        ts[0],
        *find(&base, D),
        "with the attributes event, which has no media type"
    );
}

#[test]
fn invalid_filters_are_usage_errors() {
    for (args, says) in [
        (&["correlate", "events.ndjson", "--since", "soon"][..], "soon"),
        (
            &["correlate", "events.ndjson", "--until", "2026-13-45"][..],
            "2026-13-45",
        ),
        (
            &[
                "correlate",
                "events.ndjson",
                "--since",
                "2026-03-02T09:00:00Z",
                "--until",
                "2026-03-02T08:00:00Z",
            ][..],
            "--since",
        ),
        (
            &[
                "correlate",
                "events.ndjson",
                "--since",
                "2026-03-02",
                "--until",
                "2026-03-02",
            ][..],
            "--since",
        ),
        (&["correlate", "events.ndjson", "--threads", "0"][..], "--threads"),
        (&["correlate", "events.ndjson", "--format", "xml"][..], "xml"),
        (&["correlate", "events.ndjson", "--dedup", "fuzzy"][..], "fuzzy"),
    ] {
        let r = run(args).code(2);
        assert!(r.stdout.is_empty(), "{args:?}");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// Output formats
// ---------------------------------------------------------------------------------------------

#[test]
fn json_array_format() {
    let lines = baseline();
    let r = run(&["correlate", "events.ndjson", "--format", "json"]).ok();
    assert_eq!(r.json(), Value::Array(lines));
    let r = run(&[
        "correlate",
        "events.ndjson",
        "-f",
        "json",
        "--conversation",
        "nope",
    ])
    .ok();
    assert_eq!(r.json(), json!([]));
}

fn or_empty(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        _ => v.as_str().unwrap_or("").to_owned(),
    }
}

#[track_caller]
fn check_csv_events(csv_rows: &[BTreeMap<String, String>], ts: &[Value]) {
    let mut rows = csv_rows.iter();
    for t in ts {
        for e in events(t) {
            let row = rows.next().expect("one row per event");
            assert_eq!(row["conversation_id"], id_of(t));
            assert_eq!(row["conversation_start"], t["start"].as_str().unwrap());
            assert_eq!(
                row["conversation_media_types"],
                strings(&t["media_types"]).join("|")
            );
            assert_eq!(row["flags"], strings(&t["flags"]).join("|"));
            for key in EVENT_KEYS {
                assert_eq!(row[key], or_empty(&e[key]), "{key}");
            }
            let participant = t["participants"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["participant_id"] == e["participant_id"]);
            let of = |field: &str| participant.map_or(String::new(), |p| or_empty(&p[field]));
            assert_eq!(row["participant_purpose"], of("purpose"));
            assert_eq!(row["participant_name"], of("name"));
            assert_eq!(row["wrapup_name"], "", "not enriched: no names");
            assert_eq!(row["enrichment_status"], "skipped");
        }
    }
    assert!(rows.next().is_none(), "no extra rows");
}

#[test]
fn csv_format_one_row_per_event() {
    let r = run(&["correlate", "events.ndjson", "--format", "csv"]).ok();
    let (header, rows) = r.csv();
    assert_eq!(header, CSV_EVENT_COLUMNS);
    assert_eq!(rows.len(), 49);
    check_csv_events(&rows, &baseline());
}

#[test]
fn csv_quotes_awkward_fields() {
    let dir = tempdir();
    let name = "dump, \"part 1\".ndjson";
    let conv = uuid(0xc0, 8);
    let mut e = envelope(&uuid(0xe, 1), &conv, "wrapup", T0, Some("VOICE"));
    e["detail"]["eventBody"]["wrapupCode"] = json!("Resolved, \"first call\"\nsee notes");
    let mut f = envelope("evt,1", &conv, "user.end", T0 - 5, Some("VOICE"));
    f["detail"]["eventBody"]["disconnectType"] = json!("TRANSFER");
    write(&dir.path().join(name), ndjson(&[e, f]));
    let ts = run_in(dir.path(), &["correlate", name]).ok().timelines();
    assert_eq!(
        find_event(&ts[0], |e| e["event_type"] == "wrapup")["wrapup_code"],
        "Resolved, \"first call\"\nsee notes"
    );
    let r = run_in(dir.path(), &["correlate", name, "-f", "csv"]).ok();
    let (header, rows) = r.csv();
    assert_eq!(header, CSV_EVENT_COLUMNS);
    check_csv_events(&rows, &ts);
    assert_eq!(rows[1]["source"], format!("{name}:1"));
    assert_eq!(rows[0]["event_id"], "evt,1");
}

#[test]
fn csv_header_is_written_without_rows() {
    for extra in [&[][..], &["--summary"][..]] {
        let mut args = vec![
            "correlate",
            "events.ndjson",
            "-f",
            "csv",
            "--conversation",
            "nope",
        ];
        args.extend(extra);
        let r = run(&args).ok();
        let (header, rows) = r.csv();
        assert!(rows.is_empty());
        let expected: &[&str] = if extra.is_empty() {
            &CSV_EVENT_COLUMNS
        } else {
            &CSV_CONVERSATION_COLUMNS
        };
        assert_eq!(header, expected);
    }
    let dir = tempdir();
    let r = run_stdin(dir.path(), &["correlate", "-f", "csv"], "").ok();
    assert_eq!(r.csv().0, CSV_EVENT_COLUMNS);
}

#[test]
fn summary_in_every_format() {
    let full = baseline();
    let without_events: Vec<Value> = full
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.as_object_mut().unwrap().remove("events");
            t
        })
        .collect();

    let r = run(&["correlate", "events.ndjson", "--summary"]).ok();
    let ts = r.timelines();
    assert_eq!(ts, without_events);
    for t in &ts {
        check_contract(t);
    }
    let r = run(&["correlate", "events.ndjson", "--summary", "-f", "json"]).ok();
    assert_eq!(r.json(), Value::Array(without_events.clone()));

    let r = run(&["correlate", "events.ndjson", "--summary", "-f", "csv"]).ok();
    let (header, rows) = r.csv();
    assert_eq!(header, CSV_CONVERSATION_COLUMNS);
    assert_eq!(rows.len(), full.len(), "one row per conversation");
    for (row, t) in rows.iter().zip(&full) {
        assert_eq!(row["conversation_id"], id_of(t));
        assert_eq!(row["start"], t["start"].as_str().unwrap());
        assert_eq!(row["end"], t["end"].as_str().unwrap());
        assert_eq!(row["duration_ms"], t["duration_ms"].to_string());
        assert_eq!(row["media_types"], strings(&t["media_types"]).join("|"));
        assert_eq!(
            row["handoffs"],
            t["handoffs"].as_array().unwrap().len().to_string()
        );
        assert_eq!(row["event_count"], t["event_count"].to_string());
        assert_eq!(row["duplicates_dropped"], t["duplicates_dropped"].to_string());
        assert_eq!(
            row["participants"],
            t["participants"].as_array().unwrap().len().to_string()
        );
        assert_eq!(row["enrichment_status"], "skipped");
    }
    assert_eq!(rows[3]["media_types"], "voice|callback");
}

// ---------------------------------------------------------------------------------------------
// What the timelines say about the fixture
// ---------------------------------------------------------------------------------------------

#[test]
fn voice_to_callback_handoff() {
    let a = baseline_of(A);
    assert_eq!(strings(&a["media_types"]), ["voice", "callback"]);
    assert_eq!(
        a["handoffs"],
        json!([{"from": "voice", "to": "callback", "at": "2026-03-02T08:56:02.480Z"}])
    );
    assert_eq!(a["start"], "2026-03-02T08:52:11.204Z");
    assert_eq!(a["end"], "2026-03-02T09:13:05.900Z");
    assert_eq!(a["duration_ms"], 1_254_696);
    let callback: Vec<&Value> = events(&a)
        .iter()
        .filter(|e| e["media_type"] == "callback")
        .collect();
    let kinds: Vec<&str> = callback
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["acd.start", "acd.end", "user.start", "user.end", "acw"]);
    assert!(callback.iter().all(|e| e["queue_id"] == Q_CALLBACK));
    let acd_end = find_event(&a, |e| e["event_type"] == "acd.end" && e["media_type"] == "voice");
    assert_eq!(acd_end["disconnect_type"], "transfer");
    assert_eq!(acd_end["queue_id"], Q_SUPPORT);
}

#[test]
fn chat_to_email_handoff() {
    let b = baseline_of(B);
    assert_eq!(strings(&b["media_types"]), ["chat", "email"]);
    assert_eq!(
        b["handoffs"],
        json!([{"from": "chat", "to": "email", "at": "2026-03-02T08:31:55.020Z"}])
    );
    let email = find_event(&b, |e| {
        e["media_type"] == "email" && e["event_type"] == "acd.start"
    });
    assert_eq!(email["direction"], "outbound");
    let wrapup = find_event(&b, |e| e["event_type"] == "wrapup");
    assert!(wrapup["wrapup_code"].is_string());
}

#[test]
fn disconnect_types_and_wrapup_codes() {
    let c = baseline_of(C);
    let user_ends: Vec<(&str, &str)> = events(&c)
        .iter()
        .filter(|e| e["event_type"] == "user.end")
        .map(|e| {
            (
                e["user_id"].as_str().unwrap(),
                e["disconnect_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        user_ends,
        [
            (AGENT_3, "consult_transfer"),
            ("c7811aad-60f2-4d04-a4e2-290524dc0d7b", "peer")
        ]
    );
    let customer_end = find_event(&c, |e| e["event_type"] == "customer.end");
    assert_eq!(customer_end["disconnect_type"], "client");
    let acw = find_event(&c, |e| e["event_type"] == "acw");
    assert_eq!(acw["wrapup_code"], "ad558f2d-0648-48d8-9592-429b0fc5f827");
    let wrapup = find_event(&c, |e| e["event_type"] == "wrapup");
    assert_eq!(wrapup["wrapup_code"], "8510d7e9-3230-42e6-95d1-7b2056468286");
    // Every disconnect type in the fixture, spelled one way.
    let all: BTreeSet<String> = baseline()
        .iter()
        .flat_map(|t| {
            events(t)
                .iter()
                .filter_map(|e| e["disconnect_type"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        all,
        ["client", "consult_transfer", "peer", "transfer"]
            .map(str::to_owned)
            .into_iter()
            .collect()
    );
}

#[test]
fn participant_purposes_are_inferred() {
    let ts = baseline();
    let purposes = |id: &str| -> Vec<String> {
        find(&ts, id)["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| or_empty(&p["purpose"]))
            .collect()
    };
    assert_eq!(purposes(A), ["customer", "ivr", "acd", "acd", "agent"]);
    assert_eq!(purposes(C), ["customer", "acd", "agent", "agent"]);
    assert_eq!(purposes(D), ["customer", "ivr", "acd", "agent"]);
    assert_eq!(purposes(E), ["customer", "acd", "voicemail"]);
    let a = find(&ts, A);
    let agent = &a["participants"][4];
    assert_eq!(agent["user_id"], AGENT_1);
    assert_eq!(agent["queue_id"], Q_CALLBACK);
    assert_eq!(strings(&agent["media_types"]), ["callback"]);
    assert_eq!(strings(&a["participants"][0]["media_types"]), ["voice"]);
    // One agent participant on both media of B.
    let b = find(&ts, B);
    let agents: Vec<&Value> = b["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["purpose"] == "agent")
        .collect();
    assert_eq!(agents.len(), 1);
    assert_eq!(strings(&agents[0]["media_types"]), ["chat", "email"]);
}

#[test]
fn whatsapp_message_conversation() {
    let d = baseline_of(D);
    assert_eq!(strings(&d["media_types"]), ["message"]);
    assert_eq!(d["handoffs"], json!([]));
    let attributes = find_event(&d, |e| e["event_type"] == "attributes");
    assert_eq!(attributes["media_type"], Value::Null);
    assert_eq!(attributes["session_id"], Value::Null);
    assert_eq!(d["duplicates_dropped"], 1);
}

// ---------------------------------------------------------------------------------------------
// -o
// ---------------------------------------------------------------------------------------------

#[test]
fn output_file_is_written_atomically() {
    let dir = tempdir();
    let events = fixtures().join("events.ndjson");
    let stdout = run(&["correlate", "events.ndjson"]).ok().stdout;
    let r = run_in(
        dir.path(),
        &["correlate", events.to_str().unwrap(), "-o", "out.ndjson"],
    )
    .ok();
    assert!(r.stdout.is_empty());
    let written = fs::read(dir.path().join("out.ndjson")).unwrap();
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["out.ndjson"], "no temporary file left");
    // Same timelines as on stdout (the input is named differently).
    let as_stdout = String::from_utf8(written)
        .unwrap()
        .replace(events.to_str().unwrap(), "events.ndjson");
    assert_eq!(as_stdout.as_bytes(), stdout);

    // Replacing an existing file, in a subdirectory, with another format.
    write(&dir.path().join("sub/out.csv"), "old");
    run_in(
        dir.path(),
        &[
            "correlate",
            events.to_str().unwrap(),
            "-f",
            "csv",
            "--output",
            "sub/out.csv",
        ],
    )
    .ok();
    let (header, rows) = parse_csv(&fs::read(dir.path().join("sub/out.csv")).unwrap());
    assert_eq!(header, CSV_EVENT_COLUMNS);
    assert_eq!(rows.len(), 49);
    assert_eq!(fs::read_dir(dir.path().join("sub")).unwrap().count(), 1);

    // A partial run (invalid records) still writes its output.
    let bad = messy().join("bad-lines.ndjson");
    run_in(
        dir.path(),
        &["correlate", bad.to_str().unwrap(), "-o", "partial.ndjson"],
    )
    .code(3);
    assert!(dir.path().join("partial.ndjson").exists());
}

#[cfg(unix)]
#[test]
fn output_file_gets_ordinary_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempdir();
    let events = fixtures().join("events.ndjson");
    // What any file created here gets (under the usual umask, 0644), not a temporary
    // file's 0600.
    let reference = dir.path().join("reference");
    fs::File::create(&reference).unwrap();
    run_in(
        dir.path(),
        &["correlate", events.to_str().unwrap(), "-o", "new.ndjson"],
    )
    .ok();
    assert_eq!(mode(&dir.path().join("new.ndjson")), mode(&reference));
    // A file replaced keeps its own mode.
    let existing = dir.path().join("existing.ndjson");
    write(&existing, "old");
    fs::set_permissions(&existing, fs::Permissions::from_mode(0o640)).unwrap();
    run_in(
        dir.path(),
        &["correlate", events.to_str().unwrap(), "-o", "existing.ndjson"],
    )
    .ok();
    assert_eq!(mode(&existing), 0o640);
    assert_ne!(fs::read_to_string(&existing).unwrap(), "old");
}

#[test]
fn output_file_appears_only_when_the_run_completes() {
    let dir = tempdir();
    let input = fs::read(fixtures().join("events.ndjson")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gcorr"))
        .envs(GENESYS_ENV.map(|k| (k, "")))
        .current_dir(dir.path())
        .args(["correlate", "-o", "out.ndjson"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&input[..input.len() / 2]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing while still reading"
    );
    stdin.write_all(&input[input.len() / 2..]).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let written = fs::read_to_string(dir.path().join("out.ndjson")).unwrap();
    assert_eq!(written.lines().count(), 5);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn output_into_a_missing_directory_fails() {
    let dir = tempdir();
    let events = fixtures().join("events.ndjson");
    let r = run_in(
        dir.path(),
        &[
            "correlate",
            events.to_str().unwrap(),
            "-o",
            "missing/sub/out.ndjson",
        ],
    )
    .code(1);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("missing/sub"), "{}", r.stderr);
    assert!(!dir.path().join("missing").exists());
}

// ---------------------------------------------------------------------------------------------
// Broken pipe
// ---------------------------------------------------------------------------------------------

/// `gcorr correlate big | head -c 100`: gcorr's own exit status (124: still running after
/// 20 s, killed) and its stderr.
fn into_head(format: &str) -> (String, String) {
    let dir = tempdir();
    write(&dir.path().join("big.ndjson"), ndjson(&many_records(20_000)));
    let out = std::process::Command::new("bash")
        .envs(GENESYS_ENV.map(|k| (k, "")))
        .current_dir(dir.path())
        .arg("-c")
        .arg(r#"timeout 20 "$0" correlate big.ndjson --format "$1" | head -c 100 > /dev/null; echo "${PIPESTATUS[0]}""#)
        .arg(env!("CARGO_BIN_EXE_gcorr"))
        .arg(format)
        .output()
        .expect("bash runs");
    (
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// gcorr's own status is 0 and it says nothing when `head` closes the pipe early.
fn assert_ends_quietly_into_head(format: &str) {
    let (status, stderr) = into_head(format);
    assert_eq!(status, "0", "{stderr}");
    assert!(
        !stderr.contains("error") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}

#[test]
fn broken_pipe_is_not_an_error_ndjson() {
    assert_ends_quietly_into_head("ndjson");
}

#[test]
fn broken_pipe_is_not_an_error_json() {
    assert_ends_quietly_into_head("json");
}

#[test]
fn broken_pipe_is_not_an_error_csv() {
    assert_ends_quietly_into_head("csv");
}

// ---------------------------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_flags_are_usage_errors() {
    let r = run(&["correlate", "--frobnicate", "events.ndjson"]).code(2);
    assert!(r.stderr.contains("--frobnicate"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    run(&[]).code(2);
    run(&["correlat", "events.ndjson"]).code(2);
    run(&["-q", "-v", "correlate", "events.ndjson"]).code(2);
}

#[test]
fn a_missing_input_file_is_named() {
    let r = run(&["correlate", "events.ndjson", "no-such-dump.ndjson"]).code(1);
    assert!(r.stdout.is_empty(), "nothing written");
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("no-such-dump.ndjson"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(errors[0].starts_with("gcorr: error: "), "{}", errors[0]);
}

#[test]
fn help_shows_examples() {
    for args in [
        &["--help"][..],
        &["correlate", "--help"][..],
        &["help", "correlate"][..],
    ] {
        let r = run(args).ok();
        let text = r.text();
        assert!(text.contains("Examples:"), "{args:?}: {text}");
        assert!(text.contains("gcorr correlate events.ndjson"), "{args:?}");
    }
    let r = run(&["correlate", "--help"]).ok();
    for flag in [
        "--output",
        "--format",
        "--summary",
        "--strict",
        "--dedup",
        "--since",
        "--until",
        "--conversation",
        "--media",
        "--threads",
    ] {
        assert!(r.text().contains(flag), "{flag}");
    }
}

#[test]
fn version() {
    // The version, then the commit when built from a checkout (tests/ux checks that part).
    let expected = format!("gcorr {}", env!("CARGO_PKG_VERSION"));
    for flag in ["--version", "-V"] {
        let out = run(&[flag]).ok();
        assert!(out.text().starts_with(&expected), "{flag}: {}", out.text());
    }
}

#[test]
fn quiet_prints_nothing_for_a_clean_input() {
    let loud = run(&["correlate", "events.ndjson"]).ok();
    let quiet = run(&["-q", "correlate", "events.ndjson"]).ok();
    assert_eq!(quiet.stderr, "");
    assert_eq!(quiet.stdout, loud.stdout);
    let quiet = run(&["correlate", "--quiet", "events.ndjson", "-f", "csv"]).ok();
    assert_eq!(quiet.stderr, "");
}

#[test]
fn quiet_prints_nothing_for_an_empty_directory() {
    let dir = tempdir();
    fs::create_dir(dir.path().join("empty")).unwrap();
    let r = run_in(dir.path(), &["-q", "correlate", "empty"]).ok();
    assert_eq!(r.stderr, "", "-q: nothing on stderr but errors");
    assert!(r.stdout.is_empty());
}

/// `gcorr: NAME: N records, N kept, N duplicates, N invalid, N not conversation, N filtered`
fn per_input_counts(r: &Run) -> Vec<(&str, BTreeMap<String, u64>)> {
    r.stderr
        .lines()
        .filter(|l| l.starts_with("gcorr: ") && l.ends_with(" filtered"))
        .map(|l| {
            let (name, counts) = l["gcorr: ".len()..].rsplit_once(": ").unwrap();
            let counts = counts
                .split(", ")
                .map(|c| {
                    let (n, what) = c.split_once(' ').unwrap();
                    // "1 record", "1 duplicate": the same keys as the plurals.
                    let what = match what {
                        "record" | "duplicate" => format!("{what}s"),
                        _ => what.to_owned(),
                    };
                    (what, n.replace(',', "").parse().unwrap())
                })
                .collect();
            (name, counts)
        })
        .collect()
}

#[test]
fn verbose_prints_per_input_counts() {
    let r = run(&[
        "-v",
        "correlate",
        "events.ndjson",
        "messy/concatenated.json",
        "messy/bad-lines.ndjson",
    ])
    .code(3);
    let per = per_input_counts(&r);
    let names: Vec<&str> = per.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "events.ndjson",
            "messy/concatenated.json",
            "messy/bad-lines.ndjson"
        ]
    );
    let c = |i: usize, what: &str| per[i].1[what];
    assert_eq!(
        [
            c(0, "records"),
            c(0, "kept"),
            c(0, "duplicates"),
            c(0, "invalid"),
            c(0, "not conversation"),
            c(0, "filtered")
        ],
        [54, 49, 3, 0, 2, 0]
    );
    assert_eq!(
        [c(1, "records"), c(1, "kept"), c(1, "duplicates")],
        [11, 0, 11],
        "B again"
    );
    assert_eq!(
        [c(2, "records"), c(2, "kept"), c(2, "invalid")],
        [12, 0, 6],
        "E again"
    );
    let s = r.summary();
    let sum = |what: &str| per.iter().map(|(_, m)| m[what]).sum::<u64>();
    assert_eq!(s.records, sum("records"));
    assert_eq!(s.unique, sum("kept"));
    assert_eq!(s.duplicates, sum("duplicates"));
    assert_eq!(s.invalid, sum("invalid"));
    assert_eq!(s.not_conversation, sum("not conversation"));
    assert_eq!(s.filtered, sum("filtered"));
    for (_, m) in &per {
        assert_eq!(
            m["records"],
            m["kept"] + m["duplicates"] + m["invalid"] + m["not conversation"] + m["filtered"]
        );
    }
}
