//! JSON output: JSON Lines (one timeline per line) and a single JSON array.

use anyhow::Result;

use super::Encoder;
use crate::timeline::Timeline;

pub struct Lines;

impl Encoder for Lines {
    fn chunk(
        &self,
        _: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for t in timelines {
            sonic_rs::to_writer(&mut *out, &t)?;
            out.push(b'\n');
        }
        Ok(())
    }
}

pub struct Array;

impl Encoder for Array {
    fn header(&self, out: &mut Vec<u8>) -> Result<()> {
        out.push(b'[');
        Ok(())
    }

    fn chunk(
        &self,
        first: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for (i, t) in timelines.enumerate() {
            out.extend_from_slice(if first && i == 0 { b"\n" } else { b",\n" });
            sonic_rs::to_writer(&mut *out, &t)?;
        }
        Ok(())
    }

    fn footer(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(b"\n]\n");
        Ok(())
    }
}
