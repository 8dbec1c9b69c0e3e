//! Output formats: one encoder per format, and the one writer that drives them.
//!
//! Timelines are encoded in chunks on every core and written in their final order, so the
//! output is byte-identical whatever the thread count. Each format only says how to encode a
//! chunk of timelines, and what comes before and after them.

mod csv;
mod html;
mod json;
mod table;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;

use anyhow::Result;

use crate::api::{Figures, Outcome};
use crate::correlate::{Correlation, Group};
use crate::findings::Analysis;
use crate::report::Counts;
use crate::timeline::Timeline;

/// The formats `--format` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One timeline per line (JSON Lines).
    Ndjson,
    /// One JSON array of timelines.
    Json,
    /// One row per event (with --summary: one row per conversation).
    Csv,
    /// One aligned line per conversation, for reading in a terminal (coloured there).
    Table,
    /// One self-contained HTML report to open in a browser: the run summary, a sortable,
    /// filterable overview and, per conversation, a swimlane timeline (with --summary: the
    /// overview only).
    Html,
}

/// What the run knows besides the timelines, for formats that show it (html).
pub struct Run<'a> {
    pub inputs: usize,
    pub counts: &'a Counts,
    pub conversations: usize,
    /// The enrichment figures, when there was enrichment.
    pub enrichment: Option<&'a Figures>,
    /// The minute series and findings.
    pub analysis: &'a Analysis,
}

/// How one format lays out timelines.
pub(crate) trait Encoder: Sync {
    fn header(&self, _out: &mut Vec<u8>) -> Result<()> {
        Ok(())
    }
    /// Appends timelines to `out`; `first` is true for the chunk holding the very first one.
    fn chunk(
        &self,
        first: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()>;
    fn footer(&self, _out: &mut Vec<u8>) -> Result<()> {
        Ok(())
    }
}

fn encoder(format: Format, summary: bool, colour: bool, run: &Run) -> Result<Box<dyn Encoder>> {
    Ok(match format {
        Format::Ndjson => Box::new(json::Lines),
        Format::Json => Box::new(json::Array),
        Format::Csv if summary => Box::new(csv::Conversations),
        Format::Csv => Box::new(csv::Events),
        Format::Table => Box::new(table::Table { colour }),
        Format::Html => Box::new(html::Html::new(run, summary)?),
    })
}

/// Conversations encoded per chunk: large enough to amortise hand-offs, small enough to
/// keep a few in flight.
const CHUNK: usize = 256;

/// How to write: the format and its variations.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub format: Format,
    /// `--summary`: no event lists.
    pub summary: bool,
    /// Formats that can (table) write ANSI colours.
    pub colour: bool,
    /// Encoding threads.
    pub threads: usize,
}

/// Writes every timeline of `c`; `enrichment` holds each conversation's outcome, in the
/// order of `c.groups`; `run` is the run summary for formats that show it (html).
pub fn write<W: Write + ?Sized>(
    opts: &Options,
    run: &Run,
    out: &mut W,
    c: &Correlation,
    enrichment: &[Outcome],
) -> Result<()> {
    let Options {
        format,
        summary,
        colour,
        threads,
    } = *opts;
    let enc = encoder(format, summary, colour, run)?;
    let mut buf = Vec::new();
    enc.header(&mut buf)?;
    out.write_all(&buf)?;
    let chunks: Vec<&[Group]> = c.groups.chunks(CHUNK).collect();
    let encode = |i: usize| -> Result<Vec<u8>> {
        // About 550 bytes an event: one allocation per chunk, not a series of doublings.
        let events: usize = chunks[i].iter().map(|g| g.range.len()).sum();
        let mut buf = Vec::with_capacity(4096 + events * 600);
        let first = i * CHUNK;
        let mut timelines = chunks[i]
            .iter()
            .enumerate()
            .map(|(k, g)| Timeline::build(c, g, &enrichment[first + k], summary));
        enc.chunk(i == 0, &mut timelines, &mut buf)?;
        Ok(buf)
    };
    let next = AtomicUsize::new(0);
    let (tx, rx) = sync_channel::<(usize, Result<Vec<u8>>)>(threads.max(1) * 2);
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let (next, encode, count) = (&next, &encode, chunks.len());
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || tx.send((i, encode(i))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Owned here so that an early return (a closed pipe) drops it and the encoders,
        // blocked on sending, stop: the scope can then end.
        let rx = rx;
        let mut pending = BTreeMap::new();
        let mut want = 0;
        for (i, encoded) in rx {
            pending.insert(i, encoded);
            while let Some(encoded) = pending.remove(&want) {
                out.write_all(&encoded?)?;
                want += 1;
            }
        }
        Ok(())
    })?;
    buf.clear();
    enc.footer(&mut buf)?;
    out.write_all(&buf)?;
    out.flush()?;
    Ok(())
}
