//! The delivery lag of a kept event (`delivered − time`), packed into 4 bytes.
//!
//! A kept event is held for the whole run, so its delivery time is not stored as a second
//! `i64`: lags under ±12 days are kept to the millisecond, longer ones (replays, clocks far
//! off) to the second of the envelope time, which has whole seconds anyway.

/// `delivered − time`, or nothing when the record had no envelope time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Lag(i32);

/// Even values are milliseconds (`v >> 1`); odd ones are the delivery second relative to the
/// event's second; this one is "no delivery time".
const NONE: i32 = i32::MIN;
const MS_LIMIT: i64 = 1 << 30;

impl Lag {
    pub const NONE: Lag = Lag(NONE);

    pub fn new(time: i64, delivered: Option<i64>) -> Lag {
        let Some(delivered) = delivered else {
            return Lag::NONE;
        };
        let lag = delivered - time;
        if lag.abs() < MS_LIMIT {
            return Lag((lag << 1) as i32);
        }
        let seconds = (delivered + 500).div_euclid(1000) - time.div_euclid(1000);
        if seconds.abs() < MS_LIMIT {
            Lag(((seconds << 1) | 1) as i32)
        } else {
            Lag::NONE
        }
    }

    /// When the event was delivered, given its time.
    pub fn delivered(self, time: i64) -> Option<i64> {
        match self.0 {
            NONE => None,
            v if v & 1 == 0 => Some(time + i64::from(v >> 1)),
            v => Some((time.div_euclid(1000) + i64::from(v >> 1)) * 1000),
        }
    }

    /// `delivered − time` in milliseconds.
    pub fn ms(self, time: i64) -> Option<i64> {
        self.delivered(time).map(|d| d - time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = 1_772_438_400_123;
        for lag in [0, -999, 1, 60_001, -(1 << 30) + 1, (1 << 30) - 1] {
            let l = Lag::new(t, Some(t + lag));
            assert_eq!(l.ms(t), Some(lag), "{lag}");
            assert_eq!(l.delivered(t), Some(t + lag));
        }
        // Beyond ±12 days: the delivery second (the envelope's `time` has no more).
        let far = t + 40 * 86_400_000 - 123;
        assert_eq!(Lag::new(t, Some(far)).delivered(t), Some(far));
        assert_eq!(Lag::new(t, Some(far + 400)).delivered(t), Some(far));
        let early = t - 20 * 365 * 86_400_000 - 123;
        assert_eq!(Lag::new(t, Some(early)).delivered(t), Some(early));
        assert_eq!(Lag::new(t, Some(5_000)), Lag::NONE, "beyond ±34 years");
        assert_eq!(Lag::new(t, None), Lag::NONE);
        assert_eq!(Lag::NONE.ms(t), None);
    }
}
