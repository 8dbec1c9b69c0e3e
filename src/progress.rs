//! The progress bar: on stderr, only when stderr is a terminal and not `-q`. Sizes are in
//! decimal units (MB), as in the summary; rates have one decimal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::report::{counted, megabytes};

/// A progress bar that does nothing when hidden.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar over `total` input bytes (a spinner when the total is unknown).
    pub fn bytes(total: Option<u64>, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let style = bytes_style(total.is_some());
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// A bar over `total` conversations being fetched.
    pub fn items(total: u64, quiet: bool) -> Progress {
        if quiet || total == 0 || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let style = items_style();
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

/// Bytes read, in MB as the summary gives them, out of `total` when it is known.
fn bytes_style(known_total: bool) -> ProgressStyle {
    let template = if known_total {
        "{spinner} reading {mb}/{total_mb} MB ({mb_rate} MB/s, {eta}) {wide_bar}"
    } else {
        "{spinner} reading {mb} MB ({mb_rate} MB/s)"
    };
    ProgressStyle::with_template(template)
        .expect("valid template")
        .with_key("mb", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&megabytes(s.pos() as f64));
        })
        .with_key("total_mb", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&megabytes(s.len().unwrap_or(0) as f64));
        })
        .with_key("mb_rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&megabytes(s.per_sec()));
        })
}

/// Conversations fetched, at a rate with one decimal.
fn items_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} fetching {pos}/{len} conversations ({rate}/s, {eta} left) {msg} {wide_bar}",
    )
    .expect("valid template")
    .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:.1}", s.per_sec());
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_are_valid() {
        bytes_style(true);
        bytes_style(false);
        items_style();
    }
}
