//! Identity and the AppView's views: resolving handles, profiles (with the viewer's block),
//! and the viewer's blocks as the AppView lists them.
//!
//! The PDS answers `resolveHandle` for its own handle domains itself (unknown there:
//! `HandleNotFound`) and asks the AppView or DNS for the rest (unknown or unreachable:
//! `InvalidRequest`), both "Unable to resolve handle". `app.bsky.*` goes to the AppView,
//! whose absence or failure the pipeline answers before these run. Only active users resolve
//! and have profiles: deleted, deactivated and taken-down accounts are left out, which is how
//! a client learns a blocked account is gone.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::BLOCK;
use super::config::AppViewState;
use super::digest::sha256;
use super::route::Endpoint;
use super::seed::{SeedUser, UserState};
use super::session::Authed;
use super::state::{State, record_uri};
use super::syntax::is_at_identifier;
use super::xrpc::{Incoming, Reply};

/// `GET com.atproto.identity.resolveHandle` (the parameter's syntax is already checked).
pub fn resolve_handle(state: &State, req: &Incoming) -> Reply {
    let handle = req.param("handle").unwrap_or_default().to_ascii_lowercase();
    let own_domain = state
        .config
        .identity
        .service_domains
        .iter()
        .any(|d| handle.ends_with(d.as_str()) || d.strip_prefix('.') == Some(handle.as_str()));
    match state.active_user(&handle) {
        Some(user) if own_domain || state.config.appview.state != AppViewState::Down => {
            Reply::ok(&json!({"did": user.did}))
        }
        None if own_domain => Reply::error(400, "HandleNotFound", "Unable to resolve handle"),
        _ => Reply::invalid("Unable to resolve handle"),
    }
}

/// `GET app.bsky.actor.getProfiles`: up to `appview.max_actors` handles or DIDs, in the order
/// asked, unknown and inactive ones left out.
pub fn get_profiles(state: &State, req: &Incoming, viewer: Authed) -> Reply {
    let actors = req.params_named("actors");
    let invalid = |issue: String| {
        Reply::invalid(&format!(
            "Invalid {} params: {issue}",
            Endpoint::GetProfiles.name()
        ))
    };
    if actors.is_empty() {
        return invalid("Missing required key \"actors\"".to_owned());
    }
    let max = state.config.appview.max_actors;
    if actors.len() > max {
        return invalid(format!(
            "array too big (maximum {max}, got {})",
            actors.len()
        ));
    }
    if let Some(bad) = actors.iter().find(|a| !is_at_identifier(a)) {
        return invalid(format!("Invalid AT identifier (got {})", Value::from(*bad)));
    }
    let blocking = Blocking::of(state, viewer);
    let mut seen = std::collections::HashSet::new();
    let profiles: Vec<Value> = actors
        .iter()
        .filter_map(|a| state.active_user(a))
        .filter(|u| seen.insert(u.did.clone()))
        .map(|u| profile(u, &blocking, true))
        .collect();
    Reply::ok(&json!({ "profiles": profiles }))
}

/// `GET app.bsky.actor.getProfile`.
pub fn get_profile(state: &State, req: &Incoming, viewer: Authed) -> Reply {
    let Some(actor) = req.param("actor") else {
        return Reply::invalid(
            "Invalid app.bsky.actor.getProfile params: Missing required key \"actor\"",
        );
    };
    if !is_at_identifier(actor) {
        return Reply::invalid(&format!(
            "Invalid app.bsky.actor.getProfile params: Invalid AT identifier (got {})",
            Value::from(actor)
        ));
    }
    match state.user(actor) {
        Some(u) if u.state == UserState::Active => {
            Reply::ok(&profile(u, &Blocking::of(state, viewer), true))
        }
        Some(u) if u.state == UserState::Deactivated => {
            Reply::error(400, "AccountDeactivated", "Account is deactivated")
        }
        Some(u) if u.state == UserState::Takendown => {
            Reply::error(400, "AccountTakedown", "Account has been suspended")
        }
        _ => Reply::invalid("Profile not found"),
    }
}

/// `GET app.bsky.graph.getBlocks`: the viewer's blocked accounts, newest block first, one
/// entry per account (its newest block record), inactive accounts left out; the cursor is the
/// last entry's record key.
pub fn get_blocks(state: &State, req: &Incoming, viewer: Authed) -> Reply {
    let limit = match super::repo::limit(req, 50) {
        Ok(n) => n,
        Err(issue) => {
            return Reply::invalid(&format!(
                "Invalid {} params: {issue}",
                Endpoint::GetBlocks.name()
            ));
        }
    };
    let cursor = req.param("cursor");
    let did = &state.accounts[viewer.account].did;
    let mut seen = std::collections::HashSet::new();
    let newest: Vec<(&String, &SeedUser)> = state
        .repos
        .get(did)
        .and_then(|r| r.collections.get(BLOCK))
        .into_iter()
        .flat_map(|records| records.iter().rev())
        .filter_map(|(rkey, r)| {
            let subject = r.value.get("subject").and_then(Value::as_str)?;
            seen.insert(subject.to_owned()).then_some(())?;
            Some((rkey, state.active_user(subject)?))
        })
        .collect();
    let page: Vec<(&String, &SeedUser)> = newest
        .into_iter()
        .filter(|(rkey, _)| cursor.is_none_or(|c| rkey.as_str() < c))
        .take(limit)
        .collect();
    let blocking = Blocking::of(state, viewer);
    let mut body = json!({
        "blocks": page.iter().map(|(_, u)| profile(u, &blocking, false)).collect::<Vec<_>>()
    });
    if page.len() == limit
        && let Some((rkey, _)) = page.last()
    {
        body["cursor"] = Value::from(rkey.as_str());
    }
    Reply::ok(&body)
}

/// The viewer's blocks as the profile views show them: for each subject, the block record
/// with the greatest key (the newest). Read once per request, not once per profile.
struct Blocking<'a> {
    /// The viewer's DID.
    viewer_did: &'a str,
    /// The newest block record's key by subject.
    newest: HashMap<&'a str, &'a str>,
}

impl<'a> Blocking<'a> {
    fn of(state: &'a State, viewer: Authed) -> Blocking<'a> {
        let viewer_did = state.accounts[viewer.account].did.as_str();
        let newest = state
            .repos
            .get(viewer_did)
            .and_then(|r| r.collections.get(BLOCK))
            .into_iter()
            .flatten()
            .filter_map(|(rkey, r)| Some((r.value.get("subject")?.as_str()?, rkey.as_str())))
            // Keys ascend, so a later key of the same subject replaces an earlier one.
            .collect();
        Blocking { viewer_did, newest }
    }

    /// The URI of the viewer's newest block of `did`, if any.
    fn uri(&self, did: &str) -> Option<String> {
        self.newest
            .get(did)
            .map(|rkey| record_uri(self.viewer_did, BLOCK, rkey))
    }
}

/// A profile view (`detailed` adds the counts), with the viewer's newest block of the account.
fn profile(user: &SeedUser, blocking: &Blocking<'_>, detailed: bool) -> Value {
    let blocking = blocking.uri(&user.did);
    let mut view = json!({
        "did": user.did,
        "handle": user.handle,
        "displayName": user.display_name,
        "indexedAt": user.created_at,
        "createdAt": user.created_at,
        "viewer": {"muted": false, "blockedBy": false},
        "labels": [],
    });
    if !user.description.is_empty() {
        view["description"] = Value::from(user.description.as_str());
    }
    if let Some(uri) = blocking {
        view["viewer"]["blocking"] = Value::from(uri);
    }
    if detailed {
        // Stable counts derived from the DID: the emulator keeps no follows or posts.
        let digest = sha256(&[user.did.as_bytes()]);
        view["followersCount"] = Value::from(u32::from(digest[0]) * 7 + u32::from(digest[1]));
        view["followsCount"] = Value::from(u32::from(digest[2]) * 3);
        view["postsCount"] = Value::from(u32::from(digest[3]) * 11);
    }
    view
}
