//! Event times: epoch milliseconds in, RFC 3339 UTC with milliseconds out.

use std::fmt;

/// Latest instant accepted, as a number or as text: 9999-12-30T22:00:00.999Z, the end of the
/// range every ISO-8601 offset can express (jiff's `Timestamp::MAX`).
pub const MAX_MS: i64 = 253_402_207_200_999;

/// Parses an ISO-8601 / RFC 3339 timestamp with an offset (`2022-04-06T09:30:45.013Z`).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    if let Some(ms) = whole_seconds_utc(s.as_bytes()) {
        return Some(ms);
    }
    let ts: jiff::Timestamp = s.trim().parse().ok()?;
    let ms = ts.as_millisecond();
    (0..=MAX_MS).contains(&ms).then_some(ms)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the form of every EventBridge envelope `time`, read without the
/// general parser (it is read for every event). Anything else is `None`, for the general
/// parser to decide.
fn whole_seconds_utc(b: &[u8]) -> Option<i64> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |at: usize, width: usize| -> Option<i64> {
        b[at..at + width].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    // Leap seconds and the edges of the range go to the general parser.
    if !(1970..=9998).contains(&y) || !(1..=month_days).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(((days_from_civil(y, m, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000)
}

/// A duration on the command line: a number and a unit (`500ms`, `90s`, `15m`, `2h`); a
/// bare number is seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    parse_duration_from(s, 1)
}

/// A margin on the command line: a duration as [`parse_duration`] reads it, or zero.
pub fn parse_margin(s: &str) -> Result<i64, String> {
    parse_duration_from(s, 0)
}

fn parse_duration_from(s: &str, min: i64) -> Result<i64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => 0,
    };
    match digits.parse::<i64>().ok().and_then(|n| n.checked_mul(scale)) {
        Some(ms) if scale > 0 && ms >= min => Ok(ms),
        _ => Err(format!(
            "'{s}' is not a duration: use a {} number and a unit (500ms, 90s, 15m, 2h)",
            if min > 0 { "positive" } else { "whole" }
        )),
    }
}

/// Parses a command-line instant: RFC 3339, or a plain date `YYYY-MM-DD` meaning its UTC midnight.
pub fn parse_instant(s: &str) -> Result<i64, String> {
    if let Some(ms) = parse_rfc3339(s) {
        return Ok(ms);
    }
    if s.trim().parse::<jiff::civil::Date>().is_ok() {
        if let Some(ms) = parse_rfc3339(&format!("{}T00:00:00Z", s.trim())) {
            return Ok(ms);
        }
    }
    Err(format!(
        "'{s}' is not a time: use RFC 3339 (2026-03-02T08:00:00Z) or a date (2026-03-02)"
    ))
}

/// Converts an epoch-milliseconds number read from JSON, if it is a sane instant.
pub fn from_epoch_ms_f64(v: f64) -> Option<i64> {
    (v.is_finite() && v >= 0.0 && v <= MAX_MS as f64).then_some(v as i64)
}

/// An instant that prints as `2022-04-06T09:30:45.013Z`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Millis(pub i64);

impl Millis {
    pub fn encode(self, out: &mut [u8; 24]) -> &str {
        // Clamped, so never negative: plain division is Euclid's.
        let ms = self.0.clamp(0, MAX_MS);
        out[..11].copy_from_slice(&date_of(ms / 86_400_000));
        let rem = (ms % 86_400_000) as u32;
        let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
        out[11..13].copy_from_slice(two(h));
        out[13] = b':';
        out[14..16].copy_from_slice(two(mi));
        out[16] = b':';
        out[17..19].copy_from_slice(two(s));
        out[19] = b'.';
        out[20] = b'0' + (milli / 100) as u8;
        out[21..23].copy_from_slice(two(milli % 100));
        out[23] = b'Z';
        // SAFETY: every byte of `out` was just written above as an ASCII digit or separator.
        unsafe { std::str::from_utf8_unchecked(out) }
    }
}

/// `YYYY-MM-DDT` of a day since the epoch (0..=MAX_MS's), remembered per thread for the
/// last day asked: timelines write many times of the same day.
fn date_of(days: i64) -> [u8; 11] {
    thread_local! {
        static LAST: std::cell::Cell<(i64, [u8; 11])> = const { std::cell::Cell::new((-1, [0; 11])) };
    }
    LAST.with(|last| {
        let (day, text) = last.get();
        if day == days {
            return text;
        }
        let (y, m, d) = civil_from_days(days);
        let mut t = *b"0000-00-00T";
        let y = y as u32;
        t[..2].copy_from_slice(two(y / 100));
        t[2..4].copy_from_slice(two(y % 100));
        t[5..7].copy_from_slice(two(m as u32));
        t[8..10].copy_from_slice(two(d as u32));
        last.set((days, t));
        t
    })
}

/// The two digits of `n` (below 100).
fn two(n: u32) -> &'static [u8] {
    const DIGITS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let i = n as usize * 2;
    &DIGITS[i..i + 2]
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; 24]))
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A duration in its two largest units, rounded down: `850ms`, `42s`, `13m40s`, `1h02m`, `3d04h`.
pub fn humanise(ms: i64) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    match s {
        0 => format!("{ms}ms"),
        1..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        _ => format!("{}d{:02}h", s / 86_400, s / 3600 % 24),
    }
}

/// (year, month, day), proleptic Gregorian, to days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_jiff() {
        for ms in [
            0,
            1_649_237_444_949,
            951_782_400_000,
            4_102_444_799_999,
            253_402_207_199_999,
        ] {
            let ours = Millis(ms).to_string();
            let theirs = jiff::Timestamp::from_millisecond(ms).unwrap();
            assert_eq!(ours, format!("{theirs:.3}"), "{ms}");
            assert_eq!(parse_rfc3339(&ours), Some(ms));
        }
        // Spread over the whole range, and back and forth between days (the date is
        // remembered per thread).
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ms = (x % (MAX_MS as u64 + 1)) as i64;
            for ms in [ms, ms.saturating_add(86_399_999).min(MAX_MS), ms / 7] {
                let theirs = jiff::Timestamp::from_millisecond(ms).unwrap();
                assert_eq!(Millis(ms).to_string(), format!("{theirs:.3}"), "{ms}");
            }
        }
    }

    #[test]
    fn parses_instants() {
        assert_eq!(parse_instant("1970-01-02"), Ok(86_400_000));
        assert_eq!(parse_instant("2022-04-06T09:30:45Z"), Ok(1_649_237_445_000));
        assert_eq!(
            parse_instant("2022-04-06T11:30:45.5+02:00"),
            Ok(1_649_237_445_500)
        );
        assert!(parse_instant("yesterday").is_err());
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        assert_eq!(Millis(MAX_MS).to_string(), "9999-12-30T22:00:00.999Z");
        assert_eq!(MAX_MS, jiff::Timestamp::MAX.as_millisecond());
        // The latest instant reads the same as a number and as text; one later, neither.
        assert_eq!(parse_rfc3339("9999-12-30T22:00:00.999Z"), Some(MAX_MS));
        assert_eq!(from_epoch_ms_f64(MAX_MS as f64), Some(MAX_MS));
        assert_eq!(parse_rfc3339("9999-12-30T22:00:01Z"), None);
        assert_eq!(from_epoch_ms_f64((MAX_MS + 1) as f64), None);
    }

    #[test]
    fn envelope_times_read_like_jiff() {
        for ms in (0..400).map(|i| i * 86_400_017 * 91 % 253_402_207_199_999 / 1000 * 1000) {
            let text = format!("{}Z", &Millis(ms).to_string()[..19]);
            let theirs = jiff::Timestamp::from_millisecond(ms).unwrap();
            assert_eq!(text, format!("{theirs}"), "{ms}");
            if let Some(fast) = whole_seconds_utc(text.as_bytes()) {
                assert_eq!(fast, ms, "{text}");
            }
            assert_eq!(parse_rfc3339(&text), Some(ms), "{text}");
        }
        assert_eq!(
            whole_seconds_utc(b"2022-04-06T09:30:45Z"),
            Some(1_649_237_445_000)
        );
        assert_eq!(
            whole_seconds_utc(b"2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(whole_seconds_utc(b"2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("1900-03-01T00:00:00Z"), None);
    }

    #[test]
    fn humanises_durations() {
        for (ms, text) in [
            (0, "0ms"),
            (850, "850ms"),
            (1_000, "1s"),
            (59_999, "59s"),
            (60_000, "1m00s"),
            (820_000, "13m40s"),
            (3_599_999, "59m59s"),
            (3_720_000, "1h02m"),
            (86_399_999, "23h59m"),
            (273_600_000, "3d04h"),
            (-5, "0ms"),
        ] {
            assert_eq!(humanise(ms), text, "{ms}");
        }
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("60s"), Ok(60_000));
        assert_eq!(parse_duration("15m"), Ok(900_000));
        assert_eq!(parse_duration("2h"), Ok(7_200_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("90"), Ok(90_000));
        for bad in ["", "0s", "-5s", "5d", "m", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn epoch_numbers_are_bounded() {
        assert_eq!(from_epoch_ms_f64(1e300), None);
        assert_eq!(from_epoch_ms_f64(-1.0), None);
        assert_eq!(from_epoch_ms_f64(f64::NAN), None);
        assert_eq!(from_epoch_ms_f64(12.0), Some(12));
    }
}
