//! Property tests: deduplication and grouping depend on which events were delivered, not on
//! their order, their repetition, their framing, where read chunks end or how many threads
//! parse them. Most properties run the library in-process (fast); one runs the binary.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Write};
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use gcorr::correlate::Store;
use gcorr::event::{Parsed, parse_record};
use gcorr::input::framing::{CHUNK, Framer, Pos};
use gcorr::output;
use gcorr::report::Counts;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};

/// 2026-03-02T10:00:00Z.
const T0: i64 = 1_772_445_600_000;
const KINDS: [&str; 5] = ["customer.start", "acd.start", "acd.end", "user.start", "user.end"];
const MEDIA: [&str; 4] = ["VOICE", "CALLBACK", "CHAT", "EMAIL"];

/// One distinct event: every delivery of it is the same record (a re-delivery).
#[derive(Clone, Debug)]
struct Spec {
    id: usize,
    conversation: usize,
    /// Seconds after T0; few values, so ties are common.
    second: i64,
    kind: usize,
    media: Option<usize>,
    /// Written in the flat shape instead of an EventBridge envelope.
    flat: bool,
}

impl Spec {
    fn event_id(&self) -> String {
        // Both spellings gcorr keeps apart: packed UUIDs and other text.
        if self.id % 3 == 0 {
            format!("evt-{}", self.id)
        } else {
            format!("{:08x}-0000-4000-8000-{:012x}", 0xe7, self.id)
        }
    }

    fn conversation_id(&self) -> String {
        if self.conversation == 3 {
            "conv-text-id".to_owned()
        } else {
            format!("{:08x}-0000-4000-8000-{:012x}", 0xc0, self.conversation)
        }
    }

    fn ms(&self) -> i64 {
        T0 + self.second * 1000
    }

    fn record(&self) -> Value {
        let (id, conv, kind) = (self.event_id(), self.conversation_id(), KINDS[self.kind]);
        let mut body = json!({
            "participantId": format!("{:08x}-0000-4000-8000-{:012x}", 0xba, self.conversation * 10 + self.kind),
            "direction": "INBOUND",
        });
        let media = self.media.map(|m| MEDIA[m]);
        if self.flat {
            let mut r = json!({
                "event_id": id,
                "conversationId": conv,
                "type": kind,
                "timestamp": iso(self.ms()),
                "data": body,
            });
            if let Some(m) = media {
                r["channel"] = json!(m);
            }
            return r;
        }
        body["eventTime"] = json!(self.ms());
        body["conversationId"] = json!(conv);
        if let Some(m) = media {
            body["mediaType"] = json!(m);
        }
        json!({
            "version": "0",
            "id": id,
            "detail-type": format!("v2.detail.events.conversation.{{id}}.{kind}"),
            "source": "aws.partner/genesys.com/cloud/d23b5987-504c-4b3d-a484-bf2e47c76f75/props",
            "account": "418295710364",
            "time": "2026-03-02T10:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "topicName": format!("v2.detail.events.conversation.{conv}.{kind}"),
                "version": "2",
                "eventBody": body,
                "metadata": {"CorrelationId": "8f725aa1-d831-4fb3-a8ea-9ccf7d44db68"},
                "timestamp": iso(self.ms() + 37),
            }
        })
    }
}

fn iso(ms: i64) -> String {
    format!("{:.3}", jiff::Timestamp::from_millisecond(ms).unwrap())
}

/// A pool of distinct events and a delivery sequence drawn from it (ids repeat).
fn deliveries() -> impl Strategy<Value = Vec<Spec>> {
    let spec = (
        0..4usize,
        0..5i64,
        0..KINDS.len(),
        prop::option::of(0..MEDIA.len()),
        any::<bool>(),
    );
    prop::collection::vec(spec, 1..10)
        .prop_map(|pool| {
            pool.into_iter()
                .enumerate()
                .map(|(id, (conversation, second, kind, media, flat))| Spec {
                    id,
                    conversation,
                    second,
                    kind,
                    media,
                    flat,
                })
                .collect::<Vec<_>>()
        })
        .prop_flat_map(|pool| {
            let n = pool.len();
            prop::collection::vec(0..n, 1..25)
                .prop_map(move |picks| picks.into_iter().map(|i| pool[i].clone()).collect())
        })
}

/// Correlates `inputs` (name, records) in-process, the way the pipeline feeds the store;
/// returns the timelines as the JSON gcorr writes.
fn correlate(inputs: &[(&str, &[Spec])]) -> Vec<Value> {
    let mut store = Store::new(inputs.iter().map(|(name, _)| name.to_string()).collect());
    for (input, (_, specs)) in inputs.iter().enumerate() {
        for (line, spec) in specs.iter().enumerate() {
            let bytes = serde_json::to_vec(&spec.record()).unwrap();
            match parse_record(&bytes, false) {
                Ok(Parsed::Event(e)) => {
                    store.add(&e, input as u32, Pos::Line(line as u64 + 1));
                }
                other => panic!("{other:?}: {}", String::from_utf8_lossy(&bytes)),
            }
        }
    }
    let mut c = store.finish();
    gcorr::findings::flag(&mut c, &gcorr::findings::Thresholds::default(), 2);
    let offline = gcorr::api::Outcome::skipped("offline: no Genesys Cloud credentials");
    let enrichment = vec![offline; c.groups.len()];
    let opts = output::Options {
        format: output::Format::Ndjson,
        summary: false,
        colour: false,
        threads: 2,
    };
    let counts = Counts::new(inputs.len());
    let run = output::Run {
        inputs: inputs.len(),
        counts: &counts,
        conversations: c.groups.len(),
        enrichment: None,
        analysis: &Default::default(),
    };
    let mut out = Vec::new();
    output::write(&opts, &run, &mut out, &c, &enrichment).unwrap();
    out.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect()
}

fn events(t: &Value) -> &Vec<Value> {
    t["events"].as_array().unwrap()
}

fn conversation(t: &Value) -> String {
    t["conversation_id"].as_str().unwrap().to_owned()
}

/// What does not depend on delivery order: per conversation its sorted event ids, start,
/// end, duplicates and media types (as a set); and the order of conversations.
type Grouping = (
    Vec<String>,
    BTreeMap<String, (Vec<String>, Value, Value, Value, BTreeSet<String>)>,
);

fn grouping(ts: &[Value]) -> Grouping {
    let order = ts.iter().map(conversation).collect();
    let per = ts
        .iter()
        .map(|t| {
            let mut ids: Vec<String> = events(t)
                .iter()
                .map(|e| e["event_id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            let media = t["media_types"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect();
            (
                conversation(t),
                (
                    ids,
                    t["start"].clone(),
                    t["end"].clone(),
                    t["duplicates_dropped"].clone(),
                    media,
                ),
            )
        })
        .collect();
    (order, per)
}

/// The model: per conversation, the distinct event ids delivered and how many deliveries
/// were repeats.
fn model(specs: &[Spec]) -> BTreeMap<String, (BTreeSet<String>, u64)> {
    let mut m: BTreeMap<String, (BTreeSet<String>, u64)> = BTreeMap::new();
    for s in specs {
        let entry = m.entry(s.conversation_id()).or_default();
        if !entry.0.insert(s.event_id()) {
            entry.1 += 1;
        }
    }
    m
}

/// `name:line` or `name@offset` → (name, number).
fn position(source: &str) -> (String, u64) {
    let cut = source.rfind([':', '@']).unwrap();
    (source[..cut].to_owned(), source[cut + 1..].parse().unwrap())
}

/// Checks what must hold of any output for `inputs` (in command-line order).
fn check_against_model(ts: &[Value], inputs: &[(&str, &[Spec])]) -> Result<(), TestCaseError> {
    let all: Vec<Spec> = inputs.iter().flat_map(|(_, s)| s.iter().cloned()).collect();
    let expected = model(&all);
    let got: BTreeMap<String, (BTreeSet<String>, u64)> = ts
        .iter()
        .map(|t| {
            let ids = events(t)
                .iter()
                .map(|e| e["event_id"].as_str().unwrap().to_owned())
                .collect();
            (conversation(t), (ids, t["duplicates_dropped"].as_u64().unwrap()))
        })
        .collect();
    prop_assert_eq!(&got, &expected);
    let names: Vec<&str> = inputs.iter().map(|(n, _)| *n).collect();
    for t in ts {
        let evs = events(t);
        prop_assert_eq!(t["event_count"].as_u64().unwrap() as usize, evs.len());
        for w in evs.windows(2) {
            let (a, b) = (w[0]["time"].as_str().unwrap(), w[1]["time"].as_str().unwrap());
            prop_assert!(a <= b, "time order: {} {}", a, b);
            if a == b {
                // A tie keeps input order: command-line order, then position.
                let (na, pa) = position(w[0]["source"].as_str().unwrap());
                let (nb, pb) = position(w[1]["source"].as_str().unwrap());
                let (ia, ib) = (
                    names.iter().position(|n| *n == na).unwrap(),
                    names.iter().position(|n| *n == nb).unwrap(),
                );
                prop_assert!((ia, pa) < (ib, pb), "tie order: {} then {}", w[0], w[1]);
            }
        }
    }
    for w in ts.windows(2) {
        let a = (
            w[0]["start"].as_str().unwrap(),
            w[0]["conversation_id"].as_str().unwrap(),
        );
        let b = (
            w[1]["start"].as_str().unwrap(),
            w[1]["conversation_id"].as_str().unwrap(),
        );
        prop_assert!(a < b, "timelines by start, then id: {:?} {:?}", a, b);
    }
    Ok(())
}

/// Removes the parts that may legitimately change when the input is repeated.
fn without_duplicates(ts: &[Value]) -> Vec<Value> {
    ts.iter()
        .map(|t| {
            let mut t = t.clone();
            t.as_object_mut().unwrap().remove("duplicates_dropped");
            // The same input read twice: every conversation has duplicates.
            let flags = t["flags"].as_array_mut().unwrap();
            flags.retain(|f| f != "duplicates");
            t
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn dedup_and_grouping_ignore_delivery_order(
        (specs, shuffled) in deliveries().prop_flat_map(|s| (Just(s.clone()), Just(s).prop_shuffle()))
    ) {
        let a = correlate(&[("a", &specs)]);
        let b = correlate(&[("a", &shuffled)]);
        check_against_model(&a, &[("a", &specs)])?;
        check_against_model(&b, &[("a", &shuffled)])?;
        prop_assert_eq!(grouping(&a), grouping(&b));
    }

    #[test]
    fn the_first_delivery_is_the_one_kept(specs in deliveries()) {
        let ts = correlate(&[("a", &specs)]);
        let mut first = BTreeMap::new();
        for (i, s) in specs.iter().enumerate() {
            first.entry(s.event_id()).or_insert(format!("a:{}", i + 1));
        }
        for t in &ts {
            for e in events(t) {
                prop_assert_eq!(e["source"].as_str().unwrap(), first[e["event_id"].as_str().unwrap()].as_str());
            }
        }
    }

    #[test]
    fn repeating_the_input_only_adds_duplicates(specs in deliveries()) {
        let once = correlate(&[("a", &specs)]);
        let twice_in_one = correlate(&[("a", &[specs.clone(), specs.clone()].concat())]);
        let twice_in_two = correlate(&[("a", &specs), ("b", &specs)]);
        for twice in [&twice_in_one, &twice_in_two] {
            // Everything the same, sources included (the first copy is the one kept)...
            prop_assert_eq!(without_duplicates(twice), without_duplicates(&once));
            // ...except that every event of the second copy is one more duplicate.
            for (t2, t1) in twice.iter().zip(&once) {
                let (d1, n) = (t1["duplicates_dropped"].as_u64().unwrap(), t1["event_count"].as_u64().unwrap());
                prop_assert_eq!(t2["duplicates_dropped"].as_u64().unwrap(), 2 * d1 + n);
            }
        }
        check_against_model(&twice_in_two, &[("a", &specs), ("b", &specs)])?;
    }
}

// ---------------------------------------------------------------------------------------------
// The binary: framing, files, threads
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Framing {
    Lines,
    Concatenated,
    Pretty,
    Array,
    GzipLines,
}

fn framings() -> impl Strategy<Value = Framing> {
    prop_oneof![
        Just(Framing::Lines),
        Just(Framing::Concatenated),
        Just(Framing::Pretty),
        Just(Framing::Array),
        Just(Framing::GzipLines),
    ]
}

fn encode(specs: &[Spec], framing: Framing) -> Vec<u8> {
    let records: Vec<Value> = specs.iter().map(Spec::record).collect();
    let lines = || -> Vec<u8> {
        records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect::<String>()
            .into_bytes()
    };
    match framing {
        Framing::Lines => lines(),
        Framing::Concatenated => records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect::<String>()
            .into_bytes(),
        Framing::Pretty => records
            .iter()
            .map(|r| serde_json::to_string_pretty(r).unwrap() + "\n")
            .collect::<String>()
            .into_bytes(),
        Framing::Array => serde_json::to_vec_pretty(&records).unwrap(),
        Framing::GzipLines => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&lines()).unwrap();
            enc.finish().unwrap()
        }
    }
}

fn gcorr(dir: &Path, args: &[&str]) -> Vec<Value> {
    let out = Command::cargo_bin("gcorr")
        .unwrap()
        .env_remove("GENESYSCLOUD_OAUTHCLIENT_ID")
        .env_remove("GENESYS_CLIENT_ID")
        .env_remove("GENESYSCLOUD_ACCESS_TOKEN")
        .current_dir(dir)
        .arg("-q")
        .arg("correlate")
        .args(args)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn without_sources(ts: &[Value]) -> Vec<Value> {
    ts.iter()
        .map(|t| {
            let mut t = t.clone();
            for e in t["events"].as_array_mut().unwrap() {
                e.as_object_mut().unwrap().remove("source");
            }
            t
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_binary_agrees_whatever_the_order_framing_and_threads(
        (specs, shuffled) in deliveries().prop_flat_map(|s| (Just(s.clone()), Just(s).prop_shuffle())),
        f1 in framings(),
        f2 in framings(),
        threads in 1..4usize,
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("one"), encode(&specs, f1)).unwrap();
        std::fs::write(dir.path().join("two"), encode(&shuffled, f2)).unwrap();
        std::fs::write(dir.path().join("lines"), encode(&specs, Framing::Lines)).unwrap();
        let threads = threads.to_string();

        let one = gcorr(dir.path(), &["one", "--threads", &threads]);
        check_against_model(&one, &[("one", &specs)])?;
        // The same deliveries as JSON Lines in-process: identical but for the sources'
        // positions (offsets instead of lines in other framings).
        let lines = gcorr(dir.path(), &["lines", "--threads", "1"]);
        prop_assert_eq!(&lines, &correlate(&[("lines", &specs)]));
        prop_assert_eq!(without_sources(&one), without_sources(&lines));

        let two = gcorr(dir.path(), &["two"]);
        check_against_model(&two, &[("two", &shuffled)])?;
        prop_assert_eq!(grouping(&one), grouping(&two));

        let both = gcorr(dir.path(), &["one", "two", "--threads", &threads]);
        check_against_model(&both, &[("one", &specs), ("two", &shuffled)])?;
        prop_assert_eq!(without_duplicates(&both), without_duplicates(&one));
    }
}

// ---------------------------------------------------------------------------------------------
// Framing at read-chunk boundaries
// ---------------------------------------------------------------------------------------------

/// Strings that stress a JSON scanner: quotes, backslashes, braces, brackets, multi-byte
/// characters, control characters (escaped by the serializer).
fn tricky_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just('"'),
            Just('\\'),
            Just('{'),
            Just('}'),
            Just('['),
            Just(']'),
            Just('\n'),
            Just('\r'),
            Just(','),
            Just('é'),
            Just('€'),
            Just('𝄞'),
            Just(' '),
            proptest::char::range('a', 'z'),
        ],
        0..40,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn small_record() -> impl Strategy<Value = Value> {
    (any::<u32>(), tricky_string(), tricky_string())
        .prop_map(|(n, a, b)| json!({"id": n, "s": a, "nested": {"list": [1, {"t": b}, []], "o": {}}}))
}

#[derive(Clone, Copy, Debug)]
enum Layout {
    Lines,
    CrLf,
    Concatenated,
    Pretty,
    Array,
}

/// The stream for a record `{"filler": "xxx..."}` (`filler` x's) followed by `records` in
/// `layout`, and each record's position (its line in lines layouts, else its byte offset)
/// and text.
fn lay_out(filler: usize, records: &[Value], layout: Layout) -> (Vec<u8>, Vec<(Pos, Vec<u8>)>) {
    let mut out = Vec::new();
    let mut expected = Vec::new();
    if let Layout::Array = layout {
        out.extend_from_slice(b"[\n");
    }
    let pretty = matches!(layout, Layout::Pretty | Layout::Array);
    // Written by hand: serialising a megabyte string in a debug build is slow.
    let filler = if pretty {
        format!("{{\n  \"filler\": \"{}\"\n}}", "x".repeat(filler))
    } else {
        format!("{{\"filler\":\"{}\"}}", "x".repeat(filler))
    };
    let texts = std::iter::once(filler.into_bytes()).chain(records.iter().map(|r| {
        if pretty {
            serde_json::to_vec_pretty(r).unwrap()
        } else {
            serde_json::to_vec(r).unwrap()
        }
    }));
    let count = records.len() + 1;
    for (i, text) in texts.enumerate() {
        let pos = match layout {
            Layout::Lines | Layout::CrLf => Pos::Line(i as u64 + 1),
            _ => Pos::Offset(out.len() as u64),
        };
        out.extend_from_slice(&text);
        out.extend_from_slice(match layout {
            Layout::Lines | Layout::Pretty => b"\n",
            Layout::CrLf => b"\r\n",
            Layout::Concatenated => b"",
            Layout::Array if i + 1 < count => b",\n",
            Layout::Array => b"\n",
        });
        expected.push((pos, text));
    }
    if let Layout::Array = layout {
        out.extend_from_slice(b"]\n");
    }
    (out, expected)
}

fn layouts() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Lines),
        Just(Layout::CrLf),
        Just(Layout::Concatenated),
        Just(Layout::Pretty),
        Just(Layout::Array),
    ]
}

/// Records as (position, text); problems as (position, message).
type Framed = (Vec<(Pos, Vec<u8>)>, Vec<(Pos, String)>);

/// Every record the framer finds, with its position, and every problem.
fn frame(bytes: Vec<u8>) -> Framed {
    let mut framer = Framer::new(Cursor::new(bytes));
    let (mut records, mut problems) = (vec![], vec![]);
    while let Some(batch) = framer.next_batch() {
        for span in &batch.records {
            records.push((span.pos, batch.record(span).to_vec()));
        }
        problems.extend(batch.problems);
    }
    (records, problems)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A first record of about one read chunk puts the chunk boundary at a chosen byte of the
    /// small records after it: inside a string, on an escape, between `\r` and `\n`, ...
    #[test]
    fn records_straddling_a_read_chunk_are_framed_whole(
        small in prop::collection::vec(small_record(), 1..12),
        layout in layouts(),
        at in any::<Index>(),
    ) {
        // Where the small records start when the filler is empty.
        let (bytes, expected) = lay_out(0, &small, layout);
        let first = match expected[1].0 {
            Pos::Line(_) => bytes.iter().position(|b| *b == b'\n').unwrap() + 1,
            Pos::Offset(o) => o as usize,
        };
        let target = at.index(bytes.len() - first);
        // The filler grows the stream byte for byte: the boundary lands `target` bytes into
        // the small records.
        let (bytes, expected) = lay_out(CHUNK - first - target, &small, layout);
        prop_assert!(bytes.len() > CHUNK);
        let (got, problems) = frame(bytes);
        prop_assert!(problems.is_empty(), "{:?}", problems);
        prop_assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            prop_assert_eq!(g.0, e.0);
            prop_assert!(
                g.1 == e.1,
                "record at {:?}: got {:?}, want {:?}",
                e.0,
                String::from_utf8_lossy(&g.1[..g.1.len().min(300)]),
                String::from_utf8_lossy(&e.1[..e.1.len().min(300)])
            );
        }
        // The same records parse back to what was written.
        for (_, text) in &got[1..] {
            prop_assert!(serde_json::from_slice::<Value>(text).is_ok());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness: damaged input is an error, never a panic or a hang
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn damaged_records_are_errors_not_panics(
        spec in deliveries().prop_map(|d| d[0].clone()),
        cut in any::<Index>(),
        flips in prop::collection::vec((any::<Index>(), any::<u8>()), 0..4),
    ) {
        let mut bytes = serde_json::to_vec(&spec.record()).unwrap();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        // Any outcome but a panic; `digest` takes the other parsing path.
        let _ = parse_record(&bytes, false);
        let _ = parse_record(&bytes, true);
    }

    #[test]
    fn any_bytes_frame_without_panics_in_increasing_positions(
        bytes in prop::collection::vec(
            prop_oneof![
                Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'"'), Just(b'\\'),
                Just(b'\n'), Just(b'\r'), Just(b','), Just(b' '), any::<u8>(),
            ],
            0..400,
        ),
    ) {
        let mut framer = Framer::new(Cursor::new(bytes));
        let mut last: Option<Pos> = None;
        while let Some(batch) = framer.next_batch() {
            for span in &batch.records {
                prop_assert!(span.start <= span.end && span.end <= batch.bytes().len());
                if let Some(prev) = last {
                    prop_assert!(prev < span.pos, "{:?} then {:?}", prev, span.pos);
                }
                last = Some(span.pos);
                let _ = parse_record(batch.record(span), false);
            }
        }
    }
}
