//! Spool files on disk: where a segment goes (`DIR/YYYY/MM/DD/HH/gcorr-<yyyy-MM-dd-HH-mm-ss>-
//! <unique>.ndjson`, the Firehose layout, by UTC arrival time), how a closed one is compressed
//! into place, and how a spool left by a killed receiver is put right on start: a torn last
//! line cut off, half-done compressions finished or undone.
//!
//! Temporary files are hidden (`.gcorr-*`), so `gcorr correlate DIR` never reads one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

const PREFIX: &str = "gcorr-";
const SUFFIX: &str = ".ndjson";
const TEMP_PREFIX: &str = ".gcorr-";

/// Where a segment opened at `now` goes, with its directories.
pub fn path_for(dir: &Path, now: Timestamp) -> PathBuf {
    let t = now;
    dir.join(t.strftime("%Y/%m/%d/%H").to_string()).join(format!(
        "{PREFIX}{}-{:016x}{SUFFIX}",
        t.strftime("%Y-%m-%d-%H-%M-%S"),
        fastrand::u64(..)
    ))
}

/// The UTC hour `now` is in, counted from the epoch (segments never span two).
pub fn hour_of(now: Timestamp) -> i64 {
    now.as_second().div_euclid(3600)
}

/// Creates the segment file (and its directories), durably: its directory entries are
/// fsync'd, so an acknowledged event can never sit in a file that a crash unlinks.
pub fn create(dir: &Path, path: &Path) -> io::Result<File> {
    let parent = path.parent().expect("a segment is inside the spool");
    fs::create_dir_all(parent)?;
    let mut options = OpenOptions::new();
    options.create_new(true).append(true);
    // Events carry customers' phone numbers and addresses: readable by the owner only, as
    // the compressed copies (temporary files) are.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    lock(&file)?;
    let mut d = parent;
    loop {
        sync_dir(d)?;
        if d == dir {
            break;
        }
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    Ok(file)
}

/// Holds an exclusive lock on the open segment for as long as it is open: `gcorr correlate`
/// then reads it only up to its last complete line (see `input::open`), never a line in the
/// middle of its write. Closing the file releases it.
#[cfg(unix)]
fn lock(file: &File) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a descriptor this function borrows; it touches no memory.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(unix))]
fn lock(_: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

/// Replaces the closed segment `path` by `path.gz`: written to a hidden temporary file, fsync'd,
/// renamed into place, then the plain file removed. A crash at any point leaves the plain file,
/// the complete `.gz`, or both (then [`recover`] removes the plain one).
pub fn compress(path: &Path) -> io::Result<PathBuf> {
    let dir = path.parent().expect("a segment is inside the spool");
    let name = path.file_name().expect("a segment has a name").to_string_lossy();
    let target = dir.join(format!("{name}.gz"));
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let mut gz = flate2::write::GzEncoder::new(
        io::BufWriter::with_capacity(256 << 10, tmp.as_file()),
        flate2::Compression::fast(),
    );
    io::copy(&mut File::open(path)?, &mut gz)?;
    gz.finish()?.flush()?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    sync_dir(dir)?;
    fs::remove_file(path)?;
    sync_dir(dir)?;
    Ok(target)
}

/// What [`recover`] did.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Plain segments left by the previous run, now closed (to be compressed).
    pub segments: Vec<PathBuf>,
    /// Segments whose last line was torn, with the bytes cut off.
    pub torn: Vec<(PathBuf, u64)>,
}

/// Puts a spool left by an earlier (perhaps killed) run right.
pub fn recover(dir: &Path) -> io::Result<Recovered> {
    let mut out = Recovered::default();
    walk(dir, &mut out)?;
    out.segments.sort();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Recovered) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if kind.is_dir() && name != "rejected" && !name.starts_with('.') {
            walk(&path, out)?;
        } else if kind.is_file() && name.starts_with(TEMP_PREFIX) && name.ends_with(".tmp") {
            fs::remove_file(&path)?;
        } else if kind.is_file() && name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
            if dir.join(format!("{name}.gz")).exists() {
                // Compressed and renamed into place, but not yet removed.
                fs::remove_file(&path)?;
                continue;
            }
            let cut = cut_torn_line(&path)?;
            if cut > 0 {
                out.torn.push((path.clone(), cut));
            }
            out.segments.push(path);
        }
    }
    Ok(())
}

/// Truncates `path` after its last newline; how many bytes went.
pub fn cut_torn_line(path: &Path) -> io::Result<u64> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let keep = last_line_end(&mut file, len)?;
    if keep < len {
        file.set_len(keep)?;
        file.sync_all()?;
    }
    Ok(len - keep)
}

/// The length of `file` up to and including its last newline (0 when it has none).
fn last_line_end(file: &mut File, len: u64) -> io::Result<u64> {
    let mut buf = vec![0; 64 << 10];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firehose_layout_by_utc_hour() {
        let t: Timestamp = "2026-03-02T08:59:07.5Z".parse().unwrap();
        let p = path_for(Path::new("spool"), t);
        let s = p.to_string_lossy();
        assert!(
            s.starts_with("spool/2026/03/02/08/gcorr-2026-03-02-08-59-07-"),
            "{s}"
        );
        assert!(s.ends_with(".ndjson"));
        assert_ne!(p, path_for(Path::new("spool"), t), "unique");
        assert_eq!(hour_of(t) + 1, hour_of("2026-03-02T09:00:00Z".parse().unwrap()));
    }

    #[test]
    fn a_torn_line_is_cut_and_a_half_compression_undone() {
        let dir = tempfile::tempdir().unwrap();
        let seg = path_for(dir.path(), Timestamp::now());
        let mut f = create(dir.path(), &seg).unwrap();
        f.write_all(b"{\"a\":1}\n{\"b\":2}\n{\"c\":").unwrap();
        let whole = path_for(dir.path(), Timestamp::now());
        create(dir.path(), &whole)
            .unwrap()
            .write_all(b"{\"d\":4}\n")
            .unwrap();
        let done = path_for(dir.path(), Timestamp::now());
        create(dir.path(), &done)
            .unwrap()
            .write_all(b"{\"e\":5}\n")
            .unwrap();
        let gz = compress(&done).unwrap();
        fs::write(&done, b"{\"e\":5}\n").unwrap();
        fs::write(seg.with_file_name(".gcorr-x.tmp"), b"junk").unwrap();

        let r = recover(dir.path()).unwrap();
        assert_eq!(r.torn, [(seg.clone(), 5)]);
        let mut expected = vec![seg.clone(), whole.clone()];
        expected.sort();
        assert_eq!(r.segments, expected);
        assert_eq!(fs::read(&seg).unwrap(), b"{\"a\":1}\n{\"b\":2}\n");
        assert!(!done.exists() && gz.exists());
        assert!(!seg.with_file_name(".gcorr-x.tmp").exists());
        let mut text = String::new();
        flate2::read::GzDecoder::new(File::open(gz).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"e\":5}\n");
    }

    #[test]
    fn a_file_with_no_newline_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        fs::write(&p, vec![b'x'; 200_000]).unwrap();
        assert_eq!(cut_torn_line(&p).unwrap(), 200_000);
        assert_eq!(fs::metadata(&p).unwrap().len(), 0);
    }
}
