//! X API v2 behind the network seam, over the same OAuth 1.0a user-context transport as v1.1.
//!
//! v2 names users by ID only: the unblock is `DELETE /2/users/{me}/blocking/{target}`, so the
//! client learns its own ID from `GET /2/users/me` and needs the ID of every screen name. The run
//! resolves the names before the first action, through [`Network::lookup`] (`GET /2/users/by`, 100
//! a request, paced by the caller), and the client caches what each lookup told: the users found
//! and the names that are gone; `act` on a name then sends only the action. Errors are problem
//! JSON without numeric codes, sorted by [`response`]. On X's current plans block management is
//! Enterprise-only; the access-tier 403 becomes a [`Verdict::Rejected`] whose hint says so,
//! rather than a failure per target.

pub mod response;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use reqwest::Method;

use super::identity::{SCREEN_NAME, USER_ID};
use super::transport::{Exchange, Transport};
use super::{BaseUrlError, XSettings};
use crate::clock::ServerClock;
use crate::network::x::response::{rate_info, server_date};
use crate::network::{Account, BlockPage, Network, NetworkId, RateInfo, Reply, UserRef, Verdict};
use crate::outcome::{Action, Outcome};
use crate::target::Target;
use response::{Lookup, Problem};

/// Users per `GET /2/users/by` or `GET /2/users` request.
const BATCH: usize = 100;

/// Block-list entries per page: the most `GET /2/users/{id}/blocking` gives.
const PAGE_SIZE: &str = "1000";

/// The X API v2 client.
pub struct XV2Client {
    transport: Transport,
    /// The authenticated user's ID, learnt from `GET /2/users/me`.
    me: OnceLock<String>,
    /// What the server has told about users so far.
    known: Mutex<Known>,
    /// A 401 on the credentials check was already taken for a refused timestamp once.
    resynced: AtomicBool,
}

/// Users learnt from lookups and block-list pages.
#[derive(Default)]
struct Known {
    /// By lowercased screen name (names are case-insensitive).
    by_name: HashMap<String, Resolved>,
    /// Screen names by user ID, to name an ID target in the journal.
    names: HashMap<String, String>,
}

/// What a screen name resolved to.
#[derive(Clone, Debug)]
enum Resolved {
    /// An active user.
    User(UserRef),
    /// No user can be acted on under this name.
    Gone { outcome: Outcome, message: String },
}

impl Known {
    fn learn(&mut self, user: &UserRef) {
        if let (Some(id), Some(name)) = (&user.user_id, &user.screen_name) {
            self.names.insert(id.clone(), name.clone());
            self.by_name
                .insert(name.to_lowercase(), Resolved::User(user.clone()));
        }
    }
}

/// A reply carrying `verdict`, with what the exchange (if any) announced. `rate` is dropped for
/// requests to another endpoint than the one acted on, so the pacer never mixes two windows.
fn reply<V>(verdict: V, exchange: Option<&Exchange>, keep_rate: bool) -> Reply<V> {
    Reply {
        verdict,
        http_status: exchange.map(|e| e.status),
        rate: match exchange {
            Some(e) if keep_rate => rate_info(&e.headers),
            _ => RateInfo::default(),
        },
        server_date: exchange.and_then(|e| server_date(&e.headers)),
    }
}

fn transient(message: String) -> Verdict {
    Verdict::Transient {
        error_code: None,
        message,
    }
}

fn unexpected(message: &str) -> Verdict {
    transient(format!("unexpected answer from the server: {message}"))
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

impl XV2Client {
    /// Builds a client. No request is sent.
    pub fn new(settings: XSettings, clock: Arc<ServerClock>) -> Result<XV2Client, BaseUrlError> {
        Ok(XV2Client {
            transport: Transport::new(settings, clock)?,
            me: OnceLock::new(),
            known: Mutex::new(Known::default()),
            resynced: AtomicBool::new(false),
        })
    }

    /// The normalised base URL.
    pub fn base(&self) -> &str {
        self.transport.base()
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        // The map is consistent between lock acquisitions, so a panic elsewhere cannot spoil it.
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The authenticated user's ID: remembered from [`Network::verify`], or asked for now.
    async fn me(&self) -> Result<String, Reply> {
        if let Some(id) = self.me.get() {
            return Ok(id.clone());
        }
        let exchange = self
            .transport
            .send(Method::GET, "/2/users/me", &[])
            .await
            .map_err(|m| reply(transient(m), None, false))?;
        if !is_success(exchange.status) {
            let verdict = match response::classify_error(
                exchange.status,
                &exchange.body,
                &exchange.headers,
            ) {
                // Without our own ID nothing can be asked of the target: not the target's fault.
                Verdict::Done { message, .. } => transient(format!(
                    "could not learn the account's user ID: {}",
                    message.unwrap_or_default()
                )),
                other => other,
            };
            return Err(reply(verdict, Some(&exchange), false));
        }
        let account = response::parse_me(&exchange.body)
            .map_err(|m| reply(unexpected(&m), Some(&exchange), false))?;
        Ok(self.me.get_or_init(|| account.user_id).clone())
    }

    /// Sends a GET and parses a 2xx body with `parse`; anything else becomes a verdict.
    async fn read<T>(
        &self,
        path: &str,
        params: &[(&str, &str)],
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Reply<Result<T, Verdict>> {
        match self.transport.send(Method::GET, path, params).await {
            Ok(exchange) => {
                let verdict = if is_success(exchange.status) {
                    parse(&exchange.body).map_err(|m| unexpected(&m))
                } else {
                    Err(response::classify_error(
                        exchange.status,
                        &exchange.body,
                        &exchange.headers,
                    ))
                };
                reply(verdict, Some(&exchange), true)
            }
            Err(message) => reply(Err(transient(message)), None, false),
        }
    }

    /// Looks names up and remembers, for every name asked, what the answer said: the user, or
    /// why no user can be acted on under it. A name the answer leaves out is `not_found`, unless
    /// its partial error says the user is suspended.
    async fn lookup_names(&self, names: &[&str]) -> Reply<Result<Lookup, Verdict>> {
        let joined = names.join(",");
        let answer = self
            .read(
                "/2/users/by",
                &[("usernames", &joined)],
                response::parse_lookup,
            )
            .await;
        if let Ok(lookup) = &answer.verdict {
            let mut known = self.known();
            for user in &lookup.users {
                known.learn(user);
            }
            let found: HashSet<String> = lookup
                .users
                .iter()
                .filter_map(|u| u.screen_name.as_deref())
                .map(str::to_lowercase)
                .collect();
            for name in names {
                let key = name.to_lowercase();
                if found.contains(&key) {
                    continue;
                }
                let why = lookup
                    .missing
                    .iter()
                    .find(|m| m.value.eq_ignore_ascii_case(name));
                let gone = Resolved::Gone {
                    outcome: why.and_then(|m| m.outcome).unwrap_or(Outcome::NotFound),
                    message: why.map_or_else(
                        || "the server did not return this user".to_owned(),
                        |m| m.message.clone(),
                    ),
                };
                known.by_name.insert(key, gone);
            }
        }
        answer
    }

    /// Looks IDs up, remembering the names of the users found.
    async fn lookup_ids(&self, ids: &[String]) -> Reply<Result<Lookup, Verdict>> {
        let joined = ids.join(",");
        let answer = self
            .read("/2/users", &[("ids", &joined)], response::parse_lookup)
            .await;
        if let Ok(lookup) = &answer.verdict {
            let mut known = self.known();
            for user in &lookup.users {
                known.learn(user);
            }
        }
        answer
    }

    /// The user a target names, with its ID; or the reply that ends the target (gone, or the
    /// lookup itself failed). Names are normally resolved before the run; one that was not is
    /// looked up alone, and the answer cached for the client's lifetime.
    async fn resolve(&self, target: &Target) -> Result<UserRef, Reply> {
        if target.is(&USER_ID) {
            let id = target.text().to_owned();
            let screen_name = self.known().names.get(&id).cloned();
            return Ok(UserRef {
                user_id: Some(id),
                screen_name,
            });
        }
        let name = target.text();
        let key = name.to_lowercase();
        let cached = self.known().by_name.get(&key).cloned();
        let (resolved, http_status, server_date) = match cached {
            Some(resolved) => (Some(resolved), None, None),
            None => {
                let answer = self.lookup_names(&[name]).await;
                // The lookup's rate window is not the action's: keep only its status and date.
                if let Err(verdict) = answer.verdict {
                    // A 429 or a fault stays what it is: the target is sent again, not failed.
                    return Err(Reply {
                        verdict,
                        http_status: answer.http_status,
                        rate: RateInfo::default(),
                        server_date: answer.server_date,
                    });
                }
                let resolved = self.known().by_name.get(&key).cloned();
                (resolved, answer.http_status, answer.server_date)
            }
        };
        let wrap = |verdict: Verdict| Reply {
            verdict,
            http_status,
            rate: RateInfo::default(),
            server_date,
        };
        match resolved {
            Some(Resolved::User(user)) => match &user.user_id {
                Some(id) if id.parse::<u64>().is_ok() => Ok(user),
                _ => Err(wrap(unexpected("a user ID that is not a number"))),
            },
            Some(Resolved::Gone { outcome, message }) => Err(wrap(Verdict::Done {
                outcome,
                user: UserRef {
                    user_id: None,
                    screen_name: Some(name.to_owned()),
                },
                error_code: None,
                message: Some(message),
            })),
            // `lookup_names` remembers every name it was asked after a successful answer.
            None => Err(wrap(unexpected("a lookup that left the name out"))),
        }
    }

    /// After an unexplained 403 on a target, asks whether the user is gone: the 403 for an
    /// unknown or suspended target is not documented, a lookup by ID is.
    async fn why_forbidden(&self, id: &str) -> Option<(Outcome, String)> {
        let answer = self.lookup_ids(&[id.to_owned()]).await;
        let lookup = answer.verdict.ok()?;
        let missing = lookup.missing.into_iter().find(|m| m.value == id)?;
        Some((missing.outcome?, missing.message))
    }
}

impl Network for XV2Client {
    fn network(&self) -> NetworkId {
        NetworkId::X
    }

    fn lookup_batch(&self) -> usize {
        BATCH
    }

    fn acts_by_id(&self) -> bool {
        true
    }

    fn settled(&self, target: &Target) -> Option<Verdict> {
        if !target.is(&SCREEN_NAME) {
            return None;
        }
        let name = target.text();
        match self.known().by_name.get(&name.to_lowercase())? {
            Resolved::Gone { outcome, message } => Some(Verdict::Done {
                outcome: *outcome,
                user: UserRef {
                    user_id: None,
                    screen_name: Some(name.to_owned()),
                },
                error_code: None,
                message: Some(message.clone()),
            }),
            Resolved::User(_) => None,
        }
    }

    async fn verify(&self) -> Reply<Result<Account, Verdict>> {
        let exchange = match self.transport.send(Method::GET, "/2/users/me", &[]).await {
            Ok(exchange) => exchange,
            Err(message) => return reply(Err(transient(message)), None, false),
        };
        if is_success(exchange.status) {
            let verdict = response::parse_me(&exchange.body)
                .inspect(|account| {
                    let _ = self.me.set(account.user_id.clone());
                })
                .map_err(|m| Verdict::Done {
                    outcome: Outcome::Failed,
                    user: UserRef::default(),
                    error_code: None,
                    message: Some(format!("unexpected answer from the server: {m}")),
                });
            return reply(verdict, Some(&exchange), true);
        }
        // v2 gives no code for a refused timestamp: a 401 may be our clock, so correct it from
        // the server's `Date` once before calling the credentials wrong.
        if exchange.status == 401 && !self.resynced.swap(true, Ordering::SeqCst) {
            self.transport.resync(&exchange);
            let verdict = Verdict::Resend {
                error_code: None,
                message: super::response::timestamp_refused("HTTP 401"),
            };
            return reply(Err(verdict), Some(&exchange), true);
        }
        let problem = Problem::parse(&exchange.body);
        let message = problem.message(exchange.status);
        let verdict =
            match response::classify_error(exchange.status, &exchange.body, &exchange.headers) {
                // 5xx and 429 may pass: the retry loop sends them again.
                Verdict::Transient { error_code, .. } => Verdict::Transient {
                    error_code,
                    message: format!("HTTP {}: {message}", exchange.status),
                },
                rate_limited @ Verdict::RateLimited { .. } => rate_limited,
                _ => match response::rejection_hint(exchange.status, &problem) {
                    Some(hint) => Verdict::Rejected {
                        error_code: None,
                        message,
                        hint,
                    },
                    None => Verdict::Done {
                        outcome: Outcome::Failed,
                        user: UserRef::default(),
                        error_code: None,
                        message: Some(format!("HTTP {}: {message}", exchange.status)),
                    },
                },
            };
        reply(Err(verdict), Some(&exchange), true)
    }

    async fn act(&self, action: Action, target: &Target) -> Reply {
        let me = match self.me().await {
            Ok(me) => me,
            Err(reply) => return reply,
        };
        let user = match self.resolve(target).await {
            Ok(user) => user,
            Err(reply) => return reply,
        };
        let Some(id) = user.user_id.clone() else {
            return reply(unexpected("a user without an ID"), None, false);
        };
        let sent = match action {
            Action::Unblock => {
                let path = format!("/2/users/{me}/blocking/{id}");
                self.transport.send(Method::DELETE, &path, &[]).await
            }
            Action::Block => {
                let path = format!("/2/users/{me}/blocking");
                let body = serde_json::json!({ "target_user_id": id });
                self.transport.send_json(Method::POST, &path, &body).await
            }
        };
        let exchange = match sent {
            Ok(exchange) => exchange,
            Err(message) => return reply(transient(message), None, false),
        };
        let mut verdict =
            response::classify(action, exchange.status, &exchange.body, &exchange.headers);
        if let Verdict::Done {
            outcome,
            user: named,
            message,
            ..
        } = &mut verdict
        {
            *named = user;
            if exchange.status == 403
                && *outcome == Outcome::Failed
                && let Some((gone, why)) = self.why_forbidden(&id).await
            {
                *outcome = gone;
                *message = Some(why);
            }
        }
        reply(verdict, Some(&exchange), true)
    }

    async fn blocked_page(&self, cursor: Option<&str>) -> Reply<Result<BlockPage, Verdict>> {
        let me = match self.me().await {
            Ok(me) => me,
            Err(r) => return r.map(Err),
        };
        let path = format!("/2/users/{me}/blocking");
        let mut params = vec![("max_results", PAGE_SIZE)];
        if let Some(token) = cursor {
            params.push(("pagination_token", token));
        }
        let answer = self
            .read(&path, &params, response::parse_blocking_page)
            .await;
        if let Ok(page) = &answer.verdict {
            let mut known = self.known();
            for (id, name) in &page.names {
                known.learn(&UserRef {
                    user_id: Some(id.to_string()),
                    screen_name: Some(name.clone()),
                });
            }
        }
        answer
    }

    async fn lookup(&self, targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
        let names: Vec<&str> = targets
            .iter()
            .filter(|t| t.is(&SCREEN_NAME))
            .map(Target::text)
            .collect();
        let ids: Vec<String> = targets
            .iter()
            .filter(|t| t.is(&USER_ID))
            .map(|t| t.text().to_owned())
            .collect();
        let mut users = Vec::new();
        let mut last = None;
        // Names and IDs are separate endpoints: ask each that has something to ask (`true` for
        // names), and stop at the first failure so the caller sees why.
        for part in [
            (!names.is_empty()).then_some(true),
            (!ids.is_empty()).then_some(false),
        ]
        .into_iter()
        .flatten()
        {
            let answer = if part {
                self.lookup_names(&names).await
            } else {
                self.lookup_ids(&ids).await
            };
            let answer = answer.map(|verdict| verdict.map(|lookup| lookup.users));
            if answer.verdict.is_err() {
                return answer;
            }
            last = Some(answer.map(|found| users.extend(found.unwrap_or_default())));
        }
        let users = Ok(users);
        match last {
            Some(answer) => answer.map(|()| users),
            None => Reply::bare(users),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::emulator::x::{
        self as emulator, Config, Emulator, Endpoint, Running, Seed, SeedUser, UserState,
    };
    #[allow(unused_imports)]
    use crate::network::x::identity::testing::{id, name};
    use crate::network::x::oauth::{Credentials, Secret};

    /// The builtin seed's first account, served on loopback, and a v2 client acting for it.
    struct Fixture {
        running: Running,
        client: XV2Client,
        owner: u64,
        users: Vec<SeedUser>,
    }

    async fn fixture() -> Fixture {
        let seed = Seed::builtin();
        let account = seed.accounts[0].clone();
        let app = seed
            .apps
            .iter()
            .find(|a| a.consumer_key == account.consumer_key)
            .expect("the builtin seed's account has its app")
            .clone();
        let users = seed.users.clone();
        let emulator = Emulator::new(seed, Config::default()).expect("the builtin seed is valid");
        let running = emulator::spawn(emulator).await.expect("bind loopback");
        let settings = XSettings {
            api_base: running.base_url(),
            credentials: Credentials {
                consumer_key: Secret::new(app.consumer_key),
                consumer_secret: Secret::new(app.consumer_secret),
                access_token: Secret::new(account.access_token),
                access_token_secret: Secret::new(account.access_token_secret),
            },
            timeout: Duration::from_secs(10),
        };
        let client = XV2Client::new(settings, Arc::new(ServerClock::new())).expect("valid base");
        Fixture {
            running,
            client,
            owner: account.user_id,
            users,
        }
    }

    impl Fixture {
        fn blocked(&self) -> Vec<u64> {
            self.running.emulator.blocked(self.owner)
        }

        /// Blocked users in `state`, as the seed knows them.
        fn blocked_in(&self, state: UserState) -> Vec<SeedUser> {
            let blocked = self.blocked();
            self.users
                .iter()
                .filter(|u| u.state == state && blocked.contains(&u.id))
                .cloned()
                .collect()
        }

        fn sent_to(&self, endpoint: Endpoint) -> usize {
            self.running
                .emulator
                .requests()
                .iter()
                .filter(|r| r.endpoint == endpoint)
                .count()
        }
    }

    fn outcome_and_user(reply: &Reply) -> (Outcome, UserRef) {
        match &reply.verdict {
            Verdict::Done { outcome, user, .. } => (*outcome, user.clone()),
            other => panic!("expected a terminal verdict, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn verify_returns_the_account() {
        let f = fixture().await;
        let account = f
            .client
            .verify()
            .await
            .verdict
            .expect("the seed's credentials are valid");
        assert_eq!(account.user_id, f.owner.to_string());
        assert_eq!(account.screen_name.as_deref(), Some("demo_owner"));
    }

    #[tokio::test]
    async fn wrong_credentials_are_rejected_with_the_credentials_hint() {
        let f = fixture().await;
        let settings = XSettings {
            api_base: f.running.base_url(),
            credentials: Credentials {
                consumer_key: Secret::new("nobody"),
                consumer_secret: Secret::new("nothing"),
                access_token: Secret::new("1-none"),
                access_token_secret: Secret::new("none"),
            },
            timeout: Duration::from_secs(10),
        };
        let client = XV2Client::new(settings, Arc::new(ServerClock::new())).expect("valid base");
        // The first 401 may be a refused timestamp: the clock is corrected once.
        let first = client.verify().await;
        assert!(
            matches!(first.verdict, Err(Verdict::Resend { .. })),
            "{first:?}"
        );
        let second = client.verify().await;
        assert_eq!(second.http_status, Some(401));
        match second.verdict {
            Err(Verdict::Rejected { hint, .. }) => assert_eq!(hint, response::AUTH_HINT),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn unblocks_by_id_and_by_name_change_the_server() {
        let f = fixture().await;
        f.client.verify().await.verdict.expect("verify");
        let active = f.blocked_in(UserState::Active);
        let (by_id, by_name) = (&active[0], &active[1]);

        let reply = f.client.act(Action::Unblock, &id(by_id.id)).await;
        let (outcome, user) = outcome_and_user(&reply);
        assert_eq!(outcome, Outcome::Unblocked);
        assert_eq!(user.user_id, Some(by_id.id.to_string()));
        assert_eq!(reply.http_status, Some(200));
        assert!(reply.rate.window.is_some(), "v2 rate headers are read");
        assert!(!f.blocked().contains(&by_id.id));

        // Names are case-insensitive; the server's spelling is what gets recorded.
        let written = by_name.screen_name.to_uppercase();
        let target = name(written);
        let reply = f.client.act(Action::Unblock, &target).await;
        let (outcome, user) = outcome_and_user(&reply);
        assert_eq!(outcome, Outcome::Unblocked);
        assert_eq!(user.user_id, Some(by_name.id.to_string()));
        assert_eq!(
            user.screen_name.as_deref(),
            Some(by_name.screen_name.as_str())
        );
        assert!(!f.blocked().contains(&by_name.id));

        // A second action on the same name needs no second lookup.
        let again = f.client.act(Action::Unblock, &target).await;
        assert_eq!(outcome_and_user(&again).0, Outcome::Unblocked);
        assert_eq!(f.sent_to(Endpoint::V2UsersBy), 1);
        assert_eq!(f.sent_to(Endpoint::V2Unblock), 3);
    }

    #[tokio::test]
    async fn a_block_recreates_the_block() {
        let f = fixture().await;
        let user = f.blocked_in(UserState::Active)[0].clone();
        let target = id(user.id);
        let undone = f.client.act(Action::Unblock, &target).await;
        assert_eq!(outcome_and_user(&undone).0, Outcome::Unblocked);
        assert!(!f.blocked().contains(&user.id));
        let redone = f.client.act(Action::Block, &target).await;
        assert_eq!(outcome_and_user(&redone).0, Outcome::Blocked);
        assert!(f.blocked().contains(&user.id));
    }

    #[tokio::test]
    async fn unknown_names_are_not_found_without_an_unblock() {
        let f = fixture().await;
        let reply = f.client.act(Action::Unblock, &name("no_such_user_x")).await;
        let (outcome, user) = outcome_and_user(&reply);
        assert_eq!(outcome, Outcome::NotFound);
        assert_eq!(user.screen_name.as_deref(), Some("no_such_user_x"));
        assert_eq!(f.sent_to(Endpoint::V2Unblock), 0);
        // The lookup's window is not the unblock's: it is not reported to the pacer.
        assert_eq!(reply.rate, RateInfo::default());
    }

    #[tokio::test]
    async fn one_lookup_of_names_answers_every_later_act() {
        let f = fixture().await;
        let first = |users: Vec<SeedUser>| name(&users[0].screen_name);
        let active = first(f.blocked_in(UserState::Active));
        let suspended = first(f.blocked_in(UserState::Suspended));
        let deactivated = first(f.blocked_in(UserState::Deactivated));
        let unknown = name("no_such_user_x");
        let targets = [active, suspended, deactivated, unknown];
        f.client.lookup(&targets).await.verdict.expect("a lookup");
        let mut outcomes = Vec::new();
        for target in &targets {
            outcomes.push(outcome_and_user(&f.client.act(Action::Unblock, target).await).0);
        }
        assert_eq!(
            outcomes,
            [
                Outcome::Unblocked,
                Outcome::Suspended,
                Outcome::NotFound,
                Outcome::NotFound
            ]
        );
        assert_eq!(f.sent_to(Endpoint::V2UsersBy), 1, "no lookup of its own");
        assert_eq!(f.sent_to(Endpoint::V2Users), 0);
        assert_eq!(f.sent_to(Endpoint::V2Unblock), 1, "only the active user");
    }

    #[tokio::test]
    async fn gone_targets_by_id_are_sorted_by_a_lookup() {
        let f = fixture().await;
        let suspended = f.blocked_in(UserState::Suspended);
        let deactivated = f.blocked_in(UserState::Deactivated);
        assert!(!suspended.is_empty() && !deactivated.is_empty());
        let reply = f.client.act(Action::Unblock, &id(suspended[0].id)).await;
        assert_eq!(outcome_and_user(&reply).0, Outcome::Suspended);
        assert_eq!(reply.http_status, Some(403));
        let reply = f.client.act(Action::Unblock, &id(deactivated[0].id)).await;
        assert_eq!(outcome_and_user(&reply).0, Outcome::NotFound);
        assert_eq!(f.sent_to(Endpoint::V2Users), 2);
        let reply = f.client.act(Action::Unblock, &id(999_999_999_999)).await;
        assert_eq!(outcome_and_user(&reply).0, Outcome::NotFound);
    }

    #[tokio::test]
    async fn the_block_list_pages_by_a_thousand() {
        let f = fixture().await;
        let ids: Vec<u64> = (0..2500).map(|i| 7_000_000_000 + i).collect();
        f.running.emulator.set_blocked(f.owner, ids.clone());
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let reply = f.client.blocked_page(cursor.as_deref()).await;
            let page = reply.verdict.expect("a page");
            sizes.push(page.ids.len());
            seen.extend(page.ids);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(sizes.len() < 10, "the pages never end");
        }
        assert_eq!(sizes, [1000, 1000, 500]);
        let mut seen: Vec<u64> = seen.iter().map(|id| id.parse().unwrap()).collect();
        seen.sort_unstable();
        assert_eq!(seen, ids);
        let asked: Vec<_> = f
            .running
            .emulator
            .requests()
            .into_iter()
            .filter(|r| r.endpoint == Endpoint::V2Blocking)
            .map(|r| r.params.get("max_results").cloned())
            .collect();
        assert_eq!(asked, vec![Some("1000".to_owned()); 3]);
    }

    #[tokio::test]
    async fn lookups_leave_out_gone_users() {
        let f = fixture().await;
        let active = f.blocked_in(UserState::Active);
        let suspended = f.blocked_in(UserState::Suspended);
        let targets = [
            id(active[0].id),
            id(suspended[0].id),
            name(active[1].screen_name.clone()),
            name("no_such_user_x"),
        ];
        let reply = f.client.lookup(&targets).await;
        let mut found: Vec<_> = reply
            .verdict
            .expect("a lookup")
            .into_iter()
            .map(|u| u.user_id.expect("an ID"))
            .collect();
        found.sort();
        let mut expected = vec![active[0].id.to_string(), active[1].id.to_string()];
        expected.sort();
        assert_eq!(found, expected);
        // What the lookup learnt spares the unblock a second lookup.
        let reply = f.client.act(Action::Unblock, &name("no_such_user_x")).await;
        assert_eq!(outcome_and_user(&reply).0, Outcome::NotFound);
        assert_eq!(f.sent_to(Endpoint::V2UsersBy), 1);
    }

    #[tokio::test]
    async fn the_access_tier_403_stops_the_run_with_a_plain_hint() {
        let f = fixture().await;
        f.running
            .emulator
            .update_config(|c| c.replies.v2_blocks_forbidden = true);
        let before = f.blocked();
        let target = id(f.blocked_in(UserState::Active)[0].id);
        let reply = f.client.act(Action::Unblock, &target).await;
        match reply.verdict {
            Verdict::Rejected {
                error_code, hint, ..
            } => {
                assert_eq!(error_code, None);
                assert_eq!(hint, response::TIER_HINT);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(reply.http_status, Some(403));
        assert_eq!(f.blocked(), before);
        let page = f.client.blocked_page(None).await;
        assert!(matches!(
            page.verdict,
            Err(Verdict::Rejected {
                hint: response::TIER_HINT,
                ..
            })
        ));
    }
}
