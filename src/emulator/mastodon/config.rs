//! Every knob of the Mastodon emulator, with defaults that model a recent Mastodon as far as its
//! code and documentation show.
//!
//! Where the reference marks a behaviour UNVERIFIED, the knob exists so a test can try the other
//! reading; the default is the reference's best guess. A scenario file is this struct in TOML,
//! every field optional.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::emulator::config::{
    ConfigError, check_clock_offset, check_error_status, check_window, duration_text,
};
use crate::emulator::faults::Faults;

/// All knobs of the Mastodon emulator. `Config::default()` is the faithful model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Signed seconds added to real time to make the emulator's clock (used for `Date`, the
    /// throttles' windows and their `X-RateLimit-Reset`).
    pub clock_offset_secs: i64,
    /// What the instance says about itself.
    pub instance: InstanceConfig,
    /// The throttles (Rack::Attack's, in `config/initializers/rack_attack.rb`).
    pub limits: Limits,
    /// Answers where instances differ or the reference is uncertain, and page sizes.
    pub replies: Replies,
    /// Injected faults; all off by default.
    pub faults: Faults,
}

/// What `GET /api/v1/instance` and `/api/v2/instance` report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstanceConfig {
    /// The version string clients parse (Mastodon.py reads it to decide what it may call).
    pub version: String,
    /// `api_versions.mastodon` of `/api/v2/instance` (sent since 4.3.0); `None` leaves the
    /// field out, as older versions do.
    pub api_version: Option<u32>,
}

impl Default for InstanceConfig {
    fn default() -> InstanceConfig {
        InstanceConfig {
            version: "4.3.2".to_owned(),
            api_version: Some(2),
        }
    }
}

/// One throttle: `limit` requests per `period`, in windows aligned to the epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window length, whole seconds (a fraction is dropped, as Rack::Attack's periods are
    /// integers); windows run from `now - now mod period` to the next multiple.
    #[serde(with = "duration_text")]
    pub period: Duration,
}

impl Throttle {
    /// `limit` per `period` seconds.
    pub const fn new(limit: u32, period_secs: u64) -> Throttle {
        Throttle {
            limit,
            period: Duration::from_secs(period_secs),
        }
    }

    /// The period in whole seconds, at least 1.
    pub fn period_secs(&self) -> i64 {
        i64::try_from(self.period.as_secs())
            .unwrap_or(i64::MAX)
            .max(1)
    }
}

/// Which responses carry `X-RateLimit-Limit`, `-Remaining` and `-Reset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderMode {
    /// Every answer of the API's controllers (successes and their errors alike) and every 429:
    /// what a throttled request to a recent Mastodon gets.
    All,
    /// Only 429 answers (Rack::Attack's responder sets them; a proxy may strip the others).
    Only429,
    /// None at all, not even on a 429.
    None,
}

/// The throttles. Each request under `/api/` counts against every throttle that applies to it,
/// in Rack::Attack's order (per user, per token, per IP unauthenticated, paging per user,
/// paging per IP), and the first one it takes past its limit answers 429: later ones are not
/// counted, and, as in Rack::Attack, a refused request counts against those checked up to it.
/// A real instance safelists 127.0.0.1 and `::1`, so it never throttles a local client; the
/// emulator does not, or nothing could be tested.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// False turns every throttle off, headers included (a safelisted client, or benchmarks).
    pub enabled: bool,
    /// Which answers carry the rate headers. They describe the applicable throttle closest to
    /// its limit (`min_by limit - count`); a 429's describe the throttle that refused it, with
    /// remaining 0.
    pub headers: HeaderMode,
    /// `throttle_per_token_api`: every API request made with a token, per token.
    pub per_token: Throttle,
    /// `throttle_authenticated_api`: every API request of a user, per user (all its tokens).
    pub per_user: Throttle,
    /// `throttle_authenticated_paging`: API requests with a non-blank `max_id`, `since_id`,
    /// `min_id` or `page`, per user.
    pub paging: Throttle,
    /// `throttle_unauthenticated_api`: API requests without a usable token, per IP (every
    /// client of the emulator shares 127.0.0.1).
    pub unauthenticated: Throttle,
    /// `throttle_unauthenticated_paging`: paging requests without a usable token, per IP.
    pub unauthenticated_paging: Throttle,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            enabled: true,
            headers: HeaderMode::All,
            per_token: Throttle::new(300, 300),
            per_user: Throttle::new(1_500, 300),
            paging: Throttle::new(300, 900),
            unauthenticated: Throttle::new(300, 300),
            unauthenticated_paging: Throttle::new(300, 900),
        }
    }
}

impl Limits {
    /// Every throttle with its key in a scenario file.
    pub fn named(&self) -> [(&'static str, &Throttle); 5] {
        [
            ("per_token", &self.per_token),
            ("per_user", &self.per_user),
            ("paging", &self.paging),
            ("unauthenticated", &self.unauthenticated),
            ("unauthenticated_paging", &self.unauthenticated_paging),
        ]
    }
}

/// How a revoked token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedReply {
    /// 401 `The access token was revoked`: Doorkeeper's answer for a token whose `revoked_at`
    /// is set (the user revoked the app under Preferences → Account → Authorized apps).
    Revoked,
    /// 401 `The access token is invalid`: the answer once the token's row is gone (the app was
    /// deleted), the same as for a token that never existed.
    Invalid,
}

/// How an injected server error is shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorBody {
    /// An HTML page, as the reverse proxy (a 502/503/504 from nginx) or Rails' static
    /// `public/500.html` sends for a client that accepts anything.
    Html,
    /// `{"error":"…"}` JSON, as a Mastodon controller's own 5xx answers are shaped.
    Json,
}

/// Answers where instances differ or the reference is uncertain, and page sizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Replies {
    /// The `error` text of a 429 body (`I18n.t('errors.429')`; the wording is UNVERIFIED).
    pub too_many_requests: String,
    /// How a revoked token is refused.
    pub revoked: RevokedReply,
    /// The status of the injected "unavailable" fault (`faults.over_capacity_rate`): 503, or
    /// the 502/504 a proxy sends when the app server is down or slow.
    pub unavailable_status: u16,
    /// The body of injected 5xx answers.
    pub error_body: ErrorBody,
    /// Accounts per `GET /api/v1/blocks` page without `limit` (`DEFAULT_ACCOUNTS_LIMIT`).
    pub blocks_page: usize,
    /// The largest `limit` of `GET /api/v1/blocks` (twice the default in `limit_param`).
    pub blocks_page_max: usize,
    /// Domains per `GET /api/v1/domain_blocks` page without `limit` (`BLOCK_LIMIT`).
    pub domain_blocks_page: usize,
    /// The largest `limit` of `GET /api/v1/domain_blocks`.
    pub domain_blocks_page_max: usize,
}

impl Default for Replies {
    fn default() -> Replies {
        Replies {
            too_many_requests: "Too many requests".to_owned(),
            revoked: RevokedReply::Revoked,
            unavailable_status: 503,
            error_body: ErrorBody::Html,
            blocks_page: 40,
            blocks_page_max: 80,
            domain_blocks_page: 100,
            domain_blocks_page_max: 200,
        }
    }
}

crate::emulator::config::knobs!(Config);

impl Config {
    /// Checks every knob a scenario file, a flag or an admin patch can set to a value the
    /// emulator cannot honour, naming the first one found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, throttle) in self.limits.named() {
            check_window(&format!("limits.{name}.period"), throttle.period)?;
        }
        check_clock_offset(self.clock_offset_secs)?;
        self.faults.validate()?;
        check_error_status(
            "replies.unavailable_status",
            self.replies.unavailable_status,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_toml_overrides_only_what_it_names() {
        let text = r#"
            clock_offset_secs = -90
            [instance]
            version = "4.2.10"
            [limits]
            headers = "only429"
            per_token = { limit = 3, period = "2s" }
            paging = { limit = 2, period = 4 }
            [replies]
            revoked = "invalid"
            unavailable_status = 502
            [faults]
            drop_after_acting_rate = 0.5
            revoke_after = 4
        "#;
        let config: Config = toml::from_str(text).expect("scenario parses");
        assert_eq!(config.clock_offset_secs, -90);
        assert_eq!(config.instance.version, "4.2.10");
        assert_eq!(config.instance.api_version, Some(2));
        assert_eq!(config.limits.headers, HeaderMode::Only429);
        assert_eq!(config.limits.per_token, Throttle::new(3, 2));
        assert_eq!(config.limits.paging, Throttle::new(2, 4));
        assert_eq!(config.limits.per_user, Limits::default().per_user);
        assert_eq!(config.replies.revoked, RevokedReply::Invalid);
        assert_eq!(config.replies.unavailable_status, 502);
        assert_eq!(config.replies.blocks_page, 40);
        assert_eq!(config.faults.revoke_after, Some(4));
        assert_eq!(config.validate(), Ok(()));
        let back: Config =
            toml::from_str(&toml::to_string(&config).expect("serializes")).expect("parses back");
        assert_eq!(back, config);
        let json: Config =
            serde_json::from_str(&serde_json::to_string(&config).expect("json")).expect("back");
        assert_eq!(json, config);
    }

    #[test]
    fn the_defaults_are_the_real_throttles() {
        let l = Limits::default();
        assert_eq!(l.per_token, Throttle::new(300, 300));
        assert_eq!(l.per_user, Throttle::new(1_500, 300));
        assert_eq!(l.paging, Throttle::new(300, 900));
        assert_eq!(l.headers, HeaderMode::All);
        assert_eq!(Throttle::new(1, 0).period_secs(), 1);
    }

    #[test]
    fn validation_names_the_knob_that_cannot_be_honoured() {
        assert_eq!(Config::default().validate(), Ok(()));
        let check = |edit: fn(&mut Config), needle: &str| {
            let mut config = Config::default();
            edit(&mut config);
            let err = config.validate().expect_err("refused").to_string();
            assert!(err.contains(needle), "{err}");
        };
        check(
            |c| c.limits.paging.period = Duration::from_millis(500),
            "limits.paging.period",
        );
        check(
            |c| c.limits.per_token.period = Duration::from_secs(90_000),
            "limits.per_token.period",
        );
        check(|c| c.clock_offset_secs = i64::MAX, "clock offset");
        check(|c| c.faults.stall_rate = 2.0, "stall_rate");
        check(|c| c.replies.unavailable_status = 200, "unavailable_status");
        let err = toml::from_str::<Config>("[limits]\nper_tokn = 1\n").expect_err("typo");
        assert!(err.to_string().contains("per_tokn"), "{err}");
    }
}
