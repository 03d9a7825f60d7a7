//! Every knob of the emulator, with defaults that model the real API as far as it is known.
//!
//! Where the reference marks a behaviour UNVERIFIED, the knob exists so a test can try the other
//! reading; the default is the reference's best guess. A scenario file is this struct in TOML,
//! every field optional.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::route::Endpoint;

/// All knobs. `Config::default()` is the faithful model.
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
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            skew_window: Duration::from_secs(300),
            check_nonce: false,
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
    /// ([`EndpointLimit::window`]); from [`MIN_WINDOW`] to [`MAX_WINDOW`].
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
            lookup: EndpointLimit::new(900, Headers),
            verify: EndpointLimit::new(75, Headers),
            rate_limit_status: EndpointLimit::new(180, Headers),
            v2_me: EndpointLimit::new(75, Headers),
            v2_unblock: EndpointLimit::new(50, Headers),
            v2_block: EndpointLimit::new(50, Headers),
            v2_blocking: EndpointLimit::new(15, Headers),
            v2_users_by: EndpointLimit::new(900, Headers),
            v2_users: EndpointLimit::new(900, Headers),
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
    pub fn named(&self) -> [(&'static str, &EndpointLimit); 12] {
        [
            ("destroy", &self.destroy),
            ("create", &self.create),
            ("ids", &self.ids),
            ("lookup", &self.lookup),
            ("verify", &self.verify),
            ("rate_limit_status", &self.rate_limit_status),
            ("v2_me", &self.v2_me),
            ("v2_unblock", &self.v2_unblock),
            ("v2_block", &self.v2_block),
            ("v2_blocking", &self.v2_blocking),
            ("v2_users_by", &self.v2_users_by),
            ("v2_users", &self.v2_users),
        ]
    }

    /// The limit of an endpoint; `None` for routes that are not rate limited.
    pub fn of(&self, endpoint: Endpoint) -> Option<&EndpointLimit> {
        Some(match endpoint {
            Endpoint::BlocksDestroy => &self.destroy,
            Endpoint::BlocksCreate => &self.create,
            Endpoint::BlocksIds => &self.ids,
            Endpoint::UsersLookup => &self.lookup,
            Endpoint::VerifyCredentials => &self.verify,
            Endpoint::RateLimitStatus => &self.rate_limit_status,
            Endpoint::V2Me => &self.v2_me,
            Endpoint::V2Unblock => &self.v2_unblock,
            Endpoint::V2Block => &self.v2_block,
            Endpoint::V2Blocking => &self.v2_blocking,
            Endpoint::V2UsersBy => &self.v2_users_by,
            Endpoint::V2Users => &self.v2_users,
            Endpoint::Unknown => return Option::None,
        })
    }

    /// Mutable access for overrides.
    pub fn of_mut(&mut self, endpoint: Endpoint) -> Option<&mut EndpointLimit> {
        Some(match endpoint {
            Endpoint::BlocksDestroy => &mut self.destroy,
            Endpoint::BlocksCreate => &mut self.create,
            Endpoint::BlocksIds => &mut self.ids,
            Endpoint::UsersLookup => &mut self.lookup,
            Endpoint::VerifyCredentials => &mut self.verify,
            Endpoint::RateLimitStatus => &mut self.rate_limit_status,
            Endpoint::V2Me => &mut self.v2_me,
            Endpoint::V2Unblock => &mut self.v2_unblock,
            Endpoint::V2Block => &mut self.v2_block,
            Endpoint::V2Blocking => &mut self.v2_blocking,
            Endpoint::V2UsersBy => &mut self.v2_users_by,
            Endpoint::V2Users => &mut self.v2_users,
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
            lookup_max_terms: 100,
            too_many_terms_status: 403,
            access_level_header: true,
            v2_blocks_forbidden: false,
        }
    }
}

/// Injected faults. Probabilities are per request, drawn from an RNG seeded with `seed`, so a
/// run with the same requests in the same order replays the same faults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// The RNG seed.
    pub seed: u64,
    /// Fixed delay before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Extra uniform random delay (0..=jitter) before every answer, in milliseconds.
    pub jitter_ms: u64,
    /// Apply the fault rates to every endpoint, not only the mutating ones.
    pub all_endpoints: bool,
    /// Probability of 503 code 130 `Over capacity.` (nothing done).
    pub over_capacity_rate: f64,
    /// Probability of 500 code 131 `Internal error.` (nothing done).
    pub internal_error_rate: f64,
    /// Probability that the request acts and then the response breaks off: the client receives
    /// the status line and headers of the real answer (e.g. 200), then the connection closes
    /// mid-body, so reading the body fails (reqwest: `send()` succeeds, `bytes()` errs).
    pub drop_after_acting_rate: f64,
    /// Probability of a stall: the answer waits `stall` first (a client's timeout fires).
    pub stall_rate: f64,
    /// How long a stall lasts.
    #[serde(with = "duration_text")]
    pub stall: Duration,
    /// Probability of a 429 although the window has room (the request is not counted). Like
    /// every 429 it says the window is spent: in header mode `headers` it carries
    /// `x-rate-limit-remaining: 0` and the window's reset; in mode `none` it follows
    /// `limits.reset_on_429`.
    pub spurious_429_rate: f64,
    /// Revoke an access token once this many mutating requests made with it have succeeded
    /// (block writes answered 2xx); its next request gets 401 code 89.
    pub revoke_after: Option<u64>,
    /// Revoke an access token once this many requests signed with it have been authenticated,
    /// whatever the endpoint and the answer (429s and injected faults included); its next
    /// request gets 401 code 89.
    pub revoke_after_requests: Option<u64>,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            seed: 0,
            latency_ms: 0,
            jitter_ms: 0,
            all_endpoints: false,
            over_capacity_rate: 0.0,
            internal_error_rate: 0.0,
            drop_after_acting_rate: 0.0,
            stall_rate: 0.0,
            stall: Duration::from_secs(60),
            spurious_429_rate: 0.0,
            revoke_after: None,
            revoke_after_requests: None,
        }
    }
}

/// The shortest rate window: resets are announced in whole seconds, so a shorter window would
/// close before the reset it announces and never refuse anything.
pub const MIN_WINDOW: Duration = Duration::from_secs(1);
/// The longest rate window: the 24-hour caps are the longest limits the API announces, and a
/// client treats a reset further away as garbage.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// The largest clock offset either way (ten years): enough for any skew a test wants, and far
/// from the dates an HTTP `Date` header can no longer express.
pub const MAX_CLOCK_OFFSET_SECS: i64 = 10 * 365 * 86_400;

/// A knob set to a value the emulator cannot honour.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// A rate window is too short or too long.
    #[error(
        "the rate window {which} is {}; it must be from {} to {}",
        humantime::format_duration(*value),
        humantime::format_duration(MIN_WINDOW),
        humantime::format_duration(MAX_WINDOW)
    )]
    Window {
        /// `limits.window` or `limits.ENDPOINT.window`.
        which: String,
        /// The value given.
        value: Duration,
    },
    /// The clock offset is beyond [`MAX_CLOCK_OFFSET_SECS`].
    #[error(
        "the clock offset {0} s is too large; it must be within ±{MAX_CLOCK_OFFSET_SECS} s (ten years)"
    )]
    ClockOffset(i64),
    /// A probability outside 0–1 (or NaN).
    #[error("faults.{name} is {value}; it must be a probability from 0 to 1")]
    Probability {
        /// The knob.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The too-many-terms status is not an HTTP error status.
    #[error("replies.too_many_terms_status is {0}; it must be an HTTP error status (400 to 599)")]
    Status(u16),
}

impl Config {
    /// Checks every knob a scenario file, a flag or an admin patch can set to a value the
    /// emulator cannot honour, naming the first one found. (The emulator itself never panics on
    /// such values: it saturates. This is what tells the person who typed them.)
    pub fn validate(&self) -> Result<(), ConfigError> {
        let window_ok = |d: &Duration| (MIN_WINDOW..=MAX_WINDOW).contains(d);
        if !window_ok(&self.limits.window) {
            return Err(ConfigError::Window {
                which: "limits.window".into(),
                value: self.limits.window,
            });
        }
        for (name, limit) in self.limits.named() {
            if let Some(w) = limit.window.filter(|w| !window_ok(w)) {
                return Err(ConfigError::Window {
                    which: format!("limits.{name}.window"),
                    value: w,
                });
            }
        }
        if self.clock_offset_secs.unsigned_abs() > MAX_CLOCK_OFFSET_SECS.unsigned_abs() {
            return Err(ConfigError::ClockOffset(self.clock_offset_secs));
        }
        let f = &self.faults;
        for (name, value) in [
            ("over_capacity_rate", f.over_capacity_rate),
            ("internal_error_rate", f.internal_error_rate),
            ("drop_after_acting_rate", f.drop_after_acting_rate),
            ("stall_rate", f.stall_rate),
            ("spurious_429_rate", f.spurious_429_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::Probability { name, value });
            }
        }
        if !(400..=599).contains(&self.replies.too_many_terms_status) {
            return Err(ConfigError::Status(self.replies.too_many_terms_status));
        }
        Ok(())
    }
}

/// Durations in scenario files: humantime text (`"15m"`, `"2s"`, `"500ms"`) or whole seconds.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Seconds(s) => Ok(Duration::from_secs(s)),
            Raw::Text(t) => humantime::parse_duration(&t)
                .map_err(|e| D::Error::custom(format!("`{t}` is not a duration: {e}"))),
        }
    }
}

/// [`duration_text`] for an optional duration (absent means `None`).
mod optional_duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::duration_text::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    struct Wrapped(#[serde(with = "super::duration_text")] Duration);

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(d)| d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
