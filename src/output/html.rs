//! HTML output: one self-contained report page (the run summary, an overview of the
//! conversations, a swimlane timeline per conversation drawn on demand). This file owns the
//! page's framing and the data it embeds; the page itself (styles, markup, script) is the
//! template `report.html`. The run summary carries the minute series and the findings, which
//! the page draws as inline SVG charts above the overview.
//!
//! The timelines are embedded compactly, so that a page of 30,000 conversations stays small
//! and opens fast: the page parses only what its overview needs up front, and a
//! conversation's events when it is opened (or when the free-text filter first looks at them).
//! Each chunk of timelines is one line of JSON, `[strings, rows]`, followed by one line of
//! JSON per conversation of the chunk (its details):
//!
//! - `strings`: the chunk's distinct ids and words (participant, session, queue and user ids,
//!   event types, media, directions, a source's `file:`, the enrichment outcome as JSON...),
//!   each once; elsewhere a string is its number in this list, counted from 1 (0 is null).
//! - a row: `[conversation_id, start_ms, duration_ms, [media], event_count, duplicates,
//!   [flags], enrichment]`, times in milliseconds since the epoch, `enrichment` the number
//!   of the outcome's JSON (equal outcomes share it).
//! - a detail line: `[[handoffs], [participants], [events]]`, the events left out with
//!   `--summary`. A handoff is three numbers (`from`, `to`, `at`), an event fourteen (its id
//!   as text, then `time`, `lag_ms`, `event_type`, `media_type`, `participant_id`,
//!   `session_id`, `direction`, `queue_id`, `user_id`, `disconnect_type`, `wrapup_code`,
//!   the source's `file:` (or `file@`) and its line (or offset)), times counted from the
//!   conversation's start.
//!   A participant is `[participant_id, purpose, name, user_id, queue_id, [media], sessions]`,
//!   the sessions as `--format json` writes them.
//!
//! The page decodes this back into the timelines of `--format json` (field for field). Every
//! line is JSON with every `<` written `\u003c`, inside a `<script>` of a data type: no string
//! can close the element or become markup.

use anyhow::{Context, Result};
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::{Encoder, Run};
use crate::api::Figures;
use crate::correlate::Id;
use crate::findings::Analysis;
use crate::intern::{Interner, Sym};
use crate::report::Totals;
use crate::timeline::Timeline;

/// The page: everything before the marker goes first, the data in its place, the rest last.
const TEMPLATE: &str = include_str!("report.html");
const MARKER: &str = "<!-- gcorr:data -->";

pub struct Html {
    /// The page up to the opening tag of the timelines' element.
    head: Vec<u8>,
    /// What follows the data.
    tail: &'static str,
    /// `--summary`: no events.
    summary: bool,
}

/// The run summary as the page reads it. Nothing that changes from run to run (no time of
/// day, no elapsed time): the same input gives the same page.
#[derive(Serialize)]
struct Meta<'a> {
    version: &'static str,
    #[serde(flatten)]
    totals: Totals,
    /// `--summary`: no events, so the page shows the overview only.
    summary: bool,
    enrichment: Option<&'a Figures>,
    /// `late_threshold_ms`, `minutes` and `findings`: the charts and the findings list.
    #[serde(flatten)]
    analysis: &'a Analysis,
}

impl Html {
    pub fn new(run: &Run, summary: bool) -> Result<Html> {
        let (before, after) = TEMPLATE
            .split_once(MARKER)
            .context("the report template has no data marker")?;
        let meta = Meta {
            version: env!("GCORR_VERSION"),
            totals: Totals::new(run.inputs, run.counts, run.conversations),
            summary,
            enrichment: run.enrichment,
            analysis: run.analysis,
        };
        let mut head = before.as_bytes().to_vec();
        head.extend_from_slice(b"<script type=\"application/json\" id=\"run\">");
        let start = head.len();
        sonic_rs::to_writer(&mut head, &meta)?;
        escape_lt(&mut head, start);
        // Lines of JSON: a data type, so the browser keeps it as text and never runs it.
        head.extend_from_slice(b"</script>\n<script type=\"application/x-ndjson\" id=\"data\">");
        Ok(Html {
            head,
            tail: after,
            summary,
        })
    }
}

impl Encoder for Html {
    fn header(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(&self.head);
        Ok(())
    }

    fn chunk(
        &self,
        _: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let mut strings = Strings::default();
        let mut rows = Vec::new();
        let mut details = Vec::new();
        for t in timelines {
            if !rows.is_empty() {
                rows.push(b',');
            }
            row(&t, &mut strings, &mut rows)?;
            details.push(b'\n');
            detail(&t, self.summary, &mut strings, &mut details)?;
        }
        let start = out.len();
        out.reserve(strings.json.len() + rows.len() + details.len() + 16);
        out.extend_from_slice(b"\n[[");
        out.extend_from_slice(&strings.json);
        out.extend_from_slice(b"],[");
        out.extend_from_slice(&rows);
        out.extend_from_slice(b"]]");
        out.extend_from_slice(&details);
        escape_lt(out, start);
        Ok(())
    }

    fn footer(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(b"\n</script>");
        out.extend_from_slice(self.tail.as_bytes());
        Ok(())
    }
}

/// One chunk's string table: each distinct string is written once, in the order first seen,
/// and named by its number from 1 (0 stands for null).
#[derive(Default)]
struct Strings {
    texts: FxHashMap<String, u32>,
    /// The numbers of the ids and interned values met so far, to look each one's text up once
    /// (the same id is also met as text: a participant's id, from the API or the events).
    ids: FxHashMap<Id, u32>,
    /// The table as the inside of a JSON array.
    json: Vec<u8>,
}

impl Strings {
    fn sym(&mut self, syms: &Interner, s: Option<Sym>) -> Result<u32> {
        self.id(syms, s.map(Id::Text))
    }

    fn id(&mut self, syms: &Interner, id: Option<Id>) -> Result<u32> {
        let Some(id) = id else { return Ok(0) };
        if let Some(&n) = self.ids.get(&id) {
            return Ok(n);
        }
        let n = self.text(Some(id.text(syms, &mut [0; 36])))?;
        self.ids.insert(id, n);
        Ok(n)
    }

    fn text(&mut self, s: Option<&str>) -> Result<u32> {
        let Some(s) = s else { return Ok(0) };
        if let Some(&n) = self.texts.get(s) {
            return Ok(n);
        }
        if !self.texts.is_empty() {
            self.json.push(b',');
        }
        sonic_rs::to_writer(&mut self.json, s)?;
        let n = self.texts.len() as u32 + 1;
        self.texts.insert(s.to_owned(), n);
        Ok(n)
    }
}

/// The overview's row of `t`.
fn row(t: &Timeline, strings: &mut Strings, out: &mut Vec<u8>) -> Result<()> {
    let syms = t.syms();
    out.push(b'[');
    sonic_rs::to_writer(&mut *out, syms.text(t.conversation_id(), &mut [0; 36]))?;
    numbers(out, [t.group.start, t.duration_ms()]);
    out.push(b',');
    list(out, t.media_types.iter(), |&m| strings.sym(syms, Some(m)))?;
    numbers(out, [t.event_count() as i64, i64::from(t.duplicates())]);
    out.push(b',');
    list(out, t.group.flags.iter(), |f| strings.text(Some(f.name())))?;
    let enrichment = sonic_rs::to_string(t.enrichment)?;
    numbers(out, [i64::from(strings.text(Some(&enrichment))?)]);
    out.push(b']');
    Ok(())
}

/// The line of what `t`'s opened panel and the free-text filter need.
fn detail(t: &Timeline, summary: bool, strings: &mut Strings, out: &mut Vec<u8>) -> Result<()> {
    let syms = t.syms();
    let start = t.group.start;
    out.extend_from_slice(b"[[");
    for (i, h) in t.handoffs.iter().enumerate() {
        let from = strings.sym(syms, Some(h.from))?;
        let to = strings.sym(syms, Some(h.to))?;
        if i > 0 {
            out.push(b',');
        }
        number(out, from.into());
        numbers(out, [to.into(), h.at - start]);
    }
    out.extend_from_slice(b"],");
    out.push(b'[');
    for (i, p) in t.participants.iter().enumerate() {
        out.extend_from_slice(if i > 0 { b",[" } else { b"[" });
        let fields = [
            Some(&*p.participant_id),
            p.purpose,
            p.name,
            p.user_id.as_deref(),
            p.queue_id.as_deref(),
        ];
        for s in fields {
            number(out, strings.text(s)?.into());
            out.push(b',');
        }
        list(out, p.media_types.iter(), |m| strings.text(Some(m)))?;
        out.push(b',');
        sonic_rs::to_writer(&mut *out, p.sessions)?;
        out.push(b']');
    }
    out.push(b']');
    if !summary {
        out.extend_from_slice(b",[");
        let mut source = String::new();
        // The last source's `file:` and its number: the events of a conversation mostly come
        // from one input.
        let mut last: Option<(&str, char, u32)> = None;
        for (i, e) in t.events().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            sonic_rs::to_writer(&mut *out, e.id.text(syms, &mut [0; 36]))?;
            numbers(out, [e.time - start]);
            out.push(b',');
            match e.lag.ms(e.time) {
                Some(l) => number(out, l),
                None => out.extend_from_slice(b"null"),
            }
            let sym = |s: Option<Sym>| s.map(Id::Text);
            for id in [
                sym(Some(e.kind)),
                sym(e.media),
                e.participant,
                e.session,
                sym(e.direction),
                sym(e.queue),
                sym(e.user),
                sym(e.disconnect),
                sym(e.wrapup),
            ] {
                out.push(b',');
                number(out, strings.id(syms, id)?.into());
            }
            let (file, sep, n) = t.origin(e);
            let k = match last {
                Some((f, s, k)) if f == file && s == sep => k,
                _ => {
                    source.clear();
                    source.push_str(file);
                    source.push(sep);
                    let k = strings.text(Some(&source))?;
                    last = Some((file, sep, k));
                    k
                }
            };
            numbers(out, [k.into(), n as i64]);
        }
        out.push(b']');
    }
    out.push(b']');
    Ok(())
}

/// `[a,b,...]`: the number `each` gives for every item.
fn list<T>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = T>,
    mut each: impl FnMut(T) -> Result<u32>,
) -> Result<()> {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        number(out, each(item)?.into());
    }
    out.push(b']');
    Ok(())
}

fn number(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Each of `ns` after a comma.
fn numbers<const N: usize>(out: &mut Vec<u8>, ns: [i64; N]) {
    for n in ns {
        out.push(b',');
        number(out, n);
    }
}

/// Rewrites every `<` of `buf[start..]` (JSON text, where `<` can only be inside a string) as
/// `\u003c`.
fn escape_lt(buf: &mut Vec<u8>, start: usize) {
    if !buf[start..].contains(&b'<') {
        return;
    }
    let tail = buf.split_off(start);
    buf.reserve(tail.len() + 64);
    for part in tail.split_inclusive(|&b| b == b'<') {
        match part.split_last() {
            Some((b'<', text)) => {
                buf.extend_from_slice(text);
                buf.extend_from_slice(br"\u003c");
            }
            _ => buf.extend_from_slice(part),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_lt_and_stays_the_same_json() {
        let value = serde_json::json!({"a": "x</script><img src=x onerror=alert(1)>", "b": ["<<", "ok"]});
        let mut buf = b"<keep>".to_vec();
        let start = buf.len();
        buf.extend_from_slice(serde_json::to_string(&value).unwrap().as_bytes());
        escape_lt(&mut buf, start);
        assert!(buf.starts_with(b"<keep>"), "only from start on");
        assert!(!buf[start..].contains(&b'<'));
        let back: serde_json::Value = serde_json::from_slice(&buf[start..]).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn string_table_numbers_each_text_once_from_one() {
        let mut s = Strings::default();
        assert_eq!(s.text(None).unwrap(), 0, "null");
        assert_eq!(s.text(Some("voice")).unwrap(), 1);
        assert_eq!(s.text(Some("a \"b\"")).unwrap(), 2);
        assert_eq!(s.text(Some("voice")).unwrap(), 1, "once");
        let back: Vec<String> = serde_json::from_slice(&[b"[", &s.json[..], b"]"].concat()).unwrap();
        assert_eq!(back, ["voice", "a \"b\""]);
    }

    #[test]
    fn template_is_self_contained_and_has_one_marker() {
        assert_eq!(TEMPLATE.matches(MARKER).count(), 1);
        for needle in [
            "src=",
            "href=",
            "url(",
            "@import",
            "//cdn",
            "fetch(",
            "XMLHttpRequest",
        ] {
            assert!(!TEMPLATE.contains(needle), "the template holds {needle}");
        }
        assert!(!TEMPLATE.contains("innerHTML"), "DOM built from text only");
    }
}
