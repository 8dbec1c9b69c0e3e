//! The spool writer: the one thread that appends accepted events to the open segment and
//! answers each request only once its bytes are fsync'd. Requests arriving while a write or
//! an fsync is under way queue up and share the next fsync (group commit), for at most
//! `--sync-interval`. Segments rotate by size, age and UTC hour; closed ones go to a second
//! thread that compresses them.
//!
//! A failed write or fsync fails only the requests it covers (503, they are retried by the
//! sender). What a failed write left is cut off the segment; after a failed fsync (or a failed
//! cut) the segment is abandoned and the next request opens a fresh one. Either way the
//! service resumes by itself when space returns, and nothing unacknowledged is ever reported
//! as stored.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::Timestamp;
use tokio::sync::oneshot;

use super::metrics::Metrics;
use super::segment;

/// Why events were not stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Too many events already wait: 429.
    #[error("too many events waiting to be stored")]
    Overloaded,
    /// A write or fsync failed (disk full, I/O error): 503.
    #[error("not stored: {0}")]
    Failed(String),
}

#[derive(Clone, Debug)]
pub struct Options {
    pub dir: PathBuf,
    pub sync_interval: Duration,
    pub segment_bytes: u64,
    pub segment_age: Duration,
    pub compress: bool,
    pub max_inflight: usize,
}

struct Job {
    lines: Vec<u8>,
    events: usize,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle requests store through.
#[derive(Clone)]
pub struct Spool {
    tx: mpsc::Sender<Job>,
    inflight: Arc<AtomicUsize>,
    max_inflight: usize,
}

/// Owns the threads; [`Writer::close`] drains and stops them.
pub struct Writer {
    thread: JoinHandle<()>,
}

impl Spool {
    /// Starts the writer; `leftovers` are segments of an earlier run, to compress.
    pub fn start(opts: Options, leftovers: Vec<PathBuf>, metrics: Arc<Metrics>) -> Result<(Spool, Writer)> {
        let (tx, rx) = mpsc::channel();
        let (ctx, crx) = mpsc::channel::<PathBuf>();
        let compressor = if opts.compress {
            for p in leftovers {
                let _ = ctx.send(p);
            }
            Some(
                std::thread::Builder::new()
                    .name("gcorr-compress".into())
                    .spawn(move || compress_all(crx))
                    .context("cannot start a thread")?,
            )
        } else {
            None
        };
        let spool = Spool {
            tx,
            inflight: Arc::new(AtomicUsize::new(0)),
            max_inflight: opts.max_inflight,
        };
        let mut state = State {
            opts,
            segment: None,
            buf: Vec::new(),
            metrics,
            compress: compressor.as_ref().map(|_| ctx),
        };
        let thread = std::thread::Builder::new()
            .name("gcorr-spool".into())
            .spawn(move || {
                state.run(rx);
                drop(state);
                if let Some(c) = compressor {
                    let _ = c.join();
                }
            })
            .context("cannot start a thread")?;
        Ok((spool, Writer { thread }))
    }

    /// Appends `lines` (`events` complete lines) to the spool; returns once they are fsync'd.
    pub async fn store(&self, lines: Vec<u8>, events: usize) -> Result<(), StoreError> {
        let waiting = self.inflight.fetch_add(events, Relaxed) + events;
        let _release = Release(&self.inflight, events);
        if waiting > self.max_inflight && waiting > events {
            return Err(StoreError::Overloaded);
        }
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Job { lines, events, done })
            .map_err(|_| StoreError::Failed("the spool is closed".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Failed("the spool writer stopped".into())))
    }
}

/// Gives the in-flight count back however `store` ends (a cancelled request included).
struct Release<'a>(&'a AtomicUsize, usize);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Relaxed);
    }
}

impl Writer {
    /// Waits for the writer to store what is queued, close its segment and compress what is
    /// closed. Every [`Spool`] handle must be dropped first.
    pub fn close(self) {
        let _ = self.thread.join();
    }
}

struct Open {
    path: PathBuf,
    file: File,
    /// Bytes known to be complete lines.
    len: u64,
    opened: Instant,
    hour: i64,
}

struct State {
    opts: Options,
    segment: Option<Open>,
    /// The group being committed (kept to reuse its allocation).
    buf: Vec<u8>,
    metrics: Arc<Metrics>,
    compress: Option<mpsc::Sender<PathBuf>>,
}

impl State {
    fn run(&mut self, rx: mpsc::Receiver<Job>) {
        loop {
            let wait = self.segment.as_ref().map_or(Duration::from_secs(3600), |s| {
                self.opts.segment_age.saturating_sub(s.opened.elapsed())
            });
            let first = match rx.recv_timeout(wait) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.rotate_if_due();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            self.rotate_if_due();
            let started = Instant::now();
            let mut group = vec![first];
            while started.elapsed() < self.opts.sync_interval {
                match rx.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            self.commit(group);
        }
        self.close_segment();
    }

    /// Writes the group's lines in one write, fsyncs them, then answers every request of it
    /// with the outcome.
    fn commit(&mut self, group: Vec<Job>) {
        self.buf.clear();
        for job in &group {
            self.buf.extend_from_slice(&job.lines);
        }
        let buf = std::mem::take(&mut self.buf);
        let result = self.append(&buf).and_then(|()| self.sync());
        if result.is_ok() {
            self.metrics
                .stored(group.iter().map(|j| j.events).sum(), buf.len());
        }
        // A large Firehose group is not kept allocated.
        if buf.capacity() <= 16 << 20 {
            self.buf = buf;
        }
        for job in group {
            let _ = job.done.send(
                result
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| StoreError::Failed(e.to_string())),
            );
        }
    }

    fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        if self.segment.is_none() {
            self.open()?;
        }
        let seg = self.segment.as_mut().expect("just opened");
        match seg.file.write_all(lines) {
            Ok(()) => {
                seg.len += lines.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Part of the lines may be in the file: cut them off, so the next lines never
                // continue a torn one. If even that fails the segment is given up.
                if seg.file.set_len(seg.len).is_err() {
                    self.abandon();
                }
                Err(e)
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        let seg = self.segment.as_mut().expect("written to a segment");
        let started = Instant::now();
        let synced = seg.file.sync_data();
        self.metrics.fsync(started.elapsed());
        if synced.is_err() {
            // After a failed fsync the state of the written pages is unknown: this segment
            // is closed as it is (what it holds was not acknowledged, and senders retry).
            self.abandon();
        }
        synced
    }

    fn open(&mut self) -> io::Result<()> {
        let now = Timestamp::now();
        let path = segment::path_for(&self.opts.dir, now);
        let file = segment::create(&self.opts.dir, &path)?;
        self.metrics.open_segments.store(1, Relaxed);
        self.segment = Some(Open {
            path,
            file,
            len: 0,
            opened: Instant::now(),
            hour: segment::hour_of(now),
        });
        Ok(())
    }

    fn rotate_if_due(&mut self) {
        let due = self.segment.as_ref().is_some_and(|s| {
            s.len >= self.opts.segment_bytes
                || s.opened.elapsed() >= self.opts.segment_age
                || s.hour != segment::hour_of(Timestamp::now())
        });
        if due {
            self.close_segment();
        }
    }

    /// Closes the open segment (everything in it is already fsync'd) and hands it over to
    /// be compressed.
    fn close_segment(&mut self) {
        if let Some(seg) = self.segment.take() {
            self.closed(seg);
        }
    }

    /// Gives up the open segment after an error, keeping what it holds.
    fn abandon(&mut self) {
        if let Some(seg) = self.segment.take() {
            let _ = seg.file.set_len(seg.len);
            let _ = seg.file.sync_all();
            self.closed(seg);
        }
    }

    fn closed(&mut self, seg: Open) {
        drop(seg.file);
        self.metrics.open_segments.store(0, Relaxed);
        self.metrics.segments_closed.fetch_add(1, Relaxed);
        if seg.len == 0 {
            let _ = std::fs::remove_file(&seg.path);
        } else if let Some(c) = &self.compress {
            let _ = c.send(seg.path);
        }
    }
}

fn compress_all(rx: mpsc::Receiver<PathBuf>) {
    for path in rx {
        if let Err(e) = segment::compress(&path) {
            // The plain segment stays (correlate reads it as well); the next start retries.
            eprintln!("gcorr: receive: {}: not compressed: {e}", path.display());
        }
    }
}
