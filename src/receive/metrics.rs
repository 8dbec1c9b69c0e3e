//! The receiver's counters, shared by the request handlers and the spool writer, and their
//! rendering as Prometheus text (`GET /metrics`) and as the periodic line on stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Why something was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Unauthorized,
    TooLarge,
    NotJson,
    Overloaded,
    NotStored,
    SlowBody,
}

impl Reason {
    const ALL: [Reason; 6] = [
        Reason::Unauthorized,
        Reason::TooLarge,
        Reason::NotJson,
        Reason::Overloaded,
        Reason::NotStored,
        Reason::SlowBody,
    ];

    fn label(self) -> &'static str {
        match self {
            Reason::Unauthorized => "unauthorized",
            Reason::TooLarge => "too_large",
            Reason::NotJson => "not_json",
            Reason::Overloaded => "overloaded",
            Reason::NotStored => "write_error",
            Reason::SlowBody => "slow_body",
        }
    }
}

/// Upper bounds of the fsync latency buckets, in seconds.
const FSYNC_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    pub events: AtomicU64,
    pub bytes: AtomicU64,
    rejected: [AtomicU64; Reason::ALL.len()],
    /// Rejected bodies that were counted but not kept: `DIR/rejected/` was full.
    pub rejected_dropped: AtomicU64,
    fsync_buckets: [AtomicU64; FSYNC_BUCKETS.len()],
    fsync_count: AtomicU64,
    fsync_micros: AtomicU64,
    pub open_segments: AtomicU64,
    pub segments_closed: AtomicU64,
}

impl Metrics {
    pub fn request(&self, path: &'static str, status: u16) {
        *self
            .requests
            .lock()
            .expect("no panic holds the lock")
            .entry((path, status))
            .or_default() += 1;
    }

    pub fn rejected(&self, reason: Reason) {
        self.rejected[reason as usize].fetch_add(1, Relaxed);
    }

    pub fn stored(&self, events: usize, bytes: usize) {
        self.events.fetch_add(events as u64, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }

    pub fn fsync(&self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = FSYNC_BUCKETS.iter().position(|&b| secs <= b) {
            self.fsync_buckets[i].fetch_add(1, Relaxed);
        }
        self.fsync_count.fetch_add(1, Relaxed);
        self.fsync_micros.fetch_add(took.as_micros() as u64, Relaxed);
    }

    fn rejected_total(&self) -> u64 {
        self.rejected.iter().map(|r| r.load(Relaxed)).sum()
    }

    /// The periodic stderr line.
    pub fn line(&self) -> String {
        let requests: u64 = self
            .requests
            .lock()
            .expect("no panic holds the lock")
            .values()
            .sum();
        format!(
            "gcorr: receive: {requests} requests, {} events stored ({} bytes), {} rejected, {} segments closed",
            self.events.load(Relaxed),
            self.bytes.load(Relaxed),
            self.rejected_total(),
            self.segments_closed.load(Relaxed),
        )
    }

    /// Prometheus text exposition; `spool` is where free space is measured.
    pub fn render(&self, spool: &Path) -> String {
        let mut s = String::with_capacity(4096);
        s.push_str("# HELP gcorr_receive_requests_total HTTP requests answered, by path and status.\n");
        s.push_str("# TYPE gcorr_receive_requests_total counter\n");
        for ((path, status), n) in self.requests.lock().expect("no panic holds the lock").iter() {
            let _ = writeln!(
                s,
                "gcorr_receive_requests_total{{path=\"{path}\",status=\"{status}\"}} {n}"
            );
        }
        counter(
            &mut s,
            "events_total",
            "Events stored (fsync'd).",
            self.events.load(Relaxed),
        );
        counter(
            &mut s,
            "bytes_total",
            "Bytes of events stored.",
            self.bytes.load(Relaxed),
        );
        s.push_str("# HELP gcorr_receive_rejected_total Requests or records refused, by reason.\n");
        s.push_str("# TYPE gcorr_receive_rejected_total counter\n");
        for r in Reason::ALL {
            let _ = writeln!(
                s,
                "gcorr_receive_rejected_total{{reason=\"{}\"}} {}",
                r.label(),
                self.rejected[r as usize].load(Relaxed)
            );
        }
        counter(
            &mut s,
            "rejected_dropped_total",
            "Rejected bodies not kept in rejected/ (its size limit was reached).",
            self.rejected_dropped.load(Relaxed),
        );
        s.push_str("# HELP gcorr_receive_fsync_seconds Latency of the spool's fsyncs.\n");
        s.push_str("# TYPE gcorr_receive_fsync_seconds histogram\n");
        let mut cumulative = 0;
        for (bound, n) in FSYNC_BUCKETS.iter().zip(&self.fsync_buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(
                s,
                "gcorr_receive_fsync_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.fsync_count.load(Relaxed);
        let _ = writeln!(s, "gcorr_receive_fsync_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            s,
            "gcorr_receive_fsync_seconds_sum {}",
            self.fsync_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(s, "gcorr_receive_fsync_seconds_count {count}");
        gauge(
            &mut s,
            "open_segments",
            "Segments being written.",
            self.open_segments.load(Relaxed),
        );
        counter(
            &mut s,
            "segments_closed_total",
            "Segments closed (and compressed unless --no-compress).",
            self.segments_closed.load(Relaxed),
        );
        if let Some(free) = free_bytes(spool) {
            gauge(&mut s, "free_disk_bytes", "Space left for the spool.", free);
        }
        s
    }
}

fn counter(s: &mut String, name: &str, help: &str, v: u64) {
    let _ = write!(
        s,
        "# HELP gcorr_receive_{name} {help}\n# TYPE gcorr_receive_{name} counter\ngcorr_receive_{name} {v}\n"
    );
}

fn gauge(s: &mut String, name: &str, help: &str, v: u64) {
    let _ = write!(
        s,
        "# HELP gcorr_receive_{name} {help}\n# TYPE gcorr_receive_{name} gauge\ngcorr_receive_{name} {v}\n"
    );
}

/// Bytes available to an unprivileged writer on the file system holding `path`.
#[cfg(unix)]
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(not(unix))]
pub fn free_bytes(_: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.request("/events", 200);
        m.request("/events", 200);
        m.request("/firehose", 413);
        m.stored(3, 300);
        m.rejected(Reason::NotJson);
        m.fsync(Duration::from_micros(700));
        m.fsync(Duration::from_millis(30));
        let text = m.render(Path::new("."));
        for line in [
            "gcorr_receive_requests_total{path=\"/events\",status=\"200\"} 2",
            "gcorr_receive_requests_total{path=\"/firehose\",status=\"413\"} 1",
            "gcorr_receive_events_total 3",
            "gcorr_receive_bytes_total 300",
            "gcorr_receive_rejected_total{reason=\"not_json\"} 1",
            "gcorr_receive_rejected_total{reason=\"too_large\"} 0",
            "gcorr_receive_fsync_seconds_bucket{le=\"0.0005\"} 0",
            "gcorr_receive_fsync_seconds_bucket{le=\"0.001\"} 1",
            "gcorr_receive_fsync_seconds_bucket{le=\"0.05\"} 2",
            "gcorr_receive_fsync_seconds_bucket{le=\"+Inf\"} 2",
            "gcorr_receive_fsync_seconds_count 2",
            "gcorr_receive_open_segments 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(text.contains("gcorr_receive_free_disk_bytes "));
    }
}
