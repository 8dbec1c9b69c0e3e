//! Reading, end to end: ids that differ only in case, duplicates whose content conflicts,
//! filters that select whole conversations, named pipes, the same file named twice, what a
//! directory walk passes over, byte-order marks and UTF-16, hostile file names, and a
//! `--conversation` that matches nothing.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde_json::{Value, json};

use super::{
    A, C, D, E, Run, T0, baseline, check_contract, command, concatenated, envelope, event_ids, events, find,
    finish, fixture_records, id_of, millis, ndjson, pretty_values, run, run_in, sources, strings, tempdir,
    uuid, without_sources, write,
};

/// The count of a summary row that only shows when it is not zero.
fn row(r: &Run, name: &str) -> u64 {
    r.stderr
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.trim().rsplit_once(' '))
        .find(|(n, _)| n.trim() == name)
        .map_or(0, |(_, n)| n.replace(',', "").parse().expect("a count"))
}

/// The report `--report` wrote.
fn report(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("report.json")).unwrap()).unwrap()
}

// --- upper-case UUIDs ----------------------------------------------------------------------------

/// Three conversations of four events; every other record spells its ids in upper case, and
/// two records come again with the other spelling of their event id.
fn mixed_case_records() -> Vec<Value> {
    let mut out = Vec::new();
    for n in 0..12u64 {
        let (id, conv) = (uuid(0xe7, n), uuid(0xc0ab, n % 3));
        let ms = T0 + n as i64 * 1000;
        let (id, conv) = if n % 2 == 1 {
            (id.to_uppercase(), conv.to_uppercase())
        } else {
            (id, conv)
        };
        out.push(envelope(&id, &conv, "acd.start", ms, Some("VOICE")));
    }
    for n in [2u64, 5] {
        let mut again = out[n as usize].clone();
        let id = again["id"].as_str().unwrap().to_owned();
        let other = if n % 2 == 1 {
            id.to_lowercase()
        } else {
            id.to_uppercase()
        };
        again["id"] = json!(other);
        out.push(again);
    }
    out
}

#[test]
fn upper_case_uuids_are_the_same_ids() {
    let dir = tempdir();
    write(&dir.path().join("mixed.ndjson"), ndjson(&mixed_case_records()));
    let r = run_in(dir.path(), &["correlate", "mixed.ndjson"]).ok();
    let ts = r.timelines();
    let s = r.summary();
    assert_eq!((s.conversations, s.unique, s.duplicates), (3, 12, 2));
    for (i, t) in ts.iter().enumerate() {
        check_contract(t);
        assert_eq!(
            id_of(t),
            uuid(0xc0ab, i as u64),
            "one lower-case id per conversation"
        );
        assert_eq!(t["event_count"], 4);
        for e in event_ids(t) {
            assert_eq!(e, e.to_lowercase(), "event ids are written in lower case");
        }
    }
    let dups: u64 = ts.iter().map(|t| t["duplicates_dropped"].as_u64().unwrap()).sum();
    assert_eq!(dups, 2);
    // The filter matches whatever the spelling, on either side.
    let upper = uuid(0xc0ab, 1).to_uppercase();
    let r = run_in(
        dir.path(),
        &["correlate", "mixed.ndjson", "--conversation", &upper],
    )
    .ok();
    let ts = r.timelines();
    assert_eq!(ts.len(), 1);
    assert_eq!(id_of(&ts[0]), uuid(0xc0ab, 1));
    assert_eq!(ts[0]["event_count"], 4);
    // Enrichment sees a UUID (here: looked up in an empty cache), never "not a conversation id".
    let r = run_in(
        dir.path(),
        &["correlate", "mixed.ndjson", "--offline", "--cache-dir", "cache"],
    )
    .ok();
    for t in r.timelines() {
        let why = t["enrichment"].to_string();
        assert!(!why.contains("not a Genesys conversation id"), "{why}");
    }
}

// --- conflicting duplicates ----------------------------------------------------------------------

#[test]
fn conflicting_duplicates_are_counted_and_shown_with_both_positions() {
    let dir = tempdir();
    let first: Vec<Value> = (0..30u64)
        .map(|n| {
            envelope(
                &uuid(0xe1, n),
                &uuid(0xc1, n % 3),
                "acd.start",
                T0 + n as i64,
                Some("VOICE"),
            )
        })
        .collect();
    // A second dump reusing the ids for other conversations, and one true re-delivery, pretty
    // printed (the same content in another layout is no conflict).
    let mut second: Vec<Value> = (0..25u64)
        .map(|n| {
            envelope(
                &uuid(0xe1, n),
                &uuid(0xc2, n % 5),
                "acd.end",
                T0 + n as i64,
                Some("CHAT"),
            )
        })
        .collect();
    second.push(first[29].clone());
    write(&dir.path().join("a.ndjson"), ndjson(&first));
    write(&dir.path().join("b.json"), pretty_values(&second));
    let r = run_in(
        dir.path(),
        &["correlate", "a.ndjson", "b.json", "--report", "report.json"],
    )
    .code(3);
    let s = r.summary();
    assert_eq!((s.unique, s.duplicates, s.conversations), (30, 26, 3));
    assert_eq!(row(&r, "conflicting duplicates"), 25);
    let rep = report(dir.path());
    assert_eq!(rep["conflicting_duplicates"], 25);
    assert_eq!(rep["duplicates"], 26);
    // Per-timeline duplicates add up to the summary's.
    let ts = r.timelines();
    let per: u64 = ts.iter().map(|t| t["duplicates_dropped"].as_u64().unwrap()).sum();
    assert_eq!(per, s.duplicates);
    // The first 20, each naming where it is and where the kept one is, then a count.
    let shown: Vec<&str> = r.diagnostics();
    assert_eq!(shown.len(), 20, "{}", r.stderr);
    let b = fs::read(dir.path().join("b.json")).unwrap();
    for (n, line) in shown.iter().enumerate() {
        let (at, msg) = line.split_once(": ").unwrap();
        let offset: usize = at
            .strip_prefix("b.json@")
            .expect("b.json@OFFSET")
            .parse()
            .unwrap();
        let rec: Value = serde_json::Deserializer::from_slice(&b[offset..])
            .into_iter()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(rec["id"], uuid(0xe1, n as u64));
        assert!(msg.contains(&format!("a.ndjson:{}", n + 1)), "{line}");
        assert!(msg.contains("different content"), "{line}");
    }
    assert!(
        r.stderr
            .contains("gcorr: 5 more conflicting duplicates not shown"),
        "{}",
        r.stderr
    );
    // Identical re-deliveries, whatever their layout, are no conflict.
    write(&dir.path().join("c.json"), pretty_values(&first));
    let r = run_in(dir.path(), &["correlate", "a.ndjson", "c.json"]).ok();
    assert_eq!(row(&r, "conflicting duplicates"), 0);
    assert_eq!(r.summary().duplicates, 30);
}

#[test]
fn a_duplicate_counts_in_the_timeline_of_the_event_kept() {
    let dir = tempdir();
    let (x, y) = (uuid(0xc3, 1), uuid(0xc3, 2));
    let records = [
        envelope(&uuid(0xe3, 1), &x, "acd.start", T0, Some("VOICE")),
        envelope(&uuid(0xe3, 2), &x, "acd.end", T0 + 5, Some("VOICE")),
        // The same id claimed by a conversation never seen otherwise.
        envelope(&uuid(0xe3, 1), &y, "acd.start", T0, Some("VOICE")),
        envelope(&uuid(0xe3, 2), &x, "acd.end", T0 + 5, Some("VOICE")),
    ];
    write(&dir.path().join("d.ndjson"), ndjson(&records));
    let r = run_in(dir.path(), &["correlate", "d.ndjson"]).code(3);
    let ts = r.timelines();
    assert_eq!(ts.len(), 1);
    assert_eq!(ts[0]["duplicates_dropped"], 2);
    assert_eq!(r.summary().duplicates, 2);
    assert_eq!(row(&r, "conflicting duplicates"), 1);
    assert_eq!(r.diagnostics().len(), 1);
}

// --- filters select conversations ----------------------------------------------------------------

#[test]
fn time_filters_keep_whole_conversations() {
    let base = baseline();
    let (since, until) = ("2026-03-02T08:31:00Z", "2026-03-02T09:05:37.016Z");
    let (s_ms, u_ms) = (millis(&json!("2026-03-02T08:31:00.000Z")), millis(&json!(until)));
    let r = run(&["correlate", "events.ndjson", "--since", since, "--until", until]).ok();
    let ts = r.timelines();
    let expected: Vec<&Value> = base
        .iter()
        .filter(|t| {
            events(t).iter().any(|e| {
                let ms = millis(&e["time"]);
                s_ms <= ms && ms < u_ms
            })
        })
        .collect();
    assert!(expected.len() < base.len(), "the window leaves some out");
    assert_eq!(ts.iter().collect::<Vec<_>>(), expected, "whole timelines");
    // A goes on after the window: its timeline is whole, callback included.
    let a = find(&ts, A);
    assert_eq!(a, find(&base, A));
    assert_eq!(strings(&a["media_types"]), ["voice", "callback"]);
    let s = r.summary();
    let kept: u64 = ts.iter().map(|t| t["event_count"].as_u64().unwrap()).sum();
    assert_eq!(s.unique, kept);
    assert_eq!(s.filtered, 49 - kept + 3 - s.duplicates);
    let dups: u64 = ts.iter().map(|t| t["duplicates_dropped"].as_u64().unwrap()).sum();
    assert_eq!(s.duplicates, dups);

    // --clip alone has no window to cut at.
    let r = run(&["correlate", "events.ndjson", "--clip"]).code(2);
    assert!(r.stderr.contains("--clip") && r.stdout.is_empty(), "{}", r.stderr);
    // --clip keeps only the events inside the window, as before.
    let r = run(&[
        "correlate",
        "events.ndjson",
        "--since",
        since,
        "--until",
        until,
        "--clip",
    ])
    .ok();
    for t in r.timelines() {
        check_contract(&t);
        for e in events(&t) {
            let ms = millis(&e["time"]);
            assert!(s_ms <= ms && ms < u_ms);
        }
    }
    let clipped = find(&r.timelines(), A).clone();
    assert!(clipped["event_count"].as_u64() < find(&base, A)["event_count"].as_u64());
}

#[test]
fn media_filter_keeps_conversations_that_used_a_medium() {
    let base = baseline();
    let r = run(&["correlate", "events.ndjson", "--media", "callback"]).ok();
    let ts = r.timelines();
    assert_eq!(ts, vec![find(&base, A).clone()]);
    assert_eq!(strings(&ts[0]["media_types"]), ["voice", "callback"]);
    // Several media: any of them.
    let r = run(&["correlate", "events.ndjson", "--media", "callback,message"]).ok();
    let ts = r.timelines();
    let mut ids: Vec<&str> = ts.iter().map(id_of).collect();
    ids.sort();
    let mut want = vec![A, D];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(find(&ts, D), find(&base, D), "events without a media type stay");
    let s = r.summary();
    assert_eq!(
        s.records,
        s.unique + s.duplicates + s.invalid + s.not_conversation + s.filtered
    );
    // Voice: the conversations that used it, whatever else they used.
    let r = run(&["correlate", "events.ndjson", "--media", "voice"]).ok();
    let mut ids: Vec<String> = r.timelines().iter().map(|t| id_of(t).to_owned()).collect();
    ids.sort();
    let mut want = vec![A, C, E];
    want.sort();
    assert_eq!(ids, want);
}

#[test]
fn filtered_counts_add_up_per_input() {
    let dir = tempdir();
    let records = fixture_records();
    let (part1, part2) = (&records[..30], &records[19..]);
    write(&dir.path().join("p1.ndjson"), ndjson(part1));
    write(&dir.path().join("p2.json"), concatenated(part2));
    let r = run_in(
        dir.path(),
        &[
            "-v",
            "correlate",
            "p1.ndjson",
            "p2.json",
            "--media",
            "callback",
            "--report",
            "report.json",
        ],
    )
    .ok();
    let per = super::per_input_counts(&r);
    assert_eq!(per.len(), 2);
    let mut kept = 0;
    for (_, m) in &per {
        assert_eq!(
            m["records"],
            m["kept"] + m["duplicates"] + m["invalid"] + m["not conversation"] + m["filtered"],
            "{m:?}"
        );
        kept += m["kept"];
    }
    let ts = r.timelines();
    assert_eq!(kept, ts[0]["event_count"].as_u64().unwrap());
    let rep = report(dir.path());
    assert_eq!(rep["unique_events"], kept);
    assert_eq!(rep["duplicates"], ts[0]["duplicates_dropped"]);
}

// --- named pipes ---------------------------------------------------------------------------------

#[test]
fn a_named_pipe_is_read_every_time() {
    let dir = tempdir();
    let fifo = dir.path().join("events.pipe");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let records: Vec<Value> = (0..5u64)
        .map(|n| {
            envelope(
                &uuid(0xe6, n),
                &uuid(0xc6, n % 2),
                "acd.start",
                T0 + n as i64,
                Some("VOICE"),
            )
        })
        .collect();
    let body = ndjson(&records);
    for round in 0..50 {
        let writer = {
            let (fifo, body) = (fifo.clone(), body.clone());
            std::thread::spawn(move || {
                // A reader that opens and closes the pipe before reading makes this fail.
                let mut f = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
                f.write_all(&body).is_ok()
            })
        };
        let mut cmd = command(dir.path(), &["-q", "correlate", "events.pipe"]);
        cmd.timeout(std::time::Duration::from_secs(10));
        let r = finish(&mut cmd);
        // Releases a writer still waiting for a reader, so a failure cannot hang the test.
        // Only then: a read end held here is also held, for an instant, by every process
        // another test starts meanwhile, and the next round's writer could meet that one
        // instead of gcorr, write into it and be gone (gcorr then waits for a writer forever).
        let _release = (r.code != 0).then(|| {
            fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo)
        });
        let r = r.ok();
        assert!(writer.join().unwrap(), "round {round}: the writer was cut off");
        let ts = r.timelines();
        assert_eq!(ts.len(), 2, "round {round}");
        assert_eq!(ts.iter().map(|t| events(t).len()).sum::<usize>(), 5);
    }
}

// --- the same file twice, what a walk skips ----------------------------------------------------

#[test]
fn the_same_file_named_twice_is_read_once() {
    let dir = tempdir();
    let records = fixture_records();
    write(&dir.path().join("dump/a.ndjson"), ndjson(&records[..20]));
    write(&dir.path().join("dump/b.ndjson"), ndjson(&records[20..]));
    let whole = run_in(dir.path(), &["correlate", "dump"]).ok();
    for args in [
        &["correlate", "dump", "dump/a.ndjson"][..],
        &["correlate", "dump/b.ndjson", "dump", "./dump/b.ndjson"][..],
        &["correlate", "dump", "dump"][..],
    ] {
        let r = run_in(dir.path(), args).ok();
        assert_eq!(
            without_sources(&r.timelines()),
            without_sources(&whole.timelines()),
            "{args:?}"
        );
        let s = r.summary();
        assert_eq!(
            (s.inputs, s.duplicates),
            (2, whole.summary().duplicates),
            "{args:?}"
        );
        assert!(
            r.stderr
                .lines()
                .any(|l| l.starts_with("gcorr: note: ") && l.contains("same file as")),
            "{args:?}: {}",
            r.stderr
        );
    }
    // A hard link is the same file too.
    fs::hard_link(
        dir.path().join("dump/a.ndjson"),
        dir.path().join("a-again.ndjson"),
    )
    .unwrap();
    let r = run_in(dir.path(), &["correlate", "dump/a.ndjson", "a-again.ndjson"]).ok();
    assert_eq!(r.summary().inputs, 1);
    assert!(r.stderr.contains("a-again.ndjson"), "{}", r.stderr);
}

#[test]
fn entries_a_walk_skips_are_counted_and_named() {
    let dir = tempdir();
    let conv = uuid(0xc7, 1);
    write(
        &dir.path().join("dump/ok.ndjson"),
        ndjson(&[envelope(&uuid(0xe7, 1), &conv, "acd.start", T0, Some("VOICE"))]),
    );
    let d = dir.path().join("dump");
    std::os::unix::fs::symlink(d.join("missing.ndjson"), d.join("dangling.ndjson")).unwrap();
    std::os::unix::fs::symlink(&d, d.join("loop")).unwrap();
    let fifo = std::ffi::CString::new(d.join("pipe").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let _socket = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();
    let r = run_in(dir.path(), &["correlate", "dump", "--report", "report.json"]).ok();
    assert_eq!(r.timelines().len(), 1);
    assert_eq!(row(&r, "entries skipped"), 4, "{}", r.stderr);
    assert_eq!(report(dir.path())["skipped_entries"], 4);
    let r = run_in(dir.path(), &["-v", "correlate", "dump"]).ok();
    for name in ["dump/dangling.ndjson", "dump/loop", "dump/pipe", "dump/sock"] {
        assert!(
            r.stderr
                .lines()
                .any(|l| l.starts_with("gcorr: skipped ") && l.contains(name)),
            "{name}: {}",
            r.stderr
        );
    }
}

// --- byte-order marks and encodings --------------------------------------------------------------

#[test]
fn byte_order_marks_inside_a_stream_are_skipped() {
    let dir = tempdir();
    let records = fixture_records();
    let expected = without_sources(&baseline());
    let bom = b"\xEF\xBB\xBF".as_slice();
    for (name, a, b) in [
        ("cat.ndjson", ndjson(&records[..25]), ndjson(&records[25..])),
        (
            "cat.json",
            concatenated(&records[..25]),
            concatenated(&records[25..]),
        ),
    ] {
        let bytes = [bom, &a, bom, &b].concat();
        write(&dir.path().join(name), &bytes);
        let r = run_in(dir.path(), &["correlate", name]).ok();
        assert!(r.diagnostics().is_empty(), "{name}: {}", r.stderr);
        let ts = r.timelines();
        assert_eq!(without_sources(&ts), expected, "{name}");
        // Offsets count the marks; line numbers do not change without them.
        let named = if name.ends_with(".ndjson") {
            [bom, &a, &b].concat()
        } else {
            bytes
        };
        super::check_sources(&ts, name, &named);
    }
}

fn utf16(text: &[u8], big_endian: bool) -> Vec<u8> {
    let text = std::str::from_utf8(text).unwrap();
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for u in text.encode_utf16() {
        out.extend(if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        });
    }
    out
}

#[test]
fn utf16_with_a_byte_order_mark_is_decoded() {
    let dir = tempdir();
    let mut records = fixture_records();
    // Something outside the BMP, to cross surrogate pairs.
    records[0]["detail"]["eventBody"]["ani"] = json!("tel:+1555 \u{1F600} é");
    write(&dir.path().join("utf8.ndjson"), ndjson(&records));
    let expected = without_sources(&run_in(dir.path(), &["correlate", "utf8.ndjson"]).ok().timelines());
    for (name, body) in [
        ("le.ndjson", utf16(&ndjson(&records), false)),
        (
            "be.json",
            utf16(&serde_json::to_vec_pretty(&records).unwrap(), true),
        ),
    ] {
        write(&dir.path().join(name), &body);
        let r = run_in(dir.path(), &["correlate", name]).ok();
        assert!(r.diagnostics().is_empty(), "{name}: {}", r.stderr);
        assert_eq!(without_sources(&r.timelines()), expected, "{name}");
    }
    // Line numbers stay line numbers.
    let r = run_in(dir.path(), &["correlate", "le.ndjson"]).ok();
    assert_eq!(sources(find(&r.timelines(), C))[0], "le.ndjson:1");
}

#[test]
fn undecodable_text_is_one_clear_message() {
    let dir = tempdir();
    let records = fixture_records();
    // UTF-16 without its byte-order mark.
    let body = utf16(&ndjson(&records), false)[2..].to_vec();
    write(&dir.path().join("nobom.ndjson"), &body);
    let r = run_in(dir.path(), &["correlate", "nobom.ndjson"]).code(3);
    let d = r.diagnostics();
    assert_eq!(d.len(), 1, "{}", r.stderr);
    assert!(
        d[0].starts_with("nobom.ndjson@0: ") && d[0].contains("UTF-16"),
        "{}",
        d[0]
    );
    assert_eq!(r.summary().invalid, 1);
    assert!(r.stdout.is_empty());
}

// --- file names in messages ----------------------------------------------------------------------

#[test]
fn file_names_in_messages_are_escaped() {
    let dir = tempdir();
    let name = "bad\n\u{1b}[31mred.ndjson";
    let good = envelope(&uuid(0xe9, 1), &uuid(0xc9, 1), "acd.start", T0, Some("VOICE"));
    write(
        &dir.path().join(name),
        [ndjson(&[good]), b"not json\n".to_vec()].concat(),
    );
    let r = run_in(dir.path(), &["-v", "correlate", name]).code(3);
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
    let shown = r.diagnostics();
    assert_eq!(shown.len(), 1, "{}", r.stderr);
    assert!(
        shown[0].starts_with(r"bad\n\u{1b}[31mred.ndjson:2: invalid JSON"),
        "{}",
        shown[0]
    );
    assert!(
        r.stderr.contains(r"gcorr: bad\n\u{1b}[31mred.ndjson: 2 records"),
        "{}",
        r.stderr
    );
    // A missing input too.
    let r = run_in(dir.path(), &["correlate", "gone\u{1b}]0;x\u{7}.ndjson"]).code(1);
    assert!(
        !r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'),
        "{:?}",
        r.stderr
    );
    assert!(r.stderr.contains(r"gone\u{1b}]0;x\u{7}.ndjson"), "{}", r.stderr);
}

// --- --conversation that matches nothing ---------------------------------------------------------

#[test]
fn a_conversation_filter_that_matches_nothing_says_so() {
    let missing = uuid(0xdead, 1);
    let r = run(&[
        "correlate",
        "events.ndjson",
        "--conversation",
        A,
        "--conversation",
        &missing,
    ])
    .ok();
    assert_eq!(r.timelines().len(), 1);
    let warned: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("matches nothing"))
        .collect();
    assert_eq!(warned.len(), 1, "{}", r.stderr);
    assert!(warned[0].starts_with("gcorr: warning: --conversation ") && warned[0].contains(&missing));
    let r = run(&["correlate", "events.ndjson", "--conversation", &A.to_uppercase()]).ok();
    assert!(!r.stderr.contains("matches nothing"), "{}", r.stderr);
    assert_eq!(r.timelines().len(), 1);
}
