//! The `bulk-unblock emulator` subcommand: flags, and the function that serves until Ctrl-C.
//!
//! Flags override the scenario file, which overrides the faithful defaults. What it prints
//! names the accounts but never a secret: credentials stay in the seed file.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::x::config::{Config, ConfigError, HeaderMode, SuspendedReply};
use super::x::route::Endpoint;
use super::x::seed::{AccessLevel, Seed, SeedError};
use super::x::{Emulator, StateView, serve};

/// `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// How a suspended target of a block write is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SuspendedFlag {
    /// 404 code 50 `User not found.`
    NotFound,
    /// 403 code 63 `User has been suspended.`
    Suspended,
}

/// Serve an emulator of the X API on 127.0.0.1 for trying the tool safely.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EmulatorArgs {
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
        source: SeedError,
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
}

impl EmulatorArgs {
    /// Applies the flags over a configuration (flags win).
    pub fn apply(&self, config: &mut Config) {
        if let Some(w) = self.window {
            config.limits.window = w;
        }
        if let Some(n) = self.destroy_limit {
            config.limits.destroy.limit = n;
        }
        if let Some(w) = self.destroy_window {
            config.limits.destroy.window = Some(w);
        }
        if let Some(n) = self.destroy_daily_limit {
            config.limits.destroy.daily_limit = Some(n);
        }
        if let Some(n) = self.destroy_app_daily_limit {
            config.limits.destroy.app_daily_limit = Some(n);
        }
        if let Some(switch) = self.rate_headers {
            let mode = match switch {
                Switch::On => HeaderMode::Headers,
                Switch::Off => HeaderMode::None,
            };
            for endpoint in Endpoint::ALL {
                if let Some(limit) = config.limits.of_mut(endpoint) {
                    limit.headers = mode;
                }
            }
        }
        if self.no_limits {
            config.limits.enabled = false;
        }
        if self.retry_after {
            config.limits.retry_after = true;
        }
        if let Some(s) = self.clock_offset {
            config.clock_offset_secs = s;
        }
        if let Some(s) = self.skew_window {
            config.auth.skew_window = s;
        }
        if let Some(n) = self.ids_page_size {
            config.replies.ids_page_size = n.max(1);
        }
        if let Some(s) = self.suspended {
            config.replies.suspended = match s {
                SuspendedFlag::NotFound => SuspendedReply::NotFound,
                SuspendedFlag::Suspended => SuspendedReply::Suspended,
            };
        }
        let f = &mut config.faults;
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

    /// Reads the seed and the scenario, applies the flags and checks the result, so an absurd
    /// value stops the emulator at startup with the knob named.
    pub fn load(&self) -> Result<(Seed, Config, String), EmulatorError> {
        let (seed, origin) = match &self.seed {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|source| EmulatorError::ReadSeed {
                    path: path.clone(),
                    source,
                })?;
                let origin = path.display().to_string();
                let seed = Seed::from_json(&bytes).map_err(|source| EmulatorError::Seed {
                    origin: origin.clone(),
                    source,
                })?;
                (seed, origin)
            }
            None => (
                Seed::builtin(),
                "sample-data/emulator-seed.json (builtin)".to_owned(),
            ),
        };
        let mut config = match &self.scenario {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| {
                    EmulatorError::ReadScenario {
                        path: path.clone(),
                        source,
                    }
                })?;
                toml::from_str(&text).map_err(|source| EmulatorError::Scenario {
                    path: path.clone(),
                    source: Box::new(source),
                })?
            }
            None => Config::default(),
        };
        self.apply(&mut config);
        config.validate().map_err(EmulatorError::Config)?;
        Ok((seed, config, origin))
    }
}

/// The lines printed at start: the address, then one line per account. No secrets.
pub fn banner(addr: SocketAddr, view: &StateView, seed_origin: &str) -> Vec<String> {
    let mut lines = vec![format!("emulator listening on http://{addr}")];
    for a in &view.accounts {
        let level = match a.access_level {
            AccessLevel::ReadWrite => "read-write",
            AccessLevel::Read => "read-only",
        };
        let v1 = if a.v1_access { "" } else { ", no v1.1 access" };
        lines.push(format!(
            "account @{} (user ID {}): {} blocked, {level}{v1}; credentials in {seed_origin}",
            a.screen_name, a.user_id, a.blocked_count
        ));
    }
    lines
}

/// Serves until Ctrl-C.
pub async fn run(args: EmulatorArgs) -> Result<(), EmulatorError> {
    let (seed, config, origin) = args.load()?;
    let emulator = Emulator::new(seed, config).map_err(|source| EmulatorError::Seed {
        origin: origin.clone(),
        source,
    })?;
    let port = args.port;
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| EmulatorError::Bind { port, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind { port, source })?;
    {
        let mut out = std::io::stdout().lock();
        for line in banner(addr, &emulator.state_view(), &origin) {
            writeln!(out, "{line}").map_err(EmulatorError::Stdout)?;
        }
        out.flush().map_err(EmulatorError::Stdout)?;
    }
    // Stop at once on Ctrl-C: a stalled request must not hold the emulator open.
    tokio::select! {
        served = serve(listener, emulator, std::future::pending()) => served.map_err(EmulatorError::Serve),
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
    fn flags_override_the_scenario() {
        let cli = Cli::try_parse_from([
            "x",
            "--window",
            "2s",
            "--destroy-limit",
            "3",
            "--rate-headers",
            "on",
            "--clock-offset",
            "-120",
            "--fault-rate",
            "0.25",
            "--revoke-after",
            "7",
        ])
        .expect("flags parse");
        let mut config = Config::default();
        cli.args.apply(&mut config);
        assert_eq!(config.limits.window, Duration::from_secs(2));
        assert_eq!(config.limits.destroy.limit, 3);
        assert_eq!(config.limits.destroy.headers, HeaderMode::Headers);
        assert_eq!(config.clock_offset_secs, -120);
        assert_eq!(config.faults.over_capacity_rate, 0.25);
        assert_eq!(config.faults.revoke_after, Some(7));
        assert_eq!(config.faults.revoke_after_requests, None);
        assert!(Cli::try_parse_from(["x", "--fault-rate", "1.5"]).is_err());
    }

    #[test]
    fn per_endpoint_windows_caps_and_request_revocation_have_flags() {
        let cli = Cli::try_parse_from([
            "x",
            "--window",
            "10s",
            "--destroy-window",
            "2s",
            "--destroy-daily-limit",
            "30",
            "--destroy-app-daily-limit",
            "45",
            "--revoke-after-requests",
            "12",
        ])
        .expect("flags parse");
        let mut config = Config::default();
        cli.args.apply(&mut config);
        assert_eq!(config.limits.window, Duration::from_secs(10));
        assert_eq!(config.limits.destroy.window, Some(Duration::from_secs(2)));
        assert_eq!(
            config.limits.window_of(Endpoint::BlocksDestroy),
            Duration::from_secs(2)
        );
        assert_eq!(
            config.limits.window_of(Endpoint::BlocksIds),
            Duration::from_secs(10)
        );
        assert_eq!(config.limits.destroy.daily_limit, Some(30));
        assert_eq!(config.limits.destroy.app_daily_limit, Some(45));
        assert_eq!(config.faults.revoke_after_requests, Some(12));
        assert_eq!(config.faults.revoke_after, None);
    }

    /// Regression: a window of centuries overflowed the window arithmetic (a panic in a debug
    /// build); now startup refuses it and names the knob.
    #[test]
    fn absurd_windows_are_refused_at_startup() {
        let dir = tempfile::tempdir().expect("temp dir");
        let scenario = dir.path().join("scenario.toml");
        std::fs::write(&scenario, "[limits]\nwindow = 18446744073709551615\n").expect("write");
        let cli = Cli::try_parse_from(["x", "--scenario", scenario.to_str().expect("utf-8")])
            .expect("flags parse");
        let err = cli.args.load().expect_err("refused");
        let chain = format!("{err}: {}", std::error::Error::source(&err).expect("cause"));
        assert!(
            chain.contains("limits.window") && chain.contains("from 1s to 1day"),
            "{chain}"
        );
        for flags in [
            ["x", "--window", "3000years"],
            ["x", "--destroy-window", "25h"],
            ["x", "--window", "500ms"],
        ] {
            let cli = Cli::try_parse_from(flags).expect("flags parse");
            let err = cli.args.load().expect_err("refused");
            assert!(matches!(err, EmulatorError::Config(_)), "{flags:?}: {err}");
        }
        let cli = Cli::try_parse_from(["x", "--clock-offset", "-999999999999"]).expect("parse");
        assert!(matches!(
            cli.args.load(),
            Err(EmulatorError::Config(ConfigError::ClockOffset(_)))
        ));
        let ok = Cli::try_parse_from(["x", "--window", "24h", "--destroy-window", "1s"])
            .expect("flags parse");
        assert!(ok.args.load().is_ok());
    }

    #[test]
    fn banner_names_accounts_but_no_secret() {
        let seed = Seed::builtin();
        let emulator =
            Emulator::new(seed.clone(), Config::default()).expect("builtin seed is valid");
        let addr: SocketAddr = "127.0.0.1:4242".parse().expect("address");
        let lines = banner(addr, &emulator.state_view(), "seed.json");
        assert_eq!(lines[0], "emulator listening on http://127.0.0.1:4242");
        assert_eq!(lines.len(), 1 + seed.accounts.len());
        assert!(
            lines[1].contains("@demo_owner") && lines[1].contains("200 blocked"),
            "{}",
            lines[1]
        );
        let text = lines.join("\n");
        for app in &seed.apps {
            assert!(!text.contains(&app.consumer_secret));
            assert!(!text.contains(&app.consumer_key));
        }
        for a in &seed.accounts {
            assert!(!text.contains(&a.access_token));
            assert!(!text.contains(&a.access_token_secret));
        }
    }
}
