//! X API v2 behind the network seam, over the same OAuth 1.0a user-context transport as v1.1.
//!
//! v2 names users by ID only: the unblock is `DELETE /2/users/{me}/blocking/{target}`, so the
//! client learns its own ID from `GET /2/users/me` (the credentials check) and needs the ID of
//! every screen name. Before the first action the run looks up what [`Network::to_resolve`]
//! names (`GET /2/users/by` for names, `GET /2/users` for IDs, 100 a request, paced by those
//! endpoints' own limit), and the client keeps what the answers told: the users found, and the
//! names and IDs that are gone (suspended, deactivated), which [`Network::settled`] then
//! records without a request. `act` sends only the action: one request a slot of the pace.
//! Errors are problem JSON without numeric codes, sorted by [`response`]. On X's current plans
//! block management is Enterprise-only; the access-tier 403 becomes a [`Verdict::Rejected`]
//! whose hint says so, rather than a failure per target.

pub mod response;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use reqwest::Method;

use super::identity::{SCREEN_NAME, USER_ID};
use super::transport::Transport;
use super::{BaseUrlError, XSettings};
use crate::clock::ServerClock;
use crate::http::Exchange;
use crate::network::x::response::{rate_info, unread};
use crate::network::{
    Account, Acted, BlockPage, Network, NetworkId, Reply, Settled, UserRef, Verdict,
};
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
    /// IDs a lookup was asked about: those it left out are in `gone_ids`.
    looked_up: HashSet<String>,
    /// IDs no user can be acted on under, and why.
    gone_ids: HashMap<String, Gone>,
}

/// Why no user can be acted on under a name or an ID.
#[derive(Clone, Debug)]
struct Gone {
    outcome: Outcome,
    message: String,
}

/// What a screen name resolved to.
#[derive(Clone, Debug)]
enum Resolved {
    /// An active user.
    User(UserRef),
    /// No user can be acted on under this name.
    Gone(Gone),
}

impl Known {
    /// Remembers an active user a lookup or a block-list page named: its ID need not be
    /// looked up again.
    fn learn(&mut self, user: &UserRef) {
        if let Some(id) = &user.user_id {
            self.looked_up.insert(id.clone());
        }
        if let (Some(id), Some(name)) = (&user.user_id, &user.screen_name) {
            self.names.insert(id.clone(), name.clone());
            self.by_name
                .insert(name.to_lowercase(), Resolved::User(user.clone()));
        }
    }
}

/// A reply carrying `verdict`, with what the exchange announced.
fn reply<V>(verdict: V, exchange: &Exchange) -> Reply<V> {
    Reply {
        verdict,
        http_status: Some(exchange.status),
        rate: rate_info(&exchange.headers),
        server_date: exchange.date,
    }
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

    /// Sends a GET and parses a 2xx body with `parse`; anything else becomes a verdict.
    async fn read<T>(
        &self,
        path: &str,
        params: &[(&str, &str)],
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Reply<Result<T, Verdict>> {
        match self.transport.send(Method::GET, path, params).await {
            Ok(exchange) => {
                let verdict = if exchange.is_success() {
                    parse(&exchange.body).map_err(|m| Verdict::unexpected(&m))
                } else {
                    match response::classify_error(
                        exchange.status,
                        &exchange.body,
                        &exchange.headers,
                    ) {
                        Ok(settled) => Err(unread(settled, exchange.status)),
                        Err(verdict) => Err(verdict),
                    }
                };
                reply(verdict, &exchange)
            }
            Err(error) => Reply::no_answer(error.message()),
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
                if !found.contains(&key) {
                    known
                        .by_name
                        .insert(key, Resolved::Gone(gone(&lookup.missing, name)));
                }
            }
        }
        answer
    }

    /// Looks IDs up, remembering the names of the users found and why the others are gone.
    async fn lookup_ids(&self, ids: &[&str]) -> Reply<Result<Lookup, Verdict>> {
        let joined = ids.join(",");
        let answer = self
            .read("/2/users", &[("ids", &joined)], response::parse_lookup)
            .await;
        if let Ok(lookup) = &answer.verdict {
            let mut known = self.known();
            for user in &lookup.users {
                known.learn(user);
            }
            let found: HashSet<&str> = lookup
                .users
                .iter()
                .filter_map(|u| u.user_id.as_deref())
                .collect();
            for id in ids {
                known.looked_up.insert((*id).to_owned());
                if !found.contains(id) {
                    known
                        .gone_ids
                        .insert((*id).to_owned(), gone(&lookup.missing, id));
                }
            }
        }
        answer
    }

    /// The user a target names, with its ID, from what the lookups before the run told.
    fn user_of(&self, target: &Target) -> Result<UserRef, Verdict> {
        let known = self.known();
        if target.is(&USER_ID) {
            let id = target.text().to_owned();
            let screen_name = known.names.get(&id).cloned();
            return Ok(UserRef {
                user_id: Some(id),
                screen_name,
            });
        }
        match known.by_name.get(&target.text().to_lowercase()) {
            Some(Resolved::User(user)) => match &user.user_id {
                Some(id) if id.parse::<u64>().is_ok() => Ok(user.clone()),
                _ => Err(Verdict::unexpected("a user ID that is not a number")),
            },
            // `settled` answers these before any request.
            Some(Resolved::Gone(_)) | None => Err(Verdict::not_ready("the ID of this screen name")),
        }
    }
}

/// Why a name or ID a lookup left out is gone: its partial error, or `not_found`.
fn gone(missing: &[response::Missing], value: &str) -> Gone {
    let why = missing.iter().find(|m| m.value.eq_ignore_ascii_case(value));
    Gone {
        outcome: why.and_then(|m| m.outcome).unwrap_or(Outcome::NotFound),
        message: why.map_or_else(
            || "the server did not return this user".to_owned(),
            |m| m.message.clone(),
        ),
    }
}

impl Network for XV2Client {
    fn network(&self) -> NetworkId {
        NetworkId::X
    }

    fn lookup_batch(&self) -> usize {
        BATCH
    }

    fn to_resolve(&self, _action: Action, targets: &[Target]) -> Vec<Target> {
        let known = self.known();
        targets
            .iter()
            .filter(|t| {
                if t.is(&USER_ID) {
                    !known.looked_up.contains(t.text())
                } else {
                    !known.by_name.contains_key(&t.text().to_lowercase())
                }
            })
            .cloned()
            .collect()
    }

    fn settled(&self, _action: Action, target: &Target) -> Option<Settled> {
        let known = self.known();
        let (gone, user) = if target.is(&SCREEN_NAME) {
            let Some(Resolved::Gone(gone)) = known.by_name.get(&target.text().to_lowercase())
            else {
                return None;
            };
            let user = UserRef {
                user_id: None,
                screen_name: Some(target.text().to_owned()),
            };
            (gone, user)
        } else {
            let gone = known.gone_ids.get(target.text())?;
            let user = UserRef {
                user_id: Some(target.text().to_owned()),
                screen_name: None,
            };
            (gone, user)
        };
        Some(Settled {
            outcome: gone.outcome,
            user,
            error_code: None,
            message: Some(gone.message.clone()),
        })
    }

    async fn verify(&self) -> Reply<Result<Account, Verdict>> {
        let exchange = match self.transport.send(Method::GET, "/2/users/me", &[]).await {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        if exchange.is_success() {
            let verdict = response::parse_me(&exchange.body)
                .inspect(|account| {
                    let _ = self.me.set(account.user_id.clone());
                })
                .map_err(Verdict::unexpected_final);
            return reply(verdict, &exchange);
        }
        // v2 gives no code for a refused timestamp: a 401 may be our clock, so correct it from
        // the server's `Date` once before calling the credentials wrong.
        if exchange.status == 401 && !self.resynced.swap(true, Ordering::SeqCst) {
            self.transport.resync(&exchange);
            let verdict = Verdict::Resend {
                error_code: None,
                message: super::response::timestamp_refused("HTTP 401"),
            };
            return reply(Err(verdict), &exchange);
        }
        let problem = Problem::parse(&exchange.body);
        let message = problem.message(exchange.status);
        let verdict =
            match response::classify_error(exchange.status, &exchange.body, &exchange.headers) {
                // 5xx and 429 may pass: the retry loop sends them again.
                Err(Verdict::Transient { error_code, .. }) => Verdict::Transient {
                    error_code,
                    message: format!("HTTP {}: {message}", exchange.status),
                },
                Err(verdict @ (Verdict::RateLimited { .. } | Verdict::Rejected { .. })) => verdict,
                _ => Verdict::Final {
                    error_code: None,
                    message: format!("HTTP {}: {message}", exchange.status),
                },
            };
        reply(Err(verdict), &exchange)
    }

    async fn act(&self, action: Action, targets: &[Target]) -> Reply<Acted> {
        let [target] = targets else {
            return Reply::bare(Err(super::one_at_a_time(targets.len())));
        };
        let Some(me) = self.me.get() else {
            return Reply::bare(Err(Verdict::not_ready("the account's user ID")));
        };
        let user = match self.user_of(target) {
            Ok(user) => user,
            Err(verdict) => return Reply::bare(Err(verdict)),
        };
        let Some(id) = user.user_id.clone() else {
            return Reply::bare(Err(Verdict::unexpected("a user without an ID")));
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
            Err(error) => return Reply::no_answer(error.message()),
        };
        let verdict =
            response::classify(action, exchange.status, &exchange.body, &exchange.headers)
                .map(|settled| vec![Settled { user, ..settled }]);
        reply(verdict, &exchange)
    }

    async fn blocked_page(&self, cursor: Option<&str>) -> Reply<Result<BlockPage, Verdict>> {
        let Some(me) = self.me.get() else {
            return Reply::bare(Err(Verdict::not_ready("the account's user ID")));
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

    /// One request: names through `GET /2/users/by`, or IDs through `GET /2/users` (the run
    /// asks about one kind at a time).
    async fn lookup(&self, targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
        let by_name = targets.first().is_some_and(|t| t.is(&SCREEN_NAME));
        if targets.iter().any(|t| t.is(&SCREEN_NAME) != by_name) {
            return Reply::bare(Err(Verdict::Final {
                error_code: None,
                message: "names and IDs are looked up in separate requests".to_owned(),
            }));
        }
        let values: Vec<&str> = targets.iter().map(Target::text).collect();
        if values.is_empty() {
            return Reply::bare(Ok(Vec::new()));
        }
        let answer = if by_name {
            self.lookup_names(&values).await
        } else {
            self.lookup_ids(&values).await
        };
        answer.map(|verdict| verdict.map(|lookup| lookup.users))
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

    impl Fixture {
        /// What the run does for one target: the lookups it needs first, then the record
        /// known without a request, or the action's answer.
        async fn unblock(&self, target: &Target) -> (Outcome, UserRef, Option<Reply<Acted>>) {
            self.act(Action::Unblock, target).await
        }

        async fn act(
            &self,
            action: Action,
            target: &Target,
        ) -> (Outcome, UserRef, Option<Reply<Acted>>) {
            if self.client.me.get().is_none() {
                self.client.verify().await.verdict.expect("verify");
            }
            let unknown = self.client.to_resolve(action, std::slice::from_ref(target));
            if !unknown.is_empty() {
                self.client
                    .lookup(&unknown)
                    .await
                    .verdict
                    .expect("a lookup");
            }
            if let Some(settled) = self.client.settled(action, target) {
                return (settled.outcome, settled.user, None);
            }
            let reply = self.client.act(action, std::slice::from_ref(target)).await;
            match &reply.verdict {
                Ok(settled) => {
                    let one = settled[0].clone();
                    (one.outcome, one.user, Some(reply))
                }
                other => panic!("expected a terminal answer, got {other:?}"),
            }
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

        let (outcome, user, reply) = f.unblock(&id(by_id.id)).await;
        let reply = reply.expect("an unblock was sent");
        assert_eq!(outcome, Outcome::Unblocked);
        assert_eq!(user.user_id, Some(by_id.id.to_string()));
        assert_eq!(reply.http_status, Some(200));
        assert!(
            reply.rate.get(crate::network::Span::Short).is_some(),
            "v2 rate headers are read"
        );
        assert!(!f.blocked().contains(&by_id.id));

        // Names are case-insensitive; the server's spelling is what gets recorded.
        let written = by_name.screen_name.to_uppercase();
        let target = name(written);
        let (outcome, user, _) = f.unblock(&target).await;
        assert_eq!(outcome, Outcome::Unblocked);
        assert_eq!(user.user_id, Some(by_name.id.to_string()));
        assert_eq!(
            user.screen_name.as_deref(),
            Some(by_name.screen_name.as_str())
        );
        assert!(!f.blocked().contains(&by_name.id));

        // A second action on the same name needs no second lookup.
        let (again, _, _) = f.unblock(&target).await;
        assert_eq!(again, Outcome::Unblocked);
        assert_eq!(f.sent_to(Endpoint::V2UsersBy), 1);
        assert_eq!(f.sent_to(Endpoint::V2Unblock), 3);
        assert_eq!(f.sent_to(Endpoint::V2Users), 1, "the ID looked up once");
    }

    #[tokio::test]
    async fn a_block_recreates_the_block() {
        let f = fixture().await;
        let user = f.blocked_in(UserState::Active)[0].clone();
        let target = id(user.id);
        let (undone, _, _) = f.unblock(&target).await;
        assert_eq!(undone, Outcome::Unblocked);
        assert!(!f.blocked().contains(&user.id));
        let (redone, _, _) = f.act(Action::Block, &target).await;
        assert_eq!(redone, Outcome::Blocked);
        assert!(f.blocked().contains(&user.id));
    }

    #[tokio::test]
    async fn unknown_names_are_not_found_without_an_unblock() {
        let f = fixture().await;
        let (outcome, user, reply) = f.unblock(&name("no_such_user_x")).await;
        assert_eq!(outcome, Outcome::NotFound);
        assert_eq!(user.screen_name.as_deref(), Some("no_such_user_x"));
        assert!(reply.is_none(), "recorded without a request");
        assert_eq!(f.sent_to(Endpoint::V2Unblock), 0);
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
            outcomes.push(f.unblock(target).await.0);
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
        let targets = [
            id(suspended[0].id),
            id(deactivated[0].id),
            id(999_999_999_999),
        ];
        let unknown = f.client.to_resolve(Action::Unblock, &targets);
        assert_eq!(unknown, targets, "every ID is looked up before the run");
        f.client.lookup(&unknown).await.verdict.expect("a lookup");
        assert_eq!(f.sent_to(Endpoint::V2Users), 1, "one lookup for all three");
        let outcomes: Vec<Outcome> = targets
            .iter()
            .map(|t| {
                f.client
                    .settled(Action::Unblock, t)
                    .expect("known gone")
                    .outcome
            })
            .collect();
        assert_eq!(
            outcomes,
            [Outcome::Suspended, Outcome::NotFound, Outcome::NotFound]
        );
        assert_eq!(f.sent_to(Endpoint::V2Unblock), 0, "no unblock for the gone");
    }

    #[tokio::test]
    async fn the_block_list_pages_by_a_thousand() {
        let f = fixture().await;
        f.client.verify().await.verdict.expect("verify");
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
        let ids = [id(active[0].id), id(suspended[0].id)];
        let names = [name(active[1].screen_name.clone()), name("no_such_user_x")];
        let mut found: Vec<_> = Vec::new();
        for targets in [&ids[..], &names[..]] {
            let reply = f.client.lookup(targets).await;
            found.extend(
                reply
                    .verdict
                    .expect("a lookup")
                    .into_iter()
                    .map(|u| u.user_id.expect("an ID")),
            );
        }
        // Names and IDs go to separate endpoints: a mixed request is refused, not half-sent.
        let mixed = f.client.lookup(&[ids[0].clone(), names[0].clone()]).await;
        assert!(matches!(mixed.verdict, Err(Verdict::Final { .. })));
        found.sort();
        let mut expected = vec![active[0].id.to_string(), active[1].id.to_string()];
        expected.sort();
        assert_eq!(found, expected);
        // What the lookup learnt spares the unblock a second lookup.
        let (outcome, _, _) = f.unblock(&name("no_such_user_x")).await;
        assert_eq!(outcome, Outcome::NotFound);
        assert_eq!(f.sent_to(Endpoint::V2UsersBy), 1);
    }

    #[tokio::test]
    async fn the_access_tier_403_stops_the_run_with_a_plain_hint() {
        let f = fixture().await;
        f.running
            .emulator
            .update_config(|c| c.replies.v2_blocks_forbidden = true);
        let before = f.blocked();
        f.client.verify().await.verdict.expect("verify");
        let target = id(f.blocked_in(UserState::Active)[0].id);
        let reply = f.client.act(Action::Unblock, &[target]).await;
        match reply.verdict {
            Err(Verdict::Rejected {
                error_code, hint, ..
            }) => {
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
