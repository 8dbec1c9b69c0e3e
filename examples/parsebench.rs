//! The CPU cost per record of each reading stage, on one thread: parsing, interning on a
//! parser's thread, and dedup in input order. Timed by the thread's CPU clock, so a busy
//! machine disturbs it less than wall time; for comparing changes to the hot path.
//!
//! `cargo run --release --example parsebench -- FILE.ndjson [CACHE_SLOTS]` (default 16384)

use gcorr::correlate::{Incoming, Store};
use gcorr::event::{Parsed, parse_record};
use gcorr::input::framing::Pos;
use gcorr::intern::Recent;

/// This thread's CPU time, in seconds.
fn cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: parsebench FILE.ndjson [CACHE_SLOTS]");
        std::process::exit(2);
    };
    let slots: usize = args
        .next()
        .map_or(1 << 14, |s| s.parse().expect("a number of slots"));
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();

    let t = cpu();
    let events: Vec<_> = lines
        .iter()
        .filter_map(|l| match parse_record(l, false) {
            Ok(Parsed::Event(e)) => Some(e),
            _ => None,
        })
        .collect();
    let parse = cpu() - t;

    let mut store = Store::new(vec![path.clone()]);
    let syms = store.interning();
    let t = cpu();
    let mut recent = Recent::new(&syms, slots);
    let incoming: Vec<Incoming> = events
        .iter()
        .enumerate()
        .map(|(i, e)| Incoming::new(e, &mut recent, 0, Pos::Line(i as u64 + 1)))
        .collect();
    let intern = cpu() - t;
    drop(recent);

    let t = cpu();
    for i in incoming {
        store.add_interned(i);
    }
    let add = cpu() - t;

    let (records, n) = (lines.len() as f64, events.len().max(1) as f64);
    println!(
        "records {} events {}: parse {:.0} ns/record, intern {:.0} ns/event, dedup {:.0} ns/event",
        lines.len(),
        events.len(),
        parse * 1e9 / records,
        intern * 1e9 / n,
        add * 1e9 / n
    );
}
