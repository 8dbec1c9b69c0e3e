//! Inputs: which byte streams to read (files, directory trees, stdin) and how to open them.
//!
//! Directories are walked recursively in sorted path order (a Firehose `YYYY/MM/DD/HH/` prefix
//! reads in time order); hidden entries (names starting with `.`) inside a walked directory are
//! passed over. gzip is recognised by its magic bytes, never by the file name.

pub mod framing;

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};

/// One input stream.
#[derive(Clone, Debug)]
pub struct Source {
    /// How positions name it: the path as given (or found in a directory), `-` for stdin.
    pub name: String,
    pub path: Option<PathBuf>,
    /// Size on disk, when known (for progress).
    pub size: Option<u64>,
}

impl Source {
    pub fn stdin() -> Source {
        Source {
            name: "-".into(),
            path: None,
            size: None,
        }
    }
}

/// Turns command-line inputs into the ordered list of streams to read. No input means stdin.
/// `quiet` silences the warning about empty directories.
pub fn expand(args: &[PathBuf], quiet: bool) -> Result<Vec<Source>> {
    if args.is_empty() {
        return Ok(vec![Source::stdin()]);
    }
    let mut out = Vec::new();
    for arg in args {
        if arg.as_os_str() == "-" {
            out.push(Source::stdin());
            continue;
        }
        let meta = std::fs::metadata(arg).with_context(|| format!("{}", arg.display()))?;
        if meta.is_dir() {
            let before = out.len();
            walk(arg, &mut out)?;
            if out.len() == before && !quiet {
                eprintln!("gcorr: warning: {}: no files in this directory", arg.display());
            }
        } else {
            out.push(file_source(arg, &meta));
        }
    }
    Ok(out)
}

fn file_source(path: &Path, meta: &std::fs::Metadata) -> Source {
    Source {
        name: path.display().to_string(),
        path: Some(path.to_owned()),
        size: meta.is_file().then_some(meta.len()),
    }
}

fn walk(dir: &Path, out: &mut Vec<Source>) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list directory", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()
        .with_context(|| format!("{}: cannot list directory", dir.display()))?;
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        // Symlinked directories are not followed (no cycles); symlinked files are read.
        let link = std::fs::symlink_metadata(&path).with_context(|| format!("{}", path.display()))?;
        if link.is_dir() {
            walk(&path, out)?;
        } else if let Ok(meta) = std::fs::metadata(&path) {
            if meta.is_file() {
                out.push(file_source(&path, &meta));
            }
        }
    }
    Ok(())
}

/// True when reading stdin would wait on a person at a terminal.
pub fn stdin_is_terminal(sources: &[Source]) -> bool {
    sources.iter().any(|s| s.path.is_none()) && io::stdin().is_terminal()
}

/// Opens a stream, transparently decompressing gzip (one or several members). `read` counts
/// the raw bytes taken from the file or stdin.
pub fn open(src: &Source, read: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = match &src.path {
        None => Box::new(io::stdin()),
        Some(p) => Box::new(File::open(p).context("cannot open")?),
    };
    decode(Box::new(Counting { inner: raw, read }))
}

/// Wraps a raw stream: decompressed when it starts with gzip's magic bytes (one or several
/// members), as is otherwise. The content decides, never a file name.
pub fn decode(raw: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::with_capacity(256 << 10, raw);
    let head = reader.fill_buf().context("cannot read")?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Fails early, with the file's name, when an input cannot be opened at all.
pub fn check_readable(sources: &[Source]) -> Result<()> {
    for s in sources {
        if let Some(p) = &s.path {
            if let Err(e) = File::open(p) {
                bail!("{}: cannot open: {e}", s.name);
            }
        }
    }
    Ok(())
}

struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    /// A signal ends the input here, as if it ended: what was read so far is kept.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if crate::signal::pending().is_some() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
