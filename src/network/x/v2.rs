//! X API v2 behind the network seam, over the same OAuth 1.0a user-context transport as v1.1.
//!
//! v2 names users by ID only: the unblock is `DELETE /2/users/{me}/blocking/{target}`, so the
//! client learns its own ID from `GET /2/users/me` and resolves screen names through
//! `GET /2/users/by` first, caching both the users found and the names that are gone. Errors are
//! problem JSON without numeric codes, sorted by [`response`]. On X's current plans block
//! management is Enterprise-only; the access-tier 403 becomes a [`Verdict::Rejected`] whose hint
//! says so, rather than a failure per target.

pub mod response;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use reqwest::Method;

use super::transport::{Exchange, Transport};
use super::{BaseUrlError, XSettings};
use crate::clock::ServerClock;
use crate::network::x::response::{rate_info, server_date};
use crate::network::{Account, BlockPage, Network, RateInfo, Reply, UserRef, Verdict, VerifyError};
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

    /// Looks names up, remembering every user found and every name that is gone.
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
            for gone in &lookup.missing {
                if let Some(outcome) = gone.outcome {
                    known.by_name.insert(
                        gone.value.to_lowercase(),
                        Resolved::Gone {
                            outcome,
                            message: gone.message.clone(),
                        },
                    );
                }
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
    /// lookup itself failed). Looked-up names are cached for the client's lifetime.
    async fn resolve(&self, target: &Target) -> Result<UserRef, Reply> {
        let name = match target {
            Target::Id(id) => {
                let id = id.to_string();
                let screen_name = self.known().names.get(&id).cloned();
                return Ok(UserRef {
                    user_id: Some(id),
                    screen_name,
                });
            }
            Target::ScreenName(name) => name,
        };
        let gone = |outcome, message| Verdict::Done {
            outcome,
            user: UserRef {
                user_id: None,
                screen_name: Some(name.clone()),
            },
            error_code: None,
            message: Some(message),
        };
        let cached = self.known().by_name.get(&name.to_lowercase()).cloned();
        let (resolved, exchange_reply) = match cached {
            Some(resolved) => (Some(resolved), None),
            None => {
                let answer = self.lookup_names(&[name.as_str()]).await;
                let resolved = self.known().by_name.get(&name.to_lowercase()).cloned();
                (resolved, Some(answer))
            }
        };
        // The lookup's rate window is not the action's: keep only its status and date.
        let (http_status, server_date, looked_up) = match exchange_reply {
            Some(r) => (r.http_status, r.server_date, Some(r.verdict)),
            None => (None, None, None),
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
            Some(Resolved::Gone { outcome, message }) => Err(wrap(gone(outcome, message))),
            None => Err(wrap(match looked_up {
                Some(Err(verdict)) => verdict,
                Some(Ok(lookup)) => {
                    let message = lookup
                        .missing
                        .into_iter()
                        .find(|m| m.value.eq_ignore_ascii_case(name))
                        .map_or_else(
                            || "the server did not return this user".to_owned(),
                            |m| m.message,
                        );
                    gone(Outcome::Failed, message)
                }
                None => unexpected("an empty lookup"),
            })),
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
    const LOOKUP_BATCH: usize = BATCH;

    async fn verify(&self) -> Result<Account, VerifyError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let exchange = self
                .transport
                .send(Method::GET, "/2/users/me", &[])
                .await
                .map_err(VerifyError::Unavailable)?;
            if is_success(exchange.status) {
                let account = response::parse_me(&exchange.body).map_err(|e| {
                    VerifyError::Unavailable(format!("unexpected answer from the server: {e}"))
                })?;
                let _ = self.me.set(account.user_id.clone());
                return Ok(account);
            }
            // v2 gives no code for a refused timestamp: a 401 may be our clock, so correct it
            // from the server's `Date` once before calling the credentials wrong.
            if exchange.status == 401 && tries < 2 {
                self.transport.resync(&exchange);
                continue;
            }
            let problem = Problem::parse(&exchange.body);
            let message = problem.message(exchange.status);
            return Err(match response::rejection_hint(exchange.status, &problem) {
                Some(hint) => VerifyError::Rejected {
                    status: exchange.status,
                    code: None,
                    message,
                    hint,
                },
                None => VerifyError::Unavailable(format!("HTTP {}: {message}", exchange.status)),
            });
        }
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
            Err(r) => {
                return Reply {
                    verdict: Err(r.verdict),
                    http_status: r.http_status,
                    rate: r.rate,
                    server_date: r.server_date,
                };
            }
        };
        let path = format!("/2/users/{me}/blocking");
        let mut params = vec![("max_results", PAGE_SIZE)];
        if let Some(token) = cursor {
            params.push(("pagination_token", token));
        }
        let answer = self
            .read(&path, &params, response::parse_blocking_page)
            .await;
        let Reply {
            verdict,
            http_status,
            rate,
            server_date,
        } = answer;
        let verdict = verdict.map(|(page, users)| {
            let mut known = self.known();
            for user in &users {
                known.learn(user);
            }
            page
        });
        Reply {
            verdict,
            http_status,
            rate,
            server_date,
        }
    }

    async fn lookup(&self, targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
        let names: Vec<&str> = targets
            .iter()
            .filter_map(|t| match t {
                Target::ScreenName(name) => Some(name.as_str()),
                Target::Id(_) => None,
            })
            .collect();
        let ids: Vec<String> = targets
            .iter()
            .filter_map(|t| match t {
                Target::Id(id) => Some(id.to_string()),
                Target::ScreenName(_) => None,
            })
            .collect();
        let mut users = Vec::new();
        let mut last = None;
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
            let Reply {
                verdict,
                http_status,
                rate,
                server_date,
            } = answer;
            match verdict {
                Ok(lookup) => users.extend(lookup.users),
                Err(verdict) => {
                    return Reply {
                        verdict: Err(verdict),
                        http_status,
                        rate,
                        server_date,
                    };
                }
            }
            last = Some((http_status, rate, server_date));
        }
        let (http_status, rate, server_date) = last.unwrap_or_default();
        Reply {
            verdict: Ok(users),
            http_status,
            rate,
            server_date,
        }
    }
}
