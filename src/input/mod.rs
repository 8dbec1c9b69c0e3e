//! Inputs: which byte streams to read (files, directory trees, stdin, S3 objects) and how to
//! open them.
//!
//! Directories are walked recursively in sorted path order (a Firehose `YYYY/MM/DD/HH/` prefix
//! reads in time order); hidden entries (names starting with `.`) inside a walked directory are
//! passed over, and so are entries that are not files to read (dangling links, links to
//! directories, pipes, sockets, devices), which are counted. A file named twice (given twice,
//! through a directory and by name, or through a hard link) is read once. gzip is recognised
//! by its magic bytes, never by the file name; text encodings are handled by [`text`].
//! Every input is opened exactly once: a pipe's writer is met only once.

pub mod framing;
pub mod map;
pub mod prune;
pub mod s3;
pub mod text;
pub mod wrap;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};

use crate::report::printable;

/// One input stream.
#[derive(Clone, Debug)]
pub struct Source {
    /// How positions name it: the path as given (or found in a directory), `-` for stdin.
    pub name: String,
    pub path: Option<PathBuf>,
    /// Size on disk, when known (for progress).
    pub size: Option<u64>,
    /// An S3 object (`name` is its URL).
    pub remote: Option<s3::Object>,
    /// The open file, once [`open_all`] has opened it.
    file: Option<Arc<File>>,
    /// Device and inode, which tell two names of one file.
    identity: Option<(u64, u64)>,
}

impl Source {
    pub fn stdin() -> Source {
        Source {
            name: "-".into(),
            path: None,
            size: None,
            remote: None,
            file: None,
            identity: None,
        }
    }
}

/// The streams to read, and what a directory walk passed over.
#[derive(Debug, Default)]
pub struct Inputs {
    pub sources: Vec<Source>,
    /// Entries passed over, with why: printable names.
    pub skipped: Vec<(String, &'static str)>,
}

/// Notes about files named twice shown before the rest are only counted.
const SHOWN_TWICE: usize = 5;

/// Where and what to read, beyond the inputs themselves.
#[derive(Clone, Debug)]
pub struct Plan {
    pub quiet: bool,
    /// Key times to read (`--since`/`--until` widened); `None` reads everything.
    pub window: Option<prune::Window>,
    pub s3: s3::Settings,
}

/// The inputs to read, what a directory walk passed over, and what pruning left out.
pub struct Gathered {
    pub sources: Vec<Source>,
    /// Entries passed over, with why: printable names.
    pub skipped: Vec<(String, &'static str)>,
    pub pruned: prune::Pruned,
    /// The S3 client, when an input is an `s3://` URL.
    pub remote: Option<s3::Remote>,
}

/// Turns command-line inputs (files, directories, `-`, `s3://` URLs) into the ordered list of
/// streams to read, less the files and objects whose names put them outside the window.
pub fn gather(args: &[PathBuf], plan: &Plan) -> Result<Gathered> {
    let mut out = Gathered {
        sources: Vec::new(),
        skipped: Vec::new(),
        pruned: prune::Pruned::default(),
        remote: None,
    };
    if args.is_empty() {
        out.sources = expand(args, plan.quiet)?.sources;
        return Ok(out);
    }
    for arg in args {
        let Some(url) = s3::Url::parse(arg) else {
            let Inputs { mut sources, skipped } = expand(std::slice::from_ref(arg), plan.quiet)?;
            if let Some(w) = &plan.window {
                let pruned = &mut out.pruned;
                sources.retain(|s| s.path.is_none() || pruned.keep(w, &s.name, s.size.unwrap_or(0)));
            }
            out.sources.extend(sources);
            out.skipped.extend(skipped);
            continue;
        };
        let remote = match &mut out.remote {
            Some(r) => r,
            None => out.remote.insert(s3::Remote::new(&plan.s3)?),
        };
        let found = remote.sources(&url?, plan.window.as_ref(), &mut out.pruned)?;
        if found.is_empty() && !plan.quiet {
            eprintln!("gcorr: warning: {}: no objects under this prefix", arg.display());
        }
        out.sources.extend(found);
    }
    // A file named by two arguments.
    read_once(&mut out.sources, plan.quiet);
    Ok(out)
}

/// Turns command-line inputs into the ordered list of streams to read. No input means stdin.
/// `quiet` silences the warning about empty directories and the notes about files named twice.
pub fn expand(args: &[PathBuf], quiet: bool) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    if args.is_empty() {
        inputs.sources.push(Source::stdin());
        return Ok(inputs);
    }
    let mut found = Vec::new();
    for arg in args {
        if arg.as_os_str() == "-" {
            inputs.sources.push(Source::stdin());
            continue;
        }
        let meta = std::fs::metadata(arg).with_context(|| printable(&arg.display().to_string()))?;
        if meta.is_dir() {
            let before = found.len();
            walk(arg, &mut found, &mut inputs.skipped)?;
            if found.len() == before && !quiet {
                eprintln!(
                    "gcorr: warning: {}: no files in this directory",
                    printable(&arg.display().to_string())
                );
            }
        } else {
            found.push((arg.clone(), meta));
        }
        // Keep command-line order: stdin may come between files.
        for (path, meta) in found.drain(..) {
            inputs.sources.push(file_source(&path, &meta));
        }
    }
    read_once(&mut inputs.sources, quiet);
    Ok(inputs)
}

/// Drops every file already in the list under another name (same device and inode).
fn read_once(sources: &mut Vec<Source>, quiet: bool) {
    let mut first: HashMap<(u64, u64), String> = HashMap::new();
    let mut twice = 0usize;
    sources.retain(|s| {
        let Some(key) = s.identity else {
            return true;
        };
        match first.get(&key) {
            None => {
                first.insert(key, s.name.clone());
                true
            }
            Some(earlier) => {
                twice += 1;
                if !quiet && twice <= SHOWN_TWICE {
                    eprintln!(
                        "gcorr: note: {} is the same file as {}: read once",
                        printable(&s.name),
                        printable(earlier)
                    );
                }
                false
            }
        }
    });
    if !quiet && twice > SHOWN_TWICE {
        eprintln!(
            "gcorr: note: {} more files named twice, read once",
            twice - SHOWN_TWICE
        );
    }
}

/// A file's device and inode: what makes two names one file.
#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

fn file_source(path: &Path, meta: &std::fs::Metadata) -> Source {
    Source {
        name: path.display().to_string(),
        path: Some(path.to_owned()),
        size: meta.is_file().then_some(meta.len()),
        remote: None,
        file: None,
        identity: identity(meta),
    }
}

fn walk(
    dir: &Path,
    out: &mut Vec<(PathBuf, std::fs::Metadata)>,
    skipped: &mut Vec<(String, &'static str)>,
) -> Result<()> {
    let shown = || printable(&dir.display().to_string());
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list directory", shown()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()
        .with_context(|| format!("{}: cannot list directory", shown()))?;
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        let link =
            std::fs::symlink_metadata(&path).with_context(|| printable(&path.display().to_string()))?;
        if link.is_dir() {
            walk(&path, out, skipped)?;
            continue;
        }
        // Symlinked directories are not followed (no cycles); symlinked files are read.
        let why = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {
                out.push((path, meta));
                continue;
            }
            Err(_) if link.is_symlink() => "a dangling symbolic link",
            Err(_) => "unreadable",
            Ok(meta) if meta.is_dir() => "a symbolic link to a directory: not followed",
            Ok(_) => special_kind(&link),
        };
        skipped.push((printable(&path.display().to_string()), why));
    }
    Ok(())
}

/// What a directory entry that is neither a file nor a directory is.
#[cfg(unix)]
fn special_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::Metadata) -> &'static str {
    "not a regular file"
}

/// True when reading stdin would wait on a person at a terminal.
pub fn stdin_is_terminal(sources: &[Source]) -> bool {
    sources.iter().any(|s| s.path.is_none() && s.remote.is_none()) && io::stdin().is_terminal()
}

/// Opens every named input, failing early with its name when one cannot be opened at all.
/// What is not a regular file (a named pipe, `/dev/stdin`, a process substitution) is read
/// from the handle opened here, its only open: a second one would find the pipe's writer gone
/// with the first (and wait for another forever). Regular files are opened again when their
/// turn comes, which changes nothing for them, rather than held: a tree of thousands would
/// run out of file descriptors.
pub fn open_all(sources: &mut [Source]) -> Result<()> {
    for s in sources {
        if let Some(p) = &s.path {
            match File::open(p) {
                Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => {}
                Ok(f) => s.file = Some(Arc::new(f)),
                Err(e) => bail!("{}: cannot open: {e}", printable(&s.name)),
            }
        }
    }
    Ok(())
}

/// An opened input: a stream to read, or a regular file mapped in place (see [`map`]).
pub enum Stream {
    Read(Box<dyn Read + Send>),
    Mapped(Mapped),
}

/// A regular file mapped whole, and the count of raw bytes read that it adds to.
pub struct Mapped {
    pub map: Arc<map::Map>,
    read: Arc<AtomicU64>,
}

impl Mapped {
    /// A mapped file whose bytes, as they are taken, are counted in `read`.
    pub fn new(map: map::Map, read: Arc<AtomicU64>) -> Mapped {
        Mapped {
            map: Arc::new(map),
            read,
        }
    }

    /// Counts `n` more bytes taken; `false` when a signal ends the input here (see [`Counting`]).
    pub fn take(&self, n: usize) -> bool {
        taken(&self.read, n as u64)
    }
}

/// Opens a stream (from the handle [`open_all`] kept, if any), transparently decompressing
/// gzip and decoding UTF-16; a regular file of plain UTF-8 text is mapped instead. `read`
/// counts the raw bytes taken from the file or stdin.
pub fn open(src: &Source, read: Arc<AtomicU64>) -> Result<Stream> {
    let raw: Box<dyn Read + Send> = match (&src.file, &src.path, &src.remote) {
        (_, _, Some(object)) => object.open(),
        (Some(f), _, _) => Box::new(Shared(f.clone())),
        (None, None, None) => Box::new(io::stdin()),
        (None, Some(p), None) => match open_file(p).context("cannot open")? {
            Opened::Read(r) => r,
            Opened::Mapped(map) => return Ok(Stream::Mapped(Mapped::new(map, read))),
        },
    };
    decode(Box::new(Counting { inner: raw, read })).map(Stream::Read)
}

enum Opened {
    Read(Box<dyn Read + Send>),
    Mapped(map::Map),
}

/// Opens a regular file: mapped when it holds plain UTF-8 text (not gzip, not UTF-16), read
/// otherwise. One that a writer holds an exclusive lock on (the segment `gcorr receive` is
/// appending to) is read up to its last complete line, as it was when opened: the line being
/// written is not an event yet, and not an invalid record either. A mapped file is read as
/// long as it was when opened.
fn open_file(path: &Path) -> io::Result<Opened> {
    use std::os::unix::fs::FileExt;
    let file = File::open(path)?;
    let locked = complete_lines(&file)?;
    let len = match locked {
        Some(len) => len,
        None => file.metadata()?.len(),
    };
    let mut head = [0u8; 64];
    let got = file.read_at(&mut head, 0)?;
    let head = &head[..got.min(len as usize)];
    // A file too short to tell (or empty) is read: it costs nothing either way.
    if head.len() == 64 && plain_text(head) {
        if let Some(map) = file.try_clone().ok().and_then(|f| map::Map::new(f, len)) {
            return Ok(Opened::Mapped(map));
        }
    }
    Ok(Opened::Read(match locked {
        Some(len) => Box::new(file.take(len)),
        None => Box::new(file),
    }))
}

/// The length up to the last newline of a file a writer holds locked; `None` when no one does.
#[cfg(unix)]
fn complete_lines(file: &File) -> io::Result<Option<u64>> {
    use std::os::unix::fs::FileExt;
    use std::os::unix::io::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: flock on a descriptor this function borrows; it touches no memory.
    if unsafe { libc::flock(fd, libc::LOCK_SH | libc::LOCK_NB) } == 0 {
        // SAFETY: as above.
        unsafe { libc::flock(fd, libc::LOCK_UN) };
        return Ok(None);
    }
    if io::Error::last_os_error().raw_os_error() != Some(libc::EWOULDBLOCK) {
        return Ok(None);
    }
    let mut end = file.metadata()?.len();
    let mut buf = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(Some(start + i as u64 + 1));
        }
        end = start;
    }
    Ok(Some(0))
}

#[cfg(not(unix))]
fn complete_lines(_: &File) -> io::Result<Option<u64>> {
    Ok(None)
}

/// Wraps a raw stream: decompressed when it starts with gzip's magic bytes (one or several
/// members), as is otherwise, and then decoded from UTF-16 if it is (see [`text`]). The
/// content decides, never a file name. Text in an encoding gcorr cannot read is an error.
pub fn decode(raw: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::with_capacity(256 << 10, raw);
    let head = reader.fill_buf().context("cannot read")?;
    if is_gzip(head) {
        let inflated = flate2::bufread::MultiGzDecoder::new(reader);
        decode_text(BufReader::with_capacity(256 << 10, inflated))
    } else {
        decode_text(reader)
    }
}

/// Whether a stream starting with `head` is gzip (its magic bytes).
fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Whether a stream starting with `head` is read as it is: not gzip, and UTF-8 text (what
/// [`decode`] passes through unchanged, and a regular file of which is mapped).
pub fn plain_text(head: &[u8]) -> bool {
    !is_gzip(head) && text::sniff(head) == text::Encoding::Utf8
}

fn decode_text<R: BufRead + Send + 'static>(mut reader: R) -> Result<Box<dyn Read + Send>> {
    let encoding = match reader.fill_buf().map(text::sniff) {
        Ok(e) => e,
        // The framer reports it, where it happened, as for any read error.
        Err(e) => return Ok(Box::new(Failed(Some(e)))),
    };
    match encoding {
        text::Encoding::Utf8 => Ok(Box::new(reader)),
        text::Encoding::Utf16 { big_endian } => {
            reader.consume(2);
            Ok(Box::new(text::Utf16::new(reader, big_endian)))
        }
        text::Encoding::Unsupported(what) => bail!("{}", text::unsupported(what)),
    }
}

/// A stream whose first read failed: the error, then nothing.
struct Failed(Option<io::Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        self.0.take().map_or(Ok(0), Err)
    }
}

/// A file opened once and shared with the reading thread.
struct Shared(Arc<File>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if crate::signal::pending().is_some() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        taken(&self.read, n as u64);
        Ok(n)
    }
}

/// Counts `n` raw bytes taken from an input; `false` when a signal ends the input here, as if
/// it ended: what was read so far is kept.
fn taken(read: &AtomicU64, n: u64) -> bool {
    read.fetch_add(n, Ordering::Relaxed);
    crate::signal::pending().is_none()
}
