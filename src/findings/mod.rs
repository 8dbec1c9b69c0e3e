//! What looks wrong, per conversation and per run: the fixed vocabulary of conversation
//! [`Flag`]s, and the minute series and findings of `--report`, the summary and the html
//! report (pure).
//!
//! Flags are set once per conversation after grouping (one pass over its ordered events);
//! the minute series is built from the kept events of the conversations written, so both
//! depend only on what is kept, never on thread count or input order.

mod flags;
mod minutes;

pub use flags::{Flag, Flags, flag};
pub use minutes::{Analysis, Finding, Minute};

/// The thresholds of `--late-threshold` and `--gap`, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// An event delivered more than this after its time is late.
    pub late_ms: i64,
    /// Two consecutive events of a conversation further apart than this leave a gap.
    pub gap_ms: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            late_ms: 60_000,
            gap_ms: 15 * 60_000,
        }
    }
}
