//! HTML output: one self-contained report page (the run summary, an overview of the
//! conversations, a swimlane timeline per conversation drawn on demand). This file owns the
//! page's framing and the data it embeds; the page itself (styles, markup, script) is the
//! template `report.html`. The run summary carries the minute series and the findings, which
//! the page draws as inline SVG charts above the overview.
//!
//! The timelines are the JSON array of `--format json`, encoded by the same encoder chunk by
//! chunk, inside a `<script type="application/json">` element with every `<` written `\u003c`:
//! still the same JSON, and no string can close the element or become markup.

use anyhow::{Context, Result};
use serde::Serialize;

use super::json::Array;
use super::{Encoder, Run};
use crate::api::Figures;
use crate::findings::Analysis;
use crate::report::Totals;
use crate::timeline::Timeline;

/// The page: everything before the marker goes first, the data in its place, the rest last.
const TEMPLATE: &str = include_str!("report.html");
const MARKER: &str = "<!-- gcorr:data -->";

pub struct Html {
    /// The page up to the opening `[` of the timelines.
    head: Vec<u8>,
    /// What follows the data.
    tail: &'static str,
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
        head.extend_from_slice(b"</script>\n<script type=\"application/json\" id=\"data\">");
        Array.header(&mut head)?;
        Ok(Html { head, tail: after })
    }
}

impl Encoder for Html {
    fn header(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(&self.head);
        Ok(())
    }

    fn chunk(
        &self,
        first: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let start = out.len();
        Array.chunk(first, timelines, out)?;
        escape_lt(out, start);
        Ok(())
    }

    fn footer(&self, out: &mut Vec<u8>) -> Result<()> {
        Array.footer(out)?;
        out.extend_from_slice(b"</script>");
        out.extend_from_slice(self.tail.as_bytes());
        Ok(())
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
