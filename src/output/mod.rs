//! Output formats: one writer per format, each over any `W: Write`, fed timelines in their
//! final order.

mod csv;
mod json;

use std::io::Write;

use anyhow::Result;

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
}

/// Writes every timeline in `format`.
pub fn write<'a, W: Write>(
    format: Format,
    summary: bool,
    out: &mut W,
    timelines: impl Iterator<Item = Timeline<'a>>,
) -> Result<()> {
    match format {
        Format::Ndjson => json::lines(out, timelines)?,
        Format::Json => json::array(out, timelines)?,
        Format::Csv if summary => csv::conversations(out, timelines)?,
        Format::Csv => csv::events(out, timelines)?,
    }
    out.flush()?;
    Ok(())
}
