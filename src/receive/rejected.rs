//! `DIR/rejected/`: a copy of every body (or Firehose record) that was refused for not being
//! JSON, so nothing a sender delivered is lost. Bounded in total size: past `--max-rejected`
//! bodies are only counted.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use jiff::Timestamp;

use super::segment::sync_dir;

pub struct Rejected {
    dir: PathBuf,
    max: u64,
    /// Bytes kept so far (those of earlier runs included).
    used: Mutex<u64>,
}

impl Rejected {
    pub fn new(spool: &std::path::Path, max: u64) -> Rejected {
        let dir = spool.join("rejected");
        let used = fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        Rejected {
            dir,
            max,
            used: Mutex::new(used),
        }
    }

    /// Keeps `body` (durably); false when there was no room left or the write failed.
    /// `kind` ends the file name (`events`, `firehose`, `firehose-record`).
    pub fn keep(&self, body: &[u8], kind: &str) -> bool {
        {
            let mut used = self.used.lock().expect("no panic holds the lock");
            if *used + body.len() as u64 > self.max {
                return false;
            }
            *used += body.len() as u64;
        }
        let name = format!(
            "{}-{:016x}.{kind}",
            Timestamp::now().strftime("%Y-%m-%dT%H-%M-%S"),
            fastrand::u64(..)
        );
        let written = fs::create_dir_all(&self.dir).and_then(|()| {
            let mut f = fs::File::create_new(self.dir.join(name))?;
            f.write_all(body)?;
            f.sync_data()?;
            sync_dir(&self.dir)
        });
        if written.is_err() {
            *self.used.lock().expect("no panic holds the lock") -= body.len() as u64;
        }
        written.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_until_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let r = Rejected::new(dir.path(), 10);
        assert!(r.keep(b"12345", "events"));
        assert!(r.keep(b"1234", "events"));
        assert!(!r.keep(b"12", "events"));
        let files: Vec<_> = fs::read_dir(dir.path().join("rejected")).unwrap().collect();
        assert_eq!(files.len(), 2);
        // A restart counts what is there.
        let again = Rejected::new(dir.path(), 10);
        assert!(again.keep(b"1", "events"));
        assert!(!again.keep(b"1", "events"));
    }
}
