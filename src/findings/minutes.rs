//! The run's minute series (per UTC minute of event time: events, conversations started,
//! duplicates, lag percentiles, disconnects) and the findings read from it.
//!
//! Percentiles are by nearest rank over the exact lags of the minute's events. Minutes come
//! from the conversations written (after every filter), so the series always describes the
//! output it goes with.

use std::collections::BTreeMap;

use serde::Serialize;

use super::flags::is_error;
use super::{Flag, Thresholds};
use crate::correlate::Correlation;
use crate::intern::Sym;
use crate::report::group;
use crate::time::{Millis, humanise};

const MINUTE: i64 = 60_000;
/// Longest span filled minute by minute (31 days); beyond it, a stray far-off time would make
/// the series huge, so only minutes with events are listed.
const DENSE_MINUTES: i64 = 31 * 1440;
/// `error_disconnects`: at least this many in a minute...
const ERROR_MIN: u64 = 5;
/// ...and this many times the median minute.
const ERROR_FACTOR: u64 = 3;
/// `volume_drop`: fewer events than this fraction (in tenths) of the surrounding hour's median.
const DROP_TENTHS: u64 = 1;
/// `volume_drop` ignores this many minutes at each end of the data (partial minutes, ramps).
const DROP_EDGE: usize = 10;
/// Half of the surrounding hour.
const HALF_HOUR: usize = 30;

/// One minute of the series.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Minute {
    /// The minute's start, RFC 3339.
    pub minute: String,
    pub events: u64,
    pub conversations_started: u64,
    pub duplicates: u64,
    pub lag_p50_ms: Option<i64>,
    pub lag_p99_ms: Option<i64>,
    pub lag_max_ms: Option<i64>,
    /// Events by normalised disconnect type.
    pub disconnects: BTreeMap<String, u64>,
    /// Error disconnects (`error`, `transport_failure`): what the chart draws.
    pub error_disconnects: u64,
    #[serde(skip)]
    start: i64,
    /// Events later than the late threshold.
    #[serde(skip)]
    late: u64,
}

/// Something that looks wrong, with the time window it covers.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// `late_delivery`, `error_disconnects`, `volume_drop`, or `flag`.
    pub kind: &'static str,
    /// The flag whose conversations the finding is about (none for `volume_drop`).
    pub flag: Option<&'static str>,
    pub from: String,
    /// The end of the window (exclusive).
    pub to: String,
    /// Late events, error disconnects, events seen in the drop, or conversations flagged.
    pub count: u64,
    pub message: String,
}

/// The minute series and the findings of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Analysis {
    pub late_threshold_ms: i64,
    pub minutes: Vec<Minute>,
    pub findings: Vec<Finding>,
}

impl Analysis {
    pub fn new(c: &Correlation, t: &Thresholds) -> Analysis {
        let minutes = series(c, t);
        let mut findings = Vec::new();
        late_runs(&minutes, t, &mut findings);
        error_runs(&minutes, &mut findings);
        volume_drops(&minutes, &mut findings);
        findings.sort_by(|a, b| a.from.cmp(&b.from).then(a.kind.cmp(b.kind)));
        flag_counts(c, &mut findings);
        Analysis {
            late_threshold_ms: t.late_ms,
            minutes,
            findings,
        }
    }
}

fn series(c: &Correlation, t: &Thresholds) -> Vec<Minute> {
    let syms = &c.syms;
    let (Some(first), Some(last)) = (
        c.groups.iter().map(|g| g.start).min(),
        c.groups.iter().map(|g| g.end).max(),
    ) else {
        return Vec::new();
    };
    let (first, last) = (first.div_euclid(MINUTE), last.div_euclid(MINUTE));
    let starts: Vec<i64> = if last - first < DENSE_MINUTES {
        (first..=last).collect()
    } else {
        let mut m: Vec<i64> = c
            .groups
            .iter()
            .flat_map(|g| c.events(g).map(|e| e.time.div_euclid(MINUTE)))
            .collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let index = |minute: i64| -> Option<usize> {
        if last - first < DENSE_MINUTES {
            usize::try_from(minute - first).ok().filter(|&i| i < starts.len())
        } else {
            starts.binary_search(&minute).ok()
        }
    };
    let mut out: Vec<Minute> = starts
        .iter()
        .map(|&m| Minute {
            minute: Millis(m * MINUTE).to_string(),
            events: 0,
            conversations_started: 0,
            duplicates: 0,
            lag_p50_ms: None,
            lag_p99_ms: None,
            lag_max_ms: None,
            disconnects: BTreeMap::new(),
            error_disconnects: 0,
            start: m * MINUTE,
            late: 0,
        })
        .collect();
    // Lags bucketed by minute with one counting pass and one scatter, then each bucket sorted.
    let mut written = vec![false; c.store.conversations.len()];
    for g in &c.groups {
        written[g.conversation as usize] = true;
        if let Some(i) = index(g.start.div_euclid(MINUTE)) {
            out[i].conversations_started += 1;
        }
    }
    // The kept events in input order (one sequential pass over memory, not one jump per event
    // as in timeline order), those of conversations written only.
    let kept = || c.store.events.iter().filter(|e| written[e.conversation as usize]);
    let mut lag_counts = vec![0usize; out.len() + 1];
    let mut disconnects: Vec<Vec<(Sym, u64)>> = vec![Vec::new(); out.len()];
    for e in kept() {
        let i = index(e.time.div_euclid(MINUTE)).expect("every event's minute is listed");
        let m = &mut out[i];
        m.events += 1;
        if let Some(lag) = e.lag.ms(e.time) {
            lag_counts[i + 1] += 1;
            m.late += u64::from(lag > t.late_ms);
        }
        if let Some(d) = e.disconnect {
            match disconnects[i].iter_mut().find(|(s, _)| *s == d) {
                Some((_, n)) => *n += 1,
                None => disconnects[i].push((d, 1)),
            }
        }
    }
    for (m, counts) in out.iter_mut().zip(disconnects) {
        for (d, n) in counts {
            let text = syms.to_string(d);
            if is_error(&text) {
                m.error_disconnects += n;
            }
            m.disconnects.insert(text, n);
        }
    }
    for &(conversation, minute) in &c.store.duplicate_minutes {
        if written[conversation as usize] {
            if let Some(i) = index(i64::from(minute)) {
                out[i].duplicates += 1;
            }
        }
    }
    for i in 1..lag_counts.len() {
        lag_counts[i] += lag_counts[i - 1];
    }
    let mut fill = lag_counts.clone();
    let mut lags = vec![0i64; lag_counts[out.len()]];
    for e in kept() {
        if let Some(lag) = e.lag.ms(e.time) {
            let i = index(e.time.div_euclid(MINUTE)).expect("listed");
            lags[fill[i]] = lag;
            fill[i] += 1;
        }
    }
    for (i, m) in out.iter_mut().enumerate() {
        let bucket = &mut lags[lag_counts[i]..lag_counts[i + 1]];
        if bucket.is_empty() {
            continue;
        }
        bucket.sort_unstable();
        m.lag_p50_ms = Some(nearest_rank(bucket, 50));
        m.lag_p99_ms = Some(nearest_rank(bucket, 99));
        m.lag_max_ms = bucket.last().copied();
    }
    out
}

/// The `p`th percentile of sorted `v` by nearest rank: the smallest value with at least
/// p% of the values at or below it.
fn nearest_rank(v: &[i64], p: usize) -> i64 {
    let rank = (p * v.len()).div_ceil(100).max(1);
    v[rank - 1]
}

/// Maximal runs of consecutive minutes where `hot` holds, as index ranges.
fn runs(minutes: &[Minute], hot: impl Fn(usize) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < minutes.len() {
        if !hot(i) {
            i += 1;
            continue;
        }
        let start = i;
        // Consecutive in time, not only in the list (a sparse series skips minutes).
        while i + 1 < minutes.len() && hot(i + 1) && minutes[i + 1].start == minutes[i].start + MINUTE {
            i += 1;
        }
        out.push(start..i + 1);
        i += 1;
    }
    out
}

fn window(minutes: &[Minute], r: &std::ops::Range<usize>) -> (String, String, String) {
    let from = minutes[r.start].start;
    let to = minutes[r.end - 1].start + MINUTE;
    let (a, b) = (Millis(from).to_string(), Millis(to).to_string());
    let shown = if a[..10] == b[..10] {
        format!("{} {}–{} UTC", &a[..10], &a[11..16], &b[11..16])
    } else {
        format!("{} {} – {} {} UTC", &a[..10], &a[11..16], &b[..10], &b[11..16])
    };
    (a, b, shown)
}

fn late_runs(minutes: &[Minute], t: &Thresholds, out: &mut Vec<Finding>) {
    let late = |i: usize| minutes[i].lag_p99_ms.is_some_and(|p| p > t.late_ms);
    for r in runs(minutes, late) {
        let count: u64 = minutes[r.clone()].iter().map(|m| m.late).sum();
        let worst = minutes[r.clone()]
            .iter()
            .filter_map(|m| m.lag_max_ms)
            .max()
            .unwrap_or(0);
        let (from, to, shown) = window(minutes, &r);
        out.push(Finding {
            kind: "late_delivery",
            flag: Some(Flag::LateDelivery.name()),
            message: format!(
                "late delivery {shown}: {} events delivered more than {} after their time (lag up to {})",
                group(count),
                humanise(t.late_ms),
                humanise(worst)
            ),
            from,
            to,
            count,
        });
    }
}

fn error_runs(minutes: &[Minute], out: &mut Vec<Finding>) {
    let mut per_minute: Vec<u64> = minutes.iter().map(|m| m.error_disconnects).collect();
    per_minute.sort_unstable();
    let median = per_minute
        .get(per_minute.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0);
    let hot = |i: usize| {
        let n = minutes[i].error_disconnects;
        n >= ERROR_MIN && n >= ERROR_FACTOR * median
    };
    for r in runs(minutes, hot) {
        let count: u64 = minutes[r.clone()].iter().map(|m| m.error_disconnects).sum();
        let (from, to, shown) = window(minutes, &r);
        out.push(Finding {
            kind: "error_disconnects",
            flag: Some(Flag::ErrorDisconnect.name()),
            message: format!(
                "error disconnects {shown}: {} (error or transport_failure; median {median} a minute)",
                group(count)
            ),
            from,
            to,
            count,
        });
    }
}

fn volume_drops(minutes: &[Minute], out: &mut Vec<Finding>) {
    let n = minutes.len();
    if n <= 2 * DROP_EDGE {
        return;
    }
    let medians: Vec<u64> = (0..n)
        .map(|i| {
            let mut hour: Vec<u64> = minutes[i.saturating_sub(HALF_HOUR)..(i + HALF_HOUR).min(n - 1) + 1]
                .iter()
                .map(|m| m.events)
                .collect();
            hour.sort_unstable();
            hour[(hour.len() - 1) / 2]
        })
        .collect();
    let low = |i: usize| {
        (DROP_EDGE..n - DROP_EDGE).contains(&i) && minutes[i].events * 10 < medians[i] * DROP_TENTHS
    };
    for r in runs(minutes, low) {
        let count: u64 = minutes[r.clone()].iter().map(|m| m.events).sum();
        let expected = medians[r.clone()].iter().max().copied().unwrap_or(0);
        let (from, to, shown) = window(minutes, &r);
        out.push(Finding {
            kind: "volume_drop",
            flag: None,
            message: format!(
                "volume drop {shown}: {} events in {} minutes, against a median of {} a minute around it",
                group(count),
                r.len(),
                group(expected)
            ),
            from,
            to,
            count,
        });
    }
}

fn flag_counts(c: &Correlation, out: &mut Vec<Finding>) {
    for f in Flag::ALL {
        let flagged = c.groups.iter().filter(|g| g.flags.has(f));
        let (mut count, mut from, mut to) = (0u64, i64::MAX, i64::MIN);
        for g in flagged {
            count += 1;
            from = from.min(g.start);
            to = to.max(g.end);
        }
        if count == 0 {
            continue;
        }
        out.push(Finding {
            kind: "flag",
            flag: Some(f.name()),
            from: Millis(from).to_string(),
            to: Millis(to).to_string(),
            count,
            message: format!(
                "{}: {} conversation{}",
                f.name(),
                group(count),
                if count == 1 { "" } else { "s" }
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(nearest_rank(&v, 50), 50);
        assert_eq!(nearest_rank(&v, 99), 99);
        assert_eq!(nearest_rank(&[7], 99), 7);
        assert_eq!(nearest_rank(&[1, 2], 50), 1);
        assert_eq!(nearest_rank(&[1, 2, 3], 99), 3);
    }
}
