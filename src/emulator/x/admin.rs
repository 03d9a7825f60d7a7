//! Unauthenticated views of the emulator for people and tests: the state, the request log,
//! and the knobs (readable, and patchable at runtime).
//!
//! These routes are not part of the emulated API: they are neither logged nor rate limited.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Emulator;
use super::config::Config;
use super::seed::AccessLevel;
use super::state::{LoggedRequest, Stats};

/// One account in `GET /admin/state`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The owner's user ID.
    pub user_id: String,
    /// The owner's screen name.
    pub screen_name: String,
    /// How many users the account blocks.
    pub blocked_count: usize,
    /// The blocked IDs, ascending.
    pub blocked: Vec<String>,
    /// What the token may do.
    pub access_level: AccessLevel,
    /// Whether the app tier includes v1.1.
    pub v1_access: bool,
    /// Whether the token was revoked.
    pub revoked: bool,
}

/// The body of `GET /admin/state`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateView {
    /// Every account.
    pub accounts: Vec<AccountView>,
    /// How many users exist.
    pub users: usize,
    /// The counters.
    pub stats: Stats,
}

/// The admin routes.
pub fn routes() -> Router<Emulator> {
    Router::new()
        .route("/admin/state", get(state))
        .route("/admin/requests", get(requests))
        .route("/admin/config", get(config).post(patch_config))
}

/// Builds the state view.
pub fn state_view(emulator: &Emulator) -> StateView {
    emulator.with(|s| StateView {
        accounts: s
            .accounts
            .iter()
            .map(|a| AccountView {
                user_id: a.user_id.to_string(),
                screen_name: s
                    .users
                    .get(&a.user_id)
                    .map(|u| u.screen_name.clone())
                    .unwrap_or_default(),
                blocked_count: a.blocked.len(),
                blocked: a.blocked.iter().map(u64::to_string).collect(),
                access_level: a.access_level,
                v1_access: a.v1_access,
                revoked: a.revoked,
            })
            .collect(),
        users: s.users.len(),
        stats: s.stats(),
    })
}

async fn state(State(emulator): State<Emulator>) -> Json<StateView> {
    Json(state_view(&emulator))
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

/// `GET /admin/requests?since=N`: the log from sequence number N on (all by default).
async fn requests(
    State(emulator): State<Emulator>,
    Query(q): Query<Since>,
) -> Json<Vec<LoggedRequest>> {
    Json(emulator.with(|s| {
        let from = usize::try_from(q.since)
            .unwrap_or(usize::MAX)
            .min(s.log.len());
        s.log[from..].to_vec()
    }))
}

async fn config(State(emulator): State<Emulator>) -> Json<Config> {
    Json(emulator.with(|s| s.config.clone()))
}

/// `POST /admin/config`: a JSON merge patch (RFC 7396) over the current knobs.
async fn patch_config(
    State(emulator): State<Emulator>,
    Json(patch): Json<Value>,
) -> Result<Json<Config>, (StatusCode, String)> {
    let current = emulator.with(|s| s.config.clone());
    let mut value = serde_json::to_value(&current)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    merge(&mut value, patch);
    let next: Config = serde_json::from_value(value).map_err(|e| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid config: {e}"),
        )
    })?;
    next.validate().map_err(|e| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid config: {e}"),
        )
    })?;
    emulator.update_config(|c| *c = next.clone());
    Ok(Json(next))
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}
