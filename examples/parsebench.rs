use gcorr::correlate::{Incoming, Store};
use gcorr::event::{Parsed, parse_record};
use gcorr::input::framing::Pos;
use gcorr::intern::Recent;
fn cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let slots: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1 << 14);
    let data = std::fs::read(&path).unwrap();
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let t = cpu();
    let mut evs = Vec::with_capacity(lines.len());
    for l in &lines {
        if let Ok(Parsed::Event(e)) = parse_record(l, false) {
            evs.push(e);
        }
    }
    let parse = cpu() - t;
    let mut store = Store::new(vec!["x".into()]);
    let syms = store.interning();
    let t = cpu();
    let mut recent = Recent::new(&syms, slots);
    let inc: Vec<Incoming> = evs
        .iter()
        .enumerate()
        .map(|(i, e)| Incoming::new(e, &mut recent, 0, Pos::Line(i as u64)))
        .collect();
    let intern = cpu() - t;
    drop(recent);
    let t = cpu();
    for i in inc {
        store.add_interned(i);
    }
    let add = cpu() - t;
    let n = evs.len() as f64;
    println!(
        "records {} parse {:.0} ns/rec intern {:.0} ns/ev add {:.0} ns/ev",
        lines.len(),
        parse * 1e9 / lines.len() as f64,
        intern * 1e9 / n,
        add * 1e9 / n
    );
}
