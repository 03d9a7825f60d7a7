//! Mastodon (and the servers that speak its API) behind the network seam: unblocking accounts
//! and domains on the user's own instance with a bearer token.
//!
//! An account is unblocked by ID (`POST /api/v1/accounts/:id/unblock`), so an acct needs its
//! ID first: from the block list the run read (`GET /api/v1/blocks`, which names every account
//! it holds) or from `GET /api/v1/accounts/lookup`. The client keeps what those answers told
//! and acts on nothing else, one request a slot of the pace.
//!
//! What it can tell without a write:
//! - an acct the instance does not know is `not_found` (the lookup answered 404);
//! - an account the run's block list does not hold is `not_blocked`, when the client knows the
//!   account is not suspended: the list leaves suspended accounts out, although their blocks
//!   stand, so an acct the lookup calls suspended, and any account ID not in the list (which
//!   may belong to a suspended account nobody asked about), is still sent its unblock;
//! - a domain the domain list does not hold is `not_blocked` (that list hides nothing).
//!
//! The unblock's own Relationship is the state after the request, so it says `blocking: false`
//! whether there was a block or not: it cannot tell `not_blocked`, and one that still says
//! `blocking: true` means the unblock did not take, which is recorded `failed`.
//!
//! When the list is read: for domains always (the domain list is a page or two); for accounts
//! when the targets hold at least [`LIST_PAYS_OFF`] accts, see there.
//!
//! A local account's acct is written `user` or `user@instance`. The client learns the instance's
//! domain from the credentials check (the host of the account's profile URL) and from lookups
//! (an acct asked with a domain that comes back without one names a local account), and reads
//! both spellings as one account: one lookup, one ID. The journal's `screen_name` is the full
//! address, `user@domain`, as Mastodon's own export writes it, so a later input in that form
//! matches a journal whatever spelling the earlier run read.

pub mod identity;
#[cfg(test)]
mod input_tests;
pub mod response;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;

use crate::clock::ServerClock;
use crate::http::{BaseUrlError, Exchange, Http};
use crate::network::{
    Account, Acted, BlockPage, CredentialSpec, CredentialVar, Defaults, Network, NetworkId, Reply,
    Settled, UserRef, Verdict,
};
use crate::outcome::{Action, Outcome};
use crate::pace::Rate;
use crate::secret::Secret;
use crate::target::Target;
use identity::{ACCOUNT_ID, ACCT, DOMAIN};

/// Mastodon's credentials: an access token of the user's own, and the instance it belongs to.
pub static CREDENTIALS: CredentialSpec = CredentialSpec {
    vars: &[CredentialVar {
        env: "MASTODON_ACCESS_TOKEN",
        key: "access_token",
    }],
    base: Some(CredentialVar {
        env: "MASTODON_INSTANCE",
        key: "instance",
    }),
    what: "an access token with the scopes read:blocks write:blocks read:accounts, from the \
           instance's Settings → Development → New application; the instance from \
           MASTODON_INSTANCE or --api-base",
};

/// Mastodon's defaults, from mastodon.social's throttles (instances may differ; the headers
/// tell): 300 requests per 5 minutes per token, paging requests 300 per 15 minutes per user,
/// lookups under the general limit: a run's lookups take turns with its unblocks on one pace.
/// There is no default host: the instance is the user's.
pub const DEFAULTS: Defaults = Defaults {
    api_base: None,
    rate: Rate::new(300, Duration::from_secs(5 * 60)),
    list_rate: Rate::new(300, Duration::from_secs(15 * 60)),
    lookup_rate: Rate::new(300, Duration::from_secs(5 * 60)),
    lookups_share_limit: true,
};

/// Accounts per `GET /api/v1/blocks` page: the most Mastodon gives.
pub const PAGE_SIZE: usize = 80;

/// The fewest accts among the targets for which the block list is read before acting.
///
/// The list costs a request per 80 blocks, and resolves every acct it holds; without it, each
/// acct costs a lookup. At 80 accts or more the list is no dearer than the lookups unless the
/// account blocks over 6,400 accounts (80 accts × 80 a page), and it is what tells `not_blocked`
/// apart; below that, a short hand-written list would pay for a long block list it does not
/// need, so its accts are looked up one by one (and, the unblock's answer being the same
/// either way, recorded `unblocked`).
pub const LIST_PAYS_OFF: usize = 80;

const BLOCKS: &str = "/api/v1/blocks";
const DOMAIN_BLOCKS: &str = "/api/v1/domain_blocks";
const LOOKUP: &str = "/api/v1/accounts/lookup";
const VERIFY: &str = "/api/v1/accounts/verify_credentials";

/// Settings for [`MastodonClient`].
#[derive(Clone, Debug)]
pub struct MastodonSettings {
    /// The instance: a URL, or a bare host (`mastodon.social`, taken as `https://`).
    pub instance: String,
    /// The user's access token.
    pub token: Secret,
    /// Whether the command works on blocked domains (`--domains`) rather than accounts: which
    /// list `blocked_page` reads.
    pub domains: bool,
    /// Timeout for one request, connect to last byte.
    pub timeout: Duration,
}

/// The Mastodon client.
pub struct MastodonClient {
    http: Http,
    /// `Bearer …`, marked sensitive so that no HTTP layer logs it.
    auth: HeaderValue,
    domains: bool,
    /// What the answers told so far; every method takes it briefly, never across a request.
    known: Mutex<Known>,
}

/// An account the server named.
#[derive(Clone, Debug)]
struct Found {
    id: String,
    suspended: bool,
}

/// What the client learnt from the credentials check, the block list and lookups.
#[derive(Debug, Default)]
struct Known {
    /// The instance's own domains, lowercase: `user@one-of-these` is the local `user`. The
    /// first names local accounts in full addresses.
    local: Vec<String>,
    /// Accounts by acct, lowercase, local ones without their domain.
    by_acct: HashMap<String, Found>,
    /// Accts (as keyed in `by_acct`) the instance does not know.
    unknown: HashSet<String>,
    /// Full addresses (`user@domain`) by account ID, as the server spells them.
    names: HashMap<String, String>,
    /// The block list being read (account IDs or domains), from its first page on.
    reading: Option<HashSet<String>>,
    /// The whole block list, once its last page came.
    listed: Option<HashSet<String>>,
}

impl Known {
    /// The key of an acct: lowercase, a local account without its domain.
    fn key(&self, acct: &str) -> String {
        let acct = acct.to_ascii_lowercase();
        match acct.split_once('@') {
            Some((user, domain)) if self.local.iter().any(|l| l == domain) => user.to_owned(),
            _ => acct,
        }
    }

    /// The full address of an acct as the server wrote it (local ones get the instance's
    /// domain).
    fn address(&self, acct: &str) -> String {
        match self.local.first() {
            Some(local) if !acct.contains('@') => format!("{acct}@{local}"),
            _ => acct.to_owned(),
        }
    }

    /// The user an account ID names, with its full address when the client learnt one.
    fn user(&self, id: &str) -> UserRef {
        UserRef {
            user_id: Some(id.to_owned()),
            screen_name: self.names.get(id).cloned(),
        }
    }

    /// Remembers a domain as the instance's own.
    fn learn_local(&mut self, domain: &str) {
        let domain = domain.to_ascii_lowercase();
        if !domain.is_empty() && !self.local.contains(&domain) {
            self.local.push(domain);
        }
    }

    /// Remembers an account the server named, under its acct and, when asked under another,
    /// that one too.
    fn learn(&mut self, account: &AccountEntity, asked: Option<&str>) -> UserRef {
        if let Some(asked) = asked
            && !account.acct.contains('@')
            && let Some((_, domain)) = asked.split_once('@')
        {
            // Asked with a domain, answered without one: that domain is the instance's.
            self.learn_local(domain);
        }
        let found = Found {
            id: account.id.clone(),
            suspended: account.suspended,
        };
        for acct in std::iter::once(account.acct.as_str()).chain(asked) {
            let key = self.key(acct);
            self.unknown.remove(&key);
            self.by_acct.insert(key, found.clone());
        }
        let address = self.address(&account.acct);
        self.names.insert(account.id.clone(), address.clone());
        UserRef {
            user_id: Some(account.id.clone()),
            screen_name: Some(address),
        }
    }
}

/// The fields of an Account the client reads.
#[derive(Debug, Deserialize)]
struct AccountEntity {
    id: String,
    acct: String,
    /// Sent (and true) only for a suspended account.
    #[serde(default)]
    suspended: bool,
    #[serde(default)]
    url: Option<String>,
}

/// The fields of a Relationship the client reads.
#[derive(Debug, Deserialize)]
struct Relationship {
    #[serde(default)]
    blocking: Option<bool>,
}

/// `https://` before a bare host: people write `mastodon.social`.
pub fn instance_base(raw: &str) -> String {
    let raw = raw.trim();
    if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("https://{raw}")
    }
}

/// A reply carrying `verdict`, with what the exchange announced.
fn reply<V>(exchange: &Exchange, verdict: V) -> Reply<V> {
    Reply {
        verdict,
        http_status: Some(exchange.status),
        rate: response::rate_info(&exchange.headers),
        server_date: exchange.date,
    }
}

/// An answer that is neither a success nor one [`response::refusal`] sorts: it ends the
/// request as it is (`HTTP 404: Record not found`).
fn final_answer(exchange: &Exchange) -> Verdict {
    response::refusal(exchange.status, &exchange.body).unwrap_or_else(|| Verdict::Final {
        error_code: None,
        message: response::describe(exchange.status, &exchange.body),
    })
}

impl MastodonClient {
    /// Builds a client. No request is sent.
    pub fn new(
        settings: MastodonSettings,
        clock: Arc<ServerClock>,
    ) -> Result<MastodonClient, BaseUrlError> {
        let http = Http::new(&instance_base(&settings.instance), settings.timeout, clock)?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", settings.token.expose()))
            .map_err(|_| BaseUrlError {
                url: http.base().to_owned(),
                reason: "the access token holds characters a header cannot carry".to_owned(),
            })?;
        auth.set_sensitive(true);
        Ok(MastodonClient {
            http,
            auth,
            domains: settings.domains,
            known: Mutex::new(Known::default()),
        })
    }

    /// The normalised base URL.
    pub fn base(&self) -> &str {
        self.http.base()
    }

    fn known(&self) -> MutexGuard<'_, Known> {
        // Each change leaves the maps consistent, so a panic elsewhere cannot spoil them.
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends one authorised request; `form` goes in a form body.
    async fn send(
        &self,
        method: Method,
        url: reqwest::Url,
        form: Option<(&str, &str)>,
    ) -> Result<Exchange, crate::http::TransportError> {
        let mut request = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.auth.clone());
        if let Some((key, value)) = form {
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair(key, value)
                .finish();
            request = request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body);
        }
        self.http.exchange(request).await
    }

    /// The URL of `path` under the instance, with `query`.
    fn url(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Url {
        let mut url = self.http.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// The URL a cursor (a next-page link's path and query) names on the instance: the token
    /// goes to the instance given, whatever host the link named.
    fn cursor_url(&self, cursor: &str) -> Result<reqwest::Url, Verdict> {
        reqwest::Url::parse(self.http.base())
            .and_then(|base| base.join(cursor))
            .map_err(|e| Verdict::Final {
                error_code: None,
                message: format!("the next-page cursor `{cursor}` is not a path: {e}"),
            })
    }

    /// One page of the block list in scope, and what it teaches.
    async fn page(&self, cursor: Option<&str>) -> Reply<Result<BlockPage, Verdict>> {
        let endpoint = if self.domains { DOMAIN_BLOCKS } else { BLOCKS };
        let url = match cursor {
            Some(cursor) => match self.cursor_url(cursor) {
                Ok(url) => url,
                Err(verdict) => return Reply::bare(Err(verdict)),
            },
            None if self.domains => self.url(DOMAIN_BLOCKS, &[]),
            None => self.url(BLOCKS, &[("limit", &PAGE_SIZE.to_string())]),
        };
        let exchange = match self.send(Method::GET, url, None).await {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        if !exchange.is_success() {
            let verdict = final_answer(&exchange);
            return reply(&exchange, Err(verdict));
        }
        let next = match response::next_link(&exchange.headers)
            .map(|link| response::cursor_of(&link, endpoint))
            .transpose()
        {
            Ok(next) => next,
            Err(message) => {
                let verdict = Verdict::Final {
                    error_code: None,
                    message,
                };
                return reply(&exchange, Err(verdict));
            }
        };
        let page = if self.domains {
            self.domain_page(&exchange.body, next)
        } else {
            self.account_page(&exchange.body, next)
        };
        if let Ok(page) = &page {
            let mut known = self.known();
            if cursor.is_none() {
                known.reading = Some(HashSet::new());
            }
            if let Some(reading) = known.reading.as_mut() {
                reading.extend(page.ids.iter().cloned());
            }
            if page.next.is_none() {
                known.listed = known.reading.take();
            }
        }
        reply(&exchange, page)
    }

    /// A page of `GET /api/v1/blocks`: the accounts' IDs, and their addresses as names.
    fn account_page(&self, body: &[u8], next: Option<String>) -> Result<BlockPage, Verdict> {
        let accounts: Vec<AccountEntity> =
            serde_json::from_slice(body).map_err(Verdict::unexpected)?;
        let mut known = self.known();
        let mut page = BlockPage {
            next,
            ..BlockPage::default()
        };
        for account in &accounts {
            if identity::parse_id(&account.id).is_err() {
                return Err(Verdict::Final {
                    error_code: None,
                    message: format!(
                        "the block list holds `{}`, which is not an account ID of digits",
                        crate::display::shorten(&account.id, 40)
                    ),
                });
            }
            let user = known.learn(account, None);
            page.ids.push(account.id.clone());
            if let Some(name) = user.screen_name {
                page.names.insert(account.id.clone(), name);
            }
        }
        Ok(page)
    }

    /// A page of `GET /api/v1/domain_blocks`: the domains, lowercase, as the "IDs".
    fn domain_page(&self, body: &[u8], next: Option<String>) -> Result<BlockPage, Verdict> {
        let domains: Vec<String> = serde_json::from_slice(body).map_err(Verdict::unexpected)?;
        Ok(BlockPage {
            ids: domains
                .iter()
                .map(|d| d.trim().to_ascii_lowercase())
                .collect(),
            next,
            ..BlockPage::default()
        })
    }

    /// The user a target names, with its ID, from what the client knows.
    fn user_of(&self, target: &Target) -> Result<UserRef, Verdict> {
        let known = self.known();
        if target.is(&ACCOUNT_ID) {
            return Ok(known.user(target.text()));
        }
        match known.by_acct.get(&known.key(target.text())) {
            Some(found) => Ok(known.user(&found.id)),
            // `to_resolve` names every acct not known; `settled` answers the unknown ones.
            None => Err(Verdict::not_ready("the ID of this acct")),
        }
    }

    /// Blocks or unblocks an account by ID.
    async fn act_on_account(&self, action: Action, target: &Target) -> Reply<Acted> {
        let user = match self.user_of(target) {
            Ok(user) => user,
            Err(verdict) => return Reply::bare(Err(verdict)),
        };
        let id = user.user_id.clone().unwrap_or_default();
        let verb = match action {
            Action::Unblock => "unblock",
            Action::Block => "block",
        };
        let url = self.url(&format!("/api/v1/accounts/{id}/{verb}"), &[]);
        let exchange = match self.send(Method::POST, url, None).await {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        let verdict = classify_account(action, &exchange, user);
        reply(&exchange, verdict.map(|settled| vec![settled]))
    }

    /// Lifts or restores a domain block.
    async fn act_on_domain(&self, action: Action, target: &Target) -> Reply<Acted> {
        let method = match action {
            Action::Unblock => Method::DELETE,
            Action::Block => Method::POST,
        };
        let url = self.url(DOMAIN_BLOCKS, &[]);
        let exchange = match self
            .send(method, url, Some(("domain", target.text())))
            .await
        {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        let verdict = if exchange.is_success() {
            Ok(Settled::bare(action.success()))
        } else {
            refused_or_failed(&exchange, UserRef::default())
        };
        reply(&exchange, verdict.map(|settled| vec![settled]))
    }
}

/// Sorts the answer to `POST /api/v1/accounts/:id/unblock` (or `/block`) about `user`.
fn classify_account(
    action: Action,
    exchange: &Exchange,
    user: UserRef,
) -> Result<Settled, Verdict> {
    let settled = |outcome, message: Option<String>| Settled {
        outcome,
        user: user.clone(),
        error_code: None,
        message,
    };
    match exchange.status {
        200..=299 => {
            let relationship: Relationship =
                serde_json::from_slice(&exchange.body).map_err(Verdict::unexpected)?;
            let wanted = action == Action::Block;
            match relationship.blocking {
                Some(blocking) if blocking != wanted => Ok(settled(
                    Outcome::Failed,
                    Some(format!(
                        "the server answered 200, but its Relationship still says \
                         blocking: {blocking}"
                    )),
                )),
                _ => Ok(settled(action.success(), None)),
            }
        }
        404 | 410 => Ok(settled(
            Outcome::NotFound,
            Some(response::error_message(&exchange.body).unwrap_or_else(|| "Not found".into())),
        )),
        _ => refused_or_failed(exchange, user),
    }
}

/// How an answer that did not succeed ends a request about `user`: the verdict of a refusal,
/// or else a failure described by its status and error.
fn refused_or_failed(exchange: &Exchange, user: UserRef) -> Result<Settled, Verdict> {
    match response::refusal(exchange.status, &exchange.body) {
        Some(verdict) => Err(verdict),
        None => Ok(Settled {
            outcome: Outcome::Failed,
            user,
            error_code: None,
            message: Some(response::describe(exchange.status, &exchange.body)),
        }),
    }
}

impl Network for MastodonClient {
    fn network(&self) -> NetworkId {
        NetworkId::Mastodon
    }

    fn lookup_batch(&self) -> usize {
        1
    }

    async fn verify(&self) -> Reply<Result<Account, Verdict>> {
        let exchange = match self.send(Method::GET, self.url(VERIFY, &[]), None).await {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        if !exchange.is_success() {
            let verdict = final_answer(&exchange);
            return reply(&exchange, Err(verdict));
        }
        let verdict = match serde_json::from_slice::<AccountEntity>(&exchange.body) {
            Ok(me) => {
                let mut known = self.known();
                // The profile's host is the instance's domain (where it differs from the
                // accounts' domain, lookups teach that one).
                if let Some(host) = me
                    .url
                    .as_deref()
                    .and_then(|u| reqwest::Url::parse(u).ok())
                    .and_then(|u| u.host_str().map(str::to_owned))
                {
                    known.learn_local(&host);
                }
                Ok(Account {
                    user_id: me.id.clone(),
                    screen_name: Some(known.address(&me.acct)),
                })
            }
            Err(e) => Err(Verdict::unexpected_final(e)),
        };
        reply(&exchange, verdict)
    }

    async fn act(&self, action: Action, targets: &[Target]) -> Reply<Acted> {
        let [target] = targets else {
            return Reply::bare(Err(Verdict::Final {
                error_code: None,
                message: format!(
                    "Mastodon acts on one target a request, not {}",
                    targets.len()
                ),
            }));
        };
        if target.is(&DOMAIN) {
            self.act_on_domain(action, target).await
        } else {
            self.act_on_account(action, target).await
        }
    }

    async fn blocked_page(&self, cursor: Option<&str>) -> Reply<Result<BlockPage, Verdict>> {
        self.page(cursor).await
    }

    async fn lookup(&self, targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
        // Only accts are looked up: IDs and domains are acted on as they are.
        let [target] = targets else {
            return Reply::bare(Ok(Vec::new()));
        };
        if !target.is(&ACCT) {
            return Reply::bare(Ok(Vec::new()));
        }
        let url = self.url(LOOKUP, &[("acct", target.text())]);
        let exchange = match self.send(Method::GET, url, None).await {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        let verdict = match exchange.status {
            200..=299 => match serde_json::from_slice::<AccountEntity>(&exchange.body) {
                Ok(account) if identity::parse_id(&account.id).is_ok() => {
                    let user = self.known().learn(&account, Some(target.text()));
                    // Suspended accounts are left out of the answer, as the seam asks; the
                    // client still unblocks them.
                    Ok(if account.suspended {
                        Vec::new()
                    } else {
                        vec![user]
                    })
                }
                Ok(account) => Err(Verdict::Final {
                    error_code: None,
                    message: format!(
                        "the lookup answered the account ID `{}`, which is not digits",
                        crate::display::shorten(&account.id, 40)
                    ),
                }),
                Err(e) => Err(Verdict::unexpected(e)),
            },
            404 | 410 => {
                let mut known = self.known();
                let key = known.key(target.text());
                known.unknown.insert(key);
                Ok(Vec::new())
            }
            _ => Err(final_answer(&exchange)),
        };
        reply(&exchange, verdict)
    }

    fn needs_list(&self, action: Action, targets: &[Target]) -> bool {
        if action != Action::Unblock || self.known().listed.is_some() {
            return false;
        }
        if self.domains {
            targets.iter().any(|t| t.is(&DOMAIN))
        } else {
            targets.iter().filter(|t| t.is(&ACCT)).count() >= LIST_PAYS_OFF
        }
    }

    fn to_resolve(&self, _action: Action, targets: &[Target]) -> Vec<Target> {
        let known = self.known();
        let mut asked = HashSet::new();
        targets
            .iter()
            .filter(|t| t.is(&ACCT))
            .filter(|t| {
                let key = known.key(t.text());
                !known.by_acct.contains_key(&key)
                    && !known.unknown.contains(&key)
                    && asked.insert(key)
            })
            .cloned()
            .collect()
    }

    fn settled(&self, action: Action, target: &Target) -> Option<Settled> {
        let known = self.known();
        let not_blocked = |user: UserRef, message: &str| Settled {
            outcome: Outcome::NotBlocked,
            user,
            error_code: None,
            message: Some(message.to_owned()),
        };
        const NOT_LISTED: &str = "not in the block list read before the run";
        if target.is(&DOMAIN) {
            let listed = known.listed.as_ref().filter(|_| self.domains)?;
            return (action == Action::Unblock && !listed.contains(target.text()))
                .then(|| not_blocked(UserRef::default(), NOT_LISTED));
        }
        if !target.is(&ACCT) {
            // An ID the list does not hold may be a suspended account's: it is sent.
            return None;
        }
        let key = known.key(target.text());
        if known.unknown.contains(&key) {
            return Some(Settled {
                outcome: Outcome::NotFound,
                user: UserRef {
                    user_id: None,
                    screen_name: Some(target.text().to_owned()),
                },
                error_code: None,
                message: Some("the instance knows no account by this acct".to_owned()),
            });
        }
        let found = known.by_acct.get(&key)?;
        let listed = known.listed.as_ref().filter(|_| !self.domains)?;
        (action == Action::Unblock && !found.suspended && !listed.contains(&found.id))
            .then(|| not_blocked(known.user(&found.id), NOT_LISTED))
    }
}

#[cfg(test)]
mod tests;
