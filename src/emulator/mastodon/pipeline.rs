//! The steps every emulated request goes through (the core's `Steps`), each one a short
//! critical section: arrive (log, draw latency) → admit (the throttles, as Rack::Attack runs
//! them before any controller; then the route, the token and its scopes, as Doorkeeper checks
//! them; then the fault draw) → act (run the endpoint, or fail as the fault says) → finish (log
//! the answer).
//!
//! The core runs them, sleeping between them (latency before admit, a stall before act), so
//! the state lock is never held across a sleep.

use std::time::Duration;

use super::api;
use super::config::{ErrorBody, RevokedReply};
use super::reply::{HTML, Incoming, Reply, TOKEN_PARAMS, invalid_token, outside_scopes, reason};
use super::route::{Access, Endpoint, is_api_path};
use super::state::State;
use super::throttle::{self, Rate, Subject, Verdict};
use crate::emulator::faults::FaultKind;
use crate::emulator::log::logged_params;
use crate::emulator::log::{ErrorCode, Finished};
use crate::emulator::network::{NetworkState as _, Steps};

/// Doorkeeper's description of an unknown (or missing) token.
pub const INVALID_TOKEN: &str = "The access token is invalid";
/// Doorkeeper's description of a revoked token.
pub const REVOKED_TOKEN: &str = "The access token was revoked";

/// What every answer of Mastodon's API controllers carries (`set_cache_headers`).
const CACHE_CONTROL: &str = "no-cache, no-store, max-age=0, must-revalidate";

/// A request that passed admission.
#[derive(Debug)]
pub struct Ticket {
    /// The token the request was authorized with (none on public endpoints).
    token: Option<usize>,
    /// The user acted for.
    user: Option<u64>,
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
    /// Headers besides the reply's own (rate limits, cache control).
    pub headers: Vec<(&'static str, String)>,
    /// Break the body after the status line (drop-after-acting).
    pub broken: bool,
    account: Option<u64>,
    window_spent: bool,
    fault: Option<FaultKind>,
}

impl Done {
    fn refused(reply: Reply, headers: Vec<(&'static str, String)>, account: Option<u64>) -> Done {
        Done {
            reply,
            headers,
            broken: false,
            account,
            window_spent: false,
            fault: None,
        }
    }
}

impl State {
    /// The 429 of Rack::Attack's responder: the refusing throttle's limit, remaining 0, its
    /// reset; no `Retry-After`, and its own bare `Content-Type: application/json`.
    fn too_many(&self, rate: Rate, now_ms: i64) -> (Reply, Vec<(&'static str, String)>) {
        let mut reply = Reply::error(429, &self.config.replies.too_many_requests);
        reply.content_type = "application/json";
        let headers = throttle::headers(Some(rate), self.config.limits.headers, true, now_ms);
        (reply, headers)
    }

    /// Checks a presented token as `doorkeeper_authorize!` does, counting the request for the
    /// revocation knobs; the token's user on success.
    fn authorize(&mut self, idx: usize, scopes: &[&str]) -> Result<Option<u64>, Reply> {
        let revoked = match self.config.replies.revoked {
            RevokedReply::Revoked => REVOKED_TOKEN,
            RevokedReply::Invalid => INVALID_TOKEN,
        };
        let faults = &self.config.faults;
        let Some(t) = self.tokens.get_mut(idx) else {
            return Err(invalid_token(INVALID_TOKEN));
        };
        // A token past either revocation count is revoked before this request is served, so
        // the first `n` requests (or successful writes) are answered and the next one is not.
        if faults.revoked_by_writes(t.mutations) || faults.revoked_by_requests(t.requests) {
            t.revoked = true;
        }
        if t.revoked {
            return Err(invalid_token(revoked));
        }
        t.requests = t.requests.saturating_add(1);
        if !t.allows(scopes) {
            return Err(outside_scopes(scopes));
        }
        Ok(t.account)
    }

    /// An injected server error: an HTML page (a proxy's, or Rails' static one) or JSON.
    fn server_error(&self, status: u16) -> Reply {
        let text = reason(status);
        match self.config.replies.error_body {
            ErrorBody::Json => Reply::error(status, text),
            ErrorBody::Html => Reply {
                status,
                body: format!(
                    "<html>\r\n<head><title>{status} {text}</title></head>\r\n<body>\r\n<center><h1>{status} {text}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
                )
                .into_bytes(),
                content_type: HTML,
                error: Some(text.to_owned()),
                headers: Vec::new(),
            },
        }
    }

    fn dispatch(&mut self, endpoint: Endpoint, user: Option<u64>, req: &Incoming) -> Reply {
        let needs_user = |user: Option<u64>| {
            user.ok_or_else(|| Reply::error(422, "This method requires an authenticated user"))
        };
        let answer = match endpoint {
            Endpoint::VerifyCredentials => {
                needs_user(user).map(|u| api::verify_credentials(self, u))
            }
            Endpoint::Lookup => Ok(api::lookup(self, req)),
            Endpoint::Account => Ok(api::account(self, req)),
            Endpoint::Relationships => needs_user(user).map(|u| api::relationships(self, u, req)),
            Endpoint::Block => needs_user(user).map(|u| api::block_write(self, u, req, true)),
            Endpoint::Unblock => needs_user(user).map(|u| api::block_write(self, u, req, false)),
            Endpoint::Blocks => needs_user(user).map(|u| api::blocks(self, u, req)),
            Endpoint::DomainBlocks => needs_user(user).map(|u| api::domain_blocks(self, u, req)),
            Endpoint::DomainBlock => {
                needs_user(user).map(|u| api::domain_block_write(self, u, req, true))
            }
            Endpoint::DomainUnblock => {
                needs_user(user).map(|u| api::domain_block_write(self, u, req, false))
            }
            Endpoint::Instance => Ok(api::instance(self, false)),
            Endpoint::InstanceV2 => Ok(api::instance(self, true)),
            Endpoint::Unknown => Ok(Reply::no_route()),
        };
        answer.unwrap_or_else(|refusal| refusal)
    }
}

impl Steps for State {
    type Incoming = Incoming;
    type Ticket = Ticket;
    type Done = Done;

    /// Logs the arrival (parameters without tokens) and draws the latency to apply before
    /// answering.
    fn arrive(&mut self, req: &Incoming) -> (u64, Duration) {
        let params = logged_params(&req.params, req.json.as_ref(), |k| {
            TOKEN_PARAMS.contains(&k)
        });
        self.log_arrival(&req.method, &req.path, req.route.endpoint, params)
    }

    /// The throttles, the route, the token and its scopes, and the fault draw.
    fn admit(&mut self, seq: u64, req: &Incoming) -> Result<Ticket, Done> {
        let endpoint = req.route.endpoint;
        let now_ms = self.now_ms();
        let token = req
            .token
            .as_deref()
            .and_then(|t| self.by_token.get(t).copied());
        let token_user = token.and_then(|i| self.tokens.get(i).and_then(|t| t.account));
        let applies_faults = endpoint.is_mutating() || self.config.faults.all_endpoints;
        let mut rate = None;
        if self.config.limits.enabled {
            if self.dice.spurious_429(&self.config.faults, applies_faults) {
                self.log.counters().faults_injected += 1;
                let t = &self.config.limits.per_token;
                let pretended = Rate {
                    limit: t.limit,
                    remaining: 0,
                    period_secs: t.period_secs(),
                };
                let (reply, headers) = self.too_many(pretended, now_ms);
                let mut done = Done::refused(reply, headers, token_user);
                done.fault = Some(FaultKind::Spurious429);
                return Err(done);
            }
            let subject = Subject {
                api: is_api_path(&req.path),
                paging: req.is_paging(),
                token,
            };
            match throttle::check(self, subject, now_ms) {
                Verdict::Throttled(r) => {
                    let (reply, headers) = self.too_many(r, now_ms);
                    let mut done = Done::refused(reply, headers, token_user);
                    done.window_spent = true;
                    return Err(done);
                }
                Verdict::Pass(r) => rate = r,
            }
        }
        if endpoint == Endpoint::Unknown {
            // The catch-all route's controller is not an API controller: no rate headers.
            return Err(Done::refused(Reply::no_route(), Vec::new(), None));
        }
        let mut headers = throttle::headers(rate, self.config.limits.headers, false, now_ms);
        headers.push(("cache-control", CACHE_CONTROL.to_owned()));
        // The token the request was authorized with, and the user it acts for.
        let authorized = match (endpoint.access(), token) {
            (Access::Public, _) | (Access::IfToken(_), None) => Ok((None, None)),
            (Access::IfToken(scopes), Some(idx)) => {
                self.authorize(idx, scopes).map(|user| (Some(idx), user))
            }
            (Access::User(_), None) => Err(invalid_token(INVALID_TOKEN)),
            (Access::User(scopes), Some(idx)) => match self.authorize(idx, scopes) {
                Ok(None) => Err(Reply::error(
                    422,
                    "This method requires an authenticated user",
                )),
                Ok(user) => Ok((Some(idx), user)),
                Err(reply) => Err(reply),
            },
        };
        let (token, user) = match authorized {
            Ok(pair) => pair,
            Err(reply) => {
                if reply.status == 401 {
                    self.log.counters().auth_failures += 1;
                }
                return Err(Done::refused(reply, headers, token_user));
            }
        };
        let fault = self.draw_fault(seq, applies_faults, || user.map(|u| u.to_string()));
        let stall = (fault == Some(FaultKind::Stall)).then_some(self.config.faults.stall);
        Ok(Ticket {
            token,
            user,
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
        let mut headers = ticket.headers;
        let reply = match ticket.fault {
            Some(FaultKind::OverCapacity) => {
                headers.clear();
                self.server_error(self.config.replies.unavailable_status)
            }
            Some(FaultKind::InternalError) => {
                headers.clear();
                self.server_error(500)
            }
            _ => self.dispatch(endpoint, ticket.user, req),
        };
        if reply.is_success()
            && endpoint.is_mutating()
            && let Some(t) = ticket.token.and_then(|i| self.tokens.get_mut(i))
        {
            t.mutations += 1;
            if self.config.faults.revoked_by_writes(t.mutations) {
                t.revoked = true;
            }
        }
        Done {
            broken: ticket.fault == Some(FaultKind::DropAfterActing),
            reply,
            headers,
            account: ticket.user,
            window_spent: false,
            fault: ticket.fault,
        }
    }

    fn finished(done: &Done) -> Finished {
        Finished {
            status: done.reply.status,
            error_code: done.reply.error.as_deref().map(ErrorCode::from),
            account: done.account.map(|id| id.to_string()),
            window_spent: done.window_spent,
            fault: done.fault,
        }
    }
}
