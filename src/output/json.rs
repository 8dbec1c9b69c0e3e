//! JSON output: JSON Lines (one timeline per line) and a single JSON array.

use std::io::{self, Write};

use crate::timeline::Timeline;

pub fn lines<'a, W: Write>(out: &mut W, timelines: impl Iterator<Item = Timeline<'a>>) -> io::Result<()> {
    for t in timelines {
        serde_json::to_writer(&mut *out, &t)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

pub fn array<'a, W: Write>(out: &mut W, timelines: impl Iterator<Item = Timeline<'a>>) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, t) in timelines.enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, &t)?;
    }
    out.write_all(b"\n]\n")
}
