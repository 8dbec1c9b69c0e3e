//! Fuzzes one input end to end as the pipeline reads it: gzip detection, framing (lines,
//! concatenated and pretty values, arrays, resynchronisation), then every record through the
//! normaliser. It must never panic, and every batch must hand out in-bounds records whose
//! positions only move forward. Batch buffers go back to the framer, as the pipeline's do.
//! Plain text is framed a second time from a mapped file, as regular files are read, and must
//! give the same records and problems.
#![no_main]

use std::io::Read;
use std::sync::Arc;

use gcorr::event::parse_record;
use gcorr::input::framing::{Framer, Pos, Spares};
use gcorr::input::map::Map;
use gcorr::input::{Mapped, decode, plain_text};
use libfuzzer_sys::fuzz_target;

type Framed = (Vec<(Pos, Vec<u8>)>, Vec<(Pos, String)>);

/// Every record and problem, checking spans and positions on the way.
fn frame<R: Read>(mut framer: Framer<R>, spares: &Spares, digest: bool) -> Framed {
    let (mut records, mut problems) = (vec![], vec![]);
    let mut last = None;
    while let Some(mut batch) = framer.next_batch() {
        let mut end = 0;
        for span in &batch.records {
            assert!(span.start >= end && span.start < span.end && span.end <= batch.bytes().len());
            end = span.end;
            assert!(last < Some(span.pos), "positions went back: {last:?} then {:?}", span.pos);
            last = Some(span.pos);
            let _ = parse_record(batch.record(span), digest);
            records.push((span.pos, batch.record(span).to_vec()));
        }
        problems.append(&mut batch.problems);
        spares.give(batch);
    }
    (records, problems)
}

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = decode(Box::new(std::io::Cursor::new(data.to_vec()))) else {
        return;
    };
    let spares = Spares::default();
    let read = frame(Framer::with_spares(reader, spares.clone()), &spares, data.len() % 2 == 0);
    if !data.is_empty() && plain_text(&data[..data.len().min(64)]) {
        let path = std::env::temp_dir().join(format!("gcorr-fuzz-{}", std::process::id()));
        std::fs::write(&path, data).expect("temporary file");
        let file = std::fs::File::open(&path).expect("temporary file");
        let map = Map::new(file, data.len() as u64).expect("mapped");
        let framer = Framer::<&[u8]>::mapped(Mapped::new(map, Arc::default()), spares.clone());
        assert!(frame(framer, &spares, false) == read, "mapped framing differs");
    }
});
