//! The terminal-facing surface, end to end: `--format table` (parsed back by its columns and
//! checked against the JSON timelines of the same input), `completions`, `man`, `--version`
//! and `--help`.

pub(crate) mod report;

use std::collections::BTreeMap;
use std::process::{Command as Process, Stdio};

use serde_json::Value;

use super::{
    A, C, Run, T0, command, envelope, finish, fixtures, into_head, ndjson, run, run_in, run_stdin, strings,
    tempdir, uuid, write,
};

// ---------------------------------------------------------------------------------------------
// --format table

/// Columns whose values are numbers-like and right-aligned under their header.
const RIGHT_ALIGNED: [&str; 3] = ["DURATION", "EVENTS", "DUPLICATES"];

/// A table parsed back: the header's cells and every row's cells, each with its character span.
struct Table {
    header: Vec<Cell>,
    rows: Vec<Vec<Cell>>,
}

#[derive(Debug)]
struct Cell {
    text: String,
    start: usize,
    end: usize,
}

impl Table {
    /// Cells are separated by two spaces or more (values hold single spaces: `voice → email`).
    #[track_caller]
    fn parse(text: &str) -> Table {
        assert!(text.ends_with('\n'), "the last line is terminated");
        let mut lines = text.lines().map(cells);
        let header = lines.next().expect("a header line");
        Table {
            header,
            rows: lines.collect(),
        }
    }

    fn names(&self) -> Vec<&str> {
        self.header.iter().map(|c| c.text.as_str()).collect()
    }

    /// Each row as column name → value.
    fn records(&self) -> Vec<BTreeMap<&str, &str>> {
        self.rows
            .iter()
            .map(|row| {
                assert_eq!(row.len(), self.header.len(), "one value per column: {row:?}");
                self.names()
                    .into_iter()
                    .zip(row.iter().map(|c| c.text.as_str()))
                    .collect()
            })
            .collect()
    }

    /// Whether `row` lines up with the header: left-aligned cells start, right-aligned ones end,
    /// where their header does.
    fn aligned(&self, row: &[Cell]) -> bool {
        self.header.iter().zip(row).all(|(h, c)| {
            if RIGHT_ALIGNED.contains(&h.text.as_str()) {
                c.end == h.end
            } else {
                c.start == h.start
            }
        })
    }
}

fn cells(line: &str) -> Vec<Cell> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !(chars[i] == ' ' && chars.get(i + 1).is_none_or(|&c| c == ' ')) {
            i += 1;
        }
        out.push(Cell {
            text: chars[start..i].iter().collect(),
            start,
            end: i,
        });
    }
    out
}

/// `850ms`, `42s`, `13m40s`, `1h02m`, `3d04h` back to (milliseconds, the smallest unit's size).
#[track_caller]
fn parse_duration(text: &str) -> (i64, i64) {
    let mut total = 0;
    let mut unit = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .expect("a unit after the number");
        let n: i64 = rest[..digits]
            .parse()
            .unwrap_or_else(|_| panic!("a number in {text:?}"));
        rest = &rest[digits..];
        let (size, len) = [
            ("ms", 1),
            ("s", 1000),
            ("m", 60_000),
            ("h", 3_600_000),
            ("d", 86_400_000),
        ]
        .into_iter()
        .filter(|(name, _)| rest.starts_with(name))
        .map(|(name, size)| (size, name.len()))
        .max_by_key(|&(_, len)| len)
        .unwrap_or_else(|| panic!("a unit in {text:?}"));
        rest = &rest[len..];
        total += n * size;
        unit = size;
    }
    (total, unit)
}

fn table_of(args: &[&str]) -> Run {
    let mut all = vec!["correlate", "events.ndjson", "--format", "table"];
    all.extend_from_slice(args);
    finish(command(&fixtures(), &all).env_remove("NO_COLOR")).ok()
}

#[test]
fn table_has_one_aligned_line_per_conversation_matching_the_timelines() {
    let out = table_of(&[]);
    assert!(
        !out.stdout.contains(&0x1b),
        "no escape bytes when stdout is a pipe"
    );
    let table = Table::parse(out.text());
    assert_eq!(
        table.names(),
        [
            "START",
            "DURATION",
            "MEDIA",
            "EVENTS",
            "DUPLICATES",
            "ENRICHMENT",
            "CONVERSATION",
            "FLAGS"
        ]
    );
    for row in &table.rows {
        assert!(table.aligned(row), "aligned with the header: {row:?}");
    }
    let timelines = run(&["correlate", "events.ndjson", "--summary"]).ok().timelines();
    let records = table.records();
    assert_eq!(records.len(), 5, "the fixtures hold 5 conversations");
    assert_eq!(records.len(), timelines.len());
    for (r, t) in records.iter().zip(&timelines) {
        assert_eq!(
            r["CONVERSATION"], t["conversation_id"],
            "same order as the timelines"
        );
        let start = t["start"].as_str().unwrap();
        assert_eq!(r["START"], format!("{}Z", &start[..19]), "start to the second");
        let (ms, unit) = parse_duration(r["DURATION"]);
        let exact = t["duration_ms"].as_i64().unwrap();
        assert!(
            ms <= exact && exact < ms + unit,
            "{} is {exact} ms rounded down",
            r["DURATION"]
        );
        assert_eq!(r["MEDIA"], strings(&t["media_types"]).join(" → "));
        assert_eq!(r["EVENTS"], t["event_count"].to_string());
        assert_eq!(r["DUPLICATES"], t["duplicates_dropped"].to_string());
        assert_eq!(r["ENRICHMENT"], t["enrichment"]["status"]);
        let flags = strings(&t["flags"]).join(",");
        assert_eq!(r["FLAGS"], if flags.is_empty() { "-" } else { &flags });
    }
    let a = records.iter().find(|r| r["CONVERSATION"] == A).unwrap();
    assert_eq!(a["MEDIA"], "voice → callback");
    let c = records.iter().find(|r| r["CONVERSATION"] == C).unwrap();
    assert_eq!(c["DURATION"], "13m40s");
}

#[test]
fn table_ignores_summary_and_threads() {
    let plain = table_of(&[]);
    assert_eq!(table_of(&["--summary"]).stdout, plain.stdout);
    assert_eq!(table_of(&["--threads", "1"]).stdout, plain.stdout);
}

#[test]
fn table_colours_only_when_asked_and_keeps_alignment() {
    let plain = table_of(&[]);
    assert_eq!(table_of(&["--color", "never"]).stdout, plain.stdout);
    // An explicit --color always wins over NO_COLOR.
    let coloured = finish(
        command(
            &fixtures(),
            &["correlate", "events.ndjson", "-f", "table", "--color", "always"],
        )
        .env("NO_COLOR", "1"),
    )
    .ok();
    let text = String::from_utf8(coloured.stdout).unwrap();
    assert!(text.contains("\x1b["), "ANSI escapes with --color always");
    assert_eq!(
        strip_ansi(&text),
        plain.text(),
        "the same table once the colours are removed"
    );
    // A file never gets colour under auto.
    let dir = tempdir();
    let out = dir.path().join("table.txt");
    let events = fixtures().join("events.ndjson");
    run_in(
        dir.path(),
        &[
            "correlate",
            events.to_str().unwrap(),
            "-f",
            "table",
            "-o",
            "table.txt",
        ],
    )
    .ok();
    assert_eq!(std::fs::read(out).unwrap(), plain.stdout);
}

/// Removes `ESC [ ... m` sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('m').expect("an escape ends with m");
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn table_with_no_conversations_is_the_header_alone() {
    let out = run_stdin(&fixtures(), &["correlate", "-", "-f", "table"], "").ok();
    let table = Table::parse(out.text());
    assert_eq!(table.names().len(), 8);
    assert!(table.rows.is_empty());
}

#[test]
fn table_value_too_long_for_its_column_pushes_its_line_only() {
    let dir = tempdir();
    let media = ["VOICE", "CALLBACK", "CHAT", "EMAIL", "MESSAGE", "SMS"];
    let long = uuid(0xc01, 1);
    let short = uuid(0xc01, 2);
    let mut records: Vec<Value> = media
        .iter()
        .enumerate()
        .map(|(i, m)| {
            envelope(
                &uuid(0xe1, i as u64),
                &long,
                "user.start",
                T0 + i as i64 * 1000,
                Some(m),
            )
        })
        .collect();
    records.push(envelope(
        &uuid(0xe2, 1),
        &short,
        "user.start",
        T0 + 500,
        Some("VOICE"),
    ));
    write(&dir.path().join("events.ndjson"), ndjson(&records));
    let out = run_in(dir.path(), &["correlate", "events.ndjson", "-f", "table"]).ok();
    let table = Table::parse(out.text());
    let records = table.records();
    let path = "voice → callback → chat → email → message → sms";
    let i = records
        .iter()
        .position(|r| r["CONVERSATION"] == long)
        .expect("the long row");
    assert_eq!(records[i]["MEDIA"], path, "never cut");
    assert_eq!(records[i]["DURATION"], "5s");
    assert!(!table.aligned(&table.rows[i]), "the long value pushes its line");
    let j = records
        .iter()
        .position(|r| r["CONVERSATION"] == short)
        .expect("the short row");
    assert!(table.aligned(&table.rows[j]), "other lines keep their columns");
}

// ---------------------------------------------------------------------------------------------
// completions, man, --version, --help

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]).ok();
        let script = out.text();
        assert!(!script.trim().is_empty(), "{shell}: a script");
        assert!(
            script.contains("correlate"),
            "{shell}: completes the correlate subcommand"
        );
        assert!(
            script.contains("format"),
            "{shell}: completes correlate's options"
        );
        assert!(
            out.stderr.is_empty(),
            "{shell}: nothing on stderr: {}",
            out.stderr
        );
    }
    let bad = run(&["completions", "tcsh"]).code(2);
    assert!(
        bad.stderr.contains("tcsh") && bad.stderr.contains("bash"),
        "{}",
        bad.stderr
    );
}

#[test]
fn bash_completion_script_is_valid_bash() {
    let dir = tempdir();
    let path = dir.path().join("gcorr.bash");
    write(&path, run(&["completions", "bash"]).ok().stdout);
    match Process::new("bash").arg("-n").arg(&path).output() {
        Ok(o) => assert!(
            o.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => eprintln!("no bash here: syntax not checked"),
    }
}

#[test]
fn man_page_is_roff_for_gcorr_and_its_subcommands() {
    let out = run(&["man"]).ok();
    let page = out.text();
    let requests: Vec<&str> = page.lines().filter(|l| l.starts_with('.')).collect();
    // The only lines before the title define the portable apostrophe (`\*(Aq`).
    let title = requests
        .iter()
        .position(|l| l.starts_with(".TH"))
        .expect("a .TH title");
    assert!(
        requests[..title]
            .iter()
            .all(|l| l.starts_with(".ie") || l.starts_with(".el")),
        "{requests:?}"
    );
    assert!(requests[title].starts_with(".TH gcorr 1"), "{}", requests[title]);
    let titles: Vec<&str> = requests
        .iter()
        .filter_map(|l| l.strip_prefix(".TH "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "gcorr",
            "gcorr-correlate",
            "gcorr-completions",
            "gcorr-man",
            "gcorr-auth",
            "gcorr-auth-check",
            "gcorr-receive"
        ]
    );
    assert!(page.contains("correlate"));
    let sections: Vec<&str> = requests.iter().filter_map(|l| l.strip_prefix(".SH ")).collect();
    assert!(
        sections.contains(&"SUBCOMMANDS") && sections.contains(&"OPTIONS"),
        "{sections:?}"
    );
    // correlate's options, with roff's escaped hyphens.
    for option in [r"\-\-format", r"\-\-cache\-dir", r"\-\-since"] {
        assert!(page.contains(option), "{option} in the page");
    }
    assert!(
        !page.contains(r"\-\-backoff\-base\-ms"),
        "hidden options stay hidden"
    );
}

#[test]
fn version_names_the_package_version_and_commit() {
    let out = run(&["--version"]).ok();
    let line = out.text().strip_suffix('\n').expect("one line");
    let rest = line
        .strip_prefix("gcorr 0.1.0")
        .unwrap_or_else(|| panic!("{line}"));
    if rest.is_empty() {
        return; // built outside a git checkout
    }
    let commit = rest
        .strip_prefix(" (")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"));
    let hash = commit.strip_suffix("-dirty").unwrap_or(commit);
    assert!(
        hash.len() >= 7 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    let known = Process::new("git")
        .args(["cat-file", "-e", &format!("{hash}^{{commit}}")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status();
    if let Ok(status) = known {
        assert!(status.success(), "{hash} is a commit of this repository");
    }
    let sub = run(&["correlate", "--version"]).ok();
    assert!(
        sub.text().ends_with(&format!("{}\n", &line["gcorr ".len()..])),
        "{}",
        sub.text()
    );
}

#[test]
fn help_lists_the_subcommands() {
    let out = run(&["--help"]).ok();
    let commands: Vec<&str> = out
        .text()
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        commands,
        ["correlate", "completions", "man", "auth", "receive", "help"]
    );
    let formats = run(&["correlate", "--help"]).ok();
    assert!(formats.text().contains("table"), "--format table is documented");
}

/// Runs `gcorr ARGS` with its stdout a pipe whose reader is already gone (closed right after
/// the start, before gcorr gets to write).
fn into_closed_pipe(args: &[&str]) -> Run {
    let mut child = Process::new(env!("CARGO_BIN_EXE_gcorr"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gcorr starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("gcorr ends");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn broken_pipe_is_not_an_error_for_table_completions_and_man() {
    let (status, stderr) = into_head("table");
    assert_eq!(status, "0", "{stderr}");
    assert!(
        !stderr.contains("error") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    for args in [&["completions", "bash"][..], &["completions", "zsh"], &["man"]] {
        let out = into_closed_pipe(args).ok();
        assert!(out.stderr.is_empty(), "{args:?}: {}", out.stderr);
    }
}
