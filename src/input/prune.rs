//! Key-time pruning: which objects (or files) of a Firehose archive can hold events of the
//! time range to read, judged from their names alone. Pure.
//!
//! Firehose names an object `<prefix>YYYY/MM/dd/HH/<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>`
//! with the approximate arrival time of its oldest record (the key time, in UTC unless the
//! stream has a CustomTimeZone). An object with key time `t` holds records that arrived from
//! `t` to `t + 15 min` (the longest buffering interval), of events that happened at most
//! `late` before they arrived. So it can hold an event of `[lo, hi]` only when
//! `lo − 15 min ≤ t ≤ hi + late`. Directory levels (`2026/03/02/08/`, Hive-style
//! `year=2026/month=03/...`, `dt=2026-03-02/h=08/`) give a span of key times, which lets a
//! listing skip whole prefixes. A name with no recognisable time is always read.

use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Firehose's longest buffering interval: how long after the key time an object's last
/// record may have arrived.
pub const BUFFERING_MS: i64 = 15 * 60 * 1000;

/// Which key times can matter.
#[derive(Clone, Debug)]
pub struct Window {
    /// Earliest and latest key time of an object that may hold an event to read.
    lo: i64,
    hi: i64,
    tz: TimeZone,
}

impl Window {
    /// The window for reading events in `[since − context, until + context]`; `None` (read
    /// everything) when neither bound is given.
    pub fn new(
        since: Option<i64>,
        until: Option<i64>,
        context: i64,
        late: i64,
        tz: TimeZone,
    ) -> Option<Window> {
        if since.is_none() && until.is_none() {
            return None;
        }
        Some(Window {
            lo: since.map_or(i64::MIN, |s| {
                s.saturating_sub(context).saturating_sub(BUFFERING_MS)
            }),
            hi: until.map_or(i64::MAX, |u| u.saturating_add(context).saturating_add(late)),
            tz,
        })
    }

    /// Whether the object or file at `path` (`/`-separated) may hold an event to read.
    pub fn keeps(&self, path: &str) -> bool {
        key_span(path, &self.tz).is_none_or(|(start, end)| end > self.lo && start <= self.hi)
    }
}

/// What pruning left unread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    /// Objects or files listed but not read, and their size.
    pub objects: u64,
    pub bytes: u64,
    /// S3 prefixes not even listed.
    pub prefixes: u64,
}

impl Pruned {
    /// Whether `window` keeps the object `name` of `size` bytes; counts it when not.
    pub fn keep(&mut self, window: &Window, name: &str, size: u64) -> bool {
        let keep = window.keeps(name);
        if !keep {
            self.objects += 1;
            self.bytes += size;
        }
        keep
    }
}

/// The key times `[start, end)` (epoch ms) that `path` allows: one instant when the name
/// holds Firehose's timestamp, else the span of the deepest date directory levels.
pub fn key_span(path: &str, tz: &TimeZone) -> Option<(i64, i64)> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if let Some(t) = parts.last().and_then(|name| name_time(name, tz)) {
        return Some((t, t + 1));
    }
    // The run of date levels that says the most; the later one on a tie.
    let mut best: Option<Civil> = None;
    for i in 0..parts.len() {
        if let Some(c) = levels(&parts[i..]) {
            if best.is_none_or(|b| c.depth >= b.depth) {
                best = Some(c);
            }
        }
    }
    best?.span(tz)
}

/// A partial civil time: the year, and as many of month, day and hour as are known.
#[derive(Clone, Copy, Debug, Default)]
struct Civil {
    year: i16,
    month: i8,
    day: i8,
    hour: i8,
    /// 1 = year only ... 4 = down to the hour.
    depth: u8,
}

impl Civil {
    fn span(self, tz: &TimeZone) -> Option<(i64, i64)> {
        let at = |y: i16, m: i8, d: i8, h: i8| -> Option<i64> {
            let dt = Date::new(y, m, d).ok()?.at(h, 0, 0, 0);
            Some(tz.to_timestamp(dt).ok()?.as_millisecond())
        };
        let start = at(self.year, self.month.max(1), self.day.max(1), self.hour)?;
        let first = Date::new(self.year, self.month.max(1), self.day.max(1)).ok()?;
        let end = match self.depth {
            1 => at(self.year + 1, 1, 1, 0)?,
            2 => {
                let next = first
                    .first_of_month()
                    .checked_add(jiff::Span::new().months(1))
                    .ok()?;
                at(next.year(), next.month(), 1, 0)?
            }
            3 => {
                let next = first.tomorrow().ok()?;
                at(next.year(), next.month(), next.day(), 0)?
            }
            _ => start + 3_600_000,
        };
        Some((start, end))
    }
}

/// Date levels at the start of `parts`: `2026/03/02/08`, `year=2026/month=03/day=02/hour=08`,
/// or `dt=2026-03-02/h=08`.
fn levels(parts: &[&str]) -> Option<Civil> {
    let first = parts.first()?;
    if let Some(date) = first.strip_prefix("dt=") {
        let mut c = date_parts(date)?;
        if let Some(h) = parts
            .get(1)
            .and_then(|p| p.strip_prefix("h=").or(p.strip_prefix("hour=")))
        {
            if let Some(h) = number(h, 2, 0, 23) {
                c.hour = h as i8;
                c.depth = 4;
            }
        }
        return Some(c);
    }
    let hive = first.starts_with("year=");
    let names = ["year=", "month=", "day=", "hour="];
    let limits = [(4, 1970, 9999), (2, 1, 12), (2, 1, 31), (2, 0, 23)];
    let mut found = [0i64; 4];
    let mut depth = 0;
    for (i, part) in parts.iter().take(4).enumerate() {
        let text = if hive {
            match part.strip_prefix(names[i]) {
                Some(t) => t,
                None => break,
            }
        } else {
            part
        };
        let (width, min, max) = limits[i];
        match number(text, width, min, max) {
            Some(n) => found[i] = n,
            None => break,
        }
        depth += 1;
    }
    (depth > 0).then(|| Civil {
        year: found[0] as i16,
        month: found[1] as i8,
        day: found[2] as i8,
        hour: found[3] as i8,
        depth,
    })
}

/// `2026-03-02` as a civil date.
fn date_parts(text: &str) -> Option<Civil> {
    let mut it = text.split('-');
    let year = number(it.next()?, 4, 1970, 9999)?;
    let month = number(it.next()?, 2, 1, 12)?;
    let day = number(it.next()?, 2, 1, 31)?;
    it.next().is_none().then_some(Civil {
        year: year as i16,
        month: month as i8,
        day: day as i8,
        hour: 0,
        depth: 3,
    })
}

/// Exactly `width` ASCII digits whose value is in `min..=max`.
fn number(text: &str, width: usize, min: i64, max: i64) -> Option<i64> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = text.parse().ok()?;
    (min..=max).contains(&n).then_some(n)
}

/// The `-yyyy-MM-dd-HH-mm-ss-` in a Firehose object name.
fn name_time(name: &str, tz: &TimeZone) -> Option<i64> {
    const LEN: usize = "-2026-03-02-08-15-00-".len();
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(LEN - 1)).rev().find_map(|i| {
        let w = &bytes[i..i + LEN];
        let shape = w.iter().enumerate().all(|(k, b)| match k {
            0 | 5 | 8 | 11 | 14 | 17 | 20 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
        if !shape {
            return None;
        }
        let text = std::str::from_utf8(&w[1..LEN - 1]).ok()?;
        let n: Vec<i64> = text.split('-').map(|p| p.parse().ok()).collect::<Option<_>>()?;
        let dt = Date::new(n[0] as i16, n[1] as i8, n[2] as i8)
            .ok()?
            .at(n[3] as i8, n[4] as i8, n[5] as i8, 0);
        if n[0] < 1970 {
            return None;
        }
        Some(tz.to_timestamp(dt).ok()?.as_millisecond())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn ms(s: &str) -> i64 {
        crate::time::parse_rfc3339(s).unwrap()
    }

    fn span(path: &str) -> Option<(i64, i64)> {
        key_span(path, &TimeZone::UTC)
    }

    #[test]
    fn firehose_object_names_give_their_instant() {
        let key =
            "logs/2026/03/02/08/gc-stream-1-2026-03-02-08-15-07-6f1d4a3c-1b2a-4c3d-9e8f-0a1b2c3d4e5f.gz";
        let t = ms("2026-03-02T08:15:07Z");
        assert_eq!(span(key), Some((t, t + 1)));
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(key_span(key, &berlin), Some((t - H, t - H + 1)));
    }

    #[test]
    fn directory_layouts_give_a_span() {
        let h8 = ms("2026-03-02T08:00:00Z");
        assert_eq!(span("x/2026/03/02/08/"), Some((h8, h8 + H)));
        assert_eq!(span("x/2026/03/02/08/part-0.json"), Some((h8, h8 + H)));
        assert_eq!(span("year=2026/month=03/day=02/hour=08/f"), Some((h8, h8 + H)));
        assert_eq!(span("dt=2026-03-02/h=08/f"), Some((h8, h8 + H)));
        assert_eq!(span("dt=2026-03-02/hour=08/f"), Some((h8, h8 + H)));
        let day = ms("2026-03-02T00:00:00Z");
        assert_eq!(span("dt=2026-03-02/f"), Some((day, day + 24 * H)));
        assert_eq!(span("a/2026/03/02"), Some((day, day + 24 * H)));
        assert_eq!(
            span("a/2026/02"),
            Some((ms("2026-02-01T00:00:00Z"), day - 24 * H))
        );
        assert_eq!(
            span("a/2026"),
            Some((ms("2026-01-01T00:00:00Z"), ms("2027-01-01T00:00:00Z")))
        );
        // The deepest run wins over a stray year earlier in the path.
        assert_eq!(span("/data/2024/backup/2026/03/02/08/f"), Some((h8, h8 + H)));
        assert_eq!(span("events.ndjson"), None);
        assert_eq!(span("dump/13/99/x"), None);
    }

    #[test]
    fn the_window_widens_by_context_buffering_and_lateness() {
        let (since, until) = (ms("2026-03-02T10:00:00Z"), ms("2026-03-02T11:00:00Z"));
        let w = Window::new(Some(since), Some(until), H, H, TimeZone::UTC).unwrap();
        let obj = |t: &str| format!("p/s-1-{t}-uuid.gz");
        // since − 1 h − 15 min = 08:45: an object starting at 08:44:59 is over by 08:59:59.
        assert!(!w.keeps(&obj("2026-03-02-08-44-59")));
        assert!(w.keeps(&obj("2026-03-02-08-45-00")));
        // until + 1 h + 1 h = 13:00.
        assert!(w.keeps(&obj("2026-03-02-13-00-00")));
        assert!(!w.keeps(&obj("2026-03-02-13-00-01")));
        assert!(!w.keeps("p/2026/03/02/07/"));
        assert!(w.keeps("p/2026/03/02/08/"));
        assert!(w.keeps("p/2026/03/02/13/"));
        assert!(!w.keeps("p/2026/03/02/14/"));
        assert!(w.keeps("p/2026/03/"));
        assert!(!w.keeps("p/2026/02/"));
        assert!(w.keeps("no-time-here.json"));
        assert!(Window::new(None, None, H, H, TimeZone::UTC).is_none());
        let open = Window::new(Some(since), None, 0, 0, TimeZone::UTC).unwrap();
        assert!(open.keeps("p/2999/01/01/00/"));
    }
}
