//! CSV output: one row per event, or one per conversation with `--summary`. The header is
//! written even when there are no rows, so downstream tools always see the same columns.
//! Event rows are written one at a time, straight to the output when a chunk is large.

use std::io::Write;

use anyhow::Result;
use rustc_hash::FxHashMap;

use super::Encoder;

use crate::correlate::Id;
use crate::intern::{Interner, Sym};
use crate::time::Millis;
use crate::timeline::Timeline;

pub const EVENT_COLUMNS: [&str; 22] = [
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
    "participant_purpose",
    "participant_name",
    "session_id",
    "direction",
    "queue_id",
    "user_id",
    "disconnect_type",
    "wrapup_code",
    "wrapup_name",
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

/// Writes a symbol's text (empty when absent) as the next field.
fn field(w: &mut Rows, syms: &Interner, s: Option<Sym>) -> Result<()> {
    let mut buf = [0; 36];
    w.write_field(s.map(|s| syms.text(s, &mut buf)).unwrap_or_default())
}

/// Event rows, written as the `csv` crate writes them with its defaults (a field is quoted
/// when it holds a comma, a quote or a line break, its quotes doubled; rows end with `\n`):
/// the crate's writer costs as much per field as the rest of a row's encoding. A chunk's rows
/// are held in its buffer; streamed rows are passed on to `out` in blocks.
struct Rows<'w> {
    /// Where full blocks go; `None`: every row is held in `buf`.
    out: Option<&'w mut dyn Write>,
    buf: Vec<u8>,
    /// No field yet in the current row.
    first: bool,
}

/// Bytes gathered before they are passed on.
const BLOCK: usize = 64 << 10;

impl<'w> Rows<'w> {
    fn new(out: &'w mut dyn Write) -> Rows<'w> {
        Rows {
            out: Some(out),
            buf: Vec::with_capacity(BLOCK + 4096),
            first: true,
        }
    }

    /// Rows appended to `buf` and held there (see [`Rows::into_held`]).
    fn held(buf: Vec<u8>) -> Rows<'w> {
        Rows {
            out: None,
            buf,
            first: true,
        }
    }

    fn into_held(self) -> Vec<u8> {
        self.buf
    }

    fn separate(&mut self) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
    }

    fn write_field(&mut self, field: impl AsRef<[u8]>) -> Result<()> {
        self.separate();
        push_field(&mut self.buf, field.as_ref());
        Ok(())
    }

    /// A field that never needs quotes: a time, a number, a UUID, one of gcorr's own words.
    fn write_plain(&mut self, field: &str) {
        debug_assert!(!needs_quotes(field.as_bytes()), "{field:?}");
        self.write_encoded(field.as_bytes());
    }

    /// An id: a UUID as it is, any other text as a field.
    fn write_id(&mut self, id: Option<Id>, text: &str) -> Result<()> {
        if let Some(Id::Uuid(_)) = id {
            self.write_plain(text);
            return Ok(());
        }
        self.write_field(text)
    }

    /// Fields already encoded and separated (what every row of a conversation repeats).
    fn write_encoded(&mut self, fields: &[u8]) {
        self.separate();
        self.buf.extend_from_slice(fields);
    }

    fn end_row(&mut self) -> Result<()> {
        self.buf.push(b'\n');
        self.first = true;
        if self.buf.len() >= BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(out) = self.out.as_mut() {
            out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// Appends one field, quoted when it must be.
fn push_field(buf: &mut Vec<u8>, field: &[u8]) {
    if needs_quotes(field) {
        buf.push(b'"');
        for &b in field {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(field);
    }
}

/// Whether a field holds a comma, a quote or a line break: eight bytes at a time.
fn needs_quotes(field: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // A byte of `x` equal to `c` leaves a zero byte in `x ^ c`, found without a carry across
    // bytes deciding the answer (the usual zero-byte test, exact as a yes or no).
    let has = |x: u64, c: u8| {
        let y = x ^ (ONES * u64::from(c));
        y.wrapping_sub(ONES) & !y & (ONES * 0x80)
    };
    let mut words = field.chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        if has(x, b',') | has(x, b'"') | has(x, b'\n') | has(x, b'\r') != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

fn rows<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().has_headers(false).from_writer(out)
}

pub struct Events;

impl Encoder for Events {
    fn header(&self, out: &mut Vec<u8>) -> Result<()> {
        rows(out).write_record(EVENT_COLUMNS)?;
        Ok(())
    }

    /// Straight into the chunk's buffer.
    fn chunk(
        &self,
        _: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let mut w = Rows::held(std::mem::take(out));
        let written = event_rows(&mut w, timelines);
        *out = w.into_held();
        written
    }

    /// Every row repeats the conversation's media list: a long list weighs on every event.
    fn estimate(&self, t: &Timeline) -> usize {
        let syms = t.syms();
        let media: usize = t.media_types.iter().map(|&m| syms.to_string(m).len() + 1).sum();
        t.event_count() * (300 + media)
    }

    /// Row by row: only the row being written is held.
    fn stream(
        &self,
        _: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut dyn Write,
    ) -> Result<()> {
        let mut w = Rows::new(out);
        event_rows(&mut w, timelines)?;
        w.flush()
    }
}

/// One row per event of each timeline.
fn event_rows(w: &mut Rows, timelines: &mut dyn Iterator<Item = Timeline<'_>>) -> Result<()> {
    // The conversation's fields, encoded once for all of its rows.
    let mut head = Vec::new();
    for t in timelines {
        let syms = t.syms();
        head.clear();
        push_field(&mut head, syms.to_string(t.conversation_id()).as_bytes());
        head.push(b',');
        head.extend_from_slice(Millis(t.group.start).encode(&mut [0; 24]).as_bytes());
        head.push(b',');
        push_field(&mut head, joined(syms, &t.media_types).as_bytes());
        head.push(b',');
        push_field(&mut head, t.group.flags.joined("|").as_bytes());
        let data = t.enrichment.data.as_ref();
        let wrapup_name = |code: &str| data.and_then(|d| d.wrapup_name(code)).unwrap_or_default();
        // Who each participant is (purpose, name), as the timeline's participants say.
        let who: FxHashMap<&str, (&str, &str)> = t
            .participants
            .iter()
            .map(|p| {
                let who = (p.purpose.unwrap_or_default(), p.name.unwrap_or_default());
                (&*p.participant_id, who)
            })
            .collect();
        let status = t.enrichment.status.name();
        let (mut pid, mut wid, mut buf) = ([0; 36], [0; 36], [0; 36]);
        let (mut at, mut lag) = ([0; 24], itoa::Buffer::new());
        let mut source = Vec::new();
        // Every field comes from a buffer on the stack or from the symbol table.
        for e in t.events() {
            let participant = e.participant.map(|p| p.text(syms, &mut pid)).unwrap_or_default();
            let (purpose, name) = who.get(participant).copied().unwrap_or_default();
            let wrapup = e.wrapup.map(|s| syms.text(s, &mut wid)).unwrap_or_default();
            w.write_encoded(&head);
            w.write_id(Some(e.id), e.id.text(syms, &mut buf))?;
            w.write_plain(Millis(e.time).encode(&mut [0; 24]));
            let delivered = e.lag.delivered(e.time);
            w.write_plain(delivered.map(|d| Millis(d).encode(&mut at)).unwrap_or_default());
            w.write_plain(e.lag.ms(e.time).map(|l| lag.format(l)).unwrap_or_default());
            field(w, syms, Some(e.kind))?;
            field(w, syms, e.media)?;
            w.write_id(e.participant, participant)?;
            w.write_field(purpose)?;
            w.write_field(name)?;
            w.write_id(
                e.session,
                e.session.map(|s| s.text(syms, &mut buf)).unwrap_or_default(),
            )?;
            for s in [e.direction, e.queue, e.user, e.disconnect] {
                field(w, syms, s)?;
            }
            w.write_field(wrapup)?;
            w.write_field(wrapup_name(wrapup))?;
            // `file:line` or `file@offset`, one field (quoted as a whole when it must be).
            let (file, sep, n) = t.origin(e);
            source.clear();
            source.extend_from_slice(file.as_bytes());
            source.push(sep as u8);
            source.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            w.write_field(&source)?;
            w.write_plain(status);
            w.end_row()?;
        }
    }
    Ok(())
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

#[cfg(test)]
mod rows_tests {
    use super::*;

    proptest::proptest! {
        /// Rows are byte for byte what the `csv` crate writes, whatever the fields hold.
        #[test]
        fn rows_are_written_as_the_csv_crate_writes_them(
            rows in proptest::collection::vec(proptest::collection::vec("[a-z,\"\r\n é\\\\]{0,6}|[a-z0-9-]{0,30}[,\"\r\n]?[a-z]{0,9}", 3), 0..6)
        ) {
            let write = |w: &mut Rows| {
                for row in &rows {
                    for f in row {
                        w.write_field(f).unwrap();
                    }
                    w.end_row().unwrap();
                }
                w.flush().unwrap();
            };
            let mut streamed = Vec::new();
            write(&mut Rows::new(&mut streamed));
            let mut held = Rows::held(b"before ".to_vec());
            write(&mut held);
            let mut theirs = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
            for row in &rows {
                theirs.write_record(row).unwrap();
            }
            let theirs = theirs.into_inner().unwrap();
            proptest::prop_assert_eq!(&streamed, &theirs);
            proptest::prop_assert_eq!(held.into_held(), [&b"before "[..], &theirs].concat());
        }
    }
}
