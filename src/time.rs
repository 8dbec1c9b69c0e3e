//! Event times: epoch milliseconds in, RFC 3339 UTC with milliseconds out.

use std::fmt;

/// Latest instant accepted, as a number or as text: 9999-12-30T22:00:00.999Z, the end of the
/// range every ISO-8601 offset can express (jiff's `Timestamp::MAX`).
pub const MAX_MS: i64 = 253_402_207_200_999;

/// Parses an ISO-8601 / RFC 3339 timestamp with an offset (`2022-04-06T09:30:45.013Z`).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let ts: jiff::Timestamp = s.trim().parse().ok()?;
    let ms = ts.as_millisecond();
    (0..=MAX_MS).contains(&ms).then_some(ms)
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
        let ms = self.0.clamp(0, MAX_MS);
        let days = ms.div_euclid(86_400_000);
        let rem = ms.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
        let mut put = |at: usize, v: i64, width: usize| {
            let mut v = v;
            for i in (0..width).rev() {
                out[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, y, 4);
        put(5, m, 2);
        put(8, d, 2);
        put(11, h, 2);
        put(14, mi, 2);
        put(17, s, 2);
        put(20, milli, 3);
        for (at, c) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (23, b'Z'),
        ] {
            out[at] = c;
        }
        std::str::from_utf8(out).expect("ascii")
    }
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
    fn epoch_numbers_are_bounded() {
        assert_eq!(from_epoch_ms_f64(1e300), None);
        assert_eq!(from_epoch_ms_f64(-1.0), None);
        assert_eq!(from_epoch_ms_f64(f64::NAN), None);
        assert_eq!(from_epoch_ms_f64(12.0), Some(12));
    }
}
