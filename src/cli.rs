//! Command-line flags and help text. No I/O here: `config` turns these into settings.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::network::x::DEFAULT_API_BASE;
use crate::pace::Rate;

const EXIT_CODES: &str = "\
Exit codes:
  0    every target ended terminal (unblocked, not_found, suspended)
  1    some targets failed: rerun the same command to retry them
  2    usage, input or journal error: nothing was sent
  3    credentials rejected: fix them and rerun the same command
  130  interrupted (Ctrl-C, SIGTERM): rerun the same command to resume

Credentials (OAuth 1.0a user context) come from the environment:
  TWITTER_CONSUMER_KEY, TWITTER_CONSUMER_SECRET,
  TWITTER_ACCESS_TOKEN, TWITTER_ACCESS_TOKEN_SECRET";

/// Remove blocks from an X/Twitter account in bulk, inside the rate limit, resumable across
/// restarts.
#[derive(Debug, Parser)]
#[command(name = "bulk-unblock", version, after_help = EXIT_CODES)]
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
    /// Run a real job against the built-in emulator: see the tool work in about a minute.
    Demo(DemoArgs),
    /// Serve the API emulator on 127.0.0.1 (for trying the tool and for tests).
    Emulator(crate::emulator::args::EmulatorArgs),
}

/// `bulk-unblock run`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct RunArgs {
    /// Files listing the accounts: CSV with a header, a newline list of IDs, @names or profile
    /// links, or the data archive's block.js. `-` reads standard input.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The journal (JSON Lines): one result per account, appended as it finishes. Rerunning with
    /// the same journal skips what is done.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Show what the run would do and send nothing; needs no credentials.
    #[arg(long)]
    pub dry_run: bool,
    /// Requests in flight at most.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// The API's base URL (the tool appends /1.1/blocks/destroy.json and so on).
    #[arg(long, value_name = "URL", default_value = DEFAULT_API_BASE)]
    pub api_base: String,
    /// Go on when some input lines are unusable, and report them in the summary.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Local pace, N requests per PERIOD, spread evenly (for example 50/15m or 2/s). Server rate
    /// headers and 429s can only slow it further.
    #[arg(long, value_name = "N/PERIOD", default_value = "50/15m")]
    pub rate: Rate,
    /// Timeout for one request (for example 30s or 2m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Requests per account at most before it is recorded `failed` (429s do not count).
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_attempts: u32,
}

/// `bulk-unblock demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's journal here (default: a new file in the temporary directory).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Length of the emulator's rate-limit window.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub window: Duration,
    /// Unblocks the emulator admits per window.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: u32,
}

/// Parses `30s`, `2m`, `1h30m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e}"))?;
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
        assert_eq!(run.api_base, "http://127.0.0.1:9");
        assert_eq!(run.rate, "2/s".parse().unwrap());
        assert_eq!(run.timeout, Duration::from_secs(5));
        assert_eq!(run.max_attempts, 3);
    }

    #[test]
    fn run_defaults_are_conservative() {
        let Command::Run(run) = parse(&["run", "x", "--log", "j"]).unwrap().command else {
            panic!("not run")
        };
        assert_eq!(run.concurrency, 4);
        assert_eq!(run.rate, Rate::DEFAULT);
        assert_eq!(run.timeout, Duration::from_secs(30));
        assert_eq!(run.max_attempts, 8);
        assert_eq!(run.api_base, DEFAULT_API_BASE);
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
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = parse(&["run", "--help"]).unwrap_err().to_string();
        assert!(help.contains("130  interrupted"), "{help}");
        assert!(help.contains("TWITTER_ACCESS_TOKEN_SECRET"), "{help}");
    }
}
