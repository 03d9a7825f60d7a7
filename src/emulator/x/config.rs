//! Every knob of the X emulator, with defaults that model the real API as far as it is known.
//!
//! Where the reference marks a behaviour UNVERIFIED, the knob exists so a test can try the other
//! reading; the default is the reference's best guess. A scenario file is this struct in TOML,
//! every field optional.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::route::Endpoint;
use crate::emulator::config::{
    ConfigError, check_clock_offset, check_error_status, check_window, duration_text,
    optional_duration_text,
};
use crate::emulator::faults::Faults;

/// All knobs of the X emulator. `Config::default()` is the faithful model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Signed seconds added to real time to make the emulator's clock (used for `Date`, rate
    /// resets and the OAuth timestamp check).
    pub clock_offset_secs: i64,
    /// OAuth verification knobs.
    pub auth: AuthConfig,
    /// Rate-limit knobs.
    pub limits: Limits,
    /// Replies where the real API's behaviour is uncertain.
    pub replies: Replies,
    /// Injected faults; all off by default.
    pub faults: Faults,
}

/// OAuth 1.0a verification knobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// How far `oauth_timestamp` may be from the emulator's clock before 401 code 135.
    #[serde(with = "duration_text")]
    pub skew_window: Duration,
    /// Reject a nonce seen before (within the skew window) with 401 code 32.
    pub check_nonce: bool,
    /// Endpoints (by name, as in the statistics: `blocks/ids`, `users/lookup`, `v2/users/me`,
    /// …) where every request whose signature checks out is refused as out of bounds,
    /// whatever its timestamp: 401 code 135 `Timestamp out of bounds.` (on v2, the v2 401).
    /// It lets a client's tests check that retrying a refused timestamp stops after a bounded
    /// number of tries.
    #[serde(with = "endpoint_names")]
    pub refuse_timestamps: Vec<Endpoint>,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            skew_window: Duration::from_secs(300),
            check_nonce: false,
            refuse_timestamps: Vec::new(),
        }
    }
}

/// Whether an endpoint's responses carry `x-rate-limit-*` headers.
///
/// Every 429 announces remaining 0 and a future reset for the limit that refused it. When that
/// is a 24-hour cap, its own `x-user-limit-24hour-*` / `x-app-limit-24hour-*` headers say so,
/// and in mode `headers` the short window's headers keep telling its true count rather than
/// claim it spent: each header family describes its own limit, so a client reading both learns
/// which one refused and waits for that reset. (How the real API fills them on such a 429 is
/// UNVERIFIED; this is the emulator's reading.) The caps' headers are sent whenever a cap is
/// set, whatever the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderMode {
    /// Send `x-rate-limit-limit/remaining/reset` of the short window on every response of the
    /// endpoint; every 429 (the window's, a 24-hour cap's, a spurious one) says remaining 0
    /// and the reset of the limit that refused it.
    Headers,
    /// Send none, except that a 429 carries `x-rate-limit-remaining: 0` and the reset of the
    /// limit that refused it when [`Limits::reset_on_429`] is set.
    None,
}

/// The limit of one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointLimit {
    /// Requests allowed per window and access token.
    pub limit: u32,
    /// Whether responses carry the rate headers.
    pub headers: HeaderMode,
    /// This endpoint's window length, overriding [`Limits::window`] (`None`: the global one).
    #[serde(
        default,
        with = "optional_duration_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub window: Option<Duration>,
    /// An optional 24-hour cap per access token, announced by `x-user-limit-24hour-*` headers.
    #[serde(default)]
    pub daily_limit: Option<u32>,
    /// An optional 24-hour cap per app (consumer key), shared by every token of the app and
    /// announced by `x-app-limit-24hour-*` headers. Off by default: it is UNVERIFIED for the
    /// block endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_daily_limit: Option<u32>,
}

impl EndpointLimit {
    /// `limit` requests per window with the given header mode, on the global window length and
    /// with no 24-hour cap.
    pub fn new(limit: u32, headers: HeaderMode) -> EndpointLimit {
        EndpointLimit {
            limit,
            headers,
            window: None,
            daily_limit: None,
            app_daily_limit: None,
        }
    }
}

/// Rate limits: fixed windows per access token and endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// False turns every limit off (benchmarks); headers are then not sent either.
    pub enabled: bool,
    /// The window length of every endpoint that does not set its own
    /// ([`EndpointLimit::window`]); from [`MIN_WINDOW`](crate::emulator::config::MIN_WINDOW) to
    /// [`MAX_WINDOW`](crate::emulator::config::MAX_WINDOW).
    #[serde(with = "duration_text")]
    pub window: Duration,
    /// A 429 carries `x-rate-limit-remaining: 0` and the reset even in header mode `none`.
    /// That reset is the one of the limit that refused the request: the 24-hour cap's when a
    /// cap refused it, so a client that reads only `x-rate-limit-*` waits long enough.
    pub reset_on_429: bool,
    /// A 429 carries `Retry-After` (seconds until the reset).
    pub retry_after: bool,
    /// `POST /1.1/blocks/destroy.json`.
    pub destroy: EndpointLimit,
    /// `POST /1.1/blocks/create.json`.
    pub create: EndpointLimit,
    /// `GET /1.1/blocks/ids.json`.
    pub ids: EndpointLimit,
    /// `GET /1.1/blocks/list.json`.
    pub list: EndpointLimit,
    /// `GET|POST /1.1/users/lookup.json`.
    pub lookup: EndpointLimit,
    /// `GET /1.1/account/verify_credentials.json`.
    pub verify: EndpointLimit,
    /// `GET /1.1/application/rate_limit_status.json`.
    pub rate_limit_status: EndpointLimit,
    /// `GET /2/users/me`.
    pub v2_me: EndpointLimit,
    /// `DELETE /2/users/{source}/blocking/{target}`.
    pub v2_unblock: EndpointLimit,
    /// `POST /2/users/{id}/blocking`.
    pub v2_block: EndpointLimit,
    /// `GET /2/users/{id}/blocking`.
    pub v2_blocking: EndpointLimit,
    /// `GET /2/users/by`.
    pub v2_users_by: EndpointLimit,
    /// `GET /2/users?ids=`.
    pub v2_users: EndpointLimit,
    /// `GET /2/users/by/username/{username}`.
    pub v2_user_by_username: EndpointLimit,
}

impl Default for Limits {
    fn default() -> Limits {
        use HeaderMode::{Headers, None};
        Limits {
            enabled: true,
            window: Duration::from_secs(15 * 60),
            reset_on_429: true,
            retry_after: false,
            // Real v1.1 block POSTs carried no rate headers; 50 matches the v2 equivalents.
            destroy: EndpointLimit::new(50, None),
            create: EndpointLimit::new(50, None),
            ids: EndpointLimit::new(15, Headers),
            list: EndpointLimit::new(15, Headers),
            lookup: EndpointLimit::new(900, Headers),
            verify: EndpointLimit::new(75, Headers),
            rate_limit_status: EndpointLimit::new(180, Headers),
            v2_me: EndpointLimit::new(75, Headers),
            v2_unblock: EndpointLimit::new(50, Headers),
            v2_block: EndpointLimit::new(50, Headers),
            v2_blocking: EndpointLimit::new(15, Headers),
            v2_users_by: EndpointLimit::new(900, Headers),
            v2_users: EndpointLimit::new(900, Headers),
            v2_user_by_username: EndpointLimit::new(900, Headers),
        }
    }
}

impl Limits {
    /// The window length of an endpoint: its own, else the global one.
    pub fn window_of(&self, endpoint: Endpoint) -> Duration {
        self.of(endpoint)
            .and_then(|l| l.window)
            .unwrap_or(self.window)
    }

    /// Every endpoint's limit with its key in a scenario file.
    pub fn named(&self) -> [(&'static str, &EndpointLimit); 14] {
        [
            ("destroy", &self.destroy),
            ("create", &self.create),
            ("ids", &self.ids),
            ("list", &self.list),
            ("lookup", &self.lookup),
            ("verify", &self.verify),
            ("rate_limit_status", &self.rate_limit_status),
            ("v2_me", &self.v2_me),
            ("v2_unblock", &self.v2_unblock),
            ("v2_block", &self.v2_block),
            ("v2_blocking", &self.v2_blocking),
            ("v2_users_by", &self.v2_users_by),
            ("v2_users", &self.v2_users),
            ("v2_user_by_username", &self.v2_user_by_username),
        ]
    }

    /// The limit of an endpoint; `None` for routes that are not rate limited.
    pub fn of(&self, endpoint: Endpoint) -> Option<&EndpointLimit> {
        Some(match endpoint {
            Endpoint::BlocksDestroy => &self.destroy,
            Endpoint::BlocksCreate => &self.create,
            Endpoint::BlocksIds => &self.ids,
            Endpoint::BlocksList => &self.list,
            Endpoint::UsersLookup => &self.lookup,
            Endpoint::VerifyCredentials => &self.verify,
            Endpoint::RateLimitStatus => &self.rate_limit_status,
            Endpoint::V2Me => &self.v2_me,
            Endpoint::V2Unblock => &self.v2_unblock,
            Endpoint::V2Block => &self.v2_block,
            Endpoint::V2Blocking => &self.v2_blocking,
            Endpoint::V2UsersBy => &self.v2_users_by,
            Endpoint::V2Users => &self.v2_users,
            Endpoint::V2UserByUsername => &self.v2_user_by_username,
            Endpoint::Unknown => return Option::None,
        })
    }

    /// Mutable access for overrides.
    pub fn of_mut(&mut self, endpoint: Endpoint) -> Option<&mut EndpointLimit> {
        Some(match endpoint {
            Endpoint::BlocksDestroy => &mut self.destroy,
            Endpoint::BlocksCreate => &mut self.create,
            Endpoint::BlocksIds => &mut self.ids,
            Endpoint::BlocksList => &mut self.list,
            Endpoint::UsersLookup => &mut self.lookup,
            Endpoint::VerifyCredentials => &mut self.verify,
            Endpoint::RateLimitStatus => &mut self.rate_limit_status,
            Endpoint::V2Me => &mut self.v2_me,
            Endpoint::V2Unblock => &mut self.v2_unblock,
            Endpoint::V2Block => &mut self.v2_block,
            Endpoint::V2Blocking => &mut self.v2_blocking,
            Endpoint::V2UsersBy => &mut self.v2_users_by,
            Endpoint::V2Users => &mut self.v2_users,
            Endpoint::V2UserByUsername => &mut self.v2_user_by_username,
            Endpoint::Unknown => return Option::None,
        })
    }
}

/// How `blocks/destroy` answers for a user who exists but is not blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotBlockedReply {
    /// 200 with the user object and no change (the v2 docs' "succeeds with no action").
    Ok,
    /// 404 code 34.
    NotFound,
}

/// How a suspended target is answered by `blocks/create` and `blocks/destroy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspendedReply {
    /// 404 code 50 `User not found.` (what Block Together saw).
    NotFound,
    /// 403 code 63 `User has been suspended.` (what users/show answers).
    Suspended,
}

/// Replies the reference leaves uncertain, and page sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Replies {
    /// `blocks/destroy` on an existing user who is not blocked.
    pub not_blocked: NotBlockedReply,
    /// The error code (HTTP 404) for an ID that never existed: 50 or 34.
    pub unknown_user_code: u32,
    /// A suspended target of `blocks/create` or `blocks/destroy`.
    pub suspended: SuspendedReply,
    /// The error code (HTTP 400) when neither `user_id` nor `screen_name` is given.
    pub missing_param_code: u32,
    /// IDs per `blocks/ids` page (real: 5000); small values let tests page.
    pub ids_page_size: usize,
    /// Users per `blocks/list` page. The reference copies the 5000 of `blocks/ids`, which
    /// cannot be right for whole user objects; the real size is UNVERIFIED, so 20 by default.
    pub list_page_size: usize,
    /// Terms allowed in one `users/lookup` request.
    pub lookup_max_terms: usize,
    /// The HTTP status of the too-many-terms error (code 18).
    pub too_many_terms_status: u16,
    /// Send `x-access-level` on authenticated v1.1 responses.
    pub access_level_header: bool,
    /// The v2 block endpoints answer the access-tier 403 (`client-forbidden`), as they do for
    /// any app below Enterprise.
    pub v2_blocks_forbidden: bool,
}

impl Default for Replies {
    fn default() -> Replies {
        Replies {
            not_blocked: NotBlockedReply::Ok,
            unknown_user_code: 50,
            suspended: SuspendedReply::NotFound,
            missing_param_code: 38,
            ids_page_size: 5000,
            list_page_size: 20,
            lookup_max_terms: 100,
            too_many_terms_status: 403,
            access_level_header: true,
            v2_blocks_forbidden: false,
        }
    }
}

crate::emulator::config::knobs!(Config);

impl Config {
    /// Checks every knob a scenario file, a flag or an admin patch can set to a value the
    /// emulator cannot honour, naming the first one found. (The emulator itself never panics on
    /// such values: it saturates. This is what tells the person who typed them.)
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_window("limits.window", self.limits.window)?;
        for (name, limit) in self.limits.named() {
            if let Some(w) = limit.window {
                check_window(&format!("limits.{name}.window"), w)?;
            }
        }
        check_clock_offset(self.clock_offset_secs)?;
        self.faults.validate()?;
        check_error_status(
            "replies.too_many_terms_status",
            self.replies.too_many_terms_status,
        )
    }
}

/// Endpoints in knobs, by [`Endpoint::name`]: `["blocks/ids", "users/lookup"]`.
pub(crate) mod endpoint_names {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    use super::Endpoint;
    use crate::emulator::config::ConfigError;

    pub fn serialize<S: Serializer>(endpoints: &[Endpoint], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(endpoints.iter().map(|e| e.name()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Endpoint>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|name| parse(name, "auth.refuse_timestamps").map_err(D::Error::custom))
            .collect()
    }

    /// The endpoint `name` names, or the error naming `knob` and the names there are.
    pub fn parse(name: &str, knob: &str) -> Result<Endpoint, ConfigError> {
        Endpoint::named(name.trim()).ok_or_else(|| ConfigError::UnknownEndpoint {
            knob: knob.to_owned(),
            name: name.to_owned(),
            known: Endpoint::ALL
                .iter()
                .filter(|e| **e != Endpoint::Unknown)
                .map(|e| e.name())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::{MAX_CLOCK_OFFSET_SECS, MAX_WINDOW, MIN_WINDOW};

    #[test]
    fn scenario_toml_overrides_only_what_it_names() {
        let text = r#"
            clock_offset_secs = -90
            [limits]
            window = "2s"
            destroy = { limit = 3, headers = "headers" }
            [replies]
            suspended = "suspended"
            [faults]
            latency_ms = 5
            stall = "1500ms"
            revoke_after = 4
        "#;
        let config: Config = toml::from_str(text).expect("scenario parses");
        assert_eq!(config.clock_offset_secs, -90);
        assert_eq!(config.limits.window, Duration::from_secs(2));
        assert_eq!(config.limits.destroy.limit, 3);
        assert_eq!(config.limits.destroy.headers, HeaderMode::Headers);
        assert_eq!(config.limits.ids, Limits::default().ids);
        assert_eq!(config.replies.suspended, SuspendedReply::Suspended);
        assert_eq!(config.faults.stall, Duration::from_millis(1500));
        assert_eq!(config.faults.revoke_after, Some(4));
        assert_eq!(config.auth, AuthConfig::default());
    }

    #[test]
    fn blocks_list_and_single_user_lookup_have_limits_and_a_page_size() {
        let config: Config =
            toml::from_str("[replies]\nlist_page_size = 3\n").expect("scenario parses");
        assert_eq!(config.replies.list_page_size, 3);
        assert_eq!(Replies::default().list_page_size, 20);
        assert_eq!(
            Limits::default().list,
            EndpointLimit::new(15, HeaderMode::Headers)
        );
        assert_eq!(
            Limits::default().v2_user_by_username,
            EndpointLimit::new(900, HeaderMode::Headers)
        );
        let text = "[limits]\nlist = { limit = 2, headers = \"none\", window = \"3s\" }\n";
        let config: Config = toml::from_str(text).expect("scenario parses");
        assert_eq!(
            config.limits.window_of(Endpoint::BlocksList),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn scenario_toml_names_endpoints_whose_timestamps_are_refused() {
        let text = r#"
            [auth]
            refuse_timestamps = ["blocks/ids", "users/lookup", "v2/users/me"]
        "#;
        let config: Config = toml::from_str(text).expect("scenario parses");
        assert_eq!(
            config.auth.refuse_timestamps,
            [Endpoint::BlocksIds, Endpoint::UsersLookup, Endpoint::V2Me]
        );
        let back: Config =
            toml::from_str(&toml::to_string(&config).expect("serializes")).expect("parses back");
        assert_eq!(back, config);
        for bad in ["blocks_ids", "unknown", "blocks/ids.json"] {
            let err =
                toml::from_str::<Config>(&format!("[auth]\nrefuse_timestamps = [\"{bad}\"]\n"))
                    .expect_err("refused");
            let text = err.to_string();
            assert!(
                text.contains(bad) && text.contains("blocks/destroy, blocks/create"),
                "{text}"
            );
        }
        assert_eq!(Config::default().auth.refuse_timestamps, []);
    }

    #[test]
    fn unknown_scenario_keys_are_rejected() {
        let err = toml::from_str::<Config>("[limits]\nwindw = \"2s\"\n").unwrap_err();
        assert!(err.to_string().contains("windw"), "{err}");
    }

    #[test]
    fn config_round_trips_through_toml() {
        let mut config = Config::default();
        config.limits.window = Duration::from_secs(2);
        config.limits.ids.window = Some(Duration::from_millis(2500));
        config.limits.destroy.app_daily_limit = Some(40);
        config.faults.revoke_after = Some(3);
        config.faults.revoke_after_requests = Some(8);
        let text = toml::to_string(&config).expect("serializes");
        let back: Config = toml::from_str(&text).expect("parses back");
        assert_eq!(back, config);
        let json = serde_json::to_string(&config).expect("serializes");
        let back: Config = serde_json::from_str(&json).expect("parses back");
        assert_eq!(back, config);
    }

    #[test]
    fn scenario_toml_sets_per_endpoint_windows_caps_and_request_revocation() {
        let text = r#"
            [limits]
            window = "1m"
            destroy = { limit = 3, headers = "headers", window = "2s", daily_limit = 30, app_daily_limit = 45 }
            ids = { limit = 15, headers = "headers", window = 5 }
            [faults]
            revoke_after_requests = 9
        "#;
        let config: Config = toml::from_str(text).expect("scenario parses");
        let l = &config.limits;
        assert_eq!(l.window_of(Endpoint::BlocksDestroy), Duration::from_secs(2));
        assert_eq!(l.window_of(Endpoint::BlocksIds), Duration::from_secs(5));
        assert_eq!(l.window_of(Endpoint::UsersLookup), Duration::from_secs(60));
        assert_eq!(l.window_of(Endpoint::Unknown), Duration::from_secs(60));
        assert_eq!(
            (l.destroy.daily_limit, l.destroy.app_daily_limit),
            (Some(30), Some(45))
        );
        assert_eq!(config.faults.revoke_after_requests, Some(9));
        assert_eq!(config.faults.revoke_after, None);
        assert_eq!(config.validate(), Ok(()));
        // The existing spelling, without the new keys, still reads.
        let old: Config = toml::from_str("[limits]\ndestroy = { limit = 3, headers = \"none\" }\n")
            .expect("parses");
        assert_eq!(old.limits.destroy, EndpointLimit::new(3, HeaderMode::None));
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
        check(|c| c.limits.window = Duration::MAX, "limits.window");
        check(
            |c| c.limits.window = Duration::from_millis(999),
            "limits.window",
        );
        check(
            |c| c.limits.v2_unblock.window = Some(Duration::from_secs(86_401)),
            "limits.v2_unblock.window",
        );
        check(|c| c.clock_offset_secs = i64::MIN, "clock offset");
        check(
            |c| c.faults.over_capacity_rate = f64::NAN,
            "over_capacity_rate",
        );
        check(|c| c.faults.spurious_429_rate = -0.1, "spurious_429_rate");
        check(
            |c| c.replies.too_many_terms_status = 200,
            "too_many_terms_status",
        );
        let mut edge = Config::default();
        edge.limits.window = MAX_WINDOW;
        edge.limits.destroy.window = Some(MIN_WINDOW);
        edge.clock_offset_secs = -MAX_CLOCK_OFFSET_SECS;
        assert_eq!(edge.validate(), Ok(()));
    }
}
