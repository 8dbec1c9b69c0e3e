//! Table output: one aligned line per conversation for reading in a terminal, optionally in
//! colour. Every column has a fixed width, so chunks encoded in parallel line up without a
//! second pass; a longer value pushes the rest of its line instead of being cut.

use std::fmt::Display;
use std::io::Write;

use anyhow::Result;

use super::Encoder;
use crate::api::Status;
use crate::report::printable;
use crate::time::{Millis, humanise};
use crate::timeline::Timeline;

/// Left- or right-aligned.
#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// Header and width of each column but the last (the flags, never padded; a conversation id
/// longer than a UUID pushes only them).
const COLUMNS: [(&str, usize, Align); 7] = [
    ("START", 20, Align::Left),
    ("DURATION", 8, Align::Right),
    ("MEDIA", 24, Align::Left),
    ("EVENTS", 6, Align::Right),
    ("DUPLICATES", 10, Align::Right),
    ("ENRICHMENT", 10, Align::Left),
    ("CONVERSATION", 36, Align::Left),
];
const LAST: &str = "FLAGS";

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

pub struct Table {
    /// Write ANSI colours.
    pub colour: bool,
}

impl Table {
    /// Appends `value` padded to column `i`'s width, in `style` when colouring (padding
    /// included, so the escapes never count towards the width).
    fn cell(&self, out: &mut Vec<u8>, i: usize, value: impl Display, style: &str) -> Result<()> {
        let (_, width, align) = COLUMNS[i];
        let (on, off) = self.paint(style);
        match align {
            Align::Left => write!(out, "{on}{value:<width$}{off}  ")?,
            Align::Right => write!(out, "{on}{value:>width$}{off}  ")?,
        }
        Ok(())
    }

    fn paint<'s>(&self, style: &'s str) -> (&'s str, &'static str) {
        if self.colour && !style.is_empty() {
            (style, RESET)
        } else {
            ("", "")
        }
    }
}

impl Encoder for Table {
    fn header(&self, out: &mut Vec<u8>) -> Result<()> {
        for (i, (name, _, _)) in COLUMNS.iter().enumerate() {
            self.cell(out, i, name, BOLD)?;
        }
        let (on, off) = self.paint(BOLD);
        writeln!(out, "{on}{LAST}{off}")?;
        Ok(())
    }

    fn chunk(
        &self,
        _: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for t in timelines {
            let syms = t.syms();
            let media: Vec<String> = t
                .media_types
                .iter()
                .map(|&m| printable(&syms.to_string(m)))
                .collect();
            let media = if media.is_empty() {
                "-".to_owned()
            } else {
                media.join(" → ")
            };
            let duplicates = t.duplicates();
            let status = t.enrichment.status;
            self.cell(out, 0, seconds(t.group.start), "")?;
            self.cell(out, 1, humanise(t.duration_ms()), "")?;
            self.cell(out, 2, media, "")?;
            self.cell(out, 3, t.event_count(), "")?;
            self.cell(out, 4, duplicates, if duplicates > 0 { YELLOW } else { DIM })?;
            self.cell(out, 5, status.name(), status_style(status))?;
            self.cell(out, 6, printable(&syms.to_string(t.conversation_id())), "")?;
            let flags = t.group.flags;
            let shown = if flags.is_empty() {
                "-".to_owned()
            } else {
                flags.joined(",")
            };
            let (on, off) = self.paint(if flags.is_empty() { DIM } else { YELLOW });
            writeln!(out, "{on}{shown}{off}")?;
        }
        Ok(())
    }
}

fn status_style(s: Status) -> &'static str {
    match s {
        Status::Ok | Status::Cached => GREEN,
        Status::Skipped => DIM,
        Status::NotFound | Status::Forbidden | Status::Failed => RED,
    }
}

/// RFC 3339 to the second: `2026-03-02T08:15:02Z`.
fn seconds(ms: i64) -> String {
    let mut buf = [0; 24];
    let full = Millis(ms).encode(&mut buf);
    format!("{}Z", &full[..19])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(printable("voice"), "voice");
        assert_eq!(printable("a\u{1b}]0;pwned\u{7}b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(printable("tab\there\n"), "tab\\there\\n");
        assert_eq!(printable("café → ü"), "café → ü");
    }

    #[test]
    fn start_to_the_second() {
        assert_eq!(seconds(1_772_439_302_999), "2026-03-02T08:15:02Z");
    }
}
