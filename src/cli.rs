//! Command-line flags and help text. No I/O here: `config` turns these into settings.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::network::{Api, NetworkId};
use crate::pace::Rate;

/// The exit codes and where credentials come from, after every command's help.
fn exit_codes() -> String {
    let mut text = "\
Exit codes:
  0    every target ended terminal (unblocked, not_blocked, not_found, suspended)
  1    some targets failed: rerun the same command to retry them (or the credentials could
       not be checked: the server stayed unreachable)
  2    usage, input or journal error: nothing was sent (unless the journal failed mid-run)
  3    credentials rejected: fix them and rerun the same command
  130  interrupted (Ctrl-C, SIGTERM): rerun the same command to resume

Credentials come from the environment or, for the variables that are not set, from the TOML
file given with --credentials FILE:"
        .to_owned();
    for network in <NetworkId as clap::ValueEnum>::value_variants() {
        let spec = network.credentials();
        let vars: Vec<&str> = spec.vars.iter().map(|v| v.env).collect();
        text.push_str(&format!(
            "\n  --network {network}: {} ({})",
            vars.join(", "),
            spec.what
        ));
    }
    text
}

/// Remove blocks from an account in bulk (X/Twitter, Bluesky, Mastodon), inside the rate
/// limit, resumable across restarts.
#[derive(Debug, Parser)]
#[command(name = "bulk-unblock", version, after_help = exit_codes())]
pub struct Cli {
    /// More detail on stderr (-v: each target, -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Unblock the accounts listed in the inputs; rerun the same command to resume.
    Run(RunArgs),
    /// Write the account's whole block list to a CSV file (resumable).
    Export(ExportArgs),
    /// Summarise a journal: counts per outcome, failures, time span, pace.
    Report(ReportArgs),
    /// Block again every account a journal unblocked (its own journal; resumable).
    Undo(UndoArgs),
    /// Run a real job against the built-in emulator: see the tool work in about a minute.
    Demo(DemoArgs),
    /// Serve the API emulator on 127.0.0.1 (for trying the tool and for tests).
    Emulator(crate::emulator::args::EmulatorArgs),
}

/// `bulk-unblock run`.
#[derive(Debug, Args)]
#[command(after_help = exit_codes())]
pub struct RunArgs {
    /// Files listing the accounts: CSV with a header, a newline list of IDs, @names or profile
    /// links, or the data archive's block.js. `-` reads standard input.
    #[arg(
        value_name = "INPUT",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub inputs: Vec<PathBuf>,
    /// Unblock everyone the account blocks: export the block list to a backup first, then
    /// unblock every account in it. A rerun reuses the backup.
    #[arg(long)]
    pub all: bool,
    /// Which blocks: with --all on Bluesky, also leave every moderation list subscribed to as
    /// a blocklist; on Mastodon, blocked domains instead of accounts.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// With --all: where to keep the backup of the block list [default: JOURNAL.backup.csv].
    #[arg(long, value_name = "PATH")]
    pub backup: Option<PathBuf>,
    /// The journal (JSON Lines): one result per account, appended as it finishes. Rerunning with
    /// the same journal skips what is done.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Show what the run would do and send nothing; needs no credentials.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: compare the targets with the account's block list now and resolve screen
    /// names (read-only requests; needs credentials).
    #[arg(long)]
    pub check: bool,
    /// Requests in flight at most.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Where and how to reach the API.
    #[command(flatten)]
    pub net: NetArgs,
    /// Go on when some input lines are unusable, and report them in the summary.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Local pace, N per PERIOD, spread evenly (for example 50/15m or 2/s): requests, or
    /// points where the network charges them. Server rate headers and 429s can only slow it
    /// further. [default: the network's published limit: 50/15m on X, 5000/1h on Bluesky,
    /// 300/5m on Mastodon]
    #[arg(long, value_name = "N/PERIOD")]
    pub rate: Option<Rate>,
    /// Pace of block-list pages for --all and --check. [default: 15/15m on X, 1500/5m on
    /// Bluesky, 300/15m on Mastodon]
    #[arg(long, value_name = "N/PERIOD")]
    pub list_rate: Option<Rate>,
    /// Requests per account at most before it is recorded `failed`, and tries of the credentials
    /// check (429s do not count).
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_attempts: u32,
}

/// How to reach the API: shared by the commands that talk to it.
#[derive(Debug, Args)]
pub struct NetArgs {
    /// The network [default: x; undo: the journal's]
    #[arg(long, value_enum)]
    pub network: Option<NetworkId>,
    /// The API's base URL: where to log in. [default: https://api.x.com on X,
    /// https://bsky.social on Bluesky; on Mastodon, your instance (or MASTODON_INSTANCE)]
    #[arg(long, value_name = "URL")]
    pub api_base: Option<String>,
    /// Which X API version to use.
    #[arg(long, value_enum, default_value_t = Api::V1)]
    pub api: Api,
    /// Timeout for one request (for example 30s or 2m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// A TOML file with the credentials the environment does not set (on X consumer_key,
    /// consumer_secret, access_token, access_token_secret; on Bluesky identifier and
    /// app_password; on Mastodon instance and access_token). Keep it private (chmod 600).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
}

/// `bulk-unblock export`.
#[derive(Debug, Args)]
#[command(after_help = exit_codes())]
pub struct ExportArgs {
    /// The CSV file to write (the account ID: `user_id` on X, `account_id` on Mastodon, or
    /// `domain` with --domains; and the name with --with-names). It appears only when complete;
    /// an interrupted export resumes from FILE.partial.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also resolve each account's name (on X 100 per lookup request, on Bluesky 25; Mastodon's
    /// list pages name them).
    #[arg(long)]
    pub with_names: bool,
    /// Which blocks to export.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Pace of block-list pages. [default: 15/15m on X, 1500/5m on Bluesky, 300/15m on
    /// Mastodon]
    #[arg(long, value_name = "N/PERIOD")]
    pub rate: Option<Rate>,
    /// Where and how to reach the API.
    #[command(flatten)]
    pub net: NetArgs,
}

/// Which of an account's blocks a command works on.
#[derive(Debug, Args, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopeArgs {
    /// Bluesky: also the moderation lists the account subscribes to as blocklists.
    #[arg(long)]
    pub lists: bool,
    /// Mastodon: blocked domains (whole servers) instead of accounts.
    #[arg(long)]
    pub domains: bool,
}

/// `bulk-unblock report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The journal to summarise.
    #[arg(value_name = "JOURNAL")]
    pub journal: PathBuf,
    /// Write the failed targets to FILE, as an input for another run.
    #[arg(long, value_name = "FILE")]
    pub retry_list: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `bulk-unblock undo`.
#[derive(Debug, Args)]
#[command(after_help = exit_codes())]
pub struct UndoArgs {
    /// The journal of the run to undo: every account it records `unblocked` is blocked again.
    #[arg(value_name = "JOURNAL")]
    pub journal: PathBuf,
    /// The undo's own journal (rerun the same command to resume).
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Show what the undo would do and send nothing; needs no credentials.
    #[arg(long)]
    pub dry_run: bool,
    /// Requests in flight at most.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Local pace, N per PERIOD, spread evenly. [default: the network's, as for run]
    #[arg(long, value_name = "N/PERIOD")]
    pub rate: Option<Rate>,
    /// Requests per account at most before it is recorded `failed`, and tries of the credentials
    /// check (429s do not count).
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_attempts: u32,
    /// Where and how to reach the API.
    #[command(flatten)]
    pub net: NetArgs,
}

/// `bulk-unblock demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The network to show.
    #[arg(long, value_enum, default_value_t = NetworkId::X)]
    pub network: NetworkId,
    /// Keep the demo's journal here (default: a new file in the temporary directory).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Length of the emulator's rate-limit window (on Bluesky, of its write-points budget).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub window: Duration,
    /// Unblocks the emulator admits per window (on Bluesky, write points, at least 200: one
    /// full batch).
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
}

/// Parses `30s`, `2m`, `1h30m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let d = match s.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e}"))?,
    };
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bulk-unblock").chain(args.iter().copied()))
    }

    #[test]
    fn run_takes_the_issue_flags() {
        let cli = parse(&[
            "run",
            "a.csv",
            "-",
            "--log",
            "j.jsonl",
            "--dry-run",
            "--concurrency",
            "8",
            "--api-base",
            "http://127.0.0.1:9",
            "--skip-invalid",
            "--rate",
            "2/s",
            "--timeout",
            "5",
            "--max-attempts",
            "3",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.verbose, 2);
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.inputs, vec![PathBuf::from("a.csv"), PathBuf::from("-")]);
        assert_eq!(run.log, PathBuf::from("j.jsonl"));
        assert!(run.dry_run && run.skip_invalid);
        assert_eq!(run.concurrency, 8);
        assert_eq!(run.net.api_base.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(run.rate, Some("2/s".parse().unwrap()));
        assert_eq!(run.net.timeout, Duration::from_secs(5));
        assert_eq!(run.max_attempts, 3);
    }

    #[test]
    fn run_defaults_are_conservative() {
        let Command::Run(run) = parse(&["run", "x", "--log", "j"]).unwrap().command else {
            panic!("not run")
        };
        assert_eq!(run.concurrency, 4);
        assert_eq!(run.rate, None, "the network's default");
        assert_eq!(run.net.timeout, Duration::from_secs(30));
        assert_eq!(run.max_attempts, 8);
        assert_eq!(run.net.api_base, None);
        assert_eq!(run.net.network, None);
        assert_eq!(run.net.api, Api::V1);
        assert!(!run.all && !run.check);
    }

    #[test]
    fn bad_usage_is_refused() {
        assert!(
            parse(&["run", "--log", "j"]).is_err(),
            "an input is required"
        );
        assert!(parse(&["run", "x"]).is_err(), "--log is required");
        assert!(parse(&["run", "x", "--log", "j", "--concurrency", "0"]).is_err());
        assert!(parse(&["run", "x", "--log", "j", "--rate", "fast"]).is_err());
        assert!(parse(&["run", "x", "--log", "j", "-q", "-v"]).is_err());
        for zero in ["0", "0s", "0ms"] {
            assert!(
                parse(&["run", "x", "--log", "j", "--timeout", zero]).is_err(),
                "--timeout {zero}"
            );
        }
        assert!(parse(&["demo", "--limit", "0"]).is_err());
        assert!(parse(&["demo", "--window", "0"]).is_err());
    }

    #[test]
    fn all_replaces_inputs_and_check_needs_dry_run() {
        let Command::Run(run) = parse(&[
            "run", "--all", "--log", "j", "--backup", "b.csv", "--api", "v2",
        ])
        .unwrap()
        .command
        else {
            panic!("not run")
        };
        assert!(run.all && run.inputs.is_empty());
        assert_eq!(run.backup, Some(PathBuf::from("b.csv")));
        assert_eq!(run.net.api, Api::V2);
        assert!(parse(&["run", "x", "--all", "--log", "j"]).is_err());
        // `--backup` without `--all`, and `--check` without `--dry-run`, are refused by config.
        assert!(parse(&["run", "x", "--log", "j", "--dry-run", "--check"]).is_ok());
    }

    #[test]
    fn export_report_and_undo_parse() {
        assert!(matches!(
            parse(&["export", "--out", "b.csv", "--with-names"])
                .unwrap()
                .command,
            Command::Export(ExportArgs {
                with_names: true,
                ..
            })
        ));
        assert!(matches!(
            parse(&["report", "j.jsonl", "--json", "--retry-list", "r.txt"])
                .unwrap()
                .command,
            Command::Report(ReportArgs { json: true, .. })
        ));
        assert!(matches!(
            parse(&["undo", "j.jsonl", "--log", "u.jsonl", "--dry-run"])
                .unwrap()
                .command,
            Command::Undo(UndoArgs { dry_run: true, .. })
        ));
        assert!(
            parse(&["undo", "j.jsonl"]).is_err(),
            "undo needs its own --log"
        );
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = parse(&["run", "--help"]).unwrap_err().to_string();
        assert!(help.contains("130  interrupted"), "{help}");
        assert!(help.contains("TWITTER_ACCESS_TOKEN_SECRET"), "{help}");
        assert!(help.contains("--network x"), "{help}");
    }
}
