//! The X emulator's state view, which the core's admin routes show at `GET /admin/state`
//! (beside the request log and the knobs, which the core shows alike for every network):
//! accounts, blocked sets, user count, counters.
//!
//! The view names accounts by user ID and screen name and never shows a credential.

use serde::{Deserialize, Serialize};

use super::seed::AccessLevel;
use super::state::State;
use crate::emulator::log::Stats;
use crate::emulator::network::NetworkState;

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

/// Builds the state view.
pub fn state_view(s: &State) -> StateView {
    StateView {
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
    }
}
