//! The steps every emulated request goes through (the core's `Steps`), each one a short
//! critical section: arrive (log, draw latency) → admit (authenticate, check access, count the
//! rate window, draw a fault) → act (run the endpoint, or fail as the fault says) → finish (log
//! the answer).
//!
//! The core runs them, sleeping between them (latency before admit, a stall before act), so
//! the state lock is never held across a sleep.

use std::time::Duration;

use super::config::HeaderMode;
use super::oauth::{self, AuthFailure};
use super::reply::{Incoming, Reply};
use super::route::Endpoint;
use super::seed::{AccessLevel, UserState};
use super::state::State;
use super::{v1, v2};
use crate::emulator::faults::FaultKind;
use crate::emulator::limits::{self, Verdict};
use crate::emulator::log::logged_params;
use crate::emulator::log::{EndpointKind as _, ErrorCode, Finished};
use crate::emulator::network::{NetworkState as _, Steps};

/// A request that passed admission.
#[derive(Debug)]
pub struct Ticket {
    account: usize,
    user_id: u64,
    headers: Vec<(&'static str, String)>,
    fault: Option<FaultKind>,
    /// How long to wait before acting (a stall fault).
    stall: Option<Duration>,
}

/// A finished request, ready to log and answer.
#[derive(Debug)]
pub struct Done {
    /// The answer.
    pub reply: Reply,
    /// Extra headers (rate limits, access level, retry-after).
    pub headers: Vec<(&'static str, String)>,
    /// Break the body after the status line (drop-after-acting).
    pub broken: bool,
    account: Option<u64>,
    window_spent: bool,
    fault: Option<FaultKind>,
}

impl Done {
    fn refused(reply: Reply, account: Option<u64>) -> Done {
        Done {
            reply,
            headers: Vec::new(),
            broken: false,
            account,
            window_spent: false,
            fault: None,
        }
    }
}

impl State {
    /// Verifies the OAuth header and returns the account index.
    fn authenticate(&mut self, req: &Incoming, now_ms: i64) -> Result<usize, AuthFailure> {
        let header = oauth::parse_header(req.authorization.as_deref())?;
        let consumer_secret = self
            .apps
            .get(&header.consumer_key)
            .ok_or(AuthFailure::CouldNotAuthenticate)?;
        let idx = *self
            .by_token
            .get(&header.token)
            .ok_or(AuthFailure::InvalidToken)?;
        let account = self.accounts.get(idx).ok_or(AuthFailure::InvalidToken)?;
        if account.revoked || account.consumer_key != header.consumer_key {
            return Err(AuthFailure::InvalidToken);
        }
        // Behind a TLS-terminating proxy the client signed the https form of the URL; any
        // form the request may have been signed for will do.
        let signed = req.base_urls.iter().any(|base_url| {
            oauth::verify(
                &req.method,
                base_url,
                &req.params,
                &header,
                consumer_secret,
                &account.token_secret,
            )
            .is_ok()
        });
        if !signed {
            return Err(AuthFailure::CouldNotAuthenticate);
        }
        let skew = i64::try_from(self.config.auth.skew_window.as_secs()).unwrap_or(i64::MAX);
        let now_secs = now_ms.div_euclid(1000);
        if header.timestamp.abs_diff(now_secs) > skew.unsigned_abs()
            || self
                .config
                .auth
                .refuse_timestamps
                .contains(&req.route.endpoint)
        {
            return Err(AuthFailure::TimestampOutOfBounds);
        }
        if self.config.auth.check_nonce {
            if self.nonces.len() > 100_000 {
                self.nonces
                    .retain(|_, ts| now_secs.abs_diff(*ts) <= skew.unsigned_abs());
            }
            let key = format!("{}\u{0}{}", header.consumer_key, header.nonce);
            if self.nonces.insert(key, header.timestamp).is_some() {
                return Err(AuthFailure::CouldNotAuthenticate);
            }
        }
        // The revocation knobs: a token past either count is revoked before this request is
        // served, so the first `n` requests (or successful writes) are answered and the next
        // one gets 401 code 89, also when `n` is 0 or was lowered at runtime.
        let faults = &self.config.faults;
        let account = self
            .accounts
            .get_mut(idx)
            .ok_or(AuthFailure::InvalidToken)?;
        if faults.revoked_by_writes(account.mutations)
            || faults.revoked_by_requests(account.requests)
        {
            account.revoked = true;
            return Err(AuthFailure::InvalidToken);
        }
        account.requests = account.requests.saturating_add(1);
        Ok(idx)
    }
}

impl Steps for State {
    type Incoming = Incoming;
    type Ticket = Ticket;
    type Done = Done;

    /// Logs the arrival and draws the latency to apply before answering.
    fn arrive(&mut self, req: &Incoming) -> (u64, Duration) {
        let params = logged_params(&req.params, req.json.as_ref(), |k| k.starts_with("oauth_"));
        self.log_arrival(&req.method, &req.path, req.route.endpoint, params)
    }

    /// Authentication, access checks, the rate window and the fault draw.
    fn admit(&mut self, seq: u64, req: &Incoming) -> Result<Ticket, Done> {
        let endpoint = req.route.endpoint;
        if endpoint == Endpoint::Unknown {
            return Err(Done::refused(Reply::unknown_route(&req.path), None));
        }
        let v2 = endpoint.is_v2();
        let now_ms = self.now_ms();
        let idx = match self.authenticate(req, now_ms) {
            Ok(idx) => idx,
            Err(failure) => {
                self.log.counters().auth_failures += 1;
                let reply = if v2 {
                    Reply::problem(401, "Unauthorized")
                } else {
                    let (status, code, message) = failure.v1_reply();
                    Reply::v1_error(status, code, message)
                };
                return Err(Done::refused(reply, None));
            }
        };
        let Some(account) = self.accounts.get(idx) else {
            return Err(Done::refused(Reply::unknown_route(&req.path), None));
        };
        let user_id = account.user_id;
        let owner_state = self.users.get(&user_id).map(|u| u.state);
        let mut headers = Vec::new();
        if !v2 && self.config.replies.access_level_header {
            headers.push((
                "x-access-level",
                account.access_level.header_value().to_owned(),
            ));
        }
        let refusal = match owner_state {
            Some(UserState::Suspended) if v2 => Some(v2::forbidden_suspended()),
            Some(UserState::Suspended) => Some(Reply::v1_error(
                403,
                64,
                "Your account is suspended and is not permitted to access this feature.",
            )),
            Some(UserState::Deactivated) | None if v2 => Some(Reply::problem(401, "Unauthorized")),
            Some(UserState::Deactivated) | None => {
                Some(Reply::v1_error(401, 89, "Invalid or expired token."))
            }
            Some(UserState::Active) => None,
        }
        .or_else(|| {
            if !v2 && !account.v1_access {
                Some(Reply::v1_error(403, 453, ACCESS_453))
            } else if endpoint.needs_write() && account.access_level == AccessLevel::Read {
                Some(if v2 {
                    v2::oauth1_permissions()
                } else {
                    Reply::v1_error(403, 261, "Application cannot perform write actions.")
                })
            } else if endpoint.is_v2_block() && self.config.replies.v2_blocks_forbidden {
                Some(v2::client_forbidden())
            } else {
                None
            }
        });
        if let Some(reply) = refusal {
            let mut done = Done::refused(reply, Some(user_id));
            done.headers = headers;
            return Err(done);
        }
        let applies_faults = endpoint.is_mutating() || self.config.faults.all_endpoints;
        let mut window_spent = false;
        let mut limited = false;
        let mut spurious = false;
        let limits = &self.config.limits;
        if limits.enabled
            && let Some(limit) = limits.of(endpoint)
            && let Some(account) = self.accounts.get_mut(idx)
        {
            let i = endpoint.index();
            let length_ms = limits::length_ms(limits.window_of(endpoint));
            let w = account.windows[i].admit(now_ms, length_ms, limit.limit, 1, false);
            let user_day = limit
                .daily_limit
                .map(|cap| account.daily[i].admit(now_ms, limits::DAY_MS, cap, 1, false));
            let mut app_windows = limit.app_daily_limit.map(|cap| {
                let windows = self
                    .app_daily
                    .entry(account.consumer_key.clone())
                    .or_default();
                (cap, windows)
            });
            let app_day = app_windows
                .as_mut()
                .map(|(cap, windows)| windows[i].admit(now_ms, limits::DAY_MS, *cap, 1, false));
            let drawn = self.dice.spurious_429(&self.config.faults, applies_faults);
            let refusals: Vec<Verdict> = [Some(w), user_day, app_day]
                .into_iter()
                .flatten()
                .filter(|v| !v.allowed)
                .collect();
            window_spent = !refusals.is_empty();
            spurious = drawn && !window_spent;
            limited = window_spent || spurious;
            if !limited {
                account.windows[i].consume(1);
                if user_day.is_some() {
                    account.daily[i].consume(1);
                }
                if let Some((_, windows)) = app_windows {
                    windows[i].consume(1);
                }
            }
            // When a 429 may come back: the latest reset among the limits that refused it (a
            // spurious 429 pretends the short window is spent).
            let comeback = refusals
                .iter()
                .map(|v| v.reset_secs)
                .max()
                .unwrap_or(w.reset_secs);
            let taken = u32::from(!limited);
            match limit.headers {
                // The short window as it stands; every 429 says remaining 0 and the reset of
                // the limit that refused it (also a 24-hour cap's, or a spurious 429's
                // pretended one), as clients such as tweepy read only these to know how long
                // to sleep (x-api.md §3).
                HeaderMode::Headers => {
                    let (remaining, reset) = if limited {
                        (0, comeback)
                    } else {
                        (w.remaining.saturating_sub(taken), w.reset_secs)
                    };
                    headers.push(("x-rate-limit-limit", w.limit.to_string()));
                    headers.push(("x-rate-limit-remaining", remaining.to_string()));
                    headers.push(("x-rate-limit-reset", reset.to_string()));
                }
                // No window is announced, so the 429's marker names the refusing limit's reset.
                HeaderMode::None if limited && limits.reset_on_429 => {
                    headers.push(("x-rate-limit-remaining", "0".to_owned()));
                    headers.push(("x-rate-limit-reset", comeback.to_string()));
                }
                HeaderMode::None => {}
            }
            for ([limit_h, remaining_h, reset_h], day) in
                [(USER_DAY_HEADERS, user_day), (APP_DAY_HEADERS, app_day)]
            {
                if let Some(d) = day {
                    headers.push((limit_h, d.limit.to_string()));
                    headers.push((remaining_h, d.remaining.saturating_sub(taken).to_string()));
                    headers.push((reset_h, d.reset_secs.to_string()));
                }
            }
            if limited && limits.retry_after {
                let wait = comeback.saturating_sub(now_ms.div_euclid(1000)).max(1);
                headers.push(("retry-after", wait.to_string()));
            }
        }
        if limited {
            if spurious {
                self.log.counters().faults_injected += 1;
            }
            let reply = if v2 {
                Reply::problem(429, "Too Many Requests")
            } else {
                Reply::v1_error(429, 88, "Rate limit exceeded")
            };
            return Err(Done {
                reply,
                headers,
                broken: false,
                account: Some(user_id),
                window_spent,
                fault: spurious.then_some(FaultKind::Spurious429),
            });
        }
        let fault = self.draw_fault(seq, applies_faults, || Some(user_id.to_string()));
        let stall = (fault == Some(FaultKind::Stall)).then_some(self.config.faults.stall);
        Ok(Ticket {
            account: idx,
            user_id,
            headers,
            fault,
            stall,
        })
    }

    fn wait(ticket: &Ticket) -> Option<Duration> {
        ticket.stall
    }

    /// Runs the endpoint (unless the fault says the server failed first).
    fn act(&mut self, req: &Incoming, ticket: Ticket) -> Done {
        let endpoint = req.route.endpoint;
        let v2 = endpoint.is_v2();
        let idx = ticket.account;
        let reply = match ticket.fault {
            Some(FaultKind::OverCapacity) if v2 => Reply::problem(503, "Service Unavailable"),
            Some(FaultKind::OverCapacity) => Reply::v1_error(503, 130, "Over capacity."),
            Some(FaultKind::InternalError) if v2 => Reply::problem(500, "Internal Server Error"),
            Some(FaultKind::InternalError) => Reply::v1_error(500, 131, "Internal error."),
            _ => {
                let now_ms = self.now_ms();
                match endpoint {
                    Endpoint::BlocksDestroy => v1::block_write(self, idx, req, false),
                    Endpoint::BlocksCreate => v1::block_write(self, idx, req, true),
                    Endpoint::BlocksIds => v1::blocks_ids(self, idx, req),
                    Endpoint::BlocksList => v1::blocks_list(self, idx, req),
                    Endpoint::UsersLookup => v1::users_lookup(self, req),
                    Endpoint::VerifyCredentials => v1::verify_credentials(self, idx, req),
                    Endpoint::RateLimitStatus => v1::rate_limit_status(self, idx, req, now_ms),
                    Endpoint::V2Me => v2::me(self, idx),
                    Endpoint::V2Unblock => v2::block_write(self, idx, req, false),
                    Endpoint::V2Block => v2::block_write(self, idx, req, true),
                    Endpoint::V2Blocking => v2::blocking(self, idx, req),
                    Endpoint::V2UsersBy => v2::users_by(self, req),
                    Endpoint::V2Users => v2::users_by_id(self, req),
                    Endpoint::V2UserByUsername => v2::user_by_username(self, req),
                    Endpoint::Unknown => Reply::no_such_page(),
                }
            }
        };
        if reply.is_success()
            && endpoint.is_mutating()
            && let Some(account) = self.accounts.get_mut(idx)
        {
            account.mutations += 1;
            if self.config.faults.revoked_by_writes(account.mutations) {
                account.revoked = true;
            }
        }
        Done {
            broken: ticket.fault == Some(FaultKind::DropAfterActing),
            reply,
            headers: ticket.headers,
            account: Some(ticket.user_id),
            window_spent: false,
            fault: ticket.fault,
        }
    }

    fn finished(done: &Done) -> Finished {
        Finished {
            status: done.reply.status,
            error_code: done.reply.error_code.map(ErrorCode::Number),
            account: done.account.map(|id| id.to_string()),
            window_spent: done.window_spent,
            fault: done.fault,
        }
    }
}

/// The headers of the user 24-hour cap: limit, remaining, reset.
const USER_DAY_HEADERS: [&str; 3] = [
    "x-user-limit-24hour-limit",
    "x-user-limit-24hour-remaining",
    "x-user-limit-24hour-reset",
];
/// The headers of the app 24-hour cap: limit, remaining, reset.
const APP_DAY_HEADERS: [&str; 3] = [
    "x-app-limit-24hour-limit",
    "x-app-limit-24hour-remaining",
    "x-app-limit-24hour-reset",
];

/// The body of the access-tier 403 (code 453).
const ACCESS_453: &str = "You currently have access to a subset of Twitter API v2 endpoints and limited v1.1 endpoints (e.g. media post, oauth) only. If you need access to this endpoint, you may need a different access level. You can learn more here: https://developer.twitter.com/en/portal/product";
