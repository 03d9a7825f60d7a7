//! The v1.1 endpoints: blocks/destroy, blocks/create, blocks/ids, blocks/list, users/lookup,
//! account/verify_credentials and application/rate_limit_status.
//!
//! Handlers run under the state lock after authentication and rate limiting have passed; they
//! only read parameters, change the blocked sets and shape the answer.

use std::collections::BTreeSet;
use std::ops::Bound;

use serde_json::{Map, Value, json};

use super::config::{NotBlockedReply, SuspendedReply};
use super::cursor;
use super::render::{V1Options, truthy, v1_self, v1_user};
use super::reply::{Incoming, Reply, message_for};
use super::route::Endpoint;
use super::seed::UserState;
use super::state::State;
use crate::emulator::limits::length_ms;
use crate::emulator::log::EndpointKind as _;

fn options(req: &Incoming) -> V1Options {
    V1Options::from_params(req.param("skip_status"), req.param("include_entities"))
}

/// Finds the target of a block write, or the error the real API gives for it.
fn target(state: &State, req: &Incoming) -> Result<u64, Reply> {
    let replies = &state.config.replies;
    let unknown = || {
        let code = replies.unknown_user_code;
        Reply::v1_error(404, code, message_for(code))
    };
    let user = match (req.non_empty("user_id"), req.non_empty("screen_name")) {
        (None, None) => {
            let code = replies.missing_param_code;
            return Err(Reply::v1_error(
                400,
                code,
                "user_id or screen_name parameter is missing.",
            ));
        }
        // user_id wins when both are given: it is the unambiguous one.
        (Some(raw), _) => raw
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|id| state.users.get(&id)),
        (None, Some(name)) => state.user_by_name(name.trim()),
    };
    let user = user.ok_or_else(unknown)?;
    match user.state {
        UserState::Active => Ok(user.id),
        UserState::Deactivated => Err(Reply::no_such_page()),
        UserState::Suspended => Err(match replies.suspended {
            SuspendedReply::NotFound => Reply::v1_error(404, 50, message_for(50)),
            SuspendedReply::Suspended => Reply::v1_error(403, 63, message_for(63)),
        }),
    }
}

/// `POST blocks/destroy.json` (and `blocks/create.json` when `create`).
pub fn block_write(state: &mut State, account: usize, req: &Incoming, create: bool) -> Reply {
    let id = match target(state, req) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let not_blocked = state.config.replies.not_blocked;
    let Some(acc) = state.accounts.get_mut(account) else {
        return Reply::no_such_page();
    };
    if create {
        if acc.blocked.insert(id) {
            state.log.counters().blocks_applied += 1;
        }
    } else if acc.blocked.remove(&id) {
        state.log.counters().unblocks_applied += 1;
    } else if not_blocked == NotBlockedReply::NotFound {
        return Reply::no_such_page();
    }
    match state.users.get(&id) {
        Some(user) => Reply::v1(&v1_user(user, options(req))),
        None => Reply::no_such_page(),
    }
}

/// One page of the account's blocked set as the cursored v1.1 lists serve it: the `cursor`
/// parameter (-1, the default, is the first page; 0 is past the last), the IDs of the page
/// that are still active users (suspended and deactivated users are filtered out after paging,
/// so a page may be short), and the cursor fields of the body.
fn cursored_page(
    state: &State,
    account: usize,
    req: &Incoming,
    page_size: usize,
) -> Option<(Vec<u64>, Map<String, Value>)> {
    let acc = state.accounts.get(account)?;
    let cursor_in = req
        .param("cursor")
        .and_then(|c| c.trim().parse::<i64>().ok())
        .unwrap_or(-1);
    let (page, next) = if cursor_in == 0 {
        (Vec::new(), 0)
    } else {
        let after = (cursor_in > 0).then(|| cursor::decode(cursor_in));
        page_after(&acc.blocked, after, page_size.max(1))
    };
    let active = page
        .into_iter()
        .filter(|id| {
            state
                .users
                .get(id)
                .is_some_and(|u| u.state == UserState::Active)
        })
        .collect();
    // Going back is not emulated; a non-zero previous cursor only says "not the first page".
    let previous = if cursor_in > 0 { -cursor_in } else { 0 };
    let mut cursors = Map::new();
    cursors.insert("next_cursor".into(), json!(next));
    cursors.insert("next_cursor_str".into(), json!(next.to_string()));
    cursors.insert("previous_cursor".into(), json!(previous));
    cursors.insert("previous_cursor_str".into(), json!(previous.to_string()));
    Some((active, cursors))
}

/// `GET blocks/ids.json`: keyset pages of IDs over the blocked set ordered by ID.
pub fn blocks_ids(state: &State, account: usize, req: &Incoming) -> Reply {
    let page_size = state.config.replies.ids_page_size;
    let Some((page, mut body)) = cursored_page(state, account, req, page_size) else {
        return Reply::no_such_page();
    };
    let stringify = req.param("stringify_ids").is_some_and(truthy);
    let ids: Vec<Value> = page
        .into_iter()
        .map(|id| {
            if stringify {
                Value::String(id.to_string())
            } else {
                Value::from(id)
            }
        })
        .collect();
    body.insert("ids".into(), Value::Array(ids));
    body.insert("total_count".into(), Value::Null);
    Reply::v1(&body)
}

/// `GET blocks/list.json`: the same pages as `blocks/ids`, of user objects, `replies.
/// list_page_size` at a time; `include_entities` and `skip_status` shape the users.
pub fn blocks_list(state: &State, account: usize, req: &Incoming) -> Reply {
    let page_size = state.config.replies.list_page_size;
    let Some((page, mut body)) = cursored_page(state, account, req, page_size) else {
        return Reply::no_such_page();
    };
    let opts = options(req);
    let users: Vec<_> = page
        .iter()
        .filter_map(|id| state.users.get(id))
        .map(|u| v1_user(u, opts))
        .collect();
    body.insert("users".into(), json!(users));
    Reply::v1(&body)
}

/// One page of a blocked set after `after`, and the cursor of the next page (0 when none).
pub fn page_after(set: &BTreeSet<u64>, after: Option<u64>, size: usize) -> (Vec<u64>, i64) {
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut it = set.range((lower, Bound::Unbounded));
    let page: Vec<u64> = it.by_ref().take(size).copied().collect();
    let next = match (it.next(), page.last()) {
        (Some(_), Some(&last)) => cursor::encode(last),
        _ => 0,
    };
    (page, next)
}

/// `GET|POST users/lookup.json`.
pub fn users_lookup(state: &State, req: &Incoming) -> Reply {
    let split = |key| {
        req.param(key)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    };
    let ids = split("user_id");
    let names = split("screen_name");
    if ids.len() + names.len() > state.config.replies.lookup_max_terms {
        return Reply::v1_error(
            state.config.replies.too_many_terms_status,
            18,
            "Too many terms specified in query.",
        );
    }
    let found = ids
        .iter()
        .filter_map(|raw| raw.parse::<u64>().ok().and_then(|id| state.users.get(&id)))
        .chain(names.iter().filter_map(|n| state.user_by_name(n)))
        .filter(|u| u.state == UserState::Active);
    let mut seen = BTreeSet::new();
    let opts = options(req);
    let users: Vec<_> = found
        .filter(|u| seen.insert(u.id))
        .map(|u| v1_user(u, opts))
        .collect();
    if users.is_empty() {
        return Reply::v1_error(404, 17, message_for(17));
    }
    Reply::v1(&users)
}

/// `GET account/verify_credentials.json`.
pub fn verify_credentials(state: &State, account: usize, req: &Incoming) -> Reply {
    let owner = state
        .accounts
        .get(account)
        .and_then(|a| state.users.get(&a.user_id));
    match owner {
        Some(user) => Reply::v1(&v1_self(user, options(req))),
        None => Reply::v1_error(401, 89, "Invalid or expired token."),
    }
}

/// `GET application/rate_limit_status.json`: the token's windows of the GET endpoints, by
/// family, filtered by `resources`.
pub fn rate_limit_status(state: &mut State, account: usize, req: &Incoming, now_ms: i64) -> Reply {
    const FAMILIES: [(&str, &str, Endpoint); 5] = [
        ("blocks", "/blocks/ids", Endpoint::BlocksIds),
        ("blocks", "/blocks/list", Endpoint::BlocksList),
        ("users", "/users/lookup", Endpoint::UsersLookup),
        (
            "account",
            "/account/verify_credentials",
            Endpoint::VerifyCredentials,
        ),
        (
            "application",
            "/application/rate_limit_status",
            Endpoint::RateLimitStatus,
        ),
    ];
    let wanted: Option<Vec<&str>> = req
        .non_empty("resources")
        .map(|r| r.split(',').map(str::trim).collect());
    let limits = state.config.limits.clone();
    let Some(acc) = state.accounts.get_mut(account) else {
        return Reply::no_such_page();
    };
    let mut resources = Map::new();
    for (family, path, endpoint) in FAMILIES {
        if wanted.as_ref().is_some_and(|w| !w.contains(&family)) {
            continue;
        }
        let Some(limit) = limits.of(endpoint) else {
            continue;
        };
        let length_ms = length_ms(limits.window_of(endpoint));
        let v = acc.windows[endpoint.index()].peek(now_ms, length_ms, limit.limit);
        let entry = json!({"limit": v.limit, "remaining": v.remaining, "reset": v.reset_secs});
        if let Value::Object(m) = resources
            .entry(family)
            .or_insert_with(|| Value::Object(Map::new()))
        {
            m.insert(path.to_owned(), entry);
        }
    }
    Reply::v1(&json!({
        "rate_limit_context": {"access_token": acc.token},
        "resources": resources,
    }))
}
