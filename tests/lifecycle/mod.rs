//! The run's lifecycle around the timelines: where they go (destinations checked before
//! anything is read, never over an input, the format from the file name), what survives a
//! closed pipe, signals at every phase (no temporary file left behind), CSV at scale, and what
//! the help, the man page and the README recipes promise.

use crate::enrich::{CREDENTIALS, api_args, events, fake};

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{
    GENESYS_ENV, T0, command, envelope, finish, fixtures, many_records, ndjson, parse_csv, run_in, tempdir,
    uuid, write,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// The records of `conversations` conversations (8 events each, some delivered twice).
fn records(conversations: usize) -> Vec<u8> {
    ndjson(&many_records(conversations * 8))
}

/// `gcorr ARGS` in `dir` as a child: no Genesys settings from the host, stdout and stderr into
/// files (`stdout`, `stderr` in `dir`), stdin as given.
fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Stdio) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gcorr"));
    cmd.current_dir(dir).args(args);
    for k in GENESYS_ENV {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied())
        .env("HOME", dir)
        .stdin(stdin)
        .stdout(fs::File::create(dir.join("stdout")).unwrap())
        .stderr(fs::File::create(dir.join("stderr")).unwrap());
    cmd.spawn().expect("gcorr starts")
}

/// Sends `sig` to `child` alone.
fn send(child: &Child, sig: libc::c_int) {
    // SAFETY: a plain syscall about our own child.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Waits for `child`, killing it after `limit` (the test then fails).
#[track_caller]
fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gcorr did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `what` until it holds, for at most `limit`.
#[track_caller]
fn until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The temporary files gcorr left in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".gcorr-"))
        .collect()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// JSON Lines parsed back; every line whole.
#[track_caller]
fn lines(text: &str) -> Vec<Value> {
    assert!(text.is_empty() || text.ends_with('\n'), "the last line is whole");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// The `gcorr: error: ...` line of a run's stderr.
#[track_caller]
fn error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("gcorr: error: "))
        .unwrap_or_else(|| panic!("no error line on stderr:\n{stderr}"))
}

// ---------------------------------------------------------------------------------------------
// Destinations: never over an input, checked before reading
// ---------------------------------------------------------------------------------------------

#[test]
fn an_output_naming_an_input_is_refused_before_reading() {
    let dir = tempdir();
    let d = dir.path();
    let dump = records(4);
    write(&d.join("dump.ndjson"), &dump);
    std::os::unix::fs::symlink("dump.ndjson", d.join("link.ndjson")).unwrap();
    for (input, out) in [
        ("dump.ndjson", "dump.ndjson"),
        ("dump.ndjson", "./dump.ndjson"),
        ("link.ndjson", "dump.ndjson"),
        ("dump.ndjson", "link.ndjson"),
    ] {
        let r = run_in(d, &["correlate", input, "-o", out]).code(2);
        let line = error_line(&r.stderr);
        assert!(
            line.contains(&format!("-o {out}")) && line.contains(input),
            "{line}"
        );
        assert!(!r.stderr.contains(" MB in "), "nothing read: {}", r.stderr);
        assert_eq!(
            fs::read(d.join("dump.ndjson")).unwrap(),
            dump,
            "the dump is untouched"
        );
    }
    let r = run_in(d, &["correlate", "dump.ndjson", "--report", "./link.ndjson"]).code(2);
    assert!(
        error_line(&r.stderr).contains("--report ./link.ndjson"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "nothing written");
    assert_eq!(fs::read(d.join("dump.ndjson")).unwrap(), dump);
}

#[test]
fn output_and_report_on_one_file_are_refused() {
    let dir = tempdir();
    let d = dir.path();
    write(&d.join("dump.ndjson"), records(4));
    // A new file, spelt two ways.
    let r = run_in(
        d,
        &[
            "correlate",
            "dump.ndjson",
            "-o",
            "out.json",
            "--report",
            "./out.json",
        ],
    )
    .code(2);
    let line = error_line(&r.stderr);
    assert!(
        line.contains("-o out.json") && line.contains("--report ./out.json"),
        "{line}"
    );
    assert!(!d.join("out.json").exists(), "nothing written");
    // An existing file, through a link.
    write(&d.join("old.json"), "old");
    std::os::unix::fs::symlink("old.json", d.join("link.json")).unwrap();
    run_in(
        d,
        &[
            "correlate",
            "dump.ndjson",
            "-o",
            "link.json",
            "--report",
            "old.json",
        ],
    )
    .code(2);
    assert_eq!(read(&d.join("old.json")), "old");
    // Two different files are fine.
    run_in(
        d,
        &["correlate", "dump.ndjson", "-o", "out.json", "--report", "r.json"],
    )
    .ok();
    assert!(d.join("out.json").is_file() && d.join("r.json").is_file());
}

#[test]
fn an_output_inside_an_input_directory_clashes_only_with_a_file_read() {
    let dir = tempdir();
    let d = dir.path();
    fs::create_dir(d.join("dump")).unwrap();
    let events = records(4);
    write(&d.join("dump/a.ndjson"), &events);
    // New: not read this time, so written.
    run_in(d, &["correlate", "dump", "-o", "dump/out.ndjson"]).ok();
    let first = read(&d.join("dump/out.ndjson"));
    assert_eq!(lines(&first).len(), 4);
    // Now it exists, and reading dump/ would read it: refused, left as it was.
    let r = run_in(d, &["correlate", "dump", "-o", "dump/out.ndjson"]).code(2);
    assert!(error_line(&r.stderr).contains("dump/out.ndjson"), "{}", r.stderr);
    assert_eq!(read(&d.join("dump/out.ndjson")), first);
    assert_eq!(fs::read(d.join("dump/a.ndjson")).unwrap(), events);
}

#[test]
fn destinations_are_checked_before_reading() {
    let dir = tempdir();
    let d = dir.path();
    write(&d.join("dump.ndjson"), records(4));
    write(&d.join("file"), "a file");
    fs::create_dir(d.join("adir")).unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["-o", "file/out.json"], "file: not a directory"),
        (&["-o", "adir"], "adir: is a directory"),
        (&["-o", "missing/out.json"], "missing: no such directory"),
        (
            &["-o", "out.json", "--report", "missing/r.json"],
            "missing: no such directory",
        ),
    ];
    for (args, message) in cases {
        let mut argv = vec!["correlate", "dump.ndjson"];
        argv.extend(args);
        let r = run_in(d, &argv).code(1);
        assert_eq!(error_line(&r.stderr), format!("gcorr: error: {message}"));
        assert!(!r.stderr.contains(" MB in "), "nothing read: {}", r.stderr);
        assert!(!d.join("out.json").exists(), "nothing written for {args:?}");
    }
    // Stdin is not even read: a closed stdin would otherwise be "read" as empty.
    let r = finish(command(d, &["correlate", "-o", "file/x"]).write_stdin(records(1))).code(1);
    assert!(r.stdout.is_empty() && !r.stderr.contains(" MB in "));
}

#[cfg(unix)]
#[test]
fn an_unwritable_directory_is_refused_before_reading() {
    let dir = tempdir();
    let d = dir.path();
    write(&d.join("dump.ndjson"), records(2));
    let locked = d.join("locked");
    fs::create_dir(&locked).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
    if fs::write(locked.join("probe"), "").is_ok() {
        return; // Running as root: permissions do not apply.
    }
    let r = run_in(d, &["correlate", "dump.ndjson", "--report", "locked/r.json"]).code(1);
    assert!(
        error_line(&r.stderr).contains("locked: cannot create a file"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.is_empty(),
        "no timelines before the report is known writable"
    );
}

#[test]
fn an_output_onto_a_dangling_link_creates_its_target_and_keeps_the_link() {
    let dir = tempdir();
    let d = dir.path();
    write(&d.join("dump.ndjson"), records(3));
    fs::create_dir(d.join("real")).unwrap();
    std::os::unix::fs::symlink("real/out.ndjson", d.join("out.ndjson")).unwrap();
    run_in(d, &["correlate", "dump.ndjson", "-o", "out.ndjson"]).ok();
    assert!(
        fs::symlink_metadata(d.join("out.ndjson"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(lines(&read(&d.join("real/out.ndjson"))).len(), 3);
}

#[test]
fn offline_with_a_missing_cache_creates_nothing() {
    let dir = tempdir();
    let d = dir.path();
    write(&d.join("dump.ndjson"), records(2));
    let r = run_in(
        d,
        &["correlate", "dump.ndjson", "--offline", "--cache-dir", "cache"],
    )
    .ok();
    assert!(!d.join("cache").exists(), "no cache directory created");
    for t in lines(std::str::from_utf8(&r.stdout).unwrap()) {
        assert_eq!(t["enrichment"]["status"], "skipped");
    }
}

// ---------------------------------------------------------------------------------------------
// The format from the file name
// ---------------------------------------------------------------------------------------------

#[test]
fn the_format_follows_the_output_extension_unless_given() {
    let dir = tempdir();
    let d = dir.path();
    write(&d.join("dump.ndjson"), records(3));
    let produce = |out: &str, extra: &[&str]| -> Vec<u8> {
        let mut argv = vec!["correlate", "dump.ndjson", "-o", out];
        argv.extend(extra);
        run_in(d, &argv).ok();
        fs::read(d.join(out)).unwrap()
    };
    let json: Value = serde_json::from_slice(&produce("out.json", &[])).expect("one JSON document");
    assert_eq!(json.as_array().unwrap().len(), 3);
    let events: u64 = json
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["event_count"].as_u64().unwrap())
        .sum();
    let (header, rows) = parse_csv(&produce("out.csv", &[]));
    assert_eq!(header[0], "conversation_id");
    assert_eq!(rows.len() as u64, events, "one row per event");
    let html = String::from_utf8(produce("report.html", &[])).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"),
        "html"
    );
    for name in ["out.ndjson", "out.jsonl", "out.txt"] {
        assert_eq!(
            lines(std::str::from_utf8(&produce(name, &[])).unwrap()).len(),
            3,
            "{name}"
        );
    }
    // --format wins.
    assert_eq!(
        lines(std::str::from_utf8(&produce("x.csv", &["--format", "ndjson"])).unwrap()).len(),
        3
    );
}

// ---------------------------------------------------------------------------------------------
// A closed pipe ends the output, not the run's bookkeeping
// ---------------------------------------------------------------------------------------------

#[test]
fn the_report_and_summary_survive_a_closed_stdout() {
    let dir = tempdir();
    let d = dir.path();
    write(&d.join("dump.ndjson"), records(2000));
    let mut child = Command::new(env!("CARGO_BIN_EXE_gcorr"))
        .current_dir(d)
        .args(["correlate", "dump.ndjson", "--report", "r.json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(d.join("stderr")).unwrap())
        .spawn()
        .unwrap();
    // `| head -c 10`
    let mut head = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    let status = wait(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{}", read(&d.join("stderr")));
    let report: Value = serde_json::from_str(&read(&d.join("r.json"))).expect("the report is written");
    assert_eq!(report["conversations"], 2000);
    assert!(
        read(&d.join("stderr")).contains(" MB in "),
        "the summary is printed"
    );
}

// ---------------------------------------------------------------------------------------------
// Signals: every phase stops cleanly, never leaving a temporary file
// ---------------------------------------------------------------------------------------------

#[test]
fn a_signal_while_reading_writes_the_timelines_of_what_was_read() {
    let dir = tempdir();
    let d = dir.path();
    let mut child = spawn(d, &["correlate", "-o", "out.ndjson"], &[], Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let first: Vec<Value> = (0..5)
        .map(|i| {
            envelope(
                &uuid(0xe1, i),
                &uuid(0xc1, i),
                "acd.start",
                T0 + i as i64,
                Some("VOICE"),
            )
        })
        .collect();
    stdin.write_all(&ndjson(&first)).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    send(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(100));
    // The reader wakes up on more input (or its end) and stops there; stdin stays open.
    let more = envelope(&uuid(0xe1, 99), &uuid(0xc1, 99), "acd.start", T0, Some("VOICE"));
    stdin.write_all(&ndjson(&[more])).unwrap();
    stdin.flush().unwrap();
    let status = wait(&mut child, Duration::from_secs(20));
    drop(stdin);
    let stderr = read(&d.join("stderr"));
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted while reading"), "{stderr}");
    let ts = lines(&read(&d.join("out.ndjson")));
    for i in 0..5 {
        let id = uuid(0xc1, i);
        let t = ts.iter().find(|t| t["conversation_id"] == id.as_str());
        let t = t.unwrap_or_else(|| panic!("{id} was read before the signal: {ts:?}"));
        assert_eq!(t["enrichment"]["status"], "skipped");
        assert_eq!(t["enrichment"]["error"], "interrupted");
    }
    assert!(leftovers(d).is_empty());
}

#[test]
fn a_second_signal_ends_a_run_waiting_on_a_silent_input() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempdir();
    let d = dir.path();
    let mut child = spawn(d, &["correlate", "-o", "out.ndjson"], &[], Stdio::piped());
    // Stdin stays open and silent: the first signal is noted, the reader cannot see it yet.
    let stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    send(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "still waiting on its input");
    send(&child, libc::SIGINT);
    let status = wait(&mut child, Duration::from_secs(10));
    drop(stdin);
    assert_eq!(
        status.signal(),
        Some(libc::SIGINT),
        "ended by the second signal: {status}"
    );
    assert!(!d.join("out.ndjson").exists());
    assert!(leftovers(d).is_empty(), "nothing was being written");
}

#[test]
fn a_signal_while_writing_removes_the_temporary_file_and_keeps_the_old_output() {
    let dir = tempdir();
    let d = dir.path();
    write(&d.join("dump.ndjson"), records(6_000));
    write(&d.join("out.ndjson"), "the previous run\n");
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let mut child = spawn(
            d,
            &["correlate", "dump.ndjson", "-o", "out.ndjson"],
            &[],
            Stdio::null(),
        );
        until(Duration::from_secs(60), "writing to start", || {
            !leftovers(d).is_empty() || child.try_wait().unwrap().is_some()
        });
        send(&child, sig);
        let status = wait(&mut child, Duration::from_secs(30));
        let stderr = read(&d.join("stderr"));
        assert_eq!(status.code(), Some(code), "{stderr}");
        assert!(
            stderr.contains("interrupted while writing: out.ndjson left as it was"),
            "{stderr}"
        );
        assert_eq!(read(&d.join("out.ndjson")), "the previous run\n");
        assert_eq!(leftovers(d), Vec::<String>::new(), "no temporary file is left");
    }
}

/// Events of `ids` as the fake models them, in `dir`.
fn modelled_events(dir: &Path, ids: &[String]) -> PathBuf {
    events::write(dir, fake::DEFAULT_SEED, ids, &[])
}

fn conversation_ids(tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| fake::derive_uuid(&["lifecycle", tag, &i.to_string()]))
        .collect()
}

#[test]
fn a_slow_enrichment_says_so_once_and_a_signal_skips_the_rest_as_interrupted() {
    let fake = fake::Fake::start(fake::FakeConfig::default());
    let dir = tempdir();
    let d = dir.path();
    let ids = conversation_ids("slow", 4);
    let input = modelled_events(d, &ids);
    let input = input.to_str().unwrap();
    // One request a minute: the first leaves at once, the next would wait a minute.
    let args = api_args(&fake, input, &["--max-rpm", "1", "-o", "out.ndjson"]);
    let mut child = spawn(d, &args, &CREDENTIALS, Stdio::null());
    until(Duration::from_secs(30), "the first answer", || {
        fake.log.api_requests().len() == 1 || child.try_wait().unwrap().is_some()
    });
    std::thread::sleep(Duration::from_millis(300));
    send(&child, libc::SIGINT);
    let status = wait(&mut child, Duration::from_secs(20));
    let stderr = read(&d.join("stderr"));
    assert_eq!(status.code(), Some(130), "{stderr}");
    let notices: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("--source analytics"))
        .collect();
    assert_eq!(notices.len(), 1, "said once: {stderr}");
    assert!(
        notices[0].contains("4 conversations at 1 request a minute take about 4.0 min"),
        "{stderr}"
    );
    let ts = lines(&read(&d.join("out.ndjson")));
    assert_eq!(ts.len(), 4, "every conversation is written");
    let statuses: Vec<(&str, &str)> = ts
        .iter()
        .map(|t| {
            let e = &t["enrichment"];
            (e["status"].as_str().unwrap(), e["error"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(statuses.iter().filter(|s| s.0 == "ok").count(), 1, "{statuses:?}");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| *s == &("skipped", "interrupted"))
            .count(),
        3,
        "{statuses:?}"
    );
    assert!(leftovers(d).is_empty());
}

#[test]
fn a_signal_while_writing_after_enrichment_is_not_ignored() {
    let fake = fake::Fake::start(fake::FakeConfig {
        ratelimit_allowed: 100_000,
        ..fake::FakeConfig::default()
    });
    let dir = tempdir();
    let d = dir.path();
    let ids = conversation_ids("write", 100);
    let input = modelled_events(d, &ids);
    let input = input.to_str().unwrap();
    let args = api_args(&fake, input, &["--max-rpm", "60000"]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gcorr"));
    cmd.current_dir(d).args(&args).env("HOME", d);
    for k in GENESYS_ENV {
        cmd.env_remove(k);
    }
    // stdout: a pipe nobody reads yet, so writing blocks once it is full.
    let mut child = cmd
        .envs(CREDENTIALS)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(d.join("stderr")).unwrap())
        .spawn()
        .unwrap();
    until(Duration::from_secs(60), "enrichment to end", || {
        fake.log.ok_counts().len() == ids.len() || child.try_wait().unwrap().is_some()
    });
    std::thread::sleep(Duration::from_millis(500));
    send(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(100));
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let status = wait(&mut child, Duration::from_secs(20));
    let stderr = read(&d.join("stderr"));
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted while writing: the output is cut short"),
        "{stderr}"
    );
    // Whole timelines only: the output stops after the chunk being written.
    let text = String::from_utf8(out).unwrap();
    assert!(lines(&text).len() <= ids.len());
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

#[test]
fn csv_rows_name_the_participant_when_enrichment_knows_them() {
    let fake = fake::Fake::start(fake::FakeConfig::default());
    let dir = tempdir();
    let d = dir.path();
    let ids = conversation_ids("csv", 6);
    let input = modelled_events(d, &ids);
    let input = input.to_str().unwrap();
    let go = |extra: &[&str]| {
        let args = api_args(&fake, input, extra);
        let r = finish(command(d, &args).envs(CREDENTIALS).env("HOME", d)).ok();
        r.stdout
    };
    let json = lines(std::str::from_utf8(&go(&[])).unwrap());
    let (_, rows) = parse_csv(&go(&["--format", "csv"]));
    let mut named = 0;
    for row in &rows {
        let t = json
            .iter()
            .find(|t| t["conversation_id"] == row["conversation_id"].as_str())
            .unwrap();
        let p = t["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["participant_id"] == row["participant_id"].as_str());
        let field = |f: &str| p.and_then(|p| p[f].as_str()).unwrap_or("").to_owned();
        assert_eq!(row["participant_purpose"], field("purpose"), "{row:?}");
        assert_eq!(row["participant_name"], field("name"), "{row:?}");
        named += usize::from(!row["participant_name"].is_empty());
    }
    assert!(named > 0, "some participants have names from the API");
}

#[test]
fn csv_rows_name_the_wrapup_code_when_the_conversations_api_does() {
    let conversation = fake::derive_uuid(&["lifecycle", "wrapup"]);
    let (agent, code) = (uuid(0xa6, 1), uuid(0x3c, 1));
    let body = serde_json::json!({
        "id": conversation,
        "participants": [{
            "id": agent, "purpose": "agent", "name": "Ann Agent",
            "wrapup": {"code": code, "name": "Resolved", "notes": ""},
            "calls": [{"id": uuid(0x5e, 1), "state": "disconnected", "segments": []}],
        }],
    });
    let fake = fake::Fake::start(fake::FakeConfig {
        bodies: [(conversation.clone(), body)].into(),
        ..fake::FakeConfig::default()
    });
    let dir = tempdir();
    let d = dir.path();
    let mut wrapup = envelope(&uuid(0xe6, 2), &conversation, "wrapup", T0 + 1000, Some("VOICE"));
    wrapup["detail"]["eventBody"]["participantId"] = agent.clone().into();
    wrapup["detail"]["eventBody"]["wrapupCode"] = code.clone().into();
    let start = envelope(&uuid(0xe6, 1), &conversation, "acd.start", T0, Some("VOICE"));
    write(&d.join("events.ndjson"), ndjson(&[start, wrapup]));
    let args = api_args(&fake, "events.ndjson", &["--format", "csv"]);
    let r = finish(command(d, &args).envs(CREDENTIALS).env("HOME", d)).ok();
    let (_, rows) = parse_csv(&r.stdout);
    let row = rows
        .iter()
        .find(|r| r["event_type"] == "wrapup")
        .expect("the wrap-up row");
    assert_eq!(row["wrapup_code"], code);
    assert_eq!(row["wrapup_name"], "Resolved");
    assert_eq!(row["participant_name"], "Ann Agent");
    assert_eq!(row["participant_purpose"], "agent");
    assert_eq!(row["enrichment_status"], "ok");
}

#[test]
fn csv_of_one_conversation_with_a_huge_media_list_is_streamed() {
    let dir = tempdir();
    let d = dir.path();
    // One conversation, each event a new media type: every row repeats the whole list.
    let n = 3000;
    let conversation = uuid(0xcc, 1);
    let records: Vec<Value> = (0..n)
        .map(|i| {
            envelope(
                &uuid(0xe5, i),
                &conversation,
                "acd.start",
                T0 + i as i64,
                Some(&format!("media{i:05}")),
            )
        })
        .collect();
    write(&d.join("one.ndjson"), ndjson(&records));
    let peak = |format: &str, out: &str| {
        let args = [
            "correlate",
            "one.ndjson",
            "--threads",
            "2",
            "--format",
            format,
            "-o",
            out,
        ];
        let (run, peak_mb, _) = crate::hardening::launch(d, &args, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        peak_mb
    };
    let (ndjson_mb, csv_mb) = (peak("ndjson", "out.ndjson"), peak("csv", "out.csv"));
    let out = &fs::read(d.join("out.csv")).unwrap();
    eprintln!(
        "peak: ndjson {ndjson_mb:.1} MB, csv {csv_mb:.1} MB ({} MB of CSV)",
        out.len() >> 20
    );
    assert_eq!(
        out.iter().filter(|&&b| b == b'\n').count(),
        n as usize + 1,
        "a header and a row per event"
    );
    let media: Vec<String> = (0..n).map(|i| format!("media{i:05}")).collect();
    let last_row = out[..out.len() - 1].rsplit(|&b| b == b'\n').next().unwrap();
    assert!(
        String::from_utf8_lossy(last_row).contains(&media.join("|")),
        "every row has the conversation's media types"
    );
    assert!(
        csv_mb < ndjson_mb * 1.5 + 16.0,
        "CSV peak {csv_mb:.1} MB vs NDJSON {ndjson_mb:.1} MB"
    );
}

// ---------------------------------------------------------------------------------------------
// Help, man page, README recipes, wording
// ---------------------------------------------------------------------------------------------

const ENVIRONMENT: [&str; 5] = [
    "GENESYSCLOUD_OAUTHCLIENT_ID",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET",
    "GENESYSCLOUD_REGION",
    "GENESYSCLOUD_ACCESS_TOKEN",
    "NO_COLOR",
];

#[test]
fn help_and_man_pages_list_the_environment() {
    let d = fixtures();
    for args in [&["correlate", "--help"][..], &["auth", "check", "--help"]] {
        let r = run_in(&d, args).ok();
        let text = r.text();
        let section = &text[text
            .find("\nEnvironment:\n")
            .unwrap_or_else(|| panic!("{args:?}: {text}"))..];
        for name in ENVIRONMENT {
            assert!(section.contains(name), "{args:?} lists {name}");
        }
    }
    let man = run_in(&d, &["man"]).ok();
    let man = man.text();
    // The pages of correlate and auth check each have the section.
    let sections: Vec<&str> = man.split(".SH ENVIRONMENT").skip(1).collect();
    assert_eq!(sections.len(), 2, "two pages with an ENVIRONMENT section");
    for s in sections {
        let s = &s[..s.find(".SH ").unwrap_or(s.len())];
        for name in ENVIRONMENT {
            assert!(s.contains(name), "the man page lists {name}");
        }
    }
}

/// The commands of README.md's fenced block that follows `heading`.
fn readme_block(heading: &str) -> String {
    let readme = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let from = readme
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading} in the README"));
    let block = &readme[from..];
    let start = block.find("```sh\n").unwrap() + "```sh\n".len();
    block[start..start + block[start..].find("```").unwrap()].to_owned()
}

/// Runs a README line in `sh`, in `dir`, with gcorr and `bin` first on the PATH.
fn shell(dir: &Path, line: &str, bin: &Path) -> std::process::Output {
    let gcorr_dir = Path::new(env!("CARGO_BIN_EXE_gcorr")).parent().unwrap();
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        gcorr_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir)
        .args(["-c", line])
        .env("PATH", path)
        .env("HOME", dir);
    for k in GENESYS_ENV {
        cmd.env_remove(k);
    }
    cmd.env_remove("NO_COLOR").output().unwrap()
}

#[test]
fn readme_recipes_run_verbatim() {
    let dir = tempdir();
    let d = dir.path();
    let bin = d.join("bin");
    fs::create_dir(&bin).unwrap();
    // `less` stands in as a pager that keeps what it was given.
    write(&bin.join("less"), "#!/bin/sh\ncat > \"$HOME/paged\"\n");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(bin.join("less"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir(d.join("dump")).unwrap();
    fs::copy(fixtures().join("events.ndjson"), d.join("dump/events.ndjson")).unwrap();

    let completions = readme_block("## Shell integration");
    // The block's lines up to the completion script, as a person pastes them.
    let lines: Vec<&str> = completions.lines().collect();
    let upto = lines.iter().position(|l| l.contains("completions bash")).unwrap();
    let line = lines[..=upto].join("\n");
    let out = shell(d, &line, &bin);
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = read(&d.join(".local/share/bash-completion/completions/gcorr"));
    assert!(script.contains("_gcorr"), "a bash completion script");

    let recipes = readme_block("## Recipes");
    let lines: Vec<&str> = recipes.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("A quick look in the terminal"))
        .unwrap();
    let out = shell(d, lines[at + 1], &bin);
    assert!(
        out.status.success(),
        "{}: {}",
        lines[at + 1],
        String::from_utf8_lossy(&out.stderr)
    );
    let paged = read(&d.join("paged"));
    assert!(paged.contains("\u{1b}["), "less -R is given colours: {paged}");
}

#[test]
fn counts_in_words_agree_in_number_and_rates_have_one_decimal() {
    let dir = tempdir();
    let d = dir.path();
    let a = envelope(&uuid(0xe2, 1), &uuid(0xc2, 1), "acd.start", T0, Some("VOICE"));
    write(&d.join("one.ndjson"), ndjson(&[a.clone(), a]));
    let r = run_in(d, &["-v", "correlate", "one.ndjson"]).ok();
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("gcorr: one.ndjson: "))
        .unwrap();
    assert_eq!(
        line,
        "gcorr: one.ndjson: 2 records, 1 kept, 1 duplicate, 0 invalid, 0 not conversation, 0 filtered"
    );
    let head = r.stderr.lines().find(|l| l.contains(" MB in ")).unwrap();
    let rate = head
        .split("(read at ")
        .nth(1)
        .and_then(|r| r.strip_suffix(" MB/s)"));
    let rate = rate.unwrap_or_else(|| panic!("{head}"));
    assert_eq!(
        rate.split('.').nth(1).map(str::len),
        Some(1),
        "one decimal: {head}"
    );
    assert!(head.starts_with("gcorr: 1 input, "), "{head}");
}

#[test]
fn auth_check_aligns_every_value() {
    let fake = fake::Fake::start(fake::FakeConfig::default());
    let dir = tempdir();
    let d = dir.path();
    let r = finish(
        command(
            d,
            &[
                "auth",
                "check",
                "--api-base",
                &fake.url,
                "--login-base",
                &fake.url,
            ],
        )
        .envs(CREDENTIALS)
        .env("HOME", d),
    )
    .ok();
    let text = r.text();
    let mut columns = Vec::new();
    for line in text.lines() {
        let (label, rest) = line.split_once(':').unwrap_or_else(|| panic!("{line}"));
        let value_at = label.len() + 1 + (rest.len() - rest.trim_start().len());
        assert!(rest.starts_with(' '), "a space after `{label}:`: {line}");
        columns.push(value_at);
    }
    assert!(text.contains("conversations: ok"), "{text}");
    columns.dedup();
    assert_eq!(columns.len(), 1, "every value starts in one column:\n{text}");
}
