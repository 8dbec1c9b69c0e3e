//! gcorr: correlate Genesys Cloud EventBridge event dumps into one cross-channel timeline per
//! conversation.
//!
//! `run` is the whole program: read (input, pipeline) → dedup and group (correlate) → build
//! timelines (timeline) → write (output). `main.rs` only maps its outcome to an exit code.

pub mod api;
pub mod cli;
pub mod correlate;
pub mod event;
pub mod findings;
pub mod ids;
pub mod input;
pub mod intern;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod time;
pub mod timeline;
pub mod vocab;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{Cli, Command, Config, When};
use crate::pipeline::ReadOptions;
use crate::progress::Progress;
use crate::report::{Diagnostics, Summary};

/// How a run ended; the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything read, everything written.
    Success = 0,
    /// A fatal error: nothing (or nothing more) written.
    Failure = 1,
    /// The command line was wrong.
    Usage = 2,
    /// Completed, but something was skipped: invalid records, conflicting duplicates,
    /// conversations not enriched.
    Partial = 3,
    /// Interrupted (Ctrl-C): what was known has been written.
    Interrupted = 130,
}

/// The process entry point.
pub fn main_entry() -> std::process::ExitCode {
    let cli = Cli::parse();
    let exit = match run(cli) {
        Ok(exit) => exit,
        Err(e) if is_broken_pipe(&e) => Exit::Success,
        Err(e) => {
            eprintln!("gcorr: error: {e:#}");
            Exit::Failure
        }
    };
    std::process::ExitCode::from(exit as u8)
}

/// A reader of our output went away (`gcorr ... | head`): not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

pub fn run(cli: Cli) -> Result<Exit> {
    match cli.command {
        Command::Correlate(args) => {
            let config = match Config::new(*args, cli.verbose, cli.quiet) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("gcorr: error: {e:#}");
                    return Ok(Exit::Usage);
                }
            };
            correlate(&config)
        }
        Command::Completions { shell } => {
            let mut out = io::stdout().lock();
            out.write_all(&cli::completions(shell))?;
            out.flush()?;
            Ok(Exit::Success)
        }
        Command::Auth(cli::AuthCommand::Check(args)) => {
            let mut out = io::stdout().lock();
            match api::check::check(&args, &mut out) {
                Ok(true) => Ok(Exit::Success),
                Ok(false) => Ok(Exit::Failure),
                Err(e) if is_broken_pipe(&e) => Ok(Exit::Success),
                Err(e) => {
                    eprintln!("gcorr: error: {e:#}");
                    Ok(Exit::Usage)
                }
            }
        }
        Command::Man => {
            let mut out = BufWriter::new(io::stdout().lock());
            cli::man(&mut out)?;
            out.flush()?;
            Ok(Exit::Success)
        }
    }
}

fn correlate(cfg: &Config) -> Result<Exit> {
    let started = Instant::now();
    let input::Inputs { mut sources, skipped } = input::expand(&cfg.inputs, cfg.quiet)?;
    for path in cfg.output.iter().chain(&cfg.report) {
        check_writable_dir(path)?;
    }
    if input::stdin_is_terminal(&sources) {
        eprintln!("gcorr: reading events from stdin, which is a terminal.");
        eprintln!("Give files or directories: gcorr correlate events.ndjson (see gcorr correlate --help)");
        return Ok(Exit::Usage);
    }
    input::open_all(&mut sources)?;
    let total = sources.iter().map(|s| s.size).sum::<Option<u64>>();
    let progress = Progress::bytes(total, cfg.quiet);
    let mut diag = Diagnostics::new(cfg.quiet);
    let opts = ReadOptions {
        filter: cfg.filter.clone(),
        digest: cfg.digest,
        strict: cfg.strict,
        threads: cfg.threads,
    };
    let read = pipeline::read(&sources, &opts, &mut diag, &mut |n| progress.set(n));
    progress.finish();
    let (store, mut counts) = read?;
    diag.finish();
    counts.skipped_entries = skipped.len() as u64;
    if !cfg.quiet {
        warn_unmatched(&cfg.filter, &store);
    }
    let read_time = started.elapsed();
    let bytes_per_event = store.bytes_per_event();
    let mut correlation = store.finish();
    let sorted = started.elapsed();
    // Flags first: --flag selects by them, with the other filters.
    findings::flag(&mut correlation, &cfg.thresholds, cfg.threads);
    counts.unselect(&correlation.select(&cfg.filter));
    let flagged = started.elapsed();
    let analysis = if !cfg.quiet || cfg.report.is_some() || cfg.format == output::Format::Html {
        findings::Analysis::new(&correlation, &cfg.thresholds)
    } else {
        findings::Analysis::default()
    };
    let grouped = started.elapsed();

    let (enrichment, figures) = enrich(cfg, &correlation)?;
    let enriched = started.elapsed();

    let opts = output::Options {
        format: cfg.format,
        summary: cfg.summary,
        colour: colour(cfg),
        threads: cfg.threads,
    };
    let run = output::Run {
        inputs: sources.len(),
        counts: &counts,
        conversations: correlation.groups.len(),
        enrichment: figures.as_ref(),
        analysis: &analysis,
    };
    let write = |w: &mut dyn Write| output::write(&opts, &run, w, &correlation, &enrichment);
    match &cfg.output {
        Some(path) => write_atomically(path, |w| write(w))?,
        None => write(&mut BufWriter::with_capacity(256 << 10, io::stdout().lock()))
            .context("stdout: write failed")?,
    }
    let elapsed = started.elapsed();

    if cfg.verbose > 0 && !cfg.quiet {
        for (name, why) in &skipped {
            eprintln!("gcorr: skipped {name}: {why}");
        }
        for (s, c) in sources.iter().zip(&counts.inputs) {
            eprintln!(
                "gcorr: {}: {} records, {} kept, {} duplicates, {} invalid, {} not conversation, {} filtered",
                report::printable(&s.name),
                c.records,
                c.kept,
                c.duplicates,
                c.invalid,
                c.not_conversation,
                c.filtered
            );
        }
        eprintln!(
            "gcorr: read {:.2} s, group {:.2} s (flags {:.2} s, findings {:.2} s), write {:.2} s; ~{bytes_per_event:.0} bytes held per unique event",
            read_time.as_secs_f64(),
            (grouped - read_time).as_secs_f64(),
            (flagged - sorted).as_secs_f64(),
            (grouped - flagged).as_secs_f64(),
            (elapsed - enriched).as_secs_f64()
        );
        if figures.is_some() {
            eprintln!("gcorr: enrichment {:.2} s", (enriched - grouped).as_secs_f64());
        }
    }
    if !cfg.quiet {
        let summary = Summary {
            inputs: sources.len(),
            counts: &counts,
            conversations: correlation.groups.len(),
            elapsed,
            enrichment: figures.as_ref(),
            findings: &analysis.findings,
        };
        summary.print(&mut io::stderr().lock())?;
    }
    if let Some(path) = &cfg.report {
        let report = report::Report::new(
            sources.len(),
            &counts,
            correlation.groups.len(),
            elapsed,
            figures.as_ref(),
            &analysis,
        );
        write_atomically(path, |w| Ok(serde_json::to_writer_pretty(w, &report)?))?;
    }
    if figures.as_ref().is_some_and(|f| f.interrupted) {
        return Ok(Exit::Interrupted);
    }
    if enrichment.iter().any(|o| o.status.is_problem()) {
        return Ok(Exit::Partial);
    }
    let total = counts.total();
    Ok(if total.invalid > 0 || total.conflicting > 0 {
        Exit::Partial
    } else {
        Exit::Success
    })
}

/// Says which `--conversation` ids matched no event: a typo otherwise looks like an empty
/// result.
fn warn_unmatched(filter: &correlate::Filter, store: &correlate::Store) {
    for id in filter.conversations.iter().filter(|c| !store.has_conversation(c)) {
        eprintln!(
            "gcorr: warning: --conversation {}: matches nothing in the input",
            report::printable(&id.to_string())
        );
    }
}

/// Fails before any work when `path` cannot be created: its directory is missing.
fn check_writable_dir(path: &Path) -> Result<()> {
    let dir = dir_of(path);
    if !dir.is_dir() {
        anyhow::bail!("{}: no such directory", dir.display());
    }
    Ok(())
}

/// The directory a file named `path` is (or would be) in.
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Enriches every conversation from the API (or the cache), or marks them all skipped.
fn enrich(cfg: &Config, c: &correlate::Correlation) -> Result<(Vec<api::Outcome>, Option<api::Figures>)> {
    let ids: Vec<String> = c
        .groups
        .iter()
        .map(|g| c.store.syms.to_string(c.conversation(g).id))
        .collect();
    let online = cfg.api.credentials.is_some();
    if !online && !cfg.offline && !cfg.quiet && !ids.is_empty() {
        eprintln!(
            "gcorr: no Genesys Cloud credentials: running offline{}. To enrich timelines from the API set \
             GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET (and GENESYSCLOUD_REGION), \
             or GENESYSCLOUD_ACCESS_TOKEN, or use --profile NAME.",
            if cfg.api.cache_dir.is_some() {
                " (from the cache only)"
            } else {
                ""
            }
        );
    }
    if !online && cfg.api.cache_dir.is_none() {
        let why = if cfg.offline {
            "offline (--offline)"
        } else {
            "offline: no Genesys Cloud credentials"
        };
        return Ok((ids.iter().map(|_| api::Outcome::skipped(why)).collect(), None));
    }
    let (outcomes, figures) = api::enrich(&ids, &cfg.api, cfg.quiet)?;
    Ok((outcomes, Some(figures)))
}

/// Writes `path` through a temporary file in the same directory, renamed into place only once
/// complete: an interrupted or killed run never leaves a half-written file. (No fsync: that
/// guards against power loss, not against an interrupted run, and costs seconds on large
/// outputs.) A symbolic link is followed, so the file it names is replaced and the link stays.
/// What is not a regular file (`/dev/null`, `/dev/stdout`, a named pipe) is written to as it
/// is: renaming a file over it would replace the device or pipe itself.
fn write_atomically(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<&std::fs::File>) -> Result<()>,
) -> Result<()> {
    let written = |file: &std::fs::File| -> Result<()> {
        let mut w = BufWriter::with_capacity(256 << 10, file);
        body(&mut w).with_context(|| format!("{}: write failed", path.display()))?;
        w.flush()
            .with_context(|| format!("{}: write failed", path.display()))
    };
    let existing = std::fs::metadata(path).ok();
    if existing.as_ref().is_some_and(|m| !m.is_file()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("{}: cannot open for writing", path.display()))?;
        return written(&file);
    }
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = dir_of(&target);
    let tmp = tempfile::Builder::new()
        .prefix(".gcorr-")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a file in this directory", dir.display()))?;
    written(tmp.as_file())?;
    // A new file gets the usual mode for files (0644 under the common umask), not the
    // temporary file's 0600; an existing one keeps its own.
    let mode = existing
        .map(|m| m.permissions())
        .unwrap_or_else(default_permissions);
    tmp.as_file()
        .set_permissions(mode)
        .with_context(|| format!("{}: write failed", path.display()))?;
    tmp.persist(&target)
        .with_context(|| format!("{}: cannot rename into place", path.display()))?;
    Ok(())
}

#[cfg(unix)]
fn default_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o644)
}

#[cfg(not(unix))]
fn default_permissions() -> std::fs::Permissions {
    tempfile::tempfile()
        .and_then(|f| f.metadata())
        .map(|m| m.permissions())
        .expect("a temporary file")
}

/// True when stdout is a terminal (for formats that colour).
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

/// Whether to colour: `--color always`/`never`, else only on a terminal (not with `-o`) and
/// without a non-empty `NO_COLOR` (<https://no-color.org>).
fn colour(cfg: &Config) -> bool {
    match cfg.color {
        When::Always => true,
        When::Never => false,
        When::Auto => {
            cfg.output.is_none()
                && stdout_is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}
