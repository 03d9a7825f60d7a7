//! The Mastodon emulator's side of `bulk-unblock emulator --network mastodon`: its own flags,
//! the shared flags applied over its knobs, its seed (the builtin one by default), and the
//! start-up lines it prints.
//!
//! Flags override the scenario file, which overrides the faithful defaults. Unlike X's, these
//! start-up lines carry each sample account's token, so that any client can be pointed at the
//! emulator at once: stdout holds `listening on http://127.0.0.1:PORT` and one
//! `account ACCT id ID token TOKEN` line per account that holds a token, nothing else; other
//! messages go to stderr.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;

use super::config::{Config, HeaderMode, RevokedReply};
use super::seed::{Seed, SeedError};
use super::state::State;
use super::{Emulator, Running, SERVER};
use crate::emulator::args::{self, EmulatorArgs, EmulatorError, Switch};
use crate::emulator::start::{self, Startup};

/// How a revoked token is refused, for `--revoked`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RevokedFlag {
    /// 401 `The access token was revoked`.
    Revoked,
    /// 401 `The access token is invalid`.
    Invalid,
}

/// The flags only the Mastodon emulator takes.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Mastodon emulator")]
pub struct Flags {
    /// Requests allowed per token and period (real: 300).
    #[arg(long, value_name = "N")]
    pub token_limit: Option<u32>,
    /// The per-token period, e.g. `5m` or `2s` (whole seconds, 1s to 24h; real: 5m).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub token_period: Option<Duration>,
    /// Paging requests (with max_id, since_id, min_id or page) allowed per user and period
    /// (real: 300).
    #[arg(long, value_name = "N")]
    pub paging_limit: Option<u32>,
    /// The paging period (whole seconds, 1s to 24h; real: 15m).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub paging_period: Option<Duration>,
    /// The status of the injected "unavailable" fault of `--fault-rate` (503, or a proxy's
    /// 502/504).
    #[arg(long, value_name = "STATUS")]
    pub fault_status: Option<u16>,
    /// How a revoked token is refused.
    #[arg(long, value_enum)]
    pub revoked: Option<RevokedFlag>,
    /// The version the instance reports (`GET /api/v1/instance`).
    #[arg(long, value_name = "VERSION")]
    pub instance_version: Option<String>,
}

impl Flags {
    /// The flags given, by name (for refusing them on another network).
    pub fn given(&self) -> Vec<&'static str> {
        args::given([
            ("--token-limit", self.token_limit.is_some()),
            ("--token-period", self.token_period.is_some()),
            ("--paging-limit", self.paging_limit.is_some()),
            ("--paging-period", self.paging_period.is_some()),
            ("--fault-status", self.fault_status.is_some()),
            ("--revoked", self.revoked.is_some()),
            ("--instance-version", self.instance_version.is_some()),
        ])
    }
}

/// Applies the shared flags that set Mastodon's own knobs and the Mastodon ones over a
/// configuration (flags win; the core applies the clock offset and the faults).
pub fn apply(args: &EmulatorArgs, config: &mut Config) {
    let m = &args.mastodon;
    let l = &mut config.limits;
    if let Some(n) = m.token_limit {
        l.per_token.limit = n;
    }
    if let Some(p) = m.token_period {
        l.per_token.period = p;
    }
    if let Some(n) = m.paging_limit {
        l.paging.limit = n;
    }
    if let Some(p) = m.paging_period {
        l.paging.period = p;
    }
    if let Some(switch) = args.rate_headers {
        l.headers = match switch {
            Switch::On => HeaderMode::All,
            Switch::Off => HeaderMode::None,
        };
    }
    if args.no_limits {
        l.enabled = false;
    }
    if let Some(s) = m.fault_status {
        config.replies.unavailable_status = s;
    }
    if let Some(r) = m.revoked {
        config.replies.revoked = match r {
            RevokedFlag::Revoked => RevokedReply::Revoked,
            RevokedFlag::Invalid => RevokedReply::Invalid,
        };
    }
    if let Some(v) = &m.instance_version {
        config.instance.version = v.clone();
    }
}

/// The stdout lines: the address, then, for each local account holding a token (in the order
/// the seed's tokens first name them), its acct as the API writes it (`user` for a local
/// account), its ID and its first token.
pub fn banner(addr: SocketAddr, seed: &Seed) -> Vec<String> {
    let mut lines = vec![format!("listening on http://{addr}")];
    let mut seen = Vec::new();
    for t in &seed.tokens {
        let Some(id) = &t.account else {
            continue;
        };
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        if let Some(a) = seed.account(id) {
            let acct = match &a.domain {
                Some(d) => format!("{}@{d}", a.username),
                None => a.username.clone(),
            };
            lines.push(format!("account {acct} id {id} token {}", t.token));
        }
    }
    lines
}

/// Serves the Mastodon emulator until Ctrl-C.
pub async fn run(args: &EmulatorArgs) -> Result<(), EmulatorError> {
    start::launch::<State>(args).await
}

impl Startup for State {
    const BUILTIN_SEED: &'static str = "sample-data/mastodon-seed.json (builtin)";

    fn builtin_seed() -> Seed {
        Seed::builtin()
    }

    fn seed_from_json(bytes: &[u8]) -> Result<Seed, SeedError> {
        Seed::from_json(bytes)
    }

    fn apply(args: &EmulatorArgs, config: &mut Config) -> Result<(), EmulatorError> {
        apply(args, config);
        Ok(())
    }

    fn servers(emulator: &Emulator) -> Vec<(&'static str, Router)> {
        vec![(SERVER, emulator.router())]
    }

    fn banner(running: &Running, seed: &Seed, _origin: &str) -> Vec<String> {
        banner(running.addr(), seed)
    }

    fn notice(_running: &Running, seed: &Seed, origin: &str) -> Option<String> {
        Some(format!(
            "Mastodon emulator: instance {}, seed {origin}; every token and its scopes are in the seed",
            seed.domain
        ))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::emulator::ConfigError;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn load(args: &EmulatorArgs) -> Result<(Seed, Config, String), EmulatorError> {
        start::load::<State>(args)
    }

    #[test]
    fn flags_override_the_scenario() {
        let dir = tempfile::tempdir().expect("temp dir");
        let scenario = dir.path().join("scenario.toml");
        std::fs::write(
            &scenario,
            "[limits]\nper_token = { limit = 9, period = \"1m\" }\n[replies]\nerror_body = \"json\"\n",
        )
        .expect("write");
        let cli = Cli::try_parse_from([
            "x",
            "--network",
            "mastodon",
            "--scenario",
            scenario.to_str().expect("utf-8"),
            "--token-limit",
            "3",
            "--paging-period",
            "4s",
            "--rate-headers",
            "off",
            "--fault-rate",
            "0.25",
            "--fault-status",
            "502",
            "--revoked",
            "invalid",
            "--revoke-after",
            "7",
            "--instance-version",
            "4.2.0",
        ])
        .expect("flags parse");
        let (_, config, origin) = load(&cli.args).expect("loads");
        assert_eq!(origin, "sample-data/mastodon-seed.json (builtin)");
        assert_eq!(config.limits.per_token.limit, 3);
        assert_eq!(config.limits.per_token.period, Duration::from_secs(60));
        assert_eq!(config.limits.paging.period, Duration::from_secs(4));
        assert_eq!(config.limits.headers, HeaderMode::None);
        assert_eq!(config.faults.over_capacity_rate, 0.25);
        assert_eq!(config.replies.unavailable_status, 502);
        assert_eq!(config.replies.revoked, RevokedReply::Invalid);
        assert_eq!(config.replies.error_body, super::super::ErrorBody::Json);
        assert_eq!(config.faults.revoke_after, Some(7));
        assert_eq!(config.instance.version, "4.2.0");
    }

    #[test]
    fn absurd_values_are_refused_at_startup() {
        for flags in [
            ["x", "--token-period", "25h"],
            ["x", "--paging-period", "500ms"],
            ["x", "--fault-status", "200"],
        ] {
            let cli = Cli::try_parse_from(flags).expect("flags parse");
            let err = load(&cli.args).expect_err("refused");
            assert!(matches!(err, EmulatorError::Config(_)), "{flags:?}: {err}");
        }
        let cli = Cli::try_parse_from(["x", "--clock-offset", "-999999999999"]).expect("parse");
        assert!(matches!(
            load(&cli.args),
            Err(EmulatorError::Config(ConfigError::ClockOffset(_)))
        ));
    }

    #[test]
    fn banner_names_each_token_holder_once() {
        let seed = Seed::builtin();
        let addr: SocketAddr = "127.0.0.1:4242".parse().expect("address");
        let lines = banner(addr, &seed);
        assert_eq!(lines[0], "listening on http://127.0.0.1:4242");
        assert_eq!(lines.len(), 3, "{lines:?}");
        let owner = seed.token("demo-bulk-unblock").expect("token");
        assert_eq!(
            lines[1],
            format!(
                "account demo_owner id {} token {}",
                owner.account.as_deref().expect("owner"),
                owner.token
            )
        );
        assert!(
            lines[2].starts_with("account other_owner id "),
            "{}",
            lines[2]
        );
    }
}
