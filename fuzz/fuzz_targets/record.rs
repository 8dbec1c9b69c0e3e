//! Fuzzes the event normaliser on one record: it must never panic, and its two readers (the
//! fast walker with its fallbacks, and the serde path `--dedup content` takes) must agree on
//! every record both accept.
#![no_main]

use gcorr::event::{Parsed, parse_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fast = parse_record(data, false);
    let full = parse_record(data, true);
    if let (Ok(fast), Ok(full)) = (fast, full) {
        let full = match full {
            Parsed::Event(mut e) => {
                e.content = None;
                Parsed::Event(e)
            }
            other => other,
        };
        assert_eq!(fast, full, "the two readers disagree");
    }
});
