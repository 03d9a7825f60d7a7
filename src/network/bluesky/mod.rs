//! Bluesky (the AT Protocol) behind the network seam: an app-password session, block records
//! deleted in atomic batches, handles resolved in batches, and the `RateLimit-*` dialect.
//!
//! Unblocking someone on Bluesky is deleting every `app.bsky.graph.block` record of the
//! account's repo whose subject is their DID (leaving a moderation list: every
//! `app.bsky.graph.listblock` record whose subject is the list). So before the first action
//! the run reads the records ([`Network::needs_list`], `listRecords` a hundred a page) and
//! looks the handles up ([`Network::to_resolve`], `getProfiles` 25 a call, or
//! `resolveHandle` one by one where the PDS has no AppView); the client keeps what they told
//! in [`known`]. Then each action is one request: `applyWrites` with up to 200 deletes, or
//! `deleteRecord` for a single record.
//!
//! `applyWrites` is atomic and answers a bare 500 when one of its records is already gone
//! (deleted elsewhere since it was listed), so a 500 there is not only a fault: a batch of
//! several targets answers [`Verdict::Split`] (the executor sends them one by one), and a
//! single target with several records falls back to `deleteRecord` (idempotent) one record a
//! request with [`Verdict::Progress`]. Nothing is reported unblocked whose records the server
//! did not confirm gone.
//!
//! The session: `createSession` at the login host; repo requests at the PDS the session's
//! DID document names (else the login host). An expired access token (400 `ExpiredToken`) is
//! renewed with `refreshSession`, once for all the requests refused together, and the request
//! is sent again at once ([`Verdict::Resend`], not paying the pace twice); a refused refresh
//! logs in again once; a refused login stops the run ([`Verdict::Rejected`]).

pub mod identity;
#[cfg(test)]
mod input_tests;
pub mod known;
pub mod response;
pub mod session;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::clock::ServerClock;
use crate::http::{BaseUrlError, Exchange, Http, TransportError};
use crate::network::{
    Account, Acted, Batch, BlockPage, CredentialSpec, CredentialVar, Defaults, Network, NetworkId,
    Reply, Scope, Settled, UserRef, Verdict,
};
use crate::outcome::{Action, Outcome};
use crate::pace::Rate;
use crate::secret::Secret;
use crate::target::Target;
use identity::{HANDLE, LIST};
use known::{Collection, Known, Write};
use response::{Failure, Policy, Request, XrpcError};
use session::{Live, Login};

/// Where to log in unless `--api-base` says otherwise.
pub const DEFAULT_API_BASE: &str = "https://bsky.social";

/// Bluesky's credentials: an identifier and an app password.
pub static CREDENTIALS: CredentialSpec = CredentialSpec {
    vars: &[
        CredentialVar {
            env: "BLUESKY_IDENTIFIER",
            key: "identifier",
        },
        CredentialVar {
            env: "BLUESKY_APP_PASSWORD",
            key: "app_password",
        },
    ],
    base: None,
    what: "your handle, DID or email, and an app password from Settings → Privacy and \
           security → App passwords",
};

/// Bluesky's defaults. Writes cost points, 5,000 an hour per account, so the action's pace is
/// in points; every request counts against 3,000 per 5 minutes per IP, of which the list pages
/// and the lookups each take half at most.
pub const DEFAULTS: Defaults = Defaults {
    api_base: Some(DEFAULT_API_BASE),
    rate: Rate::new(5000, Duration::from_secs(3600)),
    list_rate: Rate::new(1500, Duration::from_secs(300)),
    lookup_rate: Rate::new(1500, Duration::from_secs(300)),
    // Lookups cost no write points: they share only the per-IP limit, split above.
    lookups_share_limit: false,
};

/// Writes one `applyWrites` takes.
pub const MAX_WRITES: usize = 200;

/// Records per `listRecords` page: the most it gives.
const PAGE_SIZE: &str = "100";

/// Actors per `getProfiles` request.
const PROFILES_PER_CALL: usize = 25;

/// Settings for [`BlueskyClient`].
pub struct BlueskySettings {
    /// Where to log in (scheme, host, optional port and path prefix).
    pub api_base: String,
    /// The handle, DID or email and the app password.
    pub login: Login,
    /// Which blocks the command works on (`--lists`).
    pub scope: Scope,
    /// Timeout for one request.
    pub timeout: Duration,
}

/// Which host a request goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Host {
    /// Where the user logged in: sessions.
    Login,
    /// Where the repo lives: everything else.
    Pds,
}

/// The Bluesky client.
pub struct BlueskyClient {
    http: Http,
    /// The login host, parsed: the PDS when the session names none.
    login_url: reqwest::Url,
    login: Login,
    scope: Scope,
    /// The current session; read briefly for each request, replaced on renewal.
    live: Mutex<Option<Live>>,
    /// Held while the session is renewed: requests refused for the same expired token wait
    /// here, then see the new generation and are sent again without renewing twice.
    renewing: tokio::sync::Mutex<()>,
    /// Set once logging in again was refused: every later renewal ends with it, unsent.
    refused: Mutex<Option<Verdict>>,
    /// What the list and the lookups told.
    known: Mutex<Known>,
    /// The per-IP limiter's policy, as the reads' headers announce it.
    per_ip: Mutex<Option<Policy>>,
    /// The list-blocks are read too (`--lists`, or a list among the targets).
    lists: AtomicBool,
    /// The PDS has no AppView: handles are resolved one request each.
    one_by_one: AtomicBool,
}

/// A request to send again after the session was renewed for the `ExpiredToken` it met;
/// `message` is what is recorded should the renewed token be refused too.
fn expired_again(message: &str) -> Verdict {
    Verdict::Resend {
        error_code: Some(crate::network::ErrorCode::Name("ExpiredToken".into())),
        message: message.to_owned(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each value is consistent between acquisitions, so a panic elsewhere cannot spoil it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BlueskyClient {
    /// Builds a client. No request is sent.
    pub fn new(
        settings: BlueskySettings,
        clock: Arc<ServerClock>,
    ) -> Result<BlueskyClient, BaseUrlError> {
        let http = Http::new(&settings.api_base, settings.timeout, clock)?;
        let login_url = reqwest::Url::parse(http.base()).map_err(|e| BaseUrlError {
            url: http.base().to_owned(),
            reason: e.to_string(),
        })?;
        Ok(BlueskyClient {
            http,
            login_url,
            login: settings.login,
            lists: AtomicBool::new(settings.scope.lists),
            scope: settings.scope,
            live: Mutex::new(None),
            renewing: tokio::sync::Mutex::new(()),
            refused: Mutex::new(None),
            known: Mutex::new(Known::default()),
            per_ip: Mutex::new(None),
            one_by_one: AtomicBool::new(false),
        })
    }

    /// Builds a client from what every network's client is built from: the credentials in
    /// [`CREDENTIALS`]'s order (identifier, app password). No request is sent.
    pub fn connect(
        connect: crate::network::Connect,
        clock: Arc<ServerClock>,
    ) -> Result<BlueskyClient, BaseUrlError> {
        let mut secrets = connect.secrets.into_iter();
        let mut next = || secrets.next().unwrap_or_else(|| Secret::new(""));
        let login = Login {
            identifier: next(),
            password: next(),
        };
        let settings = BlueskySettings {
            api_base: connect.api_base,
            login,
            scope: connect.scope,
            timeout: connect.timeout,
        };
        BlueskyClient::new(settings, clock)
    }

    /// The normalised login URL.
    pub fn base(&self) -> &str {
        self.http.base()
    }

    /// The PDS the session names (the login host before a session or without a didDoc).
    pub fn pds(&self) -> Option<String> {
        lock(&self.live).as_ref().map(|l| l.pds.to_string())
    }

    fn known(&self) -> MutexGuard<'_, Known> {
        lock(&self.known)
    }

    fn live(&self) -> Option<Live> {
        lock(&self.live).clone()
    }

    /// Sends one XRPC request: a query's parameters in the URL, a procedure's body as JSON,
    /// the access (or refresh) token as the bearer when given.
    async fn send(
        &self,
        host: Host,
        method: Method,
        nsid: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        bearer: Option<&Secret>,
    ) -> Result<Exchange, TransportError> {
        let mut url = match (host, self.live()) {
            (Host::Pds, Some(live)) => session::xrpc_url(&live.pds, nsid),
            _ => self.http.url(&format!("/xrpc/{nsid}")),
        };
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        if let Some(token) = bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        }
        self.http.exchange(request).await
    }

    /// The reply to an exchange: its status, the window its headers announce, its `Date`. A
    /// read's headers teach the per-IP policy, which tells a write's per-IP headers from its
    /// point budget's.
    fn reply<V>(&self, exchange: &Exchange, verdict: V, request: Request) -> Reply<V> {
        let per_ip = {
            let mut per_ip = lock(&self.per_ip);
            if request == Request::Read
                && let Some(policy) = response::policy(&exchange.headers)
            {
                *per_ip = Some(policy);
            }
            *per_ip
        };
        Reply {
            verdict,
            http_status: Some(exchange.status),
            rate: response::rate_info(&exchange.headers, request, per_ip),
            server_date: exchange.date,
        }
    }

    /// Installs a session answer as the next generation of tokens.
    fn install(&self, answer: session::Answer, generation: u64) -> Account {
        let account = Account {
            user_id: answer.did.clone(),
            screen_name: answer.handle.clone(),
        };
        *lock(&self.live) = Some(Live {
            access: answer.access,
            refresh: answer.refresh,
            generation,
            did: answer.did,
            pds: answer.pds.unwrap_or_else(|| self.login_url.clone()),
        });
        account
    }

    /// `createSession` at the login host.
    async fn create_session(&self) -> Result<Exchange, TransportError> {
        let body = json!({
            "identifier": self.login.identifier.expose(),
            "password": self.login.password.expose(),
        });
        self.send(
            Host::Login,
            Method::POST,
            "com.atproto.server.createSession",
            &[],
            Some(&body),
            None,
        )
        .await
    }

    /// What a refused login means: a rejection for a wrong or revoked password or an account
    /// that cannot act; a fault or a 429 to try again.
    fn login_refused(exchange: &Exchange) -> Verdict {
        let error = XrpcError::parse(&exchange.body);
        match response::classify(exchange.status, &exchange.headers, &error) {
            Failure::Verdict(
                verdict @ (Verdict::Rejected { .. }
                | Verdict::RateLimited { .. }
                | Verdict::Transient { .. }),
            ) => verdict,
            // Any other refusal of a login (a 400 for a malformed identifier) is the
            // credentials'.
            _ => Verdict::Rejected {
                error_code: error.code(),
                message: error.describe(exchange.status),
                hint: response::AUTH_HINT,
            },
        }
    }

    /// Renews the session after a request sent with tokens of `generation` was refused for
    /// its access token. One renewal at a time: a request that waited here while another
    /// renewed only sends again. `refreshSession` first; a refused refresh (revoked, expired)
    /// logs in again, once; a refused login ends every later renewal too.
    async fn renew(&self, generation: u64) -> (Verdict, Option<u16>) {
        let _renewing = self.renewing.lock().await;
        let resend = || {
            expired_again(
                "the server refused the session's access token (ExpiredToken) again after it \
                 was renewed; check the machine's clock",
            )
        };
        if let Some(refused) = lock(&self.refused).clone() {
            return (refused, None);
        }
        let Some(live) = self.live() else {
            return (Verdict::not_ready("the session"), None);
        };
        if live.generation != generation {
            return (resend(), None);
        }
        let refreshed = self
            .send(
                Host::Login,
                Method::POST,
                "com.atproto.server.refreshSession",
                &[],
                None,
                Some(&live.refresh),
            )
            .await;
        let exchange = match refreshed {
            Ok(exchange) => exchange,
            Err(error) => return (Verdict::transient(error.message()), None),
        };
        let status = Some(exchange.status);
        if exchange.is_success() {
            return match session::parse(&exchange.body, &self.login_url) {
                Ok(answer) => {
                    tracing::info!("the access token expired; the session was refreshed");
                    self.install(answer, generation + 1);
                    (resend(), status)
                }
                Err(message) => (Verdict::unexpected(&message), status),
            };
        }
        let error = XrpcError::parse(&exchange.body);
        match response::classify(exchange.status, &exchange.headers, &error) {
            // A suspended or deactivated account: logging in again would not help.
            Failure::Verdict(
                verdict @ Verdict::Rejected {
                    hint: response::ACCOUNT_HINT,
                    ..
                },
            ) => (verdict, status),
            // The refresh token was revoked or has expired: log in again, once.
            _ if matches!(exchange.status, 400 | 401) => self.login_again(generation).await,
            Failure::Verdict(verdict) => (verdict, status),
            Failure::Session => (Verdict::transient(error.describe(exchange.status)), status),
        }
    }

    /// Logs in again after the refresh token was refused (under the renewal lock).
    async fn login_again(&self, generation: u64) -> (Verdict, Option<u16>) {
        tracing::info!("the session could not be refreshed; logging in again");
        let exchange = match self.create_session().await {
            Ok(exchange) => exchange,
            Err(error) => return (Verdict::transient(error.message()), None),
        };
        let status = Some(exchange.status);
        if exchange.is_success() {
            return match session::parse(&exchange.body, &self.login_url) {
                Ok(answer) => {
                    self.install(answer, generation + 1);
                    (
                        expired_again(
                            "the server refused the session's access token again after \
                             logging in again",
                        ),
                        status,
                    )
                }
                Err(message) => (Verdict::unexpected(&message), status),
            };
        }
        let verdict = Self::login_refused(&exchange);
        if matches!(verdict, Verdict::Rejected { .. }) {
            *lock(&self.refused) = Some(verdict.clone());
        }
        (verdict, status)
    }

    /// The current access token and its generation, or why there is none.
    fn token(&self) -> Result<(Secret, u64), Verdict> {
        self.live()
            .map(|l| (l.access, l.generation))
            .ok_or_else(|| Verdict::not_ready("the session"))
    }

    /// The account's DID.
    fn me(&self) -> Result<String, Verdict> {
        self.live()
            .map(|l| l.did)
            .ok_or_else(|| Verdict::not_ready("the session"))
    }

    /// Sends an authenticated request; an answer refusing its access token renews the
    /// session and becomes a [`Verdict::Resend`]. `Ok` is the exchange to read.
    async fn authed(
        &self,
        method: Method,
        nsid: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Exchange, Reply<Verdict>> {
        let (token, generation) = self.token().map_err(Reply::bare)?;
        let exchange = self
            .send(Host::Pds, method, nsid, query, body, Some(&token))
            .await
            .map_err(|e| Reply::bare(Verdict::transient(e.message())))?;
        if exchange.status == 400 {
            let error = XrpcError::parse(&exchange.body);
            if response::classify(400, &exchange.headers, &error) == Failure::Session {
                let (verdict, status) = self.renew(generation).await;
                return Err(Reply {
                    verdict,
                    http_status: status.or(Some(400)),
                    rate: Default::default(),
                    server_date: exchange.date,
                });
            }
        }
        Ok(exchange)
    }

    /// The verdict of an error answer to an authenticated request, read as an ordinary one.
    fn failure(exchange: &Exchange) -> Verdict {
        let error = XrpcError::parse(&exchange.body);
        match response::classify(exchange.status, &exchange.headers, &error) {
            Failure::Verdict(verdict) => verdict,
            Failure::Session => Verdict::transient(error.describe(exchange.status)),
        }
    }

    /// What the run records for a target the action settled.
    fn answer(&self, outcome: Outcome, target: &Target) -> Settled {
        Settled {
            outcome,
            user: self.known().user(target),
            error_code: None,
            message: None,
        }
    }

    /// One page of a collection of the account's repo: `(subject, rkey)` pairs and the
    /// cursor of the next page (absent on the empty page after the last).
    async fn list_records(
        &self,
        collection: Collection,
        cursor: Option<&str>,
    ) -> Reply<Result<RecordPage, Verdict>> {
        let did = match self.me() {
            Ok(did) => did,
            Err(verdict) => return Reply::bare(Err(verdict)),
        };
        let mut query = vec![
            ("repo", did.as_str()),
            ("collection", collection.nsid()),
            ("limit", PAGE_SIZE),
        ];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        // Records are public: no token, so an expired one cannot refuse the read.
        let exchange = match self
            .send(
                Host::Pds,
                Method::GET,
                "com.atproto.repo.listRecords",
                &query,
                None,
                None,
            )
            .await
        {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        let verdict = if exchange.is_success() {
            parse_records(&exchange.body).map_err(|m| Verdict::unexpected(&m))
        } else {
            Err(Self::failure(&exchange))
        };
        self.reply(&exchange, verdict, Request::Read)
    }

    /// `getProfiles` for up to 25 handles or DIDs; remembers what it told. A PDS without an
    /// AppView switches the client to resolving handles one by one, starting with this batch.
    async fn profiles(&self, targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
        let query: Vec<(&str, &str)> = targets.iter().map(|t| ("actors", t.text())).collect();
        let exchange = match self
            .authed(Method::GET, "app.bsky.actor.getProfiles", &query, None)
            .await
        {
            Ok(exchange) => exchange,
            Err(reply) => return reply.map(Err),
        };
        if !exchange.is_success() {
            let error = XrpcError::parse(&exchange.body);
            let verdict = if response::no_appview(exchange.status, &error) {
                tracing::info!(
                    "the PDS has no AppView ({}); resolving handles one by one",
                    error.describe(exchange.status)
                );
                self.one_by_one.store(true, Ordering::SeqCst);
                Verdict::Progress { next_cost: 1 }
            } else {
                Self::failure(&exchange)
            };
            return self.reply(&exchange, Err(verdict), Request::Read);
        }
        let verdict = parse_profiles(&exchange.body)
            .map_err(|m| Verdict::unexpected(&m))
            .map(|profiles| {
                let mut known = self.known();
                for (did, handle) in &profiles {
                    known.learn_name(did, handle);
                }
                for target in targets.iter().filter(|t| t.is(&HANDLE)) {
                    let found = profiles
                        .iter()
                        .find(|(_, h)| h.eq_ignore_ascii_case(target.text()));
                    known.learn_handle(target.text(), found.map(|(did, _)| did.as_str()));
                }
                profiles
                    .into_iter()
                    .map(|(did, handle)| UserRef {
                        user_id: Some(did),
                        screen_name: Some(handle),
                    })
                    .collect()
            });
        self.reply(&exchange, verdict, Request::Read)
    }

    /// Resolves the first handle of `targets` not resolved yet with `resolveHandle`; answers
    /// [`Verdict::Progress`] while more are left, and the accounts found once none is.
    async fn resolve_next(&self, targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
        let next = {
            let known = self.known();
            targets
                .iter()
                .find(|t| t.is(&HANDLE) && !known.handle_known(t.text()))
                .cloned()
        };
        let found = |known: &Known| -> Vec<UserRef> {
            targets
                .iter()
                .filter(|t| t.is(&HANDLE))
                .filter_map(|t| {
                    Some(UserRef {
                        user_id: Some(known.did_of(t.text())?.to_owned()),
                        screen_name: Some(t.text().to_owned()),
                    })
                })
                .collect()
        };
        let Some(next) = next else {
            return Reply::bare(Ok(found(&self.known())));
        };
        let exchange = match self
            .send(
                Host::Pds,
                Method::GET,
                "com.atproto.identity.resolveHandle",
                &[("handle", next.text())],
                None,
                None,
            )
            .await
        {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        let learnt = match exchange.status {
            200..=299 => parse_did(&exchange.body)
                .map(Some)
                .map_err(|m| Verdict::unexpected(&m)),
            // HandleNotFound on the PDS's own domains, InvalidRequest elsewhere: nobody.
            400 => Ok(None),
            _ => Err(Self::failure(&exchange)),
        };
        let verdict = learnt.and_then(|did| {
            let mut known = self.known();
            known.learn_handle(next.text(), did.as_deref());
            let left = targets
                .iter()
                .any(|t| t.is(&HANDLE) && !known.handle_known(t.text()));
            if left {
                Err(Verdict::Progress { next_cost: 1 })
            } else {
                Ok(found(&known))
            }
        });
        self.reply(&exchange, verdict, Request::Read)
    }

    /// Deletes the records that unblock `targets`: one request.
    async fn unblock(&self, targets: &[Target]) -> Reply<Acted> {
        let planned = self.known().deletes(targets);
        let known::Deletes { writes, subjects } = match planned {
            Ok(planned) => planned,
            Err(message) => {
                return Reply::bare(Err(Verdict::Final {
                    error_code: None,
                    message,
                }));
            }
        };
        if writes.is_empty() {
            // Every record is gone already (another target of this run named the same
            // subject): nothing to send. A subject whose records were never read is not
            // called unblocked.
            let answers = targets
                .iter()
                .map(|t| {
                    // Bound first, so the lock is released before `answer` takes it again.
                    let settled = self.known().settled(Action::Unblock, t);
                    settled.unwrap_or_else(|| Settled {
                        message: Some("the account's records were not read before".to_owned()),
                        ..self.answer(Outcome::Failed, t)
                    })
                })
                .collect();
            return Reply::bare(Ok(answers));
        }
        let single = targets.len() == 1;
        let stepwise = single && self.known().is_stepwise(&subjects[0].1);
        if writes.len() == 1 || stepwise {
            return self.delete_one(&writes[0], targets, &subjects).await;
        }
        if writes.len() > MAX_WRITES && !single {
            return Reply::bare(Err(Verdict::Split {
                message: format!("{} records are more than one batch takes", writes.len()),
            }));
        }
        let batch = &writes[..writes.len().min(MAX_WRITES)];
        let did = match self.me() {
            Ok(did) => did,
            Err(verdict) => return Reply::bare(Err(verdict)),
        };
        let body = json!({
            "repo": did,
            "writes": batch.iter().map(|w| json!({
                "$type": "com.atproto.repo.applyWrites#delete",
                "collection": w.collection.nsid(),
                "rkey": w.rkey,
            })).collect::<Vec<_>>(),
        });
        let exchange = match self
            .authed(
                Method::POST,
                "com.atproto.repo.applyWrites",
                &[],
                Some(&body),
            )
            .await
        {
            Ok(exchange) => exchange,
            Err(reply) => return reply.map(Err),
        };
        let verdict = if exchange.is_success() {
            self.known().deleted(batch);
            if single && self.known().has_records(subjects[0].0, &subjects[0].1) {
                // More than one batch of records for one subject: the rest next.
                let left = self.known().cost(Action::Unblock, &targets[0]);
                Err(Verdict::Progress {
                    next_cost: left.min(MAX_WRITES as u32),
                })
            } else {
                Ok(self.unblocked(targets, &subjects))
            }
        } else if exchange.status == 500 {
            // Maybe a record deleted since it was listed: the batch did nothing.
            if single {
                tracing::info!(
                    "a batch of {} records of one subject failed (HTTP 500); deleting them one \
                     by one",
                    batch.len()
                );
                self.known().go_stepwise(&subjects[0].1);
                Err(Verdict::Progress { next_cost: 1 })
            } else {
                Err(Verdict::Split {
                    message: XrpcError::parse(&exchange.body).describe(500),
                })
            }
        } else {
            Err(Self::failure(&exchange))
        };
        self.reply(&exchange, verdict, Request::Write)
    }

    /// Deletes one record with `deleteRecord` (200 `{}` when it is gone already); the targets
    /// are unblocked once none of their records is left.
    async fn delete_one(
        &self,
        write: &Write,
        targets: &[Target],
        subjects: &[(Collection, String)],
    ) -> Reply<Acted> {
        let did = match self.me() {
            Ok(did) => did,
            Err(verdict) => return Reply::bare(Err(verdict)),
        };
        let body = json!({
            "repo": did,
            "collection": write.collection.nsid(),
            "rkey": write.rkey,
        });
        let exchange = match self
            .authed(
                Method::POST,
                "com.atproto.repo.deleteRecord",
                &[],
                Some(&body),
            )
            .await
        {
            Ok(exchange) => exchange,
            Err(reply) => return reply.map(Err),
        };
        let verdict = if exchange.is_success() {
            self.known().deleted(std::slice::from_ref(write));
            if self.known().has_records(write.collection, &write.subject) {
                Err(Verdict::Progress { next_cost: 1 })
            } else {
                Ok(self.unblocked(targets, subjects))
            }
        } else {
            Err(Self::failure(&exchange))
        };
        self.reply(&exchange, verdict, Request::Write)
    }

    /// The answers once a request's deletes are confirmed: each target is `unblocked` when
    /// none of its subject's records is left, else `failed` (never the case when every
    /// record of the target went in the request; the check keeps it that way).
    fn unblocked(&self, targets: &[Target], subjects: &[(Collection, String)]) -> Vec<Settled> {
        let known = self.known();
        targets
            .iter()
            .zip(subjects)
            .map(|(target, (collection, subject))| {
                let left = known.has_records(*collection, subject);
                Settled {
                    outcome: if left {
                        Outcome::Failed
                    } else {
                        Outcome::Unblocked
                    },
                    user: known.user(target),
                    error_code: None,
                    message: left.then(|| "records of this subject are left".to_owned()),
                }
            })
            .collect()
    }

    /// Creates the records that block `targets` again: one request.
    async fn block(&self, targets: &[Target]) -> Reply<Acted> {
        let planned = self.known().creates(targets);
        let writes = match planned {
            Ok(planned) => planned,
            Err(message) => {
                return Reply::bare(Err(Verdict::Final {
                    error_code: None,
                    message,
                }));
            }
        };
        let answers = |client: &BlueskyClient| -> Vec<Settled> {
            targets
                .iter()
                .map(|t| client.answer(Outcome::Blocked, t))
                .collect()
        };
        if writes.is_empty() {
            return Reply::bare(Ok(answers(self)));
        }
        let did = match self.me() {
            Ok(did) => did,
            Err(verdict) => return Reply::bare(Err(verdict)),
        };
        let created_at = humantime::format_rfc3339_millis(self.http.clock().server_now());
        let record = |w: &Write| {
            json!({
                "$type": w.collection.nsid(),
                "subject": w.subject,
                "createdAt": created_at.to_string(),
            })
        };
        let (nsid, body) = if writes.len() == 1 {
            // `createRecord` of a block replaces older blocks of the subject: sent again after
            // a lost answer, it leaves one record, not two.
            let body = json!({
                "repo": did,
                "collection": writes[0].collection.nsid(),
                "record": record(&writes[0]),
            });
            ("com.atproto.repo.createRecord", body)
        } else {
            let body = json!({
                "repo": did,
                "writes": writes.iter().map(|w| json!({
                    "$type": "com.atproto.repo.applyWrites#create",
                    "collection": w.collection.nsid(),
                    "value": record(w),
                })).collect::<Vec<_>>(),
            });
            ("com.atproto.repo.applyWrites", body)
        };
        let exchange = match self.authed(Method::POST, nsid, &[], Some(&body)).await {
            Ok(exchange) => exchange,
            Err(reply) => return reply.map(Err),
        };
        let verdict = if exchange.is_success() {
            let uris = created_uris(&exchange.body);
            let mut known = self.known();
            for (i, w) in writes.iter().enumerate() {
                let rkey = uris
                    .get(i)
                    .and_then(|u| u.rsplit('/').next())
                    .map(str::to_owned);
                known.created(w.collection, &w.subject, rkey.as_deref());
            }
            drop(known);
            Ok(answers(self))
        } else if exchange.status == 500 && writes.len() > 1 {
            Err(Verdict::Split {
                message: XrpcError::parse(&exchange.body).describe(500),
            })
        } else {
            Err(Self::failure(&exchange))
        };
        self.reply(&exchange, verdict, Request::Write)
    }
}

/// One page of a collection's records.
#[derive(Debug, Default, PartialEq, Eq)]
struct RecordPage {
    /// `(subject, rkey)` of each record whose value names a subject.
    records: Vec<(String, String)>,
    /// The cursor of the next page; `None` on the empty page after the last.
    cursor: Option<String>,
}

/// A `listRecords` page. The cursor of an empty page is dropped, so that reading stops there.
fn parse_records(body: &[u8]) -> Result<RecordPage, String> {
    #[derive(serde::Deserialize)]
    struct Page {
        records: Vec<Record>,
        #[serde(default)]
        cursor: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Record {
        uri: String,
        #[serde(default)]
        value: Value,
    }
    let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let records: Vec<(String, String)> = page
        .records
        .iter()
        .filter_map(|r| {
            let subject = r.value.get("subject")?.as_str()?;
            let rkey = r.uri.rsplit('/').next().filter(|k| !k.is_empty())?;
            Some((subject.to_owned(), rkey.to_owned()))
        })
        .collect();
    let cursor = page.cursor.filter(|_| !page.records.is_empty());
    Ok(RecordPage { records, cursor })
}

/// A `getProfiles` answer: `(did, handle)` of each profile.
fn parse_profiles(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    #[derive(serde::Deserialize)]
    struct Profiles {
        profiles: Vec<Profile>,
    }
    #[derive(serde::Deserialize)]
    struct Profile {
        did: String,
        handle: String,
    }
    let answer: Profiles = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(answer
        .profiles
        .into_iter()
        .map(|p| (p.did, p.handle.to_ascii_lowercase()))
        .collect())
}

/// A `resolveHandle` answer's DID.
fn parse_did(body: &[u8]) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Resolved {
        did: String,
    }
    let answer: Resolved = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(answer.did)
}

/// The at-URIs of the records a `createRecord` or `applyWrites` answer says it created.
fn created_uris(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    if let Some(uri) = value.get("uri").and_then(Value::as_str) {
        return vec![uri.to_owned()];
    }
    value
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uri").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// A cursor of the block list: which collection, and where in it.
fn read_cursor(cursor: Option<&str>) -> Result<(Collection, Option<&str>), String> {
    match cursor {
        None => Ok((Collection::Block, None)),
        Some(c) => match c.split_once(':') {
            Some(("b", rest)) if !rest.is_empty() => Ok((Collection::Block, Some(rest))),
            Some(("l", "")) => Ok((Collection::ListBlock, None)),
            Some(("l", rest)) => Ok((Collection::ListBlock, Some(rest))),
            _ => Err(format!(
                "`{c}` is not a cursor of this tool's Bluesky block list"
            )),
        },
    }
}

fn write_cursor(collection: Collection, cursor: &str) -> String {
    match collection {
        Collection::Block => format!("b:{cursor}"),
        Collection::ListBlock => format!("l:{cursor}"),
    }
}

impl Network for BlueskyClient {
    fn network(&self) -> NetworkId {
        NetworkId::Bluesky
    }

    async fn verify(&self) -> Reply<Result<Account, Verdict>> {
        let exchange = match self.create_session().await {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        let verdict = if exchange.is_success() {
            session::parse(&exchange.body, &self.login_url)
                .map(|answer| {
                    let generation = self.live().map_or(1, |l| l.generation + 1);
                    *lock(&self.refused) = None;
                    self.install(answer, generation)
                })
                .map_err(|message| Verdict::Final {
                    error_code: None,
                    message,
                })
        } else {
            Err(Self::login_refused(&exchange))
        };
        self.reply(&exchange, verdict, Request::Session)
    }

    async fn act(&self, action: Action, targets: &[Target]) -> Reply<Acted> {
        match action {
            Action::Unblock => self.unblock(targets).await,
            Action::Block => self.block(targets).await,
        }
    }

    fn batch(&self, action: Action) -> Batch {
        match action {
            Action::Unblock => Batch {
                targets: MAX_WRITES,
                cost: MAX_WRITES as u32,
            },
            Action::Block => Batch {
                targets: MAX_WRITES,
                cost: MAX_WRITES as u32 * known::CREATE_POINTS,
            },
        }
    }

    fn cost(&self, action: Action, target: &Target) -> u32 {
        self.known().cost(action, target)
    }

    async fn blocked_page(&self, cursor: Option<&str>) -> Reply<Result<BlockPage, Verdict>> {
        let (collection, at) = match read_cursor(cursor) {
            Ok(read) => read,
            Err(message) => {
                return Reply::bare(Err(Verdict::Final {
                    error_code: None,
                    message,
                }));
            }
        };
        self.known().start_page(collection, at.is_none());
        let reply = self.list_records(collection, at).await;
        reply.map(|verdict| {
            verdict.map(|RecordPage { records, cursor }| {
                let mut known = self.known();
                known.add_records(
                    collection,
                    records.iter().map(|(s, k)| (s.as_str(), k.as_str())),
                );
                let next = match cursor {
                    Some(c) => Some(write_cursor(collection, &c)),
                    None => {
                        known.end_collection(collection);
                        (collection == Collection::Block && self.lists.load(Ordering::SeqCst))
                            .then(|| "l:".to_owned())
                    }
                };
                // List URIs are part of the block list only when the command works on lists.
                let listed = collection == Collection::Block || self.scope.lists;
                let mut ids: Vec<String> = Vec::new();
                if listed {
                    for (subject, _) in &records {
                        if !ids.contains(subject) {
                            ids.push(subject.clone());
                        }
                    }
                }
                // Handles are known only for accounts looked up before (by an earlier read).
                let names = ids
                    .iter()
                    .filter_map(|id| Some((id.clone(), known.name_of(id)?.to_owned())))
                    .collect();
                BlockPage { ids, next, names }
            })
        })
    }

    async fn lookup(&self, targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
        if targets.is_empty() {
            return Reply::bare(Ok(Vec::new()));
        }
        if self.one_by_one.load(Ordering::SeqCst) {
            return self.resolve_next(targets).await;
        }
        if targets.len() > PROFILES_PER_CALL {
            return Reply::bare(Err(Verdict::Final {
                error_code: None,
                message: format!(
                    "{} actors are more than one getProfiles takes",
                    targets.len()
                ),
            }));
        }
        self.profiles(targets).await
    }

    fn lookup_batch(&self) -> usize {
        if self.one_by_one.load(Ordering::SeqCst) {
            1
        } else {
            PROFILES_PER_CALL
        }
    }

    fn needs_list(&self, _action: Action, targets: &[Target]) -> bool {
        if targets.is_empty() {
            return false;
        }
        if targets.iter().any(|t| t.is(&LIST)) {
            self.lists.store(true, Ordering::SeqCst);
        }
        let known = self.known();
        !(known.complete(Collection::Block)
            && (!self.lists.load(Ordering::SeqCst) || known.complete(Collection::ListBlock)))
    }

    fn to_resolve(&self, _action: Action, targets: &[Target]) -> Vec<Target> {
        self.known().to_resolve(targets)
    }

    fn settled(&self, action: Action, target: &Target) -> Option<Settled> {
        self.known().settled(action, target)
    }
}

#[cfg(test)]
mod tests;
