//! The steps every emulated request goes through (the core's `Steps`), each one a short
//! critical section: arrive (log, draw latency) → admit (the PDS's checks in its order, the
//! rate limiters, a fault) → act (the method, or the fault's failure) → finish (log the
//! answer).
//!
//! The order of the checks is the PDS's, because it decides what a client sees: for its own
//! methods the HTTP method, the parameters, the credentials and the body are checked before
//! any limiter is charged (so those refusals carry no rate headers), then every limiter of
//! the route is charged at once; for methods it hands to the AppView the per-IP limiter comes
//! first, then the service, then the credentials. The core runs the steps, sleeping between
//! them (latency before admit; a stall or the login delay before act), so the lock is never
//! held across a sleep.

use std::time::Duration;

use serde_json::Value;

use super::Host;
use super::appview;
use super::config::{AppViewState, EntrywayWrites};
use super::ratelimit::{Charge, Charged};
use super::repo;
use super::route::Endpoint;
use super::session::{self, Authed};
use super::state::State;
use super::xrpc::{BodyKind, Incoming, Reply, wrong_host};
use crate::emulator::faults::FaultKind;
use crate::emulator::log::logged_params;
use crate::emulator::log::{ErrorCode, Finished};
use crate::emulator::network::{NetworkState as _, Steps};

/// The version `/xrpc/_health` reports (the reference PDS the emulator was checked against).
const PDS_VERSION: &str = "0.5.35";

/// A request that passed admission.
#[derive(Debug, Default)]
pub struct Ticket {
    /// The account and credential of its access token.
    authed: Option<Authed>,
    /// Its refresh token's identifier (`refreshSession`, `deleteSession`).
    refresh_jti: Option<String>,
    /// The account it acts for, for the log.
    account: Option<String>,
    /// Rate-limit headers.
    headers: Vec<(&'static str, String)>,
    /// The fault drawn, if any.
    fault: Option<FaultKind>,
    /// How long to wait before acting: a stall, or the login delay.
    delay: Duration,
}

/// A finished request, ready to log and answer.
#[derive(Debug)]
pub struct Done {
    /// The answer.
    pub reply: Reply,
    /// Extra headers (rate limits).
    pub headers: Vec<(&'static str, String)>,
    /// Break the body after the head (drop-after-acting).
    pub broken: bool,
    /// The endpoint needs the client's credentials (`Cache-Control: private`).
    pub private: bool,
    account: Option<String>,
    window_spent: bool,
    fault: Option<FaultKind>,
}

impl Done {
    fn refused(
        reply: Reply,
        headers: Vec<(&'static str, String)>,
        account: Option<String>,
    ) -> Done {
        Done {
            reply,
            headers,
            broken: false,
            private: false,
            account,
            window_spent: false,
            fault: None,
        }
    }
}

impl State {
    /// Charges the request's limiters; `Err` is the 429.
    fn charge(
        &mut self,
        req: &Incoming,
        charge: &Charge,
        now_ms: i64,
        account: Option<String>,
    ) -> Result<Charged, Done> {
        if !self.config.limits.enabled {
            return Ok(Charged::default());
        }
        let charged = self
            .limiters
            .charge(&self.config.limits, now_ms, req.host, &req.ip, charge);
        if charged.refusal().is_some() {
            let headers = charged.headers(&self.config.limits, now_ms, true);
            let mut done = Done::refused(Reply::status(429), headers, account);
            done.window_spent = true;
            return Err(done);
        }
        Ok(charged)
    }

    /// The PDS's catch-all for the AppView's methods (and unknown ones): the per-IP limiter,
    /// then the service, then the credentials, then the AppView itself.
    fn admit_proxied(&mut self, seq: u64, req: &Incoming, now_ms: i64) -> Result<Ticket, Done> {
        let charged = self.charge(req, &Charge::IpOnly, now_ms, None)?;
        let headers = charged.headers(&self.config.limits, now_ms, false);
        let refuse = |reply: Reply, account: Option<String>| {
            let mut done = Done::refused(reply, headers.clone(), account);
            done.private = true;
            done
        };
        let state = self.config.appview.state;
        if state == AppViewState::Absent {
            let message = format!("No service configured for {}", req.route.nsid);
            return Err(refuse(Reply::invalid(&message), None));
        }
        let authed = match session::verify_access(self, req, now_ms) {
            Ok(authed) => authed,
            Err(failure) => return Err(refuse(self.auth_failed(failure).reply, None)),
        };
        let account = Some(self.accounts[authed.account].did.clone());
        if state == AppViewState::Down {
            let reply = Reply::error(502, "UpstreamFailure", "Upstream service unreachable");
            return Err(refuse(reply, account));
        }
        if req.route.endpoint == Endpoint::Unknown {
            return Err(refuse(Reply::status(501), account));
        }
        let mut ticket = Ticket {
            authed: Some(authed),
            account,
            headers: headers.clone(),
            ..Ticket::default()
        };
        if self.config.faults.all_endpoints {
            self.roll_faults(seq, true, &charged, now_ms, &mut ticket, true)?;
        }
        Ok(ticket)
    }

    /// The fault dice on an admitted request when the faults apply to it: a spurious 429 (the
    /// `Err`, with the limiters' refusal headers), else the fault drawn for the ticket, a stall
    /// added to its delay.
    fn roll_faults(
        &mut self,
        seq: u64,
        applies: bool,
        charged: &Charged,
        now_ms: i64,
        ticket: &mut Ticket,
        private: bool,
    ) -> Result<(), Done> {
        if self.dice.spurious_429(&self.config.faults, applies) {
            self.log.counters().faults_injected += 1;
            let headers = charged.headers(&self.config.limits, now_ms, true);
            let mut done = Done::refused(Reply::status(429), headers, ticket.account.clone());
            done.private = private;
            done.fault = Some(FaultKind::Spurious429);
            return Err(done);
        }
        ticket.fault = self.draw_fault(seq, applies, || ticket.account.clone());
        if ticket.fault == Some(FaultKind::Stall) {
            ticket.delay += self.config.faults.stall;
        }
        Ok(())
    }

    fn auth_failed(&mut self, failure: session::AuthFailure) -> Done {
        self.log.counters().auth_failures += 1;
        let mut done = Done::refused(failure.reply(), Vec::new(), None);
        done.private = true;
        done
    }

    /// `stale.at_write`: deletes records of the writer's repo behind its back, once.
    fn strike_stale(&mut self, did: Option<&str>) {
        let stale = &self.config.stale;
        if self.stale_fired || stale.at_write != Some(self.writes_seen) {
            return;
        }
        let Some(did) = did else { return };
        self.stale_fired = true;
        let collection = stale.collection.clone();
        let total = self.records(did, &collection).len();
        let by_fraction = (self.config.stale_fraction() * total as f64).ceil() as usize;
        let count = stale.count.max(by_fraction);
        let gone = self.delete_behind(did, &collection, count);
        tracing::info!(
            did,
            collection,
            deleted = gone.len(),
            "emulator: stale records deleted"
        );
    }

    fn run(&mut self, req: &Incoming, ticket: &Ticket) -> Reply {
        let authed = ticket.authed;
        let jti = ticket.refresh_jti.as_deref().unwrap_or_default();
        match (req.route.endpoint, authed) {
            (Endpoint::CreateSession, _) => session::create_session(self, req),
            (Endpoint::RefreshSession, _) => session::refresh_session(self, jti),
            (Endpoint::DeleteSession, _) => session::delete_session(self, jti),
            (Endpoint::GetSession, Some(a)) => session::get_session(self, a),
            (Endpoint::DescribeServer, _) => session::describe_server(self),
            (Endpoint::ListRecords, _) => repo::list_records(self, req),
            (Endpoint::GetRecord, _) => repo::get_record(self, req),
            (Endpoint::DeleteRecord, Some(a)) => repo::delete_record(self, req, a),
            (Endpoint::CreateRecord, Some(a)) => repo::create_record(self, req, a),
            (Endpoint::ApplyWrites, Some(a)) => repo::apply_writes(self, req, a),
            (Endpoint::ResolveHandle, _) => appview::resolve_handle(self, req),
            (Endpoint::GetProfiles, Some(a)) => appview::get_profiles(self, req, a),
            (Endpoint::GetProfile, Some(a)) => appview::get_profile(self, req, a),
            (Endpoint::GetBlocks, Some(a)) => appview::get_blocks(self, req, a),
            (Endpoint::Health, _) => Reply::ok(&serde_json::json!({"version": PDS_VERSION})),
            _ => Reply::status(501),
        }
    }

    /// Counts a successful write for its credential; `faults.revoke_after` revokes the
    /// credential once it reaches the count.
    fn count_write(&mut self, authed: Authed) {
        let faults = &self.config.faults;
        let Some(c) = self
            .accounts
            .get_mut(authed.account)
            .and_then(|a| a.credentials.get_mut(authed.credential))
        else {
            return;
        };
        c.writes = c.writes.saturating_add(1);
        if faults.revoked_by_writes(c.writes) && !c.revoked {
            self.revoke(authed.account, authed.credential);
        }
    }
}

impl Steps for State {
    type Incoming = Incoming;
    type Ticket = Ticket;
    type Done = Done;

    /// Logs the arrival (credentials left out) and draws the latency to apply first.
    fn arrive(&mut self, req: &Incoming) -> (u64, Duration) {
        let params = logged_params(&req.params, req.json(), |k| k == "password");
        self.hosts.push(req.host);
        self.log_arrival(&req.method, &req.path, req.route.endpoint, params)
    }

    /// The PDS's checks, the limiters and the fault draw.
    fn admit(&mut self, seq: u64, req: &Incoming) -> Result<Ticket, Done> {
        let now_ms = self.now_ms();
        self.revoke_on_time(now_ms);
        let endpoint = req.route.endpoint;
        if !req.route.xrpc {
            return Err(Done::refused(not_xrpc(req), Vec::new(), None));
        }
        if endpoint == Endpoint::Health {
            return Ok(Ticket::default());
        }
        if endpoint.is_proxied() {
            return self.admit_proxied(seq, req, now_ms);
        }
        if let Some(expected) = req.route.expected_method {
            let message = format!("Incorrect HTTP method ({}) expected {expected}", req.method);
            return Err(Done::refused(Reply::invalid(&message), Vec::new(), None));
        }
        repo::check_params(endpoint, req).map_err(|r| Done::refused(r, Vec::new(), None))?;
        let mut ticket = Ticket::default();
        let private = match endpoint {
            Endpoint::GetSession
            | Endpoint::DeleteRecord
            | Endpoint::CreateRecord
            | Endpoint::ApplyWrites => {
                let authed =
                    session::verify_access(self, req, now_ms).map_err(|f| self.auth_failed(f))?;
                ticket.account = Some(self.accounts[authed.account].did.clone());
                ticket.authed = Some(authed);
                true
            }
            Endpoint::RefreshSession | Endpoint::DeleteSession => {
                let allow_expired = endpoint == Endpoint::DeleteSession;
                let jti = session::verify_refresh(self, req, now_ms, allow_expired)
                    .map_err(|f| self.auth_failed(f))?;
                ticket.account = self
                    .refresh_tokens
                    .get(&jti)
                    .and_then(|t| self.accounts.get(t.account))
                    .map(|a| a.did.clone());
                ticket.refresh_jti = Some(jti);
                true
            }
            _ => false,
        };
        let refuse = |reply: Reply, ticket: &Ticket| {
            let mut done = Done::refused(reply, Vec::new(), ticket.account.clone());
            done.private = private;
            done
        };
        repo::check_input(endpoint, req).map_err(|r| refuse(r, &ticket))?;
        let hosts = &self.config.hosts;
        if endpoint.is_write()
            && req.host == Host::Entryway
            && hosts.did_doc
            && hosts.entryway_writes == EntrywayWrites::Refuse
        {
            let pds = self.pds_url().unwrap_or_else(|| "the PDS".to_owned());
            return Err(refuse(wrong_host(req.host, &pds), &ticket));
        }
        let charge = match (endpoint, &ticket.account) {
            (Endpoint::CreateSession, _) => {
                let identifier = req
                    .json()
                    .and_then(|b| b.get("identifier"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Charge::Session {
                    key: format!("{identifier}-{}", req.ip),
                }
            }
            (e, Some(did)) if e.is_write() => Charge::Points {
                did: did.clone(),
                cost: repo::points(&self.config.limits, e, req),
            },
            _ => Charge::IpOnly,
        };
        let charged = self
            .charge(req, &charge, now_ms, ticket.account.clone())
            .map_err(|mut done| {
                done.private = private;
                done
            })?;
        ticket.headers = charged.headers(&self.config.limits, now_ms, false);
        let applies = endpoint.is_write() || self.config.faults.all_endpoints;
        self.roll_faults(seq, applies, &charged, now_ms, &mut ticket, private)?;
        if endpoint.is_write() {
            self.writes_seen += 1;
            self.strike_stale(ticket.account.as_deref());
        }
        if endpoint == Endpoint::CreateSession {
            ticket.delay += self.config.sessions.login_delay;
        }
        Ok(ticket)
    }

    fn wait(ticket: &Ticket) -> Option<Duration> {
        (!ticket.delay.is_zero()).then_some(ticket.delay)
    }

    /// Runs the method (unless the fault says the server failed first).
    fn act(&mut self, req: &Incoming, ticket: Ticket) -> Done {
        let endpoint = req.route.endpoint;
        let reply = match ticket.fault {
            Some(FaultKind::OverCapacity) => Reply::status(self.config.replies.fault_status),
            Some(FaultKind::InternalError) => Reply::status(500),
            _ => self.run(req, &ticket),
        };
        if reply.is_success()
            && endpoint.is_write()
            && let Some(authed) = ticket.authed
        {
            self.count_write(authed);
        }
        Done {
            broken: ticket.fault == Some(FaultKind::DropAfterActing),
            private: ticket.authed.is_some() || ticket.refresh_jti.is_some(),
            reply,
            headers: ticket.headers,
            account: ticket.account,
            window_spent: false,
            fault: ticket.fault,
        }
    }

    fn finished(done: &Done) -> Finished {
        Finished {
            status: done.reply.status,
            error_code: done.reply.error.as_deref().map(ErrorCode::from),
            account: done.account.clone(),
            window_spent: done.window_spent,
            fault: done.fault,
        }
    }
}

/// A path outside `/xrpc/`: the PDS's banner at `/`, Express's 404 page elsewhere.
fn not_xrpc(req: &Incoming) -> Reply {
    if req.path == "/" {
        return Reply::other(
            200,
            BodyKind::Text,
            "This is an AT Protocol Personal Data Server (PDS) emulator.\n\nMost API routes are under /xrpc/\n"
                .to_owned(),
        );
    }
    Reply::other(
        404,
        BodyKind::Html,
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot {} {}</pre>\n</body>\n</html>\n",
            req.method, req.path
        ),
    )
}
