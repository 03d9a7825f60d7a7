//! The X emulator's side of `bulk-unblock emulator`: the flags applied over its knobs, its
//! seed (the builtin one by default), and the start-up lines it prints.
//!
//! Flags override the scenario file, which overrides the faithful defaults. The lines name the
//! accounts but never a secret: credentials stay in the seed file.

use std::net::SocketAddr;

use axum::Router;

use super::config::{Config, HeaderMode, SuspendedReply, endpoint_names};
use super::route::Endpoint;
use super::seed::{AccessLevel, Seed, SeedError};
use super::state::State;
use super::{Emulator, Running, SERVER, StateView};
use crate::emulator::args::{EmulatorArgs, EmulatorError, SuspendedFlag, Switch};
use crate::emulator::start::{self, Startup};

/// Applies the flags of X's own knobs over a configuration (flags win; the core applies the
/// clock offset and the faults). Fails on a flag naming an endpoint the X emulator does not
/// have.
pub fn apply(args: &EmulatorArgs, config: &mut Config) -> Result<(), EmulatorError> {
    if let Some(w) = args.window {
        config.limits.window = w;
    }
    if let Some(n) = args.destroy_limit {
        config.limits.destroy.limit = n;
    }
    if let Some(w) = args.destroy_window {
        config.limits.destroy.window = Some(w);
    }
    if let Some(n) = args.destroy_daily_limit {
        config.limits.destroy.daily_limit = Some(n);
    }
    if let Some(n) = args.destroy_app_daily_limit {
        config.limits.destroy.app_daily_limit = Some(n);
    }
    if let Some(switch) = args.rate_headers {
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
    if args.no_limits {
        config.limits.enabled = false;
    }
    if args.retry_after {
        config.limits.retry_after = true;
    }
    if let Some(s) = args.skew_window {
        config.auth.skew_window = s;
    }
    if let Some(n) = args.ids_page_size {
        config.replies.ids_page_size = n.max(1);
    }
    if let Some(n) = args.list_page_size {
        config.replies.list_page_size = n.max(1);
    }
    if !args.refuse_timestamps.is_empty() {
        config.auth.refuse_timestamps = args
            .refuse_timestamps
            .iter()
            .map(|name| endpoint_names::parse(name, "--refuse-timestamps"))
            .collect::<Result<_, _>>()
            .map_err(EmulatorError::Config)?;
    }
    if let Some(s) = args.suspended {
        config.replies.suspended = match s {
            SuspendedFlag::NotFound => SuspendedReply::NotFound,
            SuspendedFlag::Suspended => SuspendedReply::Suspended,
        };
    }
    Ok(())
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

/// Serves the X emulator until Ctrl-C.
pub async fn run(args: &EmulatorArgs) -> Result<(), EmulatorError> {
    start::launch::<State>(args).await
}

impl Startup for State {
    const BUILTIN_SEED: &'static str = "sample-data/emulator-seed.json (builtin)";

    fn builtin_seed() -> Seed {
        Seed::builtin()
    }

    fn seed_from_json(bytes: &[u8]) -> Result<Seed, SeedError> {
        Seed::from_json(bytes)
    }

    fn apply(args: &EmulatorArgs, config: &mut Config) -> Result<(), EmulatorError> {
        apply(args, config)
    }

    fn servers(emulator: &Emulator) -> Vec<(&'static str, Router)> {
        vec![(SERVER, emulator.router())]
    }

    fn banner(running: &Running, _seed: &Seed, origin: &str) -> Vec<String> {
        banner(running.addr(), &running.emulator.state_view(), origin)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        let (_, config, _) = load(&cli.args).expect("flags apply");
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
        let (_, config, _) = load(&cli.args).expect("flags apply");
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

    #[test]
    fn the_list_page_size_has_a_flag() {
        let cli = Cli::try_parse_from(["x", "--list-page-size", "7"]).expect("flags parse");
        let mut config = Config::default();
        apply(&cli.args, &mut config).expect("flags apply");
        assert_eq!(config.replies.list_page_size, 7);
        let cli = Cli::try_parse_from(["x", "--list-page-size", "0"]).expect("flags parse");
        apply(&cli.args, &mut config).expect("flags apply");
        assert_eq!(config.replies.list_page_size, 1, "at least one a page");
    }

    #[test]
    fn refused_timestamps_have_a_flag() {
        let cli = Cli::try_parse_from([
            "x",
            "--refuse-timestamps",
            "blocks/ids,users/lookup",
            "--refuse-timestamps",
            "v2/users/me",
        ])
        .expect("flags parse");
        let mut config = Config::default();
        apply(&cli.args, &mut config).expect("flags apply");
        assert_eq!(
            config.auth.refuse_timestamps,
            [Endpoint::BlocksIds, Endpoint::UsersLookup, Endpoint::V2Me]
        );
        let cli =
            Cli::try_parse_from(["x", "--refuse-timestamps", "blocks/idz"]).expect("flags parse");
        let err = load(&cli.args).expect_err("refused");
        let chain = format!("{err}: {}", std::error::Error::source(&err).expect("cause"));
        assert!(
            chain.contains("--refuse-timestamps names `blocks/idz`")
                && chain.contains("blocks/ids"),
            "{chain}"
        );
        // The scenario's list stands unless the flag is given.
        let dir = tempfile::tempdir().expect("temp dir");
        let scenario = dir.path().join("scenario.toml");
        std::fs::write(
            &scenario,
            "[auth]\nrefuse_timestamps = [\"users/lookup\"]\n",
        )
        .expect("write");
        let cli = Cli::try_parse_from(["x", "--scenario", scenario.to_str().expect("utf-8")])
            .expect("flags parse");
        let (_, config, _) = load(&cli.args).expect("loads");
        assert_eq!(config.auth.refuse_timestamps, [Endpoint::UsersLookup]);
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
        let err = load(&cli.args).expect_err("refused");
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
            let err = load(&cli.args).expect_err("refused");
            assert!(matches!(err, EmulatorError::Config(_)), "{flags:?}: {err}");
        }
        let cli = Cli::try_parse_from(["x", "--clock-offset", "-999999999999"]).expect("parse");
        assert!(matches!(
            load(&cli.args),
            Err(EmulatorError::Config(ConfigError::ClockOffset(_)))
        ));
        let ok = Cli::try_parse_from(["x", "--window", "24h", "--destroy-window", "1s"])
            .expect("flags parse");
        assert!(load(&ok.args).is_ok());
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
