//! Where a run writes (`-o`, `--report`): checked before anything is read, written only once
//! complete.
//!
//! Before the run: each destination must be creatable (an existing directory we may write
//! in, not a directory itself), and must not be one of the inputs or the other destination.
//! Files are compared by identity (device and inode, links followed), not by spelling: a
//! `./dump.ndjson` or a link to it is still the input. Inside an input directory, an existing
//! file that would be read is a clash; a new one is not (it is not read this time).
//!
//! Writing goes through a temporary file in the target's directory, renamed into place only
//! once complete, so an interrupted or killed run never leaves a half-written file, and a
//! run that fails leaves every destination as it was.

use std::fs::{self, File, Metadata};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::input::Source;

/// A destination that would overwrite an input or the other destination: a usage error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Clash(String);

/// One destination: the flag that named it and the path given.
pub type Named<'a> = (&'a str, &'a Path);

/// Fails, before any work, when a destination cannot be written or clashes with an input or
/// with another destination ([`Clash`]).
pub fn check(destinations: &[Named], sources: &[Source]) -> Result<()> {
    for (i, &(flag, path)) in destinations.iter().enumerate() {
        let target = resolve(path);
        if let Some(meta) = fs::metadata(&target).ok().filter(Metadata::is_file) {
            let input = sources
                .iter()
                .filter_map(|s| s.path.as_deref())
                .find(|p| fs::metadata(p).is_ok_and(|m| same_file(&m, &meta)));
            if let Some(input) = input {
                return Err(Clash(format!(
                    "{flag} {} is also the input {}: writing it would replace what is read",
                    path.display(),
                    input.display()
                ))
                .into());
            }
        }
        for &(other_flag, other) in &destinations[..i] {
            if same_destination(&target, &resolve(other)) {
                return Err(Clash(format!(
                    "{other_flag} {} and {flag} {} are the same file: one would replace the other",
                    other.display(),
                    path.display()
                ))
                .into());
            }
        }
        writable(path, &target)?;
    }
    Ok(())
}

/// `target` (what `path` resolves to) can be created or replaced.
fn writable(path: &Path, target: &Path) -> Result<()> {
    match fs::metadata(target) {
        Ok(m) if m.is_dir() => bail!("{}: is a directory", path.display()),
        // A device or a pipe is written to as it is.
        Ok(m) if !m.is_file() => return Ok(()),
        _ => {}
    }
    let dir = dir_of(target);
    match fs::metadata(dir) {
        Err(_) => bail!("{}: no such directory", dir.display()),
        Ok(m) if !m.is_dir() => bail!("{}: not a directory", dir.display()),
        Ok(_) => {}
    }
    if !may_create_in(dir) {
        bail!(
            "{}: cannot create a file in this directory (permission denied)",
            dir.display()
        );
    }
    Ok(())
}

/// A path as the C library takes it; `None` when it holds a NUL byte (no such file).
#[cfg(unix)]
fn c_path(path: &Path) -> Option<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes()).ok()
}

#[cfg(unix)]
fn may_create_in(dir: &Path) -> bool {
    let Some(c) = c_path(dir) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

#[cfg(not(unix))]
fn may_create_in(dir: &Path) -> bool {
    fs::metadata(dir).is_ok_and(|m| !m.permissions().readonly())
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &Metadata, _: &Metadata) -> bool {
    false
}

/// Two resolved destinations name the same file: the same existing file, or the same new
/// name in the same directory.
fn same_destination(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => same_file(&x, &y) && x.is_file(),
        (Err(_), Err(_)) => {
            a.file_name() == b.file_name()
                && match (fs::metadata(dir_of(a)), fs::metadata(dir_of(b))) {
                    (Ok(x), Ok(y)) => same_file(&x, &y),
                    _ => dir_of(a) == dir_of(b),
                }
        }
        _ => false,
    }
}

/// The file `path` names once symbolic links are followed, even a link whose target does not
/// exist yet (writing creates that target and keeps the link).
pub fn resolve(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    // As many links as the kernel follows before giving up (ELOOP).
    for _ in 0..40 {
        match fs::read_link(&p) {
            Ok(to) if to.is_absolute() => p = to,
            Ok(to) => p = dir_of(&p).join(to),
            Err(_) => return p,
        }
    }
    p
}

/// The directory a file named `path` is (or would be) in.
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A destination written in full but not yet in place (see [`Staged::commit`]).
pub struct Staged {
    /// `None`: written directly (a device or a pipe), nothing left to do.
    temp: Option<(tempfile::NamedTempFile, PathBuf)>,
    path: PathBuf,
}

impl Staged {
    /// Renames the file into place. Until then, and if the run stops first, the destination
    /// is as it was and the temporary file is removed.
    pub fn commit(self) -> Result<()> {
        if let Some((tmp, target)) = self.temp {
            // Swapped with the file it replaces, which the temporary name then holds and
            // which is removed; a new name, or a file system that cannot swap, is renamed.
            if exchange(tmp.path(), &target) {
                let old = tmp.path().to_owned();
                if let Err(e) = tmp.close() {
                    eprintln!(
                        "gcorr: warning: {}: written; the file it replaced is left at {}: {e}",
                        self.path.display(),
                        old.display()
                    );
                }
            } else {
                tmp.persist(&target)
                    .with_context(|| format!("{}: cannot rename into place", self.path.display()))?;
            }
        }
        Ok(())
    }
}

/// Swaps two existing files in one step (`renameat2` with `RENAME_EXCHANGE`); false when it
/// could not (`to` does not exist, or the file system or kernel cannot), nothing changed.
///
/// Renaming over an existing file makes ext4 (`auto_da_alloc`) write the new file's data out
/// before the rename returns: a second or more for a large output on a slow disk. A swap
/// replaces the file as atomically, and leaves the writing to the kernel's usual pace; like
/// a run whose destination is new, a power cut soon after may lose the output.
#[cfg(target_os = "linux")]
fn exchange(from: &Path, to: &Path) -> bool {
    let (Some(c_from), Some(c_to)) = (c_path(from), c_path(to)) else {
        return false;
    };
    // Only a regular file is swapped out (and removed): `stage` found one there.
    if !fs::symlink_metadata(to).is_ok_and(|m| m.is_file()) {
        return false;
    }
    // SAFETY: two valid NUL-terminated paths, only read by the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            c_from.as_ptr(),
            libc::AT_FDCWD,
            c_to.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    r == 0
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> bool {
    false
}

/// Writes `path` in full, through a temporary file in the same directory (see [`Staged`]).
/// (No fsync: that guards against power loss, not against an interrupted run, and costs
/// seconds on large outputs.) A symbolic link is followed, so the file it names is written
/// and the link stays. What is not a regular file (`/dev/null`, `/dev/stdout`, a named pipe)
/// is written to as it is: renaming a file over it would replace the device or pipe itself.
pub fn stage(path: &Path, body: impl FnOnce(&mut BufWriter<&File>) -> Result<()>) -> Result<Staged> {
    let written = |file: &File| -> Result<()> {
        let mut w = BufWriter::with_capacity(256 << 10, file);
        body(&mut w).with_context(|| format!("{}: write failed", path.display()))?;
        w.flush()
            .with_context(|| format!("{}: write failed", path.display()))
    };
    let target = resolve(path);
    let existing = fs::metadata(&target).ok();
    if existing.as_ref().is_some_and(|m| !m.is_file()) {
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&target)
            .with_context(|| format!("{}: cannot open for writing", path.display()))?;
        written(&file)?;
        return Ok(Staged {
            temp: None,
            path: path.to_owned(),
        });
    }
    let dir = dir_of(&target);
    let tmp = tempfile::Builder::new()
        .prefix(".gcorr-")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a file in this directory", dir.display()))?;
    written(tmp.as_file())?;
    // A new file gets the usual mode for files (0644 under the common umask), not the
    // temporary file's 0600; an existing one keeps its own.
    let mode = existing
        .map(|m| m.permissions())
        .unwrap_or_else(default_permissions);
    tmp.as_file()
        .set_permissions(mode)
        .with_context(|| format!("{}: write failed", path.display()))?;
    Ok(Staged {
        temp: Some((tmp, target)),
        path: path.to_owned(),
    })
}

#[cfg(unix)]
fn default_permissions() -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(0o644)
}

#[cfg(not(unix))]
fn default_permissions() -> fs::Permissions {
    tempfile::tempfile()
        .and_then(|f| f.metadata())
        .map(|m| m.permissions())
        .expect("a temporary file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn resolves_dangling_and_chained_links() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::os::unix::fs::symlink("target.json", d.join("a")).unwrap();
        std::os::unix::fs::symlink(d.join("a"), d.join("b")).unwrap();
        assert_eq!(resolve(&d.join("b")), d.join("target.json"));
        assert_eq!(resolve(&d.join("plain")), d.join("plain"));
    }

    #[test]
    fn the_same_new_name_is_the_same_destination() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(same_destination(&d.join("x.json"), &d.join(".").join("x.json")));
        assert!(!same_destination(&d.join("x.json"), &d.join("y.json")));
    }
}
