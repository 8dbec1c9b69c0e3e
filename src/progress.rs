//! The progress bar: on stderr, only when stderr is a terminal and not `-q`. Sizes are in
//! decimal units (MB), as in the summary; rates have one decimal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::report::counted;

/// A progress bar that does nothing when hidden.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar over `total` input bytes (a spinner when the total is unknown).
    pub fn bytes(total: Option<u64>, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template(
                    "{spinner} reading {decimal_bytes}/{decimal_total_bytes} ({decimal_bytes_per_sec}, {eta}) {wide_bar}",
                )
                .expect("valid template"),
            ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} reading {decimal_bytes} ({decimal_bytes_per_sec})")
                    .expect("valid template"),
            ),
        };
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// A bar over `total` conversations being fetched.
    pub fn items(total: u64, quiet: bool) -> Progress {
        if quiet || total == 0 || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let style = ProgressStyle::with_template(
            "{spinner} fetching {pos}/{len} conversations ({rate}, {eta} left) {msg} {wide_bar}",
        )
        .expect("valid template")
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}/s", s.per_sec());
        });
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()).with_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// One more item done; `retries` so far.
    pub fn inc(&self, retries: u64) {
        if let Some(b) = &self.0 {
            b.inc(1);
            if retries > 0 {
                b.set_message(counted(retries, "retry", "retries"));
            }
        }
    }

    pub fn set(&self, done: u64) {
        if let Some(b) = &self.0 {
            b.set_position(done);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
