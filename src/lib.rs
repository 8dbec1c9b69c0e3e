//! gcorr: correlate Genesys Cloud EventBridge event dumps into one cross-channel timeline per
//! conversation.
//!
//! `run` is the whole program: read (input, pipeline) → dedup and group (correlate) → build
//! timelines (timeline) → write (output). `main.rs` only maps its outcome to an exit code.

pub mod api;
pub mod cli;
pub mod correlate;
pub mod dedup;
pub mod dest;
pub mod event;
pub mod findings;
pub mod ids;
pub mod input;
pub mod intern;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod receive;
pub mod report;
pub mod scan;
pub mod signal;
pub mod time;
pub mod timeline;
pub mod vocab;
pub mod window;

/// Asks the memory for the cache lines holding `item`, to be read soon: for look-ups that land
/// in random places of tables too large for the cache. Only a hint; nothing elsewhere.
#[inline]
pub(crate) fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        const LINE: usize = 64;
        let start = (item as *const T).cast::<i8>();
        // An item may straddle lines (a 112-byte event spans two or three): ask for each.
        let first = start as usize & !(LINE - 1);
        let last = (start as usize + std::mem::size_of::<T>().max(1) - 1) & !(LINE - 1);
        for line in (first..=last).step_by(LINE) {
            // SAFETY: a prefetch reads nothing and cannot fault; every address asked for lies
            // in a cache line that holds part of a live value.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    start.wrapping_add(line.wrapping_sub(start as usize)),
                )
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{Cli, Command, Config, When};
use crate::pipeline::ReadOptions;
use crate::progress::Progress;
use crate::report::{Diagnostics, Summary, counted};
use crate::signal::Signal;

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
    /// Interrupted (SIGINT, Ctrl-C): what was known has been written.
    Interrupted = 130,
    /// Terminated (SIGTERM): as interrupted.
    Terminated = 143,
}

impl From<Signal> for Exit {
    fn from(s: Signal) -> Exit {
        match s {
            Signal::Interrupt => Exit::Interrupted,
            Signal::Terminate => Exit::Terminated,
        }
    }
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
        Command::Receive(args) => {
            let secret = std::env::var(receive::config::SECRET_ENV).ok();
            match receive::config::Config::new(*args, secret, cli.quiet) {
                Ok(config) => receive::run(config),
                Err(e) => {
                    eprintln!("gcorr: error: {e:#}");
                    Ok(Exit::Usage)
                }
            }
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
    signal::install();
    let input::Gathered {
        mut sources,
        skipped,
        pruned,
        remote,
    } = input::gather(&cfg.inputs, &cfg.plan)?;
    let destinations: Vec<dest::Named> = [("-o", &cfg.output), ("--report", &cfg.report)]
        .into_iter()
        .filter_map(|(flag, p)| Some((flag, p.as_deref()?)))
        .collect();
    match dest::check(&destinations, &sources) {
        Err(e) if e.is::<dest::Clash>() => {
            eprintln!("gcorr: error: {e:#}");
            return Ok(Exit::Usage);
        }
        r => r?,
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
    counts.pruned = cfg.plan.window.as_ref().map(|_| pruned);
    counts.failed_inputs = remote.as_ref().map(|r| r.failed()).unwrap_or_default();
    diag.finish();
    counts.skipped_entries = skipped.len() as u64;
    if !cfg.quiet {
        warn_unmatched(&cfg.filter, &store);
    }
    // A signal while reading ended the input early: what was read is correlated and written.
    let mut interrupted = signal::take();
    if interrupted.is_some() && !cfg.quiet {
        eprintln!("gcorr: interrupted while reading: writing the timelines of the events read so far");
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

    let (enrichment, figures, signal) = enrich(cfg, &correlation, interrupted.is_some())?;
    interrupted = interrupted.or(signal);
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
    let staged = match write_timelines(cfg, write)? {
        Ok(staged) => staged,
        Err(sig) => return Ok(Exit::from(sig)),
    };
    let elapsed = started.elapsed();

    if cfg.verbose > 0 && !cfg.quiet {
        for (name, why) in &skipped {
            eprintln!("gcorr: skipped {name}: {why}");
        }
        for (s, c) in sources.iter().zip(&counts.inputs) {
            eprintln!(
                "gcorr: {}: {}, {} kept, {}, {} invalid, {} not conversation, {} filtered",
                report::printable(&s.name),
                counted(c.records, "record", "records"),
                c.kept,
                counted(c.duplicates, "duplicate", "duplicates"),
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
            read: read_time,
            enrichment: figures.as_ref(),
            findings: &analysis.findings,
        };
        summary.print(&mut io::stderr().lock())?;
    }
    // The report is complete before either file is renamed into place: a report that cannot
    // be written leaves -o as it was too (exit 1, nothing written).
    let report = match &cfg.report {
        Some(path) => {
            let report = report::Report::new(
                sources.len(),
                &counts,
                correlation.groups.len(),
                elapsed,
                figures.as_ref(),
                &analysis,
            );
            let staged = dest::stage(path, |w| Ok(serde_json::to_writer_pretty(w, &report)?));
            match (staged, &cfg.output) {
                (Err(e), None) => anyhow::bail!("{e:#} (the timelines were written to stdout)"),
                (r, _) => Some(r?),
            }
        }
        None => None,
    };
    for s in staged.into_iter().chain(report) {
        s.commit()?;
    }
    // A signal after the timelines were written (the report, the renames) still says so.
    if let Some(sig) = interrupted.or_else(signal::take) {
        return Ok(Exit::from(sig));
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

/// Writes the timelines to `-o` (complete, not yet in place: see [`dest::Staged`]) or to
/// stdout. A reader of stdout that went away (`| head`) ends the output there, not the run's
/// bookkeeping (summary, `--report`, exit status). A signal stops the writing: `-o` is left as
/// it was (its temporary file is gone) and the signal is returned.
fn write_timelines(
    cfg: &Config,
    write: impl Fn(&mut dyn Write) -> Result<()>,
) -> Result<Result<Option<dest::Staged>, Signal>> {
    let written = match &cfg.output {
        Some(path) => dest::stage(path, |w| write(w)).map(Some),
        None => match write(&mut BufWriter::with_capacity(256 << 10, io::stdout().lock())) {
            Err(e) if is_broken_pipe(&e) => Ok(None),
            r => r.map(|()| None).context("stdout: write failed"),
        },
    };
    let e = match written {
        Ok(staged) => return Ok(Ok(staged)),
        Err(e) => e,
    };
    let Some(sig) = stopped_by(&e) else {
        return Err(e);
    };
    if !cfg.quiet {
        match &cfg.output {
            Some(path) => eprintln!(
                "gcorr: interrupted while writing: {} left as it was",
                path.display()
            ),
            None => eprintln!("gcorr: interrupted while writing: the output is cut short"),
        }
    }
    Ok(Err(sig))
}

/// The signal that stopped a phase, when one did.
fn stopped_by(e: &anyhow::Error) -> Option<Signal> {
    e.chain()
        .find_map(|c| c.downcast_ref::<signal::Stopped>())
        .map(|s| s.0)
}

/// What enrichment gives the timelines: an outcome per conversation, the figures when it ran,
/// and the signal that stopped it early.
type Enrichment = (Vec<api::Outcome>, Option<api::Figures>, Option<Signal>);

/// Enriches every conversation from the API (or the cache), or marks them all skipped (all
/// `interrupted` when reading already was).
fn enrich(cfg: &Config, c: &correlate::Correlation, interrupted: bool) -> Result<Enrichment> {
    let ids: Vec<String> = c
        .groups
        .iter()
        .map(|g| c.syms.to_string(c.conversation(g).id))
        .collect();
    if interrupted {
        let skipped = ids.iter().map(|_| api::Outcome::skipped(api::fetch::INTERRUPTED));
        return Ok((skipped.collect(), None, None));
    }
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
        return Ok((
            ids.iter().map(|_| api::Outcome::skipped(why)).collect(),
            None,
            None,
        ));
    }
    let (outcomes, figures, signal) = api::enrich(&ids, &cfg.api, cfg.quiet)?;
    Ok((outcomes, Some(figures), signal))
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
