//! The reading pipeline: frame inputs side by side, parse on all cores, fold in input order.
//!
//! ```text
//! reader threads ──batches──▶ parser threads ──parsed batches──▶ this thread (reorder, dedup)
//! ```
//! Each reader takes the next input not yet taken, opens it (decompressing gzip) and frames
//! its records into batches of about 1 MiB, numbered within the input and closed by an end
//! mark; with many inputs (a tree of gzip objects) the readers inflate and frame on every
//! core. Parsers normalise and filter the batches and intern their ids into the shared table;
//! the calling thread puts the parsed batches back into input order and feeds the [`Store`],
//! so the first occurrence of an event is always the one kept and ties keep input order.
//! Bounded channels, and a [`Window`] on how far readers may run ahead of the folding, keep
//! memory flat.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};

use crate::correlate::{Added, Filter, Incoming, Store};
use crate::event::{Parsed, ParsedEvent, parse_record};
use crate::input::framing::{Batch, Framer, Pos, Spares};
use crate::input::wrap;
use crate::input::{self, Source, Stream};
use crate::intern::{Interning, Recent};
use crate::report::{Counts, Diagnostics};
use crate::window::{Closing, Window};

/// How to read.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    pub filter: Filter,
    /// Compute content digests (`--dedup content`).
    pub digest: bool,
    pub strict: bool,
    pub threads: usize,
}

/// Batch `seq` of an input; `last` marks the (empty) batch after its last one.
struct Job {
    seq: u64,
    input: u32,
    last: bool,
    batch: Batch,
}

// Events are nearly every item; boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Item {
    /// Interned on the parser thread; the position is in the event.
    Event(Incoming),
    NotConversation,
    Filtered,
    Invalid(Pos, String),
}

struct Done {
    seq: u64,
    input: u32,
    last: bool,
    items: Vec<Item>,
}

/// Reads every source into a [`Store`], counting and reporting as it goes.
pub fn read(
    sources: &[Source],
    opts: &ReadOptions,
    diag: &mut Diagnostics,
    progress: &mut dyn FnMut(u64),
) -> Result<(Store, Counts)> {
    let mut store = Store::new(sources.iter().map(|s| s.name.clone()).collect());
    let mut counts = Counts::new(sources.len());
    let raw_bytes = Arc::new(AtomicU64::new(0));
    let threads = opts.threads.max(1);
    let (job_tx, job_rx) = sync_channel::<Job>(threads * 2);
    let (done_tx, done_rx) = sync_channel::<Done>(threads * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    // Batches read but not yet folded: what the channels hold, and as many again.
    let window = Window::new(threads * 4 + 2);
    let readers = threads.min(sources.len()).max(1);
    let next_input = AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<()> {
        let (window, next_input) = (&window, &next_input);
        let spares = Spares::default();
        for _ in 0..readers {
            let (tx, bytes, spares) = (job_tx.clone(), raw_bytes.clone(), spares.clone());
            scope.spawn(move || frame_inputs(sources, next_input, &tx, &bytes, window, &spares));
        }
        drop(job_tx);
        let syms = store.interning();
        for _ in 0..threads {
            let (rx, tx, syms) = (job_rx.clone(), done_tx.clone(), syms.clone());
            let spares = spares.clone();
            scope.spawn(move || parse_all(&rx, &tx, &syms, opts, &spares));
        }
        drop(done_tx);
        // Only the parsers hold the job receiver now, and this closure owns the results:
        // returning early (--strict) drops it, the parsers stop, then the readers do.
        drop(job_rx);
        let done_rx = done_rx;
        let _closing = Closing(window);
        let mut pending = BTreeMap::new();
        let (mut input, mut seq) = (0u32, 0u64);
        for done in done_rx {
            pending.insert((done.input, done.seq), done);
            while let Some(done) = pending.remove(&(input, seq)) {
                if done.last {
                    (input, seq) = (input + 1, 0);
                    window.next_lane();
                } else {
                    seq += 1;
                    window.advance();
                }
                fold(done, &mut store, &mut counts, diag, opts.strict, sources)?;
                progress(raw_bytes.load(Ordering::Relaxed));
            }
        }
        Ok(())
    })?;
    counts.bytes = raw_bytes.load(Ordering::Relaxed);
    Ok((store, counts))
}

/// How many events ahead [`fold`] asks for its look-ups.
const AHEAD: usize = 8;

fn fold(
    done: Done,
    store: &mut Store,
    counts: &mut Counts,
    diag: &mut Diagnostics,
    strict: bool,
    sources: &[Source],
) -> Result<()> {
    let input = done.input as usize;
    let c = &mut counts.inputs[input];
    let mut items = done.items.into_iter();
    while let Some(item) = items.next() {
        // Look-ups land in random places of a large table: ask for them a few events ahead.
        if let Some(Item::Event(e)) = items.as_slice().get(AHEAD - 1) {
            store.prefetch(e);
        }
        c.records += 1;
        match item {
            Item::Event(e) => {
                let pos = e.pos();
                match store.add_interned(e) {
                    Added::Kept => c.kept += 1,
                    Added::Duplicate => c.duplicates += 1,
                    Added::Conflicting {
                        input: first,
                        pos: at,
                    } => {
                        c.duplicates += 1;
                        c.conflicting += 1;
                        let first = diag.at(&sources[first as usize].name, at);
                        diag.conflicting(&sources[input].name, pos, &first);
                    }
                }
            }
            Item::NotConversation => c.not_conversation += 1,
            Item::Filtered => c.filtered += 1,
            Item::Invalid(pos, msg) => {
                c.invalid += 1;
                if strict {
                    bail!(
                        "{}: {msg} (--strict: nothing written)",
                        diag.at(&sources[input].name, pos)
                    );
                }
                diag.invalid(&sources[input].name, pos, &msg);
            }
        }
    }
    Ok(())
}

/// Frames inputs, each the next one no reader has taken, until none is left.
fn frame_inputs(
    sources: &[Source],
    next_input: &AtomicUsize,
    tx: &SyncSender<Job>,
    bytes: &Arc<AtomicU64>,
    window: &Window,
    spares: &Spares,
) {
    loop {
        // Interrupted: the inputs not begun are not read.
        if crate::signal::pending().is_some() {
            return;
        }
        let input = next_input.fetch_add(1, Ordering::Relaxed);
        let Some(src) = sources.get(input) else {
            return;
        };
        let input = input as u32;
        let mut seq = 0u64;
        let mut send = |batch: Batch, last: bool| {
            let job = Job {
                seq,
                input,
                last,
                batch,
            };
            seq += 1;
            window.enter(input, job.seq) && tx.send(job).is_ok()
        };
        let framed = match input::open(src, bytes.clone()) {
            Ok(stream) => {
                let mut framer = match stream {
                    Stream::Read(reader) => Framer::with_spares(reader, spares.clone()),
                    Stream::Mapped(mapped) => Framer::mapped(mapped, spares.clone()),
                };
                std::iter::from_fn(|| framer.next_batch()).all(|batch| send(batch, false))
            }
            Err(e) => send(Batch::problem(Pos::Offset(0), format!("{e:#}")), false),
        };
        if !framed || !send(Batch::default(), true) {
            return;
        }
    }
}

/// UUIDs each parser remembers (384 KiB: within a core's own cache).
const RECENT: usize = 1 << 14;

/// Where parsers read: the shared symbol table, the options and the input being read.
struct Ctx<'a, 'b> {
    syms: &'b mut Recent<'a>,
    opts: &'a ReadOptions,
    input: u32,
    /// The last event read and its place in the batch's items. An event is turned into
    /// symbols one record later: the cache slots of its ids, asked for when it was read, have
    /// arrived by then (the look-up missed otherwise).
    pending: Option<(usize, ParsedEvent, Pos)>,
}

impl Ctx<'_, '_> {
    /// Adds what one record turned out to be.
    fn add(&mut self, items: &mut Vec<Item>, parsed: Result<Parsed, String>, pos: Pos) {
        let item = match parsed {
            Ok(Parsed::Event(e)) if self.opts.filter.keeps(&e) => {
                for atom in [Some(&e.conversation), e.queue.as_ref(), e.user.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    self.syms.prefetch(atom);
                }
                self.finish(items);
                self.pending = Some((items.len(), e, pos));
                // Its place, filled by `finish`.
                Item::Filtered
            }
            Ok(Parsed::Event(_)) => Item::Filtered,
            Ok(Parsed::NotConversation) => Item::NotConversation,
            Err(msg) => Item::Invalid(pos, msg),
        };
        items.push(item);
    }

    /// Turns the pending event into symbols, in its place.
    fn finish(&mut self, items: &mut [Item]) {
        if let Some((at, e, pos)) = self.pending.take() {
            items[at] = Item::Event(Incoming::new(&e, self.syms, self.input, pos));
        }
    }
}

fn parse_all(
    rx: &Mutex<Receiver<Job>>,
    tx: &SyncSender<Done>,
    syms: &Interning,
    opts: &ReadOptions,
    spares: &Spares,
) {
    let mut recent = Recent::new(syms, RECENT);
    loop {
        let job = match rx.lock() {
            Ok(rx) => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let batch = &job.batch;
        let mut cx = Ctx {
            syms: &mut recent,
            opts,
            input: job.input,
            pending: None,
        };
        let mut items = Vec::with_capacity(batch.records.len() + batch.problems.len());
        for (pos, msg) in &batch.problems {
            items.push(Item::Invalid(*pos, msg.clone()));
        }
        for span in &batch.records {
            let record = batch.record(span);
            match parse_record(record, opts.digest) {
                // Not an event: perhaps events in a landing place's wrapper (SQS, SNS, logs).
                Err(msg) => match wrap::unwrap(record) {
                    None => items.push(Item::Invalid(span.pos, msg)),
                    Some(inner) if inner.is_empty() => items.push(Item::NotConversation),
                    Some(inner) => {
                        for i in inner {
                            let parsed = parse_record(&i.bytes, opts.digest);
                            let named = |msg| {
                                if i.at.is_empty() {
                                    msg
                                } else {
                                    format!("{}: {msg}", i.at)
                                }
                            };
                            cx.add(&mut items, parsed.map_err(named), span.pos);
                        }
                    }
                },
                parsed => cx.add(&mut items, parsed, span.pos),
            }
        }
        cx.finish(&mut items);
        // Nothing parsed borrows the batch's bytes.
        spares.give(job.batch);
        if tx
            .send(Done {
                seq: job.seq,
                input: job.input,
                last: job.last,
                items,
            })
            .is_err()
        {
            return;
        }
    }
}
