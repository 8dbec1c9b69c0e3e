//! The command line: clap types mirroring the flags, the validated [`Config`] built once
//! from them, and the shell completions and man page generated from the same definition.
//! Nothing past this file sees an unchecked argument.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::api::config::ApiArgs;
use crate::api::{Settings, Source, fetch, http};
use crate::correlate::Filter;
use crate::findings::{Flag, Flags, Thresholds};
use crate::ids::Atom;
use crate::output::Format;
use crate::receive::config::ReceiveArgs;
use crate::{input, time, vocab};

const EXAMPLES: &str = "\
Examples:
  gcorr correlate events.ndjson                     timelines as JSON Lines on stdout
  gcorr correlate dump/2026/03/02/ -o out.ndjson    a Firehose tree (gzip or not) into a file
  aws s3 cp s3://bucket/2026/03/02/08/obj - | gcorr correlate
  gcorr correlate s3://bucket/prefix/ --since 2026-03-02T08:00Z --until 2026-03-02T09:00Z
  gcorr correlate dump/ --conversation ID           one conversation
  gcorr correlate dump/ --since 2026-03-02T08:00Z --until 2026-03-02T09:00Z
                                                    conversations active that hour, whole
  gcorr correlate dump/ --media callback            conversations that used a callback
  gcorr correlate dump/ --format csv --summary      one CSV row per conversation
  gcorr correlate dump/ --format table              one aligned line per conversation, to read
  gcorr correlate dump/ --format html -o out.html   a report to open in a browser (swimlanes)
  gcorr correlate dump/ --flag no_end --flag error_disconnect --format table
  gcorr correlate dump/ --format html -o out.html --report run.json   charts, findings, flags
  gcorr correlate dump/ | jq -c 'select(.media_types == [\"voice\",\"callback\"])'

Exit status: 0 ok, 1 fatal error (nothing written), 2 usage error, 3 done but some records were
invalid, some event ids came again with different content, or some conversations could not be
enriched, 130 interrupted by Ctrl-C (SIGINT) and 143
by SIGTERM: a signal while reading or enriching ends that phase early and what was known is
written; a signal while writing stops it (-o is left as it was); a second signal ends gcorr at
once.";

/// The environment gcorr reads: name, meaning. Secrets come only from here.
const ENVIRONMENT: [(&str, &str); 7] = [
    (
        "GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET",
        "OAuth client credentials (also GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET)",
    ),
    (
        "GENESYSCLOUD_ACCESS_TOKEN",
        "a ready access token, used as is, when no client credentials are set",
    ),
    (
        "GENESYSCLOUD_REGION",
        "region (eu-west-1) or domain (mypurecloud.ie) when --region is not given",
    ),
    (
        "GENESYS_ORG_DOMAIN",
        "the organisation's domain, as GENESYSCLOUD_REGION",
    ),
    (
        "GENESYSCLOUD_API_REGION",
        "API base URL, when --api-base is not given",
    ),
    ("HOME", "where ~/.gc/config.toml (--profile) is"),
    (
        "NO_COLOR",
        "set and not empty: no colours (--format table) unless --color always",
    ),
];

/// The environment as `--help` lists it.
fn environment_help() -> String {
    let mut out = String::from("Environment:");
    for (name, meaning) in ENVIRONMENT {
        out.push_str(&format!("\n  {name}\n      {meaning}"));
    }
    out
}

const RECEIVE_EXAMPLES: &str = "\
Examples:
  GCORR_RECEIVE_SECRET=... gcorr receive --listen 0.0.0.0:8443 --out /var/spool/gcorr \\
      --tls-cert cert.pem --tls-key key.pem
  gcorr receive --listen 127.0.0.1:8080 --out spool --no-auth     a local capture, no secret
  gcorr correlate /var/spool/gcorr --since 2026-03-02T08:00Z       while it runs

Endpoints: POST /events (one EventBridge event), POST /firehose (a Firehose HTTP-endpoint
delivery), GET /healthz, GET /metrics (Prometheus text; needs the secret).
SIGTERM or SIGINT: stop accepting, finish requests in flight, close the segments, exit 0.";

/// Correlate Genesys Cloud EventBridge event dumps into one cross-channel timeline per
/// conversation.
#[derive(Parser, Debug)]
#[command(name = "gcorr", version = env!("GCORR_VERSION"), about, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    /// More detail on stderr (per-input counts, timings, memory).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Nothing on stderr but errors: no summary, no progress, no invalid-record lines.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read event dumps, drop duplicates, group by conversation, write timelines.
    #[command(
        after_help = EXAMPLES,
        after_long_help = format!("{EXAMPLES}\n\n{}", environment_help()),
        args_override_self = true
    )]
    Correlate(Box<CorrelateArgs>),
    /// Print a shell completion script.
    ///
    /// For bash: mkdir -p ~/.local/share/bash-completion/completions && gcorr completions
    /// bash > ~/.local/share/bash-completion/completions/gcorr
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page, in roff (`gcorr man | man -l -`).
    Man,
    /// Check the Genesys Cloud credentials and permissions correlate would use.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Accept EventBridge API-destination and Firehose HTTP-endpoint deliveries into a spool
    /// directory that `correlate` reads; a 2xx means the events are on disk.
    ///
    /// The shared secret comes from GCORR_RECEIVE_SECRET; senders present it as the API-key
    /// header, as the password of Basic auth, or as Firehose's access key.
    #[command(after_help = RECEIVE_EXAMPLES)]
    Receive(Box<ReceiveArgs>),
}

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Resolve the configuration as correlate does, request a token and try one cheap call per
    /// source; exit 0 only when correlate could enrich.
    #[command(after_long_help = environment_help())]
    Check(ApiArgs),
}

/// When to colour the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum When {
    /// When writing to a terminal and NO_COLOR is unset or empty.
    Auto,
    Always,
    Never,
}

/// How duplicates are recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Dedup {
    /// Same event id (envelope `id`, flat `event_id`) seen again.
    Id,
    /// Same id, or an identical `detail` under a new id (Genesys re-sends after an outage).
    Content,
}

#[derive(Args, Debug)]
pub struct CorrelateArgs {
    /// Files or directories (read recursively, in sorted order) of events, s3://bucket/prefix/
    /// URLs; `-` or nothing reads stdin. Framing (JSON Lines, concatenated, pretty, array),
    /// gzip and SQS/SNS/CloudWatch Logs wrappers are detected from the content.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Write to FILE instead of stdout (atomically: complete or not at all). Checked before
    /// anything is read: never an input, nor the --report file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output format [default: from the -o file's extension (.html, .csv, .json,
    /// .ndjson/.jsonl), else ndjson].
    #[arg(short, long, value_enum)]
    pub format: Option<Format>,
    /// One record per conversation, without the event list (html: the overview only, no
    /// timelines).
    #[arg(long)]
    pub summary: bool,
    /// Colour the output (--format table).
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = When::Auto)]
    pub color: When,
    /// Any invalid record is fatal: nothing is written, exit 1.
    #[arg(long)]
    pub strict: bool,
    /// How duplicates are recognised.
    #[arg(long, value_enum, default_value_t = Dedup::Id)]
    pub dedup: Dedup,
    /// Keep the conversations with an event at or after this time (RFC 3339, or a date
    /// meaning its UTC midnight), with their whole timelines.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Keep the conversations with an event before this time (RFC 3339, or a date), with their
    /// whole timelines.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Keep only the events inside --since/--until, cutting timelines at the window.
    #[arg(long)]
    pub clip: bool,
    /// Keep only this conversation (repeatable).
    #[arg(long = "conversation", value_name = "ID")]
    pub conversations: Vec<String>,
    /// Keep the conversations that used any of these media types, with their whole timelines
    /// (comma-separated: voice,callback,chat,email,message,...).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub media: Vec<String>,
    /// Keep only conversations with this flag (repeatable; any of them): abandoned, duplicates,
    /// error_disconnect, gap, late_delivery, multi_media, no_end, transferred.
    #[arg(long = "flag", value_name = "NAME", help_heading = "Findings")]
    pub flags: Vec<String>,
    /// An event delivered (envelope `time`) more than this after its time is late: the
    /// late_delivery flag and finding (500ms, 90s, 15m, 2h).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "60s",
        help_heading = "Findings"
    )]
    pub late_threshold: String,
    /// Two consecutive events of a conversation further apart than this flag it `gap`.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "15m",
        help_heading = "Findings"
    )]
    pub gap: String,
    /// Never touch the network: enrich from --cache-dir alone, or not at all.
    #[arg(long, help_heading = "Genesys Cloud API")]
    pub offline: bool,
    /// Which API enriches the timelines.
    #[arg(long, value_enum, default_value_t = Source::Conversations, help_heading = "Genesys Cloud API")]
    pub source: Source,
    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64), help_heading = "Genesys Cloud API")]
    pub concurrency: u16,
    /// Requests per minute at most, shared by all workers (Genesys's default limit is 300 per token).
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=100_000), help_heading = "Genesys Cloud API")]
    pub max_rpm: u32,
    /// Retries of one request after transport errors, timeouts and 408/5xx answers.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=20), help_heading = "Genesys Cloud API")]
    pub max_retries: u32,
    /// Conversations per analytics request (--source analytics); a refused batch is halved.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=100), help_heading = "Genesys Cloud API")]
    pub batch_size: u16,
    /// Keep every fetched conversation here (one file each); later runs read it instead of
    /// fetching, so an interrupted run resumes and a rerun costs no API calls.
    #[arg(long, value_name = "DIR", help_heading = "Genesys Cloud API")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// Write the run's figures (the summary's numbers, the minute series and the findings) to
    /// FILE as JSON (atomically, along with -o: a report that cannot be written leaves -o as it
    /// was).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Base of the full-jitter backoff between retries, in ms.
    #[arg(long, value_name = "MS", default_value_t = 1000, hide = true)]
    pub backoff_base_ms: u64,
    /// Timeout of one request attempt (headers and body), in ms.
    #[arg(long, value_name = "MS", default_value_t = 20_000, hide = true)]
    pub request_timeout_ms: u64,
    /// Renew a token this long before it expires, in ms (default: 10% of its lifetime, 1-300 s).
    #[arg(long, value_name = "MS", hide = true)]
    pub token_margin_ms: Option<u64>,
    /// Give up on a conversation (an analytics batch) this long after its first request,
    /// retries and waits included: it is marked failed.
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..), help_heading = "Genesys Cloud API")]
    pub deadline: u64,
    /// Parser threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

/// Everything `correlate` needs, validated.
#[derive(Debug)]
pub struct Config {
    pub inputs: Vec<PathBuf>,
    pub output: Option<PathBuf>,
    pub format: Format,
    pub summary: bool,
    pub color: When,
    pub strict: bool,
    pub digest: bool,
    pub filter: Filter,
    pub thresholds: Thresholds,
    pub threads: usize,
    pub verbose: u8,
    pub quiet: bool,
    pub offline: bool,
    pub report: Option<PathBuf>,
    pub api: Settings,
    /// Where to read: S3 settings and the key-time window.
    pub plan: input::Plan,
}

impl Config {
    pub fn new(args: CorrelateArgs, verbose: u8, quiet: bool) -> Result<Config> {
        let since = args
            .since
            .as_deref()
            .map(time::parse_instant)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let until = args
            .until
            .as_deref()
            .map(time::parse_instant)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                bail!("--since must be earlier than --until");
            }
        }
        if args.clip && since.is_none() && until.is_none() {
            bail!("--clip cuts timelines at --since/--until: give one of them");
        }
        let media = args
            .media
            .iter()
            .map(|m| m.trim())
            .filter(|m| !m.is_empty())
            .map(vocab::media)
            .collect();
        let flags = args
            .flags
            .iter()
            .flat_map(|f| f.split(','))
            .map(|name| {
                Flag::parse(name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--flag {name:?} is not a flag; the flags are: {}",
                        Flag::vocabulary()
                    )
                })
            })
            .collect::<Result<Flags>>()?;
        let duration =
            |flag: &str, value: &str| time::parse_duration(value).map_err(|e| anyhow::anyhow!("{flag}: {e}"));
        let thresholds = Thresholds {
            late_ms: duration("--late-threshold", &args.late_threshold)?,
            gap_ms: duration("--gap", &args.gap)?,
        };
        let threads = match args.threads {
            Some(n) => n as usize,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let format = args
            .format
            .or_else(|| args.output.as_deref().and_then(Format::from_extension))
            .unwrap_or(Format::Ndjson);
        let resolved = args.api.resolve_from_env().map_err(anyhow::Error::msg)?;
        let api = Settings {
            credentials: if args.offline { None } else { resolved.credentials },
            endpoints: resolved.endpoints,
            cache_dir: args.cache_dir.clone(),
            options: fetch::Options {
                source: args.source,
                concurrency: args.concurrency.into(),
                max_rpm: args.max_rpm,
                max_retries: args.max_retries,
                batch_size: args.batch_size.into(),
                backoff_base: Duration::from_millis(args.backoff_base_ms),
                deadline: Duration::from_secs(args.deadline),
            },
            timeouts: http::Timeouts {
                request: Duration::from_millis(args.request_timeout_ms.max(1)),
                ..http::Timeouts::default()
            },
            token_margin: args.token_margin_ms.map(Duration::from_millis),
        };
        let plan = args.archive.plan(since, until, quiet)?;
        Ok(Config {
            plan,
            offline: args.offline,
            report: args.report,
            api,
            inputs: args.inputs,
            output: args.output,
            format,
            summary: args.summary,
            color: args.color,
            strict: args.strict,
            digest: args.dedup == Dedup::Content,
            filter: Filter {
                since,
                until,
                clip: args.clip,
                conversations: args.conversations.iter().map(|c| Atom::id(c.trim())).collect(),
                media,
                flags,
            },
            thresholds,
            threads,
            verbose,
            quiet,
        })
    }
}

/// Reading archives where they live: S3, and pruning by the time in object and file names.
#[derive(Args, Debug)]
pub struct ArchiveArgs {
    /// With --since/--until, how far a selected conversation may reach beyond the window: files
    /// and objects are read over the window widened by this much on both sides.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1h",
        help_heading = "Archives (S3, Firehose trees)"
    )]
    pub context: String,
    /// With --since/--until, how long after an event Firehose may have received it (delivery
    /// delays): an object named up to this long after the range is still read.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1h",
        help_heading = "Archives (S3, Firehose trees)"
    )]
    pub late: String,
    /// Time zone of the dates in Firehose keys (a stream's CustomTimeZone).
    #[arg(
        long,
        value_name = "TZ",
        default_value = "UTC",
        help_heading = "Archives (S3, Firehose trees)"
    )]
    pub key_timezone: String,
    /// Read every file and object, whatever the date in its name.
    #[arg(long, help_heading = "Archives (S3, Firehose trees)")]
    pub no_prune: bool,
    /// An S3-compatible endpoint (MinIO, LocalStack), with path-style addressing [default:
    /// AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL].
    #[arg(long, value_name = "URL", help_heading = "Archives (S3, Firehose trees)")]
    pub s3_endpoint: Option<String>,
    /// Allow a plain http:// S3 endpoint on a host other than loopback.
    #[arg(long, help_heading = "Archives (S3, Firehose trees)")]
    pub allow_http: bool,
    /// Read public buckets without credentials, as the AWS CLI's option does.
    #[arg(long, help_heading = "Archives (S3, Firehose trees)")]
    pub no_sign_request: bool,
    /// The AWS profile of the shared config files [default: AWS_PROFILE].
    #[arg(long, value_name = "NAME", help_heading = "Archives (S3, Firehose trees)")]
    pub aws_profile: Option<String>,
    /// S3 objects fetched at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Archives (S3, Firehose trees)")]
    pub s3_concurrency: u16,
}

impl ArchiveArgs {
    fn plan(&self, since: Option<i64>, until: Option<i64>, quiet: bool) -> Result<input::Plan> {
        let duration =
            |flag: &str, text: &str| time::parse_margin(text).map_err(|e| anyhow::anyhow!("--{flag}: {e}"));
        let context = duration("context", &self.context)?;
        let late = duration("late", &self.late)?;
        let tz = jiff::tz::TimeZone::get(&self.key_timezone)
            .map_err(|_| anyhow::anyhow!("--key-timezone {}: not a known time zone", self.key_timezone))?;
        let window = if self.no_prune {
            None
        } else {
            input::prune::Window::new(since, until, context, late, tz)
        };
        let s3 = input::s3::Settings::new(
            self.s3_endpoint.clone(),
            self.allow_http,
            self.no_sign_request,
            self.aws_profile.clone(),
            self.s3_concurrency.into(),
        )?;
        Ok(input::Plan { quiet, window, s3 })
    }
}

/// The completion script for `shell`. (In memory: clap_complete panics on a failed write,
/// such as a closed pipe, which the caller reports as usual.)
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_owned();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out
}

/// Writes the man page in roff: gcorr's, then one per subcommand (their options in full).
pub fn man(out: &mut dyn Write) -> std::io::Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    render_pages(&cmd, out)
}

/// The page of `cmd`, then those of its subcommands (`gcorr-auth`, `gcorr-auth-check`, ...).
/// A command whose `--help` lists the environment gets an ENVIRONMENT section instead.
fn render_pages(cmd: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    if cmd.get_after_long_help().is_some() {
        let page = clap_mangen::Man::new(cmd.clone().after_long_help(None::<&str>));
        page.render_title(out)?;
        page.render_name_section(out)?;
        page.render_synopsis_section(out)?;
        page.render_description_section(out)?;
        page.render_options_section(out)?;
        if cmd.has_subcommands() {
            page.render_subcommands_section(out)?;
        }
        out.write_all(b".SH ENVIRONMENT\n")?;
        for (name, meaning) in ENVIRONMENT {
            writeln!(out, ".TP\n\\fB{name}\\fR\n{meaning}")?;
        }
        if cmd.get_after_help().is_some() {
            page.render_extra_section(out)?;
        }
        page.render_version_section(out)?;
    } else {
        clap_mangen::Man::new(cmd.clone()).render(out)?;
    }
    for sub in cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help" && !s.is_hide_set())
    {
        render_pages(sub, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn config(args: &[&str]) -> Result<Config> {
        let cli = Cli::try_parse_from(args)?;
        let Command::Correlate(a) = cli.command else {
            panic!("not correlate: {:?}", cli.command);
        };
        Config::new(*a, cli.verbose, cli.quiet)
    }

    #[test]
    fn validates_filters() {
        let c = config(&[
            "gcorr",
            "correlate",
            "--since",
            "2026-03-02",
            "--media",
            "VOICE,chat",
        ])
        .unwrap();
        assert_eq!(c.filter.since, Some(1_772_409_600_000));
        assert_eq!(c.filter.media, [Atom::from("voice"), Atom::from("chat")]);
        assert!(
            config(&[
                "gcorr",
                "correlate",
                "--since",
                "2026-03-02",
                "--until",
                "2026-03-01"
            ])
            .is_err()
        );
        assert!(config(&["gcorr", "correlate", "--since", "soon"]).is_err());
    }

    #[test]
    fn validates_archive_flags() {
        let ok = |extra: &[&str]| config(&[&["gcorr", "correlate", "--since", "2026-03-02"], extra].concat());
        assert!(ok(&[]).unwrap().plan.window.is_some());
        assert!(ok(&["--no-prune"]).unwrap().plan.window.is_none());
        assert!(config(&["gcorr", "correlate"]).unwrap().plan.window.is_none());
        assert!(
            ok(&[
                "--context",
                "90m",
                "--late",
                "150m",
                "--key-timezone",
                "Europe/Berlin"
            ])
            .is_ok()
        );
        for bad in [
            &["--context", "soon"][..],
            &["--late", "-1h"],
            &["--late", "2h 30m"],
            &["--key-timezone", "Mars/Base"],
            &["--s3-endpoint", "http://minio.example"],
            &["--s3-concurrency", "0"],
        ] {
            assert!(ok(bad).is_err(), "{bad:?}");
        }
        assert!(ok(&["--s3-endpoint", "http://minio.example", "--allow-http"]).is_ok());
    }

    #[test]
    fn validates_findings_options() {
        let c = config(&[
            "gcorr",
            "correlate",
            "--flag",
            "gap",
            "--flag",
            "no_end",
            "--gap",
            "5m",
        ])
        .unwrap();
        assert_eq!(c.filter.flags, [Flag::Gap, Flag::NoEnd].into_iter().collect());
        assert_eq!(
            c.thresholds,
            Thresholds {
                late_ms: 60_000,
                gap_ms: 300_000
            }
        );
        let e = config(&["gcorr", "correlate", "--flag", "late"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("late_delivery") && e.contains("transferred"), "{e}");
        assert!(config(&["gcorr", "correlate", "--late-threshold", "soon"]).is_err());
    }
}
