//! The Bluesky emulator's side of `bulk-unblock emulator --network bluesky`: its own flags,
//! the shared flags it honours (and the X-only ones it refuses), its seed (the builtin one by
//! default), and the start-up lines.
//!
//! Flags override the scenario file, which overrides the faithful defaults. Stdout carries
//! exactly what a client needs to be pointed at the emulator, in a fixed shape a script can
//! read: `listening on http://127.0.0.1:PORT` (the login host), then one
//! `account HANDLE DID password APP-PASSWORD` line per sample account. The app passwords are
//! the sample seed's, printed so that any client (the atproto SDK, a browser extension) can
//! log in; everything else goes to stderr.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;

use super::config::{AppViewState, Config, EntrywayWrites, PdsHost};
use super::seed::{Seed, SeedError};
use super::state::State;
use super::{ENTRYWAY, Emulator, Host, PDS, Running};
use crate::emulator::args::{self, EmulatorArgs, EmulatorError, Switch};
use crate::emulator::start::{self, Startup};

/// The flags only `--network bluesky` takes.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Bluesky (--network bluesky)")]
pub struct BlueskyArgs {
    /// Port of the PDS on 127.0.0.1 (`--port` is the entryway's, where clients log in); 0
    /// picks a free one.
    #[arg(long, value_name = "PORT")]
    pub pds_port: Option<u16>,
    /// How long access tokens live, e.g. `2h` (the PDS's) or `5s`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub access_ttl: Option<Duration>,
    /// Send a didDoc naming the PDS with every session (on), or none, the entryway then
    /// serving everything (off).
    #[arg(long, value_enum, value_name = "on|off")]
    pub did_doc: Option<Switch>,
    /// How the didDoc names the PDS: `localhost` (as the reference PDS does) or `ip`.
    #[arg(long, value_enum)]
    pub pds_host: Option<PdsHost>,
    /// What the entryway does with repo writes while sessions name the PDS.
    #[arg(long, value_enum)]
    pub entryway_writes: Option<EntrywayWrites>,
    /// The AppView behind `app.bsky.*`: up, absent (400) or down (502).
    #[arg(long, value_enum)]
    pub appview: Option<AppViewState>,
    /// Write points per account per hourly window (the PDS: 5000; create 3, delete 1).
    #[arg(long, value_name = "N")]
    pub hourly_points: Option<u32>,
    /// Length of the hourly points window, e.g. `10s` (1s to 24h).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub points_window: Option<Duration>,
    /// Write points per account per day (the PDS: 35000).
    #[arg(long, value_name = "N")]
    pub daily_points: Option<u32>,
    /// Requests per IP per window, on every XRPC call (the PDS: 3000).
    #[arg(long, value_name = "N")]
    pub ip_limit: Option<u32>,
    /// Length of the per-IP window (the PDS: 5m).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub ip_window: Option<Duration>,
    /// `createSession` calls per identifier per 5 minutes (the PDS: 30).
    #[arg(long, value_name = "N")]
    pub session_limit: Option<u32>,
    /// Delete block records behind the client's back when the Nth repo write arrives.
    #[arg(long, value_name = "N")]
    pub stale_at_write: Option<u64>,
    /// How many records `--stale-at-write` deletes.
    #[arg(long, value_name = "N")]
    pub stale_count: Option<usize>,
    /// Revoke every app password this long after start, e.g. `30s`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub revoke_at: Option<Duration>,
    /// How long `createSession` takes at least (the PDS: 350ms).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub login_delay: Option<Duration>,
}

impl BlueskyArgs {
    /// The Bluesky-only flags given, for networks that refuse them.
    pub fn given(&self) -> Vec<&'static str> {
        args::given([
            ("--pds-port", self.pds_port.is_some()),
            ("--access-ttl", self.access_ttl.is_some()),
            ("--did-doc", self.did_doc.is_some()),
            ("--pds-host", self.pds_host.is_some()),
            ("--entryway-writes", self.entryway_writes.is_some()),
            ("--appview", self.appview.is_some()),
            ("--hourly-points", self.hourly_points.is_some()),
            ("--points-window", self.points_window.is_some()),
            ("--daily-points", self.daily_points.is_some()),
            ("--ip-limit", self.ip_limit.is_some()),
            ("--ip-window", self.ip_window.is_some()),
            ("--session-limit", self.session_limit.is_some()),
            ("--stale-at-write", self.stale_at_write.is_some()),
            ("--stale-count", self.stale_count.is_some()),
            ("--revoke-at", self.revoke_at.is_some()),
            ("--login-delay", self.login_delay.is_some()),
        ])
    }
}

/// Applies the flags of Bluesky's own knobs over a configuration (flags win; the core applies
/// the clock offset and the faults). Flags of the other networks were refused before
/// (`EmulatorArgs::check_flags`).
pub fn apply(args: &EmulatorArgs, config: &mut Config) -> Result<(), EmulatorError> {
    let b = &args.bluesky;
    if let Some(ttl) = b.access_ttl {
        config.sessions.access_ttl = ttl;
    }
    if let Some(switch) = b.did_doc {
        config.hosts.did_doc = switch == Switch::On;
    }
    if let Some(host) = b.pds_host {
        config.hosts.pds_host = host;
    }
    if let Some(writes) = b.entryway_writes {
        config.hosts.entryway_writes = writes;
    }
    if let Some(state) = b.appview {
        config.appview.state = state;
    }
    let limits = &mut config.limits;
    if let Some(n) = b.hourly_points {
        limits.hourly.points = n;
    }
    if let Some(w) = b.points_window {
        limits.hourly.window = w;
    }
    if let Some(n) = b.daily_points {
        limits.daily.points = n;
    }
    if let Some(n) = b.ip_limit {
        limits.per_ip.points = n;
    }
    if let Some(w) = b.ip_window {
        limits.per_ip.window = w;
    }
    if let Some(n) = b.session_limit {
        limits.session.points = n;
    }
    if let Some(switch) = args.rate_headers {
        limits.headers = switch == Switch::On;
    }
    if args.no_limits {
        limits.enabled = false;
    }
    if args.retry_after {
        limits.retry_after = true;
    }
    if let Some(n) = b.stale_at_write {
        config.stale.at_write = Some(n);
    }
    if let Some(n) = b.stale_count {
        config.stale.count = n;
    }
    if let Some(at) = b.revoke_at {
        config.sessions.revoke_at = Some(at);
    }
    if let Some(delay) = b.login_delay {
        config.sessions.login_delay = delay;
    }
    Ok(())
}

/// The stdout lines: the login host, then `account HANDLE DID password APP-PASSWORD` for each
/// account with an app password (the first one not revoked).
pub fn banner(entryway: SocketAddr, seed: &Seed) -> Vec<String> {
    let mut lines = vec![format!("listening on http://{entryway}")];
    for account in &seed.accounts {
        let Some(app) = account.app_passwords.first() else {
            continue;
        };
        let handle = seed
            .user(&account.did)
            .map(|u| u.handle.as_str())
            .unwrap_or_default();
        lines.push(format!(
            "account {handle} {} password {}",
            account.did, app.password
        ));
    }
    lines
}

/// Serves the Bluesky emulator until Ctrl-C.
pub async fn run(args: &EmulatorArgs) -> Result<(), EmulatorError> {
    start::launch::<State>(args).await
}

impl Startup for State {
    const BUILTIN_SEED: &'static str = "sample-data/bluesky-seed.json (builtin)";

    fn builtin_seed() -> Seed {
        Seed::builtin()
    }

    fn seed_from_json(bytes: &[u8]) -> Result<Seed, SeedError> {
        Seed::from_json(bytes)
    }

    fn apply(args: &EmulatorArgs, config: &mut Config) -> Result<(), EmulatorError> {
        apply(args, config)
    }

    /// The entryway (where clients log in, on `--port`), then the PDS (on `--pds-port`).
    fn servers(emulator: &Emulator) -> Vec<(&'static str, Router)> {
        vec![
            (ENTRYWAY, emulator.router(Host::Entryway)),
            (PDS, emulator.router(Host::Pds)),
        ]
    }

    fn port(args: &EmulatorArgs, name: &str) -> u16 {
        if name == PDS {
            args.bluesky.pds_port.unwrap_or(0)
        } else {
            args.port
        }
    }

    /// Sessions name the PDS by its port in their didDoc.
    fn bound(emulator: &Emulator, addrs: &[(&'static str, SocketAddr)]) {
        if let Some((_, pds)) = addrs.iter().find(|(name, _)| *name == PDS) {
            emulator.set_pds_port(pds.port());
        }
    }

    fn banner(running: &Running, seed: &Seed, _origin: &str) -> Vec<String> {
        banner(running.addr(), seed)
    }

    fn notice(running: &Running, _seed: &Seed, origin: &str) -> Option<String> {
        Some(format!(
            "bluesky emulator: the PDS is {} (sessions name it in their didDoc: {}); seed {origin}; admin views at /admin/state, /admin/requests, /admin/config",
            running.base_url_of(PDS).unwrap_or_default(),
            running.emulator.pds_url().unwrap_or_default(),
        ))
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

    fn load(args: &EmulatorArgs) -> Result<(Seed, Config, String), EmulatorError> {
        start::load::<State>(args)
    }

    fn parse(flags: &[&str]) -> EmulatorArgs {
        Cli::try_parse_from(std::iter::once("x").chain(flags.iter().copied()))
            .expect("flags parse")
            .args
    }

    #[test]
    fn flags_override_the_scenario() {
        let args = parse(&[
            "--network",
            "bluesky",
            "--access-ttl",
            "3s",
            "--did-doc",
            "off",
            "--pds-host",
            "ip",
            "--appview",
            "absent",
            "--hourly-points",
            "30",
            "--points-window",
            "2s",
            "--ip-limit",
            "50",
            "--rate-headers",
            "off",
            "--stale-at-write",
            "2",
            "--stale-count",
            "5",
            "--revoke-after",
            "7",
            "--fault-rate",
            "0.5",
        ]);
        let (_, config, _) = load(&args).expect("flags apply");
        assert_eq!(config.sessions.access_ttl, Duration::from_secs(3));
        assert!(!config.hosts.did_doc);
        assert_eq!(config.hosts.pds_host, PdsHost::Ip);
        assert_eq!(config.appview.state, AppViewState::Absent);
        assert_eq!(config.limits.hourly.points, 30);
        assert_eq!(config.limits.hourly.window, Duration::from_secs(2));
        assert_eq!(config.limits.per_ip.points, 50);
        assert!(!config.limits.headers);
        assert_eq!((config.stale.at_write, config.stale.count), (Some(2), 5));
        assert_eq!(config.faults.revoke_after, Some(7));
        assert_eq!(config.faults.over_capacity_rate, 0.5);
    }

    #[test]
    fn flags_of_the_other_network_are_refused_by_name() {
        let args = parse(&["--network", "bluesky", "--destroy-limit", "3"]);
        let err = args.check_flags().expect_err("refused");
        assert!(
            err.to_string()
                .starts_with("--destroy-limit does not apply to --network bluesky"),
            "{err}"
        );
        let args = parse(&["--appview", "down"]);
        assert_eq!(args.bluesky.given(), ["--appview"]);
        assert!(parse(&[]).bluesky.given().is_empty());
        let args = parse(&["--network", "bluesky", "--points-window", "500ms"]);
        assert!(matches!(load(&args), Err(EmulatorError::Config(_))));
    }

    #[test]
    fn the_banner_names_the_login_host_and_the_sample_accounts() {
        let seed = Seed::builtin();
        let lines = banner("127.0.0.1:4242".parse().expect("address"), &seed);
        assert_eq!(lines[0], "listening on http://127.0.0.1:4242");
        assert_eq!(lines.len(), 1 + seed.accounts.len());
        for (line, account) in lines[1..].iter().zip(&seed.accounts) {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words.len(), 5, "{line}");
            assert_eq!(words[0], "account");
            assert_eq!(words[2], account.did);
            assert_eq!(words[3], "password");
            assert_eq!(words[4], account.app_passwords[0].password);
            // The account password never appears.
            assert!(!line.contains(&account.password));
        }
    }
}
