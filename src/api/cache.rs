//! The conversation cache: one file per fetched conversation, written the moment it arrives.
//!
//! `DIR/<source>/<id>.json` holds the API's answer as received (temporary file, fsync,
//! rename: never a torn file), mode 0600 in a 0700 directory. A rerun reads it instead of
//! fetching, so an interrupted run resumes where it stopped. Only canonical UUIDs are used as
//! names (checked by the caller), so no id can escape the directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::ids::parse_uuid;

#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Opens (creating) `root/<source>`.
    pub fn open(root: &Path, source: &str) -> Result<Cache> {
        let dir = root.join(source);
        Self::create(&dir)?;
        Ok(Cache { dir })
    }

    /// Opens `root/<source>` to read only, creating nothing: a missing directory holds no
    /// conversation (`--offline`).
    pub fn existing(root: &Path, source: &str) -> Cache {
        Cache {
            dir: root.join(source),
        }
    }

    fn create(dir: &Path) -> Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .with_context(|| format!("{}: cannot create the cache directory", dir.display()))
    }

    fn path(&self, id: &str) -> Option<PathBuf> {
        parse_uuid(id).map(|_| self.dir.join(format!("{id}.json")))
    }

    /// Whether an answer for `id` is stored (without reading it).
    pub fn contains(&self, id: &str) -> bool {
        self.path(id).is_some_and(|p| p.is_file())
    }

    /// The stored answer for `id`, if any.
    pub fn read(&self, id: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(id)?).ok()
    }

    /// Stores the answer for `id` atomically.
    pub fn write(&self, id: &str, body: &[u8]) -> Result<()> {
        let path = self.path(id).context("not a conversation id")?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .with_context(|| format!("{}: cannot write to the cache", self.dir.display()))?;
        tmp.write_all(body)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path)
            .with_context(|| format!("{}: cannot store", path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_reads_back_private_files() {
        let root = tempfile::tempdir().unwrap();
        let c = Cache::open(root.path(), "conversations").unwrap();
        let id = "2f7bf00a-0fc2-4d6a-9b56-92238191433e";
        assert_eq!(c.read(id), None);
        c.write(id, b"{}").unwrap();
        assert_eq!(c.read(id).as_deref(), Some(&b"{}"[..]));
        assert!(c.write("../evil", b"{}").is_err());
        assert_eq!(c.read("../evil"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&root.path().join("conversations")), 0o700);
            assert_eq!(
                mode(&root.path().join("conversations").join(format!("{id}.json"))),
                0o600
            );
        }
    }
}
