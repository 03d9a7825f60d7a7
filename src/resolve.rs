//! Lookups before the run: the accounts behind the names among the targets, in batches.
//!
//! A network that acts by account ID only needs the ID of every name before the first action
//! (X v2, Bluesky handles, Mastodon accts), and `--check` needs them to compare a list with
//! the account's blocks. Lookups are batched (as many a request as the network allows, one
//! kind of target at a time) and paced by the lookup endpoint's own limit, so a 429 waits for
//! its window and a fault is retried: neither makes a target fail. The client keeps what the
//! answers told for its later actions.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use crate::display::{self, Verbosity};
use crate::error::Error;
use crate::network::{Network, UserRef};
use crate::pace::Pacer;
use crate::retry::{self, Retry};
use crate::target::{Space, Target, TargetKey};

/// Looks `targets` up, each request asking about one kind of target and at most
/// [`Network::lookup_batch`] of them, each paced by `lookups`. Returns the accounts found.
pub async fn look_up<N: Network>(
    network: &N,
    lookups: &Pacer,
    targets: &[Target],
    cancel: &CancellationToken,
    verbosity: Verbosity,
) -> Result<Vec<UserRef>, Error> {
    if verbosity > Verbosity::Quiet && !targets.is_empty() {
        display::eprint_line(&format!(
            "Looking up {} accounts ({} a request)…",
            targets.len(),
            network.lookup_batch().max(1)
        ));
    }
    let mut found = Vec::new();
    let mut by_kind: Vec<Vec<Target>> = Vec::new();
    for target in targets {
        match by_kind.iter_mut().find(|g| g[0].kind() == target.kind()) {
            Some(group) => group.push(target.clone()),
            None => by_kind.push(vec![target.clone()]),
        }
    }
    for group in &by_kind {
        let mut rest = group.as_slice();
        while !rest.is_empty() {
            // Asked each time: a network may fall back to smaller lookups mid-way (Bluesky
            // without an AppView resolves one handle a request).
            let (chunk, after) = rest.split_at(network.lookup_batch().clamp(1, rest.len()));
            rest = after;
            let users = retry::read(
                lookups,
                cancel,
                "looking accounts up",
                Retry::DEFAULT,
                || network.lookup(chunk),
            )
            .await?;
            found.extend(users);
        }
    }
    Ok(found)
}

/// The IDs of the names among `targets`, by name (see [`look_up`]).
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
    let users = look_up(network, lookups, &names, cancel, verbosity).await?;
    Ok(by_name(users))
}

/// The IDs of users the server named, by name (those it gave both for).
pub fn by_name(users: Vec<UserRef>) -> HashMap<TargetKey, String> {
    users
        .into_iter()
        .filter_map(|user| Some((TargetKey::name(&user.screen_name?), user.user_id?)))
        .collect()
}
