//! Findings for incident investigations, end to end: one hour of generated traffic with
//! injected anomalies (a window of late deliveries, conversations whose end events are gone, a
//! burst of error disconnects, a silent stretch, and one conversation per other flag), checked
//! in every output format, in `--report`, on stderr, with `--flag`, and in the html report's
//! charts as headless Chromium draws them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};

use crate::ux::report::browser::Browser;
use crate::ux::report::dump_dom;
use crate::{T0, compact, iso, run_in, strings, tempdir, uuid, write};

const MINUTE: i64 = 60_000;
/// Conversations started each minute.
const PER_MINUTE: u64 = 8;

/// The minutes with no traffic at all (an outage upstream).
const SILENT: std::ops::Range<i64> = 30..35;
/// Every event of conversations started in these minutes is delivered two minutes late.
const LATE: std::ops::Range<i64> = 20..23;
/// Every conversation started in these minutes ends in an error disconnect.
const ERRORS: std::ops::Range<i64> = 45..47;
/// The first conversation of these minutes lost its `customer.end`.
const NO_END: std::ops::Range<i64> = 40..43;

fn conv(minute: i64, k: u64) -> String {
    uuid(0xf1, minute as u64 * 100 + k)
}

/// `2026-03-02T10:MM:00.000Z`
fn at(minute: i64) -> String {
    iso(T0 + minute * MINUTE)
}

/// A detail event as EventBridge delivers it: envelope `time` is the delivery second.
fn detail(id: &str, conversation: &str, kind: &str, ms: i64, delivered: i64, body: Value) -> Value {
    let mut b = json!({"eventTime": ms, "conversationId": conversation, "mediaType": "VOICE"});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    json!({
        "version": "0",
        "id": id,
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{kind}"),
        "source": "aws.partner/genesys.com/cloud/tests",
        "time": iso(delivered - delivered.rem_euclid(1000)).replace(".000", ""),
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{conversation}.{kind}"),
            "eventBody": b,
        }
    })
}

/// The generated hour: its records (in delivery order) and each conversation's expected flags.
fn hour() -> (Vec<Value>, BTreeMap<String, BTreeSet<&'static str>>) {
    let mut records = Vec::new();
    let mut flags: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for m in (0..60).filter(|m| !SILENT.contains(m)) {
        for k in 0..PER_MINUTE {
            let c = conv(m, k);
            let n = m as u64 * 100 + k;
            let (customer, acd) = (uuid(0xaa, n), uuid(0xbb, n));
            let base = T0 + m * MINUTE + k as i64 * 1007;
            let mut expected = BTreeSet::new();
            let lag = if LATE.contains(&m) {
                expected.insert("late_delivery");
                120_000
            } else {
                0
            };
            let mut customer_end = json!({"participantId": customer, "disconnectType": "ENDPOINT"});
            let mut acd_end = json!({"participantId": acd});
            let mut end_at = base + 40_000;
            if ERRORS.contains(&m) {
                customer_end["disconnectType"] =
                    json!(if k % 2 == 0 { "ERROR" } else { "transport.failure" });
                expected.insert("error_disconnect");
            }
            match (m, k) {
                (10, 0) => {
                    acd_end["acdOutcome"] = json!("Abandon");
                    expected.insert("abandoned");
                }
                // Only an acd.end says the caller abandoned.
                (10, 1) => customer_end["acdOutcome"] = json!("ABANDON"),
                (12, 0) => {
                    acd_end["disconnectType"] = json!("TRANSFER");
                    expected.insert("transferred");
                }
                (12, 1) => {
                    customer_end["disconnectType"] = json!("transfer.consult");
                    expected.insert("transferred");
                }
                (2, 0) => {
                    end_at = base + 16 * MINUTE;
                    expected.insert("gap");
                }
                (8, 0) => {
                    acd_end["mediaType"] = json!("CALLBACK");
                    expected.insert("multi_media");
                }
                _ => {}
            }
            let mut events = vec![
                ("customer.start", base, json!({"participantId": customer})),
                ("acd.start", base + 5_000, json!({"participantId": acd})),
                ("acd.end", base + 20_000, acd_end),
            ];
            if NO_END.contains(&m) && k == 0 {
                expected.insert("no_end");
            } else {
                events.push(("customer.end", end_at, customer_end));
            }
            for (i, (kind, ms, body)) in events.into_iter().enumerate() {
                let id = uuid(0xe0 + i as u32, n);
                let record = if (m, k) == (16, 0) {
                    // The flat shape: no delivery time.
                    json!({"event_id": id, "conversationId": c, "channel": "VOICE", "type": kind,
                           "timestamp": iso(ms), "data": body})
                } else {
                    detail(&id, &c, kind, ms, ms + lag, body)
                };
                if (m, k, i) == (14, 0, 1) {
                    records.push(record.clone());
                    expected.insert("duplicates");
                }
                records.push(record);
            }
            flags.insert(c, expected);
        }
    }
    (records, flags)
}

fn ndjson_of(records: &[Value]) -> String {
    records.iter().map(|r| compact(r) + "\n").collect()
}

/// The generated hour written to `dir/hour.ndjson`.
fn hour_in(dir: &Path) -> BTreeMap<String, BTreeSet<&'static str>> {
    let (records, flags) = hour();
    write(&dir.join("hour.ndjson"), ndjson_of(&records));
    flags
}

fn flags_of(t: &Value) -> BTreeSet<&str> {
    strings(&t["flags"]).into_iter().collect()
}

fn flagged(flags: &BTreeMap<String, BTreeSet<&'static str>>, name: &str) -> BTreeSet<String> {
    flags
        .iter()
        .filter(|(_, f)| f.contains(name))
        .map(|(c, _)| c.clone())
        .collect()
}

/// The findings expected of the hour, as (kind, flag, from, to, count).
fn expected_findings(
    flags: &BTreeMap<String, BTreeSet<&'static str>>,
) -> Vec<(String, Value, String, String, u64)> {
    let window = |kind: &str, flag: Value, r: std::ops::Range<i64>, count: u64| {
        (kind.to_owned(), flag, at(r.start), at(r.end), count)
    };
    let mut out = vec![
        // 3 minutes of 8 conversations of 4 events.
        window("late_delivery", json!("late_delivery"), LATE, 3 * 8 * 4),
        window("volume_drop", Value::Null, SILENT, 0),
        window("error_disconnects", json!("error_disconnect"), ERRORS, 2 * 8),
    ];
    for name in [
        "abandoned",
        "duplicates",
        "error_disconnect",
        "gap",
        "late_delivery",
        "multi_media",
        "no_end",
        "transferred",
    ] {
        let convs = flagged(flags, name);
        let from = convs.iter().map(|c| conversation_start(c)).min().unwrap();
        let to = convs.iter().map(|c| conversation_end(c, flags)).max().unwrap();
        out.push(("flag".into(), json!(name), iso(from), iso(to), convs.len() as u64));
    }
    out
}

/// Minute and index of a generated conversation id.
fn parts(c: &str) -> (i64, i64) {
    let n = i64::from_str_radix(&c[c.len() - 12..], 16).unwrap();
    (n / 100, n % 100)
}

fn conversation_start(c: &str) -> i64 {
    let (m, k) = parts(c);
    T0 + m * MINUTE + k * 1007
}

fn conversation_end(c: &str, flags: &BTreeMap<String, BTreeSet<&'static str>>) -> i64 {
    let f = &flags[c];
    let start = conversation_start(c);
    if f.contains("no_end") {
        start + 20_000
    } else if f.contains("gap") {
        start + 16 * MINUTE
    } else {
        start + 40_000
    }
}

fn report_findings(report: &Value) -> Vec<(String, Value, String, String, u64)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["flag"].clone(),
                f["from"].as_str().unwrap().to_owned(),
                f["to"].as_str().unwrap().to_owned(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_conversation_gets_exactly_its_flags_and_events_their_lag() {
    let dir = tempdir();
    let expected = hour_in(dir.path());
    let r = run_in(dir.path(), &["correlate", "hour.ndjson", "--offline", "-q"]).ok();
    let ts = r.timelines();
    assert_eq!(ts.len(), expected.len());
    for t in &ts {
        let c = t["conversation_id"].as_str().unwrap();
        assert_eq!(flags_of(t), expected[c].iter().copied().collect(), "{c}");
        for e in t["events"].as_array().unwrap() {
            let time = crate::millis(&e["time"]);
            if parts(c) == (16, 0) {
                assert_eq!(
                    (&e["delivered"], &e["lag_ms"]),
                    (&Value::Null, &Value::Null),
                    "flat shape"
                );
                continue;
            }
            let late = if expected[c].contains("late_delivery") {
                120_000
            } else {
                0
            };
            let delivered = time + late - (time + late) % 1000;
            assert_eq!(e["delivered"], json!(iso(delivered)), "{e}");
            assert_eq!(e["lag_ms"], json!(delivered - time), "{e}");
            assert!(late > 0 || (-999..=0).contains(&(delivered - time)));
        }
    }
    // --summary keeps the flags.
    let r = run_in(
        dir.path(),
        &["correlate", "hour.ndjson", "--offline", "-q", "--summary"],
    )
    .ok();
    for t in r.timelines() {
        assert!(t.get("events").is_none());
        assert_eq!(
            flags_of(&t),
            expected[t["conversation_id"].as_str().unwrap()]
                .iter()
                .copied()
                .collect()
        );
    }
}

#[test]
fn flags_in_json_csv_and_table() {
    let dir = tempdir();
    let expected = hour_in(dir.path());
    let base = ["correlate", "hour.ndjson", "--offline", "-q"];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        run_in(dir.path(), &args).ok()
    };
    let array = with(&["-f", "json"]).json();
    let from_json: BTreeMap<String, String> = array
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["conversation_id"].as_str().unwrap().to_owned(),
                strings(&t["flags"]).join("|"),
            )
        })
        .collect();
    let joined = |c: &str| expected[c].iter().copied().collect::<Vec<_>>().join("|");
    for (c, f) in &from_json {
        assert_eq!(*f, joined(c), "json {c}");
    }
    let (_, rows) = with(&["-f", "csv", "--summary"]).csv();
    assert_eq!(rows.len(), expected.len());
    for row in &rows {
        assert_eq!(row["flags"], joined(&row["conversation_id"]), "csv summary");
    }
    let (_, rows) = with(&["-f", "csv"]).csv();
    for row in &rows {
        let c = &row["conversation_id"];
        assert_eq!(row["flags"], joined(c), "csv events");
        if parts(c) == (16, 0) {
            assert_eq!((row["delivered"].as_str(), row["lag_ms"].as_str()), ("", ""));
        } else {
            let lag: i64 = row["lag_ms"].parse().unwrap();
            assert_eq!(
                crate::millis(&json!(row["delivered"])) - crate::millis(&json!(row["time"])),
                lag
            );
        }
    }
    let table = with(&["-f", "table"]);
    let text = table.text();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    // Cells are separated by two spaces or more; the conversation id and the flags come last.
    let cells = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    assert_eq!(cells(header)[6..], ["CONVERSATION", "FLAGS"]);
    let mut seen = 0;
    for line in lines {
        let row = cells(line);
        let (c, shown) = (row[6].as_str(), row[7].as_str());
        let want = expected[c].iter().copied().collect::<Vec<_>>().join(",");
        assert_eq!(shown, if want.is_empty() { "-" } else { &want }, "{line}");
        seen += 1;
    }
    assert_eq!(seen, expected.len());
}

#[test]
fn flag_selects_conversations_with_any_of_the_named_flags() {
    let dir = tempdir();
    let expected = hour_in(dir.path());
    let r = run_in(
        dir.path(),
        &[
            "correlate",
            "hour.ndjson",
            "--offline",
            "-q",
            "--flag",
            "no_end",
            "--flag",
            "abandoned",
        ],
    )
    .ok();
    let got: BTreeSet<String> = r
        .timelines()
        .iter()
        .map(|t| t["conversation_id"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = &flagged(&expected, "no_end") | &flagged(&expected, "abandoned");
    assert_eq!(got.len(), 4);
    assert_eq!(got, want);
    // The conversations left out count as filtered out: the summary still adds up.
    let r = run_in(
        dir.path(),
        &[
            "correlate",
            "hour.ndjson",
            "--offline",
            "-o",
            "out.ndjson",
            "--flag",
            "no_end,abandoned",
        ],
    )
    .ok();
    let summary = r.summary();
    assert_eq!(summary.conversations, 4);
    assert_eq!(summary.unique, 3 * 3 + 4);
    // The thresholds move the flags: with --late-threshold 3m nothing is late; with --gap 20m
    // nothing has a gap.
    let r = run_in(
        dir.path(),
        &[
            "correlate",
            "hour.ndjson",
            "--offline",
            "-q",
            "--late-threshold",
            "3m",
            "--flag",
            "late_delivery",
        ],
    )
    .ok();
    assert!(r.timelines().is_empty());
    let r = run_in(
        dir.path(),
        &[
            "correlate",
            "hour.ndjson",
            "--offline",
            "-q",
            "--gap",
            "20m",
            "--flag",
            "gap",
        ],
    )
    .ok();
    assert!(r.timelines().is_empty());
    let r = run_in(
        dir.path(),
        &["correlate", "hour.ndjson", "--offline", "-q", "--flag", "gap"],
    )
    .ok();
    assert_eq!(r.timelines().len(), 1);
}

#[test]
fn unknown_flag_is_a_usage_error_listing_the_vocabulary() {
    let dir = tempdir();
    hour_in(dir.path());
    let r = run_in(
        dir.path(),
        &["correlate", "hour.ndjson", "--offline", "--flag", "late"],
    )
    .code(2);
    assert!(r.stdout.is_empty());
    for name in [
        "abandoned",
        "duplicates",
        "error_disconnect",
        "gap",
        "late_delivery",
        "multi_media",
        "no_end",
        "transferred",
    ] {
        assert!(r.stderr.contains(name), "{name}: {}", r.stderr);
    }
    let r = run_in(
        dir.path(),
        &["correlate", "hour.ndjson", "--offline", "--gap", "soon"],
    )
    .code(2);
    assert!(r.stderr.contains("--gap"), "{}", r.stderr);
}

#[test]
fn report_has_the_minute_series_and_exactly_the_injected_findings() {
    let dir = tempdir();
    let expected = hour_in(dir.path());
    let r = run_in(
        dir.path(),
        &[
            "correlate",
            "hour.ndjson",
            "--offline",
            "--report",
            "run.json",
            "-o",
            "out.ndjson",
        ],
    )
    .ok();
    let report: Value = serde_json::from_slice(&std::fs::read(dir.path().join("run.json")).unwrap()).unwrap();
    assert_eq!(report_findings(&report), expected_findings(&expected));
    let minutes = report["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 60, "10:00 to 10:59, silent minutes included");
    for (i, m) in minutes.iter().enumerate() {
        assert_eq!(m["minute"], json!(at(i as i64)));
    }
    // An ordinary minute: 8 conversations of 4 events; lags 0, -7, ..., -49 ms four times each.
    assert_eq!(
        minutes[0],
        json!({"minute": at(0), "events": 32, "conversations_started": 8, "duplicates": 0,
               "lag_p50_ms": -28, "lag_p99_ms": 0, "lag_max_ms": 0,
               "disconnects": {"endpoint": 8}, "error_disconnects": 0})
    );
    assert_eq!(minutes[2]["events"], 31, "the gap conversation ends in minute 18");
    assert_eq!(minutes[18]["events"], 33);
    assert_eq!(minutes[14]["duplicates"], 1);
    assert_eq!(minutes[20]["lag_p50_ms"], 119_972);
    assert_eq!(minutes[20]["lag_p99_ms"], 120_000);
    assert_eq!(minutes[31]["events"], 0);
    assert_eq!(minutes[31]["lag_p99_ms"], Value::Null);
    assert_eq!(
        minutes[45]["disconnects"],
        json!({"error": 4, "transport_failure": 4})
    );
    assert_eq!(minutes[45]["error_disconnects"], 8);
    assert_eq!(minutes[16]["events"], 32);
    assert_eq!(
        minutes.iter().map(|m| m["events"].as_u64().unwrap()).sum::<u64>(),
        report["unique_events"].as_u64().unwrap()
    );
    assert_eq!(
        minutes
            .iter()
            .map(|m| m["conversations_started"].as_u64().unwrap())
            .sum::<u64>(),
        expected.len() as u64
    );
    // The stderr summary ends with the findings, one line each, in the report's order.
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    let lines: Vec<&str> = r.stderr.lines().collect();
    let tail = &lines[lines.len() - messages.len()..];
    for (line, message) in tail.iter().zip(&messages) {
        assert_eq!(*line, format!("gcorr: finding: {message}"));
    }
    assert!(
        messages[0].starts_with("late delivery 2026-03-02 10:20–10:23 UTC: 96 events"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].starts_with("volume drop 2026-03-02 10:30–10:35 UTC: 0 events"),
        "{}",
        messages[1]
    );
    assert_eq!(messages.last().unwrap(), &"transferred: 2 conversations");
    // -q: no summary, no findings.
    let r = run_in(
        dir.path(),
        &["correlate", "hour.ndjson", "--offline", "-q", "-o", "out.ndjson"],
    )
    .ok();
    assert_eq!(r.stderr, "");
}

#[test]
fn findings_are_independent_of_threads_and_input_order() {
    let dir = tempdir();
    let (mut records, _) = hour();
    write(&dir.path().join("hour.ndjson"), ndjson_of(&records));
    // Reversed, except that the duplicate still comes second (the first copy is the one kept).
    records.reverse();
    write(&dir.path().join("reversed.ndjson"), ndjson_of(&records));
    let report = |input: &str, threads: &str| {
        run_in(
            dir.path(),
            &[
                "correlate",
                input,
                "--offline",
                "-q",
                "--threads",
                threads,
                "--report",
                "run.json",
                "-o",
                "out.ndjson",
            ],
        )
        .ok();
        let mut r: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("run.json")).unwrap()).unwrap();
        r.as_object_mut().unwrap().remove("elapsed_ms");
        let out = std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap();
        let flags: Vec<(String, Value)> = out
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|t| {
                (
                    t["conversation_id"].as_str().unwrap().to_owned(),
                    t["flags"].clone(),
                )
            })
            .collect();
        (r["minutes"].clone(), r["findings"].clone(), flags)
    };
    let one = report("hour.ndjson", "1");
    assert_eq!(report("hour.ndjson", "4"), one);
    assert_eq!(report("reversed.ndjson", "3"), one);
}

#[test]
fn html_report_draws_the_charts_and_shades_the_finding_windows() {
    let dir = tempdir();
    let expected = hour_in(dir.path());
    run_in(
        dir.path(),
        &[
            "correlate",
            "hour.ndjson",
            "--offline",
            "-q",
            "-f",
            "html",
            "-o",
            "report.html",
        ],
    )
    .ok();
    let page = dir.path().join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script src"), "self-contained");
    let dom = dump_dom(&page, "");
    let charts: Vec<&str> = dom.values("data-chart");
    assert_eq!(charts, ["events", "lag_p99", "error_disconnects"]);
    for chart in &charts {
        let svg = dom
            .elements
            .iter()
            .find(|e| e.attr("data-chart") == Some(chart))
            .unwrap();
        assert_eq!(svg.name, "svg", "{chart} is inline SVG");
    }
    // One bar per minute in each chart; the lag chart draws the threshold.
    for chart in &charts {
        let bars = dom
            .elements
            .iter()
            .filter(|e| e.attr("data-minute").is_some() && e.attr("data-of") == Some(chart))
            .count();
        assert_eq!(bars, 60, "{chart}");
    }
    assert_eq!(dom.values("data-threshold"), ["60000"]);
    // Every window finding is shaded in every chart, at its window.
    let shaded: Vec<(&str, &str, &str)> = dom
        .with("data-window")
        .map(|e| {
            (
                e.attr("data-window").unwrap(),
                e.attr("data-from").unwrap(),
                e.attr("data-to").unwrap(),
            )
        })
        .collect();
    let windows = [
        ("late_delivery", at(LATE.start), at(LATE.end)),
        ("volume_drop", at(SILENT.start), at(SILENT.end)),
        ("error_disconnects", at(ERRORS.start), at(ERRORS.end)),
    ];
    assert_eq!(shaded.len(), 3 * windows.len());
    for (kind, from, to) in &windows {
        let n = shaded
            .iter()
            .filter(|s| (s.0, s.1, s.2) == (kind, from.as_str(), to.as_str()))
            .count();
        assert_eq!(n, 3, "{kind} shaded in each chart");
    }
    // Each finding links to the overview filtered by its flag and window.
    let links: Vec<&str> = dom.values("data-finding");
    assert_eq!(links.len(), expected_findings(&expected).len());
    // The overview shows each conversation's flags, and a flag filter lists the vocabulary.
    let rows: BTreeMap<&str, &str> = dom
        .elements
        .iter()
        .filter(|e| e.attr("data-flags").is_some() && e.attr("data-conversation").is_some())
        .map(|e| {
            (
                e.attr("data-conversation").unwrap(),
                e.attr("data-flags").unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), expected.len());
    for (c, f) in rows {
        assert_eq!(
            f,
            expected[c].iter().copied().collect::<Vec<_>>().join(" "),
            "{c}"
        );
    }
    let options: Vec<&str> = dom
        .elements
        .iter()
        .filter(|e| e.name == "option" && e.attr("data-flag-option").is_some())
        .map(|e| e.attr("value").unwrap())
        .collect();
    assert_eq!(
        options,
        [
            "",
            "abandoned",
            "duplicates",
            "error_disconnect",
            "gap",
            "late_delivery",
            "multi_media",
            "no_end",
            "transferred"
        ]
    );
    // A finding's link filters the overview to its conversations: following the late-delivery
    // window shows exactly the late ones; the no_end summary, exactly those; the flag filter
    // does the same by hand.
    // (The link's query is form-encoded: `:` is `%3A`.)
    let late = format!("#flag=late_delivery&from={}&to={}", at(LATE.start), at(LATE.end)).replace(':', "%3A");
    let hrefs: Vec<&str> = dom.with("data-finding").filter_map(|e| e.attr("href")).collect();
    assert!(hrefs.contains(&late.as_str()), "{hrefs:?}");
    assert!(hrefs.contains(&"#flag=no_end"), "{hrefs:?}");
    let looks = Browser::new()
        .goto(&page, "")
        .look()
        .hash(&late)
        .look()
        .hash("#flag=no_end")
        .look()
        .goto(&page, "")
        .select("#f-flag", "error_disconnect")
        .look()
        .run();
    let shown = |i: usize| -> BTreeSet<String> { looks[i].shown().into_iter().map(String::from).collect() };
    assert_eq!(shown(0).len(), expected.len(), "nothing filtered at first");
    for (i, flag) in [(1, "late_delivery"), (2, "no_end"), (3, "error_disconnect")] {
        assert_eq!(shown(i), flagged(&expected, flag), "{flag}");
    }
}
