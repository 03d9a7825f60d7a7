//! The `bulk-unblock emulator` subcommand: its flags, `--network` choosing which emulator
//! serves, and what every network's start-up reads the same way (the seed and scenario files,
//! the flags every network shares); [`start`](super::start) starts the chosen network with
//! them.
//!
//! Flags override the scenario file, which overrides the faithful defaults. Most flags are
//! shared; a network's own flags are refused for the other networks, with the flag named, so a
//! knob never silently does nothing. Adding a network is a [`Network`] variant, its arm in
//! [`run`], the list of flags it does not take ([`EmulatorArgs::check_flags`]), and its
//! [`Startup`](super::start::Startup). The X
//! emulator's start-up lines name the accounts but never a secret; the Bluesky and Mastodon
//! emulators print their sample app passwords and tokens, which any client needs to log in.

use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::config::{ConfigError, Knobs};

/// `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// Which network's API the emulator serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Network {
    /// X/Twitter: v1.1 and v2, OAuth 1.0a user context.
    #[default]
    X,
    /// Bluesky: the AT Protocol's entryway and PDS, app-password sessions.
    Bluesky,
    /// Mastodon: one instance's REST API, bearer tokens with scopes.
    Mastodon,
}

impl Network {
    /// The name `--network` takes.
    pub fn name(self) -> &'static str {
        match self {
            Network::X => "x",
            Network::Bluesky => "bluesky",
            Network::Mastodon => "mastodon",
        }
    }
}

/// How a suspended target of a block write is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SuspendedFlag {
    /// 404 code 50 `User not found.`
    NotFound,
    /// 403 code 63 `User has been suspended.`
    Suspended,
}

/// Serve an emulator of a network's API on 127.0.0.1 for trying the tool safely.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EmulatorArgs {
    /// The network whose API to serve.
    #[arg(long, value_enum, default_value_t = Network::X)]
    pub network: Network,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed file (JSON in the network's shape); default: the network's builtin sample seed.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Scenario file (TOML) setting any emulator knob.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Rate window length of every endpoint without a window of its own, e.g. `15m` or `2s`
    /// (1s to 24h).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub window: Option<Duration>,
    /// blocks/destroy requests allowed per window and token.
    #[arg(long, value_name = "N")]
    pub destroy_limit: Option<u32>,
    /// Rate window length of blocks/destroy alone, overriding `--window` (1s to 24h). Other
    /// endpoints take theirs from the scenario file (`limits.ENDPOINT.window`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub destroy_window: Option<Duration>,
    /// 24-hour cap of blocks/destroy per token, announced by `x-user-limit-24hour-*`.
    #[arg(long, value_name = "N")]
    pub destroy_daily_limit: Option<u32>,
    /// 24-hour cap of blocks/destroy per app (all its tokens together), announced by
    /// `x-app-limit-24hour-*`.
    #[arg(long, value_name = "N")]
    pub destroy_app_daily_limit: Option<u32>,
    /// Send the rate-limit headers on every answer (on) or on none (off).
    #[arg(long, value_enum, value_name = "on|off")]
    pub rate_headers: Option<Switch>,
    /// Turn every rate limit off (benchmarks).
    #[arg(long)]
    pub no_limits: bool,
    /// Send `Retry-After` on 429 answers.
    #[arg(long)]
    pub retry_after: bool,
    /// Seconds added to real time to make the emulator's clock (may be negative).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub clock_offset: Option<i64>,
    /// How far an OAuth timestamp may be from the emulator's clock, e.g. `5m`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub skew_window: Option<Duration>,
    /// IDs per blocks/ids page (real: 5000).
    #[arg(long, value_name = "N")]
    pub ids_page_size: Option<usize>,
    /// Users per blocks/list page (the real size is unverified; default 20).
    #[arg(long, value_name = "N")]
    pub list_page_size: Option<usize>,
    /// Refuse every signed timestamp on these endpoints, whatever its value (names as in the
    /// request statistics, comma-separated, e.g. `blocks/ids,users/lookup`), for testing that a
    /// client stops retrying.
    #[arg(long, value_name = "ENDPOINTS", value_delimiter = ',')]
    pub refuse_timestamps: Vec<String>,
    /// How a suspended target of blocks/destroy is answered.
    #[arg(long, value_enum)]
    pub suspended: Option<SuspendedFlag>,
    /// Fixed delay before each answer, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<u64>,
    /// Extra random delay (0 to this) before each answer, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub jitter_ms: Option<u64>,
    /// Probability (0–1) that a block write gets the network's "unavailable" answer (X: 503
    /// code 130 `Over capacity.`; Mastodon: `--fault-status`, 503 by default).
    #[arg(long, value_name = "P", value_parser = probability)]
    pub fault_rate: Option<f64>,
    /// Probability (0–1) that a block write gets a 500 (X: code 131 `Internal error.`).
    #[arg(long, value_name = "P", value_parser = probability)]
    pub internal_error_rate: Option<f64>,
    /// Probability (0–1) that a block write acts and then its response breaks off.
    #[arg(long, value_name = "P", value_parser = probability)]
    pub drop_rate: Option<f64>,
    /// Probability (0–1) that a block write stalls for `--stall` before answering.
    #[arg(long, value_name = "P", value_parser = probability)]
    pub stall_rate: Option<f64>,
    /// How long a stall lasts, e.g. `60s`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub stall: Option<Duration>,
    /// Apply fault rates to every endpoint, not only block writes.
    #[arg(long)]
    pub faults_everywhere: bool,
    /// Seed of the fault RNG (same seed and requests, same faults).
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,
    /// Revoke a token after this many successful block writes made with it.
    #[arg(long, value_name = "N")]
    pub revoke_after: Option<u64>,
    /// Revoke a token after this many requests made with it, whatever the endpoint and the
    /// answer.
    #[arg(long, value_name = "N")]
    pub revoke_after_requests: Option<u64>,
    /// The flags only `--network bluesky` takes (boxed: the subcommand enum stays small).
    #[command(flatten)]
    pub bluesky: Box<super::bluesky::cli::BlueskyArgs>,
    /// The flags only `--network mastodon` takes.
    #[command(flatten)]
    pub mastodon: Box<crate::emulator::mastodon::cli::Flags>,
}

/// The flags of `flags` that were given (each paired with whether it was), in order.
pub fn given<const N: usize>(flags: [(&'static str, bool); N]) -> Vec<&'static str> {
    flags
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
}

fn probability(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{raw}` is not a probability between 0 and 1")),
    }
}

/// Why the emulator could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The seed file could not be read.
    #[error("cannot read seed file {path}")]
    ReadSeed {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The seed is invalid.
    #[error("invalid seed {origin}")]
    Seed {
        /// The file, or "(builtin)".
        origin: String,
        /// What is wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The scenario file could not be read.
    #[error("cannot read scenario file {path}")]
    ReadScenario {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The scenario file is not a valid configuration.
    #[error("invalid scenario file {path}")]
    Scenario {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// The scenario and the flags together set a knob to a value the emulator cannot honour.
    #[error("invalid emulator settings")]
    Config(#[source] ConfigError),
    /// A flag of another network's emulator.
    #[error("{flag} does not apply to --network {network} (see `bulk-unblock emulator --help`)")]
    ForeignFlag {
        /// The flag, e.g. `--destroy-limit`.
        flag: &'static str,
        /// The network chosen.
        network: &'static str,
    },
    /// The port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Printing the address failed (stdout closed).
    #[error("cannot write to stdout")]
    Stdout(#[source] std::io::Error),
    /// The server failed while serving.
    #[error("emulator server failed")]
    Serve(#[source] std::io::Error),
    /// Waiting for Ctrl-C failed.
    #[error("cannot wait for Ctrl-C")]
    Signal(#[source] std::io::Error),
}

impl EmulatorArgs {
    /// The seed file's bytes and the name to report it by; `None` without `--seed` (the
    /// network then serves its builtin seed).
    pub fn seed_file(&self) -> Result<Option<(Vec<u8>, String)>, EmulatorError> {
        let Some(path) = &self.seed else {
            return Ok(None);
        };
        let bytes = std::fs::read(path).map_err(|source| EmulatorError::ReadSeed {
            path: path.clone(),
            source,
        })?;
        Ok(Some((bytes, path.display().to_string())))
    }

    /// The scenario file as a network's configuration; the faithful defaults without
    /// `--scenario`.
    pub fn scenario<C: DeserializeOwned + Default>(&self) -> Result<C, EmulatorError> {
        let Some(path) = &self.scenario else {
            return Ok(C::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::ReadScenario {
            path: path.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| EmulatorError::Scenario {
            path: path.clone(),
            source: Box::new(source),
        })
    }

    /// The flags given that only the X emulator takes.
    pub fn x_flags_given(&self) -> Vec<&'static str> {
        given([
            ("--window", self.window.is_some()),
            ("--destroy-limit", self.destroy_limit.is_some()),
            ("--destroy-window", self.destroy_window.is_some()),
            ("--destroy-daily-limit", self.destroy_daily_limit.is_some()),
            (
                "--destroy-app-daily-limit",
                self.destroy_app_daily_limit.is_some(),
            ),
            ("--skew-window", self.skew_window.is_some()),
            ("--ids-page-size", self.ids_page_size.is_some()),
            ("--list-page-size", self.list_page_size.is_some()),
            ("--refuse-timestamps", !self.refuse_timestamps.is_empty()),
            ("--suspended", self.suspended.is_some()),
        ])
    }

    /// Sets the knobs every network shares (the clock offset, and the faults: latency, errors,
    /// drops, stalls, revocation) from their flags; flags win over the scenario file.
    pub fn apply_shared(&self, config: &mut impl Knobs) {
        let (clock_offset_secs, f) = config.shared_mut();
        if let Some(s) = self.clock_offset {
            *clock_offset_secs = s;
        }
        if let Some(v) = self.latency_ms {
            f.latency_ms = v;
        }
        if let Some(v) = self.jitter_ms {
            f.jitter_ms = v;
        }
        if let Some(v) = self.fault_rate {
            f.over_capacity_rate = v;
        }
        if let Some(v) = self.internal_error_rate {
            f.internal_error_rate = v;
        }
        if let Some(v) = self.drop_rate {
            f.drop_after_acting_rate = v;
        }
        if let Some(v) = self.stall_rate {
            f.stall_rate = v;
        }
        if let Some(v) = self.stall {
            f.stall = v;
        }
        if self.faults_everywhere {
            f.all_endpoints = true;
        }
        if let Some(v) = self.fault_seed {
            f.seed = v;
        }
        if let Some(v) = self.revoke_after {
            f.revoke_after = Some(v);
        }
        if let Some(v) = self.revoke_after_requests {
            f.revoke_after_requests = Some(v);
        }
    }

    /// Refuses a flag the chosen network does not take, naming it.
    pub fn check_flags(&self) -> Result<(), EmulatorError> {
        let x = self.x_flags_given();
        let bluesky = self.bluesky.given();
        let mastodon = self.mastodon.given();
        let given = match self.network {
            Network::X => [bluesky, mastodon].concat(),
            Network::Bluesky => [x, mastodon].concat(),
            // Mastodon announces no retry delay on a 429.
            Network::Mastodon => {
                let retry_after = self.retry_after.then_some("--retry-after");
                [x, retry_after.into_iter().collect(), bluesky].concat()
            }
        };
        EmulatorArgs::refuse(&given, self.network)
    }

    /// Fails on the first flag in `given`, which `network` does not take.
    pub fn refuse(given: &[&'static str], network: Network) -> Result<(), EmulatorError> {
        match given.first() {
            Some(&flag) => Err(EmulatorError::ForeignFlag {
                flag,
                network: network.name(),
            }),
            None => Ok(()),
        }
    }
}

/// Serves the chosen network until Ctrl-C.
pub async fn run(args: EmulatorArgs) -> Result<(), EmulatorError> {
    args.check_flags()?;
    match args.network {
        Network::X => super::x::cli::run(&args).await,
        Network::Bluesky => super::bluesky::cli::run(&args).await,
        Network::Mastodon => super::mastodon::cli::run(&args).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    #[test]
    fn the_network_is_x_unless_told_otherwise() {
        let cli = Cli::try_parse_from(["x"]).expect("flags parse");
        assert_eq!(cli.args.network, Network::X);
        let cli = Cli::try_parse_from(["x", "--network", "x"]).expect("flags parse");
        assert_eq!(cli.args.network, Network::X);
        let cli = Cli::try_parse_from(["x", "--network", "bluesky"]).expect("flags parse");
        assert_eq!(cli.args.network, Network::Bluesky);
        assert!(Cli::try_parse_from(["x", "--network", "myspace"]).is_err());
        let cli = Cli::try_parse_from(["x", "--network", "mastodon"]).expect("flags parse");
        assert_eq!(cli.args.network, Network::Mastodon);
    }

    #[test]
    fn a_networks_own_flags_are_refused_for_the_others() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
                .expect("flags parse")
                .args
        };
        let args = parse(&["--network", "mastodon", "--destroy-limit", "3"]);
        assert_eq!(args.x_flags_given(), ["--destroy-limit"]);
        assert_eq!(
            args.check_flags().expect_err("refused").to_string(),
            "--destroy-limit does not apply to --network mastodon (see `bulk-unblock emulator --help`)"
        );
        // Mastodon announces no retry delay; Bluesky and X do.
        assert!(
            parse(&["--network", "mastodon", "--retry-after"])
                .check_flags()
                .is_err()
        );
        assert!(
            parse(&["--network", "bluesky", "--retry-after"])
                .check_flags()
                .is_ok()
        );
        assert!(parse(&["--retry-after"]).check_flags().is_ok());
        let args = parse(&["--token-limit", "3"]);
        assert!(args.x_flags_given().is_empty());
        assert_eq!(args.mastodon.given(), ["--token-limit"]);
        assert!(args.check_flags().is_err(), "a Mastodon flag for X");
        assert!(
            parse(&["--network", "bluesky", "--token-limit", "3"])
                .check_flags()
                .is_err()
        );
        assert!(
            parse(&["--network", "mastodon", "--appview", "down"])
                .check_flags()
                .is_err()
        );
        assert!(
            parse(&["--appview", "down"]).check_flags().is_err(),
            "a Bluesky flag for X"
        );
        assert!(parse(&[]).check_flags().is_ok());
    }

    #[test]
    fn unreadable_files_name_themselves() {
        let cli =
            Cli::try_parse_from(["x", "--scenario", "no-such-scenario.toml"]).expect("flags parse");
        let err = cli.args.scenario::<toml::Table>().expect_err("missing");
        assert!(err.to_string().contains("no-such-scenario.toml"), "{err}");
        let cli = Cli::try_parse_from(["x"]).expect("flags parse");
        assert!(cli.args.seed_file().expect("no file, no error").is_none());
        assert!(
            cli.args
                .scenario::<toml::Table>()
                .expect("defaults")
                .is_empty()
        );
    }
}
