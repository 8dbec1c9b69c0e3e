//! Read-ahead: the next inputs are opened, and compressed ones inflated, on worker threads
//! while the framer works on the current one, so a tree of many gzip objects (a Firehose
//! archive) is inflated on every core. Streams are handed over in input order; what waits
//! ahead is bounded (a few inputs, and [`AHEAD`] bytes of inflated text per worker).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::Result;

use super::Source;

/// Inflated text moves in pieces of this size.
const CHUNK: usize = 1 << 20;
/// Inflated text one worker may have ready ahead of the framer: a whole Firehose object, as a
/// rule, so the next one is done by the time the framer reaches it.
const AHEAD: usize = 16 << 20;

/// An input's stream, ready to frame, or why it could not be opened.
pub type Ready = Result<Box<dyn Read + Send>>;

/// Calls `consume` with every input's stream, in input order, while `workers` threads open and
/// inflate the inputs ahead of it. `consume` returns false to stop; the workers stop with it.
/// `read` counts the raw bytes taken from the inputs.
pub fn each(
    sources: &[Source],
    read: &Arc<AtomicU64>,
    workers: usize,
    mut consume: impl FnMut(usize, Ready) -> bool,
) {
    let next = AtomicUsize::new(0);
    let (tx, rx) = sync_channel::<(usize, Ready)>(workers);
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            let (tx, next, read) = (tx.clone(), &next, read.clone());
            scope.spawn(move || work(sources, next, &read, &tx));
        }
        drop(tx);
        // Owned here: returning drops it, and each worker stops at its next hand-over.
        let rx = rx;
        let mut pending = BTreeMap::new();
        for want in 0..sources.len() {
            let ready = loop {
                if let Some(ready) = pending.remove(&want) {
                    break ready;
                }
                match rx.recv() {
                    Ok((i, ready)) => {
                        pending.insert(i, ready);
                    }
                    Err(_) => return,
                }
            };
            if !consume(want, ready) {
                return;
            }
        }
    });
}

/// Takes inputs in order and hands each over: an inflating stream as pieces of inflated text
/// pumped from here, any other as it is (reading it here would only add a copy).
fn work(sources: &[Source], next: &AtomicUsize, read: &Arc<AtomicU64>, tx: &SyncSender<(usize, Ready)>) {
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(src) = sources.get(i) else {
            return;
        };
        match super::open_inflating(src, read.clone()) {
            Ok((mut stream, true)) => {
                let (pieces, rx) = sync_channel(AHEAD / CHUNK);
                if tx.send((i, Ok(Box::new(Pieces::new(rx))))).is_err() {
                    return;
                }
                pump(&mut stream, &pieces);
            }
            other => {
                if tx.send((i, other.map(|(stream, _)| stream))).is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads `stream` to its end (or first error) into `pieces`; stops when the framer is gone.
fn pump(stream: &mut dyn Read, pieces: &SyncSender<io::Result<Vec<u8>>>) {
    loop {
        let mut piece = Vec::with_capacity(CHUNK);
        match stream.take(CHUNK as u64).read_to_end(&mut piece) {
            Ok(0) => return,
            Ok(_) => {
                if pieces.send(Ok(piece)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // What was read before the error first, then the error: the framer reports it
                // where it happened, as when it reads the stream itself.
                if !piece.is_empty() && pieces.send(Ok(piece)).is_err() {
                    return;
                }
                let _ = pieces.send(Err(e));
                return;
            }
        }
    }
}

/// The framer's end of a pumped stream.
struct Pieces {
    rx: Receiver<io::Result<Vec<u8>>>,
    piece: Vec<u8>,
    at: usize,
}

impl Pieces {
    fn new(rx: Receiver<io::Result<Vec<u8>>>) -> Pieces {
        Pieces {
            rx,
            piece: Vec::new(),
            at: 0,
        }
    }
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.piece.len() {
            match self.rx.recv() {
                Ok(Ok(piece)) => {
                    self.piece = piece;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.piece.len() - self.at);
        buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn src(path: &std::path::Path) -> Source {
        Source {
            name: path.display().to_string(),
            path: Some(path.to_owned()),
            ..Source::stdin()
        }
    }

    fn gz(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn streams_come_in_input_order_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = Vec::new();
        let mut expected = Vec::new();
        for i in 0..40 {
            // Every other input compressed; some larger than a piece.
            let text: Vec<u8> = format!("input {i}\n").repeat(1 + i * 7000).into_bytes();
            let path = dir.path().join(format!("{i:02}"));
            std::fs::write(&path, if i % 2 == 0 { gz(&text) } else { text.clone() }).unwrap();
            sources.push(src(&path));
            expected.push(text);
        }
        sources.push(src(&dir.path().join("missing")));
        for workers in [1, 2, 5] {
            let mut got = Vec::new();
            let mut failed = 0;
            each(&sources, &Arc::new(AtomicU64::new(0)), workers, |i, ready| {
                assert_eq!(i, got.len() + failed);
                match ready {
                    Ok(mut r) => {
                        let mut text = Vec::new();
                        r.read_to_end(&mut text).unwrap();
                        got.push(text);
                    }
                    Err(_) => failed += 1,
                }
                true
            });
            assert_eq!(got, expected, "{workers} workers");
            assert_eq!(failed, 1);
        }
    }

    #[test]
    fn stopping_early_stops_the_workers() {
        let dir = tempfile::tempdir().unwrap();
        let big = gz(&b"x".repeat(64 << 20));
        let sources: Vec<Source> = (0..4)
            .map(|i| {
                let path = dir.path().join(format!("{i}"));
                std::fs::write(&path, &big).unwrap();
                src(&path)
            })
            .collect();
        let mut seen = 0;
        each(&sources, &Arc::new(AtomicU64::new(0)), 2, |_, _| {
            seen += 1;
            false
        });
        assert_eq!(seen, 1);
    }
}
