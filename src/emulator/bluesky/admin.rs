//! The Bluesky emulator's state view, which the core's admin routes show at `GET /admin/state`
//! (beside the request log and the knobs, which the core shows alike for every network), and
//! the two admin actions of its own: revoking app passwords and deleting records behind the
//! client's back, for a person driving a client by hand.
//!
//! The view names accounts by DID and handle and never shows a password or a token.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::state;
use super::{BLOCK, Emulator};
use crate::emulator::log::Stats;
use crate::emulator::network::NetworkState;

/// A credential in the state view: its name and whether it was revoked, never the password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialView {
    /// The app password's name; `None` for the account password.
    pub name: Option<String>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Successful repo writes made with its sessions.
    pub writes: u64,
}

/// One hosted account in `GET /admin/state`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The DID.
    pub did: String,
    /// The handle.
    pub handle: String,
    /// Records per collection.
    pub records: BTreeMap<String, usize>,
    /// The subjects of the block records, one per record, in key order (duplicates kept).
    pub blocks: Vec<String>,
    /// The account password, then the app passwords.
    pub credentials: Vec<CredentialView>,
}

/// The body of `GET /admin/state`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateView {
    /// The URL sessions name the PDS by (once it listens).
    pub pds_url: Option<String>,
    /// Every hosted account.
    pub accounts: Vec<AccountView>,
    /// How many users exist.
    pub users: usize,
    /// Requests received by each host.
    pub requests_by_host: BTreeMap<String, u64>,
    /// Refresh tokens the PDS keeps (live sessions, and used ones in their grace period).
    pub refresh_tokens: usize,
    /// The counters.
    pub stats: Stats,
}

/// Builds the state view.
pub fn state_view(s: &state::State) -> StateView {
    let mut requests_by_host = BTreeMap::new();
    for host in &s.hosts {
        *requests_by_host.entry(host.name().to_owned()).or_insert(0) += 1;
    }
    StateView {
        pds_url: s.pds_url(),
        accounts: s
            .accounts
            .iter()
            .map(|a| {
                let repo = s.repos.get(&a.did);
                AccountView {
                    did: a.did.clone(),
                    handle: s
                        .users
                        .get(&a.did)
                        .map(|u| u.handle.clone())
                        .unwrap_or_default(),
                    records: repo
                        .map(|r| {
                            r.collections
                                .iter()
                                .filter(|(_, c)| !c.is_empty())
                                .map(|(name, c)| (name.clone(), c.len()))
                                .collect()
                        })
                        .unwrap_or_default(),
                    blocks: s
                        .records(&a.did, BLOCK)
                        .into_iter()
                        .filter_map(|r| r.value["subject"].as_str().map(str::to_owned))
                        .collect(),
                    credentials: a
                        .credentials
                        .iter()
                        .map(|c| CredentialView {
                            name: c.name.clone(),
                            revoked: c.revoked,
                            writes: c.writes,
                        })
                        .collect(),
                }
            })
            .collect(),
        users: s.users.len(),
        requests_by_host,
        refresh_tokens: s.refresh_tokens.len(),
        stats: s.stats(),
    }
}

/// `POST /admin/revoke`.
#[derive(Deserialize)]
struct Revoke {
    did: String,
    /// The app password's name; all of the account's app passwords when absent.
    #[serde(default)]
    app_password: Option<String>,
}

/// `POST /admin/stale`.
#[derive(Deserialize)]
struct Stale {
    did: String,
    #[serde(default = "block")]
    collection: String,
    count: usize,
}

fn block() -> String {
    BLOCK.to_owned()
}

/// The Bluesky emulator's own admin actions:
///
/// - `POST /admin/revoke {"did", "app_password"?}`: revokes an app password (all of the
///   account's without a name); answers `{"revoked": N}`;
/// - `POST /admin/stale {"did", "collection"?, "count"}`: deletes `count` records (blocks by
///   default) behind the client's back; answers `{"deleted": [RKEY…]}`.
pub fn routes() -> Router<Emulator> {
    Router::new()
        .route("/admin/revoke", post(revoke))
        .route("/admin/stale", post(stale))
}

async fn revoke(
    State(emulator): State<Emulator>,
    Json(body): Json<Revoke>,
) -> Result<Json<serde_json::Value>, (StatusCode, String)> {
    let revoked = emulator.revoke_app_password(&body.did, body.app_password.as_deref());
    if revoked == 0 {
        return Err((
            StatusCode::NOT_FOUND,
            format!("no such app password of {}", body.did),
        ));
    }
    Ok(Json(serde_json::json!({ "revoked": revoked })))
}

async fn stale(
    State(emulator): State<Emulator>,
    Json(body): Json<Stale>,
) -> Json<serde_json::Value> {
    let deleted = emulator.delete_records_behind(&body.did, &body.collection, body.count);
    Json(serde_json::json!({ "deleted": deleted }))
}
