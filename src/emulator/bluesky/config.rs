//! Every knob of the Bluesky emulator, with defaults that model bsky.social and the reference
//! PDS as far as they are known.
//!
//! Where the reference marks a behaviour UNVERIFIED, the knob exists so a test can try the
//! other reading, and the default is the reference's best guess. A scenario file is this
//! struct in TOML, every field optional; `POST /admin/config` patches it as JSON.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::emulator::config::{
    ConfigError, check_clock_offset, check_error_status, check_window, duration_text,
    optional_duration_text,
};
use crate::emulator::faults::Faults;

/// All knobs of the Bluesky emulator. `Config::default()` is the faithful model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Signed seconds added to real time to make the emulator's clock (token expiry, rate
    /// windows, record keys, `Date`).
    pub clock_offset_secs: i64,
    /// The entryway and the PDS.
    pub hosts: Hosts,
    /// Sessions and app passwords.
    pub sessions: Sessions,
    /// The rate limiters.
    pub limits: Limits,
    /// The AppView behind `app.bsky.*`.
    pub appview: AppView,
    /// Handle resolution.
    pub identity: Identity,
    /// Records deleted behind the client's back.
    pub stale: Stale,
    /// Replies the reference leaves open.
    pub replies: Replies,
    /// Injected faults (the core's); they strike the repo writes unless `all_endpoints`.
    pub faults: Faults,
}

/// How the PDS is named in the session's didDoc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum PdsHost {
    /// `http://localhost:PORT`, as the reference PDS names itself (its identity resolver
    /// refuses IP literals), so a client must accept a PDS whose host differs from the login
    /// URL's.
    Localhost,
    /// `http://127.0.0.1:PORT`.
    Ip,
}

/// What the entryway does with a repo write while sessions name a separate PDS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum EntrywayWrites {
    /// 400 `InvalidRequest` naming the PDS, logged: catches a client that keeps writing to
    /// the host it logged in at instead of the PDS its session names.
    Refuse,
    /// Serve them, as a proxying entryway would (bsky.social forwards them to the PDS;
    /// UNVERIFIED in detail).
    Serve,
}

/// The entryway (where clients log in) and the PDS (where the repo lives).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hosts {
    /// Send a didDoc naming the PDS with every session (`enableDidDocWithSession`; bsky.social
    /// does; the reference PDS's own default is off). Off: no didDoc, and the entryway serves
    /// everything.
    pub did_doc: bool,
    /// How the didDoc names the PDS.
    pub pds_host: PdsHost,
    /// Repo writes sent to the entryway while a didDoc is sent.
    pub entryway_writes: EntrywayWrites,
}

impl Default for Hosts {
    fn default() -> Hosts {
        Hosts {
            did_doc: true,
            pds_host: PdsHost::Localhost,
            entryway_writes: EntrywayWrites::Refuse,
        }
    }
}

/// Sessions: token lifetimes, the login delay, and revocation of app passwords mid-run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sessions {
    /// How long an access token lives (the PDS: 120 minutes). Tests use seconds.
    #[serde(with = "duration_text")]
    pub access_ttl: Duration,
    /// How long a refresh token lives (the PDS: 90 days).
    #[serde(with = "duration_text")]
    pub refresh_ttl: Duration,
    /// How long a refresh token that was used keeps working, giving the same next token
    /// again (the PDS: 2 hours).
    #[serde(with = "duration_text")]
    pub refresh_grace: Duration,
    /// How long `createSession` takes at least (the PDS waits 350 ms against timing attacks).
    #[serde(with = "duration_text")]
    pub login_delay: Duration,
    /// Revoke every app password this long after the emulator started (the user revoking it
    /// in the settings mid-run). The revocation knobs counting writes and requests are
    /// `faults.revoke_after` and `faults.revoke_after_requests`.
    #[serde(
        default,
        with = "optional_duration_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub revoke_at: Option<Duration>,
    /// A revoked credential's access tokens stop working at once (400 `ExpiredToken` "Token
    /// has been revoked"). Off by default: on the PDS they keep working until they expire.
    pub revocation_ends_access: bool,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions {
            access_ttl: Duration::from_secs(2 * 3600),
            refresh_ttl: Duration::from_secs(90 * 86_400),
            refresh_grace: Duration::from_secs(2 * 3600),
            login_delay: Duration::from_millis(350),
            revoke_at: None,
            revocation_ends_access: false,
        }
    }
}

/// One rate limiter: `points` per `window`, the window opening at its first request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Points allowed per window.
    pub points: u32,
    /// The window's length (whole seconds on the wire: `RateLimit-Policy: N;w=SECONDS`).
    #[serde(with = "duration_text")]
    pub window: Duration,
}

impl Budget {
    /// `points` per `secs` seconds.
    pub fn new(points: u32, secs: u64) -> Budget {
        Budget {
            points,
            window: Duration::from_secs(secs),
        }
    }
}

/// The PDS's rate limiters. Every one charges a request before answering it, refused or not
/// (rate-limiter-flexible's behaviour), and the headers describe only the one with the fewest
/// points left, or the one that refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// False turns every limiter off (and their headers), as the reference PDS runs by
    /// default; bsky.social has them on.
    pub enabled: bool,
    /// Send `RateLimit-Limit/Remaining/Reset/Policy` on rate-limited answers.
    pub headers: bool,
    /// Send `Retry-After` (seconds) on a 429.
    pub retry_after: bool,
    /// Write points per account per hour (the PDS: 5,000 per hour).
    pub hourly: Budget,
    /// Write points per account per day (the PDS: 35,000 per day).
    pub daily: Budget,
    /// Requests per IP on every XRPC call (the PDS: 3,000 per 5 minutes).
    pub per_ip: Budget,
    /// `createSession` per identifier and IP (the PDS: 30 per 5 minutes).
    pub session: Budget,
    /// `createSession` per identifier and IP per day (the PDS: 300).
    pub session_daily: Budget,
    /// Points a record creation costs (the PDS: 3).
    pub create_points: u32,
    /// Points a record update costs (the PDS: 2).
    pub update_points: u32,
    /// Points a record deletion costs (the PDS: 1).
    pub delete_points: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            enabled: true,
            headers: true,
            retry_after: true,
            hourly: Budget::new(5000, 3600),
            daily: Budget::new(35_000, 86_400),
            per_ip: Budget::new(3000, 300),
            session: Budget::new(30, 300),
            session_daily: Budget::new(300, 86_400),
            create_points: 3,
            update_points: 2,
            delete_points: 1,
        }
    }
}

impl Limits {
    /// Every limiter with its key in a scenario file.
    pub fn named(&self) -> [(&'static str, &Budget); 5] {
        [
            ("hourly", &self.hourly),
            ("daily", &self.daily),
            ("per_ip", &self.per_ip),
            ("session", &self.session),
            ("session_daily", &self.session_daily),
        ]
    }
}

/// Whether the PDS reaches an AppView for `app.bsky.*` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AppViewState {
    /// Configured and answering.
    Up,
    /// Not configured: 400 `InvalidRequest` "No service configured for NSID".
    Absent,
    /// Configured but unreachable: 502 `UpstreamFailure` "Upstream service unreachable".
    Down,
}

/// The AppView behind `app.bsky.*` (and behind `resolveHandle` for handles of other hosts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppView {
    /// Up, absent or down.
    pub state: AppViewState,
    /// Actors one `getProfiles` takes (the lexicon: 25).
    pub max_actors: usize,
}

impl Default for AppView {
    fn default() -> AppView {
        AppView {
            state: AppViewState::Up,
            max_actors: 25,
        }
    }
}

/// Handle resolution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Identity {
    /// The PDS's own handle domains: an unknown handle under one of them is 400
    /// `HandleNotFound`, any other unknown handle 400 `InvalidRequest` (both "Unable to
    /// resolve handle").
    pub service_domains: Vec<String>,
}

impl Default for Identity {
    fn default() -> Identity {
        Identity {
            service_domains: vec![".bsky.test".to_owned()],
        }
    }
}

/// Records deleted behind the client's back: a client that listed them and then deletes in
/// batches meets a missing record (an `applyWrites` 500 that is not a server fault).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stale {
    /// When the emulator's Nth repo write request (from 1, counting every account's since it
    /// started) is admitted, delete records of the writer's repo first, once. `None`: never.
    pub at_write: Option<u64>,
    /// How many records to delete.
    pub count: usize,
    /// Or this fraction of the collection's records, when it is more than `count` (values
    /// outside 0–1 are clamped).
    pub fraction: f64,
    /// The collection whose records are deleted.
    pub collection: String,
}

impl Default for Stale {
    fn default() -> Stale {
        Stale {
            at_write: None,
            count: 0,
            fraction: 0.0,
            collection: super::BLOCK.to_owned(),
        }
    }
}

/// Replies the reference leaves open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Replies {
    /// The status of the injected "over capacity" fault (`faults.over_capacity_rate`); its
    /// body names the XRPC error of that status (503 `NotEnoughResources`). What bsky.social's
    /// load balancers answer is UNVERIFIED.
    pub fault_status: u16,
    /// Writes one `applyWrites` takes (the PDS: 200).
    pub max_writes: usize,
}

impl Default for Replies {
    fn default() -> Replies {
        Replies {
            fault_status: 503,
            max_writes: 200,
        }
    }
}

crate::emulator::config::knobs!(Config);

impl Config {
    /// Checks every knob a scenario file, a flag or an admin patch can set to a value the
    /// emulator cannot honour, naming the first one found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, budget) in self.limits.named() {
            check_window(&format!("limits.{name}.window"), budget.window)?;
        }
        check_clock_offset(self.clock_offset_secs)?;
        self.faults.validate()?;
        check_error_status("replies.fault_status", self.replies.fault_status)
    }

    /// The stale fraction, clamped to 0–1 (NaN counts as 0).
    pub fn stale_fraction(&self) -> f64 {
        if self.stale.fraction.is_nan() {
            0.0
        } else {
            self.stale.fraction.clamp(0.0, 1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_toml_overrides_only_what_it_names() {
        let text = r#"
            clock_offset_secs = 30
            [hosts]
            did_doc = false
            pds_host = "ip"
            [sessions]
            access_ttl = "3s"
            revoke_at = "10s"
            [limits]
            hourly = { points = 20, window = "2s" }
            [appview]
            state = "down"
            [stale]
            at_write = 3
            count = 2
            [faults]
            internal_error_rate = 0.5
            revoke_after = 4
        "#;
        let config: Config = toml::from_str(text).expect("scenario parses");
        assert!(!config.hosts.did_doc);
        assert_eq!(config.hosts.pds_host, PdsHost::Ip);
        assert_eq!(config.sessions.access_ttl, Duration::from_secs(3));
        assert_eq!(config.sessions.revoke_at, Some(Duration::from_secs(10)));
        assert_eq!(config.sessions.refresh_grace, Duration::from_secs(7200));
        assert_eq!(config.limits.hourly, Budget::new(20, 2));
        assert_eq!(config.limits.per_ip, Budget::new(3000, 300));
        assert_eq!(config.appview.state, AppViewState::Down);
        assert_eq!((config.stale.at_write, config.stale.count), (Some(3), 2));
        assert_eq!(config.stale.collection, "app.bsky.graph.block");
        assert_eq!(config.faults.revoke_after, Some(4));
        assert_eq!(config.validate(), Ok(()));
        let back: Config =
            toml::from_str(&toml::to_string(&config).expect("serializes")).expect("parses back");
        assert_eq!(back, config);
        let err = toml::from_str::<Config>("[limits]\nhourli = 3\n").expect_err("unknown key");
        assert!(err.to_string().contains("hourli"), "{err}");
    }

    #[test]
    fn validation_names_the_knob() {
        let check = |edit: fn(&mut Config), needle: &str| {
            let mut config = Config::default();
            edit(&mut config);
            let err = config.validate().expect_err("refused").to_string();
            assert!(err.contains(needle), "{err}");
        };
        check(
            |c| c.limits.per_ip.window = Duration::from_millis(500),
            "limits.per_ip.window",
        );
        check(
            |c| c.limits.daily.window = Duration::from_secs(86_401),
            "limits.daily.window",
        );
        check(|c| c.replies.fault_status = 200, "replies.fault_status");
        check(
            |c| c.faults.drop_after_acting_rate = 2.0,
            "drop_after_acting",
        );
        check(|c| c.clock_offset_secs = i64::MAX, "clock offset");
        let mut c = Config::default();
        c.stale.fraction = f64::NAN;
        assert_eq!(c.stale_fraction(), 0.0);
        c.stale.fraction = 3.0;
        assert_eq!(c.stale_fraction(), 1.0);
    }

    #[test]
    fn the_sample_scenario_names_every_knob_at_its_default() {
        let text = include_str!("../../../sample-data/bluesky-scenario.toml");
        let config: Config = toml::from_str(text).expect("the sample scenario parses");
        assert_eq!(config, Config::default());
        // Every key of the default configuration appears in it (optional ones commented out).
        let defaults = toml::to_string(&Config::default()).expect("serializes");
        for line in defaults.lines() {
            if let Some((key, _)) = line.split_once(" = ") {
                assert!(
                    text.contains(&format!("{key} = ")),
                    "{key} is not in the sample"
                );
            }
        }
        for optional in [
            "revoke_at",
            "at_write",
            "revoke_after",
            "revoke_after_requests",
        ] {
            assert!(text.contains(&format!("# {optional} = ")), "{optional}");
        }
    }
}
