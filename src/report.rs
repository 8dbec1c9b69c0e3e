//! What gcorr tells the person on stderr: invalid-record and conflicting-duplicate lines
//! (capped), the run summary, and [`printable`], which every untrusted text (ids, file names)
//! goes through before it reaches a terminal.

use std::io::Write;
use std::time::Duration;

use crate::api::Figures;
use crate::correlate::Unselected;
use crate::findings::{Analysis, Finding};
use crate::input::framing::Pos;
use crate::input::prune::Pruned;

/// Invalid records (and conflicting duplicates) shown before the rest are only counted.
pub const SHOWN_INVALID: usize = 20;

/// Counts for one input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputCounts {
    pub records: u64,
    pub invalid: u64,
    pub not_conversation: u64,
    pub filtered: u64,
    pub duplicates: u64,
    /// Of the duplicates, those whose id was kept with other content.
    pub conflicting: u64,
    pub kept: u64,
}

/// Counts for the whole run. Per input and in total:
/// `records = kept + duplicates + invalid + not_conversation + filtered`.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub inputs: Vec<InputCounts>,
    /// Raw bytes read (compressed size for gzip).
    pub bytes: u64,
    /// What key-time pruning left unread; `None` without a window.
    pub pruned: Option<Pruned>,
    /// Inputs that could not be read whole (S3 objects, retries done), by name.
    pub failed_inputs: Vec<String>,
    /// Directory entries passed over by the walk (dangling links, links to directories,
    /// pipes, sockets, devices).
    pub skipped_entries: u64,
}

impl Counts {
    pub fn new(inputs: usize) -> Self {
        Counts {
            inputs: vec![InputCounts::default(); inputs],
            bytes: 0,
            pruned: None,
            failed_inputs: Vec::new(),
            skipped_entries: 0,
        }
    }

    /// Moves what the conversation selection left out from kept and duplicates to filtered.
    pub fn unselect(&mut self, left_out: &[Unselected]) {
        for (c, u) in self.inputs.iter_mut().zip(left_out) {
            c.kept -= u.kept;
            c.duplicates -= u.duplicates;
            c.conflicting -= u.conflicting;
            c.filtered += u.kept + u.duplicates;
        }
    }

    pub fn total(&self) -> InputCounts {
        let mut t = InputCounts::default();
        for c in &self.inputs {
            t.records += c.records;
            t.invalid += c.invalid;
            t.not_conversation += c.not_conversation;
            t.filtered += c.filtered;
            t.duplicates += c.duplicates;
            t.conflicting += c.conflicting;
            t.kept += c.kept;
        }
        t
    }
}

/// Prints invalid-record and conflicting-duplicate lines, the first [`SHOWN_INVALID`] of each.
pub struct Diagnostics {
    invalid: Capped,
    conflicting: Capped,
    quiet: bool,
}

#[derive(Default)]
struct Capped {
    shown: usize,
    hidden: u64,
}

impl Capped {
    /// Whether the next line is shown.
    fn show(&mut self) -> bool {
        if self.shown < SHOWN_INVALID {
            self.shown += 1;
            true
        } else {
            self.hidden += 1;
            false
        }
    }
}

impl Diagnostics {
    pub fn new(quiet: bool) -> Self {
        Diagnostics {
            invalid: Capped::default(),
            conflicting: Capped::default(),
            quiet,
        }
    }

    /// `events.ndjson:12` or `events.json@4096`, the name made printable.
    pub fn at(&self, name: &str, pos: Pos) -> String {
        let name = printable(name);
        match pos {
            Pos::Line(l) => format!("{name}:{l}"),
            Pos::Offset(o) => format!("{name}@{o}"),
        }
    }

    pub fn invalid(&mut self, name: &str, pos: Pos, msg: &str) {
        if self.invalid.show() && !self.quiet {
            eprintln!("{}: {msg}", self.at(name, pos));
        }
    }

    /// An event id kept at `first` came again at `name`, `pos` with other content.
    pub fn conflicting(&mut self, name: &str, pos: Pos, first: &str) {
        if self.conflicting.show() && !self.quiet {
            eprintln!(
                "{}: event id seen before with different content, at {first}: the first is kept",
                self.at(name, pos)
            );
        }
    }

    /// The lines that close the lists, if some were not shown.
    pub fn finish(&self) {
        if self.quiet {
            return;
        }
        if self.invalid.hidden > 0 {
            eprintln!(
                "gcorr: {} not shown",
                counted(self.invalid.hidden, "more invalid record", "more invalid records")
            );
        }
        if self.conflicting.hidden > 0 {
            eprintln!(
                "gcorr: {} not shown",
                counted(
                    self.conflicting.hidden,
                    "more conflicting duplicate",
                    "more conflicting duplicates"
                )
            );
        }
    }
}

/// `text` safe for a terminal: control characters (an escape sequence hidden in an id or a
/// file name would otherwise drive the terminal, a newline forge a line) are written as
/// Rust-style escapes, `\u{1b}`, `\n`.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 duplicate`, `2 duplicates`, `1,000 duplicates`: a count in words.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", group(n), if n == 1 { one } else { many })
}

/// The end-of-run summary.
pub struct Summary<'a> {
    pub inputs: usize,
    pub counts: &'a Counts,
    pub conversations: usize,
    pub elapsed: Duration,
    /// The read phase, which the throughput is over.
    pub read: Duration,
    pub enrichment: Option<&'a Figures>,
    /// Printed last, one line each.
    pub findings: &'a [Finding],
}

impl Summary<'_> {
    pub fn print(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let t = self.counts.total();
        let secs = self.elapsed.as_secs_f64();
        // Throughput is the reading's own: enrichment and writing are not reading.
        let reading = self.read.as_secs_f64();
        let rate = if reading > 0.0 {
            self.counts.bytes as f64 / reading
        } else {
            0.0
        };
        let inputs = counted(self.inputs as u64, "input", "inputs");
        writeln!(
            w,
            "gcorr: {inputs}, {} MB in {secs:.2} s (read at {} MB/s)",
            megabytes(self.counts.bytes as f64),
            megabytes(rate)
        )?;
        // Rows that are rare show only when they happened.
        let rows: [(&str, u64, bool); 9] = [
            ("entries skipped", self.counts.skipped_entries, false),
            ("records read", t.records, true),
            ("invalid", t.invalid, true),
            ("not conversation", t.not_conversation, true),
            ("filtered out", t.filtered, true),
            ("duplicates dropped", t.duplicates, true),
            ("conflicting duplicates", t.conflicting, false),
            ("unique events", t.kept, true),
            ("conversations", self.conversations as u64, true),
        ];
        for (name, n, always) in rows {
            if always || n > 0 {
                writeln!(w, "  {name:<22}{:>12}", group(n))?;
            }
        }
        if let Some(p) = self.counts.pruned {
            writeln!(w, "  {:<20}{:>14}", "pruned inputs", group(p.objects))?;
            writeln!(w, "  {:<20}{:>14}", "pruned bytes", group(p.bytes))?;
        }
        if let Some(f) = self.enrichment {
            let rows: [(&str, u64); 5] = [
                ("API requests", f.requests),
                ("retries", f.retries),
                ("rate limited (429)", f.rate_limited),
                ("token requests", f.token_requests),
                ("token refreshes", f.token_refreshes),
            ];
            for (name, n) in rows {
                writeln!(w, "  {name:<22}{:>12}", group(n))?;
            }
            let statuses: Vec<String> = f
                .statuses
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(s, n)| format!("{} {s}", group(*n)))
                .collect();
            writeln!(w, "  {:<22}{:>12}", "enrichment", statuses.join(", "))?;
            if f.interrupted {
                writeln!(
                    w,
                    "  interrupted: the conversations not fetched are marked skipped"
                )?;
            }
        }
        for f in self.findings {
            writeln!(w, "gcorr: finding: {}", f.message)?;
        }
        Ok(())
    }
}

/// The run's counts, totalled over the inputs: what `--report` and the html report show.
#[derive(serde::Serialize)]
pub struct Totals {
    pub inputs: usize,
    pub records: u64,
    pub invalid: u64,
    pub not_conversation: u64,
    pub filtered: u64,
    pub duplicates: u64,
    /// Of the duplicates, ids seen again with other content.
    pub conflicting_duplicates: u64,
    pub unique_events: u64,
    pub conversations: usize,
    pub skipped_entries: u64,
}

impl Totals {
    pub fn new(inputs: usize, counts: &Counts, conversations: usize) -> Totals {
        let t = counts.total();
        Totals {
            inputs,
            records: t.records,
            invalid: t.invalid,
            not_conversation: t.not_conversation,
            filtered: t.filtered,
            duplicates: t.duplicates,
            conflicting_duplicates: t.conflicting,
            unique_events: t.kept,
            conversations,
            skipped_entries: counts.skipped_entries,
        }
    }
}

/// The run's figures as `--report` writes them.
#[derive(serde::Serialize)]
pub struct Report<'a> {
    #[serde(flatten)]
    pub totals: Totals,
    pub bytes_read: u64,
    /// Files and objects not read because of the date in their names (with --since/--until).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pruned: Option<Pruned>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_inputs: Vec<String>,
    pub elapsed_ms: u128,
    pub enrichment: Option<&'a Figures>,
    /// The late threshold, the minute series and the findings.
    #[serde(flatten)]
    pub analysis: &'a Analysis,
}

impl<'a> Report<'a> {
    pub fn new(
        inputs: usize,
        counts: &Counts,
        conversations: usize,
        elapsed: Duration,
        enrichment: Option<&'a Figures>,
        analysis: &'a Analysis,
    ) -> Report<'a> {
        Report {
            totals: Totals::new(inputs, counts, conversations),
            bytes_read: counts.bytes,
            pruned: counts.pruned,
            failed_inputs: counts.failed_inputs.clone(),
            elapsed_ms: elapsed.as_millis(),
            enrichment,
            analysis,
        }
    }
}

/// Bytes (or bytes a second) in decimal megabytes with one decimal: `12.3`. The summary and
/// the progress bar both use it, so their figures agree.
pub fn megabytes(bytes: f64) -> String {
    format!("{:.1}", bytes / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1_234_567), "1,234,567");
    }

    #[test]
    fn counts_in_words_agree_in_number() {
        assert_eq!(counted(1, "duplicate", "duplicates"), "1 duplicate");
        assert_eq!(counted(0, "duplicate", "duplicates"), "0 duplicates");
        assert_eq!(counted(1200, "retry", "retries"), "1,200 retries");
    }

    #[test]
    fn megabytes_are_decimal_with_one_decimal() {
        assert_eq!(megabytes(0.0), "0.0");
        assert_eq!(megabytes(12_345_678.0), "12.3");
        assert_eq!(megabytes(1_048_576.0), "1.0");
    }
}
