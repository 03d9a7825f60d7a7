//! The `bulk-unblock emulator` subcommand: its flags, `--network` choosing which emulator
//! serves, and what every network's start-up shares (reading the seed and scenario files,
//! binding the port, printing the start-up lines, serving until Ctrl-C).
//!
//! Flags override the scenario file, which overrides the faithful defaults. What the X
//! emulator prints names the accounts but never a secret: credentials stay in the seed file;
//! the Bluesky emulator prints its sample app passwords, which any client needs to log in.
//! Adding a network is a [`Network`] variant and its arm in [`run`]; flags only one network
//! understands are refused by the others, naming the flag.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

use super::config::ConfigError;
use super::serve::{Running, bind_loopback};

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
    /// Seed file (JSON: apps, users, accounts); default: the builtin sample seed.
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
    /// Send `x-rate-limit-*` headers on every endpoint (on) or on none (off).
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
    /// Probability (0–1) that a block write gets 503 code 130 `Over capacity.`
    #[arg(long, value_name = "P", value_parser = probability)]
    pub fault_rate: Option<f64>,
    /// Probability (0–1) that a block write gets 500 code 131 `Internal error.`
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
    /// A flag that only another network's emulator takes.
    #[error("{flag} does not apply to --network {network}")]
    FlagNotForNetwork {
        /// The flag, e.g. `--destroy-limit`.
        flag: &'static str,
        /// The network chosen.
        network: &'static str,
    },
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

    /// Binds `127.0.0.1:PORT` for `--port`.
    pub async fn bind(&self) -> Result<TcpListener, EmulatorError> {
        let port = self.port;
        bind_loopback(port)
            .await
            .map_err(|source| EmulatorError::Bind { port, source })
    }
}

/// Serves the chosen network until Ctrl-C.
pub async fn run(args: EmulatorArgs) -> Result<(), EmulatorError> {
    match args.network {
        Network::X => {
            if let Some(flag) = args.bluesky.given() {
                return Err(EmulatorError::FlagNotForNetwork { flag, network: "x" });
            }
            super::x::cli::run(&args).await
        }
        Network::Bluesky => super::bluesky::cli::run(&args).await,
    }
}

/// Prints the start-up lines, then serves until Ctrl-C or until a server fails. Stops at once
/// on Ctrl-C: dropping `running` aborts the servers, so a stalled request cannot hold the
/// emulator open.
pub async fn serve_until_ctrl_c<H>(
    mut running: Running<H>,
    lines: &[String],
) -> Result<(), EmulatorError> {
    {
        let mut out = std::io::stdout().lock();
        for line in lines {
            writeln!(out, "{line}").map_err(EmulatorError::Stdout)?;
        }
        out.flush().map_err(EmulatorError::Stdout)?;
    }
    tokio::select! {
        served = running.stopped() => served.map_err(EmulatorError::Serve),
        signal = tokio::signal::ctrl_c() => signal.map_err(EmulatorError::Signal),
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
