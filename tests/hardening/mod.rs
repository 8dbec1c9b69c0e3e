//! Hostile input, end to end: the real binary fed garbage, truncated and bombed gzip, a line of
//! 100 MB, nesting 100,000 deep, impossible times, ids built to escape a directory or a URL, NUL
//! bytes, invalid UTF-8 and a tree of 10,000 files.
//!
//! Every run goes through [`gcorr`], which checks what must hold whatever the input: the process
//! exits by itself (no signal) with 0 or 3 (3 exactly when something was invalid), never 101 (a
//! panic); `--report` adds up (records = unique + duplicates + invalid + not conversation +
//! filtered) and agrees with the stderr summary; stderr has one `NAME:LINE: message` or
//! `NAME@OFFSET: message` line per invalid record, at most 20, then the count of the others.
//! It also measures gcorr's own peak memory (`wait4`, from a small launcher process: see
//! [`launcher`]), so the bombs can be held to a bound.
//! Big inputs are generated streaming into a temporary directory.

use crate::enrich::fake;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    GENESYS_ENV, Run, T0, check_contract, compact, concatenated, envelope, event_ids, gzip, ndjson, tempdir,
    uuid, write,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// The most a run may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(60);

/// A run that passed the universal checks.
struct Checked {
    run: Run,
    report: Value,
    /// The child's own peak resident memory, in MB.
    peak_mb: f64,
    elapsed: Duration,
}

impl Checked {
    /// Every event id in the output.
    fn ids(&self) -> BTreeSet<String> {
        self.run
            .timelines()
            .iter()
            .flat_map(|t| event_ids(t).into_iter().map(str::to_owned))
            .collect()
    }

    fn count(&self, name: &str) -> u64 {
        self.report[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no `{name}` in the report: {}", self.report))
    }

    /// The invalid-record lines on stderr.
    fn diags(&self) -> Vec<&str> {
        self.run.diagnostics()
    }

    /// Every output event id of `expected` is there (the valid records were all processed).
    #[track_caller]
    fn keeps(&self, expected: &[String]) -> &Self {
        let got = self.ids();
        let lost: Vec<&String> = expected.iter().filter(|id| !got.contains(*id)).collect();
        assert!(
            lost.is_empty(),
            "valid records lost: {lost:?}\n{}",
            self.run.stderr
        );
        self
    }

    /// Exactly these event ids in the output.
    #[track_caller]
    fn keeps_exactly(&self, expected: &[String]) -> &Self {
        let want: BTreeSet<String> = expected.iter().cloned().collect();
        let got = self.ids();
        let lost: Vec<&String> = want.difference(&got).collect();
        let extra: Vec<&String> = got.difference(&want).collect();
        assert!(
            lost.is_empty() && extra.is_empty(),
            "valid records lost: {lost:?}; unexpected events: {extra:?}\n{}",
            self.run.stderr
        );
        self
    }

    /// A diagnostic at `at` (`name:line` or `name@offset`) whose message contains `what`.
    #[track_caller]
    fn reports(&self, at: &str, what: &str) -> &Self {
        let prefix = format!("{at}: ");
        assert!(
            self.diags()
                .iter()
                .any(|d| d.starts_with(&prefix) && d.contains(what)),
            "no `{at}: ...{what}...` on stderr:\n{}",
            self.run.stderr
        );
        self
    }
}

/// Runs `gcorr ARGS --report FILE` in `dir`, stdin closed, with no Genesys configuration from
/// the host, and checks what holds for any input (see the module's doc).
#[track_caller]
fn gcorr(dir: &Path, args: &[&str]) -> Checked {
    gcorr_with(dir, args, &[])
}

#[track_caller]
fn gcorr_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Checked {
    let out = tempdir();
    let report_path = out.path().join("report.json");
    let mut argv: Vec<&str> = args.to_vec();
    argv.extend(["--report", report_path.to_str().unwrap()]);
    let (run, peak_mb, elapsed) = launch(dir, &argv, env);
    let report: Value = serde_json::from_slice(&fs::read(&report_path).unwrap_or_default())
        .unwrap_or_else(|e| panic!("no --report ({e}); exit {}; stderr:\n{}", run.code, run.stderr));
    let checked = Checked {
        run,
        report,
        peak_mb,
        elapsed,
    };
    check_counts(&checked);
    check_stderr(dir, &checked);
    checked
}

/// Runs `gcorr ARGS` in `dir` from the [`launcher`] and checks that it ended by itself, without
/// panicking; returns the run, gcorr's own peak memory in MB and how long it took.
#[track_caller]
pub(crate) fn launch(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Run, f64, Duration) {
    let out = tempdir();
    let file = |name: &str| out.path().join(name).to_str().unwrap().to_owned();
    let (stdout, stderr, result) = (file("stdout"), file("stderr"), file("result.json"));
    let spec = json!({
        "dir": dir, "args": args, "env": env, "stdout": stdout, "stderr": stderr, "result": result,
    });
    let spec_path = file("launch.json");
    write(Path::new(&spec_path), compact(&spec));
    let launcher = Command::new(this_test_binary())
        .args(["hardening::launcher", "--exact", "--test-threads=1", "-q"])
        .env(LAUNCH, &spec_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(launcher.success(), "the launcher failed: {launcher}");
    let outcome: Value = serde_json::from_slice(&fs::read(&result).expect("the launcher ran"))
        .expect("the launcher's outcome");
    let status = outcome["status"].as_i64().unwrap() as i32;
    let elapsed = Duration::from_millis(outcome["elapsed_ms"].as_u64().unwrap());
    let run = Run {
        code: exit_code(status),
        stdout: fs::read(&stdout).unwrap(),
        stderr: String::from_utf8_lossy(&fs::read(&stderr).unwrap()).into_owned(),
    };
    assert!(
        outcome["killed"] == false,
        "gcorr hung: killed after {HANG:?}; stderr:\n{}",
        run.stderr
    );
    assert!(
        libc::WIFEXITED(status),
        "gcorr was killed by signal {} (after {elapsed:?}); stderr:\n{}",
        libc::WTERMSIG(status),
        run.stderr
    );
    assert_ne!(run.code, 101, "gcorr panicked; stderr:\n{}", run.stderr);
    (run, outcome["peak_kb"].as_f64().unwrap() / 1024.0, elapsed)
}

/// This very test binary: `/proc/self/exe` where there is one, which stays valid while cargo
/// relinks the file on disk (other builds of the same checkout).
fn this_test_binary() -> PathBuf {
    let proc = Path::new("/proc/self/exe");
    if proc.exists() {
        proc.to_owned()
    } else {
        std::env::current_exe().unwrap()
    }
}

/// Set (to the path of a launch spec) in the environment of [`launcher`].
const LAUNCH: &str = "GCORR_HARDENING_LAUNCH";

/// The other half of [`gcorr_with`]: run with [`LAUNCH`] set, as a fresh process of this test
/// binary, it starts gcorr as the spec says (closed stdin, no Genesys or proxy settings from
/// the host), waits for it (killing it after [`HANG`]) and writes its wait status and its own
/// peak memory; otherwise it does nothing.
///
/// Why a fresh process: a child's peak RSS (`ru_maxrss`, from `wait4`, which unlike
/// `RUSAGE_CHILDREN` is that child's alone) includes the peak of the process it was forked from
/// up to its `exec` — here, the test binary with every test's inputs in memory. The launcher is
/// small, so what gcorr inherits from it is noise.
#[test]
fn launcher() {
    let Some(spec) = std::env::var_os(LAUNCH) else {
        return;
    };
    let spec: Value = serde_json::from_slice(&fs::read(spec).unwrap()).unwrap();
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gcorr"));
    cmd.current_dir(text(&spec["dir"]));
    cmd.args(spec["args"].as_array().unwrap().iter().map(text));
    for k in GENESYS_ENV
        .iter()
        .chain(&["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"])
    {
        cmd.env_remove(k).env_remove(k.to_lowercase());
    }
    for kv in spec["env"].as_array().unwrap() {
        cmd.env(text(&kv[0]), text(&kv[1]));
    }
    cmd.stdin(Stdio::null())
        .stdout(File::create(text(&spec["stdout"])).unwrap())
        .stderr(File::create(text(&spec["stderr"])).unwrap());
    let started = Instant::now();
    let (status, peak_kb, killed) = wait_with_rusage(cmd.spawn().expect("gcorr starts"));
    let outcome = json!({
        "status": status,
        "peak_kb": peak_kb,
        "killed": killed,
        "elapsed_ms": started.elapsed().as_millis() as u64,
    });
    fs::write(text(&spec["result"]), compact(&outcome)).unwrap();
}

/// Waits for `child`, killing it after [`HANG`]; returns its wait status, its own peak
/// resident set size in KiB and whether it was killed.
fn wait_with_rusage(mut child: std::process::Child) -> (i32, i64, bool) {
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + HANG;
    let mut killed = false;
    loop {
        let mut status = 0;
        // SAFETY: a plain syscall about our own child; `usage` is a valid out-pointer.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let options = if killed { 0 } else { libc::WNOHANG };
        let got = unsafe { libc::wait4(pid, &mut status, options, &mut usage) };
        if got == pid {
            return (status, usage.ru_maxrss, killed);
        }
        assert!(got == 0, "wait4: {}", std::io::Error::last_os_error());
        if Instant::now() > deadline {
            let _ = child.kill();
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    }
}

/// records = unique + duplicates + invalid + not conversation + filtered, in the report and in
/// the stderr summary, which agree; the exit code says whether something was invalid.
#[track_caller]
fn check_counts(c: &Checked) {
    let parts = [
        "unique_events",
        "duplicates",
        "invalid",
        "not_conversation",
        "filtered",
    ];
    let sum: u64 = parts.iter().map(|p| c.count(p)).sum();
    assert_eq!(c.count("records"), sum, "the counts add up: {}", c.report);
    let summary = summary_rows(&c.run.stderr);
    let pairs = [
        ("records", "records read"),
        ("unique_events", "unique events"),
        ("duplicates", "duplicates dropped"),
        ("invalid", "invalid"),
        ("not_conversation", "not conversation"),
        ("filtered", "filtered out"),
        ("conversations", "conversations"),
    ];
    for (field, row) in pairs {
        assert_eq!(
            summary.get(row),
            Some(&c.count(field)),
            "the summary's `{row}` is the report's `{field}`:\n{}",
            c.run.stderr
        );
    }
    let troubled = c.report["enrichment"]["statuses"].as_object().is_some_and(|s| {
        ["failed", "forbidden", "not_found"]
            .iter()
            .any(|k| s.contains_key(*k))
    });
    let expected = if c.count("invalid") > 0 || troubled { 3 } else { 0 };
    assert_eq!(c.run.code, expected, "exit code; stderr:\n{}", c.run.stderr);
    let timelines = c.run.timelines();
    assert_eq!(timelines.len() as u64, c.count("conversations"));
    let events: usize = timelines.iter().map(|t| event_ids(t).len()).sum();
    assert_eq!(
        events as u64,
        c.count("unique_events"),
        "every unique event is in a timeline"
    );
    if timelines.iter().all(|t| t["enrichment"]["status"] == "skipped") {
        timelines.iter().for_each(check_contract);
    }
}

/// The numeric rows of the stderr summary (`  records read      1,234`), by name.
#[track_caller]
fn summary_rows(stderr: &str) -> BTreeMap<String, u64> {
    let lines: Vec<&str> = stderr.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("gcorr: ") && l.contains(" MB in "))
        .unwrap_or_else(|| panic!("no summary on stderr:\n{stderr}"));
    lines[head + 1..]
        .iter()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| {
            let (name, n) = l.trim().rsplit_once(' ')?;
            Some((name.trim().to_owned(), n.replace(',', "").parse().ok()?))
        })
        .collect()
}

/// One `NAME:LINE: message` / `NAME@OFFSET: message` line per invalid record, NAME an input
/// file, at most [`SHOWN`], then `gcorr: N more invalid records not shown` (`record` for one).
#[track_caller]
fn check_stderr(dir: &Path, c: &Checked) {
    const SHOWN: u64 = 20;
    let invalid = c.count("invalid");
    let diags = c.diags();
    assert_eq!(diags.len() as u64, invalid.min(SHOWN), "{}", c.run.stderr);
    for d in &diags {
        let name = input_named(d);
        assert!(dir.join(name).is_file(), "{d:?} names an input file");
    }
    let more = c.run.stderr.lines().find(|l| l.contains("more invalid record"));
    if invalid > SHOWN {
        let n = group(invalid - SHOWN);
        let records = if invalid - SHOWN == 1 { "record" } else { "records" };
        assert_eq!(
            more,
            Some(format!("gcorr: {n} more invalid {records} not shown").as_str())
        );
    } else {
        assert_eq!(more, None);
    }
}

/// The NAME of `NAME:LINE: message` or `NAME@OFFSET: message`.
fn input_named(diagnostic: &str) -> &str {
    diagnostic
        .match_indices(": ")
        .find_map(|(at, _)| {
            let head = diagnostic[..at].trim_end_matches(|c: char| c.is_ascii_digit());
            (head.len() < at).then(|| head.strip_suffix([':', '@'])).flatten()
        })
        .expect("NAME:LINE: or NAME@OFFSET:")
}

/// `1234567` → `1,234,567`, as the summary writes counts.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// `n` valid detail events of three conversations, one second apart; ids `uuid(tag, i)`.
fn valid(tag: u32, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let conversation = uuid(0xc000 + tag, (i % 3) as u64);
            let kind = ["customer.start", "acd.start", "user.start", "user.end"][i % 4];
            envelope(
                &uuid(tag, i as u64),
                &conversation,
                kind,
                T0 + 1000 * i as i64,
                Some("VOICE"),
            )
        })
        .collect()
}

fn ids_of(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every output event's `source`, by event id.
fn sources_by_id(timelines: &[Value]) -> BTreeMap<String, String> {
    timelines
        .iter()
        .flat_map(|t| t["events"].as_array().unwrap())
        .map(|e| {
            (
                e["event_id"].as_str().unwrap().to_owned(),
                e["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `n` bytes from a PRNG seeded with `seed`.
fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = vec![0u8; n];
    rng.fill(&mut out);
    out
}

/// A gzip file of `head` then `n` bytes of `fill`: a bomb when `n` is large. Made of 1 MiB
/// members (multi-member gzip, as Firehose writes), each compressed once and repeated, so a
/// bomb costs nothing to make.
fn gzip_bomb(path: &Path, head: &[u8], fill: u8, n: usize) -> u64 {
    let member = |data: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    };
    let block = member(&vec![fill; MB]);
    let mut file = BufWriter::new(File::create(path).unwrap());
    file.write_all(&member(head)).unwrap();
    for _ in 0..n / MB {
        file.write_all(&block).unwrap();
    }
    file.write_all(&member(&vec![fill; n % MB])).unwrap();
    file.flush().unwrap();
    fs::metadata(path).unwrap().len()
}

/// A plain file of `head`, `n` bytes of `fill` and `tail`, written 1 MiB at a time.
fn big_file(path: &Path, head: &[u8], fill: u8, n: usize, tail: &[u8]) {
    let mut file = BufWriter::new(File::create(path).unwrap());
    file.write_all(head).unwrap();
    let block = vec![fill; MB];
    for k in (0..n).step_by(MB) {
        file.write_all(&block[..MB.min(n - k)]).unwrap();
    }
    file.write_all(tail).unwrap();
    file.flush().unwrap();
}

/// The start of a record whose `detail.eventBody.transcript` string is left open.
fn open_record(tag: u32) -> Vec<u8> {
    let mut r = envelope(
        &uuid(tag, 999),
        &uuid(0xc000 + tag, 0),
        "acd.end",
        T0,
        Some("VOICE"),
    );
    r["detail"]["eventBody"]["transcript"] = json!("@@");
    let text = compact(&r);
    let cut = text.find("@@").unwrap();
    text.as_bytes()[..cut].to_vec()
}

const MB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// 1. Random garbage
// ---------------------------------------------------------------------------------------------

#[test]
fn random_garbage_alone() {
    let dir = tempdir();
    write(&dir.path().join("noise.bin"), random_bytes(1, 3 * MB));
    let c = gcorr(dir.path(), &["correlate", "noise.bin"]);
    assert_eq!(c.count("unique_events"), 0);
    assert!(c.count("invalid") > 0);
    for d in c.diags() {
        assert!(d.starts_with("noise.bin@") || d.starts_with("noise.bin:"), "{d}");
    }
}

#[test]
fn random_garbage_between_json_lines() {
    let dir = tempdir();
    let (before, after) = (valid(0xa1, 70), valid(0xa2, 30));
    let mut data = ndjson(&before);
    data.extend(random_bytes(2, 3 * MB));
    data.push(b'\n');
    data.extend(ndjson(&after));
    write(&dir.path().join("mixed.ndjson"), &data);
    let c = gcorr(dir.path(), &["correlate", "mixed.ndjson"]);
    c.keeps_exactly(&[ids_of(&before), ids_of(&after)].concat());
    // Line framing: every garbage line is one invalid record, named by its line.
    assert!(
        c.diags().iter().all(|d| d.starts_with("mixed.ndjson:")),
        "{}",
        c.run.stderr
    );
    // The lines after the garbage keep their numbers.
    let lines = data.iter().filter(|b| **b == b'\n').count();
    let sources = sources_by_id(&c.run.timelines());
    for (k, id) in ids_of(&after).iter().enumerate() {
        let line = lines - after.len() + 1 + k;
        assert_eq!(sources[id], format!("mixed.ndjson:{line}"));
    }
}

#[test]
fn random_garbage_between_concatenated_records() {
    let dir = tempdir();
    let mut kept = vec![];
    let mut data = vec![];
    for (round, seed) in (3..9).enumerate() {
        let records = valid(0xb0 + round as u32, 5);
        data.extend(concatenated(&records));
        data.extend(random_bytes(seed, MB / 2));
        kept.extend(ids_of(&records));
    }
    let tail = valid(0xbf, 5);
    data.extend(concatenated(&tail));
    kept.extend(ids_of(&tail));
    write(&dir.path().join("firehose"), &data);
    let c = gcorr(dir.path(), &["correlate", "firehose"]);
    c.keeps_exactly(&kept);
    assert!(
        c.diags().iter().all(|d| d.starts_with("firehose@")),
        "{}",
        c.run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Truncated gzip
// ---------------------------------------------------------------------------------------------

/// What a decoder gets out of a cut gzip stream before it fails.
fn decodable_prefix(cut: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(cut);
    let mut buf = [0u8; 8192];
    while let Ok(n @ 1..) = dec.read(&mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn truncated_gzip_keeps_what_came_before_the_cut() {
    let dir = tempdir();
    let records = valid(0xc1, 2000);
    for (name, plain) in [
        ("lines.gz", ndjson(&records)),
        ("values.gz", concatenated(&records)),
    ] {
        let full = gzip(&plain);
        let cut = &full[..full.len() * 2 / 3];
        write(&dir.path().join(name), cut);
        let prefix = decodable_prefix(cut);
        let complete = if name == "lines.gz" {
            prefix.iter().filter(|b| **b == b'\n').count()
        } else {
            let mut ends = 0;
            let mut at = 0;
            for r in &records {
                at += compact(r).len();
                if at <= prefix.len() {
                    ends += 1;
                }
            }
            ends
        };
        assert!(complete > 100 && complete < records.len(), "{complete}");
        let c = gcorr(dir.path(), &["correlate", name]);
        c.keeps_exactly(&ids_of(&records[..complete]));
        c.reports(&format!("{name}@{}", prefix.len()), "truncated gzip");
        // The cut record (if any) and the cut stream, nothing else.
        assert!(c.count("invalid") <= 2, "{}", c.run.stderr);
    }
}

#[test]
fn gzip_cut_in_its_header_or_followed_by_garbage() {
    let dir = tempdir();
    let records = valid(0xc2, 10);
    let full = gzip(&ndjson(&records));
    write(&dir.path().join("a-header.gz"), &full[..6]);
    let mut trailing = full.clone();
    trailing.extend(b"this is not gzip\n");
    write(&dir.path().join("b-trailing.gz"), &trailing);
    let good = valid(0xc3, 10);
    write(&dir.path().join("c-good.ndjson"), ndjson(&good));
    let c = gcorr(dir.path(), &["correlate", "."]);
    c.keeps_exactly(&[ids_of(&records), ids_of(&good)].concat());
    c.reports("./a-header.gz@0", "");
    let plain = ndjson(&records).len();
    c.reports(&format!("./b-trailing.gz@{plain}"), "");
    assert_eq!(c.count("invalid"), 2, "{}", c.run.stderr);
}

// ---------------------------------------------------------------------------------------------
// 3. gzip bombs, 4. a 100 MB line
// ---------------------------------------------------------------------------------------------

/// Peak memory allowed for a run that must stream: far below the inputs' size.
const BOUNDED_MB: f64 = 150.0;

/// How far a bomb expands: 256 MiB, 16 times the record limit. (zlib-rs is optimised in the
/// test profile too: see Cargo.toml.)
const BOMB: usize = 256 * MB;

#[test]
fn gzip_bombs_among_valid_inputs() {
    let dir = tempdir();
    let d = dir.path();
    let (a, b, c) = (valid(0xd1, 40), valid(0xd2, 40), valid(0xd3, 40));
    write(&d.join("a.ndjson"), ndjson(&a));
    write(&d.join("b.json"), concatenated(&b));
    write(&d.join("c.ndjson"), ndjson(&c));
    // One line: a record never closed, no newline. Then zeros; then spaces.
    let line = gzip_bomb(&d.join("line.gz"), &open_record(0xd4), b'a', BOMB);
    let zeros = gzip_bomb(&d.join("zeros.gz"), b"", 0, BOMB);
    let spaces = gzip_bomb(&d.join("spaces.gz"), b"", b' ', BOMB);
    for gz in [line, zeros, spaces] {
        assert!(gz < (BOMB / 200) as u64, "a bomb is small: {gz} bytes");
    }
    let args = [
        "correlate",
        "a.ndjson",
        "line.gz",
        "b.json",
        "zeros.gz",
        "c.ndjson",
        "spaces.gz",
    ];
    let r = gcorr(d, &args);
    r.keeps_exactly(&[ids_of(&a), ids_of(&b), ids_of(&c)].concat());
    r.reports("line.gz@0", "longer than 16 MiB");
    // However long, a run of junk is one invalid record; blanks are nothing.
    r.reports("zeros.gz@0", &format!("not JSON: {BOMB} bytes skipped"));
    assert_eq!(r.count("invalid"), 2, "one report per bomb:\n{}", r.run.stderr);
    eprintln!(
        "gzip bombs ({} MiB each): peak {:.0} MB, {:?}",
        BOMB / MB,
        r.peak_mb,
        r.elapsed
    );
    assert!(r.peak_mb < BOUNDED_MB, "peak memory {:.0} MB", r.peak_mb);
}

/// `before` as lines, then one complete record of about `size` bytes on one line, then
/// `after` as lines.
fn huge_record(path: &Path, before: &[Value], size: usize, after: &[Value]) {
    let head = [ndjson(before), open_record(0xe9)].concat();
    let tail = [b"\"}}}\n".as_slice(), &ndjson(after)].concat();
    big_file(path, &head, b'x', size, &tail);
}

#[test]
fn a_100_mb_line_then_valid_records() {
    let dir = tempdir();
    let (before, after) = (valid(0xe1, 3), valid(0xe2, 50));
    let size = 100 * MB;
    // First in the file: a first line that long cannot tell the framing; the record is skipped
    // all the same and the rest is read as values (positions are byte offsets).
    huge_record(&dir.path().join("first.ndjson"), &[], size, &after);
    let c = gcorr(dir.path(), &["correlate", "first.ndjson"]);
    c.keeps_exactly(&ids_of(&after));
    c.reports("first.ndjson@0", "longer than 16 MiB");
    assert_eq!(c.count("invalid"), 1);
    eprintln!("100 MB line first: peak {:.0} MB, {:?}", c.peak_mb, c.elapsed);
    assert!(c.peak_mb < BOUNDED_MB, "peak memory {:.0} MB", c.peak_mb);

    // After valid lines: line numbers, on both sides of the long line.
    huge_record(&dir.path().join("later.ndjson"), &before, size, &after);
    let c = gcorr(dir.path(), &["correlate", "later.ndjson"]);
    c.reports("later.ndjson:4", "longer than 16 MiB");
    assert_eq!(c.count("invalid"), 1);
    let sources = sources_by_id(&c.run.timelines());
    let lines = (1..=3).chain(5..5 + after.len());
    let expected: BTreeMap<String, String> = [ids_of(&before), ids_of(&after)]
        .concat()
        .into_iter()
        .zip(lines.map(|l| format!("later.ndjson:{l}")))
        .collect();
    assert_eq!(sources, expected);
    eprintln!("100 MB line later: peak {:.0} MB, {:?}", c.peak_mb, c.elapsed);
    assert!(c.peak_mb < BOUNDED_MB, "peak memory {:.0} MB", c.peak_mb);
}

// ---------------------------------------------------------------------------------------------
// 5. Deep nesting
// ---------------------------------------------------------------------------------------------

const DEEP: usize = 100_000;

fn deep_array() -> String {
    "[".repeat(DEEP) + &"]".repeat(DEEP)
}

fn deep_object() -> String {
    "{\"a\":".repeat(DEEP) + "1" + &"}".repeat(DEEP)
}

#[test]
fn nesting_100000_levels_deep() {
    let dir = tempdir();
    let base = valid(0xf1, 8);
    let mut records = vec![];
    for (i, r) in base.iter().enumerate() {
        let mut text = compact(r);
        let deep = if i % 2 == 0 { deep_array() } else { deep_object() };
        // Into an ignored field of: the envelope, detail, the event body; then the same with an
        // escape in a string gcorr reads (which the fast path leaves to the deserializer).
        let object = ["{", "\"detail\":{", "\"eventBody\":{", "\"detail\":{"][i / 2];
        let at = text.find(object).unwrap() + object.len();
        text.insert_str(at, &format!("\"deep\":{deep},"));
        if i / 2 == 3 {
            text = text.replace("\"INBOUND\"", "\"IN\\u0042OUND\"");
            assert!(text.contains("u0042"));
        }
        records.push(text);
    }
    let bare = [deep_array(), deep_object()];
    let mut lines = records.clone();
    lines.extend(bare.iter().cloned());
    write(&dir.path().join("deep.ndjson"), lines.join("\n") + "\n");
    write(&dir.path().join("deep.json"), lines.concat());
    // The bare values are not events; everything else is kept, whichever parser reads it.
    for dedup in ["id", "content"] {
        let c = gcorr(dir.path(), &["correlate", "deep.ndjson", "--dedup", dedup]);
        c.keeps_exactly(&ids_of(&base));
        c.reports("deep.ndjson:9", "").reports("deep.ndjson:10", "");
        assert_eq!(c.count("invalid"), 2, "{}", c.run.stderr);
        let c = gcorr(dir.path(), &["correlate", "deep.json", "--dedup", dedup]);
        c.keeps_exactly(&ids_of(&base));
        // (The array's position is past its `[`: a top-level array is a list of records.)
        c.reports(&format!("deep.json@{}", offsets(&lines)[9]), "");
        assert_eq!(c.count("invalid"), 2, "{}", c.run.stderr);
    }
}

/// Where each of `records`, concatenated, starts.
fn offsets(records: &[String]) -> Vec<usize> {
    records
        .iter()
        .scan(0, |at, r| {
            let here = *at;
            *at += r.len();
            Some(here)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 6. Times out of range
// ---------------------------------------------------------------------------------------------

#[test]
fn event_times_out_of_range() {
    let dir = tempdir();
    // (eventTime as written in JSON, the time it stands for if it is one).
    let cases: [(&str, Option<&str>); 20] = [
        ("1e400", None),
        ("-1e400", None),
        ("99999999999999999999999", None),
        ("-9223372036854775809", None),
        ("9223372036854775808", None),
        ("-1", None),
        ("1e16", None),
        ("253402300800000", None),
        ("\"NaN\"", None),
        ("\"Infinity\"", None),
        ("\"-Infinity\"", None),
        ("\"nan\"", None),
        ("\"+10000-01-01T00:00:00Z\"", None),
        ("\"-000001-12-31T23:59:59Z\"", None),
        ("\"0000-01-01T00:00:00Z\"", None),
        ("\"2026-03-02T10:00:00.5Z\"", Some("2026-03-02T10:00:00.500Z")),
        ("1772445600000.75", Some("2026-03-02T10:00:00.000Z")),
        ("1.7724456e12", Some("2026-03-02T10:00:00.000Z")),
        // The latest instant jiff (the tests' reader) represents.
        ("253402207200000", Some("9999-12-30T22:00:00.000Z")),
        ("\"9999-12-30T22:00:00Z\"", Some("9999-12-30T22:00:00.000Z")),
    ];
    let mut lines = vec![];
    for (i, (time, _)) in cases.iter().enumerate() {
        let mut r = envelope(
            &uuid(0x71, i as u64),
            &uuid(0xc71, i as u64),
            "acd.start",
            T0,
            None,
        );
        r["detail"]["eventBody"]["eventTime"] = json!("@T@");
        lines.push(compact(&r).replace("\"@T@\"", time));
    }
    write(&dir.path().join("times.ndjson"), lines.join("\n") + "\n");
    write(&dir.path().join("times.json"), lines.concat());
    let offsets = offsets(&lines);
    for name in ["times.ndjson", "times.json"] {
        let c = gcorr(dir.path(), &["correlate", name]);
        let times: BTreeMap<String, String> = c
            .run
            .timelines()
            .iter()
            .flat_map(|t| t["events"].as_array().unwrap().clone())
            .map(|e| {
                (
                    e["event_id"].as_str().unwrap().to_owned(),
                    e["time"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for (i, (written, means)) in cases.iter().enumerate() {
            let id = uuid(0x71, i as u64);
            let at = if name == "times.json" {
                format!("{name}@{}", offsets[i])
            } else {
                format!("{name}:{}", i + 1)
            };
            match means {
                Some(t) => assert_eq!(times.get(&id).map(String::as_str), Some(*t), "{written}"),
                None => {
                    assert!(!times.contains_key(&id), "{written} read as {:?}", times.get(&id));
                    c.reports(&at, "eventTime");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Hostile ids
// ---------------------------------------------------------------------------------------------

/// Ids that must never become a file name or a URL.
fn hostile_ids() -> Vec<String> {
    let mut v: Vec<String> = [
        "../../../../../../tmp/gcorr-escaped",
        "../evil",
        "..",
        ".",
        "/etc/passwd",
        "a/b",
        "a?b=c&d",
        "a#frag",
        "%2e%2e/%2e%2e/x",
        "%2e%2e%2fx",
        "with space",
        "tab\there",
        "new\nline",
        "esc\u{1b}[31mred",
        "bell\u{7}",
        "nul\u{0}byte",
        "C:\\windows\\system32",
        "F72DCA24-B1F9-4775-B9A5-D10E99FF2A66",
        "f72dca24-b1f9-4775-b9a5-d10e99ff2a6/",
        "f72dca24-b1f9-4775-b9a5-d10e99ff2a66/..",
        "f72dca24-b1f9-4775-b9a5-d10e99ff2a6%",
        "ünïcödé",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("x".repeat(10 * 1024));
    v
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// An id as gcorr writes it back: UUIDs in lower case (they are case-insensitive), anything
/// else byte for byte.
fn canonical(id: &str) -> String {
    let lower = id.to_ascii_lowercase();
    if is_uuid(&lower) { lower } else { id.to_owned() }
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.symlink_metadata().unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().to_owned());
        }
    }
    out.sort();
    out
}

/// The ids case: records whose event id, then whose conversation id, is hostile (the other id a
/// UUID), plus valid records; written to `events.ndjson`. Returns (kept event ids, conversation
/// ids of the kept events).
fn hostile_input(dir: &Path) -> (Vec<String>, BTreeSet<String>) {
    let mut records = valid(0x91, 6);
    let mut kept = ids_of(&records);
    let mut conversations: BTreeSet<String> = records
        .iter()
        .map(|r| {
            r["detail"]["eventBody"]["conversationId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for (i, id) in hostile_ids().into_iter().enumerate() {
        let conv = uuid(0xc91, i as u64);
        records.push(envelope(&id, &conv, "acd.start", T0 + i as i64, Some("VOICE")));
        let ev = uuid(0x92, i as u64);
        records.push(envelope(&ev, &id, "acd.start", T0 + i as i64, Some("VOICE")));
        kept.extend([canonical(&id), ev]);
        conversations.extend([conv, canonical(&id)]);
    }
    // Empty ids: invalid, named.
    records.push(envelope("", &uuid(0xc91, 999), "acd.start", T0, None));
    records.push(envelope(&uuid(0x92, 999), "", "acd.start", T0, None));
    write(&dir.join("events.ndjson"), ndjson(&records));
    (kept, conversations)
}

#[test]
fn hostile_ids_offline_and_with_a_cache() {
    let dir = tempdir();
    let d = dir.path();
    let (kept, conversations) = hostile_input(d);
    let n = kept.len() + 2;
    for args in [vec![], vec!["--offline", "--cache-dir", "cache"]] {
        // A cache entry named after a hostile id must not be read either.
        fs::create_dir_all(d.join("cache/conversations")).unwrap();
        write(&d.join("cache/conversations/with space.json"), "{}");
        write(&d.join("evil.json"), "{}");
        let before = tree(d);
        let c = gcorr(d, &[&["correlate", "events.ndjson"], args.as_slice()].concat());
        c.keeps_exactly(&kept);
        c.reports(&format!("events.ndjson:{}", n - 1), "missing event id");
        c.reports(&format!("events.ndjson:{n}"), "missing conversation id");
        assert_eq!(c.count("invalid"), 2);
        let timelines = c.run.timelines();
        let got: BTreeSet<String> = timelines.iter().map(|t| super::id_of(t).to_owned()).collect();
        assert_eq!(
            got, conversations,
            "every id comes back byte for byte (UUIDs in lower case)"
        );
        for t in &timelines {
            assert_eq!(t["enrichment"]["status"], "skipped", "{}", super::id_of(t));
        }
        assert_eq!(tree(d), before, "no file created or removed");
    }
    assert!(!Path::new("/tmp/gcorr-escaped.json").exists());
}

#[test]
fn hostile_ids_never_reach_a_url_or_a_file_name() {
    let dir = tempdir();
    let d = dir.path();
    let (kept, conversations) = hostile_input(d);
    let fake = fake::Fake::start(fake::FakeConfig::default());
    let before = tree(d);
    let c = gcorr_with(
        d,
        &[
            "correlate",
            "events.ndjson",
            "--cache-dir",
            "cache",
            "--api-base",
            &fake.url,
            "--login-base",
            &fake.url,
            "--max-rpm",
            "60000",
        ],
        &[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", fake::CLIENT_ID),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", fake::CLIENT_SECRET),
        ],
    );
    c.keeps_exactly(&kept);
    let uuids: BTreeSet<&String> = conversations.iter().filter(|c| is_uuid(c)).collect();
    let mut asked = BTreeSet::new();
    for e in fake.log().entries() {
        assert!(
            e.path == "/oauth/token" || e.path.starts_with("/api/v2/conversations/"),
            "unexpected request {} {}?{}",
            e.method,
            e.path,
            e.query
        );
        if let Some(id) = e.path.strip_prefix("/api/v2/conversations/") {
            assert!(is_uuid(id) && e.query.is_empty(), "{}?{}", e.path, e.query);
            asked.insert(id.to_owned());
        }
    }
    assert_eq!(
        asked.iter().collect::<BTreeSet<_>>(),
        uuids,
        "every UUID, and only UUIDs, fetched"
    );
    for t in c.run.timelines() {
        let (id, status) = (super::id_of(&t), t["enrichment"]["status"].as_str().unwrap());
        if is_uuid(id) {
            assert_eq!(status, "ok", "{id}");
        } else {
            assert_eq!(status, "skipped", "{id}");
            assert!(
                t["enrichment"]["error"]
                    .as_str()
                    .unwrap()
                    .contains("not a Genesys conversation id")
            );
        }
    }
    let mut expected = before;
    expected.extend([PathBuf::from("cache"), PathBuf::from("cache/conversations")]);
    expected.extend(
        uuids
            .iter()
            .map(|id| PathBuf::from(format!("cache/conversations/{id}.json"))),
    );
    expected.sort();
    assert_eq!(
        tree(d),
        expected,
        "the cache holds one file per UUID, nothing else anywhere"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. NUL bytes, 9. invalid UTF-8
// ---------------------------------------------------------------------------------------------

/// `record` with `bytes` put in place of the `@@` of one of its string values.
fn with_raw(record: &Value, bytes: &[u8]) -> Vec<u8> {
    let text = compact(record);
    let at = text.find("@@").unwrap();
    [&text.as_bytes()[..at], bytes, &text.as_bytes()[at + 2..]].concat()
}

/// Records with `bad` bytes inside an ignored string, inside the event id and inside the
/// conversation id, between valid ones, as lines and concatenated; then `bad` alone as a line
/// and between records. Each bad record is invalid and named; every valid one is kept.
fn bad_bytes_case(bad: &[u8], what: &str) {
    let dir = tempdir();
    let good = valid(0x81, 8);
    let mut ignored = good[0].clone();
    ignored["id"] = json!(uuid(0x82, 0));
    ignored["detail"]["eventBody"]["ani"] = json!("tel:@@");
    let mut id = good[0].clone();
    id["id"] = json!("e-@@");
    let mut conv = good[0].clone();
    conv["id"] = json!(uuid(0x82, 2));
    conv["detail"]["eventBody"]["conversationId"] = json!("c-@@");
    let bad_records: Vec<Vec<u8>> = [ignored, id, conv].iter().map(|r| with_raw(r, bad)).collect();
    let line = |v: &Value| compact(v).into_bytes();

    // Lines: good, bad, good, bad, good, bad, good, `bad` alone, good...
    let mut rows: Vec<Vec<u8>> = vec![];
    for (i, b) in bad_records.iter().enumerate() {
        rows.push(line(&good[i + 1]));
        rows.push(b.clone());
    }
    rows.push(line(&good[4]));
    rows.push([bad, bad, bad].concat());
    rows.push([line(&good[5]).as_slice(), bad].concat());
    rows.push([bad, line(&good[6]).as_slice()].concat());
    rows.push(line(&good[7]));
    write(&dir.path().join("lines.ndjson"), rows.join(&b'\n'));
    let c = gcorr(dir.path(), &["correlate", "lines.ndjson"]);
    let ok: Vec<String> = [1, 2, 3, 4, 7].iter().map(|&i| uuid(0x81, i)).collect();
    c.keeps(&ok);
    for l in [2, 4, 6, 8] {
        c.reports(&format!("lines.ndjson:{l}"), "");
    }
    let stray = c.count("invalid");
    assert!((4..=6).contains(&stray), "{what}: {}", c.run.stderr);

    // Concatenated: bad bytes between records are skipped and named, the records around kept.
    let mut data = vec![];
    let mut starts = vec![];
    for (i, b) in bad_records.iter().enumerate() {
        data.extend(line(&good[i + 1]));
        data.extend(bad);
        starts.push(data.len());
        data.extend(b);
    }
    data.extend(bad);
    data.extend(line(&good[4]));
    write(&dir.path().join("values.json"), &data);
    let c = gcorr(dir.path(), &["correlate", "values.json"]);
    c.keeps(&ok[..4]);
    for s in starts {
        c.reports(&format!("values.json@{s}"), "");
    }
}

#[test]
fn nul_bytes_inside_and_between_records() {
    bad_bytes_case(b"\0", "NUL");
    bad_bytes_case(b"\0\0\0\0", "NULs");
}

#[test]
fn invalid_utf8_in_values_and_as_a_line() {
    bad_bytes_case(b"\xff\xfe", "not UTF-8");
    bad_bytes_case(b"\xc3\x28", "a cut sequence");
    bad_bytes_case(b"\xed\xa0\x80", "a surrogate");
}

// ---------------------------------------------------------------------------------------------
// 10. A tree of 10,000 files
// ---------------------------------------------------------------------------------------------

#[test]
fn a_tree_of_10000_small_files() {
    let dir = tempdir();
    let root = dir.path().join("dump");
    let conversation = uuid(0xca, 1);
    let mut files: Vec<(PathBuf, Vec<String>, usize)> = vec![];
    for i in 0..10_000u64 {
        // Not zero-padded: sorted order is not numeric order.
        let path = root.join(format!("h{}", i % 7)).join(format!("part-{i}.ndjson"));
        let count = 1 + usize::from(i % 3 == 0);
        let mut text = String::new();
        let mut ids = vec![];
        for k in 0..count {
            let id = uuid(0xf17e, i * 2 + k as u64);
            text += &compact(&envelope(&id, &conversation, "acd.start", T0, Some("VOICE")));
            text.push('\n');
            ids.push(id);
        }
        let bad = usize::from(i % 1000 == 999);
        if bad == 1 {
            text += "{\"id\": broken\n";
        }
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        files.push((path, ids, bad));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let c = gcorr(dir.path(), &["correlate", "dump"]);
    eprintln!("10,000 files: {:?}, peak {:.0} MB", c.elapsed, c.peak_mb);
    let expected: Vec<String> = files.iter().flat_map(|f| f.1.clone()).collect();
    let t = c.run.timelines();
    assert_eq!(t.len(), 1);
    // All at the same time: ties keep input order, which is sorted path order.
    assert_eq!(event_ids(&t[0]), expected);
    assert_eq!(c.count("invalid"), files.iter().map(|f| f.2 as u64).sum::<u64>());
    assert_eq!(c.count("records"), (expected.len() + 10) as u64);
    assert_eq!(c.report["inputs"], 10_000);
    assert!(c.elapsed < Duration::from_secs(20), "{:?}", c.elapsed);
}

// ---------------------------------------------------------------------------------------------
// Memory per kept event
// ---------------------------------------------------------------------------------------------

/// The README's bound: what one more kept event costs at the peak of a run (the event, its
/// share of the dedup set, the interned ids and the grouping), measured as the growth of peak
/// memory between a small and a large input, so fixed costs cancel out. Both sizes are powers
/// of two, so the event vectors are full at both, not one just doubled.
const BYTES_PER_EVENT: f64 = 400.0;

#[test]
fn memory_per_kept_event_is_bounded() {
    let dir = tempdir();
    let runs: Vec<(u64, f64)> = [8_192, 65_536]
        .into_iter()
        .map(|n| {
            let name = format!("{n}.ndjson");
            write(&dir.path().join(&name), ndjson(&super::many_records(n)));
            let c = gcorr(dir.path(), &["correlate", &name]);
            (c.count("unique_events"), c.peak_mb * 1024.0 * 1024.0)
        })
        .collect();
    let ((small, small_peak), (large, large_peak)) = (runs[0], runs[1]);
    let per_event = (large_peak - small_peak) / (large - small) as f64;
    eprintln!(
        "peak memory: {:.1} MB for {small} events, {:.1} MB for {large}: {per_event:.0} bytes per kept event",
        small_peak / 1e6,
        large_peak / 1e6
    );
    assert!(per_event < BYTES_PER_EVENT, "{per_event:.0} bytes per kept event");
}
