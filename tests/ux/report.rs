//! `--format html`: the report written by the real binary, loaded in a real headless Chromium
//! (Debian's `chromium`, or `$GCORR_CHROMIUM`) and used as a user does: typing in the filter,
//! picking a media, clicking a row, following an `#open=` link, taking a screenshot. The
//! browser (browser/mod.rs and drive.mjs) reports what is rendered: layout boxes, computed
//! visibility, what a click at a row would hit, the visible text, pixels, and the DOM.
//!
//! The DOM is read back with a small tokenizer (serialised HTML: attributes always
//! double-quoted), never grepped: an attribute value holding `<img` is not an element.

#[path = "browser/mod.rs"]
pub(crate) mod browser;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Value, json};

use crate::{A, C, D, T0, envelope, events, id_of, ndjson, run, run_in, strings, tempdir, uuid, write};
use browser::{Browser, Look, WINDOW, open, screenshot};

/// Loads `page` with `fragment` and returns the DOM once the page's script has run.
#[track_caller]
pub(crate) fn dump_dom(page: &Path, fragment: &str) -> Dom {
    Dom::parse(Browser::new().goto(page, fragment).look_dom().run()[0].dom())
}

// ---------------------------------------------------------------------------------------------
// The DOM, read back

#[derive(Debug)]
pub(crate) struct Element {
    pub(crate) name: String,
    attrs: Vec<(String, String)>,
    /// The text directly after the start tag, up to the next tag.
    pub(crate) text: String,
}

impl Element {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) struct Dom {
    pub(crate) elements: Vec<Element>,
    /// Every text node, decoded.
    texts: Vec<String>,
}

impl Dom {
    /// Tokenizes serialised HTML: start tags with their attributes and text nodes; the
    /// contents of `script` and `style` are skipped.
    pub(crate) fn parse(html: &str) -> Dom {
        let (mut elements, mut texts) = (Vec::<Element>::new(), Vec::new());
        let mut rest = html;
        while !rest.is_empty() {
            let Some(lt) = rest.find('<') else {
                texts.push(decode(rest));
                break;
            };
            if lt > 0 {
                let text = decode(&rest[..lt]);
                if let Some(last) = elements.last_mut().filter(|e| e.text.is_empty()) {
                    last.text = text.clone();
                }
                texts.push(text);
            }
            rest = &rest[lt + 1..];
            if let Some(comment) = rest.strip_prefix("!--") {
                rest = &comment[comment.find("-->").expect("a closed comment") + 3..];
                continue;
            }
            // The tag, up to its `>` outside quotes.
            let mut quoted = false;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    if c == '"' {
                        quoted = !quoted;
                    }
                    c == '>' && !quoted
                })
                .expect("a closed tag")
                .0;
            let tag = &rest[..end];
            rest = &rest[end + 1..];
            if tag.starts_with('/') || tag.starts_with('!') {
                continue;
            }
            let name_end = tag
                .find(|c: char| c.is_whitespace() || c == '/')
                .unwrap_or(tag.len());
            let name = tag[..name_end].to_ascii_lowercase();
            elements.push(Element {
                attrs: attributes(&tag[name_end..]),
                name: name.clone(),
                text: String::new(),
            });
            if name == "script" || name == "style" {
                let close = format!("</{name}>");
                rest = &rest[rest.find(&close).expect("a closed raw-text element")..];
            }
        }
        Dom { elements, texts }
    }

    pub(crate) fn with<'a>(&'a self, attr: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements.iter().filter(move |e| e.attr(attr).is_some())
    }

    pub(crate) fn values<'a>(&'a self, attr: &'a str) -> Vec<&'a str> {
        self.with(attr).map(|e| e.attr(attr).unwrap()).collect()
    }

    /// The number shown for a summary figure.
    #[track_caller]
    fn figure(&self, key: &str) -> u64 {
        let i = self
            .elements
            .iter()
            .position(|e| e.attr("data-figure") == Some(key))
            .unwrap_or_else(|| panic!("no figure {key}"));
        let b = &self.elements[i + 1];
        assert_eq!(b.name, "b", "a figure's number comes first");
        b.text.replace(',', "").parse().expect("a number")
    }
}

fn attributes(mut s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if s.is_empty() {
            return out;
        }
        let end = s.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(s.len());
        let name = s[..end].to_ascii_lowercase();
        s = &s[end..];
        match s.strip_prefix("=\"") {
            Some(v) => {
                let close = v.find('"').expect("a closed attribute value");
                out.push((name, decode(&v[..close])));
                s = &v[close + 1..];
            }
            None => out.push((name, String::new())),
        }
    }
}

fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

// ---------------------------------------------------------------------------------------------
// Reports

/// Writes the report of `args` (run in fixtures/) to a temporary directory.
fn fixtures_report(dir: &Path, args: &[&str]) -> (PathBuf, String) {
    report_of(&crate::fixtures(), dir.join("report.html"), args)
}

/// `gcorr correlate events.ndjson --offline --cache-dir cache -f html -o PAGE ARGS` run in
/// `cwd`: the page's path and text.
fn report_of(cwd: &Path, page: PathBuf, args: &[&str]) -> (PathBuf, String) {
    let mut all = vec![
        "correlate",
        "events.ndjson",
        "--offline",
        "--cache-dir",
        "cache",
        "-f",
        "html",
        "-o",
        page.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    run_in(cwd, &all).ok();
    let html = std::fs::read_to_string(&page).expect("the report is written");
    (page, html)
}

#[track_caller]
fn assert_self_contained(html: &str) {
    for needle in ["http://", "https://", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(needle), "the report references {needle}");
    }
    assert_eq!(
        html.matches("</script>").count(),
        3,
        "run data, timelines, code: nothing in the data closes a script"
    );
}

#[test]
fn html_report_of_the_fixtures_shows_the_run_and_the_opened_timeline() {
    let dir = tempdir();
    let (page, html) = fixtures_report(dir.path(), &[]);
    assert_self_contained(&html);
    let enriched = run(&["correlate", "events.ndjson", "--offline", "--cache-dir", "cache"]).ok();
    let timelines = enriched.timelines();
    assert_eq!(timelines.len(), 5);
    for t in &timelines {
        assert!(html.contains(id_of(t)), "{} is in the report", id_of(t));
    }
    let (_, again) = report_of(
        &crate::fixtures(),
        dir.path().join("again.html"),
        &["--threads", "1"],
    );
    assert_eq!(again, html, "byte-identical");

    let started = Instant::now();
    let looks = Browser::new()
        .goto(&page, &open(A))
        .look_dom()
        .goto(&page, &open(C))
        .look_dom()
        .run();
    let dom = Dom::parse(looks[0].dom());
    let ids: Vec<&str> = timelines.iter().map(id_of).collect();
    assert_eq!(
        dom.values("data-conversation"),
        ids,
        "one row per conversation, in order"
    );
    assert_eq!(
        dom.values("data-timeline"),
        [A],
        "only the opened conversation is drawn"
    );
    let a = timelines.iter().find(|t| id_of(t) == A).unwrap();
    let participants: Vec<&str> = a["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["participant_id"].as_str().unwrap())
        .collect();
    assert_eq!(participants.len(), 5, "customer, IVR, two queues, agent");
    assert!(
        events(a).iter().all(|e| e["participant_id"].is_string()),
        "no conversation lane"
    );
    assert_eq!(dom.values("data-lane"), participants, "one lane per participant");
    let mut markers = dom.values("data-event");
    let mut event_ids: Vec<&str> = events(a)
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    markers.sort_unstable();
    event_ids.sort_unstable();
    assert_eq!(markers, event_ids, "one marker per event (in lane order)");
    assert_eq!(dom.values("data-handoff"), ["voice → callback"]);
    let bars = dom
        .elements
        .iter()
        .filter(|e| e.attr("class").is_some_and(|c| c.split(' ').any(|c| c == "bar")));
    assert_eq!(bars.count(), 5, "a bar per API segment");

    // The same counts as the plain run's summary (whose lines the helper reads).
    let s = run(&["correlate", "events.ndjson"]).ok().summary();
    for (key, n) in [
        ("inputs", s.inputs),
        ("records", s.records),
        ("invalid", s.invalid),
        ("not_conversation", s.not_conversation),
        ("filtered", s.filtered),
        ("duplicates", s.duplicates),
        ("unique_events", s.unique),
        ("conversations", s.conversations),
        ("enrichment-cached", 5),
        ("requests", 0),
    ] {
        assert_eq!(dom.figure(key), n, "{key}");
    }

    // C has an event without participant (a queue conversation-object event): its own lane.
    let dom = Dom::parse(looks[1].dom());
    let lanes = dom.values("data-lane");
    assert_eq!(lanes.last(), Some(&"conversation"), "{lanes:?}");
    assert_eq!(lanes.len(), 5, "four participants and the conversation");
    assert_eq!(dom.values("data-event").len(), 11);
    assert!(dom.values("data-handoff").is_empty());
    eprintln!("two report loads in Chromium: {:?}", started.elapsed());
}

#[test]
fn html_summary_report_is_the_overview_only() {
    let dir = tempdir();
    let (page, html) = fixtures_report(dir.path(), &["--summary"]);
    assert_self_contained(&html);
    assert!(!html.contains("\"events\":["), "no event lists");
    let dom = dump_dom(&page, &open(A));
    assert_eq!(dom.values("data-conversation").len(), 5);
    assert!(dom.values("data-timeline").is_empty(), "nothing to expand");
    assert!(dom.values("data-lane").is_empty());
    assert!(
        dom.with("data-conversation")
            .all(|r| r.attr("aria-expanded").is_none()),
        "rows are not expandable"
    );
    assert!(
        dom.texts.iter().any(|t| t.contains("--summary")),
        "the page says why"
    );
}

const HOSTILE: &str = "</script><img src=x onerror=alert(1)>";

#[test]
fn hostile_strings_in_the_data_stay_text() {
    let dir = tempdir();
    let odd = format!("c{HOSTILE}");
    let enriched = uuid(0xbad, 1);
    let kind = format!("x{HOSTILE}");
    let mut records = vec![
        envelope(&uuid(0xe1, 1), &odd, &kind, T0, Some("VOICE")),
        envelope(&uuid(0xe1, 2), &odd, "customer.end", T0 + 5000, Some("VOICE")),
        envelope(&uuid(0xe1, 3), &enriched, &kind, T0 + 100, Some("CHAT")),
    ];
    records[1]["detail"]["eventBody"]["disconnectType"] = json!(HOSTILE);
    write(&dir.path().join("events.ndjson"), ndjson(&records));
    let at = |ms: i64| crate::iso(ms);
    let conversation = json!({
        "id": enriched,
        "participants": [{
            "id": uuid(0xba, 9), "purpose": "agent", "name": format!("Ann{HOSTILE}"),
            "chats": [{"id": uuid(0x5e, 9), "state": "disconnected", "connectedTime": at(T0),
                "disconnectedTime": at(T0 + 9000),
                "segments": [{"startTime": at(T0), "endTime": at(T0 + 9000), "type": HOSTILE}]}]
        }]
    });
    write(
        &dir.path().join(format!("cache/conversations/{enriched}.json")),
        serde_json::to_vec(&conversation).unwrap(),
    );
    let (page, html) = report_of(dir.path(), dir.path().join("report.html"), &[]);
    assert!(!html.contains("<img"), "never markup in the file");
    assert!(html.contains(r"\u003cimg src=x"), "escaped inside the JSON");
    assert_eq!(html.matches("</script>").count(), 3, "no string closes a script");

    let cases = [
        (odd.as_str(), None),
        (enriched.as_str(), Some(format!("Ann{HOSTILE}"))),
    ];
    let mut browser = Browser::new();
    for (id, _) in &cases {
        browser.goto(&page, &open(id)).look_dom();
    }
    for (look, (id, name)) in browser.run().iter().zip(cases) {
        let dom = Dom::parse(look.dom());
        let tags: Vec<&str> = dom.elements.iter().map(|e| e.name.as_str()).collect();
        assert!(!tags.contains(&"img"), "no img element: {tags:?}");
        assert_eq!(dom.values("data-conversation").len(), 2);
        assert_eq!(dom.values("data-timeline"), [id], "#open= finds the odd id too");
        assert!(dom.texts.iter().any(|t| t == id), "the id shows as text");
        if let Some(name) = name {
            assert!(dom.texts.contains(&name), "the name shows as text");
        }
        assert!(
            dom.with("data-event")
                .any(|m| m.attr("aria-label").is_some_and(|l| l.contains(&kind))),
            "the event type is an attribute value, not markup"
        );
    }
}

#[test]
fn html_report_of_5000_conversations_loads_with_no_lanes_drawn() {
    let dir = tempdir();
    let mut records: Vec<Value> = Vec::with_capacity(20_000);
    for c in 0..5000u64 {
        let conversation = uuid(0xc5, c);
        let base = T0 + c as i64 * 1000;
        for (k, (kind, media)) in [
            ("customer.start", "VOICE"),
            ("acd.start", "VOICE"),
            ("user.start", if c % 3 == 0 { "CALLBACK" } else { "VOICE" }),
            ("customer.end", "VOICE"),
        ]
        .into_iter()
        .enumerate()
        {
            let id = uuid(0xe5, c * 4 + k as u64);
            records.push(envelope(
                &id,
                &conversation,
                kind,
                base + k as i64 * 7_000,
                Some(media),
            ));
        }
    }
    write(&dir.path().join("events.ndjson"), ndjson(&records));
    let started = Instant::now();
    run_in(
        dir.path(),
        &[
            "correlate",
            "events.ndjson",
            "--offline",
            "-f",
            "html",
            "-o",
            "report.html",
        ],
    )
    .ok();
    let page = dir.path().join("report.html");
    let size = std::fs::metadata(&page).unwrap().len();
    let written = started.elapsed();
    let dom = dump_dom(&page, "");
    eprintln!(
        "5,000 conversations: report of {:.1} MB written in {written:?}, loaded in Chromium in {:?}",
        size as f64 / 1e6,
        started.elapsed() - written
    );
    let rows = dom.values("data-conversation");
    assert_eq!(rows.len(), 5000, "every conversation listed");
    assert_eq!(rows[0], uuid(0xc5, 0));
    assert_eq!(rows[4999], uuid(0xc5, 4999));
    assert!(dom.values("data-lane").is_empty(), "lanes only on expand");
    assert!(dom.values("data-event").is_empty());
    assert_eq!(dom.figure("conversations"), 5000);
    assert_eq!(dom.figure("unique_events"), 20_000);
}

/// A report of `n` conversations, one a second from T0 (so listed in that order), each a voice
/// call of three events; every third one also has a chat. Returns the page and the ids in order.
fn report_of_many(dir: &Path, n: u64) -> (PathBuf, Vec<String>) {
    let ids: Vec<String> = (0..n).map(|c| uuid(0xc6, c)).collect();
    let mut records = Vec::new();
    for (c, id) in ids.iter().enumerate() {
        let base = T0 + c as i64 * 1000;
        let chat = if c % 3 == 0 { "CHAT" } else { "VOICE" };
        for (k, (kind, media)) in [
            ("customer.start", "VOICE"),
            ("user.start", chat),
            ("customer.end", "VOICE"),
        ]
        .into_iter()
        .enumerate()
        {
            let event = uuid(0xe6, c as u64 * 3 + k as u64);
            records.push(envelope(&event, id, kind, base + k as i64 * 60_000, Some(media)));
        }
    }
    write(&dir.join("events.ndjson"), ndjson(&records));
    let (page, _) = report_of(dir, dir.join("report.html"), &[]);
    (page, ids)
}

/// An opened row as the user must see it: on screen, below the sticky column header and not
/// under it, its timeline drawn and wholly on screen under it (rows opened before stay open).
#[track_caller]
fn assert_in_view(look: &Look, id: &str) {
    assert!(look.expanded().contains(&id), "{id} is open");
    let row = look.row(id);
    let (top, bottom) = (row["top"].as_f64().unwrap(), row["bottom"].as_f64().unwrap());
    assert!(row["shown"] == true, "the row is rendered: {row}");
    assert!(
        top >= look.head_bottom() - 0.5,
        "the row starts below the column header ({}): {row}",
        look.head_bottom()
    );
    assert!(row["on_top"] == true, "nothing covers the row: {row}");
    let t = look
        .timelines()
        .into_iter()
        .find(|t| t["id"] == id)
        .expect("its timeline is drawn");
    assert!(
        t["top"].as_f64().unwrap() >= bottom - 0.5 && t["bottom"].as_f64().unwrap() <= look.height(),
        "the timeline is on screen under its row ({top}..{bottom}): {t}"
    );
}

#[test]
fn html_filters_hide_the_rows_they_leave_out() {
    let dir = tempdir();
    let (page, _) = fixtures_report(dir.path(), &[]);
    let timelines = run(&["correlate", "events.ndjson", "--offline", "--cache-dir", "cache"])
        .ok()
        .timelines();
    let all: Vec<&str> = timelines.iter().map(id_of).collect();
    let d = timelines.iter().find(|t| id_of(t) == D).unwrap();
    let event = events(d)[0]["event_id"].as_str().unwrap();
    let chats: Vec<&str> = timelines
        .iter()
        .filter(|t| strings(&t["media_types"]).contains(&"chat"))
        .map(id_of)
        .collect();
    assert!(!chats.is_empty() && chats.len() < all.len() && !chats.contains(&A));

    let looks = Browser::new()
        .goto(&page, "")
        .look()
        .type_in("#f-text", event)
        .look()
        .goto(&page, &open(A))
        .look()
        .select("#f-media", "chat")
        .look()
        .type_in("#f-text", "no such conversation")
        .look()
        .hash(&open(C))
        .look()
        .run();
    let counter = |look: &Look, n: usize| {
        assert_eq!(
            look.text("counter"),
            Some(format!("{n} of 5 conversations").as_str())
        );
    };

    assert_eq!(looks[0].shown(), all, "every row on screen");
    counter(&looks[0], 5);
    assert_eq!(looks[0].text("empty"), None);

    assert_eq!(
        looks[1].shown(),
        [D],
        "typing an event id leaves its conversation"
    );
    counter(&looks[1], 1);
    for r in looks[1].rows().iter().filter(|r| r["id"] != D) {
        assert_eq!(r["height"], 0.0, "a row left out takes no room: {r}");
    }

    assert_eq!(looks[2].expanded(), [A]);
    assert_eq!(looks[2].timelines().len(), 1, "A's timeline is drawn");
    assert_eq!(
        looks[3].shown(),
        chats,
        "picking chat leaves the chat conversations"
    );
    counter(&looks[3], chats.len());
    assert!(looks[3].timelines().is_empty(), "A's timeline goes with its row");
    assert!(looks[3].details().is_empty());

    assert!(looks[4].shown().is_empty(), "nothing matches");
    counter(&looks[4], 0);
    assert_eq!(
        looks[4].text("empty"),
        Some("No conversation matches the filters.")
    );

    // A link to a conversation the filters hide clears them.
    assert_eq!(looks[5].shown(), all);
    counter(&looks[5], 5);
    assert_in_view(&looks[5], C);
}

#[test]
fn html_open_link_and_click_show_the_row_below_the_header_with_its_timeline() {
    let dir = tempdir();
    let (page, ids) = report_of_many(dir.path(), 60);
    let (far, other) = (ids[40].as_str(), ids[50].as_str());
    let shot = dir.path().join("shot.png");
    screenshot(&page, &open(far), &shot);
    let looks = Browser::new()
        .goto(&page, &open(far))
        .look()
        .png(&shot, f64::from(WINDOW.0) - 40.0)
        .hash(&open(other))
        .look()
        .hash("#open=no-such-conversation")
        .look()
        .goto(&page, "")
        .look()
        .click(&ids[8])
        .look()
        .goto(&page, "#open=no-such-conversation")
        .look()
        .run();

    // Opened by the link: scrolled to, clear of the sticky header.
    let opened = &looks[0];
    assert_eq!(opened.expanded(), [far]);
    assert_eq!(opened.text("missing"), None);
    assert_in_view(opened, far);
    assert!(
        opened.row(&ids[0])["on_top"] == false,
        "the list did scroll: the first row is out of view"
    );

    // Chromium's own screenshot of that link shows it too, not a blank page: down the pixel
    // column 40 px from the right (inside the overview, right of the text), the column
    // header's colour, then the open row's highlight, the height of a row. (Its layout is not
    // the driver's: `--window-size` counts a window frame that the screenshot does not have.)
    let png = &looks[1].0;
    assert_eq!(
        (png["width"].as_u64(), png["height"].as_u64()),
        (Some(WINDOW.0.into()), Some(WINDOW.1.into()))
    );
    assert!(png["colours"].as_u64().unwrap() > 20, "not a blank page");
    let column: Vec<&str> = png["column"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let (header, open_row) = ("241,245,249", "239,246,255");
    let highlight = column.iter().filter(|&&c| c == open_row).count();
    assert!(
        (28..=36).contains(&highlight),
        "the open row's highlight, a row high, in {column:?}"
    );
    let first = |colour| column.iter().position(|&c| c == colour);
    assert!(
        first(header) < first(open_row),
        "the open row below the column header: {column:?}"
    );

    // Another link while the page is open.
    assert_in_view(&looks[2], other);

    // A link to a conversation the report does not have says so, on screen.
    for look in [&looks[3], &looks[6]] {
        let missing = look.text("missing").expect("a message about the unknown id");
        assert!(missing.contains("no-such-conversation"), "{missing}");
    }
    assert!(looks[6].expanded().is_empty());
    assert_eq!(looks[4].text("missing"), None);

    // A click on a row near the bottom of the window: its timeline comes into view.
    let clicked = &looks[5];
    let before = looks[4].row(&ids[8]);
    assert!(
        before["bottom"].as_f64().unwrap() <= looks[4].height(),
        "the row is on screen before the click: {before}"
    );
    assert_in_view(clicked, &ids[8]);
}

#[test]
fn html_opened_conversation_shows_the_enrichment_error_and_correlation_id() {
    use crate::enrich::fake::{Fake, FakeConfig, Known};
    use crate::enrich::{CREDENTIALS, api_args};

    let dir = tempdir();
    let (found, gone) = (uuid(0xe7, 1), uuid(0xe7, 2));
    let records: Vec<Value> = [&found, &gone]
        .iter()
        .enumerate()
        .flat_map(|(c, id)| {
            let base = T0 + c as i64 * 1000;
            [
                envelope(
                    &uuid(0xe8, c as u64 * 2),
                    id,
                    "customer.start",
                    base,
                    Some("VOICE"),
                ),
                envelope(
                    &uuid(0xe8, c as u64 * 2 + 1),
                    id,
                    "customer.end",
                    base + 9000,
                    Some("VOICE"),
                ),
            ]
        })
        .collect();
    write(&dir.path().join("events.ndjson"), ndjson(&records));
    let fake = Fake::start(FakeConfig {
        known: Known::AllExcept([gone.clone()].into()),
        ..FakeConfig::default()
    });
    crate::finish(
        crate::command(
            dir.path(),
            &api_args(&fake, "events.ndjson", &["-f", "html", "-o", "report.html"]),
        )
        .envs(CREDENTIALS),
    );
    let page = dir.path().join("report.html");
    let html = std::fs::read_to_string(&page).expect("the report is written");
    let timelines = crate::htmldata::embedded_timelines(&html);
    let e = &timelines.iter().find(|t| id_of(t) == gone).unwrap()["enrichment"];
    assert_eq!(e["status"], "not_found", "{e}");
    let error = e["error"].as_str().expect("an error");
    let correlation = e["correlation_id"].as_str().expect("a correlation id");
    let sent = fake.log().requests_for(&gone);
    assert_eq!(
        sent.last().and_then(|r| r.correlation_id.as_deref()),
        Some(correlation),
        "the id the API answered with"
    );

    let looks = Browser::new()
        .goto(&page, "")
        .click(&gone)
        .look()
        .goto(&page, &open(&found))
        .look()
        .run();
    let details = looks[0].details();
    assert_eq!(details.len(), 1);
    let http = format!("HTTP status {}", e["http_status"]);
    assert_eq!(http, "HTTP status 404");
    for shown in ["Enrichment not_found", &http, error, correlation] {
        assert!(
            details[0].contains(shown),
            "{shown:?} on screen in {:?}",
            details[0]
        );
    }
    let details = looks[1].details();
    assert_eq!(details.len(), 1);
    assert!(
        !details[0].contains("rror") && !details[0].contains("orrelation"),
        "nothing to report for a fetched conversation: {:?}",
        details[0]
    );
}

#[test]
fn help_documents_the_html_format() {
    let help = run(&["correlate", "--help"]).ok();
    let text = help.text();
    assert!(text.contains("html"), "--format html is listed");
    assert!(text.contains("--format html"), "and shown in the examples");
}

#[test]
fn dom_reader_tells_elements_from_attribute_values_and_text() {
    let dom = Dom::parse(
        "<html><body><div data-x=\"a<img src=y>&quot;\" hidden>t&lt;img&gt;</div>\
         <script>if (a < b) {}</script><!-- <img> --><b>1,234</b></body></html>",
    );
    let names: Vec<&str> = dom.elements.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["html", "body", "div", "script", "b"]);
    assert_eq!(dom.elements[2].attr("data-x"), Some("a<img src=y>\""));
    assert_eq!(dom.elements[2].attr("hidden"), Some(""));
    assert_eq!(dom.elements[2].text, "t<img>");
    assert_eq!(dom.elements[4].text, "1,234");
}
