//! Name resolution: the users behind the names among the targets, looked up in batches.
//!
//! A network that acts by account ID only needs the ID of every name before the first action,
//! and `--check` needs them to compare a list with the account's blocks. Lookups are batched
//! (as many names a request as the network allows) and paced by the lookup endpoint's own
//! limit, so a 429 waits for its window and a fault is retried: neither makes a target fail.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use crate::display::{self, Verbosity};
use crate::error::Error;
use crate::network::Network;
use crate::pace::Pacer;
use crate::retry;
use crate::target::{Space, Target, TargetKey};

/// Looks up the screen names among `targets`, [`Network::lookup_batch`] a request, each request
/// paced by `lookups` (whose window is the lookup endpoint's, not the action's): a 429 waits for
/// the window and a fault is retried, so neither makes a target fail. Returns the IDs of the
/// users found, by name; the client also keeps what it learnt for its later actions.
pub async fn resolve<N: Network>(
    network: &N,
    lookups: &Pacer,
    targets: &[Target],
    cancel: &CancellationToken,
    verbosity: Verbosity,
) -> Result<HashMap<TargetKey, String>, Error> {
    let names: Vec<Target> = targets
        .iter()
        .filter(|t| t.space() == Space::Name)
        .cloned()
        .collect();
    let batch = network.lookup_batch().max(1);
    if verbosity > Verbosity::Quiet && !names.is_empty() {
        display::eprint_line(&format!(
            "Looking up {} names ({} a request)…",
            names.len(),
            batch
        ));
    }
    let mut resolved = HashMap::new();
    for chunk in names.chunks(batch) {
        let users = retry::read(
            lookups,
            cancel,
            "looking users up",
            retry::Retry::DEFAULT,
            || network.lookup(chunk),
        )
        .await?;
        for user in users {
            if let (Some(id), Some(name)) = (user.user_id, user.screen_name) {
                resolved.insert(TargetKey::name(&name), id);
            }
        }
    }
    Ok(resolved)
}
