//! The Mastodon emulator's state view, which the core's admin routes show at
//! `GET /admin/state` (beside the request log and the knobs, which the core shows alike for
//! every network), and its own admin calls: revoking a token mid-run, as a user revoking the
//! app would, and restoring it.
//!
//! The view names users by account ID and address and tokens by their seed names; it never
//! shows a token.

use axum::Json;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::Emulator;
use super::state::{State, TokenRec};
use crate::emulator::log::Stats;
use crate::emulator::network::NetworkState;

/// A token in `GET /admin/state`: its name, never its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// The token's name in the seed.
    pub name: String,
    /// Its scopes, space-separated.
    pub scopes: String,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A local user in `GET /admin/state`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// The account ID.
    pub account_id: String,
    /// `user@domain`, the local domain included.
    pub address: String,
    /// How many accounts the user blocks (suspended ones included).
    pub blocked_count: usize,
    /// The blocked account IDs, oldest block first.
    pub blocked: Vec<String>,
    /// The blocked domains, oldest first.
    pub domain_blocks: Vec<String>,
    /// The user's tokens.
    pub tokens: Vec<TokenView>,
}

/// The body of `GET /admin/state`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateView {
    /// The instance's domain.
    pub domain: String,
    /// Users with blocks or tokens, in seed order.
    pub users: Vec<UserView>,
    /// Tokens issued to an app alone.
    pub app_tokens: Vec<TokenView>,
    /// How many accounts the instance knows.
    pub accounts: usize,
    /// How many of them are suspended.
    pub suspended: usize,
    /// The counters.
    pub stats: Stats,
}

fn token_view(t: &TokenRec) -> TokenView {
    TokenView {
        name: t.name.clone(),
        scopes: t.scopes.join(" "),
        revoked: t.revoked,
    }
}

/// Builds the state view.
pub fn state_view(s: &State) -> StateView {
    StateView {
        domain: s.domain.clone(),
        users: s
            .users
            .iter()
            .map(|u| {
                let id = u.account.to_string();
                UserView {
                    address: s.address(u.account).unwrap_or_default(),
                    blocked_count: u.blocks.len(),
                    blocked: u.blocks.values().map(u64::to_string).collect(),
                    domain_blocks: u.domain_blocks.values().cloned().collect(),
                    tokens: s
                        .tokens
                        .iter()
                        .filter(|t| t.account == Some(u.account))
                        .map(token_view)
                        .collect(),
                    account_id: id,
                }
            })
            .collect(),
        app_tokens: s
            .tokens
            .iter()
            .filter(|t| t.account.is_none())
            .map(token_view)
            .collect(),
        accounts: s.accounts.len(),
        suspended: s.accounts.values().filter(|a| a.suspended).count(),
        stats: s.stats(),
    }
}

/// The body of `POST /admin/revoke` and `POST /admin/restore`: a token, or an account whose
/// tokens all change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenTarget {
    /// A token's value.
    #[serde(default)]
    token: Option<String>,
    /// An account ID (revoke only): every token of the account.
    #[serde(default)]
    account: Option<String>,
}

/// `POST /admin/revoke`: `{"token": "…"}` or `{"account": "ID"}`; answers how many tokens
/// were revoked, 404 when none matched.
pub async fn revoke(
    AxumState(emulator): AxumState<Emulator>,
    Json(target): Json<TokenTarget>,
) -> (StatusCode, Json<serde_json::Value>) {
    let n = emulator.with(|s| {
        let by_token = target
            .token
            .as_deref()
            .map_or(0, |t| usize::from(s.revoke_token(t)));
        let by_account = target.account.as_deref().map_or(0, |a| s.revoke_account(a));
        by_token + by_account
    });
    counted(n, "revoked")
}

/// `POST /admin/restore`: `{"token": "…"}`; the token works again with its counts restarted.
pub async fn restore(
    AxumState(emulator): AxumState<Emulator>,
    Json(target): Json<TokenTarget>,
) -> (StatusCode, Json<serde_json::Value>) {
    let n = emulator.with(|s| {
        target
            .token
            .as_deref()
            .map_or(0, |t| usize::from(s.restore_token(t)))
    });
    counted(n, "restored")
}

fn counted(n: usize, what: &str) -> (StatusCode, Json<serde_json::Value>) {
    let status = if n == 0 {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    (status, Json(serde_json::json!({ what: n })))
}
