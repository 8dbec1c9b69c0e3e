//! Fuzzes one input end to end as the pipeline reads it: gzip detection, framing (lines,
//! concatenated and pretty values, arrays, resynchronisation), then every record through the
//! normaliser. It must never panic, and every batch must hand out in-bounds records whose
//! positions only move forward. Batch buffers go back to the framer, as the pipeline's do.
#![no_main]

use gcorr::event::parse_record;
use gcorr::input::decode;
use gcorr::input::framing::{Framer, Spares};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = decode(Box::new(std::io::Cursor::new(data.to_vec()))) else {
        return;
    };
    let spares = Spares::default();
    let mut framer = Framer::with_spares(reader, spares.clone());
    let mut last = None;
    while let Some(batch) = framer.next_batch() {
        let mut end = 0;
        for span in &batch.records {
            assert!(span.start >= end && span.start < span.end && span.end <= batch.data.len());
            end = span.end;
            assert!(last < Some(span.pos), "positions went back: {last:?} then {:?}", span.pos);
            last = Some(span.pos);
            let _ = parse_record(batch.record(span), data.len() % 2 == 0);
        }
        spares.give(batch);
    }
});
