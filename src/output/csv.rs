//! CSV output: one row per event, or one per conversation with `--summary`. The header is
//! written even when there are no rows, so downstream tools always see the same columns.

use anyhow::Result;

use super::Encoder;

use crate::intern::{Interner, Sym};
use crate::time::Millis;
use crate::timeline::Timeline;

pub const EVENT_COLUMNS: [&str; 19] = [
    "conversation_id",
    "conversation_start",
    "conversation_media_types",
    "flags",
    "event_id",
    "time",
    "delivered",
    "lag_ms",
    "event_type",
    "media_type",
    "participant_id",
    "session_id",
    "direction",
    "queue_id",
    "user_id",
    "disconnect_type",
    "wrapup_code",
    "source",
    "enrichment_status",
];

pub const CONVERSATION_COLUMNS: [&str; 11] = [
    "conversation_id",
    "start",
    "end",
    "duration_ms",
    "media_types",
    "handoffs",
    "event_count",
    "duplicates_dropped",
    "flags",
    "participants",
    "enrichment_status",
];

/// Joins media types with `|` (`voice|callback`).
fn joined(syms: &Interner, list: &[Sym]) -> String {
    let names: Vec<String> = list.iter().map(|&s| syms.to_string(s)).collect();
    names.join("|")
}

fn opt(syms: &Interner, s: Option<Sym>) -> String {
    s.map(|s| syms.to_string(s)).unwrap_or_default()
}

fn rows(out: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new().has_headers(false).from_writer(out)
}

pub struct Events;

impl Encoder for Events {
    fn header(&self, out: &mut Vec<u8>) -> Result<()> {
        rows(out).write_record(EVENT_COLUMNS)?;
        Ok(())
    }

    fn chunk(
        &self,
        _: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let mut w = rows(out);
        for t in timelines {
            let syms = t.syms();
            let conversation = syms.to_string(t.conversation_id());
            let start = Millis(t.group.start).to_string();
            let media = joined(syms, &t.media_types);
            let flags = t.group.flags.joined("|");
            for e in t.events() {
                w.write_record([
                    conversation.as_str(),
                    &start,
                    &media,
                    &flags,
                    &t.event_id(e),
                    &Millis(e.time).to_string(),
                    &e.lag
                        .delivered(e.time)
                        .map(|d| Millis(d).to_string())
                        .unwrap_or_default(),
                    &e.lag.ms(e.time).map(|l| l.to_string()).unwrap_or_default(),
                    &syms.to_string(e.kind),
                    &opt(syms, e.media),
                    &opt(syms, e.participant),
                    &opt(syms, e.session),
                    &opt(syms, e.direction),
                    &opt(syms, e.queue),
                    &opt(syms, e.user),
                    &opt(syms, e.disconnect),
                    &opt(syms, e.wrapup),
                    &t.source(e),
                    t.enrichment.status.name(),
                ])?;
            }
        }
        w.flush()?;
        Ok(())
    }
}

pub struct Conversations;

impl Encoder for Conversations {
    fn header(&self, out: &mut Vec<u8>) -> Result<()> {
        rows(out).write_record(CONVERSATION_COLUMNS)?;
        Ok(())
    }

    fn chunk(
        &self,
        _: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let mut w = rows(out);
        for t in timelines {
            let syms = t.syms();
            w.write_record([
                syms.to_string(t.conversation_id()).as_str(),
                &Millis(t.group.start).to_string(),
                &Millis(t.group.end).to_string(),
                &t.duration_ms().to_string(),
                &joined(syms, &t.media_types),
                &t.handoffs.len().to_string(),
                &t.event_count().to_string(),
                &t.duplicates().to_string(),
                &t.group.flags.joined("|"),
                &t.participants.len().to_string(),
                t.enrichment.status.name(),
            ])?;
        }
        w.flush()?;
        Ok(())
    }
}
