//! `--format html`'s embedded data: the compact lines the page decodes hold exactly the
//! timelines `--format json` writes (read back here by an independent decoder of the layout
//! documented in src/output/html.rs), and what the page shows for an opened conversation is
//! what its timeline holds (checked in Chromium against the NDJSON of the same input).

use std::path::Path;

use serde_json::{Value, json};

use crate::ux::report::browser::{Browser, open};
use crate::ux::report::{Dom, Element};
use crate::{T0, envelope, events, fixtures, id_of, iso, many_records, ndjson, run_in, tempdir, uuid, write};

/// The lines of the page's data element.
fn data_lines(html: &str) -> impl Iterator<Item = &str> {
    let start = html.find("id=\"data\">").expect("the data element") + "id=\"data\">".len();
    let end = start + html[start..].find("</script>").expect("closed");
    html[start..end].lines().filter(|l| !l.is_empty())
}

/// The page's embedded timelines, decoded into the shape of `--format json`.
pub(crate) fn embedded_timelines(html: &str) -> Vec<Value> {
    let mut lines = data_lines(html);
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        let chunk: Value = serde_json::from_str(line).expect("a chunk line");
        let strings = chunk[0].as_array().expect("the chunk's strings");
        let s = |k: &Value| match k.as_u64().expect("a string's number") {
            0 => Value::Null,
            k => strings[k as usize - 1].clone(),
        };
        let list = |ks: &Value| Value::Array(ks.as_array().expect("numbers").iter().map(s).collect());
        for row in chunk[1].as_array().expect("the chunk's rows") {
            let detail: Value = serde_json::from_str(lines.next().expect("a detail line")).expect("JSON");
            let base = row[1].as_i64().expect("start");
            let duration = row[2].as_i64().expect("duration");
            let handoffs: Vec<Value> = detail[0]
                .as_array()
                .unwrap()
                .chunks(3)
                .map(|h| json!({"from": s(&h[0]), "to": s(&h[1]), "at": iso(base + h[2].as_i64().unwrap())}))
                .collect();
            let participants: Vec<Value> = detail[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    json!({"participant_id": s(&p[0]), "purpose": s(&p[1]), "name": s(&p[2]),
                        "user_id": s(&p[3]), "queue_id": s(&p[4]), "media_types": list(&p[5]),
                        "sessions": p[6]})
                })
                .collect();
            let enrichment = s(&row[7]);
            let mut t = json!({
                "conversation_id": row[0], "start": iso(base), "end": iso(base + duration),
                "duration_ms": duration, "media_types": list(&row[3]), "handoffs": handoffs,
                "event_count": row[4], "duplicates_dropped": row[5], "flags": list(&row[6]),
                "participants": participants,
                "enrichment": serde_json::from_str::<Value>(enrichment.as_str().unwrap()).unwrap(),
            });
            if let Some(evs) = detail.get(2) {
                let evs = evs.as_array().unwrap();
                assert_eq!(evs.len() % 14, 0, "fourteen numbers an event");
                t["events"] = evs
                    .chunks(14)
                    .map(|e| {
                        let time = base + e[1].as_i64().unwrap();
                        let lag = e[2].as_i64();
                        let source = format!("{}{}", s(&e[12]).as_str().unwrap(), e[13]);
                        json!({"event_id": e[0], "time": iso(time), "delivered": lag.map(|l| iso(time + l)),
                            "lag_ms": lag, "event_type": s(&e[3]), "media_type": s(&e[4]),
                            "participant_id": s(&e[5]), "session_id": s(&e[6]), "direction": s(&e[7]),
                            "queue_id": s(&e[8]), "user_id": s(&e[9]), "disconnect_type": s(&e[10]),
                            "wrapup_code": s(&e[11]), "source": source})
                    })
                    .collect();
            }
            out.push(t);
        }
    }
    out
}

/// `gcorr correlate ARGS` in `dir`, as NDJSON and as the html report's decoded data.
fn both(dir: &Path, args: &[&str]) -> (Vec<Value>, Vec<Value>, String) {
    let json = run_in(dir, &[&["correlate"], args].concat()).ok().timelines();
    let out = tempdir();
    let page = out.path().join("report.html");
    run_in(
        dir,
        &[
            &["correlate"],
            args,
            &["-f", "html", "-o", page.to_str().unwrap()],
        ]
        .concat(),
    )
    .ok();
    let html = std::fs::read_to_string(&page).expect("the report is written");
    (json, embedded_timelines(&html), html)
}

#[test]
fn html_embeds_exactly_the_timelines_of_format_json() {
    // Enriched from the cache: API participants, sessions, segments, handoffs, names.
    let fx = fixtures();
    for extra in [&[][..], &["--summary"]] {
        let args = [&["events.ndjson", "--offline", "--cache-dir", "cache"][..], extra].concat();
        let (json, embedded, _) = both(&fx, &args);
        assert_eq!(json.len(), 5);
        assert_eq!(embedded, json, "{args:?}");
    }

    // Several chunks (256 conversations each), duplicates, missing delivery times, odd text
    // that JSON must escape, ids that are not UUIDs, and no enrichment.
    let dir = tempdir();
    let mut records = many_records(8 * 700);
    let odd = "odd \"id\" </script> \\ \u{2028} é";
    records.push(envelope(
        &format!("ev {odd}"),
        odd,
        "customer.start",
        T0,
        Some("VOICE"),
    ));
    let mut late = envelope(&uuid(0xe9, 1), odd, "customer.end", T0 + 9000, Some("chat"));
    late["detail"]["eventBody"]["disconnectType"] = json!(odd);
    late["detail"].as_object_mut().unwrap().remove("timestamp");
    late.as_object_mut().unwrap().remove("time");
    records.push(late);
    write(&dir.path().join("events.ndjson"), ndjson(&records));
    let (json, embedded, html) = both(dir.path(), &["events.ndjson", "--offline"]);
    assert_eq!(json.len(), 701);
    assert!(
        json.iter().flat_map(events).any(|e| e["lag_ms"].is_null()),
        "an event without a delivery time"
    );
    assert_eq!(html.matches("</script>").count(), 3, "nothing closes a script");
    assert_eq!(embedded, json);
}

#[test]
fn html_chunk_too_large_to_hold_is_streamed_as_the_same_data() {
    // Over 32 MB estimated (600 bytes an event): the chunk is written a timeline at a time.
    let dir = tempdir();
    let big = uuid(0xb1, 1);
    let mut records: Vec<Value> = (0..56_000u64)
        .map(|i| envelope(&uuid(0xe1, i), &big, "acd.start", T0 + i as i64, Some("VOICE")))
        .collect();
    for c in 0..3u64 {
        records.push(envelope(
            &uuid(0xe2, c),
            &uuid(0xc2, c),
            "customer.start",
            T0 + 5,
            Some("CHAT"),
        ));
    }
    write(&dir.path().join("events.ndjson"), ndjson(&records));
    let (json, embedded, html) = both(dir.path(), &["events.ndjson", "--offline", "--threads", "2"]);
    assert_eq!(json.len(), 4);
    assert_eq!(embedded, json);
    assert_eq!(
        data_lines(&html).count(),
        8,
        "a chunk line and a detail line per timeline"
    );
    assert!(
        html.len() < 56_000 * 120,
        "about 100 bytes an event: {}",
        html.len()
    );
}

/// The elements of `dom` that have `attr` set to `value`.
fn having<'a>(dom: &'a Dom, attr: &str, value: &str) -> Vec<&'a Element> {
    dom.elements
        .iter()
        .filter(|e| e.attr(attr) == Some(value))
        .collect()
}

/// Checks that `dom`, with `t` opened, shows `t` as its NDJSON says.
#[track_caller]
fn assert_shows(dom: &Dom, t: &Value) {
    let id = id_of(t);
    assert_eq!(dom.values("data-timeline"), [id], "only {id} is drawn");

    // Its overview row: every cell as the timeline says.
    let i = dom
        .elements
        .iter()
        .position(|e| e.attr("data-conversation") == Some(id))
        .expect("the row");
    let row = &dom.elements[i];
    assert_eq!(row.attr("aria-expanded"), Some("true"));
    let flags: Vec<&str> = t["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(row.attr("data-flags"), Some(flags.join(" ").as_str()));
    let cells: Vec<&Element> = dom.elements[i + 1..]
        .iter()
        .filter(|e| e.attr("role") == Some("cell"))
        .take(8)
        .collect();
    let start = t["start"].as_str().unwrap();
    assert_eq!(cells[0].text, format!("{} {}", &start[..10], &start[11..19]));
    assert_eq!(cells[3].text, t["event_count"].to_string());
    assert_eq!(cells[4].text, t["duplicates_dropped"].to_string());
    assert_eq!(cells[6].text, flags.join(", "));
    assert_eq!(cells[7].text, id);
    let media: Vec<&str> = dom.elements[i..]
        .iter()
        .skip_while(|e| !std::ptr::eq(*e, cells[2]))
        .skip(1)
        .take_while(|e| !std::ptr::eq(*e, cells[3]))
        .filter(|e| e.attr("class") == Some("m"))
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(media, strings_of(&t["media_types"]), "the media path");
    let status = t["enrichment"]["status"].as_str().unwrap();
    let badge = &having(dom, "class", &format!("status s-{status}"))[..];
    assert!(badge.iter().any(|b| b.text == status), "the {status} badge");

    // Its timeline: a lane per participant (then the events without one), a marker per event
    // saying its type and time, a line per handoff.
    let mut lanes: Vec<&str> = t["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["participant_id"].as_str().unwrap())
        .collect();
    for e in events(t) {
        if let Some(p) = e["participant_id"].as_str().filter(|p| !lanes.contains(p)) {
            lanes.push(p);
        }
    }
    if events(t).iter().any(|e| e["participant_id"].is_null()) {
        lanes.push("conversation");
    }
    assert_eq!(dom.values("data-lane"), lanes);
    let mut shown: Vec<(String, String)> = dom
        .with("data-event")
        .map(|m| {
            (
                m.attr("data-event").unwrap().to_owned(),
                m.attr("aria-label").unwrap().to_owned(),
            )
        })
        .collect();
    let mut held: Vec<(String, String)> = events(t)
        .iter()
        .map(|e| {
            let label = format!(
                "{} at {}",
                e["event_type"].as_str().unwrap(),
                e["time"].as_str().unwrap()
            );
            (e["event_id"].as_str().unwrap().to_owned(), label)
        })
        .collect();
    shown.sort();
    held.sort();
    assert_eq!(shown, held, "a marker per event, with its type and time");
    let handoffs: Vec<String> = t["handoffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| format!("{} → {}", h["from"].as_str().unwrap(), h["to"].as_str().unwrap()))
        .collect();
    assert_eq!(dom.values("data-handoff"), handoffs);
    for p in t["participants"].as_array().unwrap() {
        if let Some(name) = p["name"].as_str() {
            assert!(
                dom.elements
                    .iter()
                    .any(|e| e.attr("class") == Some("name") && e.text == name),
                "{name} labels its lane"
            );
        }
    }
    let segments = t["participants"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["sessions"].as_array().unwrap())
        .flat_map(|s| s["segments"].as_array().unwrap())
        .filter(|g| g["start"].is_string())
        .count();
    let bars = dom
        .elements
        .iter()
        .filter(|e| e.attr("class").is_some_and(|c| c.starts_with("bar seg-")))
        .count();
    assert_eq!(bars, segments, "a bar per API segment");
}

fn strings_of(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn html_opened_conversation_shows_what_its_timeline_holds() {
    let dir = tempdir();
    let page = dir.path().join("report.html");
    let fx = fixtures();
    let args = ["correlate", "events.ndjson", "--offline", "--cache-dir", "cache"];
    let timelines = run_in(&fx, &args).ok().timelines();
    run_in(
        &fx,
        &[&args[..], &["-f", "html", "-o", page.to_str().unwrap()]].concat(),
    )
    .ok();
    let mut browser = Browser::new();
    for t in &timelines {
        browser.goto(&page, &open(id_of(t))).look_dom();
    }
    let looks = browser.run();
    for (look, t) in looks.iter().zip(&timelines) {
        assert_shows(&Dom::parse(look.dom()), t);
    }
    assert!(
        timelines
            .iter()
            .any(|t| !t["handoffs"].as_array().unwrap().is_empty()),
        "a handoff among them"
    );

    // Far into a report of several chunks: the last conversation, and one in the middle.
    let many = tempdir();
    write(&many.path().join("events.ndjson"), ndjson(&many_records(8 * 600)));
    let args = ["correlate", "events.ndjson", "--offline"];
    let timelines = run_in(many.path(), &args).ok().timelines();
    let page = many.path().join("report.html");
    run_in(
        many.path(),
        &[&args[..], &["-f", "html", "-o", "report.html"]].concat(),
    )
    .ok();
    let picks = [&timelines[599], &timelines[300]];
    let mut browser = Browser::new();
    for t in picks {
        browser.goto(&page, &open(id_of(t))).look_dom();
    }
    let looks = browser.run();
    for (look, t) in looks.iter().zip(picks) {
        let dom = Dom::parse(look.dom());
        assert_eq!(dom.values("data-conversation").len(), 600, "every row");
        assert_shows(&dom, t);
    }
}
