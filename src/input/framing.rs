//! Record framing: turns a byte stream into JSON records, whatever the framing.
//!
//! The framing is detected from the content of each input, never from its name:
//! - **lines**: the first value fits on one line and is followed by a newline (a log line's
//!   leading timestamp aside, see [`super::wrap`]). Each non-blank line is a record (found
//!   with `memchr`, the fastest path); positions are line numbers.
//! - **values**: anything else — values concatenated with no separator (`{..}{..}`, what
//!   Firehose writes), pretty-printed values, top-level arrays of events. A small resumable
//!   scanner tracks strings and nesting to find where each value ends; positions are byte
//!   offsets. A record cut short by the start of the next one (a `{` where JSON allows none,
//!   as in `}{` or `1{`) ends there, so one truncated record never swallows the rest of the
//!   file. Bytes between records that cannot start one are skipped and reported as one run,
//!   however long.
//!
//! A UTF-8 byte-order mark is skipped wherever a record may start (at the start of the stream,
//! of a line, between values: concatenated exports carry one per file); positions still count
//! its bytes.
//!
//! Input is consumed in chunks of about [`CHUNK`] bytes; a [`Batch`] owns its chunk and the
//! records are spans into it, so nothing is copied except a record straddling two chunks (and
//! not even that from a mapped file, whose batches are ranges of the mapping).
//! A record longer than [`MAX_RECORD`] is reported and skipped without being held in memory.

use std::io::{self, Read};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use memchr::memchr;

use super::Mapped;
use super::map::Map;
use super::wrap::after_timestamp;

/// Largest record accepted, in bytes.
pub const MAX_RECORD: usize = 16 << 20;
/// Bytes read at a time.
pub const CHUNK: usize = 1 << 20;

/// Where a record starts in its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pos {
    /// 1-based line number (line framing).
    Line(u64),
    /// 0-based byte offset in the (decompressed) stream.
    Offset(u64),
}

/// A record's bytes in [`Batch::data`] and where it came from.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub pos: Pos,
}

/// Consecutive records of one input.
#[derive(Debug, Default)]
pub struct Batch {
    data: Data,
    pub records: Vec<Span>,
    /// Input that could not be framed into a record (oversized, not JSON, unreadable): each one
    /// counts as one invalid record.
    pub problems: Vec<(Pos, String)>,
}

/// A batch's bytes: a buffer, or a range of a mapped file.
#[derive(Debug)]
enum Data {
    Owned(Buf),
    Mapped(MappedRange),
}

impl Default for Data {
    fn default() -> Self {
        Data::Owned(Buf::default())
    }
}

/// Bytes of a mapped file, whose pages are released from memory when they are dropped.
#[derive(Debug)]
struct MappedRange {
    map: Arc<Map>,
    range: Range<usize>,
}

impl Drop for MappedRange {
    fn drop(&mut self) {
        self.map.release(self.range.clone());
    }
}

impl Batch {
    /// A batch of one problem: an input that could not be read at all.
    pub fn problem(pos: Pos, message: String) -> Batch {
        Batch {
            problems: vec![(pos, message)],
            ..Batch::default()
        }
    }

    /// The bytes the spans index.
    pub fn bytes(&self) -> &[u8] {
        match &self.data {
            Data::Owned(buf) => &buf.data,
            Data::Mapped(m) => &m.map.bytes()[m.range.clone()],
        }
    }

    pub fn record(&self, span: &Span) -> &[u8] {
        &self.bytes()[span.start..span.end]
    }
}

/// Batch buffers handed back once their records are parsed, for the framer to fill again: a
/// fresh megabyte per batch costs an allocation, page faults and the kernel zeroing each page.
/// Clones share one pool.
#[derive(Clone, Debug, Default)]
pub struct Spares(Arc<Mutex<Vec<Buf>>>);

impl Spares {
    /// Buffers kept at most: more than the batches a pipeline has in flight.
    const KEEP: usize = 32;

    /// Hands a batch's buffer back; one grown for an oversized record is freed instead (and
    /// a mapped batch's pages are released).
    pub fn give(&self, batch: Batch) {
        let Data::Owned(Buf { mut data, init }) = batch.data else {
            return;
        };
        if data.capacity() > 2 * CHUNK + SLACK {
            return;
        }
        let init = init.max(data.len());
        data.clear();
        if let Ok(mut spares) = self.0.lock() {
            if spares.len() < Self::KEEP {
                spares.push(Buf { data, init });
            }
        }
    }

    /// An empty buffer, recycled when one is spare.
    fn take(&self) -> Buf {
        self.0
            .lock()
            .ok()
            .and_then(|mut spares| spares.pop())
            .unwrap_or_default()
    }
}

/// A buffer and how much of its memory is known initialized, so that reading into it again
/// need not zero it again (`Read::read` takes initialized memory only).
#[derive(Debug, Default)]
struct Buf {
    data: Vec<u8>,
    /// `data.len() <= init <= data.capacity()`: bytes `..init` of the allocation hold values
    /// written earlier (a shorter length does not undo them).
    init: usize,
}

impl Buf {
    /// `want` writable bytes past the end, as the last `want` of the (longer) buffer; the
    /// caller truncates to what it wrote.
    fn spare(&mut self, want: usize) -> &mut [u8] {
        let len = self.data.len();
        if self.data.capacity() - len < want {
            self.data.reserve_exact(want + SLACK);
            // A new allocation holds copies of `..len` only.
            self.init = len;
        }
        let end = len + want;
        if self.init < end {
            // SAFETY: `..init` is initialized (see the field), and init <= capacity.
            unsafe { self.data.set_len(self.init) };
            self.data.resize(end, 0);
            self.init = end;
        } else {
            // SAFETY: end <= init: every byte up to `end` is initialized.
            unsafe { self.data.set_len(end) };
        }
        &mut self.data[len..]
    }
}

/// Room reserved beyond a chunk, so that the unframed tail of the last batch (usually part of
/// one record) and the next chunk fit in a recycled buffer without growing it.
const SLACK: usize = 64 << 10;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Lines,
    Values,
}

/// Where the value scanner is inside the current record.
#[derive(Clone, Copy, Default, Debug)]
struct Scan {
    depth: u32,
    in_str: bool,
    escaped: bool,
    /// The last structural byte was `:`, `,` or `[`, the only places where JSON allows a `{`
    /// inside a value: anywhere else a `{` starts a new record.
    value_next: bool,
    /// A byte JSON never has outside strings was seen: this is no JSON, and any `{` may be
    /// the start of the next record.
    foreign: bool,
    /// The last string ended in `{` at this index (see [`Scan::run`]).
    brace_quote: Option<usize>,
}

/// The bytes of numbers and of `true`, `false`, `null`: with whitespace, `"` and the
/// structural `{}[]:,`, all that JSON has outside strings.
static SCALAR: [bool; 256] = {
    let mut t = [false; 256];
    let bytes = b"0123456789+-.eEtrufalsn";
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
};

enum Step {
    /// The value ends just before this index.
    Complete(usize),
    /// A new record starts at this index: the current one was cut short.
    Broken(usize),
    /// The buffer ended inside the value.
    Need,
}

impl Scan {
    /// Scans `buf[from..]`, resuming this state.
    ///
    /// Besides finding where a value ends, it notices where a record was cut short and the
    /// next one begins, using things valid JSON never contains: a raw newline inside a string;
    /// inside a container, a `{` after anything but `:`, `,` or `[` (`}{`, `"x"{`, `1{`: a
    /// record cut after a value), or after a byte that has no place outside strings (binary
    /// junk); and a string ending in `{` followed by something other than `:`, `,`, `}`, `]`
    /// — a record cut inside a string, whose next record's first quote was taken for the
    /// closing one.
    fn run(&mut self, buf: &[u8], from: usize) -> Step {
        let mut i = from;
        while i < buf.len() {
            if self.in_str {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                // The first quote, backslash or control character; only a newline among
                // the control characters matters here.
                match crate::scan::string_stop(buf, i) {
                    None => {
                        self.brace_quote = None;
                        return Step::Need;
                    }
                    Some(at) => {
                        i = at;
                        match buf[i] {
                            b'\\' => self.escaped = true,
                            b'\n' => return Step::Broken(i),
                            b'"' => {
                                self.in_str = false;
                                self.brace_quote = (i > from && buf[i - 1] == b'{').then(|| i - 1);
                            }
                            _ => {}
                        }
                        i += 1;
                        continue;
                    }
                }
            }
            let c = buf[i];
            if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                if let Some(p) = self.brace_quote.take() {
                    if !matches!(c, b':' | b',' | b'}' | b']') {
                        return Step::Broken(p);
                    }
                }
            }
            match c {
                b'"' => {
                    self.in_str = true;
                    self.value_next = false;
                }
                b'{' if (!self.value_next || self.foreign) && self.depth > 0 => return Step::Broken(i),
                b'{' => {
                    self.depth += 1;
                    self.value_next = false;
                }
                b'[' => {
                    self.depth += 1;
                    self.value_next = true;
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Step::Complete(i + 1);
                    }
                    self.value_next = false;
                }
                b':' | b',' => self.value_next = true,
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => {
                    self.value_next = false;
                    self.foreign |= !SCALAR[usize::from(c)];
                }
            }
            i += 1;
        }
        self.brace_quote = None;
        Step::Need
    }

    /// Whether `line` holds exactly one JSON object (judged by its structure alone).
    fn one_object(line: &[u8]) -> bool {
        line.first() == Some(&b'{')
            && matches!(Scan::default().run(line, 0), Step::Complete(end) if end == line.len())
    }

    /// Whether `text` starts with an object that ends before it does (more follows).
    fn several(text: &[u8]) -> bool {
        text.first() == Some(&b'{')
            && match Scan::default().run(text, 0) {
                Step::Complete(end) => end < text.len(),
                Step::Broken(_) => true,
                Step::Need => false,
            }
    }
}

/// An input and its bytes not framed yet ("held").
enum Held<R> {
    /// Read into a buffer of the framer's own.
    Read { reader: R, buf: Buf },
    /// Mapped whole: the bytes held are `map[at..end]`; those past `end` are not read yet.
    Mapped { input: Mapped, at: usize, end: usize },
}

impl<R: Read> Held<R> {
    fn bytes(&self) -> &[u8] {
        match self {
            Held::Read { buf, .. } => &buf.data,
            Held::Mapped { input, at, end } => &input.map.bytes()[*at..*end],
        }
    }

    /// Drops the first `n` bytes held (a byte-order mark).
    fn skip(&mut self, n: usize) {
        match self {
            Held::Read { buf, .. } => drop(buf.data.drain(..n)),
            Held::Mapped { at, .. } => *at += n,
        }
    }

    /// Reads `want` more bytes, or up to the end of the input (`Ok(true)`). Memory is zeroed
    /// once per buffer, not per read (buffers come back from the parsers to be filled again).
    /// What was read before an error is kept.
    fn fill(&mut self, want: usize) -> io::Result<bool> {
        let (reader, buf) = match self {
            Held::Read { reader, buf } => (reader, buf),
            Held::Mapped { input, end, .. } => {
                let map = &input.map;
                let len = map.bytes().len();
                if let Some(damage) = map.damage() {
                    return Err(io::Error::other(damage));
                }
                let next = len.min(*end + want);
                map.populate(*end..next);
                let more = input.take(next - *end);
                *end = next;
                return Ok(next == len || !more);
            }
        };
        let len = buf.data.len();
        let room = buf.spare(want);
        let mut got = 0;
        let result = loop {
            match reader.read(&mut room[got..]) {
                Ok(0) => break Ok(true),
                Ok(n) => {
                    got += n;
                    if got == room.len() {
                        break Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        buf.data.truncate(len + got);
        result
    }

    /// Hands the first `n` bytes held over, as a batch's, keeping the rest.
    fn hand_over(&mut self, n: usize, spares: &Spares) -> Data {
        match self {
            Held::Read { buf, .. } => {
                let mut next = spares.take();
                next.spare(buf.data.len() - n).copy_from_slice(&buf.data[n..]);
                buf.data.truncate(n);
                Data::Owned(std::mem::replace(buf, next))
            }
            Held::Mapped { input, at, .. } => {
                let range = *at..*at + n;
                *at += n;
                Data::Mapped(MappedRange {
                    map: input.map.clone(),
                    range,
                })
            }
        }
    }
}

/// Splits one input into batches of records.
pub struct Framer<R> {
    held: Held<R>,
    /// The first byte held is at stream offset `base`.
    base: u64,
    /// Line number of the first byte held (lines mode).
    line: u64,
    mode: Option<Mode>,
    eof: bool,
    /// Inside a top-level array (values mode).
    in_array: bool,
    /// Scanner state of the record starting at the first byte held, valid up to `scanned`.
    scan: Scan,
    scanned: usize,
    /// Discarding the rest of an oversized record.
    skipping: bool,
    /// Inside a run of bytes that cannot start a record (values mode).
    junk: Option<Junk>,
    /// Bytes wanted beyond those held on the next read (grows while one record spans many
    /// chunks).
    want: usize,
    spares: Spares,
}

impl<R: Read> Framer<R> {
    pub fn new(reader: R) -> Self {
        Self::with_spares(reader, Spares::default())
    }

    /// A framer that fills the buffers handed back to `spares`.
    pub fn with_spares(reader: R, spares: Spares) -> Self {
        let held = Held::Read {
            reader,
            buf: spares.take(),
        };
        Self::holding(held, spares)
    }

    /// A framer of a mapped file: its batches are ranges of the mapping.
    pub fn mapped(input: Mapped, spares: Spares) -> Self {
        let held = Held::Mapped { input, at: 0, end: 0 };
        Self::holding(held, spares)
    }

    fn holding(held: Held<R>, spares: Spares) -> Self {
        Framer {
            held,
            base: 0,
            line: 1,
            mode: None,
            eof: false,
            in_array: false,
            scan: Scan::default(),
            scanned: 0,
            skipping: false,
            junk: None,
            // Small at first: a small input then zeroes and touches little memory.
            want: SLACK,
            spares,
        }
    }

    /// The next batch, or `None` at the end of the input. A read error ends the input and is
    /// reported as a problem of the last batch.
    pub fn next_batch(&mut self) -> Option<Batch> {
        let mut batch = Batch::default();
        loop {
            if !self.eof {
                match self.held.fill(self.want) {
                    Ok(eof) => self.eof = eof,
                    Err(e) => {
                        let at = self.base + self.held.bytes().len() as u64;
                        batch.problems.push((Pos::Offset(at), read_error(&e)));
                        self.eof = true;
                    }
                }
            }
            if self.base == 0 && self.mode.is_none() && self.held.bytes().starts_with(BOM) {
                self.held.skip(BOM.len());
                self.base = 3;
            }
            let consumed = self.frame(&mut batch);
            self.want = if consumed == 0 {
                // The current record spans more than what is buffered: read twice as much as
                // last time, but only up to just past the longest record (which is then skipped).
                let room = (MAX_RECORD + CHUNK).saturating_sub(self.held.bytes().len());
                (self.want * 2).min(room).max(CHUNK)
            } else {
                CHUNK
            };
            // Hand over everything framed; keep the unconsumed tail for next time.
            batch.data = self.held.hand_over(consumed, &self.spares);
            if !batch.records.is_empty() || !batch.problems.is_empty() {
                return Some(batch);
            }
            // At the end of input frame() consumes everything, so this loop ends.
            if self.eof && self.held.bytes().is_empty() {
                return None;
            }
        }
    }

    /// Frames records out of the bytes held, returning how many were consumed.
    fn frame(&mut self, batch: &mut Batch) -> usize {
        if self.mode.is_none() {
            match self.detect() {
                Some(m) => self.mode = Some(m),
                None if self.eof => self.mode = Some(Mode::Values),
                None => return 0,
            }
        }
        match self.mode {
            Some(Mode::Lines) => self.frame_lines(batch),
            _ => self.frame_values(batch),
        }
    }

    /// Lines when any of the first complete lines holds exactly one object — which pretty
    /// printing, arrays and concatenation never produce — so a broken or foreign first line
    /// does not decide for the whole file; values otherwise.
    fn detect(&mut self) -> Option<Mode> {
        const SAMPLE: usize = 64;
        let buf = self.held.bytes();
        let (mut one, mut other, mut pos) = (0u32, 0u32, 0);
        for _ in 0..SAMPLE {
            let Some(nl) = memchr(b'\n', &buf[pos..]) else {
                break;
            };
            match trim(buf, pos, pos + nl) {
                Some((s, e)) if Scan::one_object(after_timestamp(&buf[s..e])) => one += 1,
                Some(_) => other += 1,
                None => {}
            }
            pos += nl + 1;
        }
        if one + other == 0 {
            // No complete non-blank line yet.
            return match trim(buf, pos, buf.len()) {
                _ if buf.len() > MAX_RECORD => Some(Mode::Values),
                None if self.eof => Some(Mode::Values),
                Some((s, e)) if self.eof => Some(if Scan::one_object(after_timestamp(&buf[s..e])) {
                    Mode::Lines
                } else {
                    Mode::Values
                }),
                // Values concatenated without newlines (what Firehose writes): this line will
                // not hold exactly one object, so decide now rather than buffer the whole input
                // looking for the end of the line.
                Some((s, e)) if Scan::several(&buf[s..e]) => Some(Mode::Values),
                _ => None,
            };
        }
        Some(if one > 0 { Mode::Lines } else { Mode::Values })
    }

    fn frame_lines(&mut self, batch: &mut Batch) -> usize {
        let buf = self.held.bytes();
        let mut i = 0;
        let mut line = self.line;
        loop {
            let nl = memchr(b'\n', &buf[i..]).map(|k| i + k);
            let end = match nl {
                Some(end) => end,
                None if self.eof => buf.len(),
                None => {
                    if buf.len() - i > MAX_RECORD && !self.skipping {
                        batch.problems.push((Pos::Line(line), too_long()));
                        self.skipping = true;
                    }
                    if self.skipping {
                        // Drop what is buffered of the oversized line.
                        i = buf.len();
                    }
                    break;
                }
            };
            if self.skipping {
                self.skipping = false;
            } else if end - i > MAX_RECORD {
                batch.problems.push((Pos::Line(line), too_long()));
            } else if let Some((s, e)) = trim(buf, i + bom_at(&buf[i..end]), end) {
                batch.records.push(Span {
                    start: s,
                    end: e,
                    pos: Pos::Line(line),
                });
            }
            line += 1;
            i = end + usize::from(nl.is_some());
            if nl.is_none() {
                break;
            }
        }
        self.line = line;
        self.base += i as u64;
        i
    }

    fn frame_values(&mut self, batch: &mut Batch) -> usize {
        let mut i = 0;
        let len = self.held.bytes().len();
        loop {
            if self.scanned == 0 && !self.skipping {
                // Between records.
                while i < len {
                    if self.junk.is_some() {
                        i = self.skip_junk(i, batch);
                        continue;
                    }
                    match self.held.bytes()[i] {
                        b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                        b',' if self.in_array => i += 1,
                        b'[' if !self.in_array => {
                            self.in_array = true;
                            i += 1;
                        }
                        b']' if self.in_array => {
                            self.in_array = false;
                            i += 1;
                        }
                        b'{' | b'[' => break,
                        0xEF if self.held.bytes()[i..].starts_with(BOM) => i += BOM.len(),
                        // Maybe a mark cut by the end of the buffer: wait for the rest.
                        0xEF if !self.eof && BOM.starts_with(&self.held.bytes()[i..]) => break,
                        _ => i = self.skip_junk(i, batch),
                    }
                }
                if i == len || self.held.bytes()[i] == 0xEF {
                    break;
                }
                self.scan = Scan::default();
            }
            let from = i + self.scanned;
            let step = self.scan.run(self.held.bytes(), from);
            match step {
                Step::Complete(end) | Step::Broken(end) => {
                    let broken = matches!(step, Step::Broken(_));
                    let pos = Pos::Offset(self.base + i as u64);
                    if self.skipping {
                        self.skipping = false;
                    } else if end - i > MAX_RECORD {
                        batch.problems.push((pos, too_long()));
                    } else {
                        batch.records.push(Span { start: i, end, pos });
                    }
                    if broken {
                        // The cut record is parsed as is and reported as truncated.
                        self.scan = Scan::default();
                    }
                    self.scanned = 0;
                    i = end;
                }
                Step::Need => {
                    if self.eof {
                        let pos = Pos::Offset(self.base + i as u64);
                        if self.skipping {
                        } else if len - i > MAX_RECORD {
                            batch.problems.push((pos, too_long()));
                        } else {
                            batch.records.push(Span {
                                start: i,
                                end: len,
                                pos,
                            });
                        }
                        self.skipping = false;
                        self.scanned = 0;
                        i = len;
                        break;
                    }
                    if len - i > MAX_RECORD && !self.skipping {
                        batch
                            .problems
                            .push((Pos::Offset(self.base + i as u64), too_long()));
                        self.skipping = true;
                    }
                    if self.skipping {
                        // Keep the scanner state, drop the bytes.
                        self.scanned = 0;
                        i = len;
                    } else {
                        self.scanned = len - i;
                    }
                    break;
                }
            }
        }
        if self.eof {
            self.end_junk(batch);
        }
        // While skipping, `scanned` stays 0 and the scan state carries over.
        self.base += i as u64;
        i
    }

    /// Skips bytes that cannot start a record, from `buf[from]` up to the next `{`, and
    /// returns where it stopped. A run that reaches the end of the buffer goes on in the next
    /// one: however long, it is reported once, when it ends.
    fn skip_junk(&mut self, from: usize, batch: &mut Batch) -> usize {
        let at = self.base + from as u64;
        let bytes = self.held.bytes();
        let next = memchr(b'{', &bytes[from..]).map(|k| from + k);
        let end = next.unwrap_or(bytes.len());
        self.junk.get_or_insert(Junk { at, len: 0 }).len += (end - from) as u64;
        if next.is_some() {
            self.end_junk(batch);
        }
        end
    }

    /// Reports the run of junk bytes that just ended, if any.
    fn end_junk(&mut self, batch: &mut Batch) {
        if let Some(Junk { at, len }) = self.junk.take() {
            let what = if len == 1 {
                "1 byte".to_owned()
            } else {
                format!("{len} bytes")
            };
            batch
                .problems
                .push((Pos::Offset(at), format!("not JSON: {what} skipped")));
        }
    }
}

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The length of a byte-order mark at the start of `line`, if it has one.
fn bom_at(line: &[u8]) -> usize {
    if line.starts_with(BOM) { BOM.len() } else { 0 }
}

/// A run of bytes between records that cannot start one.
#[derive(Clone, Copy, Debug)]
struct Junk {
    /// Stream offset of its first byte.
    at: u64,
    len: u64,
}

fn too_long() -> String {
    format!("record longer than {} MiB: skipped", MAX_RECORD >> 20)
}

fn read_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "input ends early (truncated gzip stream?)".to_owned(),
        _ => format!("cannot read further: {e}"),
    }
}

/// The non-blank part of `buf[start..end]`, without a trailing `\r`.
fn trim(buf: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let s = start + buf[start..end].iter().position(|b| !b.is_ascii_whitespace())?;
    let e = end - buf[s..end].iter().rev().position(|b| !b.is_ascii_whitespace())?;
    Some((s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Framed = (Vec<(Pos, String)>, Vec<(Pos, String)>);

    /// Frames `input` read `step` bytes at a time; returns (pos, text) of records and problems.
    fn frame_with(input: &[u8], step: usize) -> Framed {
        struct Slow<'a>(&'a [u8], usize);
        impl Read for Slow<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(out.len()).min(self.1);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        // Buffers go back to be filled again, as in the pipeline.
        let spares = Spares::default();
        collect(Framer::with_spares(Slow(input, step), spares.clone()), &spares)
    }

    /// Frames `input` from a mapped file.
    fn frame_mapped(input: &[u8]) -> Framed {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input");
        std::fs::write(&path, input).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let map = Map::new(file, input.len() as u64).expect("mapped");
        let mapped = Mapped::new(map, Arc::default());
        let spares = Spares::default();
        collect(Framer::<&[u8]>::mapped(mapped, spares.clone()), &spares)
    }

    fn collect<R: Read>(mut f: Framer<R>, spares: &Spares) -> Framed {
        let (mut recs, mut probs) = (vec![], vec![]);
        while let Some(mut b) = f.next_batch() {
            for s in &b.records {
                recs.push((s.pos, String::from_utf8_lossy(b.record(s)).into_owned()));
            }
            probs.append(&mut b.problems);
            spares.give(b);
        }
        (recs, probs)
    }

    #[test]
    fn a_mapped_file_that_shrinks_while_read_is_reported_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.ndjson");
        let line = format!("{{\"pad\":\"{}\"}}\n", "x".repeat(1000));
        std::fs::write(&path, line.repeat(4 * CHUNK / line.len())).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        let map = Map::new(std::fs::File::open(&path).unwrap(), len).unwrap();
        let mut f = Framer::<&[u8]>::mapped(Mapped::new(map, Arc::default()), Spares::default());
        let first = f.next_batch().unwrap();
        assert!(first.problems.is_empty() && !first.records.is_empty());
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let mut problems = vec![];
        while let Some(mut b) = f.next_batch() {
            for s in &b.records {
                // Past the cut, bytes read as zeros: never a crash.
                let _ = b.record(s);
            }
            problems.append(&mut b.problems);
        }
        let shrank = format!("cannot read further: the file shrank to {} bytes", len / 2);
        assert!(
            problems.iter().any(|(_, m)| m.starts_with(&shrank)),
            "{problems:?}"
        );
    }

    #[test]
    fn concatenated_values_are_framed_as_they_come() {
        // No newline anywhere (a Firehose object): framed chunk by chunk, not held whole.
        let input: String = (0..10_000)
            .map(|i| format!(r#"{{"n":{i},"pad":"{}"}}"#, "y".repeat(300)))
            .collect();
        let mut f = Framer::new(input.as_bytes());
        let (mut batches, mut records) = (0, 0);
        while let Some(b) = f.next_batch() {
            assert!(
                b.bytes().len() <= CHUNK + SLACK,
                "a batch of {} bytes",
                b.bytes().len()
            );
            assert!(b.problems.is_empty());
            assert!(matches!(b.records.first().map(|s| s.pos), Some(Pos::Offset(_))));
            batches += 1;
            records += b.records.len();
        }
        assert_eq!(records, 10_000);
        assert!(batches >= 3, "{batches} batches for {} bytes", input.len());
    }

    #[test]
    fn recycled_buffers_hold_only_new_bytes() {
        // Many batches, records of changing lengths across chunk ends, in both framings: a
        // buffer filled again must never show bytes of its previous batch.
        for sep in ["\n", ""] {
            let mut input = String::new();
            let mut want = vec![];
            for i in 0..6000 {
                let rec = format!(r#"{{"n":{i},"pad":"{}"}}"#, "x".repeat(i * 7 % 1500));
                input.push_str(&rec);
                input.push_str(sep);
                want.push(rec);
            }
            for step in [usize::MAX, 4093, 0] {
                let (recs, probs) = match step {
                    0 => frame_mapped(input.as_bytes()),
                    _ => frame_with(input.as_bytes(), step),
                };
                assert!(probs.is_empty(), "{probs:?}");
                let got: Vec<&String> = recs.iter().map(|(_, r)| r).collect();
                assert_eq!(got.len(), want.len(), "separator {sep:?}, step {step}");
                assert!(got.iter().zip(&want).all(|(g, w)| *g == w), "separator {sep:?}");
            }
        }
    }

    fn frame(input: &[u8]) -> Framed {
        let whole = frame_with(input, usize::MAX);
        for step in [1, 2, 3, 7] {
            assert_eq!(frame_with(input, step), whole, "read {step} bytes at a time");
        }
        if !input.is_empty() {
            assert_eq!(frame_mapped(input), whole, "mapped");
        }
        whole
    }

    fn texts(v: &[(Pos, String)]) -> Vec<&str> {
        // Cut long records so a failure does not print megabytes.
        v.iter().map(|(_, s)| &s[..s.len().min(60)]).collect()
    }

    #[test]
    fn ndjson_lines_with_blank_lines_crlf_and_bom() {
        let (r, p) = frame(b"\xEF\xBB\xBF{\"a\":1}\r\n\n  {\"b\":\"}{\"}\n{\"c\":3}");
        assert_eq!(texts(&r), ["{\"a\":1}", "{\"b\":\"}{\"}", "{\"c\":3}"]);
        assert_eq!(r[1].0, Pos::Line(3));
        assert_eq!(r[2].0, Pos::Line(4));
        assert!(p.is_empty());
    }

    #[test]
    fn byte_order_marks_of_concatenated_files_are_skipped() {
        let (r, p) = frame(b"\xEF\xBB\xBF{\"a\":1}\n\xEF\xBB\xBF{\"b\":2}\n\xEF\xBB\xBF\n");
        assert_eq!(texts(&r), ["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(r[1].0, Pos::Line(2));
        assert!(p.is_empty());
        let (r, p) = frame(b"\xEF\xBB\xBF{\"a\":1}\xEF\xBB\xBF{\"b\":2}\n\xEF\xBB\xBF[{\"c\":3}]");
        assert_eq!(texts(&r), ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
        assert_eq!(r[1].0, Pos::Offset(13));
        assert!(p.is_empty());
        // Half a mark is junk.
        let (r, p) = frame(b"{\"a\":1}\xEF\xBB{\"b\":2}\xEF");
        assert_eq!(texts(&r), ["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn bad_lines_are_records_with_their_line_number() {
        let (r, _) = frame(b"{\"a\":1}\nnot json\n{\"b\":2}\n");
        assert_eq!(r[1], (Pos::Line(2), "not json".to_owned()));
    }

    #[test]
    fn concatenated_values() {
        let (r, p) = frame(br#"{"a":"x\"}{"}{"b":[1,{"c":2}]}  {"d":3}"#);
        assert_eq!(
            texts(&r),
            [r#"{"a":"x\"}{"}"#, r#"{"b":[1,{"c":2}]}"#, r#"{"d":3}"#]
        );
        assert_eq!(r[1].0, Pos::Offset(13));
        assert!(p.is_empty());
    }

    #[test]
    fn pretty_and_arrays() {
        let (r, _) = frame(b"{\n  \"a\": 1\n}\n{\n \"b\": 2\n}\n");
        assert_eq!(texts(&r), ["{\n  \"a\": 1\n}", "{\n \"b\": 2\n}"]);
        let (r, p) = frame(b" [ {\"a\":1},\n {\"b\":[2]} ]\n");
        assert_eq!(texts(&r), ["{\"a\":1}", "{\"b\":[2]}"]);
        assert!(p.is_empty());
        let (r, _) = frame(b"[{\"a\":1}][{\"b\":2}]");
        assert_eq!(texts(&r), ["{\"a\":1}", "{\"b\":2}"]);
    }

    #[test]
    fn a_cut_record_does_not_swallow_the_next() {
        let (r, _) = frame(br#"{"a":{"b":1}{"c":2}{"d":3}"#);
        assert_eq!(texts(&r), [r#"{"a":{"b":1}"#, r#"{"c":2}"#, r#"{"d":3}"#]);
        let (r, _) = frame(b"{\"c\":2}{\"a\":");
        assert_eq!(texts(&r), ["{\"c\":2}", "{\"a\":"]);
        // Cut after a number, a string, a literal, or at the start of a key.
        let (r, _) = frame(br#"{"a":1{"b":"x"{"c":true{{"d":[{"e":4},{}]}"#);
        assert_eq!(
            texts(&r),
            [
                r#"{"a":1"#,
                r#"{"b":"x""#,
                r#"{"c":true"#,
                "{",
                r#"{"d":[{"e":4},{}]}"#
            ]
        );
        // Binary junk inside a record: any `{` after it may start the next record, even where
        // JSON would allow a nested one (after `,`).
        let (r, _) = frame(b"{\x86\x00M,{\"a\":[{}]}");
        assert_eq!(texts(&r), ["{\u{fffd}\u{0}M,", "{\"a\":[{}]}"]);
    }

    #[test]
    fn a_broken_or_foreign_first_line_keeps_line_framing() {
        let (r, _) = frame(b"{\"version\":\"0\",\"id\":\"tr\n{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(r[1], (Pos::Line(2), "{\"a\":1}".to_owned()));
        assert_eq!(r[2].0, Pos::Line(3));
        let (r, _) = frame(b"not json\n{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(texts(&r), ["not json", "{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(r[0].0, Pos::Line(1));
    }

    #[test]
    fn a_record_cut_inside_a_string_ends_where_the_next_begins() {
        // Concatenated: the next record's first quote would otherwise close the cut string.
        let (r, _) = frame(br#"{"a":"x"}{"b":"cut{"id":"e2","n":{"m":1}}{"c":3}"#);
        assert_eq!(
            texts(&r),
            [
                r#"{"a":"x"}"#,
                r#"{"b":"cut"#,
                r#"{"id":"e2","n":{"m":1}}"#,
                r#"{"c":3}"#
            ]
        );
        // Pretty: a raw newline inside a string ends the cut record.
        let (r, _) = frame(b"{\n \"a\": \"cut\n{\n \"b\": 2\n}\n");
        assert_eq!(texts(&r), ["{\n \"a\": \"cut", "{\n \"b\": 2\n}"]);
        // A key or value that really ends in `{` is fine.
        let (r, _) = frame(br#"{"k{":"v{","w":["x{"]}{"d":4}"#);
        assert_eq!(texts(&r), [r#"{"k{":"v{","w":["x{"]}"#, r#"{"d":4}"#]);
    }

    #[test]
    fn garbage_is_reported_and_skipped() {
        let (r, p) = frame(b"\x00\x01garbage{\"a\":1}");
        assert_eq!(texts(&r), ["{\"a\":1}"]);
        assert_eq!(p, [(Pos::Offset(0), "not JSON: 9 bytes skipped".to_owned())]);
    }

    #[test]
    fn a_run_of_junk_is_one_problem_however_long() {
        let mut input = b"{\"a\":1}".to_vec();
        input.extend(std::iter::repeat_n(0u8, 3 * CHUNK + 5));
        input.extend(b" \n{\"b\":2}\x00\x00");
        let (r, p) = frame_with(&input, 1 << 16);
        assert_eq!(texts(&r), ["{\"a\":1}", "{\"b\":2}"]);
        let n = 3 * CHUNK + 7;
        assert_eq!(
            p,
            [
                (Pos::Offset(7), format!("not JSON: {n} bytes skipped")),
                (
                    Pos::Offset(7 + n as u64 + 7),
                    "not JSON: 2 bytes skipped".to_owned()
                )
            ]
        );
    }

    #[test]
    fn oversized_records_are_skipped_without_buffering() {
        let big = "x".repeat(MAX_RECORD + 10);
        let lines = format!("{{\"a\":1}}\n{{\"b\":\"{big}\"}}\n{{\"c\":3}}\n");
        let (r, p) = frame_with(lines.as_bytes(), 1 << 16);
        assert_eq!(texts(&r), ["{\"a\":1}", "{\"c\":3}"]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, Pos::Line(2));
        let values = format!("{{\"a\":1}}{{\"b\":\"{big}\"}}{{\"c\":3}}");
        let (r, p) = frame_with(values.as_bytes(), 1 << 16);
        assert_eq!(texts(&r), ["{\"a\":1}", "{\"c\":3}"]);
        assert_eq!(p, [(Pos::Offset(7), too_long())]);
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(frame(b""), (vec![], vec![]));
        assert_eq!(frame(b" \n\n "), (vec![], vec![]));
    }
}
