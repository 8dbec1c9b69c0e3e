//! `--format html`: the report written by the real binary, loaded in a real headless Chromium
//! (Debian's `chromium`, or `$GCORR_CHROMIUM`), and checked on the DOM the page builds.
//!
//! The DOM is read back with a small tokenizer (Chromium's `--dump-dom` output: attributes
//! always double-quoted), never grepped: an attribute value holding `<img` is not an element.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{A, C, T0, envelope, events, id_of, ndjson, run, run_in, tempdir, uuid, write};

// ---------------------------------------------------------------------------------------------
// The browser

fn chromium() -> PathBuf {
    let path = std::env::var_os("GCORR_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{}: no Chromium. The --format html tests load the report in a real headless browser: \
         install Debian's `chromium` package (`apt-get install chromium`; CI installs it), or set \
         GCORR_CHROMIUM to a Chromium binary.",
        path.display()
    );
    path
}

/// `#open=ID` with ID percent-encoded as `encodeURIComponent` would.
fn open(id: &str) -> String {
    let mut out = String::from("#open=");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Loads `page` (with `fragment`) in headless Chromium and returns the DOM once the page's
/// script has run.
#[track_caller]
pub(crate) fn dump_dom(page: &Path, fragment: &str) -> Dom {
    let profile = tempdir();
    let url = format!("file://{}{fragment}", page.display());
    let out = assert_cmd::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", &url])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = String::from_utf8(out.stdout).expect("the DOM is UTF-8");
    assert!(html.contains("</html>"), "a whole document: {html}");
    Dom::parse(&html)
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
    fn parse(html: &str) -> Dom {
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
    let dom = dump_dom(&page, &open(A));
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
    let dom = dump_dom(&page, &open(C));
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

    for (id, name) in [
        (odd.as_str(), None),
        (enriched.as_str(), Some(format!("Ann{HOSTILE}"))),
    ] {
        let dom = dump_dom(&page, &open(id));
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
