//! Output formats: one encoder per format, and the one writer that drives them.
//!
//! Timelines are encoded in chunks on every core and written in their final order, so the
//! output is byte-identical whatever the thread count. Each format only says how to encode a
//! chunk of timelines, and what comes before and after them. A chunk whose encoding would be
//! too large to hold (one conversation of 100,000 events, each CSV row repeating its long
//! media list) is streamed instead: encoded in order, straight into the output.

mod csv;
mod html;
mod json;
mod table;

use std::collections::BTreeMap;
use std::io::Write;
use std::iter::once;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;

use anyhow::Result;

use crate::api::{Figures, Outcome};
use crate::correlate::{Correlation, Group};
use crate::findings::Analysis;
use crate::report::Counts;
use crate::timeline::Timeline;
use crate::window::{Closing, Window};

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

impl Format {
    /// The format a file name implies: `.html`, `.csv`, `.json`, `.ndjson` or `.jsonl`.
    pub fn from_extension(path: &std::path::Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "html" | "htm" => Format::Html,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            _ => return None,
        })
    }
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
    /// About how many bytes `t` encodes to, to decide whether its chunk is held or streamed.
    fn estimate(&self, t: &Timeline) -> usize {
        t.event_count() * BYTES_PER_EVENT
    }
    /// Writes timelines straight to `out`, as [`Encoder::chunk`] would encode them: one
    /// timeline held at a time (an encoder that can do better streams within one).
    fn stream(
        &self,
        first: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut dyn Write,
    ) -> Result<()> {
        let mut buf = Vec::new();
        for (k, t) in timelines.enumerate() {
            buf.clear();
            self.chunk(first && k == 0, &mut once(t), &mut buf)?;
            out.write_all(&buf)?;
        }
        Ok(())
    }
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

/// About what an event takes in most formats.
const BYTES_PER_EVENT: usize = 600;

/// A chunk estimated larger than this is streamed rather than held (a few are in flight).
const HELD: usize = 32 << 20;

/// Written buffers up to this size are kept for the next chunks; a rare larger one is freed.
const SPARE: usize = 4 << 20;

/// A chunk encoded by a worker, or left to the writer to stream.
enum Encoded {
    Held(Vec<u8>),
    Streamed,
}

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
    // Buffers written and free for another chunk: no more than the window lets be in flight.
    let spares = Mutex::new(Vec::<Vec<u8>>::new());
    let timelines = |i: usize| {
        let first = i * CHUNK;
        c.prefetching(chunks[i])
            .enumerate()
            .map(move |(k, g)| Timeline::build(c, g, &enrichment[first + k], summary))
    };
    let encode = |i: usize| -> Result<Encoded> {
        // Built once, for the estimate and the encoding (a chunk's timelines are small).
        let built: Vec<Timeline> = timelines(i).collect();
        let estimate: usize = built.iter().map(|t| enc.estimate(t)).sum();
        if estimate > HELD {
            return Ok(Encoded::Streamed);
        }
        // A written chunk's buffer, reserved once for the whole chunk: no series of doublings,
        // and no fresh pages to fault in for every chunk.
        let mut buf = spares.lock().expect("not poisoned").pop().unwrap_or_default();
        buf.reserve(4096 + estimate);
        // Each timeline's events were fetched while building the chunk, and have left the
        // cache since: ask for the next one's again while encoding one.
        let mut encoding = built.into_iter().zip(c.prefetching(chunks[i])).map(|(t, _)| t);
        enc.chunk(i == 0, &mut encoding, &mut buf)?;
        Ok(Encoded::Held(buf))
    };
    let next = AtomicUsize::new(0);
    let (tx, rx) = sync_channel::<(usize, Result<Encoded>)>(threads.max(1) * 2);
    // Chunks encoded but not yet written: what the channel holds, and as many again.
    let window = Window::new(threads.max(1) * 4);
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let (next, encode, count, window) = (&next, &encode, chunks.len(), &window);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || !window.enter(0, i as u64) || tx.send((i, encode(i))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Owned here so that an early return (a closed pipe) drops it and the encoders,
        // blocked on sending, stop: the scope can then end.
        let rx = rx;
        let _closing = Closing(&window);
        let mut pending = BTreeMap::new();
        let mut want = 0;
        for (i, encoded) in rx {
            pending.insert(i, encoded);
            while let Some(encoded) = pending.remove(&want) {
                match encoded? {
                    Encoded::Held(mut buf) => {
                        out.write_all(&buf)?;
                        if buf.capacity() <= SPARE {
                            buf.clear();
                            spares.lock().expect("not poisoned").push(buf);
                        }
                    }
                    Encoded::Streamed => enc.stream(want == 0, &mut timelines(want), &mut &mut *out)?,
                }
                // A signal stops the output after the chunk being written (the write itself
                // may have waited on a slow reader); -o's temporary file is then removed by
                // its owner.
                if let Some(sig) = crate::signal::pending() {
                    return Err(crate::signal::Stopped(sig).into());
                }
                want += 1;
                window.advance();
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
